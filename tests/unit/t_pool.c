/* t_pool.c -- the env's thread pool (core/threads.c): gangs run their members
** at once, concurrent callers on one env, nested parallel-for, the default
** env, fork, and no threads left after ds_env_destroy. `make tsan` runs these.
*/
#include "test.h"

#include <dirent.h>
#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct { _Atomic unsigned long sum; _Atomic unsigned char *seen; } cover_ctx;

static void cover_body(void *ctx, size_t b, size_t e, unsigned t) {
    cover_ctx *c = ctx;
    DS_UNUSED(t);
    for (size_t i = b; i < e; i++) {
        c->seen[i]++;
        c->sum += i;
    }
}

/* parallel_for over n items on env; checks every item ran once. */
static void check_cover(ds_env *env, unsigned nt, size_t n) {
    cover_ctx c;
    c.sum = 0;
    c.seen = calloc(n ? n : 1, sizeof *c.seen);
    ASSERT(c.seen != NULL);
    ASSERT_OK(ds__parallel_for(env, nt, n, 0, cover_body, &c));
    for (size_t i = 0; i < n; i++) ASSERT_EQ_U64(c.seen[i], 1);
    ASSERT_EQ_U64(c.sum, n ? (unsigned long)n * (n - 1) / 2 : 0);
    free((void *)c.seen);
}

static unsigned count_threads(void) {
    DIR *d = opendir("/proc/self/task");
    if (d == NULL) return 0;
    unsigned n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.') n++;
    closedir(d);
    return n;
}

static ds_env *make_env(unsigned nt) {
    ds_env_opts o;
    ds_env_opts_init(&o);
    o.n_threads = nt;
    ds_env *env = NULL;
    ASSERT_OK(ds_env_create(&o, &env));
    return env;
}

TEST(pool_parallel_for_covers_and_reuses_threads) {
    unsigned before = count_threads();
    ds_env *env = make_env(4);
    for (int r = 0; r < 50; r++) check_cover(env, 4, (size_t)(r * 131 + 1));
    check_cover(env, 4, 0);
    if (before) ASSERT(count_threads() <= before + 3);   /* started once, not per call */
    check_cover(env, 9, 5000);                            /* more than the env's count: grows */
    ds_env_destroy(env);
    if (before) ASSERT_EQ_U64(count_threads(), before);  /* destroy joined every worker */
}

/* Every member of a gang runs at once: each waits until all have arrived. */
typedef struct { _Atomic unsigned arrived; unsigned nt; _Atomic int timeout; } meet_ctx;

static void meet_body(void *ctx, unsigned t) {
    meet_ctx *m = ctx;
    DS_UNUSED(t);
    m->arrived++;
    double t0 = ds__now();
    while (m->arrived < m->nt) {
        if (ds__now() - t0 > 10.0) { m->timeout = 1; return; }
        sched_yield();
    }
}

TEST(pool_gang_members_run_at_once) {
    ds_env *env = make_env(3);
    for (int r = 0; r < 20; r++) {
        ds__gang g;
        meet_ctx m;
        m.arrived = 0;
        m.timeout = 0;
        m.nt = ds__gang_begin(env, 3, &g);
        ASSERT_EQ_U64(m.nt, 3);
        ds__gang_run(&g, meet_body, &m);
        ASSERT(!m.timeout);
        ASSERT_EQ_U64(m.arrived, 3);
    }
    ds_env_destroy(env);
}

/* A parallel-for from inside a pool job runs inline on that thread. */
typedef struct { ds_env *env; _Atomic unsigned long total; } nest_ctx;

static void inner_body(void *ctx, size_t b, size_t e, unsigned t) {
    nest_ctx *c = ctx;
    ASSERT_EQ_U64(t, 0);   /* inline: the calling thread only */
    c->total += e - b;
}

static void gang_inline_body(void *ctx, unsigned t) {
    nest_ctx *c = ctx;
    ASSERT_EQ_U64(t, 0);
    c->total += 1;
}

static void outer_body(void *ctx, size_t b, size_t e, unsigned t) {
    nest_ctx *c = ctx;
    DS_UNUSED(t);
    for (size_t i = b; i < e; i++) {
        ASSERT_OK(ds__parallel_for(c->env, 4, 100, 7, inner_body, c));
        ds__gang g;
        ASSERT_EQ_U64(ds__gang_begin(c->env, 4, &g), 1);
        ds__gang_run(&g, gang_inline_body, c);
    }
}

TEST(pool_nested_parallel_for_runs_inline) {
    ds_env *env = make_env(4);
    nest_ctx c = { env, 0 };
    ASSERT_OK(ds__parallel_for(env, 4, 64, 1, outer_body, &c));
    ASSERT_EQ_U64(c.total, 64 * 101);
    ds_env_destroy(env);
}

/* Several user threads on one env at once: every job completes (a caller that
** finds the pool busy works alone). */
typedef struct { ds_env *env; int rounds; } user_arg;

static void *user_main(void *p) {
    user_arg *a = p;
    for (int r = 0; r < a->rounds; r++) check_cover(a->env, 4, (size_t)(1000 + r * 17));
    return NULL;
}

TEST(pool_concurrent_callers_on_one_env) {
    ds_env *env = make_env(4);
    enum { U = 4 };
    pthread_t tid[U];
    user_arg a = { env, 40 };
    for (int i = 0; i < U; i++) ASSERT(pthread_create(&tid[i], NULL, user_main, &a) == 0);
    for (int i = 0; i < U; i++) pthread_join(tid[i], NULL);
    ds_env_destroy(env);
    a.env = NULL;                       /* the process-wide default env, from many threads */
    for (int i = 0; i < U; i++) ASSERT(pthread_create(&tid[i], NULL, user_main, &a) == 0);
    for (int i = 0; i < U; i++) pthread_join(tid[i], NULL);
}

/* A child forked after the pool started has none of its workers: it must
** make its own pool, not wait for threads that do not exist. */
TEST(pool_works_after_fork) {
    ds_env *env = make_env(3);
    check_cover(env, 3, 10000);
    fflush(NULL);
    pid_t pid = fork();
    ASSERT(pid >= 0);
    if (pid == 0) {
        cover_ctx c;
        c.sum = 0;
        c.seen = calloc(10000, sizeof *c.seen);
        if (ds__parallel_for(env, 3, 10000, 0, cover_body, &c) != DS_OK) _exit(1);
        for (size_t i = 0; i < 10000; i++)
            if (c.seen[i] != 1) _exit(2);
        _exit(0);
    }
    int st = 0;
    ASSERT(waitpid(pid, &st, 0) == pid);
    ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    check_cover(env, 3, 10000);
    ds_env_destroy(env);
}
