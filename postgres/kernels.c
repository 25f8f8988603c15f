/* kernels.c -- the extension's door to densearch's distance kernels.
**
** Compiled with the library's own flags (not PostgreSQL's), because it
** includes the library's internal simd.h; the rest of the extension sees only
** the three plain functions of densearch_pg.h and no library header, so
** PostgreSQL's headers and ours never meet in one translation unit. The
** kernel table is chosen once per backend from CPUID (DS_SIMD=scalar|avx2|
** avx512 in the server's environment forces a level, as in the library). */
#include "simd/simd.h"

#include <stdlib.h>

#include "kernels.h"

static const ds__kernels *table;

const char *dspg_kernels_init(void) {
    const char *want = getenv("DS_SIMD");
    table = ds__kernels_select(want);
    if (table == NULL) table = ds__kernels_select(NULL);   /* unknown/unsupported level: best available */
    return table->name;
}

float dspg_dot(const float *a, const float *b, size_t n) { return table->dot_f32(a, b, n); }

float dspg_l2sq(const float *a, const float *b, size_t n) { return table->l2sq_f32(a, b, n); }
