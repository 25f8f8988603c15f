"""densearch: dense and hybrid text retrieval (BM25, transformer encoders,
vector indexes, trec_eval metrics) from Python, on the densearch C library.

    >>> import numpy as np, densearch
    >>> index = densearch.Index(384, type="hnsw", metric="cosine")
    >>> index.add(np.random.rand(1000, 384).astype(np.float32))
    >>> ids, scores = index.search(np.random.rand(2, 384).astype(np.float32), k=5)
    >>> np.asarray(ids).shape              # zero-copy view of the result
    (2, 5)

Arrays go in through the buffer protocol (any C-contiguous float32 buffer,
read without a copy) and come out as densearch.Array objects that numpy wraps
without a copy. Every long call releases the GIL. Errors raise subclasses of
densearch.Error carrying .status (e.g. "DS_ERR_CORRUPT") and .message.
"""
import json as _json
import os as _os

from ._densearch import (  # noqa: F401
    __version__, Array, Hit, Index, Encoder, LexicalIndex,
    Error, NoMemoryError, IOError, CorruptError, FormatError, ReadOnlyError,
    InvalidError, RangeError, NotFoundError, UnsupportedError, CanceledError,
    InternalError, simd, threads, check,
)
from . import _densearch

__all__ = [
    "Array", "Hit", "Index", "Encoder", "LexicalIndex", "Collection", "Results",
    "Evaluation", "evaluate", "Error", "NoMemoryError", "IOError", "CorruptError",
    "FormatError", "ReadOnlyError", "InvalidError", "RangeError", "NotFoundError",
    "UnsupportedError", "CanceledError", "InternalError", "simd", "threads", "check",
]


# ---------------------------------------------------------------------------
# evaluate
# ---------------------------------------------------------------------------
class Evaluation:
    """trec_eval metrics of a run.

    mean:      {metric: mean over the evaluated queries}
    per_query: {query id: {metric: value}}
    metrics:   metric names in the order asked ("ndcg@10", ...)
    n_missing: judged queries absent from the run (scored 0 when complete=True)
    n_norel:   judged queries without a relevant document (skipped)

    evaluation["ndcg@10"] is evaluation.mean["ndcg@10"].
    """

    __slots__ = ("metrics", "mean", "per_query", "n_missing", "n_norel")

    def __init__(self, d):
        self.metrics = d["metrics"]
        self.mean = d["mean"]
        self.per_query = d["per_query"]
        self.n_missing = d["n_missing"]
        self.n_norel = d["n_norel"]

    def __getitem__(self, metric):
        return self.mean[metric]

    def __repr__(self):
        body = ", ".join("%s=%.4f" % (m, self.mean[m]) for m in self.metrics)
        return "densearch.Evaluation(%s, queries=%d)" % (body, len(self.per_query))


def _check_token(s, what):
    s = str(s)
    if not s or any(c.isspace() for c in s):
        raise InvalidError("%s %r is empty or contains whitespace (TREC files cannot hold it)" % (what, s))
    return s


def _qrels_text(qrels):
    lines = []
    for qid, judged in qrels.items():
        q = _check_token(qid, "query id")
        for docid, rel in judged.items():
            if isinstance(rel, bool) or int(rel) != rel:
                raise InvalidError("qrels[%r][%r] must be an integer judgment, got %r" % (qid, docid, rel))
            lines.append("%s 0 %s %d\n" % (q, _check_token(docid, "doc id"), int(rel)))
    return "".join(lines).encode()


def _run_text(run):
    lines = []
    for qid, results in run.items():
        q = _check_token(qid, "query id")
        if isinstance(results, dict):
            items = results.items()
        else:  # a list of Hit or (doc id, score) pairs, e.g. Collection.search results
            items = ((r[0], r[1]) for r in results)
        for rank, (docid, score) in enumerate(items, 1):
            lines.append("%s Q0 %s %d %r densearch\n" % (q, _check_token(docid, "doc id"), rank, float(score)))
    return "".join(lines).encode()


def evaluate(qrels, run, metrics=None, min_rel=1, complete=True):
    """Scores run against qrels with trec_eval semantics (see docs/eval.md).

    qrels: a path (BEIR TSV or TREC qrels) or a dict {query id: {doc id: judgment}}.
    run:   a path (TREC run) or a dict {query id: {doc id: score}} or
           {query id: [Hit or (doc id, score), ...]} (what search() returns).
    metrics: comma-separated string or list, e.g. "ndcg@10,mrr@10,recall@100,map"
           (the default); also p@K, map@K and trec_eval names (ndcg_cut.10, ...).
    min_rel: judgments >= min_rel are relevant. complete: judged queries missing
           from the run score 0 (trec_eval -c); False leaves them out.
    Returns an Evaluation with .mean and .per_query values.
    """
    if metrics is not None and not isinstance(metrics, str):
        metrics = ",".join(metrics)
    if isinstance(qrels, dict):
        qp, qt = None, _qrels_text(qrels)
    else:
        qp, qt = _os.fspath(qrels), None
    if isinstance(run, dict):
        rp, rt = None, _run_text(run)
    else:
        rp, rt = _os.fspath(run), None
    return Evaluation(_densearch._evaluate(qp, qt, rp, rt, metrics, int(min_rel), bool(complete)))


