#!/bin/sh
# embed_corpora.sh -- issue #4's data set (b): ANN benchmark data made of
# densearch's own embeddings of the ../shared/data corpora.
#
# Steps (each skipped when its output already exists, so re-running is cheap
# and gives the same files; delete bench/work/ann/emb to redo the embedding):
#   1. extract ../shared/models/minilm-l6-shape.tar.xz into bench/work/models/
#   2. `densearch embed` (float32, --threads 2, the model's own truncation:
#      max_seq_length 256 from sentence_bert_config.json) every corpus.jsonl
#      and queries.jsonl of scifact, cacm, cisi, cranfield, medline, adi into
#      bench/work/ann/emb/<corpus>/{corpus,queries}.fvecs, timing each run
#   3. bench/ann/make_embed_sets.py assembles
#        bench/work/ann/shared-all/  all six corpora (12,362 documents) and all
#                                    their queries (1,575)
#        bench/work/ann/scifact/     SciFact alone (5,183 documents, 1,109 queries)
#      each with base.fvecs, queries.fvecs, gt.ivecs (exact top-100 by inner
#      product), meta.json (the manifest: model, git SHA, embedding docs/s)
#      and base_ids.tsv / query_ids.tsv (corpus and _id of every row).
#
# The model has RANDOM weights (all-MiniLM-L6-v2 shape): the vectors carry the
# structure of real text through a real-size transformer, but retrieval
# quality measured on them means nothing.
#
# Usage (from anywhere): sh bench/ann/embed_corpora.sh
#   SHARED=/path/to/shared overrides ../shared (relative to the repository).
# Needs build/densearch (built here with make) and /usr/bin/python3 + numpy.
# Exits 0 with a message when the shared data or model is absent.
set -e
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
SHARED=${SHARED:-$ROOT/../shared}
CORPORA="scifact cacm cisi cranfield medline adi"
MODEL_TAR=$SHARED/models/minilm-l6-shape.tar.xz
MODEL=bench/work/models/minilm-l6-shape
EMB=bench/work/ann/emb

if [ ! -f "$MODEL_TAR" ]; then
    echo "embed_corpora: $MODEL_TAR not found (set SHARED=...); nothing to do" >&2
    exit 0
fi
for c in $CORPORA; do
    if [ ! -f "$SHARED/data/$c/corpus.jsonl" ] || [ ! -f "$SHARED/data/$c/queries.jsonl" ]; then
        echo "embed_corpora: $SHARED/data/$c/{corpus,queries}.jsonl not found; nothing to do" >&2
        exit 0
    fi
done

make -s all
if [ ! -f "$MODEL/model.safetensors" ]; then
    mkdir -p bench/work/models
    tar -xJf "$MODEL_TAR" -C bench/work/models
fi

# Embeds $1 (jsonl) into $2 (fvecs) unless $2 exists; writes $2.time with
# "rows wall_s user_s sys_s" for the manifest. Output goes to a temporary
# name first so an interrupted run never leaves a short file behind.
embed() {
    if [ -f "$2" ] && [ -f "$2.time" ]; then
        echo "embed_corpora: $2 exists, kept" >&2
        return 0
    fi
    rows=$(wc -l < "$1")
    rm -f "$2.part.fvecs" "$2.time"
    echo "embed_corpora: embedding $rows rows of $1 ..." >&2
    DS_NO_PROGRESS=1 /usr/bin/time -f "%e %U %S" -o "$2.rawtime" \
        nice build/densearch embed --model "$MODEL" --input "$1" --output "$2.part.fvecs" --threads 2 --batch 32
    mv "$2.part.fvecs" "$2"
    echo "$rows $(cat "$2.rawtime")" > "$2.time"
    git rev-parse HEAD > "$2.git"    # the commit whose binary made these vectors
    rm -f "$2.rawtime"
    echo "embed_corpora: $2: $(cat "$2.time") (rows wall user sys)" >&2
}

for c in $CORPORA; do
    mkdir -p "$EMB/$c"
    embed "$SHARED/data/$c/queries.jsonl" "$EMB/$c/queries.fvecs"
    embed "$SHARED/data/$c/corpus.jsonl" "$EMB/$c/corpus.fvecs"
done

nice /usr/bin/python3 bench/ann/make_embed_sets.py --shared "$SHARED" --emb "$EMB" --model "$MODEL" \
    --out-dir bench/work/ann --corpora "$CORPORA" --center
