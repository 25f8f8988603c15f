/* collection.c -- building, publishing and opening collections
** (densearch.h [collection], docs/format.md §4).
**
** A build streams documents into a new segment directory: BM25 through the
** lexical builder, ids and stored text into the document store, passages
** through the encoder in batches (vectors kept in memory until commit, since
** IVF-PQ and ITQ must train on them before the first add). Commit writes
** every file of the segment, then publishes MANIFEST by rename: the one step
** that makes the new collection visible. A writer lock (flock on .lock)
** keeps two builds from publishing over each other.
*/
#include "collection/collection.h"
#include "core/container.h"
#include "model/model.h"
#include "lexical/lexical.h"
#include "vector/index_impl.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <nettle/sha2.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#define ENCODE_BATCH_PASSAGES 4096u   /* as `embed`: the encoder sorts a call by length */
#define ENCODE_BATCH_TOKENS   (1024u * 1024u)

struct ds__coll_build {
    ds_lexical_builder *lb;
    ds__docstore_writer dw;
    char               *seg_dir;
    const ds_tokenizer *tok;
    int32_t             cls, sep;
    size_t              max_seq;
    ds_index_opts       vopts;
    int                 precomputed;       /* dim given, no model        */
    float              *vecs;              /* n_passages x dim           */
    size_t              n_vecs, cap_vecs;  /* rows                       */
    int32_t            *tokens;            /* pending passages' ids      */
    size_t              n_tokens, cap_tokens;
    size_t             *plen;              /* pending passage lengths    */
    size_t              n_pending, cap_pending;
    int32_t            *scratch;           /* one document's token ids   */
    size_t              cap_scratch;
    uint64_t            n_docs, n_passages, n_skipped;
    double              t0, t_encode, t_lexical, t_vectors;
    char                seg_name[32];
    ds_index           *vx;                /* written by finish              */
    ds_progress_fn      progress;
    void               *progress_ud;
    uint64_t            docs_encoded;      /* documents whose passages are all encoded */
    uint64_t            docs_pending;      /* documents queued since the last call      */
    ds_status           rc;                /* sticky                     */
};

/* The encoder reports sequences done within one call; the user counts
** documents, so passages are turned into the share of the queued documents. */
static int encode_progress(uint64_t done, uint64_t total, void *ud) {
    ds__coll_build *b = ((ds_collection *)ud)->b;
    if (b == NULL || b->progress == NULL) return 0;
    uint64_t docs = b->docs_encoded + (total ? done * b->docs_pending / total : 0);
    return b->progress(docs, 0, b->progress_ud);
}

/* ---- small helpers ------------------------------------------------------------ */

static char *path_join(ds_env *env, const char *a, const char *b) {
    size_t n = strlen(a) + strlen(b) + 2;
    char *p = ds__alloc(env, n, 1);
    if (p) snprintf(p, n, "%s/%s", a, b);
    return p;
}
static void str_free(ds_env *env, char *s) {
    if (s) ds__free(env, s, strlen(s) + 1);
}

static int is_dir(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}
static int is_file(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* Removes a segment directory written by densearch (its files, not deeper). */
static void remove_segment(const char *dir) {
    DIR *d = opendir(dir);
    if (d == NULL) return;
    struct dirent *e;
    char p[PATH_MAX];
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        if ((size_t)snprintf(p, sizeof p, "%s/%s", dir, e->d_name) < sizeof p) unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

/* Copies at most cap - 1 bytes and terminates (a longer name is cut, not refused). */
static void scopy(char *dst, size_t cap, const char *src) {
    size_t n = strlen(src);
    if (n >= cap) n = cap - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static void hex(char *out, const uint8_t *p, size_t n) {
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = '\0';
}

static const char *index_type_name(ds_index_type t);

/* ---- encoder identity --------------------------------------------------------- */

static ds_status hash_file(const char *path, char sha[65], char xx[33], uint64_t *bytes, int want_sha) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) return ds__fail(DS_ERR_IO, "%s: %s", path, strerror(errno));
    struct sha256_ctx sc;
    sha256_init(&sc);
    XXH3_state_t *xs = XXH3_createState();
    uint8_t *buf = malloc(1 << 20);
    ds_status rc = DS_OK;
    if (xs == NULL || buf == NULL) rc = ds__fail(DS_ERR_NOMEM, "out of memory");
    else XXH3_128bits_reset(xs);
    *bytes = 0;
    size_t n;
    while (rc == DS_OK && (n = fread(buf, 1, 1 << 20, f)) > 0) {
        if (want_sha) sha256_update(&sc, n, buf);
        XXH3_128bits_update(xs, buf, n);
        *bytes += n;
    }
    if (rc == DS_OK && ferror(f)) rc = ds__fail(DS_ERR_IO, "%s: read error", path);
    if (rc == DS_OK) {
        uint8_t d[SHA256_DIGEST_SIZE];
        if (want_sha) {
            sha256_digest(&sc, sizeof d, d);
            hex(sha, d, sizeof d);
        } else {
            sha[0] = '\0';
        }
        XXH128_hash_t h = XXH3_128bits_digest(xs);
        XXH128_canonical_t c;
        XXH128_canonicalFromHash(&c, h);
        hex(xx, c.digest, sizeof c.digest);
    }
    free(buf);
    if (xs) XXH3_freeState(xs);
    fclose(f);
    return rc;
}

/* The weights file: model.safetensors, else the first *.safetensors in byte order. */
static int weights_file(const char *dir, char *out, size_t cap) {
    if ((size_t)snprintf(out, cap, "%s/model.safetensors", dir) < cap && is_file(out)) return 1;
    DIR *d = opendir(dir);
    if (d == NULL) return 0;
    struct dirent *e;
    char best[256] = "";
    while ((e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name);
        if (l > 12 && l < sizeof best && strcmp(e->d_name + l - 12, ".safetensors") == 0 &&
            (best[0] == '\0' || strcmp(e->d_name, best) < 0))
            memcpy(best, e->d_name, l + 1);
    }
    closedir(d);
    return best[0] != '\0' && (size_t)snprintf(out, cap, "%s/%s", dir, best) < cap;
}

static ds_status identity_of(const ds_encoder *enc, const char *model_dir, ds__encoder_identity *id, int want_sha) {
    memset(id, 0, sizeof *id);
    char abs[PATH_MAX];
    if (realpath(model_dir, abs) == NULL) return ds__fail(DS_ERR_IO, "%s: %s", model_dir, strerror(errno));
    scopy(id->path, sizeof id->path, abs);
    const char *base = strrchr(abs, '/');
    scopy(id->name, sizeof id->name, base && base[1] ? base + 1 : abs);
    char p[PATH_MAX + 32];
    /* config.json when the model has one (Hugging Face), else nothing to hash */
    snprintf(p, sizeof p, "%s/config.json", abs);
    FILE *f = fopen(p, "rb");
    if (f != NULL) {
        XXH3_state_t *xs = XXH3_createState();
        uint8_t buf[1 << 14];
        size_t n;
        if (xs == NULL) { fclose(f); return ds__fail(DS_ERR_NOMEM, "out of memory"); }
        XXH3_64bits_reset(xs);
        while ((n = fread(buf, 1, sizeof buf, f)) > 0) XXH3_64bits_update(xs, buf, n);
        snprintf(id->config_xxh3, sizeof id->config_xxh3, "%016llx", (unsigned long long)XXH3_64bits_digest(xs));
        XXH3_freeState(xs);
        fclose(f);
    }
    if (weights_file(abs, p, sizeof p)) {
        ds_status rc = hash_file(p, id->weights_sha256, id->weights_xxh3, &id->weights_bytes, want_sha);
        if (rc != DS_OK) return rc;
    }
    static const char *kinds[] = { "embed", "cross", "splade" };
    ds_encoder_kind k = ds_encoder_kind_of(enc);
    snprintf(id->kind, sizeof id->kind, "%s", (unsigned)k < 3 ? kinds[k] : "other");
    static const char *pools[] = { "auto", "mean", "cls", "max", "mean_sqrt_len" };
    snprintf(id->pooling, sizeof id->pooling, "%s", (unsigned)enc->pooling < 5 ? pools[enc->pooling] : "other");
    id->normalize = enc->normalize;
    id->max_seq_length = ds_encoder_max_seq_length(enc);
    id->dim = ds_encoder_dim(enc);
    return DS_OK;
}

/* ---- options ------------------------------------------------------------------- */

void ds_collection_opts_init(ds_collection_opts *o) {
    memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
}

void ds_collection_open_opts_init(ds_collection_open_opts *o) {
    memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
}

/* ---- building ------------------------------------------------------------------ */

void ds__coll_build_free(ds_env *env, ds__coll_build *b, int remove_dir) {
    if (b == NULL) return;
    ds_lexical_abort(b->lb);
    ds__docstore_writer_release(&b->dw);
    ds_index_close(b->vx);   /* saved by finish; the segment reopens it */
    free(b->vecs);
    free(b->tokens);
    free(b->plen);
    free(b->scratch);
    if (b->seg_dir) {
        if (remove_dir) remove_segment(b->seg_dir);   /* never published: nothing refers to it */
        str_free(env, b->seg_dir);
    }
    ds__free(env, b, sizeof *b);
}

uint64_t ds__coll_build_docs(const ds__coll_build *b) {
    return b ? b->n_docs : 0;
}

char *ds__path_join(ds_env *env, const char *a, const char *b) {
    return path_join(env, a, b);
}
void ds__str_free(ds_env *env, char *s) {
    str_free(env, s);
}

/* Starts writing a segment into seg_dir (which exists and is empty). */
ds_status ds__coll_build_begin(ds_collection *c, const char *seg_dir, const ds_lexical_opts *lo, int store_text,
                               ds__coll_build **out) {
    *out = NULL;
    ds_env *env = c->env;
    ds__coll_build *b = ds__calloc(env, 1, sizeof *b);
    if (b == NULL) return ds__fail(DS_ERR_NOMEM, "out of memory");
    b->t0 = ds__now();
    b->precomputed = c->enc == NULL && c->dim > 0;
    ds_status rc = DS_OK;
    if ((b->seg_dir = ds__strdup(env, seg_dir)) == NULL) rc = ds__fail(DS_ERR_NOMEM, "out of memory");
    if (rc == DS_OK && c->enc != NULL) {
        if ((b->tok = ds_encoder_tokenizer(c->enc)) == NULL) rc = ds__fail(DS_ERR_INVALID, "the model has no tokenizer");
        else {
            b->cls = ds_tokenizer_special(b->tok, DS_TOKEN_CLS);
            b->sep = ds_tokenizer_special(b->tok, DS_TOKEN_SEP);
            b->max_seq = ds_encoder_max_seq_length(c->enc);
        }
    }
    ds_lexical_opts l = *lo;
    l.store_text = 0;          /* the document store keeps the text */
    l.progress = NULL;
    if (rc == DS_OK) rc = ds_lexical_builder_create(env, b->seg_dir, &l, &b->lb);
    if (rc == DS_OK) rc = ds__docstore_writer_init(&b->dw, env, b->seg_dir, store_text);
    if (rc != DS_OK) {
        ds__coll_build_free(env, b, 0);
        return rc;
    }
    *out = b;
    return DS_OK;
}

/* A build holds the writer lock of the collection's MANIFEST from create to
** commit (the shared lock of every densearch output, core/container.h), so a
** second build of the same directory fails before doing any work, and the
** MANIFEST is then written under the lock already held. */
static ds_status take_lock(ds_collection *c) {
    char *p = path_join(c->env, c->dir, "MANIFEST");
    if (p == NULL) return ds__fail(DS_ERR_NOMEM, "out of memory");
    ds_status rc = ds__wlock_acquire(c->env, p, &c->lock);
    if (rc != DS_OK) ds__fail_prefix(rc, "%s: another process is building this collection: ", c->dir);
    str_free(c->env, p);
    return rc;
}

/* Reads the published MANIFEST's segment number, 0 if none. */
static unsigned next_segment_number(const char *dir) {
    unsigned best = 0;
    DIR *d = opendir(dir);
    if (d == NULL) return 1;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        unsigned n;
        if (sscanf(e->d_name, "seg-%u", &n) == 1 && n > best && n < 999999) best = n;
    }
    closedir(d);
    return best + 1;
}

