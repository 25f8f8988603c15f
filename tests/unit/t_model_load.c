/* t_model_load.c -- loading hostile or unusual model directories: a tiny
** synthetic BERT written here (config.json + model.safetensors), then broken
** one field at a time; each break must fail with the right status and a
** message naming the problem. Also: prefixed names, F16/BF16 storage,
** sentence-transformers files, and the OOM sweep of ds_encoder_open.
*/
#include "test.h"
#include "model/model.h"

#include <sys/stat.h>

#define TV 30
#define TH 8
#define TF 16
#define TP 16

static const char *tiny_config(const char *arch, const char *act) {
    static char buf[1024];
    snprintf(buf, sizeof buf,
             "{\"architectures\": [\"%s\"], \"model_type\": \"bert\", \"hidden_act\": \"%s\", "
             "\"hidden_size\": %d, \"intermediate_size\": %d, \"num_attention_heads\": 2, "
             "\"num_hidden_layers\": 1, \"max_position_embeddings\": %d, \"type_vocab_size\": 2, "
             "\"vocab_size\": %d, \"layer_norm_eps\": 1e-12}", arch, act, TH, TF, TP, TV);
    return buf;
}

typedef struct tspec { char name[200]; size_t d0, d1; } tspec;

static size_t tiny_tensors(tspec *t, const char *prefix, const char *arch) {
    size_t n = 0;
#define T(nm, a, b) do { snprintf(t[n].name, sizeof t[n].name, "%s%s", prefix, nm); t[n].d0 = a; t[n].d1 = b; n++; } while (0)
    T("embeddings.word_embeddings.weight", TV, TH);
    T("embeddings.position_embeddings.weight", TP, TH);
    T("embeddings.token_type_embeddings.weight", 2, TH);
    T("embeddings.LayerNorm.weight", TH, 0);
    T("embeddings.LayerNorm.bias", TH, 0);
    static const char *lin[] = { "attention.self.query", "attention.self.key", "attention.self.value",
                                 "attention.output.dense" };
    char nm[128];
    for (int i = 0; i < 4; i++) {
        snprintf(nm, sizeof nm, "encoder.layer.0.%s.weight", lin[i]); T(nm, TH, TH);
        snprintf(nm, sizeof nm, "encoder.layer.0.%s.bias", lin[i]); T(nm, TH, 0);
    }
    T("encoder.layer.0.attention.output.LayerNorm.weight", TH, 0);
    T("encoder.layer.0.attention.output.LayerNorm.bias", TH, 0);
    T("encoder.layer.0.intermediate.dense.weight", TF, TH);
    T("encoder.layer.0.intermediate.dense.bias", TF, 0);
    T("encoder.layer.0.output.dense.weight", TH, TF);
    T("encoder.layer.0.output.dense.bias", TH, 0);
    T("encoder.layer.0.output.LayerNorm.weight", TH, 0);
    T("encoder.layer.0.output.LayerNorm.bias", TH, 0);
#undef T
    if (strcmp(arch, "BertForSequenceClassification") == 0) {
        snprintf(t[n].name, sizeof t[n].name, "%spooler.dense.weight", prefix); t[n].d0 = TH; t[n].d1 = TH; n++;
        snprintf(t[n].name, sizeof t[n].name, "%spooler.dense.bias", prefix); t[n].d0 = TH; t[n].d1 = 0; n++;
        snprintf(t[n].name, sizeof t[n].name, "classifier.weight"); t[n].d0 = 1; t[n].d1 = TH; n++;
        snprintf(t[n].name, sizeof t[n].name, "classifier.bias"); t[n].d0 = 1; t[n].d1 = 0; n++;
    }
    return n;
}

