/* index.c -- ds_index: the part every vector index type shares.
**
** External ids map to dense slots (ds__idmap); deletes set a bit in a slot
** bitmap; cosine vectors are normalised here, once, so types only ever see
** inner products; results are mapped back to external ids and padded. The
** file holds the common sections META, LABL, DELS (docs/format.md §3.1) and
** then the type's own sections.
*/
#include "vector/index_impl.h"
#include "check/check.h"
#include "simd/simd.h"

#include <math.h>
#include <stdlib.h>

/* ======================================================================== */
/* id map                                                                   */
/* ======================================================================== */
static size_t idmap_hash(uint64_t k, size_t mask) {
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    return (size_t)k & mask;
}

static ds_status idmap_grow(ds_env *env, ds__idmap *m) {
    size_t cap = m->cap ? m->cap * 2 : 1024;
    ds__idmap nm = { 0 };
    nm.keys = ds__alloc(env, cap * sizeof(uint64_t), 64);
    nm.vals = ds__alloc(env, cap * sizeof(uint32_t), 64);
    nm.used = ds__calloc(env, cap, 1);
    nm.cap = cap;
    if (nm.keys == NULL || nm.vals == NULL || nm.used == NULL) {
        ds__idmap_release(env, &nm);
        return ds__fail(DS_ERR_NOMEM, "out of memory growing the id map");
    }
    for (size_t i = 0; i < m->cap; i++) {
        if (m->used[i] != 1) continue;
        size_t h = idmap_hash(m->keys[i], cap - 1);
        while (nm.used[h]) h = (h + 1) & (cap - 1);
        nm.used[h] = 1;
        nm.keys[h] = m->keys[i];
        nm.vals[h] = m->vals[i];
        nm.n++;
    }
    ds__idmap_release(env, m);
    *m = nm;
    return DS_OK;
}

/* used[] is 0 empty, 1 full, 2 tombstone (deleted key; probing continues). */
ds_status ds__idmap_put(ds_env *env, ds__idmap *m, uint64_t key, uint32_t val) {
    if ((m->n + 1) * 4 >= m->cap * 3) {
        ds_status rc = idmap_grow(env, m);
        if (rc != DS_OK) return rc;
    }
    size_t h = idmap_hash(key, m->cap - 1);
    while (m->used[h] == 1) {
        if (m->keys[h] == key) {
            m->vals[h] = val;
            return DS_OK;
        }
        h = (h + 1) & (m->cap - 1);
    }
    m->used[h] = 1;
    m->keys[h] = key;
    m->vals[h] = val;
    m->n++;
    return DS_OK;
}

int ds__idmap_get(const ds__idmap *m, uint64_t key, uint32_t *val) {
    if (m->cap == 0) return 0;
    size_t h = idmap_hash(key, m->cap - 1);
    for (size_t probes = 0; m->used[h] != 0 && probes < m->cap; probes++) {
        if (m->used[h] == 1 && m->keys[h] == key) {
            *val = m->vals[h];
            return 1;
        }
        h = (h + 1) & (m->cap - 1);
    }
    return 0;
}

int ds__idmap_del(ds__idmap *m, uint64_t key) {
    if (m->cap == 0) return 0;
    size_t h = idmap_hash(key, m->cap - 1);
    for (size_t probes = 0; m->used[h] != 0 && probes < m->cap; probes++) {
        if (m->used[h] == 1 && m->keys[h] == key) {
            m->used[h] = 2;        /* tombstones still count toward n until a grow */
            return 1;
        }
        h = (h + 1) & (m->cap - 1);
    }
    return 0;
}

void ds__idmap_release(ds_env *env, ds__idmap *m) {
    ds__free(env, m->keys, m->cap * sizeof(uint64_t));
    ds__free(env, m->vals, m->cap * sizeof(uint32_t));
    ds__free(env, m->used, m->cap);
    memset(m, 0, sizeof *m);
}

float ds__score_from_l2(float l2sq) { return -l2sq; }

