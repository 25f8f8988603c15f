/* flat.c -- exact search over f32, f16 or int8 vectors (docs/format.md §3.2).
**
** Storage:
**  - f32: one row-major float array.
**  - f16: IEEE half per value; scored with the f32-query x f16-row kernels.
**  - int8: per-dimension scalar quantisation, x[j] ~ lo[j] + (c[j] + 128) *
**    step[j] with c a signed byte. The range comes from train() or, failing
**    that, from the first add; later values are clamped. A query q becomes
**    q'[j] = q[j] * step[j], itself quantised to int8 with one scale a, so
**    q.x ~ sum(q*lo) + a * (dot_i8(q8, c) + 128 * sum(q8)) -- one int8 dot
**    product per row (VNNI where the CPU has it). Not re-scored: recall is
**    measured and reported (docs/benchmarks.md).
** For L2 the squared norm of every stored (decoded) row is kept, so
** ||q - x||^2 = ||q||^2 - 2 q.x + ||x||^2 needs only the dot product.
**
** Search: one query streams the rows through the one-query-many-rows kernel
** in blocks and keeps a top-k heap; many f32 queries use a blocked matrix
** product (OpenBLAS sgemm: up to 1024 queries x 1024 rows per call -- each
** call packs its row block, so a typical batch of <= 1024 queries packs every
** row once (512-query blocks packed it twice and measured slower: docs/benchmarks.md,
** "Batched flat f32: what changed");
** the 4 MB score block stays in L3) and per-query top-k over each block, with
** a 16-wide threshold pre-test (offer_block).
**
** Vectors live owned and growable after create/add, or in place from the
** mapped file after open (64-byte aligned sections, little-endian host).
*/
#include "vector/index_impl.h"
#include "simd/simd.h"

#include <cblas.h>
#include <math.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "flat.c maps little-endian vectors in place; add a byte-swapping load for this host"
#endif

#define SEC_VECS  DS_FOURCC('V', 'E', 'C', 'S')
#define SEC_SQ    DS_FOURCC('S', 'Q', 'P', 'R')     /* int8: dim x f32 lo, dim x f32 step */
#define SEC_NORMS DS_FOURCC('N', 'R', 'M', 'S')     /* n_slots x f32 squared norms (L2 only) */
#define ROW_BLOCK 2048      /* rows per block of the single-query scan */
#define ROW_BLOCK_B 1024    /* rows per sgemm of the batched path */
#define Q_BLOCK   1024      /* queries per sgemm: 1024 x 1024 scores = 4 MB */

typedef struct flat {
    void   *vecs;       /* n_slots rows of row_bytes */
    size_t  row_bytes, elem;
    size_t  cap;        /* rows allocated; 0 when mapped */
    float  *norms;      /* n_slots squared norms (L2), owned (norms_cap) or mapped */
    size_t  norms_cap;
    float  *lo, *step;  /* int8: dim each (owned) */
    int     sq_ready;
} flat;

static ds_status flat_init(ds_index *ix) {
    flat *f = ds__calloc(ix->env, 1, sizeof(flat));
    if (f == NULL) return ds__fail(DS_ERR_NOMEM, "out of memory");
    f->elem = ix->opts.storage == DS_STORAGE_F32 ? 4 : ix->opts.storage == DS_STORAGE_F16 ? 2 : 1;
    f->row_bytes = ix->dim * f->elem;
    if (ix->opts.storage == DS_STORAGE_INT8) {
        f->lo = ds__calloc(ix->env, ix->dim, sizeof(float));
        f->step = ds__calloc(ix->env, ix->dim, sizeof(float));
        if (f->lo == NULL || f->step == NULL) {
            ds__free(ix->env, f->lo, ix->dim * sizeof(float));
            ds__free(ix->env, f->step, ix->dim * sizeof(float));
            ds__free(ix->env, f, sizeof *f);
            return ds__fail(DS_ERR_NOMEM, "out of memory");
        }
    }
    ix->impl = f;
    return DS_OK;
}

static void flat_destroy(ds_index *ix) {
    flat *f = ix->impl;
    if (f == NULL) return;
    if (f->cap) ds__free(ix->env, f->vecs, f->cap * f->row_bytes);
    if (f->norms_cap) ds__free(ix->env, f->norms, f->norms_cap * sizeof(float));
    ds__free(ix->env, f->lo, ix->dim * sizeof(float));
    ds__free(ix->env, f->step, ix->dim * sizeof(float));
    ds__free(ix->env, f, sizeof *f);
}

