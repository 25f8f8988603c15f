#!/bin/sh
# densearch embed / rerank / sparse end to end on the tiny reference models
# (pre-tokenized input with --ids, so the test does not depend on the
# tokenizer), output formats, and error messages with line numbers.
set -u
D=${DENSEARCH:?}
S=${DS_SHARED:-../shared}
[ -d "$S/models/tiny-bert-mean-f32" ] || { echo "skip: $S/models is absent"; exit 77; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
cat > "$tmp/ids.jsonl" <<'J'
{"ids": [101, 7592, 1010, 2088, 999, 102]}

{"ids": [101, 102]}
{"ids": [101, 1996, 4248, 2829, 4419, 102]}
J
$D embed --model "$S/models/tiny-bert-mean-f32" --input "$tmp/ids.jsonl" --output "$tmp/e.npy" --ids --batch 2 2>"$tmp/err" \
  || { cat "$tmp/err"; exit 1; }
head -c 128 "$tmp/e.npy" | grep -q "'shape': (3, 64)" || { echo "bad npy header"; exit 1; }
[ "$(wc -c < "$tmp/e.npy")" -eq $((128 + 3 * 64 * 4)) ] || { echo "bad npy size"; exit 1; }
$D embed --model "$S/models/tiny-bert-mean-f32" --input "$tmp/ids.jsonl" --output "$tmp/e.fvecs" --ids --threads 1 2>/dev/null || exit 1
[ "$(wc -c < "$tmp/e.fvecs")" -eq $((3 * (4 + 64 * 4))) ] || { echo "bad fvecs size"; exit 1; }
# same vectors in every format
tail -c $((64 * 4)) "$tmp/e.npy" > "$tmp/a"; tail -c $((64 * 4)) "$tmp/e.fvecs" > "$tmp/b"
cmp -s "$tmp/a" "$tmp/b" || { echo "npy and fvecs differ"; exit 1; }
$D embed --model "$S/models/tiny-bert-mean-f32" --input "$tmp/ids.jsonl" --output "$tmp/e.jsonl" --ids 2>/dev/null || exit 1
$D embed --model "$S/models/tiny-bert-mean-f32" --input "$tmp/ids.jsonl" --output "$tmp/q.npy" --ids --int8 2>/dev/null || exit 1
[ "$(wc -c < "$tmp/q.npy")" -eq $((128 + 3 * 64 * 4)) ] || { echo "bad int8 npy size"; exit 1; }
$D embed --model "$S/models/tiny-bert-mean-f32" --input "$tmp/ids.jsonl" --output "$tmp/h.npy" --ids --bf16 2>/dev/null || exit 1
[ "$(wc -c < "$tmp/h.npy")" -eq $((128 + 3 * 64 * 4)) ] || { echo "bad bf16 npy size"; exit 1; }
$D embed --model "$S/models/tiny-bert-mean-f32" --input "$tmp/ids.jsonl" --output "$tmp/x.npy" --ids --bf16 --int8 2>"$tmp/err" \
  && { echo "--bf16 --int8 accepted"; exit 1; }
grep -q "exclusive" "$tmp/err" || { cat "$tmp/err"; exit 1; }
$D rerank --model "$S/models/tiny-cross-encoder" --pairs /dev/null --ids --bf16 >/dev/null 2>&1 || { echo "rerank --bf16"; exit 1; }
$D sparse --model "$S/models/tiny-splade" --input "$tmp/ids.jsonl" --ids --bf16 >/dev/null 2>&1 || { echo "sparse --bf16"; exit 1; }
[ "$(wc -l < "$tmp/e.jsonl")" -eq 3 ] || exit 1
# reference: first value of fixture text 0 ("Hello, world!") is known to 1e-3 from the unit test; here just sanity
head -n 1 "$tmp/e.jsonl" | grep -q '^\[' || exit 1

cat > "$tmp/pairs.jsonl" <<'J'
{"ids": [101, 2054, 102, 9742, 102], "type_ids": [0, 0, 0, 1, 1]}
{"ids": [101, 2054, 102, 9742, 102]}
J
$D rerank --model "$S/models/tiny-cross-encoder" --pairs "$tmp/pairs.jsonl" --ids > "$tmp/scores" 2>"$tmp/err" || { cat "$tmp/err"; exit 1; }
[ "$(wc -l < "$tmp/scores")" -eq 2 ] || exit 1
[ "$(sed -n 1p "$tmp/scores")" != "$(sed -n 2p "$tmp/scores")" ] || { echo "type ids ignored"; exit 1; }

$D sparse --model "$S/models/tiny-splade" --input "$tmp/ids.jsonl" --ids > "$tmp/sp" 2>"$tmp/err" || { cat "$tmp/err"; exit 1; }
[ "$(wc -l < "$tmp/sp")" -eq 3 ] || exit 1
head -n 1 "$tmp/sp" | grep -q '^{"indices": \[[0-9]' || exit 1

# errors: wrong model kind, bad line (with its number), bad ids, usage
$D rerank --model "$S/models/tiny-bert-mean-f32" --pairs "$tmp/pairs.jsonl" --ids 2>"$tmp/err"; [ $? -eq 1 ] || exit 1
grep -q "densearch embed" "$tmp/err" || { cat "$tmp/err"; exit 1; }
printf '{"ids": [101, 102]}\nnot json\n' > "$tmp/bad.jsonl"
$D embed --model "$S/models/tiny-bert-mean-f32" --input "$tmp/bad.jsonl" --output "$tmp/x.npy" --ids 2>"$tmp/err"; [ $? -eq 1 ] || exit 1
grep -q "bad.jsonl:2: not a JSON object" "$tmp/err" || { cat "$tmp/err"; exit 1; }
[ ! -e "$tmp/x.npy" ] && [ ! -e "$tmp/x.npy.tmp" ] || { echo "partial output left behind"; exit 1; }
printf '{"ids": [101, 99999999, 102]}\n' > "$tmp/bad2.jsonl"
$D embed --model "$S/models/tiny-bert-mean-f32" --input "$tmp/bad2.jsonl" --output "$tmp/x.npy" --ids 2>"$tmp/err"; [ $? -eq 1 ] || exit 1
grep -q "outside the vocabulary" "$tmp/err" || { cat "$tmp/err"; exit 1; }
$D embed --model "$S/models/tiny-bert-mean-f32" --input "$tmp/ids.jsonl" 2>/dev/null; [ $? -eq 2 ] || exit 1
$D embed --model "$tmp/nope" --input "$tmp/ids.jsonl" --output "$tmp/x.npy" --ids 2>/dev/null; [ $? -eq 1 ] || exit 1
exit 0
