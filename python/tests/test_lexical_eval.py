"""densearch.LexicalIndex and densearch.evaluate."""
import json

import pytest

import densearch
from conftest import shared

DOCS = [("d1", "The cat sat on the mat"), ("d2", "Dogs and cats living together"),
        ("d3", "A treatise on retrieval", "Okapi BM25 ranks documents by term frequency")]


def test_build_from_documents_and_search(tmp_path):
    lx = densearch.LexicalIndex.build(tmp_path / "idx", documents=DOCS)
    assert len(lx) == 3 and lx.n_terms > 5
    hits = lx.search("cats", k=5)
    assert [h.id for h in hits] == ["d1", "d2"] or [h.id for h in hits] == ["d2", "d1"]
    doc_id, score = hits[0]                      # a Hit unpacks as (id, score)
    assert score == hits[0].bm25 and hits[0].bm25_rank == 1 and hits[0].dense is None
    assert lx.doc(hits[0].doc)[1] in ("The cat sat on the mat", "Dogs and cats living together")
    assert lx.doc(2) == ("A treatise on retrieval", "Okapi BM25 ranks documents by term frequency")
    assert lx.doc_id(2) == "d3"
    assert "**BM25**" in lx.snippet("bm25", lx.doc(2)[1])
    batch = lx.search_batch(["cat", "okapi", "zebra"], k=2)
    assert [[h.id for h in r] for r in batch][1:] == [["d3"], []]
    again = densearch.LexicalIndex(tmp_path / "idx")
    assert [tuple(h)[:2] for h in again.search("cats")] == [tuple(h)[:2] for h in hits]


def test_build_errors(tmp_path):
    with pytest.raises(densearch.InvalidError, match="duplicate"):
        densearch.LexicalIndex.build(tmp_path / "a", documents=DOCS + [("d1", "again")])
    lx = densearch.LexicalIndex.build(tmp_path / "b", documents=DOCS + [("d1", "again")], skip_bad=True)
    assert len(lx) == 3
    with pytest.raises(densearch.InvalidError, match="documents\\[0\\]"):
        densearch.LexicalIndex.build(tmp_path / "c", documents=[("only-id",)])
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"_id": "1", "text": "fine"}\n{"_id": "2", "text": \n')
    with pytest.raises(densearch.CorruptError, match="bad.jsonl:2"):
        densearch.LexicalIndex.build(tmp_path / "d", corpus=bad)
    with pytest.raises(densearch.InvalidError, match="exactly one"):
        densearch.LexicalIndex.build(tmp_path / "e")
    with pytest.raises(densearch.Error):
        densearch.LexicalIndex(tmp_path / "nothing-here")


def test_beir_end_to_end_matches_files(tmp_path):
    """adi (82 documents): build from the corpus file, search every query,
    evaluate the run given as a dict and as a file: the same numbers."""
    data = shared("data", "adi")
    lx = densearch.LexicalIndex.build(tmp_path / "adi", corpus=data / "corpus.jsonl")
    queries = [json.loads(l) for l in open(data / "queries.jsonl")]
    results = lx.search_batch([q["text"] for q in queries], k=100)
    run = {q["_id"]: hits for q, hits in zip(queries, results)}
    ev = densearch.evaluate(data / "qrels" / "test.tsv", run, metrics=["ndcg@10", "recall@100", "map"])
    assert ev.metrics == ["ndcg@10", "recall@100", "map"]
    assert 0.2 < ev["ndcg@10"] < 0.8 and ev.n_missing == 0
    run_file = tmp_path / "run.trec"
    with open(run_file, "w") as f:
        for qid, hits in run.items():
            for rank, h in enumerate(hits, 1):
                f.write("%s Q0 %s %d %r t\n" % (qid, h.id, rank, h.score))
    ev2 = densearch.evaluate(data / "qrels" / "test.tsv", run_file, metrics="ndcg@10,recall@100,map")
    assert ev2.mean == pytest.approx(ev.mean, abs=1e-9)
    assert ev2.per_query.keys() == ev.per_query.keys()


def test_evaluate_dicts_by_hand():
    qrels = {"q1": {"a": 1, "b": 0, "c": 2}, "q2": {"x": 1}}
    run = {"q1": {"a": 3.0, "b": 2.0, "c": 1.0}, "q2": [("y", 2.0), ("x", 1.0)]}
    ev = densearch.evaluate(qrels, run, metrics="mrr@10,p@2,recall@1")
    assert ev.per_query["q1"]["mrr@10"] == 1.0 and ev.per_query["q2"]["mrr@10"] == 0.5
    assert ev.per_query["q1"]["p@2"] == 0.5 and ev.per_query["q2"]["recall@1"] == 0.0
    assert ev["mrr@10"] == 0.75
    missing = densearch.evaluate({"q1": {"a": 1}, "q9": {"z": 1}}, {"q1": {"a": 1.0}}, metrics="mrr")
    assert missing.n_missing == 1 and missing["mrr"] == 0.5
    skip = densearch.evaluate({"q1": {"a": 1}, "q9": {"z": 1}}, {"q1": {"a": 1.0}}, metrics="mrr", complete=False)
    assert skip["mrr"] == 1.0
    with pytest.raises(densearch.InvalidError, match="whitespace"):
        densearch.evaluate({"q 1": {"a": 1}}, run)
    with pytest.raises(densearch.InvalidError, match="ndcg@x"):
        densearch.evaluate(qrels, run, metrics="ndcg@x")
    with pytest.raises(densearch.Error):
        densearch.evaluate("/nonexistent/qrels.tsv", run)
