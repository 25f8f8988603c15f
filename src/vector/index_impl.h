/* index_impl.h -- what every vector index type implements behind ds_index.
**
** index.c owns what all types share: the external-id <-> slot map, deleted
** slots, cosine normalisation, the allow-list filter, result padding, and the
** common sections of the file (META, LABL, DELS; docs/format.md §3). A type
** (flat.c, hnsw.c, ivfpq.c, binary.c) works on dense internal slots
** 0..n_slots-1 and fills ds__index_ops.
**
** Invariants: labels[slot] is the external id of each slot; a slot is live
** unless its bit in `deleted` is set; n_live = n_slots - deleted count. Types
** append slots in add() in the order given and must never return a slot for
** which ds__slot_allowed() is false.
**
** Thread: search may run concurrently from many threads (types keep per-query
** scratch on the stack or in per-call allocations); train/add/remove/save are
** serialised by the caller.
*/
#ifndef DS_VECTOR_INDEX_IMPL_H
#define DS_VECTOR_INDEX_IMPL_H

#include "ds_internal.h"
#include "core/container.h"
#include "core/topk.h"

/* File kinds (header file_kind) and the common sections. */
#define DS_VEC_KIND_FLAT   DS_FOURCC('V', 'F', 'L', 'T')
#define DS_VEC_KIND_HNSW   DS_FOURCC('V', 'H', 'N', 'S')
#define DS_VEC_KIND_IVFPQ  DS_FOURCC('V', 'I', 'V', 'F')
#define DS_VEC_KIND_BINARY DS_FOURCC('V', 'B', 'I', 'N')
#define DS_VEC_SEC_META    DS_FOURCC('M', 'E', 'T', 'A')
#define DS_VEC_SEC_LABELS  DS_FOURCC('L', 'A', 'B', 'L')
#define DS_VEC_SEC_DELETED DS_FOURCC('D', 'E', 'L', 'S')
#define DS_VEC_FORMAT_MAJOR 1
#define DS_VEC_FORMAT_MINOR 0

/* u64 -> u32 open-addressing hash map (external id -> slot). */
typedef struct ds__idmap {
    uint64_t *keys;
    uint32_t *vals;
    uint8_t  *used;
    size_t    cap, n;       /* cap is a power of two */
} ds__idmap;

ds_status ds__idmap_put(ds_env *env, ds__idmap *m, uint64_t key, uint32_t val);
int       ds__idmap_get(const ds__idmap *m, uint64_t key, uint32_t *val);  /* 1 if found */
int       ds__idmap_del(ds__idmap *m, uint64_t key);                       /* 1 if removed */
void      ds__idmap_release(ds_env *env, ds__idmap *m);

/* Search parameters after defaults are applied. */
typedef struct ds__search_params {
    unsigned       ef_search, nprobe, rerank;
    const uint8_t *filter;
    uint64_t       filter_bits;
    int          (*cancel)(void *ud);
    void          *cancel_ud;
} ds__search_params;

struct ds_index;
typedef struct ds__index_ops {
    ds_index_type type;
    uint32_t      file_kind;
    const char   *name;                                   /* "flat", "hnsw", ... */
    /* Allocates ix->impl for an empty index (create) or before load. */
    ds_status (*init)(struct ds_index *ix);
    void      (*destroy)(struct ds_index *ix);
    /* May be NULL when the type needs no training. */
    ds_status (*train)(struct ds_index *ix, const float *x, size_t n);
    /* Appends n vectors as slots ix->n_slots .. ix->n_slots+n-1 (index.c has
    ** already grown labels and bumps n_slots after success). x is normalised
    ** for cosine. */
    ds_status (*add)(struct ds_index *ix, const float *x, size_t n);
    /* Called after the slot is marked deleted (e.g. HNSW neighbour repair).
    ** May be NULL. */
    ds_status (*remove)(struct ds_index *ix, uint32_t slot);
    /* One query (normalised for cosine): best-first slots and scores (higher
    ** is better), at most k, only slots for which ds__slot_allowed() holds.
    ** Returns the count in *n_found. */
    ds_status (*search)(const struct ds_index *ix, const float *q, size_t k,
                        const ds__search_params *p, uint32_t *slots, float *scores, size_t *n_found);
    /* Optional batched search over nq queries (rows of k); NULL: search() is
    ** called per query. */
    ds_status (*search_batch)(const struct ds_index *ix, const float *q, size_t nq, size_t k,
                              const ds__search_params *p, uint32_t *slots, float *scores, size_t *n_found);
    /* Writes the type's own sections. */
    ds_status (*save)(const struct ds_index *ix, ds__cwriter *w);
    /* Reads the type's sections from an open container (which stays open and
    ** mapped for the index's lifetime, so sections may be used in place).
    ** Must bounds-check everything: this is also the deep check. */
    ds_status (*load)(struct ds_index *ix, const ds__creader *r);
    uint64_t  (*memory)(const struct ds_index *ix);       /* resident bytes */
    /* The stored full-precision vector of a slot (normalised for cosine), or
    ** NULL if the type does not keep one; ds_index_compact rebuilds from
    ** these. May be NULL. */
    const float *(*vector)(const struct ds_index *ix, uint32_t slot);
} ds__index_ops;

struct ds_index {
    ds_env              *env;
    const ds__index_ops *ops;
    ds_index_opts        opts;        /* full copy, defaults applied */
    size_t               dim;
    ds_metric            metric;
    uint32_t             n_slots;     /* slots ever added */
    uint64_t             n_live;
    uint64_t            *labels;      /* n_slots external ids (owned, or mapped) */
    size_t               labels_cap;  /* elements; 0 when mapped from the file */
    uint8_t             *deleted;     /* bitmap over slots (owned) */
    size_t               deleted_cap; /* bytes */
    ds__idmap            idmap;
    ds__creader         *file;        /* when opened from disk */
    void                *impl;        /* the type's state */
};

static inline int ds__slot_deleted(const struct ds_index *ix, uint32_t slot) {
    return ix->deleted != NULL && ((ix->deleted[slot >> 3] >> (slot & 7)) & 1);
}

/* Live and inside the caller's filter (if any). */
static inline int ds__slot_allowed(const struct ds_index *ix, const ds__search_params *p, uint32_t slot) {
    if (ds__slot_deleted(ix, slot)) return 0;
    if (p->filter != NULL) {
        uint64_t id = ix->labels[slot];
        if (id >= p->filter_bits || !((p->filter[id >> 3] >> (id & 7)) & 1)) return 0;
    }
    return 1;
}

/* Opens an index from bytes in memory (borrowed for the index's lifetime):
** the fuzz targets' entry point; the same validation as ds_index_open. */
ds_status ds__index_open_mem(ds_env *env, const void *data, size_t size, unsigned flags, struct ds_index **out);

/* Metric -> score for a raw kernel value: higher is better. */
float ds__score_from_l2(float l2sq);

/* The ops tables of each type. */
extern const ds__index_ops ds__flat_ops;
extern const ds__index_ops ds__hnsw_ops;
extern const ds__index_ops ds__ivfpq_ops;
extern const ds__index_ops ds__binary_ops;

/* Top-k selection for types: ds__topk (core/topk.h), ids are slots. */

/* The stored full-precision vector of a live id (normalised for cosine), or
** NULL if the id is absent or the type keeps no such vector (IVF-PQ, binary,
** flat f16/int8). Used by dense pseudo-relevance feedback. */
const float *ds__index_vector(const ds_index *ix, uint64_t id);

#endif /* DS_VECTOR_INDEX_IMPL_H */