/* int8 range from n sample rows: per-dimension min/max. */
static void sq_fit(ds_index *ix, const float *x, size_t n) {
    flat *f = ix->impl;
    for (size_t j = 0; j < ix->dim; j++) {
        float mn = INFINITY, mx = -INFINITY;
        for (size_t i = 0; i < n; i++) {
            float v = x[i * ix->dim + j];
            mn = v < mn ? v : mn;
            mx = v > mx ? v : mx;
        }
        if (n == 0) mn = mx = 0;
        f->lo[j] = mn;
        f->step[j] = mx > mn ? (mx - mn) / 255.0f : 1.0f;
    }
    f->sq_ready = 1;
}

static ds_status flat_train(ds_index *ix, const float *x, size_t n) {
    flat *f = ix->impl;
    if (ix->opts.storage != DS_STORAGE_INT8 || n == 0) return DS_OK;
    if (ix->n_slots > 0) return ds__fail(DS_ERR_INVALID, "flat int8: train before the first add");
    (void)f;
    sq_fit(ix, x, n);
    return DS_OK;
}

static void decode_row(const ds_index *ix, uint32_t s, float *out) {
    const flat *f = ix->impl;
    const uint8_t *row = (const uint8_t *)f->vecs + (size_t)s * f->row_bytes;
    if (ix->opts.storage == DS_STORAGE_F32) memcpy(out, row, f->row_bytes);
    else if (ix->opts.storage == DS_STORAGE_F16) ix->env->kernels->f16_to_f32((const uint16_t *)(const void *)row, out, ix->dim);
    else
        for (size_t j = 0; j < ix->dim; j++) out[j] = f->lo[j] + (float)((int)(int8_t)row[j] + 128) * f->step[j];
}

static ds_status flat_add(ds_index *ix, const float *x, size_t n) {
    flat *f = ix->impl;
    size_t need = (size_t)ix->n_slots + n;
    int l2 = ix->metric == DS_METRIC_L2;
    if (need > f->cap) {
        size_t cap = f->cap ? f->cap : 1024;
        while (cap < need) cap *= 2;
        size_t bytes;
        if (!ds__mul_ok(cap, f->row_bytes, &bytes)) return ds__fail(DS_ERR_RANGE, "too many vectors");
        uint8_t *v = ds__alloc(ix->env, bytes, 64);
        if (v == NULL) return ds__fail(DS_ERR_NOMEM, "out of memory for %zu vectors", cap);
        if (ix->n_slots) memcpy(v, f->vecs, (size_t)ix->n_slots * f->row_bytes);
        if (f->cap) ds__free(ix->env, f->vecs, f->cap * f->row_bytes);
        f->vecs = v;
        f->cap = cap;
    }
    if (l2 && need > f->norms_cap) {
        size_t cap = f->cap;
        float *nr = ds__alloc(ix->env, cap * sizeof(float), 64);
        if (nr == NULL) return ds__fail(DS_ERR_NOMEM, "out of memory");
        if (ix->n_slots) memcpy(nr, f->norms, (size_t)ix->n_slots * sizeof(float));
        if (f->norms_cap) ds__free(ix->env, f->norms, f->norms_cap * sizeof(float));
        f->norms = nr;
        f->norms_cap = cap;
    }
    if (ix->opts.storage == DS_STORAGE_INT8 && !f->sq_ready) sq_fit(ix, x, n);
    uint8_t *dst = (uint8_t *)f->vecs + (size_t)ix->n_slots * f->row_bytes;
    if (ix->opts.storage == DS_STORAGE_F32) {
        memcpy(dst, x, n * f->row_bytes);
    } else if (ix->opts.storage == DS_STORAGE_F16) {
        ix->env->kernels->f32_to_f16(x, (uint16_t *)(void *)dst, n * ix->dim);
    } else {
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < ix->dim; j++) {
                float c = rintf((x[i * ix->dim + j] - f->lo[j]) / f->step[j]);
                c = c < 0 ? 0 : c > 255 ? 255 : c;
                dst[i * ix->dim + j] = (uint8_t)(int8_t)((int)c - 128);
            }
    }
    if (l2) {
        float *tmp = ds__alloc(ix->env, ix->dim * sizeof(float), 64);
        if (tmp == NULL) return ds__fail(DS_ERR_NOMEM, "out of memory");
        for (size_t i = 0; i < n; i++) {
            uint32_t s = ix->n_slots + (uint32_t)i;
            decode_row(ix, s, tmp);
            double sum = 0;
            for (size_t j = 0; j < ix->dim; j++) sum += (double)tmp[j] * tmp[j];
            f->norms[s] = (float)sum;
        }
        ds__free(ix->env, tmp, ix->dim * sizeof(float));
    }
    return DS_OK;
}

