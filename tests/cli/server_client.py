#!/usr/bin/env python3
"""Client side of tests/cli/server.sh: every endpoint of `densearch serve`,
hostile requests (each a 4xx, the server keeps serving), slow clients, and a
graceful shutdown with a request in flight.

usage: server_client.py PORT SERVER_PID API_KEY HAVE_MODELS(0|1)
Loopback only; every socket has a timeout and every loop a bound.
"""
import base64
import json
import os
import signal
import socket
import struct
import sys
import time

PORT = int(sys.argv[1])
PID = int(sys.argv[2])
KEY = sys.argv[3]
MODELS = sys.argv[4] == "1"
HOST = "127.0.0.1"
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def raw(data, timeout=10.0, shut=True):
    """Sends bytes on a new connection and returns (status, headers, body)."""
    s = socket.create_connection((HOST, PORT), timeout=timeout)
    try:
        s.sendall(data)
        if shut:
            s.shutdown(socket.SHUT_WR)
        return read_response(s)
    finally:
        s.close()


def read_response(s):
    buf = b""
    deadline = time.time() + 20
    while b"\r\n\r\n" not in buf and time.time() < deadline:
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
    if b"\r\n\r\n" not in buf:
        return 0, {}, buf
    head, body = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for ln in lines[1:]:
        k, _, v = ln.partition(":")
        headers[k.strip().lower()] = v.strip()
    n = int(headers.get("content-length", "-1"))
    while (n < 0 or len(body) < n) and time.time() < deadline:
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            break
        if not chunk:
            break
        body += chunk
    return status, headers, body


def request(method, path, body=None, auth=True, headers=None):
    if isinstance(body, (dict, list)):
        body = json.dumps(body).encode()
    elif isinstance(body, str):
        body = body.encode()
    h = "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n" % (method, path, HOST)
    if auth:
        h += "Authorization: Bearer %s\r\n" % KEY
    for k, v in (headers or {}).items():
        h += "%s: %s\r\n" % (k, v)
    if body is not None:
        h += "Content-Type: application/json\r\nContent-Length: %d\r\n" % len(body)
    data = h.encode() + b"\r\n" + (body or b"")
    st, hd, b = raw(data)
    return st, hd, b


def jreq(method, path, body=None, **kw):
    st, hd, b = request(method, path, body, **kw)
    try:
        j = json.loads(b)
    except ValueError:
        j = None
    return st, j, hd


def is_error(st, j, status, code=None):
    return (st == status and isinstance(j, dict) and isinstance(j.get("error"), dict)
            and isinstance(j["error"].get("message"), str)
            and (code is None or j["error"].get("code") == code))


def alive(what):
    st, j, _ = jreq("GET", "/health", auth=False)
    check(st == 200 and j and j["status"] == "ok", "server still serving after " + what)


# ---- endpoints -------------------------------------------------------------------
st, j, _ = jreq("GET", "/health", auth=False)
check(st == 200 and j["status"] == "ok", "health without a key")

st, j, hd = jreq("GET", "/collections", auth=False)
check(is_error(st, j, 401, "unauthorized") and hd.get("www-authenticate") == "Bearer", "401 without a key")
st, j, _ = jreq("GET", "/collections", auth=False, headers={"Authorization": "Bearer wrong"})
check(is_error(st, j, 401), "401 with a wrong key")
st, j, _ = jreq("POST", "/collections/lex/search", {"query": "cat"}, auth=False,
                headers={"Authorization": "Bearer " + KEY + "x"})
check(is_error(st, j, 401), "401 with a longer key")

st, j, _ = jreq("GET", "/collections")
names = [c["name"] for c in j["collections"]] if st == 200 else []
check(st == 200 and "lex" in names, "collections lists lex: %r" % (j,))

st, j, _ = jreq("GET", "/collections/lex")
check(st == 200 and j["docs"] == 6 and j["vectors"] is None, "collection info: %r" % (j,))

st, j, _ = jreq("POST", "/collections/lex/search", {"query": "cat mat", "k": 3})
ok = st == 200 and j["hits"] and j["hits"][0]["id"] == "d1"
check(ok, "lexical search finds d1: %r" % (j,))
if ok:
    h = j["hits"][0]
    check(j["mode"] == "lexical" and h["rank"] == 1 and h["bm25_rank"] == 1 and h["dense"] is None
          and h["title"] == "Cats" and "**cat**" in h["snippet"].lower(), "hit fields: %r" % (h,))
    check(set(j["time"]) == {"encode_ms", "lexical_ms", "dense_ms", "rerank_ms", "total_ms"}, "time per stage")
