/* index.c -- opening and searching a BM25 index (ds_lexical_open/search,
** stored documents, snippets); reads docs/format.md §2.
**
** Open maps the file and checks what is O(1) to check (section sizes against
** the counts in LXMT); everything else is validated where it is used: term
** offsets during lookup, block offsets and decoded postings during search,
** id and stored-text offsets when read. A damaged file therefore yields
** DS_ERR_CORRUPT from the call that meets the damage, never a wild read.
** `densearch check` (lexical_check.c) validates everything up front.
**
** Search: MaxScore (Turtle & Flood) over block-max bounds. Query terms are
** ordered by their upper bound; the longest prefix whose bounds sum to at
** most the current k-th score is "non-essential": candidates come only from
** the essential lists, and non-essential lists are probed (skipping whole
** blocks by their last doc and their block-max bound) only while the
** candidate can still enter the top k. The final score of every candidate
** is summed in one fixed order (query terms by term number), the same order
** the exhaustive scorer uses, so pruned and exhaustive top-k agree bit for
** bit; bounds are inflated by a relative 1e-4 so float rounding in the
** partial sums can never prune a document that belongs in the top k.
**
** Thread: an open index is immutable; searches allocate their own scratch
** and may run concurrently.
*/
#include "lexical/lexical.h"
#include "core/topk.h"
#include "core/frames.h"
#include "check/check.h"

#include <zstd.h>

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

void ds_lexical_search_opts_init(ds_lexical_search_opts *o) {
    memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
    o->k1 = -1.0f;
    o->b = -1.0f;
    o->exhaustive = 0;
    o->rm3_docs = 0;
    o->rm3_terms = DS_LEXICAL_RM3_TERMS;
    o->rm3_original_weight = DS_LEXICAL_RM3_ORIGINAL_WEIGHT;
}

ds_status ds__lx_params_read(const ds_lexical *lx, const ds_lexical_search_opts *o, ds__lx_params *p) {
    memset(p, 0, sizeof *p);
    p->k1 = lx->meta.k1;
    p->b = lx->meta.b;
    float k1 = DS_OPT(o, k1, -1.0f), b = DS_OPT(o, b, -1.0f);
    if (k1 >= 0.0f) p->k1 = k1;
    if (b >= 0.0f) {
        if (b > 1.0f) return ds__fail(DS_ERR_INVALID, "b must be in [0, 1] (got %g)", (double)b);
        p->b = b;
    }
    p->exhaustive = DS_OPT(o, exhaustive, 0);
    p->filter = DS_OPT(o, filter, (const uint8_t *)NULL);
    p->filter_bits = DS_OPT(o, filter_bits, 0);
    if (p->filter == NULL && p->filter_bits > 0)
        return ds__fail(DS_ERR_INVALID, "search options: filter_bits %llu without a filter", (unsigned long long)p->filter_bits);
    p->rm3_docs = DS_OPT(o, rm3_docs, 0u);
    p->rm3_terms = DS_OPT(o, rm3_terms, (unsigned)DS_LEXICAL_RM3_TERMS);
    p->rm3_w = DS_OPT(o, rm3_original_weight, DS_LEXICAL_RM3_ORIGINAL_WEIGHT);
    p->doc_text = DS_OPT(o, doc_text, NULL);
    p->doc_text_ud = DS_OPT(o, doc_text_ud, (void *)NULL);
    /* the RM3 fields matter (and are checked) only when RM3 runs */
    return p->rm3_docs > 0 ? ds__lx_params_check_rm3(p) : DS_OK;
}

ds_status ds__lx_params_check_rm3(const ds__lx_params *p) {
    if (!(p->rm3_w >= 0.0f && p->rm3_w <= 1.0f))
        return ds__fail(DS_ERR_INVALID, "rm3_original_weight must be in [0, 1] (got %g)", (double)p->rm3_w);
    if (p->rm3_terms == 0 || p->rm3_terms > DS__LX_MAX_QUERY_TERMS)
        return ds__fail(DS_ERR_INVALID, "rm3_terms must be in [1, %d] (got %u)", DS__LX_MAX_QUERY_TERMS, p->rm3_terms);
    if (p->rm3_docs > 1000000) return ds__fail(DS_ERR_INVALID, "rm3_docs %u is too large", p->rm3_docs);
    return DS_OK;
}

static ds_status need(const ds__creader *cr, uint32_t kind, uint64_t want, const uint8_t **p, uint64_t *len) {
    ds_status rc = ds__cr_get(cr, kind, p, len);
    if (rc != DS_OK) return rc;
    char k[5];
    if (want != UINT64_MAX && *len != want)
        return ds__fail(DS_ERR_CORRUPT, "section %s: %llu bytes, expected %llu", ds__fourcc_str(kind, k),
                        (unsigned long long)*len, (unsigned long long)want);
    return DS_OK;
}

