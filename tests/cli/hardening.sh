#!/bin/sh
# Issue 14 (items 4-10, 12, 13): hostile-but-fair inputs that used to give
# silent data loss or a misleading message. Each case states what it guards.
set -u
D=${DENSEARCH:?}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; [ -f "$tmp/err" ] && cat "$tmp/err"; exit 1; }
want() {   # want EXIT NEEDLE -- command...: exit code and a stderr line
    code=$1; needle=$2; shift 3
    "$@" > "$tmp/out" 2> "$tmp/err"; rc=$?
    [ $rc -eq "$code" ] || fail "$*: exit $rc, want $code"
    grep -q -- "$needle" "$tmp/err" || fail "$*: stderr lacks '$needle'"
}
printf '{"_id":"d1","text":"alpha beta"}\n{"_id":"d2","text":"beta gamma"}\n{"_id":"d3","text":"gamma delta"}\n' > "$tmp/c.jsonl"
$D index --corpus "$tmp/c.jsonl" --out "$tmp/ix" --quiet || fail "index"

# 4: ids with whitespace are rejected where they enter, so every run densearch
# writes reads back in `densearch eval` (and trec_eval).
printf '{"_id":"a b","text":"x"}\n' > "$tmp/sp.jsonl"
want 1 "id 'a b' contains whitespace" -- $D index --corpus "$tmp/sp.jsonl" --out "$tmp/ix4"
printf '{"_id":"a\302\240b","text":"x"}\n' > "$tmp/nbsp.jsonl"
want 1 "contains whitespace" -- $D index --corpus "$tmp/nbsp.jsonl" --out "$tmp/ix4"
want 2 "qid: id 'q 1' contains whitespace" -- $D search --index "$tmp/ix" --format trec --qid "q 1" beta
want 2 "tag: id" -- $D search --index "$tmp/ix" --format trec --tag "$(printf 'my\342\200\250tag')" beta
printf '{"_id":"q1","text":"beta"}\n{"_id":"q2","text":"delta"}\n' > "$tmp/q.jsonl"
printf 'q1 0 d1 1\nq2 0 d3 1\n' > "$tmp/qrels.txt"
$D search --index "$tmp/ix" --queries "$tmp/q.jsonl" --run-out "$tmp/run.trec" 2> /dev/null || fail "batch search"
$D eval --qrels "$tmp/qrels.txt" --run "$tmp/run.trec" > /dev/null 2>&1 || fail "eval of our own run"
$D search --index "$tmp/ix" --format trec --qid q1 beta > "$tmp/one.trec" || fail "trec single"
$D eval --qrels "$tmp/qrels.txt" --run "$tmp/one.trec" > /dev/null 2>&1 || fail "eval of our single-query run"

# 5, 6: NUL in any form, and trailing garbage, in corpora and query files
printf '{"_id":"n\\u0000x","text":"x"}\n' > "$tmp/nul.jsonl"
want 1 'NUL character' -- $D index --corpus "$tmp/nul.jsonl" --out "$tmp/ix5"
printf '{"_id":"q1","text":"beta"} junk\n' > "$tmp/qt.jsonl"
want 1 "qt.jsonl:1: unexpected text after the JSON value" -- $D search --index "$tmp/ix" --queries "$tmp/qt.jsonl"
printf 'q1\tbe\000ta\n' > "$tmp/qn.tsv"
want 1 "qn.tsv:1: NUL byte" -- $D search --index "$tmp/ix" --queries "$tmp/qn.tsv"

# 7: --skip-bad names every skipped line, then caps with a count
{ echo '{"_id":"ok","text":"fine"}'; i=1; while [ $i -le 14 ]; do echo "bad $i"; i=$((i + 1)); done; } > "$tmp/bad.jsonl"
$D index --corpus "$tmp/bad.jsonl" --out "$tmp/ix7" --skip-bad --quiet 2> "$tmp/err" || fail "skip-bad index"
for l in 2 3 4 5 6 7 8 9 10 11; do grep -q "bad.jsonl:$l: " "$tmp/err" || fail "line $l not named"; done
grep -q "4 more skipped documents not shown (14 skipped in all)" "$tmp/err" || fail "no count of the rest"

