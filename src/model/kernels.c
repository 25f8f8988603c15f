/* kernels.c -- element-wise encoder kernels: scalar reference, AVX2+FMA
** and AVX-512F.
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
#include "model/vmath.h"
#include "simd/simd.h"

#include <math.h>
#include <stdlib.h>

/* ---- scalar twins ------------------------------------------------------- */
static void gelu_scalar(float *x, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] = ds__gelu1(x[i]);
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

/* Tiles of ATT_R (AVX2) or ATT_RZ (AVX-512) query rows; K^T is packed
** with rows padded to 16. */
#define ATT_R 6
#define ATT_RZ 12
size_t ds__attention_scratch(size_t L, size_t d) {
    size_t Lp = (size_t)ds__align_up(L, 16);
    return (2 * d + ATT_RZ) * Lp + 16;   /* K^T, V, scores; + 16 to align to 64 bytes */
}

static void attention_scalar(const float *Q, const float *K, const float *V, size_t L, size_t d, size_t ld,
                             float scale, float *out, float *scratch) {
    float *S = scratch;
    for (size_t i = 0; i < L; i++) {
        for (size_t j = 0; j < L; j++) {
            float acc = 0.0f;
            for (size_t c = 0; c < d; c++) acc += Q[i * ld + c] * K[j * ld + c];
            S[j] = acc * scale;
        }
        softmax_scalar(S, L);
        for (size_t c = 0; c < d; c++) {
            float acc = 0.0f;
            for (size_t j = 0; j < L; j++) acc += S[j] * V[j * ld + c];
            out[i * ld + c] = acc;
        }
    }
}

static const model_kernels k_scalar = { "scalar", gelu_scalar, gelu_tanh_scalar, softmax_scalar, layernorm_scalar,
                                        linear_nt_scalar, attention_scalar };
const model_kernels *ds__model_kernels_scalar(void) { return &k_scalar; }

/* ---- AVX2 + FMA ----------------------------------------------------------
** 8 lanes; tails go through the scalar twin, so every n works. (The build
** machine has AVX2 but not AVX-512, so the vector kernels are written for
** what can be tested here.) */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(DS_NO_SIMD)
#define TAVX DS_TARGET("avx2,fma")

static TAVX void gelu_avx2(float *x, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, ds__gelu256(_mm256_loadu_ps(x + i)));
    if (i < n) {
        float tmp[8] = { 0 };
        memcpy(tmp, x + i, (n - i) * sizeof *x);
        _mm256_storeu_ps(tmp, ds__gelu256(_mm256_loadu_ps(tmp)));
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
        __m256 e = ds__exp256(_mm256_sub_ps(_mm256_loadu_ps(x + i), vmax));
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

/* Attention in tiles of ATT_R query rows: S = Q K^T for the tile (K^T packed
** once per call, so scores are 6 x 16 register tiles of broadcast-FMA),
** softmax without its final division, then out = S V in 6 x 16 tiles with
** each row scaled by 1 / sum at the store. The tile's scores stay in L1;
** rows past L repeat the last query row and are never stored. */
#define ATT_STEP(LOAD0, LOAD1)                                                                            \
    for (size_t k = 0; k < kn; k++) {                                                                     \
        __m256 b0 = LOAD0, b1 = LOAD1;                                                                    \
        _Pragma("GCC unroll 6") for (int r = 0; r < ATT_R; r++) {                                         \
            __m256 av = _mm256_broadcast_ss(a[r] + k);                                                    \
            c0[r] = _mm256_fmadd_ps(av, b0, c0[r]);                                                       \
            c1[r] = _mm256_fmadd_ps(av, b1, c1[r]);                                                       \
        }                                                                                                 \
    }
/* dst[r][0..nc) = mul[r] * sum_k a[r][k] B[k][0..nc) for r < rows, nc <= 16. */
static TAVX void att_tile(const float *const a[ATT_R], const float *B, size_t ldb, size_t kn, size_t nc,
                          const float mul[ATT_R], float *dst, size_t ldd, size_t rows) {
    __m256 c0[ATT_R], c1[ATT_R];
    _Pragma("GCC unroll 6") for (int r = 0; r < ATT_R; r++) c0[r] = c1[r] = _mm256_setzero_ps();
    if (nc >= 16) {
        ATT_STEP(_mm256_loadu_ps(B + k * ldb), _mm256_loadu_ps(B + k * ldb + 8))
    } else {
        __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        __m256i m0 = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)nc), lane);
        __m256i m1 = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)nc - 8), lane);
        ATT_STEP(_mm256_maskload_ps(B + k * ldb, m0), _mm256_maskload_ps(B + k * ldb + 8, m1))
    }
    _Pragma("GCC unroll 6") for (int r = 0; r < ATT_R; r++) {
        if ((size_t)r >= rows) break;
        __m256 vm = _mm256_set1_ps(mul[r]);
        float *d = dst + (size_t)r * ldd;
        if (nc >= 16) {
            _mm256_storeu_ps(d, _mm256_mul_ps(c0[r], vm));
            _mm256_storeu_ps(d + 8, _mm256_mul_ps(c1[r], vm));
        } else {
            float tmp[16];
            _mm256_storeu_ps(tmp, _mm256_mul_ps(c0[r], vm));
            _mm256_storeu_ps(tmp + 8, _mm256_mul_ps(c1[r], vm));
            memcpy(d, tmp, nc * sizeof *tmp);
        }
    }
}

