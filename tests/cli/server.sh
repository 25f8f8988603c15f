#!/bin/sh
# densearch serve end to end on loopback: builds two small collections (BM25
# only, and hybrid with the tiny reference model when ../shared has it),
# starts the server on a free port (--port 0) with an API key, and runs
# server_client.py: every endpoint, hostile requests, slow clients, and
# SIGTERM with a request in flight. The server must then exit 0.
set -u
D=${DENSEARCH:?}
S=${DS_SHARED:-../shared}
command -v python3 >/dev/null || { echo "skip: python3 is absent"; exit 77; }
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
cat > "$tmp/corpus.jsonl" <<'J'
{"_id": "d1", "title": "Cats", "text": "The cat sat on the mat and purred."}
{"_id": "d2", "title": "Dogs", "text": "Dogs bark loudly at the mailman every morning."}
{"_id": "d3", "title": "Fish", "text": "Goldfish swim in a small glass bowl."}
{"_id": "d4", "title": "Birds", "text": "Sparrows and robins sing in the garden trees."}
{"_id": "d5", "title": "Horses", "text": "Horses gallop across the open field."}
{"_id": "d6", "title": "Snakes", "text": "A snake sheds its skin several times a year."}
J
$D index --corpus "$tmp/corpus.jsonl" --out "$tmp/lex" --quiet || exit 1
models=0
extra=""
if [ -d "$S/models/tiny-bert-mean-f32" ] && [ -d "$S/models/tiny-cross-encoder" ]; then
  models=1
  $D index --corpus "$tmp/corpus.jsonl" --out "$tmp/hyb" --model "$S/models/tiny-bert-mean-f32" --vectors flat --quiet || exit 1
  extra="--index $tmp/hyb --rerank $S/models/tiny-cross-encoder"
else
  echo "note: $S/models is absent; testing without embeddings, dense search and re-ranking"
fi
DENSEARCH_API_KEY=sesame $D serve --index "$tmp/lex" $extra --port 0 --threads 2 --timeout 1 --request-timeout 2 \
  --max-body-mb 1 --max-batch 64 --shutdown-timeout 10 > "$tmp/log" 2>&1 &
pid=$!
port=
for i in $(seq 1 100); do
  port=$(sed -n 's/.*listening on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$tmp/log")
  [ -n "$port" ] && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
[ -n "$port" ] || { echo "server did not start"; cat "$tmp/log"; exit 1; }
python3 "$here/server_client.py" "$port" "$pid" sesame "$models" || { cat "$tmp/log"; exit 1; }
# the client sent SIGTERM; the server must finish and exit 0 (bounded wait)
for i in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$pid" 2>/dev/null; then echo "server still running 10 s after SIGTERM"; cat "$tmp/log"; exit 1; fi
wait "$pid"; rc=$?
pid=
[ "$rc" -eq 0 ] || { echo "server exit code $rc after SIGTERM"; cat "$tmp/log"; exit 1; }
grep -q "stopped$" "$tmp/log" || { cat "$tmp/log"; exit 1; }

# usage errors
$D serve 2>/dev/null; [ $? -eq 2 ] || { echo "serve without --index: not a usage error"; exit 1; }
$D serve --index "$tmp/lex" --name 'bad/name' 2>/dev/null; [ $? -eq 2 ] || exit 1
$D serve --index "$tmp/lex" --index "$tmp/lex" 2>/dev/null; [ $? -eq 2 ] || { echo "duplicate names accepted"; exit 1; }
$D serve --index "$tmp/nope" --port 0 2>"$tmp/err"; [ $? -eq 1 ] || exit 1
grep -q "cannot open collection" "$tmp/err" || { cat "$tmp/err"; exit 1; }
exit 0
