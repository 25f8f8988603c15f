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
} ds__kernels;

/* want: NULL/""/"auto" picks the best the CPU supports; "scalar", "avx2",
** "avx512" force a level. Returns NULL if the forced level is unsupported. */
const ds__kernels *ds__kernels_select(const char *want);

/* The individual tables, for tests that compare variants. NULL when the ISA is
** not compiled in or not supported by this CPU. */
const ds__kernels *ds__kernels_scalar(void);
const ds__kernels *ds__kernels_avx2(void);
const ds__kernels *ds__kernels_avx512(void);

#endif /* DS_SIMD_H */
