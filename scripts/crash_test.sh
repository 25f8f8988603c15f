#!/bin/sh
# crash_test.sh -- kill -9 at random points of `densearch index` and
# `densearch vectors build`, and two concurrent writers to one output path
# (issue 14; policy in docs/format.md, section 1.4).
#
#   sh scripts/crash_test.sh [--trials N] [--docs N] [--vectors N]
#
# Two inputs A and B of each kind are built once into references. Every
# trial then writes A or B over an output that already holds one of them,
# and either kills the writer with SIGKILL after a random delay (within the
# time a build takes) or races two writers against each other. Afterwards the
# output must be reference A or B -- never missing, never a mixture, never
# half-written -- and `densearch check` must accept it: a vector index must
# be byte-identical to a reference; a collection (`index --out`, new segments
# each build) must answer a fixed query set exactly as reference A or B does.
# A writer that was not killed must exit 0, or 1 naming the other writer. At
# the end one clean vectors build must leave no temporary or lock file behind
# (it removes what killed writers left). Exit 0 when every trial passed.
#
# `make crash` runs the defaults; .ci/run runs a small size (see there).
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
D=${DENSEARCH:-$ROOT/build/densearch}
TRIALS=60 DOCS=20000 VECS=20000
while [ $# -gt 0 ]; do
    case $1 in
        --trials) TRIALS=$2; shift 2 ;;
        --docs) DOCS=$2; shift 2 ;;
        --vectors) VECS=$2; shift 2 ;;
        -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
        *) echo "crash_test.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
