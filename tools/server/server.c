/* server.c -- `densearch serve`: an HTTP/JSON server over built collections
** and an embedding model (docs/server.md).
**
** libmicrohttpd does the HTTP: a pool of --threads threads, each running its
** own epoll loop over its share of the connections, so a slow or idle client
** costs a socket, not a thread. This file owns the request life cycle:
**
**   headers in  -> authentication, routing and Content-Length are checked on
**                  the first call, and a failing request is answered at once
**                  (libmicrohttpd then discards the body and closes: a 100 MB
**                  upload is refused before it is read);
**   body chunks -> appended up to --max-body-mb; past it the rest is read and
**                  dropped (chunked uploads announce no length) and the answer
**                  is 413; a body still arriving after --request-timeout
**                  seconds closes the connection;
**   body done   -> size, UTF-8 and nesting depth are checked on the raw bytes,
**                  then the route's handler (routes.c) runs;
**   completed   -> metrics (status, latency to the last byte sent).
**
** Shutdown: SIGTERM/SIGINT are blocked in every thread and taken by sigwait in
** the main thread. It stops accepting (MHD_quiesce_daemon), waits until no
** request is in flight (bounded by --shutdown-timeout; a second signal stops
** at once), then stops the daemon and exits 0. Collections are read-only, so
** there is nothing to flush yet; live collections will flush here.
**
** Uses only densearch.h from the library.
*/
#include "server.h"
#include "srv.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { EXIT_USAGE = 2 };
#define MAX_COLLECTIONS 64

/* One request's state, from its headers to its completion. */
typedef struct req {
    double   t0;
    int      route;
    const srv_collection *coll;
    char    *body;
    size_t   len, cap;
    int      too_large;
    unsigned status;       /* what was answered; 0: nothing yet */
} req;

/* ---- replies ------------------------------------------------------------------------- */

static enum MHD_Result send_reply(srv *s, struct MHD_Connection *conn, req *q, reply *r, const char *allow) {
    static const char oom[] = "{\"error\": {\"code\": \"out_of_memory\", \"message\": \"out of memory\", \"type\": \"server_error\"}}\n";
    struct MHD_Response *resp;
    if (r->body.oom || r->body.p == NULL) {
        sb_free(&r->body);
        r->status = 503;
        r->type = "application/json";
        resp = MHD_create_response_from_buffer(sizeof oom - 1, (void *)oom, MHD_RESPMEM_PERSISTENT);
    } else {
        resp = MHD_create_response_from_buffer(r->body.n, r->body.p, MHD_RESPMEM_MUST_FREE);
        if (resp != NULL) r->body.p = NULL;   /* libmicrohttpd frees it */
        sb_free(&r->body);
    }
    if (resp == NULL) return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->type);
    if (r->status == 401) MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
    if (allow) MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
    /* while stopping, keep-alive clients are told to go away */
    if (atomic_load(&s->stopping)) MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    enum MHD_Result ret = MHD_queue_response(conn, r->status, resp);
    MHD_destroy_response(resp);
    q->status = r->status;
    return ret;
}

static enum MHD_Result send_error(srv *s, struct MHD_Connection *conn, req *q, unsigned status, const char *code,
                                  const char *allow, const char *fmt, const char *arg) {
    reply r = { 0 };
    reply_error(&r, status, code, fmt, arg);
    return send_reply(s, conn, q, &r, allow);
}

/* ---- routing ------------------------------------------------------------------------- */

static const srv_collection *find_collection(const srv *s, const char *name, size_t len) {
    for (size_t i = 0; i < s->n_colls; i++)
        if (strlen(s->colls[i].name) == len && memcmp(s->colls[i].name, name, len) == 0) return &s->colls[i];
    return NULL;
}

