/* t_ivfpq.c -- k-means, PQ, ADC kernels and the IVF-PQ index type: recall
** against brute force, filters, deletes, save/open, corrupt files, concurrent
** searches. Sizes are small so the file runs in seconds under ASan. */
#include "quant_testutil.h"

TEST(kmeans_recovers_separable_clusters) {
    enum { N = 1200, D = 16, K = 8 };
    uint32_t lab[N];
    float *x = qt_mixture(N, D, K, 0.02f, 0, 7, lab);
    float c1[K * D], c2[K * D];
    ds__kmeans_opts o = { .n_iter = 10, .seed = 3, .n_threads = 2 };
    ASSERT_OK(ds__kmeans(NULL, x, N, D, K, &o, c1));
    ASSERT_OK(ds__kmeans(NULL, x, N, D, K, &o, c2));
    ASSERT(memcmp(c1, c2, sizeof c1) == 0);                  /* deterministic for a seed */
    uint32_t asg[N];
    ASSERT_OK(ds__kmeans_assign(NULL, c1, K, D, x, N, 2, asg, NULL));
    /* Each true cluster maps to one centroid, and no two clusters share one. */
    int map[K];
    for (int k = 0; k < K; k++) map[k] = -1;
    int present[K] = { 0 };
    for (int i = 0; i < N; i++) {
        present[lab[i]] = 1;
        if (map[lab[i]] < 0) map[lab[i]] = (int)asg[i];
        ASSERT_EQ_U64(asg[i], map[lab[i]]);
    }
    for (int a = 0; a < K; a++)
        for (int b = a + 1; b < K; b++)
            if (present[a] && present[b]) ASSERT(map[a] != map[b]);
    ASSERT_RC(ds__kmeans(NULL, x, 5, D, K, &o, c1), DS_ERR_INVALID);
    free(x);
}

TEST(kmeans_repairs_empty_clusters_on_duplicates) {
    enum { N = 300, D = 4, K = 10 };
    float x[N * D];
    for (int i = 0; i < N * D; i++) x[i] = (float)((i / D) % 3);   /* only 3 distinct points */
    float c[K * D];
    ds__kmeans_opts o = { .n_iter = 5, .seed = 1 };
    ASSERT_OK(ds__kmeans(NULL, x, N, D, K, &o, c));
    ASSERT(ds__all_finite(c, K * D));
}

static double pq_mse(const float *x, size_t n, size_t dim, size_t m) {
    ds__pq pq;
    ASSERT_OK(ds__pq_setup(&pq, dim, m, 8));
    pq.cb = malloc(sizeof(float) * m * pq.ksub * pq.dsub);
    ASSERT_OK(ds__pq_train(NULL, &pq, x, n, 5, 2));
    uint8_t *codes = malloc(n * pq.code_size);
    ds__pq_encode(&pq, x, n, codes);
    float *dec = malloc(sizeof(float) * dim);
    double err = 0;
    for (size_t i = 0; i < n; i++) {
        ds__pq_decode(&pq, codes + i * pq.code_size, dec);
        for (size_t j = 0; j < dim; j++) err += ((double)dec[j] - x[i * dim + j]) * ((double)dec[j] - x[i * dim + j]);
    }
    free(dec);
    free(codes);
    free(pq.cb);
    return err / (double)n;
}

TEST(pq_error_falls_with_more_subquantizers) {
    enum { N = 1500, D = 32 };
    float *x = qt_mixture(N, D, 300, 0.5f, 0, 11, NULL);
    double e1 = pq_mse(x, N, D, 1), e2 = pq_mse(x, N, D, 4), e3 = pq_mse(x, N, D, 16);
    ASSERT(e1 > e2 && e2 > e3);
    ds__pq pq;
    ASSERT_RC(ds__pq_setup(&pq, D, 5, 8), DS_ERR_INVALID);
    ASSERT_RC(ds__pq_setup(&pq, D, 4, 6), DS_ERR_INVALID);
    free(x);
}

