/* live.c -- writes to an open collection: upsert, delete, flush, compact and
** the background merger (densearch.h "Live collections", docs/format.md §4).
**
** A write batch is appended to the log (wal.c), made durable by a group
** commit, and applied in log order: an upsert batch becomes a new segment
** of its own (written and fsynced like any segment, but not yet named by
** the MANIFEST), and replaced or deleted documents get tombstones in the
** segments that hold them. Publishing writes a MANIFEST naming the current
** segments, their tombstones and the last applied log record, then trims
** the log: after a crash, opening replays the records past it. The merger
** thread publishes on a timer and rewrites runs of small adjacent segments
** (and mostly deleted ones) into one, keeping document order, so the
** collection always ranks as a fresh build of its live documents would.
**
** Locks, always taken in this order:
**   apply_mu  one writer applies (or publishes, or installs a merge) at a
**             time, in log order (applied_cv hands over by LSN);
**   rw        the segment list and tombstones: searches read-lock it for
**             their whole run, appliers write-lock it to change them.
** wal.c orders appends itself; the merger builds outside both locks.
*/
#include "collection/collection.h"
#include "collection/wal.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define REC_UPSERT 1
#define REC_DELETE 2
#define MAX_BATCH_BYTES (512u << 20)    /* a log record stays well under wal.c's bound */
#define MERGE_FACTOR    10u             /* adjacent segments of one size tier merged at once */
#define MERGE_IDLE_MS   200u

struct ds__live {
    pthread_rwlock_t rw;
    pthread_mutex_t  apply_mu;
    pthread_cond_t   applied_cv;
    uint64_t         applied;          /* last LSN applied                     */
    int              dirty;            /* applied changes not yet published    */
    ds__wal         *wal;
    ds__analyzer    *an;               /* tombstones; used under apply_mu      */
    ds_status        broken;           /* sticky: writes refused until reopen  */
    char             broken_msg[256];
    size_t           flush_docs;
    double           flush_seconds;
    uint64_t         unpublished_docs;
    double           oldest_unpublished;
    char           **obsolete;         /* published segments merged away: removed after the next publish */
    size_t           n_obsolete;
    uint64_t         n_flushes, n_merges;
    int              no_merge;
    ds_lexical_opts  lo;               /* new segments are analysed as the first was */
    char             stemmer[32];
    pthread_mutex_t  merge_mu;         /* one merge at a time (merger or compact) */
    pthread_mutex_t  sleep_mu;
    pthread_cond_t   sleep_cv;
    int              stop, have_thread;
    pthread_t        thread;
};

/* ---- locking ---------------------------------------------------------------- */

void ds__coll_read_lock(const ds_collection *c) {
    if (c->live) pthread_rwlock_rdlock(&c->live->rw);
}
void ds__coll_read_unlock(const ds_collection *c) {
    if (c->live) pthread_rwlock_unlock(&c->live->rw);
}

static void wr_lock(ds__live *l) { pthread_rwlock_wrlock(&l->rw); }
static void wr_unlock(ds__live *l) { pthread_rwlock_unlock(&l->rw); }

void ds_write_opts_init(ds_write_opts *o) {
    memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
    o->wait = 1;
}

/* ---- record payloads ---------------------------------------------------------- */
/* upsert: u32 n, u32 dim (0: no embeddings), then per document u32 id, title
** and text lengths and their bytes, then n x dim f32 embeddings.
** delete: u32 n, then per id u32 length and bytes. */

typedef struct rd { const uint8_t *p; size_t len, at; int bad; } rd;

static uint32_t rd_u32(rd *r) {
    if (r->len - r->at < 4) { r->bad = 1; return 0; }
    uint32_t v = ds__load_u32le(r->p + r->at);
    r->at += 4;
    return v;
}
static const char *rd_bytes(rd *r, size_t n) {
    if (r->len - r->at < n) { r->bad = 1; return ""; }
    const char *s = (const char *)r->p + r->at;
    r->at += n;
    return s;
}

static ds_status parse_upsert(const uint8_t *p, size_t len, ds_doc **docs, size_t *n, const float **emb, size_t *dim) {
    rd r = { p, len, 0, 0 };
    uint32_t nd = rd_u32(&r), dm = rd_u32(&r);
    *docs = NULL;
    *n = 0;
    *emb = NULL;
    *dim = dm;
    if (r.bad || nd > len / 12) return ds__fail(DS_ERR_CORRUPT, "log: bad upsert record");
    ds_doc *d = calloc(nd ? nd : 1, sizeof *d);
    if (d == NULL) return ds__fail(DS_ERR_NOMEM, "out of memory");
    for (uint32_t i = 0; i < nd && !r.bad; i++) {
        uint32_t il = rd_u32(&r), tl = rd_u32(&r), xl = rd_u32(&r);
        d[i].id = rd_bytes(&r, il);
        d[i].id_len = il;
        d[i].title = rd_bytes(&r, tl);
        d[i].title_len = tl;
        d[i].text = rd_bytes(&r, xl);
        d[i].text_len = xl;
    }
    if (!r.bad && dm > 0) {
        size_t bytes;
        if (!ds__mul_ok((size_t)nd, (size_t)dm * 4, &bytes) || r.len - r.at != bytes) r.bad = 1;
        else *emb = (const float *)(const void *)(p + r.at);   /* wal.c hands out 8-aligned payloads? copied below */
        r.at = r.len;
    }
    if (r.bad || r.at != r.len) {
        free(d);
        return ds__fail(DS_ERR_CORRUPT, "log: bad upsert record");
    }
    *docs = d;
    *n = nd;
    return DS_OK;
}

