"""densearch.Index: round trips, zero-copy buffers, bad input, GIL release,
reference counts."""
import ctypes
import gc
import sys
import threading
import time

import numpy as np
import pytest

import densearch


def data(n=500, d=16, seed=0):
    return np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32)


def brute(x, q, k, metric):
    if metric == "cosine":
        x = x / np.linalg.norm(x, axis=1, keepdims=True)
        q = q / np.linalg.norm(q, axis=1, keepdims=True)
    s = q @ x.T if metric != "l2" else -((q[:, None, :] - x[None, :, :]) ** 2).sum(-1)
    return np.argsort(-s, axis=1, kind="stable")[:, :k], np.sort(s, axis=1)[:, ::-1][:, :k]


@pytest.mark.parametrize("metric", ["cosine", "ip", "l2"])
def test_flat_is_exact(metric):
    x, q = data(), data(7, seed=1)
    ix = densearch.Index(16, type="flat", metric=metric)
    ix.add(x)
    ids, scores = ix.search(q, k=5)
    want_ids, want_scores = brute(x, q, 5, metric)
    assert np.asarray(ids).dtype == np.int64 and np.asarray(scores).dtype == np.float32
    assert (np.asarray(ids) == want_ids).all()
    assert np.allclose(np.asarray(scores), want_scores, rtol=1e-4, atol=1e-4)


def test_hnsw_round_trip(tmp_path):
    x = data(2000, 32)
    ix = densearch.Index(32, type="hnsw", metric="cosine", M=16, ef_construction=100, seed=3)
    ix.add(x, ids=np.arange(10, 2010, dtype=np.int64))
    assert len(ix) == 2000 and ix.dim == 32 and ix.type == "hnsw" and ix.metric == "cosine"
    ids, scores = ix.search(x[:50], k=1, ef=64)
    assert (np.asarray(ids)[:, 0] == np.arange(10, 60)).mean() >= 0.98
    path = tmp_path / "v.dsx"
    ix.save(path)
    with densearch.Index.load(path, verify=True) as back:
        ids2, scores2 = back.search(x[:50], k=10, ef=64)
        again = ix.search(x[:50], k=10, ef=64)
        assert np.array_equal(np.asarray(ids2), np.asarray(again[0]))
        assert np.array_equal(np.asarray(scores2), np.asarray(again[1]))
    assert back.closed
    with pytest.raises(densearch.InvalidError, match="closed"):
        back.search(x[:1])
    densearch.check(path)


def test_one_dimensional_query_and_padding():
    ix = densearch.Index(4, type="flat", metric="ip")
    ix.add(np.eye(4, dtype=np.float32))
    ids, scores = ix.search(np.array([1, 0, 0, 0], dtype=np.float32), k=6)
    assert ids.shape == (1, 6)
    assert ids.tolist()[0][:1] == [0] and ids.tolist()[0][4:] == [-1, -1]
    assert np.isneginf(np.asarray(scores)[0, 4:]).all()


def test_ids_delete_compact_filter():
    x = data(300, 8)
    ix = densearch.Index(8, type="hnsw", metric="l2")
    ix.add(x[:100], ids=list(range(1000, 1100)))
    ix.add(x[100:])                      # auto ids continue from len(index)
    ids, _ = ix.search(x[0], k=1)
    assert ids[0][0] == 1000
    ix.delete(1000)
    ix.delete([1001, 1002])
    assert len(ix) == 297
    assert 1000 not in ix.search(x[0], k=5)[0].tolist()[0]
    with pytest.raises(densearch.NotFoundError) as e:
        ix.delete(1000)
    assert e.value.status == "DS_ERR_NOTFOUND" and isinstance(e.value, LookupError)
    ix.compact()
    assert len(ix) == 297
    allowed = [1050, 1060, 1070]
    for f in (allowed, np.array(allowed), set(allowed)):
        got = ix.search(x[50], k=5, filter=f)[0].tolist()[0]
        assert got[:3] == [1050, 1060, 1070] or sorted(got[:3]) == allowed
        assert got[3:] == [-1, -1]
    mask = np.zeros(1100, dtype=bool)
    mask[1060] = True
    assert ix.search(x[60], k=2, filter=mask)[0].tolist()[0] == [1060, -1]


