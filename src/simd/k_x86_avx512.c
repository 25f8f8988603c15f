/* k_x86_avx512.c -- AVX-512 kernels (F + BW + VL; VNNI and VPOPCNTDQ where
** a kernel needs them). Tails use masked loads, so every length is handled. */
#include "simd/simd.h"

#if defined(__x86_64__) && !defined(DS_NO_SIMD)
#include <immintrin.h>

DS_TARGET("avx512f,avx512bw,avx512vl")
static float dot_f32(const float *a, const float *b, size_t n) {
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
        s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), s1);
    }
    for (; i + 16 <= n; i += 16) s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
    if (i < n) {
        __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), s1);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

DS_TARGET("avx512f,avx512bw,avx512vl")
static float l2sq_f32(const float *a, const float *b, size_t n) {
    __m512 s0 = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 d = _mm512_sub_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
        s0 = _mm512_fmadd_ps(d, d, s0);
    }
    if (i < n) {
        __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        __m512 d = _mm512_sub_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i));
        s0 = _mm512_fmadd_ps(d, d, s0);
    }
    return _mm512_reduce_add_ps(s0);
}

#define ISA512 "avx512f,avx512bw,avx512vl"

static inline __mmask16 tail16(size_t r) { return (__mmask16)((1u << r) - 1); }

DS_TARGET(ISA512 ",f16c")
static float dot_f16(const float *q, const uint16_t *x, size_t n) {
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m512 x0 = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(const void *)(x + i)));
        __m512 x1 = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(const void *)(x + i + 16)));
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(q + i), x0, s0);
        s1 = _mm512_fmadd_ps(_mm512_loadu_ps(q + i + 16), x1, s1);
    }
    for (; i < n; i += 16) {
        __mmask16 m = n - i >= 16 ? (__mmask16)0xffff : tail16(n - i);
        __m512 xv = _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, x + i));
        s0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, q + i), xv, s0);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

DS_TARGET(ISA512 ",f16c")
static float l2sq_f16(const float *q, const uint16_t *x, size_t n) {
    __m512 s0 = _mm512_setzero_ps();
    for (size_t i = 0; i < n; i += 16) {
        __mmask16 m = n - i >= 16 ? (__mmask16)0xffff : tail16(n - i);
        __m512 d = _mm512_sub_ps(_mm512_maskz_loadu_ps(m, q + i), _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, x + i)));
        s0 = _mm512_fmadd_ps(d, d, s0);
    }
    return _mm512_reduce_add_ps(s0);
}

DS_TARGET(ISA512 ",f16c")
static void f16_to_f32(const uint16_t *x, float *out, size_t n) {
    for (size_t i = 0; i < n; i += 16) {
        __mmask16 m = n - i >= 16 ? (__mmask16)0xffff : tail16(n - i);
        _mm512_mask_storeu_ps(out + i, m, _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, x + i)));
    }
}

DS_TARGET(ISA512 ",f16c")
static void f32_to_f16(const float *x, uint16_t *out, size_t n) {
    for (size_t i = 0; i < n; i += 16) {
        __mmask16 m = n - i >= 16 ? (__mmask16)0xffff : tail16(n - i);
        __m256i h = _mm512_cvtps_ph(_mm512_maskz_loadu_ps(m, x + i), _MM_FROUND_TO_NEAREST_INT);
        _mm256_mask_storeu_epi16(out + i, m, h);
    }
}

static inline __mmask64 tail64(size_t r) { return r >= 64 ? ~(__mmask64)0 : (((__mmask64)1 << r) - 1); }

/* Without VNNI: sign-extend 32 bytes to int16 and vpmaddwd; exact. */
DS_TARGET(ISA512)
static int32_t dot_i8(const int8_t *a, const int8_t *b, size_t n) {
    __m512i s = _mm512_setzero_si512();
    for (size_t i = 0; i < n; i += 32) {
        __mmask32 m = (__mmask32)tail64(n - i >= 32 ? 32 : n - i);
        __m512i va = _mm512_cvtepi8_epi16(_mm256_maskz_loadu_epi8(m, a + i));
        __m512i vb = _mm512_cvtepi8_epi16(_mm256_maskz_loadu_epi8(m, b + i));
        s = _mm512_add_epi32(s, _mm512_madd_epi16(va, vb));
    }
    return _mm512_reduce_add_epi32(s);
}

