/* config.c -- the JSON files of a Hugging Face / sentence-transformers model
** directory, read into ds__model_config.
**
** config.json: architecture (BertModel, BertForSequenceClassification,
** BertForMaskedLM), sizes, hidden_act, layer_norm_eps. Every number is
** range-checked (so a hostile config cannot make the loader allocate
** terabytes) and must agree with the tensors later (encoder.c). Anything we
** would compute differently from transformers -- another activation, relative
** position embeddings, a decoder -- is refused with DS_ERR_UNSUPPORTED rather
** than silently run.
**
** Thread: pure functions.
*/
#include "model/model.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <float.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define SUPPORTED_ARCHS "BertModel, BertForSequenceClassification, BertForMaskedLM"

ds_status ds__read_small_file(ds_env *env, const char *path, size_t max, char **out, size_t *len) {
    *out = NULL;
    *len = 0;
    /* O_NONBLOCK: a FIFO must fail the S_ISREG check, not block in open();
    ** it does not affect reads of a regular file. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return ds__fail(errno == ENOENT ? DS_ERR_NOTFOUND : DS_ERR_IO, "%s: %s", path, strerror(errno));
    FILE *f = fdopen(fd, "rb");
    if (f == NULL) {
        close(fd);
        return ds__fail(DS_ERR_NOMEM, "%s: out of memory", path);
    }
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        fclose(f);
        return ds__fail(DS_ERR_IO, "%s: not a regular file", path);
    }
    if ((uint64_t)sb.st_size > max) {
        fclose(f);
        return ds__fail(DS_ERR_RANGE, "%s: %lld bytes, more than the %zu expected", path, (long long)sb.st_size, max);
    }
    size_t n = (size_t)sb.st_size;
    char *p = ds__alloc(env, n + 1, 1);
    if (p == NULL) { fclose(f); return DS_ERR_NOMEM; }
    size_t got = n ? fread(p, 1, n, f) : 0;
    int bad = ferror(f);
    fclose(f);
    if (got != n || bad) {
        ds__free(env, p, n + 1);
        return ds__fail(DS_ERR_IO, "%s: short read", path);
    }
    p[n] = '\0';
    *out = p;
    *len = n;
    return DS_OK;
}

/* Reads an integer field within [lo, hi]; absent -> dflt (or an error when
** dflt is SIZE_MAX, i.e. required). */
static ds_status get_size(const cJSON *root, const char *key, size_t lo, size_t hi, size_t dflt, size_t *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
    if (v == NULL || cJSON_IsNull(v)) {
        if (dflt == SIZE_MAX) return ds__fail(DS_ERR_FORMAT, "config.json: '%s' is missing", key);
        *out = dflt;
        return DS_OK;
    }
    double d = cJSON_IsNumber(v) ? v->valuedouble : NAN;
    if (!(d >= (double)lo && d <= (double)hi) || floor(d) != d)
        return ds__fail(DS_ERR_FORMAT, "config.json: '%s' must be a whole number in [%zu, %zu]", key, lo, hi);
    *out = (size_t)d;
    return DS_OK;
}

/* Parses one of the model directory's JSON files, whose top level must be
** an object (or, with want_array, an array: modules.json). Errors name the
** file; on failure *root is NULL and nothing is left to free. */
static ds_status parse_root(const char *json, size_t len, const char *file, int want_array, cJSON **root) {
    *root = NULL;
    cJSON *r = cJSON_ParseWithLength(json, len);
    if (r == NULL) return ds__fail(DS_ERR_CORRUPT, "%s: not valid JSON", file);
    if (want_array ? !cJSON_IsArray(r) : !cJSON_IsObject(r)) {
        cJSON_Delete(r);
        return ds__fail(DS_ERR_CORRUPT, "%s: not a JSON %s", file, want_array ? "array" : "object");
    }
    *root = r;
    return DS_OK;
}

ds_status ds__config_parse(const char *json, size_t len, ds__model_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    cfg->pooling = DS_POOLING_AUTO;
    cJSON *root = NULL;
    ds_status rc = parse_root(json, len, "config.json", 0, &root);
    if (rc != DS_OK) return rc;

    const cJSON *mt = cJSON_GetObjectItemCaseSensitive(root, "model_type");
    if (mt != NULL && (!cJSON_IsString(mt) || strcmp(mt->valuestring, "bert") != 0)) {
        rc = ds__fail(DS_ERR_UNSUPPORTED, "config.json: model_type '%.40s' is not supported (supported: bert)",
                      cJSON_IsString(mt) ? mt->valuestring : "?");
        goto done;
    }
    const cJSON *archs = cJSON_GetObjectItemCaseSensitive(root, "architectures");
    const char *arch = "BertModel";
    if (archs != NULL && !cJSON_IsNull(archs)) {
        if (!cJSON_IsArray(archs) || cJSON_GetArraySize(archs) != 1 || !cJSON_IsString(cJSON_GetArrayItem(archs, 0))) {
            rc = ds__fail(DS_ERR_UNSUPPORTED, "config.json: 'architectures' must list one of: " SUPPORTED_ARCHS);
            goto done;
        }
        arch = cJSON_GetArrayItem(archs, 0)->valuestring;
    } else if (mt == NULL) {
        rc = ds__fail(DS_ERR_UNSUPPORTED, "config.json: neither 'architectures' nor 'model_type' (supported: "
                      SUPPORTED_ARCHS ")");
        goto done;
    }
    if (strcmp(arch, "BertModel") == 0) cfg->kind = DS_ENCODER_EMBED;
    else if (strcmp(arch, "BertForSequenceClassification") == 0) cfg->kind = DS_ENCODER_CROSS;
    else if (strcmp(arch, "BertForMaskedLM") == 0) cfg->kind = DS_ENCODER_SPLADE;
    else {
        rc = ds__fail(DS_ERR_UNSUPPORTED, "config.json: architecture '%.60s' is not supported (supported: "
                      SUPPORTED_ARCHS ")", arch);
        goto done;
    }
    snprintf(cfg->arch, sizeof cfg->arch, "%s", arch);

    if ((rc = get_size(root, "vocab_size", 1, 1u << 22, SIZE_MAX, &cfg->vocab_size)) ||
        (rc = get_size(root, "hidden_size", 1, 16384, SIZE_MAX, &cfg->hidden)) ||
        (rc = get_size(root, "num_hidden_layers", 1, 256, SIZE_MAX, &cfg->n_layers)) ||
        (rc = get_size(root, "num_attention_heads", 1, 1024, SIZE_MAX, &cfg->n_heads)) ||
        (rc = get_size(root, "intermediate_size", 1, 1u << 17, SIZE_MAX, &cfg->ffn)) ||
        (rc = get_size(root, "max_position_embeddings", 1, 1u << 16, 512, &cfg->max_pos)) ||
        (rc = get_size(root, "type_vocab_size", 1, 1u << 16, 2, &cfg->type_vocab)))
        goto done;
    if (cfg->hidden % cfg->n_heads != 0) {
        rc = ds__fail(DS_ERR_FORMAT, "config.json: hidden_size %zu is not a multiple of num_attention_heads %zu",
                      cfg->hidden, cfg->n_heads);
        goto done;
    }
    cfg->num_labels = 1;
    const cJSON *id2label = cJSON_GetObjectItemCaseSensitive(root, "id2label");
    if (cJSON_IsObject(id2label)) cfg->num_labels = (size_t)cJSON_GetArraySize(id2label);
    if ((rc = get_size(root, "num_labels", 1, 1u << 16, cfg->num_labels, &cfg->num_labels))) goto done;
    if (cfg->kind == DS_ENCODER_CROSS && cfg->num_labels != 1) {
        rc = ds__fail(DS_ERR_UNSUPPORTED, "config.json: a cross-encoder with %zu labels (only 1 is supported)",
                      cfg->num_labels);
        goto done;
    }

    const cJSON *eps = cJSON_GetObjectItemCaseSensitive(root, "layer_norm_eps");
    cfg->ln_eps = 1e-12f;
    if (eps != NULL) {
        /* Checked against FLT_MIN, not 0: the value is used as a float, and
        ** 1e-164 would round to 0 and make a constant row divide by zero. */
        if (!cJSON_IsNumber(eps) || !(eps->valuedouble >= FLT_MIN && eps->valuedouble < 1)) {
            rc = ds__fail(DS_ERR_FORMAT, "config.json: 'layer_norm_eps' must be a number in [%g, 1) "
                          "(a positive float32)", (double)FLT_MIN);
            goto done;
        }
        cfg->ln_eps = (float)eps->valuedouble;
    }
    const cJSON *act = cJSON_GetObjectItemCaseSensitive(root, "hidden_act");
    const char *a = cJSON_IsString(act) ? act->valuestring : (act == NULL ? "gelu" : "?");
    if (strcmp(a, "gelu") == 0) cfg->act = DS_ACT_GELU;
    else if (strcmp(a, "gelu_new") == 0 || strcmp(a, "gelu_pytorch_tanh") == 0) cfg->act = DS_ACT_GELU_TANH;
    else if (strcmp(a, "relu") == 0) cfg->act = DS_ACT_RELU;
    else {
        rc = ds__fail(DS_ERR_UNSUPPORTED, "config.json: hidden_act '%.40s' is not supported "
                      "(supported: gelu, gelu_new, gelu_pytorch_tanh, relu)", a);
        goto done;
    }
    const cJSON *pet = cJSON_GetObjectItemCaseSensitive(root, "position_embedding_type");
    if (pet != NULL && !cJSON_IsNull(pet) && !(cJSON_IsString(pet) && strcmp(pet->valuestring, "absolute") == 0)) {
        rc = ds__fail(DS_ERR_UNSUPPORTED, "config.json: position_embedding_type must be 'absolute'");
        goto done;
    }
    const cJSON *dec = cJSON_GetObjectItemCaseSensitive(root, "is_decoder");
    if (cJSON_IsTrue(dec)) {
        rc = ds__fail(DS_ERR_UNSUPPORTED, "config.json: is_decoder models are not supported");
        goto done;
    }
done:
    cJSON_Delete(root);
    return rc;
}

ds_status ds__modules_parse(const char *json, size_t len, ds__model_config *cfg, char *pool_dir, size_t cap) {
    if (cap) pool_dir[0] = '\0';
    cJSON *root = NULL;
    ds_status rc = parse_root(json, len, "modules.json", 1, &root);
    if (rc != DS_OK) return rc;
    int i = 0;
    for (const cJSON *m = root->child; m != NULL; m = m->next, i++) {
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(m, "type");
        const cJSON *path = cJSON_GetObjectItemCaseSensitive(m, "path");
        if (!cJSON_IsString(type)) { rc = ds__fail(DS_ERR_CORRUPT, "modules.json: entry %d has no 'type'", i); goto done; }
        const char *t = type->valuestring;
        const char *dot = strrchr(t, '.');
        const char *base = dot ? dot + 1 : t;
        if (strcmp(base, "Transformer") == 0) continue;
        if (strcmp(base, "Normalize") == 0) { cfg->normalize = 1; continue; }
        if (strcmp(base, "Pooling") == 0) {
            const char *p = cJSON_IsString(path) ? path->valuestring : "";
            /* The folder is joined to the model directory: refuse anything that
            ** could leave it. */
            if (strstr(p, "..") != NULL || p[0] == '/' || strlen(p) + 1 > cap) {
                rc = ds__fail(DS_ERR_CORRUPT, "modules.json: pooling path '%.60s' is not a plain subfolder", p);
                goto done;
            }
            memcpy(pool_dir, p, strlen(p) + 1);
            continue;
        }
        rc = ds__fail(DS_ERR_UNSUPPORTED, "modules.json: module '%.80s' is not supported "
                      "(supported: Transformer, Pooling, Normalize)", t);
        goto done;
    }
done:
    cJSON_Delete(root);
    return rc;
}

ds_status ds__pooling_parse(const char *json, size_t len, ds__model_config *cfg) {
    cJSON *root = NULL;
    ds_status rc = parse_root(json, len, "1_Pooling/config.json", 0, &root);
    if (rc != DS_OK) return rc;
    static const struct { const char *key; ds_pooling p; } modes[] = {
        { "pooling_mode_cls_token", DS_POOLING_CLS },
        { "pooling_mode_mean_tokens", DS_POOLING_MEAN },
        { "pooling_mode_max_tokens", DS_POOLING_MAX },
        { "pooling_mode_mean_sqrt_len_tokens", DS_POOLING_MEAN_SQRT_LEN },
        { "pooling_mode_weightedmean_tokens", (ds_pooling)-1 },
        { "pooling_mode_lasttoken", (ds_pooling)-1 },
    };
    int n_on = 0;
    ds_pooling got = DS_POOLING_AUTO;
    for (size_t i = 0; i < DS_ARRAY_LEN(modes); i++) {
        if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(root, modes[i].key))) continue;
        if ((int)modes[i].p < 0) {
            rc = ds__fail(DS_ERR_UNSUPPORTED, "1_Pooling/config.json: %s is not supported "
                          "(supported: cls_token, mean_tokens, max_tokens, mean_sqrt_len_tokens)", modes[i].key);
            goto done;
        }
        n_on++;
        got = modes[i].p;
    }
    if (n_on > 1) {
        /* sentence-transformers concatenates several poolings; we return one vector per mode. */
        rc = ds__fail(DS_ERR_UNSUPPORTED, "1_Pooling/config.json: %d pooling modes at once (only one is supported)", n_on);
        goto done;
    }
    if (n_on == 0) { rc = ds__fail(DS_ERR_FORMAT, "1_Pooling/config.json: no pooling mode enabled"); goto done; }
    cfg->pooling = got;
done:
    cJSON_Delete(root);
    return rc;
}

ds_status ds__st_config_parse(const char *json, size_t len, ds__model_config *cfg) {
    cJSON *root = NULL;
    ds_status rc = parse_root(json, len, "sentence_bert_config.json", 0, &root);
    if (rc != DS_OK) return rc;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "max_seq_length");
    if (v != NULL && !cJSON_IsNull(v)) {
        double d = cJSON_IsNumber(v) ? v->valuedouble : NAN;
        if (!(d >= 2 && d <= 65536) || floor(d) != d)
            rc = ds__fail(DS_ERR_FORMAT, "sentence_bert_config.json: max_seq_length must be a whole number in [2, 65536]");
        else
            cfg->st_max_seq = (size_t)d;
    }
    cJSON_Delete(root);
    return rc;
}