st, j, _ = jreq("POST", "/collections/lex/search", {"query": "cat", "with_text": False})
check(st == 200 and "snippet" not in j["hits"][0] and "title" not in j["hits"][0], "with_text false")
st, j, _ = jreq("POST", "/collections/lex/search", {"query": "the cat dogs", "filter": {"ids": ["d2", "zz"]}})
check(st == 200 and [h["id"] for h in j["hits"]] == ["d2"], "lexical search with a filter: %r" % (j,))
st, j, _ = jreq("POST", "/collections/lex/search", {"query": "cat", "prf": "rm3", "rm3_docs": 2})
check(st == 200 and isinstance(j["expansion"], str) and j["hits"][0]["id"] == "d1", "RM3 gives its expansion: %r" % (j,))
st, j, _ = jreq("POST", "/collections/lex/search", {"query": "zzzz unknownword"})
check(st == 200 and j["hits"] == [], "no results is not an error")

if MODELS:
    st, j, _ = jreq("POST", "/collections/hyb/search", {"query": "cat on a mat", "k": 4, "rerank": True})
    ok = st == 200 and len(j["hits"]) == 4
    check(ok, "hybrid + rerank: %r" % (j,))
    if ok:
        check(j["mode"] == "hybrid" and all(h["rerank_rank"] for h in j["hits"]), "rerank ranks")
        check(any(h["dense_rank"] for h in j["hits"]) and any(h["fused_rank"] for h in j["hits"]), "component ranks")
    st, j, _ = jreq("POST", "/collections/hyb/search",
                    {"query": "animals", "mode": "dense", "filter": {"ids": ["d2", "d5", "nope"]}})
    check(st == 200 and sorted(h["id"] for h in j["hits"]) == ["d2", "d5"], "dense search with a filter: %r" % (j,))
    st, j, _ = jreq("POST", "/collections/hyb/search",
                    {"query": "cat", "fusion": "convex", "alpha": 1.0, "norm": "zscore", "k": 2})
    check(st == 200 and j["hits"][0]["id"] == "d1", "convex alpha 1 ranks as BM25")
    st, j, _ = jreq("POST", "/collections/lex/search", {"query": "cat", "mode": "dense"})
    check(is_error(st, j, 400), "dense search on a BM25-only collection is a 400")

    # embeddings: OpenAI shapes
    st, j, _ = jreq("POST", "/v1/embeddings", {"model": "tiny", "input": "hello world"})
    ok = st == 200 and j["object"] == "list" and len(j["data"]) == 1
    check(ok, "embeddings of one string: %r" % (j,))
    if ok:
        v = j["data"][0]["embedding"]
        check(len(v) == 64 and abs(sum(x * x for x in v) - 1) < 1e-4, "a unit vector of 64 floats")
        check(j["usage"]["prompt_tokens"] == 4 and j["usage"]["total_tokens"] == 4, "usage: %r" % (j["usage"],))
        one = v
    st, j, _ = jreq("POST", "/v1/embeddings", {"input": ["hello world", "a", "hello world"], "encoding_format": "base64"})
    ok = st == 200 and [d["index"] for d in j["data"]] == [0, 1, 2]
    check(ok, "embeddings base64 batch: %r" % (j,))
    if ok:
        b = struct.unpack("<64f", base64.b64decode(j["data"][2]["embedding"]))
        check(max(abs(x - y) for x, y in zip(b, one)) < 1e-6, "base64 decodes to the float embedding")
    st, j, _ = jreq("POST", "/v1/embeddings", {"input": [101, 7592, 2088, 102]})
    check(st == 200 and max(abs(x - y) for x, y in zip(j["data"][0]["embedding"], one)) < 1e-5,
          "token ids give the text's embedding")
    st, j, _ = jreq("POST", "/v1/embeddings", {"input": [[101, 7592, 2088, 102], [101, 102]]})
    check(st == 200 and len(j["data"]) == 2 and j["usage"]["prompt_tokens"] == 6, "token-id arrays")
    long_text = " ".join(["word"] * 300)
    st, j, _ = jreq("POST", "/v1/embeddings", {"input": ["short", long_text]})
    check(is_error(st, j, 400, "input_too_long") and "input[1]" in j["error"]["message"], "a long input is refused: %r" % (j,))
    st, j, _ = jreq("POST", "/v1/embeddings", {"input": ["short", long_text], "truncate": True})
    check(st == 200 and j["usage"]["prompt_tokens"] == 3 + 128, "truncate: true cuts to 128 tokens: %r" % (j and j.get("usage"),))
    # many inputs: several encoder calls (token budget) in one request
    st, j, _ = jreq("POST", "/v1/embeddings", {"input": ["text number %d" % i for i in range(64)]})
    check(st == 200 and len(j["data"]) == 64, "64 inputs")
    st, j, _ = jreq("POST", "/v1/embeddings", {"input": ["x"] * 65})
    check(is_error(st, j, 413, "batch_too_large"), "over --max-batch is a 413")
    for bad in ({"input": []}, {"input": 5}, {"input": ["a", 1]}, {"input": [[101, 102], "a"]},
                {"input": [[101, 999999, 102]]}, {"input": [[]]}, {"input": [1.5]}, {}, {"input": "a", "encoding_format": "int8"},
                {"input": "a", "truncate": "yes"}, {"input": "a", "dimensions": 32}):
        st, j, _ = jreq("POST", "/v1/embeddings", bad)
        check(is_error(st, j, 400), "embeddings %r is a 400, got %d %r" % (bad, st, j))
