/* ivfpq.c -- IVF-PQ with exact re-scoring (file kind VIVF, docs/format.md §3.4).
**
** Train: k-means coarse quantizer (nlist centroids), then PQ (optionally OPQ)
** on the residuals x - c of a training sample. Add: each vector goes to the
** inverted list of its nearest centroid (L2) with the PQ code of its rotated
** residual R(x - c). Search: the nprobe lists nearest to q (L2, as assigned) are scanned
** with ADC tables, the best `rerank` allowed entries are re-scored exactly
** against the full vectors (FVEC, memory-mapped after open), best k returned.
**
** IP needs one table per query: <q, c + R^T y> = <q, c> + <Rq, y>.
** L2 (and cosine, see ivf_search) needs one per list: ||q - c - R^T y||^2 = ||R(q - c) - y||^2 = ||Rq - Rc - y||^2,
** with Rc precomputed for every centroid.
**
** Invariants: every slot 0..n_slots-1 is in exactly one list (deleted slots
** too: deletes are filtered at search time by ds__slot_allowed); lists keep
** entries in slot order of addition. Lists, codebooks and centroids are owned
** after train/add, or used in place from the mapped file after open (cap 0 /
** model_owned 0) and copied out on the first add.
** Thread: search is read-only and allocates its own scratch; the rest exclusive.
*/
#include "vector/index_impl.h"
#include "vector/quant.h"
#include "simd/simd.h"

#include <cblas.h>
#include <math.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "ivfpq.c maps little-endian sections in place; add byte-swapping loads for this host"
#endif

#define SEC_IVFP DS_FOURCC('I', 'V', 'F', 'P')
#define SEC_IVFC DS_FOURCC('I', 'V', 'F', 'C')
#define SEC_OPQR DS_FOURCC('O', 'P', 'Q', 'R')
#define SEC_PQCB DS_FOURCC('P', 'Q', 'C', 'B')
#define SEC_IVFL DS_FOURCC('I', 'V', 'F', 'L')
#define SEC_IVFI DS_FOURCC('I', 'V', 'F', 'I')
#define SEC_CODE DS_FOURCC('C', 'O', 'D', 'E')
#define PARAMS_SIZE 64
#define FLAG_OPQ 1u
#define MAX_NLIST (1u << 22)
#define ADC_BATCH 256

typedef struct ivf_list {
    uint32_t *slots;
    uint8_t  *codes;        /* n x code_size */
    size_t    n, cap;       /* cap 0: borrowed from the mapped file (or empty) */
} ivf_list;

typedef struct ivfpq {
    int        trained;
    size_t     nlist;
    ds__pq     pq;          /* pq.cb: m x ksub x dsub */
    float     *cent;        /* nlist x dim */
    float     *rot;         /* dim x dim, or NULL without OPQ */
    float     *rcent;       /* nlist x dim: R c (owned; only with OPQ) */
    float     *cnorm;       /* nlist: ||c||^2 (owned), for the probe order */
    int        model_owned; /* cent, rot, pq.cb owned (else mapped) */
    ivf_list  *lists;       /* nlist (owned array) */
    ds__fvecs  full;
    ds__adc8_fn adc8;
} ivfpq;

static size_t cent_bytes(const ds_index *ix, const ivfpq *v) { return v->nlist * ix->dim * sizeof(float); }
static size_t cb_bytes(const ivfpq *v) { return v->pq.m * v->pq.ksub * v->pq.dsub * sizeof(float); }
static size_t rot_bytes(const ds_index *ix) { return ix->dim * ix->dim * sizeof(float); }

static ds_status ivf_init(ds_index *ix) {
    ivfpq *v = ds__calloc(ix->env, 1, sizeof(ivfpq));
    if (v == NULL) return ds__fail(DS_ERR_NOMEM, "out of memory");
    v->adc8 = ds__adc8_best(ix->env->kernels ? ix->env->kernels->level : 0);
    ix->impl = v;
    return DS_OK;
}

