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
** Threads: the caller's thread plus up to env->n_threads - 1 workers of the
** env's pool (one gang, core/threads.c) run the whole pass in lock-step (SPMD). The six linears of a layer run on weights packed
** at load (gemm.h) and are split one of two ways:
**   rows (many tokens): threads take chunks of rows as they come free and
**     run everything between two attentions on a chunk (run_rows), so only
**     attention, which needs every key and value, sits between two
**     barriers, and a thread that was preempted holds nobody up;
**   columns (few tokens, e.g. one query): each thread computes its share of
**     the output columns for all rows, so it streams only its share of the
**     weights, which is what a few-token pass is bound by; this costs a
**     barrier after every step that changes the split.
** Barriers spin briefly, then yield: a pass is milliseconds long and a
** futex sleep per step would be a large share of it.
**
** Hot element-wise kernels (GELU, LayerNorm, softmax) have an AVX2+FMA version
** and a scalar twin (selected from ds__cpu_features(), DS_SIMD=scalar forces
** the twin); see kernels.c.
*/
#include "model/model.h"
#include "model/kernels.h"
#include "model/gemm.h"

#include <cblas.h>
#include <math.h>
#include <stdatomic.h>
#include <sched.h>
#include <stdlib.h>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define cpu_relax() _mm_pause()
#else
#define cpu_relax() ((void)0)
#endif

typedef struct fwd {
    const ds_encoder *enc;
    const model_kernels *k;
    const ds__gemm_kernels *g;
    ds__head head;
    int     cols;                /* split linears by columns (few rows) */
    const int32_t *const *ids, *const *types;
    const size_t *lens;
    size_t  n, T;
    size_t *off;                 /* [n + 1] first row of each sequence */
    float  *x, *q, *kk, *v, *ctx, *tmp, *ffn;
    float  *scratch;             /* per thread: attention scores / splade logits */
    size_t  scratch_per;         /* floats per thread */
    float  *out;
    uint8_t *xq;                 /* int8: quantized rows (gemm.h), see lin_input;
                                 ** bf16: the rows rounded to bf16 */
    float   *xs;                 /* their scales */
    int32_t *xz;                 /* their zero points */
    size_t   kq;                 /* bytes per quantized row: max(H, F) rounded to 4
                                 ** (int8), twice that (bf16) */
    unsigned nt;
    size_t  chunk;               /* rows mode: rows per work item */
    atomic_size_t *next;         /* rows mode: per-phase work counters (see run) */
    atomic_uint bar_count, bar_gen;
} fwd;

/* At most this many token rows, linears are split between threads by
** columns (see the header): chosen for one query (bench/model's 1 x 16),
** not tuned further. */
#define COLS_MAX_ROWS 64

/* The heads' linears (weights not packed): below this many rows our
** register-blocked kernel, which reads W in place; above it OpenBLAS, its
** packing of W being amortised over enough rows. Measured with bench/model
** (1 x 16 vs 32 x 128) when the layers still used this path. */
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

static void rows_of(const fwd *f, unsigned t, size_t *r0, size_t *r1) {
    *r0 = f->T * t / f->nt;
    *r1 = f->T * (t + 1) / f->nt;
}

/* All threads wait here until every one has arrived. */
static void barrier(fwd *f) {
    if (f->nt == 1) return;
    unsigned gen = atomic_load_explicit(&f->bar_gen, memory_order_acquire);
    if (atomic_fetch_add_explicit(&f->bar_count, 1, memory_order_acq_rel) + 1 == f->nt) {
        atomic_store_explicit(&f->bar_count, 0, memory_order_relaxed);
        atomic_fetch_add_explicit(&f->bar_gen, 1, memory_order_release);
        return;
    }
    for (unsigned spin = 0; atomic_load_explicit(&f->bar_gen, memory_order_acquire) == gen; spin++) {
        if (spin < 2000) cpu_relax();
        else sched_yield();
    }
}

