/* build.c -- the BM25 index writer (ds_lexical_builder_*, densearch.h
** [lexical]); writes docs/format.md §2.
**
** Data flow:
**   add()     copies a document into the current batch (ids are checked for
**             duplicates here, so the caller learns at once);
**   batch     analysed on n_threads threads (each with its own analyzer);
**             stored text is packed and zstd-compressed per chunk of
**             DS__LX_STORED_CHUNK documents, also in parallel; then the main
**             thread maps terms to term ids and appends (term, doc, tf)
**             triples in memory;
**   spill     when the triples exceed mem_limit they are sorted by term and
**             written as a sorted run to an unlinked temporary file in the
**             index directory, so corpora larger than RAM index in bounded
**             memory (vocabulary, doc lengths and ids stay in memory: they
**             are small next to postings);
**   finish()  k-way merges the runs term by term into POST blocks while
**             collecting the lexicon, then writes every section through the
**             container writer (private temporary file, fsync, rename; the
**             output is locked from create to finish: core/container.h).
**
** Errors are sticky (house habit 7) except the per-document rejections of
** ds_lexical_add (duplicate / bad id), which leave the builder usable.
**
** Thread: a builder is exclusive; it starts its own worker threads per batch.
*/
#include "lexical/lexical.h"
#include "core/frames.h"
#include "check/check.h"

#include <zstd.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define BATCH_DOCS  2048u          /* multiple of DS__LX_STORED_CHUNK */
#define BATCH_BYTES (16u << 20)
#define ZSTD_LEVEL  3

/* A distinct term of the document being analysed. */
typedef struct tok { uint32_t off, len, hash, tf, slot; } tok;

typedef struct worker {
    ds__analyzer *an;
    ds__buf       out;      /* analysis output of this thread's docs */
    ds__buf       scratch;  /* token bytes of the current doc */
    tok          *toks;     /* distinct terms of the current doc, first-seen order */
    size_t        n_toks, cap_toks;
    uint32_t     *slots;    /* open addressing over toks: index + 1, 0 = empty */
    size_t        n_slots;
    uint64_t      doc_len;  /* tokens of the current doc */
    ZSTD_CCtx    *zc;
    ds_status     rc;
} worker;

typedef struct chunk_out { uint8_t *p; size_t len, cap; uint32_t d0, d1; /* batch docs [d0, d1) */ } chunk_out;

struct ds_lexical_builder {
    ds_env          *env;
    char            *dir, *path;
    size_t           path_cap;
    ds__wlock       *lock;           /* on path, from create to finish/abort */
    ds__analyzer_cfg an;
    float            k1, b;
    int              store;
    unsigned         n_threads;
    size_t           mem_limit;
    ds_progress_fn   progress;
    void            *progress_ud;
    ds_status        rc;
    /* current batch: docs as [title \0 text \0], offsets per doc */
    ds__buf          batch;
    uint64_t        *b_off;       /* BATCH_DOCS+1 */
    uint32_t        *b_tlen, *b_xlen;
    size_t           n_batch;
    uint32_t        *d_thread;    /* per batch doc: worker that analysed it */
    uint64_t        *d_off;       /* and offset in its out buffer */
    worker          *w;
    chunk_out       *chunks;      /* BATCH_DOCS: at most one chunk per doc */
    /* documents */
    uint32_t         n_docs;
    uint32_t        *dlen;
    size_t           dlen_cap;
    uint64_t        *idof;
    size_t           idof_cap;
    ds__buf          ids;
    uint32_t        *id_slots;    /* open addressing: doc + 1, 0 = empty */
    size_t           id_nslots;
    uint64_t         n_tokens;
    /* vocabulary */
    ds__buf          terms;       /* term bytes */
    uint32_t        *t_off, *t_len, *t_hash;
    size_t           n_terms, t_cap;
    uint32_t        *t_slots;     /* term id + 1 */
    size_t           t_nslots;
    /* postings in memory: (term, doc, tf) triples */
    uint32_t        *post;
    size_t           n_post, post_cap;
    uint64_t         n_postings;
    /* runs and stored text */
    FILE           **runs;
    size_t           n_runs, runs_cap;
    FILE            *docz;
    uint64_t        *docx;        /* n_chunks + 1 offsets into DOCZ */
    uint32_t        *docf;        /* n_chunks + 1 first docs */
    size_t           n_chunks, docx_cap, docf_cap;
    uint64_t         docz_len;
    uint32_t         max_chunk_raw;
};

void ds_lexical_opts_init(ds_lexical_opts *o) {
    memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
    o->k1 = 0.9f;
    o->b = 0.4f;
    o->stemmer = "english";
    o->stopwords = 1;
    o->store_text = 1;
    o->n_threads = 0;
    o->mem_limit = (size_t)512 << 20;
}

/* ---- small helpers -------------------------------------------------------- */

static int grow(ds_env *env, void **p, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return 1;
    size_t nc = *cap ? *cap : 64;
    while (nc < need) {
        if (nc > SIZE_MAX / 2 / elem) return 0;
        nc *= 2;
    }
    void *np = ds__realloc(env, *p, *cap * elem, nc * elem);
    if (np == NULL) return 0;
    *p = np;
    *cap = nc;
    return 1;
}

static FILE *temp_file(ds_lexical_builder *b) {
    char tmpl[4200];
    if ((size_t)snprintf(tmpl, sizeof tmpl, "%s/.lexical.spill.XXXXXX", b->dir) >= sizeof tmpl) return NULL;
    int fd = mkstemp(tmpl);
    if (fd < 0) return NULL;
    unlink(tmpl);   /* never visible after a crash; freed when closed */
    FILE *f = fdopen(fd, "w+b");
    if (f == NULL) close(fd);
    else setvbuf(f, NULL, _IOFBF, 1 << 20);
    return f;
}

static int get_varint_file(FILE *f, uint64_t *v) {
    uint64_t r = 0;
    for (unsigned s = 0; s < 64; s += 7) {
        int c = getc_unlocked(f);
        if (c == EOF) return 0;
        r |= (uint64_t)(c & 0x7f) << s;
        if (!(c & 0x80)) { *v = r; return 1; }
    }
    return 0;
}

/* ---- create / abort ------------------------------------------------------ */

