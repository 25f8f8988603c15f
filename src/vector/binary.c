/* binary.c -- sign-bit codes + exact re-scoring (file kind VBIN, docs/format.md §3.5).
**
** A vector becomes dim bits: bit i = [ (R (x - mu))_i > 0 ]. mu is the mean of
** the training vectors (zero if never trained); R is the identity, or with
** opts.itq a rotation learned by iterative quantization (Gong & Lazebnik):
** alternate B = sign(V R^T) and R^T = argmin_Q ||B - V Q||_F over orthogonal Q
** (orthogonal Procrustes, an SVD), on full-length codes, so no PCA is needed.
**
** Search: Hamming distances from the query's code to every code (popcount
** kernels, k_hamming.c), the `rerank` nearest allowed slots (ties: smaller
** slot) selected with a histogram over distances 0..dim, and those re-scored
** exactly from the full vectors (FVEC, memory-mapped after open).
**
** Invariants: codes has n_slots x words u64, bits >= dim zero; the model
** (mu, R) never changes once the index holds vectors.
** Thread: search is read-only with per-call scratch; the rest exclusive.
*/
#include "vector/index_impl.h"
#include "vector/quant.h"
#include "simd/simd.h"

#include <cblas.h>
#include <math.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "binary.c maps little-endian sections in place; add byte-swapping loads for this host"
#endif

#define SEC_BINP DS_FOURCC('B', 'I', 'N', 'P')
#define SEC_BMEA DS_FOURCC('B', 'M', 'E', 'A')
#define SEC_BROT DS_FOURCC('B', 'R', 'O', 'T')
#define SEC_BCOD DS_FOURCC('B', 'C', 'O', 'D')
#define PARAMS_SIZE 64
#define FLAG_ITQ 1u
#define ITQ_ITERS 50
#define ITQ_SAMPLE 10000   /* 50 iterations x 2 products of 10000 x dim x dim: seconds, not minutes */
#define CODE_BLOCK 256

typedef struct binidx {
    size_t    words;
    float    *mean;          /* dim */
    float    *rot;           /* dim x dim, or NULL */
    int       model_owned;   /* mean/rot owned (else mapped) */
    int       trained;
    uint64_t *codes;         /* n_slots x words */
    size_t    cap;           /* code rows owned; 0 when mapped or empty */
    ds__fvecs full;
    ds__hamming_fn ham;
} binidx;

static size_t rot_bytes(const ds_index *ix) { return ix->dim * ix->dim * sizeof(float); }

static ds_status bin_init(ds_index *ix) {
    binidx *b = ds__calloc(ix->env, 1, sizeof(binidx));
    if (b == NULL) return ds__fail(DS_ERR_NOMEM, "out of memory");
    b->words = (ix->dim + 63) / 64;
    b->mean = ds__calloc(ix->env, ix->dim, sizeof(float));
    if (b->mean == NULL) {
        ds__free(ix->env, b, sizeof *b);
        return ds__fail(DS_ERR_NOMEM, "out of memory");
    }
    b->model_owned = 1;
    b->ham = ds__hamming_best(ix->env->kernels ? ix->env->kernels->level : 0);
    ix->impl = b;
    return DS_OK;
}

static void free_model(ds_index *ix, binidx *b) {
    if (b->model_owned) {
        ds__free(ix->env, b->mean, ix->dim * sizeof(float));
        ds__free(ix->env, b->rot, b->rot ? rot_bytes(ix) : 0);
    }
    b->mean = b->rot = NULL;
}

static void bin_destroy(ds_index *ix) {
    binidx *b = ix->impl;
    if (b == NULL) return;
    free_model(ix, b);
    if (b->cap) ds__free(ix->env, b->codes, b->cap * b->words * sizeof(uint64_t));
    ds__fvecs_release(ix->env, &b->full, ix->dim);
    ds__free(ix->env, b, sizeof *b);
    ix->impl = NULL;
}

