"""densearch.Encoder against the reference outputs of ../shared/models
(sentence-transformers, transformers), as the C tests check them."""
import numpy as np
import pytest

import densearch
from conftest import shared


def cos(a, b):
    return (a * b).sum(-1) / np.linalg.norm(a, axis=-1) / np.linalg.norm(b, axis=-1)


def test_encode_matches_sentence_transformers(fixtures):
    enc = densearch.Encoder(shared("models", "tiny-bert-mean-f32"))
    assert enc.kind == "embed" and enc.dim == 64
    texts = fixtures["texts"][:40]
    got = np.asarray(enc.encode(texts))
    assert got.shape == (40, 64) and got.dtype == np.float32
    want = np.array(fixtures["st_mean_f32"]["embeddings"][:40], dtype=np.float32)
    assert cos(got, want).min() >= 0.9999
    one = np.asarray(enc.encode(texts[3]))
    assert one.shape == (64,) and cos(one, want[3]) >= 0.9999
    chunked = np.asarray(enc.encode(texts, batch_size=7))
    assert cos(chunked, got).min() >= 0.99999
    assert enc.encode([]).shape == (0, 64)
    q8 = np.asarray(densearch.Encoder(shared("models", "tiny-bert-mean-f32"), int8=True).encode(texts))
    assert cos(q8, want).min() >= 0.99
    h = np.asarray(densearch.Encoder(shared("models", "tiny-bert-mean-f32"), bf16=True).encode(texts))
    assert cos(h, got).min() >= 0.999


def test_rerank_and_sparse(fixtures):
    ce = densearch.Encoder(shared("models", "tiny-cross-encoder"))
    pairs = fixtures["pairs"][:10]
    got = np.asarray(ce.rerank([p["query"] for p in pairs], [p["passage"] for p in pairs]))
    want = np.array(fixtures["cross_encoder"]["scores"][:10])
    assert np.abs(got - want).max() <= 1e-3
    same_q = np.asarray(ce.rerank(pairs[0]["query"], [pairs[0]["passage"], pairs[0]["passage"]]))
    assert abs(same_q[0] - want[0]) <= 1e-3 and same_q[0] == same_q[1]

    sp = densearch.Encoder(shared("models", "tiny-splade"))
    text = fixtures["texts"][5]
    idx, val = sp.sparse(text)
    ref = fixtures["splade"]["vectors"][5]
    assert len(idx) == ref["nnz"]
    assert abs(float(np.asarray(val).sum()) - ref["l1"]) <= 1e-3 * max(1.0, ref["l1"])
    assert np.all(np.diff(np.asarray(idx)) > 0)


def test_encoder_errors(tmp_path):
    with pytest.raises(densearch.NotFoundError) as e:
        densearch.Encoder(tmp_path)
    assert "config.json" in e.value.message
    enc = densearch.Encoder(shared("models", "tiny-bert-mean-f32"))
    with pytest.raises(densearch.InvalidError, match="needs a cross-encoder"):
        enc.rerank("q", ["p"])
    with pytest.raises(densearch.InvalidError, match=r"texts\[1\] must be a str"):
        enc.encode(["ok", 3])
    with pytest.raises(densearch.InvalidError, match="pooling must be one of"):
        densearch.Encoder(shared("models", "tiny-bert-mean-f32"), pooling="median")
    enc.close()
    with pytest.raises(densearch.InvalidError, match="closed"):
        enc.encode(["x"])
