/* kernels.c -- element-wise encoder kernels: scalar reference and AVX-512.
**
** The scalar twins are the definition (libm erff/expf, two-pass LayerNorm in
** double); the AVX-512 versions are tested against them (t_model.c):
**   gelu:      |avx - scalar| <= 1e-6 * max(1, |x|)  (erfc by Abramowitz &
**              Stegun 7.1.26, abs error 1.5e-7, times e^-z^2 from a
**              degree-7 exp; for x < 0 the result is 0.5*x*erfc(|z|) directly,
**              so there is no 1 - 1 cancellation for large negative x)
**   softmax:   relative 1e-6
**   layernorm: 1e-5 absolute (float accumulation in 16 lanes)
**
** Thread: pure functions.
*/
#include "model/kernels.h"
#include "simd/simd.h"

#include <math.h>
#include <stdlib.h>

/* ---- scalar twins ------------------------------------------------------- */
static void gelu_scalar(float *x, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] = 0.5f * x[i] * (1.0f + erff(x[i] * 0.70710678118654752f));
}

static void gelu_tanh_scalar(float *x, size_t n) {
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        x[i] = 0.5f * v * (1.0f + tanhf(0.7978845608028654f * (v + 0.044715f * v * v * v)));
    }
}

static void softmax_scalar(float *x, size_t n) {
    float mx = x[0];
    for (size_t i = 1; i < n; i++) mx = x[i] > mx ? x[i] : mx;
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        x[i] = expf(x[i] - mx);
        sum += x[i];
    }
    float inv = (float)(1.0 / sum);
    for (size_t i = 0; i < n; i++) x[i] *= inv;
}

static void layernorm_scalar(float *x, size_t n, const float *g, const float *b, float eps) {
    double mean = 0, var = 0;
    for (size_t i = 0; i < n; i++) mean += x[i];
    mean /= (double)n;
    for (size_t i = 0; i < n; i++) var += ((double)x[i] - mean) * ((double)x[i] - mean);
    var /= (double)n;
    float inv = (float)(1.0 / sqrt(var + (double)eps)), m = (float)mean;
    for (size_t i = 0; i < n; i++) x[i] = (x[i] - m) * inv * g[i] + b[i];
}

static const model_kernels k_scalar = { "scalar", gelu_scalar, gelu_tanh_scalar, softmax_scalar, layernorm_scalar };
const model_kernels *ds__model_kernels_scalar(void) { return &k_scalar; }

/* ---- AVX-512 ------------------------------------------------------------ */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(DS_NO_SIMD)
#include <immintrin.h>
#define T512 DS_TARGET("avx512f,fma")

static inline T512 __m512 exp512(__m512 x) {
    x = _mm512_max_ps(_mm512_min_ps(x, _mm512_set1_ps(88.3f)), _mm512_set1_ps(-87.3f));
    __m512 k = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(k, _mm512_set1_ps(0.693359375f), x);       /* ln2 split in two: */
    r = _mm512_fnmadd_ps(k, _mm512_set1_ps(-2.12194440e-4f), r);           /* exact k*hi, small lo */
    __m512 p = _mm512_set1_ps(1.0f / 5040);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 720));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, k);
}

static inline T512 __m512 gelu512(__m512 x) {
    __m512 z = _mm512_mul_ps(x, _mm512_set1_ps(0.70710678118654752f));
    __m512 az = _mm512_abs_ps(z);
    __m512 t = _mm512_div_ps(_mm512_set1_ps(1.0f), _mm512_fmadd_ps(az, _mm512_set1_ps(0.3275911f), _mm512_set1_ps(1.0f)));
    __m512 p = _mm512_set1_ps(1.061405429f);
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(-1.453152027f));
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(1.421413741f));
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(-0.284496736f));
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(0.254829592f));
    p = _mm512_mul_ps(p, t);
    __m512 q = _mm512_mul_ps(p, exp512(_mm512_mul_ps(_mm512_sub_ps(_mm512_setzero_ps(), az), az))); /* erfc(|z|) */
    __mmask16 neg = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LT_OQ);
    __m512 onep = _mm512_mask_blend_ps(neg, _mm512_sub_ps(_mm512_set1_ps(2.0f), q), q);       /* 1 + erf(z) */
    return _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(0.5f), x), onep);
}

static T512 void gelu_avx512(float *x, size_t n) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(x + i, gelu512(_mm512_loadu_ps(x + i)));
    if (i < n) {
        __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        _mm512_mask_storeu_ps(x + i, m, gelu512(_mm512_maskz_loadu_ps(m, x + i)));
    }
}