static TAVX void attention_avx2(const float *Q, const float *K, const float *V, size_t L, size_t d, size_t ld,
                                float scale, float *out, float *scratch) {
    size_t Lp = (size_t)ds__align_up(L, 16);
    /* K^T and V are copied into contiguous blocks: read in place, rows ld
    ** floats apart (1536 bytes for a 384-wide model) map onto a few L1 sets
    ** and evict each other on every tile */
    float *Kt = (float *)(uintptr_t)ds__align_up((uintptr_t)scratch, 64), *Vc = Kt + d * Lp, *S = Vc + d * Lp;
    for (size_t j = 0; j < L; j++) {             /* each source row read once, in order */
        const float *kr = K + j * ld;
        for (size_t c = 0; c < d; c++) Kt[c * Lp + j] = kr[c];
        memcpy(Vc + j * d, V + j * ld, d * sizeof *V);
    }
    for (size_t c = 0; c < d; c++)
        for (size_t j = L; j < Lp; j++) Kt[c * Lp + j] = 0.0f;
    for (size_t i0 = 0; i0 < L; i0 += ATT_R) {
        const float *a[ATT_R];
        float inv[ATT_R], sc[ATT_R];
        for (int r = 0; r < ATT_R; r++) {
            a[r] = Q + DS_MIN(i0 + (size_t)r, L - 1) * ld;
            sc[r] = scale;
        }
        for (size_t j0 = 0; j0 < Lp; j0 += 16) att_tile(a, Kt + j0, Lp, d, 16, sc, S + j0, Lp, ATT_R);
        for (int r = 0; r < ATT_R; r++) {
            float *row = S + (size_t)r * Lp;
            __m256 vmax = _mm256_set1_ps(-INFINITY);
            size_t j = 0;
            for (; j + 8 <= L; j += 8) vmax = _mm256_max_ps(vmax, _mm256_loadu_ps(row + j));
            float mx = -INFINITY, t[8];
            _mm256_storeu_ps(t, vmax);
            for (int l = 0; l < 8; l++) mx = t[l] > mx ? t[l] : mx;
            for (; j < L; j++) mx = row[j] > mx ? row[j] : mx;
            vmax = _mm256_set1_ps(mx);
            __m256 sum = _mm256_setzero_ps();
            for (j = 0; j + 8 <= L; j += 8) {
                __m256 e = ds__exp256(_mm256_sub_ps(_mm256_loadu_ps(row + j), vmax));
                _mm256_storeu_ps(row + j, e);
                sum = _mm256_add_ps(sum, e);
            }
            float s = hsum256(sum);
            for (; j < L; j++) { row[j] = expf(row[j] - mx); s += row[j]; }
            inv[r] = 1.0f / s;
        }
        const float *srow[ATT_R];
        for (int r = 0; r < ATT_R; r++) srow[r] = S + (size_t)r * Lp;
        for (size_t c = 0; c < d; c += 16)
            att_tile(srow, Vc + c, d, L, DS_MIN((size_t)16, d - c), inv, out + i0 * ld + c, ld, DS_MIN((size_t)ATT_R, L - i0));
    }
}

