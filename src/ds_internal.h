/* ds_internal.h -- internal types and helpers shared by every module.
**
** Never installed. Functions with external linkage that are not part of the
** public API are prefixed ds__ (two underscores).
**
** What lives here: the ds_env layout, the allocation wrappers (every library
** allocation goes through the env's allocator so OOM tests can fail the Nth
** one), error reporting (ds__fail), checked size arithmetic, little-endian
** load/store, a growable byte buffer with a sticky error, LEB128 varints, and
** the env's thread pool with a parallel-for on it.
*/
#ifndef DS_INTERNAL_H
#define DS_INTERNAL_H

#include "densearch.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* Assertions                                                                */
/* ------------------------------------------------------------------------ */
/* DS_ASSERT checks our own invariants (aborts in debug builds only). Never use
** it on file contents or caller input: those are reported with ds__fail. */
#ifdef NDEBUG
#  define DS_ASSERT(x) ((void)0)
#else
#  include <assert.h>
#  define DS_ASSERT(x) assert(x)
#endif
/* Defensive branches that "cannot happen" (SQLite's ALWAYS/NEVER): written as
** conditions so release builds still take the safe path. */
#define DS_ALWAYS(x) (x)
#define DS_NEVER(x)  (x)

#define DS_UNUSED(x) ((void)(x))
#define DS_MIN(a, b) ((a) < (b) ? (a) : (b))
#define DS_MAX(a, b) ((a) > (b) ? (a) : (b))
#define DS_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#if defined(__GNUC__)
#  define DS_TARGET(isa) __attribute__((target(isa)))
#  define DS_LIKELY(x)   __builtin_expect(!!(x), 1)
#  define DS_UNLIKELY(x) __builtin_expect(!!(x), 0)
#  define DS_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#  define DS_TARGET(isa)
#  define DS_LIKELY(x)   (x)
#  define DS_UNLIKELY(x) (x)
#  define DS_PRINTF(f, a)
#endif

/* Reads option field `f` of an options struct that carries struct_size: the
** field is used only if the caller's struct is large enough to contain it. */
#define DS_OPT(o, f, dflt) \
    (((o) != NULL && offsetof(__typeof__(*(o)), f) + sizeof((o)->f) <= (o)->struct_size) \
         ? (o)->f : (dflt))

/* ------------------------------------------------------------------------ */
/* Errors                                                                    */
/* ------------------------------------------------------------------------ */
/* Formats the thread-local message returned by ds_errmsg() and returns code,
** so a failure is reported in one line: return ds__fail(DS_ERR_CORRUPT, ...). */
ds_status ds__fail(ds_status code, const char *fmt, ...) DS_PRINTF(2, 3);
/* Prefixes the current message with more context ("index.dsx: " + msg). */
ds_status ds__fail_prefix(ds_status code, const char *fmt, ...) DS_PRINTF(2, 3);
void ds__clear_error(void);

/* ------------------------------------------------------------------------ */
/* Environment and allocation                                                */
/* ------------------------------------------------------------------------ */
struct ds__kernels;
typedef struct ds__pool ds__pool;

struct ds_env {
    ds_allocator              allocator;
    ds_log_fn                 log;
    void                     *log_ud;
    int                       log_level;
    unsigned                  n_threads;
    const struct ds__kernels *kernels;    /* selected once, at creation */
    /* Fault injection for OOM tests: when > 0, the allocation that brings
    ** n_allocs to fail_at fails. Not thread-safe by design: tests only. */
    uint64_t                  n_allocs;
    uint64_t                  fail_at;
    _Atomic(ds__pool *)       pool;       /* worker threads, made on first use (threads.c) */
};

void *ds__alloc(ds_env *env, size_t n, size_t align);          /* NULL on OOM */
void *ds__calloc(ds_env *env, size_t count, size_t size);      /* zeroed, 64-aligned; checks overflow */
void  ds__free(ds_env *env, void *p, size_t n);                /* NULL ok */
/* Grows or shrinks p from old_n to new_n bytes (64-aligned); on failure p is
** untouched and NULL is returned. */
void *ds__realloc(ds_env *env, void *p, size_t old_n, size_t new_n);
char *ds__strdup(ds_env *env, const char *s);                  /* free with ds__free(env, s, strlen(s)+1) */
/* NULL when id is a valid document/query id (core/ids.c: non-empty, <= 4096
** bytes, UTF-8, no whitespace or control character), else why not, as a
** phrase that completes "id 'x' ...". */
const char *ds__id_problem(const char *id, size_t len);

void ds__log(ds_env *env, int level, const char *fmt, ...) DS_PRINTF(3, 4);

/* A NUL-terminated copy of n bytes for the caller, who releases it with
** ds_free (so it comes from libc malloc, not the env allocator); NULL on OOM. */
char *ds__dup_for_caller(const void *p, size_t n);

/* A process-wide default environment for callers that pass env == NULL. */
ds_env *ds__default_env(void);
#define DS_ENV(e) ((e) != NULL ? (e) : ds__default_env())

/* ------------------------------------------------------------------------ */
/* Checked arithmetic                                                        */
/* ------------------------------------------------------------------------ */
static inline int ds__mul_ok(size_t a, size_t b, size_t *out) {
    if (b != 0 && a > SIZE_MAX / b) return 0;
    *out = a * b;
    return 1;
}
static inline int ds__add_ok(size_t a, size_t b, size_t *out) {
    if (a > SIZE_MAX - b) return 0;
    *out = a + b;
    return 1;
}
static inline uint64_t ds__align_up(uint64_t x, uint64_t a) { return (x + a - 1) & ~(a - 1); }