static void builder_free(ds_lexical_builder *b) {
    if (b == NULL) return;
    ds_env *env = b->env;
    if (b->w) {
        for (unsigned t = 0; t < b->n_threads; t++) {
            ds__analyzer_destroy(b->w[t].an);
            ds__buf_release(&b->w[t].out);
            ds__buf_release(&b->w[t].scratch);
            ds__free(env, b->w[t].toks, b->w[t].cap_toks * sizeof(tok));
            ds__free(env, b->w[t].slots, b->w[t].n_slots * sizeof(uint32_t));
            if (b->w[t].zc) ZSTD_freeCCtx(b->w[t].zc);
        }
        ds__free(env, b->w, b->n_threads * sizeof *b->w);
    }
    if (b->chunks) {
        for (size_t i = 0; i < BATCH_DOCS; i++) ds__free(env, b->chunks[i].p, b->chunks[i].cap);
        ds__free(env, b->chunks, BATCH_DOCS * sizeof *b->chunks);
    }
    ds__buf_release(&b->batch);
    ds__free(env, b->b_off, (BATCH_DOCS + 1) * sizeof *b->b_off);
    ds__free(env, b->b_tlen, BATCH_DOCS * sizeof *b->b_tlen);
    ds__free(env, b->b_xlen, BATCH_DOCS * sizeof *b->b_xlen);
    ds__free(env, b->d_thread, BATCH_DOCS * sizeof *b->d_thread);
    ds__free(env, b->d_off, BATCH_DOCS * sizeof *b->d_off);
    ds__free(env, b->dlen, b->dlen_cap * sizeof *b->dlen);
    ds__free(env, b->idof, b->idof_cap * sizeof *b->idof);
    ds__buf_release(&b->ids);
    ds__free(env, b->id_slots, b->id_nslots * sizeof *b->id_slots);
    ds__buf_release(&b->terms);
    ds__free(env, b->t_off, b->t_cap * sizeof *b->t_off);
    ds__free(env, b->t_len, b->t_cap * sizeof *b->t_len);
    ds__free(env, b->t_hash, b->t_cap * sizeof *b->t_hash);
    ds__free(env, b->t_slots, b->t_nslots * sizeof *b->t_slots);
    ds__free(env, b->post, b->post_cap * 3 * sizeof *b->post);
    for (size_t i = 0; i < b->n_runs; i++) fclose(b->runs[i]);
    ds__free(env, b->runs, b->runs_cap * sizeof *b->runs);
    if (b->docz) fclose(b->docz);
    ds__free(env, b->docx, b->docx_cap * sizeof *b->docx);
    ds__free(env, b->docf, b->docf_cap * sizeof *b->docf);
    ds__wlock_release(b->lock);
    ds__free(env, b->path, b->path_cap);
    if (b->dir) ds__free(env, b->dir, strlen(b->dir) + 1);
    ds__free(env, b, sizeof *b);
}

void ds_lexical_abort(ds_lexical_builder *b) { builder_free(b); }

ds_status ds_lexical_builder_create(ds_env *env, const char *index_dir, const ds_lexical_opts *opts,
                                    ds_lexical_builder **out) {
    if (out) *out = NULL;
    if (index_dir == NULL || out == NULL) return ds__fail(DS_ERR_INVALID, "ds_lexical_builder_create: NULL argument");
    env = DS_ENV(env);
    float k1 = DS_OPT(opts, k1, 0.9f), bb = DS_OPT(opts, b, 0.4f);
    if (!(k1 >= 0.0f && k1 < 1e6f)) return ds__fail(DS_ERR_INVALID, "k1 must be >= 0 (got %g)", (double)k1);
    if (!(bb >= 0.0f && bb <= 1.0f)) return ds__fail(DS_ERR_INVALID, "b must be in [0, 1] (got %g)", (double)bb);
    ds__analyzer_cfg an;
    ds_status rc = ds__analyzer_cfg_make(&an, DS_OPT(opts, stemmer, (const char *)"english"), DS_OPT(opts, stopwords, 1));
    if (rc != DS_OK) return rc;
    if (mkdir(index_dir, 0777) != 0 && errno != EEXIST)
        return ds__fail(DS_ERR_IO, "%s: cannot create directory: %s", index_dir, strerror(errno));
    struct stat st;
    if (stat(index_dir, &st) != 0 || !S_ISDIR(st.st_mode)) return ds__fail(DS_ERR_IO, "%s: not a directory", index_dir);

    ds_lexical_builder *b = ds__calloc(env, 1, sizeof *b);
    if (b == NULL) return ds__fail(DS_ERR_NOMEM, "out of memory");
    b->env = env;
    b->an = an;
    b->k1 = k1;
    b->b = bb;
    b->store = DS_OPT(opts, store_text, 1) != 0;
    b->n_threads = DS_OPT(opts, n_threads, 0u);
    if (b->n_threads == 0) b->n_threads = ds_env_threads(env);
    if (b->n_threads == 0) b->n_threads = 1;
    if (b->n_threads > 64) b->n_threads = 64;
    b->mem_limit = DS_OPT(opts, mem_limit, (size_t)512 << 20);
    if (b->mem_limit < ((size_t)1 << 16)) b->mem_limit = (size_t)1 << 16;
    b->progress = DS_OPT(opts, progress, (ds_progress_fn)NULL);
    b->progress_ud = DS_OPT(opts, progress_ud, (void *)NULL);
    ds__buf_init(&b->batch, env);
    ds__buf_init(&b->ids, env);
    ds__buf_init(&b->terms, env);
    size_t plen = strlen(index_dir) + sizeof DS_LEXICAL_FILE_NAME + 1;
    b->dir = ds__strdup(env, index_dir);
    b->path = ds__calloc(env, plen, 1);
    b->path_cap = b->path ? plen : 0;
    b->b_off = ds__calloc(env, BATCH_DOCS + 1, sizeof *b->b_off);
    b->b_tlen = ds__calloc(env, BATCH_DOCS, sizeof *b->b_tlen);
    b->b_xlen = ds__calloc(env, BATCH_DOCS, sizeof *b->b_xlen);
    b->d_thread = ds__calloc(env, BATCH_DOCS, sizeof *b->d_thread);
    b->d_off = ds__calloc(env, BATCH_DOCS, sizeof *b->d_off);
    b->chunks = ds__calloc(env, BATCH_DOCS, sizeof *b->chunks);
    b->w = ds__calloc(env, b->n_threads, sizeof *b->w);
    if (!b->dir || !b->path || !b->b_off || !b->b_tlen || !b->b_xlen || !b->d_thread || !b->d_off || !b->chunks || !b->w) {
        if (b->w == NULL) b->n_threads = 0;
        builder_free(b);
        return ds__fail(DS_ERR_NOMEM, "out of memory");
    }
    snprintf(b->path, plen, "%s/%s", index_dir, DS_LEXICAL_FILE_NAME);
    /* Lock the output now, not at finish: a second build of the same index
    ** fails before it spends the work (core/container.h). */
    if ((rc = ds__wlock_acquire(env, b->path, &b->lock)) != DS_OK) {
        builder_free(b);
        return rc;
    }
    for (unsigned t = 0; t < b->n_threads && rc == DS_OK; t++) {
        ds__buf_init(&b->w[t].out, env);
        ds__buf_init(&b->w[t].scratch, env);
        rc = ds__analyzer_create(env, &an, &b->w[t].an);
        if (rc == DS_OK && b->store && (b->w[t].zc = ZSTD_createCCtx()) == NULL) rc = ds__fail(DS_ERR_NOMEM, "out of memory (zstd)");
    }
    if (rc == DS_OK && b->store && (b->docz = temp_file(b)) == NULL)
        rc = ds__fail(DS_ERR_IO, "%s: cannot create a temporary file: %s", index_dir, strerror(errno));
    if (rc == DS_OK && !grow(env, (void **)&b->idof, &b->idof_cap, 1, sizeof *b->idof)) rc = ds__fail(DS_ERR_NOMEM, "out of memory");
    if (rc != DS_OK) {
        builder_free(b);
        return rc;
    }
    b->idof[0] = 0;
    *out = b;
    return DS_OK;
}

