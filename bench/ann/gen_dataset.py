#!/usr/bin/env python3
"""gen_dataset.py -- deterministic synthetic embedding data for the ANN benchmarks.

Writes OUT/base.fvecs, OUT/queries.fvecs, OUT/gt.ivecs (exact top-K by inner
product, computed with FAISS IndexFlatIP) and OUT/meta.json.

The data imitates sentence embeddings rather than uniform noise, which makes
every index look good: vectors are drawn from a Gaussian mixture whose cluster
centres overlap, inside a subspace with a decaying spectrum (variance of
dimension i ~ i^-0.8), then L2-normalised. Queries come from the same
distribution but are held out from the base set.

Usage: /usr/bin/python3 bench/ann/gen_dataset.py --n 1000000 --dim 384 --nq 1000 --k 100 --out bench/work/ann/m1
Needs python3-numpy and python3-faiss (sh scripts/install-deps.sh --bench).
"""
import argparse
import json
import os
import sys
import time

import numpy as np


def write_fvecs(path, x):
    x = np.ascontiguousarray(x, dtype=np.float32)
    n, d = x.shape
    out = np.empty((n, d + 1), dtype=np.float32)
    out[:, 0] = np.frombuffer(np.int32(d).tobytes(), dtype=np.float32)[0]
    out[:, 1:] = x
    out.tofile(path)


def write_ivecs(path, x):
    x = np.ascontiguousarray(x, dtype=np.int32)
    n, d = x.shape
    out = np.empty((n, d + 1), dtype=np.int32)
    out[:, 0] = d
    out[:, 1:] = x
    out.tofile(path)


def draw(rng, n, centres, scales, basis, spread, chunk=100000):
    """n vectors: centre + anisotropic noise, rotated by a random basis, normalised."""
    dim = basis.shape[0]
    out = np.empty((n, dim), dtype=np.float32)
    for s in range(0, n, chunk):
        m = min(chunk, n - s)
        which = rng.integers(0, len(centres), size=m)
        noise = rng.standard_normal((m, dim)).astype(np.float32) * scales * spread
        v = (centres[which] + noise) @ basis
        v /= np.linalg.norm(v, axis=1, keepdims=True) + 1e-12
        out[s:s + m] = v
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=100000)
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--nq", type=int, default=1000)
    ap.add_argument("--k", type=int, default=100)
    ap.add_argument("--clusters", type=int, default=0, help="mixture components (0: ~sqrt(n)/2)")
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    import faiss  # imported late so --help works without it

    t0 = time.time()
    rng = np.random.default_rng(a.seed)
    dim = a.dim
    n_clusters = a.clusters or max(16, int(np.sqrt(a.n) / 2))
    scales = (np.arange(1, dim + 1, dtype=np.float32) ** -0.4)           # std: variance ~ i^-0.8
    centres = (rng.standard_normal((n_clusters, dim)).astype(np.float32) * scales)
    basis, _ = np.linalg.qr(rng.standard_normal((dim, dim)))
    basis = basis.astype(np.float32)
    base = draw(rng, a.n, centres, scales, basis, spread=0.9)
    queries = draw(rng, a.nq, centres, scales, basis, spread=0.9)
    os.makedirs(a.out, exist_ok=True)
    write_fvecs(os.path.join(a.out, "base.fvecs"), base)
    write_fvecs(os.path.join(a.out, "queries.fvecs"), queries)
    index = faiss.IndexFlatIP(dim)
    index.add(base)
    _, gt = index.search(queries, a.k)
    write_ivecs(os.path.join(a.out, "gt.ivecs"), gt)
    meta = dict(n=a.n, dim=dim, nq=a.nq, k=a.k, clusters=n_clusters, seed=a.seed,
                metric="ip", normalized=True, generator="bench/ann/gen_dataset.py")
    with open(os.path.join(a.out, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1)
    print(f"gen_dataset: {a.n} x {dim} base, {a.nq} queries, top-{a.k} truth in {time.time() - t0:.1f}s -> {a.out}",
          file=sys.stderr)


if __name__ == "__main__":
    main()
