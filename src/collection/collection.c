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
    double              t0, t_encode;
    ds_progress_fn      progress;
    void               *progress_ud;
    uint64_t            docs_encoded;      /* documents whose passages are all encoded */
    uint64_t            docs_pending;      /* documents queued since the last call      */
    ds_status           rc;                /* sticky                     */
};

/* The encoder reports sequences done within one call; the user counts
** documents, so passages are turned into the share of the queued documents. */
static int encode_progress(uint64_t done, uint64_t total, void *ud) {
    ds__coll_build *b = ud;
    if (b->progress == NULL) return 0;
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

static void build_free(ds_env *env, ds__coll_build *b) {
    if (b == NULL) return;
    ds_lexical_abort(b->lb);
    ds__docstore_writer_release(&b->dw);
    free(b->vecs);
    free(b->tokens);
    free(b->plen);
    free(b->scratch);
    if (b->seg_dir) {
        remove_segment(b->seg_dir);   /* never published: nothing refers to it */
        str_free(env, b->seg_dir);
    }
    ds__free(env, b, sizeof *b);
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
    ds__coll_build *b = c ? ds__calloc(env, 1, sizeof *b) : NULL;
    if (c == NULL || b == NULL) {
        ds__free(env, c, sizeof *c);
        return ds__fail(DS_ERR_NOMEM, "out of memory");
    }
    c->env = env;
    c->building = 1;
    c->b = b;
    c->chunk_tokens = chunk;
    c->chunk_overlap = overlap;
    b->t0 = ds__now();
    b->progress = DS_OPT(opts, progress, NULL);
    b->progress_ud = DS_OPT(opts, progress_ud, NULL);
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
        eo.progress_ud = b;
        rc = ds_encoder_open(env, model_dir, &eo, &c->enc);
        if (rc == DS_OK && ds_encoder_kind_of(c->enc) != DS_ENCODER_EMBED)
            rc = ds__fail(DS_ERR_INVALID, "%s: a collection needs an embedding model; this one is a %s", model_dir,
                          ds_encoder_kind_of(c->enc) == DS_ENCODER_CROSS ? "cross-encoder (use it with --rerank)"
                                                                         : "SPLADE sparse encoder");
        if (rc == DS_OK && (b->tok = ds_encoder_tokenizer(c->enc)) == NULL)
            rc = ds__fail(DS_ERR_INVALID, "%s: the model has no tokenizer", model_dir);
        if (rc == DS_OK) {
            b->cls = ds_tokenizer_special(b->tok, DS_TOKEN_CLS);
            b->sep = ds_tokenizer_special(b->tok, DS_TOKEN_SEP);
            b->max_seq = ds_encoder_max_seq_length(c->enc);
            dim = ds_encoder_dim(c->enc);
            if (chunk > 0 && (b->cls < 0 || b->sep < 0))
                rc = ds__fail(DS_ERR_UNSUPPORTED, "%s: passages need a tokenizer with [CLS] and [SEP]", model_dir);
            else if (chunk > 0 && chunk + 2 > b->max_seq)
                rc = ds__fail(DS_ERR_INVALID, "chunk_tokens %zu is beyond the model's %zu tokens (at most %zu plus [CLS] and [SEP])",
                              chunk, b->max_seq, b->max_seq - 2);
        }
        if (rc == DS_OK) {
            rc = identity_of(c->enc, model_dir, &c->ident, 1);
            c->has_identity = rc == DS_OK;
        }
    }
    c->dim = dim;
    b->precomputed = model_dir == NULL && dim > 0;
    if (dim > 0) {
        const ds_index_opts *vo = DS_OPT(opts, vectors, NULL);
        if (vo) {
            ds_index_opts_init(&b->vopts);
            memcpy(&b->vopts, vo, DS_MIN(vo->struct_size, sizeof b->vopts));
            b->vopts.struct_size = sizeof b->vopts;
        } else {
            ds_index_opts_init(&b->vopts);
            b->vopts.type = DS_INDEX_HNSW;
            b->vopts.metric = DS_METRIC_COSINE;
        }
    }

    if (rc == DS_OK) {
        char name[32];
        for (unsigned n = next_segment_number(dir);; n++) {
            snprintf(name, sizeof name, "seg-%06u", n);
            str_free(env, b->seg_dir);
            if ((b->seg_dir = path_join(env, dir, name)) == NULL) { rc = ds__fail(DS_ERR_NOMEM, "out of memory"); break; }
            if (mkdir(b->seg_dir, 0755) == 0) break;
            if (errno != EEXIST || n > 999990) {
                rc = ds__fail(DS_ERR_IO, "%s: %s", b->seg_dir, strerror(errno));
                str_free(env, b->seg_dir);
                b->seg_dir = NULL;
                break;
            }
        }
        if (rc == DS_OK && (c->seg_name = ds__strdup(env, name)) == NULL) rc = ds__fail(DS_ERR_NOMEM, "out of memory");
    }
    ds_lexical_opts lo;
    const ds_lexical_opts *ul = DS_OPT(opts, lexical, NULL);
    ds_lexical_opts_init(&lo);
    if (ul) memcpy(&lo, ul, DS_MIN(ul->struct_size, sizeof lo));
    lo.struct_size = sizeof lo;
    int store = lo.store_text;
    lo.store_text = 0;          /* the document store keeps the text */
    lo.progress = NULL;
    if (rc == DS_OK) rc = ds_lexical_builder_create(env, b->seg_dir, &lo, &b->lb);
    if (rc == DS_OK) rc = ds__docstore_writer_init(&b->dw, env, b->seg_dir, store);
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
static ds_status flush_passages(ds_collection *c) {
    ds__coll_build *b = c->b;
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

static ds_status push_passage(ds_collection *c, const int32_t *body, size_t n) {
    ds__coll_build *b = c->b;
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
    if (b->n_pending >= ENCODE_BATCH_PASSAGES || b->n_tokens >= ENCODE_BATCH_TOKENS) return flush_passages(c);
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
static ds_status queue_document(ds_collection *c, const ds_doc *doc, uint32_t *n_passages) {
    ds__coll_build *b = c->b;
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
        return push_passage(c, b->scratch, n);
    }
    /* windows over the tokens between [CLS] and [SEP] */
    size_t nspec = ds_tokenizer_num_special(b->tok, 0);
    const int32_t *body = b->scratch + (nspec > 0 ? 1 : 0);
    size_t nb = n >= nspec ? n - nspec : 0, step = c->chunk_tokens - c->chunk_overlap;
    uint32_t np = 0;
    for (size_t at = 0;; at += step) {
        size_t end = DS_MIN(nb, at + c->chunk_tokens);
        if ((rc = push_passage(c, body + at, end - at)) != DS_OK) return rc;
        np++;
        if (end >= nb) break;
    }
    *n_passages = np;
    return DS_OK;
}

ds_status ds_collection_add(ds_collection *c, const ds_doc *doc, const float *embedding) {
    if (c == NULL || doc == NULL || doc->id == NULL) return ds__fail(DS_ERR_INVALID, "ds_collection_add: NULL argument");
    if (!c->building) return ds__fail(DS_ERR_UNSUPPORTED, "%s: adding to a committed collection is not supported yet (one build per collection)", c->dir);
    ds__coll_build *b = c->b;
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
    if (c->enc) rc = queue_document(c, doc, &np);
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

static ds_status write_manifest(ds_collection *c, const ds_index_opts *vo) {
    ds__coll_build *b = c->b;
    cJSON *m = cJSON_CreateObject();
    if (m == NULL) return ds__fail(DS_ERR_NOMEM, "out of memory");
    cJSON_AddNumberToObject(m, "format", 1);
    char writer[64];
    snprintf(writer, sizeof writer, "densearch %s", ds_version_string());
    cJSON_AddStringToObject(m, "writer", writer);
    cJSON *segs = cJSON_AddArrayToObject(m, "segments");
    cJSON *s = cJSON_CreateObject();
    cJSON_AddStringToObject(s, "name", c->seg_name);
    cJSON_AddNumberToObject(s, "docs", (double)b->n_docs);
    cJSON_AddNumberToObject(s, "passages", (double)b->n_passages);
    cJSON_AddItemToArray(segs, s);
    cJSON_AddNumberToObject(m, "docs", (double)b->n_docs);
    cJSON_AddNumberToObject(m, "passages", (double)b->n_passages);
    if (c->dim > 0) {
        cJSON *v = cJSON_AddObjectToObject(m, "vectors");
        cJSON_AddStringToObject(v, "type", index_type_name(vo->type));
        cJSON_AddStringToObject(v, "metric", metric_name(vo->metric));
        cJSON_AddNumberToObject(v, "dim", (double)c->dim);
        cJSON_AddStringToObject(v, "source", b->precomputed ? "precomputed" : "encoder");
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
    if (text == NULL) return ds__fail(DS_ERR_NOMEM, "out of memory");
    char *path = path_join(c->env, c->dir, "MANIFEST");
    ds__cwriter *cw = NULL;
    ds_status rc = path ? ds__cw_open_locked(c->env, path, c->lock, DS__CMAN_KIND, DS__CMAN_MAJOR, DS__CMAN_MINOR, 0, &cw)
                        : ds__fail(DS_ERR_NOMEM, "out of memory");
    if (rc == DS_OK) rc = ds__cw_section(cw, DS__SEC_CMTA, DS_SECTION_REQUIRED, text, strlen(text));
    if (rc == DS_OK) rc = ds__cw_commit(cw);
    else ds__cw_abort(cw);
    cJSON_free(text);
    str_free(c->env, path);
    return rc;
}

/* Removes segment directories other than keep (superseded or orphaned). */
static void remove_other_segments(const char *dir, const char *keep) {
    DIR *d = opendir(dir);
    if (d == NULL) return;
    struct dirent *e;
    char p[PATH_MAX];
    while ((e = readdir(d)) != NULL) {
        unsigned n;
        if (sscanf(e->d_name, "seg-%u", &n) != 1 || strcmp(e->d_name, keep) == 0) continue;
        if ((size_t)snprintf(p, sizeof p, "%s/%s", dir, e->d_name) < sizeof p) remove_segment(p);
    }
    closedir(d);
    /* a pre-collection index in the same directory is superseded too */
    if ((size_t)snprintf(p, sizeof p, "%s/lexical.dsx", dir) < sizeof p) unlink(p);
}

static ds_status open_parts(ds_collection *c, const char *seg_dir, unsigned flags, int want_vectors);

ds_status ds_collection_commit(ds_collection *c, ds_collection_stats *stats) {
    if (stats) memset(stats, 0, sizeof *stats);
    if (c == NULL) return ds__fail(DS_ERR_INVALID, "ds_collection_commit: NULL collection");
    if (!c->building) return ds__fail(DS_ERR_UNSUPPORTED, "%s: the collection is already committed", c->dir);
    ds__coll_build *b = c->b;
    if (b->rc != DS_OK) return b->rc;
    ds_status rc = DS_OK;
    if (b->n_docs == 0) return b->rc = ds__fail(DS_ERR_INVALID, "%s: no documents were added", c->dir);
    if (c->enc) rc = flush_passages(c);
    double t = ds__now();
    if (rc == DS_OK) {
        rc = ds_lexical_finish(b->lb, NULL);
        b->lb = NULL;   /* freed by finish, also on failure */
    }
    double t_lex = ds__now() - t;
    if (rc == DS_OK) rc = ds__docstore_finish(&b->dw);
    t = ds__now();
    ds_index *ix = NULL;
    if (rc == DS_OK && c->dim > 0) {
        if (b->n_vecs != b->n_passages)
            rc = ds__fail(DS_ERR_INTERNAL, "%llu embeddings for %llu passages", (unsigned long long)b->n_vecs,
                          (unsigned long long)b->n_passages);
        if (rc == DS_OK) rc = ds_index_create(c->env, c->dim, &b->vopts, &ix);
        if (rc == DS_OK) rc = ds_index_train(ix, b->vecs, b->n_vecs);
        if (rc == DS_OK) rc = ds_index_add(ix, b->vecs, b->n_vecs, NULL);
        char *vp = rc == DS_OK ? path_join(c->env, b->seg_dir, "vectors.dsx") : NULL;
        if (rc == DS_OK && vp == NULL) rc = ds__fail(DS_ERR_NOMEM, "out of memory");
        if (rc == DS_OK) rc = ds_index_save(ix, vp);
        str_free(c->env, vp);
    }
    double t_vec = ds__now() - t;
    if (rc == DS_OK) rc = write_manifest(c, &b->vopts);
    if (rc != DS_OK) {
        ds_index_close(ix);
        return b->rc = rc;
    }
    /* published: from here on failures cannot unpublish, only be reported */
    remove_other_segments(c->dir, c->seg_name);
    c->vec_type = ds__strdup(c->env, c->dim > 0 ? index_type_name(b->vopts.type) : "none");
    char *seg = b->seg_dir;
    b->seg_dir = NULL;
    if (stats) {
        stats->n_docs = b->n_docs;
        stats->n_passages = b->n_passages;
        stats->n_skipped = b->n_skipped;
        stats->t_encode = b->t_encode;
        stats->t_lexical = t_lex;
        stats->t_vectors = t_vec;
        stats->t_total = ds__now() - b->t0;
    }
    if (c->enc) {   /* its progress callback points into the build state */
        c->enc->progress = NULL;
        c->enc->progress_ud = NULL;
    }
    build_free(c->env, b);
    c->b = NULL;
    c->building = 0;
    c->vx = ix;
    rc = open_parts(c, seg, 0, 0);
    if (stats && rc == DS_OK) {
        struct stat st;
        char p[PATH_MAX];
        static const char *files[] = { "lexical.dsx", "docs.dsx", "vectors.dsx" };
        for (size_t i = 0; i < 3; i++)
            if ((size_t)snprintf(p, sizeof p, "%s/%s", seg, files[i]) < sizeof p && stat(p, &st) == 0) stats->bytes += (uint64_t)st.st_size;
    }
    str_free(c->env, seg);
    ds__wlock_release(c->lock);
    c->lock = NULL;
    return rc;
}

/* ---- opening ---------------------------------------------------------------------- */

static ds_status open_parts(ds_collection *c, const char *seg_dir, unsigned flags, int want_vectors) {
    char *p = path_join(c->env, seg_dir, "docs.dsx");
    if (p == NULL) return ds__fail(DS_ERR_NOMEM, "out of memory");
    ds_status rc = ds_lexical_open(c->env, seg_dir, flags, &c->lx);
    if (rc == DS_OK) rc = ds__docstore_open(c->env, p, flags, &c->ds);
    str_free(c->env, p);
    if (rc == DS_OK && want_vectors) {
        if ((p = path_join(c->env, seg_dir, "vectors.dsx")) == NULL) return ds__fail(DS_ERR_NOMEM, "out of memory");
        rc = ds_index_open(c->env, p, flags, &c->vx);
        str_free(c->env, p);
    }
    if (rc != DS_OK) return rc;
    if (ds_lexical_n_docs(c->lx) != c->ds->n_docs)
        return ds__fail(DS_ERR_CORRUPT, "%s: lexical.dsx has %llu documents, docs.dsx %u", seg_dir,
                        (unsigned long long)ds_lexical_n_docs(c->lx), c->ds->n_docs);
    if (c->vx && (ds_index_size(c->vx) != c->ds->n_passages || ds_index_dim(c->vx) != c->dim))
        return ds__fail(DS_ERR_CORRUPT, "%s: vectors.dsx holds %llu vectors of %zu dimensions, the collection %llu of %zu",
                        seg_dir, (unsigned long long)ds_index_size(c->vx), ds_index_dim(c->vx),
                        (unsigned long long)c->ds->n_passages, c->dim);
    return DS_OK;
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

static ds_status open_manifest(ds_collection *c, const char *mpath, const ds_collection_open_opts *o) {
    unsigned flags = DS_OPT(o, flags, 0);
    ds__creader *cr = NULL;
    ds_status rc = ds__cr_open(c->env, mpath, DS__CMAN_KIND, flags | DS_OPEN_VERIFY, &cr);
    if (rc != DS_OK) return rc;
    static const uint32_t known[] = { DS__SEC_CMTA };
    const uint8_t *p;
    uint64_t len;
    cJSON *m = NULL;
    if ((rc = ds__cr_check_known(cr, known, 1)) == DS_OK && cr->format_major != DS__CMAN_MAJOR)
        rc = ds__fail(DS_ERR_FORMAT, "%s: collection format %u.%u, this library reads %u.x", mpath, cr->format_major,
                      cr->format_minor, DS__CMAN_MAJOR);
    if (rc == DS_OK) rc = ds__cr_get(cr, DS__SEC_CMTA, &p, &len);
    if (rc == DS_OK && (m = cJSON_ParseWithLength((const char *)p, (size_t)len)) == NULL)
        rc = ds__fail(DS_ERR_CORRUPT, "%s: the manifest is not valid JSON", mpath);
    const cJSON *segs = m ? cJSON_GetObjectItemCaseSensitive(m, "segments") : NULL;
    const cJSON *seg = cJSON_IsArray(segs) ? cJSON_GetArrayItem(segs, 0) : NULL;
    const char *name = seg ? jstr(seg, "name") : NULL;
    unsigned segno;
    if (rc == DS_OK && (name == NULL || sscanf(name, "seg-%u", &segno) != 1 || strchr(name, '/') || strlen(name) > 16))
        rc = ds__fail(DS_ERR_CORRUPT, "%s: no valid segment", mpath);
    if (rc == DS_OK && cJSON_GetArraySize(segs) != 1)
        rc = ds__fail(DS_ERR_UNSUPPORTED, "%s: %d segments; this version opens collections of one segment", mpath,
                      cJSON_GetArraySize(segs));
    const cJSON *vec = m ? cJSON_GetObjectItemCaseSensitive(m, "vectors") : NULL;
    const cJSON *enc = m ? cJSON_GetObjectItemCaseSensitive(m, "encoder") : NULL;
    double dim = 0, ct = 0, co = 0;
    if (rc == DS_OK && cJSON_IsObject(vec)) {
        const char *type = jstr(vec, "type");
        if (type == NULL || !jnum(vec, "dim", 1, 1e7, &dim))
            rc = ds__fail(DS_ERR_CORRUPT, "%s: the vectors record is incomplete", mpath);
        else c->vec_type = ds__strdup(c->env, type);
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
    if (rc == DS_OK && (c->seg_name = ds__strdup(c->env, name)) == NULL) rc = ds__fail(DS_ERR_NOMEM, "out of memory");
    cJSON_Delete(m);
    ds__cr_close(cr);
    if (rc != DS_OK) return rc;
    char *sd = path_join(c->env, c->dir, c->seg_name);
    if (sd == NULL) return ds__fail(DS_ERR_NOMEM, "out of memory");
    rc = open_parts(c, sd, flags, c->dim > 0);
    str_free(c->env, sd);
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
            rc = open_manifest(c, mp, opts);
        } else if (is_file(lp) || (access(dir, F_OK) == 0 && !is_dir(dir))) {
            /* a BM25 index from before collections: its own ids and text */
            c->legacy = 1;
            if (DS_OPT(opts, model_dir, NULL) != NULL)
                rc = ds__fail(DS_ERR_INVALID, "%s is a BM25-only index; it has no vectors for %s", dir, DS_OPT(opts, model_dir, NULL));
            if (rc == DS_OK) rc = ds_lexical_open(env, dir, DS_OPT(opts, flags, 0), &c->lx);
            if (rc == DS_OK) rc = ds__docstore_from_lexical(env, c->lx, &c->ds);
            if (rc == DS_OK) c->vec_type = ds__strdup(env, "none");
        } else if (!is_dir(dir)) {
            rc = ds__fail(DS_ERR_NOTFOUND, "%s: no such collection", dir);
        } else {
            rc = ds__fail(DS_ERR_NOTFOUND, "%s: not a collection (no MANIFEST and no lexical.dsx)", dir);
        }
    }
    str_free(env, mp);
    str_free(env, lp);
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
    build_free(env, c->b);
    ds_encoder_close(c->enc);
    ds_index_close(c->vx);
    ds__docstore_close(c->ds);
    ds_lexical_close(c->lx);
    ds__wlock_release(c->lock);
    str_free(env, c->enc_note);
    str_free(env, c->vec_type);
    str_free(env, c->seg_name);
    str_free(env, c->dir);
    ds__free(env, c, sizeof *c);
}

/* ---- getters --------------------------------------------------------------------- */

uint64_t ds_collection_n_docs(const ds_collection *c) {
    return c && c->ds ? c->ds->n_docs : 0;
}
uint64_t ds_collection_n_passages(const ds_collection *c) {
    return c && c->ds ? c->ds->n_passages : 0;
}
size_t ds_collection_dim(const ds_collection *c) {
    return c ? c->dim : 0;
}
const ds_encoder *ds_collection_encoder(const ds_collection *c) {
    return c ? c->enc : NULL;
}
const char *ds_collection_doc_id(const ds_collection *c, uint32_t doc, size_t *len) {
    if (len) *len = 0;
    if (c == NULL || c->ds == NULL) return NULL;
    return ds__docstore_id(c->ds, doc, len);
}
ds_status ds_collection_find(const ds_collection *c, const char *id, size_t len, uint32_t *doc) {
    if (doc) *doc = UINT32_MAX;
    if (c == NULL || id == NULL || doc == NULL) return ds__fail(DS_ERR_INVALID, "ds_collection_find: NULL argument");
    if (c->ds == NULL) return ds__fail(DS_ERR_INVALID, "ds_collection_find: the collection is not committed");
    if (ds__docstore_find(c->ds, id, len, doc) != DS_OK)
        return ds__fail(DS_ERR_NOTFOUND, "no document with id '%.*s'", (int)DS_MIN(len, 200), id);
    return DS_OK;
}
ds_status ds_collection_doc(const ds_collection *c, uint32_t doc, char **title, size_t *title_len, char **text,
                            size_t *text_len) {
    if (title) *title = NULL;
    if (text) *text = NULL;
    if (title_len) *title_len = 0;
    if (text_len) *text_len = 0;
    if (c == NULL || c->ds == NULL) return ds__fail(DS_ERR_INVALID, "ds_collection_doc: no committed collection");
    return ds__docstore_doc(c->ds, doc, title, title_len, text, text_len);
}

ds_status ds_collection_filter(const ds_collection *c, const char *const *ids, const size_t *lens, size_t n,
                               uint8_t **bitmap, uint64_t *bits, size_t *n_unknown) {
    if (bitmap) *bitmap = NULL;
    if (bits) *bits = 0;
    if (n_unknown) *n_unknown = 0;
    if (c == NULL || bitmap == NULL || bits == NULL || (n > 0 && ids == NULL))
        return ds__fail(DS_ERR_INVALID, "ds_collection_filter: NULL argument");
    if (c->ds == NULL) return ds__fail(DS_ERR_INVALID, "ds_collection_filter: the collection is not committed");
    size_t nb = ((size_t)c->ds->n_docs + 7) / 8;
    uint8_t *m = calloc(nb ? nb : 1, 1);   /* ds_free */
    if (m == NULL) return ds__fail(DS_ERR_NOMEM, "out of memory");
    size_t unknown = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t d;
        if (ids[i] == NULL) { unknown++; continue; }
        size_t l = lens ? lens[i] : strlen(ids[i]);
        if (ds__docstore_find(c->ds, ids[i], l, &d) == DS_OK) m[d >> 3] |= (uint8_t)(1u << (d & 7));
        else unknown++;
    }
    *bitmap = m;
    *bits = c->ds->n_docs;
    if (n_unknown) *n_unknown = unknown;
    return DS_OK;
}

ds_status ds_collection_info(const ds_collection *c, char **json) {
    if (json) *json = NULL;
    if (c == NULL || json == NULL) return ds__fail(DS_ERR_INVALID, "ds_collection_info: NULL argument");
    if (c->ds == NULL) return ds__fail(DS_ERR_INVALID, "ds_collection_info: the collection is not committed");
    cJSON *m = cJSON_CreateObject();
    if (m == NULL) return ds__fail(DS_ERR_NOMEM, "out of memory");
    cJSON_AddStringToObject(m, "path", c->dir);
    cJSON_AddStringToObject(m, "layout", c->legacy ? "bm25 index (before collections)" : "collection 1.0");
    cJSON_AddNumberToObject(m, "docs", (double)c->ds->n_docs);
    cJSON_AddNumberToObject(m, "passages", (double)c->ds->n_passages);
    cJSON_AddBoolToObject(m, "stored_text", c->ds->has_text);
    cJSON *lx = cJSON_AddObjectToObject(m, "lexical");
    cJSON_AddNumberToObject(lx, "terms", (double)ds_lexical_n_terms(c->lx));
    /* f32 parameters printed as the decimal the user gave, not 0.899999976 */
    cJSON_AddNumberToObject(lx, "k1", round(c->lx->meta.k1 * 1e6) / 1e6);
    cJSON_AddNumberToObject(lx, "b", round(c->lx->meta.b * 1e6) / 1e6);
    cJSON_AddStringToObject(lx, "stemmer", c->lx->meta.an.stemmer);
    cJSON_AddBoolToObject(lx, "stopwords", (c->lx->meta.an.flags & DS__AN_STOPWORDS) != 0);
    if (c->vx) {
        cJSON *v = cJSON_AddObjectToObject(m, "vectors");
        cJSON_AddStringToObject(v, "type", c->vec_type ? c->vec_type : "?");
        cJSON_AddStringToObject(v, "metric", metric_name(ds_index_metric(c->vx)));
        cJSON_AddNumberToObject(v, "dim", (double)c->dim);
        cJSON_AddNumberToObject(v, "size", (double)ds_index_size(c->vx));
        cJSON_AddNumberToObject(v, "memory_bytes", (double)ds_index_memory_bytes(c->vx));
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
    char *s = cJSON_Print(m);
    cJSON_Delete(m);
    if (s == NULL) return ds__fail(DS_ERR_NOMEM, "out of memory");
    *json = strdup(s);   /* ds_free releases with libc free */
    cJSON_free(s);
    return *json ? DS_OK : ds__fail(DS_ERR_NOMEM, "out of memory");
}