/* Sets q->route and q->coll for url; returns 0 when routed, else the status to
** answer (404, 405) with *allow set for 405. */
static unsigned route_of(const srv *s, const char *method, const char *url, req *q, const char **allow) {
    int get = strcmp(method, "GET") == 0, post = strcmp(method, "POST") == 0, del = strcmp(method, "DELETE") == 0;
    q->route = ROUTE_OTHER;
    *allow = NULL;
    if (strcmp(url, "/health") == 0) { q->route = ROUTE_HEALTH; *allow = "GET"; return get ? 0 : 405; }
    if (strcmp(url, "/metrics") == 0) { q->route = ROUTE_METRICS; *allow = "GET"; return get ? 0 : 405; }
    if (strcmp(url, "/v1/embeddings") == 0) { q->route = ROUTE_EMBEDDINGS; *allow = "POST"; return post ? 0 : 405; }
    if (strcmp(url, "/collections") == 0) { q->route = ROUTE_COLLECTIONS; *allow = "GET"; return get ? 0 : 405; }
    if (strncmp(url, "/collections/", 13) != 0) return 404;
    const char *name = url + 13, *slash = strchr(name, '/');
    size_t nl = slash ? (size_t)(slash - name) : strlen(name);
    if ((q->coll = find_collection(s, name, nl)) == NULL) return 404;
    if (slash == NULL) { q->route = ROUTE_COLLECTION; *allow = "GET"; return get ? 0 : 405; }
    if (strcmp(slash, "/search") == 0) { q->route = ROUTE_SEARCH; *allow = "POST"; return post ? 0 : 405; }
    if (strcmp(slash, "/documents") == 0) { q->route = ROUTE_DOCUMENTS; *allow = "POST, DELETE"; return post || del ? 0 : 405; }
    q->coll = NULL;
    return 404;
}

/* Constant-time comparison of the Authorization header with "Bearer KEY". */
static int authorized(const srv *s, struct MHD_Connection *conn) {
    const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (h == NULL || strncmp(h, "Bearer ", 7) != 0) return 0;
    h += 7;
    size_t hl = strlen(h), kl = strlen(s->api_key);
    unsigned char diff = hl != kl;
    for (size_t i = 0; i < kl; i++) diff |= (unsigned char)(s->api_key[i] ^ (i < hl ? h[i] : 0));
    return diff == 0;
}

