/* t_vector_index.c -- the shared ds_index layer, exercised through the flat
** type: ids, deletes, filters, cosine normalisation, save/open, corruption. */
#include "test.h"
#include "vector/index_impl.h"

#include <math.h>

static uint64_t brute_best(const float *x, size_t n, size_t dim, const float *q, const uint8_t *dead) {
    uint64_t best = UINT64_MAX;
    double bs = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        if (dead && dead[i]) continue;
        double s = 0;
        for (size_t j = 0; j < dim; j++) s += (double)x[i * dim + j] * q[j];
        if (s > bs) { bs = s; best = i; }
    }
    return best;
}

TEST(vector_flat_exact_ids_deletes_filters) {
    enum { N = 500, D = 37, K = 5 };
    float *x = ds_test_rand_vecs(N, D, 1), *q = ds_test_rand_vecs(20, D, 2);
    ds_index *ix;
    ASSERT_OK(ds_index_create(NULL, D, NULL, &ix));
    ASSERT_OK(ds_index_add(ix, x, N, NULL));
    ASSERT_EQ_U64(ds_index_size(ix), N);
    uint64_t ids[20 * K];
    float sc[20 * K];
    size_t found[20];
    ASSERT_OK(ds_index_search(ix, q, 20, K, NULL, ids, sc, found));
    for (int i = 0; i < 20; i++) {
        ASSERT_EQ_U64(found[i], K);
        ASSERT_EQ_U64(ids[i * K], brute_best(x, N, D, q + i * D, NULL));
        for (int j = 1; j < K; j++) ASSERT(sc[i * K + j - 1] >= sc[i * K + j]);
    }
    /* Delete every best hit: the next search must not return it. */
    uint8_t dead[N] = { 0 };
    for (int i = 0; i < 20; i++) {
        if (!dead[ids[i * K]]) ASSERT_OK(ds_index_delete(ix, ids[i * K]));
        dead[ids[i * K]] = 1;
    }
    ASSERT_RC(ds_index_delete(ix, ids[0]), DS_ERR_NOTFOUND);
    ASSERT_OK(ds_index_search(ix, q, 20, K, NULL, ids, sc, found));
    for (int i = 0; i < 20; i++) ASSERT_EQ_U64(ids[i * K], brute_best(x, N, D, q + i * D, dead));
    /* Filter: only even ids. */
    uint8_t bitmap[(N + 7) / 8] = { 0 };
    for (int i = 0; i < N; i += 2) bitmap[i / 8] |= (uint8_t)(1u << (i % 8));
    ds_search_opts so;
    ds_search_opts_init(&so);
    so.filter = bitmap;
    so.filter_bits = N;
    ASSERT_OK(ds_index_search(ix, q, 20, K, &so, ids, sc, found));
    for (int i = 0; i < 20 * K; i++) ASSERT(ids[i] % 2 == 0);
    /* Duplicate ids and bad values are refused without changing the index. */
    uint64_t dup = 3;
    ASSERT_RC(ds_index_add(ix, x, 1, &dup), DS_ERR_INVALID);
    float bad[D];
    memcpy(bad, x, sizeof bad);
    bad[5] = NAN;
    uint64_t fresh = 100000;
    ASSERT_RC(ds_index_add(ix, bad, 1, &fresh), DS_ERR_INVALID);
    uint64_t n_dead = 0;
    for (int i = 0; i < N; i++) n_dead += dead[i];
    ASSERT_EQ_U64(ds_index_size(ix), N - n_dead);
    /* Compacting drops the deleted rows and changes no result. */
    uint64_t ids2[20 * K];
    float sc2[20 * K];
    ASSERT_OK(ds_index_search(ix, q, 20, K, NULL, ids, sc, found));
    ASSERT_OK(ds_index_compact(ix));
    ASSERT_EQ_U64(ix->n_slots, N - n_dead);
    ASSERT_OK(ds_index_search(ix, q, 20, K, NULL, ids2, sc2, found));
    for (int i = 0; i < 20 * K; i++) {
        ASSERT_EQ_U64(ids2[i], ids[i]);
        ASSERT_NEAR_F32(sc2[i], sc[i], 1e-5);   /* sgemm blocks may round differently */
    }
    ds_index_close(ix);
    free(x);
    free(q);
}