else:
    st, j, _ = jreq("POST", "/v1/embeddings", {"input": "hello"})
    check(is_error(st, j, 404, "model_not_found"), "no model: 404")

# documents: not built yet
for m in ("POST", "DELETE"):
    st, j, _ = jreq(m, "/collections/lex/documents", {"documents": []})
    check(is_error(st, j, 501, "not_implemented") and "live collections" in j["error"]["message"], m + " documents is a 501")

# routing
st, j, hd = jreq("GET", "/collections/lex/search")
check(is_error(st, j, 405) and hd.get("allow") == "POST", "GET search is a 405 with Allow")
st, j, _ = jreq("POST", "/collections/nope/search", {"query": "x"})
check(is_error(st, j, 404, "collection_not_found") and "'nope'" in j["error"]["message"], "unknown collection")
st, j, _ = jreq("GET", "/nowhere")
check(is_error(st, j, 404, "not_found"), "unknown path")

# ---- hostile requests --------------------------------------------------------------
S = "/collections/lex/search"
for body, code, what in (
        ('{"query": "cat"', "invalid_json", "truncated JSON"),
        ('{"query": "cat"} x', "invalid_json", "trailing garbage"),
        ("", "invalid_json", "empty body"),
        ("[1, 2]", "invalid_request", "not an object"),
        ('{"query": 5}', "invalid_request", "query a number"),
        ('{"query": "a", "k": "10"}', "invalid_request", "k a string"),
        ('{"query": "a", "k": -1}', "invalid_request", "k negative"),
        ('{"query": "a", "k": 2.5}', "invalid_request", "k fractional"),
        ('{"query": "a", "k": 1e30}', "invalid_request", "k huge"),
        ('{"query": "a", "k": 1001}', "invalid_request", "k above --max-k"),
        ('{"query": "a", "alpha": 2}', "invalid_request", "alpha out of range"),
        ('{"query": "a", "mode": "magic"}', "invalid_request", "unknown mode"),
        ('{"query": "a", "with_text": "yes"}', "invalid_request", "with_text a string"),
        ('{"query": "a", "filter": "d1"}', "invalid_request", "filter a string"),
        ('{"query": "a", "filter": {"ids": [1]}}', "invalid_request", "filter id a number"),
        ('{"query": "a", "rerank": true}', None, "rerank (maybe without a re-ranker)"),
        ('{"query": "a", "prf": "magic"}', "invalid_request", "unknown prf"),
        ('{"query": "a", "bogus": 1}', "invalid_request", "unknown field"),
        ('{"query": "a", "highlight": ["<b>"]}', "invalid_request", "bad highlight"),
        ('{"query": "\\ud800"}', "invalid_json", "lone surrogate escape"),
):
    st, j, _ = jreq("POST", S, body)
    if code is None:
        check(st in (200, 400) and (st == 200 or is_error(st, j, 400)), what)
    else:
        check(is_error(st, j, 400, code), "%s: got %d %r" % (what, st, j))

