/* util.c -- the server's output buffer, request-body checks and metrics.
**
** The body checks run on the raw bytes before cJSON sees them: cJSON accepts
** invalid UTF-8 and recurses once per nesting level, so a hostile body is
** refused here with a 400 naming the offset instead.
*/
#include "srv.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

double srv_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- sbuf -------------------------------------------------------------------- */

static int sb_reserve(sbuf *b, size_t extra) {
    if (b->oom) return 0;
    if (extra <= b->cap - b->n) return 1;
    size_t need = b->n + extra, cap = b->cap ? b->cap : 256;
    if (need < b->n) { b->oom = 1; return 0; }
    while (cap < need) {
        if (cap > SIZE_MAX / 2) { cap = need; break; }
        cap *= 2;
    }
    char *p = realloc(b->p, cap + 1);   /* +1: always room for a NUL */
    if (p == NULL) { b->oom = 1; return 0; }
    b->p = p;
    b->cap = cap;
    return 1;
}

void sb_put(sbuf *b, const char *s, size_t n) {
    if (!sb_reserve(b, n)) return;
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

void sb_puts(sbuf *b, const char *s) { sb_put(b, s, strlen(s)); }

void sb_printf(sbuf *b, const char *fmt, ...) {
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (k < 0) { b->oom = 1; return; }
    if ((size_t)k < sizeof tmp) { sb_put(b, tmp, (size_t)k); return; }
    if (!sb_reserve(b, (size_t)k)) return;
    va_start(ap, fmt);
    vsnprintf(b->p + b->n, (size_t)k + 1, fmt, ap);
    va_end(ap);
    b->n += (size_t)k;
}

void sb_json_str(sbuf *b, const char *s, size_t n) {
    static const char hex[] = "0123456789abcdef";
    if (!sb_reserve(b, n + 2)) return;
    b->p[b->n++] = '"';
    size_t run = 0;   /* bytes copied as they are, flushed in one memcpy */
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch >= 0x20 && ch != '"' && ch != '\\' && ch != 0x7f) continue;
        sb_put(b, s + run, i - run);
        run = i + 1;
        char e[6] = { '\\', 0, 0, 0, 0, 0 };
        size_t el = 2;
        switch (ch) {
        case '"': e[1] = '"'; break;
        case '\\': e[1] = '\\'; break;
        case '\n': e[1] = 'n'; break;
        case '\r': e[1] = 'r'; break;
        case '\t': e[1] = 't'; break;
        default:
            e[1] = 'u'; e[2] = '0'; e[3] = '0'; e[4] = hex[ch >> 4]; e[5] = hex[ch & 15];
            el = 6;
        }
        sb_put(b, e, el);
    }
    sb_put(b, s + run, n - run);
    sb_put(b, "\"", 1);
}

void sb_json_float(sbuf *b, float v) {
    if (!isfinite(v)) { sb_put(b, "null", 4); return; }
    char tmp[32];
    int k = snprintf(tmp, sizeof tmp, "%.9g", (double)v);
    sb_put(b, tmp, (size_t)k);
}

void sb_base64(sbuf *b, const void *data, size_t n) {
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *p = data;
    if (!sb_reserve(b, (n + 2) / 3 * 4)) return;
    char *o = b->p + b->n;
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        unsigned v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8 | p[i + 2];
        *o++ = tab[v >> 18]; *o++ = tab[(v >> 12) & 63]; *o++ = tab[(v >> 6) & 63]; *o++ = tab[v & 63];
    }
    if (i < n) {
        unsigned v = (unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0u);
        *o++ = tab[v >> 18];
        *o++ = tab[(v >> 12) & 63];
        *o++ = i + 1 < n ? tab[(v >> 6) & 63] : '=';
        *o++ = '=';
    }
    b->n = (size_t)(o - b->p);
    b->p[b->n] = '\0';
}

void sb_free(sbuf *b) {
    free(b->p);
    memset(b, 0, sizeof *b);
}

/* ---- body checks -------------------------------------------------------------- */

int utf8_valid(const char *str, size_t n, size_t *bad) {
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        if (c < 0x80) { i++; continue; }
        size_t len;
        unsigned cp, min;
        if (c >= 0xc2 && c <= 0xdf) { len = 2; cp = c & 0x1f; min = 0x80; }
        else if (c >= 0xe0 && c <= 0xef) { len = 3; cp = c & 0x0f; min = 0x800; }
        else if (c >= 0xf0 && c <= 0xf4) { len = 4; cp = c & 0x07; min = 0x10000; }
        else goto fail;
        if (n - i < len) goto fail;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80) goto fail;
            cp = cp << 6 | (s[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) goto fail;
        i += len;
    }
    return 1;
fail:
    *bad = i;
    return 0;
}

int json_depth(const char *s, size_t n, int limit) {
    int d = 0, max = 0, in_str = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (in_str) {
            if (c == '\\') i++;
            else if (c == '"') in_str = 0;
            continue;
        }
        if (c == '"') in_str = 1;
        else if (c == '[' || c == '{') {
            if (++d > max && (max = d) > limit) return limit + 1;
        } else if ((c == ']' || c == '}') && d > 0) d--;
    }
    return max;
}

/* ---- metrics -------------------------------------------------------------------- */

const char *const route_names[ROUTE_COUNT] = {
    "embeddings", "search", "collection", "collections", "documents", "health", "metrics", "other"
};

/* Upper bounds (seconds) of the latency buckets; the last bucket is +Inf. */
const double metric_bounds[METRIC_BUCKETS] = { 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                               0.1,    0.25,  0.5,    1,     2.5,  5,     10 };

void metrics_observe(metrics *m, int route, unsigned status, double seconds) {
    if (route < 0 || route >= ROUTE_COUNT) route = ROUTE_OTHER;
    if (status >= 100 && status < 600) atomic_fetch_add_explicit(&m->status[route][status - 100], 1, memory_order_relaxed);
    int b = 0;
    while (b < METRIC_BUCKETS && seconds > metric_bounds[b]) b++;
    /* buckets are stored non-cumulative and summed when printed */
    atomic_fetch_add_explicit(&m->bucket[route][b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->sum_us[route], (uint64_t)(seconds * 1e6 + 0.5), memory_order_relaxed);
}
