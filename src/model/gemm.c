/* gemm.c -- packed-weight linear layers: packing, scalar twins, AVX2 + FMA,
** AVX-512 (f32) and AVX-512 VNNI (int8). Layouts and the int8 scheme are in gemm.h.
**
** The scalar twins are the definition. The int8 kernels and the quantizer
** are bit-identical across ISAs (integer sums are exact, the epilogue uses
** the same float operations in the same order, no FMA contraction); the f32
** kernels differ from the twin only in summation order.
*/
#include "model/gemm.h"
#include "model/vmath.h"
#include "simd/simd.h"

#include <math.h>

size_t ds__pack_bytes(size_t n, size_t K, int mode) {
    size_t panels = (n + DS_GEMM_NR - 1) / DS_GEMM_NR, cols = panels * DS_GEMM_NR;
    size_t meta = (size_t)ds__align_up(3 * cols * sizeof(float), 64);     /* ws, qsum, bias */
    size_t body = mode == DS_PACK_INT8   ? cols * (size_t)ds__align_up(K, 4)
                  : mode == DS_PACK_BF16 ? cols * (size_t)ds__align_up(K, 2) * sizeof(uint16_t)
                                         : cols * K * sizeof(float);
    return meta + (size_t)ds__align_up(body, 64);
}

uint16_t ds__f32_to_bf16(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40u);   /* quiet NaN */
    if ((u & 0x7f800000u) == 0) return (uint16_t)((u >> 16) & 0x8000u);         /* zero, denormal */
    /* ties to even: add 0x7fff plus the lowest kept bit; a carry into the
    ** exponent is the correct rounding up (to infinity at the top) */
    return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

