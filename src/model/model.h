/* model.h -- internals of the transformer encoder module (src/model/).
**
** Pieces, bottom up:
**   safetensors.c  parse + validate a safetensors file (header JSON, dtypes,
**                  offsets) over a memory map; never trusts a field.
**   config.c       config.json / modules.json / 1_Pooling / sentence_bert_config
**                  into ds__model_config, validated.
**   encoder.c      binds tensors to the BERT layout (shape-checked), owns the
**                  weights, implements the public ds_encoder_* API.
**   forward.c      float32 inference: padding-free batches (sequences are
**                  concatenated, attention runs per sequence), threads, heads.
**
** Threading: everything here is read-only after ds_encoder_open, so any number
** of threads may encode with one encoder.
*/
#ifndef DS_MODEL_H
#define DS_MODEL_H

#include "ds_internal.h"
#include "model/gemm.h"
#include "simd/simd.h"   /* ds__f16_to_f32 */

#include <stdatomic.h>

/* ------------------------------------------------------------------------ */
/* safetensors                                                               */
/* ------------------------------------------------------------------------ */
typedef enum ds__st_dtype {
    DS_ST_F32 = 0, DS_ST_F16, DS_ST_BF16, DS_ST_F64, DS_ST_I64, DS_ST_I32, DS_ST_I16,
    DS_ST_I8, DS_ST_U8, DS_ST_BOOL, DS_ST_U16, DS_ST_U32, DS_ST_U64, DS_ST_F8_E4M3,
    DS_ST_F8_E5M2, DS_ST_N_DTYPES
} ds__st_dtype;

#define DS_ST_MAX_DIMS 8

typedef struct ds__st_tensor {
    char          *name;
    ds__st_dtype   dtype;
    unsigned       n_dims;
    uint64_t       shape[DS_ST_MAX_DIMS];
    uint64_t       n_elems;
    const uint8_t *data;          /* inside the mapped file                 */
    size_t         n_bytes;
} ds__st_tensor;

typedef struct ds__safetensors {
    ds_env        *env;
    void          *map;           /* NULL when parsed from caller memory    */
    size_t         map_len;
    ds__st_tensor *tensors;       /* sorted by name (bsearch)               */
    size_t         n_tensors;
} ds__safetensors;

const char *ds__st_dtype_name(ds__st_dtype t);
/* Parses a safetensors image (borrowed: must outlive st). what names the
** source in error messages. */
ds_status ds__st_parse(ds_env *env, const uint8_t *data, size_t size, const char *what,
                       ds__safetensors *st);
/* Maps path read-only and parses it. */
ds_status ds__st_open(ds_env *env, const char *path, ds__safetensors *st);
void      ds__st_release(ds__safetensors *st);
const ds__st_tensor *ds__st_find(const ds__safetensors *st, const char *name);

/* ------------------------------------------------------------------------ */
/* config                                                                    */
/* ------------------------------------------------------------------------ */
typedef enum ds__act { DS_ACT_GELU = 0, DS_ACT_GELU_TANH, DS_ACT_RELU } ds__act;

typedef struct ds__model_config {
    ds_encoder_kind kind;
    char     arch[64];
    size_t   vocab_size, hidden, n_layers, n_heads, ffn, max_pos, type_vocab;
    size_t   num_labels;
    float    ln_eps;
    ds__act  act;
    /* sentence-transformers parts (defaults when absent) */
    ds_pooling pooling;           /* AUTO if no 1_Pooling config            */
    int      normalize;           /* 2_Normalize listed in modules.json     */
    size_t   st_max_seq;          /* 0 if no sentence_bert_config.json      */
} ds__model_config;

/* config.json text -> cfg (fields not in config.json get defaults). */
ds_status ds__config_parse(const char *json, size_t len, ds__model_config *cfg);
/* modules.json text: records whether 2_Normalize is listed, writes the
** pooling module's folder (relative) into pool_dir (empty if none). */
ds_status ds__modules_parse(const char *json, size_t len, ds__model_config *cfg,
                            char *pool_dir, size_t pool_dir_cap);
ds_status ds__pooling_parse(const char *json, size_t len, ds__model_config *cfg);
ds_status ds__st_config_parse(const char *json, size_t len, ds__model_config *cfg);

