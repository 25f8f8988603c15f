/* dsvector.c -- the dsvector(dim) type: float4 elements, text form
** "[1,2,3]" (as pgvector users type it), binary send/recv, typmod, casts
** to and from arrays, and the three distances on densearch's SIMD kernels.
**
** Inputs are hostile: every path that makes a dsvector (text in, binary in,
** array cast) checks the dimension range, finiteness of every element and the
** typmod, and fails with an ERROR naming the problem; nothing else needs to
** re-check them. Distances are computed in float by the kernels (the same
** ones the library's indexes use) and returned as float8. */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include "catalog/pg_type.h"
#include "common/shortest_dec.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "libpq/pqformat.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/lsyscache.h"

#include "dsvector.h"
#include "kernels.h"

DsVector *dsvector_new(int dim) {
    DsVector *v = palloc0(DSVECTOR_SIZE(dim));
    SET_VARSIZE(v, DSVECTOR_SIZE(dim));
    v->dim = (int16)dim;
    return v;
}

static void check_dim_range(int dim) {
    if (dim < 1)
        ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION), errmsg("dsvector must have at least 1 dimension")));
    if (dim > DSVECTOR_MAX_DIM)
        ereport(ERROR, (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
                        errmsg("dsvector cannot have more than %d dimensions (got %d)", DSVECTOR_MAX_DIM, dim)));
}

/* typmod -1 means "any dimension". */
void dsvector_check_dim(int got, int32 typmod) {
    if (typmod != -1 && got != typmod)
        ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION),
                        errmsg("expected %d dimensions, not %d", typmod, got)));
}

static void check_finite(float f) {
    if (isnan(f))
        ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION), errmsg("NaN not allowed in dsvector")));
    if (isinf(f))
        ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION), errmsg("infinite value not allowed in dsvector")));
}

static void check_same_dim(const DsVector *a, const DsVector *b) {
    if (a->dim != b->dim)
        ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION),
                        errmsg("different dsvector dimensions %d and %d", a->dim, b->dim)));
}

/* ---- text I/O ---------------------------------------------------------- */

static inline int is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

PG_FUNCTION_INFO_V1(dsvector_in);
Datum dsvector_in(PG_FUNCTION_ARGS) {
    char *s = PG_GETARG_CSTRING(0);
    int32 typmod = PG_GETARG_INT32(2);
    const char *p = s;
    int dim = 0, cap = 64;
    float *buf;
    DsVector *v;

    while (is_space(*p)) p++;
    if (*p != '[')
        ereport(ERROR, (errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
                        errmsg("invalid input syntax for type dsvector: \"%s\"", s),
                        errdetail("Vector contents must start with \"[\".")));
    p++;
    while (is_space(*p)) p++;
    if (*p == ']')
        ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION), errmsg("dsvector must have at least 1 dimension")));
    buf = palloc(sizeof(float) * cap);
    for (;;) {
        char *end;
        float f;
        while (is_space(*p)) p++;
        if (*p == '\0' || *p == ',' || *p == ']')
            ereport(ERROR, (errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
                            errmsg("invalid input syntax for type dsvector: \"%s\"", s),
                            errdetail("An element is missing.")));
        errno = 0;
        f = strtof(p, &end);
        if (end == p)
            ereport(ERROR, (errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
                            errmsg("invalid input syntax for type dsvector: \"%s\"", s)));
        /* strtof sets ERANGE for underflow too; only overflow is an error
        ** (a denormal or zero is the closest float). */
        if (errno == ERANGE && isinf(f))
            ereport(ERROR, (errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
                            errmsg("\"%.*s\" is out of range for type dsvector", (int)(end - p), p)));
        check_finite(f);
        if (dim >= DSVECTOR_MAX_DIM) check_dim_range(dim + 1);
        if (dim == cap) {
            cap *= 2;
            buf = repalloc(buf, sizeof(float) * cap);
        }
        buf[dim++] = f;
        p = end;
        while (is_space(*p)) p++;
        if (*p == ',') { p++; continue; }
        if (*p == ']') { p++; break; }
        ereport(ERROR, (errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
                        errmsg("invalid input syntax for type dsvector: \"%s\"", s),
                        errdetail("Expected \",\" or \"]\" after an element.")));
    }
    while (is_space(*p)) p++;
    if (*p != '\0')
        ereport(ERROR, (errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
                        errmsg("invalid input syntax for type dsvector: \"%s\"", s),
                        errdetail("Junk after closing right bracket.")));
    dsvector_check_dim(dim, typmod);
    v = dsvector_new(dim);
    memcpy(v->x, buf, sizeof(float) * dim);
    pfree(buf);
    PG_RETURN_DSVECTOR_P(v);
}