/* Codes of n rows; tmp holds 2 x CODE_BLOCK x dim floats. */
static void encode_rows(const ds_index *ix, const binidx *b, const float *x, size_t n, float *tmp, uint64_t *out) {
    size_t dim = ix->dim;
    float *c = tmp, *y = tmp + CODE_BLOCK * dim;
    for (size_t s = 0; s < n; s += CODE_BLOCK) {
        size_t rows = DS_MIN((size_t)CODE_BLOCK, n - s);
        for (size_t i = 0; i < rows; i++)
            for (size_t j = 0; j < dim; j++) c[i * dim + j] = x[(s + i) * dim + j] - b->mean[j];
        const float *src = c;
        if (b->rot) {
            ds__rotate(b->rot, dim, c, rows, y);
            src = y;
        }
        for (size_t i = 0; i < rows; i++) {
            uint64_t *code = out + (s + i) * b->words;
            memset(code, 0, b->words * sizeof(uint64_t));
            for (size_t j = 0; j < dim; j++)
                if (src[i * dim + j] > 0) code[j >> 6] |= 1ULL << (j & 63);
        }
    }
}

static ds_status bin_train(ds_index *ix, const float *x, size_t n) {
    binidx *b = ix->impl;
    ds_env *env = ix->env;
    size_t dim = ix->dim;
    if (ix->n_slots > 0) return ds__fail(DS_ERR_INVALID, "binary: cannot retrain an index that holds vectors");
    if (n == 0) return ds__fail(DS_ERR_INVALID, "binary: training needs vectors");
    size_t ns = DS_MIN(n, (size_t)ITQ_SAMPLE), vb = ns * dim * sizeof(float), dd = rot_bytes(ix);
    float *mean = ds__calloc(env, dim, sizeof(float));
    float *rot = ix->opts.itq ? ds__alloc(env, dd, 64) : NULL;
    float *v = NULL;
    size_t *idx = NULL;
    double *acc = ds__calloc(env, dim, sizeof(double));
    ds_status rc = DS_OK;
    if (mean == NULL || acc == NULL || (ix->opts.itq && rot == NULL)) { rc = ds__fail(DS_ERR_NOMEM, "out of memory"); goto done; }
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < dim; j++) acc[j] += x[i * dim + j];
    for (size_t j = 0; j < dim; j++) mean[j] = (float)(acc[j] / (double)n);
    if (rot) {
        v = ds__alloc(env, vb, 64);
        idx = ds__alloc(env, ns * sizeof(size_t), 64);
        if (v == NULL || idx == NULL) {
            rc = ds__fail(DS_ERR_NOMEM, "out of memory for ITQ");
            goto done;
        }
        ds__sample_rows(ix->opts.seed ^ 0x495451ULL, n, ns, idx);
        for (size_t i = 0; i < ns; i++)
            for (size_t j = 0; j < dim; j++) v[i * dim + j] = x[idx[i] * dim + j] - mean[j];
        rc = ds__itq_train(env, v, ns, dim, ITQ_ITERS, ix->opts.seed + 99, rot);
        if (rc != DS_OK) goto done;
    }
    free_model(ix, b);
    b->mean = mean;
    b->rot = rot;
    b->model_owned = 1;
    b->trained = 1;
    mean = rot = NULL;
done:
    ds__free(env, mean, dim * sizeof(float));
    ds__free(env, rot, rot ? dd : 0);
    ds__free(env, acc, dim * sizeof(double));
    ds__free(env, v, vb);
    ds__free(env, idx, ns * sizeof(size_t));
    return rc;
}