/* Reads a whole small file (<= max bytes) into a NUL-terminated buffer
** (ds__free(env, p, *len + 1)). DS_ERR_NOTFOUND if it does not exist. */
ds_status ds__read_small_file(ds_env *env, const char *path, size_t max, char **out, size_t *len);

/* ------------------------------------------------------------------------ */
/* weights and forward pass                                                  */
/* ------------------------------------------------------------------------ */
typedef struct ds__layer_w {
    const float *q_w, *q_b, *k_w, *k_b, *v_w, *v_b;   /* [H,H], [H]        */
    const float *ao_w, *ao_b, *ln1_g, *ln1_b;         /* attention output   */
    const float *i_w, *i_b;                           /* [F,H], [F]         */
    const float *o_w, *o_b, *ln2_g, *ln2_b;           /* [H,F], [H]         */
    /* the six linears packed at load (gemm.h): f32, or int8 / bf16 when
    ** ds_encoder_opts.int8 / bf16 is set */
    ds__pack pq, pk, pv, pao, pi, po;
} ds__layer_w;

typedef struct ds__weights {
    const float *word, *pos, *type, *emb_ln_g, *emb_ln_b;
    ds__layer_w *layers;
    /* cross-encoder */
    const float *pool_w, *pool_b, *cls_w, *cls_b;
    /* SPLADE (MLM head); decoder is tied: word */
    const float *tr_w, *tr_b, *tr_ln_g, *tr_ln_b, *dec_b;
} ds__weights;

/* Activation memory kept between forward passes (forward.c). A pass over a
** batch touches tens of MB, and on fresh pages every pass page-faults all
** of it; keeping it cut the page faults and system time several-fold (perf
** stat figures and command: docs/benchmarks.md, "Transformer encoder").
** One pass at a time owns it (busy); a concurrent pass allocates its own. */
typedef struct ds__fwd_ws {
    atomic_int busy;
    void      *act;       /* float activations */
    size_t     act_bytes;
    void      *q;         /* int8: quantized rows, scales, zero points */
    size_t     q_bytes;
} ds__fwd_ws;

/* Frees a workspace's buffers (not the struct). */
void ds__fwd_ws_release(ds_env *env, ds__fwd_ws *ws);

struct ds_encoder {
    ds_env           *env;
    ds__fwd_ws       *ws;              /* see ds__fwd_ws; NULL only while opening */
    ds__model_config  cfg;
    ds__safetensors   st;
    ds__weights       w;
    /* F16/BF16 tensors converted once, and F32 tensors that were misaligned */
    float           **owned;
    size_t           *owned_len;       /* floats */
    size_t            n_owned, cap_owned;
    ds_tokenizer     *tok;
    ds_pooling        pooling;
    int               normalize;
    int               int8;
    int               bf16;            /* ds_encoder_opts.bf16: linears packed as bf16 */
    size_t            max_seq;
    size_t            batch_size;
    ds_progress_fn    progress;
    void             *progress_ud;
    /* a densearch-trained model (student.h); NULL for transformers. The
    ** transformer fields above are then unused except cfg.kind/hidden/arch. */
    struct ds__student *student;
};

/* What the forward pass should produce for each sequence of a batch. */
typedef enum ds__head {
    DS_HEAD_STATES = 0,   /* copy last hidden states of every token          */
    DS_HEAD_POOL,         /* pooled (+normalised) embedding                   */
    DS_HEAD_CROSS,        /* one score                                        */
    DS_HEAD_SPLADE        /* dense vocab-size max-pooled log1p(relu(logits))  */
} ds__head;

/* Runs n sequences (already truncated, each 1..max_pos ids, ids validated)
** through the encoder as one padding-free batch. out rows: states ->
** sum(lens) x H; pool -> n x H; cross -> n; splade -> n x vocab. */
ds_status ds__forward(const ds_encoder *enc, ds__head head, const int32_t *const *ids,
                      const int32_t *const *type_ids, const size_t *lens, size_t n, float *out);

/* Scalar math shared by the forward pass and the tests. */
float ds__bf16_to_f32(uint16_t h);

#endif /* DS_MODEL_H */
