/* t_integrity.c -- a damaged index never opens (issue 14, item 3): one
** flipped byte in any section of a lexical index or of a flat / HNSW / IVF-PQ
** / binary index, or in the zero padding between sections, makes the plain
** open (no DS_OPEN_VERIFY) fail with DS_ERR_CORRUPT, so no search can be
** answered from bytes whose checksum failed. */
#include "test.h"
#include "core/container.h"

#include <string.h>
#include <unistd.h>
#include <xxhash.h>

static uint8_t *slurp_file(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    ASSERT(f != NULL);
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *p = malloc(*n);
    ASSERT(p && fread(p, 1, *n, f) == *n);
    fclose(f);
    return p;
}

static void spit_file(const char *path, const uint8_t *p, size_t n) {
    FILE *f = fopen(path, "wb");
    ASSERT(f != NULL);
    ASSERT(fwrite(p, 1, n, f) == n);
    fclose(f);
}

typedef ds_status (*open_fn)(const char *path);

static ds_status open_lexical(const char *dir) {
    ds_lexical *lx;
    ds_status rc = ds_lexical_open(NULL, dir, 0, &lx);
    ds_lexical_close(lx);
    return rc;
}

static ds_status open_vector(const char *path) {
    ds_index *ix;
    ds_status rc = ds_index_open(NULL, path, 0, &ix);
    ds_index_close(ix);
    return rc;
}

/* For each section: flip its first, middle and last byte in turn; for each
** gap between sections: flip one padding byte. Each damaged file must fail
** to open with DS_ERR_CORRUPT; the intact file must open. */
static void flip_every_section(const char *file, const char *open_path, open_fn op) {
    ASSERT_OK(op(open_path));
    size_t n;
    uint8_t *img = slurp_file(file, &n);
    ds__creader *r;
    ASSERT_OK(ds__cr_open_mem(NULL, img, n, 0, DS_OPEN_VERIFY, &r));
    uint32_t ns = r->n_sections;
    ds__section *secs = malloc(sizeof *secs * (ns ? ns : 1));
    memcpy(secs, r->sections, sizeof *secs * ns);
    ds__cr_close(r);
    size_t n_flips = 0, n_pads = 0;
    uint64_t prev_end = DS_CONTAINER_HEADER_SIZE;
    for (uint32_t i = 0; i < ns; i++) {
        const ds__section *s = &secs[i];
        if (s->offset > prev_end) {          /* padding before this section */
            size_t at = (size_t)prev_end + (size_t)(s->offset - prev_end) / 2;
            img[at] ^= 0x01;
            spit_file(file, img, n);
            ASSERT_RC(op(open_path), DS_ERR_CORRUPT);
            img[at] ^= 0x01;
            n_pads++;
        }
        prev_end = s->offset + s->length;
        if (s->length == 0) continue;
        size_t at3[3] = { (size_t)s->offset, (size_t)(s->offset + s->length / 2),
                          (size_t)(s->offset + s->length - 1) };
        for (int j = 0; j < 3; j++) {
            img[at3[j]] ^= 0x20;
            spit_file(file, img, n);
            ds_status rc = op(open_path);
            if (rc != DS_ERR_CORRUPT) {
                char k[5];
                FAIL("section '%s' byte %zu flipped: open gave %s", ds__fourcc_str(s->kind, k), at3[j],
                     ds_status_name(rc));
            }
            img[at3[j]] ^= 0x20;
            n_flips++;
        }
    }
    spit_file(file, img, n);
    ASSERT_OK(op(open_path));
    ASSERT(n_flips >= 3 * 3);
    ASSERT(n_pads >= 1);
    free(secs);
    free(img);
}

TEST(integrity_lexical_any_flipped_byte_fails_open) {
    char dir[512], file[600];
    snprintf(dir, sizeof dir, "%s/ix", ds_test_tmpdir());
    snprintf(file, sizeof file, "%s/lexical.dsx", dir);
    ds_lexical_builder *b;
    ASSERT_OK(ds_lexical_builder_create(NULL, dir, NULL, &b));
    static const char *texts[] = { "the quick brown fox", "jumps over the lazy dog", "brown dogs and foxes",
                                   "a lazy afternoon" };
    char id[16];
    for (int i = 0; i < 4; i++) {
        ds_doc d;
        memset(&d, 0, sizeof d);
        snprintf(id, sizeof id, "doc%d", i);
        d.id = id; d.id_len = strlen(id);
        d.title = ""; d.text = texts[i]; d.text_len = strlen(texts[i]); d.file = "t";
        ASSERT_OK(ds_lexical_add(b, &d));
    }
    ASSERT_OK(ds_lexical_finish(b, NULL));
    flip_every_section(file, dir, open_lexical);
}

static void vector_case(ds_index_type type, const char *name) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s.dsx", ds_test_tmpdir(), name);
    enum { N = 300, DIM = 16 };
    float *x = ds_test_rand_vecs(N, DIM, 7);
    ds_index_opts o;
    ds_index_opts_init(&o);
    o.type = type;
    o.metric = DS_METRIC_L2;
    o.hnsw_m = 8;
    o.hnsw_ef_construction = 32;
    o.ivf_nlist = 4;
    o.pq_m = 4;
    ds_index *ix;
    ASSERT_OK(ds_index_create(NULL, DIM, &o, &ix));
    ASSERT_OK(ds_index_train(ix, x, N));
    ASSERT_OK(ds_index_add(ix, x, N, NULL));
    ASSERT_OK(ds_index_save(ix, path));
    ds_index_close(ix);
    free(x);
    flip_every_section(path, path, open_vector);
}