static void free_model(ds_index *ix, ivfpq *v) {
    ds_env *env = ix->env;
    if (v->lists) {
        for (size_t l = 0; l < v->nlist; l++) {
            ivf_list *L = &v->lists[l];
            if (L->cap) {
                ds__free(env, L->slots, L->cap * sizeof(uint32_t));
                ds__free(env, L->codes, L->cap * v->pq.code_size);
            }
        }
        ds__free(env, v->lists, v->nlist * sizeof(ivf_list));
    }
    if (v->model_owned) {
        ds__free(env, v->cent, cent_bytes(ix, v));
        ds__free(env, v->pq.cb, cb_bytes(v));
        ds__free(env, v->rot, v->rot ? rot_bytes(ix) : 0);
    }
    ds__free(env, v->rcent, v->rcent ? cent_bytes(ix, v) : 0);
    ds__free(env, v->cnorm, v->cnorm ? v->nlist * sizeof(float) : 0);
    v->cnorm = NULL;
    v->lists = NULL;
    v->cent = v->rot = v->rcent = v->pq.cb = NULL;
    v->trained = 0;
    v->nlist = 0;
}

static void ivf_destroy(ds_index *ix) {
    ivfpq *v = ix->impl;
    if (v == NULL) return;
    free_model(ix, v);
    ds__fvecs_release(ix->env, &v->full, ix->dim);
    ds__free(ix->env, v, sizeof *v);
    ix->impl = NULL;
}

static size_t default_m(size_t dim) {
    size_t want = dim / 8 ? dim / 8 : 1;
    for (size_t m = want; m > 1; m--)
        if (dim % m == 0) return m;
    return 1;
}

/* What search derives from the centroids: ||c||^2 for every centroid, and
** Rc for every centroid (L2 search with OPQ). */
static ds_status make_derived(ds_index *ix, ivfpq *v) {
    v->cnorm = ds__alloc(ix->env, v->nlist * sizeof(float), 64);
    if (v->cnorm == NULL) return ds__fail(DS_ERR_NOMEM, "out of memory for centroid norms");
    for (size_t l = 0; l < v->nlist; l++) {
        const float *c = v->cent + l * ix->dim;
        v->cnorm[l] = ix->env->kernels->dot_f32(c, c, ix->dim);
    }
    if (v->rot == NULL) return DS_OK;
    v->rcent = ds__alloc(ix->env, cent_bytes(ix, v), 64);
    if (v->rcent == NULL) return ds__fail(DS_ERR_NOMEM, "out of memory for rotated centroids");
    ds__rotate(v->rot, ix->dim, v->cent, v->nlist, v->rcent);
    return DS_OK;
}