def test_bad_input_raises_clear_errors():
    ix = densearch.Index(8, type="flat")
    ix.add(data(10, 8))
    q = data(3, 8)
    with pytest.raises(densearch.InvalidError, match="float32, got float64"):
        ix.search(q.astype(np.float64))
    with pytest.raises(densearch.InvalidError, match="C-contiguous"):
        ix.search(data(3, 16)[:, ::2])
    with pytest.raises(densearch.InvalidError, match="C-contiguous"):
        ix.search(np.asfortranarray(q))
    with pytest.raises(densearch.InvalidError, match="dimension 7, expected 8"):
        ix.search(q[:, :7].copy())
    bad = q.copy()
    bad[1, 3] = np.nan
    with pytest.raises(densearch.InvalidError, match="non-finite"):
        ix.search(bad)
    bad[1, 3] = np.inf
    with pytest.raises(densearch.InvalidError, match="non-finite"):
        ix.add(bad)
    with pytest.raises(densearch.InvalidError, match="1 or 2 dimensions"):
        ix.search(q.reshape(1, 3, 8))
    with pytest.raises(densearch.InvalidError, match="numpy"):
        ix.search([[0.0] * 8])
    with pytest.raises(densearch.InvalidError, match="ids must be int64"):
        ix.add(q, ids=np.arange(3, dtype=np.int32))
    with pytest.raises(densearch.InvalidError, match="2 ids for 3"):
        ix.add(q, ids=[100, 101])
    with pytest.raises(densearch.InvalidError, match="appears twice"):
        ix.add(q, ids=[100, 101, 100])
    with pytest.raises(densearch.InvalidError):
        ix.add(q, ids=[-5, 101, 102])
    with pytest.raises(densearch.InvalidError, match="k must be"):
        ix.search(q, k=-1)
    with pytest.raises(densearch.RangeError, match="too large"):
        ix.search(q, k=1 << 40)
    with pytest.raises(densearch.InvalidError, match="type must be one of"):
        densearch.Index(8, type="annoy")
    with pytest.raises(densearch.InvalidError, match="dim must be positive"):
        densearch.Index(0)
    with pytest.raises(ValueError):             # InvalidError is a ValueError too
        ix.search(q.astype(np.float16))
    assert len(ix) == 10                        # nothing was added by the failures