/* Makes a new empty segment directory with the next free number. */
static ds_status new_segment_dir(ds_collection *c, char name[32], char **path) {
    *path = NULL;
    unsigned first = next_segment_number(c->dir);
    for (;;) {
        unsigned n = __atomic_fetch_add(&c->next_seg, 1, __ATOMIC_RELAXED);
        if (n < first) continue;
        snprintf(name, 32, "seg-%06u", n);
        char *p = path_join(c->env, c->dir, name);
        if (p == NULL) return ds__fail(DS_ERR_NOMEM, "out of memory");
        if (mkdir(p, 0755) == 0) {
            *path = p;
            return DS_OK;
        }
        int e = errno;
        str_free(c->env, p);
        if (e != EEXIST || n > 999990) return ds__fail(DS_ERR_IO, "%s/%s: %s", c->dir, name, strerror(e));
    }
}

ds_status ds__coll_new_segment_dir(ds_collection *c, char name[32], char **path) {
    return new_segment_dir(c, name, path);
}

ds_status ds_collection_create(ds_env *env, const char *dir, const ds_collection_opts *opts, ds_collection **out) {
    if (out) *out = NULL;
    if (dir == NULL || out == NULL) return ds__fail(DS_ERR_INVALID, "ds_collection_create: NULL argument");
    env = DS_ENV(env);
    const char *model_dir = DS_OPT(opts, model_dir, NULL);
    size_t dim = DS_OPT(opts, dim, 0);
    size_t chunk = DS_OPT(opts, chunk_tokens, 0), overlap = DS_OPT(opts, chunk_overlap, 0);
    if (model_dir != NULL && dim != 0)
        return ds__fail(DS_ERR_INVALID, "give either a model or the dimension of precomputed embeddings, not both");
    if (chunk > 0 && model_dir == NULL)
        return ds__fail(DS_ERR_INVALID, "passages (chunk_tokens) need a model to tokenize and encode them");
    if (chunk == 0 && overlap > 0) return ds__fail(DS_ERR_INVALID, "chunk_overlap needs chunk_tokens");
    if (chunk > 0 && overlap >= chunk)
        return ds__fail(DS_ERR_INVALID, "chunk_overlap (%zu) must be smaller than chunk_tokens (%zu)", overlap, chunk);
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) return ds__fail(DS_ERR_IO, "%s: %s", dir, strerror(errno));
    if (!is_dir(dir)) return ds__fail(DS_ERR_IO, "%s: not a directory", dir);

    ds_collection *c = ds__calloc(env, 1, sizeof *c);
    if (c == NULL) return ds__fail(DS_ERR_NOMEM, "out of memory");
    c->env = env;
    c->building = 1;
    c->chunk_tokens = chunk;
    c->chunk_overlap = overlap;
    ds_status rc = DS_OK;
    if ((c->dir = ds__strdup(env, dir)) == NULL) rc = ds__fail(DS_ERR_NOMEM, "out of memory");
    if (rc == DS_OK) rc = take_lock(c);

    /* encoder first: a bad model should fail before anything is written */
    if (rc == DS_OK && model_dir != NULL) {
        ds_encoder_opts eo;
        const ds_encoder_opts *ueo = DS_OPT(opts, encoder, NULL);
        ds_encoder_opts_init(&eo);
        if (ueo) memcpy(&eo, ueo, DS_MIN(ueo->struct_size, sizeof eo));
        eo.struct_size = sizeof eo;
        eo.progress = encode_progress;
        eo.progress_ud = c;
        rc = ds_encoder_open(env, model_dir, &eo, &c->enc);
        if (rc == DS_OK && ds_encoder_kind_of(c->enc) != DS_ENCODER_EMBED)
            rc = ds__fail(DS_ERR_INVALID, "%s: a collection needs an embedding model; this one is a %s", model_dir,
                          ds_encoder_kind_of(c->enc) == DS_ENCODER_CROSS ? "cross-encoder (use it with --rerank)"
                                                                         : "SPLADE sparse encoder");
        const ds_tokenizer *tok = rc == DS_OK ? ds_encoder_tokenizer(c->enc) : NULL;
        if (rc == DS_OK && tok == NULL) rc = ds__fail(DS_ERR_INVALID, "%s: the model has no tokenizer", model_dir);
        if (rc == DS_OK) {
            size_t max_seq = ds_encoder_max_seq_length(c->enc);
            dim = ds_encoder_dim(c->enc);
            if (chunk > 0 && (ds_tokenizer_special(tok, DS_TOKEN_CLS) < 0 || ds_tokenizer_special(tok, DS_TOKEN_SEP) < 0))
                rc = ds__fail(DS_ERR_UNSUPPORTED, "%s: passages need a tokenizer with [CLS] and [SEP]", model_dir);
            else if (chunk > 0 && chunk + 2 > max_seq)
                rc = ds__fail(DS_ERR_INVALID, "chunk_tokens %zu is beyond the model's %zu tokens (at most %zu plus [CLS] and [SEP])",
                              chunk, max_seq, max_seq - 2);
        }
        if (rc == DS_OK) {
            rc = identity_of(c->enc, model_dir, &c->ident, 1);
            c->has_identity = rc == DS_OK;
        }
    }
    c->dim = dim;
    c->precomputed = model_dir == NULL && dim > 0;
    ds_index_opts vopts;
    ds_index_opts_init(&vopts);
    if (dim > 0) {
        const ds_index_opts *vo = DS_OPT(opts, vectors, NULL);
        if (vo) {
            memcpy(&vopts, vo, DS_MIN(vo->struct_size, sizeof vopts));
            vopts.struct_size = sizeof vopts;
        } else {
            vopts.type = DS_INDEX_HNSW;
            vopts.metric = DS_METRIC_COSINE;
        }
        c->metric = (int)vopts.metric;
    }

    char *seg_dir = NULL, name[32];
    if (rc == DS_OK) rc = new_segment_dir(c, name, &seg_dir);
    if (rc == DS_OK && (c->vec_type = ds__strdup(env, dim > 0 ? index_type_name(vopts.type) : "none")) == NULL)
        rc = ds__fail(DS_ERR_NOMEM, "out of memory");
    ds_lexical_opts lo;
    const ds_lexical_opts *ul = DS_OPT(opts, lexical, NULL);
    ds_lexical_opts_init(&lo);
    if (ul) memcpy(&lo, ul, DS_MIN(ul->struct_size, sizeof lo));
    lo.struct_size = sizeof lo;
    if (rc == DS_OK) rc = ds__coll_build_begin(c, seg_dir, &lo, lo.store_text, &c->b);
    if (rc == DS_OK) {
        c->b->vopts = vopts;
        c->b->progress = DS_OPT(opts, progress, NULL);
        c->b->progress_ud = DS_OPT(opts, progress_ud, NULL);
        snprintf(c->b->seg_name, sizeof c->b->seg_name, "%s", name);
    } else if (seg_dir != NULL) {
        remove_segment(seg_dir);
    }
    str_free(env, seg_dir);
    if (rc != DS_OK) {
        ds_collection_close(c);
        return rc;
    }
    *out = c;
    return DS_OK;
}

