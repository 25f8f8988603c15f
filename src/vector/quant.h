/* quant.h -- internal quantization building blocks shared by ivfpq.c and
** binary.c: k-means (kmeans.c), product quantization and OPQ (pq.c),
** orthogonal Procrustes / SVD helpers, and the ADC and Hamming kernels
** (src/simd/k_pqadc.c, src/simd/k_hamming.c).
**
** Everything here is deterministic for a given seed and thread count.
** Thread: training functions are exclusive; the encode/decode/table functions
** and the kernels only read their inputs and may run from many threads.
*/
#ifndef DS_VECTOR_QUANT_H
#define DS_VECTOR_QUANT_H

#include "ds_internal.h"
#include "simd/k_quant.h"
#include "core/container.h"

/* ---- k-means (kmeans.c) ------------------------------------------------ */
typedef struct ds__kmeans_opts {
    unsigned n_iter;            /* Lloyd iterations (default 20) */
    uint64_t seed;
    size_t   max_points;        /* train on a random sample of at most this many points; 0: 256 * k */
    unsigned n_threads;         /* 0: 1 */
} ds__kmeans_opts;

/* Clusters n points (row-major n x dim) into k centroids (k x dim, out) by
** L2: k-means++ init on a sample, Lloyd iterations, empty clusters repaired by
** splitting the largest. Errors: DS_ERR_INVALID when n < k or k == 0,
** DS_ERR_NOMEM. */
ds_status ds__kmeans(ds_env *env, const float *x, size_t n, size_t dim, size_t k,
                     const ds__kmeans_opts *o, float *centroids);

/* Nearest centroid (L2) of each of n points: assign[i] in 0..k-1, and the
** squared distance in dist[i] when dist is not NULL. Blocked products via
** BLAS, rows split over n_threads. */
ds_status ds__kmeans_assign(ds_env *env, const float *centroids, size_t k, size_t dim,
                            const float *x, size_t n, unsigned n_threads,
                            uint32_t *assign, float *dist);

/* A deterministic xorshift64* generator. */
static inline uint64_t ds__rng_next(uint64_t *s) {
    uint64_t x = *s;
    x ^= x >> 12; x ^= x << 25; x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}
static inline uint64_t ds__rng_seed(uint64_t seed) {
    uint64_t s = seed * 0x9E3779B97F4A7C15ULL + 0x632BE59BD9B4E019ULL;
    return s ? s : 1;
}
/* Uniform in [0, n). */
static inline size_t ds__rng_below(uint64_t *s, size_t n) { return (size_t)(ds__rng_next(s) % n); }
/* Uniform in [0, 1). */
static inline double ds__rng_unit(uint64_t *s) { return (double)(ds__rng_next(s) >> 11) / 9007199254740992.0; }
/* Standard normal (Box-Muller). */
double ds__rng_normal(uint64_t *s);

/* Picks min(n, want) distinct row indices from 0..n-1 (sorted) into idx. */
void ds__sample_rows(uint64_t seed, size_t n, size_t want, size_t *idx);

/* ---- product quantization (pq.c) ------------------------------------- */
typedef struct ds__pq {
    size_t dim, m, nbits, ksub, dsub, code_size;
    float *cb;                  /* m x ksub x dsub (borrowed or owned by the caller) */
} ds__pq;

