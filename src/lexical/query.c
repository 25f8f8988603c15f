/* query.c -- prepared (analysed-once) lexical queries, weighted queries and
** RM3 pseudo-relevance feedback (docs/lexical.md, "Prepared queries" and
** "RM3").
**
** A ds_lexical_query holds its distinct terms (bytes + weight) in listing
** order, and, for the index it was created on, the terms present in the
** lexicon sorted by term number: the canonical summation order that
** ds__lx_search_terms needs to return the same scores pruned or exhaustive.
** Searching it on another index with the same analysis looks the terms up
** again (binary search per term, no analyzer).
**
** RM3 follows Anserini's Rm3Reranker and FeatureVector (cited in
** docs/lexical.md) operation by operation, including where Java computes in
** float and where in double, so the weights match for the same feedback
** documents. Feedback documents' term vectors are rebuilt by re-analysing
** their text with the index's analyzer: the index keeps no forward vectors.
**
** Thread: a query is immutable once built; every function here allocates its
** own scratch, so calls may run concurrently.
*/
#include "lexical/lexical.h"

#include <float.h>
#include <stdlib.h>

/* ---- building a query ------------------------------------------------------ */

/* Distinct terms gathered in order of first appearance, weights summed. */
typedef struct qbuild {
    ds_env       *env;
    ds__lx_qterm *t;
    size_t        n, cap;
    ds__buf       str;
    ds_status     rc;
} qbuild;

static void qb_init(qbuild *b, ds_env *env) {
    memset(b, 0, sizeof *b);
    b->env = env;
    ds__buf_init(&b->str, env);
}

static void qb_release(qbuild *b) {
    ds__free(b->env, b->t, b->cap * sizeof *b->t);
    ds__buf_release(&b->str);
}

static void qb_add(qbuild *b, const char *term, size_t len, float w) {
    if (b->rc != DS_OK) return;
    for (size_t i = 0; i < b->n; i++)
        if (b->t[i].len == len && memcmp(b->str.p + b->t[i].off, term, len) == 0) {
            b->t[i].w += w;
            return;
        }
    if (b->n == DS__LX_MAX_QUERY_TERMS) {
        b->rc = ds__fail(DS_ERR_RANGE, "query has more than %d distinct terms", DS__LX_MAX_QUERY_TERMS);
        return;
    }
    if (len > UINT32_MAX || b->str.len > UINT32_MAX - len) { b->rc = ds__fail(DS_ERR_RANGE, "query terms too long"); return; }
    if (b->n == b->cap) {
        size_t nc = b->cap ? 2 * b->cap : 16;
        ds__lx_qterm *nt = ds__realloc(b->env, b->t, b->cap * sizeof *nt, nc * sizeof *nt);
        if (nt == NULL) { b->rc = ds__fail(DS_ERR_NOMEM, "out of memory"); return; }
        b->t = nt;
        b->cap = nc;
    }
    ds__lx_qterm *q = &b->t[b->n];
    q->off = (uint32_t)b->str.len;
    q->len = (uint32_t)len;
    q->w = w;
    q->term = -1;
    ds__buf_put(&b->str, term, len);
    if (b->str.rc != DS_OK) { b->rc = ds__fail(DS_ERR_NOMEM, "out of memory"); return; }
    b->n++;
}

static int cmp_wterm(const void *a, const void *b) {
    uint32_t x = ((const ds__lx_wterm *)a)->term, y = ((const ds__lx_wterm *)b)->term;
    return (x > y) - (x < y);
}

/* Looks up n terms (bytes in str) in lx; writes the present ones with weight
** > 0 to res sorted by term number, their count to *n_res, and each term's
** number (or -1) to t[i].term when set_terms. */
static ds_status resolve_terms(const ds_lexical *lx, ds__lx_qterm *t, size_t n, const char *str, int set_terms,
                               ds__lx_wterm *res, size_t *n_res) {
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t id = ds__lx_find_term(lx, str + t[i].off, t[i].len);
        if (id == -2) return ds__fail(DS_ERR_CORRUPT, "lexicon offsets out of bounds");
        if (set_terms) t[i].term = id;
        if (id >= 0 && t[i].w > 0.0f) {
            res[m].term = (uint32_t)id;
            res[m].w = t[i].w;
            res[m].gdf = 0;
            res[m].qi = (uint32_t)i;
            m++;
        }
    }
    qsort(res, m, sizeof *res, cmp_wterm);
    *n_res = m;
    return DS_OK;
}