/* ---- duplicate ids --------------------------------------------------------- */

static const uint8_t *id_of(const ds_lexical_builder *b, uint32_t d, size_t *len) {
    *len = (size_t)(b->idof[d + 1] - b->idof[d]);
    return b->ids.p + b->idof[d];
}

/* Returns the doc that has this id, or -1; *slot receives the free slot. */
static int64_t id_lookup(const ds_lexical_builder *b, const char *id, size_t len, uint64_t h, size_t *slot) {
    size_t mask = b->id_nslots - 1, i = (size_t)h & mask;
    for (;;) {
        uint32_t v = b->id_slots[i];
        if (v == 0) { *slot = i; return -1; }
        size_t l;
        const uint8_t *p = id_of(b, v - 1, &l);
        if (l == len && memcmp(p, id, len) == 0) return (int64_t)(v - 1);
        i = (i + 1) & mask;
    }
}

static int id_table_grow(ds_lexical_builder *b) {
    size_t ns = b->id_nslots ? b->id_nslots * 2 : 1024;
    uint32_t *s = ds__calloc(b->env, ns, sizeof *s);
    if (s == NULL) return 0;
    for (uint32_t d = 0; d < b->n_docs; d++) {
        size_t l;
        const uint8_t *p = id_of(b, d, &l);
        size_t i = (size_t)ds__hash64(p, l) & (ns - 1);
        while (s[i] != 0) i = (i + 1) & (ns - 1);
        s[i] = d + 1;
    }
    ds__free(b->env, b->id_slots, b->id_nslots * sizeof *b->id_slots);
    b->id_slots = s;
    b->id_nslots = ns;
    return 1;
}

/* ---- vocabulary -------------------------------------------------------------- */

static int term_table_grow(ds_lexical_builder *b) {
    size_t ns = b->t_nslots ? b->t_nslots * 2 : 4096;
    uint32_t *s = ds__calloc(b->env, ns, sizeof *s);
    if (s == NULL) return 0;
    for (size_t t = 0; t < b->n_terms; t++) {
        size_t i = b->t_hash[t] & (ns - 1);
        while (s[i] != 0) i = (i + 1) & (ns - 1);
        s[i] = (uint32_t)t + 1;
    }
    ds__free(b->env, b->t_slots, b->t_nslots * sizeof *b->t_slots);
    b->t_slots = s;
    b->t_nslots = ns;
    return 1;
}

/* Term id of t (added if new), or UINT32_MAX on out of memory. */
static uint32_t term_id(ds_lexical_builder *b, const uint8_t *t, size_t len, uint32_t h) {
    if (2 * (b->n_terms + 1) > b->t_nslots && !term_table_grow(b)) return UINT32_MAX;
    size_t mask = b->t_nslots - 1, i = h & mask;
    for (;;) {
        uint32_t v = b->t_slots[i];
        if (v == 0) break;
        uint32_t id = v - 1;
        if (b->t_hash[id] == h && b->t_len[id] == len && memcmp(b->terms.p + b->t_off[id], t, len) == 0) return id;
        i = (i + 1) & mask;
    }
    if (b->n_terms >= UINT32_MAX - 1 || b->terms.len + len > UINT32_MAX) return UINT32_MAX;
    size_t cap = b->t_cap;
    if (b->n_terms == cap) {
        size_t c1 = cap, c2 = cap, c3 = cap;
        if (!grow(b->env, (void **)&b->t_off, &c1, cap + 1, sizeof *b->t_off) ||
            !grow(b->env, (void **)&b->t_len, &c2, cap + 1, sizeof *b->t_len) ||
            !grow(b->env, (void **)&b->t_hash, &c3, cap + 1, sizeof *b->t_hash)) {
            /* keep arrays consistent: all were allocated with the same cap */
            return UINT32_MAX;
        }
        DS_ASSERT(c1 == c2 && c2 == c3);
        b->t_cap = c1;
    }
    uint32_t id = (uint32_t)b->n_terms;
    b->t_off[id] = (uint32_t)b->terms.len;
    b->t_len[id] = (uint32_t)len;
    b->t_hash[id] = h;
    ds__buf_put(&b->terms, t, len);
    if (b->terms.rc != DS_OK) return UINT32_MAX;
    b->t_slots[i] = id + 1;
    b->n_terms++;
    return id;
}

/* ---- spilling sorted runs ------------------------------------------------- */

static const uint8_t *term_bytes(const ds_lexical_builder *b, uint32_t t, size_t *len) {
    *len = b->t_len[t];
    return b->terms.p + b->t_off[t];
}

static const ds_lexical_builder *g_sort_b;   /* qsort has no context argument */

