#!/usr/bin/env python3
"""make_embed_sets.py -- assemble ANN benchmark sets from densearch embeddings
of the ../shared/data corpora (step 3 of bench/ann/embed_corpora.sh, which
runs `densearch embed` first and then this).

For each set (shared-all: every corpus; scifact: SciFact alone) writes, in the
bench/ann dataset contract that gen_dataset.py also follows:
  OUT/<set>/base.fvecs     documents, in corpus order then file order
  OUT/<set>/queries.fvecs  queries of the same corpora, in a fixed shuffled
                           order (seed 0) so that any prefix -- e.g.
                           bench_quantized's default --nq 1000 -- is a
                           sample of every corpus rather than SciFact only
  OUT/<set>/gt.ivecs       exact top-100 by inner product, float64 scores,
                           ties broken by the lower row number
  OUT/<set>/base_ids.tsv   row -> corpus, _id ; query_ids.tsv likewise
  OUT/<set>/meta.json      the manifest: model, densearch git SHA, embedding
                           docs/s per corpus, and the distribution facts that
                           matter for ANN (neighbour cosines, duplicates,
                           ties at rank 10, anisotropy)
With --center, also OUT/<set>-centered/: every vector minus the mean of the
base vectors, re-normalised (the same shift applied to the queries), with its
own ground truth -- an extra variant for anisotropic embeddings, never a
replacement.

Usage: /usr/bin/python3 bench/ann/make_embed_sets.py --shared ../shared --emb bench/work/ann/emb \
           --model bench/work/models/minilm-l6-shape --out-dir bench/work/ann [--center]
"""
import argparse
import hashlib
import json
import os
import subprocess
import sys
import time

import numpy as np

K = 100
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def read_fvecs(path):
    raw = np.fromfile(path, dtype=np.int32)
    if raw.size == 0:
        sys.exit(f"{path}: empty")
    d = int(raw[0])
    if d <= 0 or raw.size % (d + 1):
        sys.exit(f"{path}: not an fvecs file (dimension {d}, {raw.size} words)")
    rows = raw.reshape(-1, d + 1)
    if (rows[:, 0] != d).any():
        sys.exit(f"{path}: rows of differing dimension")
    return rows[:, 1:].view(np.float32).copy()


def write_xvecs(path, x, dtype):
    x = np.ascontiguousarray(x, dtype=dtype)
    n, d = x.shape
    out = np.empty((n, d + 1), dtype=dtype)
    out.view(np.int32)[:, 0] = d
    out[:, 1:] = x
    tmp = path + ".tmp"
    out.tofile(tmp)
    os.replace(tmp, path)


def jsonl_ids(path):
    ids = []
    with open(path, encoding="utf-8") as f:
        for ln, line in enumerate(f, 1):
            if not line.strip():
                sys.exit(f"{path}:{ln}: empty line (densearch embed would have rejected it)")
            ids.append(str(json.loads(line)["_id"]))
    return ids


def exact_topk(base, q, k):
    """Exact top-k by inner product in float64; ties go to the lower row."""
    b64 = base.astype(np.float64)
    out = np.empty((len(q), k), dtype=np.int32)
    scores = np.empty((len(q), k + 1), dtype=np.float64)
    rows = np.arange(len(base))
    for s in range(0, len(q), 256):
        sc = q[s:s + 256].astype(np.float64) @ b64.T
        for i in range(sc.shape[0]):
            order = np.lexsort((rows, -sc[i]))[:k + 1]
            out[s + i] = order[:k]
            scores[s + i] = sc[i][order]
    return out, scores


