#!/bin/sh
# densearch eval against a second implementation (tests/cli/eval_ref.py) on
# the real graded Cranfield qrels and binary SciFact qrels, with random runs
# full of tied scores, judged queries missing from the run and an unjudged
# run query. Skips (77) without ../shared or python3.
set -u
D=${DENSEARCH:?}
here=$(cd "$(dirname "$0")" && pwd)
shared=${DS_SHARED:-$here/../../../shared}
[ -f "$shared/data/cranfield/qrels/test.tsv" ] || { echo "../shared/data absent"; exit 77; }
PY=$(command -v python3) || { echo "python3 absent"; exit 77; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
for ds in cranfield scifact; do
  q=$shared/data/$ds/qrels/test.tsv
  "$PY" "$here/eval_ref.py" gen "$q" "$shared/data/$ds/corpus.jsonl" "$tmp/$ds.trec" 7 || exit 1
  "$PY" "$here/eval_ref.py" eval "$q" "$tmp/$ds.trec" > "$tmp/want"
  "$D" eval --qrels "$q" --run "$tmp/$ds.trec" --metrics ndcg@10,ndcg@3,mrr@10,recall@100,map,p@5,map@20 --json \
    2>/dev/null > "$tmp/got.json" || exit 1
  "$PY" - "$tmp/want" "$tmp/got.json" "$ds" <<'PYEOF' || exit 1
import json, sys
want = dict((l.split()[0], float(l.split()[1])) for l in open(sys.argv[1]))
got = json.load(open(sys.argv[2]))["metrics"]
bad = [(k, v, got.get(k)) for k, v in want.items() if got.get(k) is None or abs(got[k] - v) > 2e-6]
for k, v, g in bad:
    print("%s %s: eval_ref.py %.6f, densearch %s" % (sys.argv[3], k, v, g))
sys.exit(1 if bad else 0)
PYEOF
done
exit 0
