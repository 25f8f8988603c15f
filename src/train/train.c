/* train.c -- ds_train: the three recipes that turn a corpus (and optionally
** a transformer teacher) into a model directory (docs/format.md §5).
**
** Flow: read the corpus into memory (at most max_docs documents) -> units
** per document (WordPiece ids of the teacher's tokenizer, or hashes of the
** lexical analyzer's words without a teacher) -> for lexdense and lsa a
** feature table of the most frequent n-grams by document frequency -> the
** recipe -> model directory built in a temporary sibling and renamed.
**
** Recipes:
**   lsa                 TF-IDF rows (unit length) -> randomized SVD -> the
**                       top-dim right singular vectors are the one layer.
**   lexdense, teacher   teacher embeddings of every training text, computed
**                       once (optionally cached in a file); per step a batch
**                       of texts, loss = KL between the teacher's and the
**                       student's in-batch similarity rows (diagonal
**                       removed, temperature 3).
**   lexdense, no teacher  per step a batch of documents, each giving a pair
**                       of views -- (title, body) when it has a title (half
**                       of the time), else two independent random spans of
**                       10-50% of its units (Contriever's cropping) -- and
**                       symmetric InfoNCE over in-batch negatives (tau 0.05).
**   static, teacher     Model2Vec: every vocabulary token embedded alone by
**                       the teacher, PCA to dim, each vector scaled by a SIF
**                       weight of its frequency rank in the corpus.
**
** Thread: ds_train may run concurrently with anything; it uses the env's
** threads (or opts.n_threads) for units, the teacher and forward passes.
*/
#include "train/train.h"
#include "model/model.h"
#include "text/tokenizer.h"

#include <cblas.h>
#include <dirent.h>
#include <utf8proc.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define MIN_DOCS 32u

void ds_train_opts_init(ds_train_opts *o) {
    memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
    o->kind = DS_MODEL_LEXDENSE;
    o->dim = 256;
    o->seed = 1;
    o->max_features = 65536;
    o->batch_size = 256;
    o->max_docs = 200000;
    o->lr = 3e-3f;
}

typedef struct tdoc {
    size_t off;       /* into units */
    size_t n_title;   /* units of the title (first) */
    size_t n;         /* all units */
} tdoc;

typedef struct tctx {
    ds_env          *env;
    ds_model_kind    kind;
    size_t           dim, max_features, batch, max_docs;
    unsigned         epochs, nt, max_ngram;
    size_t           first;          /* lexdense first layer width (0: auto) */
    float            lr;
    uint64_t         seed;
    const char      *queries_path, *cache_path, *teacher_dir;
    ds_train_progress_fn progress;
    void            *progress_ud;
    ds__xrng          rng;
    /* texts: documents [0, n_docs), then queries */
    char           **title, **body;
    size_t          *tlen, *blen;
    size_t           n_docs, n_items, cap_items;
    ds_encoder      *teacher;
    ds_tokenizer    *own_tok;        /* no teacher: the corpus vocabulary's tokenizer */
    ds__buf          vocab_txt;      /* ... and its vocab.txt */
    int              words;          /* units are analyzer words */
    uint64_t         min_unit;       /* corpus vocabulary: its first word id (features
                                        with character pieces are left out) */
    ds__featurizer   feat;
    ds__u64vec       units;
    tdoc            *docs;
    /* features */
    uint64_t        *fh;
    float           *idf;
    size_t           F;
    ds__ftable       table;
    double           t0;
} tctx;

static int report(tctx *c, const char *phase, uint64_t done, uint64_t total, unsigned epoch, double loss,
                  double rate) {
    if (c->progress == NULL) return 0;
    ds_train_progress p = { phase, done, total, epoch, c->epochs, loss, rate };
    return c->progress(&p, c->progress_ud);
}

/* ------------------------------------------------------------------------ */
/* Reading texts                                                              */
/* ------------------------------------------------------------------------ */
static ds_status push_text(tctx *c, const char *t, size_t tl, const char *b, size_t bl) {
    ds_env *env = c->env;
    if (c->n_items == c->cap_items) {
        size_t nc = c->cap_items ? 2 * c->cap_items : 1024;
        char **nt = ds__realloc(env, c->title, c->cap_items * sizeof *nt, nc * sizeof *nt);
        if (nt == NULL) return DS_ERR_NOMEM;
        c->title = nt;
        char **nb = ds__realloc(env, c->body, c->cap_items * sizeof *nb, nc * sizeof *nb);
        if (nb == NULL) return DS_ERR_NOMEM;
        c->body = nb;
        size_t *ntl = ds__realloc(env, c->tlen, c->cap_items * sizeof *ntl, nc * sizeof *ntl);
        if (ntl == NULL) return DS_ERR_NOMEM;
        c->tlen = ntl;
        size_t *nbl = ds__realloc(env, c->blen, c->cap_items * sizeof *nbl, nc * sizeof *nbl);
        if (nbl == NULL) return DS_ERR_NOMEM;
        c->blen = nbl;
        c->cap_items = nc;
    }
    size_t i = c->n_items;
    c->title[i] = ds__alloc(env, tl + 1, 1);
    c->body[i] = ds__alloc(env, bl + 1, 1);
    if (c->title[i] == NULL || c->body[i] == NULL) {
        ds__free(env, c->title[i], tl + 1);
        ds__free(env, c->body[i], bl + 1);
        return DS_ERR_NOMEM;
    }
    memcpy(c->title[i], t, tl);
    c->title[i][tl] = '\0';
    memcpy(c->body[i], b, bl);
    c->body[i][bl] = '\0';
    c->tlen[i] = tl;
    c->blen[i] = bl;
    c->n_items++;
    return DS_OK;
}

static ds_status read_texts(tctx *c, const char *path, const ds_corpus_opts *co, size_t max, int queries) {
    ds_corpus *cr = NULL;
    ds_status rc = ds_corpus_open(c->env, path, co, &cr);
    if (rc != DS_OK) return rc;
    size_t got = 0;
    for (;;) {
        ds_doc d;
        if ((rc = ds_corpus_next(cr, &d)) != DS_OK) break;
        if (d.id == NULL || got >= max) break;
        if ((rc = push_text(c, d.title, d.title_len, d.text, d.text_len)) != DS_OK) break;
        got++;
        if ((got & 1023) == 0 && report(c, "read", got, 0, 0, NAN, got / (ds__now() - c->t0 + 1e-9))) {
            rc = ds__fail(DS_ERR_CANCELED, "canceled by the progress callback");
            break;
        }
    }
    ds_corpus_close(cr);
    if (rc != DS_OK) return queries ? ds__fail_prefix(rc, "queries: ") : rc;
    return DS_OK;
}

/* ------------------------------------------------------------------------ */
/* Units                                                                      */
/* ------------------------------------------------------------------------ */
typedef struct units_job {
    tctx             *c;
    ds__feat_scratch *scr;
    ds__u64vec       *per;     /* per item: units (title then body) */
    size_t           *ntitle;
    ds_status        *rc;
} units_job;

static void units_range(void *ctx, size_t b, size_t e, unsigned th) {
    units_job *j = ctx;
    tctx *c = j->c;
    ds__feat_scratch *s = &j->scr[th];
    for (size_t i = b; i < e && j->rc[th] == DS_OK; i++) {
        ds__u64vec *v = &j->per[i];
        ds_status rc = ds__feat_units(&c->feat, s, c->title[i], c->tlen[i]);
        for (size_t k = 0; rc == DS_OK && k < s->units.n; k++)
            if (!ds__u64vec_push(c->env, v, s->units.p[k])) rc = DS_ERR_NOMEM;
        j->ntitle[i] = v->n;
        if (rc == DS_OK) rc = ds__feat_units(&c->feat, s, c->body[i], c->blen[i]);
        for (size_t k = 0; rc == DS_OK && k < s->units.n && v->n < DS__STUDENT_MAX_TOKENS; k++)
            if (!ds__u64vec_push(c->env, v, s->units.p[k])) rc = DS_ERR_NOMEM;
        j->rc[th] = rc;
    }
}

