#!/bin/sh
# bench/train/run.sh -- the measurements of densearch-trained models quoted in
# docs/benchmarks.md ("Trained models"). Run from the repository root after
# `make`; never part of `make test`. Needs ../shared (or $DS_SHARED): the six
# BEIR-layout datasets and minilm-l6-shape.tar.xz (the teacher). Work files
# go to bench/work/train. Timings use 2 threads (DS_BENCH_THREADS).
#   sh bench/train/run.sh [models|speed|fidelity|quality|all]
set -eu
S=${DS_SHARED:-../shared}
W=bench/work/train
D=build/densearch
B=$W/b_student
T=$W/minilm-l6-shape
C=$S/data/scifact/corpus.jsonl
what=${1:-all}
mkdir -p "$W"
cc -std=c11 -D_GNU_SOURCE -O2 -Iinclude bench/train/b_student.c build/libdensearch.a \
   -lutf8proc -lstemmer -lzstd -lxxhash -lcjson -lopenblas -lm -lpthread -o "$B"
[ -f "$T/config.json" ] || tar -xJf "$S/models/minilm-l6-shape.tar.xz" -C "$W"   # holds minilm-l6-shape/
export DS_NO_PROGRESS=1
t() { /usr/bin/time -f "  %e s wall, %U s user, %S s sys, peak RSS %M KB" "$@"; }

if [ "$what" = models ] || [ "$what" = all ]; then
  echo "== training on SciFact (5,183 docs); distillation on the first 1,000 (docs 1,000-1,299 held out)"
  t $D train --corpus "$C" --out $W/lsa --kind lsa --threads 2
  t $D train --corpus "$C" --out $W/lexdense --threads 2
  t $D train --corpus "$C" --out $W/static --kind static --teacher "$T" --threads 2
  t $D train --corpus "$C" --out $W/lexdense-distill --teacher "$T" --max-docs 1000 \
      --teacher-cache $W/teacher-1000.cache --threads 2
fi
if [ "$what" = speed ] || [ "$what" = all ]; then
  echo "== embedding speed, SciFact documents, 2 threads (best of 3; the teacher: first 300 docs, 1 round)"
  for m in lsa lexdense lexdense-distill static; do $B speed $W/$m "$C"; done
  $B speed "$T" "$C" 300 1
fi
if [ "$what" = fidelity ] || [ "$what" = all ]; then
  echo "== distillation fidelity on held-out SciFact docs 1,000-1,299"
  $B fidelity "$T" "$C" 1000 300 $W/lexdense-distill $W/static $W/lsa $W/lexdense
fi
if [ "$what" = quality ] || [ "$what" = all ]; then
  echo "== nDCG@10 (test qrels): BM25, dense, hybrid (min-max convex, dense weight 0.2, fixed on SciFact train qrels)"
  for ds in scifact cranfield cisi medline cacm adi; do
    for kind in lsa lexdense; do
      m=$W/$kind-$ds
      [ "$ds" = scifact ] && m=$W/$kind
      [ -f $m/densearch_model.json ] || t $D train --corpus "$S/data/$ds/corpus.jsonl" --out $m \
          --kind $kind --threads 2 --quiet
      $B eval "$S/data/$ds" $m test 0.2
    done
  done
fi
