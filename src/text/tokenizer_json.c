/* tokenizer_json.c -- loading a BERT WordPiece tokenizer from a model
** directory: tokenizer.json (Hugging Face `tokenizers` serialization), or
** vocab.txt + tokenizer_config.json (the older `transformers` layout).
**
** Every field is untrusted: wrong types, out-of-range ids and unsupported
** component types are reported with the file name and the JSON path of the
** field (DS_ERR_CORRUPT / DS_ERR_UNSUPPORTED), never assumed.
**
** What is read (everything else in the files is ignored):
**   model            WordPiece: vocab, unk_token, continuing_subword_prefix,
**                    max_input_chars_per_word
**   normalizer       BertNormalizer (clean_text, handle_chinese_chars,
**                    strip_accents: null = follow lowercase, lowercase) or null
**   pre_tokenizer    BertPreTokenizer
**   post_processor   TemplateProcessing, BertProcessing, or null
**   added_tokens     id, content, single_word, lstrip, rstrip, normalized, special
**   truncation       max_length (exposed by ds_tokenizer_max_length; padding is
**                    the encoder's job and is not applied here)
** tokenizer_config.json: *_token names, model_max_length, and for the
** vocab.txt path do_lower_case, strip_accents, tokenize_chinese_chars,
** added_tokens_decoder.
**
** Thread: any (each call builds its own tokenizer).
*/
#include "text/tokenizer.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

ds_status ds__tok_read_file(ds_env *env, const char *path, char **out, size_t *len) {
    *out = NULL;
    *len = 0;
    ds_status rc = DS_OK;
    char *buf = NULL;
    size_t size = 0;
    /* O_NONBLOCK: a FIFO must fail the S_ISREG check, not block in open();
    ** it does not affect reads of a regular file. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        if (errno == ENOENT) return ds__fail(DS_ERR_NOTFOUND, "%s: no such file", path);
        return ds__fail(DS_ERR_IO, "%s: %s", path, strerror(errno));
    }
    FILE *f = fdopen(fd, "rb");
    if (f == NULL) {
        close(fd);
        return ds__fail(DS_ERR_NOMEM, "%s: out of memory", path);
    }
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) { rc = ds__fail(DS_ERR_IO, "%s: not a regular file", path); goto done; }
    if ((uint64_t)st.st_size > DS__TOK_MAX_FILE) {
        rc = ds__fail(DS_ERR_RANGE, "%s: %lld bytes is larger than the %zu-byte limit for tokenizer files",
                      path, (long long)st.st_size, DS__TOK_MAX_FILE);
        goto done;
    }
    size = (size_t)st.st_size;
    if ((buf = ds__alloc(env, size + 1, 1)) == NULL) { rc = ds__fail(DS_ERR_NOMEM, "%s: out of memory", path); goto done; }
    if (size > 0 && fread(buf, 1, size, f) != size) { rc = ds__fail(DS_ERR_IO, "%s: read failed", path); goto done; }
    buf[size] = '\0';
done:
    fclose(f);
    if (rc != DS_OK) { ds__free(env, buf, size + 1); return rc; }
    *out = buf;
    *len = size;
    return DS_OK;
}

/* ------------------------------------------------------------------------ */
/* JSON helpers                                                              */
/* ------------------------------------------------------------------------ */
static ds_status parse_json(const char *text, size_t len, const char *name, cJSON **out) {
    const char *end = NULL;
    *out = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (*out != NULL) return DS_OK;
    if (end == NULL || end < text || end > text + len) end = text;
    size_t line = 1, col = 1;
    for (const char *p = text; p < end; p++) {
        if (*p == '\n') { line++; col = 1; } else col++;
    }
    return ds__fail(DS_ERR_CORRUPT, "%s: invalid JSON near line %zu, column %zu", name, line, col);
}

/* Reads an optional bool: absent or null leaves *v; anything but a bool is an error. */
static ds_status get_bool(const cJSON *o, const char *key, const char *name, const char *where, int *v) {
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, key);
    if (x == NULL || cJSON_IsNull(x)) return DS_OK;
    if (!cJSON_IsBool(x)) return ds__fail(DS_ERR_CORRUPT, "%s: %s.%s must be true or false", name, where, key);
    *v = cJSON_IsTrue(x);
    return DS_OK;
}

