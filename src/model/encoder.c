/* encoder.c -- opening a model directory and the public ds_encoder_* API.
**
** ds_encoder_open reads config.json (and the sentence-transformers files when
** present), maps model.safetensors and binds every tensor of the BERT layout,
** checking each shape against config.json. Names are tried as stored by
** BertModel ("embeddings.word_embeddings.weight") and by the task models
** ("bert.embeddings..."). The MLM decoder is tied to the word embeddings, so
** "cls.predictions.decoder.weight" is not needed (if present it is ignored).
**
** F32 tensors are used in place from the mapping when 4-byte aligned; F16 and
** BF16 tensors (and misaligned F32 ones) are converted once into owned
** buffers. Other dtypes are refused.
**
** The *_ids entry points validate ids, truncate, sort sequences by length and
** cut them into batches (forward.c runs each batch without padding).
**
** Thread: the encoder is read-only after open; every call is "Thread: any".
*/
#include "model/model.h"
#include "model/kernels.h"
#include "model/student.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

void ds_encoder_opts_init(ds_encoder_opts *o) {
    memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
    o->pooling = DS_POOLING_AUTO;
    o->normalize = -1;
    o->max_seq_length = 0;
    o->batch_size = 32;
    o->load_tokenizer = 1;
}

float ds__bf16_to_f32(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static ds_status own_push(ds_encoder *enc, float *p, size_t n) {
    if (enc->n_owned == enc->cap_owned) {
        size_t nc = enc->cap_owned ? enc->cap_owned * 2 : 32;
        float **np = ds__realloc(enc->env, enc->owned, enc->cap_owned * sizeof *np, nc * sizeof *np);
        if (np == NULL) return DS_ERR_NOMEM;
        enc->owned = np;
        size_t *nl = ds__realloc(enc->env, enc->owned_len, enc->cap_owned * sizeof *nl, nc * sizeof *nl);
        if (nl == NULL) return DS_ERR_NOMEM;
        enc->owned_len = nl;
        enc->cap_owned = nc;
    }
    enc->owned[enc->n_owned] = p;
    enc->owned_len[enc->n_owned] = n;
    enc->n_owned++;
    return DS_OK;
}

/* Finds tensor `name` (also tried with a "bert." prefix when alt_prefix),
** checks its shape is exactly [d0] or [d0, d1] and returns float32 data.
** optional: a missing tensor gives *out = NULL and DS_OK. */
static ds_status bind(ds_encoder *enc, const char *name, int alt_prefix, size_t d0, size_t d1, int optional,
                      const float **out) {
    *out = NULL;
    const ds__st_tensor *t = ds__st_find(&enc->st, name);
    char buf[256];
    if (t == NULL && alt_prefix) {
        snprintf(buf, sizeof buf, "bert.%s", name);
        t = ds__st_find(&enc->st, buf);
    }
    if (t == NULL) {
        if (optional) return DS_OK;
        return ds__fail(DS_ERR_FORMAT, "model.safetensors: tensor '%s%s' is missing (needed by %s)",
                        alt_prefix ? "[bert.]" : "", name, enc->cfg.arch);
    }
    unsigned want_dims = d1 ? 2 : 1;
    if (t->n_dims != want_dims || t->shape[0] != d0 || (d1 && t->shape[1] != d1)) {
        char got[128] = "";
        size_t k = 0;
        for (unsigned i = 0; i < t->n_dims && k + 24 < sizeof got; i++)
            k += (size_t)snprintf(got + k, sizeof got - k, "%s%llu", i ? ", " : "", (unsigned long long)t->shape[i]);
        if (d1)
            return ds__fail(DS_ERR_FORMAT, "model.safetensors: tensor '%s' has shape [%s], config.json implies [%zu, %zu]",
                            t->name, got, d0, d1);
        return ds__fail(DS_ERR_FORMAT, "model.safetensors: tensor '%s' has shape [%s], config.json implies [%zu]",
                        t->name, got, d0);
    }
    size_t n = (size_t)t->n_elems;
    if (t->dtype == DS_ST_F32 && ((uintptr_t)t->data & 3) == 0) {
        *out = (const float *)(const void *)t->data;      /* mapped, not copied */
        return DS_OK;
    }
    if (t->dtype != DS_ST_F32 && t->dtype != DS_ST_F16 && t->dtype != DS_ST_BF16)
        return ds__fail(DS_ERR_UNSUPPORTED, "model.safetensors: tensor '%s' has dtype %s (supported: F32, F16, BF16)",
                        t->name, ds__st_dtype_name(t->dtype));
    float *p = ds__alloc(enc->env, n * sizeof(float) + 1, 64);
    if (p == NULL) return DS_ERR_NOMEM;
    if (own_push(enc, p, n) != DS_OK) {
        ds__free(enc->env, p, n * sizeof(float) + 1);
        return DS_ERR_NOMEM;
    }
    const uint8_t *s = t->data;
    for (size_t i = 0; i < n; i++) {
        if (t->dtype == DS_ST_F32) p[i] = ds__load_f32le(s + 4 * i);
        else if (t->dtype == DS_ST_F16) p[i] = ds__f16_to_f32(ds__load_u16le(s + 2 * i));
        else p[i] = ds__bf16_to_f32(ds__load_u16le(s + 2 * i));
    }
    *out = p;
    return DS_OK;
}

static ds_status bind_all(ds_encoder *enc) {
    const ds__model_config *c = &enc->cfg;
    ds__weights *w = &enc->w;
    size_t H = c->hidden, F = c->ffn;
    ds_status rc;
#define B(name, d0, d1, dst) do { if ((rc = bind(enc, name, 1, d0, d1, 0, dst)) != DS_OK) return rc; } while (0)
    B("embeddings.word_embeddings.weight", c->vocab_size, H, &w->word);
    B("embeddings.position_embeddings.weight", c->max_pos, H, &w->pos);
    B("embeddings.token_type_embeddings.weight", c->type_vocab, H, &w->type);
    B("embeddings.LayerNorm.weight", H, 0, &w->emb_ln_g);
    B("embeddings.LayerNorm.bias", H, 0, &w->emb_ln_b);
    w->layers = ds__calloc(enc->env, c->n_layers, sizeof *w->layers);
    if (w->layers == NULL) return DS_ERR_NOMEM;
    for (size_t l = 0; l < c->n_layers; l++) {
        ds__layer_w *L = &w->layers[l];
        char nm[160];
#define BL(suffix, d0, d1, dst) do { snprintf(nm, sizeof nm, "encoder.layer.%zu.%s", l, suffix); B(nm, d0, d1, dst); } while (0)
        BL("attention.self.query.weight", H, H, &L->q_w);
        BL("attention.self.query.bias", H, 0, &L->q_b);
        BL("attention.self.key.weight", H, H, &L->k_w);
        BL("attention.self.key.bias", H, 0, &L->k_b);
        BL("attention.self.value.weight", H, H, &L->v_w);
        BL("attention.self.value.bias", H, 0, &L->v_b);
        BL("attention.output.dense.weight", H, H, &L->ao_w);
        BL("attention.output.dense.bias", H, 0, &L->ao_b);
        BL("attention.output.LayerNorm.weight", H, 0, &L->ln1_g);
        BL("attention.output.LayerNorm.bias", H, 0, &L->ln1_b);
        BL("intermediate.dense.weight", F, H, &L->i_w);
        BL("intermediate.dense.bias", F, 0, &L->i_b);
        BL("output.dense.weight", H, F, &L->o_w);
        BL("output.dense.bias", H, 0, &L->o_b);
        BL("output.LayerNorm.weight", H, 0, &L->ln2_g);
        BL("output.LayerNorm.bias", H, 0, &L->ln2_b);
#undef BL
    }
    if (c->kind == DS_ENCODER_CROSS) {
        B("pooler.dense.weight", H, H, &w->pool_w);
        B("pooler.dense.bias", H, 0, &w->pool_b);
        if ((rc = bind(enc, "classifier.weight", 0, c->num_labels, H, 0, &w->cls_w)) != DS_OK) return rc;
        if ((rc = bind(enc, "classifier.bias", 0, c->num_labels, 0, 0, &w->cls_b)) != DS_OK) return rc;
    } else if (c->kind == DS_ENCODER_SPLADE) {
        if ((rc = bind(enc, "cls.predictions.transform.dense.weight", 0, H, H, 0, &w->tr_w)) ||
            (rc = bind(enc, "cls.predictions.transform.dense.bias", 0, H, 0, 0, &w->tr_b)) ||
            (rc = bind(enc, "cls.predictions.transform.LayerNorm.weight", 0, H, 0, 0, &w->tr_ln_g)) ||
            (rc = bind(enc, "cls.predictions.transform.LayerNorm.bias", 0, H, 0, 0, &w->tr_ln_b)) ||
            (rc = bind(enc, "cls.predictions.bias", 0, c->vocab_size, 0, 0, &w->dec_b)))
            return rc;
        /* An untied decoder would change the result; refuse it unless it is
        ** the same bytes as the word embeddings (tied and saved anyway). */
        const ds__st_tensor *dec = ds__st_find(&enc->st, "cls.predictions.decoder.weight");
        const ds__st_tensor *we = ds__st_find(&enc->st, "bert.embeddings.word_embeddings.weight");
        if (we == NULL) we = ds__st_find(&enc->st, "embeddings.word_embeddings.weight");
        if (dec != NULL && (we == NULL || dec->n_bytes != we->n_bytes || dec->dtype != we->dtype ||
                            memcmp(dec->data, we->data, dec->n_bytes) != 0))
            return ds__fail(DS_ERR_UNSUPPORTED, "model.safetensors: cls.predictions.decoder.weight differs from the "
                            "word embeddings (only tied decoders are supported)");
    }
#undef B
    return DS_OK;
}

/* The packed copy is the only one the forward pass reads, so the mapped
** pages of the original are handed back to the kernel (they are clean file
** pages: touching them again would simply re-read the file). Keeps the
** resident size at one copy of the weights. */
static void release_mapped(ds_encoder *enc, const void *p, size_t bytes) {
    const char *map = enc->st.map, *a = p;
    if (map == NULL || a < map || a + bytes > map + enc->st.map_len) return;
    uintptr_t pg = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t lo = ((uintptr_t)a + pg - 1) & ~(pg - 1), hi = ((uintptr_t)a + bytes) & ~(pg - 1);
    if (hi > lo) (void)madvise((void *)lo, hi - lo, MADV_DONTNEED);
}

/* Packs one linear layer (gemm.h) into an owned block. */
static ds_status pack_weight(ds_encoder *enc, const float *W, const float *b, size_t n, size_t K, ds__pack *p) {
    int mode = enc->int8 ? DS_PACK_INT8 : enc->bf16 ? DS_PACK_BF16 : DS_PACK_F32;
    size_t bytes = ds__pack_bytes(n, K, mode), floats = bytes / sizeof(float);
    float *blk = ds__alloc(enc->env, floats * sizeof(float) + 1, 64);
    if (blk == NULL) return DS_ERR_NOMEM;
    if (own_push(enc, blk, floats) != DS_OK) {
        ds__free(enc->env, blk, floats * sizeof(float) + 1);
        return DS_ERR_NOMEM;
    }
    ds__pack_init(p, blk, W, b, n, K, mode);
    release_mapped(enc, W, n * K * sizeof *W);
    return DS_OK;
}

static ds_status pack_all(ds_encoder *enc) {
    size_t H = enc->cfg.hidden, F = enc->cfg.ffn;
    ds_status rc = DS_OK;
    for (size_t l = 0; l < enc->cfg.n_layers && rc == DS_OK; l++) {
        ds__layer_w *L = &enc->w.layers[l];
        if ((rc = pack_weight(enc, L->q_w, L->q_b, H, H, &L->pq)) ||
            (rc = pack_weight(enc, L->k_w, L->k_b, H, H, &L->pk)) ||
            (rc = pack_weight(enc, L->v_w, L->v_b, H, H, &L->pv)) ||
            (rc = pack_weight(enc, L->ao_w, L->ao_b, H, H, &L->pao)) ||
            (rc = pack_weight(enc, L->i_w, L->i_b, F, H, &L->pi)) ||
            (rc = pack_weight(enc, L->o_w, L->o_b, H, F, &L->po)))
            break;
    }
    return rc;
}

static ds_status read_json(ds_env *env, const char *dir, const char *rel, char **txt, size_t *len) {
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, rel) >= sizeof path)
        return ds__fail(DS_ERR_INVALID, "model path too long");
    return ds__read_small_file(env, path, 16u << 20, txt, len);
}

