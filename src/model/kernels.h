/* kernels.h -- element-wise kernels of the encoder (GELU, LayerNorm,
** softmax), each with a scalar twin. The table is chosen per env: AVX-512F
** when the CPU has it, else AVX2+FMA, following the env's level (DS_SIMD=
** scalar / avx2 / ds_env_opts.simd force the twins / the AVX2 table). Kept in src/model/ so the
** shared src/simd table stays another helper's.
*/
#ifndef DS_MODEL_KERNELS_H
#define DS_MODEL_KERNELS_H

#include "ds_internal.h"

typedef struct model_kernels {
    const char *name;
    void (*gelu)(float *x, size_t n);                 /* exact (erf) GELU, in place */
    void (*gelu_tanh)(float *x, size_t n);            /* tanh approximation, in place */
    void (*softmax)(float *x, size_t n);              /* in place, n >= 1 */
    void (*layernorm)(float *x, size_t n, const float *g, const float *b, float eps);
    /* y[i*n + j] = b[j] + sum_k x[i*K + k] * W[j*K + k] for i < m, j < n:
    ** a linear layer with W in PyTorch's [out, in] layout, read in place.
    ** Used for few rows of the heads (pooler, SPLADE transform), where
    ** OpenBLAS would spend its time re-packing W; layers use gemm.h. */
    void (*linear_nt)(const float *x, size_t m, size_t K, const float *W, const float *b, size_t n, float *y);
    /* Attention of one (sequence, head): for i < L,
    **   out[i] = sum_j softmax_j(scale * Q[i] . K[j]) V[j]
    ** Q, K, V and out rows hold d floats, ld floats apart; scratch holds at
    ** least ds__attention_scratch(L, d) floats. */
    void (*attention)(const float *Q, const float *K, const float *V, size_t L, size_t d, size_t ld, float scale,
                      float *out, float *scratch);
} model_kernels;

/* Floats of scratch one attention call needs. */
size_t ds__attention_scratch(size_t L, size_t d);

const model_kernels *ds__model_kernels(const ds_env *env);
const model_kernels *ds__model_kernels_scalar(void);
const model_kernels *ds__model_kernels_avx2(void);     /* NULL if the CPU lacks AVX2+FMA */
const model_kernels *ds__model_kernels_avx512(void);   /* NULL if the CPU lacks AVX-512F (+ AVX2, FMA) */

#endif
