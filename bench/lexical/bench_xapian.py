#!/usr/bin/python3
"""bench_xapian.py -- densearch BM25 vs Xapian on one BEIR dataset, same run.

Usage: nice /usr/bin/python3 bench/lexical/bench_xapian.py [DATASET_DIR] [--densearch build/densearch] [--reps 3]

Measures, for both engines on the same corpus and queries:
  - indexing CPU time on one thread (densearch also with 2 threads, wall time);
  - query throughput on one thread, top-10 and top-1000 (CPU time);
  - index size on disk; nDCG@10 (graded gain, log2 discount, judged queries).
CPU time (not wall time) is compared because the machine is shared; Xapian's
corpus JSON parsing is done before its clock starts (favouring Xapian), while
densearch's times include reading and parsing the corpus and opening the index.
Xapian: TermGenerator + Stem("english") + the same 33 Lucene stop words,
no positions, document data = title + text (densearch stores both, zstd),
QueryParser(OR, STEM_SOME), BM25Weight(k1=0.9, k2=0, k3=1, b=0.4, min_normlen=0.5).
"""
import json, math, os, resource, shutil, subprocess, sys, tempfile, time, collections
import xapian

STOP = "a an and are as at be but by for if in into is it no not of on or such that the their then there these they this to was will with".split()

def child_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime

def run_child(cmd):
    c0, w0 = child_cpu(), time.time()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return child_cpu() - c0, time.time() - w0

def du(path):
    if os.path.isfile(path): return os.path.getsize(path)
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(path) for f in fs)

def ndcg10(qrels, run):
    tot = n = 0
    for q, rel in qrels.items():
        if not any(v > 0 for v in rel.values()): continue
        docs = run.get(q, [])[:10]
        dcg = sum(rel.get(d, 0) / math.log2(i + 2) for i, d in enumerate(docs))
        ideal = sorted((v for v in rel.values() if v > 0), reverse=True)[:10]
        idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
        tot += dcg / idcg; n += 1
    return tot / n if n else 0.0

