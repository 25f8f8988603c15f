/* t_hnsw.c -- the HNSW index against brute force: recall, deletes, filters,
** save/open, corruption of every kind, concurrent searches. */
#include "test.h"
#include "vector/index_impl.h"

#include <math.h>
#include <pthread.h>

/* Exact top-k ids (as row indexes) by L2 over rows allowed by keep (NULL: all). */
static void brute_l2(const float *x, size_t n, size_t dim, const float *q, size_t k, const uint8_t *keep, uint64_t *out) {
    double *bd = malloc(sizeof(double) * k);
    for (size_t j = 0; j < k; j++) { bd[j] = INFINITY; out[j] = UINT64_MAX; }
    for (size_t i = 0; i < n; i++) {
        if (keep && !keep[i]) continue;
        double d = 0;
        for (size_t t = 0; t < dim; t++) { double e = (double)x[i * dim + t] - q[t]; d += e * e; }
        if (d >= bd[k - 1]) continue;
        size_t j = k - 1;
        while (j > 0 && bd[j - 1] > d) { bd[j] = bd[j - 1]; out[j] = out[j - 1]; j--; }
        bd[j] = d;
        out[j] = i;
    }
    free(bd);
}

static double recall(const uint64_t *got, const uint64_t *truth, size_t nq, size_t k) {
    size_t hit = 0;
    for (size_t q = 0; q < nq; q++)
        for (size_t i = 0; i < k; i++)
            for (size_t j = 0; j < k; j++)
                if (got[q * k + i] == truth[q * k + j] && truth[q * k + j] != UINT64_MAX) { hit++; break; }
    return (double)hit / (double)(nq * k);
}

enum { N = 5000, D = 32, NQ = 100, K = 10 };

static ds_index *build(ds_env *env, const float *x, size_t n, const uint64_t *ids, ds_metric metric) {
    ds_index_opts o;
    ds_index_opts_init(&o);
    o.type = DS_INDEX_HNSW;
    o.metric = metric;
    o.hnsw_m = 16;
    o.hnsw_ef_construction = 100;
    ds_index *ix = NULL;
    if (ds_index_create(env, D, &o, &ix) != DS_OK) return NULL;
    if (ds_index_add(ix, x, n, ids) != DS_OK) { ds_index_close(ix); return NULL; }
    return ix;
}

static double search_recall(const ds_index *ix, const float *q, const uint64_t *truth, unsigned ef, const ds_search_opts *base) {
    ds_search_opts so;
    if (base) so = *base; else ds_search_opts_init(&so);
    so.ef_search = ef;
    uint64_t *ids = malloc(sizeof(uint64_t) * NQ * K);
    float *sc = malloc(sizeof(float) * NQ * K);
    double r = -1;
    if (ds_index_search(ix, q, NQ, K, &so, ids, sc, NULL) == DS_OK) r = recall(ids, truth, NQ, K);
    free(ids);
    free(sc);
    return r;
}