static ds_status ivf_train(ds_index *ix, const float *x, size_t n) {
    ivfpq *v = ix->impl;
    ds_env *env = ix->env;
    size_t dim = ix->dim;
    if (ix->n_slots > 0) return ds__fail(DS_ERR_INVALID, "ivfpq: cannot retrain an index that holds vectors");
    size_t nlist = ix->opts.ivf_nlist;
    if (nlist == 0) {
        nlist = (size_t)(4.0 * sqrt((double)n) + 0.5);
        if (nlist > n / 39) nlist = n / 39;    /* >= 39 training points per centroid */
        if (nlist == 0) nlist = 1;
    }
    if (nlist > MAX_NLIST) return ds__fail(DS_ERR_INVALID, "ivf_nlist = %zu is above %u", nlist, MAX_NLIST);
    if (nlist > n) return ds__fail(DS_ERR_INVALID, "ivfpq: %zu training vectors for %zu lists", n, nlist);
    ds__pq pq;
    ds_status rc = ds__pq_setup(&pq, dim, ix->opts.pq_m ? ix->opts.pq_m : default_m(dim), ix->opts.pq_bits ? ix->opts.pq_bits : 8);
    if (rc != DS_OK) return rc;
    if (n < pq.ksub) return ds__fail(DS_ERR_INVALID, "ivfpq: PQ training needs at least %zu vectors, got %zu", pq.ksub, n);
    free_model(ix, v);
    unsigned nt = env->n_threads ? env->n_threads : 1;
    uint64_t seed = ix->opts.seed;

    size_t ns = DS_MIN(n, (size_t)65536), row = dim * sizeof(float), xs_bytes = ns * row;
    size_t *idx = NULL;
    float *xs = NULL;
    uint32_t *asg = NULL;
    v->nlist = nlist;
    v->pq = pq;
    v->model_owned = 1;
    v->cent = ds__alloc(env, cent_bytes(ix, v), 64);
    v->pq.cb = ds__alloc(env, cb_bytes(v), 64);
    v->lists = ds__calloc(env, nlist, sizeof(ivf_list));
    if (ix->opts.opq) v->rot = ds__alloc(env, rot_bytes(ix), 64);
    idx = ds__alloc(env, ns * sizeof(size_t), 64);
    xs = ds__alloc(env, xs_bytes, 64);
    asg = ds__alloc(env, ns * sizeof(uint32_t), 64);
    if (v->cent == NULL || v->pq.cb == NULL || v->lists == NULL || (ix->opts.opq && v->rot == NULL) ||
        idx == NULL || xs == NULL || asg == NULL) {
        rc = ds__fail(DS_ERR_NOMEM, "out of memory for IVF-PQ training");
        goto done;
    }
    /* 10 Lloyd iterations on <= 48 points per list: the lists only need to
    ** be balanced and coherent (re-scoring repairs the rest), and this step
    ** is the bulk of the training time. */
    ds__kmeans_opts ko = { .n_iter = 10, .seed = seed, .max_points = 48 * nlist, .n_threads = nt };
    rc = ds__kmeans(env, x, n, dim, nlist, &ko, v->cent);
    if (rc != DS_OK) goto done;
    /* PQ learns the residuals of a sample. */
    ds__sample_rows(seed ^ 0x5051ULL, n, ns, idx);
    for (size_t i = 0; i < ns; i++) memcpy(xs + i * dim, x + idx[i] * dim, row);
    rc = ds__kmeans_assign(env, v->cent, nlist, dim, xs, ns, nt, asg, NULL);
    if (rc != DS_OK) goto done;
    for (size_t i = 0; i < ns; i++)
        for (size_t j = 0; j < dim; j++) xs[i * dim + j] -= v->cent[(size_t)asg[i] * dim + j];
    size_t n_opq = DS_MIN(ns, (size_t)32768);
    if (v->rot) rc = ds__opq_train(env, &v->pq, xs, n_opq, 6, seed + 17, nt, v->rot);
    if (rc == DS_OK && v->rot && n_opq < ns) {
        /* Final codebooks on the whole residual sample, rotated. */
        float *y = ds__alloc(env, xs_bytes, 64);
        if (y == NULL) rc = ds__fail(DS_ERR_NOMEM, "out of memory for OPQ");
        else {
            ds__rotate(v->rot, dim, xs, ns, y);
            rc = ds__pq_train(env, &v->pq, y, ns, seed + 23, nt);
            ds__free(env, y, xs_bytes);
        }
    } else if (rc == DS_OK && v->rot == NULL) {
        rc = ds__pq_train(env, &v->pq, xs, ns, seed + 23, nt);
    }
    if (rc == DS_OK) rc = make_derived(ix, v);
    if (rc == DS_OK) v->trained = 1;
done:
    ds__free(env, idx, ns * sizeof(size_t));
    ds__free(env, xs, xs_bytes);
    ds__free(env, asg, ns * sizeof(uint32_t));
    if (rc != DS_OK) free_model(ix, v);
    return rc;
}

/* ---- add ---------------------------------------------------------------- */
typedef struct encode_ctx {
    const ds_index *ix;
    const ivfpq *v;
    const float *x;
    const uint32_t *asg;
    uint8_t *codes;
    float *tmp;            /* n_threads x 2 x block x dim */
    const float *cbt;      /* transposed codebooks */
    ds__nearest_fn nearest;
} encode_ctx;

#define ENC_BLOCK 256

static void encode_range(void *vctx, size_t begin, size_t end, unsigned thread) {
    encode_ctx *e = vctx;
    size_t dim = e->ix->dim;
    float *r = e->tmp + (size_t)thread * 2 * ENC_BLOCK * dim, *y = r + ENC_BLOCK * dim;
    for (size_t b = begin; b < end; b += ENC_BLOCK) {
        size_t rows = DS_MIN((size_t)ENC_BLOCK, end - b);
        for (size_t i = 0; i < rows; i++) {
            const float *xi = e->x + (b + i) * dim, *c = e->v->cent + (size_t)e->asg[b + i] * dim;
            for (size_t j = 0; j < dim; j++) r[i * dim + j] = xi[j] - c[j];
        }
        const float *src = r;
        if (e->v->rot) {
            ds__rotate(e->v->rot, dim, r, rows, y);
            src = y;
        }
        ds__pq_encode_fast(&e->v->pq, e->cbt, e->nearest, src, rows, e->codes + b * e->v->pq.code_size);
    }
}