/* VNNI: vpdpbusd multiplies unsigned by signed bytes. With a' = a ^ 0x80 =
** a + 128 (as u8), a.b = a'.b - 128 * sum(b); sum(b) comes from a second
** vpdpbusd against all-ones. Per lane each step adds at most 4 * 255 * 128,
** so int32 cannot overflow for n <= 65536. */
DS_TARGET(ISA512 ",avx512vnni")
static int32_t dot_i8_vnni(const int8_t *a, const int8_t *b, size_t n) {
    __m512i acc = _mm512_setzero_si512(), bsum = _mm512_setzero_si512();
    const __m512i flip = _mm512_set1_epi8((char)0x80), ones = _mm512_set1_epi8(1);
    for (size_t i = 0; i < n; i += 64) {
        __mmask64 m = tail64(n - i);
        __m512i va = _mm512_xor_si512(_mm512_maskz_loadu_epi8(m, a + i), flip);
        __m512i vb = _mm512_maskz_loadu_epi8(m, b + i);      /* masked b lanes are 0: no contribution */
        acc = _mm512_dpbusd_epi32(acc, va, vb);
        bsum = _mm512_dpbusd_epi32(bsum, ones, vb);
    }
    return _mm512_reduce_add_epi32(_mm512_sub_epi32(acc, _mm512_slli_epi32(bsum, 7)));
}

DS_TARGET(ISA512)
static int32_t l2sq_i8(const int8_t *a, const int8_t *b, size_t n) {
    __m512i s = _mm512_setzero_si512();
    for (size_t i = 0; i < n; i += 32) {
        __mmask32 m = (__mmask32)tail64(n - i >= 32 ? 32 : n - i);
        __m512i d = _mm512_sub_epi16(_mm512_cvtepi8_epi16(_mm256_maskz_loadu_epi8(m, a + i)),
                                     _mm512_cvtepi8_epi16(_mm256_maskz_loadu_epi8(m, b + i)));
        s = _mm512_add_epi32(s, _mm512_madd_epi16(d, d));
    }
    return _mm512_reduce_add_epi32(s);
}

/* Four rows against one query, the query loaded once per 16 lanes and the
** tail masked (shared by the contiguous-rows and scattered-rows kernels). */
DS_TARGET(ISA512)
static inline void dot4(const float *q, const float *r0, const float *r1, const float *r2, const float *r3,
                        size_t dim, float *out) {
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps(), s2 = _mm512_setzero_ps(), s3 = _mm512_setzero_ps();
    for (size_t i = 0; i < dim; i += 16) {
        __mmask16 m = dim - i >= 16 ? (__mmask16)0xffff : tail16(dim - i);
        __m512 qv = _mm512_maskz_loadu_ps(m, q + i);
        s0 = _mm512_fmadd_ps(qv, _mm512_maskz_loadu_ps(m, r0 + i), s0);
        s1 = _mm512_fmadd_ps(qv, _mm512_maskz_loadu_ps(m, r1 + i), s1);
        s2 = _mm512_fmadd_ps(qv, _mm512_maskz_loadu_ps(m, r2 + i), s2);
        s3 = _mm512_fmadd_ps(qv, _mm512_maskz_loadu_ps(m, r3 + i), s3);
    }
    out[0] = _mm512_reduce_add_ps(s0);
    out[1] = _mm512_reduce_add_ps(s1);
    out[2] = _mm512_reduce_add_ps(s2);
    out[3] = _mm512_reduce_add_ps(s3);
}

/* Four rows share each query load (the query stays in registers, rows stream
** once); the next block is prefetched. */
DS_TARGET(ISA512)
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

DS_TARGET(ISA512)
static void dot_f32_ptrs(const float *q, const float *const *rows, size_t n_rows, size_t dim, float *out) {
    size_t r = 0;
    for (; r + 4 <= n_rows; r += 4) {
        const float *r0 = rows[r], *r1 = rows[r + 1], *r2 = rows[r + 2], *r3 = rows[r + 3];
        dot4(q, r0, r1, r2, r3, dim, out + r);
    }
    for (; r < n_rows; r++) out[r] = dot_f32(q, rows[r], dim);
}

static const ds__kernels table = {
    .name = "avx512",
    .level = 2,
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

static const ds__kernels table_vnni = {
    .name = "avx512",
    .level = 2,
    .dot_f32 = dot_f32,
    .l2sq_f32 = l2sq_f32,
    .dot_f16 = dot_f16,
    .l2sq_f16 = l2sq_f16,
    .f16_to_f32 = f16_to_f32,
    .f32_to_f16 = f32_to_f16,
    .dot_i8 = dot_i8_vnni,
    .l2sq_i8 = l2sq_i8,
    .dot_f32_rows = dot_f32_rows,
    .dot_f32_ptrs = dot_f32_ptrs,
};

int32_t ds__dot_i8_avx512_novnni(const int8_t *a, const int8_t *b, size_t n) { return dot_i8(a, b, n); }

const ds__kernels *ds__kernels_avx512(void) {
    unsigned need = DS_CPU_AVX512F | DS_CPU_AVX512BW | DS_CPU_AVX512VL | DS_CPU_AVX2 | DS_CPU_FMA | DS_CPU_F16C;
    unsigned f = ds__cpu_features();
    if ((f & need) != need) return NULL;
    return (f & DS_CPU_AVX512VNNI) ? &table_vnni : &table;
}
#else
const ds__kernels *ds__kernels_avx512(void) { return NULL; }
#endif
