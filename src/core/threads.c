/* threads.c -- the env's persistent thread pool, parallel-for on top of it,
** and a monotonic clock.
**
** Each ds_env owns one pool (created on first use, threads started only when
** a job first wants them, joined by ds_env_destroy). A job is a "gang": fn
** runs on nt threads at once, the caller's thread being thread 0 and pool
** workers 1..nt-1, so SPMD code with barriers (model/forward.c) can rely on
** every member running. Starting a pthread per job cost tens of microseconds
** per thread; waking a parked worker costs less (docs/benchmarks.md).
**
** Concurrency rules (the choices, and why):
** - One gang at a time per pool. A caller that finds the pool busy (another
**   user thread's job is running) runs its job alone on its own thread
**   instead of waiting: waiting could stall a search behind a minutes-long
**   build, and the busy pool already uses the cores.
** - Nested parallelism runs inline: a gang started from inside a gang (from a
**   worker, or from the caller while it is thread 0) gets nt = 1. This cannot
**   deadlock and does not oversubscribe.
** - Workers never allocate: the pool's state is allocated once, from the env
**   allocator, by the thread that creates the pool.
** - After fork() the child has none of the parent's workers, so a pool made
**   before the fork is abandoned (its memory is not touched again) and the
**   child makes a new one on first use.
** - The default env's pool (ds__default_env) lives until the process exits.
**
** Work in ds__parallel_for is handed out in chunks from an atomic counter,
** so uneven items (long and short documents) balance without a scheduler.
*/
#include "ds_internal.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

/* Largest gang: callers clamp their thread counts to this. Worker slots are
** allocated up front (they are small), so a running worker's slot never moves. */
#define POOL_MAX 256

/* Neither workers nor the gang owner spin while they wait: they park on a
** condition variable at once. Spinning made the pool slower than starting
** threads on a busy host: a spinning owner kept its core while the woken
** worker waited for one (bench/micro/b_pool.c, docs/benchmarks.md, "Thread
** pool and top-k collectors"); without it a gang costs less than one
** pthread_create + join. */

typedef struct worker {
    struct ds__pool *pool;
    unsigned         idx;       /* gang thread index served: idx + 1 */
    uint64_t         seen;      /* job generation at start */
    pthread_t        tid;
} worker;

struct ds__pool {
    ds_env          *env;
    unsigned         fork_gen;  /* value of fork_gen when made */
    atomic_int       busy;      /* a gang holds the pool */
    pthread_mutex_t  mu;
    pthread_cond_t   wake;      /* workers: a new job or stop */
    pthread_cond_t   done;      /* gang owner: the last worker finished */
    unsigned         n_workers; /* started (only the gang owner changes it) */
    /* the current job: written under mu by the owner, read under mu */
    atomic_uint_least64_t gen;
    unsigned         job_nt;
    void           (*fn)(void *ctx, unsigned thread);
    void            *ctx;
    atomic_uint      running;   /* workers still in the job */
    int              stop;
    worker           w[POOL_MAX - 1];
};

/* Depth of gangs this thread is part of (workers: always >= 1). */
static _Thread_local unsigned tls_in_gang;

/* Bumped in the child after fork (pthread_atfork). */
static atomic_uint fork_gen;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;
static void on_fork_child(void) { atomic_fetch_add(&fork_gen, 1); }
static void atfork_init(void) { pthread_atfork(NULL, NULL, on_fork_child); }

static void *worker_main(void *arg) {
    worker *me = arg;
    ds__pool *p = me->pool;
    uint64_t seen = me->seen;
    tls_in_gang = 1;
    for (;;) {
        pthread_mutex_lock(&p->mu);
        while (!p->stop && atomic_load_explicit(&p->gen, memory_order_relaxed) == seen)
            pthread_cond_wait(&p->wake, &p->mu);
        if (p->stop) {
            pthread_mutex_unlock(&p->mu);
            return NULL;
        }
        seen = atomic_load_explicit(&p->gen, memory_order_relaxed);
        unsigned nt = p->job_nt;
        void (*fn)(void *, unsigned) = p->fn;
        void *ctx = p->ctx;
        pthread_mutex_unlock(&p->mu);
        if (me->idx + 1 < nt) {
            fn(ctx, me->idx + 1);
            if (atomic_fetch_sub_explicit(&p->running, 1, memory_order_acq_rel) == 1) {
                pthread_mutex_lock(&p->mu);   /* the owner checks running under mu: no lost wakeup */
                pthread_cond_signal(&p->done);
                pthread_mutex_unlock(&p->mu);
            }
        }
    }
}

static ds__pool *pool_create(ds_env *env) {
    ds__pool *p = ds__alloc(env, sizeof *p, 64);
    if (p == NULL) return NULL;
    memset(p, 0, sizeof *p);
    p->env = env;
    p->fork_gen = atomic_load(&fork_gen);
    atomic_init(&p->busy, 0);
    atomic_init(&p->gen, 0);
    atomic_init(&p->running, 0);
    if (pthread_mutex_init(&p->mu, NULL) != 0) goto fail_mu;
    if (pthread_cond_init(&p->wake, NULL) != 0) goto fail_wake;
    if (pthread_cond_init(&p->done, NULL) != 0) goto fail_done;
    return p;
fail_done:
    pthread_cond_destroy(&p->wake);
fail_wake:
    pthread_mutex_destroy(&p->mu);
fail_mu:
    ds__free(env, p, sizeof *p);
    return NULL;
}