/* ---- applying ------------------------------------------------------------------- */

static void remove_dir_files(const char *dir);

static ds_status set_broken(ds__live *l, ds_status rc) {
    if (l->broken == DS_OK) {
        l->broken = rc;
        snprintf(l->broken_msg, sizeof l->broken_msg, "%s", ds_errmsg());
    }
    return rc;
}

/* Writes one upsert batch as a new segment, unpublished and not yet in the
** list: no lock is needed, so concurrent writers build their batches in
** parallel and only install them in log order. */
static ds_status build_batch(ds_collection *c, const ds_doc *docs, size_t n, const float *emb, ds__seg **out) {
    ds__live *l = c->live;
    *out = NULL;
    char name[32], *dir = NULL;
    ds__coll_build *b = NULL;
    ds_status rc = ds__coll_new_segment_dir(c, name, &dir);
    if (rc == DS_OK) rc = ds__coll_build_begin(c, dir, &l->lo, 1, &b);
    for (size_t i = 0; i < n && rc == DS_OK; i++) rc = ds__coll_build_add(c, b, &docs[i], emb ? emb + i * c->dim : NULL);
    if (rc == DS_OK) {
        ds_index_opts vo;
        ds__coll_vector_opts(c, ds__coll_build_docs(b), &vo);
        ds__afile_defer_sync(1);   /* the log holds the batch; publishing fsyncs the segment */
        rc = ds__coll_build_finish(c, b, &vo);
        ds__afile_defer_sync(0);
    }
    ds__coll_build_free(c->env, b, rc != DS_OK);
    if (rc == DS_OK) rc = ds__seg_open(c, name, 0, out);
    if (rc != DS_OK && dir) remove_dir_files(dir);   /* a half-written segment: nothing names it */
    ds__str_free(c->env, dir);
    return rc;
}

static void drop_segment(ds_collection *c, ds__seg *s) {
    if (s == NULL) return;
    char *p = ds__path_join(c->env, c->dir, s->name);
    ds__seg_close(c->env, s);
    if (p) remove_dir_files(p);
    ds__str_free(c->env, p);
}

/* Deletes the older versions of the batch's documents and appends its
** segment; caller holds apply_mu. */
static ds_status install_upsert(ds_collection *c, const ds_doc *docs, size_t n, ds__seg *seg, ds_write_result *res) {
    ds__live *l = c->live;
    ds__seg **list = ds__alloc(c->env, (c->n_seg + 1) * sizeof *list, 8);
    if (list == NULL) return ds__fail(DS_ERR_NOMEM, "out of memory");
    ds_status rc = DS_OK;
    wr_lock(l);
    size_t replaced = 0;
    for (size_t i = 0; i < n && rc == DS_OK; i++) {
        ds__seg *s;
        uint32_t d;
        if (ds__coll_find_locked(c, docs[i].id, docs[i].id_len, &s, &d, NULL) == DS_OK) {
            rc = ds__seg_kill(c, s, d, l->an);
            replaced++;
        }
    }
    if (rc == DS_OK) {
        memcpy(list, c->seg, c->n_seg * sizeof *list);
        list[c->n_seg] = seg;
        ds__free(c->env, c->seg, c->n_seg * sizeof *c->seg);
        c->seg = list;
        c->n_seg++;
    }
    ds__coll_recount(c);
    wr_unlock(l);
    if (rc != DS_OK) {   /* the writer is broken now; reopening replays the batch */
        ds__free(c->env, list, (c->n_seg + 1) * sizeof *list);
        return rc;
    }
    if (res) {
        res->n_replaced += replaced;
        res->n_added += n - replaced;
    }
    if (l->unpublished_docs == 0) l->oldest_unpublished = ds__now();
    l->unpublished_docs += n;
    l->dirty = 1;
    return DS_OK;
}

static ds_status apply_delete(ds_collection *c, const uint8_t *p, size_t len, ds_write_result *res) {
    ds__live *l = c->live;
    rd r = { p, len, 0, 0 };
    uint32_t n = rd_u32(&r);
    ds_status rc = DS_OK;
    size_t found = 0, missing = 0;
    wr_lock(l);
    for (uint32_t i = 0; i < n && !r.bad && rc == DS_OK; i++) {
        uint32_t il = rd_u32(&r);
        const char *id = rd_bytes(&r, il);
        if (r.bad) break;
        ds__seg *s;
        uint32_t d;
        if (ds__coll_find_locked(c, id, il, &s, &d, NULL) == DS_OK) {
            rc = ds__seg_kill(c, s, d, l->an);
            found++;
        } else {
            missing++;
        }
    }
    ds__coll_recount(c);
    wr_unlock(l);
    if (rc == DS_OK && (r.bad || r.at != r.len)) rc = ds__fail(DS_ERR_CORRUPT, "log: bad delete record");
    if (res) {
        res->n_deleted += found;
        res->n_missing += missing;
    }
    if (found) {
        if (l->unpublished_docs == 0) l->oldest_unpublished = ds__now();
        l->unpublished_docs += found;
        l->dirty = 1;
    }
    return rc;
}

/* A log record made ready to install: an upsert's documents and its built
** segment (built without locks). */
typedef struct prepared {
    uint8_t        type;
    const uint8_t *p;
    size_t         len;
    ds_doc        *docs;
    size_t         n;
    ds__seg       *seg;
} prepared;