static void act_rows(const fwd *f, float *p, size_t n) {
    switch (f->enc->cfg.act) {
    case DS_ACT_GELU: f->k->gelu(p, n); break;
    case DS_ACT_GELU_TANH: f->k->gelu_tanh(p, n); break;
    case DS_ACT_RELU: for (size_t i = 0; i < n; i++) p[i] = p[i] > 0.0f ? p[i] : 0.0f; break;
    }
}

/* The first row a thread's linear layers read and write: its chunk's
** (rows mode), or row 0 (columns mode: a thread computes some columns of
** every row). */
static size_t span_r0(const fwd *f, size_t r0) { return f->cols ? 0 : r0; }

/* The FFN's inner activations of the span: shared [T, F] in columns mode;
** in rows mode a chunk's own, in this thread's [chunk, F] buffer (they never
** leave the chunk, and a buffer reused chunk after chunk stays in cache). */
static float *ffn_span(const fwd *f, unsigned t) {
    return f->cols ? f->ffn : f->ffn + (size_t)t * f->chunk * f->enc->cfg.ffn;
}

/* The input of a linear layer: x itself, or (int8) its rows quantized. */
typedef struct lin_in {
    const float   *x;          /* the span's first row */
    const uint8_t *q;
    const float   *s;
    const int32_t *z;
    const uint16_t *h;         /* bf16: the rows rounded */
    size_t r0, m;              /* the rows this thread multiplies */
} lin_in;

/* x holds the rows of the span (span_r0). Rows mode: rows [r0, r1),
** quantized into the shared buffer at their own offset. Columns mode: every
** row, quantized into this thread's private buffer (a few rows: cheaper
** than a barrier). */
static lin_in lin_input(const fwd *f, unsigned t, const float *x, size_t K, size_t r0, size_t r1) {
    lin_in in = { x, NULL, NULL, NULL, NULL, 0, f->T };
    if (!f->cols) {
        in.r0 = r0;
        in.m = r1 - r0;
    }
    if (!(f->enc->int8 || f->enc->bf16) || in.m == 0) return in;
    size_t base = f->cols ? (size_t)t * f->T : in.r0, Kp = (size_t)ds__align_up(K, 4);
    uint8_t *q = f->xq + base * f->kq;
    if (f->enc->bf16) {
        /* once per input, not per tile: the three Q, K, V projections
        ** share it */
        uint16_t *h = (uint16_t *)(void *)q;
        f->g->to_bf16(x, in.m, K, (size_t)ds__align_up(K, 2), h);
        in.h = h;
        return in;
    }
    f->g->quant(x, in.m, K, Kp, q, f->xs + base, f->xz + base);
    in.q = q;
    in.s = f->xs + base;
    in.z = f->xz + base;
    return in;
}

/* y = in · W^T + b, then the model's activation if act is set, over this
** thread's rows (rows mode) or columns (columns mode); yr holds the span's
** output rows. GELU and ReLU run in the GEMM's epilogue; the tanh GELU in a
** pass over the outputs this thread wrote. */
static void layer_linear(const fwd *f, unsigned t, const lin_in *in, const ds__pack *W, int act, float *yr) {
    size_t p0 = 0, p1 = W->panels, n = W->n;
    if (f->cols) {
        p0 = W->panels * t / f->nt;
        p1 = W->panels * (t + 1) / f->nt;
    }
    if (in->m == 0 || p0 == p1) return;
    ds__act a = f->enc->cfg.act;
    int fused = !act ? DS_GEMM_ACT_NONE : a == DS_ACT_GELU ? DS_GEMM_ACT_GELU : a == DS_ACT_RELU ? DS_GEMM_ACT_RELU
                                                                                               : DS_GEMM_ACT_NONE;
    if (f->enc->int8) f->g->i8(in->q, in->s, in->z, in->m, W, p0, p1, fused, yr);
    else if (f->enc->bf16) f->g->bf16(in->h, in->m, W, p0, p1, fused, yr);
    else f->g->f32(in->x, in->m, W, p0, p1, fused, yr);
    if (!act || fused != DS_GEMM_ACT_NONE) return;
    size_t j0 = p0 * DS_GEMM_NR, j1 = DS_MIN(p1 * DS_GEMM_NR, n);
    for (size_t r = 0; r < in->m; r++) act_rows(f, yr + r * n + j0, j1 - j0);
}