static ds_status own_model(ds_index *ix, binidx *b) {
    if (b->model_owned) return DS_OK;
    float *m = ds__alloc(ix->env, ix->dim * sizeof(float), 64);
    float *r = b->rot ? ds__alloc(ix->env, rot_bytes(ix), 64) : NULL;
    if (m == NULL || (b->rot && r == NULL)) {
        ds__free(ix->env, m, ix->dim * sizeof(float));
        ds__free(ix->env, r, b->rot ? rot_bytes(ix) : 0);
        return ds__fail(DS_ERR_NOMEM, "out of memory");
    }
    memcpy(m, b->mean, ix->dim * sizeof(float));
    if (r) memcpy(r, b->rot, rot_bytes(ix));
    b->mean = m;
    b->rot = r;
    b->model_owned = 1;
    return DS_OK;
}

static ds_status bin_add(ds_index *ix, const float *x, size_t n) {
    binidx *b = ix->impl;
    ds_env *env = ix->env;
    size_t dim = ix->dim, need = (size_t)ix->n_slots + n, row = b->words * sizeof(uint64_t);
    if (ix->opts.itq && !b->trained) return ds__fail(DS_ERR_INVALID, "binary with ITQ: call ds_index_train before the first add");
    ds_status rc = own_model(ix, b);
    if (rc != DS_OK) return rc;
    size_t tmp_bytes = 2 * CODE_BLOCK * dim * sizeof(float);
    float *tmp = ds__alloc(env, tmp_bytes, 64);
    if (tmp == NULL) return ds__fail(DS_ERR_NOMEM, "out of memory");
    if (need > b->cap) {
        size_t cap = b->cap ? b->cap : 1024, bytes;
        while (cap < need) cap *= 2;
        uint64_t *c = NULL;
        if (!ds__mul_ok(cap, row, &bytes)) rc = ds__fail(DS_ERR_RANGE, "too many vectors");
        else if ((c = ds__alloc(env, bytes, 64)) == NULL) rc = ds__fail(DS_ERR_NOMEM, "out of memory for codes");
        if (rc == DS_OK) {
            if (ix->n_slots) memcpy(c, b->codes, (size_t)ix->n_slots * row);
            if (b->cap) ds__free(env, b->codes, b->cap * row);
            b->codes = c;
            b->cap = cap;
        }
    }
    if (rc == DS_OK) rc = ds__fvecs_reserve(env, &b->full, dim, ix->n_slots, need);
    if (rc == DS_OK) {
        encode_rows(ix, b, x, n, tmp, b->codes + (size_t)ix->n_slots * b->words);
        memcpy(b->full.v + (size_t)ix->n_slots * dim, x, n * dim * sizeof(float));
    }
    ds__free(env, tmp, tmp_bytes);
    return rc;
}

