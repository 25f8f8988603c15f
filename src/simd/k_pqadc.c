/* k_pqadc.c -- PQ asymmetric-distance lookup-and-sum (docs/format.md §3.4).
**
** For each 8-bit code c of m bytes: out = sum_j table[j*256 + c[j]]. The
** AVX-512 variant widens 16 sub-codes to 32-bit indices, adds the row offsets
** j*256 and gathers 16 table entries at once; tails are masked, so any m
** works. Summation order differs from the scalar twin: tests compare with a
** relative tolerance. AVX2 twins (8 lanes) cover hosts without AVX-512, and
** the argmin / nearest-centroid kernels used by k-means and PQ encoding live
** here too. The 4-bit layout (two sub-codes per byte) only has the
** C version for now.
**
** Thread: pure functions.
*/
#include "simd/k_quant.h"
#include "simd/simd.h"

#include <math.h>
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

static uint32_t argmin_scalar(const float *cn, const float *dots, size_t k, float *best) {
    float b = INFINITY;
    uint32_t bi = 0;
    for (size_t c = 0; c < k; c++) {
        float d = cn[c] - 2.0f * dots[c];
        if (d < b) { b = d; bi = (uint32_t)c; }
    }
    *best = b;
    return bi;
}

static uint32_t nearest_scalar(const float *x, const float *cbt, size_t dsub, size_t ksub) {
    float b = INFINITY;
    uint32_t bi = 0;
    for (size_t c = 0; c < ksub; c++) {
        float d = 0;
        for (size_t t = 0; t < dsub; t++) {
            float e = x[t] - cbt[t * ksub + c];
            d += e * e;
        }
        if (d < b) { b = d; bi = (uint32_t)c; }
    }
    return bi;
}

ds__argmin_fn ds__argmin_scalar(void) { return argmin_scalar; }
ds__nearest_fn ds__nearest_scalar(void) { return nearest_scalar; }

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

/* Lane-wise minimum with its index, then a horizontal pass that keeps the
** smallest index among equal minima (the scalar twin's first-wins rule). */
DS_TARGET("avx512f")
static uint32_t finish_argmin(__m512 bv, __m512i bi, float *best) {
    float m = _mm512_reduce_min_ps(bv);
    __mmask16 eq = _mm512_cmp_ps_mask(bv, _mm512_set1_ps(m), _CMP_EQ_OQ);
    uint32_t idx = (uint32_t)_mm512_mask_reduce_min_epu32(eq, bi);
    *best = m;
    return idx;
}

DS_TARGET("avx512f")
static uint32_t argmin_avx512(const float *cn, const float *dots, size_t k, float *best) {
    __m512 bv = _mm512_set1_ps(INFINITY);
    __m512i bi = _mm512_setzero_si512(), idx = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512i step = _mm512_set1_epi32(16);
    const __m512 m2 = _mm512_set1_ps(-2.0f);
    size_t c = 0;
    for (; c + 16 <= k; c += 16) {
        __m512 d = _mm512_fmadd_ps(m2, _mm512_loadu_ps(dots + c), _mm512_loadu_ps(cn + c));
        __mmask16 lt = _mm512_cmp_ps_mask(d, bv, _CMP_LT_OQ);
        bv = _mm512_mask_mov_ps(bv, lt, d);
        bi = _mm512_mask_mov_epi32(bi, lt, idx);
        idx = _mm512_add_epi32(idx, step);
    }
    if (c < k) {
        __mmask16 tm = (__mmask16)((1u << (k - c)) - 1);
        __m512 d = _mm512_fmadd_ps(m2, _mm512_maskz_loadu_ps(tm, dots + c), _mm512_maskz_loadu_ps(tm, cn + c));
        __mmask16 lt = _mm512_mask_cmp_ps_mask(tm, d, bv, _CMP_LT_OQ);
        bv = _mm512_mask_mov_ps(bv, lt, d);
        bi = _mm512_mask_mov_epi32(bi, lt, idx);
    }
    return finish_argmin(bv, bi, best);
}

/* 16 centroids per register, dsub steps each; the argmin as above. */
DS_TARGET("avx512f")
static uint32_t nearest_avx512(const float *x, const float *cbt, size_t dsub, size_t ksub) {
    __m512 bv = _mm512_set1_ps(INFINITY);
    __m512i bi = _mm512_setzero_si512(), idx = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512i step = _mm512_set1_epi32(16);
    for (size_t c = 0; c < ksub; c += 16) {
        __m512 acc = _mm512_setzero_ps();
        for (size_t t = 0; t < dsub; t++) {
            __m512 e = _mm512_sub_ps(_mm512_set1_ps(x[t]), _mm512_loadu_ps(cbt + t * ksub + c));
            acc = _mm512_add_ps(acc, _mm512_mul_ps(e, e));   /* no FMA: bit-identical to the C twin */
        }
        __mmask16 lt = _mm512_cmp_ps_mask(acc, bv, _CMP_LT_OQ);
        bv = _mm512_mask_mov_ps(bv, lt, acc);
        bi = _mm512_mask_mov_epi32(bi, lt, idx);
        idx = _mm512_add_epi32(idx, step);
    }
    float best;
    return finish_argmin(bv, bi, &best);
}