/* Turns the gathered terms into one allocation; terms of weight <= 0 are left
** out. */
static ds_status qb_finish(qbuild *b, const ds_lexical *lx, ds_lexical_query **out) {
    *out = NULL;
    if (b->rc != DS_OK) return b->rc;
    size_t n = 0, nstr = 0;
    for (size_t i = 0; i < b->n; i++)
        if (b->t[i].w > 0.0f) { n++; nstr += b->t[i].len; }
    /* struct, n qterms, n wterms, string bytes: every part's size is bounded
    ** by DS__LX_MAX_QUERY_TERMS and the builder's buffer, so no overflow */
    size_t off_t = (sizeof(ds_lexical_query) + 7) & ~(size_t)7;
    size_t off_w = off_t + n * sizeof(ds__lx_qterm);
    size_t off_s = off_w + n * sizeof(ds__lx_wterm);
    size_t bytes = off_s + nstr + 1;
    uint8_t *mem = ds__alloc(lx->env, bytes, 64);
    if (mem == NULL) return ds__fail(DS_ERR_NOMEM, "out of memory");
    ds_lexical_query *q = (ds_lexical_query *)mem;
    memset(q, 0, sizeof *q);
    q->env = lx->env;
    q->lx = lx;
    q->lx_serial = lx->serial;
    q->an = lx->meta.an;
    q->t = (ds__lx_qterm *)(mem + off_t);
    q->res = (ds__lx_wterm *)(mem + off_w);
    q->str = (char *)(mem + off_s);
    q->bytes = bytes;
    size_t at = 0;
    for (size_t i = 0; i < b->n; i++) {
        if (!(b->t[i].w > 0.0f)) continue;
        ds__lx_qterm *t = &q->t[q->n++];
        *t = b->t[i];
        memcpy(q->str + at, b->str.p + b->t[i].off, t->len);
        t->off = (uint32_t)at;
        at += t->len;
    }
    q->str[at] = '\0';
    ds_status rc = resolve_terms(lx, q->t, q->n, q->str, 1, q->res, &q->n_res);
    if (rc != DS_OK) {
        ds__free(lx->env, mem, bytes);
        return rc;
    }
    *out = q;
    return DS_OK;
}

void ds_lexical_query_free(ds_lexical_query *q) {
    if (q == NULL) return;
    ds__free(q->env, q, q->bytes);
}

size_t ds_lexical_query_n_terms(const ds_lexical_query *q) { return q ? q->n : 0; }

const char *ds_lexical_query_term(const ds_lexical_query *q, size_t i, size_t *len, float *weight) {
    if (len) *len = 0;
    if (weight) *weight = 0.0f;
    if (q == NULL || i >= q->n) return NULL;
    if (len) *len = q->t[i].len;
    if (weight) *weight = q->t[i].w;
    return q->str + q->t[i].off;
}

static void add_text_term(void *ud, const char *term, size_t len, size_t rb, size_t re) {
    DS_UNUSED(rb);
    DS_UNUSED(re);
    qb_add(ud, term, len, 1.0f);   /* weight = qtf */
}

ds_status ds__lx_query_analyze(const ds_lexical *lx, ds__analyzer *an, const char *text, size_t len,
                               ds_lexical_query **out) {
    *out = NULL;
    qbuild b;
    qb_init(&b, lx->env);
    ds_status rc = ds__analyze(an, text, len, add_text_term, &b);
    if (rc != DS_OK && b.rc == DS_OK) b.rc = rc;
    rc = qb_finish(&b, lx, out);
    qb_release(&b);
    return rc;
}

ds_status ds_lexical_query_create(const ds_lexical *lx, const char *text, size_t len, ds_lexical_query **out) {
    if (out) *out = NULL;
    if (lx == NULL || text == NULL || out == NULL) return ds__fail(DS_ERR_INVALID, "ds_lexical_query_create: NULL argument");
    ds__analyzer *an = NULL;
    ds_status rc = ds__analyzer_create(lx->env, &lx->meta.an, &an);
    if (rc == DS_OK) rc = ds__lx_query_analyze(lx, an, text, len, out);
    ds__analyzer_destroy(an);
    return rc;
}

