#!/bin/sh
# densearch train end to end on a small generated corpus: lsa and lexdense
# models that `densearch embed` runs like a transformer, determinism, and
# the clear errors (tiny corpus, static without teacher, a foreign --out).
set -u
D=${DENSEARCH:?}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
i=0
: > "$tmp/c.jsonl"
while [ $i -lt 48 ]; do
  t=$((i % 3))
  case $t in
    0) w="protein enzyme binding cell membrane receptor";;
    1) w="galaxy star orbit planet telescope comet";;
    *) w="river delta sediment flood basin erosion";;
  esac
  echo "{\"_id\": \"d$i\", \"title\": \"doc $i\", \"text\": \"$w $w number$i\"}" >> "$tmp/c.jsonl"
  i=$((i + 1))
done
export DS_NO_PROGRESS=1
$D train --corpus "$tmp/c.jsonl" --out "$tmp/lsa" --kind lsa --dim 8 --quiet 2>"$tmp/err" || { cat "$tmp/err"; exit 1; }
[ -f "$tmp/lsa/densearch_model.json" ] || { echo "no config"; exit 1; }
$D train --corpus "$tmp/c.jsonl" --out "$tmp/m1" --dim 8 --epochs 2 --batch 16 --seed 7 --threads 1 --quiet 2>"$tmp/err" \
  || { cat "$tmp/err"; exit 1; }
$D train --corpus "$tmp/c.jsonl" --out "$tmp/m2" --dim 8 --epochs 2 --batch 16 --seed 7 --threads 2 --quiet 2>/dev/null || exit 1
cmp -s "$tmp/m1/model.safetensors" "$tmp/m2/model.safetensors" || { echo "not deterministic across threads"; exit 1; }
printf '{"text": "protein binding"}\n{"text": "planet orbit"}\n' > "$tmp/q.jsonl"
$D embed --model "$tmp/m1" --input "$tmp/q.jsonl" --output "$tmp/e.fvecs" 2>"$tmp/err" || { cat "$tmp/err"; exit 1; }
[ "$(wc -c < "$tmp/e.fvecs")" -eq $((2 * (4 + 8 * 4))) ] || { echo "bad fvecs size"; exit 1; }
# errors: exit 1 with a message naming the problem
head -n 5 "$tmp/c.jsonl" > "$tmp/tiny.jsonl"
$D train --corpus "$tmp/tiny.jsonl" --out "$tmp/x" 2>"$tmp/err" && { echo "tiny corpus accepted"; exit 1; }
grep -q "at least 32" "$tmp/err" || { cat "$tmp/err"; exit 1; }
$D train --corpus "$tmp/c.jsonl" --out "$tmp/x" --kind static 2>"$tmp/err" && { echo "static without teacher"; exit 1; }
grep -q "teacher" "$tmp/err" || { cat "$tmp/err"; exit 1; }
mkdir "$tmp/user"; echo keep > "$tmp/user/notes.txt"
$D train --corpus "$tmp/c.jsonl" --out "$tmp/user" --kind lsa --dim 8 2>"$tmp/err" && { echo "foreign dir accepted"; exit 1; }
grep -q "not a densearch model directory" "$tmp/err" || { cat "$tmp/err"; exit 1; }
[ -f "$tmp/user/notes.txt" ] || { echo "user file lost"; exit 1; }
$D train --corpus "$tmp/c.jsonl" --out "$tmp/x" --kind nope 2>/dev/null; [ $? -eq 2 ] || { echo "bad --kind not a usage error"; exit 1; }
sed -i 's/"format_version": 1/"format_version": 2/' "$tmp/m1/densearch_model.json"
$D embed --model "$tmp/m1" --input "$tmp/q.jsonl" --output "$tmp/e2.fvecs" 2>"$tmp/err" && { echo "newer format accepted"; exit 1; }
grep -q "newer" "$tmp/err" || { cat "$tmp/err"; exit 1; }
exit 0
