/* k_x86_avx2.c -- AVX2 + FMA kernels. Compiled with target attributes, chosen
** at run time only when cpuid says the CPU (and OS) support them. */
#include "simd/simd.h"

#if defined(__x86_64__) && !defined(DS_NO_SIMD)
#include <immintrin.h>

DS_TARGET("avx2,fma")
static float hsum256(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
}

/* Four accumulators hide the FMA latency (4-cycle latency, 2 per cycle);
** the 8-wide remainder and the scalar tail follow. */
DS_TARGET("avx2,fma")
static float dot_f32(const float *a, const float *b, size_t n) {
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps(), s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
        s2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), s2);
        s3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), s3);
    }
    for (; i + 8 <= n; i += 8) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    float s = hsum256(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}

DS_TARGET("avx2,fma")
static float l2sq_f32(const float *a, const float *b, size_t n) {
    __m256 s0 = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 d = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
        s0 = _mm256_fmadd_ps(d, d, s0);
    }
    float s = hsum256(s0);
    for (; i < n; i++) {
        float d = a[i] - b[i];
        s += d * d;
    }
    return s;
}

/* f16 storage: F16C converts 8 halves per instruction; the tail goes through
** the exact scalar conversion. */
DS_TARGET("avx2,fma,f16c")
static float dot_f16(const float *q, const uint16_t *x, size_t n) {
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256 x0 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)(x + i)));
        __m256 x1 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)(x + i + 8)));
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), x0, s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i + 8), x1, s1);
    }
    for (; i + 8 <= n; i += 8)
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)(x + i))), s0);
    float s = hsum256(_mm256_add_ps(s0, s1));
    for (; i < n; i++) s += q[i] * ds__f16_to_f32(x[i]);
    return s;
}

DS_TARGET("avx2,fma,f16c")
static float l2sq_f16(const float *q, const uint16_t *x, size_t n) {
    __m256 s0 = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 d = _mm256_sub_ps(_mm256_loadu_ps(q + i), _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)(x + i))));
        s0 = _mm256_fmadd_ps(d, d, s0);
    }
    float s = hsum256(s0);
    for (; i < n; i++) {
        float d = q[i] - ds__f16_to_f32(x[i]);
        s += d * d;
    }
    return s;
}

DS_TARGET("avx2,f16c")
static void f16_to_f32(const uint16_t *x, float *out, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)(x + i))));
    for (; i < n; i++) out[i] = ds__f16_to_f32(x[i]);
}

DS_TARGET("avx2,f16c")
static void f32_to_f16(const float *x, uint16_t *out, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(void *)(out + i), _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
    for (; i < n; i++) out[i] = ds__f32_to_f16(x[i]);
}

/* int8: sign-extend to int16 and multiply-add pairs (vpmaddwd); exact. */
DS_TARGET("avx2")
static int32_t dot_i8(const int8_t *a, const int8_t *b, size_t n) {
    __m256i s = _mm256_setzero_si256();
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256i va = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(const void *)(a + i)));
        __m256i vb = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(const void *)(b + i)));
        s = _mm256_add_epi32(s, _mm256_madd_epi16(va, vb));
    }
    __m128i t = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
    t = _mm_add_epi32(t, _mm_shuffle_epi32(t, 0x4e));
    t = _mm_add_epi32(t, _mm_shuffle_epi32(t, 0xb1));
    int32_t r = _mm_cvtsi128_si32(t);
    for (; i < n; i++) r += (int32_t)a[i] * b[i];
    return r;
}

DS_TARGET("avx2")
static int32_t l2sq_i8(const int8_t *a, const int8_t *b, size_t n) {
    __m256i s = _mm256_setzero_si256();
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256i va = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(const void *)(a + i)));
        __m256i vb = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(const void *)(b + i)));
        __m256i d = _mm256_sub_epi16(va, vb);           /* |d| <= 255: fits int16 */
        s = _mm256_add_epi32(s, _mm256_madd_epi16(d, d));
    }
    __m128i t = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
    t = _mm_add_epi32(t, _mm_shuffle_epi32(t, 0x4e));
    t = _mm_add_epi32(t, _mm_shuffle_epi32(t, 0xb1));
    int32_t r = _mm_cvtsi128_si32(t);
    for (; i < n; i++) {
        int32_t d = (int32_t)a[i] - b[i];
        r += d * d;
    }
    return r;
}