/* Offers the scores sc[0..nb) of slots b0.. to the heap. Once the heap is
** full nearly every score is below its threshold, so without a filter the
** offer costs ~a fifth of the sgemm that produced the scores: 16 scores are
** tested at once first (SSE2 is part of x86-64) and only a group holding a
** candidate is walked one by one. cmpnlt (not less than) keeps the scalar
** test's meaning exactly, NaN included, so the result does not depend on the
** filter. filtered: apply the deletes/allow-list test per admitted slot. */
static void offer_block(const ds_index *ix, const ds__search_params *p, int filtered, ds__topk *t,
                        const float *sc, uint32_t nb, uint32_t b0) {
    float thr = ds__topk_threshold(t);
    uint32_t j = 0;
#if defined(__SSE2__)
    for (; j + 16 <= nb; j += 16) {
        __m128 th = _mm_set1_ps(thr);
        __m128 m = _mm_or_ps(_mm_or_ps(_mm_cmpnlt_ps(_mm_loadu_ps(sc + j), th), _mm_cmpnlt_ps(_mm_loadu_ps(sc + j + 4), th)),
                             _mm_or_ps(_mm_cmpnlt_ps(_mm_loadu_ps(sc + j + 8), th), _mm_cmpnlt_ps(_mm_loadu_ps(sc + j + 12), th)));
        if (_mm_movemask_ps(m) == 0) continue;
        for (uint32_t i = j; i < j + 16; i++) {
            if (sc[i] < thr || (filtered && !ds__slot_allowed(ix, p, b0 + i))) continue;
            ds__topk_push(t, sc[i], b0 + i);
            thr = ds__topk_threshold(t);
        }
    }
#endif
    for (; j < nb; j++) {
        if (sc[j] < thr || (filtered && !ds__slot_allowed(ix, p, b0 + j))) continue;
        ds__topk_push(t, sc[j], b0 + j);
        thr = ds__topk_threshold(t);
    }
}

/* The prepared query of the int8 path: q8 = round(q * step / a). */
typedef struct qint8 { int8_t *q8; float a, bias; int32_t sum8; } qint8;

static void prep_int8(const ds_index *ix, const float *q, int8_t *q8, qint8 *out) {
    const flat *f = ix->impl;
    float mx = 0;
    double bias = 0;
    for (size_t j = 0; j < ix->dim; j++) {
        float v = fabsf(q[j] * f->step[j]);
        mx = v > mx ? v : mx;
        bias += (double)q[j] * f->lo[j];
    }
    float a = mx > 0 ? mx / 127.0f : 1.0f;
    int32_t sum = 0;
    for (size_t j = 0; j < ix->dim; j++) {
        int v = (int)rintf(q[j] * f->step[j] / a);
        q8[j] = (int8_t)(v < -127 ? -127 : v > 127 ? 127 : v);
        sum += q8[j];
    }
    out->q8 = q8;
    out->a = a;
    out->bias = (float)bias;
    out->sum8 = sum;
}

