#!/bin/sh
# Hostile inputs the CLI once got wrong: an empty qrels file made eval and
# beir print 0.0000 for every metric and exit 0; tokenize named no reason
# for an unreadable input; a FIFO given as an index or a model file blocked
# in open() forever; rerank/sparse on a full disk exited 1 without a word.
# Each must be one clear line and exit 1.
set -u
D=${DENSEARCH:?}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
: > "$tmp/empty"
printf 'q1 Q0 d1 1 5 t\n' > "$tmp/run.trec"
printf 'query-id\tcorpus-id\tscore\n' > "$tmp/header_only.tsv"
for q in "$tmp/empty" "$tmp/header_only.tsv"; do
    $D eval --qrels "$q" --run "$tmp/run.trec" > "$tmp/out" 2> "$tmp/err"; [ $? -eq 1 ] || { echo "eval $q: want exit 1"; exit 1; }
    [ -s "$tmp/out" ] && { echo "eval $q printed a result:"; cat "$tmp/out"; exit 1; }
    grep -q "no judgments" "$tmp/err" && [ "$(wc -l < "$tmp/err")" -eq 1 ] || { cat "$tmp/err"; exit 1; }
done
mkdir -p "$tmp/ds/qrels"
printf '{"_id":"d1","text":"hello world"}\n' > "$tmp/ds/corpus.jsonl"
printf '{"_id":"q1","text":"hello"}\n' > "$tmp/ds/queries.jsonl"
: > "$tmp/ds/qrels/test.tsv"
$D beir "$tmp/ds" > "$tmp/out" 2> "$tmp/err"; [ $? -eq 1 ] || { echo "beir: want exit 1"; exit 1; }
grep -q "test.tsv: no judgments" "$tmp/err" || { cat "$tmp/err"; exit 1; }
# tokenize: the reason is named (the model is only needed to get that far)
M=${DS_SHARED:-../shared}/models/tiny-bert-mean-f32
if [ -d "$M" ]; then
    $D tokenize --model "$M" --input "$tmp/nope.jsonl" 2> "$tmp/err"; [ $? -eq 1 ] || exit 1
    grep -q "nope.jsonl: cannot open: No such file" "$tmp/err" || { cat "$tmp/err"; exit 1; }
    $D tokenize --model "$M" --input "$tmp" 2> "$tmp/err"; [ $? -eq 1 ] || exit 1
    grep -q "read error: Is a directory" "$tmp/err" || { cat "$tmp/err"; exit 1; }
fi
# a full disk is reported, not just an exit code, for every command that
# prints its result on stdout (search, eval, check exited 0 and lost it)
if [ -w /dev/full ]; then
    printf 'q1 0 d1 1\n' > "$tmp/qrels.txt"
    printf '{"_id":"d1","text":"hello world"}\n' > "$tmp/c.jsonl"
    $D index --corpus "$tmp/c.jsonl" --out "$tmp/ix" > /dev/null 2>&1 || { echo "index failed"; exit 1; }
    for c in "search --index $tmp/ix hello" "eval --qrels $tmp/qrels.txt --run $tmp/run.trec" "check $tmp/ix"; do
        $D $c > /dev/full 2> "$tmp/err"; [ $? -eq 1 ] || { echo "$c > /dev/full: want exit 1"; exit 1; }
        grep -q "write error on standard output" "$tmp/err" || { cat "$tmp/err"; exit 1; }
    done
fi
if [ -w /dev/full ] && [ -d "$M" ]; then
    printf '{"query":"a","passage":"b"}\n' > "$tmp/pairs.jsonl"
    $D rerank --model "$(dirname "$M")/tiny-cross-encoder" --pairs "$tmp/pairs.jsonl" > /dev/full 2> "$tmp/err"
    [ $? -eq 1 ] || { echo "rerank > /dev/full: want exit 1"; exit 1; }
    grep -q "write error on standard output" "$tmp/err" || { cat "$tmp/err"; exit 1; }
    printf '{"text":"hello"}\n' > "$tmp/t.jsonl"
    $D sparse --model "$(dirname "$M")/tiny-splade" --input "$tmp/t.jsonl" --output /dev/full 2> "$tmp/err"
    [ $? -eq 1 ] || { echo "sparse --output /dev/full: want exit 1"; exit 1; }
    grep -q "write error on /dev/full" "$tmp/err" || { cat "$tmp/err"; exit 1; }
fi
# a FIFO (no writer) is refused, not waited on
mkfifo "$tmp/fifo" || exit 77
for c in "check $tmp/fifo" "search --index $tmp/fifo hello"; do
    timeout 20 $D $c 2> "$tmp/err"; [ $? -eq 1 ] || { echo "$c: want exit 1"; exit 1; }
    grep -q "not a regular file" "$tmp/err" || { cat "$tmp/err"; exit 1; }
done
if [ -d "$M" ]; then
    for f in config.json model.safetensors tokenizer.json; do
        rm -rf "$tmp/m"; cp -r "$M" "$tmp/m"; rm "$tmp/m/$f"; mkfifo "$tmp/m/$f"
        timeout 20 $D embed --model "$tmp/m" --input "$tmp/nope.jsonl" --output "$tmp/o.npy" 2> "$tmp/err"
        [ $? -eq 1 ] || { echo "embed with a FIFO $f: want exit 1"; exit 1; }
        grep -q "$f: not a regular file" "$tmp/err" || { cat "$tmp/err"; exit 1; }
    done
fi
exit 0
