/* t_lexical_query.c -- prepared lexical queries: identical results to the
** text calls, weighted terms (hand-computed scores; pruned == exhaustive
** with random weights), the allow-list filter (exact top-k among allowed
** documents), use on another index, RM3 (weights recomputed by hand from
** Anserini's rules; every text source gives the same expansion), bad
** arguments and an OOM sweep. */
#include "test.h"
#include "lexical/lexical.h"

#include <math.h>

static const char *tmp_path(const char *name) {
    static _Thread_local char bufs[16][4096];
    static _Thread_local unsigned slot;
    char *b = bufs[slot++ % 16];
    snprintf(b, 4096, "%s/%s", ds_test_tmpdir(), name);
    return b;
}

static void build_file(const char *corpus, const char *dir) {
    ds_corpus_opts co;
    ds_corpus_opts_init(&co);
    co.format = DS_CORPUS_BEIR;
    co.skip_bad = 1;   /* cranfield has an empty document */
    ds_corpus *c;
    ds_lexical_builder *b;
    ASSERT_OK(ds_corpus_open(NULL, corpus, &co, &c));
    ASSERT_OK(ds_lexical_builder_create(NULL, dir, NULL, &b));
    ds_doc d;
    for (;;) {
        ASSERT_OK(ds_corpus_next(c, &d));
        if (d.id == NULL) break;
        ASSERT_OK(ds_lexical_add(b, &d));
    }
    ds_corpus_close(c);
    ASSERT_OK(ds_lexical_finish(b, NULL));
}

/* ---- a hand corpus: 30 documents, no stemming, no stop words ------------------ */
/* d0..d2 hold the test terms; d3..d29 are fillers that also hold "common", so
** "common" has df 29/30 > 0.1 and never becomes a feedback term. "alpha" has
** df 3/30 = 0.1, which Anserini's rule (ratio > 0.1 is dropped) keeps. */
static const char *k_hand[3] = {
    "alpha beta beta gamma common x na\xc3\xafve",   /* x: too short; naïve: not [a-z0-9] */
    "alpha alpha delta delta delta common",
    "alpha beta epsilon",
};
#define HAND_N 30

static char hand_text[HAND_N][64];

static ds_env *g_env;   /* NULL, or the OOM sweep's env */

static void build_hand(const char *dir, int store) {
    ds_lexical_opts lo;
    ds_lexical_opts_init(&lo);
    lo.stemmer = "none";
    lo.stopwords = 0;
    lo.store_text = store;
    lo.n_threads = 1;
    ds_lexical_builder *b;
    ASSERT_OK(ds_lexical_builder_create(g_env, dir, &lo, &b));
    for (unsigned i = 0; i < HAND_N; i++) {
        if (i < 3) snprintf(hand_text[i], sizeof hand_text[i], "%s", k_hand[i]);
        else snprintf(hand_text[i], sizeof hand_text[i], "filler%u common", i);
        char id[16];
        snprintf(id, sizeof id, "d%u", i);
        ds_doc d = { id, strlen(id), "", 0, hand_text[i], strlen(hand_text[i]), "hand", i + 1 };
        ASSERT_OK(ds_lexical_add(b, &d));
    }
    ASSERT_OK(ds_lexical_finish(b, NULL));
}

static double bm25_term(double tf, double df, double dl, double avgdl) {
    double idf = log(1 + (HAND_N - df + 0.5) / (df + 0.5));
    return idf * tf / (tf + 0.9 * (1 - 0.4 + 0.4 * dl / avgdl));
}

static float query_weight(const ds_lexical_query *q, const char *term) {
    for (size_t i = 0; i < ds_lexical_query_n_terms(q); i++) {
        size_t l;
        float w;
        const char *t = ds_lexical_query_term(q, i, &l, &w);
        if (l == strlen(term) && memcmp(t, term, l) == 0) return w;
    }
    return 0.0f;
}