static ds_status prepare_record(ds_collection *c, uint8_t type, const uint8_t *p, size_t len, prepared *pr) {
    memset(pr, 0, sizeof *pr);
    pr->type = type;
    pr->p = p;
    pr->len = len;
    if (type == REC_DELETE) return DS_OK;
    if (type != REC_UPSERT) return ds__fail(DS_ERR_CORRUPT, "log: unknown record type %u", type);
    size_t dim = 0;
    const float *emb = NULL;
    float *copy = NULL;
    ds_status rc = parse_upsert(p, len, &pr->docs, &pr->n, &emb, &dim);
    if (rc == DS_OK && dim != (c->precomputed ? c->dim : 0))
        rc = ds__fail(DS_ERR_CORRUPT, "log: upsert record with %zu-dimensional embeddings, the collection takes %zu", dim,
                      c->precomputed ? c->dim : (size_t)0);
    if (rc == DS_OK && emb != NULL) {   /* the payload need not be aligned for floats */
        if ((copy = malloc(pr->n * dim * sizeof *copy)) == NULL) rc = ds__fail(DS_ERR_NOMEM, "out of memory");
        else memcpy(copy, emb, pr->n * dim * sizeof *copy);
    }
    if (rc == DS_OK && pr->n > 0) rc = build_batch(c, pr->docs, pr->n, copy, &pr->seg);
    free(copy);
    return rc;
}

static void prepared_release(ds_collection *c, prepared *pr) {
    drop_segment(c, pr->seg);   /* not installed */
    free(pr->docs);
    memset(pr, 0, sizeof *pr);
}

/* Installs a prepared record; caller holds apply_mu. */
static ds_status install_record(ds_collection *c, prepared *pr, ds_write_result *res) {
    if (pr->type == REC_DELETE) return apply_delete(c, pr->p, pr->len, res);
    if (pr->seg == NULL) return DS_OK;   /* an empty batch */
    ds_status rc = install_upsert(c, pr->docs, pr->n, pr->seg, res);
    if (rc == DS_OK) pr->seg = NULL;     /* the list owns it */
    return rc;
}

/* ---- publishing ------------------------------------------------------------------ */

/* fsyncs a segment written with deferred syncs: its files and directory. */
static ds_status sync_segment(ds_collection *c, const ds__seg *s) {
    char p[4096];
    static const char *files[] = { "lexical.dsx", "docs.dsx", "vectors.dsx" };
    ds_status rc = DS_OK;
    for (size_t i = 0; i < 3 && rc == DS_OK; i++) {
        if ((size_t)snprintf(p, sizeof p, "%s/%s/%s", c->dir, s->name, files[i]) >= sizeof p)
            return ds__fail(DS_ERR_RANGE, "%s: path too long", c->dir);
        int fd = open(p, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            if (errno == ENOENT && i == 2) break;   /* BM25 only */
            return ds__fail(DS_ERR_IO, "%s: %s", p, strerror(errno));
        }
        if (fsync(fd) != 0) rc = ds__fail(DS_ERR_IO, "%s: fsync failed: %s", p, strerror(errno));
        close(fd);
    }
    if (rc == DS_OK && (size_t)snprintf(p, sizeof p, "%s/%s/lexical.dsx", c->dir, s->name) < sizeof p) rc = ds__fsync_dir_of(p);
    return rc;
}

/* Writes a MANIFEST for what is applied and trims the log; caller holds apply_mu. */
static ds_status publish_locked(ds_collection *c) {
    ds__live *l = c->live;
    if (!l->dirty && c->lsn == l->applied) return DS_OK;
    ds_status rc = DS_OK;
    for (size_t i = 0; i < c->n_seg && rc == DS_OK; i++)
        if (!c->seg[i]->published) rc = sync_segment(c, c->seg[i]);
    /* the segment directories' names in the collection directory are made
    ** durable by the MANIFEST's own directory fsync */
    if (rc == DS_OK) rc = ds__wal_rotate(l->wal);
    if (rc == DS_OK) rc = ds__coll_write_manifest(c, l->applied);
    if (rc != DS_OK) return rc;
    l->dirty = 0;
    l->unpublished_docs = 0;
    l->n_flushes++;
    rc = ds__wal_trim(l->wal, l->applied);
    for (size_t i = 0; i < l->n_obsolete; i++) {
        char *p = ds__path_join(c->env, c->dir, l->obsolete[i]);
        if (p) remove_dir_files(p);
        ds__str_free(c->env, p);
        ds__str_free(c->env, l->obsolete[i]);
    }
    free(l->obsolete);
    l->obsolete = NULL;
    l->n_obsolete = 0;
    return rc;
}

static void remove_dir_files(const char *dir) {
    /* a segment directory: its own files only */
    char p[4096];
    static const char *files[] = { "lexical.dsx", "docs.dsx", "vectors.dsx" };
    for (size_t i = 0; i < 3; i++)
        if ((size_t)snprintf(p, sizeof p, "%s/%s", dir, files[i]) < sizeof p) unlink(p);
    if (rmdir(dir) != 0 && errno != ENOENT) {
        /* leftovers (temporary files of a killed writer) go at the next open */
    }
}

ds_status ds_collection_flush(ds_collection *c) {
    if (c == NULL) return ds__fail(DS_ERR_INVALID, "ds_collection_flush: NULL collection");
    if (c->live == NULL) return ds__fail(DS_ERR_READONLY, "%s: the collection is not open for writing", c->dir);
    ds__live *l = c->live;
    pthread_mutex_lock(&l->apply_mu);
    ds_status rc = publish_locked(c);
    pthread_mutex_unlock(&l->apply_mu);
    return rc;
}

