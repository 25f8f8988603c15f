/* b_pool.c -- what a parallel job costs to start and finish: a gang on the
** env's thread pool (core/threads.c) against starting and joining pthreads
** per job, as ds__parallel_for and the encoder's forward pass did before the
** pool. The job itself is empty, so the time is pure overhead.
**
**   cc -std=c11 -D_GNU_SOURCE -O2 -Iinclude -Isrc bench/micro/b_pool.c build/libdensearch.a \
**      -lutf8proc -lstemmer -lzstd -lxxhash -lcjson -lopenblas -lm -lpthread -o b_pool
**   ./b_pool [THREADS] [JOBS]      (defaults 2, 2000)
**
** Prints the median and 90th percentile per job in microseconds for each way.
*/
#include "ds_internal.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static void empty_job(void *ctx, unsigned t) { (void)ctx; (void)t; }
static void *empty_thread(void *p) { return p; }

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void report(const char *what, double *t, size_t n) {
    qsort(t, n, sizeof *t, cmp_d);
    printf("{\"way\":\"%s\",\"jobs\":%zu,\"median_us\":%.2f,\"p90_us\":%.2f}\n", what, n, t[n / 2] * 1e6,
           t[n * 9 / 10] * 1e6);
}

int main(int argc, char **argv) {
    unsigned nt = argc > 1 ? (unsigned)atoi(argv[1]) : 2;
    size_t jobs = argc > 2 ? (size_t)atoll(argv[2]) : 2000;
    if (nt < 2 || nt > 64 || jobs < 10) { fprintf(stderr, "usage: b_pool [THREADS 2..64] [JOBS >= 10]\n"); return 2; }
    ds_env_opts o;
    ds_env_opts_init(&o);
    o.n_threads = nt;
    ds_env *env;
    if (ds_env_create(&o, &env) != DS_OK) return 1;
    double *t = malloc(jobs * sizeof *t);
    pthread_t tid[64];
    for (int round = 0; round < 2; round++) {   /* alternate, so load drift hits both */
        for (size_t i = 0; i < jobs; i++) {
            double t0 = ds__now();
            for (unsigned k = 1; k < nt; k++) pthread_create(&tid[k], NULL, empty_thread, NULL);
            for (unsigned k = 1; k < nt; k++) pthread_join(tid[k], NULL);
            t[i] = ds__now() - t0;
        }
        report("pthread_create+join", t, jobs);
        for (size_t i = 0; i < jobs; i++) {
            double t0 = ds__now();
            ds__gang g;
            ds__gang_begin(env, nt, &g);
            ds__gang_run(&g, empty_job, NULL);
            t[i] = ds__now() - t0;
        }
        report("pool gang", t, jobs);
    }
    free(t);
    ds_env_destroy(env);
    return 0;
}