st, j, _ = jreq("POST", S, b'{"query": "caf\xe9"}')
check(is_error(st, j, 400, "invalid_utf8"), "invalid UTF-8: %d %r" % (st, j))
st, j, _ = jreq("POST", S, b'{"query": "\xed\xa0\x80"}')
check(is_error(st, j, 400, "invalid_utf8"), "UTF-8 surrogate")
st, j, _ = jreq("POST", S, "[" * 100000 + "]" * 100000)
check(is_error(st, j, 400, "too_deep"), "deep nesting: %d" % st)
st, j, _ = jreq("POST", S, '{"query": ' + '{"a": ' * 40 + "1" + "}" * 40 + "}")
check(is_error(st, j, 400, "too_deep"), "deep objects")
alive("malformed bodies")

# 100 MB announced: refused from the headers, before the body is read
t0 = time.time()
s = socket.create_connection((HOST, PORT), timeout=10)
s.sendall(("POST %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Length: %d\r\n\r\n"
           % (S, KEY, 100 << 20)).encode() + b"x" * 65536)
st, hd, b = read_response(s)
s.close()
check(st == 413 and json.loads(b)["error"]["code"] == "body_too_large" and time.time() - t0 < 5,
      "100 MB body refused early: %d %r" % (st, b[:200]))
# chunked, no length: read and dropped past the limit (1 MB here), then 413
s = socket.create_connection((HOST, PORT), timeout=20)
s.sendall(("POST %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nTransfer-Encoding: chunked\r\n\r\n" % (S, KEY)).encode())
piece = b"a" * 65536
for _ in range(40):   # 2.5 MB
    s.sendall(b"%x\r\n" % len(piece) + piece + b"\r\n")
s.sendall(b"0\r\n\r\n")
st, hd, b = read_response(s)
s.close()
check(st == 413, "chunked oversize body is a 413: %d" % st)
alive("oversize bodies")

# slowloris: many clients that never finish their headers hold no thread
# and are closed after --timeout (1 s) of silence
slow = []
for _ in range(20):
    c = socket.create_connection((HOST, PORT), timeout=10)
    c.sendall(b"POST /collections/lex/search HTTP/1.1\r\nHost: x\r\n")
    slow.append(c)
st, j, _ = jreq("POST", S, {"query": "cat"})
check(st == 200, "search while 20 slow clients hang")
time.sleep(2.5)
closed = 0
for c in slow:
    c.settimeout(3)
    try:
        if c.recv(100) == b"":
            closed += 1
    except ConnectionResetError:
        closed += 1
    except socket.timeout:
        pass
    c.close()
check(closed == 20, "idle slow clients closed by the server (%d of 20)" % closed)
# a body trickling in: closed after --request-timeout (2 s)
c = socket.create_connection((HOST, PORT), timeout=10)
c.sendall(("POST %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Length: 100\r\n\r\n" % (S, KEY)).encode())
t0 = time.time()
gone = False
for _ in range(20):   # one byte every 0.4 s, under the idle timeout
    time.sleep(0.4)
    try:
        c.sendall(b" ")
    except OSError:
        gone = True
        break
if not gone:
    c.settimeout(3)
    try:
        gone = c.recv(100) == b""
    except OSError:
        gone = True
c.close()
check(gone and time.time() - t0 < 8.5, "a trickling body is cut off after --request-timeout")
alive("slow clients")

st, _, b = request("GET", "/metrics")
b = b.decode()
check(st == 200 and 'densearch_http_requests_total{endpoint="search",code="200"}' in b
      and 'densearch_http_request_duration_seconds_bucket{endpoint="search",le="+Inf"}' in b
      and 'densearch_collection_documents{collection="lex"} 6' in b
      and 'densearch_http_requests_total{endpoint="search",code="400"}' in b, "metrics text")

# ---- graceful shutdown: a request in flight is answered, new ones are refused
body = json.dumps({"query": "cat mat", "k": 2}).encode()
c = socket.create_connection((HOST, PORT), timeout=10)
c.sendall(("POST %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Length: %d\r\n\r\n"
           % (S, KEY, len(body))).encode() + body[:5])
time.sleep(0.3)
os.kill(PID, signal.SIGTERM)
time.sleep(0.5)
refused = False
try:
    socket.create_connection((HOST, PORT), timeout=2).close()
except OSError:
    refused = True
check(refused, "new connections refused while stopping")
c.sendall(body[5:])
st, hd, b = read_response(c)
c.close()
check(st == 200 and json.loads(b)["hits"][0]["id"] == "d1", "the request in flight at SIGTERM is answered: %d" % st)

if failures:
    print("%d checks failed" % len(failures))
    sys.exit(1)
print("server client: all checks passed")
