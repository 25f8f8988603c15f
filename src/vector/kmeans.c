/* kmeans.c -- k-means for the IVF coarse quantizer and the PQ codebooks.
**
** Init is k-means++ on a sub-sample (at most 16 points per centroid, which
** keeps its sequential O(n k dim) cost below one Lloyd iteration); Lloyd
** iterations then run on a random training sample of at most max_points rows.
** The assignment step is the expensive one: distances come from a blocked
** matrix product (||x||^2 - 2 x.c + ||c||^2, BLAS sgemm), with blocks of rows
** handed out to threads by ds__parallel_for. Empty clusters are repaired by
** splitting the most populated one in two (symmetric perturbation), as FAISS
** does, so every centroid stays useful.
**
** Deterministic for a seed: sampling and init use our own generator, centroid
** sums are accumulated in one thread in row order (in double).
** Thread: exclusive per call (uses its own worker threads inside).
*/
#include "vector/quant.h"
#include "simd/simd.h"

#include <cblas.h>
#include <math.h>

#define ASSIGN_BLOCK 256

double ds__rng_normal(uint64_t *s) {
    double u1 = ds__rng_unit(s), u2 = ds__rng_unit(s);
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

void ds__sample_rows(uint64_t seed, size_t n, size_t want, size_t *idx) {
    if (want >= n) {
        for (size_t i = 0; i < n; i++) idx[i] = i;
        return;
    }
    /* Selection sampling (Knuth's algorithm S): sorted, one pass, no extra memory. */
    uint64_t s = ds__rng_seed(seed);
    size_t chosen = 0;
    for (size_t i = 0; i < n && chosen < want; i++) {
        if ((double)(n - i) * ds__rng_unit(&s) < (double)(want - chosen)) idx[chosen++] = i;
    }
}

/* ------------------------------------------------------------------------ */
/* assignment                                                               */
/* ------------------------------------------------------------------------ */
typedef struct assign_ctx {
    const float *c, *cn, *x;
    size_t k, dim;
    float *bufs;             /* n_threads x ASSIGN_BLOCK x k */
    uint32_t *assign;
    float *dist;
    ds__argmin_fn argmin;
    const float *ct;         /* small-dim path: centroids transposed (dim x k), else NULL */
    ds__nearest_fn nearest;
} assign_ctx;

/* Small dimensions (PQ sub-quantizers, dsub <= 16): a product with K = dsub
** costs BLAS as much in setup and in zeroing the output as in arithmetic, so
** the nearest centroid is found directly, 8 or 16 centroids per register. */
static void assign_range_small(void *vctx, size_t begin, size_t end, unsigned thread) {
    assign_ctx *a = vctx;
    (void)thread;
    for (size_t i = begin; i < end; i++) {
        const float *v = a->x + i * a->dim;
        uint32_t c = a->nearest(v, a->ct, a->dim, a->k);
        a->assign[i] = c;
        if (a->dist) {
            float d = 0;
            for (size_t j = 0; j < a->dim; j++) {
                float e = v[j] - a->c[(size_t)c * a->dim + j];
                d += e * e;
            }
            a->dist[i] = d;
        }
    }
}

static void assign_range(void *vctx, size_t begin, size_t end, unsigned thread) {
    assign_ctx *a = vctx;
    float *buf = a->bufs + (size_t)thread * ASSIGN_BLOCK * a->k;
    for (size_t b = begin; b < end; b += ASSIGN_BLOCK) {
        size_t rows = DS_MIN((size_t)ASSIGN_BLOCK, end - b);
        const float *xb = a->x + b * a->dim;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, (int)a->k, (int)a->dim, 1.0f,
                    xb, (int)a->dim, a->c, (int)a->dim, 0.0f, buf, (int)a->k);
        for (size_t r = 0; r < rows; r++) {
            float best;
            a->assign[b + r] = a->argmin(a->cn, buf + r * a->k, a->k, &best);
            if (a->dist) {
                const float *v = xb + r * a->dim;
                float xn = 0;
                for (size_t j = 0; j < a->dim; j++) xn += v[j] * v[j];
                float d = xn + best;
                a->dist[b + r] = d > 0 ? d : 0;
            }
        }
    }
}

