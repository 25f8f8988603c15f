/* k_hamming.c -- Hamming distances between one query code and n codes of
** `words` u64 each (docs/format.md §3.5), written as u16 (dim <= 65536).
**
** Three variants with a tiny dispatch of their own (ds__hamming_best):
**  - scalar: a portable SWAR popcount, the reference;
**  - popcnt: the POPCNT instruction through __builtin_popcountll under a
**    target attribute (plain builds may not assume it);
**  - avx512: VPOPCNTDQ on 8 codes at a time: word j of the 8 codes is
**    gathered (stride = words), XORed with the broadcast query word and
**    popcounted, so each lane accumulates one code's distance and any code
**    length works; the last n % 8 codes take the popcnt path.
**
** Thread: pure functions.
*/
#include "simd/k_quant.h"
#include "simd/simd.h"

#include <stdlib.h>

static inline unsigned popcount64_swar(uint64_t x) {
    x = x - ((x >> 1) & 0x5555555555555555ULL);
    x = (x & 0x3333333333333333ULL) + ((x >> 2) & 0x3333333333333333ULL);
    x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0fULL;
    return (unsigned)((x * 0x0101010101010101ULL) >> 56);
}

static void hamming_scalar(const uint64_t *q, const uint64_t *codes, size_t words, size_t n, uint16_t *out) {
    for (size_t i = 0; i < n; i++) {
        const uint64_t *c = codes + i * words;
        unsigned d = 0;
        for (size_t w = 0; w < words; w++) d += popcount64_swar(q[w] ^ c[w]);
        out[i] = (uint16_t)d;
    }
}

ds__hamming_fn ds__hamming_scalar(void) { return hamming_scalar; }

#if defined(__x86_64__) && !defined(DS_NO_SIMD)
#include <immintrin.h>

/* Fixed code lengths (384, 512, 768, 1024 bits...) get fully unrolled loops:
** with `words` known, each code is W loads, XORs and POPCNTs and no branch. */
#define HAMMING_FIXED(W)                                                                         \
    DS_TARGET("popcnt")                                                                          \
    static void hamming_popcnt_##W(const uint64_t *q, const uint64_t *codes, size_t n, uint16_t *out) { \
        uint64_t qq[W];                                                                          \
        memcpy(qq, q, sizeof qq);                                                                \
        for (size_t i = 0; i < n; i++) {                                                         \
            const uint64_t *c = codes + i * (W);                                                 \
            unsigned d = 0;                                                                      \
            _Pragma("GCC unroll 16")                                                             \
            for (size_t w = 0; w < (W); w++) d += (unsigned)__builtin_popcountll(qq[w] ^ c[w]);  \
            out[i] = (uint16_t)d;                                                                \
        }                                                                                        \
    }
HAMMING_FIXED(1)
HAMMING_FIXED(2)
HAMMING_FIXED(4)
HAMMING_FIXED(6)
HAMMING_FIXED(8)
HAMMING_FIXED(12)
HAMMING_FIXED(16)

DS_TARGET("popcnt")
static void hamming_popcnt(const uint64_t *q, const uint64_t *codes, size_t words, size_t n, uint16_t *out) {
    switch (words) {
    case 1: hamming_popcnt_1(q, codes, n, out); return;
    case 2: hamming_popcnt_2(q, codes, n, out); return;
    case 4: hamming_popcnt_4(q, codes, n, out); return;
    case 6: hamming_popcnt_6(q, codes, n, out); return;
    case 8: hamming_popcnt_8(q, codes, n, out); return;
    case 12: hamming_popcnt_12(q, codes, n, out); return;
    case 16: hamming_popcnt_16(q, codes, n, out); return;
    default: break;
    }
    for (size_t i = 0; i < n; i++) {
        const uint64_t *c = codes + i * words;
        unsigned d = 0;
        for (size_t w = 0; w < words; w++) d += (unsigned)__builtin_popcountll(q[w] ^ c[w]);
        out[i] = (uint16_t)d;
    }
}

DS_TARGET("avx512f,avx512vpopcntdq")
static void hamming_avx512(const uint64_t *q, const uint64_t *codes, size_t words, size_t n, uint16_t *out) {
    size_t blocks = n / 8;
    for (size_t b = 0; b < blocks; b++) {
        const uint64_t *c = codes + b * 8 * words;
        __m512i stride = _mm512_setr_epi64(0, 1, 2, 3, 4, 5, 6, 7);
        stride = _mm512_mul_epu32(stride, _mm512_set1_epi64((long long)words));
        __m512i acc = _mm512_setzero_si512();
        for (size_t w = 0; w < words; w++) {
            __m512i v = _mm512_i64gather_epi64(_mm512_add_epi64(stride, _mm512_set1_epi64((long long)w)),
                                               (const void *)c, 8);
            v = _mm512_xor_si512(v, _mm512_set1_epi64((long long)q[w]));
            acc = _mm512_add_epi64(acc, _mm512_popcnt_epi64(v));
        }
        _mm_storeu_si128((__m128i *)(void *)(out + b * 8), _mm512_cvtepi64_epi16(acc));
    }
    hamming_popcnt(q, codes + blocks * 8 * words, words, n - blocks * 8, out + blocks * 8);
}
#endif

ds__hamming_fn ds__hamming_popcnt(void) {
#if defined(__x86_64__) && !defined(DS_NO_SIMD)
    if (ds__cpu_features() & DS_CPU_POPCNT) return hamming_popcnt;
#endif
    return NULL;
}

ds__hamming_fn ds__hamming_avx512(void) {
#if defined(__x86_64__) && !defined(DS_NO_SIMD)
    unsigned f = ds__cpu_features();
    if ((f & DS_CPU_AVX512F) && (f & DS_CPU_AVX512VPOPCNTDQ) && (f & DS_CPU_POPCNT)) return hamming_avx512;
#endif
    return NULL;
}

ds__hamming_fn ds__hamming_best(unsigned level) {
    const char *env = getenv("DS_SIMD");
    if (level == 0 || (env != NULL && strcmp(env, "scalar") == 0)) return hamming_scalar;
    ds__hamming_fn f = level >= 2 ? ds__hamming_avx512() : NULL;
    if (f == NULL) f = ds__hamming_popcnt();
    return f ? f : hamming_scalar;
}
