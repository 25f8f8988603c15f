#!/bin/sh
# densearch embed on text and BEIR lines (needs the tokenizer: skipped while
# it is not built). BEIR lines are encoded as (title + " " + text).strip(), so
# a BEIR line and the equivalent {"text"} line give identical vectors.
set -u
D=${DENSEARCH:?}
S=${DS_SHARED:-../shared}
M="$S/models/tiny-bert-mean-f32"
[ -d "$M" ] || { echo "skip: $S/models is absent"; exit 77; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
printf '{"text": "Hello, world!"}\n' > "$tmp/t.jsonl"
if ! $D embed --model "$M" --input "$tmp/t.jsonl" --output "$tmp/t.npy" 2>"$tmp/err"; then
  grep -q "tokenizer is not built yet" "$tmp/err" && { echo "skip: tokenizer not built"; exit 77; }
  cat "$tmp/err"; exit 1
fi
printf '{"_id": "d1", "title": "A title", "text": "and its text."}\n{"text": "A title and its text."}\n' > "$tmp/b.jsonl"
$D embed --model "$M" --input "$tmp/b.jsonl" --output "$tmp/b.fvecs" 2>/dev/null || exit 1
head -c $((4 + 64 * 4)) "$tmp/b.fvecs" > "$tmp/x"; tail -c $((4 + 64 * 4)) "$tmp/b.fvecs" > "$tmp/y"
cmp -s "$tmp/x" "$tmp/y" || { echo "BEIR title+text differs from the joined text"; exit 1; }
printf '{"query": "what is dense retrieval", "passage": "Dense retrieval encodes queries."}\n' > "$tmp/p.jsonl"
$D rerank --model "$S/models/tiny-cross-encoder" --pairs "$tmp/p.jsonl" > "$tmp/s" 2>/dev/null || exit 1
[ "$(wc -l < "$tmp/s")" -eq 1 ] || exit 1
$D sparse --model "$S/models/tiny-splade" --input "$tmp/t.jsonl" > "$tmp/sp" 2>/dev/null || exit 1
grep -q '"indices"' "$tmp/sp" || exit 1
exit 0