PG_FUNCTION_INFO_V1(dsvector_out);
Datum dsvector_out(PG_FUNCTION_ARGS) {
    DsVector *v = PG_GETARG_DSVECTOR_P(0);
    /* Shortest round-trip form: FLOAT_SHORTEST_DECIMAL_LEN (incl. NUL) per
    ** element plus a comma, and the brackets. */
    char *out = palloc((size_t)v->dim * (FLOAT_SHORTEST_DECIMAL_LEN + 1) + 3);
    char *p = out;
    *p++ = '[';
    for (int i = 0; i < v->dim; i++) {
        if (i > 0) *p++ = ',';
        p += float_to_shortest_decimal_bufn(v->x[i], p);
    }
    *p++ = ']';
    *p = '\0';
    PG_FREE_IF_COPY(v, 0);
    PG_RETURN_CSTRING(out);
}

/* ---- typmod ------------------------------------------------------------ */

PG_FUNCTION_INFO_V1(dsvector_typmod_in);
Datum dsvector_typmod_in(PG_FUNCTION_ARGS) {
    ArrayType *ta = PG_GETARG_ARRAYTYPE_P(0);
    int32 *tl;
    int n;
    tl = ArrayGetIntegerTypmods(ta, &n);
    if (n != 1)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("invalid type modifier: dsvector takes one dimension")));
    if (tl[0] < 1)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("dimensions for type dsvector must be at least 1")));
    if (tl[0] > DSVECTOR_MAX_DIM)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("dimensions for type dsvector cannot exceed %d", DSVECTOR_MAX_DIM)));
    PG_RETURN_INT32(tl[0]);
}

PG_FUNCTION_INFO_V1(dsvector_typmod_out);
Datum dsvector_typmod_out(PG_FUNCTION_ARGS) {
    int32 typmod = PG_GETARG_INT32(0);
    PG_RETURN_CSTRING(typmod < 0 ? pstrdup("") : psprintf("(%d)", typmod));
}

/* dsvector(dsvector, typmod, explicit): the length-coercion cast. */
PG_FUNCTION_INFO_V1(dsvector_coerce);
Datum dsvector_coerce(PG_FUNCTION_ARGS) {
    DsVector *v = PG_GETARG_DSVECTOR_P(0);
    dsvector_check_dim(v->dim, PG_GETARG_INT32(1));
    PG_RETURN_DSVECTOR_P(v);
}

/* ---- binary I/O: int16 dim, int16 unused (0), dim x float4, network order */

PG_FUNCTION_INFO_V1(dsvector_recv);
Datum dsvector_recv(PG_FUNCTION_ARGS) {
    StringInfo buf = (StringInfo)PG_GETARG_POINTER(0);
    int32 typmod = PG_GETARG_INT32(2);
    int dim = pq_getmsgint(buf, 2);
    int unused = pq_getmsgint(buf, 2);
    DsVector *v;
    check_dim_range(dim);
    dsvector_check_dim(dim, typmod);
    if (unused != 0)
        ereport(ERROR, (errcode(ERRCODE_INVALID_BINARY_REPRESENTATION), errmsg("dsvector: reserved field is %d, expected 0", unused)));
    /* Check the length before allocating: a bad dim must not read past the message. */
    if (buf->len - buf->cursor != (int)(sizeof(float) * dim))
        ereport(ERROR, (errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
                        errmsg("dsvector: binary value has %d bytes of elements, %d dimensions need %d",
                               buf->len - buf->cursor, dim, (int)(sizeof(float) * dim))));
    v = dsvector_new(dim);
    for (int i = 0; i < dim; i++) {
        v->x[i] = pq_getmsgfloat4(buf);
        check_finite(v->x[i]);
    }
    PG_RETURN_DSVECTOR_P(v);
}

PG_FUNCTION_INFO_V1(dsvector_send);
Datum dsvector_send(PG_FUNCTION_ARGS) {
    DsVector *v = PG_GETARG_DSVECTOR_P(0);
    StringInfoData buf;
    pq_begintypsend(&buf);
    pq_sendint16(&buf, v->dim);
    pq_sendint16(&buf, 0);
    for (int i = 0; i < v->dim; i++) pq_sendfloat4(&buf, v->x[i]);
    PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

/* ---- casts ------------------------------------------------------------- */

/* real[], double precision[], integer[] -> dsvector: one C function for the
** three casts, dispatching on the array's element type. */
PG_FUNCTION_INFO_V1(dsvector_from_array);
Datum dsvector_from_array(PG_FUNCTION_ARGS) {
    ArrayType *a = PG_GETARG_ARRAYTYPE_P(0);
    int32 typmod = PG_GETARG_INT32(1);
    Oid et = ARR_ELEMTYPE(a);
    int16 typlen;
    bool typbyval;
    char typalign;
    Datum *elems;
    bool *nulls;
    int n;
    DsVector *v;

    if (ARR_NDIM(a) > 1)
        ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION), errmsg("array must be 1-dimensional")));
    if (et != FLOAT4OID && et != FLOAT8OID && et != INT4OID && et != NUMERICOID)
        ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION),
                        errmsg("unsupported array element type %s", format_type_be(et))));
    get_typlenbyvalalign(et, &typlen, &typbyval, &typalign);
    deconstruct_array(a, et, typlen, typbyval, typalign, &elems, &nulls, &n);
    check_dim_range(n);
    dsvector_check_dim(n, typmod);
    v = dsvector_new(n);
    for (int i = 0; i < n; i++) {
        double d;
        if (nulls[i])
            ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("array must not contain nulls")));
        switch (et) {
        case FLOAT4OID: d = DatumGetFloat4(elems[i]); break;
        case FLOAT8OID: d = DatumGetFloat8(elems[i]); break;
        case INT4OID:   d = DatumGetInt32(elems[i]); break;
        default:        d = DatumGetFloat8(DirectFunctionCall1(numeric_float8, elems[i])); break;
        }
        /* A finite double beyond float range would become inf: refuse it. */
        if (!isnan(d) && !isinf(d) && fabs(d) > FLT_MAX)
            ereport(ERROR, (errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
                            errmsg("value %g is out of range for type dsvector", d)));
        v->x[i] = (float)d;
        check_finite(v->x[i]);
    }
    PG_RETURN_DSVECTOR_P(v);
}