static int cmp_term_ids(const void *x, const void *y) {
    uint32_t a = *(const uint32_t *)x, c = *(const uint32_t *)y;
    size_t la, lc;
    const uint8_t *pa = term_bytes(g_sort_b, a, &la), *pc = term_bytes(g_sort_b, c, &lc);
    int r = memcmp(pa, pc, la < lc ? la : lc);
    if (r != 0) return r;
    return (la > lc) - (la < lc);
}

/* Orders term ids bytewise. qsort needs the builder through a global, so the
** library serialises it; sorting happens once per run and at finish. */
#include <pthread.h>
static pthread_mutex_t g_sort_mu = PTHREAD_MUTEX_INITIALIZER;
static void sort_terms(const ds_lexical_builder *b, uint32_t *ids, size_t n) {
    pthread_mutex_lock(&g_sort_mu);
    g_sort_b = b;
    qsort(ids, n, sizeof *ids, cmp_term_ids);
    g_sort_b = NULL;
    pthread_mutex_unlock(&g_sort_mu);
}

/* Writes the in-memory triples as one run: for each term in bytewise order,
** varint len, bytes, varint count, then count x (varint doc gap, varint tf). */
static ds_status spill(ds_lexical_builder *b) {
    if (b->n_post == 0) return DS_OK;
    ds_env *env = b->env;
    const size_t n_post = b->n_post;
    ds_status rc = DS_OK;
    uint32_t *cnt = NULL, *order = NULL, *ids = NULL;
    size_t n_ids = 0;
    FILE *f = NULL;
    ds__buf ob;
    ds__buf_init(&ob, env);
    if ((cnt = ds__calloc(env, b->n_terms + 1, sizeof *cnt)) == NULL ||
        (order = ds__calloc(env, b->n_post, sizeof *order)) == NULL ||
        (ids = ds__calloc(env, b->n_terms + 1, sizeof *ids)) == NULL) {
        rc = ds__fail(DS_ERR_NOMEM, "out of memory sorting postings");
        goto done;
    }
    for (size_t i = 0; i < b->n_post; i++) cnt[b->post[3 * i] + 1]++;
    for (size_t t = 0; t < b->n_terms; t++) {
        if (cnt[t + 1] > 0) ids[n_ids++] = (uint32_t)t;
        cnt[t + 1] += cnt[t];
    }
    /* counting sort by term keeps doc order within a term (stable) */
    for (size_t i = 0; i < b->n_post; i++) order[cnt[b->post[3 * i]]++] = (uint32_t)i;
    /* cnt[t] is now the end of term t's range; its start is cnt[t-1] */
    sort_terms(b, ids, n_ids);
    if (!grow(env, (void **)&b->runs, &b->runs_cap, b->n_runs + 1, sizeof *b->runs)) {
        rc = ds__fail(DS_ERR_NOMEM, "out of memory");
        goto done;
    }
    if ((f = temp_file(b)) == NULL) {
        rc = ds__fail(DS_ERR_IO, "%s: cannot create a temporary file: %s", b->dir, strerror(errno));
        goto done;
    }
    for (size_t k = 0; k < n_ids; k++) {
        uint32_t t = ids[k];
        size_t beg = t == 0 ? 0 : cnt[t - 1], end = cnt[t];
        size_t len;
        const uint8_t *tb = term_bytes(b, t, &len);
        ds__buf_put_varint(&ob, len);
        ds__buf_put(&ob, tb, len);
        ds__buf_put_varint(&ob, end - beg);
        uint32_t prev = 0;
        for (size_t i = beg; i < end; i++) {
            const uint32_t *p = b->post + 3 * (size_t)order[i];
            ds__buf_put_varint(&ob, p[1] - prev);
            ds__buf_put_varint(&ob, p[2]);
            prev = p[1];
        }
        if (ob.len >= (1u << 20) || k + 1 == n_ids) {   /* write in large pieces */
            if (k + 1 == n_ids) ds__buf_put_varint(&ob, 0);   /* terms are never empty: 0 ends the run */
            if (ob.rc != DS_OK) {
                rc = ds__fail(DS_ERR_NOMEM, "out of memory writing a run");
                fclose(f);
                goto done;
            }
            fwrite(ob.p, 1, ob.len, f);
            ob.len = 0;
        }
    }
    if (fflush(f) != 0 || ferror(f) || fseek(f, 0, SEEK_SET) != 0) {
        rc = ds__fail(DS_ERR_IO, "%s: writing a temporary run failed: %s", b->dir, strerror(errno));
        fclose(f);
        goto done;
    }
    b->runs[b->n_runs++] = f;
    b->n_post = 0;
done:
    ds__buf_release(&ob);
    ds__free(env, cnt, (b->n_terms + 1) * sizeof *cnt);
    ds__free(env, order, n_post * sizeof *order);
    ds__free(env, ids, (b->n_terms + 1) * sizeof *ids);
    return rc;
}

/* ---- batches ------------------------------------------------------------------ */

static int doc_table_grow(worker *w) {
    size_t ns = w->n_slots ? 2 * w->n_slots : 1024;
    uint32_t *sl = ds__calloc(w->scratch.env, ns, sizeof *sl);
    if (sl == NULL) return 0;
    for (size_t i = 0; i < w->n_toks; i++) {
        size_t j = w->toks[i].hash & (ns - 1);
        while (sl[j] != 0) j = (j + 1) & (ns - 1);
        sl[j] = (uint32_t)i + 1;
        w->toks[i].slot = (uint32_t)j;
    }
    ds__free(w->scratch.env, w->slots, w->n_slots * sizeof *w->slots);
    w->slots = sl;
    w->n_slots = ns;
    return 1;
}

