/* simd.h -- CPU feature detection and the kernel table.
**
** Every kernel has a plain C twin in k_scalar.c; the SIMD versions live in one
** file per ISA, compiled with DS_TARGET attributes rather than -m flags, so
** generic code never picks up instructions the CPU may lack. The table is
** chosen once per ds_env (ds__kernels_select) from CPUID; DS_SIMD=scalar or
** ds_env_opts.simd force a level, and tests compare every variant with the
** scalar one.
*/
#ifndef DS_SIMD_H
#define DS_SIMD_H

#include "ds_internal.h"

/* CPU features, detected once (cpuid + xgetbv so the OS state is honoured). */
enum {
    DS_CPU_AVX2      = 1u << 0,
    DS_CPU_FMA       = 1u << 1,
    DS_CPU_F16C      = 1u << 2,
    DS_CPU_AVX512F   = 1u << 3,
    DS_CPU_AVX512BW  = 1u << 4,
    DS_CPU_AVX512VL  = 1u << 5,
    DS_CPU_AVX512DQ  = 1u << 6,
    DS_CPU_AVX512VNNI = 1u << 7,
    DS_CPU_AVX512VPOPCNTDQ = 1u << 8,
    DS_CPU_POPCNT    = 1u << 9,
    DS_CPU_AVX512BF16 = 1u << 10
};
unsigned ds__cpu_features(void);
const char *ds__cpu_model(void);     /* "Intel(R) Xeon(R) ..." or "unknown" */

typedef struct ds__kernels {
    const char *name;                /* "scalar", "avx2", "avx512" */
    unsigned    level;               /* 0 scalar, 1 avx2, 2 avx512 */
    float (*dot_f32)(const float *a, const float *b, size_t n);
    float (*l2sq_f32)(const float *a, const float *b, size_t n);
    /* f32 query against IEEE binary16 storage (round-to-nearest-even on
    ** conversion; the products are computed in f32). */
    float (*dot_f16)(const float *q, const uint16_t *x, size_t n);
    float (*l2sq_f16)(const float *q, const uint16_t *x, size_t n);
    void  (*f16_to_f32)(const uint16_t *x, float *out, size_t n);
    void  (*f32_to_f16)(const float *x, uint16_t *out, size_t n);
    /* Exact int8 products accumulated in int32: |result| <= n * 128 * 128,
    ** so n up to 65536 cannot overflow. */
    int32_t (*dot_i8)(const int8_t *a, const int8_t *b, size_t n);
    int32_t (*l2sq_i8)(const int8_t *a, const int8_t *b, size_t n);
    /* out[i] = dot(q, rows + i * stride) for i < n_rows: one query against
    ** many rows, prefetching the next rows (HNSW neighbour lists, flat scan). */
    void  (*dot_f32_rows)(const float *q, const float *rows, size_t stride, size_t n_rows,
                          size_t dim, float *out);
    /* out[i] = dot(q, rows[i]) for scattered rows (graph neighbours): four
    ** rows at a time, so their cache misses overlap. */
    void  (*dot_f32_ptrs)(const float *q, const float *const *rows, size_t n_rows, size_t dim, float *out);
} ds__kernels;

/* Scalar IEEE half <-> float conversions (exact reference for the SIMD ones). */
float    ds__f16_to_f32(uint16_t h);
uint16_t ds__f32_to_f16(float f);

/* want: NULL/""/"auto" picks the best the CPU supports; "scalar", "avx2",
** "avx512" force a level. Returns NULL if the forced level is unsupported. */
const ds__kernels *ds__kernels_select(const char *want);

/* The individual tables, for tests that compare variants. NULL when the ISA is
** not compiled in or not supported by this CPU. */
const ds__kernels *ds__kernels_scalar(void);
const ds__kernels *ds__kernels_avx2(void);
const ds__kernels *ds__kernels_avx512(void);
/* The AVX-512 int8 dot product without VNNI (NULL-free only when the avx512
** table exists), so tests cover both paths on a VNNI machine. */
int32_t ds__dot_i8_avx512_novnni(const int8_t *a, const int8_t *b, size_t n);

#endif /* DS_SIMD_H */