/* Four rows share each query load; the next four rows are prefetched. */
/* Four rows against one query: the query is loaded once per 8 lanes and
** four accumulators stay in registers (shared by the contiguous-rows and the
** scattered-rows kernels). */
DS_TARGET("avx2,fma")
static inline void dot4(const float *q, const float *r0, const float *r1, const float *r2, const float *r3,
                        size_t dim, float *out) {
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps(), s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 8 <= dim; i += 8) {
        __m256 qv = _mm256_loadu_ps(q + i);
        s0 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(r0 + i), s0);
        s1 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(r1 + i), s1);
        s2 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(r2 + i), s2);
        s3 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(r3 + i), s3);
    }
    float t0 = hsum256(s0), t1 = hsum256(s1), t2 = hsum256(s2), t3 = hsum256(s3);
    for (; i < dim; i++) {
        t0 += q[i] * r0[i];
        t1 += q[i] * r1[i];
        t2 += q[i] * r2[i];
        t3 += q[i] * r3[i];
    }
    out[0] = t0;
    out[1] = t1;
    out[2] = t2;
    out[3] = t3;
}

DS_TARGET("avx2,fma")
static void dot_f32_rows(const float *q, const float *rows, size_t stride, size_t n_rows, size_t dim, float *out) {
    size_t r = 0;
    for (; r + 4 <= n_rows; r += 4) {
        const float *r0 = rows + r * stride, *r1 = r0 + stride, *r2 = r1 + stride, *r3 = r2 + stride;
        if (r + 8 <= n_rows)
            for (size_t j = 0; j < dim; j += 16) {
                _mm_prefetch((const char *)(r0 + 4 * stride + j), _MM_HINT_T0);
                _mm_prefetch((const char *)(r1 + 4 * stride + j), _MM_HINT_T0);
                _mm_prefetch((const char *)(r2 + 4 * stride + j), _MM_HINT_T0);
                _mm_prefetch((const char *)(r3 + 4 * stride + j), _MM_HINT_T0);
            }
        dot4(q, r0, r1, r2, r3, dim, out + r);
    }
    for (; r < n_rows; r++) out[r] = dot_f32(q, rows + r * stride, dim);
}

DS_TARGET("avx2,fma")
static void dot_f32_ptrs(const float *q, const float *const *rows, size_t n_rows, size_t dim, float *out) {
    size_t r = 0;
    for (; r + 4 <= n_rows; r += 4) {
        const float *r0 = rows[r], *r1 = rows[r + 1], *r2 = rows[r + 2], *r3 = rows[r + 3];
        dot4(q, r0, r1, r2, r3, dim, out + r);
    }
    for (; r < n_rows; r++) out[r] = dot_f32(q, rows[r], dim);
}

static const ds__kernels table = {
    .name = "avx2",
    .level = 1,
    .dot_f32 = dot_f32,
    .l2sq_f32 = l2sq_f32,
    .dot_f16 = dot_f16,
    .l2sq_f16 = l2sq_f16,
    .f16_to_f32 = f16_to_f32,
    .f32_to_f16 = f32_to_f16,
    .dot_i8 = dot_i8,
    .l2sq_i8 = l2sq_i8,
    .dot_f32_rows = dot_f32_rows,
    .dot_f32_ptrs = dot_f32_ptrs,
};

const ds__kernels *ds__kernels_avx2(void) {
    unsigned need = DS_CPU_AVX2 | DS_CPU_FMA | DS_CPU_F16C;
    return (ds__cpu_features() & need) == need ? &table : NULL;
}
#else
const ds__kernels *ds__kernels_avx2(void) { return NULL; }
#endif