/* ---- writing ---------------------------------------------------------------------- */

/* Appends a record, waits for durability if asked, applies it in log order. */
static ds_status write_record(ds_collection *c, uint8_t type, const ds__buf *payload, const ds_write_opts *opts,
                              ds_write_result *res) {
    ds__live *l = c->live;
    uint64_t lsn = 0;
    ds_status rc;
    if (l->broken != DS_OK)
        return ds__fail(l->broken, "%s: an earlier write failed (%s); reopen the collection", c->dir, l->broken_msg);
    rc = ds__wal_append(l->wal, type, payload->p, payload->len, &lsn);
    if (rc != DS_OK) {
        pthread_mutex_lock(&l->apply_mu);
        set_broken(l, rc);
        pthread_mutex_unlock(&l->apply_mu);
        return rc;
    }
    if (DS_OPT(opts, wait, 1)) rc = ds__wal_sync(l->wal, lsn);
    prepared pr;
    memset(&pr, 0, sizeof pr);
    if (rc == DS_OK) rc = prepare_record(c, type, payload->p, payload->len, &pr);   /* in parallel with other writers */
    pthread_mutex_lock(&l->apply_mu);
    while (l->applied + 1 < lsn) pthread_cond_wait(&l->applied_cv, &l->apply_mu);
    if (rc == DS_OK && l->broken != DS_OK)
        rc = ds__fail(l->broken, "%s: an earlier write failed (%s); reopen the collection", c->dir, l->broken_msg);
    else if (rc == DS_OK) rc = install_record(c, &pr, res);
    if (rc != DS_OK) set_broken(l, rc);
    l->applied = lsn;
    int full = l->unpublished_docs >= l->flush_docs;
    pthread_cond_broadcast(&l->applied_cv);
    pthread_mutex_unlock(&l->apply_mu);
    prepared_release(c, &pr);
    if (res) res->lsn = lsn;
    if (full) {   /* wake the merger: it publishes */
        pthread_mutex_lock(&l->sleep_mu);
        pthread_cond_signal(&l->sleep_cv);
        pthread_mutex_unlock(&l->sleep_mu);
    }
    return rc;
}

static ds_status writable(const ds_collection *c, const char *what) {
    if (c == NULL) return ds__fail(DS_ERR_INVALID, "%s: NULL collection", what);
    if (c->live == NULL)
        return ds__fail(DS_ERR_READONLY, "%s: %s: the collection is not open for writing (open it writable)", what, c->dir);
    return DS_OK;
}

/* An id's hash-set slot: ids in one batch must be distinct. */
static int seen_before(const ds_doc *docs, size_t i, uint32_t *slots, size_t cap) {
    size_t h = (size_t)ds__hash64(docs[i].id, docs[i].id_len) & (cap - 1);
    for (;; h = (h + 1) & (cap - 1)) {
        uint32_t x = slots[h];
        if (x == 0) {
            slots[h] = (uint32_t)i + 1;
            return 0;
        }
        const ds_doc *o = &docs[x - 1];
        if (o->id_len == docs[i].id_len && memcmp(o->id, docs[i].id, o->id_len) == 0) return 1;
    }
}