/* Makes list l owned with room for `need` entries. */
static ds_status list_reserve(ds_env *env, ivf_list *L, size_t cs, size_t need) {
    if (need <= L->cap) return DS_OK;
    size_t cap = L->cap ? L->cap : 16;
    while (cap < need) cap *= 2;
    uint32_t *s = ds__alloc(env, cap * sizeof(uint32_t), 64);
    uint8_t *c = ds__alloc(env, cap * cs, 64);
    if (s == NULL || c == NULL) {
        ds__free(env, s, cap * sizeof(uint32_t));
        ds__free(env, c, cap * cs);
        return ds__fail(DS_ERR_NOMEM, "out of memory growing an inverted list");
    }
    if (L->n) {
        memcpy(s, L->slots, L->n * sizeof(uint32_t));
        memcpy(c, L->codes, L->n * cs);
    }
    if (L->cap) {
        ds__free(env, L->slots, L->cap * sizeof(uint32_t));
        ds__free(env, L->codes, L->cap * cs);
    }
    L->slots = s;
    L->codes = c;
    L->cap = cap;
    return DS_OK;
}

/* A model mapped from a file is copied out before the first modification. */
static ds_status own_model(ds_index *ix, ivfpq *v) {
    if (v->model_owned) return DS_OK;
    ds_env *env = ix->env;
    float *c = ds__alloc(env, cent_bytes(ix, v), 64), *cb = ds__alloc(env, cb_bytes(v), 64);
    float *r = v->rot ? ds__alloc(env, rot_bytes(ix), 64) : NULL;
    if (c == NULL || cb == NULL || (v->rot && r == NULL)) {
        ds__free(env, c, cent_bytes(ix, v));
        ds__free(env, cb, cb_bytes(v));
        ds__free(env, r, v->rot ? rot_bytes(ix) : 0);
        return ds__fail(DS_ERR_NOMEM, "out of memory");
    }
    memcpy(c, v->cent, cent_bytes(ix, v));
    memcpy(cb, v->pq.cb, cb_bytes(v));
    if (r) memcpy(r, v->rot, rot_bytes(ix));
    v->cent = c;
    v->pq.cb = cb;
    v->rot = r;
    v->model_owned = 1;
    return DS_OK;
}

static ds_status ivf_add(ds_index *ix, const float *x, size_t n) {
    ivfpq *v = ix->impl;
    ds_env *env = ix->env;
    if (!v->trained) return ds__fail(DS_ERR_INVALID, "ivfpq: call ds_index_train before the first add");
    size_t cs = v->pq.code_size, dim = ix->dim, codes_bytes, tmp_bytes;
    unsigned nt = env->n_threads ? env->n_threads : 1;
    if (!ds__mul_ok(n, cs, &codes_bytes) || !ds__mul_ok((size_t)nt * 2 * ENC_BLOCK, dim * sizeof(float), &tmp_bytes))
        return ds__fail(DS_ERR_RANGE, "too many vectors");
    uint32_t *asg = ds__alloc(env, n * sizeof(uint32_t), 64);
    size_t *count = ds__calloc(env, v->nlist, sizeof(size_t));
    uint8_t *codes = ds__alloc(env, codes_bytes ? codes_bytes : 1, 64);
    float *tmp = ds__alloc(env, tmp_bytes, 64);
    float *cbt = ds__alloc(env, cb_bytes(v), 64);
    ds_status rc = DS_OK;
    if (asg == NULL || count == NULL || codes == NULL || tmp == NULL || cbt == NULL) { rc = ds__fail(DS_ERR_NOMEM, "out of memory adding vectors"); goto done; }
    rc = own_model(ix, v);
    if (rc == DS_OK) rc = ds__kmeans_assign(env, v->cent, v->nlist, dim, x, n, nt, asg, NULL);
    if (rc != DS_OK) goto done;
    /* Reserve everything first so a failure leaves the index unchanged. */
    for (size_t i = 0; i < n; i++) count[asg[i]]++;
    for (size_t l = 0; l < v->nlist && rc == DS_OK; l++)
        if (count[l]) rc = list_reserve(env, &v->lists[l], cs, v->lists[l].n + count[l]);
    if (rc == DS_OK) rc = ds__fvecs_reserve(env, &v->full, dim, ix->n_slots, (size_t)ix->n_slots + n);
    if (rc != DS_OK) goto done;
    ds__pq_transpose(&v->pq, cbt);
    encode_ctx e = { ix, v, x, asg, codes, tmp, cbt, ds__nearest_best(env->kernels ? env->kernels->level : 0) };
    ds__parallel_for(env, nt, n, ENC_BLOCK, encode_range, &e);
    for (size_t i = 0; i < n; i++) {
        ivf_list *L = &v->lists[asg[i]];
        L->slots[L->n] = ix->n_slots + (uint32_t)i;
        memcpy(L->codes + L->n * cs, codes + i * cs, cs);
        L->n++;
    }
    memcpy(v->full.v + (size_t)ix->n_slots * dim, x, n * dim * sizeof(float));
done:
    ds__free(env, asg, n * sizeof(uint32_t));
    ds__free(env, count, v->nlist * sizeof(size_t));
    ds__free(env, codes, codes_bytes ? codes_bytes : 1);
    ds__free(env, tmp, tmp_bytes);
    ds__free(env, cbt, cb_bytes(v));
    return rc;
}