/* ---- the access handler ----------------------------------------------------------------- */

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **con_cls) {
    srv *s = cls;
    req *q = *con_cls;
    (void)version;
    if (q == NULL) {   /* headers complete: decide what can be decided without the body */
        if ((q = calloc(1, sizeof *q)) == NULL) return MHD_NO;
        q->t0 = srv_now();
        *con_cls = q;
        atomic_fetch_add(&s->m.in_flight, 1);
        const char *allow = NULL;
        unsigned st = route_of(s, method, url, q, &allow);
        if (s->api_key && q->route != ROUTE_HEALTH && !authorized(s, conn))
            return send_error(s, conn, q, 401, "unauthorized", NULL, "%s", "missing or wrong 'Authorization: Bearer KEY' header");
        if (st == 404 && q->route == ROUTE_OTHER && strncmp(url, "/collections/", 13) == 0 && q->coll == NULL &&
            !find_collection(s, url + 13, strcspn(url + 13, "/"))) {
            char name[128];
            snprintf(name, sizeof name, "%.*s", (int)strcspn(url + 13, "/"), url + 13);
            return send_error(s, conn, q, 404, "collection_not_found", NULL, "no collection is named '%s' (GET /collections lists them)",
                              name);
        }
        if (st == 404) return send_error(s, conn, q, 404, "not_found", NULL, "no such endpoint: %s", url);
        if (st == 405) return send_error(s, conn, q, 405, "method_not_allowed", allow, "%s", "method not allowed here; see the Allow header");
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl != NULL) {
            char *end;
            errno = 0;
            unsigned long long v = strtoull(cl, &end, 10);
            if (errno == 0 && *end == '\0' && v > s->lim.max_body) {
                char msg[64];
                snprintf(msg, sizeof msg, "%zu", s->lim.max_body);
                return send_error(s, conn, q, 413, "body_too_large", NULL, "the request body is larger than %s bytes", msg);
            }
        }
        return MHD_YES;
    }
    if (*upload_size > 0) {   /* a piece of the body */
        size_t n = *upload_size;
        *upload_size = 0;
        if (srv_now() - q->t0 > (double)s->lim.request_timeout) return MHD_NO;   /* a body trickling in forever */
        if (q->too_large || n > s->lim.max_body - q->len) {
            q->too_large = 1;   /* read and drop the rest; answer 413 at the end */
            return MHD_YES;
        }
        if (q->len + n > q->cap) {
            size_t cap = q->cap ? q->cap : 4096;
            while (cap < q->len + n) cap *= 2;
            if (cap > s->lim.max_body) cap = s->lim.max_body;
            char *p = realloc(q->body, cap);
            if (p == NULL) return MHD_NO;
            q->body = p;
            q->cap = cap;
        }
        memcpy(q->body + q->len, upload, n);
        q->len += n;
        return MHD_YES;
    }
    (void)upload;
    reply r = { 0 };
    const char *body = q->body ? q->body : "";
    size_t bad;
    if (q->too_large) {
        char msg[64];
        snprintf(msg, sizeof msg, "%zu", s->lim.max_body);
        return send_error(s, conn, q, 413, "body_too_large", NULL, "the request body is larger than %s bytes", msg);
    }
    if (!utf8_valid(body, q->len, &bad)) {
        reply_error(&r, 400, "invalid_utf8", "the body is not valid UTF-8 (byte %zu)", bad);
        return send_reply(s, conn, q, &r, NULL);
    }
    if (json_depth(body, q->len, s->lim.max_depth) > s->lim.max_depth) {
        reply_error(&r, 400, "too_deep", "the JSON body nests deeper than %d levels", s->lim.max_depth);
        return send_reply(s, conn, q, &r, NULL);
    }
    switch (q->route) {
    case ROUTE_HEALTH: h_health(s, &r); break;
    case ROUTE_METRICS: h_metrics(s, &r); break;
    case ROUTE_COLLECTIONS: h_collections(s, &r); break;
    case ROUTE_COLLECTION: h_collection(s, q->coll, &r); break;
    case ROUTE_SEARCH: h_search(s, q->coll, body, q->len, &r); break;
    case ROUTE_EMBEDDINGS: h_embeddings(s, body, q->len, &r); break;
    case ROUTE_DOCUMENTS: h_documents(s, q->coll, method, &r); break;
    default: reply_error(&r, 404, "not_found", "no such endpoint");
    }
    return send_reply(s, conn, q, &r, NULL);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe) {
    srv *s = cls;
    req *q = *con_cls;
    (void)conn;
    (void)toe;
    if (q == NULL) return;
    if (q->status) metrics_observe(&s->m, q->route, q->status, srv_now() - q->t0);
    else atomic_fetch_add(&s->m.aborted, 1);
    free(q->body);
    free(q);
    *con_cls = NULL;
    atomic_fetch_sub(&s->m.in_flight, 1);
}

/* ---- options ------------------------------------------------------------------------------- */

