#!/bin/sh
# bench/collection/live.sh -- live collection write throughput in process:
# acknowledged upserts/s in batches of 100 with 1 and 4 writer threads, and
# documents per CPU-second (merges included). Never part of `make test`.
#
#   sh bench/collection/live.sh [N_BATCHES]     (default 50: 5,000 documents)
set -eu
cd "$(dirname "$0")/../.."
NB=${1:-50}
S=../shared/data/scifact
W=bench/work/live
[ -f "$S/corpus.jsonl" ] || { echo "skip: $S absent"; exit 0; }
[ -f build/libdensearch.a ] || make -j2 all >/dev/null
mkdir -p "$W"
cc -O2 -Iinclude bench/collection/live_upserts.c build/libdensearch.a -lutf8proc -lstemmer -lzstd -lxxhash -lcjson \
   -lnettle -lopenblas -lm -lpthread -o "$W/live_upserts"
head -n 3 "$S/corpus.jsonl" > "$W/seed.jsonl"
echo "# $(date -u +%FT%TZ) git $(git rev-parse --short HEAD) $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2) load $(cut -d' ' -f1 /proc/loadavg)"
for round in 1 2; do
  for T in 1 4; do
    rm -rf "$W/coll"
    build/densearch index --corpus "$W/seed.jsonl" --out "$W/coll" --quiet
    "$W/live_upserts" "$S/corpus.jsonl" "$W/coll" "$NB" "$T"
  done
done