static ds_status load_configs(ds_encoder *enc, const char *dir) {
    ds_env *env = enc->env;
    char *txt = NULL;
    size_t len = 0;
    ds_status rc = read_json(env, dir, "config.json", &txt, &len);
    if (rc != DS_OK) return rc;
    rc = ds__config_parse(txt, len, &enc->cfg);
    ds__free(env, txt, len + 1);
    if (rc != DS_OK) return ds__fail_prefix(rc, "%s: ", dir);

    char pool_dir[512] = "";
    rc = read_json(env, dir, "modules.json", &txt, &len);
    if (rc == DS_OK) {
        rc = ds__modules_parse(txt, len, &enc->cfg, pool_dir, sizeof pool_dir);
        ds__free(env, txt, len + 1);
        if (rc != DS_OK) return ds__fail_prefix(rc, "%s: ", dir);
    } else if (rc != DS_ERR_NOTFOUND) return rc;
    if (pool_dir[0] == '\0') snprintf(pool_dir, sizeof pool_dir, "1_Pooling");
    char rel[600];
    snprintf(rel, sizeof rel, "%s/config.json", pool_dir);
    rc = read_json(env, dir, rel, &txt, &len);
    if (rc == DS_OK) {
        rc = ds__pooling_parse(txt, len, &enc->cfg);
        ds__free(env, txt, len + 1);
        if (rc != DS_OK) return ds__fail_prefix(rc, "%s: ", dir);
    } else if (rc != DS_ERR_NOTFOUND) return rc;
    rc = read_json(env, dir, "sentence_bert_config.json", &txt, &len);
    if (rc == DS_OK) {
        rc = ds__st_config_parse(txt, len, &enc->cfg);
        ds__free(env, txt, len + 1);
        if (rc != DS_OK) return ds__fail_prefix(rc, "%s: ", dir);
    } else if (rc != DS_ERR_NOTFOUND) return rc;
    ds__clear_error();
    return DS_OK;
}

