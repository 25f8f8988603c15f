/* linalg.c -- the little dense linear algebra training needs: a symmetric
** eigendecomposition (LAPACK dsyevd, which Debian's OpenBLAS exports) and a
** randomized truncated SVD of a sparse matrix (Halko, Martinsson & Tropp
** 2011: range finder with power iterations, re-orthonormalised by
** an eigendecomposition of the Gram matrix applied twice, then the
** eigendecomposition of the small B B^T).
**
** Thread: pure functions; the sparse products run on the calling thread.
*/
#include "train/train.h"

#include <cblas.h>
#include <math.h>

/* LAPACK (Fortran calling convention). */
extern void dsyevd_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda, double *w,
                    double *work, const int *lwork, int *iwork, const int *liwork, int *info);

ds_status ds__sym_eig(ds_env *env, double *a, size_t n, double *evals) {
    if (n == 0) return DS_OK;
    if (n > 46340) return ds__fail(DS_ERR_RANGE, "eigendecomposition of %zu x %zu", n, n);
    int N = (int)n, lwork = -1, liwork = -1, info = 0, iw = 0;
    double wq = 0;
    /* symmetric: row-major == column-major, and column j of the result is
    ** row j in our row-major view */
    dsyevd_("V", "U", &N, a, &N, evals, &wq, &lwork, &iw, &liwork, &info);
    if (info != 0) return ds__fail(DS_ERR_INTERNAL, "dsyevd workspace query failed (%d)", info);
    lwork = (int)wq + 1;
    liwork = iw + 1;
    double *work = ds__alloc(env, (size_t)lwork * sizeof *work, 64);
    int *iwork = ds__alloc(env, (size_t)liwork * sizeof *iwork, 64);
    ds_status rc = DS_OK;
    if (work == NULL || iwork == NULL) rc = DS_ERR_NOMEM;
    else {
        dsyevd_("V", "U", &N, a, &N, evals, work, &lwork, iwork, &liwork, &info);
        if (info != 0) rc = ds__fail(DS_ERR_INTERNAL, "dsyevd did not converge (%d)", info);
    }
    ds__free(env, work, (size_t)lwork * sizeof *work);
    ds__free(env, iwork, (size_t)liwork * sizeof *iwork);
    return rc;
}

/* Y (n_rows x l) = A X, X (n_cols x l) */
static void spmm(const ds__csr *A, const float *X, size_t l, float *Y) {
    for (size_t i = 0; i < A->n_rows; i++) {
        float *y = Y + i * l;
        memset(y, 0, l * sizeof *y);
        for (size_t k = A->off[i]; k < A->off[i + 1]; k++) {
            const float *x = X + (size_t)A->col[k] * l;
            float v = A->val[k];
            for (size_t j = 0; j < l; j++) y[j] += v * x[j];
        }
    }
}

/* X (n_cols x l) = A^T Y, Y (n_rows x l) */
static void spmm_t(const ds__csr *A, const float *Y, size_t l, float *X) {
    memset(X, 0, A->n_cols * l * sizeof *X);
    for (size_t i = 0; i < A->n_rows; i++) {
        const float *y = Y + i * l;
        for (size_t k = A->off[i]; k < A->off[i + 1]; k++) {
            float *x = X + (size_t)A->col[k] * l;
            float v = A->val[k];
            for (size_t j = 0; j < l; j++) x[j] += v * y[j];
        }
    }
}

/* Orthonormalises the l columns of Y (n x l, row-major) in place: with the
** Gram matrix G = Y^T Y = W L W^T, Y W L^-1/2 has orthonormal columns. Done
** twice (as CholeskyQR2 is), since one pass loses accuracy with the
** condition number; everything heavy is a GEMM. Directions with a
** vanishing eigenvalue become zero columns. */
static ds_status orthonormalize(ds_env *env, float *Y, size_t n, size_t l) {
    float *G = ds__alloc(env, l * l * sizeof *G, 64), *T = ds__alloc(env, n * l * sizeof *T, 64);
    double *Gd = ds__alloc(env, l * l * sizeof *Gd, 64), *ev = ds__alloc(env, l * sizeof *ev, 64);
    ds_status rc = DS_OK;
    if (!G || !T || !Gd || !ev) { rc = DS_ERR_NOMEM; goto done; }
    for (int pass = 0; pass < 2; pass++) {
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)l, (int)l, (int)n, 1.0f, Y, (int)l, Y, (int)l, 0.0f,
                    G, (int)l);
        for (size_t i = 0; i < l * l; i++) Gd[i] = G[i];
        if ((rc = ds__sym_eig(env, Gd, l, ev)) != DS_OK) goto done;
        double top = ev[l - 1] > 0 ? ev[l - 1] : 0;
        /* G <- W L^-1/2 (l x l, row-major: G[i][j] = W_i(j) / sqrt(ev_j)) */
        for (size_t j = 0; j < l; j++) {
            double s = ev[j] > 1e-10 * top && ev[j] > 0 ? 1.0 / sqrt(ev[j]) : 0.0;
            for (size_t i = 0; i < l; i++) G[i * l + j] = (float)(Gd[j * l + i] * s);
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)l, (int)l, 1.0f, Y, (int)l, G, (int)l, 0.0f,
                    T, (int)l);
        memcpy(Y, T, n * l * sizeof *Y);
    }
