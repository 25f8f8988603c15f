/* lexnet.c -- training the lexdense network: forward and backward pass over
** a batch, AdamW, the warmup-stable-decay schedule and the two losses.
**
** The shapes are the ones student.c runs (student.h, ds__lexnet):
**   z0 = sum_rows idf[r] W0[r]          (sparse-by-dense: rows present only)
**   a0 = z0 / |z0|
**   a_l = norm(relu(a_{l-1} W_l))       hidden layers
**   out = norm(a_{L-2} W_{L-1})         last layer, no ReLU
** Backward of y = x/|x|: dx = (dy - y (y . dy)) / |x|; of relu: mask y > 0
** (a normalised ReLU output is positive exactly where its input was). Dense
** layers are GEMMs through OpenBLAS; layer 0's gradient is scattered into
** the rows present, and AdamW then updates only those rows (lazy Adam, as
** sparse embedding tables are usually trained), so a step costs the
** features of a batch, not the whole feature table.
**
** t_train checks the backward pass against finite differences.
**
** Thread: one network per training run; forward passes of examples are
** spread on ds__parallel_for, each example into its own rows (deterministic).
*/
#include "train/train.h"

#include <cblas.h>
#include <math.h>

/* ------------------------------------------------------------------------ */
/* RNG                                                                        */
/* ------------------------------------------------------------------------ */
static uint64_t splitmix(uint64_t *x) {
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
void ds__xrng_seed(ds__xrng *r, uint64_t seed) {
    for (int i = 0; i < 4; i++) r->s[i] = splitmix(&seed);
}
static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
uint64_t ds__xrng_next(ds__xrng *r) {
    uint64_t *s = r->s, res = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3]; s[2] ^= t; s[3] = rotl(s[3], 45);
    return res;
}
double ds__xrng_unit(ds__xrng *r) { return (double)(ds__xrng_next(r) >> 11) * 0x1.0p-53; }
uint64_t ds__xrng_below(ds__xrng *r, uint64_t n) { return (uint64_t)(ds__xrng_unit(r) * (double)n) % n; }
float ds__xrng_normal(ds__xrng *r) {
    double u1 = ds__xrng_unit(r), u2 = ds__xrng_unit(r);
    if (u1 < 1e-300) u1 = 1e-300;
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

/* ------------------------------------------------------------------------ */
/* Network                                                                    */
/* ------------------------------------------------------------------------ */
static size_t wsize(const ds__lexnet_train *n, size_t l) { return n->widths[l] * n->widths[l + 1]; }

ds_status ds__lexnet_init(ds_env *env, ds__lexnet_train *n, size_t n_layers, const size_t *widths, const float *idf,
                          ds__xrng *rng, unsigned n_threads) {
    memset(n, 0, sizeof *n);
    n->env = env = DS_ENV(env);
    n->n_layers = n_layers;
    n->n_threads = n_threads ? n_threads : 1;
    memcpy(n->widths, widths, (n_layers + 1) * sizeof *widths);
    size_t F = widths[0];
    n->idf = ds__alloc(env, F * sizeof *n->idf, 64);
    n->touched = ds__calloc(env, F, 1);
    n->touched_list = ds__alloc(env, F * sizeof *n->touched_list, 64);
    if (n->idf == NULL || n->touched == NULL || n->touched_list == NULL) goto oom;
    memcpy(n->idf, idf, F * sizeof *idf);
    for (size_t l = 0; l < n_layers; l++) {
        size_t sz = wsize(n, l);
        n->w[l] = ds__alloc(env, sz * sizeof(float), 64);
        n->g[l] = ds__calloc(env, sz, sizeof(float));
        n->m[l] = ds__calloc(env, sz, sizeof(float));
        n->v[l] = ds__calloc(env, sz, sizeof(float));
        if (!n->w[l] || !n->g[l] || !n->m[l] || !n->v[l]) goto oom;
        /* layer 0 rows are summed over many features and then normalised, so
        ** their scale does not matter; dense layers get He-style init */
        float sd = l == 0 ? 1.0f : sqrtf(2.0f / (float)n->widths[l]);
        for (size_t i = 0; i < sz; i++) n->w[l][i] = sd * ds__xrng_normal(rng);
    }
    return DS_OK;
oom:
    ds__lexnet_release(n);
    return DS_ERR_NOMEM;
}

static void free_acts(ds__lexnet_train *n) {
    for (size_t l = 0; l < n->n_layers; l++) {
        ds__free(n->env, n->a[l], n->cap_m * n->widths[l + 1] * sizeof(float));
        ds__free(n->env, n->nrm[l], n->cap_m * sizeof(float));
        n->a[l] = n->nrm[l] = NULL;
    }
    n->cap_m = 0;
}

void ds__lexnet_release(ds__lexnet_train *n) {
    if (n->env == NULL) return;
    ds_env *env = n->env;
    free_acts(n);
    size_t F = n->widths[0];
    for (size_t l = 0; l < n->n_layers; l++) {
        size_t sz = wsize(n, l) * sizeof(float);
        ds__free(env, n->w[l], sz);
        ds__free(env, n->g[l], sz);
        ds__free(env, n->m[l], sz);
        ds__free(env, n->v[l], sz);
    }
    ds__free(env, n->idf, F * sizeof *n->idf);
    ds__free(env, n->touched, F);
    ds__free(env, n->touched_list, F * sizeof *n->touched_list);
    memset(n, 0, sizeof *n);
}

static void normalize_rows(float *x, size_t m, size_t d, float *nrm) {
    for (size_t i = 0; i < m; i++) {
        float *r = x + i * d;
        double ss = 0;
        for (size_t j = 0; j < d; j++) ss += (double)r[j] * r[j];
        double nn = sqrt(ss);
        nrm[i] = (float)nn;
        float inv = nn > 1e-12 ? (float)(1.0 / nn) : 0.0f;
        for (size_t j = 0; j < d; j++) r[j] *= inv;
    }
}

typedef struct l0_job {
    ds__lexnet_train      *n;
    const ds__lex_example *ex;
    ds__rows_accum_fn      accum;   /* the same kernel inference uses */
} l0_job;

static void l0_range(void *ctx, size_t b, size_t e, unsigned th) {
    DS_UNUSED(th);
    l0_job *j = ctx;
    ds__lexnet_train *n = j->n;
    size_t h0 = n->widths[1];
    for (size_t i = b; i < e; i++) {
        float *z = n->a[0] + i * h0;
        memset(z, 0, h0 * sizeof *z);
        j->accum(z, n->w[0], h0, j->ex[i].rows, j->ex[i].n, n->idf);
        normalize_rows(z, 1, h0, n->nrm[0] + i);
    }
}

ds_status ds__lexnet_forward(ds__lexnet_train *n, const ds__lex_example *ex, size_t M, const float **out) {
    *out = NULL;
    if (M > n->cap_m) {
        free_acts(n);
        for (size_t l = 0; l < n->n_layers; l++) {
            n->a[l] = ds__alloc(n->env, M * n->widths[l + 1] * sizeof(float), 64);
            n->nrm[l] = ds__alloc(n->env, M * sizeof(float), 64);
            if (n->a[l] == NULL || n->nrm[l] == NULL) {
                n->cap_m = M;
                free_acts(n);
                return DS_ERR_NOMEM;
            }
        }
        n->cap_m = M;
    }
    l0_job j = { n, ex, ds__rows_accum_for(n->env) };
    ds__parallel_for(n->env, n->n_threads, M, 16, l0_range, &j);
    for (size_t l = 1; l < n->n_layers; l++) {
        size_t din = n->widths[l], dout = n->widths[l + 1];
        float *y = n->a[l];
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)M, (int)dout, (int)din, 1.0f, n->a[l - 1],
                    (int)din, n->w[l], (int)dout, 0.0f, y, (int)dout);
        if (l + 1 < n->n_layers)
            for (size_t i = 0; i < M * dout; i++) y[i] = y[i] > 0 ? y[i] : 0;
        normalize_rows(y, M, dout, n->nrm[l]);
    }
    *out = n->a[n->n_layers - 1];
    return DS_OK;
}