/* ---- search ------------------------------------------------------------- */
static ds_status ivf_search(const ds_index *ix, const float *q, size_t k, const ds__search_params *p,
                            uint32_t *slots, float *scores, size_t *n_found) {
    const ivfpq *v = ix->impl;
    ds_env *env = ix->env;
    const ds__kernels *kern = env->kernels;
    *n_found = 0;
    if (!v->trained || ix->n_live == 0) return DS_OK;
    size_t dim = ix->dim, nlist = v->nlist, ksub = v->pq.ksub, m = v->pq.m, cs = v->pq.code_size;
    size_t nprobe = DS_MIN((size_t)(p->nprobe ? p->nprobe : 1), nlist);
    size_t nr = DS_MAX((size_t)p->rerank, k);
    nr = DS_MIN(nr, (size_t)ix->n_slots);
    /* Candidates come from L2 tables for cosine too: all vectors and the
    ** query have norm 1 (zero vectors aside), so -||q - x||^2 / 2 ranks as
    ** <q, x>, and its ADC error, <x - q, e> + ||e||^2 / 2 for a code error e,
    ** is far smaller than the IP table's <q, e> when q and x are close --
    ** which is when the ranking matters. Exact scores come from re-scoring. */
    int l2 = ix->metric == DS_METRIC_L2 || ix->metric == DS_METRIC_COSINE;

    /* One scratch block: coarse heap, table, rotated query, residual, ADC
    ** batch, candidate heap. */
    size_t f_cnt = 2 * nlist + m * ksub + 2 * dim + ADC_BATCH + nr, u_cnt = nlist + nr, bytes;
    if (!ds__mul_ok(f_cnt + u_cnt, sizeof(float), &bytes)) return ds__fail(DS_ERR_RANGE, "search scratch too large");
    float *f = ds__alloc(env, bytes, 64);
    if (f == NULL) return ds__fail(DS_ERR_NOMEM, "out of memory for search scratch");
    float *call = f, *cscore = call + nlist, *table = cscore + nlist, *qr = table + m * ksub, *rq = qr + dim, *batch = rq + dim;
    float *cand_s = batch + ADC_BATCH;
    uint32_t *cslot = (uint32_t *)(void *)(cand_s + nr), *cand = cslot + nlist;

    /* Lists are probed in order of L2 distance to their centroid for every
    ** metric, because vectors were assigned to lists by L2: ranking by
    ** <q, c> instead favours centroids of large norm, and on embeddings
    ** whose centroids differ in norm by a few percent (more than the spread
    ** of <q, c> among a query's best lists) it probes the wrong ones. The
    ** IP score of a list entry still starts from <q, c>, recovered from
    ** call = 2<q, c> - ||c||^2 (= ||q||^2 - ||q - c||^2). */
    for (size_t l = 0; l < nlist; l++) {
        const float *c = v->cent + l * dim;
        call[l] = l2 ? -kern->l2sq_f32(q, c, dim) : 2.0f * kern->dot_f32(q, c, dim) - v->cnorm[l];
    }
    if (v->rot) cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)dim, (int)dim, 1.0f, v->rot, (int)dim, q, 1, 0.0f, qr, 1);
    else memcpy(qr, q, dim * sizeof(float));
    if (!l2) ds__pq_table_ip(&v->pq, qr, table);

    ds__topk t;
    ds__topk_init(&t, cand_s, cand, nr);
    /* Lists are scanned best-first. When filters or deletes leave fewer than
    ** `rerank` candidates in the nprobe best lists, the probe widens (x4 per
    ** round) until the re-scoring budget is filled or every list was scanned:
    ** a selective filter costs time, not results. The ranking is a total order (ties: smaller list),
    ** so a wider round's prefix is the lists already scanned. */
    size_t done = 0;
    for (size_t want = nprobe;; want = DS_MIN(nlist, want * 4)) {
        ds__topk ct;
        ds__topk_init(&ct, cscore, cslot, want);
        for (size_t l = 0; l < nlist; l++) ds__topk_push(&ct, call[l], (uint32_t)l);
        size_t np = ds__topk_sort(&ct);
        for (size_t pi = done; pi < np; pi++) {
            size_t l = cslot[pi];
            const ivf_list *L = &v->lists[l];
            if (L->n == 0) continue;
            float base = 0, sign = 1;
            if (l2) {
                const float *c = v->rcent ? v->rcent + l * dim : v->cent + l * dim;
                for (size_t j = 0; j < dim; j++) rq[j] = qr[j] - c[j];
                ds__pq_table_l2(&v->pq, rq, table);
                sign = -1;
            } else {
                base = 0.5f * (cscore[pi] + v->cnorm[l]);
            }
            for (size_t b = 0; b < L->n; b += ADC_BATCH) {
                size_t cnt = DS_MIN((size_t)ADC_BATCH, L->n - b);
                if (v->pq.nbits == 8) v->adc8(table, m, L->codes + b * cs, cnt, batch);
                else ds__adc4_scalar(table, m, L->codes + b * cs, cnt, batch);
                for (size_t i = 0; i < cnt; i++) {
                    float s = base + sign * batch[i];
                    if (s < ds__topk_threshold(&t)) continue;
                    uint32_t slot = L->slots[b + i];
                    if (ds__slot_allowed(ix, p, slot)) ds__topk_push(&t, s, slot);
                }
            }
        }
        done = np;
        if (t.n >= nr || np >= nlist) break;
        if (p->cancel != NULL && p->cancel(p->cancel_ud)) break;
    }
    *n_found = ds__rerank(ix, v->full.v, q, cand, t.n, k, slots, scores);
    ds__free(env, f, bytes);
    return DS_OK;
}