ds_status ds__lx_attach(ds_lexical *lx) {
    const ds__creader *cr = lx->cr;
    static const uint32_t known[] = { DS__SEC_META, DS__SEC_DLEN, DS__SEC_IDOF, DS__SEC_IDST, DS__SEC_TOFF,
                                      DS__SEC_TSTR, DS__SEC_TINF, DS__SEC_SKIP, DS__SEC_POST, DS__SEC_DOCX,
                                      DS__SEC_DOCZ, DS__SEC_DOCF };
    ds_status rc = ds__cr_check_known(cr, known, DS_ARRAY_LEN(known));
    if (rc != DS_OK) return rc;
    const uint8_t *p;
    uint64_t len;
    if ((rc = ds__cr_get(cr, DS__SEC_META, &p, &len)) != DS_OK) return rc;
    if ((rc = ds__lx_meta_read(p, len, &lx->meta)) != DS_OK) return rc;
    const ds__lx_meta *m = &lx->meta;
    uint64_t nd = m->n_docs, nt = m->n_terms;
    if ((rc = need(cr, DS__SEC_DLEN, nd * 4, &lx->dlen, &len)) != DS_OK) return rc;
    if ((rc = need(cr, DS__SEC_IDOF, (nd + 1) * 8, &lx->idof, &len)) != DS_OK) return rc;
    if ((rc = need(cr, DS__SEC_IDST, UINT64_MAX, &lx->idst, &lx->idst_len)) != DS_OK) return rc;
    if ((rc = need(cr, DS__SEC_TOFF, (nt + 1) * 4, &lx->toff, &len)) != DS_OK) return rc;
    if ((rc = need(cr, DS__SEC_TSTR, UINT64_MAX, &lx->tstr, &lx->tstr_len)) != DS_OK) return rc;
    if ((rc = need(cr, DS__SEC_TINF, nt * 8, &lx->tinf, &len)) != DS_OK) return rc;
    if (m->n_blocks > UINT64_MAX / DS__LX_SKIP_SIZE) return ds__fail(DS_ERR_CORRUPT, "LXMT: n_blocks out of range");
    if ((rc = need(cr, DS__SEC_SKIP, m->n_blocks * DS__LX_SKIP_SIZE, &lx->skip, &len)) != DS_OK) return rc;
    if ((rc = need(cr, DS__SEC_POST, UINT64_MAX, &lx->post, &lx->post_len)) != DS_OK) return rc;
    if (m->n_blocks > 0 && lx->post_len < 2 * m->n_blocks) return ds__fail(DS_ERR_CORRUPT, "POST: too short for %llu blocks", (unsigned long long)m->n_blocks);
    if (m->stored_chunk > 0) {
        uint64_t nc = m->n_chunks;
        if ((rc = need(cr, DS__SEC_DOCX, (nc + 1) * 8, &lx->docx, &len)) != DS_OK) return rc;
        if ((rc = need(cr, DS__SEC_DOCF, (nc + 1) * 4, &lx->docf, &len)) != DS_OK) return rc;
        if ((rc = need(cr, DS__SEC_DOCZ, UINT64_MAX, &lx->docz, &lx->docz_len)) != DS_OK) return rc;
    } else if (ds__cr_find(cr, DS__SEC_DOCX) || ds__cr_find(cr, DS__SEC_DOCZ) || ds__cr_find(cr, DS__SEC_DOCF)) {
        return ds__fail(DS_ERR_CORRUPT, "stored-text sections present but stored_chunk is 0");
    }
    lx->avgdl = nd ? (float)((double)m->n_tokens / (double)nd) : 1.0f;
    if (!(lx->avgdl > 0.0f)) lx->avgdl = 1.0f;
    return DS_OK;
}

static ds_status resolve_path(const char *path, char *full, size_t cap) {
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        if ((size_t)snprintf(full, cap, "%s/%s", path, DS_LEXICAL_FILE_NAME) >= cap)
            return ds__fail(DS_ERR_RANGE, "%s: path too long", path);
    } else if ((size_t)snprintf(full, cap, "%s", path) >= cap) {
        return ds__fail(DS_ERR_RANGE, "%s: path too long", path);
    }
    return DS_OK;
}

static ds_status lx_open_common(ds_env *env, ds__creader *cr, ds_lexical **out) {
    ds_lexical *lx = ds__calloc(env, 1, sizeof *lx);
    if (lx == NULL) {
        ds__cr_close(cr);
        return ds__fail(DS_ERR_NOMEM, "out of memory");
    }
    static atomic_uint_fast64_t serials;
    lx->env = env;
    lx->cr = cr;
    lx->serial = atomic_fetch_add(&serials, 1) + 1;
    ds_status rc = ds__lx_attach(lx);
    /* the analyzer must be one we can reproduce exactly */
    ds__analyzer *an = NULL;
    if (rc == DS_OK && (rc = ds__analyzer_create(env, &lx->meta.an, &an)) != DS_OK)
        rc = ds__fail_prefix(rc == DS_ERR_INVALID ? DS_ERR_FORMAT : rc, "index analyzer: ");
    ds__analyzer_destroy(an);
    if (rc == DS_OK && lx->meta.n_docs > 0) {
        lx->norm = ds__alloc(env, (size_t)lx->meta.n_docs * sizeof(float), 64);
        if (lx->norm == NULL) rc = ds__fail(DS_ERR_NOMEM, "out of memory");
        else
            for (uint32_t d = 0; d < lx->meta.n_docs; d++)
                lx->norm[d] = ds__bm25_norm(lx->meta.k1, lx->meta.b, ds__load_u32le(lx->dlen + 4 * (size_t)d), lx->avgdl);
    }
    if (rc != DS_OK) {
        ds_lexical_close(lx);
        return rc;
    }
    *out = lx;
    return DS_OK;
}

