/* kernels.c -- element-wise encoder kernels: scalar reference and AVX2+FMA.
**
** The scalar twins are the definition (libm erff/expf, two-pass LayerNorm in
** double); the AVX2 versions are tested against them (t_model.c):
**   gelu:      |avx - scalar| <= 1e-6 * max(1, |x|)  (erfc by Abramowitz &
**              Stegun 7.1.26, abs error 1.5e-7, times e^-z^2 from a
**              degree-7 exp; for x < 0 the result is 0.5*x*erfc(|z|) directly,
**              so there is no 1 - 1 cancellation for large negative x)
**   softmax:   relative 1e-6
**   layernorm: 1e-4 absolute (float accumulation in 8 lanes)
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

static void linear_nt_scalar(const float *x, size_t m, size_t K, const float *W, const float *b, size_t n, float *y) {
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            float acc = 0.0f;
            for (size_t k = 0; k < K; k++) acc += x[i * K + k] * W[j * K + k];
            y[i * n + j] = acc + b[j];
        }
}

void ds__quantize_rows(const float *x, size_t m, size_t K, int8_t *q, float *s) {
    for (size_t i = 0; i < m; i++) {
        const float *r = x + i * K;
        float mx = 0.0f;
        for (size_t k = 0; k < K; k++) mx = fabsf(r[k]) > mx ? fabsf(r[k]) : mx;
        float sc = mx > 0.0f ? mx / 127.0f : 1.0f, inv = 1.0f / sc;
        for (size_t k = 0; k < K; k++) {
            float v = nearbyintf(r[k] * inv);
            q[i * K + k] = (int8_t)(v > 127.0f ? 127.0f : v < -127.0f ? -127.0f : v);
        }
        s[i] = sc;
    }
}

static void linear_i8_scalar(const int8_t *xq, const float *xs, size_t m, size_t K, const int8_t *wq, const float *ws,
                             const float *b, size_t n, float *y) {
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            int32_t acc = 0;
            for (size_t k = 0; k < K; k++) acc += (int32_t)xq[i * K + k] * wq[j * K + k];
            y[i * n + j] = (float)acc * xs[i] * ws[j] + b[j];
        }
}

static const model_kernels k_scalar = { "scalar", gelu_scalar, gelu_tanh_scalar, softmax_scalar, layernorm_scalar,
                                        linear_nt_scalar, linear_i8_scalar, ds__quantize_rows };
const model_kernels *ds__model_kernels_scalar(void) { return &k_scalar; }

/* ---- AVX2 + FMA ----------------------------------------------------------
** 8 lanes; tails go through the scalar twin, so every n works. (The build
** machine has AVX2 but not AVX-512, so the vector kernels are written for
** what can be tested here.) */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(DS_NO_SIMD)
#include <immintrin.h>
#define TAVX DS_TARGET("avx2,fma")

static inline TAVX __m256 exp256(__m256 x) {
    x = _mm256_max_ps(_mm256_min_ps(x, _mm256_set1_ps(88.3f)), _mm256_set1_ps(-87.3f));
    __m256 k = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(k, _mm256_set1_ps(0.693359375f), x);       /* ln2 split in two: */
    r = _mm256_fnmadd_ps(k, _mm256_set1_ps(-2.12194440e-4f), r);           /* exact k*hi, small lo */
    __m256 p = _mm256_set1_ps(1.0f / 5040);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 720));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    /* 2^k: k in [-126, 128] after the clamp; build the exponent bits. 2^128
    ** would overflow the field, so scale by 2^(k-1) twice. */
    __m256i ki = _mm256_cvtps_epi32(k);
    __m256i h = _mm256_srai_epi32(ki, 1);
    __m256 s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(h, _mm256_set1_epi32(127)), 23));
    __m256 s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(_mm256_sub_epi32(ki, h), _mm256_set1_epi32(127)), 23));
    return _mm256_mul_ps(_mm256_mul_ps(p, s1), s2);
}

static inline TAVX __m256 gelu256(__m256 x) {
    __m256 z = _mm256_mul_ps(x, _mm256_set1_ps(0.70710678118654752f));
    __m256 az = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), z);
    __m256 t = _mm256_div_ps(_mm256_set1_ps(1.0f), _mm256_fmadd_ps(az, _mm256_set1_ps(0.3275911f), _mm256_set1_ps(1.0f)));
    __m256 p = _mm256_set1_ps(1.061405429f);
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-1.453152027f));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(1.421413741f));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-0.284496736f));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(0.254829592f));
    p = _mm256_mul_ps(p, t);
    __m256 q = _mm256_mul_ps(p, exp256(_mm256_mul_ps(_mm256_sub_ps(_mm256_setzero_ps(), az), az))); /* erfc(|z|) */
    __m256 neg = _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_LT_OQ);
    __m256 onep = _mm256_blendv_ps(_mm256_sub_ps(_mm256_set1_ps(2.0f), q), q, neg);          /* 1 + erf(z) */
    return _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(0.5f), x), onep);
}

