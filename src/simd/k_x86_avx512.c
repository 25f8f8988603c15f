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

static const ds__kernels table = {
    .name = "avx512",
    .level = 2,
    .dot_f32 = dot_f32,
    .l2sq_f32 = l2sq_f32,
};

const ds__kernels *ds__kernels_avx512(void) {
    unsigned need = DS_CPU_AVX512F | DS_CPU_AVX512BW | DS_CPU_AVX512VL | DS_CPU_AVX2 | DS_CPU_FMA;
    return (ds__cpu_features() & need) == need ? &table : NULL;
}
#else
const ds__kernels *ds__kernels_avx512(void) { return NULL; }
#endif
