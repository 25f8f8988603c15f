#!/bin/sh
# A damaged index never answers (issue 14, item 3): a flipped byte in the
# doc-length, doc-id or offsets sections made `search` print wrong ids or
# scores with exit 0 while `check` rejected the file. Now every open verifies
# every section checksum and the zero padding: exit 1, "checksum mismatch".
set -u
D=${DENSEARCH:?}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; [ -f "$tmp/err" ] && cat "$tmp/err"; exit 1; }
i=0
while [ $i -lt 200 ]; do printf '{"_id":"d%d","text":"alpha beta w%d"}\n' $i $i; i=$((i + 1)); done > "$tmp/c.jsonl"
$D index --corpus "$tmp/c.jsonl" --out "$tmp/ix" --quiet 2> "$tmp/err" || fail "index"
$D search --index "$tmp/ix" alpha > /dev/null 2> "$tmp/err" || fail "search on the intact index"
F=$(find "$tmp/ix" -name lexical.dsx | head -n 1)
[ -n "$F" ] || fail "no lexical.dsx in the collection"
cp "$F" "$tmp/good"
# Flip one byte in the middle of every section, and one padding byte.
python3 - "$tmp/good" > "$tmp/offsets" <<'PY' || exit 77
import struct, sys
b = open(sys.argv[1], "rb").read()
n, toff = struct.unpack_from("<I", b, 28)[0], struct.unpack_from("<Q", b, 40)[0]
prev = 64
for i in range(n):
    kind, flags, off, ln = struct.unpack_from("<4sIQQ", b, toff + 40 * i)
    if off > prev: print("pad", prev)
    if ln: print(kind.decode(), off + ln // 2)
    prev = off + ln
PY
[ "$(wc -l < "$tmp/offsets")" -ge 8 ] || fail "too few sections found"
while read -r kind at; do
    python3 -c "import sys; p=sys.argv[1]; b=bytearray(open(p,'rb').read()); b[int(sys.argv[2])]^=0x10; open(p,'wb').write(b)" \
        "$F" "$at"
    $D search --index "$tmp/ix" alpha > "$tmp/out" 2> "$tmp/err"
    [ $? -eq 1 ] || fail "$kind byte $at flipped: search did not fail"
    grep -q "checksum mismatch\|padding" "$tmp/err" || fail "$kind: unclear message"
    [ -s "$tmp/out" ] && fail "$kind: search printed results from a damaged index"
    cp "$tmp/good" "$F"
done < "$tmp/offsets"
exit 0
