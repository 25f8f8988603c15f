/* dsvector.h -- the dsvector type's in-memory/on-disk layout, shared by the
** type (dsvector.c) and the dshnsw index (dshnsw.c).
**
** A dsvector is a varlena: {int32 vl_len_; int16 dim; int16 unused (0);
** float4 x[dim]}, host byte order like every PostgreSQL base type (the binary
** send/recv form is network order). Every element is finite and dim is
** 1..DSVECTOR_MAX_DIM; the input functions enforce both, so the rest of the
** code may rely on them. */
#ifndef DSPG_DSVECTOR_H
#define DSPG_DSVECTOR_H

#include "postgres.h"
#include "fmgr.h"

#define DSVECTOR_MAX_DIM 16000

typedef struct DsVector {
    int32 vl_len_;      /* varlena header (do not touch directly) */
    int16 dim;          /* number of elements, 1..DSVECTOR_MAX_DIM */
    int16 unused;       /* 0; reserved */
    float x[FLEXIBLE_ARRAY_MEMBER];
} DsVector;

#define DSVECTOR_SIZE(dim) (offsetof(DsVector, x) + sizeof(float) * (size_t)(dim))
#define DatumGetDsVector(d) ((DsVector *) PG_DETOAST_DATUM(d))
#define PG_GETARG_DSVECTOR_P(n) DatumGetDsVector(PG_GETARG_DATUM(n))
#define PG_RETURN_DSVECTOR_P(v) PG_RETURN_POINTER(v)

DsVector *dsvector_new(int dim);
void dsvector_check_dim(int got, int32 typmod);

#endif
