#!/bin/sh
# run.sh -- runs every test tier that `make test` covers and prints one
# closing line "densearch: N passed, N failed, N skipped".
#   1. unit tests (one binary, each test forked)
#   2. fuzz corpora replayed through every fz_* target
#   3. CLI tests: tests/cli/*.sh (exit 0 pass, 77 skip, else fail)
#   4. Python binding: pytest over python/tests with $PYTHON (the Makefile
#      builds the module into $BUILD/python first); skipped, with the reason,
#      under sanitizers (DS_SAN set) or without python3-dev / python3-pytest
#   5. PostgreSQL extension: postgres/run-tests.sh (pg_regress on a throw-away
#      cluster); skipped, with the reason, under sanitizers or without
#      PostgreSQL 15 (postgresql-15, postgresql-server-dev-15)
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

PYTHON=${PYTHON:-/usr/bin/python3}
if [ -n "${DS_SAN:-}" ]; then
  echo "skip  python: not run under sanitizers (an ASan-built extension cannot be loaded into a plain interpreter); make test runs them"
  skip=$((skip + 1))
elif [ ! -f "$BUILD/python/densearch/.built" ]; then
  echo "skip  python: module not built ($PYTHON lacks Python.h: apt-get install python3-dev)"
  skip=$((skip + 1))
elif ! "$PYTHON" -c 'import pytest, numpy' 2>/dev/null; then
  echo "skip  python: $PYTHON lacks pytest or numpy (apt-get install python3-pytest python3-numpy)"
  skip=$((skip + 1))
else
  PYTHONPATH="$PWD/$BUILD/python" "$PYTHON" -m pytest -q -rs -p no:cacheprovider python/tests > "$log" 2>&1
  rc=$?
  if [ $rc -ne 0 ]; then sed 's/^/    /' "$log" | tail -n 80; else grep '^SKIPPED' "$log" | sed 's/^/    /'; fi
  summary=$(tail -n 1 "$log")
  n_pass=$(echo "$summary" | sed -n 's/.* \([0-9][0-9]*\) passed.*/\1/p; s/^\([0-9][0-9]*\) passed.*/\1/p' | head -n 1)
  n_fail=$(echo "$summary" | grep -o '[0-9]* \(failed\|error\|errors\)' | awk '{s += $1} END {print s + 0}')
  n_skip=$(echo "$summary" | grep -o '[0-9]* skipped' | awk '{s += $1} END {print s + 0}')
  n_pass=${n_pass:-0}
  if [ $rc -ne 0 ] && [ "$n_fail" -eq 0 ]; then n_fail=1; fi
  echo "python: $n_pass passed, $n_fail failed, $n_skip skipped"
  pass=$((pass + n_pass)); fail=$((fail + n_fail)); skip=$((skip + n_skip))
fi
if [ -n "${DS_SAN:-}" ]; then
  echo "skip  postgres: not run under sanitizers (an ASan-built module cannot be loaded into the server); make test runs them"
  skip=$((skip + 1))
else
  sh postgres/run-tests.sh > "$log" 2>&1
  rc=$?
  if [ $rc -ne 0 ] && [ $rc -ne 77 ]; then cat "$log"; else grep -E '^(skip|    test |    ok)' "$log"; fi
  line=$(grep '^postgres:' "$log" | tail -n 1)
  if [ -n "$line" ]; then
    echo "$line"
    set -- $(echo "$line" | sed 's/[^0-9 ]//g')
    pass=$((pass + $1)); fail=$((fail + $2)); skip=$((skip + $3))
  else
    echo "FAIL  postgres: run-tests.sh printed no summary (exit $rc)"; fail=$((fail + 1))
  fi
fi
rm -f "$log"
echo "densearch: $pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