TEST(pq_adc_equals_distance_to_decoded) {
    enum { N = 600, D = 24, M = 6 };
    float *x = qt_mixture(N, D, 20, 0.3f, 0, 5, NULL);
    for (int bits = 4; bits <= 8; bits += 4) {
        ds__pq pq;
        ASSERT_OK(ds__pq_setup(&pq, D, bits == 4 ? 3 : M, (size_t)bits));
        pq.cb = malloc(sizeof(float) * pq.m * pq.ksub * pq.dsub);
        ASSERT_OK(ds__pq_train(NULL, &pq, x, N, 9, 1));
        uint8_t *codes = malloc(N * pq.code_size);
        ds__pq_encode(&pq, x, N, codes);
        float tip[M * 256], tl2[M * 256], dec[D], out_ip[N], out_l2[N], out_fast[N];
        const float *q = x + 17 * D;
        ds__pq_table_ip(&pq, q, tip);
        ds__pq_table_l2(&pq, q, tl2);
        if (bits == 8) {
            ds__adc8_scalar()(tip, pq.m, codes, N, out_ip);
            ds__adc8_scalar()(tl2, pq.m, codes, N, out_l2);
            ds__adc8_best(2)(tip, pq.m, codes, N, out_fast);
            for (int i = 0; i < N; i++) ASSERT_NEAR_F32(out_fast[i], out_ip[i], 1e-4f * (1 + fabsf(out_ip[i])));
        } else {
            ds__adc4_scalar(tip, pq.m, codes, N, out_ip);
            ds__adc4_scalar(tl2, pq.m, codes, N, out_l2);
        }
        for (int i = 0; i < N; i++) {
            ds__pq_decode(&pq, codes + i * pq.code_size, dec);
            double ip = 0, l2 = 0;
            for (int j = 0; j < D; j++) { ip += (double)q[j] * dec[j]; l2 += ((double)q[j] - dec[j]) * ((double)q[j] - dec[j]); }
            ASSERT_NEAR_F32(out_ip[i], ip, 1e-4 * (1 + fabs(ip)));
            ASSERT_NEAR_F32(out_l2[i], l2, 1e-4 * (1 + fabs(l2)));
        }
        free(codes);
        free(pq.cb);
    }
    free(x);
}

TEST(pq_adc8_kernel_matches_scalar_all_lengths) {
    size_t ms[] = { 1, 3, 15, 16, 17, 31, 48, 64, 65, 96 };
    float *table = malloc(sizeof(float) * 96 * 256);
    uint64_t s = 3;
    for (size_t i = 0; i < 96 * 256; i++) table[i] = (float)ds__rng_normal(&s);
    uint8_t *codes = malloc(37 * 96 + 1);
    for (size_t i = 0; i < 37 * 96 + 1; i++) codes[i] = (uint8_t)ds__rng_next(&s);
    float a[37], b[37];
    for (size_t t = 0; t < DS_ARRAY_LEN(ms); t++) {
        ds__adc8_scalar()(table, ms[t], codes + 1, 37, a);      /* unaligned codes */
        for (unsigned lv = 1; lv <= 2; lv++) {
            ds__adc8_best(lv)(table, ms[t], codes + 1, 37, b);
            for (int i = 0; i < 37; i++) ASSERT_NEAR_F32(a[i], b[i], 1e-4f * (1 + fabsf(a[i])));
        }
    }
    free(table);
    free(codes);
}

TEST(opq_rotation_is_orthogonal_and_helps) {
    enum { N = 1000, D = 16, M = 4 };
    /* Correlated data: PQ on raw axes splits correlated dimensions apart. */
    float *z = qt_mixture(N, D, 50, 0.3f, 0, 21, NULL);
    float *R0 = malloc(sizeof(float) * D * D), *x = malloc(sizeof(float) * N * D);
    ASSERT_OK(ds__random_rotation(NULL, D, 4, R0));
    ds__rotate(R0, D, z, N, x);
    ds__pq pq;
    ASSERT_OK(ds__pq_setup(&pq, D, M, 8));
    pq.cb = malloc(sizeof(float) * M * 256 * pq.dsub);
    float R[D * D];
    ASSERT_OK(ds__opq_train(NULL, &pq, x, N, 4, 1, 2, R));
    for (int i = 0; i < D; i++)
        for (int j = 0; j < D; j++) {
            double s = 0;
            for (int t = 0; t < D; t++) s += (double)R[i * D + t] * R[j * D + t];
            ASSERT_NEAR_F32(s, i == j ? 1.0 : 0.0, 1e-4);
        }
    free(pq.cb);
    free(R0);
    free(x);
    free(z);
}

