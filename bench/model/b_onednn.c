/* b_onednn.c -- oneDNN's matmul primitive (Debian libdnnl-dev 2.6, its
** JIT kernels chosen for this CPU) against densearch's packed linear
** kernels on the encoder's linear shapes (all-MiniLM-L6-v2: K, n in
** {384, 1536}; M token rows), float32 and bf16, 1 or 2 threads. A bench,
** not a dependency: it answers issue 15's "measure the field's JIT
** libraries before writing more kernels by hand" (numbers and the
** decision in docs/benchmarks.md).
**
** Both sides get their weights packed once, outside the timing (oneDNN:
** weights memory descriptor "any", reordered to the primitive's layout;
** densearch: ds__pack_init), and bias in the product. bf16: activations
** are converted to bf16 outside the timing on both sides, the output is
** f32. Time is the process's CPU time (on a shared host, wall time mostly
** measures the other jobs), best of REPS, plus the median over the REPS of
** the per-call ratio oneDNN time / densearch time, which pairs calls made
** milliseconds apart. 2 threads: oneDNN's OpenMP team (OMP_NUM_THREADS),
** densearch two pthreads each taking half of the rows, as the forward
** pass's rows mode; CPU time then adds both threads' work.
**
**   cc -O2 -Iinclude -Isrc bench/model/b_onednn.c build/libdensearch.a -ldnnl -lopenblas ... -o b_onednn
**   OMP_NUM_THREADS=T b_onednn [M] [REPS] [T]
*/
#include "model/gemm.h"

#include <dnnl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CHECK(x)                                                                       \
    do {                                                                               \
        dnnl_status_t st_ = (x);                                                       \
        if (st_ != dnnl_success) {                                                     \
            fprintf(stderr, "%s:%d: %s: dnnl status %d\n", __FILE__, __LINE__, #x, st_); \
            exit(1);                                                                   \
        }                                                                              \
    } while (0)

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static float frand(unsigned *s) {
    *s = *s * 1103515245u + 12345u;
    return (float)((*s >> 8) & 0xffff) / 32768.0f - 1.0f;
}

typedef struct dn {
    dnnl_primitive_t prim;
    dnnl_memory_t src, w, b, dst;
    const char *impl;
} dn;

/* A matmul y[M, n] = x[M, K] W^T + b with W given as [n, K] row-major
** (PyTorch's layout), weights reordered to the primitive's choice. */
static void dn_make(dnnl_engine_t eng, dnnl_stream_t st, size_t M, size_t K, size_t n, int bf16, void *x,
                    const float *W, const float *b, float *y, dn *d) {
    dnnl_data_type_t in = bf16 ? dnnl_bf16 : dnnl_f32;
    dnnl_memory_desc_t src_md, w_md, wu_md, b_md, dst_md;
    dnnl_dims_t sd = { (dnnl_dim_t)M, (dnnl_dim_t)K }, wd = { (dnnl_dim_t)K, (dnnl_dim_t)n },
                bd = { 1, (dnnl_dim_t)n }, dd = { (dnnl_dim_t)M, (dnnl_dim_t)n };
    CHECK(dnnl_memory_desc_init_by_tag(&src_md, 2, sd, in, dnnl_ab));
    CHECK(dnnl_memory_desc_init_by_tag(&w_md, 2, wd, in, dnnl_format_tag_any));
    CHECK(dnnl_memory_desc_init_by_tag(&wu_md, 2, wd, dnnl_f32, dnnl_ba));   /* [n, K] row-major */
    CHECK(dnnl_memory_desc_init_by_tag(&b_md, 2, bd, dnnl_f32, dnnl_ab));
    CHECK(dnnl_memory_desc_init_by_tag(&dst_md, 2, dd, dnnl_f32, dnnl_ab));
    dnnl_matmul_desc_t md;
    CHECK(dnnl_matmul_desc_init(&md, &src_md, &w_md, &b_md, &dst_md));
    dnnl_primitive_desc_t pd;
    CHECK(dnnl_primitive_desc_create(&pd, &md, NULL, eng, NULL));
    const char *impl = NULL;
    CHECK(dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl));
    d->impl = impl;
    const dnnl_memory_desc_t *wq = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    dnnl_memory_t wu;
    CHECK(dnnl_memory_create(&wu, &wu_md, eng, (void *)W));
    CHECK(dnnl_memory_create(&d->w, wq, eng, DNNL_MEMORY_ALLOCATE));
    dnnl_primitive_desc_t rpd;
    CHECK(dnnl_reorder_primitive_desc_create(&rpd, &wu_md, eng, wq, eng, NULL));
    dnnl_primitive_t r;
    CHECK(dnnl_primitive_create(&r, rpd));
    dnnl_exec_arg_t ra[2] = { { DNNL_ARG_FROM, wu }, { DNNL_ARG_TO, d->w } };
    CHECK(dnnl_primitive_execute(r, st, 2, ra));
    CHECK(dnnl_stream_wait(st));
    dnnl_primitive_destroy(r);
    dnnl_primitive_desc_destroy(rpd);
    dnnl_memory_destroy(wu);
    CHECK(dnnl_memory_create(&d->src, &src_md, eng, x));
    CHECK(dnnl_memory_create(&d->b, &b_md, eng, (void *)b));
    CHECK(dnnl_memory_create(&d->dst, &dst_md, eng, y));
    CHECK(dnnl_primitive_create(&d->prim, pd));
    /* impl points into pd: keep pd alive (leaked; one per shape) */
}