static ds_status flat_search(const ds_index *ix, const float *q, size_t k, const ds__search_params *p,
                             uint32_t *slots, float *scores, size_t *n_found) {
    const flat *f = ix->impl;
    const ds__kernels *kern = ix->env->kernels;
    ds__topk t;
    ds__topk_init(&t, scores, slots, k);
    int l2 = ix->metric == DS_METRIC_L2;
    int all = p->filter == NULL && ix->n_live == ix->n_slots;
    float qn = l2 ? kern->dot_f32(q, q, ix->dim) : 0;
    float dots[ROW_BLOCK];
    int8_t *q8buf = NULL;
    qint8 qi;
    memset(&qi, 0, sizeof qi);
    if (ix->opts.storage == DS_STORAGE_INT8) {
        if ((q8buf = ds__alloc(ix->env, ix->dim, 64)) == NULL) return ds__fail(DS_ERR_NOMEM, "out of memory");
        prep_int8(ix, q, q8buf, &qi);
    }
    for (uint32_t b0 = 0; b0 < ix->n_slots; b0 += ROW_BLOCK) {
        uint32_t nb = ix->n_slots - b0 < ROW_BLOCK ? ix->n_slots - b0 : ROW_BLOCK;
        const uint8_t *rows = (const uint8_t *)f->vecs + (size_t)b0 * f->row_bytes;
        if (ix->opts.storage == DS_STORAGE_F32) {
            kern->dot_f32_rows(q, (const float *)(const void *)rows, ix->dim, nb, ix->dim, dots);
        } else if (ix->opts.storage == DS_STORAGE_F16) {
            for (uint32_t i = 0; i < nb; i++) dots[i] = kern->dot_f16(q, (const uint16_t *)(const void *)(rows + (size_t)i * f->row_bytes), ix->dim);
        } else {
            for (uint32_t i = 0; i < nb; i++) {
                int32_t d8 = kern->dot_i8(qi.q8, (const int8_t *)(rows + (size_t)i * f->row_bytes), ix->dim);
                dots[i] = qi.bias + qi.a * (float)(d8 + 128 * qi.sum8);
            }
        }
        if (l2)
            for (uint32_t i = 0; i < nb; i++) dots[i] = -(qn - 2 * dots[i] + f->norms[b0 + i]);
        offer_block(ix, p, !all, &t, dots, nb, b0);
        if (p->cancel != NULL && (b0 / ROW_BLOCK) % 64 == 63 && p->cancel(p->cancel_ud)) {
            ds__free(ix->env, q8buf, ix->dim);
            return ds__fail(DS_ERR_CANCELED, "search canceled");
        }
    }
    ds__free(ix->env, q8buf, ix->dim);
    *n_found = ds__topk_sort(&t);
    return DS_OK;
}

/* f32 with many queries: sgemm of a query block against a row block, then
** per-query top-k over the block's scores. Other storages fall back to the
** per-query path (their kernels already stream compact rows). */
static ds_status flat_search_batch(const ds_index *ix, const float *q, size_t nq, size_t k, const ds__search_params *p,
                                   uint32_t *slots, float *scores, size_t *n_found) {
    const flat *f = ix->impl;
    if (ix->opts.storage != DS_STORAGE_F32 || nq < 4) {
        for (size_t i = 0; i < nq; i++) {
            ds_status rc = flat_search(ix, q + i * ix->dim, k, p, slots + i * k, scores + i * k, &n_found[i]);
            if (rc != DS_OK) return rc;
        }
        return DS_OK;
    }
    int l2 = ix->metric == DS_METRIC_L2;
    int all = p->filter == NULL && ix->n_live == ix->n_slots;
    size_t sbytes = (size_t)Q_BLOCK * ROW_BLOCK_B * sizeof(float);
    float *sc = ds__alloc(ix->env, sbytes, 64);
    ds__topk *tk = ds__alloc(ix->env, nq * sizeof(ds__topk), 64);
    float *qn = ds__alloc(ix->env, nq * sizeof(float), 64);
    ds_status rc = DS_OK;
    if (sc == NULL || tk == NULL || qn == NULL) { rc = ds__fail(DS_ERR_NOMEM, "out of memory for batched search"); goto done; }
    for (size_t i = 0; i < nq; i++) {
        ds__topk_init(&tk[i], scores + i * k, slots + i * k, k);
        qn[i] = l2 ? ix->env->kernels->dot_f32(q + i * ix->dim, q + i * ix->dim, ix->dim) : 0;
    }
    /* Rows outer, queries inner: each row block is read from memory once
    ** per batch (it is the big operand) and reused across query blocks. */
    for (uint32_t b0 = 0; b0 < ix->n_slots && rc == DS_OK; b0 += ROW_BLOCK_B) {
        uint32_t nb = ix->n_slots - b0 < ROW_BLOCK_B ? ix->n_slots - b0 : ROW_BLOCK_B;
        const float *rows = (const float *)f->vecs + (size_t)b0 * ix->dim;
        for (size_t q0 = 0; q0 < nq; q0 += Q_BLOCK) {
            size_t nqb = nq - q0 < Q_BLOCK ? nq - q0 : Q_BLOCK;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nqb, (int)nb, (int)ix->dim, 1.0f,
                        q + q0 * ix->dim, (int)ix->dim, rows, (int)ix->dim, 0.0f, sc, (int)nb);
            for (size_t i = 0; i < nqb; i++) {
                float *row = sc + i * nb;
                if (l2)
                    for (uint32_t j = 0; j < nb; j++) row[j] = -(qn[q0 + i] - 2 * row[j] + f->norms[b0 + j]);
                offer_block(ix, p, !all, &tk[q0 + i], row, nb, b0);
            }
        }
        if (p->cancel != NULL && p->cancel(p->cancel_ud)) rc = ds__fail(DS_ERR_CANCELED, "search canceled");
    }
    for (size_t i = 0; rc == DS_OK && i < nq; i++) n_found[i] = ds__topk_sort(&tk[i]);