TEST(hnsw_recall_vs_brute_force) {
    float *x = ds_test_rand_vecs(N, D, 11), *q = ds_test_rand_vecs(NQ, D, 12);
    uint64_t *truth = malloc(sizeof(uint64_t) * NQ * K);
    for (int i = 0; i < NQ; i++) brute_l2(x, N, D, q + i * D, K, NULL, truth + i * K);
    ds_env_opts eo;
    ds_env_opts_init(&eo);
    eo.n_threads = 2;
    ds_env *env;
    ASSERT_OK(ds_env_create(&eo, &env));
    ds_index *ix = build(env, x, N, NULL, DS_METRIC_L2);
    ASSERT(ix != NULL);
    ASSERT_EQ_U64(ds_index_size(ix), N);
    double r100 = search_recall(ix, q, truth, 100, NULL), r10 = search_recall(ix, q, truth, 10, NULL);
    printf("  recall@10: ef=10 %.3f ef=100 %.3f\n", r10, r100);
    ASSERT(r100 >= 0.95);
    ASSERT(r100 >= r10);
    /* Scores are negated squared distances, best first. */
    uint64_t ids[K];
    float sc[K];
    ASSERT_OK(ds_index_search(ix, x + 17 * D, 1, K, NULL, ids, sc, NULL));
    ASSERT_EQ_U64(ids[0], 17);
    ASSERT_NEAR_F32(sc[0], 0, 1e-6);
    for (int j = 1; j < K; j++) ASSERT(sc[j - 1] >= sc[j]);
    /* Incremental adds land in the same graph. */
    float *more = ds_test_rand_vecs(500, D, 13);
    ASSERT_OK(ds_index_add(ix, more, 500, NULL));
    ASSERT_OK(ds_index_search(ix, more + 250 * D, 1, K, NULL, ids, sc, NULL));
    ASSERT_EQ_U64(ids[0], N + 250);
    ds_index_close(ix);
    /* IP and cosine metrics, single-threaded build. */
    ds_env_destroy(env);
    eo.n_threads = 1;
    ASSERT_OK(ds_env_create(&eo, &env));
    ix = build(env, x, N, NULL, DS_METRIC_COSINE);
    ASSERT(ix != NULL);
    ASSERT_OK(ds_index_search(ix, x + 5 * D, 1, K, NULL, ids, sc, NULL));
    ASSERT_EQ_U64(ids[0], 5);
    ASSERT_NEAR_F32(sc[0], 1.0, 1e-5);
    ds_index_close(ix);
    ds_env_destroy(env);
    free(more); free(truth); free(x); free(q);
}

/* A deletion scenario over x: row i survives when the residue of
** (i * 2654435761) mod 5 is in the bit mask keep_residues (spread out,
** deterministic); the survivors copied out with their ids, and the exact
** top-K of each query among them. */
typedef struct survivors {
    uint8_t  *keep;
    float    *live;
    uint64_t *ids, *truth;
    size_t    n;
} survivors;

static survivors survivors_of(const float *x, const float *q, unsigned keep_residues) {
    survivors v = { malloc(N), malloc(sizeof(float) * N * D), malloc(sizeof(uint64_t) * N),
                    malloc(sizeof(uint64_t) * NQ * K), 0 };
    for (size_t i = 0; i < N; i++) {
        v.keep[i] = (keep_residues >> ((i * 2654435761u) % 5)) & 1;
        if (v.keep[i]) { v.ids[v.n] = i; memcpy(v.live + v.n * D, x + i * D, sizeof(float) * D); v.n++; }
    }
    for (int i = 0; i < NQ; i++) brute_l2(x, N, D, q + i * D, K, v.keep, v.truth + i * K);
    return v;
}

static void survivors_free(survivors *v) {
    free(v->keep); free(v->live); free(v->ids); free(v->truth);
}

