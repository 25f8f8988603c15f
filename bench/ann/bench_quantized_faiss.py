#!/usr/bin/env python3
"""bench_quantized_faiss.py -- the FAISS anchors for bench_quantized.c, same data,
same parameters, one thread, batch 1 (one query per search call):

  IndexFlatIP                       exact f32 (the 5x target's reference)
  IndexIVFPQ(nlist, m, 8) + IndexRefineFlat(k_factor = rerank / 10)
                                    IVF-PQ with exact re-scoring, as densearch
  IndexBinaryFlat on sign bits of (x - mean)
                                    Hamming top-`rerank` candidates; the exact
                                    re-scoring of those candidates is done in
                                    numpy and is NOT included in the timing
                                    (so FAISS binary QPS is an upper bound)

Memory: IVFPQ codes + ids + centroids (FAISS's own accounting); RefineFlat keeps
every f32 vector in RAM, which is added. CSV rows like bench_quantized.c.
Usage: /usr/bin/python3 bench/ann/bench_quantized_faiss.py --data DIR [--nlist 1024 --m 48 --nq 1000 --nq-flat 200]
"""
import argparse
import os
import sys
import time

import numpy as np
import faiss


def read_vecs(path, dtype):
    a = np.fromfile(path, dtype=np.int32)
    d = a[0]
    a = a.reshape(-1, d + 1)[:, 1:]
    return np.ascontiguousarray(a.view(dtype) if dtype == np.float32 else a)


def recall10(ids, gt):
    hit = 0
    for i in range(len(ids)):
        hit += len(set(ids[i][:10].tolist()) & set(gt[i][:10].tolist()))
    return hit / (10.0 * len(ids))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--nlist", type=int, default=1024)
    ap.add_argument("--m", type=int, default=48)
    ap.add_argument("--nbits", type=int, default=8)
    ap.add_argument("--nq", type=int, default=1000)
    ap.add_argument("--nq-flat", type=int, default=200)
    ap.add_argument("--csv")
    a = ap.parse_args()
    faiss.omp_set_num_threads(1)
    x = read_vecs(os.path.join(a.data, "base.fvecs"), np.float32)
    q = read_vecs(os.path.join(a.data, "queries.fvecs"), np.float32)[: a.nq]
    gt = np.fromfile(os.path.join(a.data, "gt.ivecs"), dtype=np.int32)
    gt = gt.reshape(-1, gt[0] + 1)[:, 1:]
    n, d = x.shape
    git = os.environ.get("GIT_SHA", "?")
    cpu = os.environ.get("CPU_MODEL", "?")
    out = open(a.csv, "a") if a.csv else None

    def row(index, params, r, qps, build, mem):
        qps, cqps = qps
        line = f'faiss,{index},{params},{r:.4f},{qps:.1f},{build:.2f},{int(mem)},{n},{d},faiss-{faiss.__version__},"{cpu}",{git},{cqps:.1f}\n'
        sys.stdout.write(line)
        sys.stdout.flush()
        if out:
            out.write(line)
            out.flush()

    def batch1(index, qs, k, setup=None):
        ids = np.empty((len(qs), k), dtype=np.int64)
        t0, c0 = time.perf_counter(), time.process_time()
        for i in range(len(qs)):
            _, I = index.search(qs[i : i + 1], k)
            ids[i] = I[0]
        return ids, (len(qs) / (time.perf_counter() - t0), len(qs) / (time.process_time() - c0))

    # Exact flat.
    t0 = time.perf_counter()
    flat = faiss.IndexFlatIP(d)
    flat.add(x)
    b = time.perf_counter() - t0
    ids, qps = batch1(flat, q[: a.nq_flat], 10)
    row("IndexFlatIP", f"exact nq={a.nq_flat}", recall10(ids, gt[: a.nq_flat]), qps, b, n * d * 4)

    # IVF-PQ + RefineFlat.
    t0 = time.perf_counter()
    faiss.omp_set_num_threads(2)          # builds on both cores, like densearch
    quant = faiss.IndexFlatIP(d)
    ivf = faiss.IndexIVFPQ(quant, d, a.nlist, a.m, a.nbits, faiss.METRIC_INNER_PRODUCT)
    # The same training budget as densearch: coarse k-means 10 iterations on
    # <= 48 points per list, PQ 20 iterations on <= 256 points per centroid.
    ivf.cp.niter = 10
    ivf.cp.max_points_per_centroid = 48
    ivf.pq.cp.niter = 20
    ivf.pq.cp.max_points_per_centroid = 256
    ivf.train(x)
    ref = faiss.IndexRefineFlat(ivf)     # adds go to the IVF-PQ and to an f32 copy
    ref.add(x)
    b = time.perf_counter() - t0
    faiss.omp_set_num_threads(1)
    ivf_mem = n * (a.m * a.nbits // 8 + 8) + a.nlist * d * 4 + a.m * (1 << a.nbits) * (d // a.m) * 4
    for nprobe in (8, 16, 32):
        for rerank in (50, 100, 200):
            ivf.nprobe = nprobe
            ref.k_factor = rerank / 10.0
            ids, qps = batch1(ref, q, 10)
            row("IndexIVFPQ+RefineFlat", f"nlist={a.nlist} m={a.m} nbits={a.nbits} nprobe={nprobe} rerank={rerank}",
                recall10(ids, gt), qps, b, ivf_mem + n * d * 4)

    # Binary flat on sign bits of centred data, then exact re-scoring in numpy.
    t0 = time.perf_counter()
    mu = x.mean(axis=0)
    xb = np.packbits((x - mu) > 0, axis=1, bitorder="little")
    qb = np.packbits((q - mu) > 0, axis=1, bitorder="little")
    bi = faiss.IndexBinaryFlat(d)
    bi.add(xb)
    b = time.perf_counter() - t0
    for rerank in (100, 200, 500, 1000):
        cand, qps = batch1(bi, qb, rerank)
        ids = np.empty((len(q), 10), dtype=np.int64)
        for i in range(len(q)):
            c = cand[i]
            s = x[c] @ q[i]
            ids[i] = c[np.argsort(-s)[:10]]
        row("IndexBinaryFlat+numpy_rescore", f"rerank={rerank} (rescore untimed)", recall10(ids, gt), qps, b, n * d // 8)


if __name__ == "__main__":
    main()
