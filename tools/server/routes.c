/* routes.c -- the endpoints of `densearch serve` (docs/server.md).
**
** Each handler turns a checked request body into a reply through the public
** API only. The rule for status codes: anything the request got wrong (bad
** JSON, a wrong type, a value out of range, an unknown collection, an input
** too long for the model) is a 4xx with a message naming the field; 5xx is
** kept for the server's own failures (503 when memory runs out).
*/
#include "srv.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *error_type(unsigned status) {
    switch (status) {
    case 401: return "authentication_error";
    case 404: return "not_found_error";
    case 413: return "invalid_request_error";
    case 501: return "not_implemented_error";
    default: return status < 500 ? "invalid_request_error" : "server_error";
    }
}

void reply_error(reply *r, unsigned status, const char *code, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* library messages echo request text: keep the reply valid UTF-8 even
    ** when vsnprintf cut a multi-byte character in two */
    size_t ml = strlen(msg), bad;
    if (!utf8_valid(msg, ml, &bad)) msg[ml = bad] = '\0';
    sb_free(&r->body);
    r->status = status;
    r->type = "application/json";
    sb_puts(&r->body, "{\"error\": {\"code\": ");
    sb_json_str(&r->body, code, strlen(code));
    sb_puts(&r->body, ", \"message\": ");
    sb_json_str(&r->body, msg, ml);
    sb_puts(&r->body, ", \"type\": ");
    sb_json_str(&r->body, error_type(status), strlen(error_type(status)));
    sb_puts(&r->body, "}}\n");
}

/* A library failure as a reply: bad input is the client's (400), memory the
** server's (503), anything else a 500 with the library's message. what
** prefixes the message unless the library's message starts with it. */
static void reply_status(reply *r, ds_status rc, const char *what) {
    size_t wl = strlen(what);
    if (strncmp(ds_errmsg(), what, wl) == 0 && ds_errmsg()[wl] == ':') what = "";
    const char *sep = *what ? ": " : "";
    switch (rc) {
    case DS_ERR_INVALID:
    case DS_ERR_RANGE:
    case DS_ERR_UNSUPPORTED:
        reply_error(r, 400, "invalid_request", "%s%s%s", what, sep, ds_errmsg());
        break;
    case DS_ERR_NOTFOUND:
        reply_error(r, 404, "not_found", "%s%s%s", what, sep, ds_errmsg());
        break;
    case DS_ERR_NOMEM:
        reply_error(r, 503, "out_of_memory", "%s%sthe server is out of memory; retry later", what, sep);
        break;
    default:
        reply_error(r, 500, "internal_error", "%s%s%s [%s]", what, sep, ds_errmsg(), ds_status_name(rc));
    }
}

static void reply_json(reply *r) {
    r->status = 200;
    r->type = "application/json";
}

/* ---- JSON request helpers -------------------------------------------------------- */

/* The body as a JSON object, or NULL with r filled. */
static cJSON *parse_object(const char *body, size_t len, reply *r) {
    if (len == 0) {
        reply_error(r, 400, "invalid_json", "the request needs a JSON object as its body");
        return NULL;
    }
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(body, len, &end, 0);
    if (j == NULL) {
        size_t off = end && end >= body && end <= body + len ? (size_t)(end - body) : 0;
        reply_error(r, 400, "invalid_json", "the body is not valid JSON (at byte %zu)", off);
        return NULL;
    }
    for (const char *p = end; p && p < body + len; p++)
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
            cJSON_Delete(j);
            reply_error(r, 400, "invalid_json", "the body has data after its JSON value (at byte %zu)", (size_t)(p - body));
            return NULL;
        }
    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        reply_error(r, 400, "invalid_request", "the body must be a JSON object");
        return NULL;
    }
    return j;
}

/* 1 when every member of o is listed in known; else 0 with r filled. */
static int only_known(const cJSON *o, const char *const *known, const char *where, reply *r) {
    for (const cJSON *m = o->child; m; m = m->next) {
        size_t i = 0;
        while (known[i] && strcmp(known[i], m->string) != 0) i++;
        if (known[i] == NULL) {
            reply_error(r, 400, "invalid_request", "unknown field '%s'%s%s", m->string, where ? " in " : "", where ? where : "");
            return 0;
        }
    }
    return 1;
}