done:
    ds__free(env, G, l * l * sizeof *G);
    ds__free(env, T, n * l * sizeof *T);
    ds__free(env, Gd, l * l * sizeof *Gd);
    ds__free(env, ev, l * sizeof *ev);
    return rc;
}

ds_status ds__rsvd(ds_env *env, const ds__csr *A, size_t k, unsigned n_iter, ds__xrng *rng, float *V, float *sv) {
    size_t n = A->n_rows, m = A->n_cols;
    size_t l = DS_MIN(k + 16, DS_MIN(n, m));
    if (k > l) return ds__fail(DS_ERR_INVALID, "rank %zu exceeds min(%zu rows, %zu columns)", k, n, m);
    ds_status rc = DS_OK;
    float *Om = ds__alloc(env, m * l * sizeof(float), 64);   /* m x l, later A^T Q */
    float *Y = ds__alloc(env, n * l * sizeof(float), 64);    /* n x l */
    double *BB = ds__alloc(env, l * l * sizeof(double), 64), *ev = ds__alloc(env, l * sizeof(double), 64);
    float *Bt = NULL, *U = NULL;
    if (!Om || !Y || !BB || !ev) { rc = DS_ERR_NOMEM; goto done; }
    for (size_t i = 0; i < m * l; i++) Om[i] = ds__xrng_normal(rng);
    spmm(A, Om, l, Y);
    if ((rc = orthonormalize(env, Y, n, l)) != DS_OK) goto done;
    for (unsigned it = 0; it < n_iter; it++) {
        spmm_t(A, Y, l, Om);
        if ((rc = orthonormalize(env, Om, m, l)) != DS_OK) goto done;
        spmm(A, Om, l, Y);
        if ((rc = orthonormalize(env, Y, n, l)) != DS_OK) goto done;
    }
    /* B^T = A^T Q (m x l); B B^T = (B^T)^T B^T (l x l) */
    spmm_t(A, Y, l, Om);
    Bt = Om;
    if ((U = ds__alloc(env, l * k * sizeof *U, 64)) == NULL) { rc = DS_ERR_NOMEM; goto done; }
    {
        float *Gf = ds__alloc(env, l * l * sizeof *Gf, 64);
        if (Gf == NULL) { rc = DS_ERR_NOMEM; goto done; }
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)l, (int)l, (int)m, 1.0f, Bt, (int)l, Bt, (int)l, 0.0f,
                    Gf, (int)l);
        for (size_t i = 0; i < l * l; i++) BB[i] = Gf[i];
        ds__free(env, Gf, l * l * sizeof *Gf);
    }
    if ((rc = ds__sym_eig(env, BB, l, ev)) != DS_OK) goto done;
    /* B = U S V^T  =>  V = B^T U S^-1; the largest eigenvalues come last */
    for (size_t c = 0; c < k; c++) {
        size_t e = l - 1 - c;
        double s = ev[e] > 0 ? sqrt(ev[e]) : 0;
        sv[c] = (float)s;
        for (size_t a = 0; a < l; a++) U[a * k + c] = s > 1e-12 ? (float)(BB[e * l + a] / s) : 0.0f;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m, (int)k, (int)l, 1.0f, Bt, (int)l, U, (int)k, 0.0f, V,
                (int)k);
done:
    ds__free(env, U, l * k * sizeof *U);
    ds__free(env, Om, m * l * sizeof(float));
    ds__free(env, Y, n * l * sizeof(float));
    ds__free(env, BB, l * l * sizeof(double));
    ds__free(env, ev, l * sizeof(double));
    return rc;
}