TEST(lexical_query_weighted_hand_computed) {
    const char *dir = tmp_path("hand");
    build_hand(dir, 1);
    ds_lexical *lx;
    ASSERT_OK(ds_lexical_open(NULL, dir, 0, &lx));
    /* doc lengths: d0 7 (x and naïve are words too), d1 6, d2 3, fillers 2 */
    double avgdl = (7.0 + 6 + 3 + 27 * 2) / HAND_N;
    const char *terms[4] = { "alpha", "beta", "alpha", "zzz" };
    float w[4] = { 0.25f, 2.0f, 0.25f, 1.0f };
    ds_lexical_query *q;
    ASSERT_OK(ds_lexical_query_create_weighted(lx, terms, NULL, w, 4, &q));
    ASSERT_EQ_U64(ds_lexical_query_n_terms(q), 3);   /* alpha summed, zzz kept (absent) */
    ASSERT_NEAR_F32(query_weight(q, "alpha"), 0.5, 0);
    ASSERT_NEAR_F32(query_weight(q, "beta"), 2.0, 0);
    ds_lexical_hit h[5];
    size_t n;
    ASSERT_OK(ds_lexical_search_query(lx, q, 5, NULL, h, &n));
    ASSERT_EQ_U64(n, 3);
    double want[3] = {
        0.5 * bm25_term(1, 3, 7, avgdl) + 2.0 * bm25_term(2, 2, 7, avgdl),
        0.5 * bm25_term(2, 3, 6, avgdl),
        0.5 * bm25_term(1, 3, 3, avgdl) + 2.0 * bm25_term(1, 2, 3, avgdl),
    };
    for (size_t i = 0; i < n; i++) {
        ASSERT(h[i].doc < 3);
        ASSERT_NEAR_F32(h[i].score, want[h[i].doc], 1e-5 * want[h[i].doc]);
        if (i > 0) ASSERT(h[i - 1].score >= h[i].score);
    }
    /* a text query's weights are its term counts */
    ds_lexical_query *t;
    ASSERT_OK(ds_lexical_query_create(lx, "beta alpha beta", 15, &t));
    ASSERT_EQ_U64(ds_lexical_query_n_terms(t), 2);
    size_t l;
    float tw;
    const char *s = ds_lexical_query_term(t, 0, &l, &tw);
    ASSERT(l == 4 && memcmp(s, "beta", 4) == 0 && tw == 2.0f);   /* first occurrence first */
    ASSERT(ds_lexical_query_term(t, 2, &l, &tw) == NULL && l == 0 && tw == 0.0f);
    /* bad arguments */
    ds_lexical_query *bad = (ds_lexical_query *)1;
    const char *tb[1] = { "alpha" };
    float wb[1] = { -1.0f };
    ASSERT_RC(ds_lexical_query_create_weighted(lx, tb, NULL, wb, 1, &bad), DS_ERR_INVALID);
    ASSERT(bad == NULL);
    wb[0] = NAN;
    ASSERT_RC(ds_lexical_query_create_weighted(lx, tb, NULL, wb, 1, &bad), DS_ERR_INVALID);
    wb[0] = INFINITY;
    ASSERT_RC(ds_lexical_query_create_weighted(lx, tb, NULL, wb, 1, &bad), DS_ERR_INVALID);
    wb[0] = 1.0f;
    size_t zero = 0;
    ASSERT_RC(ds_lexical_query_create_weighted(lx, tb, &zero, wb, 1, &bad), DS_ERR_INVALID);
    tb[0] = NULL;
    ASSERT_RC(ds_lexical_query_create_weighted(lx, tb, NULL, wb, 1, &bad), DS_ERR_INVALID);
    tb[0] = "alpha";
    wb[0] = 0.0f;   /* weight 0: dropped, so nothing matches */
    ASSERT_OK(ds_lexical_query_create_weighted(lx, tb, NULL, wb, 1, &bad));
    ASSERT_EQ_U64(ds_lexical_query_n_terms(bad), 0);
    ASSERT_OK(ds_lexical_search_query(lx, bad, 5, NULL, h, &n));
    ASSERT_EQ_U64(n, 0);
    ds_lexical_query_free(bad);
    ASSERT_RC(ds_lexical_search_query(lx, NULL, 5, NULL, h, &n), DS_ERR_INVALID);
    ds_lexical_search_opts o;
    ds_lexical_search_opts_init(&o);
    o.filter_bits = 8;   /* without a filter */
    ASSERT_RC(ds_lexical_search_query(lx, q, 5, &o, h, &n), DS_ERR_INVALID);
    ds_lexical_search_opts_init(&o);
    o.rm3_docs = 2;
    o.rm3_original_weight = 1.5f;
    ASSERT_RC(ds_lexical_search_query(lx, q, 5, &o, h, &n), DS_ERR_INVALID);
    ds_lexical_query *xq = NULL;
    ASSERT_RC(ds_lexical_query_rm3(lx, q, &o, &xq), DS_ERR_INVALID);
    o.rm3_docs = 0;   /* RM3 off: its fields are not looked at */
    o.rm3_terms = 0;
    ASSERT_OK(ds_lexical_search_query(lx, q, 5, &o, h, &n));
    ASSERT_RC(ds_lexical_query_rm3(lx, q, &o, &xq), DS_ERR_INVALID);   /* asked for: rm3_terms 0 is bad */
    ASSERT(xq == NULL);
    /* a tiny weight whose score underflows to 0 (times the small idf of
    ** "common") is no hit, pruned or not */
    tb[0] = "common";
    wb[0] = 1e-45f;
    ASSERT_OK(ds_lexical_query_create_weighted(lx, tb, NULL, wb, 1, &bad));
    for (int ex = -1; ex <= 1; ex += 2) {
        ds_lexical_search_opts_init(&o);
        o.exhaustive = ex;
        ASSERT_OK(ds_lexical_search_query(lx, bad, 5, &o, h, &n));
        ASSERT_EQ_U64(n, 0);
    }
    ds_lexical_query_free(bad);
    ds_lexical_query_free(t);
    ds_lexical_query_free(q);
    ds_lexical_close(lx);
}

