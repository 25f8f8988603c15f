/* forward.c -- float32 BERT inference on padding-free batches.
**
** A batch of n sequences is laid out as one [T, H] matrix of token rows
** (T = sum of lengths), so no compute is spent on padding: every linear layer
** is one GEMM over all T rows, and attention runs per (sequence, head) over
** that sequence's rows only. Restricting attention to a sequence's own keys is
** exactly what Hugging Face's padding mask computes (masked keys get weight
** exp(-huge) = 0), so results do not depend on how texts were batched.
**
** Post-LayerNorm BERT layer:
**   a = LN1(x + Wo · attention(Wq x, Wk x, Wv x))
**   x = LN2(a + W2 · act(W1 a))
** The MLM head (SPLADE) is LN(act(Wt x)) · word_embeddings^T + bias.
**
** Threads: the caller's thread plus env->n_threads - 1 workers run the whole
** pass in lock-step (SPMD). Row-local work (embeddings, projections, FFN,
** LayerNorm) is split by contiguous row ranges, so each thread's rows need no
** synchronisation; attention needs every key/value, so a barrier precedes and
** follows it. GEMMs call OpenBLAS single-threaded per slice (we set OpenBLAS to
** one thread: its own pool would fight ours for the same cores).
**
** Hot element-wise kernels (GELU, LayerNorm, softmax) have an AVX2+FMA version
** and a scalar twin (selected from ds__cpu_features(), DS_SIMD=scalar forces
** the twin); see kernels.c.
*/
#include "model/model.h"
#include "model/kernels.h"

#include <cblas.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

typedef struct fwd {
    const ds_encoder *enc;
    const model_kernels *k;
    ds__head head;
    const int32_t *const *ids, *const *types;
    const size_t *lens;
    size_t  n, T;
    size_t *off;                 /* [n + 1] first row of each sequence */
    float  *x, *q, *kk, *v, *ctx, *tmp, *ffn;
    float  *scratch;             /* per thread: attention scores / splade logits */
    size_t  scratch_per;         /* floats per thread */
    float  *out;
    int8_t *xq;                  /* int8 path: quantized rows [T, max(H, F)] */
    float  *xs;                  /* their scales [T] */
    unsigned nt;
    pthread_barrier_t bar;
    /* start gate: workers wait until the gang size is final */
    pthread_mutex_t mu;
    pthread_cond_t  cv;
    int     go;
} fwd;

typedef struct worker_arg { fwd *f; unsigned t; } worker_arg;

/* Below this many rows a linear layer goes to our register-blocked kernel,
** which reads W in place; above it OpenBLAS wins, its packing of W being
** amortised over enough rows. Measured with bench/model (1 x 16 vs 32 x 128). */
#define NT_MAX_ROWS 24

/* y[m, nout] = x[m, nin] · W[nout, nin]^T + b */
static void linear(const model_kernels *k, const float *x, size_t m, size_t nin, const float *W, const float *b,
                   size_t nout, float *y) {
    if (m == 0) return;
    if (m <= NT_MAX_ROWS) {
        k->linear_nt(x, m, nin, W, b, nout, y);
        return;
    }
    for (size_t i = 0; i < m; i++) memcpy(y + i * nout, b, nout * sizeof *y);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)nout, (int)nin, 1.0f, x, (int)nin, W,
                (int)nin, 1.0f, y, (int)nout);
}

/* A layer linear: float32 (OpenBLAS or our small-row kernel), or int8 with
** the rows quantized on the fly (each thread quantizes its own rows). */
static void layer_linear(const fwd *f, const float *x, size_t r0, size_t m, size_t K, const float *W,
                         const int8_t *Wq, const float *Ws, const float *b, size_t n, float *y) {
    if (!f->enc->int8) {
        linear(f->k, x, m, K, W, b, n, y);
        return;
    }
    if (m == 0) return;
    int8_t *q = f->xq + r0 * (f->enc->cfg.ffn > f->enc->cfg.hidden ? f->enc->cfg.ffn : f->enc->cfg.hidden);
    f->k->quantize_rows(x, m, K, q, f->xs + r0);
    f->k->linear_i8(q, f->xs + r0, m, K, Wq, Ws, b, n, y);
}

static void rows_of(const fwd *f, unsigned t, size_t *r0, size_t *r1) {
    *r0 = f->T * t / f->nt;
    *r1 = f->T * (t + 1) / f->nt;
}

static void act_rows(const fwd *f, float *p, size_t n) {
    switch (f->enc->cfg.act) {
    case DS_ACT_GELU: f->k->gelu(p, n); break;
    case DS_ACT_GELU_TANH: f->k->gelu_tanh(p, n); break;
    case DS_ACT_RELU: for (size_t i = 0; i < n; i++) p[i] = p[i] > 0.0f ? p[i] : 0.0f; break;
    }
}