static int grow(void **p, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return 1;
    size_t nc = *cap ? *cap : 256;
    while (nc < need) nc *= 2;
    void *q = realloc(*p, nc * elem);
    if (q == NULL) return 0;
    *p = q;
    *cap = nc;
    return 1;
}

/* Encodes the pending passages into the next rows of vecs. */
static ds_status flush_passages(ds_collection *c, ds__coll_build *b) {
    if (b->n_pending == 0) return DS_OK;
    size_t n = b->n_pending;
    const int32_t **ids = malloc(n * sizeof *ids);
    if (ids == NULL || !grow((void **)&b->vecs, &b->cap_vecs, (b->n_vecs + n) * c->dim, sizeof(float))) {
        free(ids);
        return ds__fail(DS_ERR_NOMEM, "out of memory for %zu embeddings", b->n_vecs + n);
    }
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        ids[i] = b->tokens + at;
        at += b->plen[i];
    }
    double t = ds__now();
    ds_status rc = ds_encoder_encode_ids(c->enc, ids, b->plen, n, b->vecs + b->n_vecs * c->dim);
    b->t_encode += ds__now() - t;
    free(ids);
    if (rc != DS_OK) return rc;
    b->n_vecs += n;
    b->n_pending = 0;
    b->n_tokens = 0;
    b->docs_encoded += b->docs_pending;
    b->docs_pending = 0;
    return DS_OK;
}

static ds_status push_passage(ds_collection *c, ds__coll_build *b, const int32_t *body, size_t n) {
    int wrap = c->chunk_tokens > 0;    /* windows get their own [CLS] .. [SEP] */
    size_t len = n + (wrap ? 2 : 0);
    if (!grow((void **)&b->tokens, &b->cap_tokens, b->n_tokens + len, sizeof(int32_t)) ||
        !grow((void **)&b->plen, &b->cap_pending, b->n_pending + 1, sizeof(size_t)))
        return ds__fail(DS_ERR_NOMEM, "out of memory");
    int32_t *dst = b->tokens + b->n_tokens;
    if (wrap) *dst++ = b->cls;
    memcpy(dst, body, n * sizeof *body);
    if (wrap) dst[n] = b->sep;
    b->n_tokens += len;
    b->plen[b->n_pending++] = len;
    if (b->n_pending >= ENCODE_BATCH_PASSAGES || b->n_tokens >= ENCODE_BATCH_TOKENS) return flush_passages(c, b);
    return DS_OK;
}

/* The text a document's passages are cut from: (title + " " + text) without
** surrounding white space, as `densearch embed` encodes a BEIR line. */
static char *passage_text(const ds_doc *doc, size_t *len) {
    size_t n = doc->title_len + 1 + doc->text_len;
    char *s = malloc(n + 1);
    if (s == NULL) return NULL;
    memcpy(s, doc->title, doc->title_len);
    s[doc->title_len] = ' ';
    memcpy(s + doc->title_len + 1, doc->text, doc->text_len);
    size_t a = 0, e = n;
    while (a < e && (s[a] == ' ' || s[a] == '\t' || s[a] == '\n' || s[a] == '\r')) a++;
    while (e > a && (s[e - 1] == ' ' || s[e - 1] == '\t' || s[e - 1] == '\n' || s[e - 1] == '\r')) e--;
    memmove(s, s + a, e - a);
    s[e - a] = '\0';
    *len = e - a;
    return s;
}

/* Tokenizes the document and queues its passages; returns their count. */
static ds_status queue_document(ds_collection *c, ds__coll_build *b, const ds_doc *doc, uint32_t *n_passages) {
    size_t tl;
    char *t = passage_text(doc, &tl);
    if (t == NULL) return ds__fail(DS_ERR_NOMEM, "out of memory");
    size_t max_tokens = c->chunk_tokens > 0 ? 0 : b->max_seq;
    size_t n = 0;
    ds_status rc;
    for (;;) {
        rc = ds_tokenizer_encode(b->tok, t, tl, max_tokens, b->scratch, b->cap_scratch, &n);
        if (rc != DS_ERR_RANGE) break;
        ds__clear_error();
        if (!grow((void **)&b->scratch, &b->cap_scratch, n, sizeof(int32_t))) { rc = ds__fail(DS_ERR_NOMEM, "out of memory"); break; }
    }
    free(t);
    if (rc != DS_OK) return rc;
    if (c->chunk_tokens == 0) {
        *n_passages = 1;
        return push_passage(c, b, b->scratch, n);
    }
    /* windows over the tokens between [CLS] and [SEP] */
    size_t nspec = ds_tokenizer_num_special(b->tok, 0);
    const int32_t *body = b->scratch + (nspec > 0 ? 1 : 0);
    size_t nb = n >= nspec ? n - nspec : 0, step = c->chunk_tokens - c->chunk_overlap;
    uint32_t np = 0;
    for (size_t at = 0;; at += step) {
        size_t end = DS_MIN(nb, at + c->chunk_tokens);
        if ((rc = push_passage(c, b, body + at, end - at)) != DS_OK) return rc;
        np++;
        if (end >= nb) break;
    }
    *n_passages = np;
    return DS_OK;
}

ds_status ds_collection_add(ds_collection *c, const ds_doc *doc, const float *embedding) {
    if (c == NULL || doc == NULL || doc->id == NULL) return ds__fail(DS_ERR_INVALID, "ds_collection_add: NULL argument");
    if (!c->building)
        return c->live ? ds_collection_upsert(c, doc, 1, embedding, NULL, NULL)
                       : ds__fail(DS_ERR_READONLY, "%s: the collection is committed; open it writable to add documents", c->dir);
    return ds__coll_build_add(c, c->b, doc, embedding);
}

ds_status ds__coll_build_add_vectors(ds_collection *c, ds__coll_build *b, const ds_doc *doc, const ds_index *vx,
                                     uint64_t first, uint32_t n_passages) {
    if (b->rc != DS_OK) return b->rc;
    if (c->dim > 0 && c->enc != NULL && (vx == NULL || (n_passages > 0 && ds__index_vector(vx, first) == NULL)))
        return ds__coll_build_add(c, b, doc, NULL);   /* vectors not kept (IVF-PQ, binary): encode again */
    if (c->dim > 0 && (vx == NULL || (n_passages > 0 && ds__index_vector(vx, first) == NULL)))
        return b->rc = ds__fail(DS_ERR_UNSUPPORTED, "merging segments needs their vectors, which a %s index does not keep; "
                                "the collection holds precomputed embeddings, so they cannot be computed again",
                                c->vec_type ? c->vec_type : "this");
    ds_status rc = ds_lexical_add(b->lb, doc);
    if (rc != DS_OK) return b->rc = rc;
    if (c->dim > 0) {
        if (!grow((void **)&b->vecs, &b->cap_vecs, (b->n_vecs + n_passages) * c->dim, sizeof(float)))
            return b->rc = ds__fail(DS_ERR_NOMEM, "out of memory");
        for (uint32_t i = 0; i < n_passages; i++)
            memcpy(b->vecs + (b->n_vecs + i) * c->dim, ds__index_vector(vx, first + i), c->dim * sizeof(float));
        b->n_vecs += n_passages;
    }
    rc = ds__docstore_add(&b->dw, doc->id, doc->id_len, doc->title, doc->title_len, doc->text, doc->text_len,
                          c->dim > 0 ? n_passages : 1);
    if (rc != DS_OK) return b->rc = rc;
    b->n_docs++;
    b->n_passages += c->dim > 0 ? n_passages : 1;
    return DS_OK;
}

ds_status ds__coll_build_add(ds_collection *c, ds__coll_build *b, const ds_doc *doc, const float *embedding) {
    if (b->rc != DS_OK) return b->rc;
    if (b->precomputed && embedding == NULL)
        return ds__fail(DS_ERR_INVALID, "document '%.*s': the collection takes precomputed embeddings, none given",
                        (int)DS_MIN(doc->id_len, 200), doc->id);
    if (!b->precomputed && embedding != NULL)
        return ds__fail(DS_ERR_INVALID, "an embedding was given, but the collection was not created with dim");
    if (embedding)
        for (size_t i = 0; i < c->dim; i++)
            if (!isfinite(embedding[i]))
                return ds__fail(DS_ERR_INVALID, "document '%.*s': embedding component %zu is not finite",
                                (int)DS_MIN(doc->id_len, 200), doc->id, i);
    /* BM25 first: it refuses duplicate and bad ids without side effects */
    ds_status rc = ds_lexical_add(b->lb, doc);
    if (rc == DS_ERR_INVALID) {
        b->n_skipped++;
        return rc;
    }
    if (rc != DS_OK) return b->rc = rc;
    uint32_t np = 1;
    if (c->enc) rc = queue_document(c, b, doc, &np);
    else if (embedding) {
        if (!grow((void **)&b->vecs, &b->cap_vecs, (b->n_vecs + 1) * c->dim, sizeof(float))) rc = ds__fail(DS_ERR_NOMEM, "out of memory");
        else memcpy(b->vecs + b->n_vecs++ * c->dim, embedding, c->dim * sizeof(float));
    }
    if (rc == DS_OK)
        rc = ds__docstore_add(&b->dw, doc->id, doc->id_len, doc->title, doc->title_len, doc->text, doc->text_len, np);
    if (rc != DS_OK) return b->rc = rc;
    b->n_docs++;
    b->docs_pending++;
    b->n_passages += np;
    if (!c->enc && b->progress && (b->n_docs & 1023) == 0 && b->progress(b->n_docs, 0, b->progress_ud))
        return b->rc = ds__fail(DS_ERR_CANCELED, "canceled");
    return DS_OK;
}

