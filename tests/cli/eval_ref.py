#!/usr/bin/env python3
"""eval_ref.py -- a second, deliberately plain implementation of the metrics
in docs/eval.md, used by tests/cli/eval_crosscheck.sh to check `densearch
eval` on real qrels. Standard library only.

  eval_ref.py gen QRELS CORPUS_IDS_FROM_JSONL RUN SEED   # write a random run with many ties
  eval_ref.py eval QRELS RUN                             # print "metric value" lines
"""
import functools
import json
import math
import random
import sys


def load_qrels(path):
    q = {}
    with open(path) as f:
        for i, line in enumerate(f):
            p = line.split()
            if not p or (i == 0 and p[0] == "query-id"):
                continue
            qid, doc, rel = (p[0], p[2], p[3]) if len(p) == 4 else (p[0], p[1], p[2])
            q.setdefault(qid, {})[doc] = int(rel)
    return q


def order(a, b):
    # score descending, then doc id descending in byte order (trec_eval)
    if a[0] != b[0]:
        return -1 if a[0] > b[0] else 1
    x, y = a[1].encode(), b[1].encode()
    return -1 if x > y else (1 if x < y else 0)


def evaluate(qrels_path, run_path):
    qrels = load_qrels(qrels_path)
    run = {}
    with open(run_path) as f:
        for line in f:
            p = line.split()
            if p:
                run.setdefault(p[0], []).append((float(p[4]), p[2]))
    cuts = {"ndcg@10": 10, "ndcg@3": 3, "mrr@10": 10, "recall@100": 100, "p@5": 5, "map@20": 20}
    tot = dict.fromkeys(["ndcg@10", "ndcg@3", "mrr@10", "recall@100", "map", "p@5", "map@20"], 0.0)
    n = 0
    for qid, judged in qrels.items():
        nrel = sum(1 for v in judged.values() if v >= 1)
        if nrel == 0:
            continue
        n += 1
        ranked = sorted(run.get(qid, []), key=functools.cmp_to_key(order))
        rels = [judged.get(d, 0) for _, d in ranked]
        ideal = sorted((v for v in judged.values() if v > 0), reverse=True)
        for name in ("ndcg@10", "ndcg@3"):
            k = cuts[name]
            dcg = sum(g / math.log2(i + 2) for i, g in enumerate(rels[:k]) if g > 0)
            idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal[:k]))
            tot[name] += dcg / idcg if idcg > 0 else 0.0
        tot["mrr@10"] += next((1.0 / (i + 1) for i, g in enumerate(rels[:10]) if g >= 1), 0.0)
        tot["recall@100"] += sum(1 for g in rels[:100] if g >= 1) / nrel
        tot["p@5"] += sum(1 for g in rels[:5] if g >= 1) / 5.0
        for name, k in (("map", len(rels)), ("map@20", 20)):
            hits, s = 0, 0.0
            for i, g in enumerate(rels[:k]):
                if g >= 1:
                    hits += 1
                    s += hits / (i + 1)
            tot[name] += s / nrel
    for name, v in tot.items():
        print("%s %.6f" % (name, v / n if n else 0.0))


def generate(qrels_path, corpus_path, run_path, seed):
    rng = random.Random(int(seed))
    qrels = load_qrels(qrels_path)
    ids = [json.loads(l)["_id"] for l in open(corpus_path) if l.strip()]
    with open(run_path, "w") as f:
        for qid in sorted(qrels):
            if rng.random() < 0.1:
                continue                     # some judged queries absent from the run
            docs = set(rng.sample(ids, 60)) | {d for d in qrels[qid] if rng.random() < 0.7}
            for rank, d in enumerate(sorted(docs)):
                # few distinct scores -> many ties, decided by doc id
                f.write("%s Q0 %s %d %d.5 ref\n" % (qid, d, rank + 1, rng.randint(0, 12)))
        f.write("nosuchquery Q0 %s 1 1 ref\n" % ids[0])


if __name__ == "__main__":
    if sys.argv[1] == "gen":
        generate(*sys.argv[2:6])
    else:
        evaluate(sys.argv[2], sys.argv[3])