static void attention(fwd *f, unsigned t, size_t l) {
    const ds__model_config *c = &f->enc->cfg;
    size_t H = c->hidden, nh = c->n_heads, d = H / nh;
    float scale = 1.0f / sqrtf((float)d);
    float *S = f->scratch + (size_t)t * f->scratch_per;
    DS_UNUSED(l);
    for (size_t item = t; item < f->n * nh; item += f->nt) {
        size_t s = item / nh, h = item % nh;
        size_t r = f->off[s], L = f->off[s + 1] - r;
        const float *Q = f->q + r * H + h * d, *K = f->kk + r * H + h * d, *V = f->v + r * H + h * d;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)L, (int)L, (int)d, scale, Q, (int)H, K, (int)H,
                    0.0f, S, (int)L);
        for (size_t i = 0; i < L; i++) f->k->softmax(S + i * L, L);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)L, (int)d, (int)L, 1.0f, S, (int)L, V, (int)H,
                    0.0f, f->ctx + r * H + h * d, (int)H);
    }
}

static void pool_seq(const fwd *f, size_t s, float *dst) {
    const ds_encoder *enc = f->enc;
    size_t H = enc->cfg.hidden, r = f->off[s], L = f->off[s + 1] - r;
    const float *X = f->x + r * H;
    switch (enc->pooling) {
    case DS_POOLING_CLS: memcpy(dst, X, H * sizeof *dst); break;
    case DS_POOLING_MAX:
        memcpy(dst, X, H * sizeof *dst);
        for (size_t i = 1; i < L; i++)
            for (size_t j = 0; j < H; j++) dst[j] = X[i * H + j] > dst[j] ? X[i * H + j] : dst[j];
        break;
    default: {
        for (size_t j = 0; j < H; j++) dst[j] = 0.0f;
        for (size_t i = 0; i < L; i++)
            for (size_t j = 0; j < H; j++) dst[j] += X[i * H + j];
        float div = enc->pooling == DS_POOLING_MEAN_SQRT_LEN ? sqrtf((float)L) : (float)L;
        for (size_t j = 0; j < H; j++) dst[j] /= div;
    }
    }
    if (enc->normalize) {
        double ss = 0;
        for (size_t j = 0; j < H; j++) ss += (double)dst[j] * dst[j];
        /* sentence-transformers: x / max(||x||, 1e-12) */
        float inv = (float)(1.0 / (sqrt(ss) > 1e-12 ? sqrt(ss) : 1e-12));
        for (size_t j = 0; j < H; j++) dst[j] *= inv;
    }
}

static void cross_seq(const fwd *f, size_t s, float *tmp, float *dst) {
    const ds_encoder *enc = f->enc;
    size_t H = enc->cfg.hidden;
    const float *cls = f->x + f->off[s] * H;
    linear(f->k, cls, 1, H, enc->w.pool_w, enc->w.pool_b, H, tmp);
    for (size_t j = 0; j < H; j++) tmp[j] = tanhf(tmp[j]);
    double acc = enc->w.cls_b[0];
    for (size_t j = 0; j < H; j++) acc += (double)enc->w.cls_w[j] * tmp[j];
    *dst = (float)acc;
}

/* SPLADE rows of one sequence: its MLM-transformed rows are in f->tmp; logits
** are computed CH rows at a time into the thread's scratch and max-reduced. */
#define SPLADE_CHUNK 32
static void splade_seq(const fwd *f, unsigned t, size_t s, float *dst) {
    const ds_encoder *enc = f->enc;
    size_t H = enc->cfg.hidden, V = enc->cfg.vocab_size, r = f->off[s], L = f->off[s + 1] - r;
    float *lg = f->scratch + (size_t)t * f->scratch_per;
    /* log1p(relu(.)) is non-decreasing, so the max over tokens of it is
    ** log1p(relu(max over tokens of the logit)): one transcendental per term. */
    for (size_t v = 0; v < V; v++) dst[v] = -INFINITY;
    for (size_t i0 = 0; i0 < L; i0 += SPLADE_CHUNK) {
        size_t m = DS_MIN(SPLADE_CHUNK, L - i0);
        linear(f->k, f->tmp + (r + i0) * H, m, H, enc->w.word, enc->w.dec_b, V, lg);
        for (size_t i = 0; i < m; i++) {
            const float *row = lg + i * V;
            for (size_t v = 0; v < V; v++) dst[v] = row[v] > dst[v] ? row[v] : dst[v];
        }
    }
    for (size_t v = 0; v < V; v++) dst[v] = dst[v] > 0.0f ? log1pf(dst[v]) : 0.0f;
}