ds_status ds_collection_upsert(ds_collection *c, const ds_doc *docs, size_t n, const float *embeddings,
                               const ds_write_opts *opts, ds_write_result *res) {
    if (res) memset(res, 0, sizeof *res);
    ds_status rc = writable(c, "upsert");
    if (rc != DS_OK) return rc;
    if (n > 0 && docs == NULL) return ds__fail(DS_ERR_INVALID, "upsert: NULL documents");
    if (n > UINT32_MAX / 2) return ds__fail(DS_ERR_RANGE, "upsert: %zu documents in one batch", n);
    if (c->precomputed && n > 0 && embeddings == NULL)
        return ds__fail(DS_ERR_INVALID, "upsert: the collection takes precomputed embeddings, none given");
    if (!c->precomputed && embeddings != NULL)
        return ds__fail(DS_ERR_INVALID, "upsert: embeddings were given, but the collection %s",
                        c->dim ? "encodes documents with its model" : "holds no vectors");
    if (c->has_identity && c->enc == NULL)
        return ds__fail(DS_ERR_INVALID, "upsert: %s: documents need the collection's model, which is not loaded: %s", c->dir,
                        c->enc_note ? c->enc_note : "it was opened without it");
    size_t cap = 16;
    while (cap < 2 * n) cap *= 2;
    uint32_t *slots = calloc(cap, sizeof *slots);
    if (slots == NULL) return ds__fail(DS_ERR_NOMEM, "out of memory");
    uint64_t bytes = 8;
    for (size_t i = 0; i < n && rc == DS_OK; i++) {
        const ds_doc *d = &docs[i];
        if (d->id == NULL || d->id_len == 0 || d->id_len > DS__DOCS_MAX_ID)
            rc = ds__fail(DS_ERR_INVALID, "upsert: document %zu: the id must be 1..%u bytes", i + 1, DS__DOCS_MAX_ID);
        else if ((d->title == NULL && d->title_len) || (d->text == NULL && d->text_len))
            rc = ds__fail(DS_ERR_INVALID, "upsert: document '%.*s': NULL title or text", (int)DS_MIN(d->id_len, 200), d->id);
        else if (d->title_len > DS__LX_MAX_DOC || d->text_len > DS__LX_MAX_DOC - d->title_len)
            rc = ds__fail(DS_ERR_INVALID, "upsert: document '%.*s' is over %u MiB", (int)DS_MIN(d->id_len, 200), d->id,
                          DS__LX_MAX_DOC >> 20);
        else if (seen_before(docs, i, slots, cap))
            rc = ds__fail(DS_ERR_INVALID, "upsert: id '%.*s' is twice in the batch", (int)DS_MIN(d->id_len, 200), d->id);
        bytes += 12 + (uint64_t)d->id_len + d->title_len + d->text_len;
        if (embeddings)
            for (size_t j = 0; j < c->dim && rc == DS_OK; j++)
                if (!isfinite(embeddings[i * c->dim + j]))
                    rc = ds__fail(DS_ERR_INVALID, "upsert: document '%.*s': embedding component %zu is not finite",
                                  (int)DS_MIN(d->id_len, 200), d->id, j);
    }
    free(slots);
    if (rc != DS_OK) return rc;
    if (embeddings) bytes += (uint64_t)n * c->dim * 4;
    if (bytes > MAX_BATCH_BYTES)
        return ds__fail(DS_ERR_RANGE, "upsert: the batch is %llu MiB; at most %u MiB per batch", (unsigned long long)(bytes >> 20),
                        MAX_BATCH_BYTES >> 20);
    ds__buf p;
    ds__buf_init(&p, c->env);
    ds__buf_put_u32(&p, (uint32_t)n);
    ds__buf_put_u32(&p, embeddings ? (uint32_t)c->dim : 0);
    for (size_t i = 0; i < n; i++) {
        ds__buf_put_u32(&p, (uint32_t)docs[i].id_len);
        ds__buf_put_u32(&p, (uint32_t)docs[i].title_len);
        ds__buf_put_u32(&p, (uint32_t)docs[i].text_len);
        ds__buf_put(&p, docs[i].id, docs[i].id_len);
        ds__buf_put(&p, docs[i].title, docs[i].title_len);
        ds__buf_put(&p, docs[i].text, docs[i].text_len);
    }
    if (embeddings) ds__buf_put(&p, embeddings, n * c->dim * sizeof *embeddings);
    rc = p.rc == DS_OK ? write_record(c, REC_UPSERT, &p, opts, res) : ds__fail(DS_ERR_NOMEM, "out of memory");
    ds__buf_release(&p);
    return rc;
}

ds_status ds_collection_delete(ds_collection *c, const char *const *ids, const size_t *lens, size_t n,
                               const ds_write_opts *opts, ds_write_result *res) {
    if (res) memset(res, 0, sizeof *res);
    ds_status rc = writable(c, "delete");
    if (rc != DS_OK) return rc;
    if (n > 0 && ids == NULL) return ds__fail(DS_ERR_INVALID, "delete: NULL ids");
    if (n > UINT32_MAX / 2) return ds__fail(DS_ERR_RANGE, "delete: %zu ids in one batch", n);
    if (!c->has_text)
        return ds__fail(DS_ERR_UNSUPPORTED, "delete: %s was built without stored text, which deleting needs (the BM25 "
                        "statistics of a deleted document are taken from it)", c->dir);
    ds__buf p;
    ds__buf_init(&p, c->env);
    ds__buf_put_u32(&p, (uint32_t)n);
    for (size_t i = 0; i < n && rc == DS_OK; i++) {
        size_t l = ids[i] ? (lens ? lens[i] : strlen(ids[i])) : 0;
        if (ids[i] == NULL || l == 0 || l > DS__DOCS_MAX_ID) {
            rc = ds__fail(DS_ERR_INVALID, "delete: id %zu must be 1..%u bytes", i + 1, DS__DOCS_MAX_ID);
            break;
        }
        ds__buf_put_u32(&p, (uint32_t)l);
        ds__buf_put(&p, ids[i], l);
    }
    if (rc == DS_OK) rc = p.rc == DS_OK ? write_record(c, REC_DELETE, &p, opts, res) : ds__fail(DS_ERR_NOMEM, "out of memory");
    ds__buf_release(&p);
    return rc;
}

/* ---- merging ---------------------------------------------------------------------- */

/* Size tier of a segment: live documents by powers of MERGE_FACTOR. */
static unsigned tier(const ds__seg *s) {
    uint64_t n = s->n_docs - s->n_dead;
    unsigned t = 0;
    while (n >= MERGE_FACTOR) { n /= MERGE_FACTOR; t++; }
    return t;
}

/* Picks segments [*from, *to) to merge: a fully deleted segment alone, one
** mostly deleted, or the oldest run of MERGE_FACTOR adjacent segments of
** one tier (as Lucene's LogMergePolicy: neighbours only, so document order
** is kept). Caller holds apply_mu. */
static int pick_merge(const ds_collection *c, size_t *from, size_t *to) {
    for (size_t i = 0; i < c->n_seg; i++) {
        const ds__seg *s = c->seg[i];
        if (s->n_docs > 0 && (s->n_dead == s->n_docs || (uint64_t)s->n_dead * 2 > s->n_docs)) {
            *from = i;
            *to = i + 1;
            return 1;
        }
    }
    /* oldest first, as LogMergePolicy: merging a newer run first would
    ** strand the older rest of it behind a larger segment */
    size_t run = 0;
    for (size_t i = 0; i < c->n_seg; i++) {
        if (run > 0 && tier(c->seg[i]) != tier(c->seg[i - 1])) run = 0;
        if (++run >= MERGE_FACTOR) {
            *from = i + 1 - run;
            *to = i + 1;
            return 1;
        }
    }
    return 0;
}