/* ---- the MANIFEST ---------------------------------------------------------------- */

static const char *index_type_name(ds_index_type t) {
    switch (t) {
    case DS_INDEX_FLAT: return "flat";
    case DS_INDEX_HNSW: return "hnsw";
    case DS_INDEX_IVFPQ: return "ivfpq";
    case DS_INDEX_BINARY: return "binary";
    }
    return "unknown";
}
static const char *metric_name(ds_metric m) {
    return m == DS_METRIC_IP ? "ip" : m == DS_METRIC_L2 ? "l2" : "cosine";
}

static cJSON *identity_json(const ds__encoder_identity *id) {
    cJSON *e = cJSON_CreateObject();
    if (e == NULL) return NULL;
    cJSON_AddStringToObject(e, "name", id->name);
    cJSON_AddStringToObject(e, "path", id->path);
    cJSON_AddStringToObject(e, "config_xxh3", id->config_xxh3);
    cJSON_AddStringToObject(e, "weights_sha256", id->weights_sha256);
    cJSON_AddStringToObject(e, "weights_xxh3_128", id->weights_xxh3);
    cJSON_AddNumberToObject(e, "weights_bytes", (double)id->weights_bytes);
    cJSON_AddStringToObject(e, "kind", id->kind);
    cJSON_AddStringToObject(e, "pooling", id->pooling);
    cJSON_AddBoolToObject(e, "normalize", id->normalize != 0);
    cJSON_AddNumberToObject(e, "max_seq_length", (double)id->max_seq_length);
    cJSON_AddNumberToObject(e, "dim", (double)id->dim);
    return e;
}

static int type_from_name(const char *s, ds_index_type *t) {
    static const ds_index_type all[] = { DS_INDEX_FLAT, DS_INDEX_HNSW, DS_INDEX_IVFPQ, DS_INDEX_BINARY };
    for (size_t i = 0; i < 4; i++)
        if (strcmp(s, index_type_name(all[i])) == 0) { *t = all[i]; return 1; }
    return 0;
}

/* Segments of a live collection start small: below this many passages they
** are searched exactly (flat), so a write batch costs no graph or codebook
** build; merged segments get the collection's index type. */
#define LIVE_FLAT_PASSAGES 4096u

void ds__coll_vector_opts(const ds_collection *c, uint64_t n, ds_index_opts *vo) {
    ds_index_opts_init(vo);
    vo->metric = (ds_metric)c->metric;
    ds_index_type t = DS_INDEX_HNSW;
    if (c->vec_type) type_from_name(c->vec_type, &t);
    vo->type = n < LIVE_FLAT_PASSAGES ? DS_INDEX_FLAT : t;
}

void ds__coll_lexical_opts(const ds_collection *c, ds_lexical_opts *lo) {
    ds_lexical_opts_init(lo);
    lo->k1 = c->lx->meta.k1;
    lo->b = c->lx->meta.b;
    lo->stemmer = c->lx->meta.an.stemmer;
    lo->stopwords = (c->lx->meta.an.flags & DS__AN_STOPWORDS) != 0;
    lo->n_threads = 1;
}

ds_status ds__coll_build_finish(ds_collection *c, ds__coll_build *b, const ds_index_opts *vo) {
    if (b->rc != DS_OK) return b->rc;
    ds_status rc = DS_OK;
    if (c->enc) rc = flush_passages(c, b);
    double t = ds__now();
    if (rc == DS_OK) {
        rc = ds_lexical_finish(b->lb, NULL);
        b->lb = NULL;   /* freed by finish, also on failure */
    }
    b->t_lexical = ds__now() - t;
    if (rc == DS_OK) rc = ds__docstore_finish(&b->dw);
    t = ds__now();
    if (rc == DS_OK && c->dim > 0) {
        if (b->n_vecs != b->n_passages)
            rc = ds__fail(DS_ERR_INTERNAL, "%llu embeddings for %llu passages", (unsigned long long)b->n_vecs,
                          (unsigned long long)b->n_passages);
        if (rc == DS_OK) rc = ds_index_create(c->env, c->dim, vo, &b->vx);
        if (rc == DS_OK && b->n_vecs > 0) rc = ds_index_train(b->vx, b->vecs, b->n_vecs);
        if (rc == DS_OK && b->n_vecs > 0) rc = ds_index_add(b->vx, b->vecs, b->n_vecs, NULL);
        char *vp = rc == DS_OK ? path_join(c->env, b->seg_dir, "vectors.dsx") : NULL;
        if (rc == DS_OK && vp == NULL) rc = ds__fail(DS_ERR_NOMEM, "out of memory");
        if (rc == DS_OK) rc = ds_index_save(b->vx, vp);
        str_free(c->env, vp);
    }
    b->t_vectors = ds__now() - t;
    return b->rc = rc;
}

ds_status ds__coll_write_manifest(ds_collection *c, uint64_t lsn) {
    cJSON *m = cJSON_CreateObject();
    if (m == NULL) return ds__fail(DS_ERR_NOMEM, "out of memory");
    cJSON_AddNumberToObject(m, "format", 1);
    char writer[64];
    snprintf(writer, sizeof writer, "densearch %s", ds_version_string());
    cJSON_AddStringToObject(m, "writer", writer);
    cJSON_AddNumberToObject(m, "generation", (double)(c->generation + 1));
    cJSON_AddNumberToObject(m, "lsn", (double)lsn);
    cJSON *segs = cJSON_AddArrayToObject(m, "segments");
    ds__buf tomb;
    ds__buf_init(&tomb, c->env);
    uint64_t np = 0;
    for (size_t i = 0; i < c->n_seg; i++) {
        const ds__seg *g = c->seg[i];
        cJSON *s = cJSON_CreateObject();
        cJSON_AddStringToObject(s, "name", g->name);
        cJSON_AddNumberToObject(s, "docs", (double)g->n_docs);
        cJSON_AddNumberToObject(s, "passages", (double)g->n_passages);
        cJSON_AddNumberToObject(s, "deleted", (double)g->n_dead);
        cJSON_AddItemToArray(segs, s);
        np += g->n_passages;
        if (g->n_dead > 0) {   /* TOMB: segment index, documents, bitmap */
            ds__buf_put_u32(&tomb, (uint32_t)i);
            ds__buf_put_u32(&tomb, g->n_docs);
            ds__buf_put(&tomb, g->dead, ((size_t)g->n_docs + 7) / 8);
        }
    }
    cJSON_AddNumberToObject(m, "docs", (double)c->n_live);
    cJSON_AddNumberToObject(m, "passages", (double)np);
    if (c->dim > 0) {
        cJSON *v = cJSON_AddObjectToObject(m, "vectors");
        cJSON_AddStringToObject(v, "type", c->vec_type ? c->vec_type : "hnsw");
        cJSON_AddStringToObject(v, "metric", metric_name((ds_metric)c->metric));
        cJSON_AddNumberToObject(v, "dim", (double)c->dim);
        cJSON_AddStringToObject(v, "source", c->precomputed ? "precomputed" : "encoder");
        cJSON *p = cJSON_AddObjectToObject(m, "passages_split");
        cJSON_AddNumberToObject(p, "chunk_tokens", (double)c->chunk_tokens);
        cJSON_AddNumberToObject(p, "chunk_overlap", (double)c->chunk_overlap);
    } else {
        cJSON_AddNullToObject(m, "vectors");
    }
    if (c->has_identity) cJSON_AddItemToObject(m, "encoder", identity_json(&c->ident));
    else cJSON_AddNullToObject(m, "encoder");
    char *text = cJSON_PrintUnformatted(m);
    cJSON_Delete(m);
    ds_status rc = text && tomb.rc == DS_OK ? DS_OK : ds__fail(DS_ERR_NOMEM, "out of memory");
    char *path = rc == DS_OK ? path_join(c->env, c->dir, "MANIFEST") : NULL;
    ds__cwriter *cw = NULL;
    if (rc == DS_OK && path == NULL) rc = ds__fail(DS_ERR_NOMEM, "out of memory");
    if (rc == DS_OK) rc = ds__cw_open_locked(c->env, path, c->lock, DS__CMAN_KIND, DS__CMAN_MAJOR, DS__CMAN_MINOR, 0, &cw);
    if (rc == DS_OK) rc = ds__cw_section(cw, DS__SEC_CMTA, DS_SECTION_REQUIRED, text, strlen(text));
    if (rc == DS_OK && tomb.len > 0) rc = ds__cw_section(cw, DS__SEC_TOMB, DS_SECTION_REQUIRED, tomb.p, tomb.len);
    if (rc == DS_OK) rc = ds__cw_commit(cw);
    else ds__cw_abort(cw);
    if (rc == DS_OK) {
        c->generation++;
        c->lsn = lsn;
        for (size_t i = 0; i < c->n_seg; i++) c->seg[i]->published = 1;
    }
    if (text) cJSON_free(text);
    ds__buf_release(&tomb);
    str_free(c->env, path);
    return rc;
}

/* Is name a segment directory name the collection holds? */
static int names_segment(const ds_collection *c, const char *name) {
    for (size_t i = 0; i < c->n_seg; i++)
        if (strcmp(c->seg[i]->name, name) == 0) return 1;
    return 0;
}

void ds__coll_remove_unnamed(ds_collection *c) {
    DIR *d = opendir(c->dir);
    if (d == NULL) return;
    struct dirent *e;
    char p[PATH_MAX];
    while ((e = readdir(d)) != NULL) {
        unsigned n;
        if (sscanf(e->d_name, "seg-%u", &n) != 1 || names_segment(c, e->d_name)) continue;
        if ((size_t)snprintf(p, sizeof p, "%s/%s", c->dir, e->d_name) < sizeof p) remove_segment(p);
    }
    closedir(d);
    /* a pre-collection index in the same directory is superseded too */
    if ((size_t)snprintf(p, sizeof p, "%s/lexical.dsx", c->dir) < sizeof p) unlink(p);
}