/* Writes a safetensors image: header from the specs (dtype for all), data
** filled deterministically. Returns malloc'd bytes; hdr_edit may rewrite
** the header text (find -> repl) before the length is computed. */
static uint8_t *tiny_safetensors(const tspec *t, size_t n, const char *dtype, const char *find, const char *repl,
                                 size_t *size) {
    size_t es = strcmp(dtype, "F32") == 0 ? 4 : 2;
    char *hdr = malloc(1 << 16);
    size_t hl = 0, off = 0;
    hl += (size_t)sprintf(hdr + hl, "{\"__metadata__\": {\"format\": \"pt\"}");
    for (size_t i = 0; i < n; i++) {
        size_t cnt = t[i].d0 * (t[i].d1 ? t[i].d1 : 1);
        if (t[i].d1)
            hl += (size_t)sprintf(hdr + hl, ", \"%s\": {\"dtype\": \"%s\", \"shape\": [%zu, %zu], \"data_offsets\": [%zu, %zu]}",
                                  t[i].name, dtype, t[i].d0, t[i].d1, off, off + cnt * es);
        else
            hl += (size_t)sprintf(hdr + hl, ", \"%s\": {\"dtype\": \"%s\", \"shape\": [%zu], \"data_offsets\": [%zu, %zu]}",
                                  t[i].name, dtype, t[i].d0, off, off + cnt * es);
        off += cnt * es;
    }
    hl += (size_t)sprintf(hdr + hl, "}");
    if (find) {
        char *p = strstr(hdr, find);
        ASSERT(p != NULL);
        size_t fl = strlen(find), rl = strlen(repl);
        memmove(p + rl, p + fl, hl - (size_t)(p - hdr) - fl + 1);
        memcpy(p, repl, rl);
        hl = hl - fl + rl;
    }
    while ((8 + hl) % 8) hdr[hl++] = ' ';   /* keep the data 8-aligned, as writers do */
    *size = 8 + hl + off;
    uint8_t *b = malloc(*size);
    ds__store_u64le(b, hl);
    memcpy(b + 8, hdr, hl);
    uint64_t s = 7;
    for (size_t i = 0; i < off / es; i++) {
        s ^= s << 13; s ^= s >> 7; s ^= s << 17;
        float v = (float)((double)(s >> 11) / 9007199254740992.0 - 0.5);
        if (es == 4) ds__store_f32le(b + 8 + hl + 4 * i, v);
        else if (strcmp(dtype, "BF16") == 0) {
            uint32_t u; memcpy(&u, &v, 4); ds__store_u16le(b + 8 + hl + 2 * i, (uint16_t)(u >> 16));
        } else ds__store_u16le(b + 8 + hl + 2 * i, 0x3c00);     /* F16 1.0 */
    }
    free(hdr);
    return b;
}

static void write_file(const char *dir, const char *name, const void *p, size_t n) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    ASSERT(f != NULL);
    ASSERT(fwrite(p, 1, n, f) == n);
    fclose(f);
}

/* A fresh model dir: config for arch/act, tensors with prefix and dtype, one
** optional header edit. */
static const char *make_model(const char *name, const char *arch, const char *act, const char *prefix,
                              const char *dtype, const char *find, const char *repl) {
    static char dir[1024];
    snprintf(dir, sizeof dir, "%s/%s", ds_test_tmpdir(), name);
    mkdir(dir, 0755);
    const char *cfg = tiny_config(arch, act);
    write_file(dir, "config.json", cfg, strlen(cfg));
    tspec t[64];
    size_t n = tiny_tensors(t, prefix, arch), size;
    uint8_t *st = tiny_safetensors(t, n, dtype, find, repl, &size);
    write_file(dir, "model.safetensors", st, size);
    free(st);
    return dir;
}

static ds_status try_open(const char *dir, ds_encoder **enc) {
    ds_encoder_opts o;
    ds_encoder_opts_init(&o);
    o.load_tokenizer = 0;
    return ds_encoder_open(NULL, dir, &o, enc);
}

static void expect_fail(const char *dir, ds_status want, const char *needle) {
    ds_encoder *enc = NULL;
    ASSERT_RC(try_open(dir, &enc), want);
    ASSERT(enc == NULL);
    if (strstr(ds_errmsg(), needle) == NULL) FAIL("message '%s' lacks '%s'", ds_errmsg(), needle);
}

