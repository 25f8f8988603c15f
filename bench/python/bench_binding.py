"""bench_binding.py -- the Python binding against hnswlib's and FAISS's
Python bindings, on the same data in the same run.

  hnsw:  per-call time of a single-vector HNSW search from Python (a loop of
         index.search(x[i]) vs hnswlib's knn_query(x[i])), same M,
         ef_construction, ef and data; once on a 1-vector index (the call
         overhead alone: argument parsing, buffer access, result objects,
         GIL release) and once on an n-vector index (overhead + search),
         with recall@k of both against exact search.
  flat:  batch throughput of exact inner-product search: one search() of
         nq queries vs FAISS IndexFlatIP.search, queries/s.

Rounds alternate between the libraries (interleaved, so machine load hits
both alike) and the median per library is reported with the ratio.

  PYTHONPATH=build/python /usr/bin/python3 bench/python/bench_binding.py hnsw
  PYTHONPATH=build/python /usr/bin/python3 bench/python/bench_binding.py flat
Options: --n --dim --queries --k --ef --M --efc --metric --rounds --seed (see --help).
Needs python3-numpy, python3-hnswlib, python3-faiss (scripts/install-deps.sh --bench).
"""
import argparse
import os
import platform
import statistics
import subprocess
import time

import numpy as np

import densearch


def cpu_name():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def git_sha():
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              cwd=os.path.dirname(os.path.abspath(__file__))).stdout.strip()
    except OSError:
        return "?"


HNSW_ONLY = {"M", "ef", "efc", "metric", "overhead_queries"}


def header(args):
    print("# %s | %s | densearch %s simd=%s threads=%d | git %s | %s" % (
        args.cmd, cpu_name(), densearch.__version__, densearch.simd(), densearch.threads(), git_sha(),
        " ".join("%s=%s" % (k, v) for k, v in sorted(vars(args).items())
                 if k != "cmd" and (args.cmd == "hnsw" or k not in HNSW_ONLY))))


def per_call(fn, qs, reps):
    """Seconds per call of fn(q) over the rows of qs, best of the loop passes."""
    t0 = time.perf_counter()
    for _ in range(reps):
        for q in qs:
            fn(q)
    return (time.perf_counter() - t0) / (reps * len(qs))


def unit(x):
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def bench_hnsw(args):
    import hnswlib
    rng = np.random.default_rng(args.seed)
    x = rng.standard_normal((args.n, args.dim), dtype=np.float32)
    q = rng.standard_normal((args.queries, args.dim), dtype=np.float32)
    one = x[:1].copy()

    sims = unit(q) @ unit(x).T if args.metric == "cosine" else q @ x.T
    truth = np.argsort(-sims, axis=1)[:, :args.k]

    t = time.perf_counter()
    ds = densearch.Index(args.dim, type="hnsw", metric=args.metric, M=args.M, ef_construction=args.efc,
                         seed=args.seed)
    ds.add(x)
    t_ds_build = time.perf_counter() - t
    t = time.perf_counter()
    hl = hnswlib.Index(space=args.metric, dim=args.dim)
    hl.init_index(max_elements=args.n, ef_construction=args.efc, M=args.M, random_seed=args.seed)
    hl.add_items(x, np.arange(args.n))
    t_hl_build = time.perf_counter() - t
    hl.set_ef(args.ef)

    ds1 = densearch.Index(args.dim, type="hnsw", metric=args.metric, M=args.M, ef_construction=args.efc)
    ds1.add(one)
    hl1 = hnswlib.Index(space=args.metric, dim=args.dim)
    hl1.init_index(max_elements=1, ef_construction=args.efc, M=args.M)
    hl1.add_items(one, np.arange(1))
    hl1.set_ef(args.ef)

    ef, k = args.ef, args.k
    ds_ids = np.vstack([np.asarray(ds.search(r, k, ef=ef)[0]) for r in q])
    hl_ids = np.vstack([hl.knn_query(r, k=k)[0] for r in q])
    rec = lambda got: np.mean([len(set(g) & set(t)) / k for g, t in zip(got, truth)])
    print("build s: densearch %.2f  hnswlib %.2f   recall@%d at ef=%d: densearch %.4f  hnswlib %.4f" % (
        t_ds_build, t_hl_build, k, ef, rec(ds_ids), rec(hl_ids)))

    q1 = q[:args.overhead_queries]
    res = {"ds_1": [], "hl_1": [], "ds_n": [], "hl_n": []}
    for _ in range(args.rounds):
        res["ds_1"].append(per_call(lambda r: ds1.search(r, 1, ef=ef), q1, 20))
        res["hl_1"].append(per_call(lambda r: hl1.knn_query(r, k=1), q1, 20))
        res["ds_n"].append(per_call(lambda r: ds.search(r, k, ef=ef), q, 1))
        res["hl_n"].append(per_call(lambda r: hl.knn_query(r, k=k), q, 1))
    m = {key: statistics.median(v) * 1e6 for key, v in res.items()}
    print("per call, us (median of %d rounds):" % args.rounds)
    print("  1-vector index (call overhead): densearch %.2f  hnswlib %.2f  ratio hnswlib/densearch %.2fx" % (
        m["ds_1"], m["hl_1"], m["hl_1"] / m["ds_1"]))
    print("  %d-vector index, k=%d, ef=%d:  densearch %.2f  hnswlib %.2f  ratio hnswlib/densearch %.2fx" % (
        args.n, k, ef, m["ds_n"], m["hl_n"], m["hl_n"] / m["ds_n"]))
    print("  rounds: " + "  ".join("%s=[%s]" % (key, ",".join("%.2f" % (x * 1e6) for x in v)) for key, v in res.items()))