TEST(hnsw_deletes_keep_recall) {
    float *x = ds_test_rand_vecs(N, D, 21), *q = ds_test_rand_vecs(NQ, D, 22);
    survivors sv = survivors_of(x, q, 0x1E);           /* residues 1-4: 20% deleted */
    ds_index *ix = build(NULL, x, N, NULL, DS_METRIC_L2);
    ASSERT(ix != NULL);
    for (size_t i = 0; i < N; i++) if (!sv.keep[i]) ASSERT_OK(ds_index_delete(ix, i));
    ASSERT_EQ_U64(ds_index_size(ix), sv.n);
    ds_index *fresh = build(NULL, sv.live, sv.n, sv.ids, DS_METRIC_L2);
    ASSERT(fresh != NULL);
    for (unsigned ef = 32; ef <= 128; ef *= 2) {
        double rd = search_recall(ix, q, sv.truth, ef, NULL), rf = search_recall(fresh, q, sv.truth, ef, NULL);
        printf("  ef=%u recall after deletes %.3f, fresh build %.3f\n", ef, rd, rf);
        if (ef >= 64) ASSERT(rd >= rf - 0.01);
    }
    /* Deleted ids are never returned, even when the query is their own vector. */
    uint64_t ids[K];
    float sc[K];
    for (size_t i = 0; i < 200; i++) {
        if (sv.keep[i]) continue;
        ASSERT_OK(ds_index_search(ix, x + i * D, 1, K, NULL, ids, sc, NULL));
        for (int j = 0; j < K; j++) ASSERT(ids[j] == UINT64_MAX || sv.keep[ids[j]]);
    }
    /* Deleting everything leaves an empty, searchable index. */
    for (size_t i = 0; i < N; i++) if (sv.keep[i]) ASSERT_OK(ds_index_delete(ix, i));
    size_t found = 9;
    ASSERT_OK(ds_index_search(ix, q, 1, K, NULL, ids, sc, &found));
    ASSERT_EQ_U64(found, 0);
    ASSERT_EQ_U64(ids[0], UINT64_MAX);
    /* New vectors added after that are found again (the graph of
    ** tombstones still connects them). */
    uint64_t new_ids[300];
    for (int i = 0; i < 300; i++) new_ids[i] = 100000 + (uint64_t)i;
    ASSERT_OK(ds_index_add(ix, q, 100, new_ids));
    ASSERT_OK(ds_index_add(ix, x, 200, new_ids + 100));
    for (int i = 0; i < 100; i += 7) {
        ASSERT_OK(ds_index_search(ix, q + i * D, 1, K, NULL, ids, sc, &found));
        ASSERT_EQ_U64(found, K);
        ASSERT_EQ_U64(ids[0], 100000 + (uint64_t)i);
    }
    ds_index_close(ix);
    ds_index_close(fresh);
    survivors_free(&sv);
    free(x); free(q);
}

/* Compacting after heavy deletion: the index becomes a fresh build of the
** survivors (same ids), releases the deleted vectors, stays usable for
** deletes, adds and save/open; types without full vectors refuse. */
TEST(hnsw_compact_after_heavy_deletes) {
    float *x = ds_test_rand_vecs(N, D, 41), *q = ds_test_rand_vecs(NQ, D, 42);
    survivors sv = survivors_of(x, q, 0x03);           /* residues 0-1: 60% deleted */
    ds_index *ix = build(NULL, x, N, NULL, DS_METRIC_L2), *fresh = build(NULL, sv.live, sv.n, sv.ids, DS_METRIC_L2);
    ASSERT(ix != NULL && fresh != NULL);
    ASSERT_OK(ds_index_compact(ix));                  /* nothing deleted: a no-op */
    for (size_t i = 0; i < N; i++) if (!sv.keep[i]) ASSERT_OK(ds_index_delete(ix, i));
    uint64_t mem_before = ds_index_memory_bytes(ix);
    ASSERT_OK(ds_index_compact(ix));
    ASSERT_EQ_U64(ds_index_size(ix), sv.n);
    ASSERT(ds_index_memory_bytes(ix) < mem_before * 6 / 10);
    for (unsigned ef = 16; ef <= 128; ef *= 2) {
        double rc = search_recall(ix, q, sv.truth, ef, NULL), rf = search_recall(fresh, q, sv.truth, ef, NULL);
        printf("  ef=%u recall after compact %.3f, fresh build %.3f\n", ef, rc, rf);
        ASSERT(rc >= rf - 0.02);
    }
    /* ids: deleted ones stay gone, live ones can be deleted, new ones added */
    size_t dead = 0, alive = 0;
    while (sv.keep[dead]) dead++;
    while (!sv.keep[alive] || alive == 0) alive++;
    ASSERT_RC(ds_index_delete(ix, dead), DS_ERR_NOTFOUND);
    uint64_t ids[K];
    float sc[K];
    ASSERT_OK(ds_index_search(ix, x + alive * D, 1, K, NULL, ids, sc, NULL));
    ASSERT_EQ_U64(ids[0], alive);
    ASSERT_OK(ds_index_delete(ix, alive));
    ASSERT_OK(ds_index_search(ix, x + alive * D, 1, K, NULL, ids, sc, NULL));
    for (int j = 0; j < K; j++) ASSERT(ids[j] != alive && (ids[j] == UINT64_MAX || sv.keep[ids[j]]));
    uint64_t nid = 900000;
    ASSERT_OK(ds_index_add(ix, q, 1, &nid));
    ASSERT_OK(ds_index_search(ix, q, 1, K, NULL, ids, sc, NULL));
    ASSERT_EQ_U64(ids[0], nid);
    /* save, open, compact the mapped index again */
    char path[1024];
    snprintf(path, sizeof path, "%s/compact_h.dsx", ds_test_tmpdir());
    ASSERT_OK(ds_index_save(ix, path));
    ds_index *re = NULL;
    ASSERT_OK(ds_index_open(NULL, path, DS_OPEN_VERIFY, &re));
    ASSERT_OK(ds_index_compact(re));
    ASSERT_EQ_U64(ds_index_size(re), ds_index_size(ix));
    ASSERT_OK(ds_index_search(re, q, 1, K, NULL, ids, sc, NULL));
    ASSERT_EQ_U64(ids[0], nid);
    ds_index_close(re);
    /* no full-precision vectors: refused, index unchanged */
    ds_index_opts o;
    ds_index_opts_init(&o);
    o.storage = DS_STORAGE_F16;
    ds_index *h = NULL;
    ASSERT_OK(ds_index_create(NULL, D, &o, &h));
    ASSERT_OK(ds_index_add(h, x, 100, NULL));
    ASSERT_OK(ds_index_delete(h, 5));
    ASSERT_RC(ds_index_compact(h), DS_ERR_UNSUPPORTED);
    ASSERT_EQ_U64(ds_index_size(h), 99);
    ds_index_close(h);
    ds_index_close(ix);
    ds_index_close(fresh);
    survivors_free(&sv);
    free(x); free(q);
}