ds_status ds_lexical_open(ds_env *env, const char *path, unsigned flags, ds_lexical **out) {
    if (out) *out = NULL;
    if (path == NULL || out == NULL) return ds__fail(DS_ERR_INVALID, "ds_lexical_open: NULL argument");
    env = DS_ENV(env);
    char full[4096];
    ds_status rc = resolve_path(path, full, sizeof full);
    if (rc != DS_OK) return rc;
    ds__creader *cr = NULL;
    rc = ds__cr_open(env, full, DS__LX_KIND, flags, &cr);
    if (rc != DS_OK) return rc;                 /* ds__cr_open already names the file */
    rc = lx_open_common(env, cr, out);
    if (rc != DS_OK) ds__fail_prefix(rc, "%s: ", full);
    return rc;
}

ds_status ds__lexical_open_mem(ds_env *env, const void *data, size_t size, unsigned flags, ds_lexical **out) {
    *out = NULL;
    env = DS_ENV(env);
    ds__creader *cr = NULL;
    ds_status rc = ds__cr_open_mem(env, data, size, DS__LX_KIND, flags, &cr);
    if (rc != DS_OK) return rc;
    return lx_open_common(env, cr, out);
}

void ds_lexical_close(ds_lexical *lx) {
    if (lx == NULL) return;
    ds__free(lx->env, lx->norm, (size_t)lx->meta.n_docs * sizeof(float));
    ds__cr_close(lx->cr);
    ds__free(lx->env, lx, sizeof *lx);
}

uint64_t ds_lexical_n_docs(const ds_lexical *lx) { return lx ? lx->meta.n_docs : 0; }
uint64_t ds_lexical_n_terms(const ds_lexical *lx) { return lx ? lx->meta.n_terms : 0; }

const char *ds_lexical_doc_id(const ds_lexical *lx, uint32_t doc, size_t *len) {
    if (len) *len = 0;
    if (lx == NULL || doc >= lx->meta.n_docs) return NULL;
    uint64_t a = ds__load_u64le(lx->idof + 8 * (size_t)doc), b = ds__load_u64le(lx->idof + 8 * (size_t)doc + 8);
    if (a >= b || b > lx->idst_len || b - a > DS__LX_MAX_ID) return NULL;   /* damaged: no id */
    if (len) *len = (size_t)(b - a);
    return (const char *)lx->idst + a;
}

/* ---- lexicon -------------------------------------------------------------- */

/* Term t's bytes, or NULL if its offsets are damaged. */
static const uint8_t *term_at(const ds_lexical *lx, uint32_t t, size_t *len) {
    uint32_t a = ds__load_u32le(lx->toff + 4 * (size_t)t), b = ds__load_u32le(lx->toff + 4 * (size_t)t + 4);
    if (a > b || b > lx->tstr_len) return NULL;
    *len = b - a;
    return lx->tstr + a;
}

/* -1: not found; -2: damaged lexicon. */
int64_t ds__lx_find_term(const ds_lexical *lx, const char *t, size_t len) {
    size_t lo = 0, hi = lx->meta.n_terms;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2, ml;
        const uint8_t *m = term_at(lx, (uint32_t)mid, &ml);
        if (m == NULL) return -2;
        int c = memcmp(m, t, ml < len ? ml : len);
        if (c == 0) c = (ml > len) - (ml < len);
        if (c == 0) return (int64_t)mid;
        if (c < 0) lo = mid + 1; else hi = mid;
    }
    return -1;
}

/* ---- top-k ------------------------------------------------------------------ */

/* The batch collector of core/topk.h: higher score first, equal scores rank
** the lower doc first (the library's rule). Scores are > 0 (idf > 0, tf
** factor > 0), which that collector requires. Candidates arrive in
** increasing doc order, so a newcomer whose score equals the k-th best ranks
** below it; theta never exceeds the true k-th score, so pruning with it stays
** safe. It is used instead of the heap (ds__topk) because BM25 offers many
** candidates per query and k is often large (runs of 1000): there the heap's
** log(k) sifts and final heapsort cost more than a select and a radix sort
** (measured: docs/benchmarks.md, "Top-k collectors"). */
typedef ds__topk_batch topk;

/* Returns 1 when theta changed. */
static inline int topk_push(topk *t, uint32_t doc, float score) { return ds__topk_batch_push(t, score, doc); }

/* Writes the final top k, best first, into out. */
static size_t topk_finish(topk *t, ds_lexical_hit *out) {
    size_t n = ds__topk_batch_finish(t);
    for (size_t i = 0; i < n; i++) {
        out[i].doc = ds__topk_batch_id(t, i);
        out[i].score = ds__topk_batch_score(t, i);
    }
    return n;
}