static const model_kernels k_avx2 = { "avx2", gelu_avx2, gelu_tanh_scalar, softmax_avx2, layernorm_avx2,
                                      linear_nt_avx2, attention_avx2 };
const model_kernels *ds__model_kernels_avx2(void) {
    unsigned f = ds__cpu_features();
    return (f & DS_CPU_AVX2) && (f & DS_CPU_FMA) ? &k_avx2 : NULL;
}

/* ---- AVX-512F ----------------------------------------------------------------
** 16 lanes; tails are masked loads and stores instead of scalar code. GELU
** gives the AVX2 version's bits (vmath.h); LayerNorm and attention differ
** from it (and the twin) only in summation order. */
#define TZ DS_TARGET("avx2,fma,avx512f")

static inline TZ __mmask16 zmask(size_t left) {
    return left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1);
}

static TZ void gelu_avx512(float *x, size_t n) {
    for (size_t i = 0; i < n; i += 16) {
        __mmask16 m = zmask(n - i);
        _mm512_mask_storeu_ps(x + i, m, ds__gelu512(_mm512_maskz_loadu_ps(m, x + i)));
    }
}

static TZ void layernorm_avx512(float *x, size_t n, const float *g, const float *b, float eps) {
    __m512 s = _mm512_setzero_ps();
    for (size_t i = 0; i < n; i += 16) s = _mm512_add_ps(s, _mm512_maskz_loadu_ps(zmask(n - i), x + i));
    float mean = _mm512_reduce_add_ps(s) / (float)n;
    __m512 vm = _mm512_set1_ps(mean), v = _mm512_setzero_ps();
    for (size_t i = 0; i < n; i += 16) {
        __mmask16 m = zmask(n - i);
        __m512 d = _mm512_maskz_sub_ps(m, _mm512_maskz_loadu_ps(m, x + i), vm);
        v = _mm512_fmadd_ps(d, d, v);
    }
    float var = _mm512_reduce_add_ps(v) / (float)n;
    __m512 vi = _mm512_set1_ps((float)(1.0 / sqrt((double)var + (double)eps)));
    for (size_t i = 0; i < n; i += 16) {
        __mmask16 m = zmask(n - i);
        __m512 d = _mm512_mul_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + i), vm), vi);
        _mm512_mask_storeu_ps(x + i, m, _mm512_fmadd_ps(d, _mm512_maskz_loadu_ps(m, g + i), _mm512_maskz_loadu_ps(m, b + i)));
    }
}

/* dst[r][0..nc) = mul[r] * sum_k a[r][k] B[k][0..nc) for r < rows, nc <= 32:
** 12 rows x 2 zmm = 24 accumulators, each k one broadcast per row against
** two loads of B (masked at the column tail: the padding is never read). */
static TZ void attz_tile(const float *const a[ATT_RZ], const float *B, size_t ldb, size_t kn, size_t nc,
                         const float mul[ATT_RZ], float *dst, size_t ldd, size_t rows) {
    __m512 c0[ATT_RZ], c1[ATT_RZ];
    __mmask16 m0 = zmask(nc), m1 = nc > 16 ? zmask(nc - 16) : 0;
    _Pragma("GCC unroll 12") for (int r = 0; r < ATT_RZ; r++) c0[r] = c1[r] = _mm512_setzero_ps();
    for (size_t k = 0; k < kn; k++) {
        __m512 b0 = _mm512_maskz_loadu_ps(m0, B + k * ldb), b1 = _mm512_maskz_loadu_ps(m1, B + k * ldb + 16);
        _Pragma("GCC unroll 12") for (int r = 0; r < ATT_RZ; r++) {
            __m512 av = _mm512_set1_ps(a[r][k]);
            c0[r] = _mm512_fmadd_ps(av, b0, c0[r]);
            c1[r] = _mm512_fmadd_ps(av, b1, c1[r]);
        }
    }
    _Pragma("GCC unroll 12") for (int r = 0; r < ATT_RZ; r++) {
        if ((size_t)r >= rows) break;
        __m512 vm = _mm512_set1_ps(mul[r]);
        float *d = dst + (size_t)r * ldd;
        _mm512_mask_storeu_ps(d, m0, _mm512_mul_ps(c0[r], vm));
        _mm512_mask_storeu_ps(d + 16, m1, _mm512_mul_ps(c1[r], vm));
    }
}