/* A densearch-trained model directory is recognised by its own config file
** (docs/format.md §4); a Hugging Face directory never has one. */
static int is_student_dir(const char *dir) {
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, DS__STUDENT_CONFIG) >= sizeof path) return 0;
    return access(path, F_OK) == 0;
}

static ds_status open_student(ds_encoder *enc, const char *dir) {
    ds_status rc = ds__student_open(enc->env, dir, &enc->student);
    if (rc != DS_OK) return rc;
    const ds__student_cfg *c = ds__student_config(enc->student);
    enc->cfg.kind = DS_ENCODER_EMBED;
    enc->cfg.hidden = c->dim;
    snprintf(enc->cfg.arch, sizeof enc->cfg.arch, "densearch-%s", ds__student_kind_name(c->kind));
    enc->normalize = 1;
    enc->max_seq = DS__STUDENT_MAX_TOKENS;
    return DS_OK;
}

ds_status ds_encoder_open(ds_env *env, const char *model_dir, const ds_encoder_opts *opts, ds_encoder **out) {
    if (out == NULL) return ds__fail(DS_ERR_INVALID, "null out");
    *out = NULL;
    if (model_dir == NULL) return ds__fail(DS_ERR_INVALID, "null model_dir");
    env = DS_ENV(env);
    ds_encoder *enc = ds__calloc(env, 1, sizeof *enc);
    if (enc == NULL) return DS_ERR_NOMEM;
    enc->env = env;
    ds_status rc;
    if (is_student_dir(model_dir)) {
        rc = open_student(enc, model_dir);
        if (rc == DS_OK) { *out = enc; enc = NULL; }
        goto done;
    }
    rc = load_configs(enc, model_dir);
    if (rc != DS_OK) goto done;
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/model.safetensors", model_dir) >= sizeof path) {
        rc = ds__fail(DS_ERR_INVALID, "model path too long");
        goto done;
    }
    if ((rc = ds__st_open(env, path, &enc->st)) != DS_OK) {
        if (rc == DS_ERR_NOTFOUND) rc = ds__fail(DS_ERR_IO, "%s is missing (only safetensors checkpoints are read)", path);
        goto done;
    }
    if ((rc = bind_all(enc)) != DS_OK) goto done;

    ds_pooling pool = DS_OPT(opts, pooling, DS_POOLING_AUTO);
    if ((unsigned)pool > DS_POOLING_MEAN_SQRT_LEN) { rc = ds__fail(DS_ERR_INVALID, "unknown pooling %d", (int)pool); goto done; }
    if (pool == DS_POOLING_AUTO) pool = enc->cfg.pooling;
    enc->pooling = pool == DS_POOLING_AUTO ? DS_POOLING_MEAN : pool;
    int norm = DS_OPT(opts, normalize, -1);
    enc->normalize = norm < 0 ? enc->cfg.normalize : norm != 0;
    size_t ms = DS_OPT(opts, max_seq_length, (size_t)0);
    if (ms == 0) ms = enc->cfg.st_max_seq ? enc->cfg.st_max_seq : 512;
    if (ms > enc->cfg.max_pos) ms = enc->cfg.max_pos;
    if (ms < 2) { rc = ds__fail(DS_ERR_INVALID, "max_seq_length %zu: at least 2 ([CLS] and [SEP])", ms); goto done; }
    enc->max_seq = ms;
    enc->batch_size = DS_OPT(opts, batch_size, (size_t)32);
    if (enc->batch_size == 0) enc->batch_size = 32;
    enc->int8 = DS_OPT(opts, int8, 0) != 0;
    enc->bf16 = DS_OPT(opts, bf16, 0) != 0;
    if (enc->int8 && enc->bf16) {
        rc = ds__fail(DS_ERR_INVALID, "ds_encoder_opts: int8 and bf16 are exclusive (pick one precision)");
        goto done;
    }
    if ((rc = pack_all(enc)) != DS_OK) goto done;
    if ((enc->ws = ds__calloc(env, 1, sizeof *enc->ws)) == NULL) { rc = DS_ERR_NOMEM; goto done; }
    enc->progress = DS_OPT(opts, progress, (ds_progress_fn)NULL);
    enc->progress_ud = DS_OPT(opts, progress_ud, (void *)NULL);
    if (DS_OPT(opts, load_tokenizer, 1)) {
        if ((rc = ds_tokenizer_open(env, model_dir, &enc->tok)) != DS_OK) {
            rc = ds__fail_prefix(rc, "%s: tokenizer: ", model_dir);
            goto done;
        }
    }
    *out = enc;
    enc = NULL;
