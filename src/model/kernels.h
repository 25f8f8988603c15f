/* kernels.h -- element-wise kernels of the encoder (GELU, LayerNorm,
** softmax), each with a scalar twin. The table is chosen per env: AVX2+FMA
** when the CPU has it and the env's kernels are not forced to scalar
** (DS_SIMD=scalar / ds_env_opts.simd = "scalar"). Kept in src/model/ so the
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
    ** Used for few rows, where OpenBLAS would spend its time re-packing W. */
    void (*linear_nt)(const float *x, size_t m, size_t K, const float *W, const float *b, size_t n, float *y);
    /* Int8 linear layer: y[i*n + j] = xs[i] * ws[j] * sum_k xq[i*K+k] * wq[j*K+k] + b[j].
    ** Values must lie in [-127, 127] (never -128), so the AVX2 u8 x s8 pair
    ** products cannot saturate; the int32 sums are then exact and every
    ** variant gives bit-identical results. */
    void (*linear_i8)(const int8_t *xq, const float *xs, size_t m, size_t K, const int8_t *wq, const float *ws,
                      const float *b, size_t n, float *y);
    /* ds__quantize_rows; every variant gives identical bytes and scales */
    void (*quantize_rows)(const float *x, size_t m, size_t K, int8_t *q, float *s);
} model_kernels;

/* Symmetric per-row quantization of x[m, K] into q (values in [-127, 127])
** and scales s[m] (x ~= s * q). */
void ds__quantize_rows(const float *x, size_t m, size_t K, int8_t *q, float *s);

const model_kernels *ds__model_kernels(const ds_env *env);
const model_kernels *ds__model_kernels_scalar(void);
const model_kernels *ds__model_kernels_avx2(void);     /* NULL if the CPU lacks AVX2+FMA */

#endif