ds_status ds_lexical_query_create_weighted(const ds_lexical *lx, const char *const *terms, const size_t *lens,
                                           const float *weights, size_t n, ds_lexical_query **out) {
    if (out) *out = NULL;
    if (lx == NULL || out == NULL || (n > 0 && (terms == NULL || weights == NULL)))
        return ds__fail(DS_ERR_INVALID, "ds_lexical_query_create_weighted: NULL argument");
    for (size_t i = 0; i < n; i++) {
        if (terms[i] == NULL) return ds__fail(DS_ERR_INVALID, "term %zu is NULL", i);
        if ((lens ? lens[i] : strlen(terms[i])) == 0) return ds__fail(DS_ERR_INVALID, "term %zu is empty", i);
        if (!(weights[i] >= 0.0f && weights[i] <= FLT_MAX))
            return ds__fail(DS_ERR_INVALID, "term %zu: weight %g (must be finite and >= 0)", i, (double)weights[i]);
    }
    qbuild b;
    qb_init(&b, lx->env);
    for (size_t i = 0; i < n && b.rc == DS_OK; i++) {
        if (weights[i] == 0.0f) continue;
        qb_add(&b, terms[i], lens ? lens[i] : strlen(terms[i]), weights[i]);
    }
    for (size_t i = 0; i < b.n && b.rc == DS_OK; i++)   /* summed weights may overflow */
        if (!(b.t[i].w <= FLT_MAX)) b.rc = ds__fail(DS_ERR_INVALID, "summed weight of a repeated term is not finite");
    ds_status rc = qb_finish(&b, lx, out);
    qb_release(&b);
    return rc;
}

/* ---- searching ------------------------------------------------------------- */

/* q's present terms for lx: its own list, or (another index) a fresh lookup
** into *owned (release with ds__free(env, *owned, q->n * sizeof **owned)). */
static ds_status query_terms_for(const ds_lexical *lx, const ds_lexical_query *q, const ds__lx_wterm **res,
                                 size_t *n_res, ds__lx_wterm **owned) {
    *owned = NULL;
    if (q->lx == lx && q->lx_serial == lx->serial) {
        *res = q->res;
        *n_res = q->n_res;
        return DS_OK;
    }
    if (!ds__lx_an_same(&q->an, &lx->meta.an))
        return ds__fail(DS_ERR_INVALID, "query was analysed for an index with another analyzer (stemmer '%s', index '%s')",
                        q->an.stemmer, lx->meta.an.stemmer);
    *res = NULL;
    *n_res = 0;
    if (q->n == 0) return DS_OK;
    ds__lx_wterm *w = ds__alloc(lx->env, q->n * sizeof *w, 64);
    if (w == NULL) return ds__fail(DS_ERR_NOMEM, "out of memory");
    ds_status rc = resolve_terms(lx, q->t, q->n, q->str, 0, w, n_res);
    if (rc != DS_OK) {
        ds__free(lx->env, w, q->n * sizeof *w);
        return rc;
    }
    *res = *owned = w;
    return DS_OK;
}

static ds_status search_plain(const ds_lexical *lx, const ds_lexical_query *q, size_t k, const ds__lx_params *p,
                              ds_lexical_hit *hits, size_t *n_hits) {
    const ds__lx_wterm *res;
    size_t n_res;
    ds__lx_wterm *owned;
    ds_status rc = query_terms_for(lx, q, &res, &n_res, &owned);
    if (rc == DS_OK && p->g != NULL && n_res > 0) {
        /* collection-wide df of each term, on a copy (q's own list is shared) */
        if (owned == NULL) {
            if ((owned = ds__alloc(lx->env, q->n * sizeof *owned, 64)) == NULL) rc = ds__fail(DS_ERR_NOMEM, "out of memory");
            else memcpy(owned, res, n_res * sizeof *owned);
        }
        for (size_t i = 0; rc == DS_OK && i < n_res; i++) {
            const ds__lx_qterm *t = &q->t[owned[i].qi];
            owned[i].gdf = p->g->df(p->g->df_ud, q->str + t->off, t->len);
        }
        res = owned;
    }
    if (rc == DS_OK) rc = ds__lx_search_terms(lx, res, n_res, k, p, hits, n_hits);
    ds__free(lx->env, owned, q->n * sizeof *owned);
    return rc;
}