ds_status ds__kmeans_assign(ds_env *env, const float *centroids, size_t k, size_t dim,
                            const float *x, size_t n, unsigned n_threads,
                            uint32_t *assign, float *dist) {
    env = DS_ENV(env);
    if (n == 0) return DS_OK;
    if (k == 0 || k > INT32_MAX || dim > INT32_MAX) return ds__fail(DS_ERR_INVALID, "k-means: bad sizes");
    if (n_threads == 0) n_threads = 1;
    unsigned level = env->kernels ? env->kernels->level : 0;
    if (dim <= 16 && k % 16 == 0) {
        size_t ct_bytes = k * dim * sizeof(float);
        float *ct = ds__alloc(env, ct_bytes, 64);
        if (ct == NULL) return ds__fail(DS_ERR_NOMEM, "out of memory for k-means assignment");
        for (size_t c = 0; c < k; c++)
            for (size_t j = 0; j < dim; j++) ct[j * k + c] = centroids[c * dim + j];
        assign_ctx a = { centroids, NULL, x, k, dim, NULL, assign, dist, NULL, ct, ds__nearest_best(level) };
        ds__parallel_for(env, n_threads, n, 4096, assign_range_small, &a);
        ds__free(env, ct, ct_bytes);
        return DS_OK;
    }
    size_t blocks = (n + ASSIGN_BLOCK - 1) / ASSIGN_BLOCK;
    if (n_threads > blocks) n_threads = (unsigned)blocks;
    size_t buf_bytes;
    if (!ds__mul_ok((size_t)n_threads * ASSIGN_BLOCK, k, &buf_bytes) || !ds__mul_ok(buf_bytes, sizeof(float), &buf_bytes))
        return ds__fail(DS_ERR_RANGE, "k-means: too many centroids");
    float *cn = ds__alloc(env, k * sizeof(float), 64);
    float *bufs = ds__alloc(env, buf_bytes, 64);
    if (cn == NULL || bufs == NULL) {
        ds__free(env, cn, k * sizeof(float));
        ds__free(env, bufs, buf_bytes);
        return ds__fail(DS_ERR_NOMEM, "out of memory for k-means assignment");
    }
    for (size_t c = 0; c < k; c++) {
        float s = 0;
        for (size_t j = 0; j < dim; j++) s += centroids[c * dim + j] * centroids[c * dim + j];
        cn[c] = s;
    }
    assign_ctx a = { centroids, cn, x, k, dim, bufs, assign, dist, ds__argmin_best(level), NULL, NULL };
    /* Chunks are whole blocks so each sgemm call sees a full block. */
    ds__parallel_for(env, n_threads, n, ASSIGN_BLOCK * 4, assign_range, &a);
    ds__free(env, cn, k * sizeof(float));
    ds__free(env, bufs, buf_bytes);
    return DS_OK;
}

/* ------------------------------------------------------------------------ */
/* k-means                                                                  */
/* ------------------------------------------------------------------------ */
/* k-means++ seeding over xs (ns rows): each next centroid is drawn with
** probability proportional to its squared distance to the nearest chosen one. */
static ds_status kmeanspp(ds_env *env, const float *xs, size_t ns, size_t dim, size_t k, uint64_t *rng, float *cent) {
    float (*l2sq)(const float *, const float *, size_t) = env->kernels->l2sq_f32;
    double *d2 = ds__alloc(env, ns * sizeof(double), 64);
    if (d2 == NULL) return ds__fail(DS_ERR_NOMEM, "out of memory for k-means++");
    size_t first = ds__rng_below(rng, ns);
    memcpy(cent, xs + first * dim, dim * sizeof(float));
    double total = 0;
    for (size_t i = 0; i < ns; i++) total += (d2[i] = l2sq(xs + i * dim, cent, dim));
    for (size_t c = 1; c < k; c++) {
        size_t pick = 0;
        if (total > 0) {
            double r = ds__rng_unit(rng) * total, acc = 0;
            pick = ns - 1;
            for (size_t i = 0; i < ns; i++) {
                acc += d2[i];
                if (acc > r && d2[i] > 0) { pick = i; break; }
            }
        } else {
            pick = ds__rng_below(rng, ns);       /* all points coincide: duplicates are repaired later */
        }
        float *cc = cent + c * dim;
        memcpy(cc, xs + pick * dim, dim * sizeof(float));
        total = 0;
        for (size_t i = 0; i < ns; i++) {
            double d = l2sq(xs + i * dim, cc, dim);
            if (d < d2[i]) d2[i] = d;
            total += d2[i];
        }
    }
    ds__free(env, d2, ns * sizeof(double));
    return DS_OK;
}