/* ---- postings cursors ------------------------------------------------------- */

typedef struct cursor {
    uint32_t first_block, nb, bi;  /* blocks of the term; current one (relative) */
    uint32_t df, pos, n;
    int      decoded;
    uint32_t cur;                  /* current doc; UINT32_MAX when exhausted */
    float    w;                    /* qtf * idf */
    float    ub;                   /* max over blocks of the block bound */
    uint32_t q;                    /* index in term order (for the canonical sum) */
    uint32_t docs[DS__LX_BLOCK], tfs[DS__LX_BLOCK];
} cursor;

typedef struct sctx {
    const ds_lexical *lx;
    float             k1, b, avgdl;
    int               own_norm;    /* k1/b differ from the index's: compute norms */
    ds_status         rc;
} sctx;

static inline const uint8_t *skip_at(const ds_lexical *lx, uint64_t gb) { return lx->skip + gb * DS__LX_SKIP_SIZE; }

static inline float doc_norm(const sctx *s, uint32_t d) {
    if (!s->own_norm) return s->lx->norm[d];
    return ds__bm25_norm(s->k1, s->b, ds__load_u32le(s->lx->dlen + 4 * (size_t)d), s->avgdl);
}

/* Upper bound of tf / (tf + norm) over block gb. */
static inline float block_bound(const sctx *s, uint64_t gb) {
    const uint8_t *e = skip_at(s->lx, gb);
    if (!s->own_norm) return ds__load_f32le(e + 20);
    float tf = (float)ds__load_u32le(e + 12);
    uint32_t min_len = ds__load_u32le(e + 16);
    return tf / (tf + ds__bm25_norm(s->k1, s->b, min_len, s->avgdl));
}

static int cursor_load(sctx *s, cursor *c) {
    const ds_lexical *lx = s->lx;
    uint64_t gb = (uint64_t)c->first_block + c->bi;
    const uint8_t *e = skip_at(lx, gb);
    uint64_t off = ds__load_u64le(e);
    uint64_t end = gb + 1 < lx->meta.n_blocks ? ds__load_u64le(e + DS__LX_SKIP_SIZE) : lx->post_len;
    int64_t prev = c->bi == 0 ? -1 : (int64_t)ds__load_u32le(skip_at(lx, gb - 1) + 8);
    uint32_t n = c->bi + 1 < c->nb ? DS__LX_BLOCK : c->df - DS__LX_BLOCK * (c->nb - 1);
    if (off > end || end > lx->post_len ||
        !ds__lx_block_decode(lx->post + off, (size_t)(end - off), (size_t)(lx->post_len - off), n, prev, c->docs, c->tfs) ||
        c->docs[n - 1] != ds__load_u32le(e + 8) || c->docs[n - 1] >= lx->meta.n_docs) {
        s->rc = ds__fail(DS_ERR_CORRUPT, "postings block %llu is damaged", (unsigned long long)gb);
        c->cur = UINT32_MAX;
        return 0;
    }
    c->n = n;
    c->pos = 0;
    c->decoded = 1;
    c->cur = c->docs[0];
    return 1;
}

static void cursor_next(sctx *s, cursor *c) {
    if (++c->pos < c->n) { c->cur = c->docs[c->pos]; return; }
    if (++c->bi >= c->nb) { c->cur = UINT32_MAX; return; }
    c->decoded = 0;
    cursor_load(s, c);
}

/* Moves to the block that could hold target (without decoding it); returns 0
** if the list has no doc >= target. */
static int cursor_seek_block(sctx *s, cursor *c, uint32_t target) {
    if (c->cur == UINT32_MAX) return 0;
    while (c->bi < c->nb && ds__load_u32le(skip_at(s->lx, (uint64_t)c->first_block + c->bi) + 8) < target) {
        c->bi++;
        c->decoded = 0;
    }
    if (c->bi >= c->nb) { c->cur = UINT32_MAX; return 0; }
    return 1;
}

static void cursor_seek(sctx *s, cursor *c, uint32_t target) {
    if (c->decoded && c->cur >= target) return;
    if (!cursor_seek_block(s, c, target)) return;
    if (!c->decoded && !cursor_load(s, c)) return;
    while (c->docs[c->pos] < target) c->pos++;   /* stops: last doc >= target */
    c->cur = c->docs[c->pos];
}

static inline float contrib(const sctx *s, const cursor *c) {
    float tf = (float)c->tfs[c->pos];
    return c->w * (tf / (tf + doc_norm(s, c->cur)));
}

/* Bounds are compared after inflation, so f32 rounding in different summation
** orders can never prune a document whose exact score would qualify. */
static inline float inflate(float x) { return x * 1.0001f + 1e-6f; }

/* Is document d in the allow-list? */
static inline int allowed(const ds__lx_params *p, uint32_t d) {
    if (p->dead != NULL && ((p->dead[d >> 3] >> (d & 7)) & 1)) return 0;
    uint64_t f = p->filter_offset + d;
    return p->filter == NULL || (f < p->filter_bits && ((p->filter[f >> 3] >> (f & 7)) & 1));
}

