#!/bin/sh
# run_bm25_bench.sh -- densearch BM25 against the Xapian anchor, same data, same run.
#
#   bench/lexical/run_bm25_bench.sh [--quality "cranfield cisi medline cacm adi scifact"]
#                                   [--speed "scifact synth"] [--synth-docs 1000000]
#                                   [--out bench/work/bm25] [--threads 1]
#
# Quality: on each dataset both engines index title+text and run every query
# (top 1000); both runs are scored with `densearch eval` (nDCG@10, MRR@10,
# Recall@100, MAP over the judged queries of qrels/test.tsv).
# Speed: on the --speed datasets (synth = bench/lexical/gen_corpus.py output,
# generated once into the out folder): index time, peak RSS (/usr/bin/time -v),
# index size (bytes under the index folder), top-10 and top-1000 queries/s on
# one thread, top-10 mean latency (1000 / q/s of the batch), latency p50/p99
# (Xapian: measured per query in-process; densearch: taken from
# `densearch search` output if it reports p50/p99, else n/a).
# Every densearch number is also given as a ratio densearch/Xapian.
# Writes OUT/results.md (markdown table) and OUT/results.tsv, prints the table.
#
# Until `densearch index`/`search` are built, the densearch half is skipped
# with a note and only the Xapian numbers are produced. Run with nice; keep the
# synthetic size small on a shared machine (e.g. --synth-docs 200000).
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
D=${DENSEARCH:-$ROOT/build/densearch}
SHARED=${DS_SHARED:-$ROOT/../shared}
PY=/usr/bin/python3
QUALITY="cranfield cisi medline cacm adi scifact"
SPEED="scifact synth"
SYNTH_DOCS=1000000
OUT=$ROOT/bench/work/bm25
THREADS=1
while [ $# -gt 0 ]; do
  case $1 in
    --quality) QUALITY=$2; shift 2 ;;
    --speed) SPEED=$2; shift 2 ;;
    --synth-docs) SYNTH_DOCS=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    *) echo "run_bm25_bench: unknown option $1" >&2; exit 2 ;;
  esac
done
mkdir -p "$OUT"
[ -x "$D" ] || { echo "run_bm25_bench: $D not found (run make)" >&2; exit 1; }
$PY -c 'import xapian' 2>/dev/null || { echo "run_bm25_bench: python3-xapian missing (sh scripts/install-deps.sh --bench)" >&2; exit 1; }

have_ds=1
if $D index --corpus /nonexistent --out "$OUT/.probe" 2>&1 | grep -q "not built yet"; then
  have_ds=0
  echo "run_bm25_bench: densearch index is not built in this tree: Xapian half only" >&2
fi

# dataset name -> folder
ds_dir() {
  if [ "$1" = synth ]; then
    d=$OUT/synth-$SYNTH_DOCS
    if [ ! -s "$d/qrels/test.tsv" ]; then
      echo "run_bm25_bench: generating synthetic corpus ($SYNTH_DOCS docs) in $d" >&2
      nice $PY "$ROOT/bench/lexical/gen_corpus.py" "$d" --docs "$SYNTH_DOCS" --queries 1000 >&2
    fi
    echo "$d"
  else
    echo "$SHARED/data/$1"
  fi
}