/* ======================================================================== */
/* options                                                                  */
/* ======================================================================== */
void ds_index_opts_init(ds_index_opts *o) {
    memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
    o->type = DS_INDEX_FLAT;
    o->metric = DS_METRIC_IP;
    o->storage = DS_STORAGE_F32;
    o->hnsw_m = 16;
    o->hnsw_ef_construction = 200;
    o->pq_bits = 8;
    o->seed = 42;
}

void ds_search_opts_init(ds_search_opts *o) {
    memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
}

static const ds__index_ops *ops_for(ds_index_type t) {
    switch (t) {
    case DS_INDEX_FLAT:   return &ds__flat_ops;
    case DS_INDEX_HNSW:   return &ds__hnsw_ops;
    case DS_INDEX_IVFPQ:  return &ds__ivfpq_ops;
    case DS_INDEX_BINARY: return &ds__binary_ops;
    }
    return NULL;
}

static const ds__index_ops *ops_for_kind(uint32_t kind) {
    static const ds__index_ops *all[] = { &ds__flat_ops, &ds__hnsw_ops, &ds__ivfpq_ops, &ds__binary_ops };
    for (size_t i = 0; i < DS_ARRAY_LEN(all); i++)
        if (all[i]->file_kind == kind) return all[i];
    return NULL;
}

/* ======================================================================== */
/* lifecycle                                                                */
/* ======================================================================== */
static ds_status index_alloc(ds_env *env, size_t dim, const ds_index_opts *in, ds_index **out) {
    ds_index_opts o;
    ds_index_opts_init(&o);
    if (in != NULL) {
        size_t n = in->struct_size < sizeof o ? in->struct_size : sizeof o;
        memcpy(&o, in, n);
        o.struct_size = sizeof o;
    }
    if (dim == 0 || dim > 65536) return ds__fail(DS_ERR_INVALID, "dimension %zu is outside 1..65536", dim);
    if (o.metric != DS_METRIC_IP && o.metric != DS_METRIC_L2 && o.metric != DS_METRIC_COSINE)
        return ds__fail(DS_ERR_INVALID, "unknown metric %d", (int)o.metric);
    if (o.storage != DS_STORAGE_F32 && o.storage != DS_STORAGE_F16 && o.storage != DS_STORAGE_INT8)
        return ds__fail(DS_ERR_INVALID, "unknown storage %d", (int)o.storage);
    const ds__index_ops *ops = ops_for(o.type);
    if (ops == NULL) return ds__fail(DS_ERR_INVALID, "unknown index type %d", (int)o.type);
    if (ops->init == NULL) return ds__fail(DS_ERR_UNSUPPORTED, "index type '%s' is not built yet", ops->name);
    ds_index *ix = ds__calloc(env, 1, sizeof *ix);
    if (ix == NULL) return ds__fail(DS_ERR_NOMEM, "out of memory");
    ix->env = env;
    ix->ops = ops;
    ix->opts = o;
    ix->dim = dim;
    ix->metric = o.metric;
    *out = ix;
    return DS_OK;
}

ds_status ds_index_create(ds_env *env, size_t dim, const ds_index_opts *opts, ds_index **out) {
    if (out == NULL) return ds__fail(DS_ERR_INVALID, "ds_index_create: out is NULL");
    *out = NULL;
    env = DS_ENV(env);
    ds_index *ix;
    ds_status rc = index_alloc(env, dim, opts, &ix);
    if (rc != DS_OK) return rc;
    rc = ix->ops->init(ix);
    if (rc != DS_OK) {
        ds__free(env, ix, sizeof *ix);
        return rc;
    }
    *out = ix;
    return DS_OK;
}

void ds_index_close(ds_index *ix) {
    if (ix == NULL) return;
    ds_env *env = ix->env;
    if (ix->ops->destroy) ix->ops->destroy(ix);
    ds__idmap_release(env, &ix->idmap);
    ds__free(env, ix->deleted, ix->deleted_cap);
    if (ix->labels_cap) ds__free(env, ix->labels, ix->labels_cap * sizeof(uint64_t));
    ds__cr_close(ix->file);
    ds__free(env, ix, sizeof *ix);
}