/* Builds an IVF-PQ index over x. */
static ds_index *build_ivf(const float *x, size_t n, size_t dim, ds_metric metric, unsigned nlist, unsigned m,
                           unsigned bits, int opq) {
    ds_index_opts o;
    ds_index_opts_init(&o);
    o.type = DS_INDEX_IVFPQ;
    o.metric = metric;
    o.ivf_nlist = nlist;
    o.pq_m = m;
    o.pq_bits = bits;
    o.opq = opq;
    ds_index *ix;
    ASSERT_OK(ds_index_create(NULL, dim, &o, &ix));
    ASSERT_RC(ds_index_add(ix, x, 1, NULL), DS_ERR_INVALID);       /* train first */
    ASSERT_OK(ds_index_train(ix, x, n));
    ASSERT_OK(ds_index_add(ix, x, n / 2, NULL));                   /* two batches */
    ASSERT_OK(ds_index_add(ix, x + (n / 2) * dim, n - n / 2, NULL));
    ASSERT_EQ_U64(ds_index_size(ix), n);
    return ix;
}

static double ivf_recall(const ds_index *ix, const float *x, size_t n, size_t dim, ds_metric metric,
                         const float *q, size_t nq, unsigned nprobe) {
    enum { K = 10 };
    uint64_t *got = malloc(sizeof(uint64_t) * nq * K), *truth = malloc(sizeof(uint64_t) * nq * K);
    float *sc = malloc(sizeof(float) * nq * K);
    ds_search_opts so;
    ds_search_opts_init(&so);
    so.nprobe = nprobe;
    ASSERT_OK(ds_index_search(ix, q, nq, K, &so, got, sc, NULL));
    qt_brute(metric, x, n, dim, q, nq, K, NULL, truth);
    double r = qt_recall(got, truth, nq, K);
    free(got);
    free(truth);
    free(sc);
    return r;
}

TEST(ivfpq_recall_with_rescoring) {
    enum { N = 2000, D = 32, NQ = 50 };
    float *q, *x = qt_mixture_q(N, NQ, D, 40, 0.35f, 1, 31, &q);
    struct { ds_metric metric; unsigned bits; int opq; } cfg[] = {
        { DS_METRIC_IP, 8, 0 }, { DS_METRIC_L2, 8, 1 }, { DS_METRIC_COSINE, 8, 0 }, { DS_METRIC_IP, 4, 0 },
    };
    for (size_t c = 0; c < DS_ARRAY_LEN(cfg); c++) {
        ds_index *ix = build_ivf(x, N, D, cfg[c].metric, 32, cfg[c].bits == 4 ? 16 : 8, cfg[c].bits, cfg[c].opq);
        double r = ivf_recall(ix, x, N, D, cfg[c].metric, q, NQ, 12);
        if (r < 0.95) FAIL("config %zu: recall@10 %.3f < 0.95", c, r);
        /* Compact part far below the f32 vectors. */
        ASSERT(ds_index_memory_bytes(ix) < (uint64_t)N * D * 4);   /* the 1/8 target is measured at scale in bench/ann */
        ds_index_close(ix);
    }
    free(x);
    free(q);
}

