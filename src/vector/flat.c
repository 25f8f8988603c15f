/* flat.c -- exact search over f32 vectors (docs/format.md §3.2).
**
** Vectors live in one row-major array: owned and growable after create/add,
** or used in place from the memory-mapped file after open (sections are
** 64-byte aligned; the format is little-endian like every supported host).
*/
#include "vector/index_impl.h"
#include "simd/simd.h"

#include <math.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "flat.c maps little-endian vectors in place; add a byte-swapping load for this host"
#endif

#define SEC_VECS DS_FOURCC('V', 'E', 'C', 'S')

typedef struct flat {
    float  *vecs;       /* n_slots x dim */
    size_t  cap;        /* rows allocated; 0 when mapped */
} flat;

static ds_status flat_init(ds_index *ix) {
    if (ix->opts.storage != DS_STORAGE_F32)
        return ds__fail(DS_ERR_UNSUPPORTED, "flat storage other than f32 is not built yet");
    ix->impl = ds__calloc(ix->env, 1, sizeof(flat));
    return ix->impl ? DS_OK : ds__fail(DS_ERR_NOMEM, "out of memory");
}

static void flat_destroy(ds_index *ix) {
    flat *f = ix->impl;
    if (f == NULL) return;
    if (f->cap) ds__free(ix->env, f->vecs, f->cap * ix->dim * sizeof(float));
    ds__free(ix->env, f, sizeof *f);
}

static ds_status flat_add(ds_index *ix, const float *x, size_t n) {
    flat *f = ix->impl;
    size_t need = (size_t)ix->n_slots + n;
    if (need > f->cap) {
        size_t cap = f->cap ? f->cap : 1024;
        while (cap < need) cap *= 2;
        size_t bytes;
        if (!ds__mul_ok(cap, ix->dim * sizeof(float), &bytes)) return ds__fail(DS_ERR_RANGE, "too many vectors");
        float *v = ds__alloc(ix->env, bytes, 64);
        if (v == NULL) return ds__fail(DS_ERR_NOMEM, "out of memory for %zu vectors", cap);
        if (ix->n_slots) memcpy(v, f->vecs, (size_t)ix->n_slots * ix->dim * sizeof(float));
        if (f->cap) ds__free(ix->env, f->vecs, f->cap * ix->dim * sizeof(float));
        f->vecs = v;
        f->cap = cap;
    }
    memcpy(f->vecs + (size_t)ix->n_slots * ix->dim, x, n * ix->dim * sizeof(float));
    return DS_OK;
}

static ds_status flat_search(const ds_index *ix, const float *q, size_t k, const ds__search_params *p,
                             uint32_t *slots, float *scores, size_t *n_found) {
    const flat *f = ix->impl;
    const ds__kernels *kern = ix->env->kernels;
    ds__topk t;
    ds__topk_init(&t, scores, slots, k);
    int l2 = ix->metric == DS_METRIC_L2;
    for (uint32_t s = 0; s < ix->n_slots; s++) {
        if (!ds__slot_allowed(ix, p, s)) continue;
        const float *v = f->vecs + (size_t)s * ix->dim;
        float sc = l2 ? -kern->l2sq_f32(q, v, ix->dim) : kern->dot_f32(q, v, ix->dim);
        ds__topk_push(&t, sc, s);
    }
    *n_found = ds__topk_sort(&t);
    return DS_OK;
}

static ds_status flat_save(const ds_index *ix, ds__cwriter *w) {
    const flat *f = ix->impl;
    return ds__cw_section(w, SEC_VECS, DS_SECTION_REQUIRED, f->vecs, (size_t)ix->n_slots * ix->dim * sizeof(float));
}

static ds_status flat_load(ds_index *ix, const ds__creader *r) {
    flat *f = ix->impl;
    const uint8_t *p;
    uint64_t len;
    ds_status rc = ds__cr_get(r, SEC_VECS, &p, &len);
    if (rc != DS_OK) return rc;
    if (len != (uint64_t)ix->n_slots * ix->dim * sizeof(float))
        return ds__fail(DS_ERR_CORRUPT, "VECS holds %llu bytes, expected %u x %zu floats",
                        (unsigned long long)len, ix->n_slots, ix->dim);
    f->vecs = (float *)(uintptr_t)p;
    f->cap = 0;
    return DS_OK;
}

static uint64_t flat_memory(const ds_index *ix) {
    return (uint64_t)ix->n_slots * ix->dim * sizeof(float);
}

const ds__index_ops ds__flat_ops = {
    .type = DS_INDEX_FLAT,
    .file_kind = DS_VEC_KIND_FLAT,
    .name = "flat",
    .init = flat_init,
    .destroy = flat_destroy,
    .add = flat_add,
    .search = flat_search,
    .save = flat_save,
    .load = flat_load,
    .memory = flat_memory,
};
