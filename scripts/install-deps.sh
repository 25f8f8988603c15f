#!/bin/sh
# install-deps.sh -- installs the Debian packages densearch needs to build,
# test and benchmark. Idempotent: apt-get runs only when something is missing.
#
#   sh scripts/install-deps.sh          build + test dependencies
#   sh scripts/install-deps.sh --bench  also the anchors benchmarks compare against
set -eu

BUILD_PKGS="build-essential pkg-config libutf8proc-dev libstemmer-dev libzstd-dev libxxhash-dev \
libcjson-dev nettle-dev libopenblas-dev libmicrohttpd-dev clang libclang-rt-14-dev python3 xz-utils wordnet-base \
python3-dev python3-setuptools python3-numpy python3-pytest \
postgresql-15 postgresql-server-dev-15"
BENCH_PKGS="python3-xapian python3-numpy python3-faiss python3-hnswlib hyperfine wrk"

pkgs=$BUILD_PKGS
[ "${1:-}" = "--bench" ] && pkgs="$pkgs $BENCH_PKGS"

missing=""
for p in $pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -z "$missing" ]; then
  echo "install-deps: all packages present"
  exit 0
fi
echo "install-deps: installing:$missing"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