static ds_status rm3_expand(const ds_lexical *lx, ds__analyzer *an, const ds_lexical_query *q, const ds__lx_params *p,
                            ds_lexical_query **out);

ds_status ds__lx_query_search(const ds_lexical *lx, ds__analyzer *an, const ds_lexical_query *q, size_t k,
                              const ds__lx_params *p, ds_lexical_hit *hits, size_t *n_hits) {
    *n_hits = 0;
    if (p->rm3_docs == 0) return search_plain(lx, q, k, p, hits, n_hits);
    if (k == 0) return DS_OK;
    ds_lexical_query *e = NULL;
    ds_status rc = rm3_expand(lx, an, q, p, &e);
    if (rc == DS_OK) rc = search_plain(lx, e, k, p, hits, n_hits);
    ds_lexical_query_free(e);
    return rc;
}

ds_status ds_lexical_search_query(const ds_lexical *lx, const ds_lexical_query *q, size_t k,
                                  const ds_lexical_search_opts *opts, ds_lexical_hit *hits, size_t *n_hits) {
    if (n_hits) *n_hits = 0;
    if (lx == NULL || q == NULL || n_hits == NULL || (hits == NULL && k > 0))
        return ds__fail(DS_ERR_INVALID, "ds_lexical_search_query: NULL argument");
    ds__lx_params p;
    ds_status rc = ds__lx_params_read(lx, opts, &p);
    if (rc == DS_OK) rc = ds__lx_query_search(lx, NULL, q, k, &p, hits, n_hits);
    return rc;
}

ds_status ds_lexical_query_rm3(const ds_lexical *lx, const ds_lexical_query *q, const ds_lexical_search_opts *opts,
                               ds_lexical_query **out) {
    if (out) *out = NULL;
    if (lx == NULL || q == NULL || out == NULL) return ds__fail(DS_ERR_INVALID, "ds_lexical_query_rm3: NULL argument");
    ds__lx_params p;
    ds_status rc = ds__lx_params_read(lx, opts, &p);
    if (rc != DS_OK) return rc;
    if (p.rm3_docs == 0) p.rm3_docs = DS_LEXICAL_RM3_DOCS;   /* asking for the expansion turns RM3 on */
    if ((rc = ds__lx_params_check_rm3(&p)) != DS_OK) return rc;
    return rm3_expand(lx, NULL, q, &p, out);
}

/* ---- RM3 ----------------------------------------------------------------------- */
/* Anserini's estimateRelevanceModel / createdFeatureVector / interpolate. The
** line-by-line correspondence is in docs/lexical.md; in short:
**   doc vector  = tf of each term of the feedback document that has 2..20
**                 bytes, only [a-z0-9], and df / N <= 0.1 (float), pruned to
**                 its fbTerms largest tf;
**   fb weight   = sum over feedback docs of (tf / |doc vector|_1) * score,
**                 skipping docs whose |doc vector|_1 <= 0.001;
**   relevance model = fb weights pruned to fbTerms, scaled to unit L1;
**   final       = w * q / |q|_1 + (1 - w) * relevance model.
** Java's prune sorts by weight only, so equal weights come out in hash
** order; here ties go to the smaller term bytes, so runs are reproducible. */

typedef struct fterm {
    const char *s;      /* term bytes (in a pool that outlives the entry) */
    uint32_t    len;
    uint32_t    doc;    /* feedback rank */
    float       v;      /* tf, then the feedback weight */
} fterm;

static int cmp_bytes(const char *a, size_t al, const char *b, size_t bl) {
    int c = memcmp(a, b, al < bl ? al : bl);
    return c ? c : (al > bl) - (al < bl);
}

static int cmp_fterm_bytes_doc(const void *x, const void *y) {
    const fterm *a = x, *b = y;
    int c = cmp_bytes(a->s, a->len, b->s, b->len);
    return c ? c : (a->doc > b->doc) - (a->doc < b->doc);
}