static inline float bf16f(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

void ds__pack_init(ds__pack *p, void *mem, const float *W, const float *b, size_t n, size_t K, int mode) {
    int int8 = mode == DS_PACK_INT8;
    size_t panels = (n + DS_GEMM_NR - 1) / DS_GEMM_NR, cols = panels * DS_GEMM_NR;
    size_t Kp = (size_t)ds__align_up(K, 4);
    float *ws = mem, *bias = ws + 2 * cols;
    int32_t *qsum = (int32_t *)(void *)(ws + cols);
    char *body = (char *)mem + ds__align_up(3 * cols * sizeof(float), 64);
    memset(p, 0, sizeof *p);
    p->n = n;
    p->K = K;
    p->Kp = Kp;
    p->panels = panels;
    p->Kh = (size_t)ds__align_up(K, 2);
    p->ws = ws;
    p->qsum = qsum;
    p->bias = bias;
    for (size_t j = 0; j < cols; j++) {
        ws[j] = 0.0f;
        qsum[j] = 0;
        bias[j] = j < n ? b[j] : 0.0f;
    }
    if (mode == DS_PACK_BF16) {
        size_t Kh = p->Kh;
        uint16_t *h = (uint16_t *)(void *)body;
        for (size_t pn = 0; pn < panels; pn++)
            for (size_t k = 0; k < Kh; k++)
                for (size_t c = 0; c < DS_GEMM_NR; c++) {
                    size_t j = pn * DS_GEMM_NR + c;
                    h[((pn * (Kh / 2) + k / 2) * DS_GEMM_NR + c) * 2 + k % 2] =
                        j < n && k < K ? ds__f32_to_bf16(W[j * K + k]) : 0;
                }
        p->h = h;
        return;
    }
    if (!int8) {
        float *f = (float *)(void *)body;
        for (size_t pn = 0; pn < panels; pn++)
            for (size_t k = 0; k < K; k++)
                for (size_t c = 0; c < DS_GEMM_NR; c++) {
                    size_t j = pn * DS_GEMM_NR + c;
                    f[(pn * K + k) * DS_GEMM_NR + c] = j < n ? W[j * K + k] : 0.0f;
                }
        p->f = f;
        return;
    }
    int8_t *q = (int8_t *)body;
    memset(q, 0, cols * Kp);
    for (size_t j = 0; j < n; j++) {
        const float *w = W + j * K;
        float mx = 0.0f;
        for (size_t k = 0; k < K; k++) mx = fabsf(w[k]) > mx ? fabsf(w[k]) : mx;
        float s = mx / (float)DS_GEMM_WMAX;
        int32_t sum = 0;
        size_t pn = j / DS_GEMM_NR, c = j % DS_GEMM_NR;
        for (size_t k = 0; s > 0.0f && k < K; k++) {
            float v = nearbyintf(w[k] / s);
            int8_t qv = (int8_t)(v > DS_GEMM_WMAX ? DS_GEMM_WMAX : v < -DS_GEMM_WMAX ? -DS_GEMM_WMAX : v);
            q[((pn * (Kp / 4) + k / 4) * DS_GEMM_NR + c) * 4 + k % 4] = qv;
            sum += qv;
        }
        ws[j] = s;
        qsum[j] = sum;
    }
    p->q = q;
}

/* ---- scalar twins -------------------------------------------------------- */
static inline float act1(float v, int act) {
    if (act == DS_GEMM_ACT_GELU) return ds__gelu1(v);
    if (act == DS_GEMM_ACT_RELU) return v > 0.0f ? v : 0.0f;
    return v;
}

static void f32_scalar(const float *x, size_t m, const ds__pack *W, size_t p0, size_t p1, int act, float *y) {
    size_t K = W->K, n = W->n;
    for (size_t i = 0; i < m; i++)
        for (size_t j = p0 * DS_GEMM_NR; j < n && j < p1 * DS_GEMM_NR; j++) {
            const float *col = W->f + (j / DS_GEMM_NR) * K * DS_GEMM_NR + j % DS_GEMM_NR;
            float acc = 0.0f;
            for (size_t k = 0; k < K; k++) acc += x[i * K + k] * col[k * DS_GEMM_NR];
            y[i * n + j] = act1(acc + W->bias[j], act);
        }
}

static inline float i8_epilogue(int32_t acc, int32_t z, const ds__pack *W, float xs, size_t j) {
    float s = xs * W->ws[j];
    return (float)(acc - z * W->qsum[j]) * s + W->bias[j];
}

static void i8_scalar(const uint8_t *xq, const float *xs, const int32_t *xz, size_t m, const ds__pack *W, size_t p0,
                      size_t p1, int act, float *y) {
    size_t Kp = W->Kp, n = W->n;
    for (size_t i = 0; i < m; i++)
        for (size_t j = p0 * DS_GEMM_NR; j < n && j < p1 * DS_GEMM_NR; j++) {
            const int8_t *col = W->q + (j / DS_GEMM_NR) * Kp * DS_GEMM_NR + (j % DS_GEMM_NR) * 4;
            int32_t acc = 0;
            for (size_t k = 0; k < Kp; k++) acc += (int32_t)xq[i * Kp + k] * col[(k / 4) * 4 * DS_GEMM_NR + k % 4];
            y[i * n + j] = act1(i8_epilogue(acc, xz[i], W, xs[i], j), act);
        }
}

/* Scale and zero point of one row (7 bits, gemm.h): the range always
** includes 0, so 0 is exactly representable (zero padding and ReLU zeros
** stay exact). */
static void row_range(float lo, float hi, float *s, float *inv, int32_t *z) {
    lo = lo < 0.0f ? lo : 0.0f;
    hi = hi > 0.0f ? hi : 0.0f;
    float sc = (hi - lo) / 127.0f;
    if (!(sc > 0.0f)) sc = 1.0f;
    float iv = 1.0f / sc, zz = nearbyintf(-lo * iv);
    *s = sc;
    *inv = iv;
    *z = (int32_t)(zz < 0.0f ? 0.0f : zz > 127.0f ? 127.0f : zz);
}

static inline uint8_t quant1(float x, float inv, int32_t z) {
    int32_t v = (int32_t)nearbyintf(x * inv) + z;
    return (uint8_t)(v < 0 ? 0 : v > 127 ? 127 : v);
}

static void quant_scalar(const float *x, size_t m, size_t K, size_t Kp, uint8_t *q, float *s, int32_t *z) {
    for (size_t i = 0; i < m; i++) {
        const float *r = x + i * K;
        float lo = 0.0f, hi = 0.0f, inv;
        for (size_t k = 0; k < K; k++) {
            lo = r[k] < lo ? r[k] : lo;
            hi = r[k] > hi ? r[k] : hi;
        }
        row_range(lo, hi, &s[i], &inv, &z[i]);
        for (size_t k = 0; k < K; k++) q[i * Kp + k] = quant1(r[k], inv, z[i]);
        for (size_t k = K; k < Kp; k++) q[i * Kp + k] = 0;
    }
}

/* The bf16 scheme's definition (gemm.h): products of bf16 values are
** exact in f32, summed pair by pair, high element first. */
static void bf16_scalar(const uint16_t *xh, size_t m, const ds__pack *W, size_t p0, size_t p1, int act, float *y) {
    size_t Kh = W->Kh, n = W->n;
    for (size_t i = 0; i < m; i++)
        for (size_t j = p0 * DS_GEMM_NR; j < n && j < p1 * DS_GEMM_NR; j++) {
            const uint16_t *col = W->h + (j / DS_GEMM_NR) * Kh * DS_GEMM_NR + (j % DS_GEMM_NR) * 2;
            const uint16_t *xr = xh + i * Kh;
            float acc = 0.0f;
            for (size_t k = 0; k < Kh; k += 2) {
                const uint16_t *w = col + k * DS_GEMM_NR;
                acc += bf16f(xr[k + 1]) * bf16f(w[1]);
                acc += bf16f(xr[k]) * bf16f(w[0]);
            }
            y[i * n + j] = act1(acc + W->bias[j], act);
        }
}

static void to_bf16_scalar(const float *x, size_t m, size_t K, size_t Kh, uint16_t *h) {
    for (size_t i = 0; i < m; i++) {
        for (size_t k = 0; k < K; k++) h[i * Kh + k] = ds__f32_to_bf16(x[i * K + k]);
        for (size_t k = K; k < Kh; k++) h[i * Kh + k] = 0;
    }
}

static const ds__gemm_kernels g_scalar = { "scalar", f32_scalar, i8_scalar, quant_scalar, bf16_scalar,
                                           to_bf16_scalar, "scalar" };
const ds__gemm_kernels *ds__gemm_kernels_scalar(void) { return &g_scalar; }

/* ---- AVX2 + FMA ------------------------------------------------------------
** f32: register tiles of R <= 6 rows x 16 columns (12 accumulators); each
** step broadcasts one x value per row, read from x in place, and loads one
** 16-float panel row. Blocks of F32_MC rows (whose x rows stay in L2 while
** every panel passes, so each panel is read once per block) by KC values of
** k. Packing x into micro-panels as BLAS does cost more than it saved, and
** smaller KC or prefetching W did not help either (git 41c1f22).
** int8: tiles of R <= 4 rows x 16 columns (5 and 6 rows run as two tiles);
** each step broadcasts 2 x 4 bytes of a row, multiplies them into 2 x 8
** columns with vpmaddubsw, adds the two int16 pair sums (exact, gemm.h) and
** widens them with vpmaddwd: the multiplies are what bounds it on AVX2;
** VNNI does 4 products and the accumulate in one instruction. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(DS_NO_SIMD)
#include <immintrin.h>
#define TAVX DS_TARGET("avx2,fma")
#define KC 384
#define F32_MC 264     /* a multiple of 6, above the forward pass's 256-row chunks */
#define MC 48          /* int8; a multiple of 6 */

static inline TAVX __m256 act256(__m256 v, int act) {
    if (act == DS_GEMM_ACT_GELU) return ds__gelu256(v);
    if (act == DS_GEMM_ACT_RELU) return _mm256_max_ps(v, _mm256_setzero_ps());
    return v;
}

/* A: R rows of x read in place (row stride lda); the 6 row pointers stay in
** registers and one index walks k. */
#define F32_TILE(R)                                                                                       \
    static TAVX void f32_tile##R(const float *A, size_t lda, const float *P, size_t kc, float *C,        \
                                 size_t ldc, size_t nr, int first, const float *bias, int act) {          \
        __m256 c0[R], c1[R];                                                                              \
        const float *a[R];                                                                                \
        _Pragma("GCC unroll 6") for (int r = 0; r < R; r++) {                                             \
            c0[r] = c1[r] = _mm256_setzero_ps();                                                          \
            a[r] = A + (size_t)r * lda;                                                                   \
        }                                                                                                 \
        for (size_t k = 0; k < kc; k++) {                                                                 \
            __m256 b0 = _mm256_load_ps(P + k * DS_GEMM_NR), b1 = _mm256_load_ps(P + k * DS_GEMM_NR + 8);  \
            _Pragma("GCC unroll 6") for (int r = 0; r < R; r++) {                                         \
                __m256 av = _mm256_broadcast_ss(a[r] + k);                                                \
                c0[r] = _mm256_fmadd_ps(av, b0, c0[r]);                                                   \
                c1[r] = _mm256_fmadd_ps(av, b1, c1[r]);                                                   \
            }                                                                                             \
        }                                                                                                 \
        _Pragma("GCC unroll 6") for (int r = 0; r < R; r++) {                                             \
            float *cr = C + (size_t)r * ldc;                                                              \
            if (nr == DS_GEMM_NR) {                                                                       \
                __m256 a0 = first ? _mm256_loadu_ps(bias) : _mm256_loadu_ps(cr);                          \
                __m256 a1 = first ? _mm256_loadu_ps(bias + 8) : _mm256_loadu_ps(cr + 8);                  \
                _mm256_storeu_ps(cr, act256(_mm256_add_ps(c0[r], a0), act));                              \
                _mm256_storeu_ps(cr + 8, act256(_mm256_add_ps(c1[r], a1), act));                          \
            } else {                                                                                      \
                float t[DS_GEMM_NR];                                                                      \
                _mm256_storeu_ps(t, c0[r]);                                                               \
                _mm256_storeu_ps(t + 8, c1[r]);                                                           \
                for (size_t j = 0; j < nr; j++) t[j] += first ? bias[j] : cr[j];                          \
                _mm256_storeu_ps(t, act256(_mm256_loadu_ps(t), act));                                     \
                _mm256_storeu_ps(t + 8, act256(_mm256_loadu_ps(t + 8), act));                             \
                for (size_t j = 0; j < nr; j++) cr[j] = t[j];                                             \
            }                                                                                             \
        }                                                                                                 \
    }
