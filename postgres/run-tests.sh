#!/bin/sh
# run-tests.sh -- pg_regress tests of the densearch extension on a
# throw-away PostgreSQL 15 cluster (`make postgres-test`; `make test` runs it
# when PostgreSQL 15's pg_config and PGXS are installed).
#
# Nothing is written outside a temporary directory: the extension is
# installed into a private copy of the server's layout
# ($tmp/inst/usr/lib/postgresql/15/... and .../share/...): the postgres binary
# is copied there (it finds its lib and share directories relative to its own
# path, which is how PostgreSQL's own `make check` temp install works), and
# every other file of the real lib and share directories is symlinked. The
# cluster listens only on a unix socket in $tmp. PostgreSQL refuses to run as
# root, so under root the server runs as `nobody` (runuser); pg_regress and
# psql run as the caller.
#
# Prints "postgres: N passed, N failed, N skipped" as its last line; exit 0
# when nothing failed, 77 when skipped (no PostgreSQL 15 / no built module).
set -u
here=$(cd "$(dirname "$0")" && pwd)
PG_CONFIG=${PG_CONFIG:-pg_config}
TESTS=${DSPG_TESTS:-"dsvector dshnsw"}

skip() { echo "skip  postgres: $*"; echo "postgres: 0 passed, 0 failed, 1 skipped"; exit 77; }

command -v "$PG_CONFIG" >/dev/null 2>&1 || skip "no pg_config (apt-get install postgresql-15 postgresql-server-dev-15)"
ver=$("$PG_CONFIG" --version | sed -n 's/^PostgreSQL \([0-9]*\).*/\1/p')
[ "$ver" = 15 ] || skip "pg_config is PostgreSQL '$ver', these tests are for 15"
bindir=$("$PG_CONFIG" --bindir)
libdir=$("$PG_CONFIG" --pkglibdir)
sharedir=$("$PG_CONFIG" --sharedir)
pgxs=$("$PG_CONFIG" --pgxs)
regress=$(dirname "$pgxs")/../test/regress/pg_regress
[ -x "$bindir/postgres" ] && [ -x "$bindir/initdb" ] || skip "no server binaries in $bindir (apt-get install postgresql-15)"
[ -x "$regress" ] || skip "no pg_regress at $regress (apt-get install postgresql-server-dev-15)"
[ -f "$here/densearch.so" ] || skip "extension not built (make postgres)"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/dspg.XXXXXX") || exit 1
chmod 755 "$tmp"
run_as=""
if [ "$(id -u)" -eq 0 ]; then run_as="runuser -u nobody --"; fi
pgctl() { $run_as "$bindir/pg_ctl" "$@"; }
cleanup() {
  if [ -f "$tmp/data/postmaster.pid" ]; then pgctl -D "$tmp/data" -m immediate -w stop >/dev/null 2>&1; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# The private layout: copy postgres, symlink the rest, add the extension.
inst=$tmp/inst
mkdir -p "$inst$bindir" "$inst$libdir" "$inst$sharedir/extension"
cp "$bindir/postgres" "$inst$bindir/postgres"
for f in "$libdir"/*; do ln -s "$f" "$inst$libdir/$(basename "$f")"; done
for f in "$sharedir"/*; do [ "$(basename "$f")" = extension ] || ln -s "$f" "$inst$sharedir/$(basename "$f")"; done
for f in "$sharedir"/extension/*; do ln -s "$f" "$inst$sharedir/extension/$(basename "$f")"; done
rm -f "$inst$libdir/densearch.so" "$inst$sharedir/extension/densearch"*
cp "$here/densearch.so" "$inst$libdir/"
cp "$here/densearch.control" "$here"/densearch--*.sql "$inst$sharedir/extension/"
chmod -R a+rX "$inst"

mkdir "$tmp/data" "$tmp/sock"
[ -n "$run_as" ] && chown nobody "$tmp/data" "$tmp/sock"
if ! $run_as "$bindir/initdb" -D "$tmp/data" -U postgres -A trust -E UTF8 --locale=C -N >"$tmp/initdb.log" 2>&1; then
  cat "$tmp/initdb.log"; echo "FAIL  postgres: initdb"; echo "postgres: 0 passed, 1 failed, 0 skipped"; exit 1
fi
port=$(( 50000 + $$ % 10000 ))
if ! pgctl -D "$tmp/data" -p "$inst$bindir/postgres" -l "$tmp/data/server.log" -w -t 30 \
      -o "-k $tmp/sock -c listen_addresses= -p $port -c fsync=off" start >/dev/null; then
  cat "$tmp/data/server.log"; echo "FAIL  postgres: server did not start"; echo "postgres: 0 passed, 1 failed, 0 skipped"; exit 1
fi

# DSPG_HOLD=1: leave the cluster running for a look (psql -h $tmp/sock -p $port -U postgres) until Enter
if [ -n "${DSPG_HOLD:-}" ]; then
  echo "psql -h $tmp/sock -p $port -U postgres postgres   (server log $tmp/data/server.log); Enter stops it"
  read -r _
  exit 0
fi
mkdir "$tmp/out"
"$regress" --inputdir="$here" --outputdir="$tmp/out" --bindir="$bindir" --host="$tmp/sock" --port="$port" \
    --user=postgres --dbname=dsregress $TESTS > "$tmp/regress.log" 2>&1
rc=$?
sed 's/^/    /' "$tmp/regress.log"
n_pass=$(grep -c '\.\.\. ok' "$tmp/regress.log")
n_fail=$(grep -c '\.\.\. FAILED' "$tmp/regress.log")
if [ $rc -ne 0 ]; then
  [ -f "$tmp/out/regression.diffs" ] && head -n 200 "$tmp/out/regression.diffs"
  # keep the outputs for a look (postgres/results/ is ignored by git)
  rm -rf "$here/results" && cp -r "$tmp/out/results" "$here/results" 2>/dev/null
  cp "$tmp/out/regression.diffs" "$here/regression.diffs" 2>/dev/null
  [ "$n_fail" -eq 0 ] && n_fail=1
fi
# A backend crash shows in the server log even when the output matched.
if grep -q 'terminated by signal' "$tmp/data/server.log"; then
  grep 'terminated by signal' "$tmp/data/server.log"; echo "FAIL  postgres: a backend crashed"; n_fail=$((n_fail + 1))
fi
echo "postgres: $n_pass passed, $n_fail failed, 0 skipped"
[ "$n_fail" -eq 0 ]