/* A whole number in [lo, hi]. */
static int num_ok(const cJSON *x, double lo, double hi, size_t *v) {
    if (!cJSON_IsNumber(x)) return 0;
    double d = x->valuedouble;
    if (!(d >= lo && d <= hi) || d != (double)(uint64_t)d) return 0;
    *v = (size_t)d;
    return 1;
}

/* A token name in tokenizer_config.json: "x" or {"content": "x", ...}. */
static const char *token_name(const cJSON *o, const char *key) {
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, key);
    if (cJSON_IsObject(x)) x = cJSON_GetObjectItemCaseSensitive(x, "content");
    return cJSON_IsString(x) ? x->valuestring : NULL;
}

static ds_status add_added(ds_tokenizer *t, const char *content, int32_t id, int special, int normalized,
                           int lstrip, int rstrip, int single_word) {
    for (size_t k = 0; k < t->n_added; k++)
        if (strcmp(t->added[k].content, content) == 0) return DS_OK;     /* first definition wins */
    size_t old = t->n_added * sizeof *t->added, nb = old + sizeof *t->added;
    ds__added_token *p = ds__realloc(t->env, t->added, old, nb);
    if (p == NULL) return ds__fail(DS_ERR_NOMEM, "out of memory");
    t->added = p;
    ds__added_token *a = &p[t->n_added];
    memset(a, 0, sizeof *a);
    a->len = strlen(content);
    if ((a->content = ds__alloc(t->env, a->len + 1, 1)) == NULL) return ds__fail(DS_ERR_NOMEM, "out of memory");
    memcpy(a->content, content, a->len + 1);
    a->id = id;
    a->special = (uint8_t)special;
    a->normalized = (uint8_t)normalized;
    a->lstrip = (uint8_t)lstrip;
    a->rstrip = (uint8_t)rstrip;
    a->single_word = (uint8_t)single_word;
    t->n_added++;
    return DS_OK;
}

static ds_status add_template_special(ds_tokenizer *t, ds__template *tp, const int32_t *ids, uint32_t n,
                                      uint32_t type_id) {
    if (tp->n_items >= DS__TPL_MAX_ITEMS || n > DS__TPL_MAX_IDS - t->n_tpl_ids)
        return ds__fail(DS_ERR_UNSUPPORTED, "post_processor: more than %d items or %d special ids",
                        DS__TPL_MAX_ITEMS, DS__TPL_MAX_IDS);
    ds__tpl_item *it = &tp->items[tp->n_items++];
    it->kind = DS__TPL_SPECIAL;
    it->type_id = type_id;
    it->first = t->n_tpl_ids;
    it->n = n;
    memcpy(t->tpl_ids + t->n_tpl_ids, ids, n * sizeof *ids);
    t->n_tpl_ids += n;
    tp->n_special += n;
    return DS_OK;
}

static ds_status add_template_seq(ds__template *tp, int kind, uint32_t type_id) {
    if (tp->n_items >= DS__TPL_MAX_ITEMS)
        return ds__fail(DS_ERR_UNSUPPORTED, "post_processor: more than %d template items", DS__TPL_MAX_ITEMS);
    ds__tpl_item *it = &tp->items[tp->n_items++];
    it->kind = (uint8_t)kind;
    it->type_id = type_id;
    it->first = it->n = 0;
    return DS_OK;
}

/* The BERT template: [CLS] A [SEP] and [CLS] A [SEP] B [SEP] (B's part has type 1). */
static ds_status bert_template(ds_tokenizer *t, int32_t cls, int32_t sep) {
    ds_status rc = DS_OK;
    memset(&t->single, 0, sizeof t->single);
    memset(&t->pair, 0, sizeof t->pair);
    t->n_tpl_ids = 0;
    if (rc == DS_OK) rc = add_template_special(t, &t->single, &cls, 1, 0);
    if (rc == DS_OK) rc = add_template_seq(&t->single, DS__TPL_A, 0);
    if (rc == DS_OK) rc = add_template_special(t, &t->single, &sep, 1, 0);
    if (rc == DS_OK) rc = add_template_special(t, &t->pair, &cls, 1, 0);
    if (rc == DS_OK) rc = add_template_seq(&t->pair, DS__TPL_A, 0);
    if (rc == DS_OK) rc = add_template_special(t, &t->pair, &sep, 1, 0);
    if (rc == DS_OK) rc = add_template_seq(&t->pair, DS__TPL_B, 1);
    if (rc == DS_OK) rc = add_template_special(t, &t->pair, &sep, 1, 1);
    return rc;
}

