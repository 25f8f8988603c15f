/* fma_peak.c -- the FMA ceiling one core reaches: twelve independent
** vfmadd231ps chains (enough to hide the 4-cycle latency at two per
** cycle), in GMAC/s. The encoder's GEMM and attention rates in
** docs/benchmarks.md are read against it. Run two at once to see whether
** the cores share their FMA units (SMT siblings would halve each).
**
**   cc -O2 bench/model/fma_peak.c -o fma_peak && ./fma_peak
*/
#include <immintrin.h>
#include <stdio.h>
#include <time.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

__attribute__((target("avx2,fma"))) int main(void) {
    __m256 acc[12], b = _mm256_set1_ps(0.9999f), c = _mm256_set1_ps(1e-4f);
    for (int i = 0; i < 12; i++) acc[i] = _mm256_set1_ps(1.0f + (float)i * 1e-3f);
    const long steps = 200000000;
    double t0 = now();
    for (long k = 0; k < steps; k++) {
#pragma GCC unroll 12
        for (int i = 0; i < 12; i++) acc[i] = _mm256_fmadd_ps(acc[i], b, c);
    }
    double secs = now() - t0;
    float sum = 0, lane[8];
    for (int i = 0; i < 12; i++) {
        _mm256_storeu_ps(lane, acc[i]);
        sum += lane[0];
    }
    /* printing the sum keeps the chains alive */
    printf("{\"fma_gmac_s\":%.2f,\"check\":%.3f}\n", (double)steps * 12 * 8 / secs * 1e-9, (double)sum);
    return 0;
}
