/* pq.c -- product quantization, asymmetric distance tables, OPQ, and the
** rotation helpers (orthogonal Procrustes via LAPACK sgesvd) that ITQ shares.
**
** A vector of dim floats is cut into m sub-vectors of dsub = dim / m floats;
** sub-vector j is replaced by the index of the nearest of ksub = 2^nbits
** centroids of codebook j (docs/format.md §3.4 for the code layout). Distances
** from a query to a code are sums of m table lookups (ADC): the query is never
** quantized, only the database.
**
** OPQ (Ge et al. 2013, the non-parametric variant) learns an orthogonal R so
** that PQ on R x loses less: alternate (1) train/encode PQ on R x, (2) the R
** minimising ||R X - decode(codes)||_F, which is the orthogonal Procrustes
** problem solved by an SVD.
**
** LAPACK comes from OpenBLAS (it ships sgesvd_); there is no lapacke.h on
** Debian without liblapacke-dev, so the Fortran entry point is declared here.
** Thread: training is exclusive; encode/decode/tables are read-only.
*/
#include "vector/quant.h"
#include "simd/simd.h"

#include <cblas.h>
#include <math.h>

/* Fortran LAPACK (column-major); the trailing size_t are the hidden lengths of
** the character arguments in the gfortran ABI. */
extern void sgesvd_(const char *jobu, const char *jobvt, const int *m, const int *n, float *a, const int *lda,
                    float *s, float *u, const int *ldu, float *vt, const int *ldvt, float *work,
                    const int *lwork, int *info, size_t len_jobu, size_t len_jobvt);

int ds__all_finite(const float *x, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i])) return 0;
    return 1;
}

ds_status ds__pq_setup(ds__pq *pq, size_t dim, size_t m, size_t nbits) {
    memset(pq, 0, sizeof *pq);
    if (m == 0 || dim == 0 || dim % m != 0)
        return ds__fail(DS_ERR_INVALID, "pq_m = %zu must divide the dimension %zu", m, dim);
    if (nbits != 8 && nbits != 4) return ds__fail(DS_ERR_INVALID, "pq_bits = %zu: only 4 and 8 are supported", nbits);
    pq->dim = dim;
    pq->m = m;
    pq->nbits = nbits;
    pq->ksub = (size_t)1 << nbits;
    pq->dsub = dim / m;
    pq->code_size = nbits == 8 ? m : (m + 1) / 2;
    return DS_OK;
}

static ds_status pq_train_iters(ds_env *env, ds__pq *pq, const float *x, size_t n, uint64_t seed, unsigned n_threads,
                                unsigned n_iter) {
    if (n < pq->ksub) return ds__fail(DS_ERR_INVALID, "PQ training needs at least %zu vectors, got %zu", pq->ksub, n);
    size_t bytes;
    if (!ds__mul_ok(n, pq->dsub * sizeof(float), &bytes)) return ds__fail(DS_ERR_RANGE, "PQ training set too large");
    float *sub = ds__alloc(env, bytes, 64);
    if (sub == NULL) return ds__fail(DS_ERR_NOMEM, "out of memory for PQ training");
    ds_status rc = DS_OK;
    for (size_t j = 0; j < pq->m && rc == DS_OK; j++) {
        for (size_t i = 0; i < n; i++) memcpy(sub + i * pq->dsub, x + i * pq->dim + j * pq->dsub, pq->dsub * sizeof(float));
        ds__kmeans_opts ko = { .n_iter = n_iter, .seed = seed + 1000003u * j, .max_points = 256 * pq->ksub, .n_threads = n_threads };
        rc = ds__kmeans(env, sub, n, pq->dsub, pq->ksub, &ko, pq->cb + j * pq->ksub * pq->dsub);
    }
    ds__free(env, sub, bytes);
    return rc;
}

ds_status ds__pq_train(ds_env *env, ds__pq *pq, const float *x, size_t n, uint64_t seed, unsigned n_threads) {
    return pq_train_iters(env, pq, x, n, seed, n_threads, 20);
}