F32_TILE(1)
F32_TILE(2)
F32_TILE(3)
F32_TILE(4)
F32_TILE(5)
F32_TILE(6)

static TAVX void f32_avx2(const float *x, size_t m, const ds__pack *W, size_t p0, size_t p1, int act, float *y) {
    size_t K = W->K, n = W->n;
    p1 = DS_MIN(p1, W->panels);
    for (size_t i0 = 0; i0 < m; i0 += F32_MC) {
        size_t i1 = DS_MIN(m, i0 + F32_MC);
        for (size_t k0 = 0; k0 < K; k0 += KC) {
            size_t kc = DS_MIN((size_t)KC, K - k0);
            for (size_t p = p0; p < p1; p++) {
                const float *P = W->f + (p * K + k0) * DS_GEMM_NR;
                size_t c = p * DS_GEMM_NR, nr = DS_MIN((size_t)DS_GEMM_NR, n - c);
                const float *bias = W->bias + c;
                int first = k0 == 0, a = k0 + kc == K ? act : DS_GEMM_ACT_NONE;
                size_t i = i0;
                for (; i + 6 <= i1; i += 6) f32_tile6(x + i * K + k0, K, P, kc, y + i * n + c, n, nr, first, bias, a);
                const float *A = x + i * K + k0;
                float *C = y + i * n + c;
                switch (i1 - i) {
                case 5: f32_tile5(A, K, P, kc, C, n, nr, first, bias, a); break;
                case 4: f32_tile4(A, K, P, kc, C, n, nr, first, bias, a); break;
                case 3: f32_tile3(A, K, P, kc, C, n, nr, first, bias, a); break;
                case 2: f32_tile2(A, K, P, kc, C, n, nr, first, bias, a); break;
                case 1: f32_tile1(A, K, P, kc, C, n, nr, first, bias, a); break;
                default: break;
                }
            }
        }
    }
}

/* The int8 epilogue for 8 columns: the same operations as i8_epilogue. */
static inline TAVX void i8_store8(__m256i acc, int32_t z, float xs, const ds__pack *W, size_t j, size_t nr,
                                  int act, float *out) {
    __m256i v = _mm256_sub_epi32(acc, _mm256_mullo_epi32(_mm256_set1_epi32(z),
                                                         _mm256_loadu_si256((const __m256i *)(const void *)(W->qsum + j))));
    __m256 s = _mm256_mul_ps(_mm256_set1_ps(xs), _mm256_loadu_ps(W->ws + j));
    __m256 r = act256(_mm256_add_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(v), s), _mm256_loadu_ps(W->bias + j)), act);
    if (nr >= 8) {
        _mm256_storeu_ps(out, r);
    } else {
        float t[8];
        _mm256_storeu_ps(t, r);
        for (size_t c = 0; c < nr; c++) out[c] = t[c];
    }
}

static inline TAVX __m256i bcast4(const uint8_t *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return _mm256_set1_epi32(v);
}

/* MADD(acc, xb, w): acc += 4-term u8 x s8 dot products per int32 lane.
** PAIRS (AVX2): two groups (8 k) per step first. 7-bit rows and 7-bit
** weights bound each vpmaddubsw pair sum by 2 * 127 * 64 = 16256, so two of
** them add exactly in int16 (<= 32512) before one vpmaddwd widens them:
** 3 multiplies per 64 products instead of 4. */
#define I8_TILE(NAME, TARGET, MADD, R, PAIRS)                                                             \
    static TARGET void NAME(const uint8_t *xq, size_t ldx, const int8_t *Q, size_t groups,                \
                            const float *xs, const int32_t *xz, const ds__pack *W, size_t j, size_t nr,    \
                            int act, float *y, size_t ldy) {                                               \
        __m256i a0[R], a1[R];                                                                             \
        const __m256i ones = _mm256_set1_epi16(1);                                                        \
        (void)ones;                                                                                       \
        _Pragma("GCC unroll 6") for (int r = 0; r < R; r++) a0[r] = a1[r] = _mm256_setzero_si256();       \
        size_t g = 0;                                                                                     \
        for (; PAIRS && g + 2 <= groups; g += 2) {                                                        \
            const __m256i *wp = (const __m256i *)(const void *)(Q + g * 64);                              \
            __m256i w0 = _mm256_load_si256(wp), w1 = _mm256_load_si256(wp + 1);                           \
            __m256i w2 = _mm256_load_si256(wp + 2), w3 = _mm256_load_si256(wp + 3);                       \
            _Pragma("GCC unroll 6") for (int r = 0; r < R; r++) {                                         \
                __m256i xa = bcast4(xq + (size_t)r * ldx + 4 * g);                                        \
                __m256i xb = bcast4(xq + (size_t)r * ldx + 4 * g + 4);                                    \
                __m256i s0 = _mm256_add_epi16(_mm256_maddubs_epi16(xa, w0), _mm256_maddubs_epi16(xb, w2)); \
                __m256i s1 = _mm256_add_epi16(_mm256_maddubs_epi16(xa, w1), _mm256_maddubs_epi16(xb, w3)); \
                a0[r] = _mm256_add_epi32(a0[r], _mm256_madd_epi16(s0, ones));                             \
                a1[r] = _mm256_add_epi32(a1[r], _mm256_madd_epi16(s1, ones));                             \
            }                                                                                             \
        }                                                                                                 \
        for (; g < groups; g++) {                                                                         \
            __m256i w0 = _mm256_load_si256((const __m256i *)(const void *)(Q + g * 64));                 \
            __m256i w1 = _mm256_load_si256((const __m256i *)(const void *)(Q + g * 64 + 32));            \
            _Pragma("GCC unroll 6") for (int r = 0; r < R; r++) {                                         \
                __m256i xb = bcast4(xq + (size_t)r * ldx + 4 * g);                                        \
                a0[r] = MADD(a0[r], xb, w0);                                                              \
                a1[r] = MADD(a1[r], xb, w1);                                                              \
            }                                                                                             \
        }                                                                                                 \
        _Pragma("GCC unroll 6") for (int r = 0; r < R; r++) {                                             \
            i8_store8(a0[r], xz[r], xs[r], W, j, nr, act, y + (size_t)r * ldy);                           \
            if (nr > 8) i8_store8(a1[r], xz[r], xs[r], W, j + 8, nr - 8, act, y + (size_t)r * ldy + 8);   \
        }                                                                                                 \
    }