def main():
    args = sys.argv[1:]
    ds_bin = "build/densearch"; reps = 3; data = "../shared/data/scifact"
    i = 0
    while i < len(args):
        if args[i] == "--densearch": ds_bin = args[i + 1]; i += 2
        elif args[i] == "--reps": reps = int(args[i + 1]); i += 2
        else: data = args[i]; i += 1
    corpus = os.path.join(data, "corpus.jsonl"); queries = os.path.join(data, "queries.jsonl")
    qrels = collections.defaultdict(dict)
    for line in open(os.path.join(data, "qrels/test.tsv")):
        p = line.split()
        if len(p) < 3 or not p[2].lstrip('-').isdigit(): continue
        qrels[p[0]][p[1]] = int(p[2])
    qs = [json.loads(l) for l in open(queries) if l.strip()]
    tmp = tempfile.mkdtemp(prefix="dsbench_")
    try:
        # ---- densearch indexing
        ds_ix = os.path.join(tmp, "ds")
        cpu1, wall1 = run_child([ds_bin, "index", "--corpus", corpus, "--out", ds_ix, "--threads", "1"])
        cpu2, wall2 = run_child([ds_bin, "index", "--corpus", corpus, "--out", ds_ix, "--threads", "2"])
        ds_size = du(os.path.join(ds_ix, "lexical.dsx"))
        # ---- Xapian indexing (parse first, then time only indexing)
        docs = [json.loads(l) for l in open(corpus) if l.strip()]
        xp = os.path.join(tmp, "xapian")
        c0 = time.process_time(); w0 = time.time()
        db = xapian.WritableDatabase(xp, xapian.DB_CREATE_OR_OVERWRITE)
        tg = xapian.TermGenerator()
        tg.set_stemmer(xapian.Stem("english"))
        stopper = xapian.SimpleStopper()
        for w in STOP: stopper.add(w)
        tg.set_stopper(stopper)
        for d in docs:
            doc = xapian.Document()
            tg.set_document(doc)
            text = (d.get("title") or "") + "\n" + (d.get("text") or "")
            tg.index_text_without_positions(text)
            doc.set_data(text)
            doc.add_value(0, d["_id"])
            doc.add_boolean_term("Q" + d["_id"])
            db.add_document(doc)
        db.commit(); db.close()
        x_cpu = time.process_time() - c0; x_wall = time.time() - w0
        x_size = du(xp)
        # ---- queries: Xapian, one thread
        db = xapian.Database(xp)
        qp = xapian.QueryParser(); qp.set_stemmer(xapian.Stem("english")); qp.set_stemming_strategy(xapian.QueryParser.STEM_SOME)
        qp.set_stopper(stopper); qp.set_database(db); qp.set_default_op(xapian.Query.OP_OR)
        enq = xapian.Enquire(db); enq.set_weighting_scheme(xapian.BM25Weight(0.9, 0, 1, 0.4, 0.5))
        xq = {}
        for k in (10, 1000):
            c0 = time.process_time()
            for _ in range(reps):
                for q in qs:
                    enq.set_query(qp.parse_query(q["text"], 0))
                    m = enq.get_mset(0, k)
                    if k == 1000 and _ == 0:
                        pass
            xq[k] = reps * len(qs) / (time.process_time() - c0)
        xrun = {}
        for q in qs:
            enq.set_query(qp.parse_query(q["text"], 0))
            xrun[q["_id"]] = [mi.document.get_value(0).decode() for mi in enq.get_mset(0, 10)]
        # ---- queries: densearch, one thread (queries repeated reps times)
        qfile = os.path.join(tmp, "q.jsonl")
        with open(qfile, "w") as f:
            for r in range(reps):
                for q in qs: f.write(json.dumps({"_id": "%s_%d" % (q["_id"], r), "text": q["text"]}) + "\n")
        dq = {}
        empty = os.path.join(tmp, "empty.jsonl")
        with open(empty, "w") as f: f.write(json.dumps({"_id": "x", "text": "zzzz"}) + "\n")
        base, _ = run_child([ds_bin, "search", "--index", ds_ix, "--queries", empty, "--threads", "1", "--run-out", os.devnull])
        for k in (10, 1000):
            cpu, _ = run_child([ds_bin, "search", "--index", ds_ix, "--queries", qfile, "--k", str(k), "--threads", "1", "--run-out", os.devnull])
            dq[k] = reps * len(qs) / max(cpu - base, 1e-9)
        runf = os.path.join(tmp, "run.trec")
        run_child([ds_bin, "search", "--index", ds_ix, "--queries", queries, "--k", "10", "--run-out", runf])
        drun = collections.defaultdict(list)
        for line in open(runf):
            p = line.split(); drun[p[0]].append(p[2])
        n = len(docs)
        print("dataset: %s (%d docs, %d queries x %d reps)" % (data, n, len(qs), reps))
        print("| measure | densearch | Xapian | ratio |")
        print("|---|---|---|---|")
        print("| index, 1 thread, CPU s (docs/s) | %.2f (%.0f) | %.2f (%.0f) | %.2fx |" % (cpu1, n / cpu1, x_cpu, n / x_cpu, x_cpu / cpu1))
        print("| index, 2 threads, wall s | %.2f | (1 thread) %.2f | %.2fx |" % (wall2, x_wall, x_wall / wall2))
        print("| queries/s top-10, 1 thread (CPU) | %.0f | %.0f | %.2fx |" % (dq[10], xq[10], dq[10] / xq[10]))
        print("| queries/s top-1000, 1 thread (CPU) | %.0f | %.0f | %.2fx |" % (dq[1000], xq[1000], dq[1000] / xq[1000]))
        print("| index size MB | %.2f | %.2f | %.2fx |" % (ds_size / 1e6, x_size / 1e6, ds_size / x_size))
        print("| nDCG@10 | %.4f | %.4f | |" % (ndcg10(qrels, drun), ndcg10(qrels, xrun)))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

if __name__ == "__main__":
    main()