TEST(model_load_tiny_variants) {
    static const char *dtypes[] = { "F32", "F16", "BF16" };
    int32_t ids[5] = { 2, 7, 9, 11, 3 };
    const int32_t *ip = ids;
    size_t len = 5;
    float e[3][TH];
    for (int d = 0; d < 3; d++) {
        char nm[32];
        snprintf(nm, sizeof nm, "ok_%s", dtypes[d]);
        const char *dir = make_model(nm, "BertModel", "gelu", d == 1 ? "bert." : "", dtypes[d], NULL, NULL);
        ds_encoder *enc = NULL;
        ASSERT_OK(try_open(dir, &enc));
        ASSERT_EQ_U64(ds_encoder_dim(enc), TH);
        ASSERT_EQ_U64(ds_encoder_max_seq_length(enc), TP);
        ASSERT_OK(ds_encoder_encode_ids(enc, &ip, &len, 1, e[d]));
        for (int j = 0; j < TH; j++) ASSERT(isfinite(e[d][j]));
        ds_encoder_close(enc);
    }
    /* cross-encoder and a relu / tanh-GELU model open and run */
    const char *dir = make_model("ce", "BertForSequenceClassification", "relu", "bert.", "F32", NULL, NULL);
    ds_encoder *enc = NULL;
    ASSERT_OK(try_open(dir, &enc));
    float sc;
    ASSERT_OK(ds_encoder_rerank_ids(enc, &ip, NULL, &len, 1, &sc));
    ASSERT(isfinite(sc));
    ds_encoder_close(enc);
    dir = make_model("gt", "BertModel", "gelu_pytorch_tanh", "", "F32", NULL, NULL);
    ASSERT_OK(try_open(dir, &enc));
    ds_encoder_close(enc);
}

TEST(model_load_sentence_transformers_files) {
    const char *dir = make_model("st", "BertModel", "gelu", "", "F32", NULL, NULL);
    const char *mods = "[{\"idx\":0,\"name\":\"0\",\"path\":\"\",\"type\":\"sentence_transformers.models.Transformer\"},"
                       "{\"idx\":1,\"name\":\"1\",\"path\":\"1_Pooling\",\"type\":\"sentence_transformers.models.Pooling\"},"
                       "{\"idx\":2,\"name\":\"2\",\"path\":\"2_Normalize\",\"type\":\"sentence_transformers.models.Normalize\"}]";
    write_file(dir, "modules.json", mods, strlen(mods));
    char pd[1100];
    snprintf(pd, sizeof pd, "%s/1_Pooling", dir);
    mkdir(pd, 0755);
    const char *pool = "{\"word_embedding_dimension\": 8, \"pooling_mode_cls_token\": false, "
                       "\"pooling_mode_mean_tokens\": false, \"pooling_mode_max_tokens\": true}";
    write_file(pd, "config.json", pool, strlen(pool));
    const char *sbc = "{\"max_seq_length\": 4, \"do_lower_case\": false}";
    write_file(dir, "sentence_bert_config.json", sbc, strlen(sbc));
    ds_encoder *enc = NULL;
    ASSERT_OK(try_open(dir, &enc));
    ASSERT_EQ_U64(ds_encoder_max_seq_length(enc), 4);
    int32_t ids[6] = { 2, 7, 9, 11, 12, 3 }, tr[4] = { 2, 7, 9, 3 };
    const int32_t *ip = ids, *tp = tr;
    size_t len = 6, tl = 4;
    float a[TH], b[TH], st[4 * TH];
    ASSERT_OK(ds_encoder_encode_ids(enc, &ip, &len, 1, a));
    ASSERT_OK(ds_encoder_encode_ids(enc, &tp, &tl, 1, b));
    double nn = 0;
    for (int j = 0; j < TH; j++) { ASSERT_NEAR_F32(a[j], b[j], 1e-6); nn += (double)a[j] * a[j]; }
    ASSERT_NEAR_F32(nn, 1.0, 1e-5);                        /* normalised */
    size_t nt;
    ASSERT_OK(ds_encoder_token_states(enc, ids, 6, st, &nt));
    ASSERT_EQ_U64(nt, 4);                                  /* truncated, [SEP] kept */
    /* max pooling, before normalisation, is the max of the token states */
    float mx[TH];
    for (int j = 0; j < TH; j++) {
        mx[j] = st[j];
        for (int t = 1; t < 4; t++) mx[j] = fmaxf(mx[j], st[t * TH + j]);
    }
    double mn = 0;
    for (int j = 0; j < TH; j++) mn += (double)mx[j] * mx[j];
    for (int j = 0; j < TH; j++) ASSERT_NEAR_F32(a[j], mx[j] / sqrt(mn), 1e-5);
    ds_encoder_close(enc);
    /* unsupported module */
    const char *dense = "[{\"type\":\"sentence_transformers.models.Dense\",\"path\":\"2_Dense\"}]";
    write_file(dir, "modules.json", dense, strlen(dense));
    expect_fail(dir, DS_ERR_UNSUPPORTED, "Dense");
    const char *esc = "[{\"type\":\"sentence_transformers.models.Pooling\",\"path\":\"../../etc\"}]";
    write_file(dir, "modules.json", esc, strlen(esc));
    expect_fail(dir, DS_ERR_CORRUPT, "plain subfolder");
}