/* Counts one term of the current document: a per-thread hash table keyed by
** the term bytes, so each document yields its distinct terms and tfs without
** sorting. The hash travels with the term to the main thread's vocabulary. */
static void collect_tok(void *ud, const char *term, size_t len, size_t rb, size_t re) {
    DS_UNUSED(rb);
    DS_UNUSED(re);
    worker *w = ud;
    if (w->rc != DS_OK) return;
    w->doc_len++;
    if (2 * (w->n_toks + 1) > w->n_slots && !doc_table_grow(w)) { w->rc = DS_ERR_NOMEM; return; }
    uint32_t h = (uint32_t)ds__hash64(term, len);
    size_t mask = w->n_slots - 1, j = h & mask;
    for (;;) {
        uint32_t v = w->slots[j];
        if (v == 0) break;
        tok *t = &w->toks[v - 1];
        if (t->hash == h && t->len == len && memcmp(w->scratch.p + t->off, term, len) == 0) { t->tf++; return; }
        j = (j + 1) & mask;
    }
    if (w->n_toks == w->cap_toks &&
        !grow(w->scratch.env, (void **)&w->toks, &w->cap_toks, w->n_toks + 1, sizeof *w->toks)) {
        w->rc = DS_ERR_NOMEM;
        return;
    }
    tok *t = &w->toks[w->n_toks];
    t->off = (uint32_t)w->scratch.len;
    t->len = (uint32_t)len;
    t->hash = h;
    t->tf = 1;
    t->slot = (uint32_t)j;
    w->slots[j] = (uint32_t)++w->n_toks;
    ds__buf_put(&w->scratch, term, len);
    if (w->scratch.rc != DS_OK || w->scratch.len > UINT32_MAX) w->rc = DS_ERR_NOMEM;
}

typedef struct batch_ctx { ds_lexical_builder *b; } batch_ctx;

/* Analyses batch doc i on worker thread t: output is u32 doc_len, u32
** n_unique, then per distinct term (first-seen order) u32 hash, varint len,
** bytes, varint tf. */
static void analyse_range(void *ctx, size_t begin, size_t end, unsigned t) {
    ds_lexical_builder *b = ((batch_ctx *)ctx)->b;
    worker *w = &b->w[t];
    for (size_t i = begin; i < end && w->rc == DS_OK; i++) {
        const char *title = (const char *)b->batch.p + b->b_off[i];
        const char *text = title + b->b_tlen[i] + 1;
        w->n_toks = 0;
        w->doc_len = 0;
        w->scratch.len = 0;
        ds__analyze(w->an, title, b->b_tlen[i], collect_tok, w);
        ds__analyze(w->an, text, b->b_xlen[i], collect_tok, w);
        if (w->rc != DS_OK) break;
        b->d_thread[i] = t;
        b->d_off[i] = w->out.len;
        ds__buf_put_u32(&w->out, (uint32_t)(w->doc_len > UINT32_MAX ? UINT32_MAX : w->doc_len));
        ds__buf_put_u32(&w->out, (uint32_t)w->n_toks);
        for (size_t k = 0; k < w->n_toks; k++) {
            const tok *x = &w->toks[k];
            ds__buf_put_u32(&w->out, x->hash);
            ds__buf_put_varint(&w->out, x->len);
            ds__buf_put(&w->out, w->scratch.p + x->off, x->len);
            ds__buf_put_varint(&w->out, x->tf);
            w->slots[x->slot] = 0;   /* clear the table for the next doc */
        }
        if (w->out.rc != DS_OK) w->rc = DS_ERR_NOMEM;
    }
}

/* Packs and compresses stored-text chunk c of the batch. */
static void compress_range(void *ctx, size_t begin, size_t end, unsigned t) {
    ds_lexical_builder *b = ((batch_ctx *)ctx)->b;
    worker *w = &b->w[t];
    for (size_t c = begin; c < end && w->rc == DS_OK; c++) {
        size_t d0 = b->chunks[c].d0, d1 = b->chunks[c].d1;
        w->scratch.len = 0;
        for (size_t i = d0; i < d1; i++) {
            const uint8_t *title = b->batch.p + b->b_off[i];
            ds__buf_put_varint(&w->scratch, b->b_tlen[i]);
            ds__buf_put(&w->scratch, title, b->b_tlen[i]);
            ds__buf_put_varint(&w->scratch, b->b_xlen[i]);
            ds__buf_put(&w->scratch, title + b->b_tlen[i] + 1, b->b_xlen[i]);
        }
        if (w->scratch.rc != DS_OK || w->scratch.len > UINT32_MAX) { w->rc = DS_ERR_NOMEM; break; }
        chunk_out *co = &b->chunks[c];
        size_t bound = ZSTD_compressBound(w->scratch.len);
        if (bound > co->cap) {
            uint8_t *np = ds__realloc(b->env, co->p, co->cap, bound);
            if (np == NULL) { w->rc = DS_ERR_NOMEM; break; }
            co->p = np;
            co->cap = bound;
        }
        size_t z = ZSTD_compressCCtx(w->zc, co->p, co->cap, w->scratch.p, w->scratch.len, ZSTD_LEVEL);
        if (ZSTD_isError(z)) { w->rc = DS_ERR_INTERNAL; break; }
        co->len = z;   /* the raw size travels in the frame header */
    }
}