/* ---- RM3 ------------------------------------------------------------------------ */

/* The pruned doc vectors (tf, rm3_terms = 2, ties by bytes) of d0..d2 after
** Anserini's filters; see k_hand. */
typedef struct tv { const char *t[2]; float tf[2]; } tv;
static const tv k_vec[3] = {
    { { "beta", "alpha" }, { 2, 1 } },     /* alpha(1) beta(2) gamma(1); common, x, naïve dropped */
    { { "delta", "alpha" }, { 3, 2 } },
    { { "alpha", "beta" }, { 1, 1 } },     /* alpha, beta, epsilon all 1 */
};

typedef struct wt { const char *t; float w; } wt;

static int cmp_wt(const void *a, const void *b) {
    const wt *x = a, *y = b;
    if (x->w != y->w) return x->w > y->w ? -1 : 1;
    return strcmp(x->t, y->t);
}

/* The expansion of "alpha" from feedback docs hits[0..2), straight from the
** rules: fb = sum (tf / |v|_1) * score; keep the 2 best; L1; interpolate. */
static size_t expected_rm3(const ds_lexical_hit *h, float ow, wt *out) {
    wt fb[8];
    size_t n = 0;
    for (size_t i = 0; i < 2; i++) {
        const tv *v = &k_vec[h[i].doc];
        float norm = (float)((double)v->tf[0] + v->tf[1]);
        for (int j = 0; j < 2; j++) {
            size_t f = 0;
            while (f < n && strcmp(fb[f].t, v->t[j]) != 0) f++;
            if (f == n) { fb[n].t = v->t[j]; fb[n].w = 0.0f; n++; }
            fb[f].w += (v->tf[j] / norm) * h[i].score;
        }
    }
    qsort(fb, n, sizeof *fb, cmp_wt);
    if (n > 2) n = 2;
    double l1 = (double)fb[0].w + fb[1].w;
    for (size_t i = 0; i < n; i++) fb[i].w = (float)(fb[i].w / l1);
    size_t m = 0;
    int has_alpha = 0;
    for (size_t i = 0; i < n; i++) {
        int a = strcmp(fb[i].t, "alpha") == 0;
        has_alpha |= a;
        out[m].t = fb[i].t;
        out[m].w = (float)((double)(ow * (a ? 1.0f : 0.0f)) + (1.0 - ow) * fb[i].w);
        m++;
    }
    if (!has_alpha) { out[m].t = "alpha"; out[m].w = (float)((double)ow); m++; }
    qsort(out, m, sizeof *out, cmp_wt);
    return m;
}

