"""densearch.Collection: BM25-only, encoder-built and precomputed-embedding
collections; results against the lexical index, brute force and the
cross-encoder; errors."""
import numpy as np
import pytest

import densearch
from conftest import shared

WORDS = ("protein cell gene cancer vitamin bone density blood pressure heart brain memory sleep diet "
         "exercise insulin glucose liver kidney immune virus bacteria infection vaccine trial").split()


def corpus(n=120, seed=3):
    rng = np.random.default_rng(seed)
    docs = []
    for d in range(n):
        title = "" if d % 7 == 0 else " ".join(rng.choice(WORDS, 2))
        text = " ".join(rng.choice(WORDS, int(rng.integers(6, 30))))
        docs.append(("doc-%03d" % d, title, text))
    return docs


def build(path, docs, **kw):
    c = densearch.Collection.create(path, **kw)
    assert c.building
    for i, title, text in docs:
        c.add(i, text, title=title)
    stats = c.commit()
    assert stats["n_docs"] == len(docs) and not c.building
    return c


def test_bm25_collection_equals_lexical_index(tmp_path):
    docs = corpus()
    c = build(tmp_path / "c", docs)
    lx = densearch.LexicalIndex.build(tmp_path / "lx", documents=docs)
    for q in ("vitamin bone density", "sleep memory", "virus"):
        got = c.search(q, k=10)
        assert got.mode == "lexical" and isinstance(got, densearch.Results)
        want = lx.search(q, k=10)
        assert [(h.id, h.score) for h in got] == [(h.id, h.score) for h in want]
        assert got[0].bm25 == got[0].score and got[0].bm25_rank == 1 and got[0].dense is None
    assert len(c) == 120 and c.dim == 0
    assert c.doc("doc-005") == (docs[5][1], docs[5][2])
    again = densearch.Collection.open(tmp_path / "c")
    assert [h.id for h in again.search("heart", k=5)] == [h.id for h in c.search("heart", k=5)]


def test_encoder_collection_dense_hybrid_rerank(tmp_path):
    model = shared("models", "tiny-bert-mean-f32")
    docs = corpus(80)
    c = build(tmp_path / "c", docs, model_dir=model, type="flat")
    assert c.dim == 64 and c.has_encoder
    enc = densearch.Encoder(model)
    emb = np.asarray(enc.encode([(t + " " + x) if t else x for _, t, x in docs]))
    q = "insulin glucose liver"
    qv = np.asarray(enc.encode(q))
    want = np.argsort(-(emb @ qv), kind="stable")[:10]
    dense = c.search(q, k=10, mode="dense")
    assert dense.mode == "dense"
    assert [h.id for h in dense][:5] == [docs[i][0] for i in want[:5]]
    assert dense[0].dense == pytest.approx(float(emb[want[0]] @ qv), abs=1e-4)
    hy = c.search(q, k=10, mode="hybrid", fusion="rrf")
    assert hy.mode == "hybrid" and hy[0].fused is not None and hy[0].fused_rank == 1
    cv = c.search(q, k=10, mode="hybrid", fusion="convex", alpha=0.0)
    assert [h.id for h in cv][:3] == [h.id for h in dense][:3]
    allowed = [docs[i][0] for i in (3, 9, 27)]
    assert {h.id for h in c.search(q, k=10, mode="dense", filter=allowed)} <= set(allowed)
    ce = densearch.Encoder(shared("models", "tiny-cross-encoder"))
    rr = c.search(q, k=5, mode="dense", rerank=ce, rerank_depth=20)
    scores = [h.rerank for h in rr]
    assert scores == sorted(scores, reverse=True) and rr[0].rerank_rank == 1
    batch = c.search_batch([q, "heart blood pressure"], k=5, mode="dense")
    assert [h.id for h in batch[0]] == [h.id for h in c.search(q, k=5, mode="dense")]
    text = c.search(q, k=3, mode="hybrid", with_text=True)
    assert all(h.snippet is not None for h in text)
    assert c.info()


def test_precomputed_embeddings(tmp_path):
    docs = corpus(60)
    rng = np.random.default_rng(5)
    emb = rng.standard_normal((60, 16), dtype=np.float32)
    c = densearch.Collection.create(tmp_path / "c", dim=16, type="flat")
    for (i, t, x), e in zip(docs, emb):
        c.add(i, x, title=t, embedding=e)
    with pytest.raises(densearch.InvalidError):
        c.add("extra", "x", embedding=np.zeros(8, dtype=np.float32))
    c.commit()
    q = rng.standard_normal(16, dtype=np.float32)
    res = c.search("", k=5, mode="dense", query_vector=q)
    u = emb / np.linalg.norm(emb, axis=1, keepdims=True)
    assert [h.id for h in res] == [docs[i][0] for i in np.argsort(-(u @ q))[:5]]


def test_collection_errors(tmp_path):
    c = densearch.Collection.create(tmp_path / "c")
    c.add("a", "alpha beta")
    with pytest.raises(densearch.InvalidError, match="duplicate"):
        c.add("a", "again")
    with pytest.raises(densearch.InvalidError, match="commit"):
        c.search("alpha")
    c.commit()
    with pytest.raises(densearch.UnsupportedError):
        c.add("b", "late")
    with pytest.raises(densearch.InvalidError, match="mode must be one of"):
        c.search("alpha", mode="fuzzy")
    with pytest.raises(densearch.InvalidError):
        c.search("alpha", mode="dense")       # no vectors
    with pytest.raises(densearch.NotFoundError):
        c.doc("zzz")
    with pytest.raises(densearch.NotFoundError):
        densearch.Collection.open(tmp_path / "nothing")
    c.close()
    with pytest.raises(densearch.InvalidError, match="closed"):
        c.search("alpha")


def test_live_writes_rank_as_a_fresh_build(tmp_path):
    docs = corpus(80, seed=9)
    build(tmp_path / "c", docs).close()
    c = densearch.Collection.open(tmp_path / "c", writable=True)
    new = [("new-%d" % i, "vitamin bone density sleep " * (i + 1), "t%d" % i) for i in range(5)]
    r = c.upsert([{"id": i, "text": x, "title": t} for i, x, t in new])
    assert r["added"] == 5 and r["replaced"] == 0 and r["lsn"] >= 1
    r = c.upsert([(docs[0][0], "replaced text about virus", "")])
    assert r["replaced"] == 1
    r = c.delete([docs[1][0], "not-there"])
    assert r["deleted"] == 1 and r["missing"] == 1
    st = c.live_stats()
    assert st["segments"] == 3 and st["deleted"] == 2 and st["docs"] == 84
    # the survivors in the order of their latest write
    alive = [d for d in docs[2:]] + [(i, t, x) for i, x, t in new] + [(docs[0][0], "", "replaced text about virus")]
    fresh = build(tmp_path / "f", alive)
    for q in ("vitamin bone density", "virus", "sleep memory"):
        a, b = c.search(q, k=15), fresh.search(q, k=15)
        assert [(h.id, h.score) for h in a] == [(h.id, h.score) for h in b]
    c.compact()
    assert c.live_stats()["segments"] == 1
    with pytest.raises(densearch.InvalidError):
        c.upsert([("a", "x"), ("a", "y")])          # an id twice in one batch
    c.close()
    ro = densearch.Collection.open(tmp_path / "c")
    with pytest.raises(densearch.Error):
        ro.upsert([("z", "text")])                  # not opened writable
    assert len(ro) == 84
