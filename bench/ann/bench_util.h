/* bench_util.h -- what the bench/ann C programs share: clocks, .fvecs/.ivecs
** reading (whole file, exits with a message on a bad or short file) and a
** fatal check of a ds_status. Benchmarks only: not library code. */
#ifndef BENCH_ANN_UTIL_H
#define BENCH_ANN_UTIL_H

#include "densearch.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Process CPU time: steadier than wall time when other jobs share the cores
** (searches here run on one thread, so it is that thread's time). */
static inline double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* fvecs/ivecs: each row is an i32 dimension then that many 4-byte values. */
static void *read_vecs(const char *path, size_t *n, size_t *dim) {
    FILE *f = fopen(path, "rb");
    if (!f) { perror(path); exit(1); }
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    int32_t d;
    if (fread(&d, 4, 1, f) != 1 || d <= 0) { fprintf(stderr, "%s: bad header\n", path); exit(1); }
    size_t row = 4 + 4 * (size_t)d;
    *n = (size_t)sz / row;
    *dim = (size_t)d;
    float *out = malloc(*n * *dim * 4);
    fseek(f, 0, SEEK_SET);
    for (size_t i = 0; i < *n; i++) {
        if (fread(&d, 4, 1, f) != 1 || fread(out + i * *dim, 4, *dim, f) != *dim) { fprintf(stderr, "%s: short\n", path); exit(1); }
    }
    fclose(f);
    return out;
}

static void die(ds_status rc, const char *what) {
    if (rc == DS_OK) return;
    fprintf(stderr, "%s: %s (%s)\n", what, ds_status_name(rc), ds_errmsg());
    exit(1);
}

#endif