static void same_query(const ds_lexical_query *a, const ds_lexical_query *b) {
    ASSERT_EQ_U64(ds_lexical_query_n_terms(a), ds_lexical_query_n_terms(b));
    for (size_t i = 0; i < ds_lexical_query_n_terms(a); i++) {
        size_t la, lb;
        float wa, wb;
        const char *ta = ds_lexical_query_term(a, i, &la, &wa), *tb = ds_lexical_query_term(b, i, &lb, &wb);
        if (la != lb || memcmp(ta, tb, la) != 0 || wa != wb)
            FAIL("term %zu: %.*s %.9g vs %.*s %.9g", i, (int)la, ta, (double)wa, (int)lb, tb, (double)wb);
    }
}

static int g_calls;
static ds_status hand_doc_text(void *ud, uint32_t doc, char **text, size_t *len) {
    g_calls++;
    if (ud != NULL) return DS_ERR_IO;   /* the failing variant */
    *text = strdup(hand_text[doc]);
    *len = strlen(hand_text[doc]);
    return *text ? DS_OK : DS_ERR_NOMEM;
}

TEST(lexical_rm3_hand_computed) {
    const char *dir = tmp_path("rm3"), *nostore = tmp_path("rm3_nostore");
    build_hand(dir, 1);
    build_hand(nostore, 0);
    ds_lexical *lx, *ln;
    ASSERT_OK(ds_lexical_open(NULL, dir, 0, &lx));
    ASSERT_OK(ds_lexical_open(NULL, nostore, 0, &ln));
    ds_lexical_query *q, *e;
    ASSERT_OK(ds_lexical_query_create(lx, "alpha", 5, &q));
    ds_lexical_hit h[30];
    size_t n;
    ASSERT_OK(ds_lexical_search_query(lx, q, 2, NULL, h, &n));
    ASSERT_EQ_U64(n, 2);
    ds_lexical_search_opts o;
    ds_lexical_search_opts_init(&o);
    o.rm3_docs = 2;
    o.rm3_terms = 2;
    for (int variant = 0; variant < 2; variant++) {
        o.rm3_original_weight = variant ? 0.3f : 0.5f;
        ASSERT_OK(ds_lexical_query_rm3(lx, q, &o, &e));
        wt want[4];
        size_t nw = expected_rm3(h, o.rm3_original_weight, want);
        ASSERT_EQ_U64(ds_lexical_query_n_terms(e), nw);
        for (size_t i = 0; i < nw; i++) {
            size_t l;
            float w;
            const char *t = ds_lexical_query_term(e, i, &l, &w);
            if (l != strlen(want[i].t) || memcmp(t, want[i].t, l) != 0 || fabsf(w - want[i].w) > 1e-6f * want[i].w)
                FAIL("term %zu: %.*s %.9g, want %s %.9g", i, (int)l, t, (double)w, want[i].t, (double)want[i].w);
        }
        /* RM3 inside the search == searching the expansion */
        ds_lexical_hit h1[30], h2[30];
        size_t n1, n2;
        ASSERT_OK(ds_lexical_search_query(lx, q, 30, &o, h1, &n1));
        ds_lexical_search_opts plain = o;
        plain.rm3_docs = 0;
        ASSERT_OK(ds_lexical_search_query(lx, e, 30, &plain, h2, &n2));
        ASSERT_EQ_U64(n1, n2);
        ASSERT(memcmp(h1, h2, n1 * sizeof *h1) == 0);
        ASSERT_OK(ds_lexical_search(lx, "alpha", 5, 30, &o, h2, &n2));   /* and the text call */
        ASSERT_EQ_U64(n1, n2);
        ASSERT(memcmp(h1, h2, n1 * sizeof *h1) == 0);
        /* the callback, on an index without stored text, gives the same */
        ds_lexical_query *e2, *e3;
        ds_lexical_search_opts oc = o;
        oc.doc_text = hand_doc_text;
        g_calls = 0;
        ASSERT_OK(ds_lexical_query_rm3(ln, q, &oc, &e2));   /* q was made on lx: looked up again */
        ASSERT_EQ_U64(g_calls, 2);
        same_query(e, e2);
        /* and so do the texts given directly */
        const char *texts[2] = { hand_text[h[0].doc], hand_text[h[1].doc] };
        float scores[2] = { h[0].score, h[1].score };
        ASSERT_OK(ds_lexical_query_rm3_docs(lx, q, texts, NULL, scores, 2, &o, &e3));
        same_query(e, e3);
        ds_lexical_query_free(e3);
        ds_lexical_query_free(e2);
        ds_lexical_query_free(e);
    }
    /* no stored text, no callback: NOTFOUND; a failing callback fails the search */
    ds_lexical_query *x = (ds_lexical_query *)1;
    ASSERT_RC(ds_lexical_query_rm3(ln, q, &o, &x), DS_ERR_NOTFOUND);
    ASSERT(x == NULL);
    o.doc_text = hand_doc_text;
    o.doc_text_ud = &o;
    ASSERT_RC(ds_lexical_search_query(ln, q, 5, &o, h, &n), DS_ERR_IO);
    ASSERT_EQ_U64(n, 0);
    /* a filter restricts the feedback documents too: only d2 allowed */
    ds_lexical_search_opts_init(&o);
    o.rm3_docs = 10;
    uint8_t f[4] = { 1u << 2, 0, 0, 0 };
    o.filter = f;
    o.filter_bits = HAND_N;
    ASSERT_OK(ds_lexical_query_rm3(lx, q, &o, &e));
    ASSERT_EQ_U64(ds_lexical_query_n_terms(e), 3);   /* alpha, beta, epsilon from d2 alone */
    ASSERT(query_weight(e, "epsilon") > 0 && query_weight(e, "delta") == 0);
    ASSERT_OK(ds_lexical_search_query(lx, q, 5, &o, h, &n));
    ASSERT_EQ_U64(n, 1);
    ASSERT_EQ_U64(h[0].doc, 2);
    ds_lexical_query_free(e);
    /* no feedback document at all: the original query, halved */
    ASSERT_OK(ds_lexical_query_create(lx, "zzz alpha", 9, &x));
    o.filter_bits = 0;   /* nothing allowed */
    ASSERT_OK(ds_lexical_query_rm3(lx, x, &o, &e));
    ASSERT_EQ_U64(ds_lexical_query_n_terms(e), 2);
    ASSERT_NEAR_F32(query_weight(e, "alpha"), 0.25, 1e-7);
    ds_lexical_query_free(e);
    ds_lexical_query_free(x);
    ds_lexical_query_free(q);
    ds_lexical_close(ln);
    ds_lexical_close(lx);
}