static ds_status flush_batch(ds_lexical_builder *b) {
    if (b->rc != DS_OK || b->n_batch == 0) return b->rc;
    batch_ctx ctx = { b };
    for (unsigned t = 0; t < b->n_threads; t++) {
        b->w[t].out.len = 0;
        b->w[t].rc = DS_OK;
    }
    ds__parallel_for(b->env, b->n_threads, b->n_batch, 16, analyse_range, &ctx);
    /* chunks: up to DS__LX_STORED_CHUNK docs or DS__LX_CHUNK_BYTES of text,
    ** never spanning batches, so memory stays bounded by the batch size */
    size_t n_chunks = 0;
    for (size_t i = 0; b->store && i < b->n_batch;) {
        size_t j = i, bytes = 0;
        while (j < b->n_batch && j - i < DS__LX_STORED_CHUNK && (j == i || bytes < DS__LX_CHUNK_BYTES)) {
            bytes += (size_t)b->b_tlen[j] + b->b_xlen[j];
            j++;
        }
        b->chunks[n_chunks].d0 = (uint32_t)i;
        b->chunks[n_chunks].d1 = (uint32_t)j;
        n_chunks++;
        i = j;
    }
    if (n_chunks) ds__parallel_for(b->env, b->n_threads, n_chunks, 1, compress_range, &ctx);
    for (unsigned t = 0; t < b->n_threads; t++)
        if (b->w[t].rc != DS_OK)
            return b->rc = ds__fail(b->w[t].rc, "%s while analysing documents",
                                    b->w[t].rc == DS_ERR_NOMEM ? "out of memory" : "internal error");
    /* stored text, in order */
    for (size_t c = 0; c < n_chunks; c++) {
        chunk_out *co = &b->chunks[c];
        unsigned long long raw = ZSTD_getFrameContentSize(co->p, co->len);
        if (raw > UINT32_MAX) return b->rc = ds__fail(DS_ERR_RANGE, "stored text chunk too large");
        if (raw > b->max_chunk_raw) b->max_chunk_raw = (uint32_t)raw;
        if (!grow(b->env, (void **)&b->docx, &b->docx_cap, b->n_chunks + 2, sizeof *b->docx) ||
            !grow(b->env, (void **)&b->docf, &b->docf_cap, b->n_chunks + 2, sizeof *b->docf))
            return b->rc = ds__fail(DS_ERR_NOMEM, "out of memory");
        if (b->n_chunks == 0) { b->docx[0] = 0; b->docf[0] = 0; }
        if (fwrite(co->p, 1, co->len, b->docz) != co->len)
            return b->rc = ds__fail(DS_ERR_IO, "%s: writing stored text failed: %s", b->dir, strerror(errno));
        b->docz_len += co->len;
        b->docx[b->n_chunks + 1] = b->docz_len;
        b->docf[b->n_chunks + 1] = b->n_docs - (uint32_t)b->n_batch + co->d1;
        b->n_chunks++;
    }
    /* postings, in doc order */
    uint32_t doc0 = b->n_docs - (uint32_t)b->n_batch;
    for (size_t i = 0; i < b->n_batch; i++) {
        const worker *w = &b->w[b->d_thread[i]];
        ds__reader r = { w->out.p + b->d_off[i], w->out.p + w->out.len };
        uint32_t dl = 0, n_uniq = 0;
        ds__take_u32(&r, &dl);
        ds__take_u32(&r, &n_uniq);
        b->dlen[doc0 + i] = dl;
        b->n_tokens += dl;
        if (!grow(b->env, (void **)&b->post, &b->post_cap, b->n_post + n_uniq, 3 * sizeof *b->post))
            return b->rc = ds__fail(DS_ERR_NOMEM, "out of memory");
        for (uint32_t k = 0; k < n_uniq; k++) {
            uint64_t len = 0, tf = 0;
            uint32_t h = 0;
            const uint8_t *tb = NULL;
            if (!ds__take_u32(&r, &h) || !ds__take_varint(&r, &len) || !ds__take(&r, (size_t)len, &tb) ||
                !ds__take_varint(&r, &tf))
                return b->rc = ds__fail(DS_ERR_INTERNAL, "analysis output truncated");
            uint32_t t = term_id(b, tb, (size_t)len, h);
            if (t == UINT32_MAX) return b->rc = ds__fail(DS_ERR_NOMEM, "out of memory (vocabulary)");
            uint32_t *p = b->post + 3 * b->n_post++;
            p[0] = t;
            p[1] = doc0 + (uint32_t)i;
            p[2] = (uint32_t)tf;
        }
        b->n_postings += n_uniq;
        /* 16 bytes per posting: the triple plus the sort's index */
        if (b->n_post * 4 * sizeof(uint32_t) > b->mem_limit) {
            ds_status rc = spill(b);
            if (rc != DS_OK) return b->rc = rc;
        }
    }
    b->n_batch = 0;
    b->batch.len = 0;
    if (b->progress && b->progress(b->n_docs, 0, b->progress_ud) != 0)
        return b->rc = ds__fail(DS_ERR_CANCELED, "indexing canceled");
    return DS_OK;
}

ds_status ds_lexical_add(ds_lexical_builder *b, const ds_doc *doc) {
    if (b == NULL || doc == NULL || doc->id == NULL) return ds__fail(DS_ERR_INVALID, "ds_lexical_add: NULL argument");
    if (b->rc != DS_OK) return b->rc;
    if (doc->id_len == 0 || doc->id_len > DS__LX_MAX_ID) return ds__fail(DS_ERR_INVALID, "id of %zu bytes (must be 1..%u)", doc->id_len, DS__LX_MAX_ID);
    const char *why = ds__id_problem(doc->id, doc->id_len);   /* the id rule: core/ids.c */
    if (why != NULL) return ds__fail(DS_ERR_INVALID, "id '%.*s' %s", (int)DS_MIN(doc->id_len, 60), doc->id, why);
    if (b->n_docs >= UINT32_MAX - 2) return b->rc = ds__fail(DS_ERR_RANGE, "too many documents (limit %u)", UINT32_MAX - 2);
    if (doc->title_len > DS__LX_MAX_DOC || doc->text_len > DS__LX_MAX_DOC - doc->title_len)
        return ds__fail(DS_ERR_INVALID, "document \"%.*s\" has %zu bytes (limit %u MiB)", (int)doc->id_len, doc->id,
                        doc->title_len + doc->text_len, DS__LX_MAX_DOC >> 20);
    if (2 * (b->n_docs + 1) > b->id_nslots && !id_table_grow(b)) return b->rc = ds__fail(DS_ERR_NOMEM, "out of memory");
    size_t slot;
    int64_t dup = id_lookup(b, doc->id, doc->id_len, ds__hash64(doc->id, doc->id_len), &slot);
    if (dup >= 0) return ds__fail(DS_ERR_INVALID, "duplicate id \"%.*s\" (first seen as document %lld; the first one is kept)",
                                  (int)doc->id_len, doc->id, (long long)dup + 1);
    if (!grow(b->env, (void **)&b->idof, &b->idof_cap, (size_t)b->n_docs + 2, sizeof *b->idof) ||
        !grow(b->env, (void **)&b->dlen, &b->dlen_cap, (size_t)b->n_docs + 1, sizeof *b->dlen))
        return b->rc = ds__fail(DS_ERR_NOMEM, "out of memory");
    ds__buf_put(&b->ids, doc->id, doc->id_len);
    size_t i = b->n_batch;
    b->b_off[i] = b->batch.len;
    b->b_tlen[i] = (uint32_t)doc->title_len;
    b->b_xlen[i] = (uint32_t)doc->text_len;
    ds__buf_put(&b->batch, doc->title ? doc->title : "", doc->title_len);
    ds__buf_put_u8(&b->batch, 0);
    ds__buf_put(&b->batch, doc->text ? doc->text : "", doc->text_len);
    ds__buf_put_u8(&b->batch, 0);
    if (b->ids.rc != DS_OK || b->batch.rc != DS_OK) return b->rc = ds__fail(DS_ERR_NOMEM, "out of memory");
    b->idof[b->n_docs + 1] = b->ids.len;
    b->id_slots[slot] = b->n_docs + 1;
    b->dlen[b->n_docs] = 0;
    b->n_docs++;
    b->n_batch++;
    if (b->n_batch == BATCH_DOCS || b->batch.len >= BATCH_BYTES) return flush_batch(b);
    return DS_OK;
}