/* Optional members: return 1 if absent (out unchanged) or valid, 0 with r
** filled when present with a wrong type or out of range. */
static int get_uint(const cJSON *o, const char *key, uint64_t lo, uint64_t hi, uint64_t *out, reply *r) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (v == NULL) return 1;
    double d = cJSON_IsNumber(v) ? v->valuedouble : NAN;
    if (!(d >= (double)lo && d <= (double)hi) || d != floor(d)) {
        reply_error(r, 400, "invalid_request", "'%s' must be a whole number from %llu to %llu", key,
                    (unsigned long long)lo, (unsigned long long)hi);
        return 0;
    }
    *out = (uint64_t)d;
    return 1;
}

static int get_float(const cJSON *o, const char *key, double lo, double hi, float *out, reply *r) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (v == NULL) return 1;
    double d = cJSON_IsNumber(v) ? v->valuedouble : NAN;
    if (!(d >= lo && d <= hi)) {
        reply_error(r, 400, "invalid_request", "'%s' must be a number from %g to %g", key, lo, hi);
        return 0;
    }
    *out = (float)d;
    return 1;
}

static int get_bool(const cJSON *o, const char *key, int *out, reply *r) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (v == NULL) return 1;
    if (!cJSON_IsBool(v)) {
        reply_error(r, 400, "invalid_request", "'%s' must be true or false", key);
        return 0;
    }
    *out = cJSON_IsTrue(v);
    return 1;
}

static int get_string(const cJSON *o, const char *key, const char **out, reply *r) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (v == NULL) return 1;
    if (!cJSON_IsString(v)) {
        reply_error(r, 400, "invalid_request", "'%s' must be a string", key);
        return 0;
    }
    *out = v->valuestring;
    return 1;
}

/* A string member that must be one of names; *out = its index. */
static int get_enum(const cJSON *o, const char *key, const char *const *names, int *out, reply *r) {
    const char *s = NULL;
    if (!get_string(o, key, &s, r)) return 0;
    if (s == NULL) return 1;
    for (int i = 0; names[i]; i++)
        if (strcmp(s, names[i]) == 0) {
            *out = i;
            return 1;
        }
    char list[256] = "";
    for (int i = 0; names[i]; i++) {
        if (strlen(list) + strlen(names[i]) + 3 >= sizeof list) break;
        if (i) strcat(list, ", ");
        strcat(list, names[i]);
    }
    reply_error(r, 400, "invalid_request", "'%s' must be one of %s", key, list);
    return 0;
}

/* ---- GET /health, /metrics, /collections, /collections/{name} ------------------------ */

void h_health(srv *s, reply *r) {
    int stopping = atomic_load(&s->stopping);
    r->status = stopping ? 503 : 200;
    r->type = "application/json";
    sb_printf(&r->body, "{\"status\": \"%s\", \"version\": \"%s\", \"uptime_s\": %.3f, \"collections\": %zu, \"embedding_model\": ",
              stopping ? "stopping" : "ok", ds_version_string(), srv_now() - s->t_start, s->n_colls);
    if (s->embed_name) sb_json_str(&r->body, s->embed_name, strlen(s->embed_name));
    else sb_puts(&r->body, "null");
    sb_puts(&r->body, "}\n");
}