/* Rewrites segments [from, to) as one without their deleted documents and
** installs it; caller holds merge_mu, not apply_mu. */
static ds_status merge_range(ds_collection *c, size_t from, size_t to) {
    ds__live *l = c->live;
    ds_env *env = c->env;
    size_t n_src = to - from;
    ds__seg **src = calloc(n_src, sizeof *src);
    uint8_t **snap = calloc(n_src, sizeof *snap);
    if (src == NULL || snap == NULL) {
        free(src);
        free(snap);
        return ds__fail(DS_ERR_NOMEM, "out of memory");
    }
    ds_status rc = DS_OK;
    /* tombstones as of now; later deletes are carried over at install */
    pthread_mutex_lock(&l->apply_mu);
    for (size_t i = 0; i < n_src && rc == DS_OK; i++) {
        src[i] = c->seg[from + i];
        size_t nb = ((size_t)src[i]->n_docs + 7) / 8;
        if ((snap[i] = calloc(nb ? nb : 1, 1)) == NULL) rc = ds__fail(DS_ERR_NOMEM, "out of memory");
        else if (src[i]->dead) memcpy(snap[i], src[i]->dead, nb);
    }
    pthread_mutex_unlock(&l->apply_mu);

    uint64_t survivors = 0, passages = 0;
    for (size_t i = 0; i < n_src && rc == DS_OK; i++)
        for (uint32_t d = 0; d < src[i]->n_docs; d++)
            if (!((snap[i][d >> 3] >> (d & 7)) & 1)) {
                survivors++;
                passages += ds__docstore_first_passage(src[i]->ds, d + 1) - ds__docstore_first_passage(src[i]->ds, d);
            }
    char name[32], *dir = NULL;
    ds__coll_build *b = NULL;
    ds__seg *merged = NULL;
    if (rc == DS_OK && survivors > 0) {
        rc = ds__coll_new_segment_dir(c, name, &dir);
        if (rc == DS_OK) rc = ds__coll_build_begin(c, dir, &l->lo, 1, &b);
        for (size_t i = 0; i < n_src && rc == DS_OK; i++) {
            const ds__seg *s = src[i];
            for (uint32_t d = 0; d < s->n_docs && rc == DS_OK; d++) {
                if ((snap[i][d >> 3] >> (d & 7)) & 1) continue;
                ds_doc doc;
                memset(&doc, 0, sizeof doc);
                char *title = NULL, *text = NULL;
                size_t tl = 0, xl = 0;
                doc.id = ds__docstore_id(s->ds, d, &doc.id_len);
                rc = ds__docstore_doc(s->ds, d, &title, &tl, &text, &xl);
                doc.title = title ? title : "";
                doc.title_len = tl;
                doc.text = text ? text : "";
                doc.text_len = xl;
                if (rc == DS_OK) {
                    uint32_t p0 = ds__docstore_first_passage(s->ds, d), p1 = ds__docstore_first_passage(s->ds, d + 1);
                    rc = ds__coll_build_add_vectors(c, b, &doc, s->vx, p0, p1 - p0);
                }
                ds_free(title);
                ds_free(text);
            }
        }
        if (rc == DS_OK) {
            ds_index_opts vo;
            ds__coll_vector_opts(c, passages, &vo);
            ds__afile_defer_sync(1);   /* fsynced by the publish that installs it */
            rc = ds__coll_build_finish(c, b, &vo);
            ds__afile_defer_sync(0);
        }
        ds__coll_build_free(env, b, rc != DS_OK);
        if (rc == DS_OK) rc = ds__seg_open(c, name, 0, &merged);
    }
    ds__str_free(env, dir);

    /* install: deletes that landed meanwhile move to the merged segment */
    char **gone = NULL;
    size_t n_gone = 0;
    if (rc == DS_OK) {
        pthread_mutex_lock(&l->apply_mu);
        wr_lock(l);
        uint32_t at = 0;
        for (size_t i = 0; i < n_src && rc == DS_OK; i++)
            for (uint32_t d = 0; d < src[i]->n_docs && rc == DS_OK; d++) {
                if ((snap[i][d >> 3] >> (d & 7)) & 1) continue;
                if (ds__seg_dead(src[i], d)) rc = ds__seg_kill(c, merged, at, l->an);
                at++;
            }
        /* the list: [0, from) merged? [to, n) */
        size_t n_new = c->n_seg - n_src + (merged ? 1 : 0);
        ds__seg **list = rc == DS_OK ? ds__alloc(env, (n_new ? n_new : 1) * sizeof *list, 8) : NULL;
        if (rc == DS_OK && list == NULL) rc = ds__fail(DS_ERR_NOMEM, "out of memory");
        if (rc == DS_OK && n_new == 0) {
            /* everything was deleted: keep the emptied segments, nothing to gain */
            ds__free(env, list, sizeof *list);
            list = NULL;
        }
        if (rc == DS_OK && list != NULL) {
            size_t k = 0;
            for (size_t i = 0; i < from; i++) list[k++] = c->seg[i];
            if (merged) list[k++] = merged;
            for (size_t i = to; i < c->n_seg; i++) list[k++] = c->seg[i];
            ds__free(env, c->seg, c->n_seg * sizeof *c->seg);
            c->seg = list;
            c->n_seg = n_new;
            merged = NULL;
            if ((gone = calloc(n_src, sizeof *gone)) != NULL)
                for (size_t i = 0; i < n_src; i++) {
                    if (src[i]->published) {
                        char **o = realloc(l->obsolete, (l->n_obsolete + 1) * sizeof *o);
                        if (o) {
                            l->obsolete = o;
                            l->obsolete[l->n_obsolete++] = ds__strdup(env, src[i]->name);
                        }
                    } else {
                        gone[n_gone++] = ds__path_join(env, c->dir, src[i]->name);
                    }
                }
            l->dirty = 1;
            l->n_merges++;
        } else {
            n_src = 0;   /* nothing replaced: the sources stay */
        }
        ds__coll_recount(c);
        wr_unlock(l);
        if (rc == DS_OK) rc = publish_locked(c);
        pthread_mutex_unlock(&l->apply_mu);
        /* no search can hold the sources now: searches read-lock for their whole run */
        for (size_t i = 0; i < n_src; i++) ds__seg_close(env, src[i]);
    }
    if (merged) {   /* not installed */
        char *p = ds__path_join(env, c->dir, merged->name);
        ds__seg_close(env, merged);
        if (p) remove_dir_files(p);
        ds__str_free(env, p);
    }
    for (size_t i = 0; i < n_gone; i++) {
        if (gone[i]) remove_dir_files(gone[i]);
        ds__str_free(env, gone[i]);
    }
    free(gone);
    for (size_t i = 0; i < to - from; i++) free(snap[i]);
    free(snap);
    free(src);
    return rc;
}