ds_status ds__lx_search_terms(const ds_lexical *lx, const ds__lx_wterm *qt, size_t nq, size_t k,
                              const ds__lx_params *p, ds_lexical_hit *hits, size_t *n_hits) {
    *n_hits = 0;
    if (k == 0 || lx->meta.n_docs == 0 || nq == 0) return DS_OK;
    if (p->filter != NULL && p->filter_bits == 0) return DS_OK;   /* nothing is allowed */
    ds_env *env = lx->env;
    sctx s = { lx, p->k1, p->b, lx->avgdl, 0, DS_OK };
    if (p->g != NULL) {
        if (p->g->n_docs == 0) return DS_OK;
        s.avgdl = ds__lx_avgdl(p->g->n_docs, p->g->n_tokens);
    }
    s.own_norm = s.k1 != lx->meta.k1 || s.b != lx->meta.b || s.avgdl != lx->avgdl;
    int exhaustive = p->exhaustive;
    if (k > lx->meta.n_docs) k = lx->meta.n_docs;

    ds_status rc = DS_OK;
    cursor *cs = NULL;
    float *acc = NULL, *contr = NULL;
    uint8_t *present = NULL;
    uint32_t *ord = NULL;
    float *cum = NULL;
    topk top = { NULL, 0, k, 2 * k, 0, 0, 0.0f };
    if ((top.key = ds__alloc(env, top.cap * sizeof *top.key, 64)) == NULL) { rc = ds__fail(DS_ERR_NOMEM, "out of memory"); goto done; }
    if ((cs = ds__calloc(env, nq, sizeof *cs)) == NULL) { rc = ds__fail(DS_ERR_NOMEM, "out of memory"); goto done; }
    for (size_t i = 0; i < nq; i++) {
        cursor *c = &cs[i];
        uint32_t t = qt[i].term;
        DS_ASSERT(t < lx->meta.n_terms && qt[i].w > 0.0f && (i == 0 || qt[i - 1].term < t));
        c->df = ds__load_u32le(lx->tinf + 8 * (size_t)t);
        c->first_block = ds__load_u32le(lx->tinf + 8 * (size_t)t + 4);
        c->nb = (c->df + DS__LX_BLOCK - 1) / DS__LX_BLOCK;
        c->q = (uint32_t)i;
        if (c->df == 0 || c->df > lx->meta.n_docs || (uint64_t)c->first_block + c->nb > lx->meta.n_blocks) {
            rc = ds__fail(DS_ERR_CORRUPT, "term %u: bad df/blocks", t);
            goto done;
        }
        /* weight * idf in f32, as Lucene's BM25 scorer folds boost * idf */
        c->w = p->g ? qt[i].w * ds__bm25_idf(p->g->n_docs, qt[i].gdf) : qt[i].w * ds__bm25_idf(lx->meta.n_docs, c->df);
        float ub = 0.0f;
        for (uint32_t bi = 0; bi < c->nb; bi++) {
            float x = block_bound(&s, (uint64_t)c->first_block + bi);
            if (!(x <= 1.0f)) x = 1.0f;   /* tf/(tf+norm) < 1: a damaged bound is clamped, never trusted above */
            if (x > ub) ub = x;
        }
        c->ub = c->w * ub;
        if (!cursor_load(&s, c)) { rc = s.rc; goto done; }
    }

    /* Term at a time over an accumulator when k is a large share of the
    ** collection and the lists cover much of it: MaxScore can then prune
    ** little and its per-candidate bookkeeping costs more than the plain
    ** loop. Both paths return the same top k (tested), so this is only a
    ** speed choice. exhaustive < 0 forces MaxScore (tests). */
    uint64_t sum_df = 0;
    for (size_t i = 0; i < nq; i++) sum_df += cs[i].df;
    if (exhaustive == 0 && (uint64_t)k * 8 >= lx->meta.n_docs && sum_df * 4 >= lx->meta.n_docs) exhaustive = 1;
    if (exhaustive > 0) {
        /* term at a time into one accumulator: per doc the sum runs over
        ** terms in term order, the canonical order, with the same
        ** expression as contrib() */
        if ((acc = ds__calloc(env, lx->meta.n_docs, sizeof *acc)) == NULL) { rc = ds__fail(DS_ERR_NOMEM, "out of memory"); goto done; }
        for (size_t i = 0; i < nq && s.rc == DS_OK; i++) {
            cursor *c = &cs[i];
            while (c->cur != UINT32_MAX) {
                if (s.own_norm) {
                    for (uint32_t j = c->pos; j < c->n; j++) {
                        float tf = (float)c->tfs[j];
                        acc[c->docs[j]] += c->w * (tf / (tf + doc_norm(&s, c->docs[j])));
                    }
                } else {
                    const float *norm = lx->norm;
                    for (uint32_t j = c->pos; j < c->n; j++) {
                        float tf = (float)c->tfs[j];
                        acc[c->docs[j]] += c->w * (tf / (tf + norm[c->docs[j]]));
                    }
                }
                c->pos = c->n - 1;   /* next: the following block */
                cursor_next(&s, c);
            }
        }
        if ((rc = s.rc) != DS_OK) goto done;
        for (uint32_t d = 0; d < lx->meta.n_docs; d++)
            if (acc[d] > 0.0f && allowed(p, d)) topk_push(&top, d, acc[d]);
    } else {
        contr = ds__calloc(env, nq, sizeof *contr);
        present = ds__calloc(env, nq, 1);
        ord = ds__calloc(env, nq, sizeof *ord);
        cum = ds__calloc(env, nq, sizeof *cum);
        if (!contr || !present || !ord || !cum) { rc = ds__fail(DS_ERR_NOMEM, "out of memory"); goto done; }
        for (size_t i = 0; i < nq; i++) ord[i] = (uint32_t)i;
        for (size_t i = 1; i < nq; i++) {   /* insertion sort by ub ascending (nq is small) */
            uint32_t x = ord[i];
            size_t j = i;
            while (j > 0 && cs[ord[j - 1]].ub > cs[x].ub) { ord[j] = ord[j - 1]; j--; }
            ord[j] = x;
        }
        float run = 0.0f;
        for (size_t i = 0; i < nq; i++) { run += cs[ord[i]].ub; cum[i] = run; }
        size_t ne = 0;            /* ord[0..ne) are non-essential */
        float theta = -INFINITY;
        for (;;) {
            uint32_t d = UINT32_MAX;
            for (size_t i = ne; i < nq; i++)
                if (cs[ord[i]].cur < d) d = cs[ord[i]].cur;
            if (d == UINT32_MAX) break;
            if (!allowed(p, d)) {   /* never a candidate: step the lists that are on it */
                for (size_t i = ne; i < nq; i++)
                    if (cs[ord[i]].cur == d) cursor_next(&s, &cs[ord[i]]);
                if (s.rc != DS_OK) { rc = s.rc; goto done; }
                continue;
            }
            float partial = 0.0f;
            for (size_t i = ne; i < nq; i++) {
                cursor *c = &cs[ord[i]];
                if (c->cur != d) continue;
                float x = contrib(&s, c);
                contr[c->q] = x;
                present[c->q] = 1;
                partial += x;
                cursor_next(&s, c);
            }
            int pruned = 0;
            for (size_t i = ne; i-- > 0;) {
                if (top.full && inflate(partial + cum[i]) <= theta) { pruned = 1; break; }
                cursor *c = &cs[ord[i]];
                if (!cursor_seek_block(&s, c, d)) continue;
                if (top.full) {
                    float bb = c->w * block_bound(&s, (uint64_t)c->first_block + c->bi);
                    float rest = i > 0 ? cum[i - 1] : 0.0f;
                    if (inflate(partial + bb + rest) <= theta) { pruned = 1; break; }
                }
                cursor_seek(&s, c, d);
                if (c->cur == d) {
                    float x = contrib(&s, c);
                    contr[c->q] = x;
                    present[c->q] = 1;
                    partial += x;
                }
            }
            if (s.rc != DS_OK) { rc = s.rc; goto done; }
            if (!pruned) {
                float score = 0.0f;
                for (size_t i = 0; i < nq; i++)
                    if (present[i]) score += contr[i];
                /* score > 0: a tiny caller weight can underflow to 0, which
                ** the accumulator path leaves out too */
                if (score > 0.0f && topk_push(&top, d, score)) {
                    theta = top.theta;
                    while (ne < nq && inflate(cum[ne]) <= theta) ne++;
                }
            }
            memset(present, 0, nq);
        }
        if (s.rc != DS_OK) { rc = s.rc; goto done; }
    }
    *n_hits = topk_finish(&top, hits);
done:
    ds__free(env, top.key, top.cap * sizeof *top.key);
    ds__free(env, cs, nq * sizeof *cs);
    ds__free(env, acc, (size_t)lx->meta.n_docs * sizeof *acc);
    ds__free(env, contr, nq * sizeof *contr);
    ds__free(env, present, nq);
    ds__free(env, ord, nq * sizeof *ord);
    ds__free(env, cum, nq * sizeof *cum);
    return rc;
}

