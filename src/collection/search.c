/* search.c -- one search over a collection: BM25 and/or dense retrieval,
** pseudo-relevance feedback, fusion, cross-encoder re-ranking, and the one
** result shape (densearch.h [collection]).
**
** Fusion follows what the systems users compare us with do:
**   - RRF: sum over lists of 1 / (rrf_k + rank), ranks from 1 (Cormack et
**     al. 2009; Elasticsearch, OpenSearch, ParadeDB; Qdrant counts ranks
**     from 0, which is rrf_k + 1 here).
**   - Convex: alpha * norm(lexical) + (1 - alpha) * norm(dense) over each
**     list's retrieved scores (Bruch et al., TOIS 2023); a document missing
**     from a list takes that list's minimum, as Pyserini's hybrid does.
** Dense scores of passages become document scores by MaxP (best passage) or
** FirstP (first passage only). Ties always rank the lower document number
** first, so every search is deterministic.
**
** Thread: any number of searches may run on one open collection.
*/
#include "collection/collection.h"
#include "vector/index_impl.h"

#include <math.h>
#include <stdlib.h>

typedef struct cand {
    uint32_t doc, passage;
    float    bm25, dense, fused, rerank, score;
    uint32_t bm25_rank, dense_rank, fused_rank, rerank_rank;
} cand;

void ds_collection_search_opts_init(ds_collection_search_opts *o) {
    memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
    o->k = 10;
    o->rrf_k = 60;
    o->alpha = 0.5f;
    o->depth = 100;
    o->rm3_docs = 10;
    o->rm3_terms = 10;
    o->rm3_weight = 0.5f;
    o->rocchio_docs = 5;
    o->rocchio_alpha = 0.4f;
    o->rocchio_beta = 0.6f;
    o->rerank_depth = 100;
    o->snippet_bytes = 200;
}

/* The options with defaults applied to what the caller's struct lacks. */
static void resolve_opts(const ds_collection_search_opts *u, ds_collection_search_opts *o) {
    ds_collection_search_opts_init(o);
    if (u != NULL) {
        size_t n = DS_MIN(u->struct_size, sizeof *o);
        memcpy(o, u, n);
        o->struct_size = sizeof *o;
    }
    if (o->hl_open == NULL) o->hl_open = "**";
    if (o->hl_close == NULL) o->hl_close = "**";
}

static int cmp_score(const void *a, const void *b) {
    const cand *x = a, *y = b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    return x->doc < y->doc ? -1 : x->doc > y->doc;
}
static int cmp_doc(const void *a, const void *b) {
    const cand *x = a, *y = b;
    return x->doc < y->doc ? -1 : x->doc > y->doc;
}

static cand blank(uint32_t doc) {
    cand c = { doc, 0, NAN, NAN, NAN, NAN, NAN, 0, 0, 0, 0 };
    return c;
}

/* ---- sides -------------------------------------------------------------------- */

/* The allow-list a search runs with, over document numbers of the view:
** the caller's filter and filter_ids together (NULL: every document). */
typedef struct allow {
    const uint8_t *bits;
    uint64_t       n_bits;
    uint8_t       *owned;
} allow;

static int allowed_doc(const allow *a, uint64_t d) {
    return a->bits == NULL || (d < a->n_bits && ((a->bits[d >> 3] >> (d & 7)) & 1));
}

/* "title text" of document doc (view number) as a new string (ds_free). */
static ds_status doc_text(const ds_collection *c, uint32_t doc, char **text, size_t *len) {
    *text = NULL;
    *len = 0;
    uint32_t d;
    const ds__seg *s = ds__coll_seg_of(c, doc, &d);
    if (s == NULL) return ds__fail(DS_ERR_INTERNAL, "document %u is not in the collection", doc);
    char *title = NULL, *body = NULL;
    size_t tl = 0, bl = 0;
    ds_status rc = ds__docstore_doc(s->ds, d, &title, &tl, &body, &bl);
    if (rc == DS_OK) {
        char *t = malloc(tl + bl + 2);   /* ds_free */
        if (t == NULL) rc = ds__fail(DS_ERR_NOMEM, "out of memory");
        else {
            memcpy(t, title, tl);
            size_t at = tl;
            if (tl) t[at++] = ' ';
            memcpy(t + at, body, bl);
            t[at + bl] = '\0';
            *text = t;
            *len = at + bl;
        }
    }
    ds_free(title);
    ds_free(body);
    return rc;
}

/* "term^weight term^weight ..." of an expanded query, for --explain. */
static char *describe_query(ds_env *env, const ds_lexical_query *q) {
    ds__buf b;
    ds__buf_init(&b, env);
    for (size_t i = 0; i < ds_lexical_query_n_terms(q); i++) {
        size_t len;
        float w;
        const char *t = ds_lexical_query_term(q, i, &len, &w);
        char num[32];
        if (i) ds__buf_put_u8(&b, ' ');
        ds__buf_put(&b, t, len);
        int n = snprintf(num, sizeof num, "^%.4f", (double)w);
        ds__buf_put(&b, num, (size_t)n);
    }
    ds__buf_put_u8(&b, 0);
    char *s = b.rc == DS_OK ? strdup((const char *)b.p) : NULL;
    ds__buf_release(&b);
    return s;
}

