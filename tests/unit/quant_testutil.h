/* quant_testutil.h -- data and helpers shared by t_ivfpq.c and t_binary.c:
** a Gaussian-mixture generator, brute-force top-k, recall, file helpers and a
** section rewriter for crafted corrupt files. Header-only (static), so each
** test file stays self-contained. */
#ifndef DS_QUANT_TESTUTIL_H
#define DS_QUANT_TESTUTIL_H

#include "test.h"
#include "core/container.h"
#include "vector/index_impl.h"
#include "vector/quant.h"

#include <pthread.h>
#include <stdio.h>

/* n points of dim around n_clusters random centres (spread 1, noise sigma),
** optionally L2-normalised. */
static float *qt_mixture(size_t n, size_t dim, size_t n_clusters, float sigma, int normalize, uint64_t seed,
                         uint32_t *labels) {
    float *x = malloc(sizeof(float) * n * dim);
    float *c = malloc(sizeof(float) * n_clusters * dim);
    uint64_t s = ds__rng_seed(seed);
    for (size_t i = 0; i < n_clusters * dim; i++) c[i] = (float)ds__rng_normal(&s);
    for (size_t i = 0; i < n; i++) {
        size_t k = ds__rng_below(&s, n_clusters);
        if (labels) labels[i] = (uint32_t)k;
        double nn = 0;
        for (size_t j = 0; j < dim; j++) {
            float v = c[k * dim + j] + sigma * (float)ds__rng_normal(&s);
            x[i * dim + j] = v;
            nn += (double)v * v;
        }
        if (normalize && nn > 0)
            for (size_t j = 0; j < dim; j++) x[i * dim + j] = (float)(x[i * dim + j] / sqrt(nn));
    }
    free(c);
    return x;
}

/* Base and held-out queries from the same mixture: n + nq points, the last nq
** copied out as queries. */
static float *qt_mixture_q(size_t n, size_t nq, size_t dim, size_t n_clusters, float sigma, int normalize,
                           uint64_t seed, float **queries) {
    float *x = qt_mixture(n + nq, dim, n_clusters, sigma, normalize, seed, NULL);
    *queries = malloc(sizeof(float) * nq * dim);
    memcpy(*queries, x + n * dim, sizeof(float) * nq * dim);
    return x;
}

static double qt_score(ds_metric m, const float *a, const float *b, size_t dim) {
    double s = 0, na = 0, nb = 0;
    for (size_t j = 0; j < dim; j++) {
        if (m == DS_METRIC_L2) s -= ((double)a[j] - b[j]) * ((double)a[j] - b[j]);
        else s += (double)a[j] * b[j];
        na += (double)a[j] * a[j];
        nb += (double)b[j] * b[j];
    }
    if (m == DS_METRIC_COSINE) s = (na > 0 && nb > 0) ? s / sqrt(na * nb) : 0;
    return s;
}

/* Exact top-k ids (ids = row numbers) of each query; allowed may be NULL. */
static void qt_brute(ds_metric m, const float *x, size_t n, size_t dim, const float *q, size_t nq, size_t k,
                     const uint8_t *allowed, uint64_t *out) {
    double *best = malloc(sizeof(double) * k);
    for (size_t qi = 0; qi < nq; qi++) {
        uint64_t *o = out + qi * k;
        for (size_t j = 0; j < k; j++) { best[j] = -INFINITY; o[j] = UINT64_MAX; }
        for (size_t i = 0; i < n; i++) {
            if (allowed && !allowed[i]) continue;
            double s = qt_score(m, q + qi * dim, x + i * dim, dim);
            if (s <= best[k - 1]) continue;
            size_t p = k - 1;
            while (p > 0 && best[p - 1] < s) { best[p] = best[p - 1]; o[p] = o[p - 1]; p--; }
            best[p] = s;
            o[p] = i;
        }
    }
    free(best);
}

static double qt_recall(const uint64_t *got, const uint64_t *truth, size_t nq, size_t k) {
    size_t hit = 0, total = 0;
    for (size_t q = 0; q < nq; q++)
        for (size_t j = 0; j < k; j++) {
            if (truth[q * k + j] == UINT64_MAX) continue;
            total++;
            for (size_t t = 0; t < k; t++)
                if (got[q * k + t] == truth[q * k + j]) { hit++; break; }
        }
    return total ? (double)hit / (double)total : 1.0;
}

static uint8_t *qt_read_file(const char *path, size_t *n) {
    *n = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc(sz > 0 ? (size_t)sz : 1);
    *n = fread(b, 1, (size_t)sz, f);
    fclose(f);
    return b;
}

static void qt_write_file(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    if (f) { fwrite(p, 1, n, f); fclose(f); }
}