static TAVX void gelu_avx2(float *x, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, gelu256(_mm256_loadu_ps(x + i)));
    if (i < n) {
        float tmp[8] = { 0 };
        memcpy(tmp, x + i, (n - i) * sizeof *x);
        _mm256_storeu_ps(tmp, gelu256(_mm256_loadu_ps(tmp)));
        memcpy(x + i, tmp, (n - i) * sizeof *x);
    }
}

static inline TAVX float hsum256(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static TAVX void softmax_avx2(float *x, size_t n) {
    float mx = x[0];
    for (size_t i = 1; i < n; i++) mx = x[i] > mx ? x[i] : mx;
    __m256 vmax = _mm256_set1_ps(mx), sum = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 e = exp256(_mm256_sub_ps(_mm256_loadu_ps(x + i), vmax));
        _mm256_storeu_ps(x + i, e);
        sum = _mm256_add_ps(sum, e);
    }
    float s = hsum256(sum);
    for (; i < n; i++) { x[i] = expf(x[i] - mx); s += x[i]; }
    __m256 inv = _mm256_set1_ps(1.0f / s);
    for (i = 0; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), inv));
    for (; i < n; i++) x[i] *= 1.0f / s;
}

static TAVX void layernorm_avx2(float *x, size_t n, const float *g, const float *b, float eps) {
    __m256 s = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 8 <= n; i += 8) s = _mm256_add_ps(s, _mm256_loadu_ps(x + i));
    float tot = hsum256(s);
    for (size_t j = i; j < n; j++) tot += x[j];
    float mean = tot / (float)n;
    __m256 vm = _mm256_set1_ps(mean), v = _mm256_setzero_ps();
    for (i = 0; i + 8 <= n; i += 8) {
        __m256 d = _mm256_sub_ps(_mm256_loadu_ps(x + i), vm);
        v = _mm256_fmadd_ps(d, d, v);
    }
    float var = hsum256(v);
    for (size_t j = i; j < n; j++) var += (x[j] - mean) * (x[j] - mean);
    var /= (float)n;
    float inv = (float)(1.0 / sqrt((double)var + (double)eps));
    __m256 vi = _mm256_set1_ps(inv);
    for (i = 0; i + 8 <= n; i += 8) {
        __m256 d = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(x + i), vm), vi);
        _mm256_storeu_ps(x + i, _mm256_fmadd_ps(d, _mm256_loadu_ps(g + i), _mm256_loadu_ps(b + i)));
    }
    for (; i < n; i++) x[i] = (x[i] - mean) * inv * g[i] + b[i];
}

/* Register block of R rows of x by C rows of W (R*C <= 12 accumulators, plus
** loads, fit the 16 ymm registers): each W element loaded once serves R
** rows, each x element serves C outputs. K is walked 8 floats at a time; the
** K % 8 tail is added in scalar after the horizontal sums. */
#define NT_BLOCK(R, C)                                                                                   \
    static TAVX void nt_##R##x##C(const float *x, size_t K, const float *W, const float *b, size_t n,   \
                                  float *y, size_t i0, size_t j0) {                                      \
        __m256 acc[R][C];                                                                                \
        _Pragma("GCC unroll 4") for (int r = 0; r < R; r++)                                                                      \
            _Pragma("GCC unroll 4") for (int c = 0; c < C; c++) acc[r][c] = _mm256_setzero_ps();                                 \
        size_t k = 0;                                                                                    \
        for (; k + 8 <= K; k += 8) {                                                                     \
            __m256 w[C];                                                                                 \
            _Pragma("GCC unroll 4") for (int c = 0; c < C; c++) w[c] = _mm256_loadu_ps(W + (j0 + (size_t)c) * K + k);           \
            _Pragma("GCC unroll 4") for (int r = 0; r < R; r++) {                                                                \
                __m256 xv = _mm256_loadu_ps(x + (i0 + (size_t)r) * K + k);                               \
                _Pragma("GCC unroll 4") for (int c = 0; c < C; c++) acc[r][c] = _mm256_fmadd_ps(xv, w[c], acc[r][c]);            \
            }                                                                                            \
        }                                                                                                \
        _Pragma("GCC unroll 4") for (int r = 0; r < R; r++)                                                                      \
            _Pragma("GCC unroll 4") for (int c = 0; c < C; c++) {                                                                \
                float s = hsum256(acc[r][c]);                                                            \
                for (size_t kk = k; kk < K; kk++) s += x[(i0 + (size_t)r) * K + kk] * W[(j0 + (size_t)c) * K + kk]; \
                y[(i0 + (size_t)r) * n + j0 + (size_t)c] = s + b[j0 + (size_t)c];                        \
            }                                                                                            \
    }