static ds_status parse_template(ds_tokenizer *t, const cJSON *pp, const char *key, ds__template *tp, int pair,
                                const char *name) {
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(pp, key);
    const cJSON *specials = cJSON_GetObjectItemCaseSensitive(pp, "special_tokens");
    if (!cJSON_IsArray(arr)) return ds__fail(DS_ERR_CORRUPT, "%s: post_processor.%s must be an array", name, key);
    int n_a = 0, n_b = 0;
    const cJSON *el;
    cJSON_ArrayForEach(el, arr) {
        const cJSON *sp = cJSON_GetObjectItemCaseSensitive(el, "SpecialToken");
        const cJSON *sq = cJSON_GetObjectItemCaseSensitive(el, "Sequence");
        const cJSON *body = sp ? sp : sq;
        size_t type_id = 0;
        if (!cJSON_IsObject(body))
            return ds__fail(DS_ERR_CORRUPT, "%s: post_processor.%s: each item must be {\"SpecialToken\": ...} or {\"Sequence\": ...}", name, key);
        const cJSON *tid = cJSON_GetObjectItemCaseSensitive(body, "type_id");
        if (tid != NULL && !num_ok(tid, 0, 1 << 16, &type_id))
            return ds__fail(DS_ERR_CORRUPT, "%s: post_processor.%s: type_id must be a small whole number", name, key);
        const cJSON *idv = cJSON_GetObjectItemCaseSensitive(body, "id");
        if (!cJSON_IsString(idv))
            return ds__fail(DS_ERR_CORRUPT, "%s: post_processor.%s: item id must be a string", name, key);
        if (sq != NULL) {
            int kind = strcmp(idv->valuestring, "A") == 0 ? DS__TPL_A : strcmp(idv->valuestring, "B") == 0 ? DS__TPL_B : -1;
            if (kind < 0) return ds__fail(DS_ERR_CORRUPT, "%s: post_processor.%s: sequence id must be \"A\" or \"B\"", name, key);
            if (kind == DS__TPL_A) n_a++; else n_b++;
            ds_status rc = add_template_seq(tp, kind, (uint32_t)type_id);
            if (rc != DS_OK) return rc;
            continue;
        }
        const cJSON *def = cJSON_GetObjectItemCaseSensitive(specials, idv->valuestring);
        const cJSON *ids = cJSON_GetObjectItemCaseSensitive(def, "ids");
        if (!cJSON_IsArray(ids))
            return ds__fail(DS_ERR_CORRUPT, "%s: post_processor.special_tokens has no ids for \"%s\"", name, idv->valuestring);
        int32_t buf[DS__TPL_MAX_IDS];
        uint32_t n = 0;
        const cJSON *x;
        cJSON_ArrayForEach(x, ids) {
            size_t v;
            if (n >= DS__TPL_MAX_IDS) return ds__fail(DS_ERR_UNSUPPORTED, "%s: too many ids for special token \"%s\"", name, idv->valuestring);
            if (!num_ok(x, 0, DS__TOK_MAX_ID - 1, &v))
                return ds__fail(DS_ERR_CORRUPT, "%s: post_processor.special_tokens.\"%s\": bad id", name, idv->valuestring);
            buf[n++] = (int32_t)v;
        }
        ds_status rc = add_template_special(t, tp, buf, n, (uint32_t)type_id);
        if (rc != DS_OK) return rc;
    }
    if (n_a != 1 || n_b != (pair ? 1 : 0))
        return ds__fail(DS_ERR_CORRUPT, "%s: post_processor.%s must hold sequence A%s exactly once", name, key,
                        pair ? " and sequence B" : "");
    return DS_OK;
}

/* Reads tokenizer_config.json pieces shared by both paths: special-token
** names and model_max_length. names[] point into cfg (valid while it lives). */
static void config_names(const cJSON *cfg, const char *names[5], size_t *max_len) {
    static const char *const keys[5] = { "cls_token", "sep_token", "pad_token", "unk_token", "mask_token" };
    static const char *const dflt[5] = { "[CLS]", "[SEP]", "[PAD]", "[UNK]", "[MASK]" };
    for (int i = 0; i < 5; i++) {
        const char *s = cfg ? token_name(cfg, keys[i]) : NULL;
        names[i] = s ? s : dflt[i];
    }
    size_t v;
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(cfg, "model_max_length");
    /* transformers writes 1e30 for "no limit": only a real limit is kept. */
    if (m != NULL && num_ok(m, 1, 1 << 20, &v)) *max_len = v;
}

