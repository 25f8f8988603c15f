/* train.h -- internals of the training module (src/train/).
**
** src/train sits above src/model: it reads corpora (lexical), runs teachers
** (model's transformer encoder) and writes model directories that
** src/model/student.c runs. Pieces:
**   train.c    ds_train: corpus -> units -> feature vocabulary -> one of the
**              recipes below -> model directory (docs/format.md §4)
**   lexnet.c   the lexdense network's forward and backward pass over a batch,
**              AdamW with a warmup-stable-decay schedule, and the two losses
**              (InfoNCE over pairs, KL between in-batch similarity matrices)
**   linalg.c   symmetric eigendecomposition (LAPACK dsyevd from OpenBLAS),
**              randomized truncated SVD of a sparse matrix (LSA), PCA
**   writer.c   safetensors writer and the atomic directory swap
**
** Determinism: every random choice comes from one xoshiro stream seeded by
** ds_train_opts.seed; work split across threads is per example and written
** to per-example slots, and every reduction (gradients, counts) runs on one
** thread in a fixed order, so the model is byte-identical for a fixed seed
** whatever the thread count.
*/
#ifndef DS_TRAIN_H
#define DS_TRAIN_H

#include "ds_internal.h"
#include "model/student.h"

/* ------------------------------------------------------------------------ */
/* Random numbers (xoshiro256**, seeded through splitmix64)                    */
/* ------------------------------------------------------------------------ */
typedef struct ds__xrng { uint64_t s[4]; } ds__xrng;
void     ds__xrng_seed(ds__xrng *r, uint64_t seed);
uint64_t ds__xrng_next(ds__xrng *r);
double   ds__xrng_unit(ds__xrng *r);                 /* [0, 1) */
uint64_t ds__xrng_below(ds__xrng *r, uint64_t n);    /* [0, n), n > 0 */
float    ds__xrng_normal(ds__xrng *r);

/* ------------------------------------------------------------------------ */
/* lexnet: trainable lexdense network                                         */
/* ------------------------------------------------------------------------ */
/* One example of a batch: feature rows (repeats = term frequency). */
typedef struct ds__lex_example {
    const uint32_t *rows;
    size_t          n;
} ds__lex_example;

typedef struct ds__lexnet_train {
    ds_env  *env;
    size_t   n_layers;
    size_t   widths[DS__STUDENT_MAX_LAYERS + 1];
    float   *w[DS__STUDENT_MAX_LAYERS], *g[DS__STUDENT_MAX_LAYERS];
    float   *m[DS__STUDENT_MAX_LAYERS], *v[DS__STUDENT_MAX_LAYERS];
    float   *idf;                 /* widths[0], owned */
    /* rows of layer 0 with a gradient in this step (lazy AdamW on them) */
    uint8_t  *touched;
    uint32_t *touched_list;
    size_t    n_touched;
    uint64_t  step;
    /* activations of the last forward pass: a[l] is M x widths[l+1], nrm[l] M */
    float   *a[DS__STUDENT_MAX_LAYERS], *nrm[DS__STUDENT_MAX_LAYERS];
    size_t   cap_m;               /* rows a[] can hold */
    unsigned n_threads;
} ds__lexnet_train;

/* Allocates a network with random (scaled normal) weights. */
ds_status ds__lexnet_init(ds_env *env, ds__lexnet_train *n, size_t n_layers, const size_t *widths,
                          const float *idf, ds__xrng *rng, unsigned n_threads);
void      ds__lexnet_release(ds__lexnet_train *n);
/* Forward pass of M examples; out (M x dim) aliases the last activations
** (valid until the next call). */
ds_status ds__lexnet_forward(ds__lexnet_train *n, const ds__lex_example *ex, size_t M, const float **out);
/* Backward pass from dout (M x dim) for the examples of the last forward
** pass: accumulates into the gradients (zeroed by ds__lexnet_zero_grad). */
void      ds__lexnet_backward(ds__lexnet_train *n, const ds__lex_example *ex, size_t M, const float *dout);
void      ds__lexnet_zero_grad(ds__lexnet_train *n);
/* AdamW step with learning rate lr (beta 0.9/0.999, decoupled weight decay
** wd); layer 0 only on its touched rows. */
void      ds__lexnet_adamw(ds__lexnet_train *n, float lr, float wd);

/* Losses: return the loss and write d loss / d E (same shape as E). */
/* InfoNCE, symmetric, over B pairs: q = E[0..B), p = E[B..2B), temperature tau. */
double ds__loss_infonce(const float *E, size_t B, size_t d, float tau, float *dE, float *scratch);
/* tau^2 * mean_i KL(P_i || Q_i), P = softmax(T T^T / tau), Q = softmax(E E^T / tau),
** diagonals removed. scratch: 3 * B * B floats. */
double ds__loss_kl_sim(const float *E, size_t d, const float *T, size_t dt, size_t B, float tau, float *dE,
                       float *scratch);

/* Warmup-stable-decay learning rate: linear warmup over the first 5% of
** steps, constant to 80%, linear decay to 1% of lr at the end. */
float ds__wsd_lr(float lr, uint64_t step, uint64_t total);

/* ------------------------------------------------------------------------ */
/* linalg                                                                     */
/* ------------------------------------------------------------------------ */
/* Eigen-decomposition of the symmetric n x n matrix a (row-major, double):
** on return evals ascending and row j of a is the eigenvector of evals[j]. */
ds_status ds__sym_eig(ds_env *env, double *a, size_t n, double *evals);

/* A sparse matrix in CSR form: n_rows rows over n_cols columns. */
typedef struct ds__csr {
    size_t          n_rows, n_cols;
    const size_t   *off;     /* n_rows + 1 */
    const uint32_t *col;
    const float    *val;
} ds__csr;
/* Top-k right singular vectors of A (randomized range finder with power
** iterations): writes V (n_cols x k, row-major) and the k singular values
** (descending). */
ds_status ds__rsvd(ds_env *env, const ds__csr *A, size_t k, unsigned n_iter, ds__xrng *rng, float *V, float *sv);

/* ------------------------------------------------------------------------ */
/* writer                                                                     */
/* ------------------------------------------------------------------------ */
typedef struct ds__st_out {
    const char   *name;
    int           dtype;       /* DS_ST_F32 or DS_ST_U64 */
    size_t        d0, d1;      /* d1 == 0: one dimension */
    const void   *data;
} ds__st_out;
/* Writes a safetensors file (tensors in the given order, little-endian). */
ds_status ds__st_write(const char *path, const ds__st_out *t, size_t n);
/* Writes whole bytes to path and fsyncs. */
ds_status ds__write_file(const char *path, const void *p, size_t n);
/* Copies a small file (tokenizer files); DS_ERR_NOTFOUND if src is absent. */
ds_status ds__copy_file(ds_env *env, const char *src, const char *dst);
/* Replaces directory out_dir by the finished temporary directory tmp_dir:
** out_dir must be absent, empty, or a densearch model directory. */
ds_status ds__dir_swap(const char *tmp_dir, const char *out_dir);
/* Removes a temporary directory and the files in it (not recursive). */
void      ds__dir_remove(const char *dir);

#endif /* DS_TRAIN_H */