static ds_status make_units(tctx *c) {
    ds_env *env = c->env;
    unsigned nt = c->nt > 64 ? 64 : c->nt;
    ds__feat_scratch scr[64];
    ds_status rcs[64];
    memset(scr, 0, sizeof scr);
    ds_status rc = DS_OK;
    units_job j = { c, scr, NULL, NULL, rcs };
    j.per = ds__calloc(env, c->n_items, sizeof *j.per);
    j.ntitle = ds__calloc(env, c->n_items, sizeof *j.ntitle);
    c->docs = ds__calloc(env, c->n_items, sizeof *c->docs);
    if (j.per == NULL || j.ntitle == NULL || c->docs == NULL) { rc = DS_ERR_NOMEM; goto done; }
    for (unsigned t = 0; t < nt; t++) {
        rcs[t] = DS_OK;
        if ((rc = ds__feat_scratch_init(env, &c->feat, &scr[t])) != DS_OK) goto done;
    }
    ds__parallel_for(env, nt, c->n_items, 64, units_range, &j);
    for (unsigned t = 0; t < nt; t++)
        if (rcs[t] != DS_OK) { rc = rcs[t]; goto done; }
    /* concatenated in item order: the same layout for any thread count */
    for (size_t i = 0; i < c->n_items; i++) {
        c->docs[i].off = c->units.n;
        c->docs[i].n_title = j.ntitle[i];
        c->docs[i].n = j.per[i].n;
        for (size_t k = 0; k < j.per[i].n; k++)
            if (!ds__u64vec_push(env, &c->units, j.per[i].p[k])) { rc = DS_ERR_NOMEM; goto done; }
    }
done:
    for (unsigned t = 0; t < nt; t++) ds__feat_scratch_release(&scr[t]);
    if (j.per)
        for (size_t i = 0; i < c->n_items; i++) ds__u64vec_release(env, &j.per[i]);
    ds__free(env, j.per, c->n_items * sizeof *j.per);
    ds__free(env, j.ntitle, c->n_items * sizeof *j.ntitle);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* A WordPiece vocabulary of the corpus (no teacher)                           */
/* ------------------------------------------------------------------------ */
/* Without a teacher there is no tokenizer to borrow, so the model gets one
** built from the corpus: the BERT special tokens, every character seen (as a
** word start and as a "##" continuation, so any text tokenizes without
** [UNK]) and the most frequent words. Words are found by tokenizing the
** corpus with the character-level vocabulary first and joining the pieces,
** so normalisation and splitting are exactly the tokenizer's own (lower
** case, accents stripped, punctuation split). A frequent word is one id, a
** rare one a run of characters. Written as vocab.txt + tokenizer_config.json
** in the model directory, it makes the model a WordPiece model like any
** other: ds_encoder_tokenizer, the *_ids calls and collections work. */
#define VOCAB_WORDS 30000u
#define SPECIALS "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n"
#define TOK_CONFIG "{\"do_lower_case\": true, \"tokenize_chinese_chars\": true, \"model_max_length\": 8192}\n"

typedef struct wcount { uint64_t h; uint32_t off, len; uint64_t count; } wcount;

static int cmp_wcount(const void *a, const void *b) {
    const wcount *x = a, *y = b;
    if (x->count != y->count) return x->count > y->count ? -1 : 1;
    return x->h < y->h ? -1 : x->h > y->h;
}
static int cmp_i32(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return x < y ? -1 : x > y;
}

static void buf_str(ds__buf *b, const char *s, size_t n) { ds__buf_put(b, s, n); }

static void buf_cp(ds__buf *b, int32_t cp) {
    uint8_t u[4];
    utf8proc_ssize_t k = utf8proc_encode_char(cp, u);
    ds__buf_put(b, u, (size_t)k);
}

static ds_status corpus_vocab(tctx *c, ds__buf *vocab) {
    ds_env *env = c->env;
    ds_status rc = DS_OK;
    /* 1. characters: every code point of the raw text and its lower case */
    size_t ncp = 0, capcp = 4096;
    int32_t *cps = ds__alloc(env, capcp * sizeof *cps, 64);
    uint8_t seen_ascii[128] = { 0 };
    ds__buf_init(vocab, env);
    ds__buf words;
    ds__buf_init(&words, env);
    ds_tokenizer *boot = NULL;
    int32_t *ids = NULL;
    wcount *tab = NULL;
    size_t cap = 1u << 16, n = 0;
    if (cps == NULL) { rc = DS_ERR_NOMEM; goto done; }
    for (size_t i = 0; i < c->n_items; i++)
        for (int part = 0; part < 2; part++) {
            const uint8_t *p = (const uint8_t *)(part ? c->body[i] : c->title[i]);
            size_t len = part ? c->blen[i] : c->tlen[i];
            for (size_t k = 0; k < len;) {
                utf8proc_int32_t cp;
                utf8proc_ssize_t r = utf8proc_iterate(p + k, (utf8proc_ssize_t)(len - k), &cp);
                if (r <= 0) { k++; continue; }
                k += (size_t)r;
                if (cp < 128) { seen_ascii[cp] = 1; continue; }
                for (int lc = 0; lc < 2; lc++) {
                    int32_t v = lc ? utf8proc_tolower(cp) : cp;
                    if (ncp == capcp) {
                        /* dedup before growing: most text repeats its characters */
                        qsort(cps, ncp, sizeof *cps, cmp_i32);
                        size_t u = 0;
                        for (size_t q = 0; q < ncp; q++) if (u == 0 || cps[u - 1] != cps[q]) cps[u++] = cps[q];
                        ncp = u;
                        if (ncp > capcp / 2) {
                            int32_t *np = ds__realloc(env, cps, capcp * sizeof *cps, 2 * capcp * sizeof *cps);
                            if (np == NULL) { rc = DS_ERR_NOMEM; goto done; }
                            cps = np;
                            capcp *= 2;
                        }
                    }
                    cps[ncp++] = v;
                }
            }
        }
    qsort(cps, ncp, sizeof *cps, cmp_i32);
    {
        size_t u = 0;
        for (size_t q = 0; q < ncp; q++) if (u == 0 || cps[u - 1] != cps[q]) cps[u++] = cps[q];
        ncp = u;
    }
    /* the characters part of the vocabulary: printable ASCII always (queries
    ** may use letters the corpus lacks), then the others seen */
    buf_str(vocab, SPECIALS, strlen(SPECIALS));
    for (int pass = 0; pass < 2; pass++) {
        for (int a = 33; a < 127; a++) {
            if (a >= 'A' && a <= 'Z') continue;       /* lower-cased away */
            if (pass) buf_str(vocab, "##", 2);
            char ch = (char)a;
            buf_str(vocab, &ch, 1);
            buf_str(vocab, "\n", 1);
        }
        for (size_t q = 0; q < ncp; q++) {
            const utf8proc_property_t *pr = utf8proc_get_property(cps[q]);
            if (pr->category == UTF8PROC_CATEGORY_ZS || pr->category == UTF8PROC_CATEGORY_CC ||
                pr->category == UTF8PROC_CATEGORY_CF || pr->category == UTF8PROC_CATEGORY_CS ||
                pr->category == UTF8PROC_CATEGORY_CN || pr->category == UTF8PROC_CATEGORY_MN ||
                cps[q] == 0x2028 || cps[q] == 0x2029 || cps[q] == 0xFFFD)
                continue;
            if (pass) buf_str(vocab, "##", 2);
            buf_cp(vocab, cps[q]);
            buf_str(vocab, "\n", 1);
        }
    }
    DS_UNUSED(seen_ascii);
    if (vocab->rc != DS_OK) { rc = vocab->rc; goto done; }
    /* 2. words: tokenize with the characters, join the pieces, count */
    if ((rc = ds__tokenizer_load_vocab(env, (const char *)vocab->p, vocab->len, "corpus vocab.txt", TOK_CONFIG,
                                       strlen(TOK_CONFIG), "corpus tokenizer_config.json", &boot)) != DS_OK)
        goto done;
    size_t icap = (size_t)DS__STUDENT_MAX_TOKENS * 8;
    ids = ds__alloc(env, icap * sizeof *ids, 64);
    tab = ds__calloc(env, cap, sizeof *tab);
    if (ids == NULL || tab == NULL) { rc = DS_ERR_NOMEM; goto done; }
    char word[256];
    for (size_t i = 0; i < c->n_items; i++)
        for (int part = 0; part < 2; part++) {
            size_t got = 0;
            rc = ds_tokenizer_encode(boot, part ? c->body[i] : c->title[i], part ? c->blen[i] : c->tlen[i], icap, ids,
                                     icap, &got);
            if (rc != DS_OK) goto done;
            size_t wl = 0;
            int ok = 1;
            for (size_t k = 0; k <= got; k++) {
                const char *t = k < got ? ds_tokenizer_token(boot, ids[k]) : NULL;
                int cont = t != NULL && t[0] == '#' && t[1] == '#' && t[2] != '\0';
                if (!cont && wl > 0 && ok) {
                    /* one finished word: count it */
                    uint64_t h = ds__hash64(word, wl);
                    if (2 * (n + 1) > cap) {
                        size_t nc = 2 * cap;
                        wcount *nt = ds__calloc(env, nc, sizeof *nt);
                        if (nt == NULL) { rc = DS_ERR_NOMEM; goto done; }
                        for (size_t q = 0; q < cap; q++)
                            if (tab[q].count) {
                                size_t pp = (size_t)tab[q].h & (nc - 1);
                                while (nt[pp].count) pp = (pp + 1) & (nc - 1);
                                nt[pp] = tab[q];
                            }
                        ds__free(env, tab, cap * sizeof *tab);
                        tab = nt;
                        cap = nc;
                    }
                    size_t pp = (size_t)h & (cap - 1);
                    while (tab[pp].count && tab[pp].h != h) pp = (pp + 1) & (cap - 1);
                    if (tab[pp].count == 0) {
                        tab[pp].h = h;
                        tab[pp].off = (uint32_t)words.len;
                        tab[pp].len = (uint32_t)wl;
                        ds__buf_put(&words, word, wl);
                        n++;
                    }
                    tab[pp].count++;
                }
                if (!cont) { wl = 0; ok = 1; }
                if (t == NULL || k == got) continue;
                if (ids[k] == ds_tokenizer_special(boot, DS_TOKEN_CLS) || ids[k] == ds_tokenizer_special(boot, DS_TOKEN_SEP) ||
                    ids[k] == ds_tokenizer_special(boot, DS_TOKEN_UNK)) { ok = 0; continue; }
                const char *piece = cont ? t + 2 : t;
                size_t pl = strlen(piece);
                if (wl + pl >= 100) { ok = 0; continue; }   /* BERT splits no word that long into one id */
                memcpy(word + wl, piece, pl);
                wl += pl;
            }
        }
    if (words.rc != DS_OK) { rc = words.rc; goto done; }
    size_t k = 0;
    for (size_t q = 0; q < cap; q++)
        if (tab[q].count >= 2) {
            /* one code point is already a character entry */
            utf8proc_int32_t cp;
            utf8proc_ssize_t r = utf8proc_iterate(words.p + tab[q].off, (utf8proc_ssize_t)tab[q].len, &cp);
            if (r > 0 && (uint32_t)r == tab[q].len) continue;
            tab[k++] = tab[q];
        }
    qsort(tab, k, sizeof *tab, cmp_wcount);
    if (k > VOCAB_WORDS) k = VOCAB_WORDS;
    c->min_unit = ds_tokenizer_vocab_size(boot);
    for (size_t q = 0; q < k; q++) {
        buf_str(vocab, (const char *)words.p + tab[q].off, tab[q].len);
        buf_str(vocab, "\n", 1);
    }
    if (vocab->rc != DS_OK) rc = vocab->rc;
done:
    ds_tokenizer_close(boot);
    ds__free(env, ids, (size_t)DS__STUDENT_MAX_TOKENS * 8 * sizeof *ids);
    ds__free(env, tab, cap * sizeof *tab);
    ds__free(env, cps, capcp * sizeof *cps);
    ds__buf_release(&words);
    if (rc != DS_OK) ds__buf_release(vocab);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Feature vocabulary                                                         */
/* ------------------------------------------------------------------------ */
typedef struct fent {
    uint64_t key;
    uint32_t df;
    uint32_t last;   /* last document counted + 1 */
} fent;

static int cmp_fent_df(const void *a, const void *b) {
    const fent *x = a, *y = b;
    if (x->df != y->df) return x->df > y->df ? -1 : 1;
    return x->key < y->key ? -1 : x->key > y->key;
}
static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Exact document frequencies of every 1..max_ngram gram of the documents
** (queries are not counted), then the max_features most frequent (df >= 2
** when that leaves at least dim features), stored ascending by hash. */
static ds_status build_features(tctx *c) {
    ds_env *env = c->env;
    size_t cap = 1u << 16, n = 0;
    fent *tab = ds__calloc(env, cap, sizeof *tab);
    if (tab == NULL) return DS_ERR_NOMEM;
    ds_status rc = DS_OK;
    for (size_t d = 0; d < c->n_docs; d++) {
        const uint64_t *u = c->units.p + c->docs[d].off;
        size_t nu = c->docs[d].n;
        for (unsigned g = 1; g <= c->max_ngram; g++)
            for (size_t i = 0; i + g <= nu; i++) {
                if (2 * (n + 1) > cap) {
                    size_t nc = cap * 2;
                    fent *nt = ds__calloc(env, nc, sizeof *nt);
                    if (nt == NULL) { rc = DS_ERR_NOMEM; goto done; }
                    for (size_t k = 0; k < cap; k++)
                        if (tab[k].df) {
                            size_t p = (size_t)tab[k].key & (nc - 1);
                            while (nt[p].df) p = (p + 1) & (nc - 1);
                            nt[p] = tab[k];
                        }
                    ds__free(env, tab, cap * sizeof *tab);
                    tab = nt;
                    cap = nc;
                }
                int chars = 0;
                for (unsigned q = 0; q < g; q++) chars |= u[i + q] < c->min_unit;
                if (chars) continue;
                uint64_t h = ds__ngram_hash(u + i, g);
                size_t p = (size_t)h & (cap - 1);
                while (tab[p].df && tab[p].key != h) p = (p + 1) & (cap - 1);
                if (tab[p].df == 0) { tab[p].key = h; n++; }
                if (tab[p].last != d + 1) { tab[p].df++; tab[p].last = (uint32_t)(d + 1); }
            }
    }
    /* compact and rank */
    size_t k = 0;
    for (size_t i = 0; i < cap; i++)
        if (tab[i].df) tab[k++] = tab[i];
    qsort(tab, k, sizeof *tab, cmp_fent_df);
    size_t keep = DS_MIN(k, c->max_features), df2 = 0;
    while (df2 < keep && tab[df2].df >= 2) df2++;
    if (df2 >= c->dim) keep = df2;
    if (keep == 0) { rc = ds__fail(DS_ERR_INVALID, "the corpus has no words to learn from"); goto done; }
    c->F = keep;
    c->fh = ds__alloc(env, keep * sizeof *c->fh, 64);
    c->idf = ds__alloc(env, keep * sizeof *c->idf, 64);
    if (c->fh == NULL || c->idf == NULL) { rc = DS_ERR_NOMEM; goto done; }
    for (size_t i = 0; i < keep; i++) c->fh[i] = tab[i].key;
    qsort(c->fh, keep, sizeof *c->fh, cmp_u64);
    /* idf in hash order: look each df up again in the (df-sorted) prefix */
    {
        ds__ftable tmp;
        if ((rc = ds__ftable_build(env, c->fh, keep, &tmp)) != DS_OK) goto done;
        for (size_t i = 0; i < keep; i++) {
            int64_t r = ds__ftable_find(&tmp, tab[i].key);
            c->idf[r] = (float)(log((1.0 + (double)c->n_docs) / (1.0 + (double)tab[i].df)) + 1.0);
        }
        c->table = tmp;
    }
done:
    ds__free(env, tab, cap * sizeof *tab);
    return rc;
}

/* Feature rows of units (1..max_ngram grams), appended to v. */
static ds_status rows_of(tctx *c, const uint64_t *u, size_t n, ds__u64vec *v, uint32_t *buf, size_t cap) {
    size_t k = ds__ftable_rows(&c->table, c->max_ngram, u, n, buf, cap);
    for (size_t i = 0; i < k; i++)
        if (!ds__u64vec_push(c->env, v, buf[i])) return DS_ERR_NOMEM;
    return DS_OK;
}

/* ------------------------------------------------------------------------ */
/* Writing the directory                                                      */
/* ------------------------------------------------------------------------ */
static ds_status copy_tokenizer(tctx *c, const char *dst_dir) {
    static const char *const files[] = { "tokenizer.json", "tokenizer_config.json", "vocab.txt",
                                         "special_tokens_map.json" };
    int any = 0;
    for (size_t i = 0; i < DS_ARRAY_LEN(files); i++) {
        char src[4096], dst[4096];
        if ((size_t)snprintf(dst, sizeof dst, "%s/%s", dst_dir, files[i]) >= sizeof dst)
            return ds__fail(DS_ERR_INVALID, "output path too long");
        ds_status rc = DS_ERR_NOTFOUND;
        for (int sub = 0; sub < 2 && rc == DS_ERR_NOTFOUND; sub++) {
            if ((size_t)snprintf(src, sizeof src, "%s/%s%s", c->teacher_dir, sub ? "0_Transformer/" : "", files[i]) >=
                sizeof src)
                return ds__fail(DS_ERR_INVALID, "teacher path too long");
            rc = ds__copy_file(c->env, src, dst);
        }
        if (rc == DS_OK) any = 1;
        else if (rc != DS_ERR_NOTFOUND) return rc;
    }
    if (!any) return ds__fail(DS_ERR_NOTFOUND, "%s: no tokenizer files to copy", c->teacher_dir);
    return DS_OK;
}

static ds_status write_model(tctx *c, const char *out_dir, const ds__student_cfg *cfg, const ds__st_out *t, size_t nt,
                             const char *extra) {
    char tmp[4096], path[4096];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp-%ld", out_dir, (long)getpid()) >= sizeof tmp)
        return ds__fail(DS_ERR_INVALID, "output path too long");
    ds__dir_remove(tmp);
    if (mkdir(tmp, 0755) != 0) return ds__fail(DS_ERR_IO, "%s: %s", tmp, strerror(errno));
    report(c, "write", 0, 1, 0, NAN, 0);
    char *json = NULL;
    size_t jl = 0;
    ds_status rc = ds__student_cfg_format(c->env, cfg, extra, &json, &jl);
    if (rc == DS_OK) {
        rc = (size_t)snprintf(path, sizeof path, "%s/model.safetensors", tmp) >= sizeof path
                 ? ds__fail(DS_ERR_INVALID, "output path too long")
                 : ds__st_write(path, t, nt);
    }
    if (rc == DS_OK && cfg->units == DS__UNITS_WORDPIECE && c->teacher_dir) rc = copy_tokenizer(c, tmp);
    if (rc == DS_OK && cfg->units == DS__UNITS_WORDPIECE && !c->teacher_dir) {
        if ((size_t)snprintf(path, sizeof path, "%s/vocab.txt", tmp) >= sizeof path)
            rc = ds__fail(DS_ERR_INVALID, "output path too long");
        else rc = ds__write_file(path, c->vocab_txt.p, c->vocab_txt.len);
        if (rc == DS_OK)
            rc = (size_t)snprintf(path, sizeof path, "%s/tokenizer_config.json", tmp) >= sizeof path
                     ? ds__fail(DS_ERR_INVALID, "output path too long")
                     : ds__write_file(path, TOK_CONFIG, strlen(TOK_CONFIG));
    }
    /* the config last: a directory with it is complete */
    if (rc == DS_OK) {
        rc = (size_t)snprintf(path, sizeof path, "%s/%s", tmp, DS__STUDENT_CONFIG) >= sizeof path
                 ? ds__fail(DS_ERR_INVALID, "output path too long")
                 : ds__write_file(path, json, jl);
    }
    if (json) ds__free(c->env, json, jl + 1);
    if (rc == DS_OK) rc = ds__dir_swap(tmp, out_dir);
    if (rc != DS_OK) ds__dir_remove(tmp);
    else report(c, "write", 1, 1, 0, NAN, 0);
    return rc;
}

static void base_cfg(const tctx *c, ds__student_cfg *cfg) {
    memset(cfg, 0, sizeof *cfg);
    cfg->format_version = DS__STUDENT_FORMAT;
    cfg->units = c->feat.units;
    cfg->an = c->feat.an;
    cfg->dim = c->dim;
    cfg->max_ngram = c->max_ngram;
}

static void extra_json(const tctx *c, const char *recipe, char *buf, size_t cap) {
    char teacher[600] = "null";
    if (c->teacher_dir) {
        size_t k = 0;
        teacher[k++] = '"';
        for (const char *p = c->teacher_dir; *p && k + 4 < sizeof teacher; p++) {
            unsigned char ch = (unsigned char)*p;
            if (ch == '"' || ch == '\\') teacher[k++] = '\\';
            teacher[k++] = ch < 0x20 ? '?' : (char)ch;
        }
        teacher[k++] = '"';
        teacher[k] = '\0';
    }
    snprintf(buf, cap,
             "\"training\": {\"recipe\": \"%s\", \"teacher\": %s, \"documents\": %zu, \"texts\": %zu, "
             "\"seed\": %llu, \"epochs\": %u}",
             recipe, teacher, c->n_docs, c->n_items, (unsigned long long)c->seed, c->epochs);
}

/* ------------------------------------------------------------------------ */
/* LSA                                                                        */
/* ------------------------------------------------------------------------ */
static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* The top-k right singular vectors of the documents' TF-IDF matrix (rows of
** unit length, all 1..max_ngram features) into V (F x k). */
static ds_status lsa_fit(tctx *c, size_t k, float *V) {
    ds_env *env = c->env;
    size_t n = c->n_docs, F = c->F;
    ds_status rc = DS_OK;
    size_t *off = ds__calloc(env, n + 1, sizeof *off);
    ds__u64vec rows = { 0 };
    size_t bcap = (size_t)DS__STUDENT_MAX_TOKENS * c->max_ngram;
    uint32_t *col = NULL, *buf = ds__alloc(env, bcap * sizeof *buf, 64);
    float *val = NULL, *sv = NULL;
    size_t nnz = 0;
    if (off == NULL || buf == NULL) { rc = DS_ERR_NOMEM; goto done; }
    for (size_t d = 0; d < n; d++) {
        size_t m = ds__ftable_rows(&c->table, c->max_ngram, c->units.p + c->docs[d].off, c->docs[d].n, buf, bcap);
        qsort(buf, m, sizeof *buf, cmp_u32);
        for (size_t i = 0; i < m; i++) {
            if (i > 0 && buf[i] == buf[i - 1]) { rows.p[rows.n - 1] += (uint64_t)1 << 32; continue; }
            if (!ds__u64vec_push(env, &rows, ((uint64_t)1 << 32) | buf[i])) { rc = DS_ERR_NOMEM; goto done; }
        }
        off[d + 1] = rows.n;
    }
    nnz = rows.n;
    col = ds__alloc(env, (nnz ? nnz : 1) * sizeof *col, 64);
    val = ds__alloc(env, (nnz ? nnz : 1) * sizeof *val, 64);
    sv = ds__alloc(env, k * sizeof *sv, 64);
    if (!col || !val || !sv) { rc = DS_ERR_NOMEM; goto done; }
    for (size_t d = 0; d < n; d++) {
        double ss = 0;
        for (size_t j = off[d]; j < off[d + 1]; j++) {
            col[j] = (uint32_t)rows.p[j];
            val[j] = (float)(rows.p[j] >> 32) * c->idf[col[j]];
            ss += (double)val[j] * val[j];
        }
        float inv = ss > 0 ? (float)(1.0 / sqrt(ss)) : 0.0f;
        for (size_t j = off[d]; j < off[d + 1]; j++) val[j] *= inv;
    }
    report(c, "svd", 0, 1, 0, NAN, 0);
    ds__csr A = { n, F, off, col, val };
    if ((rc = ds__rsvd(env, &A, k, 3, &c->rng, V, sv)) != DS_OK) goto done;
    /* sign convention: largest-magnitude entry of each component positive,
    ** so retraining gives the same vectors */
    for (size_t j = 0; j < k; j++) {
        float best = 0;
        for (size_t i = 0; i < F; i++) if (fabsf(V[i * k + j]) > fabsf(best)) best = V[i * k + j];
        if (best < 0) for (size_t i = 0; i < F; i++) V[i * k + j] = -V[i * k + j];
    }
    report(c, "svd", 1, 1, 0, NAN, 0);
done:
    ds__free(env, off, (n + 1) * sizeof *off);
    ds__free(env, buf, bcap * sizeof *buf);
    ds__free(env, col, (nnz ? nnz : 1) * sizeof *col);
    ds__free(env, val, (nnz ? nnz : 1) * sizeof *val);
    ds__free(env, sv, k * sizeof *sv);
    ds__u64vec_release(env, &rows);
    return rc;
}

/* lsa_fit into the first k' = min(k, documents, features) columns of the F x
** k matrix W (a small corpus has fewer singular vectors than asked for); the
** other columns are zero. */
static ds_status lsa_fit_padded(tctx *c, size_t k, float *W) {
    size_t r = DS_MIN(k, DS_MIN(c->n_docs, c->F));
    if (r == k) return lsa_fit(c, k, W);
    float *V = ds__alloc(c->env, c->F * r * sizeof *V, 64);
    if (V == NULL) return DS_ERR_NOMEM;
    ds_status rc = lsa_fit(c, r, V);
    for (size_t i = 0; rc == DS_OK && i < c->F; i++) {
        memcpy(W + i * k, V + i * r, r * sizeof *V);
        memset(W + i * k + r, 0, (k - r) * sizeof *W);
    }
    ds__free(c->env, V, c->F * r * sizeof *V);
    return rc;
}

static ds_status train_lsa(tctx *c, const char *out_dir) {
    size_t F = c->F;
    float *V = ds__alloc(c->env, F * c->dim * sizeof *V, 64);
    if (V == NULL) return DS_ERR_NOMEM;
    ds_status rc = lsa_fit_padded(c, c->dim, V);
    if (rc == DS_OK) {
        ds__student_cfg cfg;
        base_cfg(c, &cfg);
        cfg.kind = DS__SK_LSA;
        cfg.max_ngram = 1;
        cfg.n_layers = 1;
        cfg.widths[0] = F;
        cfg.widths[1] = c->dim;
        ds__st_out t[3] = { { "features.hash", DS_ST_U64, F, 0, c->fh }, { "features.idf", DS_ST_F32, F, 0, c->idf },
                            { "layers.0.weight", DS_ST_F32, F, c->dim, V } };
        char extra[1024];
        extra_json(c, "tfidf-svd", extra, sizeof extra);
        rc = write_model(c, out_dir, &cfg, t, 3, extra);
    }
    ds__free(c->env, V, F * c->dim * sizeof *V);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Teacher embeddings                                                         */
/* ------------------------------------------------------------------------ */
static uint64_t texts_key(const tctx *c, size_t dt) {
    uint64_t h = ds__hash64(c->teacher_dir, strlen(c->teacher_dir));
    char p[4096];
    struct stat sb;
    snprintf(p, sizeof p, "%s/model.safetensors", c->teacher_dir);
    uint64_t meta[4] = { dt, ds_encoder_max_seq_length(c->teacher), 0, 0 };
    if (stat(p, &sb) == 0) { meta[2] = (uint64_t)sb.st_size; meta[3] = (uint64_t)sb.st_mtime; }
    h ^= ds__hash64(meta, sizeof meta) * 0x9E3779B97F4A7C15ull;
    for (size_t i = 0; i < c->n_items; i++) {
        uint64_t x[2] = { ds__hash64(c->title[i], c->tlen[i]), ds__hash64(c->body[i], c->blen[i]) };
        h = ds__hash64(&h, sizeof h) ^ ds__hash64(x, sizeof x);
    }
    return h;
}

#define CACHE_MAGIC "DSTCACHE"

static int cache_load(const tctx *c, uint64_t key, size_t dt, float *T) {
    FILE *f = fopen(c->cache_path, "rb");
    if (f == NULL) return 0;
    uint8_t h[32];
    int ok = fread(h, 1, 32, f) == 32 && memcmp(h, CACHE_MAGIC, 8) == 0 && ds__load_u32le(h + 8) == 1 &&
             ds__load_u32le(h + 12) == dt && ds__load_u64le(h + 16) == c->n_items && ds__load_u64le(h + 24) == key;
    size_t total = c->n_items * dt;
    uint8_t buf[4096];
    for (size_t i = 0; ok && i < total; i += 1024) {
        size_t m = DS_MIN(1024, total - i);
        if (fread(buf, 4, m, f) != m) { ok = 0; break; }
        for (size_t k = 0; k < m; k++) T[i + k] = ds__load_f32le(buf + 4 * k);
    }
    fclose(f);
    return ok;
}

static void cache_save(tctx *c, uint64_t key, size_t dt, const float *T) {
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", c->cache_path);
    size_t total = c->n_items * dt, bytes = 32 + 4 * total;
    uint8_t *b = malloc(bytes);
    if (b == NULL) return;
    memcpy(b, CACHE_MAGIC, 8);
    ds__store_u32le(b + 8, 1);
    ds__store_u32le(b + 12, (uint32_t)dt);
    ds__store_u64le(b + 16, c->n_items);
    ds__store_u64le(b + 24, key);
    for (size_t i = 0; i < total; i++) ds__store_f32le(b + 32 + 4 * i, T[i]);
    /* best effort: a cache that cannot be written only costs time later */
    if (ds__write_file(tmp, b, bytes) == DS_OK && rename(tmp, c->cache_path) != 0) unlink(tmp);
    free(b);
}

typedef struct teach_pg { tctx *c; uint64_t base, total; } teach_pg;
static int teach_cb(uint64_t done, uint64_t total, void *ud) {
    DS_UNUSED(total);
    teach_pg *p = ud;
    double el = ds__now() - p->c->t0;
    return report(p->c, "teacher", p->base + done, p->total, 0, NAN, (double)(p->base + done) / (el > 0 ? el : 1));
}

static ds_status teacher_embed(tctx *c, float *T, size_t dt) {
    uint64_t key = texts_key(c, dt);
    if (c->cache_path && cache_load(c, key, dt, T)) return DS_OK;
    ds_env *env = c->env;
    const size_t chunk = 256;
    char **joined = ds__calloc(env, chunk, sizeof *joined);
    size_t *jl = ds__calloc(env, chunk, sizeof *jl);
    ds_status rc = DS_OK;
    if (joined == NULL || jl == NULL) { rc = DS_ERR_NOMEM; goto done; }
    double t0 = ds__now();
    c->t0 = t0;
    for (size_t b = 0; b < c->n_items && rc == DS_OK; b += chunk) {
        size_t m = DS_MIN(chunk, c->n_items - b);
        for (size_t i = 0; i < m; i++) {
            size_t tl = c->tlen[b + i], bl = c->blen[b + i];
            jl[i] = tl + (tl && bl ? 1 : 0) + bl;
            if ((joined[i] = ds__alloc(env, jl[i] + 1, 1)) == NULL) { rc = DS_ERR_NOMEM; break; }
            memcpy(joined[i], c->title[b + i], tl);
            if (tl && bl) joined[i][tl] = ' ';
            memcpy(joined[i] + jl[i] - bl, c->body[b + i], bl);
            joined[i][jl[i]] = '\0';
        }
        if (rc == DS_OK) {
            rc = ds_encoder_encode(c->teacher, (const char *const *)joined, jl, m, T + b * dt);
            if (rc == DS_OK) {
                teach_pg pg = { c, b, c->n_items };
                if (teach_cb(m, m, &pg)) rc = ds__fail(DS_ERR_CANCELED, "canceled by the progress callback");
            }
        }
        for (size_t i = 0; i < m; i++) {
            if (joined[i]) ds__free(env, joined[i], jl[i] + 1);
            joined[i] = NULL;
        }
    }
    if (rc == DS_OK) {
        ds__rows_normalize(T, c->n_items, dt);
        if (c->cache_path) cache_save(c, key, dt, T);
    }
done:
    ds__free(env, joined, chunk * sizeof *joined);
    ds__free(env, jl, chunk * sizeof *jl);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Lexdense                                                                   */
/* ------------------------------------------------------------------------ */
/* A random crop of 10-50% of n units (at least min(n, 4)). */
static void crop(ds__xrng *r, size_t n, size_t *beg, size_t *len) {
    size_t want = (size_t)llround((0.1 + 0.4 * ds__xrng_unit(r)) * (double)n);
    size_t lo = DS_MIN(n, (size_t)4);
    if (want < lo) want = lo;
    if (want > n) want = n;
    *len = want;
    *beg = n > want ? (size_t)ds__xrng_below(r, n - want + 1) : 0;
}

static ds_status train_lexdense(tctx *c, const char *out_dir) {
    ds_env *env = c->env;
    int distill = c->teacher != NULL;
    size_t n_items = distill ? c->n_items : c->n_docs;
    size_t B = DS_MIN(c->batch, n_items);
    /* [features, h0, 2 h0, dim]: the first layer starts as LSA (the top-h0
    ** singular vectors), the two dense layers as the identity written
    ** through ReLU ([I, -I] then [I; -I]: relu(x) - relu(-x) = x), so
    ** training starts from the LSA model and the loss moves it from there. */
    size_t h0 = c->first ? c->first : DS_MIN(c->dim, (size_t)128);
    float lr = c->lr;
    size_t widths[4] = { c->F, h0, 2 * h0, c->dim };
    size_t dt = distill ? ds_encoder_dim(c->teacher) : 0;
    size_t M = distill ? B : 2 * B;
    size_t spe = n_items / B;
    if (c->epochs == 0) {
        size_t e = (1500 + spe - 1) / spe;
        c->epochs = (unsigned)DS_MAX((size_t)1, DS_MIN(e, (size_t)200));
    }
    uint64_t total = (uint64_t)c->epochs * spe, step = 0;
    ds_status rc = DS_OK;
    ds__lexnet_train net;
    memset(&net, 0, sizeof net);
    float *T = NULL, *Tb = NULL, *dE = NULL, *scr = NULL;
    size_t *perm = NULL, *roff = NULL;
    ds__u64vec rowsv = { 0 };
    uint32_t *rows32 = NULL, *buf = NULL;
    size_t rows32_cap = 0;
    ds__lex_example *ex = NULL;
    if (distill) {
        if ((T = ds__alloc(env, c->n_items * dt * sizeof *T, 64)) == NULL) { rc = DS_ERR_NOMEM; goto done; }
        if ((rc = teacher_embed(c, T, dt)) != DS_OK) goto done;
        if ((Tb = ds__alloc(env, B * dt * sizeof *Tb, 64)) == NULL) { rc = DS_ERR_NOMEM; goto done; }
    }
    if ((rc = ds__lexnet_init(env, &net, 3, widths, c->idf, &c->rng, c->nt)) != DS_OK) goto done;
    {
        if ((rc = lsa_fit_padded(c, h0, net.w[0])) != DS_OK) goto done;
        /* unit-rms entries, so AdamW's steps are small relative to them */
        float sc = sqrtf((float)c->F);
        for (size_t i = 0; i < c->F * h0; i++) net.w[0][i] *= sc;
        for (size_t i = 0; i < h0 * 2 * h0; i++) net.w[1][i] = 0.01f * ds__xrng_normal(&c->rng);
        for (size_t i = 0; i < h0; i++) {
            net.w[1][i * 2 * h0 + i] += 1.0f;
            net.w[1][i * 2 * h0 + h0 + i] -= 1.0f;
        }
        for (size_t i = 0; i < 2 * h0 * c->dim; i++) net.w[2][i] = 0.01f * ds__xrng_normal(&c->rng);
        for (size_t i = 0; i < h0 && i < c->dim; i++) {
            net.w[2][i * c->dim + i] += 1.0f;
            net.w[2][(h0 + i) * c->dim + i] -= 1.0f;
        }
    }
    perm = ds__alloc(env, n_items * sizeof *perm, 64);
    roff = ds__alloc(env, (M + 1) * sizeof *roff, 64);
    ex = ds__alloc(env, M * sizeof *ex, 64);
    dE = ds__alloc(env, M * c->dim * sizeof *dE, 64);
    scr = ds__alloc(env, 3 * B * B * sizeof *scr, 64);
    buf = ds__alloc(env, (size_t)DS__STUDENT_MAX_TOKENS * c->max_ngram * sizeof *buf, 64);
    if (!perm || !roff || !ex || !dE || !scr || !buf) { rc = DS_ERR_NOMEM; goto done; }
    for (size_t i = 0; i < n_items; i++) perm[i] = i;
    double t0 = ds__now(), ema = NAN;
    c->t0 = t0;
    uint64_t seen = 0;
    for (unsigned ep = 0; ep < c->epochs && rc == DS_OK; ep++) {
        for (size_t i = n_items; i > 1; i--) {          /* Fisher-Yates */
            size_t j = (size_t)ds__xrng_below(&c->rng, i), t = perm[i - 1];
            perm[i - 1] = perm[j];
            perm[j] = t;
        }
        for (size_t s = 0; s < spe && rc == DS_OK; s++, step++) {
            rowsv.n = 0;
            size_t cap = (size_t)DS__STUDENT_MAX_TOKENS * c->max_ngram;
            for (size_t b = 0; b < B && rc == DS_OK; b++) {
                const tdoc *d = &c->docs[perm[s * B + b]];
                const uint64_t *u = c->units.p + d->off;
                if (distill) {
                    roff[b] = rowsv.n;
                    rc = rows_of(c, u, d->n, &rowsv, buf, cap);
                    memcpy(Tb + b * dt, T + perm[s * B + b] * dt, dt * sizeof *Tb);
                    continue;
                }
                size_t nb = d->n - d->n_title, ab, al, bb, bl;
                if (d->n_title > 0 && nb > 0 && ds__xrng_unit(&c->rng) < 0.5) {
                    ab = 0; al = d->n_title; bb = d->n_title; bl = nb;
                } else {
                    crop(&c->rng, d->n, &ab, &al);
                    crop(&c->rng, d->n, &bb, &bl);
                }
                roff[b] = rowsv.n;
                if ((rc = rows_of(c, u + ab, al, &rowsv, buf, cap)) != DS_OK) break;
                /* second views go to [B, 2B): rows appended after all first
                ** views would need a second pass, so record them in order and
                ** fix the offsets below */
                roff[B + b] = rowsv.n;
                rc = rows_of(c, u + bb, bl, &rowsv, buf, cap);
            }
            if (rc != DS_OK) break;
            if (rowsv.n > rows32_cap) {
                ds__free(env, rows32, rows32_cap * sizeof *rows32);
                rows32_cap = rowsv.n * 2;
                if ((rows32 = ds__alloc(env, rows32_cap * sizeof *rows32, 64)) == NULL) { rc = DS_ERR_NOMEM; break; }
            }
            for (size_t i = 0; i < rowsv.n; i++) rows32[i] = (uint32_t)rowsv.p[i];
            if (distill) {
                roff[B] = rowsv.n;
                for (size_t b = 0; b < B; b++) { ex[b].rows = rows32 + roff[b]; ex[b].n = roff[b + 1] - roff[b]; }
            } else {
                for (size_t b = 0; b < B; b++) {
                    ex[b].rows = rows32 + roff[b];
                    ex[b].n = roff[B + b] - roff[b];
                    size_t end = b + 1 < B ? roff[b + 1] : rowsv.n;
                    ex[B + b].rows = rows32 + roff[B + b];
                    ex[B + b].n = end - roff[B + b];
                }
            }
            const float *E;
            if ((rc = ds__lexnet_forward(&net, ex, M, &E)) != DS_OK) break;
            double loss = distill ? ds__loss_kl_sim(E, c->dim, Tb, dt, B, 3.0f, dE, scr)
                                  : ds__loss_infonce(E, B, c->dim, 0.05f, dE, scr);
            ds__lexnet_zero_grad(&net);
            ds__lexnet_backward(&net, ex, M, dE);
            ds__lexnet_adamw(&net, ds__wsd_lr(lr, step, total), 0.01f);
            ema = isnan(ema) ? loss : 0.95 * ema + 0.05 * loss;
            seen += B;
            double el = ds__now() - t0;
            if (report(c, "train", step + 1, total, ep + 1, ema, (double)seen / (el > 0 ? el : 1e-9)))
                rc = ds__fail(DS_ERR_CANCELED, "canceled by the progress callback");
        }
    }
    if (rc != DS_OK) goto done;
    {
        ds__student_cfg cfg;
        base_cfg(c, &cfg);
        cfg.kind = DS__SK_LEXDENSE;
        cfg.n_layers = 3;
        memcpy(cfg.widths, widths, sizeof widths);
        ds__st_out t[5] = { { "features.hash", DS_ST_U64, c->F, 0, c->fh },
                            { "features.idf", DS_ST_F32, c->F, 0, c->idf },
                            { "layers.0.weight", DS_ST_F32, widths[0], widths[1], net.w[0] },
                            { "layers.1.weight", DS_ST_F32, widths[1], widths[2], net.w[1] },
                            { "layers.2.weight", DS_ST_F32, widths[2], widths[3], net.w[2] } };
        char extra[1024];
        extra_json(c, distill ? "distill-kl" : "infonce", extra, sizeof extra);
        rc = write_model(c, out_dir, &cfg, t, 5, extra);
    }
done:
    ds__lexnet_release(&net);
    if (T) ds__free(env, T, c->n_items * dt * sizeof *T);
    if (Tb) ds__free(env, Tb, B * dt * sizeof *Tb);
    ds__free(env, perm, n_items * sizeof *perm);
    ds__free(env, roff, (M + 1) * sizeof *roff);
    ds__free(env, ex, M * sizeof *ex);
    ds__free(env, dE, M * c->dim * sizeof *dE);
    ds__free(env, scr, 3 * B * B * sizeof *scr);
    ds__free(env, buf, (size_t)DS__STUDENT_MAX_TOKENS * c->max_ngram * sizeof *buf);
    ds__free(env, rows32, rows32_cap * sizeof *rows32);
    ds__u64vec_release(env, &rowsv);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Static (Model2Vec)                                                         */
/* ------------------------------------------------------------------------ */
typedef struct rank_ent { uint64_t count; uint32_t id; } rank_ent;
static int cmp_rank(const void *a, const void *b) {
    const rank_ent *x = a, *y = b;
    if (x->count != y->count) return x->count > y->count ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

static ds_status train_static(tctx *c, const char *out_dir) {
    ds_env *env = c->env;
    const ds_tokenizer *tok = ds_encoder_tokenizer(c->teacher);
    size_t V = ds_tokenizer_vocab_size(tok), H = ds_encoder_dim(c->teacher), D = c->dim;
    int32_t cls = ds_tokenizer_special(tok, DS_TOKEN_CLS), sep = ds_tokenizer_special(tok, DS_TOKEN_SEP);
    if (cls < 0 || sep < 0)
        return ds__fail(DS_ERR_UNSUPPORTED, "%s: the teacher's tokenizer has no [CLS]/[SEP]", c->teacher_dir);
    ds_status rc = DS_OK;
    float *E = ds__alloc(env, V * H * sizeof *E, 64), *P = ds__alloc(env, V * D * sizeof *P, 64);
    int32_t *seq = ds__alloc(env, V * 3 * sizeof *seq, 64);
    const int32_t **ids = ds__alloc(env, V * sizeof *ids, 64);
    size_t *lens = ds__alloc(env, V * sizeof *lens, 64);
    uint8_t *skip = ds__calloc(env, V, 1);
    double *cov = ds__calloc(env, H * H, sizeof *cov), *mean = ds__calloc(env, H, sizeof *mean);
    double *ev = ds__alloc(env, H * sizeof *ev, 64);
    rank_ent *rk = ds__alloc(env, V * sizeof *rk, 64);
    float *W = ds__alloc(env, H * D * sizeof *W, 64);
    if (!E || !P || !seq || !ids || !lens || !skip || !cov || !mean || !ev || !rk || !W) { rc = DS_ERR_NOMEM; goto done; }
    /* tokens without text, and the special tokens, get no vector */
    for (size_t t = 0; t < V; t++) {
        const char *s = ds_tokenizer_token(tok, (int32_t)t);
        int32_t id = (int32_t)t;
        skip[t] = s == NULL || id == cls || id == sep || id == ds_tokenizer_special(tok, DS_TOKEN_PAD) ||
                  id == ds_tokenizer_special(tok, DS_TOKEN_MASK) || id == ds_tokenizer_special(tok, DS_TOKEN_UNK);
        seq[3 * t] = cls;
        seq[3 * t + 1] = skip[t] ? cls : id;
        seq[3 * t + 2] = sep;
        ids[t] = seq + 3 * t;
        lens[t] = 3;
    }
    c->t0 = ds__now();
    for (size_t b = 0; b < V && rc == DS_OK; b += 2048) {
        size_t m = DS_MIN((size_t)2048, V - b);
        rc = ds_encoder_encode_ids(c->teacher, ids + b, lens + b, m, E + b * H);
        double el = ds__now() - c->t0;
        if (rc == DS_OK && report(c, "teacher", b + m, V, 0, NAN, (double)(b + m) / (el > 0 ? el : 1)))
            rc = ds__fail(DS_ERR_CANCELED, "canceled by the progress callback");
    }
    if (rc != DS_OK) goto done;
    /* PCA over the real tokens */
    size_t nreal = 0;
    for (size_t t = 0; t < V; t++) {
        if (skip[t]) continue;
        nreal++;
        for (size_t i = 0; i < H; i++) mean[i] += E[t * H + i];
    }
    if (nreal < D) { rc = ds__fail(DS_ERR_INVALID, "--dim %zu: the teacher has only %zu tokens", D, nreal); goto done; }
    for (size_t i = 0; i < H; i++) mean[i] /= (double)nreal;
    {
        float *X = ds__alloc(env, V * H * sizeof *X, 64), *C = ds__alloc(env, H * H * sizeof *C, 64);
        if (X == NULL || C == NULL) {
            ds__free(env, X, V * H * sizeof *X);
            ds__free(env, C, H * H * sizeof *C);
            rc = DS_ERR_NOMEM;
            goto done;
        }
        for (size_t t = 0; t < V; t++)
            for (size_t i = 0; i < H; i++) X[t * H + i] = skip[t] ? 0.0f : (float)(E[t * H + i] - mean[i]);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)H, (int)H, (int)V, 1.0f / (float)nreal, X, (int)H, X,
                    (int)H, 0.0f, C, (int)H);
        for (size_t i = 0; i < H * H; i++) cov[i] = C[i];
        memcpy(E, X, V * H * sizeof *X);
        ds__free(env, X, V * H * sizeof *X);
        ds__free(env, C, H * H * sizeof *C);
    }
    if ((rc = ds__sym_eig(env, cov, H, ev)) != DS_OK) goto done;
    for (size_t j = 0; j < D; j++) {
        const double *u = cov + (H - 1 - j) * H;
        double best = 0;
        for (size_t i = 0; i < H; i++) if (fabs(u[i]) > fabs(best)) best = u[i];
        double sg = best < 0 ? -1.0 : 1.0;
        for (size_t i = 0; i < H; i++) W[i * D + j] = (float)(sg * u[i]);
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)V, (int)D, (int)H, 1.0f, E, (int)H, W, (int)D, 0.0f, P,
                (int)D);
    /* SIF weights from the Zipf probability of each token's rank in the corpus */
    for (size_t t = 0; t < V; t++) { rk[t].count = 0; rk[t].id = (uint32_t)t; }
    for (size_t i = 0; i < c->units.n; i++)
        if (c->units.p[i] < V) rk[c->units.p[i]].count++;
    qsort(rk, V, sizeof *rk, cmp_rank);
    double hv = 0;
    for (size_t r = 1; r <= V; r++) hv += 1.0 / (double)r;
    for (size_t r = 0; r < V; r++) {
        size_t t = rk[r].id;
        double p = 1.0 / ((double)(r + 1) * hv), w = 1e-4 / (1e-4 + p);
        for (size_t j = 0; j < D; j++) P[t * D + j] = skip[t] ? 0.0f : (float)(w * P[t * D + j]);
    }
    {
        ds__student_cfg cfg;
        base_cfg(c, &cfg);
        cfg.kind = DS__SK_STATIC;
        cfg.vocab = V;
        ds__st_out t[1] = { { "embeddings", DS_ST_F32, V, D, P } };
        char extra[1024];
        extra_json(c, "model2vec-pca-sif", extra, sizeof extra);
        rc = write_model(c, out_dir, &cfg, t, 1, extra);
    }
done:
    ds__free(env, E, V * H * sizeof *E);
    ds__free(env, P, V * D * sizeof *P);
    ds__free(env, seq, V * 3 * sizeof *seq);
    ds__free(env, ids, V * sizeof *ids);
    ds__free(env, lens, V * sizeof *lens);
    ds__free(env, skip, V);
    ds__free(env, cov, H * H * sizeof *cov);
    ds__free(env, mean, H * sizeof *mean);
    ds__free(env, ev, H * sizeof *ev);
    ds__free(env, rk, V * sizeof *rk);
    ds__free(env, W, H * D * sizeof *W);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* ds_train                                                                   */
/* ------------------------------------------------------------------------ */
static ds_status check_out_dir(const char *out_dir) {
    struct stat sb;
    if (stat(out_dir, &sb) != 0) return DS_OK;
    if (!S_ISDIR(sb.st_mode)) return ds__fail(DS_ERR_INVALID, "%s exists and is not a directory", out_dir);
    char p[4096];
    snprintf(p, sizeof p, "%s/%s", out_dir, DS__STUDENT_CONFIG);
    if (access(p, F_OK) == 0) return DS_OK;
    DIR *d = opendir(out_dir);
    if (d == NULL) return ds__fail(DS_ERR_IO, "%s: %s", out_dir, strerror(errno));
    struct dirent *e;
    int empty = 1;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) { empty = 0; break; }
    closedir(d);
    /* an empty directory is fine; anything else is the user's */
    if (!empty)
        return ds__fail(DS_ERR_INVALID, "%s exists and is not a densearch model directory (no %s): choose another "
                        "output", out_dir, DS__STUDENT_CONFIG);
    return DS_OK;
}

static void ctx_release(tctx *c) {
    ds_env *env = c->env;
    for (size_t i = 0; i < c->n_items; i++) {
        ds__free(env, c->title[i], c->tlen[i] + 1);
        ds__free(env, c->body[i], c->blen[i] + 1);
    }
    ds__free(env, c->title, c->cap_items * sizeof *c->title);
    ds__free(env, c->body, c->cap_items * sizeof *c->body);
    ds__free(env, c->tlen, c->cap_items * sizeof *c->tlen);
    ds__free(env, c->blen, c->cap_items * sizeof *c->blen);
    ds__free(env, c->docs, c->n_items * sizeof *c->docs);
    ds__u64vec_release(env, &c->units);
    ds__free(env, c->fh, c->F * sizeof *c->fh);
    ds__free(env, c->idf, c->F * sizeof *c->idf);
    ds__ftable_release(env, &c->table);
    ds_encoder_close(c->teacher);
    ds_tokenizer_close(c->own_tok);
    if (c->vocab_txt.env) ds__buf_release(&c->vocab_txt);
}

ds_status ds_train(ds_env *env, const char *corpus_path, const ds_corpus_opts *corpus_opts, const char *out_dir,
                   const ds_train_opts *opts) {
    if (corpus_path == NULL || out_dir == NULL || *out_dir == '\0')
        return ds__fail(DS_ERR_INVALID, "null corpus path or output directory");
    if (opts != NULL && opts->struct_size == 0) return ds__fail(DS_ERR_INVALID, "ds_train_opts.struct_size is 0");
    env = DS_ENV(env);
    tctx c;
    memset(&c, 0, sizeof c);
    c.env = env;
    c.kind = DS_OPT(opts, kind, DS_MODEL_LEXDENSE);
    c.teacher_dir = DS_OPT(opts, teacher, (const char *)NULL);
    c.dim = DS_OPT(opts, dim, (size_t)256);
    c.epochs = DS_OPT(opts, epochs, 0u);
    c.nt = DS_OPT(opts, n_threads, 0u);
    if (c.nt == 0) c.nt = ds_env_threads(env);
    if (c.nt == 0) c.nt = 1;
    c.seed = DS_OPT(opts, seed, (uint64_t)1);
    c.max_features = DS_OPT(opts, max_features, (size_t)65536);
    c.max_ngram = DS_OPT(opts, max_ngram, 0u);
    c.batch = DS_OPT(opts, batch_size, (size_t)256);
    c.max_docs = DS_OPT(opts, max_docs, (size_t)200000);
    c.first = DS_OPT(opts, first_width, (size_t)0);
    c.lr = DS_OPT(opts, lr, 3e-3f);
    c.words = DS_OPT(opts, analyzer_words, 0) != 0;
    if (!(c.lr > 0 && c.lr < 1)) return ds__fail(DS_ERR_INVALID, "lr %g: must be in (0, 1)", (double)c.lr);
    if (c.first > DS__STUDENT_MAX_WIDTH / 2)
        return ds__fail(DS_ERR_INVALID, "first_width %zu: at most %u", c.first, DS__STUDENT_MAX_WIDTH / 2);
    c.queries_path = DS_OPT(opts, queries, (const char *)NULL);
    c.cache_path = DS_OPT(opts, teacher_cache, (const char *)NULL);
    c.progress = DS_OPT(opts, progress, (ds_train_progress_fn)NULL);
    c.progress_ud = DS_OPT(opts, progress_ud, (void *)NULL);
    ds__xrng_seed(&c.rng, c.seed);
    if ((unsigned)c.kind > DS_MODEL_LSA) return ds__fail(DS_ERR_INVALID, "unknown model kind %d", (int)c.kind);
    if (c.dim == 0 || c.dim > DS__STUDENT_MAX_WIDTH)
        return ds__fail(DS_ERR_INVALID, "dim %zu: must be 1..%u", c.dim, DS__STUDENT_MAX_WIDTH);
    if (c.max_ngram > DS__STUDENT_MAX_NGRAM)
        return ds__fail(DS_ERR_INVALID, "max_ngram %u: must be 1..%u", c.max_ngram, DS__STUDENT_MAX_NGRAM);
    if (c.max_features == 0 || c.max_features > DS__STUDENT_MAX_FEAT)
        return ds__fail(DS_ERR_INVALID, "max_features %zu: must be 1..%u", c.max_features, DS__STUDENT_MAX_FEAT);
    if (c.batch < 2 || c.batch > 1024) return ds__fail(DS_ERR_INVALID, "batch_size %zu: must be 2..1024", c.batch);
    if (c.max_docs < MIN_DOCS) return ds__fail(DS_ERR_INVALID, "max_docs %zu: at least %u", c.max_docs, MIN_DOCS);
    if (c.kind == DS_MODEL_STATIC && c.teacher_dir == NULL)
        return ds__fail(DS_ERR_INVALID, "a static model is distilled from a teacher: give one (--teacher HF_DIR)");
    if (c.kind == DS_MODEL_LSA && c.teacher_dir != NULL)
        return ds__fail(DS_ERR_INVALID, "an LSA model has no teacher (drop --teacher)");
    if (c.max_ngram == 0) c.max_ngram = c.kind == DS_MODEL_LSA ? 1 : 2;
    if (c.kind == DS_MODEL_LSA) c.max_ngram = 1;
    ds_status rc = check_out_dir(out_dir);
    if (rc != DS_OK) return rc;
    /* our GEMMs are small and run between per-example work on our own
    ** threads; OpenBLAS's threads would only spin (and a fixed thread count
    ** keeps its sums in a fixed order). The encoder sets the same. */
    openblas_set_num_threads(1);
    c.t0 = ds__now();
    if (c.teacher_dir) {
        ds_encoder_opts eo;
        ds_encoder_opts_init(&eo);
        eo.max_seq_length = 256;
        /* static embeds 3-token sequences: big batches amortise each pass */
        if (c.kind == DS_MODEL_STATIC) eo.batch_size = 1024;
        if ((rc = ds_encoder_open(env, c.teacher_dir, &eo, &c.teacher)) != DS_OK) {
            rc = ds__fail_prefix(rc, "teacher %s: ", c.teacher_dir);
            goto done;
        }
        if (ds_encoder_kind_of(c.teacher) != DS_ENCODER_EMBED) {
            rc = ds__fail(DS_ERR_INVALID, "teacher %s is not a bi-encoder (BertModel): a cross-encoder or SPLADE "
                          "model gives no embeddings to distill", c.teacher_dir);
            goto done;
        }
        if (ds_encoder_tokenizer(c.teacher) == NULL || c.teacher->student != NULL) {
            rc = ds__fail(DS_ERR_INVALID, "teacher %s: distill from a transformer, not from a densearch-trained model",
                          c.teacher_dir);
            goto done;
        }
        if (c.dim > ds_encoder_dim(c.teacher)) {
            rc = ds__fail(DS_ERR_INVALID, "--dim %zu is larger than the teacher's dimension (%zu)", c.dim,
                          ds_encoder_dim(c.teacher));
            goto done;
        }
        c.feat.units = DS__UNITS_WORDPIECE;
        c.feat.tok = ds_encoder_tokenizer(c.teacher);
    } else if (c.words) {
        c.feat.units = DS__UNITS_WORDS;
        if ((rc = ds__analyzer_cfg_make(&c.feat.an, "english", 1)) != DS_OK) goto done;
    }
    c.feat.max_ngram = c.max_ngram;
    if ((rc = read_texts(&c, corpus_path, corpus_opts, c.max_docs, 0)) != DS_OK) goto done;
    if (c.teacher_dir == NULL && !c.words && c.n_items >= MIN_DOCS) {
        if ((rc = corpus_vocab(&c, &c.vocab_txt)) != DS_OK) goto done;
        if ((rc = ds__tokenizer_load_vocab(env, (const char *)c.vocab_txt.p, c.vocab_txt.len, "corpus vocab.txt",
                                           TOK_CONFIG, strlen(TOK_CONFIG), "corpus tokenizer_config.json",
                                           &c.own_tok)) != DS_OK)
            goto done;
        c.feat.units = DS__UNITS_WORDPIECE;
        c.feat.tok = c.own_tok;
    }
    c.n_docs = c.n_items;
    if (c.n_docs < MIN_DOCS) {
        rc = ds__fail(DS_ERR_INVALID, "%s: %zu document%s; training needs at least %u (one batch of in-batch "
                      "negatives)", corpus_path, c.n_docs, c.n_docs == 1 ? "" : "s", MIN_DOCS);
        goto done;
    }
    if (c.queries_path && c.kind == DS_MODEL_LEXDENSE && c.teacher) {
        ds_corpus_opts qo;
        ds_corpus_opts_init(&qo);
        qo.format = DS_CORPUS_BEIR;
        if ((rc = read_texts(&c, c.queries_path, &qo, SIZE_MAX, 1)) != DS_OK) goto done;
    }
    if ((rc = make_units(&c)) != DS_OK) goto done;
    if (c.kind == DS_MODEL_STATIC) {
        rc = train_static(&c, out_dir);
        goto done;
    }
    if ((rc = build_features(&c)) != DS_OK) goto done;
    rc = c.kind == DS_MODEL_LSA ? train_lsa(&c, out_dir) : train_lexdense(&c, out_dir);
done:
    ctx_release(&c);
    return rc;
}