static int cmp_hit(const void *a, const void *b) {
    const ds_lexical_hit *x = a, *y = b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    return (x->doc > y->doc) - (x->doc < y->doc);
}

/* BM25 top n over every segment (collection-wide statistics, deleted
** documents left out), in view document numbers, best first. */
static ds_status lexical_top(const ds_collection *c, const ds_lexical_query *q, size_t n, ds__lx_params *p,
                             const allow *al, ds_lexical_hit **out, size_t *n_out) {
    *out = NULL;
    *n_out = 0;
    size_t cap = 0;
    for (size_t i = 0; i < c->n_seg; i++)
        if (c->seg[i]->n_docs > c->seg[i]->n_dead) cap += DS_MIN(n, (size_t)c->seg[i]->n_docs);
    ds_lexical_hit *all = malloc((cap ? cap : 1) * sizeof *all);
    if (all == NULL) return ds__fail(DS_ERR_NOMEM, "out of memory");
    size_t m = 0, contributing = 0;
    ds_status rc = DS_OK;
    p->filter = al->bits;
    p->filter_bits = al->n_bits;
    for (size_t i = 0; i < c->n_seg && rc == DS_OK; i++) {
        const ds__seg *s = c->seg[i];
        if (s->n_docs == s->n_dead) continue;
        p->dead = s->dead;
        p->filter_offset = s->base;
        size_t nh = 0;
        rc = ds__lx_query_search(s->lx, NULL, q, DS_MIN(n, (size_t)s->n_docs), p, all + m, &nh);
        for (size_t j = 0; j < nh; j++) all[m + j].doc += (uint32_t)s->base;
        if (nh) contributing++;
        m += nh;
    }
    p->dead = NULL;
    p->filter_offset = 0;
    if (rc != DS_OK) {
        free(all);
        return rc;
    }
    if (contributing > 1) qsort(all, m, sizeof *all, cmp_hit);
    *out = all;
    *n_out = DS_MIN(m, n);
    return DS_OK;
}

static ds_status lexical_side(const ds_collection *c, const ds_lexical_query *q, size_t n, const ds_collection_search_opts *o,
                              const allow *al, cand **out, size_t *n_out, char **expansion) {
    *out = NULL;
    *n_out = 0;
    ds_lexical_search_opts lo;
    ds_lexical_search_opts_init(&lo);
    if (o->prf & DS_PRF_RM3) {
        lo.rm3_docs = o->rm3_docs;
        lo.rm3_terms = o->rm3_terms;
        lo.rm3_original_weight = o->rm3_weight;
    }
    ds__lx_params p;
    ds__lx_global g;
    ds_status rc = ds__lx_params_read(c->lx, &lo, &p);
    if (rc != DS_OK) return rc;
    p.rm3_docs = 0;   /* RM3 runs here, over all segments */
    p.g = ds__coll_lexical_global(c, &g);
    ds_lexical_query *rm3 = NULL;
    ds_lexical_hit *hits = NULL;
    size_t nh = 0;
    if (o->prf & DS_PRF_RM3) {
        /* Anserini's Rm3Reranker: the original query's best documents, their
        ** text re-analysed, the expansion interpolated, run again */
        rc = lexical_top(c, q, o->rm3_docs, &p, al, &hits, &nh);
        char **texts = rc == DS_OK ? calloc(nh ? nh : 1, sizeof *texts) : NULL;
        size_t *lens = rc == DS_OK ? calloc(nh ? nh : 1, sizeof *lens) : NULL;
        float *scores = rc == DS_OK ? malloc((nh ? nh : 1) * sizeof *scores) : NULL;
        if (rc == DS_OK && (texts == NULL || lens == NULL || scores == NULL)) rc = ds__fail(DS_ERR_NOMEM, "out of memory");
        if (rc == DS_OK && nh > 0 && !c->seg[0]->ds->has_text)
            rc = ds__fail(DS_ERR_NOTFOUND, "RM3 needs stored text; the collection was built without it");
        for (size_t i = 0; i < nh && rc == DS_OK; i++) {
            rc = doc_text(c, hits[i].doc, &texts[i], &lens[i]);
            scores[i] = hits[i].score;
        }
        if (rc == DS_OK) rc = ds__lx_query_rm3_texts(c->lx, q, (const char *const *)texts, lens, scores, nh, &p, &rm3);
        if (rc == DS_OK && expansion) *expansion = describe_query(c->env, rm3);
        for (size_t i = 0; texts && i < nh; i++) ds_free(texts[i]);
        free(texts);
        free(lens);
        free(scores);
        free(hits);
        hits = NULL;
    }
    if (rc == DS_OK) rc = lexical_top(c, rm3 ? rm3 : q, n, &p, al, &hits, &nh);
    ds_lexical_query_free(rm3);
    cand *cs = rc == DS_OK ? malloc((nh ? nh : 1) * sizeof *cs) : NULL;
    if (rc == DS_OK && cs == NULL) rc = ds__fail(DS_ERR_NOMEM, "out of memory");
    if (rc == DS_OK) {
        for (size_t i = 0; i < nh; i++) {
            cs[i] = blank(hits[i].doc);
            cs[i].bm25 = hits[i].score;
            cs[i].bm25_rank = (uint32_t)(i + 1);
        }
        *out = cs;
        *n_out = nh;
    }
    free(hits);
    return rc;
}