TEST(model_load_rejects_bad_checkpoints) {
    /* unsupported architecture: the message lists what is supported */
    expect_fail(make_model("a1", "RobertaModel", "gelu", "", "F32", NULL, NULL), DS_ERR_UNSUPPORTED,
                "BertModel, BertForSequenceClassification, BertForMaskedLM");
    expect_fail(make_model("a2", "BertModel", "swish", "", "F32", NULL, NULL), DS_ERR_UNSUPPORTED, "hidden_act 'swish'");
    /* shape disagreeing with config.json */
    expect_fail(make_model("s1", "BertModel", "gelu", "", "F32", "\"shape\": [16, 8]", "\"shape\": [8, 16]"),
                DS_ERR_FORMAT, "config.json implies");
    /* missing tensor */
    expect_fail(make_model("m1", "BertModel", "gelu", "", "F32", "encoder.layer.0.output.dense.bias", "encoder.layer.0.output.dense.biax"),
                DS_ERR_FORMAT, "encoder.layer.0.output.dense.bias' is missing");
    expect_fail(make_model("m2", "BertForSequenceClassification", "gelu", "bert.", "F32", "classifier.weight", "classifier.weighx"),
                DS_ERR_FORMAT, "classifier.weight");
    /* offsets outside the file, inconsistent sizes, overlap, unknown dtype */
    expect_fail(make_model("o1", "BertModel", "gelu", "", "F32", "\"data_offsets\": [0, 960]", "\"data_offsets\": [0, 99999960]"),
                DS_ERR_CORRUPT, "outside the data area");
    expect_fail(make_model("o2", "BertModel", "gelu", "", "F32", "\"data_offsets\": [0, 960]", "\"data_offsets\": [4, 964]"),
                DS_ERR_CORRUPT, "overlap");
    expect_fail(make_model("o3", "BertModel", "gelu", "", "F32", "\"data_offsets\": [0, 960]", "\"data_offsets\": [0, 956]"),
                DS_ERR_CORRUPT, "bytes stored");
    expect_fail(make_model("o4", "BertModel", "gelu", "", "F32", "\"dtype\": \"F32\"", "\"dtype\": \"F33\""),
                DS_ERR_CORRUPT, "unknown dtype");
    expect_fail(make_model("o5", "BertModel", "gelu", "", "F32", "\"dtype\": \"F32\"", "\"dtype\": \"I32\""),
                DS_ERR_UNSUPPORTED, "dtype I32");
    expect_fail(make_model("o6", "BertModel", "gelu", "", "F32", "\"shape\": [30, 8]", "\"shape\": [30, -8]"),
                DS_ERR_CORRUPT, "shape");
    /* a header length larger than the file */
    const char *dir = make_model("h1", "BertModel", "gelu", "", "F32", NULL, NULL);
    char path[1100];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    FILE *f = fopen(path, "r+b");
    uint8_t big[8];
    ds__store_u64le(big, (uint64_t)1 << 40);
    fwrite(big, 1, 8, f);
    fclose(f);
    expect_fail(dir, DS_ERR_CORRUPT, "header length");
    f = fopen(path, "wb");
    fwrite("abc", 1, 3, f);
    fclose(f);
    expect_fail(dir, DS_ERR_CORRUPT, "too short");
    /* config.json problems */
    dir = make_model("c1", "BertModel", "gelu", "", "F32", NULL, NULL);
    const char *bad = "{\"architectures\": [\"BertModel\"], \"hidden_size\": 10, \"num_attention_heads\": 3, "
                      "\"num_hidden_layers\": 1, \"intermediate_size\": 4, \"vocab_size\": 30}";
    write_file(dir, "config.json", bad, strlen(bad));
    expect_fail(dir, DS_ERR_FORMAT, "not a multiple");
    write_file(dir, "config.json", "{\"architectures\": [\"BertModel\"]}", 33);
    expect_fail(dir, DS_ERR_FORMAT, "'vocab_size' is missing");
    write_file(dir, "config.json", "{nope", 5);
    expect_fail(dir, DS_ERR_CORRUPT, "not valid JSON");
    /* no model at all */
    snprintf(path, sizeof path, "%s/empty", ds_test_tmpdir());
    mkdir(path, 0755);
    expect_fail(path, DS_ERR_NOTFOUND, "config.json");
}