NT_BLOCK(4, 3)
NT_BLOCK(1, 3)
NT_BLOCK(4, 1)
NT_BLOCK(1, 1)

/* Columns (W rows) outer, rows inner: the C rows of W being used stay in L1
** while every row block of x passes over them, so W -- the big operand --
** streams from memory once per call. */
static TAVX void linear_nt_avx2(const float *x, size_t m, size_t K, const float *W, const float *b, size_t n, float *y) {
    size_t j = 0;
    for (; j + 3 <= n; j += 3) {
        size_t i = 0;
        for (; i + 4 <= m; i += 4) nt_4x3(x, K, W, b, n, y, i, j);
        for (; i < m; i++) nt_1x3(x, K, W, b, n, y, i, j);
    }
    for (; j < n; j++) {
        size_t i = 0;
        for (; i + 4 <= m; i += 4) nt_4x1(x, K, W, b, n, y, i, j);
        for (; i < m; i++) nt_1x1(x, K, W, b, n, y, i, j);
    }
}

/* Int8 block of R x-rows by C w-rows, 32 bytes of K per step:
** maddubs(|x|, sign(w, x)) multiplies u8 by s8 into 16-bit pair sums
** (at most 2 * 127 * 127 = 32258: no saturation), madd with ones widens them
** to int32. The K % 32 tail is added in scalar. */
#define I8_BLOCK(R, C)                                                                                   \
    static TAVX void i8_##R##x##C(const int8_t *xq, const float *xs, size_t K, const int8_t *wq,        \
                                  const float *ws, const float *b, size_t n, float *y, size_t i0, size_t j0) { \
        __m256i acc[R][C];                                                                               \
        const __m256i ones = _mm256_set1_epi16(1);                                                       \
        _Pragma("GCC unroll 4") for (int r = 0; r < R; r++)                                              \
            _Pragma("GCC unroll 4") for (int c = 0; c < C; c++) acc[r][c] = _mm256_setzero_si256();      \
        size_t k = 0;                                                                                    \
        for (; k + 32 <= K; k += 32) {                                                                   \
            __m256i w[C];                                                                                \
            _Pragma("GCC unroll 4") for (int c = 0; c < C; c++)                                          \
                w[c] = _mm256_loadu_si256((const __m256i *)(const void *)(wq + (j0 + (size_t)c) * K + k)); \
            _Pragma("GCC unroll 4") for (int r = 0; r < R; r++) {                                        \
                __m256i xv = _mm256_loadu_si256((const __m256i *)(const void *)(xq + (i0 + (size_t)r) * K + k)); \
                __m256i ax = _mm256_abs_epi8(xv);                                                        \
                _Pragma("GCC unroll 4") for (int c = 0; c < C; c++) {                                    \
                    __m256i p = _mm256_maddubs_epi16(ax, _mm256_sign_epi8(w[c], xv));                    \
                    acc[r][c] = _mm256_add_epi32(acc[r][c], _mm256_madd_epi16(p, ones));                 \
                }                                                                                        \
            }                                                                                            \
        }                                                                                                \
        _Pragma("GCC unroll 4") for (int r = 0; r < R; r++)                                              \
            _Pragma("GCC unroll 4") for (int c = 0; c < C; c++) {                                        \
                __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(acc[r][c]), _mm256_extracti128_si256(acc[r][c], 1)); \
                s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0x4e));                                    \
                s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0xb1));                                    \
                int32_t s = _mm_cvtsi128_si32(s4);                                                       \
                for (size_t kk = k; kk < K; kk++)                                                        \
                    s += (int32_t)xq[(i0 + (size_t)r) * K + kk] * wq[(j0 + (size_t)c) * K + kk];         \
                size_t i_ = i0 + (size_t)r, j_ = j0 + (size_t)c;                                         \
                y[i_ * n + j_] = (float)s * xs[i_] * ws[j_] + b[j_];                                     \
            }                                                                                            \
    }