/* ---- on real data --------------------------------------------------------------- */

typedef struct qlist { char **text; size_t n; } qlist;

static qlist load_queries(const char *path) {
    qlist q = { malloc(sizeof(char *) * 4000), 0 };
    ds_corpus_opts co;
    ds_corpus_opts_init(&co);
    co.format = DS_CORPUS_JSONL;
    co.title_field = "";
    ds_corpus *c;
    ASSERT_OK(ds_corpus_open(NULL, path, &co, &c));
    ds_doc d;
    for (;;) {
        ASSERT_OK(ds_corpus_next(c, &d));
        if (d.id == NULL || q.n == 4000) break;
        q.text[q.n++] = strdup(d.text);
    }
    ds_corpus_close(c);
    return q;
}

static void free_queries(qlist *q) {
    for (size_t i = 0; i < q->n; i++) free(q->text[i]);
    free(q->text);
}

static uint64_t g_rng = 88172645463325252ull;
static uint64_t rnd(void) {
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return g_rng;
}

static void same_hits(const ds_lexical_hit *a, size_t na, const ds_lexical_hit *b, size_t nb, const char *what, size_t q) {
    if (na != nb) FAIL("%s, query %zu: %zu vs %zu hits", what, q, na, nb);
    for (size_t i = 0; i < na; i++)
        if (a[i].doc != b[i].doc || a[i].score != b[i].score)
            FAIL("%s, query %zu rank %zu: doc %u %.9g vs doc %u %.9g", what, q, i, a[i].doc, (double)a[i].score, b[i].doc,
                 (double)b[i].score);
}