ds_status ds_collection_commit(ds_collection *c, ds_collection_stats *stats) {
    if (stats) memset(stats, 0, sizeof *stats);
    if (c == NULL) return ds__fail(DS_ERR_INVALID, "ds_collection_commit: NULL collection");
    if (!c->building) return c->live ? ds_collection_flush(c) : ds__fail(DS_ERR_INVALID, "%s: the collection is already committed", c->dir);
    ds__coll_build *b = c->b;
    if (b->rc != DS_OK) return b->rc;
    if (b->n_docs == 0) return b->rc = ds__fail(DS_ERR_INVALID, "%s: no documents were added", c->dir);
    ds_status rc = ds__coll_build_finish(c, b, &b->vopts);
    ds__seg *seg = NULL;
    if (rc == DS_OK) rc = ds__seg_open(c, b->seg_name, 0, &seg);
    if (rc == DS_OK) {
        if ((c->seg = ds__calloc(c->env, 1, sizeof *c->seg)) == NULL) rc = ds__fail(DS_ERR_NOMEM, "out of memory");
        else {
            c->seg[0] = seg;
            c->n_seg = 1;
            ds__coll_recount(c);
            rc = ds__coll_write_manifest(c, 0);
        }
    }
    if (rc != DS_OK) {
        ds__seg_close(c->env, seg);
        ds__free(c->env, c->seg, sizeof *c->seg);
        c->seg = NULL;
        c->n_seg = 0;
        return b->rc = rc;
    }
    /* published: from here on failures cannot unpublish, only be reported */
    ds__coll_remove_unnamed(c);
    if (stats) {
        stats->n_docs = b->n_docs;
        stats->n_passages = b->n_passages;
        stats->n_skipped = b->n_skipped;
        stats->t_encode = b->t_encode;
        stats->t_lexical = b->t_lexical;
        stats->t_vectors = b->t_vectors;
        stats->t_total = ds__now() - b->t0;
        struct stat st;
        char p[PATH_MAX];
        static const char *files[] = { "lexical.dsx", "docs.dsx", "vectors.dsx" };
        for (size_t i = 0; i < 3; i++)
            if ((size_t)snprintf(p, sizeof p, "%s/%s", b->seg_dir, files[i]) < sizeof p && stat(p, &st) == 0) stats->bytes += (uint64_t)st.st_size;
    }
    if (c->enc) {   /* its progress callback points into the build state */
        c->enc->progress = NULL;
        c->enc->progress_ud = NULL;
    }
    ds__coll_build_free(c->env, b, 0);
    c->b = NULL;
    c->building = 0;
    ds__wlock_release(c->lock);
    c->lock = NULL;
    return DS_OK;
}

/* ---- opening ---------------------------------------------------------------------- */

void ds__seg_close(ds_env *env, ds__seg *s) {
    if (s == NULL) return;
    ds_index_close(s->vx);
    ds__docstore_close(s->ds);
    ds_lexical_close(s->lx);
    free(s->dead);
    free(s->dead_df);
    free(s->live_psg);
    str_free(env, s->name);
    ds__free(env, s, sizeof *s);
}

static uint64_t lexical_tokens(const ds_lexical *lx) {
    return lx->meta.n_tokens;
}

ds_status ds__seg_open(ds_collection *c, const char *name, unsigned flags, ds__seg **out) {
    *out = NULL;
    ds__seg *s = ds__calloc(c->env, 1, sizeof *s);
    if (s == NULL) return ds__fail(DS_ERR_NOMEM, "out of memory");
    char *dir = path_join(c->env, c->dir, name), *p = NULL;
    ds_status rc = dir && (s->name = ds__strdup(c->env, name)) != NULL ? DS_OK : ds__fail(DS_ERR_NOMEM, "out of memory");
    if (rc == DS_OK) rc = ds_lexical_open(c->env, dir, flags, &s->lx);
    if (rc == DS_OK && (p = path_join(c->env, dir, "docs.dsx")) == NULL) rc = ds__fail(DS_ERR_NOMEM, "out of memory");
    if (rc == DS_OK) rc = ds__docstore_open(c->env, p, flags, &s->ds);
    str_free(c->env, p);
    p = NULL;
    if (rc == DS_OK && c->dim > 0) {
        if ((p = path_join(c->env, dir, "vectors.dsx")) == NULL) rc = ds__fail(DS_ERR_NOMEM, "out of memory");
        else rc = ds_index_open(c->env, p, flags, &s->vx);
        str_free(c->env, p);
    }
    if (rc == DS_OK && ds_lexical_n_docs(s->lx) != s->ds->n_docs)
        rc = ds__fail(DS_ERR_CORRUPT, "%s: lexical.dsx has %llu documents, docs.dsx %u", dir,
                      (unsigned long long)ds_lexical_n_docs(s->lx), s->ds->n_docs);
    if (rc == DS_OK && s->vx && (ds_index_size(s->vx) != s->ds->n_passages || ds_index_dim(s->vx) != c->dim))
        rc = ds__fail(DS_ERR_CORRUPT, "%s: vectors.dsx holds %llu vectors of %zu dimensions, the collection %llu of %zu",
                      dir, (unsigned long long)ds_index_size(s->vx), ds_index_dim(s->vx),
                      (unsigned long long)s->ds->n_passages, c->dim);
    if (rc == DS_OK && c->an_set && !ds__lx_an_same(&c->an, &s->lx->meta.an))
        rc = ds__fail(DS_ERR_CORRUPT, "%s: analysed with stemmer '%s', the collection with '%s'", dir,
                      s->lx->meta.an.stemmer, c->an.stemmer);
    if (rc == DS_OK && !c->an_set) {   /* the first segment opened, before any other thread runs */
        c->an = s->lx->meta.an;
        c->an_set = 1;
        c->has_text = s->ds->has_text;
    }
    str_free(c->env, dir);
    if (rc != DS_OK) {
        ds__seg_close(c->env, s);
        return rc;
    }
    s->n_docs = s->ds->n_docs;
    s->n_passages = s->ds->n_passages;
    s->n_tokens = lexical_tokens(s->lx);
    *out = s;
    return DS_OK;
}

void ds__coll_recount(ds_collection *c) {
    uint64_t d = 0, p = 0, live = 0, tok = 0, dead = 0;
    for (size_t i = 0; i < c->n_seg; i++) {
        ds__seg *s = c->seg[i];
        s->base = d;
        s->pbase = p;
        d += s->n_docs;
        p += s->n_passages;
        live += s->n_docs - s->n_dead;
        tok += s->n_tokens - s->dead_tokens;
        dead += s->n_dead;
    }
    c->n_slots = d;
    c->n_pslots = p;
    c->n_live = live;
    c->live_tokens = tok;
    c->n_dead = dead;
    c->lx = c->n_seg > 0 ? c->seg[0]->lx : NULL;
}

ds__seg *ds__coll_seg_of(const ds_collection *c, uint64_t doc, uint32_t *local) {
    if (doc >= c->n_slots) return NULL;
    size_t lo = 0, hi = c->n_seg;   /* last segment with base <= doc */
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (c->seg[mid]->base <= doc) lo = mid; else hi = mid;
    }
    while (lo + 1 < c->n_seg && c->seg[lo]->n_docs == 0) lo++;   /* empty segments hold nothing */
    ds__seg *s = c->seg[lo];
    if (doc < s->base || doc - s->base >= s->n_docs) return NULL;
    *local = (uint32_t)(doc - s->base);
    return s;
}

/* Live df of a term over all segments. */
static uint32_t global_df(void *ud, const char *term, size_t len) {
    const ds_collection *c = ud;
    uint64_t df = 0;
    for (size_t i = 0; i < c->n_seg; i++) {
        const ds__seg *s = c->seg[i];
        int64_t t = ds__lx_find_term(s->lx, term, len);
        if (t < 0) continue;
        uint32_t x = ds__lx_df(s->lx, (uint32_t)t);
        if (s->dead_df) x -= s->dead_df[t];
        df += x;
    }
    return df > UINT32_MAX ? UINT32_MAX : (uint32_t)df;
}

const ds__lx_global *ds__coll_lexical_global(const ds_collection *c, ds__lx_global *g) {
    if (c->n_seg == 1 && c->n_dead == 0) return NULL;
    g->n_docs = c->n_live;
    g->n_tokens = c->live_tokens;
    g->df = global_df;
    g->df_ud = (void *)c;
    return g;
}

typedef struct term_ids {
    const ds_lexical *lx;
    uint32_t         *ids;
    size_t            n, cap;
    int               oom;
} term_ids;

static void collect_term(void *ud, const char *term, size_t len, size_t rb, size_t re) {
    (void)rb, (void)re;
    term_ids *t = ud;
    int64_t id = ds__lx_find_term(t->lx, term, len);
    if (id < 0) return;
    if (t->n == t->cap) {
        size_t nc = t->cap ? 2 * t->cap : 256;
        uint32_t *p = realloc(t->ids, nc * sizeof *p);
        if (p == NULL) { t->oom = 1; return; }
        t->ids = p;
        t->cap = nc;
    }
    t->ids[t->n++] = (uint32_t)id;
}

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

