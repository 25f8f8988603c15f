#!/bin/sh
# densearch tokenize: ids for texts, BEIR title+text lines and pairs, errors
# with line numbers, usage errors. Uses a small vocab.txt written here, so it
# runs without ../shared.
set -u
D=${DENSEARCH:?}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/m"
printf '[PAD]\n[UNK]\n[CLS]\n[SEP]\nhello\nworld\n!\nun\n##able\n' > "$tmp/m/vocab.txt"
printf '{"do_lower_case": true, "model_max_length": 16}\n' > "$tmp/m/tokenizer_config.json"

printf '{"text": "Hello WORLD!"}\n\n{"_id": "7", "title": "Hello", "text": "unable"}\n{"text": ""}\n' > "$tmp/in.jsonl"
$D tokenize --model "$tmp/m" --input "$tmp/in.jsonl" > "$tmp/out" || { echo "tokenize failed"; exit 1; }
printf '[2,4,5,6,3]\n[2,4,7,8,3]\n[2,3]\n' | cmp -s - "$tmp/out" || { echo "unexpected output:"; cat "$tmp/out"; exit 1; }

# truncation counts [CLS]/[SEP]
printf '{"text": "hello world hello world"}\n' | $D tokenize --model "$tmp/m" --input - --max-tokens 4 > "$tmp/out" || exit 1
[ "$(cat "$tmp/out")" = "[2,4,5,3]" ] || { cat "$tmp/out"; exit 1; }

# pairs
printf '{"query": "hello", "passage": "world !"}\n' | $D tokenize --model "$tmp/m" --input - --pairs > "$tmp/out" || exit 1
[ "$(cat "$tmp/out")" = '{"ids":[2,4,3,5,6,3],"type_ids":[0,0,0,1,1,1]}' ] || { cat "$tmp/out"; exit 1; }

# bad lines name the file and line
printf '{"text": "ok"}\n{"text": 5}\n' > "$tmp/bad.jsonl"
$D tokenize --model "$tmp/m" --input "$tmp/bad.jsonl" > /dev/null 2> "$tmp/err"; [ $? -eq 1 ] || exit 1
grep -q 'bad.jsonl:2: no string field "text"' "$tmp/err" || { cat "$tmp/err"; exit 1; }
printf '{"text": "ok"}\nnot json\n' | $D tokenize --model "$tmp/m" --input - > /dev/null 2> "$tmp/err"; [ $? -eq 1 ] || exit 1
grep -q -- '-:2: not a JSON object' "$tmp/err" || { cat "$tmp/err"; exit 1; }
printf '{"query": "x"}\n' | $D tokenize --model "$tmp/m" --input - --pairs > /dev/null 2> "$tmp/err"; [ $? -eq 1 ] || exit 1
grep -q 'needs string fields "query" and "passage"' "$tmp/err" || { cat "$tmp/err"; exit 1; }

# usage and model errors
$D tokenize --model "$tmp/m" > /dev/null 2>&1; [ $? -eq 2 ] || exit 1
$D tokenize --model "$tmp/m" --input "$tmp/in.jsonl" --max-tokens 1 > /dev/null 2>&1; [ $? -eq 2 ] || exit 1
$D tokenize --model "$tmp/m" --input "$tmp/in.jsonl" --max-tokens x > /dev/null 2>&1; [ $? -eq 2 ] || exit 1
$D tokenize --model "$tmp/nomodel" --input "$tmp/in.jsonl" > /dev/null 2> "$tmp/err"; [ $? -eq 1 ] || exit 1
grep -q 'nomodel' "$tmp/err" || exit 1
printf '{"model": {"type": "BPE", "vocab": {}}}' > "$tmp/m/tokenizer.json"
$D tokenize --model "$tmp/m" --input "$tmp/in.jsonl" > /dev/null 2> "$tmp/err"; [ $? -eq 1 ] || exit 1
grep -q 'model type "BPE" is not supported (supported: WordPiece)' "$tmp/err" || { cat "$tmp/err"; exit 1; }
$D tokenize --help | grep -q 'usage: densearch tokenize' || exit 1
exit 0