#define MADD_AVX2(acc, xb, w) _mm256_add_epi32((acc), _mm256_madd_epi16(_mm256_maddubs_epi16((xb), (w)), ones))

#define I8_DRIVER(NAME, TARGET, TILE)                                                                     \
    static TARGET void NAME(const uint8_t *xq, const float *xs, const int32_t *xz, size_t m,             \
                            const ds__pack *W, size_t p0, size_t p1, int act, float *y) {                 \
        size_t Kp = W->Kp, n = W->n, groups = Kp / 4;                                                     \
        p1 = DS_MIN(p1, W->panels);                                                                       \
        for (size_t i0 = 0; i0 < m; i0 += MC) {                                                           \
            size_t i1 = DS_MIN(m, i0 + MC);                                                               \
            for (size_t p = p0; p < p1; p++) {                                                            \
                const int8_t *Q = W->q + p * Kp * DS_GEMM_NR;                                             \
                size_t j = p * DS_GEMM_NR, nr = DS_MIN((size_t)DS_GEMM_NR, n - j);                        \
                size_t i = i0;                                                                            \
                for (; i + 6 <= i1; i += 6)                                                               \
                    TILE##6(xq + i * Kp, Kp, Q, groups, xs + i, xz + i, W, j, nr, act, y + i * n + j, n);       \
                const uint8_t *A = xq + i * Kp;                                                           \
                float *C = y + i * n + j;                                                                 \
                switch (i1 - i) {                                                                         \
                case 5: TILE##5(A, Kp, Q, groups, xs + i, xz + i, W, j, nr, act, C, n); break;                 \
                case 4: TILE##4(A, Kp, Q, groups, xs + i, xz + i, W, j, nr, act, C, n); break;                 \
                case 3: TILE##3(A, Kp, Q, groups, xs + i, xz + i, W, j, nr, act, C, n); break;                 \
                case 2: TILE##2(A, Kp, Q, groups, xs + i, xz + i, W, j, nr, act, C, n); break;                 \
                case 1: TILE##1(A, Kp, Q, groups, xs + i, xz + i, W, j, nr, act, C, n); break;                 \
                default: break;                                                                           \
                }                                                                                         \
            }                                                                                             \
        }                                                                                                 \
    }

I8_TILE(i8_tile1, TAVX, MADD_AVX2, 1, 1)
I8_TILE(i8_tile2, TAVX, MADD_AVX2, 2, 1)
I8_TILE(i8_tile3, TAVX, MADD_AVX2, 3, 1)
I8_TILE(i8_tile4, TAVX, MADD_AVX2, 4, 1)
/* 5 and 6 rows as two tiles: 12 int32 accumulators plus four weight
** vectors do not fit the 16 ymm registers, and GCC spills accumulators */
static TAVX void i8_tile5(const uint8_t *xq, size_t ldx, const int8_t *Q, size_t groups, const float *xs,
                          const int32_t *xz, const ds__pack *W, size_t j, size_t nr, int act, float *y, size_t ldy) {
    i8_tile3(xq, ldx, Q, groups, xs, xz, W, j, nr, act, y, ldy);
    i8_tile2(xq + 3 * ldx, ldx, Q, groups, xs + 3, xz + 3, W, j, nr, act, y + 3 * ldy, ldy);
}
static TAVX void i8_tile6(const uint8_t *xq, size_t ldx, const int8_t *Q, size_t groups, const float *xs,
                          const int32_t *xz, const ds__pack *W, size_t j, size_t nr, int act, float *y, size_t ldy) {
    i8_tile3(xq, ldx, Q, groups, xs, xz, W, j, nr, act, y, ldy);
    i8_tile3(xq + 3 * ldx, ldx, Q, groups, xs + 3, xz + 3, W, j, nr, act, y + 3 * ldy, ldy);
}
I8_DRIVER(i8_avx2, TAVX, i8_tile)

/* Same arithmetic as quant_scalar, 8 lanes at a time. */
static TAVX void quant_avx2(const float *x, size_t m, size_t K, size_t Kp, uint8_t *q, float *s, int32_t *z) {
    for (size_t i = 0; i < m; i++) {
        const float *r = x + i * K;
        uint8_t *qr = q + i * Kp;
        __m256 vlo = _mm256_setzero_ps(), vhi = _mm256_setzero_ps();
        size_t k = 0;
        for (; k + 8 <= K; k += 8) {
            __m256 v = _mm256_loadu_ps(r + k);
            vlo = _mm256_min_ps(vlo, v);
            vhi = _mm256_max_ps(vhi, v);
        }
        float tl[8], th[8], lo = 0.0f, hi = 0.0f, inv;
        _mm256_storeu_ps(tl, vlo);
        _mm256_storeu_ps(th, vhi);
        for (int l = 0; l < 8; l++) {
            lo = tl[l] < lo ? tl[l] : lo;
            hi = th[l] > hi ? th[l] : hi;
        }
        for (; k < K; k++) {
            lo = r[k] < lo ? r[k] : lo;
            hi = r[k] > hi ? r[k] : hi;
        }
        row_range(lo, hi, &s[i], &inv, &z[i]);
        __m256 vi = _mm256_set1_ps(inv);
        __m256i vz = _mm256_set1_epi32(z[i]);
        for (k = 0; k + 32 <= K; k += 32) {
            __m256i a = _mm256_add_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(r + k), vi)), vz);
            __m256i b = _mm256_add_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(r + k + 8), vi)), vz);
            __m256i c = _mm256_add_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(r + k + 16), vi)), vz);
            __m256i d = _mm256_add_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(r + k + 24), vi)), vz);
            /* saturating packs and the min clamp to [0, 127] as quant1 does;
            ** the packs work within 128-bit lanes, so the order is restored */
            __m256i v = _mm256_packus_epi16(_mm256_packs_epi32(a, b), _mm256_packs_epi32(c, d));
            v = _mm256_min_epu8(_mm256_permutevar8x32_epi32(v, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)), _mm256_set1_epi8(127));
            _mm256_storeu_si256((__m256i *)(void *)(qr + k), v);
        }
        for (; k < K; k++) qr[k] = quant1(r[k], inv, z[i]);
        for (k = K; k < Kp; k++) qr[k] = 0;
    }
}