static void usage(FILE *f) {
    fprintf(f,
        "usage: densearch serve --index COLL [--name NAME] [--index COLL2 --name NAME2 ...] [options]\n"
        "Serves built collections (search, info) and an embedding model (OpenAI-style\n"
        "/v1/embeddings) over HTTP/JSON; see docs/server.md for the endpoints.\n\n"
        "  --index DIR            a collection built by `densearch index` (repeatable)\n"
        "  --name NAME            URL name of the --index before it (default: the\n"
        "                         directory's base name); letters, digits, . _ -\n"
        "  --model DIR            embedding model of /v1/embeddings (default: the query\n"
        "                         encoder of the first collection that has one); also the\n"
        "                         query encoder of collections whose recorded model moved\n"
        "  --rerank DIR           cross-encoder for search requests with \"rerank\": true\n"
        "  --int8                 int8 encoder layers for --model and query encoders\n"
        "  --bf16                 bfloat16 encoder layers (float32 sums) instead\n"
        "  --host ADDR            address to bind (default 127.0.0.1; 0.0.0.0 or :: for all)\n"
        "  --port N               TCP port (default 8080; 0: any free port, printed)\n"
        "  --api-key KEY          require 'Authorization: Bearer KEY' on every endpoint\n"
        "                         but /health (default: $DENSEARCH_API_KEY if set)\n"
        "  --threads N            HTTP threads and encoder threads (default: all cores)\n"
        "  --truncate             cut embedding inputs longer than the model's maximum\n"
        "                         (default: refuse them with 400 unless the request says\n"
        "                         \"truncate\": true)\n"
        "Limits:\n"
        "  --max-body-mb N        request body (default 16)\n"
        "  --max-depth N          JSON nesting (default 32)\n"
        "  --max-batch N          embedding inputs per request (default 2048)\n"
        "  --max-k N              search results per request (default 1000)\n"
        "  --batch-tokens N       tokens per encoder call (default 16384)\n"
        "  --max-connections N    open connections (default 256)\n"
        "  --timeout S            seconds a connection may stay idle (default 30)\n"
        "  --request-timeout S    seconds to receive a request body (default 60)\n"
        "  --shutdown-timeout S   seconds SIGTERM waits for requests in flight (default 30)\n");
}

static int usage_error(const char *fmt, const char *arg) {
    fputs("densearch: serve: ", stderr);
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    return EXIT_USAGE;
}

static int parse_u64(const char *opt, const char *v, unsigned long long lo, unsigned long long hi, unsigned long long *out) {
    char *end;
    errno = 0;
    unsigned long long x = v && *v && *v != '-' ? strtoull(v, &end, 10) : 0;
    if (v == NULL || *v == '\0' || *v == '-' || errno || *end || x < lo || x > hi) {
        fprintf(stderr, "densearch: serve: %s expects a whole number from %llu to %llu, got '%s'\n", opt, lo, hi, v ? v : "");
        return 0;
    }
    *out = x;
    return 1;
}

