/* env.c -- the environment: allocator, logger, thread count, SIMD kernels,
** and the thread pool it owns (threads.c; joined by ds_env_destroy).
**
** Every library allocation goes through ds__alloc so that a test allocator
** can fail the Nth allocation (OOM sweeps, as in SQLite's faultsim).
*/
#include "ds_internal.h"
#include "simd/simd.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static void *malloc_alloc(void *ud, size_t n, size_t align) {
    DS_UNUSED(ud);
    void *p = NULL;
    if (align < sizeof(void *)) align = sizeof(void *);
    if (n == 0) n = 1;
    if (posix_memalign(&p, align, n) != 0) return NULL;
    return p;
}

static void malloc_free(void *ud, void *p, size_t n) {
    DS_UNUSED(ud);
    DS_UNUSED(n);
    free(p);
}

void ds_env_opts_init(ds_env_opts *o) {
    memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
    o->log_level = DS_LOG_WARN;
}

static unsigned online_cores(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1u : (unsigned)n;
}

static void env_fill(ds_env *env, const ds_env_opts *opts) {
    const ds_allocator *a = DS_OPT(opts, allocator, (const ds_allocator *)NULL);
    if (a != NULL && a->alloc != NULL && a->free != NULL) {
        env->allocator = *a;
    } else {
        env->allocator.alloc = malloc_alloc;
        env->allocator.free = malloc_free;
        env->allocator.ud = NULL;
    }
    env->log = DS_OPT(opts, log, (ds_log_fn)NULL);
    env->log_ud = DS_OPT(opts, log_ud, (void *)NULL);
    env->log_level = DS_OPT(opts, log_level, DS_LOG_WARN);
    unsigned nt = DS_OPT(opts, n_threads, 0u);
    env->n_threads = nt ? nt : online_cores();
    const char *want = getenv("DS_SIMD");
    if (want == NULL || !*want) want = DS_OPT(opts, simd, (const char *)NULL);
    env->kernels = ds__kernels_select(want);
}

ds_status ds_env_create(const ds_env_opts *opts, ds_env **out) {
    if (out == NULL) return ds__fail(DS_ERR_INVALID, "ds_env_create: out is NULL");
    *out = NULL;
    ds_env tmp;
    memset(&tmp, 0, sizeof tmp);
    env_fill(&tmp, opts);
    const char *want = getenv("DS_SIMD");
    if (want == NULL || !*want) want = DS_OPT(opts, simd, (const char *)NULL);
    if (tmp.kernels == NULL)
        return ds__fail(DS_ERR_UNSUPPORTED, "SIMD level '%s' is not supported on this CPU "
                        "(use auto, scalar, avx2 or avx512)", want ? want : "?");
    ds_env *env = tmp.allocator.alloc(tmp.allocator.ud, sizeof *env, 64);
    if (env == NULL) return ds__fail(DS_ERR_NOMEM, "ds_env_create: out of memory");
    *env = tmp;
    atomic_init(&env->pool, NULL);
    *out = env;
    return DS_OK;
}

void ds_env_destroy(ds_env *env) {
    if (env == NULL || env == ds__default_env()) return;
    ds__pool_destroy(env, atomic_load(&env->pool));
    ds_allocator a = env->allocator;
    a.free(a.ud, env, sizeof *env);
}

const char *ds_env_simd_name(const ds_env *env) {
    const ds_env *e = env ? env : ds__default_env();
    return e->kernels ? e->kernels->name : "none";
}

unsigned ds_env_threads(const ds_env *env) {
    return (env ? env : ds__default_env())->n_threads;
}

static ds_env default_env;
static pthread_once_t default_once = PTHREAD_ONCE_INIT;

static void default_init(void) {
    env_fill(&default_env, NULL);
    if (default_env.kernels == NULL) default_env.kernels = ds__kernels_select("scalar");
}

ds_env *ds__default_env(void) {
    pthread_once(&default_once, default_init);
    return &default_env;
}

void *ds__alloc(ds_env *env, size_t n, size_t align) {
    env = DS_ENV(env);
    if (env->fail_at != 0 && ++env->n_allocs >= env->fail_at) return NULL;
    return env->allocator.alloc(env->allocator.ud, n, align ? align : 16);
}

void *ds__calloc(ds_env *env, size_t count, size_t size) {
    size_t n;
    if (!ds__mul_ok(count, size, &n)) return NULL;
    void *p = ds__alloc(env, n, 64);
    if (p != NULL) memset(p, 0, n);
    return p;
}

void ds__free(ds_env *env, void *p, size_t n) {
    if (p == NULL) return;
    env = DS_ENV(env);
    env->allocator.free(env->allocator.ud, p, n);
}

void *ds__realloc(ds_env *env, void *p, size_t old_n, size_t new_n) {
    void *q = ds__alloc(env, new_n, 64);
    if (q == NULL) return NULL;
    if (p != NULL) {
        memcpy(q, p, DS_MIN(old_n, new_n));
        ds__free(env, p, old_n);
    }
    return q;
}

char *ds__strdup(ds_env *env, const char *s) {
    size_t n = strlen(s) + 1;
    char *d = ds__alloc(env, n, 1);
    if (d != NULL) memcpy(d, s, n);
    return d;
}

void ds__log(ds_env *env, int level, const char *fmt, ...) {
    env = DS_ENV(env);
    if (env->log == NULL || level > env->log_level) return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    env->log(level, msg, env->log_ud);
}