/* Unit vectors in a narrow cone (a large shared offset, as random-weight or
** poorly centred embeddings have): neighbours differ in the third decimal
** of the cosine. The cosine metric takes candidates from L2 tables, whose
** code error shrinks with the distance between query and vector; IP tables
** do not (ivfpq.c). Both probe lists by L2, as vectors were assigned. */
TEST(ivfpq_concentrated_unit_vectors) {
    enum { N = 3000, D = 32, NQ = 50 };
    float *q, *x = qt_mixture_q(N, NQ, D, 30, 0.35f, 0, 57, &q);
    float *all[2] = { x, q };
    size_t cnt[2] = { N, NQ };
    for (int a = 0; a < 2; a++)
        for (size_t i = 0; i < cnt[a]; i++) {
            float *v = all[a] + i * D;
            double nn = 0;
            for (size_t j = 0; j < D; j++) { v[j] = v[j] * 0.05f + 1.0f; nn += (double)v[j] * v[j]; }
            for (size_t j = 0; j < D; j++) v[j] = (float)(v[j] / sqrt(nn));
        }
    ds_index *ip = build_ivf(x, N, D, DS_METRIC_IP, 32, 8, 8, 0);
    ds_index *cs = build_ivf(x, N, D, DS_METRIC_COSINE, 32, 8, 8, 0);
    double rip = ivf_recall(ip, x, N, D, DS_METRIC_IP, q, NQ, 8), rcs = ivf_recall(cs, x, N, D, DS_METRIC_COSINE, q, NQ, 8);
    printf("    concentrated unit vectors, nprobe 8: recall@10 IP %.3f, cosine %.3f\n", rip, rcs);
    if (rcs < 0.9) FAIL("cosine recall@10 %.3f < 0.9", rcs);
    ASSERT(rcs >= rip);
    ds_index_close(ip);
    ds_index_close(cs);
    free(x);
    free(q);
}

TEST(ivfpq_filters_deletes_and_untrained) {
    enum { N = 3000, D = 16, K = 10, NQ = 20 };
    float *q, *x = qt_mixture_q(N, NQ, D, 30, 0.3f, 1, 41, &q);
    ds_index *ix = build_ivf(x, N, D, DS_METRIC_IP, 16, 4, 8, 0);
    uint8_t allowed[N], bitmap[(N + 7) / 8] = { 0 };
    for (int i = 0; i < N; i++) {
        allowed[i] = (i % 3 == 0);
        if (allowed[i]) bitmap[i / 8] |= (uint8_t)(1u << (i % 8));
    }
    for (int i = 0; i < N; i += 7) {
        ASSERT_OK(ds_index_delete(ix, (uint64_t)i));
        allowed[i] = 0;
    }
    ds_search_opts so;
    ds_search_opts_init(&so);
    so.filter = bitmap;
    so.filter_bits = N;
    so.nprobe = 16;
    uint64_t got[NQ * K], truth[NQ * K];
    float sc[NQ * K];
    size_t found[NQ];
    ASSERT_OK(ds_index_search(ix, q, NQ, K, &so, got, sc, found));
    for (int i = 0; i < NQ * K; i++)
        if (got[i] != UINT64_MAX) ASSERT(allowed[got[i]]);
    qt_brute(DS_METRIC_IP, x, N, D, q, NQ, K, allowed, truth);
    ASSERT(qt_recall(got, truth, NQ, K) >= 0.95);
    /* A selective filter (1 id in 100) with nprobe = 1: the probe widens
    ** until k results exist. */
    uint8_t sparse[(N + 7) / 8] = { 0 }, sparse_ok[N];
    for (int i = 0; i < N; i++) {
        sparse_ok[i] = (i % 100 == 1) && (i % 7 != 0);     /* deleted ids are never results */
        if (sparse_ok[i]) sparse[i / 8] |= (uint8_t)(1u << (i % 8));
    }
    so.filter = sparse;
    so.nprobe = 1;
    ASSERT_OK(ds_index_search(ix, q, NQ, K, &so, got, sc, found));
    for (int i = 0; i < NQ; i++) ASSERT_EQ_U64(found[i], K);
    qt_brute(DS_METRIC_IP, x, N, D, q, NQ, K, sparse_ok, truth);
    ASSERT(qt_recall(got, truth, NQ, K) >= 0.9);
    /* A filter that allows one id. */
    uint8_t one[(N + 7) / 8] = { 0 };
    one[1] = 2;                                  /* id 9 */
    so.filter = one;
    ASSERT_OK(ds_index_search(ix, q, 1, K, &so, got, sc, found));
    ASSERT_EQ_U64(found[0], 1);
    ASSERT_EQ_U64(got[0], 9);
    ASSERT(got[1] == UINT64_MAX && sc[1] == -INFINITY);
    ds_index_close(ix);
    /* Untrained: searches find nothing; too few training vectors is an error. */
    ds_index_opts o;
    ds_index_opts_init(&o);
    o.type = DS_INDEX_IVFPQ;
    ASSERT_OK(ds_index_create(NULL, D, &o, &ix));
    ASSERT_OK(ds_index_search(ix, q, 1, K, NULL, got, sc, found));
    ASSERT_EQ_U64(found[0], 0);
    ASSERT_RC(ds_index_train(ix, x, 100), DS_ERR_INVALID);     /* < 256 for PQ */
    o.pq_m = 5;
    ds_index *bad;
    ASSERT_OK(ds_index_create(NULL, D, &o, &bad));
    ASSERT_RC(ds_index_train(bad, x, N), DS_ERR_INVALID);       /* 5 does not divide 16 */
    ds_index_close(bad);
    /* An untrained index saves and opens. */
    char path[512];
    snprintf(path, sizeof path, "%s/untrained.vivf", ds_test_tmpdir());
    ASSERT_OK(ds_index_save(ix, path));
    ds_index_close(ix);
    ASSERT_OK(ds_index_open(NULL, path, DS_OPEN_VERIFY, &ix));
    ASSERT_OK(ds_check(NULL, path));
    ASSERT_EQ_U64(ds_index_size(ix), 0);
    ds_index_close(ix);
    free(x);
    free(q);
}

