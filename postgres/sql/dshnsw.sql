-- dshnsw: index scans vs exact scans, filters, inserts, deletes, bad input.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS densearch;
RESET client_min_messages;

-- 2000 deterministic 8-dimensional vectors, 10 categories
CREATE TABLE items (id int PRIMARY KEY, cat int, v dsvector(8));
INSERT INTO items
SELECT i, i % 10, ARRAY(SELECT sin(i * 0.7 + j * 1.9) + 0.3 * cos(i * i * 0.013 + j) FROM generate_series(1, 8) j)::real[]
FROM generate_series(1, 2000) i;
CREATE TABLE queries AS
SELECT i AS qid, ARRAY(SELECT cos(i * 1.1 + j * 0.5) FROM generate_series(1, 8) j)::real[]::dsvector(8) AS qv
FROM generate_series(1, 25) i;

CREATE INDEX items_l2 ON items USING dshnsw (v dsvector_l2_ops) WITH (m = 8, ef_construction = 40);
\d items

-- ORDER BY distance LIMIT k is an index scan (on a table this small the
-- planner rightly prefers an exact scan and sort, so seqscans are disabled)
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM items ORDER BY v <-> '[1,0,0,0,0,0,0,1]' LIMIT 10;
EXPLAIN (COSTS OFF) SELECT id FROM items WHERE cat = 3 ORDER BY v <-> '[1,0,0,0,0,0,0,1]' LIMIT 10;
-- no ORDER BY: never the index, even with seqscans disabled
EXPLAIN (COSTS OFF) SELECT id FROM items WHERE cat = 3;
RESET enable_seqscan;

-- top-10 of 25 queries: index vs exact
CREATE FUNCTION topk_recall(op text, k int) RETURNS TABLE (recall numeric, same_lists bigint) AS $$
BEGIN
  SET LOCAL enable_seqscan = off;
  EXECUTE format('CREATE TEMP TABLE ann ON COMMIT DROP AS SELECT qid, ARRAY(SELECT id FROM items ORDER BY v %s qv LIMIT %s) AS ids FROM queries', op, k);
  SET LOCAL enable_seqscan = on;
  SET LOCAL enable_indexscan = off;
  EXECUTE format('CREATE TEMP TABLE exact ON COMMIT DROP AS SELECT qid, ARRAY(SELECT id FROM items ORDER BY v %s qv, id LIMIT %s) AS ids FROM queries', op, k);
  RETURN QUERY SELECT round(avg(cardinality(ARRAY(SELECT unnest(a.ids) INTERSECT SELECT unnest(e.ids)))::numeric / k), 3),
                      count(*) FILTER (WHERE a.ids = e.ids)
               FROM ann a JOIN exact e USING (qid);
  DROP TABLE ann, exact;
END $$ LANGUAGE plpgsql;

SET dshnsw.ef_search = 100;
SELECT recall >= 0.99 AS good_recall, same_lists >= 23 AS mostly_identical FROM topk_recall('<->', 10);
SET dshnsw.ef_search = 10;
SELECT recall >= 0.80 AS fair_recall FROM topk_recall('<->', 10);
-- k larger than ef_search: the scan widens itself and still returns k rows
SET enable_seqscan = off;
SELECT count(*) FROM (SELECT id FROM items ORDER BY v <-> '[1,0,0,0,0,0,0,1]' LIMIT 50) s;
RESET enable_seqscan;
SELECT recall >= 0.95 AS good_recall_k50 FROM topk_recall('<->', 50);

-- a WHERE filter still returns k rows (iterative scan), and the right ones
SET enable_seqscan = off;
SELECT count(*) FROM (SELECT id FROM items WHERE cat = 3 ORDER BY v <-> '[1,0,0,0,0,0,0,1]' LIMIT 20) s;
SELECT count(*) FROM (SELECT id FROM items WHERE id % 100 = 7 ORDER BY v <-> '[1,0,0,0,0,0,0,1]' LIMIT 15) s;
-- more rows wanted than pass the filter: every one of them, once
SELECT count(*), count(DISTINCT id) FROM (SELECT id FROM items WHERE id % 500 = 0 ORDER BY v <-> '[0,1,0,1,0,1,0,1]' LIMIT 10) s;
-- no LIMIT: the whole table, each row once
SELECT count(*), count(DISTINCT id) FROM (SELECT id FROM items ORDER BY v <-> '[0,1,0,1,0,1,0,1]') s;
CREATE TEMP TABLE f_ann AS SELECT id FROM items WHERE cat = 3 ORDER BY v <-> '[1,0,0,0,0,0,0,1]' LIMIT 20;
RESET enable_seqscan;
SET enable_indexscan = off;
CREATE TEMP TABLE f_exact AS SELECT id FROM items WHERE cat = 3 ORDER BY v <-> '[1,0,0,0,0,0,0,1]' LIMIT 20;
RESET enable_indexscan;
SELECT count(*) >= 18 AS filtered_overlap FROM (SELECT id FROM f_ann INTERSECT SELECT id FROM f_exact) s;
SET dshnsw.ef_search = 100;