size_t ds_index_dim(const ds_index *ix) { return ix->dim; }
uint64_t ds_index_size(const ds_index *ix) { return ix->n_live; }
ds_index_type ds_index_kind(const ds_index *ix) { return ix->ops->type; }
ds_metric ds_index_metric(const ds_index *ix) { return ix->metric; }

uint64_t ds_index_memory_bytes(const ds_index *ix) {
    uint64_t m = (uint64_t)ix->n_slots * sizeof(uint64_t) + ix->deleted_cap +
                 ix->idmap.cap * (sizeof(uint64_t) + sizeof(uint32_t) + 1);
    return m + (ix->ops->memory ? ix->ops->memory(ix) : 0);
}

/* Labels mapped from a file are copied out before the first modification. */
static ds_status own_labels(ds_index *ix, size_t need) {
    if (need <= ix->labels_cap) return DS_OK;
    size_t cap = ix->labels_cap ? ix->labels_cap : 1024;
    while (cap < need) cap *= 2;
    uint64_t *l = ds__alloc(ix->env, cap * sizeof(uint64_t), 64);
    if (l == NULL) return ds__fail(DS_ERR_NOMEM, "out of memory growing labels");
    if (ix->n_slots && ix->labels != NULL) memcpy(l, ix->labels, (size_t)ix->n_slots * sizeof(uint64_t));
    if (ix->labels_cap) ds__free(ix->env, ix->labels, ix->labels_cap * sizeof(uint64_t));
    ix->labels = l;
    ix->labels_cap = cap;
    return DS_OK;
}

static ds_status own_deleted(ds_index *ix, size_t slots) {
    size_t need = (slots + 7) / 8;
    if (need <= ix->deleted_cap) return DS_OK;
    size_t cap = ix->deleted_cap ? ix->deleted_cap : 256;
    while (cap < need) cap *= 2;
    uint8_t *d = ds__realloc(ix->env, ix->deleted, ix->deleted_cap, cap);
    if (d == NULL) return ds__fail(DS_ERR_NOMEM, "out of memory");
    memset(d + ix->deleted_cap, 0, cap - ix->deleted_cap);
    ix->deleted = d;
    ix->deleted_cap = cap;
    return DS_OK;
}

/* Divides in double: a float reciprocal of the norm overflows for vectors
** of denormals (all 1e-45: 1/norm > FLT_MAX, giving inf and NaN) and loses
** precision for huge ones; the quotient itself always fits. */
static void normalize_rows(float *x, size_t n, size_t dim) {
    for (size_t i = 0; i < n; i++) {
        float *v = x + i * dim;
        double s = 0;
        for (size_t j = 0; j < dim; j++) s += (double)v[j] * v[j];
        if (s > 0) {
            double norm = sqrt(s);
            for (size_t j = 0; j < dim; j++) v[j] = (float)((double)v[j] / norm);
        }
    }
}

/* Largest vector norm accepted for IP and L2: beyond it a score (a dot
** product, or a squared distance, of two such vectors) can overflow float32
** to inf, and ties at inf would return arbitrary neighbours. 1e18 squared is
** 1e36, below FLT_MAX (3.4e38) with room for the sum. */
#define MAX_NORM 1e18

/* Checks vectors before they are added or searched, and for cosine returns a
** normalised copy (otherwise x itself). *tmp_bytes says what to free.
** query: a zero vector has no direction, so a cosine search with it is
** refused instead of answered with arbitrary ids. */
static ds_status prepared(const ds_index *ix, const float *x, size_t n, int query, const float **out, float **tmp,
                          size_t *tmp_bytes) {
    *out = x;
    *tmp = NULL;
    *tmp_bytes = 0;
    const char *what = query ? "query" : "vector";
    for (size_t i = 0; i < n; i++) {
        const float *v = x + i * ix->dim;
        double s = 0;
        for (size_t j = 0; j < ix->dim; j++) {
            if (!isfinite(v[j])) return ds__fail(DS_ERR_INVALID, "%s %zu has a non-finite value", what, i);
            s += (double)v[j] * v[j];
        }
        if (ix->metric == DS_METRIC_COSINE) {
            if (query && s == 0)
                return ds__fail(DS_ERR_INVALID, "query %zu is all zeros: cosine similarity is undefined for it", i);
        } else if (s > MAX_NORM * MAX_NORM) {
            return ds__fail(DS_ERR_RANGE, "%s %zu has norm %.3g, above the supported %.0e for %s (scores would "
                            "overflow float32); scale the vectors down", what, i, sqrt(s), MAX_NORM,
                            ix->metric == DS_METRIC_IP ? "inner product" : "L2");
        }
    }
    if (ix->metric != DS_METRIC_COSINE) return DS_OK;
    size_t bytes;
    if (!ds__mul_ok(n, ix->dim, &bytes) || !ds__mul_ok(bytes, sizeof(float), &bytes))
        return ds__fail(DS_ERR_RANGE, "too many vectors");
    *tmp = ds__alloc(ix->env, bytes, 64);
    if (*tmp == NULL) return ds__fail(DS_ERR_NOMEM, "out of memory");
    memcpy(*tmp, x, bytes);
    normalize_rows(*tmp, n, ix->dim);
    *tmp_bytes = bytes;
    *out = *tmp;
    return DS_OK;
}