void ds__lexnet_zero_grad(ds__lexnet_train *n) {
    size_t h0 = n->widths[1];
    for (size_t k = 0; k < n->n_touched; k++) {
        uint32_t r = n->touched_list[k];
        memset(n->g[0] + (size_t)r * h0, 0, h0 * sizeof(float));
        n->touched[r] = 0;
    }
    n->n_touched = 0;
    for (size_t l = 1; l < n->n_layers; l++) memset(n->g[l], 0, wsize(n, l) * sizeof(float));
}

/* dy -> dx through y = x/|x| (in place on d; y the normalised rows). */
static void norm_backward(float *d, const float *y, const float *nrm, size_t m, size_t w) {
    for (size_t i = 0; i < m; i++) {
        float *dr = d + i * w;
        const float *yr = y + i * w;
        if (nrm[i] <= 1e-12f) {
            memset(dr, 0, w * sizeof *dr);
            continue;
        }
        double dot = 0;
        for (size_t j = 0; j < w; j++) dot += (double)yr[j] * dr[j];
        float inv = 1.0f / nrm[i];
        for (size_t j = 0; j < w; j++) dr[j] = (dr[j] - yr[j] * (float)dot) * inv;
    }
}

void ds__lexnet_backward(ds__lexnet_train *n, const ds__lex_example *ex, size_t M, const float *dout) {
    size_t L = n->n_layers, maxw = 0;
    for (size_t l = 1; l <= L; l++) maxw = DS_MAX(maxw, n->widths[l]);
    /* two M x maxw buffers; allocation failure degrades to no update */
    size_t bytes = M * maxw * sizeof(float);
    float *d = ds__alloc(n->env, bytes, 64), *dprev = ds__alloc(n->env, bytes, 64);
    if (d == NULL || dprev == NULL) goto done;
    memcpy(d, dout, M * n->widths[L] * sizeof(float));
    for (size_t l = L - 1; l >= 1; l--) {
        size_t din = n->widths[l], dw = n->widths[l + 1];
        norm_backward(d, n->a[l], n->nrm[l], M, dw);
        if (l + 1 < L)
            for (size_t i = 0; i < M * dw; i++) if (n->a[l][i] <= 0) d[i] = 0;
        /* gW_l += a_{l-1}^T d ; dprev = d W_l^T */
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)din, (int)dw, (int)M, 1.0f, n->a[l - 1], (int)din, d,
                    (int)dw, 1.0f, n->g[l], (int)dw);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)M, (int)din, (int)dw, 1.0f, d, (int)dw, n->w[l],
                    (int)dw, 0.0f, dprev, (int)din);
        float *t = d; d = dprev; dprev = t;
    }
    size_t h0 = n->widths[1];
    norm_backward(d, n->a[0], n->nrm[0], M, h0);
    /* serial scatter in example order: the sum is the same for any thread count */
    for (size_t i = 0; i < M; i++) {
        const float *dz = d + i * h0;
        for (size_t k = 0; k < ex[i].n; k++) {
            uint32_t r = ex[i].rows[k];
            float *gr = n->g[0] + (size_t)r * h0, a = n->idf[r];
            for (size_t j = 0; j < h0; j++) gr[j] += a * dz[j];
            if (!n->touched[r]) { n->touched[r] = 1; n->touched_list[n->n_touched++] = r; }
        }
    }