static const char *saved_ivf(const char *name, ds_index **out_ix, float **out_x, float **out_q, int opq) {
    enum { N = 1200, D = 16 };
    static char path[512];
    float *x = qt_mixture_q(N, 20, D, 20, 0.3f, 1, 51, out_q);
    ds_index *ix = build_ivf(x, N, D, DS_METRIC_L2, 16, 8, 8, opq);
    ASSERT_OK(ds_index_delete(ix, 5));
    snprintf(path, sizeof path, "%s/%s", ds_test_tmpdir(), name);
    ASSERT_OK(ds_index_save(ix, path));
    *out_ix = ix;
    *out_x = x;
    return path;
}

TEST(ivfpq_save_open_roundtrip) {
    enum { D = 16, K = 10, NQ = 20 };
    ds_index *ix, *jx;
    float *x, *q;
    const char *path = saved_ivf("rt.vivf", &ix, &x, &q, 1);
    ASSERT_OK(ds_check(NULL, path));
    ASSERT_OK(ds_index_open(NULL, path, DS_OPEN_VERIFY, &jx));
    ASSERT_EQ_U64(ds_index_size(jx), ds_index_size(ix));
    ASSERT(ds_index_kind(jx) == DS_INDEX_IVFPQ && ds_index_metric(jx) == DS_METRIC_L2);
    ASSERT_EQ_U64(ds_index_memory_bytes(jx), ds_index_memory_bytes(ix));
    uint64_t a[NQ * K], b[NQ * K];
    float sa[NQ * K], sb[NQ * K];
    ASSERT_OK(ds_index_search(ix, q, NQ, K, NULL, a, sa, NULL));
    ASSERT_OK(ds_index_search(jx, q, NQ, K, NULL, b, sb, NULL));
    ASSERT(memcmp(a, b, sizeof a) == 0 && memcmp(sa, sb, sizeof sa) == 0);
    /* Adding to an opened index copies the mapped parts out; both agree. */
    ASSERT_OK(ds_index_add(ix, q, 5, (const uint64_t[]){ 90001, 90002, 90003, 90004, 90005 }));
    ASSERT_OK(ds_index_add(jx, q, 5, (const uint64_t[]){ 90001, 90002, 90003, 90004, 90005 }));
    ASSERT_OK(ds_index_search(ix, q, NQ, K, NULL, a, sa, NULL));
    ASSERT_OK(ds_index_search(jx, q, NQ, K, NULL, b, sb, NULL));
    ASSERT(memcmp(a, b, sizeof a) == 0);
    ASSERT_EQ_U64(a[0], 90001);
    char p2[600];
    snprintf(p2, sizeof p2, "%s.2", path);
    ASSERT_OK(ds_index_save(jx, p2));
    ds_index_close(jx);
    ASSERT_OK(ds_index_open(NULL, p2, 0, &jx));
    ASSERT_OK(ds_index_search(jx, q, NQ, K, NULL, b, sb, NULL));
    ASSERT(memcmp(a, b, sizeof a) == 0);
    ds_index_close(jx);
    ds_index_close(ix);
    free(x);
    free(q);
}

