#!/bin/sh
# densearch vectors build/search/bench on tiny generated files, and hostile
# vector files (bad header, changing dims, truncation) failing with a message.
set -u
export LC_ALL=C
D=${DENSEARCH:?}
PY=/usr/bin/python3
[ -x "$PY" ] || { echo "no /usr/bin/python3"; exit 77; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; [ -f "$tmp/err" ] && cat "$tmp/err"; exit 1; }

"$PY" - "$tmp" <<'PYEOF' || exit 1
import struct, sys, random, os
d = sys.argv[1]
random.seed(5)
n, dim = 400, 8
rows = [[random.uniform(-1, 1) for _ in range(dim)] for _ in range(n)]
def fvecs(path, rs):
    with open(path, "wb") as f:
        for r in rs:
            f.write(struct.pack("<i", len(r)) + struct.pack("<%df" % len(r), *r))
fvecs(os.path.join(d, "base.fvecs"), rows)
fvecs(os.path.join(d, "q.fvecs"), rows[:20])
# exact top-10 by inner product as ground truth
with open(os.path.join(d, "gt.ivecs"), "wb") as f:
    for q in rows[:20]:
        s = sorted(range(n), key=lambda i: -sum(a * b for a, b in zip(q, rows[i])))[:10]
        f.write(struct.pack("<i", 10) + struct.pack("<10i", *s))
# .npy v1.0 of the same base
hdr = "{'descr': '<f4', 'fortran_order': False, 'shape': (%d, %d), }" % (n, dim)
hdr += " " * (63 - (10 + len(hdr)) % 64) + "\n"
with open(os.path.join(d, "base.npy"), "wb") as f:
    f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(hdr)) + hdr.encode())
    for r in rows: f.write(struct.pack("<%df" % dim, *r))
# hostile files
fvecs(os.path.join(d, "dims.fvecs"), [rows[0], rows[1][:5]])
with open(os.path.join(d, "base.fvecs"), "rb") as f: b = f.read()
open(os.path.join(d, "trunc.fvecs"), "wb").write(b[:len(b) - 7])
open(os.path.join(d, "neg.fvecs"), "wb").write(struct.pack("<i", -3) + b"\0" * 12)
open(os.path.join(d, "empty.fvecs"), "wb").write(b"")
open(os.path.join(d, "bad.npy"), "wb").write(b"\x93NUMPY\x01\x00\xff\x7f{'descr'")
bad = "{'descr': '<f4', 'fortran_order': False, 'shape': (500, 8), }"
open(os.path.join(d, "short.npy"), "wb").write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(bad)) + bad.encode() + b"\0" * 64)
PYEOF

# build + check + search (self queries find themselves first)
$D vectors build --input "$tmp/base.fvecs" --type hnsw --metric l2 --m 8 --ef-construction 64 --out "$tmp/h.dsx" 2> "$tmp/err" || fail "hnsw build"
$D check "$tmp/h.dsx" > /dev/null 2> "$tmp/err" || fail "check of a fresh hnsw index"
$D vectors search --index "$tmp/h.dsx" --queries "$tmp/q.fvecs" --k 5 --ef 50 --batch 1 --out "$tmp/r.ivecs" 2> "$tmp/err" || fail "search"
"$PY" - "$tmp/r.ivecs" <<'PYEOF' || fail "self queries should return themselves first"
import struct, sys
b = open(sys.argv[1], "rb").read()
assert len(b) == 20 * 24, len(b)
for i in range(20):
    k, first = struct.unpack_from("<ii", b, i * 24)
    assert k == 5 and first == i, (i, k, first)
