#!/bin/sh
# run.sh -- runs every test tier that `make test` covers and prints one
# closing line "densearch: N passed, N failed, N skipped".
#   1. unit tests (one binary, each test forked)
#   2. fuzz corpora replayed through every fz_* target
#   3. CLI tests: tests/cli/*.sh (exit 0 pass, 77 skip, else fail)
BUILD=${BUILD:-build}
pass=0 fail=0 skip=0
log=$(mktemp)

"$BUILD/test_unit" | tee "$log"
line=$(grep '^unit:' "$log" | tail -n 1)
if [ -n "$line" ]; then
  set -- $(echo "$line" | sed 's/[^0-9 ]//g')
  pass=$((pass + $1)); fail=$((fail + $2)); skip=$((skip + $3))
else
  echo "unit: runner crashed"; fail=$((fail + 1))
fi

for f in "$BUILD"/fuzz/fz_*; do
  [ -x "$f" ] || continue
  t=$(basename "$f")
  if [ -d "tests/fuzz/corpus/$t" ]; then
    if "$f" "tests/fuzz/corpus/$t"; then pass=$((pass + 1)); else echo "FAIL  fuzz replay $t"; fail=$((fail + 1)); fi
  fi
done

export DENSEARCH="$PWD/$BUILD/densearch"
export DS_NO_PROGRESS=1
for s in tests/cli/*.sh; do
  [ -f "$s" ] || continue
  out=$(mktemp)
  if sh "$s" > "$out" 2>&1; then
    echo "ok    cli $(basename "$s")"; pass=$((pass + 1))
  else
    rc=$?
    if [ $rc -eq 77 ]; then
      echo "skip  cli $(basename "$s"): $(tail -n 1 "$out")"; skip=$((skip + 1))
    else
      echo "FAIL  cli $(basename "$s") (exit $rc)"; sed 's/^/    /' "$out" | tail -n 30; fail=$((fail + 1))
    fi
  fi
  rm -f "$out"
done
rm -f "$log"
echo "densearch: $pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