done:
    ds_encoder_close(enc);
    return rc;
}

void ds_encoder_close(ds_encoder *enc) {
    if (enc == NULL) return;
    ds_env *env = enc->env;
    ds__student_close(enc->student);
    ds_tokenizer_close(enc->tok);
    if (enc->ws != NULL) {
        ds__fwd_ws_release(env, enc->ws);
        ds__free(env, enc->ws, sizeof *enc->ws);
    }
    for (size_t i = 0; i < enc->n_owned; i++) ds__free(env, enc->owned[i], enc->owned_len[i] * sizeof(float) + 1);
    ds__free(env, enc->owned, enc->cap_owned * sizeof *enc->owned);
    ds__free(env, enc->owned_len, enc->cap_owned * sizeof *enc->owned_len);
    ds__free(env, enc->w.layers, enc->cfg.n_layers * sizeof *enc->w.layers);
    ds__st_release(&enc->st);
    ds__free(env, enc, sizeof *enc);
}

ds_encoder_kind ds_encoder_kind_of(const ds_encoder *enc) { return enc->cfg.kind; }
size_t ds_encoder_dim(const ds_encoder *enc) {
    return enc->cfg.kind == DS_ENCODER_SPLADE ? enc->cfg.vocab_size : enc->cfg.hidden;
}
size_t ds_encoder_hidden_size(const ds_encoder *enc) { return enc->cfg.hidden; }
size_t ds_encoder_max_seq_length(const ds_encoder *enc) { return enc->max_seq; }
const ds_tokenizer *ds_encoder_tokenizer(const ds_encoder *enc) {
    return enc->student ? ds__student_tokenizer(enc->student) : enc->tok;
}

