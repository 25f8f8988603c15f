#!/bin/sh
# densearch index / search / check on a tiny corpus in every format, plus bad
# input handling (exit codes, file:line messages, --skip-bad counts) and a
# batch TREC run.
set -u
D=${DENSEARCH:?}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

cat > "$tmp/c.jsonl" <<'J'
{"_id": "d0", "title": "Cats", "text": "the cat sat on the mat"}
{"_id": "d1", "title": "", "text": "dogs and cats and more cats"}
{"_id": "d2", "title": "Birds", "text": "a bird in the hand"}
J
$D index --corpus "$tmp/c.jsonl" --out "$tmp/ix" > "$tmp/out" || fail "index"
grep -q "indexed 3 docs" "$tmp/out" || { cat "$tmp/out"; fail "summary"; }
grep -q "skipped 0" "$tmp/out" || fail "skipped count"
$D check "$tmp/ix" | grep -q "ok (CMAN)" || fail "check"
$D search --index "$tmp/ix" "cat" > "$tmp/s" || fail "search"
head -1 "$tmp/s" | grep -q "^ 1\. d0 " || { cat "$tmp/s"; fail "top hit"; }
grep -q '\*\*cat\*\*' "$tmp/s" || { cat "$tmp/s"; fail "highlight"; }
$D search --index "$tmp/ix" "cats" --format json | grep -q '"id": "d0"' || fail "json"
$D search --index "$tmp/ix" "cats" --format trec --k 1 | grep -qx "q Q0 d0 1 [0-9.]* densearch" || fail "trec"
$D search --index "$tmp/ix" "zebra" | grep -q "no results" || fail "no results"

# batch mode
printf '{"_id": "q1", "text": "cat"}\n{"_id": "q2", "text": "bird hand"}\n' > "$tmp/q.jsonl"
$D search --index "$tmp/ix" --queries "$tmp/q.jsonl" --run-out "$tmp/run.trec" --tag T 2> "$tmp/err" || fail "batch"
grep -q "queries/s" "$tmp/err" || fail "qps line"
grep -qx "q2 Q0 d2 1 [0-9.]* T" "$tmp/run.trec" || { cat "$tmp/run.trec"; fail "run line"; }
[ "$(wc -l < "$tmp/run.trec")" -eq 3 ] || fail "run length"

# other formats
printf 'a\tfirst text\nb\tsecond text\n' > "$tmp/c.tsv"
$D index --corpus "$tmp/c.tsv" --out "$tmp/ix2" --quiet || fail "tsv"
mkdir -p "$tmp/dir/sub"; echo "alpha beta" > "$tmp/dir/one.txt"; echo "gamma" > "$tmp/dir/sub/two.txt"
$D index --corpus "$tmp/dir" --out "$tmp/ix3" --quiet || fail "dir"
$D search --index "$tmp/ix3" gamma --format trec | grep -q " sub/two.txt 1 " || fail "dir id"
ln -s .. "$tmp/dir/sub/loop"; ln -s one.txt "$tmp/dir/alias.txt"   # a directory loop is not followed
$D index --corpus "$tmp/dir" --out "$tmp/ix5" | grep -q "indexed 3 docs" || fail "dir symlinks"
printf '{"docno": "x", "body": "custom fields"}\n' > "$tmp/g.jsonl"
$D index --corpus "$tmp/g.jsonl" --out "$tmp/ix4" --format jsonl --id-field docno --text-field body --quiet || fail "jsonl fields"

# bad input: error with file:line, no index; --skip-bad counts
printf '{"_id": "a", "text": "ok"}\n{"_id": "b", "text": \n{"_id": "a", "text": "dup"}\n{"_id": "c", "text": "ok"}\n' > "$tmp/bad.jsonl"
$D index --corpus "$tmp/bad.jsonl" --out "$tmp/ixb" 2> "$tmp/err"; [ $? -eq 1 ] || fail "bad input exit"
grep -q "bad.jsonl:2: malformed JSON" "$tmp/err" || { cat "$tmp/err"; fail "bad input message"; }
[ ! -e "$tmp/ixb/MANIFEST" ] && [ -z "$(ls "$tmp/ixb" 2>/dev/null | grep seg-)" ] || fail "half index visible"
$D index --corpus "$tmp/bad.jsonl" --out "$tmp/ixb" --skip-bad > "$tmp/out" 2> "$tmp/err" || fail "skip-bad"
grep -q "indexed 2 docs" "$tmp/out" || { cat "$tmp/out"; fail "skip-bad docs"; }
grep -q "skipped 2" "$tmp/out" || { cat "$tmp/out"; fail "skip-bad count"; }
grep -q "duplicate id" "$tmp/err" || { cat "$tmp/err"; fail "dup warning"; }
$D index --corpus "$tmp/missing.jsonl" --out "$tmp/ixm" 2> "$tmp/err"; [ $? -eq 1 ] || fail "missing file"
grep -q "missing.jsonl" "$tmp/err" || fail "missing file message"
$D index --out "$tmp/x" 2>/dev/null; [ $? -eq 2 ] || fail "usage exit"
$D search --index "$tmp/ix" 2>/dev/null; [ $? -eq 2 ] || fail "search usage exit"
$D index --help | grep -q "Duplicate ids" || fail "help documents duplicates"

# corrupt collection part: check and search fail cleanly
lx=$(ls -d "$tmp"/ix/seg-*)/lexical.dsx
cp "$lx" "$tmp/keep"
printf '\377\377\377\377' | dd of="$lx" bs=1 seek=65 conv=notrunc 2>/dev/null
$D check "$tmp/ix" 2>/dev/null; [ $? -eq 1 ] || fail "check corrupt"
head -c 500 "$tmp/keep" > "$lx"
$D search --index "$tmp/ix" cat 2> "$tmp/err"; [ $? -eq 1 ] || fail "search truncated"
grep -qi "corrupt\|truncat" "$tmp/err" || { cat "$tmp/err"; fail "truncated message"; }
exit 0