ds_status ds__kmeans(ds_env *env, const float *x, size_t n, size_t dim, size_t k,
                     const ds__kmeans_opts *o, float *centroids) {
    env = DS_ENV(env);
    if (k == 0 || dim == 0) return ds__fail(DS_ERR_INVALID, "k-means: k and dim must be positive");
    if (n < k) return ds__fail(DS_ERR_INVALID, "k-means: %zu training vectors for %zu centroids (need at least as many)", n, k);
    unsigned n_iter = o && o->n_iter ? o->n_iter : 20;
    unsigned n_threads = o && o->n_threads ? o->n_threads : 1;
    uint64_t seed = o ? o->seed : 0;
    size_t max_points = o && o->max_points ? o->max_points : 256 * k;
    if (max_points < k) max_points = k;

    ds_status rc = DS_OK;
    size_t ns = DS_MIN(n, max_points), npp = DS_MIN(ns, 16 * k);
    size_t *idx = NULL;
    float *xs_own = NULL, *xpp = NULL;
    uint32_t *asg = NULL, *cnt = NULL;
    double *sums = NULL;
    const float *xs = x;
    size_t row = dim * sizeof(float), xs_bytes = 0, xpp_bytes = 0, sum_bytes = 0;
    uint64_t rng = ds__rng_seed(seed ^ 0x6b6d65616e73ULL);

    if (!ds__mul_ok(ns, row, &xs_bytes) || !ds__mul_ok(npp, row, &xpp_bytes) ||
        !ds__mul_ok(k, dim * sizeof(double), &sum_bytes)) {
        rc = ds__fail(DS_ERR_RANGE, "k-means: sizes overflow");
        goto done;
    }
    idx = ds__alloc(env, DS_MAX(ns, npp) * sizeof(size_t), 64);
    asg = ds__alloc(env, ns * sizeof(uint32_t), 64);
    cnt = ds__alloc(env, k * sizeof(uint32_t), 64);
    sums = ds__alloc(env, sum_bytes, 64);
    xpp = ds__alloc(env, xpp_bytes, 64);
    if (idx == NULL || asg == NULL || cnt == NULL || sums == NULL || xpp == NULL) {
        rc = ds__fail(DS_ERR_NOMEM, "out of memory for k-means");
        goto done;
    }
    if (ns < n) {
        xs_own = ds__alloc(env, xs_bytes, 64);
        if (xs_own == NULL) { rc = ds__fail(DS_ERR_NOMEM, "out of memory for the k-means sample"); goto done; }
        ds__sample_rows(ds__rng_next(&rng), n, ns, idx);
        for (size_t i = 0; i < ns; i++) memcpy(xs_own + i * dim, x + idx[i] * dim, row);
        xs = xs_own;
    }
    ds__sample_rows(ds__rng_next(&rng), ns, npp, idx);
    for (size_t i = 0; i < npp; i++) memcpy(xpp + i * dim, xs + idx[i] * dim, row);
    rc = kmeanspp(env, xpp, npp, dim, k, &rng, centroids);
    if (rc != DS_OK) goto done;

    for (unsigned it = 0; it < n_iter; it++) {
        rc = ds__kmeans_assign(env, centroids, k, dim, xs, ns, n_threads, asg, NULL);
        if (rc != DS_OK) goto done;
        memset(sums, 0, sum_bytes);
        memset(cnt, 0, k * sizeof(uint32_t));
        for (size_t i = 0; i < ns; i++) {
            double *s = sums + (size_t)asg[i] * dim;
            const float *v = xs + i * dim;
            for (size_t j = 0; j < dim; j++) s[j] += v[j];
            cnt[asg[i]]++;
        }
        for (size_t c = 0; c < k; c++) {
            if (cnt[c] == 0) continue;
            for (size_t j = 0; j < dim; j++) centroids[c * dim + j] = (float)(sums[c * dim + j] / cnt[c]);
        }
        /* Empty clusters: split the most populated cluster in two. */
        for (size_t c = 0; c < k; c++) {
            if (cnt[c] != 0) continue;
            size_t big = 0;
            for (size_t j = 1; j < k; j++)
                if (cnt[j] > cnt[big]) big = j;
            if (cnt[big] <= 1) break;              /* nothing left to split */
            float *a = centroids + c * dim, *b = centroids + big * dim;
            for (size_t j = 0; j < dim; j++) {
                float eps = (j & 1) ? 1.0f / 1024 : -1.0f / 1024;
                float v = b[j];
                a[j] = v * (1 + eps) + eps * 1e-3f;
                b[j] = v * (1 - eps) - eps * 1e-3f;
            }
            cnt[c] = cnt[big] / 2;
            cnt[big] -= cnt[c];
        }
    }
done:
    ds__free(env, idx, DS_MAX(ns, npp) * sizeof(size_t));
    ds__free(env, asg, ns * sizeof(uint32_t));
    ds__free(env, cnt, k * sizeof(uint32_t));
    ds__free(env, sums, sum_bytes);
    ds__free(env, xpp, xpp_bytes);
    ds__free(env, xs_own, xs_bytes);
    return rc;
}
