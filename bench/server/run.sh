#!/bin/sh
# bench/server/run.sh -- densearch serve under wrk on loopback, next to the
# same work done in process by the CLI (docs/benchmarks.md, "HTTP server").
#
#   sh bench/server/run.sh [DATA_DIR] [EMBED_MODEL_DIR]
#
# DATA_DIR is a BEIR folder (default ../shared/data/scifact). Search: BM25
# top-10 over its corpus, its queries repeated 10 times; `densearch search
# --queries --threads 2` in process, then wrk -c32 against `densearch serve
# --threads 2`. Embeddings (when a model is given): the first 1024 documents,
# `densearch embed` in process, then wrk posting 32 documents per request.
# Needs wrk (scripts/install-deps.sh --bench). Never part of make test.
set -eu
D=${DENSEARCH:-$PWD/build/densearch}
data=${1:-../shared/data/scifact}
model=${2:-}
here=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-/tmp/ds-bench-server}
dur=${DURATION:-20s}
mkdir -p "$out"
[ -f "$out/bm25/MANIFEST" ] || $D index --corpus "$data/corpus.jsonl" --out "$out/bm25" --quiet
: > "$out/queries.jsonl"
for r in 1 2 3 4 5 6 7 8 9 10; do
  sed "s/\"_id\": *\"/&r$r-/" "$data/queries.jsonl" >> "$out/queries.jsonl"
done
python3 "$here/bodies.py" search "$data/queries.jsonl" "$out/search.bodies"

serve() {   # serve ARGS...: starts the server on a free port, sets $pid and $port
  $D serve "$@" --port 0 --threads 2 > "$out/serve.log" 2>&1 &
  pid=$!
  port=
  for i in $(seq 1 300); do
    port=$(sed -n 's/.*listening on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$out/serve.log")
    [ -n "$port" ] && break
    sleep 0.1
  done
  [ -n "$port" ] || { cat "$out/serve.log"; exit 1; }
}

echo "== BM25 top-10: in process (densearch search --queries, 2 threads), 3 runs"
for r in 1 2 3; do
  $D search --index "$out/bm25" --queries "$out/queries.jsonl" --k 10 --threads 2 --run-out /dev/null 2>&1 | grep searched
done
echo "== BM25 top-10: HTTP (wrk -t2 -c32 -d$dur)"
serve --index "$out/bm25" --name bm25
BODIES="$out/search.bodies" PATH_ON_SERVER=/collections/bm25/search \
  wrk -t2 -c32 -d"$dur" --latency -s "$here/post.lua" "http://127.0.0.1:$port"
kill -TERM "$pid"; wait "$pid"
echo "== BM25 top-10: in process again (same run, after the server)"
$D search --index "$out/bm25" --queries "$out/queries.jsonl" --k 10 --threads 2 --run-out /dev/null 2>&1 | grep searched

if [ -n "$model" ]; then
  python3 "$here/bodies.py" embed "$data/corpus.jsonl" 1024 32 "$out/embed.bodies" "$out/embed.jsonl"
  echo "== embeddings: in process (densearch embed, 2 threads, 1024 documents)"
  for r in 1 2; do
    t0=$(date +%s.%N)
    $D embed --model "$model" --input "$out/embed.jsonl" --output "$out/e.npy" --threads 2 2>/dev/null
    t1=$(date +%s.%N)
    echo "$t0 $t1" | awk '{ printf "1024 documents in %.2f s: %.1f docs/s\n", $2 - $1, 1024 / ($2 - $1) }'
  done
  echo "== embeddings: HTTP (wrk -t1 -c2 -d$dur, 32 documents per request)"
  serve --model "$model" --truncate
  BODIES="$out/embed.bodies" PATH_ON_SERVER=/v1/embeddings \
    wrk -t1 -c2 -d"$dur" --latency --timeout 30s -s "$here/post.lua" "http://127.0.0.1:$port"
  kill -TERM "$pid"; wait "$pid"
fi