done:
    ds__free(n->env, d, bytes);
    ds__free(n->env, dprev, bytes);
}

static void adam_update(float *w, const float *g, float *m, float *v, size_t n, float lr, float wd, float bc1, float bc2) {
    const float b1 = 0.9f, b2 = 0.999f, eps = 1e-8f;
    for (size_t i = 0; i < n; i++) {
        m[i] = b1 * m[i] + (1 - b1) * g[i];
        v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
        float mh = m[i] / bc1, vh = v[i] / bc2;
        w[i] -= lr * (mh / (sqrtf(vh) + eps) + wd * w[i]);
    }
}

void ds__lexnet_adamw(ds__lexnet_train *n, float lr, float wd) {
    n->step++;
    float bc1 = 1.0f - powf(0.9f, (float)n->step), bc2 = 1.0f - powf(0.999f, (float)n->step);
    size_t h0 = n->widths[1];
    /* rows in first-touch order: deterministic */
    for (size_t k = 0; k < n->n_touched; k++) {
        size_t o = (size_t)n->touched_list[k] * h0;
        adam_update(n->w[0] + o, n->g[0] + o, n->m[0] + o, n->v[0] + o, h0, lr, wd, bc1, bc2);
    }
    for (size_t l = 1; l < n->n_layers; l++) adam_update(n->w[l], n->g[l], n->m[l], n->v[l], wsize(n, l), lr, wd, bc1, bc2);
}

float ds__wsd_lr(float lr, uint64_t step, uint64_t total) {
    if (total == 0) return lr;
    double t = (double)step / (double)total;
    if (t < 0.05) return lr * (float)((t + 1.0 / (double)total) / 0.05 > 1 ? 1 : (t + 1.0 / (double)total) / 0.05);
    if (t < 0.8) return lr;
    double f = 1.0 - (t - 0.8) / 0.2;
    return lr * (float)(0.01 + 0.99 * (f > 0 ? f : 0));
}