TEST(model_load_oom_sweep) {
    const char *dir = make_model("oom", "BertModel", "gelu", "", "F16", NULL, NULL);
    ds_env *env;
    ASSERT_OK(ds_env_create(NULL, &env));
    ds_encoder_opts o;
    ds_encoder_opts_init(&o);
    o.load_tokenizer = 0;
    o.int8 = 1;                    /* covers the quantized copies and their buffers too */
    int32_t ids[3] = { 2, 5, 3 };
    const int32_t *ip = ids;
    size_t len = 3;
    float e[TH];
    for (uint64_t n = 1;; n++) {
        env->n_allocs = 0;
        env->fail_at = n;
        ds_encoder *enc = NULL;
        ds_status rc = ds_encoder_open(env, dir, &o, &enc);
        if (rc == DS_OK) rc = ds_encoder_encode_ids(enc, &ip, &len, 1, e);
        ds_encoder_close(enc);
        if (rc == DS_OK) break;
        ASSERT_RC(rc, DS_ERR_NOMEM);
        ASSERT(n < 10000);
    }
    env->fail_at = 0;
    ds_env_destroy(env);
}

/* Every JSON file of a model directory must have the right top-level type:
** a valid JSON value of another type is corrupt, not silently empty. */
TEST(model_config_files_top_level_type) {
    ds__model_config cfg;
    char pool[64];
    ASSERT_RC(ds__config_parse("[1]", 3, &cfg), DS_ERR_CORRUPT);
    ASSERT(strstr(ds_errmsg(), "config.json: not a JSON object") != NULL);
    ASSERT_RC(ds__modules_parse("{}", 2, &cfg, pool, sizeof pool), DS_ERR_CORRUPT);
    ASSERT(strstr(ds_errmsg(), "modules.json: not a JSON array") != NULL);
    ASSERT_RC(ds__pooling_parse("7", 1, &cfg), DS_ERR_CORRUPT);
    ASSERT_RC(ds__st_config_parse("[]", 2, &cfg), DS_ERR_CORRUPT);
    ASSERT(strstr(ds_errmsg(), "sentence_bert_config.json: not a JSON object") != NULL);
    ASSERT_RC(ds__st_config_parse("{", 1, &cfg), DS_ERR_CORRUPT);
    ASSERT_OK(ds__st_config_parse("{}", 2, &cfg));
}

/* layer_norm_eps is used as a float32: a double that rounds to 0 (found by
** fz_model_config) must be refused, not turned into a division by zero. */
TEST(model_config_ln_eps_float_range) {
    const char *fmt = "{\"architectures\": [\"BertModel\"], \"hidden_size\": 64, \"intermediate_size\": 256, "
                      "\"num_attention_heads\": 4, \"num_hidden_layers\": 2, \"max_position_embeddings\": 512, "
                      "\"type_vocab_size\": 2, \"vocab_size\": 100, \"layer_norm_eps\": %s}";
    char js[512];
    ds__model_config cfg;
    snprintf(js, sizeof js, fmt, "1e-12");
    ASSERT_OK(ds__config_parse(js, strlen(js), &cfg));
    ASSERT_NEAR_F32(cfg.ln_eps, 1e-12, 1e-18);
    snprintf(js, sizeof js, fmt, "1e-164");
    ASSERT_RC(ds__config_parse(js, strlen(js), &cfg), DS_ERR_FORMAT);
    ASSERT(strstr(ds_errmsg(), "layer_norm_eps") != NULL);
    snprintf(js, sizeof js, fmt, "0");
    ASSERT_RC(ds__config_parse(js, strlen(js), &cfg), DS_ERR_FORMAT);
}