/* ------------------------------------------------------------------------ */
/* Little-endian load/store: the only way bytes reach or leave the disk       */
/* ------------------------------------------------------------------------ */
static inline uint16_t ds__load_u16le(const uint8_t *p) {
    return (uint16_t)(p[0] | (p[1] << 8));
}
static inline uint32_t ds__load_u32le(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static inline uint64_t ds__load_u64le(const uint8_t *p) {
    return (uint64_t)ds__load_u32le(p) | ((uint64_t)ds__load_u32le(p + 4) << 32);
}
static inline float ds__load_f32le(const uint8_t *p) {
    uint32_t u = ds__load_u32le(p);
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}
static inline void ds__store_u16le(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static inline void ds__store_u32le(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}
static inline void ds__store_u64le(uint8_t *p, uint64_t v) {
    ds__store_u32le(p, (uint32_t)v);
    ds__store_u32le(p + 4, (uint32_t)(v >> 32));
}
static inline void ds__store_f32le(uint8_t *p, float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    ds__store_u32le(p, u);
}
#define DS_FOURCC(a, b, c, d) \
    ((uint32_t)(uint8_t)(a) | ((uint32_t)(uint8_t)(b) << 8) | ((uint32_t)(uint8_t)(c) << 16) | ((uint32_t)(uint8_t)(d) << 24))

/* ------------------------------------------------------------------------ */
/* Bounded reader over untrusted bytes                                       */
/* ------------------------------------------------------------------------ */
typedef struct ds__reader {
    const uint8_t *cur, *end;
} ds__reader;

static inline size_t ds__reader_left(const ds__reader *r) { return (size_t)(r->end - r->cur); }
static inline int ds__take(ds__reader *r, size_t n, const uint8_t **out) {
    if (ds__reader_left(r) < n) return 0;
    *out = r->cur;
    r->cur += n;
    return 1;
}
static inline int ds__take_u32(ds__reader *r, uint32_t *v) {
    const uint8_t *p;
    if (!ds__take(r, 4, &p)) return 0;
    *v = ds__load_u32le(p);
    return 1;
}
static inline int ds__take_u64(ds__reader *r, uint64_t *v) {
    const uint8_t *p;
    if (!ds__take(r, 8, &p)) return 0;
    *v = ds__load_u64le(p);
    return 1;
}
/* LEB128 (little-endian base-128) varint; rejects encodings longer than 10
** bytes or overflowing 64 bits. */
int ds__take_varint(ds__reader *r, uint64_t *v);

/* ------------------------------------------------------------------------ */
/* Growable byte buffer with a sticky error (builders check once at the end)  */
/* ------------------------------------------------------------------------ */
typedef struct ds__buf {
    ds_env   *env;
    uint8_t  *p;
    size_t    len, cap;
    ds_status rc;
} ds__buf;

void ds__buf_init(ds__buf *b, ds_env *env);
void ds__buf_release(ds__buf *b);
int  ds__buf_reserve(ds__buf *b, size_t extra);       /* 0 on failure (rc set) */
void ds__buf_put(ds__buf *b, const void *p, size_t n);
void ds__buf_put_u8(ds__buf *b, uint8_t v);
void ds__buf_put_u16(ds__buf *b, uint16_t v);
void ds__buf_put_u32(ds__buf *b, uint32_t v);
void ds__buf_put_u64(ds__buf *b, uint64_t v);
void ds__buf_put_f32(ds__buf *b, float v);
void ds__buf_put_varint(ds__buf *b, uint64_t v);
void ds__buf_pad_to(ds__buf *b, size_t align);        /* zero bytes up to a multiple */
size_t ds__varint_put(uint8_t *dst, uint64_t v);      /* writes <= 10 bytes, returns count */

/* ------------------------------------------------------------------------ */
/* Checksums (XXH3-64 from libxxhash)                                         */
/* ------------------------------------------------------------------------ */
uint64_t ds__hash64(const void *p, size_t n);

/* ------------------------------------------------------------------------ */
/* Threads                                                                   */
/* ------------------------------------------------------------------------ */
/* The env's thread pool (threads.c). A gang runs one function on nt threads
** at once, the caller's thread being thread 0, so the members may wait for
** each other (barriers). ds__gang_begin reserves the pool and returns nt
** (1 <= nt <= want): 1 when want <= 1, when called from inside a gang (nested
** work runs inline), when another thread's gang holds the pool (the caller
** then works alone rather than wait), or when no thread could be started. It
** must be followed by ds__gang_run, which runs fn(ctx, t) for t in [0, nt)
** and returns when all are done. env NULL: the default env. */
typedef struct ds__gang { ds__pool *pool; unsigned nt; } ds__gang;
unsigned ds__gang_begin(ds_env *env, unsigned want, ds__gang *g);
void     ds__gang_run(ds__gang *g, void (*fn)(void *ctx, unsigned thread), void *ctx);
/* Stops and joins the workers and frees the pool (ds_env_destroy). */
void     ds__pool_destroy(ds_env *env, ds__pool *p);

/* Calls fn(ctx, begin, end, thread) on chunks of [0, n) from up to n_threads
** threads of env's pool (the caller's thread is one of them; thread <
** n_threads) until every item is done. chunk is the number of items handed
** out at a time (0: n / (8 * n_threads)). Fewer threads (down to the caller
** alone) run it when the pool is busy or nested, so fn must not rely on more
** than one thread. Returns DS_OK: the work is always done. */
typedef void (*ds__range_fn)(void *ctx, size_t begin, size_t end, unsigned thread);
ds_status ds__parallel_for(ds_env *env, unsigned n_threads, size_t n, size_t chunk, ds__range_fn fn, void *ctx);

/* Monotonic clock in seconds. */
double ds__now(void);

#endif /* DS_INTERNAL_H */