void h_metrics(srv *s, reply *r) {
    metrics *m = &s->m;
    sbuf *b = &r->body;
    r->status = 200;
    r->type = "text/plain; version=0.0.4; charset=utf-8";
    sb_puts(b, "# HELP densearch_http_requests_total HTTP requests answered, by endpoint and status code.\n"
               "# TYPE densearch_http_requests_total counter\n");
    for (int e = 0; e < ROUTE_COUNT; e++)
        for (int c = 0; c < 500; c++) {
            uint64_t v = atomic_load_explicit(&m->status[e][c], memory_order_relaxed);
            if (v) sb_printf(b, "densearch_http_requests_total{endpoint=\"%s\",code=\"%d\"} %llu\n", route_names[e], c + 100,
                             (unsigned long long)v);
        }
    sb_puts(b, "# HELP densearch_http_request_duration_seconds Time from a request's headers to its last response byte.\n"
               "# TYPE densearch_http_request_duration_seconds histogram\n");
    for (int e = 0; e < ROUTE_COUNT; e++) {
        uint64_t cum = 0;
        for (int k = 0; k <= METRIC_BUCKETS; k++) {
            cum += atomic_load_explicit(&m->bucket[e][k], memory_order_relaxed);
            if (k < METRIC_BUCKETS)
                sb_printf(b, "densearch_http_request_duration_seconds_bucket{endpoint=\"%s\",le=\"%g\"} %llu\n", route_names[e],
                          metric_bounds[k], (unsigned long long)cum);
            else
                sb_printf(b, "densearch_http_request_duration_seconds_bucket{endpoint=\"%s\",le=\"+Inf\"} %llu\n",
                          route_names[e], (unsigned long long)cum);
        }
        sb_printf(b, "densearch_http_request_duration_seconds_sum{endpoint=\"%s\"} %.6f\n", route_names[e],
                  (double)atomic_load_explicit(&m->sum_us[e], memory_order_relaxed) * 1e-6);
        sb_printf(b, "densearch_http_request_duration_seconds_count{endpoint=\"%s\"} %llu\n", route_names[e],
                  (unsigned long long)cum);
    }
    sb_printf(b, "# HELP densearch_http_requests_in_flight Requests received and not yet answered.\n"
                 "# TYPE densearch_http_requests_in_flight gauge\n"
                 "densearch_http_requests_in_flight %llu\n"
                 "# HELP densearch_http_requests_aborted_total Requests closed without a response (client gone, body deadline).\n"
                 "# TYPE densearch_http_requests_aborted_total counter\n"
                 "densearch_http_requests_aborted_total %llu\n",
              (unsigned long long)atomic_load(&m->in_flight), (unsigned long long)atomic_load(&m->aborted));
    sb_printf(b, "# HELP densearch_embeddings_inputs_total Inputs embedded by /v1/embeddings.\n"
                 "# TYPE densearch_embeddings_inputs_total counter\n"
                 "densearch_embeddings_inputs_total %llu\n"
                 "# HELP densearch_embeddings_tokens_total Tokens embedded by /v1/embeddings (after truncation).\n"
                 "# TYPE densearch_embeddings_tokens_total counter\n"
                 "densearch_embeddings_tokens_total %llu\n"
                 "# HELP densearch_embeddings_batches_total Encoder calls made by /v1/embeddings.\n"
                 "# TYPE densearch_embeddings_batches_total counter\n"
                 "densearch_embeddings_batches_total %llu\n",
              (unsigned long long)atomic_load(&m->embed_inputs), (unsigned long long)atomic_load(&m->embed_tokens),
              (unsigned long long)atomic_load(&m->embed_batches));
    sb_puts(b, "# HELP densearch_collection_documents Documents in each collection.\n"
               "# TYPE densearch_collection_documents gauge\n");
    for (size_t i = 0; i < s->n_colls; i++)
        sb_printf(b, "densearch_collection_documents{collection=\"%s\"} %llu\n", s->colls[i].name,
                  (unsigned long long)ds_collection_n_docs(s->colls[i].coll));
    sb_puts(b, "# HELP densearch_collection_passages Passages (vectors) in each collection.\n"
               "# TYPE densearch_collection_passages gauge\n");
    for (size_t i = 0; i < s->n_colls; i++)
        sb_printf(b, "densearch_collection_passages{collection=\"%s\"} %llu\n", s->colls[i].name,
                  (unsigned long long)ds_collection_n_passages(s->colls[i].coll));
    sb_printf(b, "# HELP densearch_uptime_seconds Seconds since the server started.\n"
                 "# TYPE densearch_uptime_seconds gauge\n"
                 "densearch_uptime_seconds %.3f\n", srv_now() - s->t_start);
}

void h_collections(srv *s, reply *r) {
    reply_json(r);
    sb_puts(&r->body, "{\"collections\": [");
    for (size_t i = 0; i < s->n_colls; i++) {
        const srv_collection *c = &s->colls[i];
        sb_puts(&r->body, i ? ", {\"name\": " : "{\"name\": ");
        sb_json_str(&r->body, c->name, strlen(c->name));
        sb_printf(&r->body, ", \"docs\": %llu, \"passages\": %llu, \"dim\": %zu, \"query_encoder\": %s}",
                  (unsigned long long)ds_collection_n_docs(c->coll), (unsigned long long)ds_collection_n_passages(c->coll),
                  ds_collection_dim(c->coll), ds_collection_encoder(c->coll) ? "true" : "false");
    }
    sb_puts(&r->body, "]}\n");
}