static unsigned nearest_ref(const float *v, const float *cb, size_t ksub, size_t dsub) {
    float best = INFINITY;
    unsigned bi = 0;
    for (size_t k = 0; k < ksub; k++) {
        const float *c = cb + k * dsub;
        float d = 0;
        for (size_t t = 0; t < dsub; t++) {
            float e = v[t] - c[t];
            d += e * e;
        }
        if (d < best) { best = d; bi = (unsigned)k; }
    }
    return bi;
}

void ds__pq_encode(const ds__pq *pq, const float *x, size_t n, uint8_t *codes) {
    for (size_t i = 0; i < n; i++) {
        uint8_t *c = codes + i * pq->code_size;
        memset(c, 0, pq->code_size);
        for (size_t j = 0; j < pq->m; j++) {
            unsigned k = nearest_ref(x + i * pq->dim + j * pq->dsub, pq->cb + j * pq->ksub * pq->dsub, pq->ksub, pq->dsub);
            if (pq->nbits == 8) c[j] = (uint8_t)k;
            else c[j >> 1] |= (uint8_t)(k << ((j & 1) * 4));
        }
    }
}

void ds__pq_transpose(const ds__pq *pq, float *cbt) {
    for (size_t j = 0; j < pq->m; j++) {
        const float *cb = pq->cb + j * pq->ksub * pq->dsub;
        float *t = cbt + j * pq->ksub * pq->dsub;
        for (size_t k = 0; k < pq->ksub; k++)
            for (size_t d = 0; d < pq->dsub; d++) t[d * pq->ksub + k] = cb[k * pq->dsub + d];
    }
}

void ds__pq_encode_fast(const ds__pq *pq, const float *cbt, ds__nearest_fn nearest, const float *x, size_t n, uint8_t *codes) {
    size_t blk = pq->ksub * pq->dsub;
    for (size_t i = 0; i < n; i++) {
        uint8_t *c = codes + i * pq->code_size;
        memset(c, 0, pq->code_size);
        for (size_t j = 0; j < pq->m; j++) {
            unsigned k = nearest(x + i * pq->dim + j * pq->dsub, cbt + j * blk, pq->dsub, pq->ksub);
            if (pq->nbits == 8) c[j] = (uint8_t)k;
            else c[j >> 1] |= (uint8_t)(k << ((j & 1) * 4));
        }
    }
}

void ds__pq_decode(const ds__pq *pq, const uint8_t *code, float *out) {
    for (size_t j = 0; j < pq->m; j++)
        memcpy(out + j * pq->dsub, pq->cb + (j * pq->ksub + ds__pq_get(pq, code, j)) * pq->dsub, pq->dsub * sizeof(float));
}

void ds__pq_table_ip(const ds__pq *pq, const float *q, float *table) {
    for (size_t j = 0; j < pq->m; j++) {
        const float *qs = q + j * pq->dsub, *cb = pq->cb + j * pq->ksub * pq->dsub;
        for (size_t k = 0; k < pq->ksub; k++) {
            float s = 0;
            for (size_t t = 0; t < pq->dsub; t++) s += qs[t] * cb[k * pq->dsub + t];
            table[j * pq->ksub + k] = s;
        }
    }
}

void ds__pq_table_l2(const ds__pq *pq, const float *q, float *table) {
    for (size_t j = 0; j < pq->m; j++) {
        const float *qs = q + j * pq->dsub, *cb = pq->cb + j * pq->ksub * pq->dsub;
        for (size_t k = 0; k < pq->ksub; k++) {
            float s = 0;
            for (size_t t = 0; t < pq->dsub; t++) {
                float e = qs[t] - cb[k * pq->dsub + t];
                s += e * e;
            }
            table[j * pq->ksub + k] = s;
        }
    }
}

/* ------------------------------------------------------------------------ */
/* rotations                                                                */
/* ------------------------------------------------------------------------ */
void ds__rotate(const float *R, size_t dim, const float *x, size_t n, float *y) {
    if (n == 0) return;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)dim, (int)dim, 1.0f,
                x, (int)dim, R, (int)dim, 0.0f, y, (int)dim);
}