/* ---- bf16, AVX2 + FMA (CPUs without AVX512-BF16) ---------------------------
** The pairs are widened to f32: the high element of a 32-bit lane by
** masking its low half, the low one by a 16-bit shift, and each product
** is one FMA, high element first (gemm.h); a product of two bf16 values is
** exact in f32, so the FMA rounds exactly where the scalar twin's add does.
** Tiles of R <= 4 rows x 16 columns: 8 accumulators, 4 widened weight
** vectors and the row's pair fit the 16 ymm registers. The weights are
** half the bytes of f32, but every product costs the same FMA as in
** f32_avx2, so this is a fallback, not a speed-up. Blocks of BH_KC values
** of k carry the partial sums through y, so the order of the sum does not
** depend on the blocking. */
#define BH_KC 512      /* even */
#define BH_TILE(R)                                                                                        \
    static TAVX void bh_tile##R(const uint16_t *A, size_t lda, const uint16_t *P, size_t kp, float *C,    \
                                size_t ldc, size_t nr, int first, int last, const float *bias, int act) { \
        __m256 c0[R], c1[R];                                                                              \
        const uint16_t *a[R];                                                                             \
        const __m256i hi = _mm256_set1_epi32((int)0xffff0000u);                                           \
        _Pragma("GCC unroll 4") for (int r = 0; r < R; r++) {                                             \
            a[r] = A + (size_t)r * lda;                                                                   \
            float *cr = C + (size_t)r * ldc, t[DS_GEMM_NR] = { 0 };                                       \
            if (first) {                                                                                  \
                c0[r] = c1[r] = _mm256_setzero_ps();                                                      \
            } else if (nr == DS_GEMM_NR) {                                                                \
                c0[r] = _mm256_loadu_ps(cr);                                                              \
                c1[r] = _mm256_loadu_ps(cr + 8);                                                          \
            } else {                                                                                      \
                memcpy(t, cr, nr * sizeof *t);                                                            \
                c0[r] = _mm256_loadu_ps(t);                                                               \
                c1[r] = _mm256_loadu_ps(t + 8);                                                           \
            }                                                                                             \
        }                                                                                                 \
        for (size_t k = 0; k < kp; k++) {                                                                 \
            __m256i w0 = _mm256_load_si256((const __m256i *)(const void *)(P + k * 2 * DS_GEMM_NR));      \
            __m256i w1 = _mm256_load_si256((const __m256i *)(const void *)(P + k * 2 * DS_GEMM_NR + 16)); \
            __m256 wo0 = _mm256_castsi256_ps(_mm256_and_si256(w0, hi));                                   \
            __m256 we0 = _mm256_castsi256_ps(_mm256_slli_epi32(w0, 16));                                  \
            __m256 wo1 = _mm256_castsi256_ps(_mm256_and_si256(w1, hi));                                   \
            __m256 we1 = _mm256_castsi256_ps(_mm256_slli_epi32(w1, 16));                                  \
            _Pragma("GCC unroll 4") for (int r = 0; r < R; r++) {                                         \
                int32_t pr;                                                                               \
                memcpy(&pr, a[r] + 2 * k, sizeof pr);                                                     \
                __m256i xv = _mm256_set1_epi32(pr);                                                       \
                __m256 xo = _mm256_castsi256_ps(_mm256_and_si256(xv, hi));                                \
                __m256 xe = _mm256_castsi256_ps(_mm256_slli_epi32(xv, 16));                               \
                c0[r] = _mm256_fmadd_ps(xe, we0, _mm256_fmadd_ps(xo, wo0, c0[r]));                        \
                c1[r] = _mm256_fmadd_ps(xe, we1, _mm256_fmadd_ps(xo, wo1, c1[r]));                        \
            }                                                                                             \
        }                                                                                                 \
        _Pragma("GCC unroll 4") for (int r = 0; r < R; r++) {                                             \
            float *cr = C + (size_t)r * ldc;                                                              \
            __m256 v0 = c0[r], v1 = c1[r];                                                                \
            if (last) {                                                                                   \
                v0 = act256(_mm256_add_ps(v0, _mm256_loadu_ps(bias)), act);                               \
                v1 = act256(_mm256_add_ps(v1, _mm256_loadu_ps(bias + 8)), act);                           \
            }                                                                                             \
            if (nr == DS_GEMM_NR) {                                                                       \
                _mm256_storeu_ps(cr, v0);                                                                 \
                _mm256_storeu_ps(cr + 8, v1);                                                             \
            } else {                                                                                      \
                float t[DS_GEMM_NR];                                                                      \
                _mm256_storeu_ps(t, v0);                                                                  \
                _mm256_storeu_ps(t + 8, v1);                                                              \
                memcpy(cr, t, nr * sizeof *t);                                                            \
            }                                                                                             \
        }                                                                                                 \
    }
BH_TILE(1)
BH_TILE(2)
BH_TILE(3)
BH_TILE(4)

typedef void (*bh_tile_fn)(const uint16_t *, size_t, const uint16_t *, size_t, float *, size_t, size_t, int, int,
                           const float *, int);
static const bh_tile_fn bh_tiles[5] = { NULL, bh_tile1, bh_tile2, bh_tile3, bh_tile4 };

static TAVX void bf16_avx2(const uint16_t *xh, size_t m, const ds__pack *W, size_t p0, size_t p1, int act, float *y) {
    size_t Kh = W->Kh, n = W->n;
    p1 = DS_MIN(p1, W->panels);
    for (size_t i0 = 0; i0 < m; i0 += F32_MC) {
        size_t i1 = DS_MIN(m, i0 + F32_MC);
        for (size_t k0 = 0; k0 < Kh; k0 += BH_KC) {
            size_t kc = DS_MIN((size_t)BH_KC, Kh - k0);
            int first = k0 == 0, last = k0 + kc == Kh;
            for (size_t p = p0; p < p1; p++) {
                size_t c = p * DS_GEMM_NR, nr = DS_MIN((size_t)DS_GEMM_NR, n - c);
                const uint16_t *P = W->h + (p * Kh + k0) * DS_GEMM_NR;
                for (size_t i = i0; i < i1;) {
                    size_t r = DS_MIN((size_t)4, i1 - i);
                    bh_tiles[r](xh + i * Kh + k0, Kh, P, kc / 2, y + i * n + c, n, nr, first, last, W->bias + c, act);
                    i += r;
                }
            }
        }
    }
}