-- inner product and cosine classes
CREATE INDEX items_ip ON items USING dshnsw (v dsvector_ip_ops) WITH (m = 8, ef_construction = 40);
CREATE INDEX items_cos ON items USING dshnsw (v dsvector_cosine_ops) WITH (m = 8, ef_construction = 40);
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM items ORDER BY v <#> '[1,0,0,0,0,0,0,1]' LIMIT 10;
EXPLAIN (COSTS OFF) SELECT id FROM items ORDER BY v <=> '[1,0,0,0,0,0,0,1]' LIMIT 10;
RESET enable_seqscan;
SELECT recall >= 0.98 AS good_recall_ip FROM topk_recall('<#>', 10);
SELECT recall >= 0.98 AS good_recall_cos FROM topk_recall('<=>', 10);
DROP INDEX items_ip, items_cos;

-- inserts after the build are found
INSERT INTO items
SELECT i, i % 10, ARRAY(SELECT sin(i * 0.7 + j * 1.9) + 0.3 * cos(i * i * 0.013 + j) FROM generate_series(1, 8) j)::real[]
FROM generate_series(2001, 2300) i;
INSERT INTO items VALUES (5000, 0, '[9,9,9,9,9,9,9,9]');
SET enable_seqscan = off;
SELECT id FROM items ORDER BY v <-> '[9,9,9,9,9,9,9,8.9]' LIMIT 1;
RESET enable_seqscan;
SELECT recall >= 0.98 AS good_recall_after_inserts FROM topk_recall('<->', 10);

-- deletes: VACUUM marks them, scans skip them and still return k rows
DELETE FROM items WHERE id % 3 = 0;
VACUUM items;
SET enable_seqscan = off;
SELECT count(*), count(*) FILTER (WHERE id % 3 = 0) AS deleted_returned
FROM (SELECT id FROM items ORDER BY v <-> '[1,0,0,0,0,0,0,1]' LIMIT 30) s;
RESET enable_seqscan;
SELECT recall >= 0.97 AS good_recall_after_deletes FROM topk_recall('<->', 10);
-- rows inserted after the vacuum may reuse the heap slots of deleted ones
INSERT INTO items SELECT i, 1, '[-5,-5,-5,-5,-5,-5,-5,-5]' FROM generate_series(6000, 6009) i;
SET enable_seqscan = off;
SELECT count(*) FROM (SELECT id FROM items ORDER BY v <-> '[-5,-5,-5,-5,-5,-5,-5,-5]' LIMIT 10) s WHERE id >= 6000;
RESET enable_seqscan;

-- NULL vectors are not indexed; NULL query vectors return rows in any order
INSERT INTO items VALUES (7000, 1, NULL);
SET enable_seqscan = off;
SELECT count(*) FROM (SELECT id FROM items ORDER BY v <-> NULL LIMIT 7) s;
RESET enable_seqscan;

-- bad input: clear errors
SET enable_seqscan = off;
SELECT id FROM items ORDER BY v <-> '[1,2,3]' LIMIT 1;
RESET enable_seqscan;
CREATE TABLE anydim (v dsvector);
CREATE INDEX ON anydim USING dshnsw (v);
CREATE TABLE wide (v dsvector(4000));
CREATE INDEX ON wide USING dshnsw (v);
CREATE INDEX ON items USING dshnsw (v) WITH (m = 1);
CREATE INDEX ON items USING dshnsw (v) WITH (m = 16, ef_construction = 8);
CREATE INDEX ON items USING dshnsw (v) WITH (nonsense = 3);
CREATE INDEX ON items USING dshnsw (cat);
SET dshnsw.ef_search = 0;
SHOW dshnsw.ef_search;

-- empty tables, unlogged tables, zero vectors under cosine
CREATE TABLE empty (v dsvector(3));
CREATE INDEX ON empty USING dshnsw (v);
SET enable_seqscan = off;
SELECT * FROM empty ORDER BY v <-> '[1,2,3]' LIMIT 3;
INSERT INTO empty VALUES ('[1,2,3]'), ('[0,0,0]'), ('[3,2,1]');
SELECT v FROM empty ORDER BY v <-> '[1,2,3]' LIMIT 3;
CREATE UNLOGGED TABLE ul (v dsvector(3));
INSERT INTO ul VALUES ('[1,2,3]'), ('[0,0,0]'), ('[3,2,1]');
CREATE INDEX ON ul USING dshnsw (v dsvector_cosine_ops);
SELECT v FROM ul ORDER BY v <=> '[1,2,3]' LIMIT 3;
RESET enable_seqscan;
DROP TABLE items, queries, anydim, wide, empty, ul;
DROP FUNCTION topk_recall;