PYEOF
# client threads and library-batched queries give the same answers
$D vectors search --index "$tmp/h.dsx" --queries "$tmp/q.fvecs" --k 5 --ef 50 --batch 1 --threads 3 --out "$tmp/r3.ivecs" 2> "$tmp/err" || fail "threaded search"
$D vectors search --index "$tmp/h.dsx" --queries "$tmp/q.fvecs" --k 5 --ef 50 --batch 7 --threads 2 --out "$tmp/r4.ivecs" 2> "$tmp/err" || fail "batched search"
cmp -s "$tmp/r.ivecs" "$tmp/r3.ivecs" || fail "threaded search differs"
cmp -s "$tmp/r.ivecs" "$tmp/r4.ivecs" || fail "batched search differs"
$D vectors build --input "$tmp/base.npy" --type flat --metric cosine --out "$tmp/f.dsx" 2> "$tmp/err" || fail "flat build from npy"
$D vectors search --index "$tmp/f.dsx" --queries "$tmp/q.fvecs" --k 3 --out "$tmp/r2.ivecs" 2> "$tmp/err" || fail "flat search"
$D vectors bench --base "$tmp/base.fvecs" --queries "$tmp/q.fvecs" --truth "$tmp/gt.ivecs" --type hnsw --svg "$tmp/p.svg" > "$tmp/out" 2> "$tmp/err" || fail "bench"
cat "$tmp/out"
grep -q '^512 ' "$tmp/out" || fail "bench sweep incomplete"
awk '$1 == 512 && $2 < 0.99 { exit 1 }' "$tmp/out" || fail "hnsw recall at ef 512 on 400 vectors"
grep -q '<svg' "$tmp/p.svg" || fail "svg plot"
# --sweep replaces the default parameter list, in the order given; bad lists are usage errors
$D vectors bench --base "$tmp/base.fvecs" --queries "$tmp/q.fvecs" --truth "$tmp/gt.ivecs" --type hnsw --sweep 700,12 > "$tmp/out" 2> "$tmp/err" || fail "bench --sweep"
[ "$(grep -c '^[0-9]' "$tmp/out")" = 2 ] && grep -q '^700 ' "$tmp/out" && grep -q '^12 ' "$tmp/out" || fail "bench --sweep 700,12 rows"
for bad in 0 12, ,12 1,x -5 2000000; do
  $D vectors bench --base "$tmp/base.fvecs" --queries "$tmp/q.fvecs" --truth "$tmp/gt.ivecs" --type hnsw --sweep "$bad" > /dev/null 2> "$tmp/err"
  [ $? -eq 2 ] && grep -q -- "--sweep" "$tmp/err" || fail "--sweep '$bad' should be a usage error"
done

# hostile inputs: exit 1 with a message naming the problem
check_bad() {  # file, expected message fragment
  $D vectors build --input "$tmp/$1" --type flat --out "$tmp/x.dsx" 2> "$tmp/err"
  [ $? -eq 1 ] || fail "$1 should exit 1"
  grep -q "$2" "$tmp/err" || fail "$1: message should mention '$2'"
}
check_bad dims.fvecs "row 1: dimension 5 differs"
check_bad trunc.fvecs "truncated"
check_bad neg.fvecs "dimension -3"
check_bad empty.fvecs "empty file"
check_bad bad.npy "header length"
check_bad short.npy "truncated"
check_bad missing.fvecs "cannot open"
# wrong query dimension, usage errors
$D vectors search --index "$tmp/h.dsx" --queries "$tmp/dims.fvecs" --out "$tmp/r.ivecs" 2> /dev/null; [ $? -eq 1 ] || fail "bad queries"
$D vectors build --input "$tmp/base.fvecs" 2> /dev/null; [ $? -eq 2 ] || fail "missing --out should be a usage error"
$D vectors build --input "$tmp/base.fvecs" --out "$tmp/x" --type nope 2> /dev/null; [ $? -eq 2 ] || fail "bad --type"
$D vectors frobnicate 2> /dev/null; [ $? -eq 2 ] || fail "bad subcommand"
$D vectors search --index "$tmp/h.dsx" --queries "$tmp/q.fvecs" --out "$tmp/r.ivecs" --k 0 2> /dev/null; [ $? -eq 2 ] || fail "k 0"
exit 0
