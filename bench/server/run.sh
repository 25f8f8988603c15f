#!/bin/sh
# bench/server/run.sh -- densearch serve under wrk on loopback, next to the
# same work done in process by the CLI (docs/benchmarks.md, "HTTP server").
#
#   sh bench/server/run.sh [DATA_DIR] [EMBED_MODEL_DIR]
#
# DATA_DIR is a BEIR folder (default ../shared/data/scifact). Search: BM25
# top-10 over its corpus, its queries repeated 10 times; `densearch search
# --queries --threads 2` in process, then wrk -c32 against `densearch serve
# --threads 2`. Embeddings (when a model is given): the first EMBED_DOCS
# (1024) documents, `densearch embed` in process, then the same documents
# posted once by embed_client.py, 32 per request over 2 connections.
# SEARCH=0 skips the search part, DURATION sets wrk's run time (default 20s).
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

# CPU seconds (user + system) of a command and its children, printed after it:
# on a machine shared with other jobs, wall-clock rates follow each job's share
# of the cores, so CPU per query is the comparison that holds.
cpu() {
  python3 -c 'import resource, subprocess, sys
subprocess.run(sys.argv[1:], check=True)
r = resource.getrusage(resource.RUSAGE_CHILDREN)
print("cpu %.3f s (user %.3f, sys %.3f)" % (r.ru_utime + r.ru_stime, r.ru_utime, r.ru_stime), file=sys.stderr)' "$@"
}
pcpu() {   # CPU seconds used so far by process $1 (utime + stime from /proc)
  awk -v t="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / t }' "/proc/$1/stat"
}

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

if [ "${SEARCH:-1}" = 1 ]; then
echo "== BM25 top-10: in process (densearch search --queries, 2 threads), 3 runs"
for r in 1 2 3; do
  cpu $D search --index "$out/bm25" --queries "$out/queries.jsonl" --k 10 --threads 2 --run-out /dev/null 2>&1 | grep -E "searched|cpu"
done
echo "== BM25 top-10: HTTP (wrk -t2 -c32 -d$dur)"
serve --index "$out/bm25" --name bm25
c0=$(pcpu "$pid")
BODIES="$out/search.bodies" PATH_ON_SERVER=/collections/bm25/search \
  wrk -t2 -c32 -d"$dur" --latency -s "$here/post.lua" "http://127.0.0.1:$port"
echo "server cpu during wrk: $(echo "$c0 $(pcpu "$pid")" | awk '{ printf "%.2f", $2 - $1 }') s"
kill -TERM "$pid"; wait "$pid"
echo "== BM25 top-10: in process again (same run, after the server)"
$D search --index "$out/bm25" --queries "$out/queries.jsonl" --k 10 --threads 2 --run-out /dev/null 2>&1 | grep searched
fi

if [ -n "$model" ]; then
  nd=${EMBED_DOCS:-1024}
  python3 "$here/bodies.py" embed "$data/corpus.jsonl" "$nd" 32 "$out/embed.bodies" "$out/embed.jsonl"
  echo "== embeddings: in process (densearch embed, 2 threads, $nd documents)"
  for r in 1 2; do
    t0=$(date +%s.%N)
    cpu $D embed --model "$model" --input "$out/embed.jsonl" --output "$out/e.npy" --threads 2 2>&1 | grep cpu
    t1=$(date +%s.%N)
    echo "$t0 $t1 $nd" | awk '{ printf "%d documents in %.2f s: %.1f docs/s\n", $3, $2 - $1, $3 / ($2 - $1) }'
  done
  echo "== embeddings: HTTP (the same $nd documents once, 32 per request, 2 connections), 2 runs"
  serve --model "$model" --truncate
  for r in 1 2; do
    c0=$(pcpu "$pid")
    python3 "$here/embed_client.py" "$port" "$out/embed.bodies" 2
    echo "server cpu: $(echo "$c0 $(pcpu "$pid")" | awk '{ printf "%.2f", $2 - $1 }') s"
  done
  kill -TERM "$pid"; wait "$pid"
fi
