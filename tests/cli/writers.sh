#!/bin/sh
# Writers of one path (issue 14, items 1 and 2): a symlink planted at the old
# fixed temporary name is not followed; a second writer of the same output
# while the first runs fails with a clear message, and the first one's index
# is complete; a planted symlink at the lock name is refused.
set -u
D=${DENSEARCH:?}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; [ -f "$tmp/err" ] && cat "$tmp/err"; exit 1; }
i=0
while [ $i -lt 3000 ]; do printf '{"_id":"d%d","text":"alpha beta gamma %d delta"}\n' $i $i; i=$((i + 1)); done > "$tmp/c.jsonl"
printf 'precious\n' > "$tmp/victim"
mkdir "$tmp/ix"
ln -s "$tmp/victim" "$tmp/ix/MANIFEST.tmp"
$D index --corpus "$tmp/c.jsonl" --out "$tmp/ix" --quiet 2> "$tmp/err" || fail "index with a planted .tmp symlink"
[ "$(cat "$tmp/victim")" = precious ] || fail "the victim was written through the symlink"
$D check "$tmp/ix" > /dev/null 2>&1 || fail "check after index"
# vectors build: same writer
printf 'precious\n' > "$tmp/victim"
if $D vectors --help > /dev/null 2>&1; then
    python3 - "$tmp/base.fvecs" <<'PY' || exit 77
import struct, sys, random
random.seed(1)
with open(sys.argv[1], "wb") as f:
    for i in range(200):
        f.write(struct.pack("<i", 8) + struct.pack("<8f", *[random.random() for _ in range(8)]))
PY
    ln -s "$tmp/victim" "$tmp/v.dsx.tmp"
    $D vectors build --input "$tmp/base.fvecs" --type flat --out "$tmp/v.dsx" > /dev/null 2> "$tmp/err" || fail "vectors build"
    [ "$(cat "$tmp/victim")" = precious ] || fail "vectors build wrote through the symlink"
    $D check "$tmp/v.dsx" > /dev/null 2>&1 || fail "check vectors"
    ln -s "$tmp/victim" "$tmp/v.dsx.lock"
    $D vectors build --input "$tmp/base.fvecs" --type flat --out "$tmp/v.dsx" > /dev/null 2> "$tmp/err"
    [ $? -eq 1 ] || fail "a symlinked lock should fail"
    grep -q "symbolic link" "$tmp/err" || fail "message should name the symlink"
    [ "$(cat "$tmp/victim")" = precious ] || fail "the lock symlink was followed"
fi
# Two concurrent writers: each either succeeds or fails naming the other
# writer; the index that remains is complete.
for t in 1 2 3; do
    $D index --corpus "$tmp/c.jsonl" --out "$tmp/ix2" --quiet 2> "$tmp/e1" & p1=$!
    $D index --corpus "$tmp/c.jsonl" --out "$tmp/ix2" --quiet 2> "$tmp/e2" & p2=$!
    wait $p1; r1=$?; wait $p2; r2=$?
    [ $r1 -eq 0 ] || [ $r2 -eq 0 ] || { cat "$tmp/e1" "$tmp/e2"; fail "both writers failed"; }
    for n in 1 2; do
        eval r=\$r$n
        [ $r -eq 0 ] || grep -q "another writer is writing\|another process is building" "$tmp/e$n" || { cat "$tmp/e$n"; fail "writer $n: unclear failure"; }
    done
    $D check "$tmp/ix2" > /dev/null 2>&1 || fail "index after concurrent writers"
done
ls "$tmp" | grep '^v\.dsx\.tmp\.' && fail "leftover temporary files of vectors build"
# The final name: a symlink or a FIFO is never renamed over. The library
# refuses it; `search --run-out` and `vectors search --out` write through it
# in place, as a shell redirect would (e.g. /dev/stdout).
printf '{"_id":"q1","text":"alpha"}\n' > "$tmp/q.jsonl"
: > "$tmp/target.trec"
ln -s "$tmp/target.trec" "$tmp/link.trec"
$D search --index "$tmp/ix" --queries "$tmp/q.jsonl" --run-out "$tmp/link.trec" 2> "$tmp/err" || fail "run-out through a symlink"
[ -L "$tmp/link.trec" ] || fail "the symlink was replaced"
grep -q '^q1 Q0 ' "$tmp/target.trec" || fail "the run did not reach the symlink's target"
$D search --index "$tmp/ix" --queries "$tmp/q.jsonl" --run-out /dev/stdout 2> /dev/null | grep -q '^q1 Q0 ' || fail "run-out /dev/stdout"
[ -L /dev/stdout ] || [ ! -e /dev/stdout ] || [ -c /dev/stdout ] || fail "/dev/stdout was replaced"
mkfifo "$tmp/fifo" 2> /dev/null && {
    cat "$tmp/fifo" > "$tmp/fifo.out" & cp=$!
    $D search --index "$tmp/ix" --queries "$tmp/q.jsonl" --run-out "$tmp/fifo" 2> "$tmp/err" || fail "run-out to a FIFO"
    wait $cp
    grep -q '^q1 Q0 ' "$tmp/fifo.out" || fail "nothing came through the FIFO"
}
exit 0