/* ---- persistence -------------------------------------------------------- */
static ds_status ivf_save(const ds_index *ix, ds__cwriter *w) {
    const ivfpq *v = ix->impl;
    uint8_t par[PARAMS_SIZE] = { 0 };
    if (v->trained) {
        ds__store_u32le(par + 0, (uint32_t)v->nlist);
        ds__store_u32le(par + 4, (uint32_t)v->pq.m);
        ds__store_u32le(par + 8, (uint32_t)v->pq.nbits);
        ds__store_u32le(par + 12, v->rot ? FLAG_OPQ : 0);
    }
    ds__cw_section(w, SEC_IVFP, DS_SECTION_REQUIRED, par, sizeof par);
    ds__cw_section(w, SEC_IVFC, DS_SECTION_REQUIRED, v->cent, v->trained ? cent_bytes(ix, v) : 0);
    if (v->rot) ds__cw_section(w, SEC_OPQR, DS_SECTION_REQUIRED, v->rot, rot_bytes(ix));
    ds__cw_section(w, SEC_PQCB, DS_SECTION_REQUIRED, v->pq.cb, v->trained ? cb_bytes(v) : 0);
    ds__cw_begin(w, SEC_IVFL, DS_SECTION_REQUIRED);
    uint64_t off = 0;
    for (size_t l = 0; v->trained && l <= v->nlist; l++) {
        uint8_t b[8];
        ds__store_u64le(b, off);
        ds__cw_write(w, b, 8);
        if (l < v->nlist) off += v->lists[l].n;
    }
    ds__cw_end(w);
    ds__cw_begin(w, SEC_IVFI, DS_SECTION_REQUIRED);
    for (size_t l = 0; v->trained && l < v->nlist; l++) ds__cw_write(w, v->lists[l].slots, v->lists[l].n * sizeof(uint32_t));
    ds__cw_end(w);
    ds__cw_begin(w, SEC_CODE, DS_SECTION_REQUIRED);
    for (size_t l = 0; v->trained && l < v->nlist; l++) ds__cw_write(w, v->lists[l].codes, v->lists[l].n * v->pq.code_size);
    ds__cw_end(w);
    return ds__cw_section(w, DS_SEC_FVEC, DS_SECTION_REQUIRED, v->full.v, (size_t)ix->n_slots * ix->dim * sizeof(float));
}