/* ---- finish: merge runs into the index file ------------------------------- */

typedef struct run_head {
    FILE    *f;
    uint8_t  term[DS__AN_MAX_TERM + 1];
    size_t   len;
    uint64_t count;
    int      done;
} run_head;

static int run_advance(run_head *h) {
    uint64_t len;
    if (!get_varint_file(h->f, &len)) return 0;
    if (len == 0) { h->done = 1; return 1; }
    if (len > DS__AN_MAX_TERM) return 0;
    if (fread(h->term, 1, (size_t)len, h->f) != len) return 0;
    h->len = (size_t)len;
    if (!get_varint_file(h->f, &h->count)) return 0;
    return 1;
}

static int term_cmp(const uint8_t *a, size_t la, const uint8_t *c, size_t lc) {
    int r = memcmp(a, c, la < lc ? la : lc);
    return r != 0 ? r : (la > lc) - (la < lc);
}

typedef struct merge_state {
    ds_lexical_builder *b;
    ds__cwriter        *cw;
    float               avgdl;
    ds__buf             toff, tstr, tinf, skip;
    uint64_t            post_len, n_blocks;
    uint32_t            docs[DS__LX_BLOCK], tfs[DS__LX_BLOCK];
    size_t              n;
    int64_t             prev;
    uint8_t             enc[DS__LX_BLOCK_BOUND];
} merge_state;

static void emit_block(merge_state *m) {
    ds_lexical_builder *b = m->b;
    size_t len = ds__lx_block_encode(m->enc, m->docs, m->tfs, m->n, m->prev);
    uint32_t max_tf = 0, min_len = UINT32_MAX;
    float max_norm = 0.0f;
    for (size_t i = 0; i < m->n; i++) {
        uint32_t dl = b->dlen[m->docs[i]];
        if (m->tfs[i] > max_tf) max_tf = m->tfs[i];
        if (dl < min_len) min_len = dl;
        float tf = (float)m->tfs[i];
        float x = tf / (tf + ds__bm25_norm(b->k1, b->b, dl, m->avgdl));
        if (x > max_norm) max_norm = x;
    }
    ds__buf_put_u64(&m->skip, m->post_len);
    ds__buf_put_u32(&m->skip, m->docs[m->n - 1]);
    ds__buf_put_u32(&m->skip, max_tf);
    ds__buf_put_u32(&m->skip, min_len);
    ds__buf_put_f32(&m->skip, max_norm);
    ds__cw_write(m->cw, m->enc, len);
    m->post_len += len;
    m->n_blocks++;
    m->prev = m->docs[m->n - 1];
    m->n = 0;
}

static ds_status merge_runs(merge_state *m, uint32_t *n_terms_out) {
    ds_lexical_builder *b = m->b;
    ds_env *env = b->env;
    size_t nr = b->n_runs;
    run_head *h = ds__calloc(env, nr ? nr : 1, sizeof *h);
    if (h == NULL) return ds__fail(DS_ERR_NOMEM, "out of memory");
    ds_status rc = DS_OK;
    uint32_t n_terms = 0;
    for (size_t r = 0; r < nr && rc == DS_OK; r++) {
        h[r].f = b->runs[r];
        if (!run_advance(&h[r])) rc = ds__fail(DS_ERR_IO, "%s: temporary run %zu unreadable", b->dir, r);
    }
    ds__buf_put_u32(&m->toff, 0);
    while (rc == DS_OK) {
        int best = -1;
        for (size_t r = 0; r < nr; r++)
            if (!h[r].done && (best < 0 || term_cmp(h[r].term, h[r].len, h[best].term, h[best].len) < 0)) best = (int)r;
        if (best < 0) break;
        uint8_t term[DS__AN_MAX_TERM + 1];
        size_t tlen = h[best].len;
        memcpy(term, h[best].term, tlen);
        uint64_t df = 0;
        m->n = 0;
        m->prev = -1;
        uint32_t first_block = (uint32_t)m->n_blocks;
        int64_t last_doc = -1;
        /* runs hold increasing doc ranges, so taking them in run order keeps
        ** each posting list sorted */
        for (size_t r = 0; r < nr && rc == DS_OK; r++) {
            if (h[r].done || term_cmp(h[r].term, h[r].len, term, tlen) != 0) continue;
            uint64_t doc = 0;
            for (uint64_t k = 0; k < h[r].count; k++) {
                uint64_t gap, tf;
                if (!get_varint_file(h[r].f, &gap) || !get_varint_file(h[r].f, &tf)) {
                    rc = ds__fail(DS_ERR_IO, "%s: temporary run truncated", b->dir);
                    break;
                }
                doc += gap;
                if ((int64_t)doc <= last_doc || doc >= b->n_docs || tf == 0 || tf > UINT32_MAX) {
                    rc = ds__fail(DS_ERR_INTERNAL, "merge: postings out of order");
                    break;
                }
                last_doc = (int64_t)doc;
                m->docs[m->n] = (uint32_t)doc;
                m->tfs[m->n] = (uint32_t)tf;
                if (++m->n == DS__LX_BLOCK) emit_block(m);
                df++;
            }
            if (rc == DS_OK && !run_advance(&h[r])) rc = ds__fail(DS_ERR_IO, "%s: temporary run unreadable", b->dir);
        }
        if (rc != DS_OK) break;
        if (m->n > 0) emit_block(m);
        if (df > UINT32_MAX || m->tstr.len + tlen > UINT32_MAX) { rc = ds__fail(DS_ERR_RANGE, "vocabulary too large"); break; }
        ds__buf_put(&m->tstr, term, tlen);
        ds__buf_put_u32(&m->toff, (uint32_t)m->tstr.len);
        ds__buf_put_u32(&m->tinf, (uint32_t)df);
        ds__buf_put_u32(&m->tinf, first_block);
        n_terms++;
        if (m->n_blocks >= UINT32_MAX) { rc = ds__fail(DS_ERR_RANGE, "too many postings blocks"); break; }
    }
    if (rc == DS_OK && (m->toff.rc || m->tstr.rc || m->tinf.rc || m->skip.rc)) rc = ds__fail(DS_ERR_NOMEM, "out of memory (lexicon)");
    ds__free(env, h, (nr ? nr : 1) * sizeof *h);
    *n_terms_out = n_terms;
    return rc;
}