def test_corrupt_file(tmp_path):
    p = tmp_path / "v.dsx"
    ix = densearch.Index(8, type="flat")
    ix.add(data(20, 8))
    ix.save(p)
    raw = bytearray(p.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    p.write_bytes(bytes(raw))
    with pytest.raises(densearch.CorruptError) as e:
        densearch.Index.load(p, verify=True)
    assert e.value.status == "DS_ERR_CORRUPT" and e.value.message
    with pytest.raises(densearch.Error):
        densearch.Index.load(tmp_path / "missing.dsx")


def address(buf):
    """Address of a writable buffer's first byte, read through ctypes."""
    return ctypes.addressof(ctypes.c_char.from_buffer(buf))


def test_results_are_zero_copy():
    ix = densearch.Index(8, type="flat")
    ix.add(data(50, 8))
    ids, scores = ix.search(data(4, 8, seed=2), k=3)
    a, b = np.asarray(ids), np.asarray(scores)
    assert a.shape == (4, 3) and b.shape == (4, 3)
    assert a.ctypes.data == address(ids)            # numpy's data pointer is the Array's buffer
    assert b.ctypes.data == address(scores)
    assert np.shares_memory(a, np.asarray(ids))
    b[0, 0] = 42.0                                  # the same memory, seen both ways
    assert scores[0][0] == 42.0
    m = memoryview(scores)
    assert m.format == "f" and m.shape == (4, 3) and m.c_contiguous
    assert a.ctypes.data % 64 == 0                  # aligned for SIMD consumers


def test_inputs_are_not_copied():
    # Any buffer exporter works (not only numpy), and the binding reads it in place:
    # a read-only float32 memoryview over bytes is accepted as is.
    x = data(20, 8)
    ro = memoryview(x.tobytes()).cast("f", (20, 8))
    assert ro.readonly
    ix = densearch.Index(8, type="flat", metric="l2")
    ix.add(ro)
    assert np.array_equal(np.asarray(ix.search(ro, k=1)[0])[:, 0], np.arange(20))


def test_encoder_output_is_an_array_too():
    # Array basics without numpy: len, indexing, tolist, repr
    ix = densearch.Index(2, type="flat", metric="ip")
    ix.add(np.array([[1, 0], [0, 1]], dtype=np.float32))
    ids, scores = ix.search(np.array([[1, 0]], dtype=np.float32), k=2)
    assert len(ids) == 1 and ids.shape == (1, 2) and ids.dtype == "int64" and ids.ndim == 2
    assert ids[0].tolist() == [0, 1] and ids[0][1] == 1
    assert "shape=(1, 2)" in repr(scores)


def test_gil_is_released_during_search():
    """Two Python threads searching one index are inside the C search at the
    same time. Asserting overlap, not a speed-up, keeps this valid on a
    loaded machine: with the GIL held, the intervals could never overlap."""
    x = data(20000, 64, seed=4)
    ix = densearch.Index(64, type="flat", metric="ip", threads=1)
    ix.add(x)
    q = data(200, 64, seed=5)
    ix.search(q, k=10)
    spans = [[], []]
    stop = time.perf_counter() + 3.0

    def worker(i):
        while time.perf_counter() < stop and len(spans[i]) < 40:
            t0 = time.perf_counter()
            ix.search(q, k=10)
            spans[i].append((t0, time.perf_counter()))

    ts = [threading.Thread(target=worker, args=(i,)) for i in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    overlap = sum(max(0.0, min(a1, b1) - max(a0, b0)) for a0, a1 in spans[0] for b0, b1 in spans[1])
    busy = sum(b - a for a, b in spans[0])
    assert spans[0] and spans[1]
    # each call spends well over 99% of its time in C; a held GIL gives exactly 0
    assert overlap > 0.1 * busy, "searches from two threads never overlapped: GIL held?"


def test_two_threads_speed_up_when_cores_are_free():
    """Two threads finish a search batch faster than one. CPU time is what is
    compared, so a loaded machine does not fail it: the test checks the two
    threads used more than one core's worth of CPU per wall second, and
    skips (not fails) when the machine has a single core."""
    import os
    if (os.cpu_count() or 1) < 2:
        pytest.skip("one core")
    x = data(20000, 64, seed=6)
    ix = densearch.Index(64, type="flat", metric="ip", threads=1)
    ix.add(x)
    q = data(100, 64, seed=7)
    parts = [q[:50], q[50:]]

    def run_two():
        ts = [threading.Thread(target=lambda p=p: [ix.search(p, k=10) for _ in range(8)]) for p in parts]
        w0, c0 = time.perf_counter(), time.process_time()
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        return time.perf_counter() - w0, time.process_time() - c0

    def run_one():
        w0 = time.perf_counter()
        for p in parts:
            for _ in range(8):
                ix.search(p, k=10)
        return time.perf_counter() - w0

    best = 0.0
    for _ in range(3):
        one = run_one()
        wall, cpu = run_two()
        best = max(best, one / wall)
        if cpu / wall > 1.2 or one / wall > 1.2:
            return
    pytest.skip("no second core free during the test (best speed-up %.2fx); overlap is asserted by "
                "test_gil_is_released_during_search" % best)


def test_no_leaks_over_1e5_calls():
    ix = densearch.Index(8, type="flat")
    ix.add(data(64, 8))
    q = data(1, 8, seed=8)
    for _ in range(1000):
        ix.search(q, k=4)
    gc.collect()
    rq, rix = sys.getrefcount(q), sys.getrefcount(ix)
    blocks = sys.getallocatedblocks()
    for _ in range(100000):
        ids, scores = ix.search(q, k=4)
    del ids, scores
    for _ in range(2000):
        try:
            ix.search(q.astype(np.float64), k=4)
        except densearch.InvalidError:
            pass
    gc.collect()
    assert sys.getrefcount(q) == rq
    assert sys.getrefcount(ix) == rix
    assert sys.getallocatedblocks() - blocks < 200


def test_adds_and_searches_from_threads_are_serialised_safely():
    """add() (exclusive) waits for running searches and searches wait for a
    running add: many threads mixing them neither crash nor lose vectors."""
    x = data(4000, 16, seed=9)
    ix = densearch.Index(16, type="hnsw", metric="l2", ef_construction=40)
    ix.add(x[:100])
    errors = []

    def adder():
        try:
            for i in range(100, 4000, 300):
                ix.add(x[i:i + 300])
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    def searcher():
        try:
            for _ in range(200):
                ids, _ = ix.search(x[:4], k=5)
                assert np.asarray(ids)[:, 0].tolist() == [0, 1, 2, 3]
        except Exception as e:  # pragma: no cover
            errors.append(e)

    ts = [threading.Thread(target=adder)] + [threading.Thread(target=searcher) for _ in range(3)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors, errors
    assert len(ix) == 4000
    ix.close()
    with pytest.raises(densearch.InvalidError, match="closed"):
        len(ix)
