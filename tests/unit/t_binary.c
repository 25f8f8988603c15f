/* t_binary.c -- the binary-code index type (sign bits, optional ITQ) and the
** Hamming kernels: recall against brute force, filters, deletes, save/open,
** corrupt files, concurrent searches. */
#include "quant_testutil.h"

TEST(hamming_kernels_match_scalar) {
    size_t words[] = { 1, 2, 3, 6, 7, 8, 9, 12, 16 }, ns[] = { 0, 1, 7, 8, 9, 33 };
    uint64_t s = 77;
    uint64_t *codes = malloc(sizeof(uint64_t) * 16 * 34), q[16];
    for (size_t i = 0; i < 16 * 34; i++) codes[i] = ds__rng_next(&s);
    for (size_t i = 0; i < 16; i++) q[i] = ds__rng_next(&s);
    uint16_t a[34], b[34];
    ds__hamming_fn variants[] = { ds__hamming_popcnt(), ds__hamming_avx512(), ds__hamming_best(2) };
    for (size_t w = 0; w < DS_ARRAY_LEN(words); w++)
        for (size_t t = 0; t < DS_ARRAY_LEN(ns); t++) {
            ds__hamming_scalar()(q, codes + 1, words[w], ns[t], a);      /* odd start: unaligned rows */
            for (size_t v = 0; v < DS_ARRAY_LEN(variants); v++) {
                if (variants[v] == NULL) continue;
                memset(b, 0xff, sizeof b);
                variants[v](q, codes + 1, words[w], ns[t], b);
                for (size_t i = 0; i < ns[t]; i++) ASSERT_EQ_U64(a[i], b[i]);
            }
        }
    /* The reference itself, on a known case. */
    uint64_t z = 0, ones[2] = { ~0ULL, 5 };
    ds__hamming_scalar()(&z, ones, 1, 2, a);
    ASSERT_EQ_U64(a[0], 64);
    ASSERT_EQ_U64(a[1], 2);
    free(codes);
}

static ds_index *build_bin(const float *x, size_t n, size_t dim, ds_metric metric, int itq, int train) {
    ds_index_opts o;
    ds_index_opts_init(&o);
    o.type = DS_INDEX_BINARY;
    o.metric = metric;
    o.itq = itq;
    ds_index *ix;
    ASSERT_OK(ds_index_create(NULL, dim, &o, &ix));
    if (itq) ASSERT_RC(ds_index_add(ix, x, 1, NULL), DS_ERR_INVALID);
    if (train) ASSERT_OK(ds_index_train(ix, x, n));
    ASSERT_OK(ds_index_add(ix, x, n / 3, NULL));
    ASSERT_OK(ds_index_add(ix, x + (n / 3) * dim, n - n / 3, NULL));
    return ix;
}

TEST(binary_recall_with_rescoring) {
    enum { N = 4000, D = 64, NQ = 40, K = 10 };
    float *q, *x = qt_mixture_q(N, NQ, D, 30, 0.4f, 1, 61, &q);
    struct { ds_metric m; int itq, train; } cfg[] = {
        { DS_METRIC_IP, 0, 0 }, { DS_METRIC_COSINE, 1, 1 }, { DS_METRIC_L2, 0, 1 },
    };
    uint64_t got[NQ * K], truth[NQ * K];
    float sc[NQ * K];
    for (size_t c = 0; c < DS_ARRAY_LEN(cfg); c++) {
        ds_index *ix = build_bin(x, N, D, cfg[c].m, cfg[c].itq, cfg[c].train);
        ASSERT_OK(ds_index_search(ix, q, NQ, K, NULL, got, sc, NULL));
        qt_brute(cfg[c].m, x, N, D, q, NQ, K, NULL, truth);
        double r = qt_recall(got, truth, NQ, K);
        if (r < 0.95) FAIL("config %zu: recall@10 %.3f < 0.95", c, r);
        for (int i = 0; i < NQ; i++)
            for (int j = 1; j < K; j++) ASSERT(sc[i * K + j - 1] >= sc[i * K + j]);
        /* Scores are exact: equal to the metric on the returned vector. */
        double want = qt_score(cfg[c].m, q, x + got[0] * D, D);
        ASSERT_NEAR_F32(sc[0], want, 1e-4);
        ASSERT(ds_index_memory_bytes(ix) < (uint64_t)N * D * 4 / 8 + (cfg[c].itq ? D * D * 4 : 0) + 200000);
        ds_index_close(ix);
    }
    free(x);
    free(q);
}

