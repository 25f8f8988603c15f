/* collection.h -- internals of a collection (public API: densearch.h
** [collection]; on-disk layout: docs/format.md §4).
**
** A collection handle is in one of two states: building (between
** ds_collection_create and a successful ds_collection_commit; exclusive) and
** open (read-only; any number of concurrent searches). Commit turns the first
** into the second on the same handle.
*/
#ifndef DS_COLLECTION_H
#define DS_COLLECTION_H

#include "ds_internal.h"
#include "collection/docstore.h"
#include "core/container.h"
#include "lexical/lexical.h"
#include "text/analyzer.h"

#define DS__CMAN_KIND  DS_FOURCC('C', 'M', 'A', 'N')
#define DS__CMAN_MAJOR 1
#define DS__CMAN_MINOR 1
#define DS__SEC_TOMB   DS_FOURCC('T', 'O', 'M', 'B')
#define DS__SEC_CMTA   DS_FOURCC('C', 'M', 'T', 'A')

typedef struct ds__coll_build ds__coll_build;

/* Who the encoder is, as recorded in the MANIFEST and compared at open. */
typedef struct ds__encoder_identity {
    char     name[256];          /* model directory's base name             */
    char     path[4096];         /* absolute path at build time             */
    char     config_xxh3[17];    /* XXH3-64 of config.json, hex             */
    char     weights_sha256[65]; /* SHA-256 of the weights file, hex        */
    char     weights_xxh3[33];   /* XXH3-128 of the weights file, hex       */
    uint64_t weights_bytes;
    char     kind[16];           /* "embed", ...                            */
    char     pooling[16];
    int      normalize;
    size_t   max_seq_length, dim;
} ds__encoder_identity;

/* One segment: an immutable BM25 index, document store and vector index
** written once, plus its tombstones, which change under the collection's
** lock (live.c). Document d of the segment is document base + d of the
** collection in the current view. */
typedef struct ds__seg {
    char          *name;          /* "seg-000012"                                */
    ds_lexical    *lx;
    ds__docstore  *ds;
    ds_index      *vx;            /* NULL: no vectors                            */
    uint32_t       n_docs;
    uint64_t       n_passages;
    uint64_t       n_tokens;      /* sum of BM25 document lengths                */
    uint8_t       *dead;          /* n_docs bits, set = deleted; NULL: none      */
    uint32_t       n_dead;
    uint64_t       dead_tokens;
    uint32_t      *dead_df;       /* per lexicon term: deleted documents with it */
    uint8_t       *live_psg;      /* passages of live documents, when n_dead > 0 */
    int            published;     /* named by the published MANIFEST             */
    uint64_t       base, pbase;   /* first document and passage in the view      */
} ds__seg;

typedef struct ds__live ds__live;

struct ds_collection {
    ds_env         *env;
    char           *dir;
    int             building;     /* 1 until commit succeeds                 */
    int             legacy;       /* opened from a pre-collection BM25 index */
    ds__coll_build *b;
    /* open state: the segments in order (documents in the order of their
    ** latest write), guarded by lock in a writable collection */
    ds__seg       **seg;
    size_t          n_seg;
    uint64_t        n_slots;      /* documents in all segments, deleted too  */
    uint64_t        n_pslots;     /* passages likewise                       */
    uint64_t        n_live;       /* documents not deleted                   */
    uint64_t        live_tokens;  /* their BM25 lengths                      */
    uint64_t        n_dead;
    ds_lexical     *lx;           /* seg[0]'s: the analyzer and BM25 defaults */
    ds_encoder     *enc;          /* owned; NULL when none is loaded         */
    size_t          dim;
    int             has_identity; /* the MANIFEST names an encoder           */
    ds__encoder_identity ident;
    char           *enc_note;     /* why no encoder is loaded, for errors    */
    size_t          chunk_tokens, chunk_overlap;
    char           *vec_type;     /* "hnsw", ...                             */
    int             metric;       /* ds_metric of the vectors                */
    int             precomputed;  /* vectors are the caller's, not encoded   */
    uint64_t        generation;   /* of the MANIFEST read or last written    */
    uint64_t        lsn;          /* log records up to this are in the MANIFEST */
    ds__wlock      *lock;         /* MANIFEST writer lock while building or writable */
    ds__live       *live;         /* writable: log, locks, merger (live.c)   */
    unsigned        next_seg;     /* next segment number to try              */
    ds__analyzer_cfg an;          /* every segment's analysis (the first's)  */
    int             an_set;
    int             has_text;     /* segments store title and text           */
};