static int valid_name(const char *n) {
    size_t l = strlen(n);
    if (l == 0 || l > 64) return 0;
    for (size_t i = 0; i < l; i++) {
        char c = n[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return strcmp(n, ".") != 0 && strcmp(n, "..") != 0;
}

/* Base name of a directory path (trailing slashes ignored), into buf. */
static const char *base_name(const char *path, char *buf, size_t cap) {
    size_t l = strlen(path);
    while (l > 1 && path[l - 1] == '/') l--;
    size_t b = l;
    while (b > 0 && path[b - 1] != '/') b--;
    snprintf(buf, cap, "%.*s", (int)(l - b), path + b);
    return buf;
}

/* Opens a collection with the model it recorded; when that model is gone and
** --model is given, with --model instead (the library checks it is the same
** model). */
static int open_collection(srv *s, srv_collection *c, const char *model, const ds_encoder_opts *eo) {
    ds_collection_open_opts oo;
    ds_collection_open_opts_init(&oo);
    oo.encoder = eo;
    ds_status rc = ds_collection_open(s->env, c->path, &oo, &c->coll);
    if (rc != DS_OK) {
        fprintf(stderr, "densearch: serve: cannot open collection %s: %s [%s]\n", c->path, ds_errmsg(), ds_status_name(rc));
        return 0;
    }
    if (ds_collection_dim(c->coll) > 0 && ds_collection_encoder(c->coll) == NULL && model != NULL) {
        ds_collection *again = NULL;
        oo.model_dir = model;
        if (ds_collection_open(s->env, c->path, &oo, &again) == DS_OK) {
            ds_collection_close(c->coll);
            c->coll = again;
        }
    }
    return 1;
}

/* The name of a collection's recorded encoder, from its info JSON (malloc'd). */
static char *encoder_name(const ds_collection *c) {
    char *json = NULL, *name = NULL;
    if (ds_collection_info(c, &json) != DS_OK) return NULL;
    cJSON *j = cJSON_Parse(json);
    const cJSON *e = j ? cJSON_GetObjectItemCaseSensitive(j, "encoder") : NULL;
    const cJSON *n = e ? cJSON_GetObjectItemCaseSensitive(e, "name") : NULL;
    if (cJSON_IsString(n)) name = strdup(n->valuestring);
    cJSON_Delete(j);
    ds_free(json);
    return name;
}

/* ---- cmd_serve ------------------------------------------------------------------------------ */

int cmd_serve(int argc, char **argv) {
    srv_collection colls[MAX_COLLECTIONS];
    size_t n_colls = 0;
    const char *model = NULL, *rerank = NULL, *host = "127.0.0.1", *api_key = getenv("DENSEARCH_API_KEY");
    unsigned long long port = 8080, threads = 0, u;
    int int8 = 0, bf16 = 0, truncate = 0;
    srv_limits lim = { .max_body = 16u << 20, .max_depth = 32, .max_batch = 2048, .max_k = 1000, .max_connections = 256,
                       .timeout = 30, .request_timeout = 60, .shutdown_timeout = 30, .batch_tokens = 16384 };
    memset(colls, 0, sizeof colls);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) { usage(stdout); return 0; }
        if (strcmp(a, "--int8") == 0) { int8 = 1; continue; }
        if (strcmp(a, "--bf16") == 0) { bf16 = 1; continue; }
        if (strcmp(a, "--truncate") == 0) { truncate = 1; continue; }
        if (strncmp(a, "--", 2) != 0) return usage_error("unexpected argument '%s' (see --help)", a);
        if (v == NULL) return usage_error("%s needs a value", a);
        i++;
        if (strcmp(a, "--index") == 0) {
            if (n_colls == MAX_COLLECTIONS) return usage_error("at most 64 collections (%s)", v);
            colls[n_colls++].path = v;
        } else if (strcmp(a, "--name") == 0) {
            if (n_colls == 0) return usage_error("--name %s names the --index before it; give --index first", v);
            if (colls[n_colls - 1].name) return usage_error("--name %s: that --index is named already", v);
            colls[n_colls - 1].name = v;
        } else if (strcmp(a, "--model") == 0) model = v;
        else if (strcmp(a, "--rerank") == 0) rerank = v;
        else if (strcmp(a, "--host") == 0) host = v;
        else if (strcmp(a, "--api-key") == 0) api_key = v;
        else if (strcmp(a, "--port") == 0) { if (!parse_u64(a, v, 0, 65535, &port)) return EXIT_USAGE; }
        else if (strcmp(a, "--threads") == 0) { if (!parse_u64(a, v, 1, 256, &threads)) return EXIT_USAGE; }
        else if (strcmp(a, "--max-body-mb") == 0) { if (!parse_u64(a, v, 1, 4096, &u)) return EXIT_USAGE; lim.max_body = (size_t)u << 20; }
        else if (strcmp(a, "--max-depth") == 0) { if (!parse_u64(a, v, 2, 512, &u)) return EXIT_USAGE; lim.max_depth = (int)u; }
        else if (strcmp(a, "--max-batch") == 0) { if (!parse_u64(a, v, 1, 1u << 20, &u)) return EXIT_USAGE; lim.max_batch = (size_t)u; }
        else if (strcmp(a, "--max-k") == 0) { if (!parse_u64(a, v, 1, 100000, &u)) return EXIT_USAGE; lim.max_k = (size_t)u; }
        else if (strcmp(a, "--batch-tokens") == 0) { if (!parse_u64(a, v, 1, 1u << 24, &u)) return EXIT_USAGE; lim.batch_tokens = (size_t)u; }
        else if (strcmp(a, "--max-connections") == 0) { if (!parse_u64(a, v, 1, 65536, &u)) return EXIT_USAGE; lim.max_connections = (unsigned)u; }
        else if (strcmp(a, "--timeout") == 0) { if (!parse_u64(a, v, 1, 86400, &u)) return EXIT_USAGE; lim.timeout = (unsigned)u; }
        else if (strcmp(a, "--request-timeout") == 0) { if (!parse_u64(a, v, 1, 86400, &u)) return EXIT_USAGE; lim.request_timeout = (unsigned)u; }
        else if (strcmp(a, "--shutdown-timeout") == 0) { if (!parse_u64(a, v, 0, 86400, &u)) return EXIT_USAGE; lim.shutdown_timeout = (unsigned)u; }
        else return usage_error("unknown option '%s' (see --help)", a);
    }
    if (n_colls == 0 && model == NULL) {
        usage(stderr);
        return usage_error("%s", "give at least one --index COLL or a --model DIR");
    }
    if (api_key && *api_key == '\0') api_key = NULL;
    char names[MAX_COLLECTIONS][256];
    for (size_t i = 0; i < n_colls; i++) {
        if (colls[i].name == NULL) colls[i].name = base_name(colls[i].path, names[i], sizeof names[i]);
        if (!valid_name(colls[i].name))
            return usage_error("collection name '%s' must be 1..64 letters, digits, '.', '_' or '-' (use --name)", colls[i].name);
        for (size_t k = 0; k < i; k++)
            if (strcmp(colls[k].name, colls[i].name) == 0) return usage_error("two collections are named '%s' (use --name)", colls[i].name);
    }

    /* Signals are blocked before any thread exists, so every thread (the
    ** library's pool, libmicrohttpd's) inherits the mask and only sigwait
    ** below receives them. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    static srv s;   /* large (metrics); static keeps it off the stack */
    memset(&s, 0, sizeof s);
    s.lim = lim;
    s.api_key = api_key;
    s.truncate = truncate;
    s.t_start = srv_now();
    int ret = 1;
    char *enc_name = NULL;
    char model_name[256];
    struct MHD_Daemon *d = NULL;
    ds_env_opts envo;
    if (int8 && bf16) return usage_error("%s and --bf16 are exclusive", "--int8");
    ds_env_opts_init(&envo);
    envo.n_threads = (unsigned)threads;
    ds_status rc = ds_env_create(&envo, &s.env);
    if (rc != DS_OK) {
        fprintf(stderr, "densearch: serve: %s [%s]\n", ds_errmsg(), ds_status_name(rc));
        return 1;
    }
    if (threads == 0) threads = ds_env_threads(s.env);
    ds_encoder_opts eo;
    ds_encoder_opts_init(&eo);
    eo.int8 = int8;
    eo.bf16 = bf16;
    s.colls = colls;
    for (size_t i = 0; i < n_colls; i++) {
        if (!open_collection(&s, &colls[i], model, &eo)) goto done;
        s.n_colls++;
    }
    if (model) {
        if ((rc = ds_encoder_open(s.env, model, &eo, &s.embed_owned)) != DS_OK) {
            fprintf(stderr, "densearch: serve: cannot open --model %s: %s [%s]\n", model, ds_errmsg(), ds_status_name(rc));
            goto done;
        }
        if (ds_encoder_kind_of(s.embed_owned) != DS_ENCODER_EMBED) {
            fprintf(stderr, "densearch: serve: --model %s is not an embedding model (bi-encoder)\n", model);
            goto done;
        }
        s.embed = s.embed_owned;
        s.embed_name = base_name(model, model_name, sizeof model_name);
    } else {
        for (size_t i = 0; i < n_colls && s.embed == NULL; i++)
            if ((s.embed = ds_collection_encoder(colls[i].coll)) != NULL) {
                enc_name = encoder_name(colls[i].coll);
                s.embed_name = enc_name ? enc_name : colls[i].name;
            }
    }
    if (rerank) {
        if ((rc = ds_encoder_open(s.env, rerank, &eo, &s.reranker)) != DS_OK) {
            fprintf(stderr, "densearch: serve: cannot open --rerank %s: %s [%s]\n", rerank, ds_errmsg(), ds_status_name(rc));
            goto done;
        }
        if (ds_encoder_kind_of(s.reranker) != DS_ENCODER_CROSS) {
            fprintf(stderr, "densearch: serve: --rerank %s is not a cross-encoder (BertForSequenceClassification)\n", rerank);
            goto done;
        }
    }

    struct addrinfo hints, *ai = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    char portstr[16];
    snprintf(portstr, sizeof portstr, "%llu", port);
    int gai = getaddrinfo(host, portstr, &hints, &ai);
    if (gai != 0) {
        fprintf(stderr, "densearch: serve: --host %s: %s\n", host, gai_strerror(gai));
        goto done;
    }
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC | MHD_USE_ERROR_LOG;
    if (ai->ai_family == AF_INET6) flags |= MHD_USE_IPv6;
    d = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, on_request, &s,
                         MHD_OPTION_SOCK_ADDR, ai->ai_addr,
                         MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)threads,
                         MHD_OPTION_CONNECTION_LIMIT, (unsigned int)lim.max_connections,
                         MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)lim.timeout,
                         MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(64u << 10),
                         MHD_OPTION_NOTIFY_COMPLETED, on_completed, &s,
                         MHD_OPTION_END);
    freeaddrinfo(ai);
    if (d == NULL) {
        fprintf(stderr, "densearch: serve: cannot listen on %s port %llu (in use, or not an address of this host?)\n", host, port);
        goto done;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    unsigned bound = di ? di->port : (unsigned)port;
    int v6 = strchr(host, ':') != NULL;
    printf("densearch serve: listening on http://%s%s%s:%u (%zu collections, embeddings: %s, %llu threads)\n", v6 ? "[" : "",
           host, v6 ? "]" : "", bound, s.n_colls, s.embed_name ? s.embed_name : "none", threads);
    fflush(stdout);

    int sig = 0;
    while (sigwait(&sigs, &sig) != 0) {}
    atomic_store(&s.stopping, 1);
    fprintf(stderr, "densearch serve: %s: stopping (%llu requests in flight)\n", sig == SIGINT ? "SIGINT" : "SIGTERM",
            (unsigned long long)atomic_load(&s.m.in_flight));
    /* No new connections from here on: closing the listening socket makes
    ** new clients fail fast (connection refused) instead of waiting in the
    ** backlog of a socket nobody accepts from. */
    MHD_socket ls = MHD_quiesce_daemon(d);
    if (ls != MHD_INVALID_SOCKET) close(ls);
    double t0 = srv_now();
    while (atomic_load(&s.m.in_flight) > 0 && srv_now() - t0 < (double)lim.shutdown_timeout) {
        struct timespec ts = { 0, 10 * 1000 * 1000 };
        if (sigtimedwait(&sigs, NULL, &ts) > 0) break;   /* a second signal: stop now */
    }
    unsigned long long left = atomic_load(&s.m.in_flight);
    MHD_stop_daemon(d);
    d = NULL;
    if (left) fprintf(stderr, "densearch serve: stopped with %llu requests unfinished\n", left);
    else fprintf(stderr, "densearch serve: stopped\n");
    ret = 0;
done:
    if (d) MHD_stop_daemon(d);
    ds_encoder_close(s.reranker);
    ds_encoder_close(s.embed_owned);
    for (size_t i = 0; i < s.n_colls; i++) ds_collection_close(colls[i].coll);
    free(enc_name);
    ds_env_destroy(s.env);
    return ret;
}