/* Merges until the policy finds nothing more; returns the first failure. */
static ds_status merge_some(ds_collection *c, int all) {
    ds__live *l = c->live;
    ds_status rc = DS_OK;
    pthread_mutex_lock(&l->merge_mu);
    for (;;) {
        size_t from = 0, to = 0;
        pthread_mutex_lock(&l->apply_mu);
        int go;
        if (all) {
            go = c->n_seg > 1 || (c->n_seg == 1 && c->seg[0]->n_dead > 0);
            to = c->n_seg;
        } else {
            go = pick_merge(c, &from, &to);
        }
        pthread_mutex_unlock(&l->apply_mu);
        if (!go || __atomic_load_n(&l->stop, __ATOMIC_ACQUIRE)) break;
        if ((rc = merge_range(c, from, to)) != DS_OK || all) break;
    }
    pthread_mutex_unlock(&l->merge_mu);
    return rc;
}

ds_status ds_collection_compact(ds_collection *c) {
    ds_status rc = writable(c, "compact");
    if (rc != DS_OK) return rc;
    rc = merge_some(c, 1);
    if (rc == DS_OK) rc = ds_collection_flush(c);
    return rc;
}

/* The merger: publishes on the timer or when enough is written, merges by
** the policy. Errors are kept for the writers (sticky) and stop merging. */
static void *merger_main(void *arg) {
    ds_collection *c = arg;
    ds__live *l = c->live;
    int failed = 0;
    for (;;) {
        pthread_mutex_lock(&l->sleep_mu);
        if (!__atomic_load_n(&l->stop, __ATOMIC_ACQUIRE)) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += (long)MERGE_IDLE_MS * 1000000L;
            if (ts.tv_nsec >= 1000000000L) { ts.tv_sec++; ts.tv_nsec -= 1000000000L; }
            pthread_cond_timedwait(&l->sleep_cv, &l->sleep_mu, &ts);
        }
        int stop = __atomic_load_n(&l->stop, __ATOMIC_ACQUIRE);
        pthread_mutex_unlock(&l->sleep_mu);
        if (stop) break;
        if (failed) continue;
        pthread_mutex_lock(&l->apply_mu);
        ds_status rc = DS_OK;
        if (l->dirty && l->broken == DS_OK &&
            (l->unpublished_docs >= l->flush_docs || ds__now() - l->oldest_unpublished >= l->flush_seconds))
            rc = publish_locked(c);
        if (rc != DS_OK) set_broken(l, rc);
        int merge = l->broken == DS_OK && !l->no_merge;
        pthread_mutex_unlock(&l->apply_mu);
        if (rc == DS_OK && merge && (rc = merge_some(c, 0)) != DS_OK) {
            pthread_mutex_lock(&l->apply_mu);
            set_broken(l, rc);
            pthread_mutex_unlock(&l->apply_mu);
        }
        ds__clear_error();
        failed = rc != DS_OK;
    }
    return NULL;
}

/* ---- open and close ------------------------------------------------------------- */

static ds_status replay_one(void *ud, uint64_t lsn, uint8_t type, const uint8_t *p, size_t len) {
    ds_collection *c = ud;
    prepared pr;
    ds_status rc = prepare_record(c, type, p, len, &pr);
    if (rc == DS_OK) rc = install_record(c, &pr, NULL);
    prepared_release(c, &pr);
    if (rc != DS_OK) return ds__fail_prefix(rc, "replaying log record %llu: ", (unsigned long long)lsn);
    c->live->applied = lsn;
    return DS_OK;
}

