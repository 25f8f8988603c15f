/* t_flat.c -- flat index storages (f32, f16, int8) and the batched (BLAS)
** path against brute force, for every metric, plus save/open of each. */
#include "test.h"
#include "vector/index_impl.h"

#include <math.h>

static double score_of(ds_metric m, const float *a, const float *b, size_t d) {
    double s = 0, na = 0, nb = 0;
    for (size_t j = 0; j < d; j++) {
        if (m == DS_METRIC_L2) { double e = (double)a[j] - b[j]; s += e * e; }
        else s += (double)a[j] * b[j];
        na += (double)a[j] * a[j];
        nb += (double)b[j] * b[j];
    }
    if (m == DS_METRIC_L2) return -s;
    if (m == DS_METRIC_COSINE) return s / sqrt(na * nb);
    return s;
}

enum { N = 3000, D = 45, NQ = 40, K = 10 };

static void truth(ds_metric m, const float *x, const float *q, uint64_t *out) {
    double *best = malloc(sizeof(double) * K);
    for (int i = 0; i < NQ; i++) {
        for (int j = 0; j < K; j++) { best[j] = -INFINITY; out[i * K + j] = UINT64_MAX; }
        for (size_t r = 0; r < N; r++) {
            double s = score_of(m, q + i * D, x + r * D, D);
            if (s <= best[K - 1]) continue;
            int j = K - 1;
            while (j > 0 && best[j - 1] < s) { best[j] = best[j - 1]; out[i * K + j] = out[i * K + j - 1]; j--; }
            best[j] = s;
            out[i * K + j] = r;
        }
    }
    free(best);
}

static double recall(const uint64_t *got, const uint64_t *want) {
    int hit = 0;
    for (int i = 0; i < NQ; i++)
        for (int a = 0; a < K; a++)
            for (int b = 0; b < K; b++) if (got[i * K + a] == want[i * K + b]) { hit++; break; }
    return hit / (double)(NQ * K);
}

TEST(flat_storages_metrics_batched_and_saved) {
    float *x = ds_test_rand_vecs(N, D, 61), *q = ds_test_rand_vecs(NQ, D, 62);
    uint64_t want[NQ * K], one[NQ * K], batch[NQ * K], again[NQ * K];
    float s1[NQ * K], sb[NQ * K], s2[NQ * K];
    static const ds_metric metrics[] = { DS_METRIC_IP, DS_METRIC_L2, DS_METRIC_COSINE };
    static const ds_storage storages[] = { DS_STORAGE_F32, DS_STORAGE_F16, DS_STORAGE_INT8 };
    for (size_t mi = 0; mi < 3; mi++) {
        truth(metrics[mi], x, q, want);
        for (size_t si = 0; si < 3; si++) {
            ds_index_opts o;
            ds_index_opts_init(&o);
            o.metric = metrics[mi];
            o.storage = storages[si];
            ds_index *ix;
            ASSERT_OK(ds_index_create(NULL, D, &o, &ix));
            ASSERT_OK(ds_index_train(ix, x, N));
            ASSERT_OK(ds_index_add(ix, x, N / 2, NULL));
            ASSERT_OK(ds_index_add(ix, x + (N / 2) * D, N - N / 2, NULL));
            for (int i = 0; i < NQ; i++) ASSERT_OK(ds_index_search(ix, q + i * D, 1, K, NULL, one + i * K, s1 + i * K, NULL));
            ASSERT_OK(ds_index_search(ix, q, NQ, K, NULL, batch, sb, NULL));
            double r1 = recall(one, want), rb = recall(batch, want);
            printf("  metric %d storage %d: recall@10 single %.3f batched %.3f\n", (int)metrics[mi], (int)storages[si], r1, rb);
            double need = storages[si] == DS_STORAGE_F32 ? 0.999 : storages[si] == DS_STORAGE_F16 ? 0.99 : 0.85;
            ASSERT(r1 >= need);
            ASSERT(rb >= need);
            for (int i = 0; i < NQ * K; i++) ASSERT_NEAR_F32(s1[i], sb[i], 1e-3f);
            /* Scores agree with the exact metric within the storage's error. */
            double tol = storages[si] == DS_STORAGE_F32 ? 1e-4 : storages[si] == DS_STORAGE_F16 ? 2e-2 : 0.5;
            for (int i = 0; i < NQ; i++)
                ASSERT_NEAR_F32(s1[i * K], score_of(metrics[mi], q + i * D, x + one[i * K] * D, D), tol);
            char path[512];
            snprintf(path, sizeof path, "%s/flat_%zu_%zu.dsx", ds_test_tmpdir(), mi, si);
            ASSERT_OK(ds_index_save(ix, path));
            ds_index *iy;
            ASSERT_OK(ds_index_open(NULL, path, DS_OPEN_VERIFY, &iy));
            ASSERT_OK(ds_index_search(iy, q, NQ, K, NULL, again, s2, NULL));
            ASSERT(memcmp(again, batch, sizeof again) == 0);
            ASSERT_OK(ds_check(NULL, path));
            /* Adding to an opened (mapped) index copies it first. */
            ASSERT_OK(ds_index_add(iy, q, 1, NULL));
            ASSERT_OK(ds_index_search(iy, q, 1, 1, NULL, again, s2, NULL));
            if (metrics[mi] != DS_METRIC_IP) ASSERT_EQ_U64(again[0], N);
            ds_index_close(iy);
            ds_index_close(ix);
        }
    }
    free(x);
    free(q);
}