TEST(integrity_flat_any_flipped_byte_fails_open) { vector_case(DS_INDEX_FLAT, "flat"); }
TEST(integrity_hnsw_any_flipped_byte_fails_open) { vector_case(DS_INDEX_HNSW, "hnsw"); }
TEST(integrity_ivfpq_any_flipped_byte_fails_open) { vector_case(DS_INDEX_IVFPQ, "ivfpq"); }
TEST(integrity_binary_any_flipped_byte_fails_open) { vector_case(DS_INDEX_BINARY, "binary"); }

TEST(integrity_bytes_after_the_table_fail_open) {
    char path[512];
    snprintf(path, sizeof path, "%s/t.dsx", ds_test_tmpdir());
    ds__cwriter *w;
    ASSERT_OK(ds__cw_open(NULL, path, DS_FOURCC('T', 'E', 'S', 'T'), 1, 0, 0, &w));
    ASSERT_OK(ds__cw_section(w, DS_FOURCC('A', 'A', 'A', 'A'), 0, "abc", 3));
    ASSERT_OK(ds__cw_commit(w));
    size_t n;
    uint8_t *img = slurp_file(path, &n);
    ds__creader *r;
    ASSERT_OK(ds__cr_open_mem(NULL, img, n, 0, 0, &r));
    ds__cr_close(r);
    /* Grow the file by 64 zero bytes and patch the header's file size and
    ** checksum: the table no longer ends the file. */
    uint8_t *big = calloc(1, n + 64);
    memcpy(big, img, n);
    ds__store_u64le(big + 32, n + 64);
    ds__store_u64le(big + 56, XXH3_64bits(big, 56));
    ASSERT_RC(ds__cr_open_mem(NULL, big, n + 64, 0, 0, &r), DS_ERR_CORRUPT);
    ASSERT(strstr(ds_errmsg(), "after the section table") != NULL);
    free(big);
    free(img);
}

/* Extreme but finite query vectors (issue 14, item 11): all 1e-45 with
** cosine must rank exactly as the same direction at unit scale; a zero query
** with cosine, and a query whose IP/L2 scores would overflow float32, are
** refused with a clear error instead of answered with arbitrary ids. */
TEST(integrity_extreme_query_vectors) {
    enum { N = 200, DIM = 8, K = 5 };
    float *x = ds_test_rand_vecs(N, DIM, 3);
    for (int type = 0; type < 2; type++) {
        for (int metric = 0; metric < 3; metric++) {
            ds_index_opts o;
            ds_index_opts_init(&o);
            o.type = type ? DS_INDEX_HNSW : DS_INDEX_FLAT;
            o.metric = (ds_metric)metric;
            ds_index *ix;
            ASSERT_OK(ds_index_create(NULL, DIM, &o, &ix));
            ASSERT_OK(ds_index_add(ix, x, N, NULL));
            float q[DIM], tiny[DIM], huge[DIM], zero[DIM] = { 0 };
            for (int j = 0; j < DIM; j++) {
                q[j] = (j % 3 == 0) ? 2.0f : -1.0f;
                tiny[j] = (j % 3 == 0) ? 2.8e-45f : -1.4e-45f;   /* 2 and 1 smallest denormals: same direction */
                huge[j] = q[j] * 1.5e38f;               /* up to 3e38: finite */
            }
            uint64_t ids[K], ids2[K];
            float sc[K], sc2[K];
            ASSERT_OK(ds_index_search(ix, q, 1, K, NULL, ids, sc, NULL));
            if (metric == DS_METRIC_COSINE) {
                ASSERT_OK(ds_index_search(ix, tiny, 1, K, NULL, ids2, sc2, NULL));
                for (int j = 0; j < K; j++) {
                    ASSERT_EQ_U64(ids2[j], ids[j]);
                    ASSERT(isfinite(sc2[j]));
                }
                ASSERT_OK(ds_index_search(ix, huge, 1, K, NULL, ids2, sc2, NULL));
                for (int j = 0; j < K; j++) ASSERT_EQ_U64(ids2[j], ids[j]);
                ASSERT_RC(ds_index_search(ix, zero, 1, K, NULL, ids2, sc2, NULL), DS_ERR_INVALID);
                ASSERT(strstr(ds_errmsg(), "all zeros") != NULL);
            } else {
                ASSERT_RC(ds_index_search(ix, huge, 1, K, NULL, ids2, sc2, NULL), DS_ERR_RANGE);
                ASSERT(strstr(ds_errmsg(), "overflow") != NULL);
                /* a zero query under IP/L2 is well defined: no error */
                ASSERT_OK(ds_index_search(ix, zero, 1, K, NULL, ids2, sc2, NULL));
            }
            ds_index_close(ix);
        }
    }
    free(x);
}