static void dn_run(dnnl_stream_t st, dn *d) {
    dnnl_exec_arg_t a[4] = { { DNNL_ARG_SRC, d->src }, { DNNL_ARG_WEIGHTS, d->w }, { DNNL_ARG_BIAS, d->b },
                             { DNNL_ARG_DST, d->dst } };
    CHECK(dnnl_primitive_execute(d->prim, st, 4, a));
    CHECK(dnnl_stream_wait(st));
}

typedef struct ours {
    const ds__gemm_kernels *g;
    const ds__pack *P;
    const float *x;
    const uint16_t *xh;
    size_t r0, r1, K, n;
    float *y;
} ours;

static void *ours_run(void *p) {
    ours *o = p;
    size_t m = o->r1 - o->r0;
    if (o->xh) o->g->bf16(o->xh + o->r0 * o->P->Kh, m, o->P, 0, o->P->panels, DS_GEMM_ACT_NONE, o->y + o->r0 * o->n);
    else o->g->f32(o->x + o->r0 * o->K, m, o->P, 0, o->P->panels, DS_GEMM_ACT_NONE, o->y + o->r0 * o->n);
    return NULL;
}

static void ours_call(const ds__gemm_kernels *g, const ds__pack *P, const float *x, const uint16_t *xh, size_t M,
                      size_t K, size_t n, float *y, int threads) {
    ours o[2];
    for (int t = 0; t < threads; t++)
        o[t] = (ours){ g, P, x, xh, M * (size_t)t / (size_t)threads, M * (size_t)(t + 1) / (size_t)threads, K, n, y };
    if (threads == 1) {
        ours_run(&o[0]);
        return;
    }
    pthread_t th;
    pthread_create(&th, NULL, ours_run, &o[1]);
    ours_run(&o[0]);
    pthread_join(th, NULL);
}

