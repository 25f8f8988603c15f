/* threads.c -- a minimal parallel-for over a range, and a monotonic clock.
**
** Work is handed out in chunks from an atomic counter, so uneven items (long
** and short documents) balance across threads without a scheduler.
*/
#include "ds_internal.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

typedef struct pf_shared {
    ds__range_fn   fn;
    void          *ctx;
    size_t         n, chunk;
    atomic_size_t  next;
} pf_shared;

typedef struct pf_worker {
    pf_shared *sh;
    unsigned   thread;
} pf_worker;

static void pf_run(pf_shared *sh, unsigned thread) {
    for (;;) {
        size_t b = atomic_fetch_add(&sh->next, sh->chunk);
        if (b >= sh->n) break;
        size_t e = b + sh->chunk < sh->n ? b + sh->chunk : sh->n;
        sh->fn(sh->ctx, b, e, thread);
    }
}

static void *pf_main(void *arg) {
    pf_worker *w = arg;
    pf_run(w->sh, w->thread);
    return NULL;
}

ds_status ds__parallel_for(unsigned n_threads, size_t n, size_t chunk, ds__range_fn fn, void *ctx) {
    if (n == 0) return DS_OK;
    if (n_threads == 0) n_threads = 1;
    if (n_threads > n) n_threads = (unsigned)n;
    if (chunk == 0) {
        chunk = n / (8 * (size_t)n_threads);
        if (chunk == 0) chunk = 1;
    }
    pf_shared sh = { fn, ctx, n, chunk, 0 };
    atomic_init(&sh.next, 0);
    ds_status rc = DS_OK;
    pthread_t *tids = NULL;
    pf_worker *ws = NULL;
    unsigned started = 0;
    if (n_threads > 1) {
        tids = malloc(sizeof *tids * n_threads);
        ws = malloc(sizeof *ws * n_threads);
        if (tids == NULL || ws == NULL) rc = DS_ERR_NOMEM;
        for (unsigned t = 1; rc == DS_OK && t < n_threads; t++) {
            ws[t].sh = &sh;
            ws[t].thread = t;
            if (pthread_create(&tids[t], NULL, pf_main, &ws[t]) != 0) {
                rc = DS_ERR_INTERNAL;
                break;
            }
            started++;
        }
    }
    pf_run(&sh, 0);
    for (unsigned t = 1; t <= started; t++) pthread_join(tids[t], NULL);
    free(tids);
    free(ws);
    return rc;
}

double ds__now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}