/* attention_avx2's scheme with tiles of 12 query rows x 32 keys (scores)
** or x 32 head columns (output) */
static TZ void attention_avx512(const float *Q, const float *K, const float *V, size_t L, size_t d, size_t ld,
                                float scale, float *out, float *scratch) {
    size_t Lp = (size_t)ds__align_up(L, 16);
    float *Kt = (float *)(uintptr_t)ds__align_up((uintptr_t)scratch, 64), *Vc = Kt + d * Lp, *S = Vc + d * Lp;
    for (size_t j = 0; j < L; j++) {
        const float *kr = K + j * ld;
        for (size_t c = 0; c < d; c++) Kt[c * Lp + j] = kr[c];
        memcpy(Vc + j * d, V + j * ld, d * sizeof *V);
    }
    for (size_t i0 = 0; i0 < L; i0 += ATT_RZ) {
        const float *a[ATT_RZ];
        float inv[ATT_RZ], sc[ATT_RZ];
        size_t rows = DS_MIN((size_t)ATT_RZ, L - i0);
        for (int r = 0; r < ATT_RZ; r++) {
            a[r] = Q + DS_MIN(i0 + (size_t)r, L - 1) * ld;
            sc[r] = scale;
        }
        for (size_t j0 = 0; j0 < L; j0 += 32) attz_tile(a, Kt + j0, Lp, d, DS_MIN((size_t)32, L - j0), sc, S + j0, Lp, rows);
        for (size_t r = 0; r < rows; r++) {
            float *row = S + r * Lp;
            __m512 vmax = _mm512_set1_ps(-INFINITY);
            for (size_t j = 0; j < L; j += 16)
                vmax = _mm512_max_ps(vmax, _mm512_mask_loadu_ps(_mm512_set1_ps(-INFINITY), zmask(L - j), row + j));
            __m512 mx = _mm512_set1_ps(_mm512_reduce_max_ps(vmax)), sum = _mm512_setzero_ps();
            for (size_t j = 0; j < L; j += 16) {
                __mmask16 m = zmask(L - j);
                __m512 e = ds__exp512(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, row + j), mx));
                _mm512_mask_storeu_ps(row + j, m, e);
                sum = _mm512_mask_add_ps(sum, m, sum, e);
            }
            inv[r] = 1.0f / _mm512_reduce_add_ps(sum);
        }
        const float *srow[ATT_RZ];
        for (size_t r = 0; r < ATT_RZ; r++) srow[r] = S + DS_MIN(r, rows - 1) * Lp;
        for (size_t c = 0; c < d; c += 32)
            attz_tile(srow, Vc + c, d, L, DS_MIN((size_t)32, d - c), inv, out + i0 * ld + c, ld, rows);
    }
}

static const model_kernels k_avx512 = { "avx512", gelu_avx512, gelu_tanh_scalar, softmax_avx2, layernorm_avx512,
                                        linear_nt_avx2, attention_avx512 };
const model_kernels *ds__model_kernels_avx512(void) {
    unsigned f = ds__cpu_features(), need = DS_CPU_AVX2 | DS_CPU_FMA | DS_CPU_AVX512F;
    return (f & need) == need ? &k_avx512 : NULL;
}
#else
const model_kernels *ds__model_kernels_avx2(void) { return NULL; }
const model_kernels *ds__model_kernels_avx512(void) { return NULL; }
#endif

const model_kernels *ds__model_kernels(const ds_env *env) {
    /* Follow the env's choice: a scalar-forced env (DS_SIMD=scalar) gets the
    ** twins, DS_SIMD=avx2 the AVX2 kernels. */
    const ds__kernels *k = env ? env->kernels : NULL;
    if (k != NULL && k->level < 1) return &k_scalar;
    const model_kernels *a = k == NULL || k->level >= 2 ? ds__model_kernels_avx512() : NULL;
    if (a == NULL) a = ds__model_kernels_avx2();
    return a ? a : &k_scalar;
}