ds_status ds_lexical_search(const ds_lexical *lx, const char *query, size_t query_len, size_t k,
                            const ds_lexical_search_opts *opts, ds_lexical_hit *hits, size_t *n_hits) {
    if (n_hits) *n_hits = 0;
    if (lx == NULL || query == NULL || n_hits == NULL || (hits == NULL && k > 0))
        return ds__fail(DS_ERR_INVALID, "ds_lexical_search: NULL argument");
    ds__lx_params p;
    ds_status rc = ds__lx_params_read(lx, opts, &p);
    if (rc != DS_OK) return rc;
    ds__analyzer *an = NULL;
    ds_lexical_query *q = NULL;
    rc = ds__analyzer_create(lx->env, &lx->meta.an, &an);
    if (rc == DS_OK) rc = ds__lx_query_analyze(lx, an, query, query_len, &q);
    if (rc == DS_OK) rc = ds__lx_query_search(lx, an, q, k, &p, hits, n_hits);
    ds_lexical_query_free(q);
    ds__analyzer_destroy(an);
    return rc;
}

typedef struct batch_ctx {
    const ds_lexical              *lx;
    const char *const             *queries;
    size_t                         k;
    const ds__lx_params           *p;
    ds_lexical_hit                *hits;
    size_t                        *n_hits;
    ds__analyzer                 **an;      /* one per thread */
    ds_status                     *rc;      /* per thread: first failure */
    size_t                        *bad;     /* per thread: failing query */
    char                         (*msg)[256];  /* per thread: its ds_errmsg() */
} batch_ctx;