/* Fills the derived sizes; DS_ERR_INVALID if m does not divide dim or nbits is
** not 4 or 8. Does not allocate. */
ds_status ds__pq_setup(ds__pq *pq, size_t dim, size_t m, size_t nbits);
/* Learns the codebooks (pq->cb must point to m*ksub*dsub floats) from n rows. */
ds_status ds__pq_train(ds_env *env, ds__pq *pq, const float *x, size_t n, uint64_t seed, unsigned n_threads);
/* Encodes n rows into n x code_size bytes. */
void ds__pq_encode(const ds__pq *pq, const float *x, size_t n, uint8_t *codes);
/* The same with a kernel: cbt is the codebook transposed per sub-quantizer
** (ds__pq_transpose, m x dsub x ksub floats); nearest from ds__nearest_best. */
void ds__pq_transpose(const ds__pq *pq, float *cbt);
void ds__pq_encode_fast(const ds__pq *pq, const float *cbt, ds__nearest_fn nearest, const float *x, size_t n, uint8_t *codes);
void ds__pq_decode(const ds__pq *pq, const uint8_t *code, float *out);
/* Sub-code j of a code. */
static inline unsigned ds__pq_get(const ds__pq *pq, const uint8_t *code, size_t j) {
    if (pq->nbits == 8) return code[j];
    return (code[j >> 1] >> ((j & 1) * 4)) & 15u;
}
/* ADC tables, m x ksub: IP: <q_j, cb_j[k]>; L2: ||q_j - cb_j[k]||^2. */
void ds__pq_table_ip(const ds__pq *pq, const float *q, float *table);
void ds__pq_table_l2(const ds__pq *pq, const float *q, float *table);

/* OPQ: learns an orthogonal rotation R (dim x dim, row-major, y = R x) and the
** codebooks of pq for R x, alternating PQ training and orthogonal Procrustes. */
ds_status ds__opq_train(ds_env *env, ds__pq *pq, const float *x, size_t n, size_t n_outer,
                        uint64_t seed, unsigned n_threads, float *R);

/* y = R x for n rows (R is dim x dim, row-major). */
void ds__rotate(const float *R, size_t dim, const float *x, size_t n, float *y);
/* Orthogonal Procrustes: given M (dim x dim, row-major), writes the orthogonal
** matrix Q = argmax trace(Q^T M) = U V^T where M = U S V^T. LAPACK sgesvd. */
ds_status ds__procrustes(ds_env *env, const float *M, size_t dim, float *Q);
/* A random orthogonal matrix (QR of a Gaussian matrix via Procrustes). */
ds_status ds__random_rotation(ds_env *env, size_t dim, uint64_t seed, float *R);
/* ITQ: an orthogonal R (dim x dim, row-major) minimising ||sign(V R^T) - V R^T||_F
** over n centred rows v, from a random start (Gong & Lazebnik). */
ds_status ds__itq_train(ds_env *env, const float *v, size_t n, size_t dim, unsigned n_iter, uint64_t seed, float *R);
/* That loss for a given R; y is scratch of n x dim floats. */
double ds__itq_loss(const float *v, size_t n, size_t dim, const float *R, float *y);
/* All values finite. */
int ds__all_finite(const float *x, size_t n);


/* ---- full vectors for re-scoring (rerank.c) ---------------------------- */
/* The f32 vectors of every slot, by slot: owned and growable after add, or
** used in place from the memory-mapped FVEC section after open (cap == 0), in
** which case they are paged in only for the candidates that are re-scored and
** are not counted in ds_index_memory_bytes. */
struct ds_index;
struct ds__search_params;
typedef struct ds__fvecs {
    float  *v;
    size_t  cap;            /* rows owned; 0 when mapped or empty */
} ds__fvecs;
#define DS_SEC_FVEC DS_FOURCC('F', 'V', 'E', 'C')
/* Reserves room for `total` rows (copying mapped rows out first). */
ds_status ds__fvecs_reserve(ds_env *env, ds__fvecs *f, size_t dim, size_t n_have, size_t total);
void      ds__fvecs_release(ds_env *env, ds__fvecs *f, size_t dim);
ds_status ds__fvecs_load(const ds__creader *r, size_t dim, uint32_t n_slots, ds__fvecs *f);
/* Exact scores of the candidate slots cand[0..nc) for the index metric; the
** best k, best first, into slots/scores. Candidates are already allowed. */
size_t    ds__rerank(const struct ds_index *ix, const float *vecs, const float *q,
                     const uint32_t *cand, size_t nc, size_t k, uint32_t *slots, float *scores);

#endif /* DS_VECTOR_QUANT_H */
