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
# densearch: 2 threads, float32. Results go to bench/work/model-results.txt.
set -eu
N=${1:-400}
S=${DS_SHARED:-../shared}
W=bench/work
mkdir -p "$W"
make -s all
cc -std=c11 -D_GNU_SOURCE -O2 -Iinclude bench/model/b_encoder.c build/libdensearch.a \
   -lutf8proc -lstemmer -lzstd -lxxhash -lcjson -lopenblas -lm -lpthread -o "$W/b_encoder"
[ -d bench/model/node_modules/onnxruntime-node ] || (cd bench/model && npm install --no-audit --no-fund)
[ -f "$W/minilm-l6-shape.onnx" ] || xz -dc "$S/models/minilm-l6-shape.onnx.xz" > "$W/minilm-l6-shape.onnx"
[ -d "$W/minilm-l6-shape" ] || tar -xJf "$S/models/minilm-l6-shape.tar.xz" -C "$W"
[ -f "$W/scifact_ids.jsonl" ] || node bench/model/tokenize_corpus.js "$W/minilm-l6-shape/tokenizer.json" \
   "$S/data/scifact/corpus.jsonl" 256 > "$W/scifact_ids.jsonl"
if [ "$N" = all ]; then cp "$W/scifact_ids.jsonl" "$W/docs.jsonl"; else head -n "$N" "$W/scifact_ids.jsonl" > "$W/docs.jsonl"; fi
OUT="$W/model-results.txt"
{
  echo "# $(date -u) $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2) load: $(cut -d' ' -f1-3 /proc/loadavg)"
  for r in 1 2; do
    nice "$W/b_encoder" "$W/minilm-l6-shape" fixed 32 128 15
    nice node bench/model/ort_bench.js "$W/minilm-l6-shape.onnx" fixed 32 128 15
    nice "$W/b_encoder" "$W/minilm-l6-shape" fixed 1 16 5
    nice node bench/model/ort_bench.js "$W/minilm-l6-shape.onnx" fixed 1 16 5
  done
  nice "$W/b_encoder" "$W/minilm-l6-shape" ids "$W/docs.jsonl" 32
  nice node bench/model/ort_bench.js "$W/minilm-l6-shape.onnx" ids "$W/docs.jsonl" 32
} | tee "$OUT"
# ratios (densearch / ORT) per pair of consecutive lines
awk -F'"seq_per_s":|"docs_per_s":' 'NF > 1 { split($2, a, /[,}]/); v[NR] = a[1]; l[NR] = $0 }
  END { for (i = 2; i <= NR; i += 2) if (v[i] > 0 && v[i + 1] > 0) {
          match(l[i], /"shape":"[^"]*"|"docs":[0-9]+/); printf "ratio densearch/ort %s: %.2fx\n", substr(l[i], RSTART, RLENGTH), v[i] / v[i + 1] } }' "$OUT" | tee -a "$OUT"