/* Allow-list over a segment's passages: live documents the filter allows
** (and only their first passage for FirstP); *bits NULL when every passage
** is allowed. */
static ds_status passage_filter(const ds_collection *c, const ds__seg *s, const ds_collection_search_opts *o, const allow *al,
                                uint8_t **bits, uint64_t *n_bits, const uint8_t **use) {
    *bits = NULL;
    *n_bits = 0;
    *use = NULL;
    const ds__docstore *ds = s->ds;
    int firstp = o->passage_score == DS_PASSAGE_FIRSTP && ds->n_passages != ds->n_docs;
    if (al->bits == NULL && !firstp) {
        if (s->live_psg) {
            *use = s->live_psg;
            *n_bits = s->n_passages;
        }
        return DS_OK;
    }
    (void)c;
    uint8_t *m = calloc((size_t)(ds->n_passages + 7) / 8 + 1, 1);
    if (m == NULL) return ds__fail(DS_ERR_NOMEM, "out of memory");
    for (uint32_t d = 0; d < ds->n_docs; d++) {
        if (ds__seg_dead(s, d) || !allowed_doc(al, s->base + d)) continue;
        uint32_t p0 = ds__docstore_first_passage(ds, d), p1 = firstp ? p0 + 1 : ds__docstore_first_passage(ds, d + 1);
        for (uint32_t p = p0; p < p1; p++) m[p >> 3] |= (uint8_t)(1u << (p & 7));
    }
    *bits = m;
    *use = m;
    *n_bits = ds->n_passages;
    return DS_OK;
}

/* Top-n documents of one segment by dense score: passages searched, then
** folded into their documents (best passage first); fetches more passages
** until n distinct documents are found or every passage was seen. */
static ds_status dense_segment(const ds__seg *s, const float *qv, size_t n, const ds_collection_search_opts *o,
                               const uint8_t *pf, uint64_t pf_bits, cand *cs, size_t *n_out) {
    *n_out = 0;
    const ds__docstore *ds = s->ds;
    uint64_t np = ds->n_passages;
    size_t want = n;
    if (np != ds->n_docs) want = (size_t)DS_MIN((uint64_t)n * 2 + 16, np);
    ds_search_opts so;
    ds_search_opts_init(&so);
    so.nprobe = o->nprobe;
    so.cancel = o->cancel;
    so.cancel_ud = o->cancel_ud;
    so.filter = pf;
    so.filter_bits = pf_bits;
    for (;;) {
        if (want == 0 || np == 0) return DS_OK;
        so.ef_search = (unsigned)DS_MIN((size_t)UINT32_MAX, DS_MAX((size_t)o->ef_search, DS_MAX(want, (size_t)64)));
        uint64_t *ids = malloc(want * sizeof *ids);
        float *sc = malloc(want * sizeof *sc);
        size_t nf = 0;
        ds_status rc = ids && sc ? ds_index_search(s->vx, qv, 1, want, &so, ids, sc, &nf)
                                 : ds__fail(DS_ERR_NOMEM, "out of memory");
        size_t nd = 0;
        if (rc == DS_OK) {
            /* results come best first: the first passage seen of a document is its best */
            for (size_t i = 0; i < nf && nd < n; i++) {
                if (ids[i] >= np) continue;
                uint32_t d = ds__docstore_passage_doc(ds, ids[i]);
                if (np != ds->n_docs) {   /* a document's later passages score lower: skip them */
                    size_t j = 0;
                    while (j < nd && cs[j].doc != s->base + d) j++;   /* nd is at most the fusion depth */
                    if (j < nd) continue;
                }
                cs[nd] = blank((uint32_t)(s->base + d));
                cs[nd].dense = sc[i];
                cs[nd].passage = (uint32_t)(ids[i] - ds__docstore_first_passage(ds, d));
                nd++;
            }
        }
        free(ids);
        free(sc);
        if (rc != DS_OK) return rc;
        if (nd >= n || want >= np || nf < want) {
            *n_out = nd;
            return DS_OK;
        }
        want = (size_t)DS_MIN((uint64_t)want * 2, np);
    }
}

static int cmp_dense(const void *a, const void *b) {
    const cand *x = a, *y = b;
    if (x->dense != y->dense) return x->dense > y->dense ? -1 : 1;
    return (x->doc > y->doc) - (x->doc < y->doc);
}