static void run(fwd *f, unsigned t) {
    const ds_encoder *enc = f->enc;
    const ds__model_config *c = &enc->cfg;
    const ds__weights *w = &enc->w;
    size_t H = c->hidden, F = c->ffn, r0, r1;
    rows_of(f, t, &r0, &r1);
    size_t m = r1 - r0;

    /* embeddings: word + position + token type, then LayerNorm */
    {
        size_t s = 0;
        while (s + 1 < f->n && f->off[s + 1] <= r0) s++;
        for (size_t r = r0; r < r1; r++) {
            while (f->off[s + 1] <= r) s++;
            size_t p = r - f->off[s];
            const float *we = w->word + (size_t)f->ids[s][p] * H;
            const float *pe = w->pos + p * H;
            const float *te = w->type + (size_t)(f->types ? f->types[s][p] : 0) * H;
            float *xr = f->x + r * H;
            for (size_t j = 0; j < H; j++) xr[j] = we[j] + pe[j] + te[j];
            f->k->layernorm(xr, H, w->emb_ln_g, w->emb_ln_b, c->ln_eps);
        }
    }
    for (size_t l = 0; l < c->n_layers; l++) {
        const ds__layer_w *L = &w->layers[l];
        layer_linear(f, f->x + r0 * H, r0, m, H, L->q_w, L->q_q, L->q_s, L->q_b, H, f->q + r0 * H);
        layer_linear(f, f->x + r0 * H, r0, m, H, L->k_w, L->k_q, L->k_s, L->k_b, H, f->kk + r0 * H);
        layer_linear(f, f->x + r0 * H, r0, m, H, L->v_w, L->v_q, L->v_s, L->v_b, H, f->v + r0 * H);
        pthread_barrier_wait(&f->bar);
        attention(f, t, l);
        pthread_barrier_wait(&f->bar);
        /* a = LN1(x + Wo ctx) */
        layer_linear(f, f->ctx + r0 * H, r0, m, H, L->ao_w, L->ao_q, L->ao_s, L->ao_b, H, f->tmp + r0 * H);
        for (size_t r = r0; r < r1; r++) {
            float *xr = f->x + r * H;
            const float *tr = f->tmp + r * H;
            for (size_t j = 0; j < H; j++) xr[j] += tr[j];
            f->k->layernorm(xr, H, L->ln1_g, L->ln1_b, c->ln_eps);
        }
        /* x = LN2(a + W2 act(W1 a)) */
        layer_linear(f, f->x + r0 * H, r0, m, H, L->i_w, L->i_q, L->i_s, L->i_b, F, f->ffn + r0 * F);
        act_rows(f, f->ffn + r0 * F, m * F);
        layer_linear(f, f->ffn + r0 * F, r0, m, F, L->o_w, L->o_q, L->o_s, L->o_b, H, f->tmp + r0 * H);
        for (size_t r = r0; r < r1; r++) {
            float *xr = f->x + r * H;
            const float *tr = f->tmp + r * H;
            for (size_t j = 0; j < H; j++) xr[j] += tr[j];
            f->k->layernorm(xr, H, L->ln2_g, L->ln2_b, c->ln_eps);
        }
    }
    switch (f->head) {
    case DS_HEAD_STATES:
        memcpy(f->out + r0 * H, f->x + r0 * H, m * H * sizeof(float));
        break;
    case DS_HEAD_POOL:
        pthread_barrier_wait(&f->bar);
        for (size_t s = t; s < f->n; s += f->nt) pool_seq(f, s, f->out + s * H);
        break;
    case DS_HEAD_CROSS:
        pthread_barrier_wait(&f->bar);
        for (size_t s = t; s < f->n; s += f->nt) cross_seq(f, s, f->scratch + (size_t)t * f->scratch_per, f->out + s);
        break;
    case DS_HEAD_SPLADE:
        /* transform is row-local; the vocab projection is per sequence */
        linear(f->k, f->x + r0 * H, m, H, w->tr_w, w->tr_b, H, f->tmp + r0 * H);
        act_rows(f, f->tmp + r0 * H, m * H);
        for (size_t r = r0; r < r1; r++) f->k->layernorm(f->tmp + r * H, H, w->tr_ln_g, w->tr_ln_b, c->ln_eps);
        pthread_barrier_wait(&f->bar);
        for (size_t s = t; s < f->n; s += f->nt) splade_seq(f, t, s, f->out + s * c->vocab_size);
        break;
    }
}

static void *worker_main(void *p) {
    worker_arg *a = p;
    fwd *f = a->f;
    pthread_mutex_lock(&f->mu);
    while (!f->go) pthread_cond_wait(&f->cv, &f->mu);
    int active = a->t < f->nt;
    pthread_mutex_unlock(&f->mu);
    if (active) run(f, a->t);
    return NULL;
}

static void set_blas_single(void) {
    static atomic_int done;
    if (!atomic_exchange(&done, 1)) openblas_set_num_threads(1);
}