# 8: an empty corpus is an error, not a 0-document index
: > "$tmp/empty.jsonl"
want 1 "no documents (empty corpus?); no" -- $D index --corpus "$tmp/empty.jsonl" --out "$tmp/ix8"
[ -f "$tmp/ix8/MANIFEST" ] && fail "an empty collection was written"
printf 'bad\n' > "$tmp/allbad.jsonl"
want 1 "no documents left after skipping" -- $D index --corpus "$tmp/allbad.jsonl" --out "$tmp/ix8" --skip-bad

# 9: a non-UTF-8 file name in a dir corpus is a bad document; JSON output stays valid
mkdir "$tmp/dir"
printf 'alpha text\n' > "$tmp/dir/good.txt"
printf 'alpha text\n' > "$tmp/dir/$(printf 'bad\377name.txt')"
want 1 "file name: id is not valid UTF-8" -- $D index --corpus "$tmp/dir" --out "$tmp/ix9"
$D index --corpus "$tmp/dir" --out "$tmp/ix9" --skip-bad --quiet 2> /dev/null || fail "dir with --skip-bad"
$D search --index "$tmp/ix9" --format json alpha > "$tmp/out.json" || fail "json search"
python3 -c "import json,sys; json.load(open(sys.argv[1], encoding='utf-8'))" "$tmp/out.json" 2> /dev/null || fail "invalid JSON output"

# 10: duplicate query ids
printf '{"_id":"q1","text":"beta"}\n{"_id":"q2","text":"x"}\n{"_id":"q1","text":"gamma"}\n' > "$tmp/qd.jsonl"
want 1 "qd.jsonl:3: duplicate query id 'q1' (first on line 1)" -- $D search --index "$tmp/ix" --queries "$tmp/qd.jsonl"

# 12: eval of an empty run, or of one sharing no query with the qrels
: > "$tmp/empty.trec"
want 1 "run is empty" -- $D eval --qrels "$tmp/qrels.txt" --run "$tmp/empty.trec"
printf 'x9 Q0 d1 1 1.0 t\n' > "$tmp/other.trec"
want 1 "share no query id" -- $D eval --qrels "$tmp/qrels.txt" --run "$tmp/other.trec"

# 13: smaller ones
want 2 "unknown option '--bogus'" -- $D search --index "$tmp/ix" beta --bogus
want 2 "unknown option '--bogus'" -- $D index --corpus "$tmp/c.jsonl" --bogus
want 2 "the query is empty" -- $D search --index "$tmp/ix" ""
$D eval --qrels "$tmp/qrels.txt" --run "$tmp/run.trec" --metrics ndcg_cut_10,P_10 > "$tmp/out" 2>&1 || fail "trec_eval metric names"
printf '{"_id":"q1"}\n' > "$tmp/qe.jsonl"
want 1 'qe.jsonl:1: empty text ("text" is missing or empty)' -- $D search --index "$tmp/ix" --queries "$tmp/qe.jsonl"
# 13: vectors -- the .npy dtype is quoted alone; a search option the index
# type does not use is a usage error
python3 - "$tmp" <<'PY' || exit 77
import struct, sys, random
d = sys.argv[1]
h = "{'descr': '<i4', 'fortran_order': False, 'shape': (2, 2), }"
h += " " * (64 - 10 - len(h) - 1) + "\n"
open(d + "/i4.npy", "wb").write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(h)) + h.encode() + b"\0" * 16)
random.seed(2)
with open(d + "/b.fvecs", "wb") as f:
    for i in range(100):
        f.write(struct.pack("<i", 4) + struct.pack("<4f", *[random.random() for _ in range(4)]))
PY
want 1 "dtype '<i4' is not supported (use" -- $D vectors build --input "$tmp/i4.npy" --type flat --out "$tmp/v.dsx"
$D vectors build --input "$tmp/b.fvecs" --type hnsw --out "$tmp/h.dsx" 2> "$tmp/err" || fail "hnsw build"
grep -q "index memory .* MB (not peak RSS)" "$tmp/err" || fail "build summary"
want 2 "nprobe (ivfpq only) does not apply" -- $D vectors search --index "$tmp/h.dsx" --queries "$tmp/b.fvecs" --out "$tmp/r.ivecs" --nprobe 4
$D vectors search --index "$tmp/h.dsx" --queries "$tmp/b.fvecs" --out "$tmp/r.ivecs" --ef 32 2> /dev/null || fail "--ef on hnsw"
exit 0