/* Top-n documents by dense score over every segment. */
static ds_status dense_docs(const ds_collection *c, const float *qv, size_t n, const ds_collection_search_opts *o,
                            const allow *al, cand **out, size_t *n_out) {
    *out = NULL;
    *n_out = 0;
    size_t cap = 0;
    for (size_t i = 0; i < c->n_seg; i++) cap += DS_MIN(n, (size_t)c->seg[i]->n_docs);
    cand *all = malloc((cap ? cap : 1) * sizeof *all);
    if (all == NULL) return ds__fail(DS_ERR_NOMEM, "out of memory");
    size_t m = 0, contributing = 0;
    ds_status rc = DS_OK;
    for (size_t i = 0; i < c->n_seg && rc == DS_OK; i++) {
        const ds__seg *s = c->seg[i];
        if (s->vx == NULL || s->n_docs == s->n_dead) continue;
        uint8_t *owned = NULL;
        const uint8_t *pf = NULL;
        uint64_t pf_bits = 0;
        size_t nd = 0;
        rc = passage_filter(c, s, o, al, &owned, &pf_bits, &pf);
        if (rc == DS_OK) rc = dense_segment(s, qv, DS_MIN(n, (size_t)s->n_docs), o, pf, pf_bits, all + m, &nd);
        free(owned);
        if (nd) contributing++;
        m += nd;
    }
    if (rc != DS_OK) {
        free(all);
        return rc;
    }
    if (contributing > 1) qsort(all, m, sizeof *all, cmp_dense);
    if (m > n) m = n;
    for (size_t i = 0; i < m; i++) all[i].dense_rank = (uint32_t)(i + 1);
    *out = all;
    *n_out = m;
    return DS_OK;
}

/* Vector PRF as Li et al. (TOIS 2023, "Pseudo Relevance Feedback with Deep
** Language Models and Dense Retrievers") and Pyserini's Rocchio: q' = alpha q +
** beta mean(top documents' best passage vectors), renormalised when the index
** is cosine (which does not change the ranking). */
static ds_status rocchio(const ds_collection *c, float *qv, const ds_collection_search_opts *o, const allow *al) {
    if (o->rocchio_docs == 0) return DS_OK;
    cand *fb = NULL;
    size_t nfb = 0;
    ds_status rc = dense_docs(c, qv, o->rocchio_docs, o, al, &fb, &nfb);
    if (rc != DS_OK || nfb == 0) {
        free(fb);
        return rc;
    }
    size_t dim = c->dim;
    float *mean = calloc(dim, sizeof *mean);
    if (mean == NULL) {
        free(fb);
        return ds__fail(DS_ERR_NOMEM, "out of memory");
    }
    size_t used = 0;
    for (size_t i = 0; i < nfb; i++) {
        uint32_t d;
        const ds__seg *s = ds__coll_seg_of(c, fb[i].doc, &d);
        const float *v = s ? ds__index_vector(s->vx, ds__docstore_first_passage(s->ds, d) + fb[i].passage) : NULL;
        if (v == NULL) {
            rc = ds__fail(DS_ERR_UNSUPPORTED, "Rocchio feedback needs the full vectors, which a %s index does not keep in memory",
                          c->vec_type ? c->vec_type : "this");
            break;
        }
        for (size_t j = 0; j < dim; j++) mean[j] += v[j];
        used++;
    }
    if (rc == DS_OK && used > 0) {
        double norm = 0;
        for (size_t j = 0; j < dim; j++) {
            qv[j] = o->rocchio_alpha * qv[j] + o->rocchio_beta * mean[j] / (float)used;
            norm += (double)qv[j] * qv[j];
        }
        if ((ds_metric)c->metric == DS_METRIC_COSINE && norm > 0)
            for (size_t j = 0; j < dim; j++) qv[j] = (float)(qv[j] / sqrt(norm));
    }
    free(mean);
    free(fb);
    return rc;
}

/* ---- fusion ------------------------------------------------------------------- */

static void normalise(float *s, size_t n, ds_score_norm how, float *lo) {
    if (n == 0) return;
    if (how == DS_NORM_ZSCORE) {
        double m = 0, v = 0;
        for (size_t i = 0; i < n; i++) m += s[i];
        m /= (double)n;
        for (size_t i = 0; i < n; i++) v += (s[i] - m) * (s[i] - m);
        double sd = sqrt(v / (double)n);
        float mn = INFINITY;
        for (size_t i = 0; i < n; i++) {
            s[i] = sd > 0 ? (float)((s[i] - m) / sd) : 0.0f;
            if (s[i] < mn) mn = s[i];
        }
        *lo = mn;
        return;
    }
    float mn = s[0], mx = s[0];
    for (size_t i = 1; i < n; i++) {
        if (s[i] < mn) mn = s[i];
        if (s[i] > mx) mx = s[i];
    }
    for (size_t i = 0; i < n; i++) s[i] = mx > mn ? (s[i] - mn) / (mx - mn) : 1.0f;
    *lo = mx > mn ? 0.0f : 1.0f;
}