TEST(ivfpq_concurrent_searches_equal_serial) {
    ds_index *ix, *jx;
    float *x, *q;
    const char *path = saved_ivf("conc.vivf", &ix, &x, &q, 0);
    ASSERT_OK(ds_index_open(NULL, path, 0, &jx));
    ds_search_opts so;
    ds_search_opts_init(&so);
    so.nprobe = 4;
    qt_concurrent_equals_serial(ix, q, 20, 10, &so);
    qt_concurrent_equals_serial(jx, q, 20, 10, NULL);
    ds_index_close(jx);
    ds_index_close(ix);
    free(x);
    free(q);
}

TEST(ivfpq_corrupt_files_fail_cleanly) {
    ds_index *ix;
    float *x, *q;
    const char *path = saved_ivf("c.vivf", &ix, &x, &q, 1);
    ds_index_close(ix);
    qt_fuzz_file(path, q, 16);
    free(x);
    free(q);
}

static void mut_shrink4(uint8_t **p, size_t *len, void *ud) { (void)p; (void)ud; *len -= 4; }
static void mut_last_offset_big(uint8_t **p, size_t *len, void *ud) {
    (void)ud;
    ds__store_u64le(*p + *len - 8, 1u << 30);
}
static void mut_mid_offset_big(uint8_t **p, size_t *len, void *ud) {
    (void)ud; (void)len;
    ds__store_u64le(*p + 8, 1000000);
}
static void mut_slot_range(uint8_t **p, size_t *len, void *ud) { (void)ud; (void)len; ds__store_u32le(*p + 4, 999999); }
static void mut_slot_dup(uint8_t **p, size_t *len, void *ud) { (void)ud; (void)len; memcpy(*p + 4, *p, 4); }
static void mut_nan(uint8_t **p, size_t *len, void *ud) { (void)ud; (void)len; ds__store_u32le(*p + 8, 0x7fc00000u); }
static void mut_param(uint8_t **p, size_t *len, void *ud) { (void)len; ds__store_u32le(*p + *(size_t *)ud, 7); }
static void mut_param_big(uint8_t **p, size_t *len, void *ud) { (void)len; (void)ud; ds__store_u32le(*p, 0xffffffffu); }

TEST(ivfpq_crafted_sections_are_corrupt) {
    ds_index *ix;
    float *x, *q;
    const char *path = saved_ivf("k.vivf", &ix, &x, &q, 1);
    ds_index_close(ix);
    char bad[600];
    snprintf(bad, sizeof bad, "%s.crafted", path);
    struct { uint32_t kind; qt_mutate_fn fn; size_t arg; } cases[] = {
        { DS_FOURCC('P', 'Q', 'C', 'B'), mut_shrink4, 0 },           /* codebooks of the wrong size */
        { DS_FOURCC('I', 'V', 'F', 'C'), mut_shrink4, 0 },
        { DS_FOURCC('O', 'P', 'Q', 'R'), mut_shrink4, 0 },
        { DS_FOURCC('C', 'O', 'D', 'E'), mut_shrink4, 0 },
        { DS_FOURCC('F', 'V', 'E', 'C'), mut_shrink4, 0 },
        { DS_FOURCC('I', 'V', 'F', 'L'), mut_last_offset_big, 0 },   /* list sizes beyond the file */
        { DS_FOURCC('I', 'V', 'F', 'L'), mut_mid_offset_big, 0 },
        { DS_FOURCC('I', 'V', 'F', 'I'), mut_slot_range, 0 },
        { DS_FOURCC('I', 'V', 'F', 'I'), mut_slot_dup, 0 },
        { DS_FOURCC('P', 'Q', 'C', 'B'), mut_nan, 0 },
        { DS_FOURCC('I', 'V', 'F', 'P'), mut_param, 4 },             /* m = 7 does not divide 16 */
        { DS_FOURCC('I', 'V', 'F', 'P'), mut_param, 8 },             /* nbits 7 */
        { DS_FOURCC('I', 'V', 'F', 'P'), mut_param, 12 },            /* unknown flag */
        { DS_FOURCC('I', 'V', 'F', 'P'), mut_param, 40 },            /* reserved */
        { DS_FOURCC('I', 'V', 'F', 'P'), mut_param_big, 0 },         /* nlist 2^32-1 */
    };
    for (size_t i = 0; i < DS_ARRAY_LEN(cases); i++) {
        ASSERT_OK(qt_rewrite(path, bad, cases[i].kind, cases[i].fn, &cases[i].arg));
        qt_expect_open_fails(bad, DS_ERR_CORRUPT);
    }
    /* The untouched rewrite still opens (the rewriter itself is sound). */
    ASSERT_OK(qt_rewrite(path, bad, 0, mut_shrink4, NULL));
    ASSERT_OK(ds_index_open(NULL, bad, DS_OPEN_VERIFY, &ix));
    ds_index_close(ix);
    free(x);
    free(q);
}