done:
    ds__free(ix->env, sc, sbytes);
    ds__free(ix->env, tk, nq * sizeof(ds__topk));
    ds__free(ix->env, qn, nq * sizeof(float));
    return rc;
}

static ds_status flat_save(const ds_index *ix, ds__cwriter *w) {
    const flat *f = ix->impl;
    ds__cw_section(w, SEC_VECS, DS_SECTION_REQUIRED, f->vecs, (size_t)ix->n_slots * f->row_bytes);
    if (ix->opts.storage == DS_STORAGE_INT8) {
        ds__cw_begin(w, SEC_SQ, DS_SECTION_REQUIRED);
        ds__cw_write(w, f->lo, ix->dim * sizeof(float));
        ds__cw_write(w, f->step, ix->dim * sizeof(float));
        ds__cw_end(w);
    }
    if (ix->metric == DS_METRIC_L2)
        return ds__cw_section(w, SEC_NORMS, DS_SECTION_REQUIRED, f->norms, (size_t)ix->n_slots * sizeof(float));
    return DS_OK;
}

static ds_status flat_load(ds_index *ix, const ds__creader *r) {
    flat *f = ix->impl;
    const uint8_t *p;
    uint64_t len;
    ds_status rc = ds__cr_get(r, SEC_VECS, &p, &len);
    if (rc != DS_OK) return rc;
    if (len != (uint64_t)ix->n_slots * f->row_bytes)
        return ds__fail(DS_ERR_CORRUPT, "VECS holds %llu bytes, expected %u x %zu bytes",
                        (unsigned long long)len, ix->n_slots, f->row_bytes);
    f->vecs = (void *)(uintptr_t)p;
    f->cap = 0;
    if (ix->opts.storage == DS_STORAGE_INT8) {
        if ((rc = ds__cr_get(r, SEC_SQ, &p, &len)) != DS_OK) return rc;
        if (len != 2 * ix->dim * sizeof(float)) return ds__fail(DS_ERR_CORRUPT, "SQPR holds %llu bytes, expected %zu", (unsigned long long)len, 2 * ix->dim * sizeof(float));
        memcpy(f->lo, p, ix->dim * sizeof(float));
        memcpy(f->step, p + ix->dim * sizeof(float), ix->dim * sizeof(float));
        for (size_t j = 0; j < ix->dim; j++)
            if (!isfinite(f->lo[j]) || !isfinite(f->step[j]) || !(f->step[j] > 0))
                return ds__fail(DS_ERR_CORRUPT, "SQPR: dimension %zu has range lo %g step %g", j, (double)f->lo[j], (double)f->step[j]);
        f->sq_ready = 1;
    }
    if (ix->metric == DS_METRIC_L2) {
        if ((rc = ds__cr_get(r, SEC_NORMS, &p, &len)) != DS_OK) return rc;
        if (len != (uint64_t)ix->n_slots * sizeof(float)) return ds__fail(DS_ERR_CORRUPT, "NRMS holds %llu bytes for %u rows", (unsigned long long)len, ix->n_slots);
        f->norms = (float *)(uintptr_t)p;
        f->norms_cap = 0;
    }
    return DS_OK;
}

static uint64_t flat_memory(const ds_index *ix) {
    const flat *f = ix->impl;
    return (uint64_t)ix->n_slots * (f->row_bytes + (ix->metric == DS_METRIC_L2 ? 4 : 0));
}

/* Only float32 rows are the vectors as added; f16 and int8 rows are not. */
static const float *flat_vector(const ds_index *ix, uint32_t slot) {
    const flat *f = ix->impl;
    if (f->elem != 4) return NULL;
    return (const float *)(const void *)((const uint8_t *)f->vecs + (size_t)slot * f->row_bytes);
}

const ds__index_ops ds__flat_ops = {
    .type = DS_INDEX_FLAT,
    .file_kind = DS_VEC_KIND_FLAT,
    .name = "flat",
    .init = flat_init,
    .destroy = flat_destroy,
    .train = flat_train,
    .add = flat_add,
    .search = flat_search,
    .search_batch = flat_search_batch,
    .save = flat_save,
    .load = flat_load,
    .memory = flat_memory,
    .vector = flat_vector,
};