TEST(lexical_query_matches_text_calls_weighted_and_filtered) {
    const char *sets[2] = { "cranfield", "cisi" };
    if (ds_test_shared("data/cranfield/corpus.jsonl") == NULL) SKIP("../shared/data is absent");
    ds_lexical *ix[2];
    qlist qs[2];
    for (int s = 0; s < 2; s++) {
        char rel[128], name[32];
        snprintf(rel, sizeof rel, "data/%s/corpus.jsonl", sets[s]);
        snprintf(name, sizeof name, "q_%s", sets[s]);
        build_file(ds_test_shared_or_skip(rel), tmp_path(name));
        ASSERT_OK(ds_lexical_open(NULL, tmp_path(name), 0, &ix[s]));
        snprintf(rel, sizeof rel, "data/%s/queries.jsonl", sets[s]);
        qs[s] = load_queries(ds_test_shared_or_skip(rel));
    }
    size_t nd = (size_t)ds_lexical_n_docs(ix[0]);
    ds_lexical_hit *h1 = malloc(sizeof *h1 * nd), *h2 = malloc(sizeof *h2 * nd), *all = malloc(sizeof *all * nd);
    uint8_t *filter = malloc((nd + 7) / 8);
    ds_lexical_search_opts ex, pr, dflt;
    ds_lexical_search_opts_init(&ex);
    ex.exhaustive = 1;
    ds_lexical_search_opts_init(&pr);
    pr.exhaustive = -1;
    ds_lexical_search_opts_init(&dflt);
    ds_lexical *lx = ix[0];
    for (size_t i = 0; i < qs[0].n; i++) {
        const char *text = qs[0].text[i];
        size_t n1, n2, na;
        /* 1. the prepared query == the text call, results and snippets */
        ds_lexical_query *q;
        ASSERT_OK(ds_lexical_query_create(lx, text, strlen(text), &q));
        ASSERT_OK(ds_lexical_search(lx, text, strlen(text), 10, &dflt, h1, &n1));
        ASSERT_OK(ds_lexical_search_query(lx, q, 10, &dflt, h2, &n2));
        same_hits(h1, n1, h2, n2, "text vs prepared", i);
        for (size_t r = 0; r < n1 && r < 3; r++) {
            char *body, *s1, *s2;
            size_t bl;
            ASSERT_OK(ds_lexical_doc(lx, h1[r].doc, NULL, NULL, &body, &bl));
            ASSERT_OK(ds_lexical_snippet(lx, text, body, bl, 120, "[", "]", &s1));
            ASSERT_OK(ds_lexical_snippet_query(lx, q, body, bl, 120, "[", "]", &s2));
            ASSERT_STR_EQ(s1, s2);
            ds_free(s1);
            ds_free(s2);
            ds_free(body);
        }
        /* 2. made on another index with the same analysis: looked up again */
        ds_lexical_query *qo;
        ASSERT_OK(ds_lexical_query_create(ix[1], text, strlen(text), &qo));
        ASSERT_OK(ds_lexical_search_query(lx, qo, 10, &dflt, h2, &n2));
        same_hits(h1, n1, h2, n2, "query from another index", i);
        ds_lexical_query_free(qo);
        /* 3. random weights on the same terms: pruned == exhaustive */
        size_t nt = ds_lexical_query_n_terms(q);
        const char **terms = malloc(sizeof *terms * (nt + 1));
        size_t *lens = malloc(sizeof *lens * (nt + 1));
        float *w = malloc(sizeof *w * (nt + 1));
        for (size_t t = 0; t < nt; t++) {
            float qw;
            terms[t] = ds_lexical_query_term(q, t, &lens[t], &qw);
            w[t] = (float)(rnd() % 1000000) / 250000.0f + 1e-3f;   /* (0, 4] */
        }
        ds_lexical_query *wq;
        ASSERT_OK(ds_lexical_query_create_weighted(lx, terms, lens, w, nt, &wq));
        size_t ks[3] = { 1, 10, 100 };
        for (size_t j = 0; j < 3; j++) {
            ASSERT_OK(ds_lexical_search_query(lx, wq, ks[j], &ex, h1, &n1));
            ASSERT_OK(ds_lexical_search_query(lx, wq, ks[j], &pr, h2, &n2));
            same_hits(h1, n1, h2, n2, "weighted pruned vs exhaustive", i);
        }
        /* 4. a random allow-list: the exact top k among allowed documents is
        ** the full exhaustive ranking with the others removed */
        ASSERT_OK(ds_lexical_search_query(lx, wq, nd, &ex, all, &na));
        unsigned density = (unsigned)(i % 4);   /* 1/2, 1/8, 1/64, all but a few */
        uint64_t bits = i % 5 == 0 ? nd - nd / 3 : nd;   /* sometimes shorter than n_docs */
        for (size_t d = 0; d < nd; d++) {
            int on = density == 0 ? rnd() % 2 == 0 : density == 1 ? rnd() % 8 == 0 : density == 2 ? rnd() % 64 == 0 : rnd() % 50 != 0;
            if (on) filter[d / 8] |= (uint8_t)(1u << (d % 8)); else filter[d / 8] &= (uint8_t)~(1u << (d % 8));
        }
        size_t nr = 0;
        for (size_t r = 0; r < na; r++)
            if (all[r].doc < bits && (filter[all[r].doc / 8] >> (all[r].doc % 8) & 1)) all[nr++] = all[r];
        for (size_t j = 0; j < 3; j++) {
            ds_lexical_search_opts fo[3] = { ex, pr, dflt };
            for (int m = 0; m < 3; m++) {
                fo[m].filter = filter;
                fo[m].filter_bits = bits;
                ASSERT_OK(ds_lexical_search_query(lx, wq, ks[j], &fo[m], h1, &n1));
                same_hits(h1, n1, all, nr < ks[j] ? nr : ks[j], m == 0 ? "filter exhaustive" : m == 1 ? "filter pruned" : "filter auto", i);
            }
        }
        ds_lexical_query_free(wq);
        free(terms);
        free(lens);
        free(w);
        ds_lexical_query_free(q);
    }
    /* batch with a filter and RM3 == one by one */
    size_t nq = qs[0].n < 60 ? qs[0].n : 60;
    ds_lexical_hit *hb = malloc(sizeof *hb * 10 * nq);
    size_t *nb = malloc(sizeof *nb * nq);
    ds_lexical_search_opts o;
    ds_lexical_search_opts_init(&o);
    o.filter = filter;
    o.filter_bits = nd;
    o.rm3_docs = 10;
    ASSERT_OK(ds_lexical_search_batch(lx, (const char *const *)qs[0].text, nq, 10, &o, 2, hb, nb));
    for (size_t i = 0; i < nq; i++) {
        size_t n1;
        ASSERT_OK(ds_lexical_search(lx, qs[0].text[i], strlen(qs[0].text[i]), 10, &o, h1, &n1));
        same_hits(h1, n1, hb + 10 * i, nb[i], "batch RM3 + filter", i);
    }
    /* another analysis configuration is refused */
    build_hand(tmp_path("q_hand"), 1);
    ds_lexical *hand;
    ASSERT_OK(ds_lexical_open(NULL, tmp_path("q_hand"), 0, &hand));
    ds_lexical_query *q;
    size_t n1;
    ASSERT_OK(ds_lexical_query_create(lx, "flow", 4, &q));
    ASSERT_RC(ds_lexical_search_query(hand, q, 10, NULL, h1, &n1), DS_ERR_INVALID);
    char *snip = (char *)1;
    ASSERT_RC(ds_lexical_snippet_query(hand, q, "flow", 4, 40, "[", "]", &snip), DS_ERR_INVALID);
    ASSERT(snip == NULL);
    ds_lexical_query_free(q);
    ds_lexical_close(hand);
    free(hb);
    free(nb);
    free(filter);
    free(h1);
    free(h2);
    free(all);
    for (int s = 0; s < 2; s++) {
        free_queries(&qs[s]);
        ds_lexical_close(ix[s]);
    }
}