# ---------------------------------------------------------------------------
# Collection
# ---------------------------------------------------------------------------
class Results(list):
    """The hits of one collection search, best first (a list of Hit), with
    where the time went: mode (the mode that ran), t_encode, t_lexical,
    t_dense, t_rerank, t_total (seconds) and expansion (RM3's expanded query,
    else None)."""

    __slots__ = ("mode", "t_encode", "t_lexical", "t_dense", "t_rerank", "t_total", "expansion")

    def __init__(self, hits, info):
        super().__init__(hits)
        for k in self.__slots__:
            setattr(self, k, info[k])

    def __repr__(self):
        return "densearch.Results(mode=%r, n=%d, t_total=%.4f, %s)" % (
            self.mode, len(self), self.t_total, list.__repr__(self))


class Collection(_densearch._Collection):
    """Documents, a BM25 index and (optionally) vectors behind one search.

    Build:  c = Collection.create(path, model_dir=None, dim=0, ...); c.add(id, text, title);
            c.commit()
    Open:   c = Collection.open(path, model_dir=None, no_encoder=False, int8=False)
    Search: c.search(text, k=10, mode="auto", fusion="rrf", prf=None, rerank=None,
                     filter=None, ...) -> Results
    """

    @classmethod
    def create(cls, path, model_dir=None, dim=0, int8=False, chunk_tokens=0, chunk_overlap=0,
               type="hnsw", metric="cosine", M=16, ef_construction=200, k1=0.9, b=0.4,
               stemmer="english", stopwords=True, store_text=True, threads=0):
        """Starts building a collection in directory path. With model_dir, documents
        are encoded by that model (chunk_tokens > 0 splits them into passages); with
        dim, add() takes precomputed embeddings; with neither it is BM25 only.
        Nothing is visible in path until commit()."""
        return cls._create(path, model_dir, dim, int8, chunk_tokens, chunk_overlap, type, metric,
                           M, ef_construction, k1, b, stemmer, stopwords, store_text, threads)

    @classmethod
    def open(cls, path, model_dir=None, no_encoder=False, int8=False, verify=False, threads=0, writable=False):
        """Opens a committed collection (or a BM25 index directory). model_dir: the
        query encoder (default: the model recorded at build time); no_encoder=True loads
        none (lexical search, or query vectors given to search()). writable=True opens it
        for upsert()/delete() while it is searched (one writer per collection)."""
        return cls._open(path, model_dir, no_encoder, int8, verify, threads, writable)

    def search(self, query, k=10, mode="auto", fusion="rrf", rrf_k=None, alpha=None, norm=None,
               depth=None, prf=None, rerank=None, rerank_depth=None, passage_score=None,
               filter=None, query_vector=None, ef=None, nprobe=None, with_text=False,
               snippet_bytes=None):
        """Searches for one free-text query; returns Results (a list of Hit).

        mode: "auto" (hybrid when there are vectors), "lexical", "dense", "hybrid".
        fusion: "rrf" (rrf_k, default 60) or "convex" (alpha: weight of the lexical
        side, norm "minmax" or "zscore"). depth: candidates per side. prf: "rm3",
        "rocchio" or both (a list). rerank: a cross-encoder Encoder (rerank_depth
        documents re-scored). filter: allowed document ids (str). query_vector: the
        query's embedding instead of the encoder's. with_text: fill title and
        snippet. The GIL is released while it runs."""
        hits, info = self._search(query, k, mode, fusion, rrf_k, alpha, norm, depth, prf, rerank,
                                  rerank_depth, passage_score, filter, query_vector, ef, nprobe,
                                  with_text, snippet_bytes)
        return Results(hits, info)

    def search_batch(self, queries, k=10, mode="auto", fusion="rrf", rrf_k=None, alpha=None,
                     norm=None, depth=None, prf=None, rerank=None, rerank_depth=None,
                     passage_score=None, filter=None, query_vectors=None, ef=None, nprobe=None,
                     with_text=False, snippet_bytes=None, threads=0):
        """search() for many queries (encoded in batches, searched on threads);
        returns a list of Results."""
        out = self._search_batch(queries, k, mode, fusion, rrf_k, alpha, norm, depth, prf, rerank,
                                 rerank_depth, passage_score, filter, query_vectors, ef, nprobe,
                                 with_text, snippet_bytes, threads)
        return [Results(h, i) for h, i in out]

    def info(self):
        """What the collection holds (documents, analyzer, encoder identity, index)."""
        return _json.loads(self._info())

    def __len__(self):
        return self.n_docs

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def __repr__(self):
        if self.closed:
            return "densearch.Collection(closed)"
        if self.building:
            return "densearch.Collection(building)"
        return "densearch.Collection(n_docs=%d, dim=%d)" % (self.n_docs, self.dim)