void h_collection(srv *s, const srv_collection *c, reply *r) {
    (void)s;
    char *json = NULL;
    ds_status rc = ds_collection_info(c->coll, &json);
    if (rc != DS_OK) {
        reply_status(r, rc, c->name);
        return;
    }
    reply_json(r);
    sb_puts(&r->body, json);
    sb_puts(&r->body, "\n");
    ds_free(json);
}

/* ---- POST/DELETE /collections/{name}/documents ------------------------------------------ */

void h_documents(srv *s, const srv_collection *c, const char *method, reply *r) {
    (void)s;
    reply_error(r, 501, "not_implemented",
                "%s /collections/%s/documents: live collections (adding, replacing or deleting documents after a build) "
                "are not built yet; a collection is built once by `densearch index` and served read-only, so rebuild it "
                "and restart the server", method, c->name);
}

/* ---- POST /collections/{name}/search ------------------------------------------------------ */

static const char *const search_fields[] = {
    "query", "mode", "k", "fusion", "rrf_k", "alpha", "norm", "depth", "prf", "rm3_docs", "rm3_terms",
    "rm3_weight", "rocchio_docs", "rocchio_alpha", "rocchio_beta", "rerank", "rerank_depth", "passage_score",
    "filter", "with_text", "snippet_bytes", "highlight", "vector", "ef", "nprobe", NULL
};

/* "prf": "rm3" | "rocchio" | "none" | an array of those. */
static int prf_bit(const cJSON *e, unsigned *bits) {
    if (!cJSON_IsString(e)) return 0;
    if (strcmp(e->valuestring, "rm3") == 0) *bits |= DS_PRF_RM3;
    else if (strcmp(e->valuestring, "rocchio") == 0) *bits |= DS_PRF_ROCCHIO;
    else if (strcmp(e->valuestring, "none") != 0) return 0;
    return 1;
}

static int get_prf(const cJSON *o, unsigned *out, reply *r) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "prf");
    if (v == NULL) return 1;
    unsigned bits = 0;
    int ok = 1;
    if (cJSON_IsArray(v))
        for (const cJSON *e = v->child; e && ok; e = e->next) ok = prf_bit(e, &bits);
    else ok = prf_bit(v, &bits);
    if (!ok) {
        reply_error(r, 400, "invalid_request", "'prf' must be \"rm3\", \"rocchio\", \"none\" or an array of them");
        return 0;
    }
    *out = bits;
    return 1;
}

/* "filter": {"ids": ["id", ...]} -> an allow-list bitmap (ds_free). */
static int get_filter(const srv_collection *c, const cJSON *o, uint8_t **bits, uint64_t *n_bits, reply *r) {
    static const char *const filter_fields[] = { "ids", NULL };
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(o, "filter");
    if (f == NULL || cJSON_IsNull(f)) return 1;
    if (!cJSON_IsObject(f)) {
        reply_error(r, 400, "invalid_request", "'filter' must be an object such as {\"ids\": [\"doc1\", \"doc2\"]}");
        return 0;
    }
    if (!only_known(f, filter_fields, "'filter'", r)) return 0;
    const cJSON *ids = cJSON_GetObjectItemCaseSensitive(f, "ids");
    if (!cJSON_IsArray(ids)) {
        reply_error(r, 400, "invalid_request", "'filter.ids' must be an array of document ids (strings)");
        return 0;
    }
    size_t n = (size_t)cJSON_GetArraySize(ids);   /* bounded by the body size */
    const char **list = malloc((n ? n : 1) * sizeof *list);
    if (list == NULL) {
        reply_error(r, 503, "out_of_memory", "out of memory");
        return 0;
    }
    size_t i = 0;
    for (const cJSON *e = ids->child; e; e = e->next, i++) {
        if (!cJSON_IsString(e)) {
            free(list);
            reply_error(r, 400, "invalid_request", "'filter.ids[%zu]' must be a string", i);
            return 0;
        }
        list[i] = e->valuestring;
    }
    size_t unknown = 0;
    ds_status rc = ds_collection_filter(c->coll, list, NULL, n, bits, n_bits, &unknown);
    free(list);
    if (rc != DS_OK) {
        reply_status(r, rc, "filter");
        return 0;
    }
    return 1;
}