ds_status ds__seg_kill(ds_collection *c, ds__seg *s, uint32_t d, ds__analyzer *an) {
    if (d >= s->n_docs || ds__seg_dead(s, d)) return DS_OK;
    ds_lexical *lx = s->lx;
    if (!s->ds->has_text)
        return ds__fail(DS_ERR_UNSUPPORTED, "%s/%s: deleting needs stored text (the BM25 statistics of a deleted document are "
                        "taken from it); the collection was built without", c->dir, s->name);
    if (s->dead == NULL && (s->dead = calloc(((size_t)s->n_docs + 7) / 8, 1)) == NULL)
        return ds__fail(DS_ERR_NOMEM, "out of memory");
    if (s->dead_df == NULL && (s->dead_df = calloc(lx->meta.n_terms ? lx->meta.n_terms : 1, sizeof *s->dead_df)) == NULL)
        return ds__fail(DS_ERR_NOMEM, "out of memory");
    if (s->vx != NULL && s->live_psg == NULL) {
        size_t nb = ((size_t)s->n_passages + 7) / 8;
        if ((s->live_psg = malloc(nb ? nb : 1)) == NULL) return ds__fail(DS_ERR_NOMEM, "out of memory");
        memset(s->live_psg, 0xff, nb);
    }
    /* the document's distinct terms, analysed as the builder did (title, then text) */
    char *title = NULL, *text = NULL;
    size_t tl = 0, xl = 0;
    ds_status rc = ds__docstore_doc(s->ds, d, &title, &tl, &text, &xl);
    term_ids t = { lx, NULL, 0, 0, 0 };
    if (rc == DS_OK) rc = ds__analyze(an, title, tl, collect_term, &t);
    if (rc == DS_OK) rc = ds__analyze(an, text, xl, collect_term, &t);
    ds_free(title);
    ds_free(text);
    if (rc == DS_OK && t.oom) rc = ds__fail(DS_ERR_NOMEM, "out of memory");
    if (rc == DS_OK) {
        qsort(t.ids, t.n, sizeof *t.ids, cmp_u32);
        for (size_t i = 0; i < t.n; i++)
            if (i == 0 || t.ids[i] != t.ids[i - 1]) s->dead_df[t.ids[i]]++;
        s->dead[d >> 3] |= (uint8_t)(1u << (d & 7));
        s->n_dead++;
        s->dead_tokens += ds__load_u32le(lx->dlen + 4 * (size_t)d);
        if (s->live_psg) {
            uint32_t p0 = ds__docstore_first_passage(s->ds, d), p1 = ds__docstore_first_passage(s->ds, d + 1);
            for (uint32_t p = p0; p < p1; p++) s->live_psg[p >> 3] &= (uint8_t)~(1u << (p & 7));
        }
    }
    free(t.ids);
    return rc;
}

/* Applies a TOMB section: per entry u32 segment index, u32 documents, bitmap. */
static ds_status read_tombstones(ds_collection *c, const uint8_t *p, uint64_t len, const char *mpath) {
    ds__analyzer *an = NULL;
    ds_status rc = ds__analyzer_create(c->env, &c->lx->meta.an, &an);
    uint64_t at = 0;
    while (rc == DS_OK && at < len) {
        if (len - at < 8) { rc = ds__fail(DS_ERR_CORRUPT, "%s: tombstones are truncated", mpath); break; }
        uint32_t si = ds__load_u32le(p + at), nd = ds__load_u32le(p + at + 4);
        at += 8;
        uint64_t nb = ((uint64_t)nd + 7) / 8;
        if (si >= c->n_seg || nd != c->seg[si]->n_docs || len - at < nb) {
            rc = ds__fail(DS_ERR_CORRUPT, "%s: tombstones name segment %u of %u documents, which does not match", mpath, si, nd);
            break;
        }
        for (uint32_t d = 0; d < nd && rc == DS_OK; d++)
            if ((p[at + d / 8] >> (d & 7)) & 1) rc = ds__seg_kill(c, c->seg[si], d, an);
        at += nb;
    }
    ds__analyzer_destroy(an);
    if (rc == DS_OK) ds__coll_recount(c);
    return rc;
}

static const char *jstr(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}
static int jnum(const cJSON *o, const char *k, double lo, double hi, double *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= lo && v->valuedouble <= hi)) return 0;
    *out = v->valuedouble;
    return 1;
}

static ds_status read_identity(const cJSON *e, ds__encoder_identity *id, const char *path) {
    memset(id, 0, sizeof *id);
    const char *name = jstr(e, "name"), *mp = jstr(e, "path"), *cfg = jstr(e, "config_xxh3"),
               *sha = jstr(e, "weights_sha256"), *xx = jstr(e, "weights_xxh3_128"), *kind = jstr(e, "kind"),
               *pool = jstr(e, "pooling");
    double wb, ms, dim;
    const cJSON *nz = cJSON_GetObjectItemCaseSensitive(e, "normalize");
    if (!name || !mp || !cfg || !sha || !xx || !kind || !pool || !cJSON_IsBool(nz) || !jnum(e, "weights_bytes", 0, 1e18, &wb) ||
        !jnum(e, "max_seq_length", 0, 1e9, &ms) || !jnum(e, "dim", 1, 1e7, &dim))
        return ds__fail(DS_ERR_CORRUPT, "%s: the encoder record is incomplete", path);
    snprintf(id->name, sizeof id->name, "%s", name);
    snprintf(id->path, sizeof id->path, "%s", mp);
    snprintf(id->config_xxh3, sizeof id->config_xxh3, "%s", cfg);
    snprintf(id->weights_sha256, sizeof id->weights_sha256, "%s", sha);
    snprintf(id->weights_xxh3, sizeof id->weights_xxh3, "%s", xx);
    snprintf(id->kind, sizeof id->kind, "%s", kind);
    snprintf(id->pooling, sizeof id->pooling, "%s", pool);
    id->normalize = cJSON_IsTrue(nz);
    id->weights_bytes = (uint64_t)wb;
    id->max_seq_length = (size_t)ms;
    id->dim = (size_t)dim;
    return DS_OK;
}

/* Loads the query encoder and checks it is the model the collection was built with. */
static ds_status load_encoder(ds_collection *c, const ds_collection_open_opts *o) {
    const char *given = DS_OPT(o, model_dir, NULL);
    const char *dir = given ? given : c->ident.path;
    if (!given && !is_dir(dir)) {
        char msg[8192];
        snprintf(msg, sizeof msg, "the model the collection was built with (%s, at %s) is not there; pass its directory",
                 c->ident.name, c->ident.path);
        c->enc_note = ds__strdup(c->env, msg);
        return DS_OK;
    }
    ds_encoder *enc = NULL;
    ds_status rc = ds_encoder_open(c->env, dir, DS_OPT(o, encoder, NULL), &enc);
    if (rc != DS_OK) return ds__fail_prefix(rc, "query encoder %s: ", dir);
    ds__encoder_identity now;
    rc = identity_of(enc, dir, &now, 0);
    if (rc == DS_OK && (strcmp(now.config_xxh3, c->ident.config_xxh3) != 0 || strcmp(now.weights_xxh3, c->ident.weights_xxh3) != 0 ||
                        now.weights_bytes != c->ident.weights_bytes || now.dim != c->ident.dim ||
                        strcmp(now.pooling, c->ident.pooling) != 0 || now.normalize != c->ident.normalize))
        rc = ds__fail(DS_ERR_INVALID,
                      "%s: the collection was built with model '%s' (%s, weights sha256 %.16s..., %s pooling, dim %zu), "
                      "not with '%s' (%s, %s pooling, dim %zu)",
                      c->dir, c->ident.name, c->ident.path, c->ident.weights_sha256, c->ident.pooling, c->ident.dim,
                      now.name, now.path, now.pooling, now.dim);
    if (rc != DS_OK) {
        ds_encoder_close(enc);
        return rc;
    }
    c->enc = enc;
    return DS_OK;
}

/* A segment name as the MANIFEST may give it: "seg-" and digits, nothing
** that could leave the collection directory. */
static int valid_segment_name(const char *name) {
    if (name == NULL || strncmp(name, "seg-", 4) != 0 || strlen(name) > 16 || name[4] == '\0') return 0;
    for (const char *p = name + 4; *p; p++)
        if (*p < '0' || *p > '9') return 0;
    return 1;
}

/* Back to the state before open_manifest, for another attempt. */
static void reset_open_state(ds_collection *c) {
    for (size_t i = 0; i < c->n_seg; i++) ds__seg_close(c->env, c->seg[i]);
    ds__free(c->env, c->seg, c->n_seg * sizeof *c->seg);
    c->seg = NULL;
    c->n_seg = 0;
    c->lx = NULL;
    c->an_set = 0;
    ds_encoder_close(c->enc);
    c->enc = NULL;
    str_free(c->env, c->vec_type);
    c->vec_type = NULL;
    str_free(c->env, c->enc_note);
    c->enc_note = NULL;
    c->has_identity = 0;
}