ds_status ds__procrustes(ds_env *env, const float *M, size_t dim, float *Q) {
    if (dim == 0 || dim > 65536) return ds__fail(DS_ERR_INVALID, "procrustes: bad dimension");
    size_t dd = dim * dim * sizeof(float);
    float *a = ds__alloc(env, dd, 64), *u = ds__alloc(env, dd, 64), *vt = ds__alloc(env, dd, 64);
    float *s = ds__alloc(env, dim * sizeof(float), 64), *work = NULL;
    size_t work_bytes = 0;
    ds_status rc = DS_OK;
    if (a == NULL || u == NULL || vt == NULL || s == NULL) { rc = ds__fail(DS_ERR_NOMEM, "out of memory for an SVD"); goto done; }
    /* Row-major M is column-major M^T = Ua S VTa; then M = VTa^T S Ua^T and
    ** Q = U_M V_M^T = (Ua VTa)^T, whose row-major layout is the column-major
    ** product Ua VTa. */
    memcpy(a, M, dd);
    int d = (int)dim, info = 0, lwork = -1;
    float wq = 0;
    sgesvd_("A", "A", &d, &d, a, &d, s, u, &d, vt, &d, &wq, &lwork, &info, 1, 1);
    if (info != 0) { rc = ds__fail(DS_ERR_INTERNAL, "sgesvd workspace query failed (info %d)", info); goto done; }
    lwork = (int)wq + 1;
    work_bytes = (size_t)lwork * sizeof(float);
    work = ds__alloc(env, work_bytes, 64);
    if (work == NULL) { rc = ds__fail(DS_ERR_NOMEM, "out of memory for an SVD"); goto done; }
    sgesvd_("A", "A", &d, &d, a, &d, s, u, &d, vt, &d, work, &lwork, &info, 1, 1);
    if (info != 0) { rc = ds__fail(DS_ERR_INTERNAL, "sgesvd did not converge (info %d)", info); goto done; }
    cblas_sgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, d, d, d, 1.0f, u, d, vt, d, 0.0f, Q, d);
done:
    ds__free(env, a, dd);
    ds__free(env, u, dd);
    ds__free(env, vt, dd);
    ds__free(env, s, dim * sizeof(float));
    ds__free(env, work, work_bytes);
    return rc;
}