/* "vector": [floats] of the collection's dimension: the query embedding. */
static int get_vector(const srv_collection *c, const cJSON *o, float **out, reply *r) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "vector");
    if (v == NULL || cJSON_IsNull(v)) return 1;
    size_t dim = ds_collection_dim(c->coll);
    if (dim == 0) {
        reply_error(r, 400, "invalid_request", "'vector': collection '%s' has no vectors (BM25 only)", c->name);
        return 0;
    }
    if (!cJSON_IsArray(v) || (size_t)cJSON_GetArraySize(v) != dim) {
        reply_error(r, 400, "invalid_request", "'vector' must be an array of %zu numbers", dim);
        return 0;
    }
    float *q = malloc(dim * sizeof *q);
    if (q == NULL) {
        reply_error(r, 503, "out_of_memory", "out of memory");
        return 0;
    }
    size_t i = 0;
    for (const cJSON *e = v->child; e; e = e->next, i++) {
        if (!cJSON_IsNumber(e) || !isfinite((float)e->valuedouble)) {
            free(q);
            reply_error(r, 400, "invalid_request", "'vector[%zu]' must be a finite number", i);
            return 0;
        }
        q[i] = (float)e->valuedouble;
    }
    *out = q;
    return 1;
}

static void hit_component(sbuf *b, const char *name, float score, uint32_t rank) {
    sb_printf(b, ", \"%s\": ", name);
    if (rank) sb_json_float(b, score);
    else sb_puts(b, "null");
    sb_printf(b, ", \"%s_rank\": ", name);
    if (rank) sb_printf(b, "%u", rank);
    else sb_puts(b, "null");
}