static ds_status open_manifest(ds_collection *c, const char *mpath, const ds_collection_open_opts *o) {
    unsigned flags = DS_OPT(o, flags, 0);
    ds__creader *cr = NULL;
    ds_status rc = ds__cr_open(c->env, mpath, DS__CMAN_KIND, flags | DS_OPEN_VERIFY, &cr);
    if (rc != DS_OK) return rc;
    static const uint32_t known[] = { DS__SEC_CMTA, DS__SEC_TOMB };
    const uint8_t *p;
    uint64_t len;
    cJSON *m = NULL;
    if ((rc = ds__cr_check_known(cr, known, 2)) == DS_OK && cr->format_major != DS__CMAN_MAJOR)
        rc = ds__fail(DS_ERR_FORMAT, "%s: collection format %u.%u, this library reads %u.x", mpath, cr->format_major,
                      cr->format_minor, DS__CMAN_MAJOR);
    if (rc == DS_OK) rc = ds__cr_get(cr, DS__SEC_CMTA, &p, &len);
    if (rc == DS_OK && (m = cJSON_ParseWithLength((const char *)p, (size_t)len)) == NULL)
        rc = ds__fail(DS_ERR_CORRUPT, "%s: the manifest is not valid JSON", mpath);
    const cJSON *segs = m ? cJSON_GetObjectItemCaseSensitive(m, "segments") : NULL;
    int n_seg = cJSON_IsArray(segs) ? cJSON_GetArraySize(segs) : -1;
    if (rc == DS_OK && (n_seg < 1 || n_seg > 100000)) rc = ds__fail(DS_ERR_CORRUPT, "%s: no valid segment list", mpath);
    for (int i = 0; rc == DS_OK && i < n_seg; i++) {
        const char *name = jstr(cJSON_GetArrayItem(segs, i), "name");
        if (!valid_segment_name(name)) rc = ds__fail(DS_ERR_CORRUPT, "%s: segment %d has no valid name", mpath, i + 1);
        for (int j = 0; rc == DS_OK && j < i; j++)
            if (strcmp(name, jstr(cJSON_GetArrayItem(segs, j), "name")) == 0)
                rc = ds__fail(DS_ERR_CORRUPT, "%s: segment %s is named twice", mpath, name);
    }
    double gen = 0, lsn = 0;
    if (rc == DS_OK && cJSON_GetObjectItemCaseSensitive(m, "generation") != NULL &&
        (!jnum(m, "generation", 0, 9e15, &gen) || !jnum(m, "lsn", 0, 9e15, &lsn)))
        rc = ds__fail(DS_ERR_CORRUPT, "%s: bad generation or log position", mpath);
    c->generation = (uint64_t)gen;
    c->lsn = (uint64_t)lsn;
    const cJSON *vec = m ? cJSON_GetObjectItemCaseSensitive(m, "vectors") : NULL;
    const cJSON *enc = m ? cJSON_GetObjectItemCaseSensitive(m, "encoder") : NULL;
    double dim = 0, ct = 0, co = 0;
    if (rc == DS_OK && cJSON_IsObject(vec)) {
        const char *type = jstr(vec, "type"), *metric = jstr(vec, "metric"), *src = jstr(vec, "source");
        ds_index_type t;
        if (type == NULL || !type_from_name(type, &t) || !jnum(vec, "dim", 1, 1e7, &dim))
            rc = ds__fail(DS_ERR_CORRUPT, "%s: the vectors record is incomplete", mpath);
        else c->vec_type = ds__strdup(c->env, type);
        c->metric = metric && strcmp(metric, "ip") == 0 ? DS_METRIC_IP : metric && strcmp(metric, "l2") == 0 ? DS_METRIC_L2 : DS_METRIC_COSINE;
        c->precomputed = src != NULL && strcmp(src, "precomputed") == 0;
        const cJSON *ps = cJSON_GetObjectItemCaseSensitive(m, "passages_split");
        if (rc == DS_OK && cJSON_IsObject(ps) && (!jnum(ps, "chunk_tokens", 0, 1e6, &ct) || !jnum(ps, "chunk_overlap", 0, 1e6, &co)))
            rc = ds__fail(DS_ERR_CORRUPT, "%s: the passages record is incomplete", mpath);
    } else if (rc == DS_OK) {
        c->vec_type = ds__strdup(c->env, "none");
    }
    c->dim = (size_t)dim;
    c->chunk_tokens = (size_t)ct;
    c->chunk_overlap = (size_t)co;
    if (rc == DS_OK && cJSON_IsObject(enc)) {
        rc = read_identity(enc, &c->ident, mpath);
        c->has_identity = rc == DS_OK;
    }
    if (rc == DS_OK && (c->seg = ds__calloc(c->env, (size_t)n_seg, sizeof *c->seg)) == NULL) rc = ds__fail(DS_ERR_NOMEM, "out of memory");
    for (int i = 0; rc == DS_OK && i < n_seg; i++) {
        rc = ds__seg_open(c, jstr(cJSON_GetArrayItem(segs, i), "name"), flags, &c->seg[i]);
        if (rc == DS_OK) {
            c->seg[i]->published = 1;
            c->n_seg++;
            ds__coll_recount(c);   /* c->lx: the first segment's */
        }
    }
    if (rc != DS_OK && c->seg != NULL) {   /* the list is freed at its allocated size */
        for (size_t i = 0; i < c->n_seg; i++) ds__seg_close(c->env, c->seg[i]);
        ds__free(c->env, c->seg, (size_t)n_seg * sizeof *c->seg);
        c->seg = NULL;
        c->n_seg = 0;
        c->lx = NULL;
    }
    cJSON_Delete(m);
    if (rc == DS_OK) {
        if (ds__cr_get(cr, DS__SEC_TOMB, &p, &len) == DS_OK) rc = read_tombstones(c, p, len, mpath);
        else ds__clear_error();   /* no tombstones: nothing was deleted */
    }
    ds__cr_close(cr);
    if (rc != DS_OK) return rc;
    if (c->has_identity && !DS_OPT(o, no_encoder, 0)) rc = load_encoder(c, o);
    else if (!c->has_identity && DS_OPT(o, model_dir, NULL) != NULL)
        rc = ds__fail(DS_ERR_INVALID, "%s: the collection was built without a model (%s), so it cannot use %s", c->dir,
                      c->dim ? "precomputed embeddings" : "BM25 only", DS_OPT(o, model_dir, NULL));
    return rc;
}

ds_status ds_collection_open(ds_env *env, const char *dir, const ds_collection_open_opts *opts, ds_collection **out) {
    if (out) *out = NULL;
    if (dir == NULL || out == NULL) return ds__fail(DS_ERR_INVALID, "ds_collection_open: NULL argument");
    env = DS_ENV(env);
    ds_collection *c = ds__calloc(env, 1, sizeof *c);
    if (c == NULL) return ds__fail(DS_ERR_NOMEM, "out of memory");
    c->env = env;
    ds_status rc = DS_OK;
    if ((c->dir = ds__strdup(env, dir)) == NULL) rc = ds__fail(DS_ERR_NOMEM, "out of memory");
    char *mp = rc == DS_OK ? path_join(env, dir, "MANIFEST") : NULL;
    char *lp = rc == DS_OK ? path_join(env, dir, "lexical.dsx") : NULL;
    if (rc == DS_OK && (mp == NULL || lp == NULL)) rc = ds__fail(DS_ERR_NOMEM, "out of memory");
    if (rc == DS_OK) {
        if (is_file(mp)) {
            /* A live writer removes segments merged away right after it
            ** publishes a new MANIFEST: a reader that read the old one may
            ** find a segment gone, and then reads the new one. */
            struct stat before, after;
            for (int attempt = 0;; attempt++) {
                int have = stat(mp, &before) == 0;
                rc = open_manifest(c, mp, opts);
                if (rc != DS_ERR_IO || attempt == 3 || !have || stat(mp, &after) != 0 || after.st_ino == before.st_ino) break;
                reset_open_state(c);
                ds__clear_error();
            }
        } else if (is_file(lp) || (access(dir, F_OK) == 0 && !is_dir(dir))) {
            /* a BM25 index from before collections: its own ids and text */
            c->legacy = 1;
            if (DS_OPT(opts, model_dir, NULL) != NULL)
                rc = ds__fail(DS_ERR_INVALID, "%s is a BM25-only index; it has no vectors for %s", dir, DS_OPT(opts, model_dir, NULL));
            if (DS_OPT(opts, writable, 0))
                rc = ds__fail(DS_ERR_UNSUPPORTED, "%s is a BM25 index from before collections; rebuild it with `densearch index` "
                              "to write to it", dir);
            ds__seg *s = rc == DS_OK ? ds__calloc(env, 1, sizeof *s) : NULL;
            if (rc == DS_OK && (s == NULL || (c->seg = ds__calloc(env, 1, sizeof *c->seg)) == NULL)) {
                ds__free(env, s, sizeof *s);
                rc = ds__fail(DS_ERR_NOMEM, "out of memory");
            }
            if (rc == DS_OK) {
                c->seg[0] = s;
                c->n_seg = 1;
                s->published = 1;
                if ((s->name = ds__strdup(env, ".")) == NULL) rc = ds__fail(DS_ERR_NOMEM, "out of memory");
            }
            if (rc == DS_OK) rc = ds_lexical_open(env, dir, DS_OPT(opts, flags, 0), &s->lx);
            if (rc == DS_OK) rc = ds__docstore_from_lexical(env, s->lx, &s->ds);
            if (rc == DS_OK) {
                s->n_docs = s->ds->n_docs;
                s->n_passages = s->ds->n_passages;
                s->n_tokens = lexical_tokens(s->lx);
                ds__coll_recount(c);
                c->vec_type = ds__strdup(env, "none");
            }
        } else if (!is_dir(dir)) {
            rc = ds__fail(DS_ERR_NOTFOUND, "%s: no such collection", dir);
        } else {
            rc = ds__fail(DS_ERR_NOTFOUND, "%s: not a collection (no MANIFEST and no lexical.dsx)", dir);
        }
    }
    str_free(env, mp);
    str_free(env, lp);
    if (rc == DS_OK && DS_OPT(opts, writable, 0)) rc = ds__live_open(c, opts);
    if (rc != DS_OK) {
        ds_collection_close(c);
        return rc;
    }
    *out = c;
    return DS_OK;
}

void ds_collection_close(ds_collection *c) {
    if (c == NULL) return;
    ds_env *env = c->env;
    ds__live_close(c);   /* publishes what was written */
    ds__coll_build_free(env, c->b, 1);
    ds_encoder_close(c->enc);
    for (size_t i = 0; i < c->n_seg; i++) ds__seg_close(env, c->seg[i]);
    ds__free(env, c->seg, c->n_seg * sizeof *c->seg);
    ds__wlock_release(c->lock);
    str_free(env, c->enc_note);
    str_free(env, c->vec_type);
    str_free(env, c->dir);
    ds__free(env, c, sizeof *c);
}

