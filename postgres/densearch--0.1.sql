-- densearch--0.1.sql: the dsvector type, its operators and casts, and the
-- dshnsw index access method with one operator class per distance.
\echo Use "CREATE EXTENSION densearch" to load this file. \quit

CREATE TYPE dsvector;

CREATE FUNCTION dsvector_in(cstring, oid, integer) RETURNS dsvector
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION dsvector_out(dsvector) RETURNS cstring
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION dsvector_typmod_in(cstring[]) RETURNS integer
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION dsvector_typmod_out(integer) RETURNS cstring
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION dsvector_recv(internal, oid, integer) RETURNS dsvector
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION dsvector_send(dsvector) RETURNS bytea
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE TYPE dsvector (
    INPUT     = dsvector_in,
    OUTPUT    = dsvector_out,
    TYPMOD_IN = dsvector_typmod_in,
    TYPMOD_OUT = dsvector_typmod_out,
    RECEIVE   = dsvector_recv,
    SEND      = dsvector_send,
    STORAGE   = external
);

-- functions

CREATE FUNCTION l2_distance(dsvector, dsvector) RETURNS float8
    AS 'MODULE_PATHNAME', 'dsvector_l2_distance' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION inner_product(dsvector, dsvector) RETURNS float8
    AS 'MODULE_PATHNAME', 'dsvector_inner_product' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION negative_inner_product(dsvector, dsvector) RETURNS float8
    AS 'MODULE_PATHNAME', 'dsvector_negative_inner_product' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION cosine_distance(dsvector, dsvector) RETURNS float8
    AS 'MODULE_PATHNAME', 'dsvector_cosine_distance' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vector_dims(dsvector) RETURNS integer
    AS 'MODULE_PATHNAME', 'dsvector_dims' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION l2_norm(dsvector) RETURNS float8
    AS 'MODULE_PATHNAME', 'dsvector_l2_norm' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION dsvector_eq(dsvector, dsvector) RETURNS boolean
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION densearch_simd() RETURNS text
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT PARALLEL SAFE;

-- operators

CREATE OPERATOR <-> (LEFTARG = dsvector, RIGHTARG = dsvector, PROCEDURE = l2_distance, COMMUTATOR = '<->');
CREATE OPERATOR <#> (LEFTARG = dsvector, RIGHTARG = dsvector, PROCEDURE = negative_inner_product, COMMUTATOR = '<#>');
CREATE OPERATOR <=> (LEFTARG = dsvector, RIGHTARG = dsvector, PROCEDURE = cosine_distance, COMMUTATOR = '<=>');
CREATE OPERATOR = (LEFTARG = dsvector, RIGHTARG = dsvector, PROCEDURE = dsvector_eq, COMMUTATOR = '=');

-- casts

CREATE FUNCTION dsvector(dsvector, integer, boolean) RETURNS dsvector
    AS 'MODULE_PATHNAME', 'dsvector_coerce' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION array_to_dsvector(real[], integer, boolean) RETURNS dsvector
    AS 'MODULE_PATHNAME', 'dsvector_from_array' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION array_to_dsvector(double precision[], integer, boolean) RETURNS dsvector
    AS 'MODULE_PATHNAME', 'dsvector_from_array' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION array_to_dsvector(integer[], integer, boolean) RETURNS dsvector
    AS 'MODULE_PATHNAME', 'dsvector_from_array' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION array_to_dsvector(numeric[], integer, boolean) RETURNS dsvector
    AS 'MODULE_PATHNAME', 'dsvector_from_array' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION dsvector_to_float4(dsvector, integer, boolean) RETURNS real[]
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE CAST (dsvector AS dsvector) WITH FUNCTION dsvector(dsvector, integer, boolean) AS IMPLICIT;
CREATE CAST (real[] AS dsvector) WITH FUNCTION array_to_dsvector(real[], integer, boolean) AS ASSIGNMENT;
CREATE CAST (double precision[] AS dsvector) WITH FUNCTION array_to_dsvector(double precision[], integer, boolean) AS ASSIGNMENT;
CREATE CAST (integer[] AS dsvector) WITH FUNCTION array_to_dsvector(integer[], integer, boolean) AS ASSIGNMENT;
CREATE CAST (numeric[] AS dsvector) WITH FUNCTION array_to_dsvector(numeric[], integer, boolean) AS ASSIGNMENT;
CREATE CAST (dsvector AS real[]) WITH FUNCTION dsvector_to_float4(dsvector, integer, boolean) AS IMPLICIT;

-- the dshnsw index access method

CREATE FUNCTION dshnsw_handler(internal) RETURNS index_am_handler
    AS 'MODULE_PATHNAME' LANGUAGE C;
CREATE ACCESS METHOD dshnsw TYPE INDEX HANDLER dshnsw_handler;
COMMENT ON ACCESS METHOD dshnsw IS 'densearch HNSW graph for ORDER BY dsvector distance LIMIT k';

-- support function 1 tells the index which distance the class ranks by
CREATE FUNCTION dshnsw_metric_l2(internal) RETURNS integer
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION dshnsw_metric_ip(internal) RETURNS integer
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION dshnsw_metric_cosine(internal) RETURNS integer
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE OPERATOR CLASS dsvector_l2_ops DEFAULT FOR TYPE dsvector USING dshnsw AS
    OPERATOR 1 <-> (dsvector, dsvector) FOR ORDER BY float_ops,
    FUNCTION 1 dshnsw_metric_l2(internal);
CREATE OPERATOR CLASS dsvector_ip_ops FOR TYPE dsvector USING dshnsw AS
    OPERATOR 1 <#> (dsvector, dsvector) FOR ORDER BY float_ops,
    FUNCTION 1 dshnsw_metric_ip(internal);
CREATE OPERATOR CLASS dsvector_cosine_ops FOR TYPE dsvector USING dshnsw AS
    OPERATOR 1 <=> (dsvector, dsvector) FOR ORDER BY float_ops,
    FUNCTION 1 dshnsw_metric_cosine(internal);