TEST(vector_flat_save_open_roundtrip_and_corruption) {
    enum { N = 300, D = 16, K = 3 };
    float *x = ds_test_rand_vecs(N, D, 3);
    ds_index_opts o;
    ds_index_opts_init(&o);
    o.metric = DS_METRIC_COSINE;
    ds_index *ix;
    ASSERT_OK(ds_index_create(NULL, D, &o, &ix));
    uint64_t *labels = malloc(sizeof(uint64_t) * N);
    for (int i = 0; i < N; i++) labels[i] = 1000 + 7 * (uint64_t)i;
    ASSERT_OK(ds_index_add(ix, x, N, labels));
    ASSERT_OK(ds_index_delete(ix, 1000 + 7 * 10));
    char path[512];
    snprintf(path, sizeof path, "%s/flat.dsx", ds_test_tmpdir());
    ASSERT_OK(ds_index_save(ix, path));
    ds_index *iy;
    ASSERT_OK(ds_index_open(NULL, path, DS_OPEN_VERIFY, &iy));
    ASSERT_EQ_U64(ds_index_size(iy), N - 1);
    ASSERT_EQ_U64(ds_index_metric(iy), DS_METRIC_COSINE);
    uint64_t a[K], b[K];
    float sa[K], sb[K];
    for (int i = 0; i < 30; i++) {
        ASSERT_OK(ds_index_search(ix, x + i * D, 1, K, NULL, a, sa, NULL));
        ASSERT_OK(ds_index_search(iy, x + i * D, 1, K, NULL, b, sb, NULL));
        for (int j = 0; j < K; j++) { ASSERT_EQ_U64(a[j], b[j]); ASSERT_NEAR_F32(sa[j], sb[j], 0); }
        if (i != 10) { ASSERT_EQ_U64(a[0], labels[i]); ASSERT_NEAR_F32(sa[0], 1.0f, 1e-5); }
    }
    ASSERT_OK(ds_check(NULL, path));
    /* Flip a byte inside each section: check must fail with DS_ERR_CORRUPT. */
    FILE *f = fopen(path, "r+b");
    ASSERT(f != NULL);
    fseek(f, 64 + 10, SEEK_SET);
    int c = fgetc(f);
    fseek(f, 64 + 10, SEEK_SET);
    fputc(c ^ 0x40, f);
    fclose(f);
    ASSERT_RC(ds_check(NULL, path), DS_ERR_CORRUPT);
    ds_index *iz;
    ASSERT_RC(ds_index_open(NULL, path, DS_OPEN_VERIFY, &iz), DS_ERR_CORRUPT);
    ds_index_close(ix);
    ds_index_close(iy);
    free(labels);
    free(x);
}

TEST(vector_add_rejects_duplicate_ids_in_a_large_batch) {
    enum { N = 5000, D = 4 };
    float *x = ds_test_rand_vecs(N, D, 9);
    uint64_t *ids = malloc(sizeof(uint64_t) * N);
    for (int i = 0; i < N; i++) ids[i] = 10 * (uint64_t)i;
    ids[N - 1] = ids[17];                       /* far apart: a windowed check would miss it */
    ds_index *ix;
    ASSERT_OK(ds_index_create(NULL, D, NULL, &ix));
    ASSERT_RC(ds_index_add(ix, x, N, ids), DS_ERR_INVALID);
    ASSERT(strstr(ds_errmsg(), "appears twice") != NULL);
    ASSERT_EQ_U64(ds_index_size(ix), 0);        /* nothing was added */
    ids[N - 1] = 7;
    ASSERT_OK(ds_index_add(ix, x, N, ids));
    ASSERT_EQ_U64(ds_index_size(ix), N);
    ds_index_close(ix);
    free(ids);
    free(x);
}
