/* dshnsw.c -- the dshnsw index access method (to come; see docs/postgres.md). */
#include "postgres.h"

#include "dshnsw.h"

void dshnsw_init(void) {}