def stats(base, q, gt_scores, name):
    """Distribution facts that decide how hard ANN search is on this data."""
    rng = np.random.default_rng(0)
    st = {}
    st["query_top1_cos"] = dict(mean=float(gt_scores[:, 0].mean()), min=float(gt_scores[:, 0].min()),
                                p50=float(np.median(gt_scores[:, 0])), max=float(gt_scores[:, 0].max()))
    st["query_top10_cos"] = dict(mean=float(gt_scores[:, 9].mean()), min=float(gt_scores[:, 9].min()),
                                 p50=float(np.median(gt_scores[:, 9])))
    st[f"query_top{gt_scores.shape[1] - 1}_cos_mean"] = float(gt_scores[:, -2].mean())
    # Rank-10 ties: the 10th and 11th neighbours score the same, so which of
    # them is "the" 10th is arbitrary and recall@10 by id can count a correct
    # answer as a miss.
    st["queries_tied_at_rank10"] = int((np.abs(gt_scores[:, 9] - gt_scores[:, 10]) <= 1e-6).sum())
    st["queries_tied_at_rank10_1e-4"] = int((np.abs(gt_scores[:, 9] - gt_scores[:, 10]) <= 1e-4).sum())
    # Random pairs: the cosine an unrelated pair has (anisotropy).
    i = rng.integers(0, len(base), 20000)
    j = rng.integers(0, len(base), 20000)
    rp = np.einsum("ij,ij->i", base[i].astype(np.float64), base[j].astype(np.float64))
    st["random_pair_cos"] = dict(mean=float(rp.mean()), std=float(rp.std()), min=float(rp.min()),
                                 max=float(rp.max()))
    mu = base.astype(np.float64).mean(axis=0)
    st["norm_of_mean_vector"] = float(np.linalg.norm(mu))
    norms = np.linalg.norm(base.astype(np.float64), axis=1)
    st["base_norm_min_max"] = [float(norms.min()), float(norms.max())]
    # Spectrum of the centred data: how many directions carry the variance.
    c = base.astype(np.float64) - mu
    ev = np.linalg.eigvalsh(c.T @ c)[::-1]
    ev = ev / ev.sum()
    cum = np.cumsum(ev)
    st["pca_top1_share"] = float(ev[0])
    st["pca_top10_share"] = float(cum[9])
    st["pca_dims_for_90pct"] = int(np.searchsorted(cum, 0.90) + 1)
    st["pca_dims_for_99pct"] = int(np.searchsorted(cum, 0.99) + 1)
    # Base-to-base: nearest other document of a sample of 2,000 documents.
    b64 = base.astype(np.float64)
    smp = rng.choice(len(base), size=min(2000, len(base)), replace=False)
    sc = b64[smp] @ b64.T
    sc[np.arange(len(smp)), smp] = -np.inf
    nn = sc.max(axis=1)
    st["base_nn_cos_sample2000"] = dict(mean=float(nn.mean()), min=float(nn.min()), p50=float(np.median(nn)),
                                        frac_ge_0_99=float((nn >= 0.99).mean()),
                                        frac_ge_0_999=float((nn >= 0.999).mean()))
    # Exact duplicate vectors in the base (e.g. empty documents, repeated titles).
    _, inv, cnt = np.unique(base.view(np.void(base.dtype.itemsize * base.shape[1])).ravel(),
                            return_inverse=True, return_counts=True)
    st["base_rows_in_exact_duplicate_groups"] = int(cnt[cnt > 1].sum())
    st["base_exact_duplicate_groups"] = int((cnt > 1).sum())
    print(f"{name}: query top-1 cos mean {st['query_top1_cos']['mean']:.4f} min {st['query_top1_cos']['min']:.4f}; "
          f"top-10 mean {st['query_top10_cos']['mean']:.4f} min {st['query_top10_cos']['min']:.4f}; "
          f"random pairs {rp.mean():.4f} +- {rp.std():.4f}; |mean| {st['norm_of_mean_vector']:.4f}; "
          f"PCA top-1 {ev[0]:.3f}, 90% in {st['pca_dims_for_90pct']} dims; "
          f"base NN cos mean {nn.mean():.4f}, >=0.99: {(nn >= 0.99).mean():.3f}; "
          f"exact-dup rows {st['base_rows_in_exact_duplicate_groups']}; "
          f"rank-10 ties {st['queries_tied_at_rank10']}", file=sys.stderr)
    return st


