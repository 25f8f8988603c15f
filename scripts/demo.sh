#!/bin/sh
# demo.sh -- what `make demo` runs after installing dependencies and building:
# builds a real corpus from this machine (the manual pages under /usr/share/man
# and the WordNet glosses of wordnet-base; either alone when the other is
# missing), indexes it with build/densearch, runs a few queries and prints the
# results with timings. Everything goes to bench/work/demo/ (git-ignored).
#
#   sh scripts/demo.sh [--source auto|man|wordnet|both] [--rebuild]
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
D=${DENSEARCH:-$ROOT/build/densearch}
W=$ROOT/bench/work/demo
SOURCE=auto
REBUILD=0
while [ $# -gt 0 ]; do
  case $1 in
    --source) SOURCE=$2; shift 2 ;;
    --rebuild) REBUILD=1; shift ;;
    *) echo "demo: unknown option $1 (use --source auto|man|wordnet|both, --rebuild)" >&2; exit 2 ;;
  esac
done
PY=$(command -v python3 || echo /usr/bin/python3)
[ -x "$D" ] || { echo "demo: $D is missing: run 'make' first" >&2; exit 1; }
mkdir -p "$W"

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }

corpus=$W/corpus-$SOURCE.jsonl
echo "== 1. corpus: manual pages and WordNet glosses of this machine"
t=$(now)
if [ $REBUILD -eq 1 ] || [ ! -s "$corpus" ] || [ "$ROOT/scripts/build_demo_corpus.py" -nt "$corpus" ]; then
  "$PY" "$ROOT/scripts/build_demo_corpus.py" "$corpus" --source "$SOURCE"
else
  echo "(reusing $corpus; --rebuild to rebuild it)"
fi
docs=$(grep -c . "$corpus")
bytes=$(wc -c < "$corpus")
echo "   $docs documents, $((bytes / 1000000)) MB of text, $(since "$t") s"

echo
echo "== 2. index: densearch index --corpus $corpus --out $W/index --format beir"
rm -rf "$W/index"
t=$(now)
if ! "$D" index --corpus "$corpus" --out "$W/index" --format beir; then
  echo "demo: indexing failed" >&2
  exit 1
fi
secs=$(since "$t")
size=$(du -sk "$W/index" | cut -f1)
echo "   indexed $docs documents in $secs s ($(awk -v n="$docs" -v s="$secs" 'BEGIN { printf "%.0f", (s > 0 ? n / s : 0) }') docs/s), index $((size / 1024)) MB"

echo
echo "== 3. search"
for q in "list directory contents" \
         "compress files with gzip" \
         "change the owner of a file" \
         "configure a network interface" \
         "domestic cat with soft fur" \
         "regular expression pattern matching"; do
  echo
  echo "-- densearch search --index $W/index \"$q\" --k 5"
  t=$(now)
  "$D" search --index "$W/index" "$q" --k 5 || { echo "demo: search failed" >&2; exit 1; }
  echo "   ($(since "$t") s including process start)"
done
echo
echo "demo: done. Try your own: $D search --index $W/index \"your query\""