static ds_status bin_search(const ds_index *ix, const float *q, size_t k, const ds__search_params *p,
                            uint32_t *slots, float *scores, size_t *n_found) {
    const binidx *b = ix->impl;
    ds_env *env = ix->env;
    size_t n = ix->n_slots, dim = ix->dim;
    *n_found = 0;
    if (ix->n_live == 0) return DS_OK;
    size_t nr = DS_MIN(DS_MAX((size_t)p->rerank, k), n);
    size_t tmp_bytes = 2 * dim * sizeof(float), hist_n = dim + 2;
    size_t dist_bytes = n * sizeof(uint16_t), hist_bytes = hist_n * sizeof(size_t);
    float *tmp = ds__alloc(env, tmp_bytes + 64 + b->words * 8, 64);
    uint16_t *dist = ds__alloc(env, dist_bytes, 64);
    size_t *hist = ds__alloc(env, hist_bytes, 64);
    uint32_t *cand = NULL, *sorted = NULL;
    size_t cand_n = 0;
    ds_status rc = DS_OK;
    if (tmp == NULL || dist == NULL || hist == NULL) { rc = ds__fail(DS_ERR_NOMEM, "out of memory for search scratch"); goto done; }
    uint64_t *qcode = (uint64_t *)(void *)(tmp + 2 * dim + 16 - (2 * dim) % 16);
    {
        /* The query's code, through the same arithmetic as the database. */
        float *c = tmp, *y = tmp + dim;
        for (size_t j = 0; j < dim; j++) c[j] = q[j] - b->mean[j];
        if (b->rot) cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)dim, (int)dim, 1.0f, b->rot, (int)dim, c, 1, 0.0f, y, 1);
        else memcpy(y, c, dim * sizeof(float));
        memset(qcode, 0, b->words * 8);
        for (size_t j = 0; j < dim; j++)
            if (y[j] > 0) qcode[j >> 6] |= 1ULL << (j & 63);
    }
    b->ham(qcode, b->codes, b->words, n, dist);
    /* Pass 1 counts every slot; when filters or deletes leave fewer than nr
    ** allowed slots under the threshold, pass 2 counts allowed slots only. */
    for (int pass = 0; pass < 2; pass++) {
        memset(hist, 0, hist_bytes);
        for (size_t s = 0; s < n; s++)
            if (pass == 0 || ds__slot_allowed(ix, p, (uint32_t)s)) hist[dist[s]]++;
        size_t T = 0, cum = hist[0];
        while (cum < nr && T < dim) cum += hist[++T];
        ds__free(env, cand, cand_n * sizeof(uint32_t));
        cand_n = 0;
        cand = ds__alloc(env, (cum ? cum : 1) * sizeof(uint32_t), 64);
        if (cand == NULL) { rc = ds__fail(DS_ERR_NOMEM, "out of memory for candidates"); goto done; }
        cand_n = cum ? cum : 1;
        size_t got = 0;
        for (size_t s = 0; s < n && got < cum; s++)
            if (dist[s] <= T && ds__slot_allowed(ix, p, (uint32_t)s)) cand[got++] = (uint32_t)s;
        if (got >= nr || pass == 1) {
            /* Stable counting sort by distance keeps slot order within ties. */
            memset(hist, 0, hist_bytes);
            for (size_t i = 0; i < got; i++) hist[dist[cand[i]] + 1]++;
            for (size_t d = 1; d < hist_n; d++) hist[d] += hist[d - 1];
            sorted = ds__alloc(env, (got ? got : 1) * sizeof(uint32_t), 64);
            if (sorted == NULL) { rc = ds__fail(DS_ERR_NOMEM, "out of memory for candidates"); goto done; }
            for (size_t i = 0; i < got; i++) sorted[hist[dist[cand[i]]]++] = cand[i];
            *n_found = ds__rerank(ix, b->full.v, q, sorted, DS_MIN(got, nr), k, slots, scores);
            ds__free(env, sorted, (got ? got : 1) * sizeof(uint32_t));
            break;
        }
    }
done:
    ds__free(env, tmp, tmp_bytes + 64 + b->words * 8);
    ds__free(env, dist, dist_bytes);
    ds__free(env, hist, hist_bytes);
    ds__free(env, cand, cand_n * sizeof(uint32_t));
    return rc;
}

static ds_status bin_save(const ds_index *ix, ds__cwriter *w) {
    const binidx *b = ix->impl;
    uint8_t par[PARAMS_SIZE] = { 0 };
    ds__store_u32le(par + 0, (uint32_t)ix->dim);
    ds__store_u32le(par + 4, b->rot ? FLAG_ITQ : 0);
    ds__store_u32le(par + 8, (uint32_t)b->words);
    ds__cw_section(w, SEC_BINP, DS_SECTION_REQUIRED, par, sizeof par);
    ds__cw_section(w, SEC_BMEA, DS_SECTION_REQUIRED, b->mean, ix->dim * sizeof(float));
    if (b->rot) ds__cw_section(w, SEC_BROT, DS_SECTION_REQUIRED, b->rot, rot_bytes(ix));
    ds__cw_section(w, SEC_BCOD, DS_SECTION_REQUIRED, b->codes, (size_t)ix->n_slots * b->words * sizeof(uint64_t));
    return ds__cw_section(w, DS_SEC_FVEC, DS_SECTION_REQUIRED, b->full.v, (size_t)ix->n_slots * ix->dim * sizeof(float));
}