# rss_kb TIMEFILE: peak RSS from /usr/bin/time -v output
rss_kb() { sed -n 's/.*Maximum resident set size (kbytes): *//p' "$1" | tail -n 1; }
cpu_s() { awk -F': ' '/User time|System time/ { s += $2 } END { printf "%.3f", s }' "$1"; }
secs() { $PY -c 'import sys,time; print("%.6f" % time.time())'; }
du_b() { $PY -c 'import os,sys
t=0
p=sys.argv[1]
if os.path.isfile(p): print(os.path.getsize(p)); sys.exit()
for r,_,fs in os.walk(p):
    for f in fs: t+=os.path.getsize(os.path.join(r,f))
print(t)' "$1"; }

TSV=$OUT/results.tsv
printf 'dataset\tengine\tkind\tndcg10\tmrr10\trecall100\tmap\tindex_s\tindex_cpu_s\trss_kb\tindex_bytes\tqps10\tqps1000\tp50_ms\tp99_ms\n' > "$TSV"

evaljson() { # QRELS RUN -> "ndcg mrr recall map"
  $D eval --qrels "$1" --run "$2" --metrics ndcg@10,mrr@10,recall@100,map --json 2>/dev/null |
    $PY -c 'import json,sys; m=json.load(sys.stdin)["metrics"]; print("%.4f\t%.4f\t%.4f\t%.4f" % (m["ndcg@10"], m["mrr@10"], m["recall@100"], m["map"]))'
}

run_one() { # NAME KIND(quality|speed)
  name=$1 kind=$2
  dir=$(ds_dir "$name")
  [ -s "$dir/corpus.jsonl" ] || { echo "run_bm25_bench: $dir/corpus.jsonl missing, skipping $name" >&2; return 0; }
  w=$OUT/$name; rm -rf "$w"; mkdir -p "$w"
  ks=1000; [ "$kind" = speed ] && ks=10,1000
  echo "run_bm25_bench: [$name] xapian" >&2
  nice /usr/bin/time -v -o "$w/xap.time" $PY "$ROOT/bench/lexical/xapian_anchor.py" "$dir" "$w/xap" --k $ks --json "$w/xap.json" >/dev/null
  q=$(evaljson "$dir/qrels/test.tsv" "$w/xap/xapian.top1000.trec")
  $PY - "$w/xap.json" "$(rss_kb "$w/xap.time")" "$name" "$kind" "$q" >> "$TSV" <<'PYEOF'
import json, sys
j = json.load(open(sys.argv[1])); s = j["search"]
t10 = s.get("top10", {}); t1k = s.get("top1000", {})
print("\t".join([sys.argv[3], "xapian", sys.argv[4], sys.argv[5], str(j["index_seconds"]),
                 str(j["index_cpu_seconds"]), sys.argv[2],
                 str(j["index_bytes"]), str(t10.get("qps", "")), str(t1k.get("qps", "")),
                 str(t10.get("p50_ms", "")), str(t10.get("p99_ms", ""))]))
PYEOF
  [ $have_ds -eq 1 ] || return 0
  echo "run_bm25_bench: [$name] densearch" >&2
  t0=$(secs)
  # --skip-bad: Cranfield has two empty documents, which Xapian indexes as
  # empty; densearch stops on them by default. Skipped counts are in the log.
  nice /usr/bin/time -v -o "$w/ds.time" $D index --corpus "$dir/corpus.jsonl" --out "$w/ds.idx" --format beir \
      --threads "$THREADS" --skip-bad > "$w/ds.index.log" 2>&1 || { echo "densearch index failed on $name:" >&2; tail -5 "$w/ds.index.log" >&2; return 1; }
  t1=$(secs)
  qps10=""; qps1000=""; p50=""; p99=""
  for k in $(echo $ks | tr , ' '); do
    s0=$(secs)
    nice $D search --index "$w/ds.idx" --queries "$dir/queries.jsonl" --k "$k" --run-out "$w/ds.top$k.trec" \
        --threads "$THREADS" > "$w/ds.search$k.log" 2>&1 || { echo "densearch search failed on $name:" >&2; tail -5 "$w/ds.search$k.log" >&2; return 1; }
    s1=$(secs)
    nq=$(grep -c . "$dir/queries.jsonl")
    qps=$($PY -c "print('%.1f' % ($nq / max(1e-9, $s1 - $s0)))")
    if [ "$k" = 10 ]; then
      qps10=$qps
      p50=$(sed -n 's/.*p50[^0-9]*\([0-9.]*\).*/\1/p' "$w/ds.search10.log" | head -n 1)
      p99=$(sed -n 's/.*p99[^0-9]*\([0-9.]*\).*/\1/p' "$w/ds.search10.log" | head -n 1)
    else qps1000=$qps; fi
  done
  q=$(evaljson "$dir/qrels/test.tsv" "$w/ds.top1000.trec")
  printf '%s\tdensearch\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$kind" "$q" \
    "$($PY -c "print('%.3f' % ($t1 - $t0))")" "$(cpu_s "$w/ds.time")" "$(rss_kb "$w/ds.time")" "$(du_b "$w/ds.idx")" \
    "$qps10" "${qps1000:-}" "${p50:-n/a}" "${p99:-n/a}" >> "$TSV"
}

failed=""
for n in $QUALITY; do
  case " $SPEED " in *" $n "*) ;; *) run_one "$n" quality || failed="$failed $n" ;; esac
done
for n in $SPEED; do run_one "$n" speed || failed="$failed $n"; done

# ---- markdown --------------------------------------------------------------
$PY - "$TSV" "$OUT/results.md" "$THREADS" <<'PYEOF'
import sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])][1:]
by = {}
for r in rows:
    by.setdefault(r[0], {})[r[1]] = r
def f(x):
    try: return float(x)
    except ValueError: return None
def ratio(a, b):
    a, b = f(a), f(b)
    return "%.2f" % (a / b) if a is not None and b not in (None, 0.0) else "-"
out = ["### Quality (top 1000, scored by `densearch eval`)", "",
       "| dataset | engine | nDCG@10 | MRR@10 | Recall@100 | MAP |", "|---|---|---|---|---|---|"]
for name, e in by.items():
    for eng in ("xapian", "densearch"):
        if eng in e:
            r = e[eng]; out.append("| %s | %s | %s | %s | %s | %s |" % (name, eng, r[3], r[4], r[5], r[6]))
    if "xapian" in e and "densearch" in e:
        x, d = e["xapian"], e["densearch"]
        out.append("| %s | ratio d/x | %s | %s | %s | %s |" % (name, *[ratio(d[i], x[i]) for i in range(3, 7)]))
out += ["", "### Speed (%s thread(s); ratios densearch/Xapian: >1 is better for q/s and docs/s, <1 for time/size/RSS)" % sys.argv[3], "",
        "| dataset | engine | index s | index CPU s | peak RSS MB | index MB | top-10 q/s | top-1000 q/s | top-10 mean ms | p50 ms | p99 ms |",
        "|---|---|---|---|---|---|---|---|---|---|---|"]
for name, e in by.items():
    if e.get("xapian", [None, None, ""])[2] != "speed":
        continue
    for eng in ("xapian", "densearch"):
        if eng in e:
            r = e[eng]
            mb = lambda v, s=1e6: "%.1f" % (float(v) / s) if f(v) is not None else "-"
            mean = "%.3f" % (1000.0 / float(r[11])) if f(r[11]) else "-"
            r.append(mean)
            out.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (name, eng, r[7], r[8], mb(r[9], 1024), mb(r[10]), r[11], r[12], mean, r[13], r[14]))
    if "xapian" in e and "densearch" in e:
        x, d = e["xapian"], e["densearch"]
        out.append("| %s | ratio d/x | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (name, *[ratio(d[i], x[i]) for i in (7, 8, 9, 10, 11, 12, 15, 13, 14)]))
text = "\n".join(out) + "\n"
open(sys.argv[2], "w").write(text)
print(text)
PYEOF
echo "run_bm25_bench: results in $OUT/results.md and $OUT/results.tsv" >&2
[ -z "$failed" ] || { echo "run_bm25_bench: FAILED on:$failed" >&2; exit 1; }