void h_search(srv *s, const srv_collection *c, const char *body, size_t len, reply *r) {
    static const char *const modes[] = { "auto", "lexical", "dense", "hybrid", NULL };
    static const char *const fusions[] = { "rrf", "convex", NULL };
    static const char *const norms[] = { "minmax", "zscore", NULL };
    static const char *const pscores[] = { "maxp", "firstp", NULL };
    cJSON *j = parse_object(body, len, r);
    if (j == NULL) return;
    ds_collection_search_opts so;
    ds_collection_search_opts_init(&so);
    so.with_text = 1;
    uint8_t *filter = NULL;
    float *qvec = NULL;
    ds_results *res = NULL;
    const char *query = NULL;
    uint64_t k = so.k, u;
    int mode = 0, fusion = 0, norm = 0, pscore = 0, rerank = 0, with_text = 1;
    if (!only_known(j, search_fields, NULL, r) || !get_string(j, "query", &query, r)) goto done;
    if (!get_uint(j, "k", 1, s->lim.max_k, &k, r)) goto done;
    so.k = (size_t)k;
    if (!get_enum(j, "mode", modes, &mode, r) || !get_enum(j, "fusion", fusions, &fusion, r) ||
        !get_enum(j, "norm", norms, &norm, r) || !get_enum(j, "passage_score", pscores, &pscore, r))
        goto done;
    so.mode = (ds_search_mode)mode;
    so.fusion = (ds_fusion)fusion;
    so.norm = (ds_score_norm)norm;
    so.passage_score = (ds_passage_score)pscore;
#define U(key, field, lo, hi) do { u = so.field; if (!get_uint(j, key, lo, hi, &u, r)) goto done; so.field = u; } while (0)
    U("rrf_k", rrf_k, 0, 1000000);
    U("depth", depth, 1, 100000);
    U("rm3_docs", rm3_docs, 1, 1000);
    U("rm3_terms", rm3_terms, 1, 1000);
    U("rocchio_docs", rocchio_docs, 1, 1000);
    U("rerank_depth", rerank_depth, 1, 100000);
    U("snippet_bytes", snippet_bytes, 0, 100000);
    U("ef", ef_search, 1, 1u << 20);
    U("nprobe", nprobe, 1, 1u << 24);
#undef U
    if (!get_float(j, "alpha", 0, 1, &so.alpha, r) || !get_float(j, "rm3_weight", 0, 1, &so.rm3_weight, r) ||
        !get_float(j, "rocchio_alpha", 0, 100, &so.rocchio_alpha, r) ||
        !get_float(j, "rocchio_beta", 0, 100, &so.rocchio_beta, r))
        goto done;
    if (!get_prf(j, &so.prf, r) || !get_bool(j, "rerank", &rerank, r) || !get_bool(j, "with_text", &with_text, r)) goto done;
    so.with_text = with_text;
    const cJSON *hl = cJSON_GetObjectItemCaseSensitive(j, "highlight");
    if (hl != NULL) {
        if (!cJSON_IsArray(hl) || cJSON_GetArraySize(hl) != 2 || !cJSON_IsString(hl->child) ||
            !cJSON_IsString(hl->child->next) || strlen(hl->child->valuestring) > 64 ||
            strlen(hl->child->next->valuestring) > 64) {
            reply_error(r, 400, "invalid_request", "'highlight' must be two strings of at most 64 bytes, e.g. [\"<b>\", \"</b>\"]");
            goto done;
        }
        so.hl_open = hl->child->valuestring;
        so.hl_close = hl->child->next->valuestring;
    }
    if (rerank) {
        if (s->reranker == NULL) {
            reply_error(r, 400, "invalid_request", "'rerank': the server was started without a cross-encoder (--rerank DIR)");
            goto done;
        }
        so.reranker = s->reranker;
    }
    if (!get_filter(c, j, &filter, &so.filter_bits, r) || !get_vector(c, j, &qvec, r)) goto done;
    so.filter = filter;
    so.query_vectors = qvec;
    if (query == NULL && qvec == NULL) {
        reply_error(r, 400, "invalid_request", "'query' (a string) is required");
        goto done;
    }
    if (query == NULL) query = "";
    if (so.depth < so.k) so.depth = so.k;
    ds_status rc = ds_collection_search(c->coll, query, strlen(query), &so, &res);
    if (rc != DS_OK) {
        reply_status(r, rc, "search");
        goto done;
    }
    static const char *const mode_names[] = { "auto", "lexical", "dense", "hybrid" };
    sbuf *b = &r->body;
    reply_json(r);
    sb_puts(b, "{\"collection\": ");
    sb_json_str(b, c->name, strlen(c->name));
    sb_printf(b, ", \"mode\": \"%s\", \"hits\": [", mode_names[(unsigned)res->mode & 3]);
    for (size_t i = 0; i < res->n; i++) {
        const ds_hit *h = &res->hits[i];
        sb_printf(b, "%s\n  {\"rank\": %zu, \"id\": ", i ? "," : "", i + 1);
        sb_json_str(b, h->id, h->id_len);
        sb_puts(b, ", \"score\": ");
        sb_json_float(b, h->score);
        hit_component(b, "bm25", h->bm25, h->bm25_rank);
        hit_component(b, "dense", h->dense, h->dense_rank);
        hit_component(b, "fused", h->fused, h->fused_rank);
        hit_component(b, "rerank", h->rerank, h->rerank_rank);
        sb_printf(b, ", \"passage\": %u", h->passage);
        if (h->title) {
            sb_puts(b, ", \"title\": ");
            sb_json_str(b, h->title, h->title_len);
        }
        if (h->snippet) {
            sb_puts(b, ", \"snippet\": ");
            sb_json_str(b, h->snippet, h->snippet_len);
        }
        sb_puts(b, "}");
    }
    sb_puts(b, res->n ? "\n], \"expansion\": " : "], \"expansion\": ");
    if (res->expansion) sb_json_str(b, res->expansion, strlen(res->expansion));
    else sb_puts(b, "null");
    sb_printf(b, ", \"time\": {\"encode_ms\": %.3f, \"lexical_ms\": %.3f, \"dense_ms\": %.3f, \"rerank_ms\": %.3f, \"total_ms\": %.3f}}\n",
              1e3 * res->t_encode, 1e3 * res->t_lexical, 1e3 * res->t_dense, 1e3 * res->t_rerank, 1e3 * res->t_total);
    atomic_fetch_add_explicit(&s->m.search_hits, res->n, memory_order_relaxed);
done:
    ds_results_free(res);
    ds_free(filter);
    free(qvec);
    cJSON_Delete(j);
}

/* ---- POST /v1/embeddings ---------------------------------------------------------------- */

/* Token ids of one text, without a length limit (truncation is decided
** afterwards, so the request can be refused with the true count). */
static ds_status tokenize_all(const ds_tokenizer *tok, const char *text, size_t len, int32_t **ids, size_t *n) {
    size_t cap = len + 16;
    *ids = NULL;
    for (int attempt = 0; attempt < 2; attempt++) {
        int32_t *p = malloc(cap * sizeof *p);
        if (p == NULL) return DS_ERR_NOMEM;
        ds_status rc = ds_tokenizer_encode(tok, text, len, 0, p, cap, n);
        if (rc == DS_OK) {
            *ids = p;
            return DS_OK;
        }
        free(p);
        if (rc != DS_ERR_RANGE) return rc;
        cap = *n;   /* normalisation grew the text (e.g. NFKC ligatures): retry at the exact size */
    }
    return DS_ERR_INTERNAL;
}

