#!/bin/sh
# End to end on ../shared/data/scifact: index, check, batch search (TREC run
# for every query). Skips when the shared data is absent.
set -u
D=${DENSEARCH:?}
S=${DS_SHARED:-../shared}/data/scifact
[ -f "$S/corpus.jsonl" ] || { echo "skip: $S absent"; exit 77; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
$D index --corpus "$S/corpus.jsonl" --out "$tmp/ix" > "$tmp/out" || exit 1
grep -q "indexed 5183 docs" "$tmp/out" || { cat "$tmp/out"; exit 1; }
$D check "$tmp/ix" > /dev/null || exit 1
$D search --index "$tmp/ix" --queries "$S/queries.jsonl" --k 100 --run-out "$tmp/run" 2>/dev/null || exit 1
[ "$(cut -d' ' -f1 "$tmp/run" | sort -u | wc -l)" -ge 1100 ] || { echo "too few queries answered"; exit 1; }
exit 0