def bench_flat(args):
    import faiss
    rng = np.random.default_rng(args.seed)
    x = rng.standard_normal((args.n, args.dim), dtype=np.float32)
    q = rng.standard_normal((args.queries, args.dim), dtype=np.float32)
    ds = densearch.Index(args.dim, type="flat", metric="ip")
    ds.add(x)
    fi = faiss.IndexFlatIP(args.dim)
    fi.add(x)
    k = args.k
    ds_ids = np.asarray(ds.search(q, k)[0])
    _, fi_ids = fi.search(q, k)
    agree = np.mean([len(set(a) & set(b)) / k for a, b in zip(ds_ids, fi_ids)])
    print("faiss omp threads %d; top-%d agreement densearch/FAISS %.4f" % (faiss.omp_get_max_threads(), k, agree))
    res = {"ds": [], "fi": []}
    for _ in range(args.rounds):
        t = time.perf_counter()
        ids, scores = ds.search(q, k)
        np.asarray(ids), np.asarray(scores)
        res["ds"].append(time.perf_counter() - t)
        t = time.perf_counter()
        fi.search(q, k)
        res["fi"].append(time.perf_counter() - t)
    m = {key: args.queries / statistics.median(v) for key, v in res.items()}
    print("batch of %d queries, %d x %d, k=%d: densearch %.0f q/s  FAISS %.0f q/s  ratio densearch/FAISS %.2fx" % (
        args.queries, args.n, args.dim, k, m["ds"], m["fi"], m["ds"] / m["fi"]))
    print("  rounds (s): " + "  ".join("%s=[%s]" % (key, ",".join("%.4f" % x for x in v)) for key, v in res.items()))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("cmd", choices=["hnsw", "flat"])
    ap.add_argument("--n", type=int, default=None, help="base vectors (hnsw 20000, flat 100000)")
    ap.add_argument("--dim", type=int, default=None, help="dimension (hnsw 128, flat 384)")
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--overhead-queries", type=int, default=1000)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--ef", type=int, default=64)
    ap.add_argument("--M", type=int, default=16)
    ap.add_argument("--efc", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--metric", choices=["cosine", "ip"], default="cosine", help="hnsw: metric / hnswlib space")
    args = ap.parse_args()
    if args.n is None:
        args.n = 20000 if args.cmd == "hnsw" else 100000
    if args.dim is None:
        args.dim = 128 if args.cmd == "hnsw" else 384
    header(args)
    (bench_hnsw if args.cmd == "hnsw" else bench_flat)(args)


if __name__ == "__main__":
    main()
