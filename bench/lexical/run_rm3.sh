#!/bin/sh
# run_rm3.sh -- RM3 vs plain BM25 on the six shared datasets: quality (test
# qrels, Anserini's RM3 defaults, nothing tuned) and CPU cost per query.
#   sh bench/lexical/run_rm3.sh [WORKDIR] [rounds]      (from the repository root, after make)
set -eu
W=${1:-/tmp/densearch-rm3}
R=${2:-5}
D=${DS_SHARED:-../shared}/data
mkdir -p "$W"
cc -std=c11 -D_GNU_SOURCE -O2 -Iinclude bench/lexical/b_query.c build/libdensearch.a \
   -lutf8proc -lstemmer -lzstd -lxxhash -lcjson -lopenblas -lm -lpthread -o "$W/b_query"
for ds in scifact cranfield cisi medline cacm adi; do
  rm -rf "$W/ix_$ds"
  "$W/b_query" build "$D/$ds/corpus.jsonl" "$W/ix_$ds" >/dev/null
  for m in bm25 rm3; do
    arg=""; [ "$m" = rm3 ] && arg=rm3
    "$W/b_query" run "$W/ix_$ds" "$D/$ds/queries.jsonl" "$W/$ds.$m.trec" $arg
    printf '%s %s ' "$ds" "$m"
    build/densearch eval --qrels "$D/$ds/qrels/test.tsv" --run "$W/$ds.$m.trec" \
      --metrics ndcg@10,recall@100,recall@1000 | awk '$2 == "all" { printf "%s %s  ", $1, $3 } END { print "" }'
  done
done
for ds in scifact cranfield cisi medline cacm adi; do
  nice "$W/b_query" "$W/ix_$ds" "$D/$ds/queries.jsonl" "$R"
done
