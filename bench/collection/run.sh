#!/bin/sh
# bench/collection/run.sh -- collections with a transformer: indexing speed
# against `densearch embed` alone on the same documents, and one-thread hybrid
# search latency (p50/p99, share of time in query encoding) next to lexical and
# dense alone. Model: the shared MiniLM-L6-shaped checkpoint (random weights,
# real size), unpacked into bench/work. Never part of `make test`.
#
#   sh bench/collection/run.sh [N_DOCS]     (default 1000 SciFact documents)
#
# Rounds alternate embed and index so load on a shared machine hits both
# alike; compare the ratios, not the absolute rates.
set -eu
cd "$(dirname "$0")/../.."
N=${1:-1000}
D=build/densearch
S=../shared/data/scifact
W=bench/work/collection
[ -x "$D" ] || make -j2 all >/dev/null
[ -f "$S/corpus.jsonl" ] || { echo "skip: $S absent"; exit 0; }
mkdir -p "$W"
M=bench/work/minilm-l6-shape
[ -f "$M/model.safetensors" ] || tar -C bench/work -xJf ../shared/models/minilm-l6-shape.tar.xz
head -n "$N" "$S/corpus.jsonl" > "$W/docs.jsonl"
echo "# $(date -u +%FT%TZ) git $(git rev-parse --short HEAD) $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2) load $(cut -d' ' -f1 /proc/loadavg)"
echo "# $N SciFact documents, model $M, $(nproc) threads"
for round in 1 2; do
  t0=$(date +%s.%N)
  $D embed --model "$M" --input "$W/docs.jsonl" --output "$W/emb.npy" >/dev/null 2>&1
  t1=$(date +%s.%N)
  rm -rf "$W/coll"
  $D index --corpus "$W/docs.jsonl" --out "$W/coll" --model "$M" --quiet
  t2=$(date +%s.%N)
  awk -v n="$N" -v a="$t0" -v b="$t1" -v c="$t2" -v r="$round" 'BEGIN {
    e = b - a; i = c - b;
    printf "round %d: embed %.1f docs/s, index --model (BM25 + HNSW + store) %.1f docs/s, index/embed %.3f\n", r, n / e, n / i, e / i }'
done
echo "# one-thread search over the collection above, all SciFact queries, k=10"
for mode in lexical dense hybrid; do
  printf '%s: ' "$mode"
  $D search --index "$W/coll" --queries "$S/queries.jsonl" --k 10 --threads 1 --mode "$mode" --run-out /dev/null 2>&1 |
    grep latency
done
