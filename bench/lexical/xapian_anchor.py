#!/usr/bin/python3
"""xapian_anchor.py -- the Xapian BM25 anchor for densearch's lexical benchmarks.

  /usr/bin/python3 bench/lexical/xapian_anchor.py DATASET_DIR WORK_DIR [--k 10,1000] [--json OUT]

Indexes DATASET_DIR/corpus.jsonl (BEIR layout) into WORK_DIR/xapian.db on one
thread, then runs every query of DATASET_DIR/queries.jsonl once per k, writing
WORK_DIR/xapian.top<k>.trec (TREC run format). Prints one JSON object with
index time (wall and CPU), index size (bytes under the db folder, as du -b), docs/s, and per k
the queries/s and per-query latency p50/p99 (ms).

Setup (the usual Xapian BM25 configuration, matching densearch's defaults):
  - BM25Weight(k1=0.9, k2=0, k3=1, b=0.4, min_normlen=0.5); Xapian's argument
    order is (k1, k2, k3, b, min_normlen), its defaults are k1=1, b=0.5;
  - TermGenerator and QueryParser with Stem("english"), STEM_SOME;
  - title and text indexed as one field (title, a position gap, then text);
  - no positional information by default (index_text_without_positions):
    BM25 does not use positions and densearch stores none, so this is the
    smaller and faster Xapian configuration, i.e. the stronger anchor
    (--positions restores Xapian's default);
  - queries parsed with no operators (flags 0) and OR as default operator, so
    query text is taken literally, like `densearch search`.
Needs python3-xapian (scripts/install-deps.sh --bench).
"""
import argparse
import json
import os
import sys
import time

import xapian


def du_bytes(path):
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            total += os.path.getsize(os.path.join(root, f))
    return total


def pct(sorted_vals, p):
    if not sorted_vals:
        return 0.0
    i = min(len(sorted_vals) - 1, int(round(p / 100.0 * (len(sorted_vals) - 1))))
    return sorted_vals[i]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dataset")
    ap.add_argument("work")
    ap.add_argument("--k", default="10,1000", help="comma-separated depths (default 10,1000)")
    ap.add_argument("--json", help="also write the JSON summary here")
    ap.add_argument("--k1", type=float, default=0.9)
    ap.add_argument("--b", type=float, default=0.4)
    ap.add_argument("--positions", action="store_true", help="store term positions (Xapian's default)")
    a = ap.parse_args()
    ks = [int(x) for x in a.k.split(",") if x]
    os.makedirs(a.work, exist_ok=True)
    db_path = os.path.join(a.work, "xapian.db")
    stem = xapian.Stem("english")

    # ---- index ----
    t0 = time.perf_counter()
    c0 = time.process_time()
    db = xapian.WritableDatabase(db_path, xapian.DB_CREATE_OR_OVERWRITE)
    tg = xapian.TermGenerator()
    tg.set_stemmer(stem)
    tg.set_stemming_strategy(xapian.TermGenerator.STEM_SOME)
    index = tg.index_text if a.positions else tg.index_text_without_positions
    n_docs = 0
    with open(os.path.join(a.dataset, "corpus.jsonl"), encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            d = json.loads(line)
            doc = xapian.Document()
            tg.set_document(doc)
            title = d.get("title") or ""
            if title:
                index(title)
                tg.increase_termpos()
            index(d.get("text") or "")
            doc_id = str(d["_id"])
            doc.set_data(doc_id)
            doc.add_boolean_term("Q" + doc_id)
            db.add_document(doc)
            n_docs += 1
    db.commit()
    db.close()
    t_index = time.perf_counter() - t0
    c_index = time.process_time() - c0
    size = du_bytes(db_path)

    # ---- search ----
    db = xapian.Database(db_path)
    qp = xapian.QueryParser()
    qp.set_stemmer(stem)
    qp.set_stemming_strategy(xapian.QueryParser.STEM_SOME)
    qp.set_database(db)
    qp.set_default_op(xapian.Query.OP_OR)
    enq = xapian.Enquire(db)
    enq.set_weighting_scheme(xapian.BM25Weight(a.k1, 0.0, 1.0, a.b, 0.5))
    queries = []
    with open(os.path.join(a.dataset, "queries.jsonl"), encoding="utf-8") as f:
        for line in f:
            if line.strip():
                q = json.loads(line)
                queries.append((str(q["_id"]), q.get("text") or ""))
    out = {"engine": "xapian " + xapian.version_string(), "dataset": os.path.basename(os.path.normpath(a.dataset)),
           "docs": n_docs, "positions": bool(a.positions), "index_seconds": round(t_index, 3), "index_cpu_seconds": round(c_index, 3), "index_bytes": size,
           "docs_per_second": round(n_docs / t_index, 1) if t_index > 0 else 0, "queries": len(queries),
           "search": {}}
    for k in ks:
        run_path = os.path.join(a.work, "xapian.top%d.trec" % k)
        lat = []
        lines = []
        t0 = time.perf_counter()
        for qid, text in queries:
            s = time.perf_counter()
            query = qp.parse_query(text, 0)
            enq.set_query(query)
            mset = enq.get_mset(0, k)
            rank = 0
            for m in mset:
                rank += 1
                lines.append("%s Q0 %s %d %.6f xapian\n" % (qid, m.document.get_data().decode("utf-8"), rank, m.weight))
            lat.append((time.perf_counter() - s) * 1000.0)
        t_search = time.perf_counter() - t0
        with open(run_path, "w", encoding="utf-8") as f:
            f.write("".join(lines))
        lat.sort()
        out["search"]["top%d" % k] = {"run": run_path, "seconds": round(t_search, 3),
                                      "qps": round(len(queries) / t_search, 1) if t_search > 0 else 0,
                                      "p50_ms": round(pct(lat, 50), 3), "p99_ms": round(pct(lat, 99), 3)}
    text = json.dumps(out)
    print(text)
    if a.json:
        with open(a.json, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    sys.exit(main())