/* The env's pool, made on first use; NULL when it cannot be made (the
** caller then runs alone). Racing first users both build one; one wins. */
static ds__pool *pool_of(ds_env *env) {
    pthread_once(&atfork_once, atfork_init);
    ds__pool *p = atomic_load_explicit(&env->pool, memory_order_acquire);
    unsigned fg = atomic_load(&fork_gen);
    if (p != NULL && p->fork_gen == fg) return p;
    ds__pool *fresh = pool_create(env);
    if (fresh == NULL) return NULL;
    if (atomic_compare_exchange_strong_explicit(&env->pool, &p, fresh, memory_order_acq_rel, memory_order_acquire))
        return fresh;   /* a pre-fork pool in p is abandoned: its threads are gone, its mutexes undefined */
    pthread_cond_destroy(&fresh->done);
    pthread_cond_destroy(&fresh->wake);
    pthread_mutex_destroy(&fresh->mu);
    ds__free(env, fresh, sizeof *fresh);
    return p != NULL && p->fork_gen == fg ? p : NULL;
}

unsigned ds__gang_begin(ds_env *env, unsigned want, ds__gang *g) {
    g->pool = NULL;
    g->nt = 1;
    if (want <= 1 || tls_in_gang) return 1;
    if (want > POOL_MAX) want = POOL_MAX;
    ds__pool *p = pool_of(DS_ENV(env));
    if (p == NULL) return 1;
    int idle = 0;
    if (!atomic_compare_exchange_strong_explicit(&p->busy, &idle, 1, memory_order_acquire, memory_order_relaxed))
        return 1;
    /* Start the workers this gang needs and the pool lacks. The owner alone
    ** changes n_workers; a worker reads only its own slot. */
    uint64_t gen = atomic_load_explicit(&p->gen, memory_order_relaxed);
    while (p->n_workers + 1 < want) {
        worker *w = &p->w[p->n_workers];
        w->pool = p;
        w->idx = p->n_workers;
        w->seen = gen;
        if (pthread_create(&w->tid, NULL, worker_main, w) != 0) break;   /* run with what we have */
        p->n_workers++;
    }
    g->pool = p;
    g->nt = p->n_workers + 1 < want ? p->n_workers + 1 : want;
    if (g->nt == 1) {
        atomic_store_explicit(&p->busy, 0, memory_order_release);
        g->pool = NULL;
    }
    return g->nt;
}

void ds__gang_run(ds__gang *g, void (*fn)(void *ctx, unsigned thread), void *ctx) {
    ds__pool *p = g->pool;
    tls_in_gang++;
    if (p == NULL) {
        fn(ctx, 0);
        tls_in_gang--;
        return;
    }
    atomic_store_explicit(&p->running, g->nt - 1, memory_order_relaxed);
    pthread_mutex_lock(&p->mu);
    p->job_nt = g->nt;
    p->fn = fn;
    p->ctx = ctx;
    atomic_fetch_add_explicit(&p->gen, 1, memory_order_relaxed);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    fn(ctx, 0);
    if (atomic_load_explicit(&p->running, memory_order_acquire) != 0) {
        pthread_mutex_lock(&p->mu);
        while (atomic_load_explicit(&p->running, memory_order_acquire) != 0) pthread_cond_wait(&p->done, &p->mu);
        pthread_mutex_unlock(&p->mu);
    }
    tls_in_gang--;
    g->pool = NULL;
    atomic_store_explicit(&p->busy, 0, memory_order_release);
}

void ds__pool_destroy(ds_env *env, ds__pool *p) {
    if (p == NULL || p->fork_gen != atomic_load(&fork_gen)) return;   /* pre-fork pool: see pool_of */
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    for (unsigned i = 0; i < p->n_workers; i++) pthread_join(p->w[i].tid, NULL);
    pthread_cond_destroy(&p->done);
    pthread_cond_destroy(&p->wake);
    pthread_mutex_destroy(&p->mu);
    ds__free(env, p, sizeof *p);
}

/* ---- parallel-for --------------------------------------------------------- */

typedef struct pf_shared {
    ds__range_fn   fn;
    void          *ctx;
    size_t         n, chunk;
    atomic_size_t  next;
} pf_shared;

static void pf_run(void *arg, unsigned thread) {
    pf_shared *sh = arg;
    for (;;) {
        size_t b = atomic_fetch_add(&sh->next, sh->chunk);
        if (b >= sh->n) break;
        size_t e = b + sh->chunk < sh->n ? b + sh->chunk : sh->n;
        sh->fn(sh->ctx, b, e, thread);
    }
}

ds_status ds__parallel_for(ds_env *env, unsigned n_threads, size_t n, size_t chunk, ds__range_fn fn, void *ctx) {
    if (n == 0) return DS_OK;
    if (n_threads == 0) n_threads = 1;
    if (n_threads > n) n_threads = (unsigned)n;
    if (chunk == 0) {
        chunk = n / (8 * (size_t)n_threads);
        if (chunk == 0) chunk = 1;
    }
    pf_shared sh = { fn, ctx, n, chunk, 0 };
    atomic_init(&sh.next, 0);
    ds__gang g;
    ds__gang_begin(env, n_threads, &g);
    ds__gang_run(&g, pf_run, &sh);
    return DS_OK;
}

double ds__now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}
