#!/bin/sh
# bench_quantized.sh -- densearch IVF-PQ / binary (+ exact re-scoring) vs flat
# f32, FAISS IndexIVFPQ + IndexRefineFlat, IndexBinaryFlat and IndexFlatIP, in
# the same run, one thread, batch 1. Writes bench/results/quantized.csv
# (or $CSV): one row per index and parameter, with QPS by wall clock (qps) and
# by process CPU time (cpu_qps, steadier when other jobs share the cores).
#
# Usage: [NLIST=1024] [M=48] [NQ=1000] [RERANKS=50,100,200] [CSV=FILE] [PART=all|densearch|faiss]
#        sh bench/ann/bench_quantized.sh [DATA_DIR] [extra bench_quantized args]
#   NQ: queries searched by both libraries (the first NQ of queries.fvecs)
#   RERANKS: IVF-PQ re-scoring budgets, both libraries
#   PART=faiss appends the FAISS rows to an existing $CSV, so a long run can
#   put other work between the two halves; all = both, one after the other.
#   DATA_DIR defaults to bench/work/ann/q200k, made with
#   /usr/bin/python3 bench/ann/gen_dataset.py --n 200000 --dim 384 --nq 1000 --k 100 --out bench/work/ann/q200k
set -e
DATA=${1:-bench/work/ann/q200k}
[ $# -gt 0 ] && shift
NLIST=${NLIST:-1024}
M=${M:-48}
NQ=${NQ:-1000}
RERANKS=${RERANKS:-50,100,200}
CSV=${CSV:-bench/results/quantized.csv}
PART=${PART:-all}
make -s all
mkdir -p "$(dirname "$CSV")" bench/work/ann
cc -std=c11 -O2 -Iinclude bench/ann/bench_quantized.c build/libdensearch.a \
   -lutf8proc -lstemmer -lzstd -lxxhash -lcjson -lopenblas -lm -lpthread -o build/bench_quantized
[ "$PART" = faiss ] && [ -s "$CSV" ] || echo "impl,index,params,recall10,qps,build_s,memory_bytes,n,dim,isa,cpu,git,cpu_qps" > "$CSV"
export GIT_SHA=$(git rev-parse --short HEAD)
export CPU_MODEL=$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')
# Searches are single-threaded by construction (batch 1 from one thread); keep
# OpenBLAS (used by training and the OPQ/ITQ rotations) on the 2 cores.
if [ "$PART" != faiss ]; then
    OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-2} \
        nice build/bench_quantized --data "$DATA" --nlist "$NLIST" --m "$M" --nq "$NQ" --reranks "$RERANKS" \
        --csv "$CSV" "$@"
fi
# FAISS parallelises its training with OpenMP (2 threads); OpenBLAS threads
# inside those OpenMP threads would oversubscribe the 2 cores (busy-waiting
# pthreads), so FAISS's BLAS runs one thread per OpenMP thread.
if [ "$PART" != densearch ]; then
    OPENBLAS_NUM_THREADS=1 nice /usr/bin/python3 bench/ann/bench_quantized_faiss.py --data "$DATA" --nlist "$NLIST" \
        --m "$M" --nq "$NQ" --reranks "$RERANKS" --csv "$CSV"
fi