/* ------------------------------------------------------------------------ */
/* Batching                                                                  */
/* ------------------------------------------------------------------------ */
typedef struct seq_ref {
    const int32_t *ids, *types;
    size_t         len;        /* after truncation */
    size_t         idx;        /* position in the caller's arrays */
    int32_t        tail[2];    /* truncated sequences: last id, last type */
} seq_ref;

static int cmp_len_desc(const void *a, const void *b) {
    const seq_ref *x = a, *y = b;
    if (x->len != y->len) return x->len > y->len ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static ds_status check_seq(const ds_encoder *enc, size_t i, const int32_t *ids, const int32_t *types, size_t len) {
    if (ids == NULL || len == 0) return ds__fail(DS_ERR_INVALID, "sequence %zu is empty", i);
    for (size_t j = 0; j < len; j++) {
        if (ids[j] < 0 || (size_t)ids[j] >= enc->cfg.vocab_size)
            return ds__fail(DS_ERR_INVALID, "sequence %zu: token %zu has id %d outside the vocabulary (%zu)", i, j,
                            (int)ids[j], enc->cfg.vocab_size);
        if (types != NULL && (types[j] < 0 || (size_t)types[j] >= enc->cfg.type_vocab))
            return ds__fail(DS_ERR_INVALID, "sequence %zu: token %zu has type id %d (type_vocab_size %zu)", i, j,
                            (int)types[j], enc->cfg.type_vocab);
    }
    return DS_OK;
}

/* Runs sequences through head in length-sorted batches. Outputs per input
** index: pool -> out + idx*H floats; cross -> out + idx; splade -> handled
** by the callback. */
typedef ds_status (*batch_sink)(void *ud, const seq_ref *seqs, size_t n, const float *res);

static ds_status run_batched(const ds_encoder *enc, ds__head head, const int32_t *const *ids,
                             const int32_t *const *types, const size_t *lens, size_t n, size_t row,
                             batch_sink sink, void *ud) {
    ds_env *env = enc->env;
    if (n == 0) return DS_OK;
    if (ids == NULL || lens == NULL) return ds__fail(DS_ERR_INVALID, "null ids or lens");
    ds_status rc = DS_OK;
    seq_ref *seqs = ds__calloc(env, n, sizeof *seqs);
    const int32_t **bids = NULL, **btypes = NULL;
    size_t *blens = NULL;
    float *res = NULL;
    int32_t *scratch = NULL;
    size_t bs = DS_MIN(enc->batch_size, n), res_n = 0, scratch_n = 0;
    if (seqs == NULL) return DS_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        const int32_t *t = types ? types[i] : NULL;
        if ((rc = check_seq(enc, i, ids[i], t, lens[i])) != DS_OK) goto done;
        seqs[i].ids = ids[i];
        seqs[i].types = t;
        seqs[i].len = DS_MIN(lens[i], enc->max_seq);
        seqs[i].idx = i;
    }
    qsort(seqs, n, sizeof *seqs, cmp_len_desc);
    bids = ds__calloc(env, bs, sizeof *bids);
    btypes = ds__calloc(env, bs, sizeof *btypes);
    blens = ds__calloc(env, bs, sizeof *blens);
    /* Truncated sequences need their own copy (first max-1 ids + last id). */
    if (!ds__mul_ok(2 * bs, enc->max_seq, &scratch_n)) { rc = DS_ERR_RANGE; goto done; }
    scratch = ds__calloc(env, scratch_n, sizeof *scratch);
    if (!ds__mul_ok(bs, row, &res_n)) { rc = DS_ERR_RANGE; goto done; }
    res = ds__calloc(env, res_n, sizeof *res);
    if (bids == NULL || btypes == NULL || blens == NULL || scratch == NULL || res == NULL) { rc = DS_ERR_NOMEM; goto done; }
    for (size_t b = 0; b < n; b += bs) {
        size_t m = DS_MIN(bs, n - b);
        for (size_t j = 0; j < m; j++) {
            const seq_ref *s = &seqs[b + j];
            size_t full = lens[s->idx];
            blens[j] = s->len;
            bids[j] = s->ids;
            btypes[j] = s->types;
            if (full > s->len) {
                int32_t *ci = scratch + 2 * j * enc->max_seq, *ct = ci + enc->max_seq;
                memcpy(ci, s->ids, (s->len - 1) * sizeof *ci);
                ci[s->len - 1] = s->ids[full - 1];
                bids[j] = ci;
                if (s->types) {
                    memcpy(ct, s->types, (s->len - 1) * sizeof *ct);
                    ct[s->len - 1] = s->types[full - 1];
                    btypes[j] = ct;
                }
            }
        }
        if ((rc = ds__forward(enc, head, bids, types ? btypes : NULL, blens, m, res)) != DS_OK) goto done;
        if ((rc = sink(ud, seqs + b, m, res)) != DS_OK) goto done;
        if (enc->progress && enc->progress(b + m, n, enc->progress_ud)) {
            rc = ds__fail(DS_ERR_CANCELED, "canceled by the progress callback");
            goto done;
        }
    }
done:
    ds__free(env, res, res_n * sizeof *res);
    ds__free(env, scratch, scratch_n * sizeof *scratch);
    ds__free(env, blens, bs * sizeof *blens);
    ds__free(env, btypes, bs * sizeof *btypes);
    ds__free(env, bids, bs * sizeof *bids);
    ds__free(env, seqs, n * sizeof *seqs);
    return rc;
}