/* ---- AVX2 (8 lanes): the same algorithms ------------------------------- */
DS_TARGET("avx2")
static uint32_t finish_argmin8(__m256 bv, __m256i bi, float *best) {
    float v[8];
    uint32_t ix[8];
    _mm256_storeu_ps(v, bv);
    _mm256_storeu_si256((__m256i *)(void *)ix, bi);
    float m = v[0];
    for (int i = 1; i < 8; i++) m = v[i] < m ? v[i] : m;
    uint32_t idx = UINT32_MAX;
    for (int i = 0; i < 8; i++)
        if (v[i] == m && ix[i] < idx) idx = ix[i];
    if (idx == UINT32_MAX) idx = 0;            /* all lanes NaN or +inf: the C twin's answer */
    *best = m;
    return idx;
}

DS_TARGET("avx2,fma")
static uint32_t argmin_avx2(const float *cn, const float *dots, size_t k, float *best) {
    __m256 bv = _mm256_set1_ps(INFINITY);
    __m256i bi = _mm256_setzero_si256(), idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i step = _mm256_set1_epi32(8);
    const __m256 m2 = _mm256_set1_ps(-2.0f);
    size_t c = 0;
    for (; c + 8 <= k; c += 8) {
        __m256 d = _mm256_fmadd_ps(m2, _mm256_loadu_ps(dots + c), _mm256_loadu_ps(cn + c));
        __m256 lt = _mm256_cmp_ps(d, bv, _CMP_LT_OQ);
        bv = _mm256_blendv_ps(bv, d, lt);
        bi = _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(bi), _mm256_castsi256_ps(idx), lt));
        idx = _mm256_add_epi32(idx, step);
    }
    uint32_t r = finish_argmin8(bv, bi, best);
    float b = *best;
    for (; c < k; c++) {                        /* tail: later indices win only if strictly smaller */
        float d = cn[c] - 2.0f * dots[c];
        if (d < b) { b = d; r = (uint32_t)c; }
    }
    *best = b;
    return r;
}

DS_TARGET("avx2")
static uint32_t nearest_avx2(const float *x, const float *cbt, size_t dsub, size_t ksub) {
    __m256 bv = _mm256_set1_ps(INFINITY);
    __m256i bi = _mm256_setzero_si256(), idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i step = _mm256_set1_epi32(8);
    for (size_t c = 0; c < ksub; c += 8) {
        __m256 acc = _mm256_setzero_ps();
        for (size_t t = 0; t < dsub; t++) {
            __m256 e = _mm256_sub_ps(_mm256_set1_ps(x[t]), _mm256_loadu_ps(cbt + t * ksub + c));
            acc = _mm256_add_ps(acc, _mm256_mul_ps(e, e));   /* no FMA: bit-identical to the C twin */
        }
        __m256 lt = _mm256_cmp_ps(acc, bv, _CMP_LT_OQ);
        bv = _mm256_blendv_ps(bv, acc, lt);
        bi = _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(bi), _mm256_castsi256_ps(idx), lt));
        idx = _mm256_add_epi32(idx, step);
    }
    float best;
    return finish_argmin8(bv, bi, &best);
}

/* 8 sub-codes per gather; the m % 8 tail in C. */
DS_TARGET("avx2")
static void adc8_avx2(const float *table, size_t m, const uint8_t *codes, size_t n, float *out) {
    const __m256i lane = _mm256_setr_epi32(0, 256, 512, 768, 1024, 1280, 1536, 1792);
    size_t full = m / 8;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *c = codes + i * m;
        __m256 acc = _mm256_setzero_ps();
        for (size_t b = 0; b < full; b++) {
            __m256i idx = _mm256_add_epi32(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)(c + 8 * b))), lane);
            acc = _mm256_add_ps(acc, _mm256_i32gather_ps(table + b * 8 * 256, idx, 4));
        }
        __m128 h = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
        h = _mm_add_ps(h, _mm_movehl_ps(h, h));
        h = _mm_add_ss(h, _mm_movehdup_ps(h));
        float s = _mm_cvtss_f32(h);
        for (size_t j = full * 8; j < m; j++) s += table[j * 256 + c[j]];
        out[i] = s;
    }
}
#endif

static int force_scalar(void) {
    const char *env = getenv("DS_SIMD");
    return env != NULL && strcmp(env, "scalar") == 0;
}

ds__argmin_fn ds__argmin_best(unsigned level) {
#if defined(__x86_64__) && !defined(DS_NO_SIMD)
    unsigned f = ds__cpu_features();
    if (force_scalar()) return argmin_scalar;
    if (level >= 2 && (f & DS_CPU_AVX512F)) return argmin_avx512;
    if (level >= 1 && (f & DS_CPU_AVX2) && (f & DS_CPU_FMA)) return argmin_avx2;
#else
    (void)level;
#endif
    return argmin_scalar;
}

ds__nearest_fn ds__nearest_best(unsigned level) {
#if defined(__x86_64__) && !defined(DS_NO_SIMD)
    unsigned f = ds__cpu_features();
    if (force_scalar()) return nearest_scalar;
    if (level >= 2 && (f & DS_CPU_AVX512F)) return nearest_avx512;
    if (level >= 1 && (f & DS_CPU_AVX2)) return nearest_avx2;
#else
    (void)level;
#endif
    return nearest_scalar;
}

ds__adc8_fn ds__adc8_best(unsigned level) {
#if defined(__x86_64__) && !defined(DS_NO_SIMD)
    unsigned f = ds__cpu_features();
    const char *env = getenv("DS_SIMD");
    if (env != NULL && strcmp(env, "scalar") == 0) return adc8_scalar;
    if (level >= 2 && (f & DS_CPU_AVX512F) && (f & DS_CPU_AVX512BW) && (f & DS_CPU_AVX512VL)) return adc8_avx512;
    if (level >= 1 && (f & DS_CPU_AVX2)) return adc8_avx2;
#else
    (void)level;
#endif
    return adc8_scalar;
}