[ -x "$D" ] || { echo "crash_test.sh: $D not built (make)" >&2; exit 2; }
command -v python3 > /dev/null || { echo "crash_test.sh: needs python3" >&2; exit 2; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT INT TERM
export DS_NO_PROGRESS=1

python3 - "$tmp" "$DOCS" "$VECS" <<'PY'
import random, struct, sys
d, ndocs, nvec = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
words = ["w%d" % i for i in range(5000)]
for name, seed in (("A", 1), ("B", 2)):
    r = random.Random(seed)
    with open("%s/%s.jsonl" % (d, name), "w") as f:
        for i in range(ndocs):
            text = " ".join(r.choice(words) for _ in range(r.randint(20, 120)))
            f.write('{"_id":"%s%d","text":"%s"}\n' % (name, i, text))
    with open("%s/%s.fvecs" % (d, name), "wb") as f:
        for i in range(nvec):
            f.write(struct.pack("<i", 32) + struct.pack("<32f", *[r.random() for _ in range(32)]))
PY
[ $? -eq 0 ] || { echo "crash_test.sh: cannot generate inputs" >&2; exit 2; }

now_ms() { date +%s%3N; }
rand() { od -An -N4 -tu4 /dev/urandom | tr -d ' '; }   # 0 .. 2^32-1

# A fixed query set, answered identically by any complete collection of A (or B).
python3 - "$tmp" <<'PY'
import random
r = random.Random(3)
with open(__import__("sys").argv[1] + "/q.jsonl", "w") as f:
    for i in range(20):
        f.write('{"_id":"q%d","text":"w%d w%d"}\n' % (i, r.randrange(5000), r.randrange(5000)))
PY
run_of() { "$D" search --index "$1" --queries "$tmp/q.jsonl" --k 20 --threads 1 --run-out "$2" 2> /dev/null; }

# Reference outputs and how long each write takes.
t0=$(now_ms)
"$D" index --corpus "$tmp/A.jsonl" --out "$tmp/refA" --threads 1 --quiet || exit 1
t1=$(now_ms)
"$D" index --corpus "$tmp/B.jsonl" --out "$tmp/refB" --threads 1 --quiet || exit 1
"$D" vectors build --input "$tmp/A.fvecs" --type hnsw --m 8 --ef-construction 32 --threads 1 --out "$tmp/refA.dsx" 2> /dev/null || exit 1
t2=$(now_ms)
"$D" vectors build --input "$tmp/B.fvecs" --type hnsw --m 8 --ef-construction 32 --threads 1 --out "$tmp/refB.dsx" 2> /dev/null || exit 1
"$D" vectors build --input "$tmp/A.fvecs" --type hnsw --m 8 --ef-construction 32 --threads 1 --out "$tmp/again.dsx" 2> /dev/null || exit 1
cmp -s "$tmp/refA.dsx" "$tmp/again.dsx" || { echo "crash_test.sh: vectors build is not deterministic; cannot compare" >&2; exit 1; }
run_of "$tmp/refA" "$tmp/runA" && run_of "$tmp/refB" "$tmp/runB" || { echo "crash_test.sh: reference searches failed" >&2; exit 1; }
cmp -s "$tmp/runA" "$tmp/runB" && { echo "crash_test.sh: references A and B answer alike; cannot tell them apart" >&2; exit 1; }
IX_MS=$((t1 - t0 + 20)) VB_MS=$((t2 - t1 + 20))
echo "crash_test: $TRIALS trials; index takes ~${IX_MS} ms, vectors build ~${VB_MS} ms"

# The output must equal refA or refB and pass check. For a collection the
# "output file" is the run it gives on the fixed queries.
verify() {   # verify TRIAL WHAT OUTPUT_FILE REF_A REF_B CHECK_PATH
    if [ -d "$6" ]; then
        run_of "$6" "$tmp/run" || { echo "FAIL trial $1 ($2): search failed: $(tail -n 1 "$tmp/run" 2> /dev/null)"; return 1; }
    fi
    if cmp -s "$3" "$4" || cmp -s "$3" "$5"; then
        "$D" check "$6" > /dev/null 2>&1 || { echo "FAIL trial $1 ($2): check rejects $6"; return 1; }
        return 0
    fi
    [ -e "$3" ] || { echo "FAIL trial $1 ($2): output missing"; return 1; }
    echo "FAIL trial $1 ($2): output is neither reference (size $(wc -c < "$3"))"; return 1
}
# exit status of a writer that was not killed
writer_ok() {   # writer_ok TRIAL STATUS STDERR_FILE
    [ "$2" -eq 0 ] && return 0
    [ "$2" -eq 1 ] && grep -q "another writer\|another process is building" "$3" && return 0
    echo "FAIL trial $1: writer exited $2:"; cat "$3"; return 1
}

cp -r "$tmp/refA" "$tmp/ix"
cp "$tmp/refA.dsx" "$tmp/v.dsx"
fails=0 killed=0 raced=0 losers=0
i=1
while [ "$i" -le "$TRIALS" ]; do
    r=$(rand)
    src=A; [ $((r % 2)) -eq 0 ] && src=B
    other=B; [ $src = B ] && other=A
    case $((r / 2 % 3)) in
    0)  # kill -9 index at a random point
        delay=$((r / 6 % IX_MS))
        "$D" index --corpus "$tmp/$src.jsonl" --out "$tmp/ix" --threads 1 --quiet 2> "$tmp/e1" & p=$!
        sleep "$(awk "BEGIN{printf \"%.3f\", $delay/1000}")"
        kill -9 $p 2> /dev/null && killed=$((killed + 1))
        wait $p 2> /dev/null
        verify $i "index killed after ${delay} ms" "$tmp/run" "$tmp/runA" "$tmp/runB" "$tmp/ix" || fails=$((fails + 1))
        ;;
    1)  # kill -9 vectors build at a random point
        delay=$((r / 6 % VB_MS))
        "$D" vectors build --input "$tmp/$src.fvecs" --type hnsw --m 8 --ef-construction 32 --threads 1 \
            --out "$tmp/v.dsx" 2> "$tmp/e1" & p=$!
        sleep "$(awk "BEGIN{printf \"%.3f\", $delay/1000}")"
        kill -9 $p 2> /dev/null && killed=$((killed + 1))
        wait $p 2> /dev/null
        verify $i "vectors build killed after ${delay} ms" "$tmp/v.dsx" "$tmp/refA.dsx" "$tmp/refB.dsx" "$tmp/v.dsx" || fails=$((fails + 1))
        ;;
    2)  # two concurrent writers (A and B) to one path; sometimes one is killed
        raced=$((raced + 1))
        if [ $((r / 6 % 2)) -eq 0 ]; then
            "$D" index --corpus "$tmp/A.jsonl" --out "$tmp/ix" --threads 1 --quiet 2> "$tmp/e1" & p1=$!
            "$D" index --corpus "$tmp/B.jsonl" --out "$tmp/ix" --threads 1 --quiet 2> "$tmp/e2" & p2=$!
            out="$tmp/run" ra="$tmp/runA" rb="$tmp/runB" chk="$tmp/ix" what="2 x index"
            ms=$IX_MS
        else
            "$D" vectors build --input "$tmp/A.fvecs" --type hnsw --m 8 --ef-construction 32 --threads 1 --out "$tmp/v.dsx" 2> "$tmp/e1" & p1=$!
            "$D" vectors build --input "$tmp/B.fvecs" --type hnsw --m 8 --ef-construction 32 --threads 1 --out "$tmp/v.dsx" 2> "$tmp/e2" & p2=$!
            out="$tmp/v.dsx" ra="$tmp/refA.dsx" rb="$tmp/refB.dsx" chk="$tmp/v.dsx" what="2 x vectors build"
            ms=$VB_MS
        fi
        k1=0
        if [ $((r / 12 % 3)) -eq 0 ]; then
            sleep "$(awk "BEGIN{printf \"%.3f\", $((r / 36 % ms))/1000}")"
            kill -9 $p1 2> /dev/null && k1=1 && killed=$((killed + 1))
        fi
        wait $p1; s1=$?
        wait $p2; s2=$?
        [ $k1 -eq 1 ] || writer_ok $i $s1 "$tmp/e1" || fails=$((fails + 1))
        writer_ok $i $s2 "$tmp/e2" || fails=$((fails + 1))
        [ $s1 -eq 1 ] && losers=$((losers + 1))
        [ $s2 -eq 1 ] && losers=$((losers + 1))
        verify $i "$what" "$out" "$ra" "$rb" "$chk" || fails=$((fails + 1))
        ;;
    esac
    i=$((i + 1))
done

# One clean write of each: the collection answers as A; the vectors build
# leaves no temporary or lock file behind.
"$D" index --corpus "$tmp/A.jsonl" --out "$tmp/ix" --threads 1 --quiet || fails=$((fails + 1))
run_of "$tmp/ix" "$tmp/run" && cmp -s "$tmp/run" "$tmp/runA" || { echo "FAIL: final collection differs from A"; fails=$((fails + 1)); }
"$D" vectors build --input "$tmp/A.fvecs" --type hnsw --m 8 --ef-construction 32 --threads 1 --out "$tmp/v.dsx" 2> /dev/null || fails=$((fails + 1))
left=$(ls "$tmp" | grep '^v\.dsx\.')
[ -z "$left" ] || { echo "FAIL: left behind after a clean write: $left"; fails=$((fails + 1)); }

echo "crash_test: $TRIALS trials, $killed writers killed, $raced races ($losers writers refused), $fails failures"
[ "$fails" -eq 0 ]