static ds_status ivf_load(ds_index *ix, const ds__creader *r) {
    ivfpq *v = ix->impl;
    ds_env *env = ix->env;
    size_t dim = ix->dim;
    static const uint32_t known[] = { DS_VEC_SEC_META, DS_VEC_SEC_LABELS, DS_VEC_SEC_DELETED, SEC_IVFP, SEC_IVFC,
                                      SEC_OPQR, SEC_PQCB, SEC_IVFL, SEC_IVFI, SEC_CODE, DS_SEC_FVEC };
    ds_status rc = ds__cr_check_known(r, known, DS_ARRAY_LEN(known));
    if (rc != DS_OK) return rc;
    const uint8_t *par, *p;
    if ((rc = ds__cr_get_sized(r, SEC_IVFP, PARAMS_SIZE, &par)) != DS_OK) return rc;
    uint32_t nlist = ds__load_u32le(par), m = ds__load_u32le(par + 4), nbits = ds__load_u32le(par + 8), flags = ds__load_u32le(par + 12);
    for (size_t i = 16; i < PARAMS_SIZE; i++)
        if (par[i] != 0) return ds__fail(DS_ERR_CORRUPT, "IVFP reserved byte %zu is not zero", i);
    if (flags & ~FLAG_OPQ) return ds__fail(DS_ERR_CORRUPT, "IVFP has unknown flags 0x%x", flags);
    if (nlist == 0) {
        if (m != 0 || nbits != 0 || flags != 0 || ix->n_slots != 0)
            return ds__fail(DS_ERR_CORRUPT, "IVFP: an untrained index must be empty");
        static const uint32_t empty[] = { SEC_IVFC, SEC_PQCB, SEC_IVFL, SEC_IVFI, SEC_CODE };
        for (size_t i = 0; i < DS_ARRAY_LEN(empty); i++)
            if ((rc = ds__cr_get_sized(r, empty[i], 0, &p)) != DS_OK) return rc;
        if (ds__cr_find(r, SEC_OPQR) != NULL) return ds__fail(DS_ERR_CORRUPT, "OPQR present in an untrained index");
        return ds__fvecs_load(r, dim, 0, &v->full);
    }
    if (nlist > MAX_NLIST) return ds__fail(DS_ERR_CORRUPT, "IVFP: nlist %u is above %u", nlist, MAX_NLIST);
    ds__pq pq;
    if (m > dim || ds__pq_setup(&pq, dim, m, nbits) != DS_OK)
        return ds__fail(DS_ERR_CORRUPT, "IVFP: m = %u, nbits = %u do not fit dimension %zu", m, nbits, dim);
    v->nlist = nlist;
    v->pq = pq;
    v->model_owned = 0;
    /* Sizes: nlist <= 2^22 and dim <= 65536 keep every product below 2^50. */
    if ((rc = ds__cr_get_sized(r, SEC_IVFC, (uint64_t)nlist * dim * 4, &p)) != DS_OK) return rc;
    v->cent = (float *)(uintptr_t)p;
    if (!ds__all_finite(v->cent, (size_t)nlist * dim)) return ds__fail(DS_ERR_CORRUPT, "IVFC has a non-finite value");
    if (flags & FLAG_OPQ) {
        if ((rc = ds__cr_get_sized(r, SEC_OPQR, (uint64_t)dim * dim * 4, &p)) != DS_OK) return rc;
        v->rot = (float *)(uintptr_t)p;
        if (!ds__all_finite(v->rot, dim * dim)) return ds__fail(DS_ERR_CORRUPT, "OPQR has a non-finite value");
    } else if (ds__cr_find(r, SEC_OPQR) != NULL) {
        return ds__fail(DS_ERR_CORRUPT, "OPQR present but IVFP flags say no OPQ");
    }
    if ((rc = ds__cr_get_sized(r, SEC_PQCB, (uint64_t)m * pq.ksub * pq.dsub * 4, &p)) != DS_OK) return rc;
    v->pq.cb = (float *)(uintptr_t)p;
    if (!ds__all_finite(v->pq.cb, m * pq.ksub * pq.dsub)) return ds__fail(DS_ERR_CORRUPT, "PQCB has a non-finite value");
    const uint8_t *offs, *ids, *codes;
    if ((rc = ds__cr_get_sized(r, SEC_IVFL, ((uint64_t)nlist + 1) * 8, &offs)) != DS_OK) return rc;
    if ((rc = ds__cr_get_sized(r, SEC_IVFI, (uint64_t)ix->n_slots * 4, &ids)) != DS_OK) return rc;
    if ((rc = ds__cr_get_sized(r, SEC_CODE, (uint64_t)ix->n_slots * pq.code_size, &codes)) != DS_OK) return rc;
    if (ds__load_u64le(offs) != 0) return ds__fail(DS_ERR_CORRUPT, "IVFL: the first offset is not 0");
    for (uint32_t l = 0; l < nlist; l++) {
        uint64_t a = ds__load_u64le(offs + 8 * (size_t)l), b = ds__load_u64le(offs + 8 * ((size_t)l + 1));
        if (b < a || b > ix->n_slots)
            return ds__fail(DS_ERR_CORRUPT, "IVFL: list %u spans entries %llu..%llu of %u", l,
                            (unsigned long long)a, (unsigned long long)b, ix->n_slots);
    }
    if (ds__load_u64le(offs + 8 * (size_t)nlist) != ix->n_slots)
        return ds__fail(DS_ERR_CORRUPT, "IVFL: list sizes sum to %llu, not n_slots %u",
                        (unsigned long long)ds__load_u64le(offs + 8 * (size_t)nlist), ix->n_slots);
    /* Every slot exactly once. */
    uint8_t *seen = ds__calloc(env, ((size_t)ix->n_slots + 7) / 8 + 1, 1);
    if (seen == NULL) return ds__fail(DS_ERR_NOMEM, "out of memory");
    for (uint32_t i = 0; i < ix->n_slots && rc == DS_OK; i++) {
        uint32_t s = ds__load_u32le(ids + 4 * (size_t)i);
        if (s >= ix->n_slots) rc = ds__fail(DS_ERR_CORRUPT, "IVFI entry %u: slot %u >= %u", i, s, ix->n_slots);
        else if ((seen[s >> 3] >> (s & 7)) & 1) rc = ds__fail(DS_ERR_CORRUPT, "IVFI: slot %u appears twice", s);
        else seen[s >> 3] |= (uint8_t)(1u << (s & 7));
    }
    ds__free(env, seen, ((size_t)ix->n_slots + 7) / 8 + 1);
    if (rc != DS_OK) return rc;
    if (nbits == 4 && (m & 1)) {
        for (uint32_t i = 0; i < ix->n_slots; i++)
            if (codes[(size_t)i * pq.code_size + pq.code_size - 1] >> 4)
                return ds__fail(DS_ERR_CORRUPT, "CODE entry %u: unused high nibble is not zero", i);
    }
    v->lists = ds__calloc(env, nlist, sizeof(ivf_list));
    if (v->lists == NULL) return ds__fail(DS_ERR_NOMEM, "out of memory for %u lists", nlist);
    for (uint32_t l = 0; l < nlist; l++) {
        uint64_t a = ds__load_u64le(offs + 8 * (size_t)l), b = ds__load_u64le(offs + 8 * ((size_t)l + 1));
        ivf_list *L = &v->lists[l];
        L->n = (size_t)(b - a);
        L->slots = (uint32_t *)(uintptr_t)(ids + 4 * a);
        L->codes = (uint8_t *)(uintptr_t)(codes + a * pq.code_size);
        L->cap = 0;
    }
    if ((rc = ds__fvecs_load(r, dim, ix->n_slots, &v->full)) != DS_OK) return rc;
    if ((rc = make_derived(ix, v)) != DS_OK) return rc;
    v->trained = 1;
    return DS_OK;
}

static uint64_t ivf_memory(const ds_index *ix) {
    const ivfpq *v = ix->impl;
    if (!v->trained) return sizeof *v;
    uint64_t b = sizeof *v + cent_bytes(ix, v) + cb_bytes(v) + v->nlist * sizeof(ivf_list);
    if (v->rot) b += rot_bytes(ix) + cent_bytes(ix, v);
    b += (uint64_t)ix->n_slots * (sizeof(uint32_t) + v->pq.code_size);
    return b;    /* full vectors (FVEC) excluded: mapped, paged in only for re-scoring */
}

const ds__index_ops ds__ivfpq_ops = {
    .type = DS_INDEX_IVFPQ,
    .file_kind = DS_VEC_KIND_IVFPQ,
    .name = "ivfpq",
    .init = ivf_init,
    .destroy = ivf_destroy,
    .train = ivf_train,
    .add = ivf_add,
    .search = ivf_search,
    .save = ivf_save,
    .load = ivf_load,
    .memory = ivf_memory,
};