/* Merges the two lists into one candidate per document and fuses them. */
static ds_status fuse(cand *lex, size_t nl, cand *den, size_t nd, const ds_collection_search_opts *o, cand **out,
                      size_t *n_out) {
    cand *u = malloc((nl + nd + 1) * sizeof *u);
    float *ln = malloc((nl + 1) * sizeof *ln), *dn = malloc((nd + 1) * sizeof *dn);
    if (u == NULL || ln == NULL || dn == NULL) {
        free(u);
        free(ln);
        free(dn);
        return ds__fail(DS_ERR_NOMEM, "out of memory");
    }
    float lmin = 0, dmin = 0;
    for (size_t i = 0; i < nl; i++) ln[i] = lex[i].bm25;
    for (size_t i = 0; i < nd; i++) dn[i] = den[i].dense;
    if (o->fusion == DS_FUSION_CONVEX) {
        normalise(ln, nl, o->norm, &lmin);
        normalise(dn, nd, o->norm, &dmin);
    }
    for (size_t i = 0; i < nl; i++) lex[i].fused = ln[i];   /* normalised score rides along */
    for (size_t i = 0; i < nd; i++) den[i].fused = dn[i];
    qsort(lex, nl, sizeof *lex, cmp_doc);
    qsort(den, nd, sizeof *den, cmp_doc);
    size_t i = 0, j = 0, n = 0;
    while (i < nl || j < nd) {
        cand c;
        float a, b;   /* normalised lexical, dense */
        if (j >= nd || (i < nl && lex[i].doc < den[j].doc)) {
            c = lex[i++];
            a = c.fused;
            b = dmin;
        } else if (i >= nl || den[j].doc < lex[i].doc) {
            c = den[j++];
            a = lmin;
            b = c.fused;
        } else {
            c = lex[i];
            c.dense = den[j].dense;
            c.dense_rank = den[j].dense_rank;
            c.passage = den[j].passage;
            a = lex[i].fused;
            b = den[j].fused;
            i++;
            j++;
        }
        if (o->fusion == DS_FUSION_RRF) {
            double s = 0;
            if (c.bm25_rank) s += 1.0 / ((double)o->rrf_k + c.bm25_rank);
            if (c.dense_rank) s += 1.0 / ((double)o->rrf_k + c.dense_rank);
            c.fused = (float)s;
        } else {
            c.fused = o->alpha * a + (1.0f - o->alpha) * b;
        }
        c.score = c.fused;
        u[n++] = c;
    }
    free(ln);
    free(dn);
    qsort(u, n, sizeof *u, cmp_score);
    for (size_t r = 0; r < n; r++) u[r].fused_rank = (uint32_t)(r + 1);
    *out = u;
    *n_out = n;
    return DS_OK;
}

/* ---- re-ranking --------------------------------------------------------------- */

static ds_status rerank(const ds_collection *c, const char *q, cand *cs, size_t n, const ds_collection_search_opts *o) {
    size_t m = DS_MIN(n, o->rerank_depth);
    if (m == 0) return DS_OK;
    if (!c->seg[0]->ds->has_text) return ds__fail(DS_ERR_INVALID, "re-ranking needs stored text; the collection was built without it");
    char **texts = calloc(m, sizeof *texts);
    const char **qs = malloc(m * sizeof *qs);
    float *sc = malloc(m * sizeof *sc);
    ds_status rc = texts && qs && sc ? DS_OK : ds__fail(DS_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < m && rc == DS_OK; i++) {
        size_t len;
        rc = doc_text(c, cs[i].doc, &texts[i], &len);   /* "title text", as it was embedded */
        qs[i] = q;
    }
    if (rc == DS_OK) rc = ds_encoder_rerank(o->reranker, qs, (const char *const *)texts, m, sc);
    if (rc == DS_OK) {
        for (size_t i = 0; i < m; i++) {
            cs[i].rerank = sc[i];
            cs[i].score = sc[i];
        }
        /* stable on the previous order: ties keep their first-stage rank */
        for (size_t i = 1; i < m; i++) {
            cand x = cs[i];
            size_t j = i;
            while (j > 0 && cs[j - 1].score < x.score) {
                cs[j] = cs[j - 1];
                j--;
            }
            cs[j] = x;
        }
        for (size_t i = 0; i < m; i++) cs[i].rerank_rank = (uint32_t)(i + 1);
    }
    for (size_t i = 0; texts && i < m; i++) ds_free(texts[i]);
    free(texts);
    free(qs);
    free(sc);
    return rc;
}

/* ---- results ------------------------------------------------------------------ */

