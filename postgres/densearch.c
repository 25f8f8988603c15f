/* densearch.c -- module entry: picks the SIMD kernels once per backend and
** registers the index's settings (GUCs). */
#include "postgres.h"

#include "fmgr.h"

#include "dshnsw.h"
#include "kernels.h"

PG_MODULE_MAGIC;

void _PG_init(void);

void _PG_init(void) {
    dspg_kernels_init();
    dshnsw_init();
}