/* weight descending, then term bytes ascending */
static int cmp_fterm_weight(const void *x, const void *y) {
    const fterm *a = x, *b = y;
    if (a->v != b->v) return a->v > b->v ? -1 : 1;
    return cmp_bytes(a->s, a->len, b->s, b->len);
}

/* Terms of one feedback document as they are analysed: spans into `bytes`. */
typedef struct dvec {
    ds__buf  bytes;
    ds__buf  spans;   /* pairs of u32 (offset, length) */
} dvec;

static int term_ok(const char *t, size_t len) {
    if (len < 2 || len > 20) return 0;   /* Java String length; ASCII here, so bytes */
    for (size_t i = 0; i < len; i++)
        if (!((t[i] >= 'a' && t[i] <= 'z') || (t[i] >= '0' && t[i] <= '9'))) return 0;
    return 1;
}

static void dvec_term(void *ud, const char *term, size_t len, size_t rb, size_t re) {
    DS_UNUSED(rb);
    DS_UNUSED(re);
    dvec *v = ud;
    if (!term_ok(term, len)) return;   /* filtered before counting: the filter is per term */
    uint32_t sp[2] = { (uint32_t)v->bytes.len, (uint32_t)len };
    ds__buf_put(&v->bytes, term, len);
    ds__buf_put(&v->spans, sp, sizeof sp);
}

/* Text of feedback document doc, analysed into v. */
static ds_status doc_terms(const ds_lexical *lx, ds__analyzer *an, const ds__lx_params *p, uint32_t doc, dvec *v) {
    ds_status rc;
    if (p->doc_text != NULL) {
        char *text = NULL;
        size_t len = 0;
        rc = p->doc_text(p->doc_text_ud, doc, &text, &len);
        if (rc != DS_OK) {
            ds_free(text);
            return ds__fail_prefix(rc, "RM3: text of feedback document %u: ", doc);
        }
        if (text == NULL && len > 0) return ds__fail(DS_ERR_INVALID, "RM3: doc_text gave no text for document %u", doc);
        if (text != NULL) rc = ds__analyze(an, text, len, dvec_term, v);
        ds_free(text);
        return rc;
    }
    char *title = NULL, *text = NULL;
    size_t tl = 0, xl = 0;
    rc = ds_lexical_doc(lx, doc, &title, &tl, &text, &xl);
    if (rc == DS_ERR_NOTFOUND)
        rc = ds__fail(rc, "RM3 needs the feedback documents' text: the index stores none and no doc_text callback was given");
    /* title and text are analysed apart, as the index builder does */
    if (rc == DS_OK) rc = ds__analyze(an, title, tl, dvec_term, v);
    if (rc == DS_OK) rc = ds__analyze(an, text, xl, dvec_term, v);
    ds_free(title);
    ds_free(text);
    return rc;
}

/* Where the feedback documents' terms come from: the i-th best document
** (0-based) is analysed into v. */
typedef ds_status (*fb_terms_fn)(void *ctx, ds__analyzer *an, size_t i, dvec *v);