static ds_status make_results(const ds_collection *c, const ds_lexical_query *q, const char *expansion, const cand *cs,
                              size_t n, const ds_collection_search_opts *o, ds_results **out) {
    ds__buf strs;
    ds__buf_init(&strs, c->env);
    size_t *off = malloc((n ? n : 1) * 3 * sizeof *off);
    if (off == NULL) return ds__fail(DS_ERR_NOMEM, "out of memory");
    ds_status rc = DS_OK;
    for (size_t i = 0; i < n && rc == DS_OK; i++) {
        size_t len;
        uint32_t d = 0;
        const ds__seg *s = ds__coll_seg_of(c, cs[i].doc, &d);
        const char *id = s ? ds__docstore_id(s->ds, d, &len) : NULL;
        if (id == NULL) {
            rc = ds__fail(DS_ERR_CORRUPT, "id of document %u is damaged", cs[i].doc);
            break;
        }
        off[3 * i] = strs.len;
        ds__buf_put(&strs, id, len);
        ds__buf_put_u8(&strs, 0);
        off[3 * i + 1] = off[3 * i + 2] = SIZE_MAX;
        if (o->with_text && s->ds->has_text) {
            char *title = NULL, *text = NULL, *snip = NULL;
            size_t tl = 0, xl = 0;
            rc = ds__docstore_doc(s->ds, d, &title, &tl, &text, &xl);
            if (rc == DS_OK) rc = ds_lexical_snippet_query(c->lx, q, text, xl, o->snippet_bytes, o->hl_open, o->hl_close, &snip);
            if (rc == DS_OK) {
                off[3 * i + 1] = strs.len;
                ds__buf_put(&strs, title, tl + 1);
                off[3 * i + 2] = strs.len;
                ds__buf_put(&strs, snip, strlen(snip) + 1);
            }
            ds_free(title);
            ds_free(text);
            ds_free(snip);
        }
    }
    if (rc == DS_OK && strs.rc != DS_OK) rc = ds__fail(DS_ERR_NOMEM, "out of memory");
    size_t head = ds__align_up(sizeof(ds_results), 16), hits = n * sizeof(ds_hit);
    size_t xlen = expansion ? strlen(expansion) + 1 : 0;
    ds_results *r = NULL;
    if (rc == DS_OK && (r = calloc(1, head + hits + strs.len + xlen + 1)) == NULL) rc = ds__fail(DS_ERR_NOMEM, "out of memory");
    if (rc == DS_OK) {
        if (expansion) {
            char *x = (char *)r + head + hits + strs.len;
            memcpy(x, expansion, xlen);
            r->expansion = x;
        }
        r->n = n;
        r->hits = (ds_hit *)(void *)((char *)r + head);
        char *sb = (char *)r + head + hits;
        if (strs.len) memcpy(sb, strs.p, strs.len);
        for (size_t i = 0; i < n; i++) {
            ds_hit *h = &r->hits[i];
            const cand *x = &cs[i];
            memset(h, 0, sizeof *h);
            h->id = sb + off[3 * i];
            h->id_len = strlen(h->id);
            h->doc = x->doc;
            h->passage = x->passage;
            h->score = x->score;
            h->bm25 = x->bm25;
            h->dense = x->dense;
            h->fused = x->fused;
            h->rerank = x->rerank;
            h->bm25_rank = x->bm25_rank;
            h->dense_rank = x->dense_rank;
            h->fused_rank = x->fused_rank;
            h->rerank_rank = x->rerank_rank;
            if (off[3 * i + 1] != SIZE_MAX) {
                h->title = sb + off[3 * i + 1];
                h->title_len = strlen(h->title);
                h->snippet = sb + off[3 * i + 2];
                h->snippet_len = strlen(h->snippet);
            }
        }
        *out = r;
    }
    free(off);
    ds__buf_release(&strs);
    return rc;
}

void ds_results_free(ds_results *r) {
    free(r);
}

/* ---- one query ------------------------------------------------------------------ */

static ds_status check_opts(const ds_collection *c, const ds_collection_search_opts *o, ds_search_mode *mode) {
    if (c == NULL || c->building)   /* open collections always have a segment */
        return ds__fail(DS_ERR_INVALID, "search: the collection is not committed or not open");
    ds_search_mode m = o->mode;
    if (m == DS_SEARCH_AUTO) m = c->dim > 0 ? DS_SEARCH_HYBRID : DS_SEARCH_LEXICAL;
    if ((unsigned)m > DS_SEARCH_HYBRID) return ds__fail(DS_ERR_INVALID, "search: unknown mode %d", (int)o->mode);
    if (m != DS_SEARCH_LEXICAL && c->dim == 0)
        return ds__fail(DS_ERR_INVALID, "%s: %s search needs vectors; the collection is BM25 only (build it with a model or embeddings)",
                        c->dir, m == DS_SEARCH_DENSE ? "dense" : "hybrid");
    if (m != DS_SEARCH_LEXICAL && c->enc == NULL && o->query_vectors == NULL)
        return ds__fail(DS_ERR_INVALID, "%s: dense search needs a query encoder or query vectors: %s", c->dir,
                        c->enc_note ? c->enc_note
                        : c->has_identity ? "the collection was opened without its model"
                                          : "the collection holds precomputed embeddings; give the query embeddings");
    if (o->k == 0 || o->k > 100000) return ds__fail(DS_ERR_INVALID, "search: k must be 1..100000 (got %zu)", o->k);
    if (o->depth > 100000 || o->rerank_depth > 100000) return ds__fail(DS_ERR_INVALID, "search: depth must be at most 100000");
    if ((unsigned)o->fusion > DS_FUSION_CONVEX) return ds__fail(DS_ERR_INVALID, "search: unknown fusion %d", (int)o->fusion);
    if ((unsigned)o->norm > DS_NORM_ZSCORE) return ds__fail(DS_ERR_INVALID, "search: unknown normalisation %d", (int)o->norm);
    if (!(o->alpha >= 0.0f && o->alpha <= 1.0f)) return ds__fail(DS_ERR_INVALID, "search: alpha must be within 0..1");
    if (o->prf & ~(unsigned)(DS_PRF_RM3 | DS_PRF_ROCCHIO)) return ds__fail(DS_ERR_INVALID, "search: unknown prf bits");
    if ((o->prf & DS_PRF_RM3) && m == DS_SEARCH_DENSE) return ds__fail(DS_ERR_INVALID, "search: RM3 expands the lexical query; dense mode has none");
    if ((o->prf & DS_PRF_ROCCHIO) && m == DS_SEARCH_LEXICAL) return ds__fail(DS_ERR_INVALID, "search: Rocchio feedback moves the dense query; lexical mode has none");
    if (o->reranker != NULL && ds_encoder_kind_of(o->reranker) != DS_ENCODER_CROSS)
        return ds__fail(DS_ERR_INVALID, "search: the re-ranker must be a cross-encoder");
    if (o->filter != NULL && o->filter_bits == 0) return ds__fail(DS_ERR_INVALID, "search: filter with 0 bits");
    if (o->n_filter_ids > 0 && o->filter_ids == NULL) return ds__fail(DS_ERR_INVALID, "search: n_filter_ids without filter_ids");
    *mode = m;
    return DS_OK;
}