static int cancel_on_second_call(void *ud) { return ++*(int *)ud >= 2; }

/* One query with a huge ef polls the cancel callback while it runs. */
TEST(hnsw_single_query_can_be_canceled) {
    float *x = ds_test_rand_vecs(N, D, 51);
    ds_index *ix = build(NULL, x, N, NULL, DS_METRIC_L2);
    ASSERT(ix != NULL);
    int calls = 0;
    ds_search_opts so;
    ds_search_opts_init(&so);
    so.ef_search = N;
    so.cancel = cancel_on_second_call;
    so.cancel_ud = &calls;
    uint64_t ids[K];
    float sc[K];
    ASSERT_RC(ds_index_search(ix, x, 1, K, &so, ids, sc, NULL), DS_ERR_CANCELED);
    ASSERT(calls >= 2);
    so.cancel = NULL;                                 /* and runs to the end without it */
    ASSERT_OK(ds_index_search(ix, x, 1, K, &so, ids, sc, NULL));
    ASSERT_EQ_U64(ids[0], 0);
    ds_index_close(ix);
    free(x);
}

TEST(hnsw_filters_selective_and_broad) {
    float *x = ds_test_rand_vecs(N, D, 31), *q = ds_test_rand_vecs(NQ, D, 32);
    ds_index *ix = build(NULL, x, N, NULL, DS_METRIC_L2);
    ASSERT(ix != NULL);
    uint64_t *truth = malloc(sizeof(uint64_t) * NQ * K), *ids = malloc(sizeof(uint64_t) * NQ * K);
    float *sc = malloc(sizeof(float) * NQ * K);
    uint8_t *keep = malloc(N), bitmap[(N + 7) / 8];
    static const unsigned every[] = { 200, 37, 2 };       /* 0.5%, 2.7% (exact paths), 50% (graph) */
    for (size_t f = 0; f < DS_ARRAY_LEN(every); f++) {
        memset(bitmap, 0, sizeof bitmap);
        for (size_t i = 0; i < N; i++) {
            keep[i] = (i % every[f]) == 3 % every[f];
            if (keep[i]) bitmap[i / 8] |= (uint8_t)(1u << (i % 8));
        }
        for (int i = 0; i < NQ; i++) brute_l2(x, N, D, q + i * D, K, keep, truth + i * K);
        ds_search_opts so;
        ds_search_opts_init(&so);
        so.filter = bitmap;
        so.filter_bits = N;
        so.ef_search = 100;
        ASSERT_OK(ds_index_search(ix, q, NQ, K, &so, ids, sc, NULL));
        for (int i = 0; i < NQ * K; i++) ASSERT(ids[i] == UINT64_MAX || keep[ids[i]]);
        double r = recall(ids, truth, NQ, K);
        printf("  filter 1/%u: recall@10 %.3f\n", every[f], r);
        ASSERT(r >= (every[f] > 2 ? 0.999 : 0.95));
    }
    /* A filter that allows nothing finds nothing. */
    memset(bitmap, 0, sizeof bitmap);
    ds_search_opts so;
    ds_search_opts_init(&so);
    so.filter = bitmap;
    so.filter_bits = N;
    size_t found[NQ];
    ASSERT_OK(ds_index_search(ix, q, 2, K, &so, ids, sc, found));
    ASSERT_EQ_U64(found[0], 0);
    ds_index_close(ix);
    free(truth); free(ids); free(sc); free(keep); free(x); free(q);
}