def write_set(out, base, q, bids, qids, meta, name):
    os.makedirs(out, exist_ok=True)
    t0 = time.time()
    k = min(K, len(base) - 1)       # only tiny test sets have fewer than 101 documents
    gt, gts = exact_topk(base, q, k)
    write_xvecs(os.path.join(out, "base.fvecs"), base, np.float32)
    write_xvecs(os.path.join(out, "queries.fvecs"), q, np.float32)
    write_xvecs(os.path.join(out, "gt.ivecs"), gt, np.int32)
    for fn, ids in (("base_ids.tsv", bids), ("query_ids.tsv", qids)):
        with open(os.path.join(out, fn), "w", encoding="utf-8") as f:
            f.write("row\tcorpus\t_id\n")
            for r, (c, i) in enumerate(ids):
                f.write(f"{r}\t{c}\t{i}\n")
    m = dict(meta, n=len(base), dim=base.shape[1], nq=len(q), k=k, metric="ip",
             gt=f"exact top-{k} by inner product in float64 (numpy), ties to the lower row",
             gt_seconds=round(time.time() - t0, 1), stats=stats(base, q, gts, name))
    with open(os.path.join(out, "meta.json"), "w") as f:
        json.dump(m, f, indent=1)
    print(f"make_embed_sets: {len(base)} x {base.shape[1]} base, {len(q)} queries -> {out}", file=sys.stderr)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shared", required=True)
    ap.add_argument("--emb", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--out-dir", required=True)
    ap.add_argument("--corpora", default="scifact cacm cisi cranfield medline adi")
    ap.add_argument("--center", action="store_true")
    a = ap.parse_args()
    corpora = a.corpora.split()

    sha = subprocess.run(["git", "-C", ROOT, "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True).stdout.strip() != ""
    h = hashlib.sha256()
    with open(os.path.join(a.model, "model.safetensors"), "rb") as f:
        for blk in iter(lambda: f.read(1 << 20), b""):
            h.update(blk)

    per = {}
    for c in corpora:
        d = {}
        for part in ("corpus", "queries"):
            x = read_fvecs(os.path.join(a.emb, c, f"{part}.fvecs"))
            ids = jsonl_ids(os.path.join(a.shared, "data", c, f"{part}.jsonl"))
            if len(ids) != len(x):
                sys.exit(f"{c}/{part}: {len(x)} embeddings for {len(ids)} lines")
            rows, wall, user, sys_ = open(os.path.join(a.emb, c, f"{part}.fvecs.time")).read().split()
            t = dict(rows=int(rows), wall_s=float(wall), cpu_s=round(float(user) + float(sys_), 2),
                     rows_per_s=round(int(rows) / max(float(wall), 1e-9), 2))
            gitf = os.path.join(a.emb, c, f"{part}.fvecs.git")
            if os.path.exists(gitf):
                t["embedded_at_git"] = open(gitf).read().strip()
            d[part] = (x, ids, t)
        per[c] = d

    timing = {f"{c}/{p}": per[c][p][2] for c in corpora for p in ("corpus", "queries")}
    rows_all = sum(t["rows"] for t in timing.values())
    wall_all = sum(t["wall_s"] for t in timing.values())
    meta = dict(generator="bench/ann/embed_corpora.sh + bench/ann/make_embed_sets.py",
                model="minilm-l6-shape (all-MiniLM-L6-v2 shape, RANDOM weights: retrieval quality is meaningless)",
                model_safetensors_sha256=h.hexdigest(), pooling="mean + L2 normalize", max_seq_length=256,
                dtype="float32", embed_threads=2, assembled_at_git=sha + ("-dirty" if dirty else ""),
                embed_timing=timing, embed_rows_per_s_overall=round(rows_all / wall_all, 2),
                query_order="numpy default_rng(0).permutation of the concatenated queries",
                normalized=True)

    sets = [("shared-all", corpora)] + ([("scifact", ["scifact"])] if "scifact" in corpora else [])
    for name, cs in sets:
        base = np.concatenate([per[c]["corpus"][0] for c in cs])
        bids = [(c, i) for c in cs for i in per[c]["corpus"][1]]
        q = np.concatenate([per[c]["queries"][0] for c in cs])
        qids = [(c, i) for c in cs for i in per[c]["queries"][1]]
        perm = np.random.default_rng(0).permutation(len(q))
        q = q[perm]
        qids = [qids[i] for i in perm]
        m = dict(meta, corpora=cs)
        write_set(os.path.join(a.out_dir, name), base, q, bids, qids, m, name)
        if a.center:
            mu = base.astype(np.float64).mean(axis=0)
            cb = base.astype(np.float64) - mu
            cb /= np.linalg.norm(cb, axis=1, keepdims=True)
            cq = q.astype(np.float64) - mu
            cq /= np.linalg.norm(cq, axis=1, keepdims=True)
            m = dict(m, centered="x - mean(base), re-normalised (queries shifted by the same base mean)")
            write_set(os.path.join(a.out_dir, name + "-centered"), cb.astype(np.float32), cq.astype(np.float32),
                      bids, qids, m, name + "-centered")


if __name__ == "__main__":
    main()
