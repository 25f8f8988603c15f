#!/usr/bin/env python3
"""run_hnsw.py -- densearch HNSW and flat against hnswlib, FAISS (and usearch
if installed under bench/ann/node_modules) on one dataset, in one run.

Data: a directory from gen_dataset.py or embed_corpora.sh (base.fvecs,
queries.fvecs, gt.ivecs).
Every library builds the same vectors at the same M / ef_construction with
--build-threads threads, then answers the queries on ONE thread while ef
sweeps the same values. densearch answers from C one query per call
(`vectors bench --batch 1`); hnswlib and FAISS get one batched call per ef
with a single thread, which processes the queries one by one in C++ without
Python overhead (the most favourable setting for them). Reported: recall@10
vs QPS, QPS at recall 0.95 / 0.99 (log-interpolated between sweep points),
build seconds, bytes per vector; flat f32 vs FAISS IndexFlatIP, single-query
and batched. Writes a CSV (one row per library x parameter) with CPU model,
ISA and git SHA, and prints a summary for docs/benchmarks.md.

Usage: nice /usr/bin/python3 bench/ann/run_hnsw.py --data bench/work/ann/s200k \
           --m 16 --ef-construction 200 --build-threads 2 --out bench/results/hnsw_s200k.csv
       [--ef-sweep 10,16,...,512]  (hard data, e.g. the embed_corpora.sh sets, needs
                                    ef beyond 512 to reach recall 0.99)

Long runs (1M vectors) may run the libraries one at a time, each into its own
CSV (--only densearch,hnswlib,flat --out a.csv; --only faiss --out b.csv ...),
then merge them: --merge a.csv b.csv --out all.csv prints the same summary.
Every invocation uses the same data, M, ef_construction and build threads
(the merge refuses CSVs that disagree on them), and the CSV is rewritten
after each library so a run cut short keeps what it measured. peak_rss_mb:
the peak RSS of the densearch / usearch child process (it includes the
process's own copy of the base vectors, n * dim * 4 bytes); for hnswlib and
FAISS (in this process) the growth of RSS over the build, i.e. the index alone.
"""
import argparse
import csv
import math
import os
import platform
import subprocess
import sys
import time

# One BLAS thread everywhere (numpy, FAISS flat, densearch's sgemm): the
# comparisons are single-threaded searches.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

STORAGES = ["f32", "f16", "int8"]
EF_SWEEP = [10, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512]
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def read_xvecs(path, dtype):
    raw = np.fromfile(path, dtype=np.int32)
    d = int(raw[0])
    return raw.reshape(-1, d + 1)[:, 1:].view(dtype).copy()


def recall_at_10(ids, gt):
    hit = 0
    for i in range(len(ids)):
        hit += len(set(ids[i][:10].tolist()) & set(gt[i][:10].tolist()))
    return hit / (10.0 * len(ids))


def qps_at(points, target, col=2):
    """QPS at a recall target: log-linear interpolation between the sweep
    points that bracket it; None when the sweep never reaches it. col 2 is
    wall-clock QPS, col 3 CPU-time QPS (steadier on a shared machine)."""
    pts = sorted([(p[0], p[1], p[col]) for p in points], key=lambda p: p[1])
    for (p0, r0, q0), (p1, r1, q1) in zip(pts, pts[1:]):
        if r0 < target <= r1:
            t = (target - r0) / (r1 - r0) if r1 > r0 else 1.0
            return math.exp(math.log(q0) + t * (math.log(q1) - math.log(q0)))
    if pts and pts[0][1] >= target:
        return max(q for _, r, q in pts if r >= target)
    return None


def run_densearch(a, typ, extra, batch):
    exe = os.path.join(ROOT, "build", "densearch")
    cmd = [exe, "vectors", "bench", "--base", os.path.join(a.data, "base.fvecs"),
           "--queries", os.path.join(a.data, "queries.fvecs"), "--truth", os.path.join(a.data, "gt.ivecs"),
           "--type", typ, "--metric", "ip", "--threads", str(a.build_threads), "--batch", str(batch)] + extra
    if typ == "hnsw":
        cmd += ["--sweep", ",".join(map(str, a.ef_sweep))]
    env = dict(os.environ, DS_NO_PROGRESS="1")
    out, rss = run_child(cmd, env)
    build, bpv, pts = None, None, []
    for line in out.splitlines():
        if line.startswith("#"):
            build = (float(line.split("build ")[1].split(" s")[0]), float(line.split("build cpu ")[1].split(" s")[0]))
            bpv = float(line.split(", ")[2].split(" bytes")[0])
        elif line and line[0].isdigit():
            p, r, q, qc = line.split()
            pts.append((int(p), float(r), float(q), float(qc)))
    return build, bpv, pts, " ".join(cmd), rss