static void batch_range(void *vctx, size_t begin, size_t end, unsigned t) {
    batch_ctx *c = vctx;
    for (size_t i = begin; i < end; i++) {
        if (c->rc[t] != DS_OK) return;
        const char *qs = c->queries[i] ? c->queries[i] : "";
        ds_lexical_query *q = NULL;
        ds_status rc = ds__lx_query_analyze(c->lx, c->an[t], qs, strlen(qs), &q);
        if (rc == DS_OK) rc = ds__lx_query_search(c->lx, c->an[t], q, c->k, c->p, c->hits + i * c->k, &c->n_hits[i]);
        ds_lexical_query_free(q);
        if (rc != DS_OK) {
            c->rc[t] = rc;
            c->bad[t] = i;
            snprintf(c->msg[t], sizeof c->msg[t], "%s", ds_errmsg());   /* errmsg is thread-local */
        }
    }
}

ds_status ds_lexical_search_batch(const ds_lexical *lx, const char *const *queries, size_t n, size_t k,
                                  const ds_lexical_search_opts *opts, unsigned n_threads,
                                  ds_lexical_hit *hits, size_t *n_hits) {
    if (lx == NULL || (n > 0 && (queries == NULL || n_hits == NULL || (hits == NULL && k > 0))))
        return ds__fail(DS_ERR_INVALID, "ds_lexical_search_batch: NULL argument");
    if (n == 0) return DS_OK;
    memset(n_hits, 0, n * sizeof *n_hits);
    ds__lx_params p;
    ds_status rc = ds__lx_params_read(lx, opts, &p);
    if (rc != DS_OK) return rc;
    if (n_threads == 0) n_threads = ds_env_threads(lx->env);
    if (n_threads == 0) n_threads = 1;
    if (n_threads > 64) n_threads = 64;
    ds__analyzer *an[64] = { 0 };
    ds_status rcs[64];
    size_t bad[64];
    static _Thread_local char msgs[64][256];
    for (unsigned t = 0; t < n_threads && rc == DS_OK; t++) {
        rcs[t] = DS_OK;
        bad[t] = 0;
        rc = ds__analyzer_create(lx->env, &lx->meta.an, &an[t]);
    }
    if (rc == DS_OK) {
        batch_ctx c = { lx, queries, k, &p, hits, n_hits, an, rcs, bad, msgs };
        ds__parallel_for(lx->env, n_threads, n, 4, batch_range, &c);
        for (unsigned t = 0; t < n_threads; t++)
            if (rcs[t] != DS_OK) {
                rc = rcs[t];
                /* the message was set on the worker's thread: restate it here */
                ds__fail(rc, "query %zu: %s", bad[t] + 1, msgs[t]);
                break;
            }
    }
    for (unsigned t = 0; t < n_threads; t++) ds__analyzer_destroy(an[t]);
    return rc;
}

/* ---- stored documents ---------------------------------------------------------- */

ds_status ds_lexical_doc(const ds_lexical *lx, uint32_t doc, char **title, size_t *title_len,
                         char **text, size_t *text_len) {
    if (title) *title = NULL;
    if (text) *text = NULL;
    if (title_len) *title_len = 0;
    if (text_len) *text_len = 0;
    if (lx == NULL) return ds__fail(DS_ERR_INVALID, "ds_lexical_doc: NULL index");
    if (doc >= lx->meta.n_docs) return ds__fail(DS_ERR_INVALID, "document %u out of range (%u documents)", doc, lx->meta.n_docs);
    if (lx->meta.stored_chunk == 0) return ds__fail(DS_ERR_NOTFOUND, "the index was built without stored text");
    ds__frames f = { lx->docx, lx->docf, lx->docz, lx->docz_len, lx->meta.n_docs, lx->meta.n_chunks,
                     lx->meta.stored_chunk, lx->meta.max_chunk_raw };
    return ds__frames_get(&f, doc, title, title_len, text, text_len);
}

/* ---- snippets -------------------------------------------------------------- */

typedef struct span { size_t beg, end; } span;

typedef struct snip_ctx {
    const ds_lexical_query *q;   /* its terms are what is highlighted */
    span     *hits;
    size_t    n_hits, cap_hits;
    int       oom;
} snip_ctx;

