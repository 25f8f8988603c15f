/* k_quant.h -- kernels for quantized codes: the PQ asymmetric-distance
** lookup-and-sum (k_pqadc.c) and Hamming distances over bit codes
** (k_hamming.c). Each has a plain C twin that is the reference in tests; the
** SIMD variants are picked at run time from ds__cpu_features() (DS_SIMD=scalar
** forces the C twins). Kept out of the shared ds__kernels table on purpose:
** these kernels belong to the quantized index types and change with them.
**
** Thread: pure functions of their arguments.
*/
#ifndef DS_SIMD_K_QUANT_H
#define DS_SIMD_K_QUANT_H

#include "ds_internal.h"

/* ---- kernels (src/simd/k_pqadc.c, src/simd/k_hamming.c) ---------------- */
/* Sum over j < m of table[j * 256 + code[i*m + j]] for n 8-bit codes. */
typedef void (*ds__adc8_fn)(const float *table, size_t m, const uint8_t *codes, size_t n, float *out);
ds__adc8_fn ds__adc8_scalar(void);
/* Best variant for the CPU, capped by level (the env's kernels->level: 0
** forces scalar, so DS_SIMD=scalar and ds_env_opts.simd are honoured). */
ds__adc8_fn ds__adc8_best(unsigned level);
/* The same for 4-bit codes (table m x 16, code_size = ceil(m/2)). */
void ds__adc4_scalar(const float *table, size_t m, const uint8_t *codes, size_t n, float *out);

/* argmin over c < k of cn[c] - 2 * dots[c] (nearest centroid from a row of
** dot products); first index wins ties; *best receives the minimum. */
typedef uint32_t (*ds__argmin_fn)(const float *cn, const float *dots, size_t k, float *best);
/* Nearest of ksub centroids to x (dsub floats) by L2, with the codebook
** transposed (cbt[t * ksub + c] = coordinate t of centroid c); ksub is a
** multiple of 16. First index wins ties. */
typedef uint32_t (*ds__nearest_fn)(const float *x, const float *cbt, size_t dsub, size_t ksub);
ds__argmin_fn  ds__argmin_scalar(void);
ds__argmin_fn  ds__argmin_best(unsigned level);
ds__nearest_fn ds__nearest_scalar(void);
ds__nearest_fn ds__nearest_best(unsigned level);

/* Hamming distance between q (words u64) and each of n codes (n x words). */
typedef void (*ds__hamming_fn)(const uint64_t *q, const uint64_t *codes, size_t words, size_t n, uint16_t *out);
ds__hamming_fn ds__hamming_scalar(void);
ds__hamming_fn ds__hamming_popcnt(void);   /* NULL if the CPU lacks POPCNT */
ds__hamming_fn ds__hamming_avx512(void);   /* NULL if the CPU lacks AVX-512 VPOPCNTDQ */
ds__hamming_fn ds__hamming_best(unsigned level);   /* as ds__adc8_best */

#endif /* DS_SIMD_K_QUANT_H */