/* ------------------------------------------------------------------------ */
/* tokenizer.json                                                             */
/* ------------------------------------------------------------------------ */
static ds_status load_json(ds_tokenizer *t, const cJSON *root, const cJSON *cfg, const char *name) {
    ds_status rc;
    if (!cJSON_IsObject(root)) return ds__fail(DS_ERR_CORRUPT, "%s: the top level must be an object", name);
    /* model */
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    if (!cJSON_IsObject(model)) return ds__fail(DS_ERR_CORRUPT, "%s: no \"model\" object", name);
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(model, "type");
    if (cJSON_IsString(type) && strcmp(type->valuestring, "WordPiece") != 0)
        return ds__fail(DS_ERR_UNSUPPORTED, "%s: model type \"%s\" is not supported (supported: WordPiece)",
                        name, type->valuestring);
    if (type != NULL && !cJSON_IsString(type)) return ds__fail(DS_ERR_CORRUPT, "%s: model.type must be a string", name);
    /* Files from before "type" was written: only WordPiece has this field. */
    if (type == NULL && cJSON_GetObjectItemCaseSensitive(model, "continuing_subword_prefix") == NULL)
        return ds__fail(DS_ERR_UNSUPPORTED, "%s: model has no type and is not WordPiece (supported: WordPiece)", name);
    const cJSON *prefix = cJSON_GetObjectItemCaseSensitive(model, "continuing_subword_prefix");
    const char *pfx = "##";
    if (prefix != NULL && !cJSON_IsNull(prefix)) {
        if (!cJSON_IsString(prefix)) return ds__fail(DS_ERR_CORRUPT, "%s: model.continuing_subword_prefix must be a string", name);
        pfx = prefix->valuestring;
    }
    t->prefix_len = strlen(pfx);
    const cJSON *mc = cJSON_GetObjectItemCaseSensitive(model, "max_input_chars_per_word");
    if (mc != NULL && !num_ok(mc, 0, (double)(SIZE_MAX / 8), &t->max_chars_per_word))
        return ds__fail(DS_ERR_CORRUPT, "%s: model.max_input_chars_per_word must be a whole number", name);
    const cJSON *vocab = cJSON_GetObjectItemCaseSensitive(model, "vocab");
    if (!cJSON_IsObject(vocab)) return ds__fail(DS_ERR_CORRUPT, "%s: model.vocab must be an object", name);
    const cJSON *e;
    cJSON_ArrayForEach(e, vocab) {
        size_t id;
        if (!num_ok(e, 0, DS__TOK_MAX_ID - 1, &id))
            return ds__fail(DS_ERR_CORRUPT, "%s: model.vocab: the id of token \"%.40s\" is not a whole number below %u",
                            name, e->string ? e->string : "", DS__TOK_MAX_ID);
        ds__vocab_add(&t->vocab, e->string, strlen(e->string), (uint32_t)id);
    }
    if ((rc = ds__vocab_finish(&t->vocab, pfx, t->prefix_len)) != DS_OK)
        return ds__fail_prefix(rc, "%s: model.vocab: ", name);
    const cJSON *unk = cJSON_GetObjectItemCaseSensitive(model, "unk_token");
    if (!cJSON_IsString(unk)) return ds__fail(DS_ERR_CORRUPT, "%s: model.unk_token must be a string", name);
    t->unk_id = ds__vocab_find(&t->vocab, unk->valuestring, strlen(unk->valuestring), 0);
    if (t->unk_id < 0)
        return ds__fail(DS_ERR_CORRUPT, "%s: model.unk_token \"%s\" is not in the vocabulary", name, unk->valuestring);

    /* normalizer */
    const cJSON *norm = cJSON_GetObjectItemCaseSensitive(root, "normalizer");
    if (norm == NULL || cJSON_IsNull(norm)) {
        t->has_normalizer = 0;
    } else {
        const cJSON *nt = cJSON_GetObjectItemCaseSensitive(norm, "type");
        if (!cJSON_IsString(nt)) return ds__fail(DS_ERR_CORRUPT, "%s: normalizer.type must be a string", name);
        if (strcmp(nt->valuestring, "BertNormalizer") != 0)
            return ds__fail(DS_ERR_UNSUPPORTED, "%s: normalizer type \"%s\" is not supported (supported: BertNormalizer or none)",
                            name, nt->valuestring);
        int strip = -1;
        if ((rc = get_bool(norm, "clean_text", name, "normalizer", &t->clean_text)) != DS_OK) return rc;
        if ((rc = get_bool(norm, "handle_chinese_chars", name, "normalizer", &t->chinese)) != DS_OK) return rc;
        if ((rc = get_bool(norm, "lowercase", name, "normalizer", &t->lowercase)) != DS_OK) return rc;
        if ((rc = get_bool(norm, "strip_accents", name, "normalizer", &strip)) != DS_OK) return rc;
        t->strip_accents = strip < 0 ? t->lowercase : strip;     /* null: follow lowercase */
    }
    /* pre_tokenizer */
    const cJSON *pre = cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer");
    const cJSON *pt = cJSON_GetObjectItemCaseSensitive(pre, "type");
    if (!cJSON_IsString(pt) || strcmp(pt->valuestring, "BertPreTokenizer") != 0)
        return ds__fail(DS_ERR_UNSUPPORTED, "%s: pre_tokenizer %s%s%s is not supported (supported: BertPreTokenizer)", name,
                        cJSON_IsString(pt) ? "\"" : "", cJSON_IsString(pt) ? pt->valuestring : "(none)",
                        cJSON_IsString(pt) ? "\"" : "");
    /* added tokens */
    const cJSON *added = cJSON_GetObjectItemCaseSensitive(root, "added_tokens");
    if (added != NULL && !cJSON_IsNull(added)) {
        if (!cJSON_IsArray(added)) return ds__fail(DS_ERR_CORRUPT, "%s: added_tokens must be an array", name);
        cJSON_ArrayForEach(e, added) {
            const cJSON *c = cJSON_GetObjectItemCaseSensitive(e, "content");
            const cJSON *idv = cJSON_GetObjectItemCaseSensitive(e, "id");
            size_t id;
            if (!cJSON_IsString(c) || !num_ok(idv, 0, DS__TOK_MAX_ID - 1, &id))
                return ds__fail(DS_ERR_CORRUPT, "%s: added_tokens: each entry needs a string content and a whole-number id", name);
            if (c->valuestring[0] == '\0') return ds__fail(DS_ERR_CORRUPT, "%s: added_tokens: empty content", name);
            int sp = 0, nz = 0, ls = 0, rs = 0, sw = 0;
            if ((rc = get_bool(e, "special", name, "added_tokens[]", &sp)) != DS_OK) return rc;
            if ((rc = get_bool(e, "normalized", name, "added_tokens[]", &nz)) != DS_OK) return rc;
            if ((rc = get_bool(e, "lstrip", name, "added_tokens[]", &ls)) != DS_OK) return rc;
            if ((rc = get_bool(e, "rstrip", name, "added_tokens[]", &rs)) != DS_OK) return rc;
            if ((rc = get_bool(e, "single_word", name, "added_tokens[]", &sw)) != DS_OK) return rc;
            if ((rc = add_added(t, c->valuestring, (int32_t)id, sp, nz, ls, rs, sw)) != DS_OK)
                return ds__fail_prefix(rc, "%s: ", name);
        }
    }
    /* post_processor */
    const cJSON *pp = cJSON_GetObjectItemCaseSensitive(root, "post_processor");
    if (pp == NULL || cJSON_IsNull(pp)) {
        if ((rc = add_template_seq(&t->single, DS__TPL_A, 0)) != DS_OK) return rc;
        if ((rc = add_template_seq(&t->pair, DS__TPL_A, 0)) != DS_OK) return rc;
        if ((rc = add_template_seq(&t->pair, DS__TPL_B, 1)) != DS_OK) return rc;
    } else {
        const cJSON *ppt = cJSON_GetObjectItemCaseSensitive(pp, "type");
        const char *ps = cJSON_IsString(ppt) ? ppt->valuestring : "";
        if (strcmp(ps, "TemplateProcessing") == 0) {
            if ((rc = parse_template(t, pp, "single", &t->single, 0, name)) != DS_OK) return rc;
            if ((rc = parse_template(t, pp, "pair", &t->pair, 1, name)) != DS_OK) return rc;
        } else if (strcmp(ps, "BertProcessing") == 0) {
            const cJSON *cls = cJSON_GetObjectItemCaseSensitive(pp, "cls");
            const cJSON *sep = cJSON_GetObjectItemCaseSensitive(pp, "sep");
            size_t ci, si;
            if (cJSON_GetArraySize(cls) != 2 || cJSON_GetArraySize(sep) != 2 ||
                !num_ok(cJSON_GetArrayItem(cls, 1), 0, DS__TOK_MAX_ID - 1, &ci) ||
                !num_ok(cJSON_GetArrayItem(sep, 1), 0, DS__TOK_MAX_ID - 1, &si))
                return ds__fail(DS_ERR_CORRUPT, "%s: post_processor: BertProcessing needs cls and sep as [token, id]", name);
            if ((rc = bert_template(t, (int32_t)ci, (int32_t)si)) != DS_OK) return rc;
        } else {
            return ds__fail(DS_ERR_UNSUPPORTED, "%s: post_processor type \"%s\" is not supported "
                            "(supported: TemplateProcessing, BertProcessing, none)", name, ps);
        }
    }
    /* truncation: only its max_length matters to us */
    const cJSON *tr = cJSON_GetObjectItemCaseSensitive(root, "truncation");
    if (tr != NULL && !cJSON_IsNull(tr)) {
        const cJSON *ml = cJSON_GetObjectItemCaseSensitive(tr, "max_length");
        if (!num_ok(ml, 0, (double)(1u << 30), &t->max_length))
            return ds__fail(DS_ERR_CORRUPT, "%s: truncation.max_length must be a whole number", name);
    }
    const char *names[5];
    size_t cfg_max = 0;
    config_names(cfg, names, &cfg_max);
    if (t->max_length == 0) t->max_length = cfg_max;
    return ds__tokenizer_finish(t, names);
}

