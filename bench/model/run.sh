#!/bin/sh
# bench/model/run.sh -- densearch encoder vs ONNX Runtime on the
# minilm-l6-shape model (all-MiniLM-L6-v2 dimensions), same machine, same run.
#
#   sh bench/model/run.sh [N_DOCS]        (from the repository root)
#
# 1. fixed shapes: batch 32 x 128 tokens (throughput) and 1 x 16 (query
#    latency), random ids; engines alternate A B A B so load drift hits both.
# 2. real workload: the first N_DOCS SciFact documents (default 400; "all" for
#    the 5183), title + " " + text, truncated at 256 tokens by Hugging Face's
#    tokenizer; both engines sort by length and batch 32 (ORT pads each batch
#    to its longest sequence, densearch does not pad at all). Peak RSS of the
#    densearch process is reported.
# Needs: make; npm (installs bench/model/node_modules); ../shared/models.
# ORT: onnxruntime-node, graphOptimizationLevel "all", 2 intra-op threads.
# densearch: 2 threads, float32, int8 and bf16 (DS_BENCH_INT8 / DS_BENCH_BF16),
# and on AVX-512 hosts float32 with DS_SIMD=avx2 too ("densearch@avx2").
# DS_BENCH_THREADS=1 runs both engines on one thread. Results go to
# bench/work/model-results.txt (or $DS_BENCH_OUT).
set -eu
N=${1:-400}
S=${DS_SHARED:-../shared}
W=bench/work
mkdir -p "$W"
make -s all
cc -std=c11 -D_GNU_SOURCE -O2 -Iinclude bench/model/b_encoder.c build/libdensearch.a \
   -lutf8proc -lstemmer -lzstd -lxxhash -lcjson -lopenblas -lm -lpthread -o "$W/b_encoder"
cc -std=c11 -D_GNU_SOURCE -O2 -Iinclude -Isrc bench/model/b_gemm.c build/libdensearch.a \
   -lutf8proc -lstemmer -lzstd -lxxhash -lcjson -lopenblas -lm -lpthread -o "$W/b_gemm"
[ -d bench/model/node_modules/onnxruntime-node ] || (cd bench/model && npm install --no-audit --no-fund)
[ -f "$W/minilm-l6-shape.onnx" ] || xz -dc "$S/models/minilm-l6-shape.onnx.xz" > "$W/minilm-l6-shape.onnx"
[ -d "$W/minilm-l6-shape" ] || tar -xJf "$S/models/minilm-l6-shape.tar.xz" -C "$W"
[ -f "$W/scifact_ids.jsonl" ] || node bench/model/tokenize_corpus.js "$W/minilm-l6-shape/tokenizer.json" \
   "$S/data/scifact/corpus.jsonl" 256 > "$W/scifact_ids.jsonl"
if [ "$N" = all ]; then cp "$W/scifact_ids.jsonl" "$W/docs.jsonl"; else head -n "$N" "$W/scifact_ids.jsonl" > "$W/docs.jsonl"; fi
OUT=${DS_BENCH_OUT:-$W/model-results.txt}
# the AVX2 float32 kernels as a second row where AVX-512 is the default
AVX2=
grep -q avx512f /proc/cpuinfo 2>/dev/null && AVX2=avx2
{
  echo "# $(date -u) $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2) load: $(cut -d' ' -f1-3 /proc/loadavg) threads: ${DS_BENCH_THREADS:-2} git: $(git rev-parse --short HEAD 2>/dev/null)"
  for r in 1 2; do
    nice "$W/b_encoder" "$W/minilm-l6-shape" fixed 32 128 15
    [ -z "$AVX2" ] || DS_SIMD=avx2 nice "$W/b_encoder" "$W/minilm-l6-shape" fixed 32 128 15
    DS_BENCH_INT8=1 nice "$W/b_encoder" "$W/minilm-l6-shape" fixed 32 128 15
    DS_BENCH_BF16=1 nice "$W/b_encoder" "$W/minilm-l6-shape" fixed 32 128 15
    nice node bench/model/ort_bench.js "$W/minilm-l6-shape.onnx" fixed 32 128 15
    nice "$W/b_encoder" "$W/minilm-l6-shape" fixed 1 16 5
    DS_BENCH_INT8=1 nice "$W/b_encoder" "$W/minilm-l6-shape" fixed 1 16 5
    DS_BENCH_BF16=1 nice "$W/b_encoder" "$W/minilm-l6-shape" fixed 1 16 5
    nice node bench/model/ort_bench.js "$W/minilm-l6-shape.onnx" fixed 1 16 5
  done
  nice "$W/b_encoder" "$W/minilm-l6-shape" ids "$W/docs.jsonl" 32
  DS_BENCH_INT8=1 nice "$W/b_encoder" "$W/minilm-l6-shape" ids "$W/docs.jsonl" 32
  DS_BENCH_BF16=1 nice "$W/b_encoder" "$W/minilm-l6-shape" ids "$W/docs.jsonl" 32
  nice node bench/model/ort_bench.js "$W/minilm-l6-shape.onnx" ids "$W/docs.jsonl" 32
  nice "$W/b_gemm" 2048 8
  nice "$W/b_gemm" 16 200
} | tee "$OUT"
# ratios: each densearch line against the next ORT line of the same workload
awk '/"engine"/ {
    e = $0; sub(/.*"engine":"/, "", e); sub(/".*/, "", e)
    w = $0; if (w ~ /"shape"/) { sub(/.*"shape":"/, "", w); sub(/".*/, "", w) } else { sub(/.*"docs":/, "docs ", w); sub(/,.*/, "", w) }
    v = $0; sub(/.*"(seq|docs)_per_s":/, "", v); sub(/[,}].*/, "", v)
    if (e == "ort") { for (k in pend) { split(k, kk, SUBSEP); if (kk[2] == w) { printf "ratio %s/ort %s: %.2fx\n", kk[1], w, pend[k] / v; delete pend[k] } } }
    else pend[e, w] = v
  }' "$OUT" | tee -a "$OUT"