/* x = LayerNorm(x + tmp) on rows [r0, r1). */
static void residual_layernorm(const fwd *f, size_t r0, size_t r1, const float *g, const float *b) {
    size_t H = f->enc->cfg.hidden;
    for (size_t r = r0; r < r1; r++) {
        float *xr = f->x + r * H;
        const float *tr = f->tmp + r * H;
        for (size_t j = 0; j < H; j++) xr[j] += tr[j];
        f->k->layernorm(xr, H, g, b, f->enc->cfg.ln_eps);
    }
}

/* The next work item of a phase for this thread, or 0 when the phase is
** done. Work is handed out dynamically because a static half per thread
** left one thread idle at the barriers for a measurable share of a pass
** (preemption and uneven sequence lengths; figures in docs/benchmarks.md,
** "Transformer encoder (model)"). */
static int grab(fwd *f, size_t phase, size_t n_items, size_t *item) {
    *item = atomic_fetch_add_explicit(&f->next[phase], 1, memory_order_relaxed);
    return *item < n_items;
}

static void attention(fwd *f, unsigned t, size_t phase) {
    const ds__model_config *c = &f->enc->cfg;
    size_t H = c->hidden, nh = c->n_heads, d = H / nh, item;
    float scale = 1.0f / sqrtf((float)d);
    float *S = f->scratch + (size_t)t * f->scratch_per;
    while (grab(f, phase, f->n * nh, &item)) {
        size_t s = item / nh, h = item % nh;
        size_t r = f->off[s], L = f->off[s + 1] - r;
        f->k->attention(f->q + r * H + h * d, f->kk + r * H + h * d, f->v + r * H + h * d, L, d, H, scale,
                        f->ctx + r * H + h * d, S);
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

/* Embeddings of rows [r0, r1): word + position + token type, then LayerNorm. */
static void embed_rows(const fwd *f, size_t r0, size_t r1) {
    const ds__model_config *c = &f->enc->cfg;
    const ds__weights *w = &f->enc->w;
    size_t H = c->hidden, s = 0;
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

static void qkv_rows(const fwd *f, unsigned t, const ds__layer_w *L, size_t r0, size_t r1) {
    size_t H = f->enc->cfg.hidden, o = span_r0(f, r0) * H;
    lin_in in = lin_input(f, t, f->x + o, H, r0, r1);
    layer_linear(f, t, &in, &L->pq, 0, f->q + o);
    layer_linear(f, t, &in, &L->pk, 0, f->kk + o);
    layer_linear(f, t, &in, &L->pv, 0, f->v + o);
}

/* The rest of a layer after attention, on rows [r0, r1). Columns mode needs
** a barrier wherever the split changes (sync = 1); r0, r1 are then this
** thread's LayerNorm rows. */
static void layer_tail(fwd *f, unsigned t, const ds__layer_w *L, size_t r0, size_t r1, int sync) {
    size_t H = f->enc->cfg.hidden, F = f->enc->cfg.ffn, o = span_r0(f, r0) * H;
    float *ffn = ffn_span(f, t);
    /* a = LN1(x + Wo ctx) */
    lin_in in = lin_input(f, t, f->ctx + o, H, r0, r1);
    layer_linear(f, t, &in, &L->pao, 0, f->tmp + o);
    if (sync) barrier(f);
    residual_layernorm(f, r0, r1, L->ln1_g, L->ln1_b);
    if (sync) barrier(f);
    /* x = LN2(a + W2 act(W1 a)) */
    in = lin_input(f, t, f->x + o, H, r0, r1);
    layer_linear(f, t, &in, &L->pi, 1, ffn);
    if (sync) barrier(f);
    in = lin_input(f, t, ffn, F, r0, r1);
    layer_linear(f, t, &in, &L->po, 0, f->tmp + o);
    if (sync) barrier(f);
    residual_layernorm(f, r0, r1, L->ln2_g, L->ln2_b);
    if (sync) barrier(f);
}

/* The row-local start of the head on rows [r0, r1). */
static void head_rows(const fwd *f, size_t r0, size_t r1) {
    const ds__model_config *c = &f->enc->cfg;
    const ds__weights *w = &f->enc->w;
    size_t H = c->hidden, m = r1 - r0;
    if (f->head == DS_HEAD_STATES) {
        memcpy(f->out + r0 * H, f->x + r0 * H, m * H * sizeof(float));
    } else if (f->head == DS_HEAD_SPLADE) {
        /* transform is row-local; the vocab projection is per sequence */
        linear(f->k, f->x + r0 * H, m, H, w->tr_w, w->tr_b, H, f->tmp + r0 * H);
        act_rows(f, f->tmp + r0 * H, m * H);
        for (size_t r = r0; r < r1; r++) f->k->layernorm(f->tmp + r * H, H, w->tr_ln_g, w->tr_ln_b, c->ln_eps);
    }
}

/* Rows mode: the next chunk [r0, r1) of a phase, or 0 when it is done.
** Chunks are guided: 1/(2 nt) of the rows still left, between CHUNK_MIN
** and f->chunk rows, so a phase ends on small chunks and the threads reach
** its barrier together. With fixed 256-row chunks one thread idled for
** half a chunk on average at each phase's end: by count ~1/30 of a phase
** for a SciFact batch of ~7,700 rows on two threads (not timed alone; the
** A/B with it is in docs/benchmarks.md). */
#define CHUNK_MIN 48
static int grab_rows(fwd *f, size_t phase, size_t *r0, size_t *r1) {
    size_t cur = atomic_load_explicit(&f->next[phase], memory_order_relaxed), len;
    do {
        if (cur >= f->T) return 0;
        len = (f->T - cur + 2 * f->nt - 1) / (2 * f->nt);
        len = DS_MIN(DS_MIN(f->chunk, DS_MAX(len, (size_t)CHUNK_MIN)), f->T - cur);
    } while (!atomic_compare_exchange_weak_explicit(&f->next[phase], &cur, cur + len, memory_order_relaxed,
                                                    memory_order_relaxed));
    *r0 = cur;
    *r1 = cur + len;
    return 1;
}

/* Rows mode: phase 0 embeds and projects Q, K, V of layer 0 for chunks of
** rows; then per layer, attention (phase 2l + 1) and the row-local rest of
** the layer plus the next layer's Q, K, V or the head's row part (phase
** 2l + 2). Every step of a chunk's chain reads only that chunk's rows, so
** the only barriers are the two around attention. */
static void run_rows(fwd *f, unsigned t) {
    const ds__layer_w *Ls = f->enc->w.layers;
    size_t nl = f->enc->cfg.n_layers, r0, r1;
    while (grab_rows(f, 0, &r0, &r1)) {
        embed_rows(f, r0, r1);
        qkv_rows(f, t, &Ls[0], r0, r1);
    }
    for (size_t l = 0; l < nl; l++) {
        barrier(f);
        attention(f, t, 2 * l + 1);
        barrier(f);
        while (grab_rows(f, 2 * l + 2, &r0, &r1)) {
            layer_tail(f, t, &Ls[l], r0, r1, 0);
            if (l + 1 < nl) qkv_rows(f, t, &Ls[l + 1], r0, r1);
            else head_rows(f, r0, r1);
        }
    }
}

/* Columns mode: every linear is split by columns, LayerNorms and the rest by
** static row ranges, with a barrier between. */
static void run_cols(fwd *f, unsigned t) {
    const ds__model_config *c = &f->enc->cfg;
    size_t r0, r1;
    rows_of(f, t, &r0, &r1);
    embed_rows(f, r0, r1);
    barrier(f);                          /* the first projections read every row */
    for (size_t l = 0; l < c->n_layers; l++) {
        const ds__layer_w *L = &f->enc->w.layers[l];
        qkv_rows(f, t, L, r0, r1);
        barrier(f);
        attention(f, t, 2 * l + 1);
        barrier(f);
        layer_tail(f, t, L, r0, r1, 1);
    }
    head_rows(f, r0, r1);
}

static void run(fwd *f, unsigned t) {
    const ds__model_config *c = &f->enc->cfg;
    size_t H = c->hidden;
    if (f->cols) run_cols(f, t);
    else run_rows(f, t);
    switch (f->head) {
    case DS_HEAD_STATES:
        break;
    case DS_HEAD_POOL:
        barrier(f);
        for (size_t s = t; s < f->n; s += f->nt) pool_seq(f, s, f->out + s * H);
        break;
    case DS_HEAD_CROSS:
        barrier(f);
        for (size_t s = t; s < f->n; s += f->nt) cross_seq(f, s, f->scratch + (size_t)t * f->scratch_per, f->out + s);
        break;
    case DS_HEAD_SPLADE:
        barrier(f);
        for (size_t s = t; s < f->n; s += f->nt) splade_seq(f, t, s, f->out + s * c->vocab_size);
        break;
    }
}

static void gang_main(void *p, unsigned t) { run(p, t); }

static void set_blas_single(void) {
    static atomic_int done;
    if (!atomic_exchange(&done, 1)) openblas_set_num_threads(1);
}

/* buf with at least need bytes: the one it holds if large enough, else a
** new one (what it held is freed first, so peak memory is one buffer). */
static void *ws_take(ds_env *env, void **buf, size_t *have, size_t need) {
    if (*have >= need) return *buf;
    ds__free(env, *buf, *have);
    *have = 0;
    if ((*buf = ds__alloc(env, need, 64)) != NULL) *have = need;
    return *buf;
}

void ds__fwd_ws_release(ds_env *env, ds__fwd_ws *ws) {
    ds__free(env, ws->act, ws->act_bytes);
    ds__free(env, ws->q, ws->q_bytes);
    ws->act = ws->q = NULL;
    ws->act_bytes = ws->q_bytes = 0;
}

/* Above this, a pass's activations are freed rather than kept for the next:
** a one-off huge batch should not pin its memory until the encoder closes. */
#define WS_KEEP_MAX ((size_t)512 << 20)

/* Hands the workspace back to the encoder, or frees a pass's own. */
static void end_ws(ds_env *env, const ds_encoder *enc, ds__fwd_ws *ws) {
    if (ws != enc->ws || ws->act_bytes + ws->q_bytes > WS_KEEP_MAX) ds__fwd_ws_release(env, ws);
    if (ws == enc->ws) atomic_store(&ws->busy, 0);
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
    f.g = ds__gemm_kernels_for(env);
    unsigned want = env->n_threads ? env->n_threads : 1;
    if (want > 64) want = 64;
    f.cols = want > 1 && T <= COLS_MAX_ROWS;
    /* by columns, each thread should get at least 2 panels of the narrowest linear */
    if (f.cols && (size_t)want > DS_MAX((size_t)1, H / DS_GEMM_NR / 2)) want = (unsigned)DS_MAX((size_t)1, H / DS_GEMM_NR / 2);
    /* by rows, below ~8 rows per thread the split costs more than it saves */
    if (!f.cols && (size_t)want > T / 8) want = (unsigned)DS_MAX((size_t)1, T / 8);
    if (head == DS_HEAD_SPLADE && (size_t)want < DS_MIN((size_t)env->n_threads, n)) want = (unsigned)DS_MIN((size_t)env->n_threads, n);
    size_t scratch_per = DS_MAX(ds__attention_scratch(Lmax, H / c->n_heads), H);
    if (head == DS_HEAD_SPLADE) scratch_per = DS_MAX(scratch_per, (size_t)SPLADE_CHUNK * c->vocab_size);
    f.scratch_per = scratch_per;
    /* the largest chunk (grab_rows): 256 rows, the cap of the fixed chunks
    ** before; gemm.c's F32_MC row block covers a whole chunk, so each
    ** weight panel is read once per chunk */
    f.chunk = DS_MIN(T, (size_t)256);
    /* activations: T rows of x, q, k, v, ctx, tmp (6H), the FFN's inner
    ** rows (ffn_span: T, or a chunk per thread), per-thread scratch */
    size_t act = 0, tot = 0, ffn_rows = f.cols ? T : (size_t)want * f.chunk, ffn_n = 0;
    if (!ds__mul_ok(T, 6 * H, &act) || !ds__mul_ok(ffn_rows, F, &ffn_n) || !ds__add_ok(act, ffn_n, &act) ||
        !ds__add_ok(act, (size_t)want * scratch_per, &tot) || tot > SIZE_MAX / sizeof(float) ||
        n >= SIZE_MAX / sizeof(size_t))
        return ds__fail(DS_ERR_RANGE, "batch too large");
    ds__fwd_ws own = { 0 }, *ws = &own;
    int zero = 0;
    if (atomic_compare_exchange_strong(&enc->ws->busy, &zero, 1)) ws = enc->ws;
    float *mem = ws_take(env, &ws->act, &ws->act_bytes, tot * sizeof(float));
    if (mem == NULL) {
        end_ws(env, enc, ws);
        return ds__fail(DS_ERR_NOMEM, "cannot allocate %zu MB of activations", tot * sizeof(float) >> 20);
    }
    f.off = ds__alloc(env, (n + 1) * sizeof *f.off, 64);
    size_t n_phases = 2 * c->n_layers + 1;
    f.next = ds__calloc(env, n_phases, sizeof *f.next);
    if (enc->int8 || enc->bf16) {
        /* cannot overflow: tot (6H + F floats per row) bounded T, and in
        ** columns mode T <= COLS_MAX_ROWS */
        size_t rows = f.cols ? (size_t)want * T : T;
        f.kq = (size_t)ds__align_up(DS_MAX(H, F), 4) * (enc->bf16 ? sizeof(uint16_t) : 1);
        size_t qa = (size_t)ds__align_up(rows * f.kq, 16);
        f.xq = ws_take(env, &ws->q, &ws->q_bytes, qa + rows * (sizeof(float) + sizeof(int32_t)));
        f.xs = f.xq ? (float *)(void *)(f.xq + qa) : NULL;
        f.xz = f.xq ? (int32_t *)(void *)(f.xs + rows) : NULL;
    }
    if (f.off == NULL || f.next == NULL || ((enc->int8 || enc->bf16) && f.xq == NULL)) {
        ds__free(env, f.next, n_phases * sizeof *f.next);
        ds__free(env, f.off, (n + 1) * sizeof *f.off);
        end_ws(env, enc, ws);
        return DS_ERR_NOMEM;
    }
    f.x = mem;
    f.q = f.x + T * H;
    f.kk = f.q + T * H;
    f.v = f.kk + T * H;
    f.ctx = f.v + T * H;
    f.tmp = f.ctx + T * H;
    f.ffn = f.tmp + T * H;
    f.scratch = f.ffn + ffn_n;
    f.off[0] = 0;
    for (size_t i = 0; i < n; i++) f.off[i + 1] = f.off[i] + lens[i];

    /* the env's pool runs the pass as one gang (every member runs at once,
    ** so the barriers hold); nt is what we got, not what we wanted: 1 when
    ** another thread's pass holds the pool (that pass already uses the cores) */
    ds__gang gang;
    f.nt = ds__gang_begin(env, want, &gang);
    ds__gang_run(&gang, gang_main, &f);
    ds__free(env, f.next, n_phases * sizeof *f.next);
    ds__free(env, f.off, (n + 1) * sizeof *f.off);
    end_ws(env, enc, ws);
    return DS_OK;
}
