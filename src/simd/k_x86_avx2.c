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

/* Two accumulators hide the FMA latency; the tail is done in scalar code. */
DS_TARGET("avx2,fma")
static float dot_f32(const float *a, const float *b, size_t n) {
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
    }
    for (; i + 8 <= n; i += 8) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    float s = hsum256(_mm256_add_ps(s0, s1));
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

static const ds__kernels table = {
    .name = "avx2",
    .level = 1,
    .dot_f32 = dot_f32,
    .l2sq_f32 = l2sq_f32,
};

const ds__kernels *ds__kernels_avx2(void) {
    unsigned need = DS_CPU_AVX2 | DS_CPU_FMA;
    return (ds__cpu_features() & need) == need ? &table : NULL;
}
#else
const ds__kernels *ds__kernels_avx2(void) { return NULL; }
#endif