/* The filter and filter_ids of o as one allow-list over the view. */
static ds_status make_allow(const ds_collection *c, const ds_collection_search_opts *o, allow *al) {
    memset(al, 0, sizeof *al);
    al->bits = o->filter;
    al->n_bits = o->filter_bits;
    if (o->filter_ids == NULL || o->n_filter_ids == 0) {
        if (o->filter_ids != NULL) {   /* an empty id list allows nothing */
            if ((al->owned = calloc(1, 1)) == NULL) return ds__fail(DS_ERR_NOMEM, "out of memory");
            al->bits = al->owned;
            al->n_bits = 1;
        }
        return DS_OK;
    }
    uint8_t *m = NULL;
    uint64_t bits = 0;
    ds_status rc = ds__coll_filter_locked(c, o->filter_ids, o->filter_id_lens, o->n_filter_ids, &m, &bits, NULL);
    if (rc != DS_OK) return rc;
    if (o->filter != NULL) {
        for (uint64_t i = 0; i < (bits + 7) / 8; i++) m[i] &= i < (o->filter_bits + 7) / 8 ? o->filter[i] : 0;
        if (o->filter_bits < bits && (o->filter_bits & 7)) m[o->filter_bits >> 3] &= (uint8_t)((1u << (o->filter_bits & 7)) - 1);
    }
    al->bits = al->owned = m;
    al->n_bits = bits ? bits : 1;
    return DS_OK;
}

/* qv: the query's embedding (dim floats, may be modified by Rocchio) or NULL
** for lexical mode. The caller holds the read lock. */
static ds_status search_locked(const ds_collection *c, const char *q, size_t qlen, float *qv, const ds_collection_search_opts *o,
                               ds_search_mode mode, double t_encode, ds_results **out) {
    double t0 = ds__now(), t;
    size_t want = o->k;
    if (o->reranker) want = DS_MAX(want, o->rerank_depth);
    size_t side = mode == DS_SEARCH_HYBRID ? DS_MAX(o->depth, want) : want;
    cand *lex = NULL, *den = NULL, *all = NULL;
    size_t nl = 0, nd = 0, na = 0;
    double t_lex = 0, t_den = 0, t_rr = 0;
    allow al;
    ds_status rc = make_allow(c, o, &al);
    ds_lexical_query *lq = NULL;
    char *expansion = NULL;
    /* analysed once: BM25, RM3 and every snippet use the same query */
    if (rc == DS_OK && (mode != DS_SEARCH_DENSE || o->with_text)) {
        t = ds__now();
        rc = ds_lexical_query_create(c->lx, q, qlen, &lq);
        t_lex = ds__now() - t;
    }
    if (rc == DS_OK && mode != DS_SEARCH_DENSE) {
        t = ds__now();
        rc = lexical_side(c, lq, side, o, &al, &lex, &nl, &expansion);
        t_lex += ds__now() - t;
    }
    if (rc == DS_OK && mode != DS_SEARCH_LEXICAL) {
        t = ds__now();
        if (o->prf & DS_PRF_ROCCHIO) rc = rocchio(c, qv, o, &al);
        if (rc == DS_OK) rc = dense_docs(c, qv, side, o, &al, &den, &nd);
        t_den = ds__now() - t;
    }
    free(al.owned);
    if (rc == DS_OK) {
        if (mode == DS_SEARCH_HYBRID) {
            rc = fuse(lex, nl, den, nd, o, &all, &na);
        } else {
            all = mode == DS_SEARCH_LEXICAL ? lex : den;
            na = mode == DS_SEARCH_LEXICAL ? nl : nd;
            if (mode == DS_SEARCH_LEXICAL) lex = NULL; else den = NULL;
            for (size_t i = 0; i < na; i++) all[i].score = mode == DS_SEARCH_LEXICAL ? all[i].bm25 : all[i].dense;
        }
    }
    if (rc == DS_OK && o->reranker) {
        t = ds__now();
        rc = rerank(c, q, all, na, o);
        t_rr = ds__now() - t;
    }
    if (rc == DS_OK) rc = make_results(c, lq, expansion, all, DS_MIN(na, o->k), o, out);
    if (rc == DS_OK) {
        (*out)->mode = mode;
        (*out)->t_encode = t_encode;
        (*out)->t_lexical = t_lex;
        (*out)->t_dense = t_den;
        (*out)->t_rerank = t_rr;
        (*out)->t_total = ds__now() - t0 + t_encode;
    }
    ds_lexical_query_free(lq);
    free(expansion);
    free(lex);
    free(den);
    free(all);
    return rc;
}