TEST(binary_itq_lowers_quantization_loss) {
    /* ITQ's objective ||sign(V R^T) - V R^T||_F must fall below both the
    ** identity and the random rotation it starts from. */
    enum { N = 2000, D = 32 };
    float *x = qt_mixture(N, D, 10, 0.3f, 0, 71, NULL), *y = malloc(sizeof(float) * N * D);
    float *R = malloc(sizeof(float) * D * D), *I = calloc(D * D, sizeof(float)), *R0 = malloc(sizeof(float) * D * D);
    double mean[D] = { 0 };
    for (int i = 0; i < N; i++)
        for (int j = 0; j < D; j++) mean[j] += x[i * D + j] / N;
    for (int i = 0; i < N; i++)
        for (int j = 0; j < D; j++) x[i * D + j] -= (float)mean[j];
    for (int i = 0; i < D; i++) I[i * D + i] = 1;
    ASSERT_OK(ds__itq_train(NULL, x, N, D, 30, 5, R));
    ASSERT_OK(ds__random_rotation(NULL, D, 5, R0));
    double l_itq = ds__itq_loss(x, N, D, R, y), l_id = ds__itq_loss(x, N, D, I, y), l_rnd = ds__itq_loss(x, N, D, R0, y);
    if (!(l_itq < l_id && l_itq < l_rnd)) FAIL("ITQ loss %g, identity %g, random %g", l_itq, l_id, l_rnd);
    /* Deterministic for a seed. */
    ASSERT_OK(ds__itq_train(NULL, x, N, D, 30, 5, R0));
    ASSERT(memcmp(R, R0, sizeof(float) * D * D) == 0);
    free(x); free(y); free(R); free(I); free(R0);
}

TEST(binary_filters_and_deletes) {
    enum { N = 3000, D = 48, K = 10, NQ = 20 };
    float *q, *x = qt_mixture_q(N, NQ, D, 20, 0.4f, 1, 81, &q);
    ds_index *ix = build_bin(x, N, D, DS_METRIC_IP, 0, 1);
    uint8_t allowed[N], bitmap[(N + 7) / 8] = { 0 };
    for (int i = 0; i < N; i++) {
        allowed[i] = (i % 50 == 0);                                 /* selective: 60 ids */
        if (allowed[i]) bitmap[i / 8] |= (uint8_t)(1u << (i % 8));
    }
    for (int i = 0; i < N; i += 100) {
        ASSERT_OK(ds_index_delete(ix, (uint64_t)i));
        allowed[i] = 0;
    }
    ds_search_opts so;
    ds_search_opts_init(&so);
    so.filter = bitmap;
    so.filter_bits = N;
    so.rerank = 20;                                                 /* forces the second pass */
    uint64_t got[NQ * K], truth[NQ * K];
    float sc[NQ * K];
    size_t found[NQ];
    ASSERT_OK(ds_index_search(ix, q, NQ, K, &so, got, sc, found));
    for (int i = 0; i < NQ; i++) {
        ASSERT_EQ_U64(found[i], K);
        for (int j = 0; j < K; j++) ASSERT(allowed[got[i * K + j]]);
    }
    qt_brute(DS_METRIC_IP, x, N, D, q, NQ, K, allowed, truth);
    ASSERT(qt_recall(got, truth, NQ, K) >= 0.9);
    /* Everything deleted: nothing found. */
    ds_index *small;
    ds_index_opts o;
    ds_index_opts_init(&o);
    o.type = DS_INDEX_BINARY;
    ASSERT_OK(ds_index_create(NULL, D, &o, &small));
    ASSERT_OK(ds_index_add(small, x, 3, NULL));
    for (int i = 0; i < 3; i++) ASSERT_OK(ds_index_delete(small, (uint64_t)i));
    ASSERT_OK(ds_index_search(small, q, 1, K, NULL, got, sc, found));
    ASSERT_EQ_U64(found[0], 0);
    ds_index_close(small);
    ds_index_close(ix);
    free(x);
    free(q);
}

static const char *saved_bin(const char *name, ds_index **out_ix, float **out_x, float **out_q, size_t dim, int itq) {
    enum { N = 1500 };
    static char path[512];
    float *x = qt_mixture_q(N, 20, dim, 20, 0.3f, 1, 91, out_q);
    ds_index *ix = build_bin(x, N, dim, DS_METRIC_COSINE, itq, 1);
    ASSERT_OK(ds_index_delete(ix, 7));
    snprintf(path, sizeof path, "%s/%s", ds_test_tmpdir(), name);
    ASSERT_OK(ds_index_save(ix, path));
    *out_ix = ix;
    *out_x = x;
    return path;
}

