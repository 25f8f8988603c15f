#!/bin/sh
# densearch eval: hand-checked values, JSON/per-query output, bad input with
# file:line messages, usage errors. Values: see tests/unit/t_eval.c
# (eval_graded_ties_hand_values: ndcg@3 0.3425, mrr@10 0.5, map 0.5889).
set -u
D=${DENSEARCH:?}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
printf 'q2 0 a 2\nq2 0 b 1\nq2 0 c 0\nq2 0 e 3\nq2 0 f -1\nq3 0 z 1\n' > "$tmp/qrels.txt"
printf 'q2 Q0 a 1 5.0 t\nq2 Q0 b 2 5 t\nq2 Q0 c 3 5.000 t\nq2 Q0 f 4 4 t\nq2 Q0 e 5 1 t\n' > "$tmp/run.trec"
$D eval --qrels "$tmp/qrels.txt" --run "$tmp/run.trec" --metrics ndcg@3,mrr@10,map --skip-missing > "$tmp/out" 2> "$tmp/err" || { cat "$tmp/err"; exit 1; }
printf 'num_q       \tall\t1\nndcg@3      \tall\t0.3425\nmrr@10      \tall\t0.5000\nmap         \tall\t0.5889\n' > "$tmp/want"
cmp -s "$tmp/out" "$tmp/want" || { echo "unexpected output:"; cat "$tmp/out"; exit 1; }
grep -q "1 judged query is not in the run (skipped)" "$tmp/err" || { cat "$tmp/err"; exit 1; }
# default: q3 (missing from the run) scores 0 -> map halves
$D eval --qrels "$tmp/qrels.txt" --run "$tmp/run.trec" --metrics map --json 2>/dev/null > "$tmp/out" || exit 1
grep -q '"num_q": 2, "missing": 1' "$tmp/out" && grep -q '"map": 0.294444' "$tmp/out" || { cat "$tmp/out"; exit 1; }
$D eval --qrels "$tmp/qrels.txt" --run "$tmp/run.trec" --metrics p@1 --per-query --skip-missing 2>/dev/null | grep -q "^p@1 *	q2	0.0000" || exit 1
# hostile input: named file and line, exit 1
printf 'q2 Q0 a 1 5.0 t\nq2 Q0 b 2 oops t\n' > "$tmp/bad.trec"
$D eval --qrels "$tmp/qrels.txt" --run "$tmp/bad.trec" 2> "$tmp/err"; [ $? -eq 1 ] || exit 1
grep -q "bad.trec:2: score 'oops'" "$tmp/err" || { cat "$tmp/err"; exit 1; }
printf 'q2 Q0 a 1 5 t\nq2 Q0 a 2 4 t\n' > "$tmp/dup.trec"
$D eval --qrels "$tmp/qrels.txt" --run "$tmp/dup.trec" 2> "$tmp/err"; [ $? -eq 1 ] || exit 1
grep -q "dup.trec:2: duplicate result" "$tmp/err" || { cat "$tmp/err"; exit 1; }
$D eval --qrels "$tmp/missing.tsv" --run "$tmp/run.trec" 2>/dev/null; [ $? -eq 1 ] || exit 1
$D eval --qrels "$tmp/qrels.txt" --run "$tmp/run.trec" --metrics bogus 2> "$tmp/err"; [ $? -eq 1 ] || exit 1
grep -q "unknown metric 'bogus'" "$tmp/err" || { cat "$tmp/err"; exit 1; }
$D eval --run "$tmp/run.trec" 2>/dev/null; [ $? -eq 2 ] || exit 1
$D eval --qrels "$tmp/qrels.txt" --run "$tmp/run.trec" --nope 2>/dev/null; [ $? -eq 2 ] || exit 1
exit 0