static T512 void softmax_avx512(float *x, size_t n) {
    __m512 mx = _mm512_set1_ps(-INFINITY);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) mx = _mm512_max_ps(mx, _mm512_loadu_ps(x + i));
    __mmask16 tm = (__mmask16)((1u << (n - i)) - 1);
    if (i < n) mx = _mm512_mask_max_ps(mx, tm, mx, _mm512_maskz_loadu_ps(tm, x + i));
    __m512 vmax = _mm512_set1_ps(_mm512_reduce_max_ps(mx));
    __m512 sum = _mm512_setzero_ps();
    for (i = 0; i + 16 <= n; i += 16) {
        __m512 e = exp512(_mm512_sub_ps(_mm512_loadu_ps(x + i), vmax));
        _mm512_storeu_ps(x + i, e);
        sum = _mm512_add_ps(sum, e);
    }
    if (i < n) {
        __m512 e = exp512(_mm512_sub_ps(_mm512_maskz_loadu_ps(tm, x + i), vmax));
        e = _mm512_maskz_mov_ps(tm, e);
        _mm512_mask_storeu_ps(x + i, tm, e);
        sum = _mm512_add_ps(sum, e);
    }
    __m512 inv = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(sum));
    for (i = 0; i + 16 <= n; i += 16) _mm512_storeu_ps(x + i, _mm512_mul_ps(_mm512_loadu_ps(x + i), inv));
    if (i < n) _mm512_mask_storeu_ps(x + i, tm, _mm512_mul_ps(_mm512_maskz_loadu_ps(tm, x + i), inv));
}

static T512 void layernorm_avx512(float *x, size_t n, const float *g, const float *b, float eps) {
    __m512 s = _mm512_setzero_ps();
    size_t i = 0;
    __mmask16 tm = (__mmask16)((1u << (n % 16)) - 1);
    for (; i + 16 <= n; i += 16) s = _mm512_add_ps(s, _mm512_loadu_ps(x + i));
    if (i < n) s = _mm512_add_ps(s, _mm512_maskz_loadu_ps(tm, x + i));
    float mean = _mm512_reduce_add_ps(s) / (float)n;
    __m512 vm = _mm512_set1_ps(mean), v = _mm512_setzero_ps();
    for (i = 0; i + 16 <= n; i += 16) {
        __m512 d = _mm512_sub_ps(_mm512_loadu_ps(x + i), vm);
        v = _mm512_fmadd_ps(d, d, v);
    }
    if (i < n) {
        __m512 d = _mm512_maskz_sub_ps(tm, _mm512_maskz_loadu_ps(tm, x + i), vm);
        v = _mm512_fmadd_ps(d, d, v);
    }
    float var = _mm512_reduce_add_ps(v) / (float)n;
    __m512 inv = _mm512_set1_ps((float)(1.0 / sqrt((double)var + (double)eps)));
    for (i = 0; i + 16 <= n; i += 16) {
        __m512 d = _mm512_mul_ps(_mm512_sub_ps(_mm512_loadu_ps(x + i), vm), inv);
        _mm512_storeu_ps(x + i, _mm512_fmadd_ps(d, _mm512_loadu_ps(g + i), _mm512_loadu_ps(b + i)));
    }
    if (i < n) {
        __m512 d = _mm512_mul_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(tm, x + i), vm), inv);
        _mm512_mask_storeu_ps(x + i, tm, _mm512_fmadd_ps(d, _mm512_maskz_loadu_ps(tm, g + i), _mm512_maskz_loadu_ps(tm, b + i)));
    }
}

static const model_kernels k_avx512 = { "avx512", gelu_avx512, gelu_tanh_scalar, softmax_avx512, layernorm_avx512 };
const model_kernels *ds__model_kernels_avx512(void) {
    unsigned f = ds__cpu_features();
    return (f & DS_CPU_AVX512F) && (f & DS_CPU_FMA) ? &k_avx512 : NULL;
}
#else
const model_kernels *ds__model_kernels_avx512(void) { return NULL; }
#endif

const model_kernels *ds__model_kernels(const ds_env *env) {
    /* Follow the env's choice: a scalar-forced env (DS_SIMD=scalar) gets the twins. */
    const ds__kernels *k = env ? env->kernels : NULL;
    if (k != NULL && k->level < 2) return &k_scalar;
    const model_kernels *a = ds__model_kernels_avx512();
    return a ? a : &k_scalar;
}