/* ---- getters --------------------------------------------------------------------- */

uint64_t ds_collection_n_docs(const ds_collection *c) {
    if (c == NULL) return 0;
    ds__coll_read_lock(c);
    uint64_t n = c->n_live;
    ds__coll_read_unlock(c);
    return n;
}
uint64_t ds_collection_n_passages(const ds_collection *c) {
    if (c == NULL) return 0;
    ds__coll_read_lock(c);
    uint64_t n = c->n_pslots;
    ds__coll_read_unlock(c);
    return n;
}
size_t ds_collection_dim(const ds_collection *c) {
    return c ? c->dim : 0;
}
const ds_encoder *ds_collection_encoder(const ds_collection *c) {
    return c ? c->enc : NULL;
}
const char *ds_collection_doc_id(const ds_collection *c, uint32_t doc, size_t *len) {
    if (len) *len = 0;
    if (c == NULL || c->n_seg == 0) return NULL;
    ds__coll_read_lock(c);
    uint32_t d;
    ds__seg *s = ds__coll_seg_of(c, doc, &d);
    const char *id = s && !ds__seg_dead(s, d) ? ds__docstore_id(s->ds, d, len) : NULL;
    ds__coll_read_unlock(c);
    return id;
}

/* The live document with this id, as a document number of the view; the
** caller holds the read lock. Newest segments first: an id lives in at most
** one segment, older versions are deleted. */
ds_status ds__coll_find_locked(const ds_collection *c, const char *id, size_t len, ds__seg **seg, uint32_t *local,
                               uint64_t *doc) {
    for (size_t i = c->n_seg; i-- > 0;) {
        ds__seg *s = c->seg[i];
        uint32_t d;
        if (s->n_docs == s->n_dead || ds__docstore_find(s->ds, id, len, &d) != DS_OK || ds__seg_dead(s, d)) continue;
        if (seg) *seg = s;
        if (local) *local = d;
        if (doc) *doc = s->base + d;
        return DS_OK;
    }
    return DS_ERR_NOTFOUND;
}

ds_status ds_collection_find(const ds_collection *c, const char *id, size_t len, uint32_t *doc) {
    if (doc) *doc = UINT32_MAX;
    if (c == NULL || id == NULL || doc == NULL) return ds__fail(DS_ERR_INVALID, "ds_collection_find: NULL argument");
    if (c->n_seg == 0) return ds__fail(DS_ERR_INVALID, "ds_collection_find: the collection is not committed");
    ds__coll_read_lock(c);
    uint64_t d = 0;
    ds_status rc = ds__coll_find_locked(c, id, len, NULL, NULL, &d);
    ds__coll_read_unlock(c);
    if (rc != DS_OK) return ds__fail(DS_ERR_NOTFOUND, "no document with id '%.*s'", (int)DS_MIN(len, 200), id);
    *doc = (uint32_t)d;
    return DS_OK;
}
ds_status ds_collection_doc(const ds_collection *c, uint32_t doc, char **title, size_t *title_len, char **text,
                            size_t *text_len) {
    if (title) *title = NULL;
    if (text) *text = NULL;
    if (title_len) *title_len = 0;
    if (text_len) *text_len = 0;
    if (c == NULL || c->n_seg == 0) return ds__fail(DS_ERR_INVALID, "ds_collection_doc: no committed collection");
    ds__coll_read_lock(c);
    uint32_t d;
    ds__seg *s = ds__coll_seg_of(c, doc, &d);
    ds_status rc = s == NULL || ds__seg_dead(s, d) ? ds__fail(DS_ERR_NOTFOUND, "no document number %u", doc)
                                                   : ds__docstore_doc(s->ds, d, title, title_len, text, text_len);
    ds__coll_read_unlock(c);
    return rc;
}

ds_status ds__coll_filter_locked(const ds_collection *c, const char *const *ids, const size_t *lens, size_t n,
                                 uint8_t **bitmap, uint64_t *bits, size_t *n_unknown) {
    size_t nb = ((size_t)c->n_slots + 7) / 8;
    uint8_t *m = calloc(nb ? nb : 1, 1);   /* ds_free */
    if (m == NULL) return ds__fail(DS_ERR_NOMEM, "out of memory");
    size_t unknown = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t d;
        if (ids[i] == NULL) { unknown++; continue; }
        size_t l = lens ? lens[i] : strlen(ids[i]);
        if (ds__coll_find_locked(c, ids[i], l, NULL, NULL, &d) == DS_OK) m[d >> 3] |= (uint8_t)(1u << (d & 7));
        else unknown++;
    }
    *bitmap = m;
    *bits = c->n_slots;
    if (n_unknown) *n_unknown = unknown;
    return DS_OK;
}

ds_status ds_collection_filter(const ds_collection *c, const char *const *ids, const size_t *lens, size_t n,
                               uint8_t **bitmap, uint64_t *bits, size_t *n_unknown) {
    if (bitmap) *bitmap = NULL;
    if (bits) *bits = 0;
    if (n_unknown) *n_unknown = 0;
    if (c == NULL || bitmap == NULL || bits == NULL || (n > 0 && ids == NULL))
        return ds__fail(DS_ERR_INVALID, "ds_collection_filter: NULL argument");
    if (c->n_seg == 0) return ds__fail(DS_ERR_INVALID, "ds_collection_filter: the collection is not committed");
    ds__coll_read_lock(c);
    ds_status rc = ds__coll_filter_locked(c, ids, lens, n, bitmap, bits, n_unknown);
    ds__coll_read_unlock(c);
    return rc;
}

ds_status ds_collection_info(const ds_collection *c, char **json) {
    if (json) *json = NULL;
    if (c == NULL || json == NULL) return ds__fail(DS_ERR_INVALID, "ds_collection_info: NULL argument");
    if (c->n_seg == 0) return ds__fail(DS_ERR_INVALID, "ds_collection_info: the collection is not committed");
    cJSON *m = cJSON_CreateObject();
    if (m == NULL) return ds__fail(DS_ERR_NOMEM, "out of memory");
    ds__coll_read_lock(c);
    uint64_t terms = 0, vsize = 0, vmem = 0;
    for (size_t i = 0; i < c->n_seg; i++) {
        terms += ds_lexical_n_terms(c->seg[i]->lx);
        if (c->seg[i]->vx) {
            vsize += ds_index_size(c->seg[i]->vx);
            vmem += ds_index_memory_bytes(c->seg[i]->vx);
        }
    }
    cJSON_AddStringToObject(m, "path", c->dir);
    cJSON_AddStringToObject(m, "layout", c->legacy ? "bm25 index (before collections)" : "collection 1.1");
    cJSON_AddNumberToObject(m, "docs", (double)c->n_live);
    cJSON_AddNumberToObject(m, "passages", (double)c->n_pslots);
    cJSON_AddNumberToObject(m, "deleted", (double)c->n_dead);
    cJSON_AddNumberToObject(m, "segments", (double)c->n_seg);
    cJSON_AddNumberToObject(m, "generation", (double)c->generation);
    cJSON_AddBoolToObject(m, "writable", c->live != NULL);
    cJSON_AddBoolToObject(m, "stored_text", c->seg[0]->ds->has_text);
    cJSON *lx = cJSON_AddObjectToObject(m, "lexical");
    cJSON_AddNumberToObject(lx, c->n_seg > 1 ? "terms_summed_over_segments" : "terms", (double)terms);
    /* f32 parameters printed as the decimal the user gave, not 0.899999976 */
    cJSON_AddNumberToObject(lx, "k1", round(c->lx->meta.k1 * 1e6) / 1e6);
    cJSON_AddNumberToObject(lx, "b", round(c->lx->meta.b * 1e6) / 1e6);
    cJSON_AddStringToObject(lx, "stemmer", c->lx->meta.an.stemmer);
    cJSON_AddBoolToObject(lx, "stopwords", (c->lx->meta.an.flags & DS__AN_STOPWORDS) != 0);
    if (c->dim > 0) {
        cJSON *v = cJSON_AddObjectToObject(m, "vectors");
        cJSON_AddStringToObject(v, "type", c->vec_type ? c->vec_type : "?");
        cJSON_AddStringToObject(v, "metric", metric_name((ds_metric)c->metric));
        cJSON_AddNumberToObject(v, "dim", (double)c->dim);
        cJSON_AddNumberToObject(v, "size", (double)vsize);
        cJSON_AddNumberToObject(v, "memory_bytes", (double)vmem);
        cJSON_AddNumberToObject(v, "chunk_tokens", (double)c->chunk_tokens);
        cJSON_AddNumberToObject(v, "chunk_overlap", (double)c->chunk_overlap);
    } else {
        cJSON_AddNullToObject(m, "vectors");
    }
    if (c->has_identity) {
        cJSON *e = identity_json(&c->ident);
        if (e) cJSON_AddBoolToObject(e, "loaded", c->enc != NULL);
        cJSON_AddItemToObject(m, "encoder", e);
    } else {
        cJSON_AddNullToObject(m, "encoder");
    }
    ds__coll_read_unlock(c);
    char *s = cJSON_Print(m);
    cJSON_Delete(m);
    if (s == NULL) return ds__fail(DS_ERR_NOMEM, "out of memory");
    *json = strdup(s);   /* ds_free releases with libc free */
    cJSON_free(s);
    return *json ? DS_OK : ds__fail(DS_ERR_NOMEM, "out of memory");
}