int main(int argc, char **argv) {
    size_t M = argc > 1 ? (size_t)atol(argv[1]) : 4096;
    int reps = argc > 2 ? atoi(argv[2]) : 10, threads = argc > 3 ? atoi(argv[3]) : 1;
    if (threads < 1 || threads > 2) threads = 1;
    const ds__gemm_kernels *g = ds__gemm_kernels_avx512();
    if (g == NULL) g = ds__gemm_kernels_avx2();
    if (g == NULL) g = ds__gemm_kernels_scalar();
    dnnl_engine_t eng;
    dnnl_stream_t st;
    CHECK(dnnl_engine_create(&eng, dnnl_cpu, 0));
    CHECK(dnnl_stream_create(&st, eng, dnnl_stream_default_flags));
    size_t shapes[][2] = { { 384, 384 }, { 384, 1536 }, { 1536, 384 } };   /* K, n */
    unsigned seed = 1;
    for (size_t s = 0; s < 3; s++) {
        size_t K = shapes[s][0], n = shapes[s][1];
        float *x = malloc(M * K * sizeof *x), *W = malloc(n * K * sizeof *W), *b = malloc(n * sizeof *b);
        float *y1 = malloc(M * n * sizeof *y1), *y2 = malloc(M * n * sizeof *y2);
        for (size_t i = 0; i < M * K; i++) x[i] = frand(&seed);
        for (size_t i = 0; i < n * K; i++) W[i] = frand(&seed) * 0.1f;
        for (size_t i = 0; i < n; i++) b[i] = frand(&seed);
        uint16_t *xh = malloc(M * K * sizeof *xh);   /* K is even here: Kh == K */
        g->to_bf16(x, M, K, K, xh);
        for (int bf = 0; bf <= 1; bf++) {
            dn d;
            dn_make(eng, st, M, K, n, bf, bf ? (void *)xh : (void *)x, W, b, y1, &d);
            void *mem = aligned_alloc(64, ds__pack_bytes(n, K, bf ? DS_PACK_BF16 : DS_PACK_F32));
            ds__pack P;
            ds__pack_init(&P, mem, W, b, n, K, bf ? DS_PACK_BF16 : DS_PACK_F32);
            double best_dn = 1e9, best_own = 1e9, *ratio = malloc((size_t)reps * sizeof *ratio);
            dn_run(st, &d);                                    /* JIT and first touch */
            ours_call(g, &P, x, bf ? xh : NULL, M, K, n, y2, threads);
            for (int r = 0; r < reps; r++) {
                double t0 = now();
                dn_run(st, &d);
                double t1 = now();
                ours_call(g, &P, x, bf ? xh : NULL, M, K, n, y2, threads);
                double t2 = now();
                best_dn = t1 - t0 < best_dn ? t1 - t0 : best_dn;
                best_own = t2 - t1 < best_own ? t2 - t1 : best_own;
                ratio[r] = (t1 - t0) / (t2 - t1);
            }
            qsort(ratio, (size_t)reps, sizeof *ratio, cmp_double);
            double maxd = 0;
            for (size_t i = 0; i < M * n; i++) {
                double e = y1[i] > y2[i] ? y1[i] - y2[i] : y2[i] - y1[i];
                maxd = e > maxd ? e : maxd;
            }
            double gmac = (double)M * (double)K * (double)n * 1e-9;
            printf("{\"M\":%zu,\"K\":%zu,\"n\":%zu,\"type\":\"%s\",\"threads\":%d,\"onednn_gmac_s\":%.2f,"
                   "\"densearch_gmac_s\":%.2f,\"densearch_over_onednn_median\":%.3f,\"max_abs_diff\":%.2g,"
                   "\"onednn_impl\":\"%s\",\"densearch_kernel\":\"%s\"}\n",
                   M, K, n, bf ? "bf16" : "f32", threads, gmac / best_dn, gmac / best_own, ratio[reps / 2], maxd,
                   d.impl, bf ? g->bf16_name : g->name);
            dnnl_primitive_destroy(d.prim);
            dnnl_memory_destroy(d.src); dnnl_memory_destroy(d.w); dnnl_memory_destroy(d.b); dnnl_memory_destroy(d.dst);
            free(mem);
            free(ratio);
        }
        free(x); free(W); free(b); free(y1); free(y2); free(xh);
    }
    dnnl_stream_destroy(st);
    dnnl_engine_destroy(eng);
    return 0;
}