/* 8 floats to bf16 with ds__f32_to_bf16's rules, in the low 16 bits of
** each lane. */
static inline TAVX __m256i bf16x8_avx2(__m256 v) {
    __m256i u = _mm256_castps_si256(v), top = _mm256_srli_epi32(u, 16);
    __m256i r = _mm256_add_epi32(_mm256_add_epi32(u, _mm256_set1_epi32(0x7fff)),
                                 _mm256_and_si256(top, _mm256_set1_epi32(1)));
    r = _mm256_srli_epi32(r, 16);
    __m256i den = _mm256_cmpeq_epi32(_mm256_and_si256(u, _mm256_set1_epi32(0x7f800000)), _mm256_setzero_si256());
    r = _mm256_blendv_epi8(r, _mm256_and_si256(top, _mm256_set1_epi32(0x8000)), den);
    __m256 nan = _mm256_cmp_ps(v, v, _CMP_UNORD_Q);
    return _mm256_blendv_epi8(r, _mm256_or_si256(top, _mm256_set1_epi32(0x40)), _mm256_castps_si256(nan));
}

static TAVX void to_bf16_avx2(const float *x, size_t m, size_t K, size_t Kh, uint16_t *h) {
    for (size_t i = 0; i < m; i++) {
        const float *r = x + i * K;
        uint16_t *hr = h + i * Kh;
        size_t k = 0;
        for (; k + 16 <= K; k += 16) {
            /* values fit 16 bits, so the saturating pack is exact; it works
            ** within 128-bit lanes, hence the final permute */
            __m256i v = _mm256_packus_epi32(bf16x8_avx2(_mm256_loadu_ps(r + k)), bf16x8_avx2(_mm256_loadu_ps(r + k + 8)));
            _mm256_storeu_si256((__m256i *)(void *)(hr + k), _mm256_permute4x64_epi64(v, 0xd8));
        }
        for (; k < K; k++) hr[k] = ds__f32_to_bf16(r[k]);
        for (; k < Kh; k++) hr[k] = 0;
    }
}

static const ds__gemm_kernels g_avx2 = { "avx2", f32_avx2, i8_avx2, quant_avx2, bf16_avx2, to_bf16_avx2, "avx2" };
const ds__gemm_kernels *ds__gemm_kernels_avx2(void) {
    unsigned f = ds__cpu_features();
    return (f & DS_CPU_AVX2) && (f & DS_CPU_FMA) ? &g_avx2 : NULL;
}

/* ---- AVX-512 VNNI (256-bit, EVEX): vpdpbusd does the 4-term u8 x s8 dot
** product and the int32 accumulate in one instruction, without the int16
** intermediate, on the same packed layout. (Not run on the build host,
** which has no AVX-512; t_model checks it against the twin where present.) */
#define TVNNI DS_TARGET("avx2,fma,avx512f,avx512vl,avx512vnni")
#define MADD_VNNI(acc, xb, w) _mm256_dpbusd_epi32((acc), (xb), (w))
I8_TILE(vnni_tile1, TVNNI, MADD_VNNI, 1, 0)
I8_TILE(vnni_tile2, TVNNI, MADD_VNNI, 2, 0)
I8_TILE(vnni_tile3, TVNNI, MADD_VNNI, 3, 0)
I8_TILE(vnni_tile4, TVNNI, MADD_VNNI, 4, 0)
I8_TILE(vnni_tile5, TVNNI, MADD_VNNI, 5, 0)
I8_TILE(vnni_tile6, TVNNI, MADD_VNNI, 6, 0)
I8_DRIVER(i8_vnni, TVNNI, vnni_tile)

static const ds__gemm_kernels g_vnni = { "avx512vnni", f32_avx2, i8_vnni, quant_avx2, bf16_avx2, to_bf16_avx2, "avx2" };
const ds__gemm_kernels *ds__gemm_kernels_vnni(void) {
    unsigned f = ds__cpu_features(), need = DS_CPU_AVX2 | DS_CPU_FMA | DS_CPU_AVX512F | DS_CPU_AVX512VL |
                                            DS_CPU_AVX512VNNI;
    return (f & need) == need ? &g_vnni : NULL;
}

/* ---- AVX-512 f32 ------------------------------------------------------------
** The same 16-column panels, one zmm per panel row. A tile is R <= 12 rows
** x 2 adjacent panels (32 columns): 24 accumulators plus 2 weight vectors
** of the 32 zmm registers; each k step is 24 FMAs against 2 panel loads and
** R broadcasts (folded into the FMAs as {1to16} operands), so the two FMA
** pipes, not the loads, bound it. An odd last panel of a range runs as
** 1-panel tiles. Column tails use masked loads and stores. Blocks of rows
** and k as in f32_avx2. */
#define TZ DS_TARGET("avx2,fma,avx512f")
#define Z_MR 12
#define Z_MC 264       /* a multiple of 12 */

static inline TZ __m512 act512(__m512 v, int act) {
    /* lane for lane the AVX2 GELU's bits (vmath.h), in one pass */
    if (act == DS_GEMM_ACT_GELU) return ds__gelu512(v);
    if (act == DS_GEMM_ACT_RELU) return _mm512_max_ps(v, _mm512_setzero_ps());
    return v;
}

/* acc + (bias or C), activation, store: nr columns of one panel (mask). */
static inline TZ void z_store(__m512 acc, float *cr, const float *bias, __mmask16 mk, int first, int act) {
    __m512 a = first ? _mm512_loadu_ps(bias) : _mm512_maskz_loadu_ps(mk, cr);
    _mm512_mask_storeu_ps(cr, mk, act512(_mm512_add_ps(acc, a), act));
}