def run_child(cmd, env=None):
    """stdout of cmd (which must succeed) and its peak RSS in MB (wait4)."""
    pr = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env)
    out = pr.stdout.read()
    _, status, ru = os.wait4(pr.pid, 0)
    pr.returncode = os.waitstatus_to_exitcode(status)
    if pr.returncode != 0:
        raise subprocess.CalledProcessError(pr.returncode, cmd)
    return out, ru.ru_maxrss / 1024.0


def rss_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return 0.0


def timed(fn):
    """(result, wall seconds, process CPU seconds) of fn()."""
    t0, c0 = time.perf_counter(), time.process_time()
    r = fn()
    return r, time.perf_counter() - t0, time.process_time() - c0


KEYS = ["library", "n", "dim", "m", "ef_construction", "build_threads", "build_s", "build_cpu_s",
        "bytes_per_vector", "peak_rss_mb", "param", "recall10", "qps", "cpu_qps", "cpu", "isa", "git"]
LIBS = ["densearch", "hnswlib", "faiss", "usearch", "flat"]


def write_csv(path, rows):
    if not path:
        return
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path + ".tmp", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=KEYS)
        w.writeheader()
        for r in rows:
            w.writerow({k: r.get(k, "") for k in KEYS})
    os.replace(path + ".tmp", path)


def summarize(rows):
    """Prints the tables for docs/benchmarks.md from CSV rows (one run or merged)."""
    num = lambda v: float(v) if v not in ("", None) else None
    libs, flat = {}, {}
    for r in rows:
        lib = r["library"]
        if lib.startswith("flat:"):
            flat[lib[5:]] = float(r["qps"])
            continue
        e = libs.setdefault(lib, dict(build=(float(r["build_s"]), float(r["build_cpu_s"])), bpv=float(r["bytes_per_vector"]),
                                      rss=num(r.get("peak_rss_mb")), pts=[]))
        e["pts"].append((int(r["param"]), float(r["recall10"]), float(r["qps"]), float(r["cpu_qps"])))
    r0 = rows[0]
    print(f"\n## {r0['n']} x {r0['dim']}, M={r0.get('m')}, ef_construction={r0.get('ef_construction')}, "
          f"build threads {r0.get('build_threads')}, search 1 thread; cpu {r0['cpu']}; densearch isa {r0['isa']}; "
          f"git {sorted(set(r['git'] for r in rows))}")
    print("| library | build s (wall / cpu) | bytes/vector | peak RSS MB | QPS @ 0.95 (wall / cpu) | QPS @ 0.99 (wall / cpu) | max recall | QPS @ 0.97 (wall / cpu) |")
    print("|---|---|---|---|---|---|---|---|")
    f = lambda v: f"{v:.0f}" if v else "n/a"
    summ = {}
    for lib, e in libs.items():
        pts = e["pts"]
        summ[lib] = (e["build"], qps_at(pts, 0.95), qps_at(pts, 0.99), qps_at(pts, 0.95, 3), qps_at(pts, 0.99, 3),
                     qps_at(pts, 0.97), qps_at(pts, 0.97, 3))
        b, q95, q99, c95, c99, q97, c97 = summ[lib]
        print(f"| {lib} | {b[0]:.1f} / {b[1]:.1f} | {e['bpv']:.0f} | {f(e['rss'])} | {f(q95)} / {f(c95)} | {f(q99)} / {f(c99)} | "
              f"{max(p[1] for p in pts):.4f} | {f(q97)} / {f(c97)} |")
    rt = lambda x, y: f"x{x / y:.2f}" if x and y else "n/a"
    ds = summ.get("densearch")
    for other in ("hnswlib", "faiss", "usearch"):
        if ds and other in summ:
            o = summ[other]
            print(f"densearch / {other}: QPS@0.95 {rt(ds[1], o[1])} wall, {rt(ds[3], o[3])} cpu; "
                  f"QPS@0.97 {rt(ds[5], o[5])} wall, {rt(ds[6], o[6])} cpu; "
                  f"QPS@0.99 {rt(ds[2], o[2])} wall, {rt(ds[4], o[4])} cpu; "
                  f"build time {rt(ds[0][0], o[0][0])} wall, {rt(ds[0][1], o[0][1])} cpu")
    if "faiss_single" in flat:
        print("| flat | single-query QPS (wall / cpu) | batched QPS (wall / cpu) | recall@10 |")
        print("|---|---|---|---|")
        print(f"| FAISS IndexFlatIP | {flat['faiss_single']:.1f} / {flat['faiss_single_cpu']:.1f} | "
              f"{flat['faiss_batch']:.1f} / {flat['faiss_batch_cpu']:.1f} | {flat['faiss_recall']:.4f} |")
        for st in STORAGES:
            if f"densearch_{st}_single" in flat:
                print(f"| densearch flat {st} | {flat[f'densearch_{st}_single']:.1f} / {flat[f'densearch_{st}_single_cpu']:.1f} | "
                      f"{flat[f'densearch_{st}_batch']:.1f} / {flat[f'densearch_{st}_batch_cpu']:.1f} | {flat[f'densearch_{st}_recall']:.4f} |")
        print(f"densearch f32 / FAISS flat: single {rt(flat['densearch_f32_single'], flat['faiss_single'])} wall, "
              f"{rt(flat['densearch_f32_single_cpu'], flat['faiss_single_cpu'])} cpu; batched "
              f"{rt(flat['densearch_f32_batch'], flat['faiss_batch'])} wall, {rt(flat['densearch_f32_batch_cpu'], flat['faiss_batch_cpu'])} cpu")