typedef struct dense_sink_ctx { float *out; size_t row; } dense_sink_ctx;
static ds_status dense_sink(void *ud, const seq_ref *seqs, size_t n, const float *res) {
    dense_sink_ctx *c = ud;
    for (size_t j = 0; j < n; j++) memcpy(c->out + seqs[j].idx * c->row, res + j * c->row, c->row * sizeof(float));
    return DS_OK;
}

ds_status ds_encoder_encode_ids(const ds_encoder *enc, const int32_t *const *ids, const size_t *lens, size_t n,
                                float *out) {
    if (enc == NULL || (n > 0 && out == NULL)) return ds__fail(DS_ERR_INVALID, "null argument");
    if (enc->cfg.kind != DS_ENCODER_EMBED)
        return ds__fail(DS_ERR_INVALID, "%s is not an embedding model (use rerank or sparse)", enc->cfg.arch);
    if (enc->student) return ds__student_encode_ids(enc->student, ids, lens, n, ds_env_threads(enc->env), out);
    dense_sink_ctx c = { out, enc->cfg.hidden };
    return run_batched(enc, DS_HEAD_POOL, ids, NULL, lens, n, c.row, dense_sink, &c);
}

ds_status ds_encoder_rerank_ids(const ds_encoder *enc, const int32_t *const *ids, const int32_t *const *type_ids,
                                const size_t *lens, size_t n, float *scores) {
    if (enc == NULL || (n > 0 && scores == NULL)) return ds__fail(DS_ERR_INVALID, "null argument");
    if (enc->cfg.kind != DS_ENCODER_CROSS)
        return ds__fail(DS_ERR_INVALID, "%s is not a cross-encoder (BertForSequenceClassification)", enc->cfg.arch);
    dense_sink_ctx c = { scores, 1 };
    return run_batched(enc, DS_HEAD_CROSS, ids, type_ids, lens, n, 1, dense_sink, &c);
}