/* Token ids of a JSON array of integers (malloc'd), or NULL with r filled. */
static int32_t *ids_of(const cJSON *a, size_t item, size_t vocab, size_t *n, reply *r) {
    size_t len = (size_t)cJSON_GetArraySize(a);
    if (len == 0) {
        reply_error(r, 400, "invalid_request", "input[%zu]: an empty token array", item);
        return NULL;
    }
    int32_t *p = malloc(len * sizeof *p);
    if (p == NULL) {
        reply_error(r, 503, "out_of_memory", "out of memory");
        return NULL;
    }
    size_t i = 0;
    for (const cJSON *e = a->child; e; e = e->next, i++) {
        double d = cJSON_IsNumber(e) ? e->valuedouble : -1;
        if (!(d >= 0 && d < (double)vocab) || d != floor(d)) {
            free(p);
            reply_error(r, 400, "invalid_request", "input[%zu][%zu]: token ids must be whole numbers from 0 to %zu", item, i,
                        vocab - 1);
            return NULL;
        }
        p[i] = (int32_t)d;
    }
    *n = len;
    return p;
}

void h_embeddings(srv *s, const char *body, size_t len, reply *r) {
    static const char *const formats[] = { "float", "base64", NULL };
    cJSON *j = parse_object(body, len, r);
    if (j == NULL) return;
    int32_t **seq = NULL;
    size_t *lens = NULL, n = 0, dim = 0;
    float *out = NULL;
    const char *model = NULL, *user = NULL;
    int fmt = 0, truncate = s->truncate;
    uint64_t dims = 0;
    const ds_encoder *enc = s->embed;
    if (!get_string(j, "model", &model, r) || !get_string(j, "user", &user, r) ||
        !get_enum(j, "encoding_format", formats, &fmt, r) || !get_bool(j, "truncate", &truncate, r) ||
        !get_uint(j, "dimensions", 1, 1u << 20, &dims, r))
        goto done;
    if (enc == NULL) {
        reply_error(r, 404, "model_not_found",
                    "this server has no embedding model: start it with --model DIR (or a collection built with a model)");
        goto done;
    }
    dim = ds_encoder_dim(enc);
    if (dims && dims != dim) {
        reply_error(r, 400, "invalid_request", "'dimensions': the model's embeddings have %zu dimensions; shortening them is not supported", dim);
        goto done;
    }
    const ds_tokenizer *tok = ds_encoder_tokenizer(enc);
    size_t vocab = tok ? ds_tokenizer_vocab_size(tok) : (size_t)INT32_MAX;
    const cJSON *in = cJSON_GetObjectItemCaseSensitive(j, "input");
    /* input: "text" | ["text", ...] | [id, ...] | [[id, ...], ...] */
    const cJSON *first = cJSON_IsArray(in) ? in->child : NULL;
    int kind;   /* 0 texts, 1 one token array, 2 token arrays */
    if (cJSON_IsString(in)) { kind = 0; n = 1; }
    else if (cJSON_IsArray(in) && first != NULL) {
        kind = cJSON_IsString(first) ? 0 : cJSON_IsNumber(first) ? 1 : cJSON_IsArray(first) ? 2 : -1;
        n = kind == 1 ? 1 : (size_t)cJSON_GetArraySize(in);
    } else kind = -1;
    if (kind < 0) {
        reply_error(r, 400, "invalid_request",
                    "'input' must be a string, a non-empty array of strings, an array of token ids or an array of token-id arrays");
        goto done;
    }
    if (n > s->lim.max_batch) {
        reply_error(r, 413, "batch_too_large", "'input' has %zu items; this server takes at most %zu per request", n, s->lim.max_batch);
        goto done;
    }
    if (kind == 0 && tok == NULL) {
        reply_error(r, 400, "invalid_request", "the model has no tokenizer: send token ids");
        goto done;
    }
    seq = calloc(n, sizeof *seq);
    lens = calloc(n, sizeof *lens);
    if (seq == NULL || lens == NULL) {
        reply_error(r, 503, "out_of_memory", "out of memory");
        goto done;
    }
    size_t maxlen = ds_encoder_max_seq_length(enc), tokens = 0;
    const cJSON *e = cJSON_IsString(in) ? in : first;
    for (size_t i = 0; i < n; i++, e = e ? e->next : NULL) {
        if (kind == 0) {
            if (!cJSON_IsString(e)) {
                reply_error(r, 400, "invalid_request", "input[%zu] must be a string, like the other items", i);
                goto done;
            }
            ds_status rc = tokenize_all(tok, e->valuestring, strlen(e->valuestring), &seq[i], &lens[i]);
            if (rc != DS_OK) {
                reply_status(r, rc, "tokenizer");
                goto done;
            }
        } else {
            const cJSON *arr = kind == 1 ? in : e;
            if (!cJSON_IsArray(arr)) {
                reply_error(r, 400, "invalid_request", "input[%zu] must be an array of token ids, like the other items", i);
                goto done;
            }
            if ((seq[i] = ids_of(arr, i, vocab, &lens[i], r)) == NULL) goto done;
        }
        if (lens[i] > maxlen) {
            if (!truncate) {
                reply_error(r, 400, "input_too_long",
                            "input[%zu] has %zu tokens; the model takes at most %zu (send \"truncate\": true to cut it)", i,
                            lens[i], maxlen);
                goto done;
            }
            /* keep the first maxlen - 1 ids and the last one (the [SEP]), as
            ** Hugging Face truncation and ds_encoder_encode_ids do */
            seq[i][maxlen - 1] = seq[i][lens[i] - 1];
            lens[i] = maxlen;
        }
        tokens += lens[i];
    }
    if ((out = malloc(n * dim * sizeof *out)) == NULL) {
        reply_error(r, 503, "out_of_memory", "out of memory");
        goto done;
    }
    /* Encoder calls of at most batch_tokens tokens (at least one input): the
    ** encoder sorts each call by length and runs it without padding, so the
    ** budget bounds activation memory, not speed. */
    for (size_t i = 0; i < n;) {
        size_t m = 0, t = 0;
        while (i + m < n && (m == 0 || t + lens[i + m] <= s->lim.batch_tokens)) t += lens[i + m++];
        ds_status rc = ds_encoder_encode_ids(enc, (const int32_t *const *)seq + i, lens + i, m, out + i * dim);
        if (rc != DS_OK) {
            reply_status(r, rc, "encoder");
            goto done;
        }
        atomic_fetch_add_explicit(&s->m.embed_batches, 1, memory_order_relaxed);
        i += m;
    }
    atomic_fetch_add_explicit(&s->m.embed_inputs, n, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->m.embed_tokens, tokens, memory_order_relaxed);
    sbuf *b = &r->body;
    reply_json(r);
    sb_puts(b, "{\"object\": \"list\", \"data\": [");
    for (size_t i = 0; i < n; i++) {
        sb_printf(b, "%s\n  {\"object\": \"embedding\", \"index\": %zu, \"embedding\": ", i ? "," : "", i);
        const float *v = out + i * dim;
        if (fmt == 1) {
            /* float32 little-endian bytes, as OpenAI's base64 format */
            unsigned char le[4 * 64];
            sb_put(b, "\"", 1);
            size_t d = 0;
            /* encode in groups of 48 floats (192 bytes, a multiple of 3) */
            while (d < dim) {
                size_t g = dim - d < 48 ? dim - d : 48;
                for (size_t x = 0; x < g; x++) {
                    uint32_t w;
                    memcpy(&w, v + d + x, 4);
                    le[4 * x] = (unsigned char)w;
                    le[4 * x + 1] = (unsigned char)(w >> 8);
                    le[4 * x + 2] = (unsigned char)(w >> 16);
                    le[4 * x + 3] = (unsigned char)(w >> 24);
                }
                sb_base64(b, le, 4 * g);
                d += g;
            }
            sb_put(b, "\"", 1);
        } else {
            sb_put(b, "[", 1);
            for (size_t d = 0; d < dim; d++) {
                if (d) sb_put(b, ",", 1);
                sb_json_float(b, v[d]);
            }
            sb_put(b, "]", 1);
        }
        sb_puts(b, "}");
    }
    sb_puts(b, "\n], \"model\": ");
    sb_json_str(b, s->embed_name, strlen(s->embed_name));
    sb_printf(b, ", \"usage\": {\"prompt_tokens\": %zu, \"total_tokens\": %zu}}\n", tokens, tokens);
done:
    for (size_t i = 0; seq && i < n; i++) free(seq[i]);
    free(seq);
    free(lens);
    free(out);
    cJSON_Delete(j);
}