static uint8_t *read_all(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc(*n + 1);
    if (fread(b, 1, *n, f) != *n) { free(b); b = NULL; }
    fclose(f);
    return b;
}

TEST(hnsw_save_open_roundtrip_and_corruption) {
    enum { n = 1500 };
    float *x = ds_test_rand_vecs(n, D, 41), *q = ds_test_rand_vecs(NQ, D, 42);
    ds_index *ix = build(NULL, x, n, NULL, DS_METRIC_IP);
    ASSERT(ix != NULL);
    for (uint64_t i = 0; i < n; i += 7) ASSERT_OK(ds_index_delete(ix, i));
    char path[512];
    snprintf(path, sizeof path, "%s/h.dsx", ds_test_tmpdir());
    ASSERT_OK(ds_index_save(ix, path));
    ds_index *iy;
    ASSERT_OK(ds_index_open(NULL, path, DS_OPEN_VERIFY, &iy));
    ASSERT_EQ_U64(ds_index_kind(iy), DS_INDEX_HNSW);
    ASSERT_EQ_U64(ds_index_size(iy), ds_index_size(ix));
    uint64_t a[NQ * K], b[NQ * K];
    float sa[NQ * K], sb[NQ * K];
    ASSERT_OK(ds_index_search(ix, q, NQ, K, NULL, a, sa, NULL));
    ASSERT_OK(ds_index_search(iy, q, NQ, K, NULL, b, sb, NULL));
    ASSERT(memcmp(a, b, sizeof a) == 0);
    ASSERT(memcmp(sa, sb, sizeof sa) == 0);
    ASSERT_OK(ds_check(NULL, path));
    /* The opened index accepts adds and deletes (copy on write). */
    ASSERT_OK(ds_index_add(iy, q, 10, NULL));
    ASSERT_OK(ds_index_delete(iy, 3));
    ASSERT_OK(ds_index_search(iy, q + 4 * D, 1, K, NULL, b, sb, NULL));
    ASSERT_EQ_U64(b[0], n + 4);
    ds_index_close(iy);

    size_t size = 0;
    uint8_t *file = read_all(path, &size);
    ASSERT(file != NULL);
    ds_index *iz;
    ASSERT_OK(ds__index_open_mem(NULL, file, size, DS_OPEN_VERIFY, &iz));
    ds_index_close(iz);
    /* Every truncation fails cleanly. */
    for (size_t cut = 0; cut < size; cut += (cut < 4096 ? 61 : 4093)) {
        ds_status rc = ds__index_open_mem(NULL, file, cut, 0, &iz);
        ASSERT(rc != DS_OK);
        ASSERT(rc == DS_ERR_CORRUPT || rc == DS_ERR_FORMAT);
    }
    /* Bit flips: caught by checksums under VERIFY. */
    uint8_t *copy = malloc(size);
    for (size_t pos = 3; pos < size; pos += 997) {
        memcpy(copy, file, size);
        copy[pos] ^= 0x10;
        ds_status rc = ds__index_open_mem(NULL, copy, size, DS_OPEN_VERIFY, &iz);
        if (rc == DS_OK) ds_index_close(iz);
        ASSERT(rc == DS_ERR_CORRUPT || rc == DS_ERR_FORMAT);
    }
    /* Structural damage the checksum does not see (open without VERIFY):
    ** links out of range, too many links, a bad level, a bad entry point. */
    ds__creader *r;
    ASSERT_OK(ds__cr_open_mem(NULL, file, size, 0, 0, &r));
    const uint8_t *l0, *lv, *prm;
    uint64_t l0_len, lv_len, prm_len;
    ASSERT_OK(ds__cr_get(r, DS_FOURCC('H', 'N', 'L', '0'), &l0, &l0_len));
    ASSERT_OK(ds__cr_get(r, DS_FOURCC('H', 'N', 'L', 'V'), &lv, &lv_len));
    ASSERT_OK(ds__cr_get(r, DS_FOURCC('H', 'N', 'S', 'P'), &prm, &prm_len));
    size_t off_l0 = (size_t)(l0 - file), off_lv = (size_t)(lv - file), off_p = (size_t)(prm - file);
    uint32_t rec = ds__load_u32le(prm + 20);
    ds__cr_close(r);
    struct { size_t off; uint32_t val; } damage[] = {
        { off_l0 + 5 * rec + D * 4 + 4, n },            /* link == n_slots */
        { off_l0 + 9 * rec + D * 4 + 8, 0xFFFFFFF0u },  /* link far out */
        { off_l0 + 2 * rec + D * 4, 33 },               /* count > M0 */
        { off_l0 + 2 * rec + D * 4 + 4, 2 },            /* self link */
        { off_p + 16, n + 5 },                          /* entry out of range */
        { off_p + 12, 31 },                             /* max_level > 30 */
        { off_p + 24, 0 },                              /* upper block count */
        { off_p + 0, 1 },                               /* M < 2 */
        { off_p + 20, 64 },                             /* record size */
    };
    for (size_t i = 0; i < DS_ARRAY_LEN(damage); i++) {
        memcpy(copy, file, size);
        ds__store_u32le(copy + damage[i].off, damage[i].val);
        ASSERT_RC(ds__index_open_mem(NULL, copy, size, 0, &iz), DS_ERR_CORRUPT);
    }
    memcpy(copy, file, size);
    for (size_t s = 0; s < n; s++) copy[off_lv + s] = 0;  /* all levels 0: entry level and block count disagree */
    ASSERT_RC(ds__index_open_mem(NULL, copy, size, 0, &iz), DS_ERR_CORRUPT);
    memcpy(copy, file, size);
    copy[off_lv + 1] = 200;
    ASSERT_RC(ds__index_open_mem(NULL, copy, size, 0, &iz), DS_ERR_CORRUPT);
    free(copy);
    free(file);
    ds_index_close(ix);
    free(x); free(q);
}

