/* k_pqadc.c -- PQ asymmetric-distance lookup-and-sum (docs/format.md §3.3).
**
** For each 8-bit code c of m bytes: out = sum_j table[j*256 + c[j]]. The
** AVX-512 variant widens 16 sub-codes to 32-bit indices, adds the row offsets
** j*256 and gathers 16 table entries at once; tails are masked, so any m
** works. Summation order differs from the scalar twin: tests compare with a
** relative tolerance. The 4-bit layout (two sub-codes per byte) only has the
** C version for now.
**
** Thread: pure functions.
*/
#include "simd/k_quant.h"
#include "simd/simd.h"

#include <stdlib.h>

static void adc8_scalar(const float *table, size_t m, const uint8_t *codes, size_t n, float *out) {
    for (size_t i = 0; i < n; i++) {
        const uint8_t *c = codes + i * m;
        float s = 0;
        for (size_t j = 0; j < m; j++) s += table[j * 256 + c[j]];
        out[i] = s;
    }
}

void ds__adc4_scalar(const float *table, size_t m, const uint8_t *codes, size_t n, float *out) {
    size_t cs = (m + 1) / 2;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *c = codes + i * cs;
        float s = 0;
        for (size_t j = 0; j < m; j++) s += table[j * 16 + ((c[j >> 1] >> ((j & 1) * 4)) & 15)];
        out[i] = s;
    }
}

ds__adc8_fn ds__adc8_scalar(void) { return adc8_scalar; }

#if defined(__x86_64__) && !defined(DS_NO_SIMD)
#include <immintrin.h>

DS_TARGET("avx512f,avx512bw,avx512vl")
static void adc8_avx512(const float *table, size_t m, const uint8_t *codes, size_t n, float *out) {
    const __m512i lane = _mm512_setr_epi32(0, 256, 512, 768, 1024, 1280, 1536, 1792, 2048, 2304, 2560, 2816,
                                           3072, 3328, 3584, 3840);
    size_t full = m / 16, tail = m % 16;
    __mmask16 tm = (__mmask16)((1u << tail) - 1);
    for (size_t i = 0; i < n; i++) {
        const uint8_t *c = codes + i * m;
        __m512 acc = _mm512_setzero_ps();
        const float *t = table;
        for (size_t b = 0; b < full; b++, c += 16, t += 16 * 256) {
            __m512i idx = _mm512_add_epi32(_mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(const void *)c)), lane);
            acc = _mm512_add_ps(acc, _mm512_i32gather_ps(idx, t, 4));
        }
        if (tail) {
            __m128i raw = _mm_maskz_loadu_epi8(tm, c);
            __m512i idx = _mm512_add_epi32(_mm512_cvtepu8_epi32(raw), lane);
            acc = _mm512_add_ps(acc, _mm512_mask_i32gather_ps(_mm512_setzero_ps(), tm, idx, t, 4));
        }
        out[i] = _mm512_reduce_add_ps(acc);
    }
}
#endif

ds__adc8_fn ds__adc8_best(unsigned level) {
#if defined(__x86_64__) && !defined(DS_NO_SIMD)
    unsigned f = ds__cpu_features();
    const char *env = getenv("DS_SIMD");
    if (env != NULL && strcmp(env, "scalar") == 0) return adc8_scalar;
    if (level >= 2 && (f & DS_CPU_AVX512F) && (f & DS_CPU_AVX512BW) && (f & DS_CPU_AVX512VL)) return adc8_avx512;
#else
    (void)level;
#endif
    return adc8_scalar;
}