static ds_status bin_load(ds_index *ix, const ds__creader *r) {
    binidx *b = ix->impl;
    size_t dim = ix->dim;
    static const uint32_t known[] = { DS_VEC_SEC_META, DS_VEC_SEC_LABELS, DS_VEC_SEC_DELETED, SEC_BINP, SEC_BMEA,
                                      SEC_BROT, SEC_BCOD, DS_SEC_FVEC };
    ds_status rc = ds__cr_check_known(r, known, DS_ARRAY_LEN(known));
    if (rc != DS_OK) return rc;
    const uint8_t *par, *p;
    if ((rc = ds__cr_get_sized(r, SEC_BINP, PARAMS_SIZE, &par)) != DS_OK) return rc;
    uint32_t bits = ds__load_u32le(par), flags = ds__load_u32le(par + 4), words = ds__load_u32le(par + 8);
    for (size_t i = 12; i < PARAMS_SIZE; i++)
        if (par[i] != 0) return ds__fail(DS_ERR_CORRUPT, "BINP reserved byte %zu is not zero", i);
    if (bits != dim || words != b->words || (flags & ~FLAG_ITQ))
        return ds__fail(DS_ERR_CORRUPT, "BINP (bits %u, words %u, flags 0x%x) does not match dimension %zu", bits, words, flags, dim);
    free_model(ix, b);
    b->model_owned = 0;
    b->trained = 1;
    if ((rc = ds__cr_get_sized(r, SEC_BMEA, (uint64_t)dim * 4, &p)) != DS_OK) return rc;
    b->mean = (float *)(uintptr_t)p;
    if (!ds__all_finite(b->mean, dim)) return ds__fail(DS_ERR_CORRUPT, "BMEA has a non-finite value");
    if (flags & FLAG_ITQ) {
        if ((rc = ds__cr_get_sized(r, SEC_BROT, (uint64_t)dim * dim * 4, &p)) != DS_OK) return rc;
        b->rot = (float *)(uintptr_t)p;
        if (!ds__all_finite(b->rot, dim * dim)) return ds__fail(DS_ERR_CORRUPT, "BROT has a non-finite value");
    } else if (ds__cr_find(r, SEC_BROT) != NULL) {
        return ds__fail(DS_ERR_CORRUPT, "BROT present but BINP flags say no ITQ");
    }
    if ((rc = ds__cr_get_sized(r, SEC_BCOD, (uint64_t)ix->n_slots * words * 8, &p)) != DS_OK) return rc;
    b->codes = ix->n_slots ? (uint64_t *)(uintptr_t)p : NULL;
    b->cap = 0;
    if (dim % 64) {
        uint64_t pad = ~0ULL << (dim % 64);
        for (uint32_t i = 0; i < ix->n_slots; i++)
            if (b->codes[(size_t)i * words + words - 1] & pad)
                return ds__fail(DS_ERR_CORRUPT, "BCOD code %u has bits set past dimension %zu", i, dim);
    }
    return ds__fvecs_load(r, dim, ix->n_slots, &b->full);
}

static uint64_t bin_memory(const ds_index *ix) {
    const binidx *b = ix->impl;
    return sizeof *b + ix->dim * sizeof(float) + (b->rot ? rot_bytes(ix) : 0) +
           (uint64_t)ix->n_slots * b->words * sizeof(uint64_t);
}

const ds__index_ops ds__binary_ops = {
    .type = DS_INDEX_BINARY,
    .file_kind = DS_VEC_KIND_BINARY,
    .name = "binary",
    .init = bin_init,
    .destroy = bin_destroy,
    .train = bin_train,
    .add = bin_add,
    .search = bin_search,
    .save = bin_save,
    .load = bin_load,
    .memory = bin_memory,
};
