/* b_gemm.c -- one-thread speed of the encoder's linear-layer kernels against
** OpenBLAS SGEMM on the shapes of all-MiniLM-L6-v2 (K, n in {384, 1536}),
** and of its attention kernel (one head of 32 in rows of 384, L = 128, 256).
** Time is the thread's CPU time, so other jobs on the machine inflate it
** less than wall time. Rates are the best of REPS; on this shared host they
** move by 20-30% between runs, so each line also gives the median over the
** REPS of the per-call ratio OpenBLAS time / packed f32 time, which pairs
** calls made microseconds apart (b_gemm 256 300: the forward pass's chunk).
** Internal API (src/model/gemm.h): a bench, not a test.
**
**   cc -O2 -Iinclude -Isrc bench/model/b_gemm.c build/libdensearch.a -lopenblas ... -o b_gemm
**   b_gemm [M] [REPS]        (DS_SIMD=avx2|scalar forces those packed kernels)
*/
#include "model/gemm.h"
#include "model/kernels.h"

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static float frand(unsigned *s) {
    *s = *s * 1103515245u + 12345u;
    return (float)((*s >> 8) & 0xffff) / 32768.0f - 1.0f;
}

int main(int argc, char **argv) {
    size_t M = argc > 1 ? (size_t)atol(argv[1]) : 2048;
    int reps = argc > 2 ? atoi(argv[2]) : 5;
    openblas_set_num_threads(1);
    /* the packed kernels DS_SIMD selects in the library (avx512 where present) */
    const char *want = getenv("DS_SIMD");
    const ds__gemm_kernels *g = want && strcmp(want, "avx2") == 0 ? NULL : ds__gemm_kernels_avx512();
    if (g == NULL && !(want && strcmp(want, "scalar") == 0)) g = ds__gemm_kernels_avx2();
    if (g == NULL) g = ds__gemm_kernels_scalar();
    size_t shapes[][2] = { { 384, 384 }, { 384, 1536 }, { 1536, 384 } };   /* K, n */
    unsigned seed = 1;
    for (size_t s = 0; s < 3; s++) {
        size_t K = shapes[s][0], n = shapes[s][1];
        float *x = malloc(M * K * sizeof *x), *W = malloc(n * K * sizeof *W), *b = calloc(n, sizeof *b);
        float *y = malloc(M * n * sizeof *y);
        for (size_t i = 0; i < M * K; i++) x[i] = frand(&seed);
        for (size_t i = 0; i < n * K; i++) W[i] = frand(&seed);
        void *pf = aligned_alloc(64, ds__pack_bytes(n, K, 0)), *pq = aligned_alloc(64, ds__pack_bytes(n, K, 1));
        void *ph = aligned_alloc(64, ds__pack_bytes(n, K, DS_PACK_BF16));
        ds__pack Pf, Pq, Ph;
        ds__pack_init(&Pf, pf, W, b, n, K, 0);
        ds__pack_init(&Pq, pq, W, b, n, K, 1);
        ds__pack_init(&Ph, ph, W, b, n, K, DS_PACK_BF16);
        uint16_t *xh = malloc(M * Ph.Kh * sizeof *xh);
        size_t Kp = Pq.Kp;
        uint8_t *xq = malloc(M * Kp);
        float *xs = malloc(M * sizeof *xs);
        int32_t *xz = malloc(M * sizeof *xz);
        double best[6] = { 1e9, 1e9, 1e9, 1e9, 1e9, 1e9 }, *ratio = malloc((size_t)reps * sizeof *ratio);
        for (int r = 0; r < reps; r++) {
            double t0 = cpu_now();
            for (size_t i = 0; i < M; i++) memcpy(y + i * n, b, n * sizeof *y);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)M, (int)n, (int)K, 1.0f, x, (int)K, W, (int)K,
                        1.0f, y, (int)n);
            double t1 = cpu_now();
            g->f32(x, M, &Pf, 0, Pf.panels, DS_GEMM_ACT_NONE, y);
            double t2 = cpu_now();
            g->quant(x, M, K, Kp, xq, xs, xz);
            double t3 = cpu_now();
            g->i8(xq, xs, xz, M, &Pq, 0, Pq.panels, DS_GEMM_ACT_NONE, y);
            double t4 = cpu_now();
            g->to_bf16(x, M, K, Ph.Kh, xh);
            double t5 = cpu_now();
            g->bf16(xh, M, &Ph, 0, Ph.panels, DS_GEMM_ACT_NONE, y);
            double t6 = cpu_now();
            double d[6] = { t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, t6 - t5 };
            for (int k = 0; k < 6; k++) best[k] = d[k] < best[k] ? d[k] : best[k];
            ratio[r] = d[0] / d[1];
        }
        qsort(ratio, (size_t)reps, sizeof *ratio, cmp_double);
        double gmac = (double)M * (double)K * (double)n * 1e-9;
        printf("{\"M\":%zu,\"K\":%zu,\"n\":%zu,\"openblas_gmac_s\":%.2f,\"packed_f32_gmac_s\":%.2f,"
               "\"int8_gmac_s\":%.2f,\"int8_with_quant_gmac_s\":%.2f,\"bf16_gmac_s\":%.2f,"
               "\"bf16_with_convert_gmac_s\":%.2f,\"packed_over_openblas_median\":%.3f,\"kernels\":\"%s\","
               "\"bf16_kernel\":\"%s\"}\n",
               M, K, n, gmac / best[0], gmac / best[1], gmac / best[3], gmac / (best[2] + best[3]), gmac / best[5],
               gmac / (best[4] + best[5]), ratio[reps / 2], g->name, g->bf16_name);
        free(ratio);
        free(x); free(W); free(b); free(y); free(pf); free(pq); free(ph); free(xh); free(xq); free(xs); free(xz);
    }
    /* attention: QK^T and PV are 2 * L * L * d multiply-adds */
    const model_kernels *mk = want && strcmp(want, "avx2") == 0 ? NULL : ds__model_kernels_avx512();
    if (mk == NULL) mk = ds__model_kernels_avx2();
    if (mk == NULL) return 0;
    static const size_t Ls[] = { 128, 256 };
    for (size_t a = 0; a < 2; a++) {
        size_t L = Ls[a], d = 32, ld = 384, heads = ld / d;
        float *q = malloc(L * ld * sizeof *q), *k = malloc(L * ld * sizeof *k), *v = malloc(L * ld * sizeof *v);
        float *o = malloc(L * ld * sizeof *o), *sc = malloc(ds__attention_scratch(L, d) * sizeof *sc);
        for (size_t i = 0; i < L * ld; i++) { q[i] = frand(&seed); k[i] = frand(&seed); v[i] = frand(&seed); }
        double best = 1e9;
        for (int r = 0; r < reps; r++) {
            double t0 = cpu_now();
            for (int rep = 0; rep < 8; rep++)
                for (size_t h = 0; h < heads; h++) mk->attention(q + h * d, k + h * d, v + h * d, L, d, ld, 0.17f, o + h * d, sc);
            double t = (cpu_now() - t0) / 8;
            best = t < best ? t : best;
        }
        printf("{\"attention_L\":%zu,\"d\":%zu,\"heads\":%zu,\"gmac_s\":%.2f,\"us_per_head\":%.1f,\"kernels\":\"%s\"}\n", L, d,
               heads, 2.0 * (double)(L * L * d * heads) * 1e-9 / best, best * 1e6 / (double)heads, mk->name);
        free(q); free(k); free(v); free(o); free(sc);
    }
    return 0;
}
