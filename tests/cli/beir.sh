#!/bin/sh
# densearch beir: index + search + eval on a tiny BEIR dataset written here.
# Skips (77) while `densearch index` is not built in this tree.
set -u
D=${DENSEARCH:?}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
$D beir "$tmp/nothing" 2> "$tmp/err"; [ $? -eq 1 ] || exit 1
grep -q "corpus.jsonl: missing" "$tmp/err" || { cat "$tmp/err"; exit 1; }
$D beir 2>/dev/null; [ $? -eq 2 ] || exit 1
mkdir -p "$tmp/tiny/qrels"
cat > "$tmp/tiny/corpus.jsonl" <<'J'
{"_id": "d1", "title": "Solar power", "text": "Photovoltaic panels convert sunlight into electricity."}
{"_id": "d2", "title": "Wind power", "text": "Wind turbines convert the kinetic energy of wind into electricity."}
{"_id": "d3", "title": "Baking bread", "text": "Yeast makes the dough rise before baking."}
{"_id": "d4", "title": "Sourdough", "text": "A sourdough starter replaces commercial yeast in bread."}
J
cat > "$tmp/tiny/queries.jsonl" <<'J'
{"_id": "1", "text": "wind turbines electricity"}
{"_id": "2", "text": "sourdough bread yeast"}
J
printf 'query-id\tcorpus-id\tscore\n1\td2\t1\n2\td4\t2\n2\td3\t1\n' > "$tmp/tiny/qrels/test.tsv"
$D beir "$tmp/tiny" --k 10 --threads 1 --keep "$tmp/idx" --run-out "$tmp/run.trec" > "$tmp/out" 2> "$tmp/err"
rc=$?
if grep -q "not built yet" "$tmp/err"; then echo "densearch index is not built yet"; exit 77; fi
[ $rc -eq 0 ] || { cat "$tmp/err"; exit 1; }
grep -q "^| tiny | lexical | 2 |" "$tmp/out" || { cat "$tmp/out"; exit 1; }
[ -s "$tmp/run.trec" ] && [ -e "$tmp/idx" ] || { echo "run or kept index missing"; exit 1; }
# the top result of each query is the relevant doc: MRR@10 = 1
$D eval --qrels "$tmp/tiny/qrels/test.tsv" --run "$tmp/run.trec" --metrics mrr@10 | grep -q "all	1.0000" || exit 1
# --json: stdout is one JSON object (the sub-commands' summaries go to stderr)
if PY=$(command -v python3); then
  $D beir "$tmp/tiny" --k 10 --threads 1 --json 2>/dev/null |
    "$PY" -c 'import json,sys; d=json.load(sys.stdin); assert d["eval"]["num_q"] == 2 and d["dataset"] == "tiny"' || exit 1
fi
exit 0
