#!/bin/sh
# densearch check: usage errors and corrupt/foreign inputs fail with a message.
set -u
D=${DENSEARCH:?}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
$D check >/dev/null 2>&1; [ $? -eq 2 ] || { echo "no-arg check should exit 2"; exit 1; }
echo "not an index" > "$tmp/x"
$D check "$tmp/x" 2> "$tmp/err"; [ $? -eq 1 ] || { echo "foreign file should exit 1"; exit 1; }
grep -q "not a densearch file" "$tmp/err" || { cat "$tmp/err"; exit 1; }
$D check "$tmp/missing" 2>/dev/null; [ $? -eq 1 ] || exit 1
$D nosuchcommand 2>/dev/null; [ $? -eq 2 ] || exit 1
$D info | grep -q '^simd: ' || exit 1
exit 0