ds_status ds__tokenizer_load_json(ds_env *env, const char *json, size_t len, const char *name,
                                  const char *cfg, size_t clen, const char *cname, ds_tokenizer **out) {
    *out = NULL;
    cJSON *root = NULL, *croot = NULL;
    ds_tokenizer *t = NULL;
    ds_status rc = parse_json(json, len, name, &root);
    if (rc == DS_OK && cfg != NULL) rc = parse_json(cfg, clen, cname, &croot);
    if (rc == DS_OK) rc = ds__tokenizer_new(env, &t);
    if (rc == DS_OK) rc = load_json(t, root, croot, name);
    cJSON_Delete(root);
    cJSON_Delete(croot);
    if (rc != DS_OK) { ds_tokenizer_close(t); return rc; }
    *out = t;
    return DS_OK;
}

/* ------------------------------------------------------------------------ */
/* vocab.txt + tokenizer_config.json                                          */
/* ------------------------------------------------------------------------ */
static ds_status load_vocab(ds_tokenizer *t, const char *text, size_t len, const char *vname, const cJSON *cfg,
                            const char *cname) {
    ds_status rc;
    /* One token per line, id = line index; the line ending (LF or CRLF) is
    ** not part of the token; a final newline does not start another token. */
    size_t id = 0, i = 0;
    while (i < len) {
        const char *nl = memchr(text + i, '\n', len - i);
        size_t end = nl ? (size_t)(nl - text) : len, e = end;
        if (e > i && text[e - 1] == '\r') e--;
        if (id >= DS__TOK_MAX_ID) return ds__fail(DS_ERR_CORRUPT, "%s: more than %u lines", vname, DS__TOK_MAX_ID);
        ds__vocab_add(&t->vocab, text + i, e - i, (uint32_t)id++);
        i = end + 1;
    }
    t->prefix_len = 2;
    if ((rc = ds__vocab_finish(&t->vocab, "##", 2)) != DS_OK) return ds__fail_prefix(rc, "%s: ", vname);
    /* BertTokenizer settings; strip_accents null follows do_lower_case. */
    int strip = -1;
    t->has_normalizer = t->clean_text = 1;
    if (cfg != NULL) {
        if ((rc = get_bool(cfg, "do_lower_case", cname, "config", &t->lowercase)) != DS_OK) return rc;
        if ((rc = get_bool(cfg, "tokenize_chinese_chars", cname, "config", &t->chinese)) != DS_OK) return rc;
        if ((rc = get_bool(cfg, "strip_accents", cname, "config", &strip)) != DS_OK) return rc;
    }
    t->strip_accents = strip < 0 ? t->lowercase : strip;
    const char *names[5];
    config_names(cfg, names, &t->max_length);
    t->unk_id = ds__vocab_find(&t->vocab, names[DS_TOKEN_UNK], strlen(names[DS_TOKEN_UNK]), 0);
    if (t->unk_id < 0)
        return ds__fail(DS_ERR_CORRUPT, "%s: the unknown token \"%s\" is not in the vocabulary", vname, names[DS_TOKEN_UNK]);
    /* added_tokens_decoder (newer transformers) lists the added tokens with
    ** their flags; otherwise the special tokens are matched on the raw text,
    ** as BertTokenizerFast does. */
    const cJSON *atd = cJSON_GetObjectItemCaseSensitive(cfg, "added_tokens_decoder");
    if (cJSON_IsObject(atd)) {
        const cJSON *e;
        cJSON_ArrayForEach(e, atd) {
            char *endp = NULL;
            unsigned long v = strtoul(e->string, &endp, 10);
            const cJSON *c = cJSON_GetObjectItemCaseSensitive(e, "content");
            if (endp == e->string || *endp != '\0' || v >= DS__TOK_MAX_ID || !cJSON_IsString(c) || c->valuestring[0] == '\0')
                return ds__fail(DS_ERR_CORRUPT, "%s: added_tokens_decoder: bad entry \"%.20s\"", cname, e->string);
            int sp = 0, nz = 0, ls = 0, rs = 0, sw = 0;
            if ((rc = get_bool(e, "special", cname, "added_tokens_decoder", &sp)) != DS_OK) return rc;
            if ((rc = get_bool(e, "normalized", cname, "added_tokens_decoder", &nz)) != DS_OK) return rc;
            if ((rc = get_bool(e, "lstrip", cname, "added_tokens_decoder", &ls)) != DS_OK) return rc;
            if ((rc = get_bool(e, "rstrip", cname, "added_tokens_decoder", &rs)) != DS_OK) return rc;
            if ((rc = get_bool(e, "single_word", cname, "added_tokens_decoder", &sw)) != DS_OK) return rc;
            if ((rc = add_added(t, c->valuestring, (int32_t)v, sp, nz, ls, rs, sw)) != DS_OK)
                return ds__fail_prefix(rc, "%s: ", cname);
        }
    }
    for (int k = 0; k < 5; k++) {
        int32_t sid = ds__vocab_find(&t->vocab, names[k], strlen(names[k]), 0);
        if (sid >= 0 && names[k][0] != '\0' && (rc = add_added(t, names[k], sid, 1, 0, 0, 0, 0)) != DS_OK) return rc;
    }
    int32_t cls = ds__vocab_find(&t->vocab, names[DS_TOKEN_CLS], strlen(names[DS_TOKEN_CLS]), 0);
    int32_t sep = ds__vocab_find(&t->vocab, names[DS_TOKEN_SEP], strlen(names[DS_TOKEN_SEP]), 0);
    if (cls < 0 || sep < 0)
        return ds__fail(DS_ERR_CORRUPT, "%s: the classifier/separator tokens \"%s\"/\"%s\" are not in the vocabulary",
                        vname, names[DS_TOKEN_CLS], names[DS_TOKEN_SEP]);
    if ((rc = bert_template(t, cls, sep)) != DS_OK) return rc;
    return ds__tokenizer_finish(t, names);
}