typedef struct sparse_sink_ctx { ds_sparse_vec *out; size_t vocab; } sparse_sink_ctx;
static ds_status sparse_sink(void *ud, const seq_ref *seqs, size_t n, const float *res) {
    sparse_sink_ctx *c = ud;
    for (size_t j = 0; j < n; j++) {
        const float *r = res + j * c->vocab;
        size_t nnz = 0;
        for (size_t v = 0; v < c->vocab; v++) nnz += r[v] > 0.0f;
        /* one block: indices then values; ds_free-compatible (malloc) */
        void *blk = malloc(nnz ? nnz * (sizeof(int32_t) + sizeof(float)) : 1);
        if (blk == NULL) return DS_ERR_NOMEM;
        ds_sparse_vec *o = &c->out[seqs[j].idx];
        o->indices = blk;
        o->values = (float *)(void *)(o->indices + nnz);
        o->nnz = nnz;
        size_t k = 0;
        for (size_t v = 0; v < c->vocab; v++)
            if (r[v] > 0.0f) { o->indices[k] = (int32_t)v; o->values[k] = r[v]; k++; }
    }
    return DS_OK;
}

ds_status ds_encoder_sparse_ids(const ds_encoder *enc, const int32_t *const *ids, const size_t *lens, size_t n,
                                ds_sparse_vec *out) {
    if (enc == NULL || (n > 0 && out == NULL)) return ds__fail(DS_ERR_INVALID, "null argument");
    memset(out, 0, n * sizeof *out);
    if (enc->cfg.kind != DS_ENCODER_SPLADE)
        return ds__fail(DS_ERR_INVALID, "%s is not a SPLADE model (BertForMaskedLM)", enc->cfg.arch);
    sparse_sink_ctx c = { out, enc->cfg.vocab_size };
    ds_status rc = run_batched(enc, DS_HEAD_SPLADE, ids, NULL, lens, n, c.vocab, sparse_sink, &c);
    if (rc != DS_OK) {
        ds_sparse_vec_free(out, n);
        memset(out, 0, n * sizeof *out);
    }
    return rc;
}

void ds_sparse_vec_free(ds_sparse_vec *v, size_t n) {
    if (v == NULL) return;
    for (size_t i = 0; i < n; i++) {
        free(v[i].indices);
        v[i].indices = NULL;
        v[i].values = NULL;
        v[i].nnz = 0;
    }
}