/* A required section holding n little-endian u32/u64 values. Errors are
** sticky in the container writer, so the caller checks once at commit. */
static void section_u32(ds__cwriter *cw, uint32_t kind, const uint32_t *v, size_t n) {
    ds__cw_begin(cw, kind, DS_SECTION_REQUIRED);
    for (size_t i = 0; i < n; i++) {
        uint8_t t[4];
        ds__store_u32le(t, v[i]);
        ds__cw_write(cw, t, 4);
    }
    ds__cw_end(cw);
}

static void section_u64(ds__cwriter *cw, uint32_t kind, const uint64_t *v, size_t n) {
    ds__cw_begin(cw, kind, DS_SECTION_REQUIRED);
    for (size_t i = 0; i < n; i++) {
        uint8_t t[8];
        ds__store_u64le(t, v[i]);
        ds__cw_write(cw, t, 8);
    }
    ds__cw_end(cw);
}

ds_status ds_lexical_finish(ds_lexical_builder *b, ds_lexical_stats *stats) {
    if (stats) memset(stats, 0, sizeof *stats);
    if (b == NULL) return ds__fail(DS_ERR_INVALID, "ds_lexical_finish: NULL builder");
    ds_env *env = b->env;
    ds_status rc = flush_batch(b);
    if (rc == DS_OK) rc = spill(b);
    merge_state *m = NULL;
    ds__cwriter *cw = NULL;
    uint32_t n_terms = 0;
    if (rc != DS_OK) goto done;
    if ((m = ds__calloc(env, 1, sizeof *m)) == NULL) { rc = ds__fail(DS_ERR_NOMEM, "out of memory"); goto done; }
    m->b = b;
    m->avgdl = b->n_docs ? (float)((double)b->n_tokens / (double)b->n_docs) : 1.0f;
    if (!(m->avgdl > 0.0f)) m->avgdl = 1.0f;
    ds__buf_init(&m->toff, env);
    ds__buf_init(&m->tstr, env);
    ds__buf_init(&m->tinf, env);
    ds__buf_init(&m->skip, env);
    rc = ds__cw_open_locked(env, b->path, b->lock, DS__LX_KIND, DS__LX_MAJOR, DS__LX_MINOR, DS__LX_MINOR, &cw);
    if (rc != DS_OK) goto done;
    m->cw = cw;
    /* DLEN */
    section_u32(cw, DS__SEC_DLEN, b->dlen, b->n_docs);
    /* IDOF, IDST */
    section_u64(cw, DS__SEC_IDOF, b->idof, (size_t)b->n_docs + 1);
    ds__cw_section(cw, DS__SEC_IDST, DS_SECTION_REQUIRED, b->ids.p, b->ids.len);
    /* DOCX, DOCZ */
    if (b->store && b->n_docs > 0) {
        section_u64(cw, DS__SEC_DOCX, b->docx, b->n_chunks + 1);
        section_u32(cw, DS__SEC_DOCF, b->docf, b->n_chunks + 1);
        rc = ds__cw_begin(cw, DS__SEC_DOCZ, DS_SECTION_REQUIRED);
        if (rc == DS_OK) rc = ds__copy_file_to(cw, b->docz, b->docz_len);
        if (rc == DS_OK) rc = ds__cw_end(cw);
        if (rc != DS_OK) goto done;
    }
    /* POST, streamed while the runs merge */
    rc = ds__cw_begin(cw, DS__SEC_POST, DS_SECTION_REQUIRED);
    if (rc == DS_OK) rc = merge_runs(m, &n_terms);
    if (rc == DS_OK) rc = ds__cw_end(cw);
    if (rc != DS_OK) goto done;
    ds__cw_section(cw, DS__SEC_TOFF, DS_SECTION_REQUIRED, m->toff.p, m->toff.len);
    ds__cw_section(cw, DS__SEC_TSTR, DS_SECTION_REQUIRED, m->tstr.p, m->tstr.len);
    ds__cw_section(cw, DS__SEC_TINF, DS_SECTION_REQUIRED, m->tinf.p, m->tinf.len);
    ds__cw_section(cw, DS__SEC_SKIP, DS_SECTION_REQUIRED, m->skip.p, m->skip.len);
    {
        uint8_t meta[DS__LX_META_SIZE];
        memset(meta, 0, sizeof meta);
        ds__store_u32le(meta, b->n_docs);
        ds__store_u32le(meta + 4, n_terms);
        ds__store_u64le(meta + 8, b->n_tokens);
        ds__store_u64le(meta + 16, b->n_postings);
        ds__store_f32le(meta + 24, b->k1);
        ds__store_f32le(meta + 28, b->b);
        ds__store_u32le(meta + 32, DS__LX_BLOCK);
        ds__store_u32le(meta + 36, b->store && b->n_docs > 0 ? DS__LX_STORED_CHUNK : 0);
        ds__store_u32le(meta + 40, b->an.version);
        ds__store_u32le(meta + 44, b->an.flags);
        memcpy(meta + 48, b->an.stemmer, 32);
        ds__store_u64le(meta + 80, m->n_blocks);
        ds__store_u32le(meta + 88, b->max_chunk_raw);
        ds__store_u32le(meta + 92, b->store && b->n_docs > 0 ? (uint32_t)b->n_chunks : 0);
        ds__cw_section(cw, DS__SEC_META, DS_SECTION_REQUIRED, meta, sizeof meta);
    }
    rc = ds__cw_commit(cw);
    cw = NULL;
    if (rc == DS_OK && stats) {
        stats->n_docs = b->n_docs;
        stats->n_terms = n_terms;
        stats->n_postings = b->n_postings;
        stats->n_tokens = b->n_tokens;
        stats->n_runs = b->n_runs;
        struct stat st;
        if (stat(b->path, &st) == 0) stats->file_bytes = (uint64_t)st.st_size;
    }
done:
    if (cw) ds__cw_abort(cw);
    if (m) {
        ds__buf_release(&m->toff);
        ds__buf_release(&m->tstr);
        ds__buf_release(&m->tinf);
        ds__buf_release(&m->skip);
        ds__free(env, m, sizeof *m);
    }
    builder_free(b);
    return rc;
}