/* The expansion of q from n feedback documents with first-stage scores
** scores[0..n), best first. */
static ds_status rm3_core(const ds_lexical *lx, ds__analyzer *an, const ds_lexical_query *q, const ds__lx_params *p,
                          size_t n, const float *scores, fb_terms_fn terms_of, void *ctx, ds_lexical_query **out) {
    *out = NULL;
    ds_env *env = lx->env;
    ds__analyzer *own_an = NULL;
    float *norms = NULL;
    dvec v;
    ds__buf pool, ft;         /* pool: bytes of kept terms; ft: fterm entries */
    fterm *tmp = NULL;
    size_t tmp_cap = 0, slot_cap = 0;
    uint32_t *slots = NULL;
    qbuild b;
    ds__buf_init(&v.bytes, env);
    ds__buf_init(&v.spans, env);
    ds__buf_init(&pool, env);
    ds__buf_init(&ft, env);
    qb_init(&b, env);
    ds_status rc = DS_OK;
    if (an == NULL && n > 0) {
        if ((rc = ds__analyzer_create(env, &lx->meta.an, &own_an)) != DS_OK) goto done;
        an = own_an;
    }
    if ((norms = ds__alloc(env, (n ? n : 1) * sizeof *norms, 64)) == NULL) { rc = ds__fail(DS_ERR_NOMEM, "out of memory"); goto done; }

    /* 1. each feedback document's vector, pruned to rm3_terms */
    float ndocs = (float)(p->g ? p->g->n_docs : lx->meta.n_docs);
    for (size_t i = 0; i < n; i++) {
        v.bytes.len = v.spans.len = 0;
        if ((rc = terms_of(ctx, an, i, &v)) != DS_OK) goto done;
        if (v.bytes.rc != DS_OK || v.spans.rc != DS_OK) { rc = ds__fail(DS_ERR_NOMEM, "out of memory"); goto done; }
        size_t nt = v.spans.len / 8;
        if (nt > tmp_cap) {
            fterm *nt_ = ds__realloc(env, tmp, tmp_cap * sizeof *tmp, nt * sizeof *tmp);
            if (nt_ == NULL) { rc = ds__fail(DS_ERR_NOMEM, "out of memory"); goto done; }
            tmp = nt_;
            tmp_cap = nt;
        }
        /* distinct terms with their tf, counted in a hash table (slot = 1 +
        ** index into tmp; 0 = empty) */
        size_t hcap = 64;
        while (hcap < 2 * nt) hcap *= 2;
        if (hcap > slot_cap) {
            uint32_t *ns = ds__realloc(env, slots, slot_cap * sizeof *slots, hcap * sizeof *slots);
            if (ns == NULL) { rc = ds__fail(DS_ERR_NOMEM, "out of memory"); goto done; }
            slots = ns;
            slot_cap = hcap;
        }
        memset(slots, 0, hcap * sizeof *slots);
        size_t nd = 0;
        for (size_t j = 0; j < nt; j++) {
            uint32_t sp[2];
            memcpy(sp, v.spans.p + 8 * j, sizeof sp);
            const char *ts = (const char *)v.bytes.p + sp[0];
            size_t h = (size_t)ds__hash64(ts, sp[1]) & (hcap - 1);
            for (;; h = (h + 1) & (hcap - 1)) {
                uint32_t x = slots[h];
                if (x == 0) {
                    tmp[nd].s = ts;
                    tmp[nd].len = sp[1];
                    tmp[nd].doc = (uint32_t)i;
                    tmp[nd].v = 1.0f;
                    slots[h] = (uint32_t)++nd;
                    break;
                }
                if (tmp[x - 1].len == sp[1] && memcmp(tmp[x - 1].s, ts, sp[1]) == 0) { tmp[x - 1].v += 1.0f; break; }
            }
        }
        /* By tf (ties: bytes), the first rm3_terms that pass the df filter
        ** are the pruned vector; looking terms up in that order stops early. */
        qsort(tmp, nd, sizeof *tmp, cmp_fterm_weight);
        size_t kept = 0;
        for (size_t j = 0; j < nd && kept < p->rm3_terms; j++) {
            int64_t id = ds__lx_find_term(lx, tmp[j].s, tmp[j].len);
            if (id == -2) { rc = ds__fail(DS_ERR_CORRUPT, "lexicon offsets out of bounds"); goto done; }
            /* A term the index lacks has no df; it cannot come from the
            ** index's own text, and as an expansion term it would match
            ** nothing, so it is left out. */
            if (id < 0) continue;
            uint32_t df = p->g ? p->g->df(p->g->df_ud, tmp[j].s, tmp[j].len) : ds__lx_df(lx, (uint32_t)id);
            if (df == 0) continue;   /* only in deleted documents */
            float ratio = (float)df / ndocs;
            if (ratio > 0.1f) continue;
            tmp[kept++] = tmp[j];
        }
        nd = kept;
        if (nd > p->rm3_terms) nd = p->rm3_terms;
        double l1 = 0.0;
        for (size_t j = 0; j < nd; j++) l1 += fabs((double)tmp[j].v);
        norms[i] = (float)l1;
        for (size_t j = 0; j < nd; j++) {   /* keep: term bytes go to the pool (offset for now) */
            fterm f = tmp[j];
            f.s = (const char *)(uintptr_t)pool.len;
            ds__buf_put(&pool, tmp[j].s, tmp[j].len);
            ds__buf_put(&ft, &f, sizeof f);
        }
        if (pool.rc != DS_OK || ft.rc != DS_OK) { rc = ds__fail(DS_ERR_NOMEM, "out of memory"); goto done; }
    }

    /* 2. feedback weight per term: sum over docs in rank order (float, as Java) */
    size_t nf = ft.len / sizeof(fterm);
    fterm *f = (fterm *)(void *)ft.p;
    for (size_t j = 0; j < nf; j++) f[j].s = (const char *)pool.p + (uintptr_t)f[j].s;
    if (nf > 0) qsort(f, nf, sizeof *f, cmp_fterm_bytes_doc);
    size_t nv = 0;
    for (size_t j = 0; j < nf;) {
        float w = 0.0f;
        size_t e = j;
        for (; e < nf && f[e].len == f[j].len && memcmp(f[e].s, f[j].s, f[j].len) == 0; e++)
            if (norms[f[e].doc] > 0.001f) w += (f[e].v / norms[f[e].doc]) * scores[f[e].doc];
        f[nv] = f[j];
        f[nv].v = w;
        nv++;
        j = e;
    }
    /* 3. relevance model: the rm3_terms best, scaled to unit L1 norm */
    if (nv > 0) qsort(f, nv, sizeof *f, cmp_fterm_weight);
    if (nv > p->rm3_terms) nv = p->rm3_terms;
    double l1 = 0.0;
    for (size_t j = 0; j < nv; j++) l1 += fabs((double)f[j].v);
    if (l1 > 0.0)   /* Java would divide by 0 here and make NaN weights */
        for (size_t j = 0; j < nv; j++) f[j].v = (float)((double)f[j].v / l1);

    /* 4. interpolation with the original query scaled to unit L1 norm; the
    ** result lists terms by weight, so it is built from a sorted array */
    double ql1 = 0.0;
    for (size_t j = 0; j < q->n; j++) ql1 += fabs((double)q->t[j].w);
    size_t nu = q->n + nv;
    fterm *u = ds__alloc(env, (nu ? nu : 1) * sizeof *u, 64);
    if (u == NULL) { rc = ds__fail(DS_ERR_NOMEM, "out of memory"); goto done; }
    float ow = p->rm3_w;
    size_t m = 0;
    for (size_t j = 0; j < q->n; j++) {
        float x = ql1 > 0.0 ? (float)((double)q->t[j].w / ql1) : 0.0f, y = 0.0f;
        for (size_t r = 0; r < nv; r++)
            if (f[r].len == q->t[j].len && memcmp(f[r].s, q->str + q->t[j].off, f[r].len) == 0) { y = f[r].v; break; }
        float xw = ow * x;   /* Java: float * float, then promoted to double */
        u[m].s = q->str + q->t[j].off;
        u[m].len = q->t[j].len;
        u[m].v = (float)((double)xw + (1.0 - (double)ow) * (double)y);
        m++;
    }
    for (size_t r = 0; r < nv; r++) {
        int in_q = 0;
        for (size_t j = 0; j < q->n && !in_q; j++)
            in_q = f[r].len == q->t[j].len && memcmp(f[r].s, q->str + q->t[j].off, f[r].len) == 0;
        if (in_q) continue;
        u[m].s = f[r].s;
        u[m].len = f[r].len;
        u[m].v = (float)((double)(ow * 0.0f) + (1.0 - (double)ow) * (double)f[r].v);
        m++;
    }
    qsort(u, m, sizeof *u, cmp_fterm_weight);
    for (size_t j = 0; j < m; j++) qb_add(&b, u[j].s, u[j].len, u[j].v);   /* weight 0 is dropped by qb_finish */
    ds__free(env, u, (nu ? nu : 1) * sizeof *u);
    rc = qb_finish(&b, lx, out);
done:
    qb_release(&b);
    ds__free(env, tmp, tmp_cap * sizeof *tmp);
    ds__free(env, slots, slot_cap * sizeof *slots);
    ds__buf_release(&ft);
    ds__buf_release(&pool);
    ds__buf_release(&v.spans);
    ds__buf_release(&v.bytes);
    ds__free(env, norms, (n ? n : 1) * sizeof *norms);
    ds__analyzer_destroy(own_an);
    return rc;
}