ds_status ds_index_train(ds_index *ix, const float *x, size_t n) {
    if (ix == NULL || (x == NULL && n > 0)) return ds__fail(DS_ERR_INVALID, "ds_index_train: NULL argument");
    if (ix->ops->train == NULL) return DS_OK;
    const float *px;
    float *tmp;
    size_t tb;
    ds_status rc = prepared(ix, x, n, 0, &px, &tmp, &tb);
    if (rc == DS_OK) rc = ix->ops->train(ix, px, n);
    ds__free(ix->env, tmp, tb);
    return rc;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Duplicates within one add are found on a sorted copy: O(n log n) for any
** batch size, so a large add cannot slip two slots under one id. */
static ds_status check_unique(ds_env *env, const uint64_t *ids, size_t n) {
    uint64_t *sorted = ds__alloc(env, n * sizeof *sorted, 64);
    if (sorted == NULL) return ds__fail(DS_ERR_NOMEM, "out of memory checking %zu ids", n);
    memcpy(sorted, ids, n * sizeof *sorted);
    qsort(sorted, n, sizeof *sorted, cmp_u64);
    ds_status rc = DS_OK;
    for (size_t i = 1; i < n && rc == DS_OK; i++)
        if (sorted[i] == sorted[i - 1])
            rc = ds__fail(DS_ERR_INVALID, "id %llu appears twice in one add", (unsigned long long)sorted[i]);
    ds__free(env, sorted, n * sizeof *sorted);
    return rc;
}

ds_status ds_index_add(ds_index *ix, const float *x, size_t n, const uint64_t *ids) {
    if (ix == NULL || (x == NULL && n > 0)) return ds__fail(DS_ERR_INVALID, "ds_index_add: NULL argument");
    if (n == 0) return DS_OK;
    if ((uint64_t)ix->n_slots + n > UINT32_MAX - 1)
        return ds__fail(DS_ERR_RANGE, "index would exceed %u vectors", UINT32_MAX - 1);
    ds_status rc = own_labels(ix, ix->n_slots + n);
    if (rc == DS_OK) rc = own_deleted(ix, ix->n_slots + n);
    if (rc != DS_OK) return rc;
    /* Validate every id before changing anything. */
    if (ids != NULL && n > 1 && (rc = check_unique(ix->env, ids, n)) != DS_OK) return rc;
    for (size_t i = 0; i < n; i++) {
        uint64_t id = ids ? ids[i] : ix->n_slots + i;
        uint32_t s;
        if (id == UINT64_MAX) return ds__fail(DS_ERR_INVALID, "id UINT64_MAX is reserved");
        if (ds__idmap_get(&ix->idmap, id, &s))
            return ds__fail(DS_ERR_INVALID, "id %llu is already in the index", (unsigned long long)id);
    }
    const float *px;
    float *tmp;
    size_t tb;
    rc = prepared(ix, x, n, 0, &px, &tmp, &tb);
    if (rc != DS_OK) return rc;
    uint32_t base = ix->n_slots;
    for (size_t i = 0; i < n; i++) ix->labels[base + i] = ids ? ids[i] : base + i;
    rc = ix->ops->add(ix, px, n);
    ds__free(ix->env, tmp, tb);
    if (rc != DS_OK) return rc;
    for (size_t i = 0; i < n && rc == DS_OK; i++) rc = ds__idmap_put(ix->env, &ix->idmap, ix->labels[base + i], base + (uint32_t)i);
    ix->n_slots = base + (uint32_t)n;
    ix->n_live += n;
    return rc;
}

ds_status ds_index_delete(ds_index *ix, uint64_t id) {
    if (ix == NULL) return ds__fail(DS_ERR_INVALID, "ds_index_delete: NULL index");
    uint32_t slot;
    if (!ds__idmap_get(&ix->idmap, id, &slot))
        return ds__fail(DS_ERR_NOTFOUND, "id %llu is not in the index", (unsigned long long)id);
    ds_status rc = own_deleted(ix, ix->n_slots);
    if (rc != DS_OK) return rc;
    ix->deleted[slot >> 3] |= (uint8_t)(1u << (slot & 7));
    ds__idmap_del(&ix->idmap, id);
    ix->n_live--;
    return ix->ops->remove ? ix->ops->remove(ix, slot) : DS_OK;
}

/* Built as a second index from the live vectors in slot order, added in
** batches (so the copy in flight stays small), then swapped into ix: until
** the swap nothing of ix changes, so a failure leaves it as it was. */
#define COMPACT_BATCH 8192
ds_status ds_index_compact(ds_index *ix) {
    if (ix == NULL) return ds__fail(DS_ERR_INVALID, "ds_index_compact: NULL argument");
    if (ix->ops->vector == NULL || (ix->n_slots > 0 && ix->ops->vector(ix, 0) == NULL))
        return ds__fail(DS_ERR_UNSUPPORTED, "compact: a '%s' index with this storage keeps no full-precision vectors "
                        "to rebuild from", ix->ops->name);
    if (ix->n_live == ix->n_slots) return DS_OK;
    ds_index *nx;
    ds_status rc = ds_index_create(ix->env, ix->dim, &ix->opts, &nx);
    if (rc != DS_OK) return rc;
    size_t vb = COMPACT_BATCH * ix->dim * sizeof(float);
    float *x = ds__alloc(ix->env, vb, 64);
    uint64_t *ids = ds__alloc(ix->env, COMPACT_BATCH * sizeof *ids, 64);
    if (x == NULL || ids == NULL) rc = ds__fail(DS_ERR_NOMEM, "out of memory compacting");
    size_t nb = 0;
    for (uint32_t s = 0; s < ix->n_slots && rc == DS_OK; s++) {
        if (ds__slot_deleted(ix, s)) continue;
        memcpy(x + nb * ix->dim, ix->ops->vector(ix, s), ix->dim * sizeof(float));
        ids[nb++] = ix->labels[s];
        if (nb == COMPACT_BATCH) {
            rc = ds_index_add(nx, x, nb, ids);
            nb = 0;
        }
    }
    if (rc == DS_OK && nb > 0) rc = ds_index_add(nx, x, nb, ids);
    ds__free(ix->env, x, vb);
    ds__free(ix->env, ids, COMPACT_BATCH * sizeof *ids);
    if (rc == DS_OK && nx->n_live != ix->n_live) rc = ds__fail(DS_ERR_INTERNAL, "compact: live count changed");
    if (rc == DS_OK) {
        ds_index old = *ix;
        *ix = *nx;
        *nx = old;
    }
    ds_index_close(nx);
    return rc;
}

ds_status ds_index_search(const ds_index *ix, const float *queries, size_t nq, size_t k,
                          const ds_search_opts *opts, uint64_t *ids, float *scores, size_t *n_found) {
    if (ix == NULL || (nq > 0 && (queries == NULL || ids == NULL || scores == NULL)))
        return ds__fail(DS_ERR_INVALID, "ds_index_search: NULL argument");
    if (nq == 0 || k == 0) return DS_OK;
    if (k > (1u << 24)) return ds__fail(DS_ERR_RANGE, "k = %zu is too large", k);
    ds__search_params p;
    p.ef_search = DS_OPT(opts, ef_search, 0u);
    p.nprobe = DS_OPT(opts, nprobe, 0u);
    p.rerank = DS_OPT(opts, rerank, 0u);
    p.filter = DS_OPT(opts, filter, (const uint8_t *)NULL);
    p.filter_bits = DS_OPT(opts, filter_bits, (uint64_t)0);
    p.cancel = DS_OPT(opts, cancel, (int (*)(void *))NULL);
    p.cancel_ud = DS_OPT(opts, cancel_ud, (void *)NULL);
    if (p.ef_search == 0) p.ef_search = (unsigned)DS_MAX(k, 64);
    if (p.nprobe == 0) p.nprobe = 16;
    if (p.rerank == 0) p.rerank = (unsigned)DS_MIN((size_t)1 << 20, (ix->ops->type == DS_INDEX_BINARY ? 50 : 10) * k);
    const float *pq;
    float *tmp;
    size_t tb;
    ds_status rc = prepared(ix, queries, nq, 1, &pq, &tmp, &tb);
    if (rc != DS_OK) return rc;
    size_t cells = 0;
    uint32_t *slots = NULL;
    size_t *found = NULL;
    if (!ds__mul_ok(nq, k, &cells)) rc = ds__fail(DS_ERR_RANGE, "nq * k overflows");
    if (rc == DS_OK) {
        slots = ds__alloc(ix->env, cells * sizeof(uint32_t), 64);
        found = ds__alloc(ix->env, nq * sizeof(size_t), 64);
        if (slots == NULL || found == NULL) rc = ds__fail(DS_ERR_NOMEM, "out of memory");
    }
    if (rc == DS_OK) {
        if (ix->ops->search_batch != NULL && nq > 1) {
            rc = ix->ops->search_batch(ix, pq, nq, k, &p, slots, scores, found);
        } else {
            for (size_t q = 0; q < nq && rc == DS_OK; q++) {
                if (p.cancel != NULL && p.cancel(p.cancel_ud)) rc = ds__fail(DS_ERR_CANCELED, "search canceled");
                else rc = ix->ops->search(ix, pq + q * ix->dim, k, &p, slots + q * k, scores + q * k, &found[q]);
            }
        }
    }
    for (size_t q = 0; rc == DS_OK && q < nq; q++) {
        for (size_t j = 0; j < k; j++) {
            if (j < found[q]) {
                ids[q * k + j] = ix->labels[slots[q * k + j]];
            } else {
                ids[q * k + j] = UINT64_MAX;
                scores[q * k + j] = -INFINITY;
            }
        }
        if (n_found) n_found[q] = found[q];
    }
    if (slots) ds__free(ix->env, slots, cells * sizeof(uint32_t));
    if (found) ds__free(ix->env, found, nq * sizeof(size_t));
    ds__free(ix->env, tmp, tb);
    return rc;
}

/* ======================================================================== */
/* persistence: docs/format.md §3.1                                         */
/* ======================================================================== */
#define META_SIZE 64

ds_status ds_index_save(const ds_index *ix, const char *path) {
    if (ix == NULL || path == NULL) return ds__fail(DS_ERR_INVALID, "ds_index_save: NULL argument");
    if (ix->ops->save == NULL) return ds__fail(DS_ERR_UNSUPPORTED, "saving a '%s' index is not built yet", ix->ops->name);
    ds__cwriter *w;
    ds_status rc = ds__cw_open(ix->env, path, ix->ops->file_kind, DS_VEC_FORMAT_MAJOR, DS_VEC_FORMAT_MINOR, 0, &w);
    if (rc != DS_OK) return rc;
    uint8_t meta[META_SIZE] = { 0 };
    ds__store_u32le(meta + 0, (uint32_t)ix->dim);
    ds__store_u32le(meta + 4, (uint32_t)ix->metric);
    ds__store_u32le(meta + 8, (uint32_t)ix->ops->type);
    ds__store_u32le(meta + 12, (uint32_t)ix->opts.storage);
    ds__store_u32le(meta + 16, ix->n_slots);
    ds__store_u64le(meta + 24, ix->n_live);
    ds__store_u64le(meta + 32, ix->opts.seed);
    ds__cw_section(w, DS_VEC_SEC_META, DS_SECTION_REQUIRED, meta, sizeof meta);
    ds__cw_begin(w, DS_VEC_SEC_LABELS, DS_SECTION_REQUIRED);
    for (uint32_t i = 0; i < ix->n_slots; i++) {
        uint8_t b[8];
        ds__store_u64le(b, ix->labels[i]);
        ds__cw_write(w, b, 8);
    }
    ds__cw_end(w);
    size_t del_bytes = ((size_t)ix->n_slots + 7) / 8;
    ds__cw_begin(w, DS_VEC_SEC_DELETED, DS_SECTION_REQUIRED);
    if (ix->deleted != NULL) {
        ds__cw_write(w, ix->deleted, del_bytes);
    } else {
        static const uint8_t zeros[256];
        for (size_t left = del_bytes; left > 0;) {
            size_t t = left < sizeof zeros ? left : sizeof zeros;
            ds__cw_write(w, zeros, t);
            left -= t;
        }
    }
    ds__cw_end(w);
    rc = ix->ops->save(ix, w);
    if (rc != DS_OK) {
        ds__cw_abort(w);
        return rc;
    }
    return ds__cw_commit(w);
}

/* Reads the common sections into ix (labels used in place from the map). */
static ds_status load_common(ds_index *ix, const ds__creader *r) {
    const uint8_t *p;
    uint64_t len;
    ds_status rc = ds__cr_get(r, DS_VEC_SEC_LABELS, &p, &len);
    if (rc != DS_OK) return rc;
    if (len != (uint64_t)ix->n_slots * 8) return ds__fail(DS_ERR_CORRUPT, "LABL holds %llu bytes for %u slots", (unsigned long long)len, ix->n_slots);
    if (ix->n_slots > 0) {
        /* Labels are read through an owned copy: the mapped section is
        ** 64-aligned, but a big-endian host would need to swap anyway. */
        rc = own_labels(ix, ix->n_slots);
        if (rc != DS_OK) return rc;
        for (uint32_t i = 0; i < ix->n_slots; i++) ix->labels[i] = ds__load_u64le(p + 8 * (size_t)i);
    }
    rc = ds__cr_get(r, DS_VEC_SEC_DELETED, &p, &len);
    if (rc != DS_OK) return rc;
    if (len != ((uint64_t)ix->n_slots + 7) / 8) return ds__fail(DS_ERR_CORRUPT, "DELS has the wrong length");
    rc = own_deleted(ix, ix->n_slots);
    if (rc != DS_OK) return rc;
    if (len) memcpy(ix->deleted, p, (size_t)len);
    uint64_t live = 0;
    for (uint32_t i = 0; i < ix->n_slots; i++) {
        if (ds__slot_deleted(ix, i)) continue;
        live++;
        uint32_t other;
        if (ds__idmap_get(&ix->idmap, ix->labels[i], &other))
            return ds__fail(DS_ERR_CORRUPT, "id %llu appears at slots %u and %u", (unsigned long long)ix->labels[i], other, i);
        rc = ds__idmap_put(ix->env, &ix->idmap, ix->labels[i], i);
        if (rc != DS_OK) return rc;
    }
    if (ix->n_slots % 8 && len && (ix->deleted[len - 1] >> (ix->n_slots % 8)) != 0)
        return ds__fail(DS_ERR_CORRUPT, "DELS has bits set past the last slot");
    if (live != ix->n_live) return ds__fail(DS_ERR_CORRUPT, "META says %llu live vectors, DELS leaves %llu",
                                             (unsigned long long)ix->n_live, (unsigned long long)live);
    return DS_OK;
}

static ds_status open_reader(ds_env *env, const ds__creader *r, ds_index **out) {
    *out = NULL;
    env = DS_ENV(env);
    char k[5];
    const ds__index_ops *ops = ops_for_kind(r->file_kind);
    if (ops == NULL) return ds__fail(DS_ERR_FORMAT, "not a vector index (file kind '%s')", ds__fourcc_str(r->file_kind, k));
    if (r->format_major != DS_VEC_FORMAT_MAJOR)
        return ds__fail(DS_ERR_FORMAT, "vector index format %u.%u is not supported (this build reads %u.x)",
                        r->format_major, r->format_minor, DS_VEC_FORMAT_MAJOR);
    const uint8_t *m;
    uint64_t len;
    ds_status rc = ds__cr_get(r, DS_VEC_SEC_META, &m, &len);
    if (rc != DS_OK) return rc;
    if (len != META_SIZE) return ds__fail(DS_ERR_CORRUPT, "META is %llu bytes, expected %u", (unsigned long long)len, META_SIZE);
    ds_index_opts o;
    ds_index_opts_init(&o);
    uint32_t dim = ds__load_u32le(m);
    o.metric = (ds_metric)ds__load_u32le(m + 4);
    o.type = (ds_index_type)ds__load_u32le(m + 8);
    o.storage = (ds_storage)ds__load_u32le(m + 12);
    o.seed = ds__load_u64le(m + 32);
    if (o.type != ops->type) return ds__fail(DS_ERR_CORRUPT, "META type %u disagrees with the file kind", (unsigned)o.type);
    ds_index *ix;
    rc = index_alloc(env, dim, &o, &ix);
    if (rc != DS_OK) return ds__fail_prefix(rc == DS_ERR_NOMEM ? rc : DS_ERR_CORRUPT, "META: ");
    ix->n_slots = ds__load_u32le(m + 16);
    ix->n_live = ds__load_u64le(m + 24);
    if (ix->n_live > ix->n_slots || ix->n_slots == UINT32_MAX) rc = ds__fail(DS_ERR_CORRUPT, "META counts are inconsistent");
    if (rc == DS_OK) rc = ops->init(ix);
    if (rc == DS_OK) rc = load_common(ix, r);
    if (rc == DS_OK && ops->load == NULL) rc = ds__fail(DS_ERR_UNSUPPORTED, "loading a '%s' index is not built yet", ops->name);
    if (rc == DS_OK) rc = ops->load(ix, r);
    if (rc != DS_OK) {
        ix->file = NULL;
        ds_index_close(ix);
        return rc;
    }
    *out = ix;
    return DS_OK;
}

ds_status ds_index_open(ds_env *env, const char *path, unsigned flags, ds_index **out) {
    if (out == NULL || path == NULL) return ds__fail(DS_ERR_INVALID, "ds_index_open: NULL argument");
    *out = NULL;
    env = DS_ENV(env);
    ds__creader *r;
    ds_status rc = ds__cr_open(env, path, 0, flags, &r);
    if (rc != DS_OK) return rc;
    ds_index *ix;
    rc = open_reader(env, r, &ix);
    if (rc != DS_OK) {
        ds__fail_prefix(rc, "%s: ", path);
        ds__cr_close(r);
        return rc;
    }
    ix->file = r;
    *out = ix;
    return DS_OK;
}

ds_status ds__index_open_mem(ds_env *env, const void *data, size_t size, unsigned flags, ds_index **out) {
    *out = NULL;
    env = DS_ENV(env);
    ds__creader *r;
    ds_status rc = ds__cr_open_mem(env, data, size, 0, flags, &r);
    if (rc != DS_OK) return rc;
    ds_index *ix;
    rc = open_reader(env, r, &ix);
    if (rc != DS_OK) {
        ds__cr_close(r);
        return rc;
    }
    ix->file = r;
    *out = ix;
    return DS_OK;
}

/* The deep check is a full load: every type's load() validates everything. */
ds_status ds__vector_check(ds_env *env, const ds__creader *r) {
    ds_index *ix;
    ds_status rc = open_reader(env, r, &ix);
    if (rc != DS_OK) return rc;
    ds_index_close(ix);        /* ix->file is NULL: the reader stays with the caller */
    return DS_OK;
}

const float *ds__index_vector(const ds_index *ix, uint64_t id) {
    uint32_t slot;
    if (ix->ops->vector == NULL || !ds__idmap_get(&ix->idmap, id, &slot) || ds__slot_deleted(ix, slot)) return NULL;
    return ix->ops->vector(ix, slot);
}