/* Readers' side of the lock a writable collection takes (no-ops otherwise):
** searches and getters hold it shared while they touch segments. */
void ds__coll_read_lock(const ds_collection *c);
void ds__coll_read_unlock(const ds_collection *c);

/* The segment holding document number doc of the view, and doc's number in
** it; NULL if doc is out of range. */
ds__seg *ds__coll_seg_of(const ds_collection *c, uint64_t doc, uint32_t *local);
/* The live document with this id (caller holds the read lock):
** DS_ERR_NOTFOUND, with no message, if there is none. */
ds_status ds__coll_find_locked(const ds_collection *c, const char *id, size_t len, ds__seg **seg, uint32_t *local,
                               uint64_t *doc);
/* ds_collection_filter with the read lock held. */
ds_status ds__coll_filter_locked(const ds_collection *c, const char *const *ids, const size_t *lens, size_t n,
                                 uint8_t **bitmap, uint64_t *bits, size_t *n_unknown);
/* Is document d of segment s deleted? */
static inline int ds__seg_dead(const ds__seg *s, uint32_t d) {
    return s->dead != NULL && ((s->dead[d >> 3] >> (d & 7)) & 1);
}
/* Collection-wide BM25 statistics for searching segments (NULL when the
** collection is one segment without deletions: its own statistics are the
** collection's). */
const ds__lx_global *ds__coll_lexical_global(const ds_collection *c, ds__lx_global *g);

/* ---- segments (collection.c) -------------------------------------------- */

/* A segment being written from documents (the build of ds_collection_create,
** or one write batch of a live collection). */
ds_status ds__coll_build_begin(ds_collection *c, const char *seg_dir, const ds_lexical_opts *lo, int store_text,
                               ds__coll_build **out);
ds_status ds__coll_build_add(ds_collection *c, ds__coll_build *b, const ds_doc *doc, const float *embedding);
/* Adds a document whose passage vectors are passages [first, first + n) of
** vx (a merge), re-encoding when vx does not keep full vectors. */
ds_status ds__coll_build_add_vectors(ds_collection *c, ds__coll_build *b, const ds_doc *doc, const ds_index *vx,
                                     uint64_t first, uint32_t n_passages);
/* Writes and fsyncs the segment's files; vo: its vector index. */
ds_status ds__coll_build_finish(ds_collection *c, ds__coll_build *b, const ds_index_opts *vo);
void      ds__coll_build_free(ds_env *env, ds__coll_build *b, int remove_dir);
uint64_t  ds__coll_build_docs(const ds__coll_build *b);
/* Makes a new empty segment directory: *path (ds__str_free), name "seg-N". */
ds_status ds__coll_new_segment_dir(ds_collection *c, char name[32], char **path);
/* Opens the segment directory dir (name under c->dir). */
ds_status ds__seg_open(ds_collection *c, const char *name, unsigned flags, ds__seg **out);
void      ds__seg_close(ds_env *env, ds__seg *s);
/* Marks document d of s deleted: its bit, and its length and terms taken
** out of the segment's BM25 statistics (an: the collection's analyzer). */
ds_status ds__seg_kill(ds_collection *c, ds__seg *s, uint32_t d, ds__analyzer *an);
/* Recomputes bases and totals after the segment list or tombstones change. */
void      ds__coll_recount(ds_collection *c);
/* Writes a MANIFEST naming the current segments, their tombstones and lsn
** (generation + 1); the caller holds the writer lock. */
ds_status ds__coll_write_manifest(ds_collection *c, uint64_t lsn);
/* Removes segment directories the collection does not name. */
void      ds__coll_remove_unnamed(ds_collection *c);
/* The vector index options for a new segment of n passages. */
void      ds__coll_vector_opts(const ds_collection *c, uint64_t n, ds_index_opts *vo);
/* The lexical options the collection's segments were built with. */
void      ds__coll_lexical_opts(const ds_collection *c, ds_lexical_opts *lo);
char     *ds__path_join(ds_env *env, const char *a, const char *b);
void      ds__str_free(ds_env *env, char *s);

/* ---- live collections (live.c) ------------------------------------------- */
ds_status ds__live_open(ds_collection *c, const ds_collection_open_opts *o);
void      ds__live_close(ds_collection *c);

#endif /* DS_COLLECTION_H */