/* Feedback from a first-stage search of this index. */
typedef struct search_fb {
    const ds_lexical     *lx;
    const ds__lx_params  *p;
    const ds_lexical_hit *hits;
} search_fb;

static ds_status search_fb_terms(void *ctx, ds__analyzer *an, size_t i, dvec *v) {
    search_fb *c = ctx;
    return doc_terms(c->lx, an, c->p, c->hits[i].doc, v);
}

static ds_status rm3_expand(const ds_lexical *lx, ds__analyzer *an, const ds_lexical_query *q, const ds__lx_params *p,
                            ds_lexical_query **out) {
    *out = NULL;
    ds_env *env = lx->env;
    size_t nh = 0, cap = p->rm3_docs;
    ds_lexical_hit *hits = ds__alloc(env, cap * sizeof *hits, 64);
    float *scores = ds__alloc(env, cap * sizeof *scores, 64);
    ds_status rc = DS_OK;
    if (hits == NULL || scores == NULL) rc = ds__fail(DS_ERR_NOMEM, "out of memory");
    if (rc == DS_OK) rc = search_plain(lx, q, cap, p, hits, &nh);   /* the original query's top rm3_docs */
    if (rc == DS_OK) {
        for (size_t i = 0; i < nh; i++) scores[i] = hits[i].score;
        search_fb c = { lx, p, hits };
        rc = rm3_core(lx, an, q, p, nh, scores, search_fb_terms, &c, out);
    }
    ds__free(env, scores, cap * sizeof *scores);
    ds__free(env, hits, cap * sizeof *hits);
    return rc;
}