/* Every allocation of the query calls fails in turn: DS_ERR_NOMEM until the
** sweep reaches a count where all succeed (ASan: nothing leaks). */
TEST(lexical_query_oom_sweep) {
    ds_env *env;
    ASSERT_OK(ds_env_create(NULL, &env));
    const char *dir = tmp_path("oomq");
    build_hand(dir, 1);
    uint64_t n;
    for (n = 1;; n++) {
        ASSERT(n < 5000);
        env->n_allocs = 0;
        env->fail_at = n;
        ds_lexical *lx = NULL;
        ds_lexical_query *q = NULL, *w = NULL, *e = NULL;
        char *snip = NULL;
        ds_lexical_hit h[5];
        size_t nh = 0;
        ds_lexical_search_opts o;
        ds_lexical_search_opts_init(&o);
        uint8_t f[4] = { 0xff, 0xff, 0xff, 0xff };
        o.filter = f;
        o.filter_bits = HAND_N;
        o.rm3_docs = 3;
        ds_status rc = ds_lexical_open(env, dir, 0, &lx);
        if (rc == DS_OK) rc = ds_lexical_query_create(lx, "alpha beta", 10, &q);
        if (rc == DS_OK) {
            const char *t[2] = { "delta", "alpha" };
            float ws[2] = { 1.0f, 0.5f };
            rc = ds_lexical_query_create_weighted(lx, t, NULL, ws, 2, &w);
        }
        if (rc == DS_OK) rc = ds_lexical_search_query(lx, w, 5, &o, h, &nh);
        if (rc == DS_OK) rc = ds_lexical_query_rm3(lx, q, &o, &e);
        if (rc == DS_OK) {
            const char *texts[1] = { "alpha beta beta" };
            float sc[1] = { 1.0f };
            ds_lexical_query_free(e);
            e = NULL;
            rc = ds_lexical_query_rm3_docs(lx, q, texts, NULL, sc, 1, &o, &e);
        }
        if (rc == DS_OK) rc = ds_lexical_snippet_query(lx, q, "an alpha here", 13, 40, "[", "]", &snip);
        ds_free(snip);
        ds_lexical_query_free(e);
        ds_lexical_query_free(w);
        ds_lexical_query_free(q);
        ds_lexical_close(lx);
        env->fail_at = 0;
        if (rc == DS_OK) {
            ASSERT(nh > 0);
            break;
        }
        ASSERT_RC(rc, DS_ERR_NOMEM);
    }
    ds_env_destroy(env);
}
