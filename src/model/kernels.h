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
} model_kernels;

const model_kernels *ds__model_kernels(const ds_env *env);
const model_kernels *ds__model_kernels_scalar(void);
const model_kernels *ds__model_kernels_avx2(void);     /* NULL if the CPU lacks AVX2+FMA */

#endif