/* Feedback from texts the caller gives. */
typedef struct text_fb {
    const char *const *texts;
    const size_t      *lens;
} text_fb;

static ds_status text_fb_terms(void *ctx, ds__analyzer *an, size_t i, dvec *v) {
    text_fb *c = ctx;
    const char *t = c->texts[i];
    return ds__analyze(an, t, c->lens ? c->lens[i] : strlen(t), dvec_term, v);
}

ds_status ds_lexical_query_rm3_docs(const ds_lexical *lx, const ds_lexical_query *q, const char *const *texts,
                                    const size_t *lens, const float *scores, size_t n,
                                    const ds_lexical_search_opts *opts, ds_lexical_query **out) {
    if (out) *out = NULL;
    if (lx == NULL || q == NULL || out == NULL || (n > 0 && (texts == NULL || scores == NULL)))
        return ds__fail(DS_ERR_INVALID, "ds_lexical_query_rm3_docs: NULL argument");
    for (size_t i = 0; i < n; i++) {
        if (texts[i] == NULL) return ds__fail(DS_ERR_INVALID, "feedback text %zu is NULL", i);
        if (!(scores[i] >= 0.0f && scores[i] <= FLT_MAX))
            return ds__fail(DS_ERR_INVALID, "feedback score %zu: %g (must be finite and >= 0)", i, (double)scores[i]);
    }
    if (!ds__lx_an_same(&q->an, &lx->meta.an))
        return ds__fail(DS_ERR_INVALID, "query was analysed for an index with another analyzer");
    ds__lx_params p;
    ds_status rc = ds__lx_params_read(lx, opts, &p);
    if (rc == DS_OK && p.rm3_docs == 0) rc = ds__lx_params_check_rm3(&p);   /* rm3_docs is not used here */
    if (rc != DS_OK) return rc;
    return ds__lx_query_rm3_texts(lx, q, texts, lens, scores, n, &p, out);
}

ds_status ds__lx_query_rm3_texts(const ds_lexical *lx, const ds_lexical_query *q, const char *const *texts,
                                 const size_t *lens, const float *scores, size_t n, const ds__lx_params *p,
                                 ds_lexical_query **out) {
    text_fb c = { texts, lens };
    return rm3_core(lx, NULL, q, p, n, scores, text_fb_terms, &c, out);
}