typedef struct { const ds_index *ix; const float *q; uint64_t *ids; float *sc; int rc; } th_arg;

static void *th_search(void *p) {
    th_arg *a = p;
    for (int rep = 0; rep < 3 && a->rc == DS_OK; rep++)
        for (int i = 0; i < NQ && a->rc == DS_OK; i++)
            a->rc = ds_index_search(a->ix, a->q + i * D, 1, K, NULL, a->ids + i * K, a->sc + i * K, NULL);
    return NULL;
}

TEST(hnsw_concurrent_search_matches_serial) {
    enum { n = 3000 };
    float *x = ds_test_rand_vecs(n, D, 51), *q = ds_test_rand_vecs(NQ, D, 52);
    ds_index *ix = build(NULL, x, n, NULL, DS_METRIC_L2);
    ASSERT(ix != NULL);
    uint64_t *serial = malloc(sizeof(uint64_t) * NQ * K);
    float *ssc = malloc(sizeof(float) * NQ * K);
    for (int i = 0; i < NQ; i++) ASSERT_OK(ds_index_search(ix, q + i * D, 1, K, NULL, serial + i * K, ssc + i * K, NULL));
    pthread_t th[4];
    th_arg args[4];
    for (int t = 0; t < 4; t++) {
        args[t] = (th_arg){ ix, q, malloc(sizeof(uint64_t) * NQ * K), malloc(sizeof(float) * NQ * K), DS_OK };
        ASSERT(pthread_create(&th[t], NULL, th_search, &args[t]) == 0);
    }
    for (int t = 0; t < 4; t++) pthread_join(th[t], NULL);
    for (int t = 0; t < 4; t++) {
        ASSERT_OK((ds_status)args[t].rc);
        ASSERT(memcmp(args[t].ids, serial, sizeof(uint64_t) * NQ * K) == 0);
        ASSERT(memcmp(args[t].sc, ssc, sizeof(float) * NQ * K) == 0);
        free(args[t].ids);
        free(args[t].sc);
    }
    /* The batched (internally parallel) path agrees with the serial one too. */
    uint64_t *batch = malloc(sizeof(uint64_t) * NQ * K);
    ASSERT_OK(ds_index_search(ix, q, NQ, K, NULL, batch, ssc, NULL));
    ASSERT(memcmp(batch, serial, sizeof(uint64_t) * NQ * K) == 0);
    free(batch);
    ds_index_close(ix);
    free(serial); free(ssc); free(x); free(q);
}

