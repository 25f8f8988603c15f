/* srv.h -- internals shared by the files of `densearch serve` (tools/server/).
**
** The server is a program over the public API: it includes densearch.h and
** nothing from src/, so the HTTP code stays out of the library (house rule).
** HTTP is libmicrohttpd's (its own thread pool, one poll loop per thread);
** JSON requests are parsed with cJSON after the raw bytes were checked (size,
** UTF-8, nesting depth), and responses are written by hand into a growable
** buffer (sbuf), which is faster than building a cJSON tree for thousands of
** floats.
**
** Threads: the access handler runs on libmicrohttpd's pool threads, several
** at once. Everything in srv is read-only after start-up except the metrics
** (atomics) and the `stopping` flag (atomic).
*/
#ifndef DS_SRV_H
#define DS_SRV_H

#include "densearch.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* ---- growable output buffer ------------------------------------------------ */
/* Allocated with malloc, because libmicrohttpd frees response buffers it is
** given with MHD_RESPMEM_MUST_FREE using free(). oom is sticky: appends after a
** failed allocation are no-ops, so callers check once at the end. */
typedef struct sbuf {
    char  *p;
    size_t n, cap;
    int    oom;
} sbuf;

void sb_put(sbuf *b, const char *s, size_t n);
void sb_puts(sbuf *b, const char *s);
void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A JSON string literal (quotes included) of s[0..n): control bytes escaped;
** s must be valid UTF-8 (everything the server echoes is). */
void sb_json_str(sbuf *b, const char *s, size_t n);
/* A float as JSON: %.9g (round-trips float32), null when not finite. */
void sb_json_float(sbuf *b, float v);
void sb_base64(sbuf *b, const void *data, size_t n);
void sb_free(sbuf *b);

/* ---- request body checks (before any parse) -------------------------------- */
/* 1 if s[0..n) is valid UTF-8 (no overlongs, surrogates or code points above
** U+10FFFF); else 0 and *bad is the offset of the first bad byte. */
int utf8_valid(const char *s, size_t n, size_t *bad);
/* Deepest nesting of arrays/objects in JSON text s[0..n) (strings skipped);
** stops counting once the depth exceeds limit and returns limit + 1. */
int json_depth(const char *s, size_t n, int limit);

/* ---- metrics --------------------------------------------------------------- */
enum route {
    ROUTE_EMBEDDINGS = 0, ROUTE_SEARCH, ROUTE_COLLECTION, ROUTE_COLLECTIONS, ROUTE_DOCUMENTS,
    ROUTE_HEALTH, ROUTE_METRICS, ROUTE_OTHER, ROUTE_COUNT
};
#define METRIC_BUCKETS 14
extern const char *const route_names[ROUTE_COUNT];
extern const double metric_bounds[METRIC_BUCKETS];   /* seconds; the last bucket is +Inf */
typedef struct metrics {
    _Atomic uint64_t status[ROUTE_COUNT][500];     /* count by HTTP status - 100      */
    _Atomic uint64_t bucket[ROUTE_COUNT][METRIC_BUCKETS + 1];   /* latency, last: +Inf */
    _Atomic uint64_t sum_us[ROUTE_COUNT];          /* latency sum, microseconds       */
    _Atomic uint64_t in_flight;
    _Atomic uint64_t aborted;                      /* requests closed without a response */
    _Atomic uint64_t embed_inputs, embed_tokens, embed_batches, search_hits;
} metrics;
void metrics_observe(metrics *m, int route, unsigned status, double seconds);

/* ---- the server ------------------------------------------------------------ */
typedef struct srv_collection {
    const char    *name;       /* [A-Za-z0-9._-]{1,64}: safe in URLs and metric labels */
    const char    *path;
    ds_collection *coll;
} srv_collection;

typedef struct srv_limits {
    size_t   max_body;         /* bytes of a request body                        */
    int      max_depth;        /* JSON nesting                                   */
    size_t   max_batch;        /* embeddings inputs per request; filter ids      */
    size_t   max_k;            /* search results                                 */
    unsigned max_connections;
    unsigned timeout;          /* seconds a connection may stay idle             */
    unsigned request_timeout;  /* seconds from the headers to the end of the body */
    unsigned shutdown_timeout; /* seconds SIGTERM waits for requests in flight   */
    size_t   batch_tokens;     /* token budget of one encoder call               */
} srv_limits;

typedef struct srv {
    ds_env           *env;
    srv_collection   *colls;
    size_t            n_colls;
    const ds_encoder *embed;        /* /v1/embeddings model (borrowed or owned)  */
    ds_encoder       *embed_owned;  /* set when --model opened it                */
    const char       *embed_name;
    ds_encoder       *reranker;     /* --rerank, or NULL                         */
    const char       *api_key;      /* NULL: no authentication                   */
    int               truncate;     /* default of the embeddings `truncate` field */
    srv_limits        lim;
    metrics           m;
    _Atomic int       stopping;
    double            t_start;
} srv;

/* What a handler answers: status, content type and a malloc'd body. */
typedef struct reply {
    unsigned    status;
    const char *type;
    sbuf        body;
} reply;

/* Fills r with {"error": {"code", "message", "type"}} and status. */
void reply_error(reply *r, unsigned status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

double srv_now(void);

/* Handlers (routes.c). body/len is the request body, checked for size, UTF-8
** and depth already; every handler fills r (status 4xx for the client's
** mistakes, 5xx only for the server's own failures). */
void h_health(srv *s, reply *r);
void h_metrics(srv *s, reply *r);
void h_collections(srv *s, reply *r);
void h_collection(srv *s, const srv_collection *c, reply *r);
void h_search(srv *s, const srv_collection *c, const char *body, size_t len, reply *r);
void h_embeddings(srv *s, const char *body, size_t len, reply *r);
void h_documents(srv *s, const srv_collection *c, const char *method, reply *r);

#endif /* DS_SRV_H */