ds_status ds__live_open(ds_collection *c, const ds_collection_open_opts *o) {
    ds_env *env = c->env;
    ds__live *l = ds__calloc(env, 1, sizeof *l);
    if (l == NULL) return ds__fail(DS_ERR_NOMEM, "out of memory");
    pthread_rwlockattr_t ra;
    pthread_rwlockattr_init(&ra);
    /* searches never starve a writer (glibc prefers readers by default) */
    pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&l->rw, &ra);
    pthread_rwlockattr_destroy(&ra);
    pthread_mutex_init(&l->apply_mu, NULL);
    pthread_cond_init(&l->applied_cv, NULL);
    pthread_mutex_init(&l->merge_mu, NULL);
    pthread_mutex_init(&l->sleep_mu, NULL);
    pthread_cond_init(&l->sleep_cv, NULL);
    l->flush_docs = DS_OPT(o, flush_docs, (size_t)0);
    if (l->flush_docs == 0) l->flush_docs = 10000;
    l->flush_seconds = DS_OPT(o, flush_seconds, 0.0);
    if (!(l->flush_seconds > 0)) l->flush_seconds = 5.0;
    l->no_merge = DS_OPT(o, no_merge, 0);
    l->applied = c->lsn;
    ds__coll_lexical_opts(c, &l->lo);
    snprintf(l->stemmer, sizeof l->stemmer, "%s", l->lo.stemmer);
    l->lo.stemmer = l->stemmer;
    c->live = l;
    ds_status rc = DS_OK;
    if (c->has_identity && c->enc == NULL)
        rc = ds__fail(DS_ERR_INVALID, "%s: writing needs the collection's model, which is not loaded: %s", c->dir,
                      c->enc_note ? c->enc_note : "it was opened without it");
    char *mp = rc == DS_OK ? ds__path_join(env, c->dir, "MANIFEST") : NULL;
    if (rc == DS_OK && mp == NULL) rc = ds__fail(DS_ERR_NOMEM, "out of memory");
    if (rc == DS_OK && (rc = ds__wlock_acquire(env, mp, &c->lock)) != DS_OK)
        ds__fail_prefix(rc, "%s: another process is writing this collection: ", c->dir);
    ds__str_free(env, mp);
    if (rc == DS_OK) rc = ds__analyzer_create(env, &c->lx->meta.an, &l->an);
    /* segments of writes that were never published: the log has them */
    if (rc == DS_OK) ds__coll_remove_unnamed(c);
    char *wd = rc == DS_OK ? ds__path_join(env, c->dir, "wal") : NULL;
    if (rc == DS_OK && wd == NULL) rc = ds__fail(DS_ERR_NOMEM, "out of memory");
    if (rc == DS_OK) rc = ds__wal_open(env, wd, c->lsn, &l->wal);
    ds__str_free(env, wd);
    if (rc == DS_OK) {
        pthread_mutex_lock(&l->apply_mu);
        rc = ds__wal_replay(l->wal, replay_one, c);
        if (rc == DS_OK) rc = publish_locked(c);
        pthread_mutex_unlock(&l->apply_mu);
    }
    if (rc == DS_OK) {
        if (pthread_create(&l->thread, NULL, merger_main, c) != 0) rc = ds__fail(DS_ERR_IO, "cannot start the merger thread");
        else l->have_thread = 1;
    }
    return rc;
}

void ds__live_close(ds_collection *c) {
    ds__live *l = c->live;
    if (l == NULL) return;
    pthread_mutex_lock(&l->sleep_mu);
    __atomic_store_n(&l->stop, 1, __ATOMIC_RELEASE);
    pthread_cond_signal(&l->sleep_cv);
    pthread_mutex_unlock(&l->sleep_mu);
    if (l->have_thread) pthread_join(l->thread, NULL);
    if (l->wal != NULL && l->broken == DS_OK) {
        pthread_mutex_lock(&l->apply_mu);
        publish_locked(c);   /* failing here loses nothing: the log stays */
        pthread_mutex_unlock(&l->apply_mu);
    }
    ds__wal_close(l->wal);
    ds__analyzer_destroy(l->an);
    for (size_t i = 0; i < l->n_obsolete; i++) ds__str_free(c->env, l->obsolete[i]);
    free(l->obsolete);
    pthread_rwlock_destroy(&l->rw);
    pthread_mutex_destroy(&l->apply_mu);
    pthread_cond_destroy(&l->applied_cv);
    pthread_mutex_destroy(&l->merge_mu);
    pthread_mutex_destroy(&l->sleep_mu);
    pthread_cond_destroy(&l->sleep_cv);
    ds__free(c->env, l, sizeof *l);
    c->live = NULL;
}

ds_status ds_collection_stats_live(const ds_collection *c, ds_collection_live_stats *st) {
    if (st) memset(st, 0, sizeof *st);
    if (c == NULL || st == NULL) return ds__fail(DS_ERR_INVALID, "ds_collection_stats_live: NULL argument");
    ds__live *l = c->live;
    if (l) pthread_mutex_lock(&l->apply_mu);
    ds__coll_read_lock(c);
    st->n_docs = c->n_live;
    st->n_deleted = c->n_dead;
    st->n_segments = c->n_seg;
    for (size_t i = 0; i < c->n_seg; i++) st->n_unpublished += !c->seg[i]->published;
    st->generation = c->generation;
    st->lsn_published = c->lsn;
    ds__coll_read_unlock(c);
    if (l) {
        st->wal_bytes = ds__wal_bytes(l->wal);
        st->lsn_written = ds__wal_last_lsn(l->wal);
        st->lsn_durable = ds__wal_durable_lsn(l->wal);
        st->n_flushes = l->n_flushes;
        st->n_merges = l->n_merges;
        pthread_mutex_unlock(&l->apply_mu);
    }
    return DS_OK;
}
