/* t_collection.c -- collections against independent references: dense
** search over a flat index against brute-force cosine of the encoder's own
** embeddings, hybrid fusion at alpha 0 / 1 against dense / BM25, a BM25-only
** collection against the plain lexical index (bit for bit), passages (MaxP,
** FirstP) against brute force over passages, filters, re-ranking against
** the cross-encoder, and bad input. Models come from ../shared/models (the
** tests skip without them).
*/
#include "test.h"

#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#define N_DOCS 240

static const char *WORDS[] = {
    "protein", "cell", "gene", "cancer", "vitamin", "bone", "density", "blood", "pressure", "heart",
    "brain", "memory", "sleep", "diet", "exercise", "insulin", "glucose", "liver", "kidney", "immune",
    "virus", "bacteria", "infection", "vaccine", "trial", "patients", "risk", "dose", "effect", "study",
    "mouse", "model", "signal", "receptor", "pathway", "tumor", "growth", "factor", "expression", "level",
};

typedef struct corpus {
    char   ids[N_DOCS][16];
    char   titles[N_DOCS][64];
    char   texts[N_DOCS][1200];
} corpus;

static uint64_t rng(uint64_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* Deterministic documents of varied length; every 7th has no title and
** every 5th is long enough to split into several passages. */
static corpus *make_corpus(void) {
    corpus *c = calloc(1, sizeof *c);
    uint64_t s = 88172645463325252ull;
    for (int d = 0; d < N_DOCS; d++) {
        snprintf(c->ids[d], sizeof c->ids[d], "doc-%03d", d);
        if (d % 7 != 0)
            snprintf(c->titles[d], sizeof c->titles[d], "%s %s", WORDS[rng(&s) % 40], WORDS[rng(&s) % 40]);
        int n = d % 5 == 0 ? 120 : 8 + (int)(rng(&s) % 30);
        size_t at = 0;
        for (int w = 0; w < n; w++) {
            const char *x = WORDS[rng(&s) % 40];
            at += (size_t)snprintf(c->texts[d] + at, sizeof c->texts[d] - at, "%s%s", w ? " " : "", x);
        }
    }
    return c;
}

static ds_doc doc_of(const corpus *c, int d) {
    ds_doc x = { c->ids[d], strlen(c->ids[d]), c->titles[d], strlen(c->titles[d]), c->texts[d], strlen(c->texts[d]), "t", 0 };
    return x;
}

/* Builds a collection from the corpus; model may be NULL. */
static ds_collection *build(const char *dir, const corpus *c, const char *model, ds_index_type type, size_t chunk,
                            size_t overlap) {
    ds_collection_opts o;
    ds_collection_opts_init(&o);
    ds_index_opts io;
    ds_index_opts_init(&io);
    io.type = type;
    io.metric = DS_METRIC_COSINE;
    o.model_dir = model;
    o.vectors = model ? &io : NULL;
    o.chunk_tokens = chunk;
    o.chunk_overlap = overlap;
    ds_collection *coll = NULL;
    ASSERT_OK(ds_collection_create(NULL, dir, &o, &coll));
    for (int d = 0; d < N_DOCS; d++) {
        ds_doc x = doc_of(c, d);
        ASSERT_OK(ds_collection_add(coll, &x, NULL));
    }
    ASSERT_OK(ds_collection_commit(coll, NULL));
    return coll;
}

/* "title text" stripped, as the collection encodes a document. */
static void doc_text(const corpus *c, int d, char *out, size_t cap) {
    if (c->titles[d][0]) snprintf(out, cap, "%s %s", c->titles[d], c->texts[d]);
    else snprintf(out, cap, "%s", c->texts[d]);
}

static float dot(const float *a, const float *b, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return (float)s;
}

static const char *QUERIES[] = { "vitamin bone density", "cancer gene expression", "sleep memory brain",
                                 "insulin glucose liver", "vaccine infection virus trial" };

TEST(collection_dense_flat_matches_brute_force) {
    const char *model = ds_test_shared_or_skip("models/tiny-bert-mean-f32");
    corpus *c = make_corpus();
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/coll", ds_test_tmpdir());
    ds_collection *coll = build(dir, c, model, DS_INDEX_FLAT, 0, 0);
    const ds_encoder *enc = ds_collection_encoder(coll);
    ASSERT(enc != NULL);
    size_t dim = ds_encoder_dim(enc);
    float *E = malloc(N_DOCS * dim * sizeof *E), q[512];
    for (int d = 0; d < N_DOCS; d++) {
        char t[1400];
        doc_text(c, d, t, sizeof t);
        const char *tp = t;
        ASSERT_OK(ds_encoder_encode(enc, &tp, NULL, 1, E + (size_t)d * dim));
    }
    for (size_t qi = 0; qi < DS_ARRAY_LEN(QUERIES); qi++) {
        ASSERT_OK(ds_encoder_encode(enc, &QUERIES[qi], NULL, 1, q));
        ds_collection_search_opts so;
        ds_collection_search_opts_init(&so);
        so.mode = DS_SEARCH_DENSE;
        so.k = 10;
        ds_results *r = NULL;
        ASSERT_OK(ds_collection_search(coll, QUERIES[qi], strlen(QUERIES[qi]), &so, &r));
        ASSERT_EQ_U64(r->n, 10);
        /* brute force: rank every document by cosine (embeddings are normalised) */
        float best[10];
        int bid[10];
        for (int j = 0; j < 10; j++) { best[j] = -INFINITY; bid[j] = -1; }
        for (int d = 0; d < N_DOCS; d++) {
            float s = dot(q, E + (size_t)d * dim, dim);
            for (int j = 0; j < 10; j++)
                if (s > best[j]) {
                    memmove(best + j + 1, best + j, (size_t)(9 - j) * sizeof *best);
                    memmove(bid + j + 1, bid + j, (size_t)(9 - j) * sizeof *bid);
                    best[j] = s;
                    bid[j] = d;
                    break;
                }
        }
        for (int j = 0; j < 10; j++) {
            ASSERT_STR_EQ(r->hits[j].id, c->ids[bid[j]]);
            ASSERT_NEAR_F32(r->hits[j].dense, best[j], 1e-5);
            ASSERT_EQ_U64(r->hits[j].dense_rank, (uint64_t)j + 1);
            ASSERT(isnan(r->hits[j].bm25) && r->hits[j].bm25_rank == 0);
        }
        ds_results_free(r);
    }
    free(E);
    ds_collection_close(coll);
    free(c);
}

static void top_ids(const ds_collection *coll, const char *q, ds_search_mode mode, ds_fusion f, float alpha, size_t k,
                    char ids[][16], float *scores) {
    ds_collection_search_opts so;
    ds_collection_search_opts_init(&so);
    so.mode = mode;
    so.fusion = f;
    so.alpha = alpha;
    so.k = k;
    ds_results *r = NULL;
    ASSERT_OK(ds_collection_search(coll, q, strlen(q), &so, &r));
    ASSERT_EQ_U64(r->n, k);
    for (size_t j = 0; j < k; j++) {
        snprintf(ids[j], 16, "%s", r->hits[j].id);
        if (scores) scores[j] = mode == DS_SEARCH_DENSE ? r->hits[j].dense : mode == DS_SEARCH_LEXICAL ? r->hits[j].bm25 : r->hits[j].fused;
    }
    ds_results_free(r);
}

TEST(collection_hybrid_alpha_extremes_and_rrf) {
    const char *model = ds_test_shared_or_skip("models/tiny-bert-mean-f32");
    corpus *c = make_corpus();
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/coll", ds_test_tmpdir());
    ds_collection *coll = build(dir, c, model, DS_INDEX_FLAT, 0, 0);
    for (size_t qi = 0; qi < DS_ARRAY_LEN(QUERIES); qi++) {
        char a[10][16], b[10][16];
        top_ids(coll, QUERIES[qi], DS_SEARCH_DENSE, DS_FUSION_RRF, 0, 10, a, NULL);
        top_ids(coll, QUERIES[qi], DS_SEARCH_HYBRID, DS_FUSION_CONVEX, 0.0f, 10, b, NULL);
        for (int j = 0; j < 10; j++) ASSERT_STR_EQ(a[j], b[j]);
        top_ids(coll, QUERIES[qi], DS_SEARCH_LEXICAL, DS_FUSION_RRF, 0, 10, a, NULL);
        top_ids(coll, QUERIES[qi], DS_SEARCH_HYBRID, DS_FUSION_CONVEX, 1.0f, 10, b, NULL);
        for (int j = 0; j < 10; j++) ASSERT_STR_EQ(a[j], b[j]);
        /* RRF: the fused score is the sum of 1 / (60 + rank) over the lists that hold the document */
        ds_collection_search_opts so;
        ds_collection_search_opts_init(&so);
        ds_results *r = NULL;
        ASSERT_OK(ds_collection_search(coll, QUERIES[qi], strlen(QUERIES[qi]), &so, &r));
        ASSERT(r->mode == DS_SEARCH_HYBRID);
        for (size_t j = 0; j < r->n; j++) {
            const ds_hit *h = &r->hits[j];
            double want = (h->bm25_rank ? 1.0 / (60 + h->bm25_rank) : 0) + (h->dense_rank ? 1.0 / (60 + h->dense_rank) : 0);
            ASSERT_NEAR_F32(h->fused, want, 1e-7);
            ASSERT(h->bm25_rank || h->dense_rank);
            ASSERT_EQ_U64(h->fused_rank, j + 1);
            if (j) ASSERT(r->hits[j - 1].score >= h->score);
        }
        ds_results_free(r);
    }
    ds_collection_close(coll);
    free(c);
}

TEST(collection_bm25_matches_lexical_index) {
    corpus *c = make_corpus();
    char dir[4096], lexdir[4096];
    snprintf(dir, sizeof dir, "%s/coll", ds_test_tmpdir());
    snprintf(lexdir, sizeof lexdir, "%s/lex", ds_test_tmpdir());
    ds_collection *coll = build(dir, c, NULL, DS_INDEX_FLAT, 0, 0);
    ds_lexical_builder *b = NULL;
    ASSERT_OK(ds_lexical_builder_create(NULL, lexdir, NULL, &b));
    for (int d = 0; d < N_DOCS; d++) {
        ds_doc x = doc_of(c, d);
        ASSERT_OK(ds_lexical_add(b, &x));
    }
    ASSERT_OK(ds_lexical_finish(b, NULL));
    ds_lexical *lx = NULL;
    ASSERT_OK(ds_lexical_open(NULL, lexdir, 0, &lx));
    ds_collection *legacy = NULL;
    ASSERT_OK(ds_collection_open(NULL, lexdir, NULL, &legacy));   /* a pre-collection index opens too */
    ASSERT_EQ_U64(ds_collection_dim(coll), 0);
    for (size_t qi = 0; qi < DS_ARRAY_LEN(QUERIES); qi++) {
        ds_lexical_hit hits[50];
        size_t nh = 0;
        ASSERT_OK(ds_lexical_search(lx, QUERIES[qi], strlen(QUERIES[qi]), 50, NULL, hits, &nh));
        const ds_collection *both[2] = { coll, legacy };
        for (int w = 0; w < 2; w++) {
            ds_collection_search_opts so;
            ds_collection_search_opts_init(&so);
            so.k = 50;
            ds_results *r = NULL;
            ASSERT_OK(ds_collection_search(both[w], QUERIES[qi], strlen(QUERIES[qi]), &so, &r));
            ASSERT(r->mode == DS_SEARCH_LEXICAL);
            ASSERT_EQ_U64(r->n, nh);
            for (size_t j = 0; j < nh; j++) {
                size_t il;
                const char *id = ds_lexical_doc_id(lx, hits[j].doc, &il);
                ASSERT(r->hits[j].id_len == il && memcmp(r->hits[j].id, id, il) == 0);
                ASSERT(memcmp(&r->hits[j].score, &hits[j].score, sizeof(float)) == 0);   /* bit for bit */
            }
            ds_results_free(r);
        }
    }
    /* RM3 over the document store's text equals RM3 over the index's own */
    for (size_t qi = 0; qi < DS_ARRAY_LEN(QUERIES); qi++) {
        ds_lexical_search_opts lo;
        ds_lexical_search_opts_init(&lo);
        lo.rm3_docs = 10;
        lo.rm3_terms = 10;
        lo.rm3_original_weight = 0.5f;
        ds_lexical_hit hits[20];
        size_t nh = 0;
        ASSERT_OK(ds_lexical_search(lx, QUERIES[qi], strlen(QUERIES[qi]), 20, &lo, hits, &nh));
        ds_collection_search_opts so;
        ds_collection_search_opts_init(&so);
        so.k = 20;
        so.prf = DS_PRF_RM3;
        ds_results *r = NULL;
        ASSERT_OK(ds_collection_search(coll, QUERIES[qi], strlen(QUERIES[qi]), &so, &r));
        ASSERT_EQ_U64(r->n, nh);
        ASSERT(r->expansion != NULL && strlen(r->expansion) > 0);
        for (size_t j = 0; j < nh; j++) {
            ASSERT_EQ_U64(r->hits[j].doc, hits[j].doc);
            ASSERT(memcmp(&r->hits[j].score, &hits[j].score, sizeof(float)) == 0);
        }
        ds_results_free(r);
    }
    /* stored text comes back from the document store */
    char *t = NULL, *x = NULL;
    ASSERT_OK(ds_collection_doc(coll, 3, &t, NULL, &x, NULL));
    ASSERT_STR_EQ(t, c->titles[3]);
    ASSERT_STR_EQ(x, c->texts[3]);
    ds_free(t);
    ds_free(x);
    uint32_t d;
    ASSERT_OK(ds_collection_find(coll, "doc-117", 7, &d));
    ASSERT_EQ_U64(d, 117);
    ASSERT_RC(ds_collection_find(coll, "doc-999", 7, &d), DS_ERR_NOTFOUND);
    ASSERT_OK(ds_check(NULL, dir));
    ds_collection_close(legacy);
    ds_lexical_close(lx);
    ds_collection_close(coll);
    free(c);
}

TEST(collection_passages_maxp_firstp) {
    const char *model = ds_test_shared_or_skip("models/tiny-bert-mean-f32");
    corpus *c = make_corpus();
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/coll", ds_test_tmpdir());
    const size_t chunk = 24, overlap = 6;
    ds_collection *coll = build(dir, c, model, DS_INDEX_FLAT, chunk, overlap);
    ASSERT(ds_collection_n_passages(coll) > ds_collection_n_docs(coll));
    const ds_encoder *enc = ds_collection_encoder(coll);
    const ds_tokenizer *tok = ds_encoder_tokenizer(enc);
    size_t dim = ds_encoder_dim(enc);
    int32_t cls = ds_tokenizer_special(tok, DS_TOKEN_CLS), sep = ds_tokenizer_special(tok, DS_TOKEN_SEP);
    /* every passage embedded by hand: windows of 24 tokens, stride 18 */
    float *maxp = malloc(N_DOCS * sizeof *maxp), *firstp = malloc(N_DOCS * sizeof *firstp), q[512], e[512];
    const char *query = QUERIES[0];
    ASSERT_OK(ds_encoder_encode(enc, &query, NULL, 1, q));
    uint64_t n_pass = 0;
    for (int d = 0; d < N_DOCS; d++) {
        char t[1400];
        doc_text(c, d, t, sizeof t);
        int32_t ids[1024], win[64];
        size_t n = 0;
        ASSERT_OK(ds_tokenizer_encode(tok, t, strlen(t), 0, ids, 1024, &n));
        size_t nb = n - 2;
        maxp[d] = -INFINITY;
        for (size_t at = 0;; at += chunk - overlap) {
            size_t end = DS_MIN(nb, at + chunk), len = end - at;
            win[0] = cls;
            memcpy(win + 1, ids + 1 + at, len * sizeof *win);
            win[len + 1] = sep;
            const int32_t *wp = win;
            size_t wl = len + 2;
            ASSERT_OK(ds_encoder_encode_ids(enc, &wp, &wl, 1, e));
            float s = dot(q, e, dim);
            if (at == 0) firstp[d] = s;
            if (s > maxp[d]) maxp[d] = s;
            n_pass++;
            if (end >= nb) break;
        }
    }
    ASSERT_EQ_U64(n_pass, ds_collection_n_passages(coll));
    for (int mode = 0; mode < 2; mode++) {
        const float *ref = mode == 0 ? maxp : firstp;
        ds_collection_search_opts so;
        ds_collection_search_opts_init(&so);
        so.mode = DS_SEARCH_DENSE;
        so.k = 8;
        so.passage_score = mode == 0 ? DS_PASSAGE_MAXP : DS_PASSAGE_FIRSTP;
        ds_results *r = NULL;
        ASSERT_OK(ds_collection_search(coll, query, strlen(query), &so, &r));
        ASSERT_EQ_U64(r->n, 8);
        for (size_t j = 0; j < r->n; j++) {
            uint32_t d = r->hits[j].doc;
            ASSERT_NEAR_F32(r->hits[j].dense, ref[d], 1e-5);
            if (mode == 1) ASSERT_EQ_U64(r->hits[j].passage, 0);
            /* nothing outside the results scores higher */
            for (int o = 0; o < N_DOCS; o++) {
                int in = 0;
                for (size_t m = 0; m < r->n; m++) in |= r->hits[m].doc == (uint32_t)o;
                if (!in) ASSERT(ref[o] <= r->hits[r->n - 1].dense + 1e-5f);
            }
        }
        ds_results_free(r);
    }
    free(maxp);
    free(firstp);
    ds_collection_close(coll);
    free(c);
}

TEST(collection_precomputed_embeddings_and_filter) {
    corpus *c = make_corpus();
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/coll", ds_test_tmpdir());
    const size_t dim = 16;
    float *E = ds_test_rand_vecs(N_DOCS, dim, 7);
    ds_collection_opts o;
    ds_collection_opts_init(&o);
    ds_index_opts io;
    ds_index_opts_init(&io);
    io.type = DS_INDEX_FLAT;
    io.metric = DS_METRIC_IP;
    o.dim = dim;
    o.vectors = &io;
    ds_collection *coll = NULL;
    ASSERT_OK(ds_collection_create(NULL, dir, &o, &coll));
    ds_doc x0 = doc_of(c, 0);
    ASSERT_RC(ds_collection_add(coll, &x0, NULL), DS_ERR_INVALID);            /* embedding missing */
    float bad[16] = { NAN };
    ASSERT_RC(ds_collection_add(coll, &x0, bad), DS_ERR_INVALID);             /* not finite */
    for (int d = 0; d < N_DOCS; d++) {
        ds_doc x = doc_of(c, d);
        ASSERT_OK(ds_collection_add(coll, &x, E + (size_t)d * dim));
    }
    ASSERT_RC(ds_collection_add(coll, &x0, E), DS_ERR_INVALID);               /* duplicate id */
    ASSERT_OK(ds_collection_commit(coll, NULL));
    ds_collection_close(coll);
    ds_collection_open_opts oo;
    ds_collection_open_opts_init(&oo);
    ASSERT_OK(ds_collection_open(NULL, dir, &oo, &coll));
    ds_collection_search_opts so;
    ds_collection_search_opts_init(&so);
    so.mode = DS_SEARCH_DENSE;
    ds_results *r = NULL;
    ASSERT_RC(ds_collection_search(coll, "x", 1, &so, &r), DS_ERR_INVALID);  /* no encoder, no vectors */
    /* allow every third document */
    const char *allow[N_DOCS];
    size_t na = 0;
    for (int d = 0; d < N_DOCS; d += 3) allow[na++] = c->ids[d];
    allow[na++] = "not-there";
    uint8_t *bits = NULL;
    uint64_t nbits = 0;
    size_t unknown = 0;
    ASSERT_OK(ds_collection_filter(coll, allow, NULL, na, &bits, &nbits, &unknown));
    ASSERT_EQ_U64(unknown, 1);
    float *q = ds_test_rand_vecs(1, dim, 99);
    so.query_vectors = q;
    so.filter = bits;
    so.filter_bits = nbits;
    so.k = 5;
    for (int mode = 0; mode < 3; mode++) {
        so.mode = mode == 2 ? DS_SEARCH_LEXICAL : mode ? DS_SEARCH_HYBRID : DS_SEARCH_DENSE;
        ASSERT_OK(ds_collection_search(coll, "vitamin bone", 12, &so, &r));
        ASSERT_EQ_U64(r->n, 5);
        for (size_t j = 0; j < r->n; j++) ASSERT(r->hits[j].doc % 3 == 0);
        if (mode == 0) {
            /* exact among the allowed: the best allowed inner product comes first */
            float best = -INFINITY;
            int bd = -1;
            for (int d = 0; d < N_DOCS; d += 3) {
                float s = dot(q, E + (size_t)d * dim, dim);
                if (s > best) { best = s; bd = d; }
            }
            ASSERT_EQ_U64(r->hits[0].doc, (uint64_t)bd);
            ASSERT_NEAR_F32(r->hits[0].dense, best, 1e-5);
        }
        ds_results_free(r);
    }
    ds_free(bits);
    free(q);
    free(E);
    ds_collection_close(coll);
    free(c);
}

TEST(collection_rerank_uses_the_cross_encoder) {
    const char *cross = ds_test_shared_or_skip("models/tiny-cross-encoder");
    corpus *c = make_corpus();
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/coll", ds_test_tmpdir());
    ds_collection *coll = build(dir, c, NULL, DS_INDEX_FLAT, 0, 0);
    ds_encoder *ce = NULL;
    ASSERT_OK(ds_encoder_open(NULL, cross, NULL, &ce));
    ds_collection_search_opts so;
    ds_collection_search_opts_init(&so);
    so.reranker = ce;
    so.rerank_depth = 20;
    so.k = 10;
    ds_results *r = NULL;
    const char *q = QUERIES[1];
    ASSERT_OK(ds_collection_search(coll, q, strlen(q), &so, &r));
    ASSERT_EQ_U64(r->n, 10);
    for (size_t j = 0; j < r->n; j++) {
        char t[1400];
        doc_text(c, (int)r->hits[j].doc, t, sizeof t);
        const char *tp = t;
        float s;
        ASSERT_OK(ds_encoder_rerank(ce, &q, &tp, 1, &s));
        ASSERT_NEAR_F32(r->hits[j].rerank, s, 1e-4);
        ASSERT_EQ_U64(r->hits[j].rerank_rank, j + 1);
        ASSERT(r->hits[j].bm25_rank >= 1 && r->hits[j].bm25_rank <= 20);
        if (j) ASSERT(r->hits[j - 1].rerank >= r->hits[j].rerank);
    }
    ds_results_free(r);
    ds_encoder_close(ce);
    ds_collection_close(coll);
    free(c);
}

TEST(collection_bad_input) {
    const char *model = ds_test_shared_or_skip("models/tiny-bert-mean-f32");
    const char *other = ds_test_shared_or_skip("models/tiny-bert-cls-f16");
    corpus *c = make_corpus();
    char dir[4096], p[4096 + 1024];
    snprintf(dir, sizeof dir, "%s/coll", ds_test_tmpdir());
    ds_collection_opts o;
    ds_collection_opts_init(&o);
    ds_collection *coll = NULL;
    /* options out of range */
    o.chunk_tokens = 10;
    ASSERT_RC(ds_collection_create(NULL, dir, &o, &coll), DS_ERR_INVALID);   /* passages without a model */
    o.model_dir = model;
    o.chunk_overlap = 10;
    ASSERT_RC(ds_collection_create(NULL, dir, &o, &coll), DS_ERR_INVALID);   /* overlap >= chunk */
    o.chunk_tokens = 100000;
    o.chunk_overlap = 0;
    ASSERT_RC(ds_collection_create(NULL, dir, &o, &coll), DS_ERR_INVALID);   /* beyond the model */
    o.chunk_tokens = 0;
    o.dim = 8;
    ASSERT_RC(ds_collection_create(NULL, dir, &o, &coll), DS_ERR_INVALID);   /* model and dim */
    o.dim = 0;
    o.model_dir = ds_test_shared_or_skip("models/tiny-cross-encoder");
    ASSERT_RC(ds_collection_create(NULL, dir, &o, &coll), DS_ERR_INVALID);   /* not an embedding model */
    /* an uncommitted build leaves nothing visible */
    o.model_dir = model;
    ASSERT_OK(ds_collection_create(NULL, dir, &o, &coll));
    ds_doc x = doc_of(c, 1);
    ASSERT_OK(ds_collection_add(coll, &x, NULL));
    ds_collection_close(coll);
    snprintf(p, sizeof p, "%s/MANIFEST", dir);
    ASSERT(access(p, F_OK) != 0);
    ASSERT_RC(ds_collection_open(NULL, dir, NULL, &coll), DS_ERR_NOTFOUND);
    ASSERT_OK(ds_collection_create(NULL, dir, &o, &coll));
    ASSERT_RC(ds_collection_commit(coll, NULL), DS_ERR_INVALID);             /* no documents */
    ds_collection_close(coll);
    coll = build(dir, c, model, DS_INDEX_HNSW, 0, 0);
    ASSERT_RC(ds_collection_add(coll, &x, NULL), DS_ERR_READONLY);           /* committed, not opened writable */
    ds_collection_close(coll);
    /* a different model at open: an error naming both */
    ds_collection_open_opts oo;
    ds_collection_open_opts_init(&oo);
    oo.model_dir = other;
    ASSERT_RC(ds_collection_open(NULL, dir, &oo, &coll), DS_ERR_INVALID);
    ASSERT(strstr(ds_errmsg(), "tiny-bert-mean-f32") && strstr(ds_errmsg(), "tiny-bert-cls-f16"));
    /* a missing part: an error naming the file */
    oo.model_dir = NULL;
    ASSERT_OK(ds_collection_open(NULL, dir, &oo, &coll));
    ds_collection_close(coll);
    char seg[4096 + 512];
    DIR *dd = opendir(dir);
    struct dirent *e;
    seg[0] = '\0';
    while ((e = readdir(dd)) != NULL)
        if (strncmp(e->d_name, "seg-", 4) == 0) snprintf(seg, sizeof seg, "%s/%s/vectors.dsx", dir, e->d_name);
    closedir(dd);
    ASSERT(access(seg, F_OK) == 0);
    snprintf(p, sizeof p, "%s.moved", seg);
    ASSERT(rename(seg, p) == 0);
    ASSERT(ds_collection_open(NULL, dir, &oo, &coll) != DS_OK);
    ASSERT(strstr(ds_errmsg(), "vectors.dsx") != NULL);
    ASSERT(ds_check(NULL, dir) != DS_OK);
    ASSERT(rename(p, seg) == 0);
    ASSERT_OK(ds_check(NULL, dir));
    /* BM25-only modes cannot search dense */
    snprintf(p, sizeof p, "%s/bm", ds_test_tmpdir());
    coll = build(p, c, NULL, DS_INDEX_FLAT, 0, 0);
    ds_collection_search_opts so;
    ds_collection_search_opts_init(&so);
    so.mode = DS_SEARCH_DENSE;
    ds_results *r = NULL;
    ASSERT_RC(ds_collection_search(coll, "x", 1, &so, &r), DS_ERR_INVALID);
    so.mode = DS_SEARCH_LEXICAL;
    so.alpha = 2;
    ASSERT_RC(ds_collection_search(coll, "x", 1, &so, &r), DS_ERR_INVALID);
    so.alpha = 0.5f;
    so.k = 0;
    ASSERT_RC(ds_collection_search(coll, "x", 1, &so, &r), DS_ERR_INVALID);
    ds_collection_close(coll);
    free(c);
}