ds_status ds__tokenizer_load_vocab(ds_env *env, const char *vocab, size_t vlen, const char *vname,
                                   const char *cfg, size_t clen, const char *cname, ds_tokenizer **out) {
    *out = NULL;
    cJSON *croot = NULL;
    ds_tokenizer *t = NULL;
    ds_status rc = DS_OK;
    if (cfg != NULL) rc = parse_json(cfg, clen, cname, &croot);
    if (rc == DS_OK && croot != NULL && !cJSON_IsObject(croot))
        rc = ds__fail(DS_ERR_CORRUPT, "%s: the top level must be an object", cname);
    if (rc == DS_OK) rc = ds__tokenizer_new(env, &t);
    if (rc == DS_OK) rc = load_vocab(t, vocab, vlen, vname, croot, cname);
    cJSON_Delete(croot);
    if (rc != DS_OK) { ds_tokenizer_close(t); return rc; }
    snprintf(t->source, sizeof t->source, "vocab.txt");
    *out = t;
    return DS_OK;
}

/* ------------------------------------------------------------------------ */
/* ds_tokenizer_open                                                          */
/* ------------------------------------------------------------------------ */
static char *join(ds_env *env, const char *dir, const char *file, size_t *n) {
    *n = strlen(dir) + strlen(file) + 2;
    char *p = ds__alloc(env, *n, 1);
    if (p != NULL) snprintf(p, *n, "%s/%s", dir, file);
    return p;
}