ds_status ds__random_rotation(ds_env *env, size_t dim, uint64_t seed, float *R) {
    size_t dd = dim * dim * sizeof(float);
    float *g = ds__alloc(env, dd, 64);
    if (g == NULL) return ds__fail(DS_ERR_NOMEM, "out of memory for a rotation");
    uint64_t s = ds__rng_seed(seed);
    for (size_t i = 0; i < dim * dim; i++) g[i] = (float)ds__rng_normal(&s);
    /* The polar factor of a Gaussian matrix is a uniformly random rotation. */
    ds_status rc = ds__procrustes(env, g, dim, R);
    ds__free(env, g, dd);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* OPQ                                                                      */
/* ------------------------------------------------------------------------ */
ds_status ds__opq_train(ds_env *env, ds__pq *pq, const float *x, size_t n, size_t n_outer,
                        uint64_t seed, unsigned n_threads, float *R) {
    env = DS_ENV(env);
    size_t dim = pq->dim, dd = dim * dim * sizeof(float), xb;
    if (n < pq->ksub) return ds__fail(DS_ERR_INVALID, "OPQ training needs at least %zu vectors, got %zu", pq->ksub, n);
    if (!ds__mul_ok(n, dim * sizeof(float), &xb)) return ds__fail(DS_ERR_RANGE, "OPQ training set too large");
    float *y = ds__alloc(env, xb, 64), *yhat = ds__alloc(env, xb, 64), *M = ds__alloc(env, dd, 64);
    uint8_t *codes = ds__alloc(env, n * pq->code_size, 64);
    size_t cbt_bytes = pq->m * pq->ksub * pq->dsub * sizeof(float);
    float *cbt = ds__alloc(env, cbt_bytes, 64);
    ds__nearest_fn nearest = ds__nearest_best(env->kernels ? env->kernels->level : 0);
    ds_status rc = DS_OK;
    if (y == NULL || yhat == NULL || M == NULL || codes == NULL || cbt == NULL) { rc = ds__fail(DS_ERR_NOMEM, "out of memory for OPQ"); goto done; }
    for (size_t i = 0; i < dim; i++)
        for (size_t j = 0; j < dim; j++) R[i * dim + j] = i == j ? 1.0f : 0.0f;
    for (size_t it = 0; it < n_outer && rc == DS_OK; it++) {
        ds__rotate(R, dim, x, n, y);
        /* Inner codebooks only steer R: a few Lloyd iterations are enough. */
        rc = pq_train_iters(env, pq, y, n, seed + it, n_threads, 6);
        if (rc != DS_OK) break;
        ds__pq_transpose(pq, cbt);
        ds__pq_encode_fast(pq, cbt, nearest, y, n, codes);
        for (size_t i = 0; i < n; i++) ds__pq_decode(pq, codes + i * pq->code_size, yhat + i * dim);
        /* min_R sum ||R x_i - yhat_i||^2 over orthogonal R: maximise
        ** trace(R^T M) with M = Yhat^T X (dim x dim). */
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)dim, (int)dim, (int)n, 1.0f,
                    yhat, (int)dim, x, (int)dim, 0.0f, M, (int)dim);
        rc = ds__procrustes(env, M, dim, R);
    }
    if (rc == DS_OK) {
        ds__rotate(R, dim, x, n, y);
        rc = ds__pq_train(env, pq, y, n, seed + 7777, n_threads);
    }
done:
    ds__free(env, y, xb);
    ds__free(env, yhat, xb);
    ds__free(env, M, dd);
    ds__free(env, codes, n * pq->code_size);
    ds__free(env, cbt, cbt_bytes);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* ITQ                                                                      */
/* ------------------------------------------------------------------------ */
double ds__itq_loss(const float *v, size_t n, size_t dim, const float *R, float *y) {
    ds__rotate(R, dim, v, n, y);
    double loss = 0;
    for (size_t i = 0; i < n * dim; i++) {
        double e = (y[i] > 0 ? 1.0 : -1.0) - y[i];
        loss += e * e;
    }
    return loss;
}

ds_status ds__itq_train(ds_env *env, const float *v, size_t n, size_t dim, unsigned n_iter, uint64_t seed, float *R) {
    size_t vb, dd = dim * dim * sizeof(float);
    if (!ds__mul_ok(n, dim * sizeof(float), &vb)) return ds__fail(DS_ERR_RANGE, "ITQ training set too large");
    float *y = ds__alloc(env, vb, 64), *M = ds__alloc(env, dd, 64), *q = ds__alloc(env, dd, 64);
    ds_status rc = DS_OK;
    if (y == NULL || M == NULL || q == NULL) rc = ds__fail(DS_ERR_NOMEM, "out of memory for ITQ");
    if (rc == DS_OK) rc = ds__random_rotation(env, dim, seed, R);
    for (unsigned it = 0; it < n_iter && rc == DS_OK; it++) {
        ds__rotate(R, dim, v, n, y);                                 /* Y = V R^T */
        for (size_t i = 0; i < n * dim; i++) y[i] = y[i] > 0 ? 1.0f : -1.0f;   /* B */
        /* Q = R^T = polar(V^T B) minimises ||B - V Q||_F. */
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)dim, (int)dim, (int)n, 1.0f,
                    v, (int)dim, y, (int)dim, 0.0f, M, (int)dim);
        rc = ds__procrustes(env, M, dim, q);
        for (size_t i = 0; rc == DS_OK && i < dim; i++)
            for (size_t j = 0; j < dim; j++) R[i * dim + j] = q[j * dim + i];
    }
    ds__free(env, y, vb);
    ds__free(env, M, dd);
    ds__free(env, q, dd);
    return rc;
}
