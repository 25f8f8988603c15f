#!/bin/sh
# bench/tokenizer/run.sh -- densearch's WordPiece tokenizer against Hugging
# Face's own (the Rust `tokenizers` library through its npm package), same
# tokenizer.json, same run: reports every id difference (there should be
# none) and the throughput of both, single thread, no truncation.
#
#   nice sh bench/tokenizer/run.sh            (from the repository root)
#
# Env: MODEL (default ../shared/models/tiny-bert-mean-f32), CORPUS (default
# ../shared/data/scifact/corpus.jsonl; BEIR lines are encoded as
# title + " " + text), REPEATS (3; best time counts), CODEPOINTS=1 (default)
# also compares one probe text "a{c}b {c}" per Unicode code point;
# VARIANTS=1 repeats that sweep with other BertNormalizer flags (cased,
# strip_cased, lower_nostrip, nochinese_noclean), about 2 minutes each.
set -eu
cd "$(dirname "$0")/../.."
MODEL=${MODEL:-../shared/models/tiny-bert-mean-f32}
CORPUS=${CORPUS:-../shared/data/scifact/corpus.jsonl}
REPEATS=${REPEATS:-3}
WORK=bench/work/tokenizer
mkdir -p "$WORK"
make -s all >/dev/null
[ -d bench/tokenizer/node_modules/tokenizers ] || (cd bench/tokenizer && npm ci --no-audit --no-fund)
cc -O2 -std=c11 -D_GNU_SOURCE -Iinclude bench/tokenizer/b_tokenize.c build/libdensearch.a \
   -lutf8proc -lstemmer -lzstd -lxxhash -lcjson -lopenblas -lm -lpthread -o "$WORK/b_tokenize"
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')  git: $(git rev-parse --short HEAD)"
echo "model: $MODEL  corpus: $CORPUS"
"$WORK/b_tokenize" "$MODEL" "$CORPUS" "$WORK/ds.ids" "$REPEATS" | tee "$WORK/ds.txt"
status=0
TOKENIZERS_PARALLELISM=false node bench/tokenizer/compare.js "$MODEL" "$CORPUS" "$WORK/ds.ids" "$REPEATS" \
    | tee "$WORK/hf.txt" || status=1
ds=$(sed -n 's/.* \([0-9.]*\) MB\/s$/\1/p' "$WORK/ds.txt")
hf=$(sed -n 's/^hf_mb_s=//p' "$WORK/hf.txt")
awk -v a="$ds" -v b="$hf" 'BEGIN { if (b > 0) printf "ratio densearch / huggingface: %.2fx\n", a / b }'
if [ "${CODEPOINTS:-1}" = 1 ]; then
  echo "--- every code point (U+0000..U+10FFFF without surrogates), text \"a{c}b {c}\""
  node bench/tokenizer/compare.js --codepoints "$WORK/cp.jsonl"
  "$WORK/b_tokenize" "$MODEL" "$WORK/cp.jsonl" "$WORK/cp_ds.ids" 1 >/dev/null
  TOKENIZERS_PARALLELISM=false node bench/tokenizer/compare.js "$MODEL" "$WORK/cp.jsonl" "$WORK/cp_ds.ids" 1 \
      | grep -v '^hf_mb_s=' | grep -v '^huggingface:' || status=1
fi
if [ "${VARIANTS:-0}" = 1 ]; then
  for v in cased strip_cased lower_nostrip nochinese_noclean; do
    echo "--- every code point, normalizer variant $v"
    node bench/tokenizer/compare.js --variant "$v" "$MODEL" "$WORK/$v"
    "$WORK/b_tokenize" "$WORK/$v" "$WORK/cp.jsonl" "$WORK/$v/cp_ds.ids" 1 >/dev/null
    TOKENIZERS_PARALLELISM=false node bench/tokenizer/compare.js "$WORK/$v" "$WORK/cp.jsonl" "$WORK/$v/cp_ds.ids" 1 \
        | grep -v '^hf_mb_s=' | grep -v '^huggingface:' || status=1
  done
fi
exit $status
