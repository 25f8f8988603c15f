/* dshnsw.h -- the dshnsw index access method (dshnsw.c). */
#ifndef DSPG_DSHNSW_H
#define DSPG_DSHNSW_H

void dshnsw_init(void);     /* GUCs and reloptions; called once from _PG_init */

#endif