TEST(pq_argmin_and_nearest_kernels_match_scalar) {
    uint64_t s = 8;
    size_t ks[] = { 1, 3, 15, 16, 17, 255, 256, 1000 };
    float *cn = malloc(sizeof(float) * 1001), *dots = malloc(sizeof(float) * 1001);
    for (size_t i = 0; i < 1001; i++) { cn[i] = (float)ds__rng_normal(&s); dots[i] = (float)ds__rng_normal(&s); }
    dots[700] = dots[300] = 50;                       /* a tie: the first index must win */
    cn[700] = cn[300] = 0;
    for (size_t t = 0; t < DS_ARRAY_LEN(ks); t++) {
        float b1, b2;
        for (unsigned lv = 1; lv <= 2; lv++) {
            uint32_t a = ds__argmin_scalar()(cn + 1, dots + 1, ks[t], &b1), b = ds__argmin_best(lv)(cn + 1, dots + 1, ks[t], &b2);
            ASSERT_EQ_U64(a, b);
            ASSERT(b1 == b2);
        }
    }
    size_t dsubs[] = { 1, 2, 3, 8, 16 }, ksubs[] = { 16, 256 };
    float *cbt = malloc(sizeof(float) * 16 * 256), x[16];
    for (size_t i = 0; i < 16 * 256; i++) cbt[i] = (float)ds__rng_normal(&s);
    for (size_t d = 0; d < DS_ARRAY_LEN(dsubs); d++)
        for (size_t k = 0; k < DS_ARRAY_LEN(ksubs); k++)
            for (int rep = 0; rep < 20; rep++) {
                for (int i = 0; i < 16; i++) x[i] = (float)ds__rng_normal(&s);
                for (unsigned lv = 1; lv <= 2; lv++)
                    ASSERT_EQ_U64(ds__nearest_scalar()(x, cbt, dsubs[d], ksubs[k]), ds__nearest_best(lv)(x, cbt, dsubs[d], ksubs[k]));
            }
    free(cn); free(dots); free(cbt);
}

TEST(kmeans_assign_matches_brute_force_both_paths) {
    /* dim <= 16 with k % 16 == 0 takes the direct kernel path, others BLAS. */
    size_t dims[] = { 8, 20 }, ks[] = { 32, 10 };
    for (int t = 0; t < 2; t++) {
        size_t n = 700, dim = dims[t], k = ks[t];
        float *x = qt_mixture(n, dim, 5, 1.0f, 0, 100 + t, NULL), *c = qt_mixture(k, dim, 5, 1.0f, 0, 200 + t, NULL);
        uint32_t *asg = malloc(sizeof(uint32_t) * n);
        float *dist = malloc(sizeof(float) * n);
        ASSERT_OK(ds__kmeans_assign(NULL, c, k, dim, x, n, 2, asg, dist));
        for (size_t i = 0; i < n; i++) {
            double best = INFINITY;
            for (size_t j = 0; j < k; j++) {
                double d = -qt_score(DS_METRIC_L2, x + i * dim, c + j * dim, dim);
                if (d < best) best = d;
            }
            double mine = -qt_score(DS_METRIC_L2, x + i * dim, c + asg[i] * dim, dim);
            ASSERT_NEAR_F32(mine, best, 1e-4 * (1 + best));       /* the nearest, up to rounding ties */
            ASSERT_NEAR_F32(dist[i], best, 1e-3 * (1 + best));
        }
        free(x); free(c); free(asg); free(dist);
    }
}