/* Exact top-k with ties: small-integer vectors make every f32 score exact
** (whatever order sgemm or the row kernel sums in), so many rows tie and the
** answer is fixed: score descending, then slot ascending. Single-query and
** batched (sgemm + the 16-wide threshold pre-test) must both return exactly
** that, across row blocks, with a row count that is not a multiple of 16,
** for IP and L2, before and after deletes (the filtered offer path). */
TEST(flat_exact_topk_ties_batched_equals_brute_force) {
    enum { TN = 2501, TD = 24, TQ = 9, TK = 37 };
    float *x = malloc(sizeof(float) * TN * TD), *q = malloc(sizeof(float) * TQ * TD);
    uint64_t s = 12345;
    for (size_t i = 0; i < (size_t)TN * TD; i++) { s ^= s << 13; s ^= s >> 7; s ^= s << 17; x[i] = (float)((int)(s % 3) - 1); }
    for (size_t i = 0; i < (size_t)TQ * TD; i++) { s ^= s << 13; s ^= s >> 7; s ^= s << 17; q[i] = (float)((int)(s % 5) - 2); }
    static uint8_t dead[TN];
    uint64_t *one = malloc(sizeof(uint64_t) * TQ * TK), *bat = malloc(sizeof(uint64_t) * TQ * TK);
    float *s1 = malloc(sizeof(float) * TQ * TK), *sb = malloc(sizeof(float) * TQ * TK);
    double *best = malloc(sizeof(double) * TN);
    size_t *order = malloc(sizeof(size_t) * TN);
    static const ds_metric metrics[] = { DS_METRIC_IP, DS_METRIC_L2 };
    for (size_t mi = 0; mi < 2; mi++) {
        ds_index_opts o;
        ds_index_opts_init(&o);
        o.metric = metrics[mi];
        ds_index *ix;
        ASSERT_OK(ds_index_create(NULL, TD, &o, &ix));
        ASSERT_OK(ds_index_add(ix, x, TN, NULL));
        memset(dead, 0, sizeof dead);
        for (int round = 0; round < 2; round++) {
            if (round == 1)
                for (size_t r = 0; r < TN; r += 3) { ASSERT_OK(ds_index_delete(ix, r)); dead[r] = 1; }
            for (int i = 0; i < TQ; i++) ASSERT_OK(ds_index_search(ix, q + i * TD, 1, TK, NULL, one + i * TK, s1 + i * TK, NULL));
            ASSERT_OK(ds_index_search(ix, q, TQ, TK, NULL, bat, sb, NULL));
            for (int i = 0; i < TQ; i++) {
                size_t m = 0;
                for (size_t r = 0; r < TN; r++) {
                    if (dead[r]) continue;
                    best[r] = score_of(metrics[mi], q + i * TD, x + r * TD, TD);
                    order[m++] = r;
                }
                /* insertion sort by (score desc, slot asc): stable on slot order */
                for (size_t a = 1; a < m; a++) {
                    size_t v = order[a], b = a;
                    while (b > 0 && best[order[b - 1]] < best[v]) { order[b] = order[b - 1]; b--; }
                    order[b] = v;
                }
                for (int j = 0; j < TK; j++) {
                    ASSERT_EQ_U64(one[i * TK + j], order[j]);
                    ASSERT_EQ_U64(bat[i * TK + j], order[j]);
                    ASSERT(s1[i * TK + j] == (float)best[order[j]]);
                    ASSERT(sb[i * TK + j] == (float)best[order[j]]);
                }
            }
        }
        ds_index_close(ix);
    }
    free(x); free(q); free(one); free(bat); free(s1); free(sb); free(best); free(order);
}