/* Reads dir/file; NOTFOUND leaves *buf NULL and returns DS_OK. */
static ds_status read_opt(ds_env *env, const char *dir, const char *file, char **path, size_t *plen,
                          char **buf, size_t *len) {
    *buf = NULL;
    *len = 0;
    if ((*path = join(env, dir, file, plen)) == NULL) return ds__fail(DS_ERR_NOMEM, "out of memory");
    ds_status rc = ds__tok_read_file(env, *path, buf, len);
    if (rc == DS_ERR_NOTFOUND) { *buf = NULL; return DS_OK; }
    return rc;
}

static ds_status open_dir(ds_env *env, const char *dir, ds_tokenizer **out, int *found) {
    char *tj = NULL, *cf = NULL, *vt = NULL, *tjp = NULL, *cfp = NULL, *vtp = NULL;
    size_t tjl = 0, cfl = 0, vtl = 0, tjn = 0, cfn = 0, vtn = 0;
    ds_status rc;
    *found = 0;
    if ((rc = read_opt(env, dir, "tokenizer.json", &tjp, &tjn, &tj, &tjl)) != DS_OK) goto done;
    if ((rc = read_opt(env, dir, "tokenizer_config.json", &cfp, &cfn, &cf, &cfl)) != DS_OK) goto done;
    if (tj != NULL) {
        *found = 1;
        rc = ds__tokenizer_load_json(env, tj, tjl, tjp, cf, cfl, cfp, out);
        if (rc == DS_OK) snprintf((*out)->source, sizeof (*out)->source, "tokenizer.json");
        goto done;
    }
    if ((rc = read_opt(env, dir, "vocab.txt", &vtp, &vtn, &vt, &vtl)) != DS_OK) goto done;
    if (vt != NULL) {
        *found = 1;
        rc = ds__tokenizer_load_vocab(env, vt, vtl, vtp, cf, cfl, cfp, out);
    }
done:
    ds__free(env, tj, tjl + 1);
    ds__free(env, cf, cfl + 1);
    ds__free(env, vt, vtl + 1);
    ds__free(env, tjp, tjn);
    ds__free(env, cfp, cfn);
    ds__free(env, vtp, vtn);
    return rc;
}