TEST(binary_save_open_roundtrip_and_concurrency) {
    enum { D = 40, K = 10, NQ = 20 };                     /* 40 bits: a partial word */
    ds_index *ix, *jx;
    float *x, *q;
    const char *path = saved_bin("rt.vbin", &ix, &x, &q, D, 1);
    ASSERT_OK(ds_check(NULL, path));
    ASSERT_OK(ds_index_open(NULL, path, DS_OPEN_VERIFY, &jx));
    ASSERT(ds_index_kind(jx) == DS_INDEX_BINARY);
    ASSERT_EQ_U64(ds_index_memory_bytes(jx), ds_index_memory_bytes(ix));
    uint64_t a[NQ * K], b[NQ * K];
    float sa[NQ * K], sb[NQ * K];
    ASSERT_OK(ds_index_search(ix, q, NQ, K, NULL, a, sa, NULL));
    ASSERT_OK(ds_index_search(jx, q, NQ, K, NULL, b, sb, NULL));
    ASSERT(memcmp(a, b, sizeof a) == 0 && memcmp(sa, sb, sizeof sa) == 0);
    for (int i = 0; i < NQ * K; i++) ASSERT(a[i] != 7);
    qt_concurrent_equals_serial(jx, q, NQ, K, NULL);
    /* Add after open (copy-on-write of the mapped parts), save again. */
    ASSERT_OK(ds_index_add(jx, q, 1, (const uint64_t[]){ 777777 }));
    ASSERT_OK(ds_index_search(jx, q, 1, K, NULL, b, sb, NULL));
    ASSERT_EQ_U64(b[0], 777777);
    char p2[600];
    snprintf(p2, sizeof p2, "%s.2", path);
    ASSERT_OK(ds_index_save(jx, p2));
    ds_index_close(jx);
    ASSERT_OK(ds_index_open(NULL, p2, 0, &jx));
    ASSERT_OK(ds_index_search(jx, q, 1, K, NULL, a, sa, NULL));
    ASSERT(memcmp(a, b, sizeof(uint64_t) * K) == 0);
    ds_index_close(jx);
    ds_index_close(ix);
    free(x);
    free(q);
}

TEST(binary_corrupt_files_fail_cleanly) {
    ds_index *ix;
    float *x, *q;
    const char *path = saved_bin("c.vbin", &ix, &x, &q, 40, 1);
    ds_index_close(ix);
    qt_fuzz_file(path, q, 40);
    free(x);
    free(q);
}

static void mut_shrink8(uint8_t **p, size_t *len, void *ud) { (void)p; (void)ud; *len -= 8; }
static void mut_padbit(uint8_t **p, size_t *len, void *ud) { (void)ud; (void)len; (*p)[7] |= 0x80; }  /* bit 63 of code 0 */
static void mut_word(uint8_t **p, size_t *len, void *ud) { (void)len; ds__store_u32le(*p + *(size_t *)ud, 9); }
static void mut_inf(uint8_t **p, size_t *len, void *ud) { (void)ud; (void)len; ds__store_u32le(*p, 0x7f800000u); }

TEST(binary_crafted_sections_are_corrupt) {
    ds_index *ix;
    float *x, *q;
    const char *path = saved_bin("k.vbin", &ix, &x, &q, 40, 1);
    ds_index_close(ix);
    char bad[600];
    snprintf(bad, sizeof bad, "%s.crafted", path);
    struct { uint32_t kind; qt_mutate_fn fn; size_t arg; } cases[] = {
        { DS_FOURCC('B', 'C', 'O', 'D'), mut_shrink8, 0 },
        { DS_FOURCC('B', 'C', 'O', 'D'), mut_padbit, 0 },
        { DS_FOURCC('B', 'M', 'E', 'A'), mut_shrink8, 0 },
        { DS_FOURCC('B', 'R', 'O', 'T'), mut_shrink8, 0 },
        { DS_FOURCC('B', 'R', 'O', 'T'), mut_inf, 0 },
        { DS_FOURCC('F', 'V', 'E', 'C'), mut_shrink8, 0 },
        { DS_FOURCC('B', 'I', 'N', 'P'), mut_word, 0 },
        { DS_FOURCC('B', 'I', 'N', 'P'), mut_word, 4 },
        { DS_FOURCC('B', 'I', 'N', 'P'), mut_word, 8 },
        { DS_FOURCC('B', 'I', 'N', 'P'), mut_word, 60 },
    };
    for (size_t i = 0; i < DS_ARRAY_LEN(cases); i++) {
        ASSERT_OK(qt_rewrite(path, bad, cases[i].kind, cases[i].fn, &cases[i].arg));
        qt_expect_open_fails(bad, DS_ERR_CORRUPT);
    }
    free(x);
    free(q);
}