/* Copies every section of src into dst (valid checksums), letting mutate
** replace the bytes of one kind: mutate gets a malloc'd copy and its length
** and may realloc/shrink it. */
typedef void (*qt_mutate_fn)(uint8_t **p, size_t *len, void *ud);
static ds_status qt_rewrite(const char *src, const char *dst, uint32_t kind, qt_mutate_fn fn, void *ud) {
    ds__creader *r;
    ds_status rc = ds__cr_open(NULL, src, 0, 0, &r);
    if (rc != DS_OK) return rc;
    ds__cwriter *w;
    rc = ds__cw_open(NULL, dst, r->file_kind, r->format_major, r->format_minor, r->min_reader_minor, &w);
    if (rc != DS_OK) { ds__cr_close(r); return rc; }
    for (uint32_t i = 0; i < r->n_sections; i++) {
        const ds__section *s = &r->sections[i];
        size_t len = (size_t)s->length;
        uint8_t *p = malloc(len ? len : 1);
        memcpy(p, r->base + s->offset, len);
        if (s->kind == kind) fn(&p, &len, ud);
        ds__cw_section(w, s->kind, s->flags, p, len);
        free(p);
    }
    ds__cr_close(r);
    return ds__cw_commit(w);
}

/* Opening must fail with `want` both plain and verified, and check must fail. */
static void qt_expect_open_fails(const char *path, ds_status want) {
    ds_index *ix = NULL;
    ASSERT_RC(ds_index_open(NULL, path, 0, &ix), want);
    ASSERT(ix == NULL);
    ASSERT_RC(ds_index_open(NULL, path, DS_OPEN_VERIFY, &ix), want);
    ASSERT(ds_check(NULL, path) != DS_OK);
}

/* Truncations and bit flips of a valid file: never a crash; with VERIFY every
** damaged file is refused. Searches on the files that still open must work. */
static void qt_fuzz_file(const char *path, const float *q, size_t dim) {
    size_t n = 0;
    uint8_t *b = qt_read_file(path, &n);
    ASSERT(b != NULL && n > 64);
    char tmp[512];
    snprintf(tmp, sizeof tmp, "%s.bad", path);
    size_t cuts[] = { 0, 1, 63, 64, 100, n / 3, n / 2, n - 65, n - 40, n - 1 };
    for (size_t i = 0; i < DS_ARRAY_LEN(cuts); i++) {
        qt_write_file(tmp, b, cuts[i]);
        ds_index *ix = NULL;
        ds_status rc = ds_index_open(NULL, tmp, 0, &ix);
        ASSERT(rc == DS_ERR_CORRUPT || rc == DS_ERR_FORMAT || rc == DS_ERR_IO);
        ASSERT(ix == NULL);
    }
    uint64_t s = 12345;
    for (int t = 0; t < 60; t++) {
        size_t pos = ds__rng_below(&s, n);
        uint8_t bit = (uint8_t)(1u << ds__rng_below(&s, 8));
        b[pos] ^= bit;
        qt_write_file(tmp, b, n);
        ds_index *ix = NULL;
        ds_status rc = ds_index_open(NULL, tmp, DS_OPEN_VERIFY, &ix);
        ASSERT(rc != DS_OK);
        rc = ds_index_open(NULL, tmp, 0, &ix);
        if (rc == DS_OK) {
            uint64_t ids[10];
            float sc[10];
            ds_index_search(ix, q, 1, 10, NULL, ids, sc, NULL);
            ds_index_close(ix);
        } else {
            ASSERT(rc == DS_ERR_CORRUPT || rc == DS_ERR_FORMAT);
        }
        b[pos] ^= bit;
    }
    (void)dim;
    free(b);
}

/* Concurrent searches: 4 threads x the same queries must equal serial results. */
typedef struct qt_thread {
    const ds_index *ix;
    const float *q;
    size_t nq, k;
    const ds_search_opts *so;
    uint64_t *ids;
    float *sc;
    ds_status rc;
} qt_thread;

static void *qt_thread_main(void *arg) {
    qt_thread *t = arg;
    t->rc = DS_OK;
    for (size_t i = 0; i < t->nq && t->rc == DS_OK; i++)
        t->rc = ds_index_search(t->ix, t->q + i * ds_index_dim(t->ix), 1, t->k, t->so, t->ids + i * t->k, t->sc + i * t->k, NULL);
    return NULL;
}

static void qt_concurrent_equals_serial(const ds_index *ix, const float *q, size_t nq, size_t k, const ds_search_opts *so) {
    uint64_t *ref = malloc(sizeof(uint64_t) * nq * k);
    float *rs = malloc(sizeof(float) * nq * k);
    ASSERT_OK(ds_index_search(ix, q, nq, k, so, ref, rs, NULL));
    enum { T = 4 };
    pthread_t th[T];
    qt_thread ctx[T];
    for (int i = 0; i < T; i++) {
        ctx[i] = (qt_thread){ ix, q, nq, k, so, malloc(sizeof(uint64_t) * nq * k), malloc(sizeof(float) * nq * k), DS_OK };
        pthread_create(&th[i], NULL, qt_thread_main, &ctx[i]);
    }
    for (int i = 0; i < T; i++) {
        pthread_join(th[i], NULL);
        ASSERT_OK(ctx[i].rc);
        ASSERT(memcmp(ctx[i].ids, ref, sizeof(uint64_t) * nq * k) == 0);
        ASSERT(memcmp(ctx[i].sc, rs, sizeof(float) * nq * k) == 0);
        free(ctx[i].ids);
        free(ctx[i].sc);
    }
    free(ref);
    free(rs);
}

#endif /* DS_QUANT_TESTUTIL_H */
