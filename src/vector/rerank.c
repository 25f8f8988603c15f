/* rerank.c -- what IVF-PQ and binary share: the full-precision vectors kept
** for exact re-scoring (section FVEC, docs/format.md §3.4/§3.5), the
** re-scoring itself, and an open-from-memory helper for fuzzing.
**
** The bi-granular design: compact codes answer the query approximately from
** RAM; only the few hundred best candidates touch the full vectors, which
** after open are used in place from the memory-mapped file.
** Thread: ds__rerank is read-only; the rest is exclusive.
*/
#define _GNU_SOURCE 1
#include "vector/index_impl.h"
#include "vector/quant.h"
#include "simd/simd.h"

#include <stdio.h>
#include <unistd.h>
#include <sys/mman.h>

ds_status ds__fvecs_reserve(ds_env *env, ds__fvecs *f, size_t dim, size_t n_have, size_t total) {
    if (total <= f->cap) return DS_OK;
    size_t cap = f->cap ? f->cap : 1024, bytes;
    while (cap < total) cap *= 2;
    if (!ds__mul_ok(cap, dim * sizeof(float), &bytes)) return ds__fail(DS_ERR_RANGE, "too many vectors");
    float *v = ds__alloc(env, bytes, 64);
    if (v == NULL) return ds__fail(DS_ERR_NOMEM, "out of memory for %zu full vectors", cap);
    if (n_have) memcpy(v, f->v, n_have * dim * sizeof(float));
    ds__fvecs_release(env, f, dim);
    f->v = v;
    f->cap = cap;
    return DS_OK;
}

void ds__fvecs_release(ds_env *env, ds__fvecs *f, size_t dim) {
    if (f->cap) ds__free(env, f->v, f->cap * dim * sizeof(float));
    f->v = NULL;
    f->cap = 0;
}

ds_status ds__fvecs_load(const ds__creader *r, size_t dim, uint32_t n_slots, ds__fvecs *f) {
    const uint8_t *p;
    uint64_t len;
    ds_status rc = ds__cr_get(r, DS_SEC_FVEC, &p, &len);
    if (rc != DS_OK) return rc;
    if (len != (uint64_t)n_slots * dim * sizeof(float))
        return ds__fail(DS_ERR_CORRUPT, "FVEC holds %llu bytes, expected %u x %zu floats", (unsigned long long)len, n_slots, dim);
    f->v = n_slots ? (float *)(uintptr_t)p : NULL;
    f->cap = 0;
    return DS_OK;
}

size_t ds__rerank(const ds_index *ix, const float *vecs, const float *q,
                  const uint32_t *cand, size_t nc, size_t k, uint32_t *slots, float *scores) {
    const ds__kernels *kern = ix->env->kernels;
    ds__topk t;
    ds__topk_init(&t, scores, slots, k);
    int l2 = ix->metric == DS_METRIC_L2;
    for (size_t i = 0; i < nc; i++) {
        const float *v = vecs + (size_t)cand[i] * ix->dim;
        float s = l2 ? -kern->l2sq_f32(q, v, ix->dim) : kern->dot_f32(q, v, ix->dim);
        ds__topk_push(&t, s, cand[i]);
    }
    return ds__topk_sort(&t);
}
