-- dsvector: text and binary forms, typmod, casts, operators, bad input.
CREATE EXTENSION densearch;
SELECT densearch_simd() IN ('scalar', 'avx2', 'avx512') AS simd_known;

-- text form round trip (pgvector's "[1,2,3]")
SELECT '[1,2,3]'::dsvector;
SELECT ' [ 1.5 , -2e-3,3e+10 ] '::dsvector;
SELECT '[0.1]'::dsvector, '[-0]'::dsvector;
SELECT '[1.17549435e-38, 3.4028235e38, 1e-45]'::dsvector;
SELECT vector_dims('[1,2,3,4]'), l2_norm('[3,4]');

-- bad text input: clear errors
SELECT '[]'::dsvector;
SELECT '[ ]'::dsvector;
SELECT ''::dsvector;
SELECT '1,2,3'::dsvector;
SELECT '[1,2'::dsvector;
SELECT '[1,,2]'::dsvector;
SELECT '[1,2,]'::dsvector;
SELECT '[1 2]'::dsvector;
SELECT '[1,2] x'::dsvector;
SELECT '[a]'::dsvector;
SELECT '[NaN]'::dsvector;
SELECT '[1,nan,2]'::dsvector;
SELECT '[Infinity]'::dsvector;
SELECT '[-inf]'::dsvector;
SELECT '[1e39]'::dsvector;
SELECT ('[' || repeat('1,', 16000) || '1]')::dsvector;
SELECT vector_dims(('[' || repeat('1,', 15999) || '1]')::dsvector);

-- typmod
CREATE TABLE t3 (id int, v dsvector(3));
INSERT INTO t3 VALUES (1, '[1,2,3]');
INSERT INTO t3 VALUES (2, '[1,2]');
INSERT INTO t3 VALUES (3, '[1,2,3,4]');
SELECT '[1,2]'::dsvector(2);
SELECT '[1,2]'::dsvector(3);
SELECT '[1]'::dsvector(0);
SELECT '[1]'::dsvector(16001);
SELECT '[1]'::dsvector(1,2);
\d t3

-- casts from and to arrays
SELECT ARRAY[1,2,3]::real[]::dsvector, ARRAY[1.5,2.5]::float8[]::dsvector, ARRAY[4,5]::int[]::dsvector;
SELECT ARRAY[1.25,2]::numeric[]::dsvector;
SELECT '[1,2.5,-3]'::dsvector::real[];
INSERT INTO t3 VALUES (4, ARRAY[4,5,6]::real[]);
INSERT INTO t3 VALUES (5, ARRAY[4,5]::real[]);
SELECT ARRAY[]::real[]::dsvector;
SELECT ARRAY[1,NULL]::real[]::dsvector;
SELECT ARRAY[[1,2],[3,4]]::real[]::dsvector;
SELECT ARRAY['NaN']::real[]::dsvector;
SELECT ARRAY['Infinity']::float8[]::dsvector;
SELECT ARRAY[1e300]::float8[]::dsvector;
SELECT id, v FROM t3 ORDER BY id;

-- distances
SELECT '[1,2,3]'::dsvector <-> '[4,6,3]' AS l2,
       '[1,2,3]'::dsvector <#> '[4,5,6]' AS neg_ip,
       inner_product('[1,2,3]', '[4,5,6]') AS ip,
       round(('[1,0]'::dsvector <=> '[0,1]')::numeric, 6) AS cos_orth,
       round(('[1,1]'::dsvector <=> '[2,2]')::numeric, 6) AS cos_same,
       round(('[1,1]'::dsvector <=> '[-1,-1]')::numeric, 6) AS cos_opp;
SELECT l2_distance('[0,0]', '[3,4]'), cosine_distance('[0,0]', '[1,1]');
SELECT '[1,2]'::dsvector <-> '[1,2,3]';
SELECT '[1,2]'::dsvector <#> '[1,2,3]';
SELECT '[1,2]'::dsvector <=> '[1,2,3]';
-- SIMD tails: 37 dimensions, compared with a plain SQL sum
WITH a AS (SELECT array_agg(i * 0.25)::float8[] AS x FROM generate_series(1, 37) i),
     b AS (SELECT array_agg(1.0 / i)::float8[] AS y FROM generate_series(1, 37) i)
SELECT abs(inner_product(x::dsvector, y::dsvector) - (SELECT sum(0.25 * i * (1.0 / i)) FROM generate_series(1, 37) i)) < 1e-4 AS dot_ok,
       abs(l2_distance(x::dsvector, y::dsvector)
           - sqrt((SELECT sum((0.25 * i - 1.0 / i) ^ 2) FROM generate_series(1, 37) i))) < 1e-4 AS l2_ok
FROM a, b;

-- binary send/recv round trip through COPY BINARY
CREATE TABLE tb (v dsvector);
INSERT INTO tb VALUES ('[1,-2.5,3e-7]'), ('[42]');
SELECT current_setting('data_directory') || '/dsvector_copy_test.bin' AS copyfile \gset
COPY tb TO :'copyfile' WITH (FORMAT binary);
CREATE TABLE tb2 (v dsvector);
COPY tb2 FROM :'copyfile' WITH (FORMAT binary);
SELECT v FROM tb2;
CREATE TABLE tb3 (v dsvector(2));
COPY tb3 FROM :'copyfile' WITH (FORMAT binary);
SELECT dsvector_send('[1,2]');
DROP TABLE t3, tb, tb2, tb3;