I8_BLOCK(4, 2)
I8_BLOCK(1, 2)
I8_BLOCK(4, 1)
I8_BLOCK(1, 1)

/* Same arithmetic as ds__quantize_rows (max |x|, scale = max / 127, x * (1 /
** scale) rounded to nearest-even), 8 lanes at a time. */
static TAVX void quantize_rows_avx2(const float *x, size_t m, size_t K, int8_t *q, float *s) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    for (size_t i = 0; i < m; i++) {
        const float *r = x + i * K;
        int8_t *qr = q + i * K;
        __m256 vm = _mm256_setzero_ps();
        size_t k = 0;
        for (; k + 8 <= K; k += 8) vm = _mm256_max_ps(vm, _mm256_andnot_ps(sign, _mm256_loadu_ps(r + k)));
        __m128 h = _mm_max_ps(_mm256_castps256_ps128(vm), _mm256_extractf128_ps(vm, 1));
        h = _mm_max_ps(h, _mm_movehl_ps(h, h));
        h = _mm_max_ss(h, _mm_movehdup_ps(h));
        float mx = _mm_cvtss_f32(h);
        for (size_t kk = k; kk < K; kk++) mx = fabsf(r[kk]) > mx ? fabsf(r[kk]) : mx;
        float sc = mx > 0.0f ? mx / 127.0f : 1.0f, inv = 1.0f / sc;
        __m256 vi = _mm256_set1_ps(inv);
        k = 0;
        for (; k + 32 <= K; k += 32) {
            __m256i a = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(r + k), vi));
            __m256i b = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(r + k + 8), vi));
            __m256i c = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(r + k + 16), vi));
            __m256i d = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(r + k + 24), vi));
            __m256i ab = _mm256_packs_epi32(a, b), cd = _mm256_packs_epi32(c, d);
            __m256i abcd = _mm256_packs_epi16(ab, cd);
            /* packs work within 128-bit lanes: restore the element order */
            abcd = _mm256_permutevar8x32_epi32(abcd, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
            abcd = _mm256_max_epi8(abcd, _mm256_set1_epi8(-127));
            _mm256_storeu_si256((__m256i *)(void *)(qr + k), abcd);
        }
        for (; k < K; k++) {
            float v = nearbyintf(r[k] * inv);
            qr[k] = (int8_t)(v > 127.0f ? 127.0f : v < -127.0f ? -127.0f : v);
        }
        s[i] = sc;
    }
}

/* Rows are processed in panels of I8_PANEL so a panel of x stays in L2 while
** all of W passes over it; within a panel, W rows outer (they stay in L1). */
#define I8_PANEL 64
static TAVX void linear_i8_avx2(const int8_t *xq, const float *xs, size_t m, size_t K, const int8_t *wq,
                                const float *ws, const float *b, size_t n, float *y) {
    for (size_t p0 = 0; p0 < m; p0 += I8_PANEL) {
        size_t p1 = DS_MIN(m, p0 + I8_PANEL);
        size_t j = 0;
        for (; j + 2 <= n; j += 2) {
            size_t i = p0;
            for (; i + 4 <= p1; i += 4) i8_4x2(xq, xs, K, wq, ws, b, n, y, i, j);
            for (; i < p1; i++) i8_1x2(xq, xs, K, wq, ws, b, n, y, i, j);
        }
        for (; j < n; j++) {
            size_t i = p0;
            for (; i + 4 <= p1; i += 4) i8_4x1(xq, xs, K, wq, ws, b, n, y, i, j);
            for (; i < p1; i++) i8_1x1(xq, xs, K, wq, ws, b, n, y, i, j);
        }
    }
}

static const model_kernels k_avx2 = { "avx2", gelu_avx2, gelu_tanh_scalar, softmax_avx2, layernorm_avx2,
                                      linear_nt_avx2, linear_i8_avx2, quantize_rows_avx2 };
const model_kernels *ds__model_kernels_avx2(void) {
    unsigned f = ds__cpu_features();
    return (f & DS_CPU_AVX2) && (f & DS_CPU_FMA) ? &k_avx2 : NULL;
}
#else
const model_kernels *ds__model_kernels_avx2(void) { return NULL; }
#endif

const model_kernels *ds__model_kernels(const ds_env *env) {
    /* Follow the env's choice: a scalar-forced env (DS_SIMD=scalar) gets the twins. */
    const ds__kernels *k = env ? env->kernels : NULL;
    if (k != NULL && k->level < 1) return &k_scalar;
    const model_kernels *a = ds__model_kernels_avx2();
    return a ? a : &k_scalar;
}