/* NP panels (1 or 2) at P and P + pstride; nr columns valid in the last. */
#define Z_TILE(R, NP)                                                                                     \
    static TZ void z_tile##R##_##NP(const float *A, size_t lda, const float *P, size_t pstride, size_t kc, \
                                    float *C, size_t ldc, size_t nr, int first, const float *bias, int act) { \
        __m512 c0[R], c1[R];                                                                              \
        const float *a[R];                                                                                \
        const float *P1 = P + pstride;                                                                    \
        _Pragma("GCC unroll 12") for (int r = 0; r < R; r++) {                                            \
            c0[r] = c1[r] = _mm512_setzero_ps();                                                          \
            a[r] = A + (size_t)r * lda;                                                                   \
        }                                                                                                 \
        for (size_t k = 0; k < kc; k++) {                                                                 \
            __m512 b0 = _mm512_load_ps(P + k * DS_GEMM_NR);                                               \
            __m512 b1 = NP == 2 ? _mm512_load_ps(P1 + k * DS_GEMM_NR) : b0;                               \
            _Pragma("GCC unroll 12") for (int r = 0; r < R; r++) {                                        \
                __m512 av = _mm512_set1_ps(a[r][k]);                                                      \
                c0[r] = _mm512_fmadd_ps(av, b0, c0[r]);                                                   \
                if (NP == 2) c1[r] = _mm512_fmadd_ps(av, b1, c1[r]);                                      \
            }                                                                                             \
        }                                                                                                 \
        __mmask16 full = 0xffff, last = (__mmask16)((1u << nr) - 1);                                      \
        _Pragma("GCC unroll 12") for (int r = 0; r < R; r++) {                                            \
            float *cr = C + (size_t)r * ldc;                                                              \
            if (NP == 2) {                                                                                \
                z_store(c0[r], cr, bias, full, first, act);                                               \
                z_store(c1[r], cr + DS_GEMM_NR, bias + DS_GEMM_NR, last, first, act);                     \
            } else {                                                                                      \
                z_store(c0[r], cr, bias, last, first, act);                                               \
            }                                                                                             \
        }                                                                                                 \
    }
#define Z_TILES(NP)                                                                                       \
    Z_TILE(1, NP) Z_TILE(2, NP) Z_TILE(3, NP) Z_TILE(4, NP) Z_TILE(5, NP) Z_TILE(6, NP) Z_TILE(7, NP)    \
    Z_TILE(8, NP) Z_TILE(9, NP) Z_TILE(10, NP) Z_TILE(11, NP) Z_TILE(12, NP)
Z_TILES(1)
Z_TILES(2)

typedef void (*z_tile_fn)(const float *, size_t, const float *, size_t, size_t, float *, size_t, size_t, int,
                          const float *, int);
static const z_tile_fn z_tiles[2][Z_MR + 1] = {
    { NULL, z_tile1_1, z_tile2_1, z_tile3_1, z_tile4_1, z_tile5_1, z_tile6_1, z_tile7_1, z_tile8_1, z_tile9_1,
      z_tile10_1, z_tile11_1, z_tile12_1 },
    { NULL, z_tile1_2, z_tile2_2, z_tile3_2, z_tile4_2, z_tile5_2, z_tile6_2, z_tile7_2, z_tile8_2, z_tile9_2,
      z_tile10_2, z_tile11_2, z_tile12_2 },
};

static TZ void f32_avx512(const float *x, size_t m, const ds__pack *W, size_t p0, size_t p1, int act, float *y) {
    size_t K = W->K, n = W->n;
    p1 = DS_MIN(p1, W->panels);
    for (size_t i0 = 0; i0 < m; i0 += Z_MC) {
        size_t i1 = DS_MIN(m, i0 + Z_MC);
        for (size_t k0 = 0; k0 < K; k0 += KC) {
            size_t kc = DS_MIN((size_t)KC, K - k0);
            int first = k0 == 0, a = k0 + kc == K ? act : DS_GEMM_ACT_NONE;
            for (size_t p = p0; p < p1;) {
                size_t np = p + 1 < p1 ? 2 : 1, c = p * DS_GEMM_NR;
                /* columns valid in the tile's last panel */
                size_t nr = DS_MIN((size_t)DS_GEMM_NR, n - (c + (np - 1) * DS_GEMM_NR));
                const float *P = W->f + (p * K + k0) * DS_GEMM_NR;
                for (size_t i = i0; i < i1;) {
                    size_t r = DS_MIN((size_t)Z_MR, i1 - i);
                    z_tiles[np - 1][r](x + i * K + k0, K, P, K * DS_GEMM_NR, kc, y + i * n + c, n, nr, first,
                                       W->bias + c, a);
                    i += r;
                }
                p += np;
            }
        }
    }
}

/* ---- bf16, AVX512-BF16 -----------------------------------------------------
** vdpbf16ps: per 32-bit lane, acc += x[k+1] w[k+1] + x[k] w[k] for one
** column, x's pair broadcast from memory. Tiles as z_tile: R <= 12 rows x
** 2 panels, 24 accumulators; per pair of k, 2 panel loads (64 bytes each)
** serve 24 instructions, each 32 products. Partial sums over blocks of
** BH_KC values of k go through y, as in bf16_avx2, so all variants add in
** the same order. (The AMX-BF16 tile kernel is not written: no host here
** has AMX to run it; see docs/benchmarks.md.) */
#define TBF DS_TARGET("avx2,fma,avx512f,avx512bf16")

static inline TBF void zb_store(__m512 acc, float *cr, const float *bias, __mmask16 mk, int last, int act) {
    if (last) acc = act512(_mm512_add_ps(acc, _mm512_loadu_ps(bias)), act);
    _mm512_mask_storeu_ps(cr, mk, acc);
}

#define ZB_TILE(R, NP)                                                                                    \
    static TBF void zb_tile##R##_##NP(const uint16_t *A, size_t lda, const uint16_t *P, size_t pstride,   \
                                      size_t kp, float *C, size_t ldc, size_t nr, int first, int last,    \
                                      const float *bias, int act) {                                       \
        __m512 c0[R], c1[R];                                                                              \
        const uint16_t *a[R];                                                                             \
        const uint16_t *P1 = P + pstride;                                                                 \
        __mmask16 mlast = (__mmask16)((1u << nr) - 1), m0 = NP == 2 ? (__mmask16)0xffff : mlast;          \
        _Pragma("GCC unroll 12") for (int r = 0; r < R; r++) {                                            \
            a[r] = A + (size_t)r * lda;                                                                   \
            c0[r] = first ? _mm512_setzero_ps() : _mm512_maskz_loadu_ps(m0, C + (size_t)r * ldc);         \
            c1[r] = first || NP == 1 ? _mm512_setzero_ps()                                                \
                                     : _mm512_maskz_loadu_ps(mlast, C + (size_t)r * ldc + DS_GEMM_NR);    \
        }                                                                                                 \
        for (size_t k = 0; k < kp; k++) {                                                                 \
            __m512bh b0 = (__m512bh)_mm512_load_si512((const void *)(P + k * 2 * DS_GEMM_NR));            \
            __m512bh b1 = NP == 2 ? (__m512bh)_mm512_load_si512((const void *)(P1 + k * 2 * DS_GEMM_NR)) : b0; \
            _Pragma("GCC unroll 12") for (int r = 0; r < R; r++) {                                        \
                int32_t pr;                                                                               \
                memcpy(&pr, a[r] + 2 * k, sizeof pr);                                                     \
                __m512bh av = (__m512bh)_mm512_set1_epi32(pr);                                            \
                c0[r] = _mm512_dpbf16_ps(c0[r], av, b0);                                                  \
                if (NP == 2) c1[r] = _mm512_dpbf16_ps(c1[r], av, b1);                                     \
            }                                                                                             \
        }                                                                                                 \
        _Pragma("GCC unroll 12") for (int r = 0; r < R; r++) {                                            \
            float *cr = C + (size_t)r * ldc;                                                              \
            zb_store(c0[r], cr, bias, m0, last, act);                                                     \
            if (NP == 2) zb_store(c1[r], cr + DS_GEMM_NR, bias + DS_GEMM_NR, mlast, last, act);           \
        }                                                                                                 \
    }