static void snip_term(void *ud, const char *term, size_t len, size_t rb, size_t re) {
    snip_ctx *s = ud;
    if (s->oom) return;
    const ds_lexical_query *q = s->q;
    for (size_t i = 0; i < q->n; i++) {
        if (q->t[i].len != len || memcmp(q->str + q->t[i].off, term, len) != 0) continue;
        if (s->n_hits > 0 && s->hits[s->n_hits - 1].beg == rb) return;   /* one word, several terms */
        if (s->n_hits == s->cap_hits) {
            size_t nc = s->cap_hits ? 2 * s->cap_hits : 32;
            span *nh = realloc(s->hits, nc * sizeof *nh);
            if (nh == NULL) { s->oom = 1; return; }
            s->hits = nh;
            s->cap_hits = nc;
        }
        s->hits[s->n_hits].beg = rb;
        s->hits[s->n_hits].end = re;
        s->n_hits++;
        return;
    }
}

static void put_clean(ds__buf *o, const char *p, size_t n) {
    for (size_t i = 0; i < n; i++) {
        char ch = p[i];
        if (ch == '\n' || ch == '\r' || ch == '\t') ch = ' ';
        if (ch == ' ' && o->len > 0 && o->p[o->len - 1] == ' ') continue;
        ds__buf_put_u8(o, (uint8_t)ch);
    }
}

ds_status ds_lexical_snippet(const ds_lexical *lx, const char *query, const char *text, size_t text_len,
                             size_t max_bytes, const char *open, const char *close, char **out) {
    if (out) *out = NULL;
    if (lx == NULL || query == NULL || text == NULL || out == NULL)
        return ds__fail(DS_ERR_INVALID, "ds_lexical_snippet: NULL argument");
    ds_lexical_query *q = NULL;
    ds_status rc = ds_lexical_query_create(lx, query, strlen(query), &q);
    if (rc == DS_OK) rc = ds_lexical_snippet_query(lx, q, text, text_len, max_bytes, open, close, out);
    ds_lexical_query_free(q);
    return rc;
}

ds_status ds_lexical_snippet_query(const ds_lexical *lx, const ds_lexical_query *q, const char *text,
                                   size_t text_len, size_t max_bytes, const char *open, const char *close,
                                   char **out) {
    if (out) *out = NULL;
    if (lx == NULL || q == NULL || text == NULL || out == NULL)
        return ds__fail(DS_ERR_INVALID, "ds_lexical_snippet_query: NULL argument");
    if (!ds__lx_an_same(&q->an, &lx->meta.an))
        return ds__fail(DS_ERR_INVALID, "query was analysed for an index with another analyzer");
    if (open == NULL) open = "";
    if (close == NULL) close = "";
    if (max_bytes < 16) max_bytes = 16;
    ds__analyzer *an = NULL;
    ds_status rc = ds__analyzer_create(lx->env, &lx->meta.an, &an);
    if (rc != DS_OK) return rc;
    snip_ctx s;
    memset(&s, 0, sizeof s);
    s.q = q;
    if (q->n > 0) ds__analyze(an, text, text_len, snip_term, &s);   /* no terms: nothing to find */
    ds__analyzer_destroy(an);
    ds__buf o;
    ds__buf_init(&o, lx->env);
    if (s.oom) { rc = ds__fail(DS_ERR_NOMEM, "out of memory"); goto done; }
    /* window: the max_bytes stretch holding the most matched words */
    size_t start = 0, best = 0;
    for (size_t i = 0, j = 0; i < s.n_hits; i++) {
        while (j < s.n_hits && s.hits[j].end - s.hits[i].beg <= max_bytes) j++;
        if (j - i > best) { best = j - i; start = s.hits[i].beg; }
    }
    if (text_len <= max_bytes) start = 0;
    else {
        start = start > max_bytes / 4 ? start - max_bytes / 4 : 0;   /* some left context */
        size_t lim = start > 32 ? start - 32 : 0;                      /* begin on a word */
        while (start > lim && text[start - 1] != ' ' && text[start - 1] != '\n') start--;
        while (start < text_len && (text[start] & 0xC0) == 0x80) start++;   /* UTF-8 boundary */
    }
    size_t end = start + max_bytes < text_len ? start + max_bytes : text_len;
    if (end < text_len) {
        size_t e = end;
        while (e > start && text[e] != ' ') e--;   /* end on a word boundary */
        end = e > start ? e : end;
        while (end > start && end < text_len && (text[end] & 0xC0) == 0x80) end--;
    }
    if (start > 0) ds__buf_put(&o, "...", 3);
    size_t at = start;
    for (size_t i = 0; i < s.n_hits; i++) {
        if (s.hits[i].beg < start || s.hits[i].end > end) continue;
        put_clean(&o, text + at, s.hits[i].beg - at);
        ds__buf_put(&o, open, strlen(open));
        put_clean(&o, text + s.hits[i].beg, s.hits[i].end - s.hits[i].beg);
        ds__buf_put(&o, close, strlen(close));
        at = s.hits[i].end;
    }
    put_clean(&o, text + at, end - at);
    if (end < text_len) ds__buf_put(&o, "...", 3);
    ds__buf_put_u8(&o, 0);
    if (o.rc != DS_OK) { rc = ds__fail(DS_ERR_NOMEM, "out of memory"); goto done; }
    *out = ds__dup_for_caller(o.p, o.len - 1);
    if (*out == NULL) rc = ds__fail(DS_ERR_NOMEM, "out of memory");
done:
    ds__buf_release(&o);
    free(s.hits);
    return rc;
}