ds_status ds__forward(const ds_encoder *enc, ds__head head, const int32_t *const *ids,
                      const int32_t *const *type_ids, const size_t *lens, size_t n, float *out) {
    ds_env *env = enc->env;
    const ds__model_config *c = &enc->cfg;
    size_t H = c->hidden, F = c->ffn, T = 0, Lmax = 0;
    for (size_t i = 0; i < n; i++) {
        T += lens[i];
        Lmax = DS_MAX(Lmax, lens[i]);
    }
    DS_ASSERT(Lmax <= c->max_pos);
    if (n == 0) return DS_OK;
    set_blas_single();
    fwd f;
    memset(&f, 0, sizeof f);
    f.enc = enc;
    f.k = ds__model_kernels(env);
    f.head = head;
    f.ids = ids;
    f.types = type_ids;
    f.lens = lens;
    f.n = n;
    f.T = T;
    f.out = out;
    unsigned want = env->n_threads ? env->n_threads : 1;
    /* below ~8 rows per thread the split costs more than it saves */
    if ((size_t)want > T / 8) want = (unsigned)DS_MAX((size_t)1, T / 8);
    if (head == DS_HEAD_SPLADE && (size_t)want < DS_MIN((size_t)env->n_threads, n)) want = (unsigned)DS_MIN((size_t)env->n_threads, n);
    size_t scratch_per = DS_MAX(Lmax * Lmax, H);
    if (head == DS_HEAD_SPLADE) scratch_per = DS_MAX(scratch_per, (size_t)SPLADE_CHUNK * c->vocab_size);
    f.scratch_per = scratch_per;
    /* one allocation for all activations: T*(6H + F) + per-thread scratch */
    size_t act = 0, tot = 0;
    ds_status rc = DS_OK;
    if (!ds__mul_ok(T, 6 * H + F, &act) || !ds__add_ok(act, (size_t)want * scratch_per, &tot) ||
        tot > SIZE_MAX / sizeof(float) || n >= SIZE_MAX / sizeof(size_t))
        return ds__fail(DS_ERR_RANGE, "batch too large");
    float *mem = ds__alloc(env, tot * sizeof(float), 64);
    if (mem == NULL) return ds__fail(DS_ERR_NOMEM, "cannot allocate %zu MB of activations", tot * sizeof(float) >> 20);
    f.off = ds__alloc(env, (n + 1) * sizeof *f.off, 64);
    size_t q_bytes = 0;
    if (enc->int8) {
        /* cannot overflow: tot (6H + F floats per row) bounded it */
        size_t qa = (size_t)ds__align_up(T * DS_MAX(H, F), 16);
        q_bytes = qa + T * sizeof(float);
        f.xq = ds__alloc(env, q_bytes, 64);
        f.xs = f.xq ? (float *)(void *)(f.xq + qa) : NULL;
    }
    if (f.off == NULL || (enc->int8 && f.xq == NULL)) {
        ds__free(env, f.xq, q_bytes);
        ds__free(env, f.off, (n + 1) * sizeof *f.off);
        ds__free(env, mem, tot * sizeof(float));
        return DS_ERR_NOMEM;
    }
    f.x = mem;
    f.q = f.x + T * H;
    f.kk = f.q + T * H;
    f.v = f.kk + T * H;
    f.ctx = f.v + T * H;
    f.tmp = f.ctx + T * H;
    f.ffn = f.tmp + T * H;
    f.scratch = f.ffn + T * F;
    f.off[0] = 0;
    for (size_t i = 0; i < n; i++) f.off[i + 1] = f.off[i] + lens[i];

    pthread_t tids[64];
    worker_arg args[64];
    if (want > 64) want = 64;
    unsigned started = 0;
    pthread_mutex_init(&f.mu, NULL);
    pthread_cond_init(&f.cv, NULL);
    for (unsigned t = 1; t < want; t++) {
        args[t].f = &f;
        args[t].t = t;
        if (pthread_create(&tids[t], NULL, worker_main, &args[t]) != 0) break;
        started++;
    }
    f.nt = started + 1;       /* what we got, not what we wanted */
    pthread_barrier_init(&f.bar, NULL, f.nt);
    pthread_mutex_lock(&f.mu);
    f.go = 1;
    pthread_cond_broadcast(&f.cv);
    pthread_mutex_unlock(&f.mu);
    run(&f, 0);
    for (unsigned t = 1; t <= started; t++) pthread_join(tids[t], NULL);
    pthread_barrier_destroy(&f.bar);
    pthread_cond_destroy(&f.cv);
    pthread_mutex_destroy(&f.mu);
    ds__free(env, f.xq, q_bytes);
    ds__free(env, f.off, (n + 1) * sizeof *f.off);
    ds__free(env, mem, tot * sizeof(float));
    return rc;
}
