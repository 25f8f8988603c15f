#!/bin/sh
# flat_ab.sh -- flat f32 exact search, one thread: an older densearch binary
# against the current one and FAISS IndexFlatIP, interleaved ROUNDS times
# (single query = 200 calls of one query; batched = 1,000 queries in one call).
# Prints wall and CPU-time QPS (vectors bench columns: param recall QPS cpuQPS).
#
# Usage: sh bench/ann/flat_ab.sh OLD_DENSEARCH [DATA_DIR] [ROUNDS]
#   e.g. git clone -q . /tmp/old && (cd /tmp/old && git checkout -q 8648c51 && make -j2 build/densearch)
#        sh bench/ann/flat_ab.sh /tmp/old/build/densearch bench/work/ann/s50k 3
set -e
OLD=$1
D=${2:-bench/work/ann/s50k}
ROUNDS=${3:-3}
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 DS_NO_PROGRESS=1
r=1
while [ "$r" -le "$ROUNDS" ]; do
    for b in old new; do
        X=build/densearch
        [ "$b" = old ] && X=$OLD
        s=$(nice -n 10 "$X" vectors bench --base "$D/base.fvecs" --queries "$D/queries.fvecs" --truth "$D/gt.ivecs" \
            --type flat --metric ip --threads 1 --batch 1 --max-queries 200 | tail -1)
        bt=$(nice -n 10 "$X" vectors bench --base "$D/base.fvecs" --queries "$D/queries.fvecs" --truth "$D/gt.ivecs" \
            --type flat --metric ip --threads 1 --batch 1000 | tail -1)
        echo "$b single: $s | batch: $bt"
    done
    nice -n 10 /usr/bin/python3 - "$D" <<'PY'
import sys, time
import numpy as np, faiss
faiss.omp_set_num_threads(1)
def rx(p):
    r = np.fromfile(p, dtype=np.int32)
    return r.reshape(-1, r[0] + 1)[:, 1:].view(np.float32).copy()
x, q = rx(sys.argv[1] + "/base.fvecs"), rx(sys.argv[1] + "/queries.fvecs")
ix = faiss.IndexFlatIP(x.shape[1]); ix.add(x)
t0, c0 = time.perf_counter(), time.process_time()
ix.search(q, 10)
print("faiss batch qps wall %.1f cpu %.1f" % (len(q) / (time.perf_counter() - t0), len(q) / (time.process_time() - c0)))
PY
    r=$((r + 1))
done