ds_status ds_encoder_token_states(const ds_encoder *enc, const int32_t *ids, size_t len, float *out,
                                  size_t *n_tokens) {
    if (n_tokens) *n_tokens = 0;
    if (enc == NULL || out == NULL) return ds__fail(DS_ERR_INVALID, "null argument");
    if (enc->student) return ds__fail(DS_ERR_UNSUPPORTED, "%s has no token states", enc->cfg.arch);
    ds_status rc = check_seq(enc, 0, ids, NULL, len);
    if (rc != DS_OK) return rc;
    size_t m = DS_MIN(len, enc->max_seq);
    int32_t *tmp = NULL;
    const int32_t *use = ids;
    if (m < len) {
        if ((tmp = ds__alloc(enc->env, m * sizeof *tmp, 64)) == NULL) return DS_ERR_NOMEM;
        memcpy(tmp, ids, (m - 1) * sizeof *tmp);
        tmp[m - 1] = ids[len - 1];
        use = tmp;
    }
    rc = ds__forward(enc, DS_HEAD_STATES, &use, NULL, &m, 1, out);
    if (tmp) ds__free(enc->env, tmp, m * sizeof *tmp);
    if (rc == DS_OK && n_tokens) *n_tokens = m;
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Text entry points: tokenize, then the *_ids path                          */
/* ------------------------------------------------------------------------ */
typedef struct tok_batch {
    int32_t **ids, **types;
    size_t   *lens;        /* real lengths */
    size_t    cap;         /* ids per allocation */
    size_t    n;
} tok_batch;

static void tok_batch_free(ds_env *env, tok_batch *b) {
    for (size_t i = 0; i < b->n; i++) {
        if (b->ids) ds__free(env, b->ids[i], b->cap * sizeof(int32_t));
        if (b->types) ds__free(env, b->types[i], b->cap * sizeof(int32_t));
    }
    ds__free(env, b->ids, b->n * sizeof *b->ids);
    ds__free(env, b->types, b->n * sizeof *b->types);
    ds__free(env, b->lens, b->n * sizeof *b->lens);
    memset(b, 0, sizeof *b);
}

/* Tokenizes texts a (with b: pairs) to at most max_seq ids each. */
static ds_status tokenize_all(const ds_encoder *enc, const char *const *a, const size_t *alens,
                              const char *const *b, size_t n, tok_batch *tb) {
    ds_env *env = enc->env;
    memset(tb, 0, sizeof *tb);
    if (enc->tok == NULL)
        return ds__fail(DS_ERR_INVALID, "encoder opened without its tokenizer (load_tokenizer = 0): use the *_ids calls");
    if (a == NULL) return ds__fail(DS_ERR_INVALID, "null texts");
    tb->cap = enc->max_seq;
    tb->ids = ds__calloc(env, n, sizeof *tb->ids);
    tb->lens = ds__calloc(env, n, sizeof *tb->lens);
    if (b) tb->types = ds__calloc(env, n, sizeof *tb->types);
    tb->n = n;
    if (tb->ids == NULL || tb->lens == NULL || (b && tb->types == NULL)) {
        tok_batch_free(env, tb);
        return DS_ERR_NOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        if (a[i] == NULL || (b && b[i] == NULL)) {
            tok_batch_free(env, tb);
            return ds__fail(DS_ERR_INVALID, "text %zu is NULL", i);
        }
        tb->ids[i] = ds__alloc(env, tb->cap * sizeof(int32_t), 64);
        if (b) tb->types[i] = ds__alloc(env, tb->cap * sizeof(int32_t), 64);
        if (tb->ids[i] == NULL || (b && tb->types[i] == NULL)) { tok_batch_free(env, tb); return DS_ERR_NOMEM; }
        size_t got = 0;
        ds_status rc;
        if (b)
            rc = ds_tokenizer_encode_pair(enc->tok, a[i], strlen(a[i]), b[i], strlen(b[i]), enc->max_seq,
                                          tb->ids[i], tb->types[i], tb->cap, &got);
        else
            rc = ds_tokenizer_encode(enc->tok, a[i], alens ? alens[i] : strlen(a[i]), enc->max_seq, tb->ids[i],
                                     tb->cap, &got);
        if (rc != DS_OK) {
            tok_batch_free(env, tb);
            return ds__fail_prefix(rc, "text %zu: ", i);
        }
        if (got == 0 || got > tb->cap) {
            tok_batch_free(env, tb);
            return ds__fail(DS_ERR_INTERNAL, "text %zu: tokenizer returned %zu ids", i, got);
        }
        tb->lens[i] = got;
    }
    return DS_OK;
}

ds_status ds_encoder_encode(const ds_encoder *enc, const char *const *texts, const size_t *lens, size_t n,
                            float *out) {
    if (enc == NULL) return ds__fail(DS_ERR_INVALID, "null encoder");
    if (enc->student) return ds__student_encode(enc->student, texts, lens, n, ds_env_threads(enc->env), out);
    tok_batch tb;
    ds_status rc = tokenize_all(enc, texts, lens, NULL, n, &tb);
    if (rc != DS_OK) return rc;
    rc = ds_encoder_encode_ids(enc, (const int32_t *const *)tb.ids, tb.lens, n, out);
    tok_batch_free(enc->env, &tb);
    return rc;
}

ds_status ds_encoder_rerank(const ds_encoder *enc, const char *const *queries, const char *const *passages,
                            size_t n, float *scores) {
    if (enc == NULL || passages == NULL) return ds__fail(DS_ERR_INVALID, "null argument");
    tok_batch tb;
    ds_status rc = tokenize_all(enc, queries, NULL, passages, n, &tb);
    if (rc != DS_OK) return rc;
    rc = ds_encoder_rerank_ids(enc, (const int32_t *const *)tb.ids, (const int32_t *const *)tb.types, tb.lens, n,
                               scores);
    tok_batch_free(enc->env, &tb);
    return rc;
}

ds_status ds_encoder_sparse(const ds_encoder *enc, const char *const *texts, const size_t *lens, size_t n,
                            ds_sparse_vec *out) {
    if (enc == NULL || (n > 0 && out == NULL)) return ds__fail(DS_ERR_INVALID, "null argument");
    memset(out, 0, n * sizeof *out);
    tok_batch tb;
    ds_status rc = tokenize_all(enc, texts, lens, NULL, n, &tb);
    if (rc != DS_OK) return rc;
    rc = ds_encoder_sparse_ids(enc, (const int32_t *const *)tb.ids, tb.lens, n, out);
    tok_batch_free(enc->env, &tb);
    return rc;
}