/* ------------------------------------------------------------------------ */
/* Losses                                                                     */
/* ------------------------------------------------------------------------ */
/* Softmax of row r (n values) in place; returns log-sum-exp. Entries equal
** to -INFINITY are excluded (probability 0). */
static double softmax_row(float *r, size_t n) {
    float mx = -INFINITY;
    for (size_t j = 0; j < n; j++) mx = r[j] > mx ? r[j] : mx;
    double s = 0;
    for (size_t j = 0; j < n; j++) s += r[j] == -INFINITY ? 0.0 : exp((double)(r[j] - mx));
    for (size_t j = 0; j < n; j++) r[j] = r[j] == -INFINITY ? 0.0f : (float)(exp((double)(r[j] - mx)) / s);
    return (double)mx + log(s);
}

double ds__loss_infonce(const float *E, size_t B, size_t d, float tau, float *dE, float *scratch) {
    const float *q = E, *p = E + B * d;
    float *S = scratch, *St = scratch + B * B;   /* St: column softmax via the transpose */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)B, (int)B, (int)d, 1.0f / tau, q, (int)d, p, (int)d, 0.0f,
                S, (int)B);
    for (size_t i = 0; i < B; i++)
        for (size_t j = 0; j < B; j++) St[j * B + i] = S[i * B + j];
    double loss = 0;
    for (size_t i = 0; i < B; i++) {
        float sii = S[i * B + i];
        loss += softmax_row(S + i * B, B) - sii;
        loss += softmax_row(St + i * B, B) - sii;
    }
    loss /= 2.0 * (double)B;
    /* G[i][j] = (P_row[i][j] + P_col[j][i] - 2 [i==j]) / (2B), then / tau */
    float c = 1.0f / (2.0f * (float)B * tau);
    for (size_t i = 0; i < B; i++)
        for (size_t j = 0; j < B; j++) S[i * B + j] = c * (S[i * B + j] + St[j * B + i] - (i == j ? 2.0f : 0.0f));
    /* dq = G p ; dp = G^T q */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)B, (int)d, (int)B, 1.0f, S, (int)B, p, (int)d, 0.0f, dE,
                (int)d);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)B, (int)d, (int)B, 1.0f, S, (int)B, q, (int)d, 0.0f,
                dE + B * d, (int)d);
    return loss;
}

double ds__loss_kl_sim(const float *E, size_t d, const float *T, size_t dt, size_t B, float tau, float *dE,
                       float *scratch) {
    float *Q = scratch, *P = scratch + B * B, *G = scratch + 2 * B * B;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)B, (int)B, (int)d, 1.0f / tau, E, (int)d, E, (int)d, 0.0f,
                Q, (int)B);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)B, (int)B, (int)dt, 1.0f / tau, T, (int)dt, T, (int)dt,
                0.0f, P, (int)B);
    double loss = 0;
    for (size_t i = 0; i < B; i++) {
        Q[i * B + i] = -INFINITY;
        P[i * B + i] = -INFINITY;
        float *q = Q + i * B, *p = P + i * B;
        /* log Q_ij = q_ij - lse_q, log P_ij = p_ij - lse_p; keep logits */
        float ql[1024], pl[1024];
        int small = B <= 1024;
        if (small) { memcpy(ql, q, B * sizeof *q); memcpy(pl, p, B * sizeof *p); }
        double lq = softmax_row(q, B), lp = softmax_row(p, B);
        for (size_t j = 0; j < B; j++) {
            if (j == i || p[j] <= 0) continue;
            double logp = small ? (double)pl[j] - lp : log((double)p[j]);
            double logq = small ? (double)ql[j] - lq : log((double)q[j] > 1e-30 ? (double)q[j] : 1e-30);
            loss += (double)p[j] * (logp - logq);
        }
    }
    float c = tau * tau / (float)B;
    loss *= (double)c;
    for (size_t i = 0; i < B; i++)
        for (size_t j = 0; j < B; j++) G[i * B + j] = i == j ? 0.0f : c * (Q[i * B + j] - P[i * B + j]);
    /* dE = (G + G^T) E / tau */
    for (size_t i = 0; i < B; i++)
        for (size_t j = i + 1; j < B; j++) {
            float s = G[i * B + j] + G[j * B + i];
            G[i * B + j] = G[j * B + i] = s;
        }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)B, (int)d, (int)B, 1.0f / tau, G, (int)B, E, (int)d, 0.0f,
                dE, (int)d);
    return loss;
}