PG_FUNCTION_INFO_V1(dsvector_to_float4);
Datum dsvector_to_float4(PG_FUNCTION_ARGS) {
    DsVector *v = PG_GETARG_DSVECTOR_P(0);
    Datum *d = palloc(sizeof(Datum) * v->dim);
    for (int i = 0; i < v->dim; i++) d[i] = Float4GetDatum(v->x[i]);
    PG_RETURN_POINTER(construct_array(d, v->dim, FLOAT4OID, sizeof(float4), true, TYPALIGN_INT));
}

/* ---- distances and functions ------------------------------------------- */

PG_FUNCTION_INFO_V1(dsvector_l2_distance);
Datum dsvector_l2_distance(PG_FUNCTION_ARGS) {
    DsVector *a = PG_GETARG_DSVECTOR_P(0), *b = PG_GETARG_DSVECTOR_P(1);
    check_same_dim(a, b);
    PG_RETURN_FLOAT8(sqrt((double)dspg_l2sq(a->x, b->x, a->dim)));
}

PG_FUNCTION_INFO_V1(dsvector_inner_product);
Datum dsvector_inner_product(PG_FUNCTION_ARGS) {
    DsVector *a = PG_GETARG_DSVECTOR_P(0), *b = PG_GETARG_DSVECTOR_P(1);
    check_same_dim(a, b);
    PG_RETURN_FLOAT8((double)dspg_dot(a->x, b->x, a->dim));
}

PG_FUNCTION_INFO_V1(dsvector_negative_inner_product);
Datum dsvector_negative_inner_product(PG_FUNCTION_ARGS) {
    DsVector *a = PG_GETARG_DSVECTOR_P(0), *b = PG_GETARG_DSVECTOR_P(1);
    check_same_dim(a, b);
    PG_RETURN_FLOAT8(-(double)dspg_dot(a->x, b->x, a->dim));
}

/* 1 - cos(a, b), clamped to [0, 2] against rounding; NaN when either vector
** is zero (the angle is undefined), as pgvector does. */
PG_FUNCTION_INFO_V1(dsvector_cosine_distance);
Datum dsvector_cosine_distance(PG_FUNCTION_ARGS) {
    DsVector *a = PG_GETARG_DSVECTOR_P(0), *b = PG_GETARG_DSVECTOR_P(1);
    double ab, aa, bb, sim;
    check_same_dim(a, b);
    ab = dspg_dot(a->x, b->x, a->dim);
    aa = dspg_dot(a->x, a->x, a->dim);
    bb = dspg_dot(b->x, b->x, b->dim);
    if (aa == 0.0 || bb == 0.0) PG_RETURN_FLOAT8(get_float8_nan());
    sim = ab / sqrt(aa * bb);
    if (sim > 1.0) sim = 1.0;
    if (sim < -1.0) sim = -1.0;
    PG_RETURN_FLOAT8(1.0 - sim);
}

PG_FUNCTION_INFO_V1(dsvector_dims);
Datum dsvector_dims(PG_FUNCTION_ARGS) {
    DsVector *v = PG_GETARG_DSVECTOR_P(0);
    PG_RETURN_INT32(v->dim);
}

PG_FUNCTION_INFO_V1(dsvector_l2_norm);
Datum dsvector_l2_norm(PG_FUNCTION_ARGS) {
    DsVector *v = PG_GETARG_DSVECTOR_P(0);
    PG_RETURN_FLOAT8(sqrt((double)dspg_dot(v->x, v->x, v->dim)));
}

/* Equality (for tests and DISTINCT-free comparisons): same dim, same bits
** up to float ==. */
PG_FUNCTION_INFO_V1(dsvector_eq);
Datum dsvector_eq(PG_FUNCTION_ARGS) {
    DsVector *a = PG_GETARG_DSVECTOR_P(0), *b = PG_GETARG_DSVECTOR_P(1);
    if (a->dim != b->dim) PG_RETURN_BOOL(false);
    for (int i = 0; i < a->dim; i++)
        if (a->x[i] != b->x[i]) PG_RETURN_BOOL(false);
    PG_RETURN_BOOL(true);
}

PG_FUNCTION_INFO_V1(densearch_simd);
Datum densearch_simd(PG_FUNCTION_ARGS) {
    PG_RETURN_TEXT_P(cstring_to_text(dspg_kernels_init()));
}
