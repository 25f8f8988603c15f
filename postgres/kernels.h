/* kernels.h -- densearch's SIMD distance kernels as seen by the extension
** (kernels.c is the only file that includes the library's headers).
** dspg_kernels_init must run once per backend (_PG_init) before the others. */
#ifndef DSPG_KERNELS_H
#define DSPG_KERNELS_H

#include <stddef.h>

const char *dspg_kernels_init(void);                     /* returns "scalar", "avx2", "avx512" */
float dspg_dot(const float *a, const float *b, size_t n);
float dspg_l2sq(const float *a, const float *b, size_t n);

#endif