ds_status ds_tokenizer_open(ds_env *env, const char *model_dir, ds_tokenizer **out) {
    if (out == NULL) return ds__fail(DS_ERR_INVALID, "ds_tokenizer_open: null argument");
    *out = NULL;
    if (model_dir == NULL) return ds__fail(DS_ERR_INVALID, "ds_tokenizer_open: null argument");
    env = DS_ENV(env);
    struct stat st;
    if (stat(model_dir, &st) != 0)
        return ds__fail(errno == ENOENT ? DS_ERR_NOTFOUND : DS_ERR_IO, "%s: %s", model_dir, strerror(errno));
    if (S_ISREG(st.st_mode)) {            /* a tokenizer.json given directly */
        char *buf = NULL;
        size_t len = 0;
        ds_status rc = ds__tok_read_file(env, model_dir, &buf, &len);
        if (rc == DS_OK) rc = ds__tokenizer_load_json(env, buf, len, model_dir, NULL, 0, NULL, out);
        ds__free(env, buf, len + 1);
        if (rc == DS_OK) snprintf((*out)->source, sizeof (*out)->source, "tokenizer.json");
        return rc;
    }
    int found = 0;
    ds_status rc = open_dir(env, model_dir, out, &found);
    if (rc != DS_OK || found) return rc;
    /* The 2021 sentence-transformers layout keeps the tokenizer in 0_Transformer/. */
    size_t n;
    char *sub = join(env, model_dir, "0_Transformer", &n);
    if (sub == NULL) return ds__fail(DS_ERR_NOMEM, "out of memory");
    if (stat(sub, &st) == 0 && S_ISDIR(st.st_mode)) rc = open_dir(env, sub, out, &found);
    ds__free(env, sub, n);
    if (rc != DS_OK || found) return rc;
    return ds__fail(DS_ERR_NOTFOUND, "%s: no tokenizer.json or vocab.txt (nor in 0_Transformer/)", model_dir);
}