def merge(paths, out):
    rows = []
    for p in paths:
        with open(p, newline="") as f:
            rows.extend(csv.DictReader(f))
    setup = {(r["n"], r["dim"]) for r in rows} | set()
    hn = {(r["m"], r["ef_construction"], r["build_threads"]) for r in rows if not r["library"].startswith("flat:")}
    if len(setup) != 1 or len(hn) > 1:
        sys.exit(f"merge: the CSVs disagree on the setup: n/dim {setup}, M/ef_construction/threads {hn}")
    write_csv(out, rows)
    summarize(rows)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data")
    ap.add_argument("--m", type=int, default=16)
    ap.add_argument("--ef-construction", type=int, default=200)
    ap.add_argument("--build-threads", type=int, default=2)
    ap.add_argument("--out", default=None)
    ap.add_argument("--skip", default="", help="comma list: densearch,hnswlib,faiss,usearch,flat")
    ap.add_argument("--only", default="", help="comma list: run only these (same names as --skip)")
    ap.add_argument("--merge", nargs="+", help="CSV files of earlier runs on the same data: merge into --out, summarize")
    ap.add_argument("--ef-sweep", default=",".join(map(str, EF_SWEEP)),
                    help="ef values every library tries (at most 32), default %(default)s")
    a = ap.parse_args()
    if a.merge:
        return merge(a.merge, a.out)
    if not a.data:
        ap.error("--data is required")
    a.ef_sweep = [int(v) for v in a.ef_sweep.split(",")]
    skip = set(a.skip.split(",")) if a.skip else set()
    if a.only:
        skip |= set(LIBS) - set(a.only.split(","))

    base = read_xvecs(os.path.join(a.data, "base.fvecs"), np.float32)
    q = read_xvecs(os.path.join(a.data, "queries.fvecs"), np.float32)
    gt = read_xvecs(os.path.join(a.data, "gt.ivecs"), np.int32)
    n, d = base.shape
    sha = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    cpu = "unknown"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    isa = subprocess.run([os.path.join(ROOT, "build", "densearch"), "info"], capture_output=True, text=True).stdout
    isa = [l.split(": ")[1] for l in isa.splitlines() if l.startswith("simd: ")][0]
    rows = []

    def record(lib, build, bpv, pts, rss):
        for p, r, qq, qc in pts:
            rows.append(dict(library=lib, n=n, dim=d, m=a.m, ef_construction=a.ef_construction,
                             build_threads=a.build_threads, build_s=round(build[0], 2), build_cpu_s=round(build[1], 2),
                             bytes_per_vector=round(bpv, 1), peak_rss_mb=round(rss, 1) if rss else "", param=p,
                             recall10=round(r, 4), qps=round(qq, 1), cpu_qps=round(qc, 1), cpu=cpu, isa=isa, git=sha))
        write_csv(a.out, rows)
        print(f"{lib:10s} build {build[0]:7.2f} s (cpu {build[1]:.1f} s)  {bpv:7.1f} B/vec  rss {rss or 0:.0f} MB  " +
              "  ".join(f"{p}:{r:.3f}/{qq:.0f}/{qc:.0f}" for p, r, qq, qc in pts), flush=True)

    if "densearch" not in skip:
        build, bpv, pts, cmd, rss = run_densearch(a, "hnsw", ["--m", str(a.m), "--ef-construction", str(a.ef_construction)], 1)
        record("densearch", build, bpv, pts, rss)
        print("  command:", cmd, flush=True)

    if "hnswlib" not in skip:
        import hnswlib
        r0 = rss_mb()
        ix = hnswlib.Index(space="ip", dim=d)
        ix.init_index(max_elements=n, M=a.m, ef_construction=a.ef_construction, random_seed=42)
        _, bw, bc = timed(lambda: ix.add_items(base, np.arange(n), num_threads=a.build_threads))
        build, rss = (bw, bc), rss_mb() - r0
        # hnswlib's own accounting: level-0 block (links + vector + label) per element plus upper links.
        path = "/tmp/hnswlib_bench.bin"
        ix.save_index(path)
        bpv = os.path.getsize(path) / n
        os.remove(path)
        pts = []
        for ef in a.ef_sweep:
            ix.set_ef(ef)
            (labels, _), dt, dc = timed(lambda: ix.knn_query(q, k=10, num_threads=1))
            pts.append((ef, recall_at_10(labels, gt), len(q) / dt, len(q) / dc))
        record("hnswlib", build, bpv, pts, rss)
        del ix

    import faiss
    faiss.omp_set_num_threads(a.build_threads)
    if "faiss" not in skip:
        r0 = rss_mb()
        ix = faiss.IndexHNSWFlat(d, a.m, faiss.METRIC_INNER_PRODUCT)
        ix.hnsw.efConstruction = a.ef_construction
        _, bw, bc = timed(lambda: ix.add(base))
        build, rss = (bw, bc), rss_mb() - r0
        bpv = len(faiss.serialize_index(ix)) / n
        faiss.omp_set_num_threads(1)
        pts = []
        for ef in a.ef_sweep:
            ix.hnsw.efSearch = ef
            (_, labels), dt, dc = timed(lambda: ix.search(q, 10))
            pts.append((ef, recall_at_10(labels, gt), len(q) / dt, len(q) / dc))
        record("faiss", build, bpv, pts, rss)
        del ix

    here = os.path.dirname(os.path.abspath(__file__))
    if "usearch" not in skip and os.path.isdir(os.path.join(here, "node_modules", "usearch")):
        import json
        out, rss = run_child(["node", os.path.join(here, "usearch_bench.js"), a.data, str(a.m), str(a.ef_construction),
                              str(a.build_threads), ",".join(map(str, a.ef_sweep))])
        u = json.loads(out)
        record("usearch", tuple(u["build"]), u["bpv"], [tuple(p) for p in u["points"]], rss)

    if "flat" not in skip:
        flat = {}
        faiss.omp_set_num_threads(1)
        fx = faiss.IndexFlatIP(d)
        fx.add(base)
        nq1 = 200
        _, dt, dc = timed(lambda: [fx.search(q[i:i + 1], 10) for i in range(nq1)])
        flat["faiss_single"], flat["faiss_single_cpu"] = nq1 / dt, nq1 / dc
        (_, labels), dt, dc = timed(lambda: fx.search(q, 10))
        flat["faiss_batch"], flat["faiss_batch_cpu"] = len(q) / dt, len(q) / dc
        flat["faiss_recall"] = recall_at_10(labels, gt)
        del fx
        for storage in STORAGES:
            _, _, p1, _, _ = run_densearch(a, "flat", ["--storage", storage, "--max-queries", str(nq1)], 1)
            a_bt = a.build_threads
            a.build_threads = 1
            _, _, pb, _, _ = run_densearch(a, "flat", ["--storage", storage], len(q))
            a.build_threads = a_bt
            flat[f"densearch_{storage}_single"], flat[f"densearch_{storage}_single_cpu"] = p1[0][2], p1[0][3]
            flat[f"densearch_{storage}_batch"], flat[f"densearch_{storage}_batch_cpu"] = pb[0][2], pb[0][3]
            flat[f"densearch_{storage}_recall"] = pb[0][1]
        for k, v in flat.items():
            rows.append(dict(library="flat:" + k, n=n, dim=d, param=0, qps=round(v, 4), cpu=cpu, isa=isa, git=sha))
        write_csv(a.out, rows)

    if rows:
        summarize(rows)


if __name__ == "__main__":
    main()