static ds_status search_one(const ds_collection *c, const char *q, size_t qlen, float *qv, const ds_collection_search_opts *o,
                            ds_search_mode mode, double t_encode, ds_results **out) {
    ds__coll_read_lock(c);
    ds_status rc = search_locked(c, q, qlen, qv, o, mode, t_encode, out);
    ds__coll_read_unlock(c);
    return rc;
}

/* Options resolved and checked, and the n queries' embeddings (n x dim,
** malloc'd; NULL for lexical mode): what one search and a batch share. */
static ds_status prepare(const ds_collection *c, const ds_collection_search_opts *opts, const char *const *queries,
                         const size_t *lens, size_t n, ds_collection_search_opts *o, ds_search_mode *mode, float **qv,
                         double *t_enc_each) {
    *qv = NULL;
    *t_enc_each = 0;
    resolve_opts(opts, o);
    ds_status rc = check_opts(c, o, mode);
    if (rc != DS_OK || *mode == DS_SEARCH_LEXICAL) return rc;
    size_t bytes;
    if (!ds__mul_ok(n, c->dim * sizeof **qv, &bytes) || (*qv = malloc(bytes)) == NULL)
        return ds__fail(DS_ERR_NOMEM, "out of memory for %zu query embeddings", n);
    if (o->query_vectors) {
        memcpy(*qv, o->query_vectors, bytes);
        return DS_OK;
    }
    double t = ds__now();
    rc = ds_encoder_encode(c->enc, queries, lens, n, *qv);
    *t_enc_each = (ds__now() - t) / (double)n;
    if (rc != DS_OK) {
        free(*qv);
        *qv = NULL;
    }
    return rc;
}

ds_status ds_collection_search(const ds_collection *c, const char *query, size_t query_len,
                               const ds_collection_search_opts *opts, ds_results **out) {
    if (out) *out = NULL;
    if (out == NULL || (query == NULL && query_len > 0)) return ds__fail(DS_ERR_INVALID, "ds_collection_search: NULL argument");
    if (query == NULL) query = "";
    ds_collection_search_opts o;
    ds_search_mode mode;
    float *qv = NULL;
    double t_enc = 0;
    ds_status rc = prepare(c, opts, &query, &query_len, 1, &o, &mode, &qv, &t_enc);
    if (rc == DS_OK) rc = search_one(c, query, query_len, qv, &o, mode, t_enc, out);
    free(qv);
    return rc;
}

/* ---- batches ------------------------------------------------------------------- */

typedef struct batch_ctx {
    const ds_collection             *c;
    const char *const               *queries;
    float                           *qv;
    const ds_collection_search_opts *o;
    ds_search_mode                   mode;
    double                           t_enc;   /* per query, averaged */
    ds_results                     **out;
    ds_status                       *rcs;
    char                           (*msgs)[256];
} batch_ctx;

static void batch_range(void *ctx, size_t begin, size_t end, unsigned thread) {
    (void)thread;
    batch_ctx *b = ctx;
    for (size_t i = begin; i < end; i++) {
        const char *q = b->queries[i];
        b->rcs[i] = search_one(b->c, q, strlen(q), b->qv ? b->qv + i * b->c->dim : NULL, b->o, b->mode, b->t_enc, &b->out[i]);
        if (b->rcs[i] != DS_OK) snprintf(b->msgs[i], sizeof b->msgs[i], "%s", ds_errmsg());
    }
}

ds_status ds_collection_search_batch(const ds_collection *c, const char *const *queries, size_t n,
                                     const ds_collection_search_opts *opts, unsigned n_threads, ds_results **out) {
    if (out) memset(out, 0, n * sizeof *out);
    if (n == 0) return DS_OK;
    if (queries == NULL || out == NULL) return ds__fail(DS_ERR_INVALID, "ds_collection_search_batch: NULL argument");
    for (size_t i = 0; i < n; i++)
        if (queries[i] == NULL) return ds__fail(DS_ERR_INVALID, "ds_collection_search_batch: query %zu is NULL", i + 1);
    ds_collection_search_opts o;
    ds_search_mode mode;
    float *qv = NULL;
    double t_enc = 0;
    ds_status rc = prepare(c, opts, queries, NULL, n, &o, &mode, &qv, &t_enc);
    if (rc != DS_OK) return rc;
    ds_status *rcs = calloc(n, sizeof *rcs);
    char (*msgs)[256] = calloc(n, sizeof *msgs);
    if (rc == DS_OK && (rcs == NULL || msgs == NULL)) rc = ds__fail(DS_ERR_NOMEM, "out of memory");
    if (rc == DS_OK) {
        if (n_threads == 0) n_threads = ds_env_threads(c->env);
        batch_ctx b = { c, queries, qv, &o, mode, t_enc, out, rcs, msgs };
        ds__parallel_for(c->env, n_threads ? n_threads : 1, n, 1, batch_range, &b);
        for (size_t i = 0; i < n; i++)
            if (rcs[i] != DS_OK) {
                rc = ds__fail(rcs[i], "query %zu: %s", i + 1, msgs[i]);
                break;
            }
    }
    if (rc != DS_OK)
        for (size_t i = 0; i < n; i++) {
            ds_results_free(out[i]);
            out[i] = NULL;
        }
    free(rcs);
    free(msgs);
    free(qv);
    return rc;
}