/* Every allocation failure during create/add/delete/search/save/open gives
** DS_ERR_NOMEM (never a crash; ASan reports any leak), until the sweep gets
** far enough for the whole sequence to succeed. */
TEST(hnsw_oom_sweep) {
    enum { n = 300 };
    float *x = ds_test_rand_vecs(n, D, 71);
    char path[512];
    snprintf(path, sizeof path, "%s/oom_h.dsx", ds_test_tmpdir());
    ds_env_opts eo;
    ds_env_opts_init(&eo);
    eo.n_threads = 1;             /* fault injection is single-threaded by design */
    ds_env *env;
    ASSERT_OK(ds_env_create(&eo, &env));
    ds_index_opts o;
    ds_index_opts_init(&o);
    o.type = DS_INDEX_HNSW;
    o.hnsw_m = 8;
    o.hnsw_ef_construction = 32;
    for (uint64_t fail = 1;; fail++) {
        env->n_allocs = 0;
        env->fail_at = fail;
        ds_index *ix = NULL, *iy = NULL;
        uint64_t ids[2 * K];
        float sc[2 * K];
        ds_status rc = ds_index_create(env, D, &o, &ix);
        if (rc == DS_OK) rc = ds_index_add(ix, x, n, NULL);
        if (rc == DS_OK) rc = ds_index_delete(ix, 7);
        if (rc == DS_OK && (rc = ds_index_compact(ix)) == DS_ERR_NOMEM) {
            /* a failed compaction leaves the index as it was */
            uint64_t at = env->fail_at;
            env->fail_at = 0;
            ASSERT_EQ_U64(ds_index_size(ix), n - 1);
            ASSERT_OK(ds_index_search(ix, x + 8 * D, 1, K, NULL, ids, sc, NULL));
            ASSERT_EQ_U64(ids[0], 8);
            env->fail_at = at;
        }
        if (rc == DS_OK) rc = ds_index_search(ix, x, 1, K, NULL, ids, sc, NULL);
        if (rc == DS_OK) rc = ds_index_save(ix, path);
        if (rc == DS_OK) rc = ds_index_open(env, path, 0, &iy);
        if (rc == DS_OK) rc = ds_index_search(iy, x, 2, K, NULL, ids, sc, NULL);
        ds_index_close(iy);
        ds_index_close(ix);
        if (rc == DS_OK) break;
        ASSERT_RC(rc, DS_ERR_NOMEM);
        ASSERT(fail < 5000);
    }
    env->fail_at = 0;
    ds_env_destroy(env);
    free(x);
}