#define ZB_TILES(NP)                                                                                      \
    ZB_TILE(1, NP) ZB_TILE(2, NP) ZB_TILE(3, NP) ZB_TILE(4, NP) ZB_TILE(5, NP) ZB_TILE(6, NP)             \
    ZB_TILE(7, NP) ZB_TILE(8, NP) ZB_TILE(9, NP) ZB_TILE(10, NP) ZB_TILE(11, NP) ZB_TILE(12, NP)
ZB_TILES(1)
ZB_TILES(2)

typedef void (*zb_tile_fn)(const uint16_t *, size_t, const uint16_t *, size_t, size_t, float *, size_t, size_t, int,
                           int, const float *, int);
static const zb_tile_fn zb_tiles[2][Z_MR + 1] = {
    { NULL, zb_tile1_1, zb_tile2_1, zb_tile3_1, zb_tile4_1, zb_tile5_1, zb_tile6_1, zb_tile7_1, zb_tile8_1,
      zb_tile9_1, zb_tile10_1, zb_tile11_1, zb_tile12_1 },
    { NULL, zb_tile1_2, zb_tile2_2, zb_tile3_2, zb_tile4_2, zb_tile5_2, zb_tile6_2, zb_tile7_2, zb_tile8_2,
      zb_tile9_2, zb_tile10_2, zb_tile11_2, zb_tile12_2 },
};

static TBF void bf16_avx512(const uint16_t *xh, size_t m, const ds__pack *W, size_t p0, size_t p1, int act, float *y) {
    size_t Kh = W->Kh, n = W->n;
    p1 = DS_MIN(p1, W->panels);
    for (size_t i0 = 0; i0 < m; i0 += Z_MC) {
        size_t i1 = DS_MIN(m, i0 + Z_MC);
        for (size_t k0 = 0; k0 < Kh; k0 += BH_KC) {
            size_t kc = DS_MIN((size_t)BH_KC, Kh - k0);
            int first = k0 == 0, last = k0 + kc == Kh;
            for (size_t p = p0; p < p1;) {
                size_t np = p + 1 < p1 ? 2 : 1, c = p * DS_GEMM_NR;
                size_t nr = DS_MIN((size_t)DS_GEMM_NR, n - (c + (np - 1) * DS_GEMM_NR));
                const uint16_t *P = W->h + (p * Kh + k0) * DS_GEMM_NR;
                for (size_t i = i0; i < i1;) {
                    size_t r = DS_MIN((size_t)Z_MR, i1 - i);
                    zb_tiles[np - 1][r](xh + i * Kh + k0, Kh, P, Kh * DS_GEMM_NR, kc / 2, y + i * n + c, n, nr,
                                        first, last, W->bias + c, act);
                    i += r;
                }
                p += np;
            }
        }
    }
}

/* vcvtneps2bf16 rounds as ds__f32_to_bf16 (checked bit for bit in t_model) */
static TBF void to_bf16_avx512(const float *x, size_t m, size_t K, size_t Kh, uint16_t *h) {
    for (size_t i = 0; i < m; i++) {
        const float *r = x + i * K;
        uint16_t *hr = h + i * Kh;
        size_t k = 0;
        for (; k + 16 <= K; k += 16)
            _mm256_storeu_si256((__m256i *)(void *)(hr + k), (__m256i)_mm512_cvtneps_pbh(_mm512_loadu_ps(r + k)));
        for (; k < K; k++) hr[k] = ds__f32_to_bf16(r[k]);
        for (; k < Kh; k++) hr[k] = 0;
    }
}

/* every combination of the int8 (VNNI or not) and bf16 (AVX512-BF16 or
** not) kernels next to the AVX-512F f32 one */
static const ds__gemm_kernels g_avx512[2][2] = {
    { { "avx512", f32_avx512, i8_avx2, quant_avx2, bf16_avx2, to_bf16_avx2, "avx2" },
      { "avx512", f32_avx512, i8_avx2, quant_avx2, bf16_avx512, to_bf16_avx512, "avx512bf16" } },
    { { "avx512", f32_avx512, i8_vnni, quant_avx2, bf16_avx2, to_bf16_avx2, "avx2" },
      { "avx512", f32_avx512, i8_vnni, quant_avx2, bf16_avx512, to_bf16_avx512, "avx512bf16" } },
};
const ds__gemm_kernels *ds__gemm_kernels_avx512(void) {
    unsigned f = ds__cpu_features(), need = DS_CPU_AVX2 | DS_CPU_FMA | DS_CPU_AVX512F;
    if ((f & need) != need) return NULL;
    int vnni = (f & DS_CPU_AVX512VL) && (f & DS_CPU_AVX512VNNI), bf = (f & DS_CPU_AVX512BF16) != 0;
    return &g_avx512[vnni][bf];
}
#else
const ds__gemm_kernels *ds__gemm_kernels_avx2(void) { return NULL; }
const ds__gemm_kernels *ds__gemm_kernels_vnni(void) { return NULL; }
const ds__gemm_kernels *ds__gemm_kernels_avx512(void) { return NULL; }
#endif

const ds__gemm_kernels *ds__gemm_kernels_for(const ds_env *env) {
    const ds__kernels *k = env ? env->kernels : NULL;
    if (k != NULL && k->level < 1) return &g_scalar;
    const ds__gemm_kernels *g = k == NULL || k->level >= 2 ? ds__gemm_kernels_avx512() : NULL;
    if (g == NULL) g = ds__gemm_kernels_avx2();
    return g ? g : &g_scalar;
}
