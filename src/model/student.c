/* student.c -- densearch-trained model directories (docs/format.md §5):
** configuration, loading, featurizer and the lexdense / lsa / static
** forward passes. See student.h for the model kinds.
**
** Loading trusts nothing: densearch_model.json is range-checked field by
** field, every tensor's dtype and shape must match it, feature hashes must be
** strictly ascending (no duplicates), idf and weights must be finite.
**
** Thread: the student is read-only after open; encode splits the texts into
** chunks on ds__parallel_for, each thread with its own scratch.
*/
#include "model/student.h"
#include "model/model.h"
#include "text/tokenizer.h"

#include <cblas.h>
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>

const char *ds__student_kind_name(ds__student_kind k) {
    switch (k) {
    case DS__SK_LEXDENSE: return "lexdense";
    case DS__SK_STATIC: return "static";
    case DS__SK_LSA: return "lsa";
    }
    return "?";
}

/* ------------------------------------------------------------------------ */
/* Small containers                                                          */
/* ------------------------------------------------------------------------ */
int ds__u64vec_push(ds_env *env, ds__u64vec *v, uint64_t x) {
    if (v->n == v->cap) {
        size_t nc = v->cap ? v->cap * 2 : 256;
        uint64_t *np = ds__realloc(env, v->p, v->cap * sizeof *np, nc * sizeof *np);
        if (np == NULL) return 0;
        v->p = np;
        v->cap = nc;
    }
    v->p[v->n++] = x;
    return 1;
}

void ds__u64vec_release(ds_env *env, ds__u64vec *v) {
    ds__free(env, v->p, v->cap * sizeof *v->p);
    memset(v, 0, sizeof *v);
}

/* ------------------------------------------------------------------------ */
/* Featurizer                                                                */
/* ------------------------------------------------------------------------ */
ds_status ds__feat_scratch_init(ds_env *env, const ds__featurizer *f, ds__feat_scratch *s) {
    memset(s, 0, sizeof *s);
    s->env = env;
    if (f->units == DS__UNITS_WORDS) return ds__analyzer_create(env, &f->an, &s->an);
    s->ids = ds__alloc(env, (DS__STUDENT_MAX_TOKENS + 8) * sizeof *s->ids, 64);
    return s->ids ? DS_OK : DS_ERR_NOMEM;
}

void ds__feat_scratch_release(ds__feat_scratch *s) {
    if (s->env == NULL) return;
    ds__analyzer_destroy(s->an);
    ds__free(s->env, s->ids, (DS__STUDENT_MAX_TOKENS + 8) * sizeof *s->ids);
    ds__u64vec_release(s->env, &s->units);
    memset(s, 0, sizeof *s);
}

static void on_term(void *ud, const char *term, size_t len, size_t raw_beg, size_t raw_end) {
    DS_UNUSED(raw_beg);
    DS_UNUSED(raw_end);
    ds__feat_scratch *s = ud;
    if (s->rc != DS_OK || s->units.n >= DS__STUDENT_MAX_TOKENS) return;
    if (!ds__u64vec_push(s->env, &s->units, ds__hash64(term, len))) s->rc = DS_ERR_NOMEM;
}

static int is_special(const ds_tokenizer *tok, int32_t id) {
    return id == ds_tokenizer_special(tok, DS_TOKEN_CLS) || id == ds_tokenizer_special(tok, DS_TOKEN_SEP) ||
           id == ds_tokenizer_special(tok, DS_TOKEN_PAD);
}

ds_status ds__feat_units(const ds__featurizer *f, ds__feat_scratch *s, const char *text, size_t len) {
    s->units.n = 0;
    s->rc = DS_OK;
    if (f->units == DS__UNITS_WORDS) {
        ds_status rc = ds__analyze(s->an, text, len, on_term, s);
        return rc != DS_OK ? rc : s->rc;
    }
    size_t n = 0, cap = DS__STUDENT_MAX_TOKENS + 8;
    size_t nsp = ds_tokenizer_num_special(f->tok, 0);
    ds_status rc = ds_tokenizer_encode(f->tok, text, len, DS__STUDENT_MAX_TOKENS + nsp, s->ids, cap, &n);
    if (rc != DS_OK) return rc;
    for (size_t i = 0; i < n; i++)
        if (!is_special(f->tok, s->ids[i]) && !ds__u64vec_push(s->env, &s->units, (uint64_t)(uint32_t)s->ids[i]))
            return DS_ERR_NOMEM;
    return DS_OK;
}

uint64_t ds__ngram_hash(const uint64_t *units, size_t n) {
    uint8_t b[8 * DS__STUDENT_MAX_NGRAM];
    DS_ASSERT(n >= 1 && n <= DS__STUDENT_MAX_NGRAM);
    for (size_t i = 0; i < n; i++) ds__store_u64le(b + 8 * i, units[i]);
    return ds__hash64(b, 8 * n);
}

/* ------------------------------------------------------------------------ */
/* Feature table                                                              */
/* ------------------------------------------------------------------------ */
ds_status ds__ftable_build(ds_env *env, const uint64_t *hashes, size_t n, ds__ftable *t) {
    memset(t, 0, sizeof *t);
    size_t cap = 16;
    while (cap < 2 * n) cap *= 2;      /* load <= 1/2: short probes */
    t->keys = ds__calloc(env, cap, sizeof *t->keys);
    t->vals = ds__calloc(env, cap, sizeof *t->vals);
    t->mask = cap - 1;
    if (t->keys == NULL || t->vals == NULL) {
        ds__ftable_release(env, t);
        return DS_ERR_NOMEM;
    }
    for (size_t r = 0; r < n; r++) {
        size_t i = (size_t)hashes[r] & t->mask;
        while (t->vals[i] != 0) {
            if (t->keys[i] == hashes[r]) {
                ds__ftable_release(env, t);
                return ds__fail(DS_ERR_CORRUPT, "feature hash %016llx appears twice", (unsigned long long)hashes[r]);
            }
            i = (i + 1) & t->mask;
        }
        t->keys[i] = hashes[r];
        t->vals[i] = (uint32_t)r + 1;
    }
    return DS_OK;
}

void ds__ftable_release(ds_env *env, ds__ftable *t) {
    if (t->keys) ds__free(env, t->keys, (t->mask + 1) * sizeof *t->keys);
    if (t->vals) ds__free(env, t->vals, (t->mask + 1) * sizeof *t->vals);
    memset(t, 0, sizeof *t);
}

size_t ds__ftable_rows(const ds__ftable *t, unsigned max_ngram, const uint64_t *units, size_t n_units,
                       uint32_t *rows, size_t cap) {
    size_t k = 0;
    for (unsigned g = 1; g <= max_ngram; g++)
        for (size_t i = 0; i + g <= n_units && k < cap; i++) {
            int64_t r = ds__ftable_find(t, ds__ngram_hash(units + i, g));
            if (r >= 0) rows[k++] = (uint32_t)r;
        }
    return k;
}

/* ------------------------------------------------------------------------ */
/* densearch_model.json                                                       */
/* ------------------------------------------------------------------------ */
static ds_status get_size(const cJSON *o, const char *name, const char *key, size_t lo, size_t hi, size_t *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(v))
        return ds__fail(DS_ERR_CORRUPT, "%s: \"%s\" is missing or not a number", name, key);
    double d = v->valuedouble;
    if (!(d >= (double)lo && d <= (double)hi) || d != floor(d))
        return ds__fail(DS_ERR_CORRUPT, "%s: \"%s\" = %g, expected a whole number in [%zu, %zu]", name, key, d, lo, hi);
    *out = (size_t)d;
    return DS_OK;
}

ds_status ds__student_cfg_parse(const char *json, size_t len, const char *name, ds__student_cfg *cfg) {
    memset(cfg, 0, sizeof *cfg);
    cJSON *root = cJSON_ParseWithLength(json, len);
    ds_status rc = DS_OK;
    size_t v = 0;
    if (root == NULL || !cJSON_IsObject(root)) { rc = ds__fail(DS_ERR_CORRUPT, "%s: not a JSON object", name); goto done; }
    const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(root, "format");
    if (!cJSON_IsString(fmt) || strcmp(fmt->valuestring, "densearch-model") != 0) {
        rc = ds__fail(DS_ERR_FORMAT, "%s: \"format\" is not \"densearch-model\"", name);
        goto done;
    }
    if ((rc = get_size(root, name, "format_version", 1, UINT32_MAX, &v)) != DS_OK) goto done;
    cfg->format_version = (unsigned)v;
    if (v > DS__STUDENT_FORMAT) {
        rc = ds__fail(DS_ERR_FORMAT, "%s: format_version %zu is newer than this library reads (%u): "
                      "upgrade densearch or retrain the model", name, v, DS__STUDENT_FORMAT);
        goto done;
    }
    const cJSON *kind = cJSON_GetObjectItemCaseSensitive(root, "kind");
    if (!cJSON_IsString(kind)) { rc = ds__fail(DS_ERR_CORRUPT, "%s: \"kind\" is missing", name); goto done; }
    if (strcmp(kind->valuestring, "lexdense") == 0) cfg->kind = DS__SK_LEXDENSE;
    else if (strcmp(kind->valuestring, "static") == 0) cfg->kind = DS__SK_STATIC;
    else if (strcmp(kind->valuestring, "lsa") == 0) cfg->kind = DS__SK_LSA;
    else {
        rc = ds__fail(DS_ERR_UNSUPPORTED, "%s: kind \"%.64s\" (supported: lexdense, static, lsa)", name,
                      kind->valuestring);
        goto done;
    }
    if ((rc = get_size(root, name, "dim", 1, DS__STUDENT_MAX_WIDTH, &cfg->dim)) != DS_OK) goto done;
    const cJSON *units = cJSON_GetObjectItemCaseSensitive(root, "units");
    if (cJSON_IsString(units) && strcmp(units->valuestring, "wordpiece") == 0) cfg->units = DS__UNITS_WORDPIECE;
    else if (cJSON_IsString(units) && strcmp(units->valuestring, "words") == 0) cfg->units = DS__UNITS_WORDS;
    else { rc = ds__fail(DS_ERR_CORRUPT, "%s: \"units\" must be \"wordpiece\" or \"words\"", name); goto done; }
    if (cfg->units == DS__UNITS_WORDS) {
        const cJSON *an = cJSON_GetObjectItemCaseSensitive(root, "analyzer");
        if (!cJSON_IsObject(an)) { rc = ds__fail(DS_ERR_CORRUPT, "%s: \"analyzer\" is missing", name); goto done; }
        size_t av = 0;
        if ((rc = get_size(an, name, "version", 1, UINT32_MAX, &av)) != DS_OK) goto done;
        if (av != DS__AN_VERSION) {
            rc = ds__fail(DS_ERR_FORMAT, "%s: analyzer version %zu, this library analyses text as version %u",
                          name, av, DS__AN_VERSION);
            goto done;
        }
        const cJSON *stem = cJSON_GetObjectItemCaseSensitive(an, "stemmer");
        const cJSON *stop = cJSON_GetObjectItemCaseSensitive(an, "stopwords");
        if (!cJSON_IsString(stem) || !cJSON_IsBool(stop)) {
            rc = ds__fail(DS_ERR_CORRUPT, "%s: analyzer needs \"stemmer\" (string) and \"stopwords\" (bool)", name);
            goto done;
        }
        if ((rc = ds__analyzer_cfg_make(&cfg->an, stem->valuestring, cJSON_IsTrue(stop))) != DS_OK) {
            rc = ds__fail_prefix(rc, "%s: ", name);
            goto done;
        }
    }
    if (cfg->kind == DS__SK_STATIC) {
        if ((rc = get_size(root, name, "vocab_size", 1, DS__TOK_MAX_ID, &cfg->vocab)) != DS_OK) goto done;
        if (cfg->units != DS__UNITS_WORDPIECE) {
            rc = ds__fail(DS_ERR_CORRUPT, "%s: a static model needs \"units\": \"wordpiece\"", name);
            goto done;
        }
        goto done;
    }
    if ((rc = get_size(root, name, "max_ngram", 1, DS__STUDENT_MAX_NGRAM, &v)) != DS_OK) goto done;
    cfg->max_ngram = (unsigned)v;
    const cJSON *w = cJSON_GetObjectItemCaseSensitive(root, "widths");
    int nw = cJSON_IsArray(w) ? cJSON_GetArraySize(w) : 0;
    if (nw < 2 || nw > (int)DS__STUDENT_MAX_LAYERS + 1) {
        rc = ds__fail(DS_ERR_CORRUPT, "%s: \"widths\" must be an array of 2..%u sizes", name, DS__STUDENT_MAX_LAYERS + 1);
        goto done;
    }
    cfg->n_layers = (size_t)nw - 1;
    for (int i = 0; i < nw; i++) {
        const cJSON *e = cJSON_GetArrayItem(w, i);
        double d = cJSON_IsNumber(e) ? e->valuedouble : -1;
        double hi = i == 0 ? (double)DS__STUDENT_MAX_FEAT : (double)DS__STUDENT_MAX_WIDTH;
        if (!(d >= 1 && d <= hi) || d != floor(d)) {
            rc = ds__fail(DS_ERR_CORRUPT, "%s: widths[%d] is not a whole number in [1, %.0f]", name, i, hi);
            goto done;
        }
        cfg->widths[i] = (size_t)d;
    }
    if (cfg->widths[cfg->n_layers] != cfg->dim) {
        rc = ds__fail(DS_ERR_CORRUPT, "%s: the last width (%zu) differs from dim (%zu)", name,
                      cfg->widths[cfg->n_layers], cfg->dim);
        goto done;
    }
done:
    cJSON_Delete(root);
    return rc;
}

ds_status ds__student_cfg_format(ds_env *env, const ds__student_cfg *cfg, const char *extra, char **out,
                                 size_t *len) {
    *out = NULL;
    *len = 0;
    ds__buf b;
    ds__buf_init(&b, env);
    char tmp[512];
    int k = snprintf(tmp, sizeof tmp,
                     "{\n  \"format\": \"densearch-model\",\n  \"format_version\": %u,\n  \"kind\": \"%s\",\n"
                     "  \"dim\": %zu,\n  \"units\": \"%s\",\n",
                     cfg->format_version ? cfg->format_version : DS__STUDENT_FORMAT, ds__student_kind_name(cfg->kind),
                     cfg->dim, cfg->units == DS__UNITS_WORDS ? "words" : "wordpiece");
    ds__buf_put(&b, tmp, (size_t)k);
    if (cfg->units == DS__UNITS_WORDS) {
        k = snprintf(tmp, sizeof tmp, "  \"analyzer\": {\"version\": %u, \"stemmer\": \"%s\", \"stopwords\": %s},\n",
                     cfg->an.version, cfg->an.stemmer, (cfg->an.flags & DS__AN_STOPWORDS) ? "true" : "false");
        ds__buf_put(&b, tmp, (size_t)k);
    }
    if (cfg->kind == DS__SK_STATIC) {
        k = snprintf(tmp, sizeof tmp, "  \"vocab_size\": %zu", cfg->vocab);
        ds__buf_put(&b, tmp, (size_t)k);
    } else {
        k = snprintf(tmp, sizeof tmp, "  \"max_ngram\": %u,\n  \"widths\": [", cfg->max_ngram);
        ds__buf_put(&b, tmp, (size_t)k);
        for (size_t i = 0; i <= cfg->n_layers; i++) {
            k = snprintf(tmp, sizeof tmp, "%s%zu", i ? ", " : "", cfg->widths[i]);
            ds__buf_put(&b, tmp, (size_t)k);
        }
        ds__buf_put(&b, "]", 1);
    }
    if (extra != NULL && *extra) {
        ds__buf_put(&b, ",\n  ", 4);
        ds__buf_put(&b, extra, strlen(extra));
    }
    ds__buf_put(&b, "\n}\n", 4);   /* with the NUL */
    if (b.rc != DS_OK) {
        ds__buf_release(&b);
        return DS_ERR_NOMEM;
    }
    /* hand the buffer over as a (len + 1)-byte allocation */
    char *p = ds__alloc(env, b.len, 1);
    if (p == NULL) {
        ds__buf_release(&b);
        return DS_ERR_NOMEM;
    }
    memcpy(p, b.p, b.len);
    *len = b.len - 1;
    *out = p;
    ds__buf_release(&b);
    return DS_OK;
}

/* ------------------------------------------------------------------------ */
/* Opening                                                                    */
/* ------------------------------------------------------------------------ */
struct ds__student {
    ds_env          *env;
    ds__student_cfg  cfg;
    ds__safetensors  st;
    ds_tokenizer    *tok;
    ds__featurizer   feat;
    ds__lexnet       net;
    ds__ftable       table;
    const float     *emb;          /* static: [vocab, dim] */
    float           *ones;         /* static: vocab ones (the row kernel's scales) */
    const uint64_t  *hashes;       /* validated, then only used to build table */
    /* tensors that had to be copied (misaligned in the file) */
    void            *owned[DS__STUDENT_MAX_LAYERS + 3];
    size_t           owned_len[DS__STUDENT_MAX_LAYERS + 3];
    size_t           n_owned;
};

static ds_status bind_t(ds__student *s, const char *name, ds__st_dtype dt, size_t d0, size_t d1, const void **out) {
    *out = NULL;
    const ds__st_tensor *t = ds__st_find(&s->st, name);
    if (t == NULL) return ds__fail(DS_ERR_FORMAT, "model.safetensors: tensor '%s' is missing (needed by %s)", name,
                                   ds__student_kind_name(s->cfg.kind));
    unsigned want = d1 ? 2 : 1;
    if (t->dtype != dt)
        return ds__fail(DS_ERR_FORMAT, "model.safetensors: tensor '%s' has dtype %s, expected %s", name,
                        ds__st_dtype_name(t->dtype), ds__st_dtype_name(dt));
    if (t->n_dims != want || t->shape[0] != d0 || (d1 && t->shape[1] != d1))
        return ds__fail(DS_ERR_FORMAT, "model.safetensors: tensor '%s' has the wrong shape (expected [%zu%s%zu])",
                        name, d0, d1 ? ", " : "", d1 ? d1 : (size_t)0);
    size_t al = dt == DS_ST_U64 ? 8 : 4;
    if (((uintptr_t)t->data & (al - 1)) == 0) {
        *out = t->data;
        return DS_OK;
    }
    if (s->n_owned == DS_ARRAY_LEN(s->owned)) return ds__fail(DS_ERR_INTERNAL, "too many copied tensors");
    void *p = ds__alloc(s->env, t->n_bytes ? t->n_bytes : 1, 64);
    if (p == NULL) return DS_ERR_NOMEM;
    memcpy(p, t->data, t->n_bytes);
    s->owned[s->n_owned] = p;
    s->owned_len[s->n_owned++] = t->n_bytes ? t->n_bytes : 1;
    *out = p;
    return DS_OK;
}

static ds_status check_finite(const float *x, size_t n, const char *name) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i])) return ds__fail(DS_ERR_CORRUPT, "model.safetensors: tensor '%s' has a non-finite value at %zu", name, i);
    return DS_OK;
}

ds_status ds__student_open(ds_env *env, const char *dir, ds__student **out) {
    *out = NULL;
    env = DS_ENV(env);
    char path[4096];
    char *json = NULL;
    size_t jlen = 0;
    ds_status rc;
    ds__student *s = ds__calloc(env, 1, sizeof *s);
    if (s == NULL) return DS_ERR_NOMEM;
    s->env = env;
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, DS__STUDENT_CONFIG) >= sizeof path) {
        rc = ds__fail(DS_ERR_INVALID, "model path too long");
        goto done;
    }
    if ((rc = ds__read_small_file(env, path, 1 << 20, &json, &jlen)) != DS_OK) goto done;
    if ((rc = ds__student_cfg_parse(json, jlen, path, &s->cfg)) != DS_OK) goto done;
    const ds__student_cfg *c = &s->cfg;
    if (c->units == DS__UNITS_WORDPIECE) {
        if ((rc = ds_tokenizer_open(env, dir, &s->tok)) != DS_OK) {
            rc = ds__fail_prefix(rc, "%s: the model's WordPiece tokenizer: ", dir);
            goto done;
        }
    }
    s->feat.units = c->units;
    s->feat.tok = s->tok;
    s->feat.an = c->an;
    s->feat.max_ngram = c->max_ngram ? c->max_ngram : 1;
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    if ((rc = ds__st_open(env, path, &s->st)) != DS_OK) {
        if (rc == DS_ERR_NOTFOUND) rc = ds__fail(DS_ERR_IO, "%s is missing", path);
        goto done;
    }
    const void *p = NULL;
    if (c->kind == DS__SK_STATIC) {
        if (ds_tokenizer_vocab_size(s->tok) != c->vocab) {
            rc = ds__fail(DS_ERR_FORMAT, "%s: vocab_size %zu, but the tokenizer has %zu ids", dir, c->vocab,
                          ds_tokenizer_vocab_size(s->tok));
            goto done;
        }
        if ((rc = bind_t(s, "embeddings", DS_ST_F32, c->vocab, c->dim, &p)) != DS_OK) goto done;
        s->emb = p;
        if ((rc = check_finite(s->emb, c->vocab * c->dim, "embeddings")) != DS_OK) goto done;
        if ((s->ones = ds__alloc(env, c->vocab * sizeof *s->ones, 64)) == NULL) { rc = DS_ERR_NOMEM; goto done; }
        for (size_t i = 0; i < c->vocab; i++) s->ones[i] = 1.0f;
    } else {
        size_t F = c->widths[0];
        if ((rc = bind_t(s, "features.hash", DS_ST_U64, F, 0, &p)) != DS_OK) goto done;
        s->hashes = p;
        for (size_t i = 1; i < F; i++)
            if (s->hashes[i] <= s->hashes[i - 1]) {
                rc = ds__fail(DS_ERR_CORRUPT, "model.safetensors: features.hash is not strictly ascending at %zu", i);
                goto done;
            }
        if ((rc = bind_t(s, "features.idf", DS_ST_F32, F, 0, &p)) != DS_OK) goto done;
        s->net.idf = p;
        if ((rc = check_finite(s->net.idf, F, "features.idf")) != DS_OK) goto done;
        s->net.n_layers = c->n_layers;
        memcpy(s->net.widths, c->widths, sizeof c->widths);
        for (size_t l = 0; l < c->n_layers; l++) {
            char nm[64];
            snprintf(nm, sizeof nm, "layers.%zu.weight", l);
            if ((rc = bind_t(s, nm, DS_ST_F32, c->widths[l], c->widths[l + 1], &p)) != DS_OK) goto done;
            s->net.w[l] = p;
            if ((rc = check_finite(p, c->widths[l] * c->widths[l + 1], nm)) != DS_OK) goto done;
        }
        if ((rc = ds__ftable_build(env, s->hashes, F, &s->table)) != DS_OK) goto done;
    }
    *out = s;
    s = NULL;
done:
    if (json) ds__free(env, json, jlen + 1);
    ds__student_close(s);
    return rc;
}

void ds__student_close(ds__student *s) {
    if (s == NULL) return;
    ds_env *env = s->env;
    ds__ftable_release(env, &s->table);
    if (s->ones) ds__free(env, s->ones, s->cfg.vocab * sizeof *s->ones);
    for (size_t i = 0; i < s->n_owned; i++) ds__free(env, s->owned[i], s->owned_len[i]);
    ds__st_release(&s->st);
    ds_tokenizer_close(s->tok);
    ds__free(env, s, sizeof *s);
}

const ds__student_cfg *ds__student_config(const ds__student *s) { return &s->cfg; }
const ds_tokenizer *ds__student_tokenizer(const ds__student *s) { return s->tok; }

size_t ds__student_rows(const ds__student *s, const uint64_t *units, size_t n_units, uint32_t *rows, size_t cap) {
    return ds__ftable_rows(&s->table, s->feat.max_ngram, units, n_units, rows, cap);
}

/* ------------------------------------------------------------------------ */
/* Layer 0 kernels                                                            */
/* ------------------------------------------------------------------------ */
void ds__rows_accum_scalar(float *z, const float *W, size_t dim, const uint32_t *rows, size_t n, const float *scale) {
    for (size_t k = 0; k < n; k++) {
        const float *wr = W + (size_t)rows[k] * dim;
        float a = scale[rows[k]];
        for (size_t d = 0; d < dim; d++) z[d] += a * wr[d];
    }
}

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#include "simd/simd.h"
/* 64 columns (8 accumulators) at a time over all rows: z stays in registers
** and each row contributes two cache lines per block; the next row's block
** is prefetched because rows are scattered over a table of megabytes. */
DS_TARGET("avx2,fma")
void ds__rows_accum_avx2(float *z, const float *W, size_t dim, const uint32_t *rows, size_t n, const float *scale) {
    size_t c = 0;
    for (; c + 64 <= dim; c += 64) {
        __m256 a0 = _mm256_loadu_ps(z + c), a1 = _mm256_loadu_ps(z + c + 8), a2 = _mm256_loadu_ps(z + c + 16),
               a3 = _mm256_loadu_ps(z + c + 24), a4 = _mm256_loadu_ps(z + c + 32), a5 = _mm256_loadu_ps(z + c + 40),
               a6 = _mm256_loadu_ps(z + c + 48), a7 = _mm256_loadu_ps(z + c + 56);
        for (size_t k = 0; k < n; k++) {
            const float *wr = W + (size_t)rows[k] * dim + c;
            if (k + 2 < n) {
                const char *nx = (const char *)(W + (size_t)rows[k + 2] * dim + c);
                _mm_prefetch(nx, _MM_HINT_T0);
                _mm_prefetch(nx + 64, _MM_HINT_T0);
                _mm_prefetch(nx + 128, _MM_HINT_T0);
                _mm_prefetch(nx + 192, _MM_HINT_T0);
            }
            __m256 s = _mm256_set1_ps(scale[rows[k]]);
            a0 = _mm256_fmadd_ps(s, _mm256_loadu_ps(wr), a0);
            a1 = _mm256_fmadd_ps(s, _mm256_loadu_ps(wr + 8), a1);
            a2 = _mm256_fmadd_ps(s, _mm256_loadu_ps(wr + 16), a2);
            a3 = _mm256_fmadd_ps(s, _mm256_loadu_ps(wr + 24), a3);
            a4 = _mm256_fmadd_ps(s, _mm256_loadu_ps(wr + 32), a4);
            a5 = _mm256_fmadd_ps(s, _mm256_loadu_ps(wr + 40), a5);
            a6 = _mm256_fmadd_ps(s, _mm256_loadu_ps(wr + 48), a6);
            a7 = _mm256_fmadd_ps(s, _mm256_loadu_ps(wr + 56), a7);
        }
        _mm256_storeu_ps(z + c, a0);
        _mm256_storeu_ps(z + c + 8, a1);
        _mm256_storeu_ps(z + c + 16, a2);
        _mm256_storeu_ps(z + c + 24, a3);
        _mm256_storeu_ps(z + c + 32, a4);
        _mm256_storeu_ps(z + c + 40, a5);
        _mm256_storeu_ps(z + c + 48, a6);
        _mm256_storeu_ps(z + c + 56, a7);
    }
    for (; c + 8 <= dim; c += 8) {
        __m256 a = _mm256_loadu_ps(z + c);
        for (size_t k = 0; k < n; k++)
            a = _mm256_fmadd_ps(_mm256_set1_ps(scale[rows[k]]), _mm256_loadu_ps(W + (size_t)rows[k] * dim + c), a);
        _mm256_storeu_ps(z + c, a);
    }
    for (; c < dim; c++) {
        float a = z[c];
        for (size_t k = 0; k < n; k++) a += scale[rows[k]] * W[(size_t)rows[k] * dim + c];
        z[c] = a;
    }
}

ds__rows_accum_fn ds__rows_accum_for(const ds_env *env) {
    /* the env's level honours DS_SIMD=scalar and the CPUID check */
    return env->kernels != NULL && env->kernels->level >= 1 ? ds__rows_accum_avx2 : ds__rows_accum_scalar;
}
#else
void ds__rows_accum_avx2(float *z, const float *W, size_t dim, const uint32_t *rows, size_t n, const float *scale) {
    ds__rows_accum_scalar(z, W, dim, rows, n, scale);
}
ds__rows_accum_fn ds__rows_accum_for(const ds_env *env) {
    DS_UNUSED(env);
    return ds__rows_accum_scalar;
}
#endif

/* ------------------------------------------------------------------------ */
/* Encoding                                                                   */
/* ------------------------------------------------------------------------ */
void ds__rows_normalize(float *x, size_t n, size_t d) {
    for (size_t i = 0; i < n; i++) {
        float *r = x + i * d;
        double ss = 0;
        for (size_t j = 0; j < d; j++) ss += (double)r[j] * r[j];
        float inv = ss > 1e-24 ? (float)(1.0 / sqrt(ss)) : 0.0f;
        for (size_t j = 0; j < d; j++) r[j] *= inv;
    }
}

/* Texts are embedded CHUNK at a time per thread, so the dense layers run as
** one GEMM over the chunk instead of a GEMV per text. */
#define CHUNK 64

typedef struct enc_job {
    const ds__student   *s;
    const char *const   *texts;
    const size_t        *lens;
    const int32_t *const *ids;     /* ids path instead of texts */
    float               *out;
    ds__feat_scratch    *scr;      /* one per thread */
    float              **act;      /* one per thread: 2 x CHUNK x max width */
    uint32_t           **rows;     /* one per thread */
    size_t               rows_cap;
    size_t               max_w;
    ds_status           *rc;       /* one per thread */
    ds__rows_accum_fn    accum;
} enc_job;

static ds_status units_of(const enc_job *j, size_t i, ds__feat_scratch *sc) {
    const ds__student *s = j->s;
    if (j->ids == NULL) {
        const char *t = j->texts[i];
        if (t == NULL) return ds__fail(DS_ERR_INVALID, "text %zu is NULL", i);
        return ds__feat_units(&s->feat, sc, t, j->lens ? j->lens[i] : strlen(t));
    }
    sc->units.n = 0;
    const int32_t *ids = j->ids[i];
    size_t n = j->lens[i];
    if (ids == NULL && n > 0) return ds__fail(DS_ERR_INVALID, "sequence %zu is NULL", i);
    size_t vs = ds_tokenizer_vocab_size(s->tok);
    for (size_t k = 0; k < n && sc->units.n < DS__STUDENT_MAX_TOKENS; k++) {
        if (ids[k] < 0 || (size_t)ids[k] >= vs)
            return ds__fail(DS_ERR_INVALID, "sequence %zu: token %zu has id %d outside the vocabulary (%zu)", i, k,
                            (int)ids[k], vs);
        if (!is_special(s->tok, ids[k]) && !ds__u64vec_push(sc->env, &sc->units, (uint64_t)(uint32_t)ids[k]))
            return DS_ERR_NOMEM;
    }
    return DS_OK;
}

static void enc_range(void *ctx, size_t begin, size_t end, unsigned th) {
    enc_job *j = ctx;
    const ds__student *s = j->s;
    const ds__student_cfg *c = &s->cfg;
    ds__feat_scratch *sc = &j->scr[th];
    if (j->rc[th] != DS_OK) return;
    for (size_t b = begin; b < end; b += CHUNK) {
        size_t m = DS_MIN(CHUNK, end - b);
        if (c->kind == DS__SK_STATIC) {
            for (size_t i = 0; i < m; i++) {
                ds_status rc = units_of(j, b + i, sc);
                if (rc != DS_OK) { j->rc[th] = rc; return; }
                float *o = j->out + (b + i) * c->dim;
                memset(o, 0, c->dim * sizeof *o);
                /* units are token ids < vocab (checked): the same row kernel */
                uint32_t *ids32 = j->rows[th];
                size_t nu = DS_MIN(sc->units.n, j->rows_cap);
                for (size_t k = 0; k < nu; k++) ids32[k] = (uint32_t)sc->units.p[k];
                j->accum(o, s->emb, c->dim, ids32, nu, s->ones);
                ds__rows_normalize(o, 1, c->dim);
            }
            continue;
        }
        const ds__lexnet *net = &s->net;
        size_t h0 = net->widths[1];
        float *x = j->act[th], *y = x + CHUNK * j->max_w;
        for (size_t i = 0; i < m; i++) {
            ds_status rc = units_of(j, b + i, sc);
            if (rc != DS_OK) { j->rc[th] = rc; return; }
            uint32_t *rows = j->rows[th];
            size_t nr = ds__ftable_rows(&s->table, s->feat.max_ngram, sc->units.p, sc->units.n, rows, j->rows_cap);
            float *z = x + i * h0;
            memset(z, 0, h0 * sizeof *z);
            /* sparse-by-dense: only the rows of features present are read */
            j->accum(z, net->w[0], h0, rows, nr, net->idf);
        }
        ds__rows_normalize(x, m, h0);
        for (size_t l = 1; l < net->n_layers; l++) {
            size_t din = net->widths[l], dout = net->widths[l + 1];
            int last = l + 1 == net->n_layers;
            float *dst = last ? j->out + b * c->dim : y;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m, (int)dout, (int)din, 1.0f, x, (int)din,
                        net->w[l], (int)dout, 0.0f, dst, (int)dout);
            if (!last)
                for (size_t i = 0; i < m * dout; i++) dst[i] = dst[i] > 0 ? dst[i] : 0;
            ds__rows_normalize(dst, m, dout);
            if (!last) { float *t = x; x = y; y = t; }
        }
        if (net->n_layers == 1) memcpy(j->out + b * c->dim, x, m * c->dim * sizeof(float));
    }
}

/* The chunks already run on our threads: OpenBLAS threads inside them would
** only oversubscribe the cores (forward.c does the same). */
static void blas_single(void) {
    static atomic_int done;
    if (!atomic_exchange(&done, 1)) openblas_set_num_threads(1);
}

static ds_status encode_common(const ds__student *s, const char *const *texts, const int32_t *const *ids,
                               const size_t *lens, size_t n, unsigned n_threads, float *out) {
    if (n == 0) return DS_OK;
    if (out == NULL) return ds__fail(DS_ERR_INVALID, "null out");
    ds_env *env = s->env;
    blas_single();
    if (n_threads == 0) n_threads = 1;
    /* small batches (one query) are not worth a thread */
    if (n < 2 * CHUNK) n_threads = 1;
    if (n_threads > 64) n_threads = 64;
    enc_job j;
    memset(&j, 0, sizeof j);
    j.s = s;
    j.texts = texts;
    j.ids = ids;
    j.lens = lens;
    j.out = out;
    j.accum = ds__rows_accum_for(env);
    size_t max_w = 1;
    for (size_t l = 1; l <= s->net.n_layers; l++) max_w = DS_MAX(max_w, s->net.widths[l]);
    j.max_w = max_w;
    j.rows_cap = (size_t)DS__STUDENT_MAX_TOKENS * DS_MAX(s->feat.max_ngram, 1u);
    ds_status rc = DS_OK;
    ds__feat_scratch scr[64];
    float *act[64];
    uint32_t *rows[64];
    ds_status rcs[64];
    memset(scr, 0, sizeof scr);
    memset(act, 0, sizeof act);
    memset(rows, 0, sizeof rows);
    j.scr = scr;
    j.act = act;
    j.rows = rows;
    j.rc = rcs;
    for (unsigned t = 0; t < n_threads; t++) {
        rcs[t] = DS_OK;
        if ((rc = ds__feat_scratch_init(env, &s->feat, &scr[t])) != DS_OK) goto done;
        act[t] = ds__alloc(env, 2 * CHUNK * max_w * sizeof(float), 64);
        rows[t] = ds__alloc(env, j.rows_cap * sizeof(uint32_t), 64);
        if (act[t] == NULL || rows[t] == NULL) { rc = DS_ERR_NOMEM; goto done; }
    }
    /* chunks of whole CHUNKs so GEMMs stay full; deterministic per text */
    ds__parallel_for(env, n_threads, n, CHUNK * 4, enc_range, &j);
    for (unsigned t = 0; t < n_threads; t++)
        if (rcs[t] != DS_OK) { rc = rcs[t]; break; }
done:
    for (unsigned t = 0; t < n_threads; t++) {
        ds__feat_scratch_release(&scr[t]);
        ds__free(env, act[t], 2 * CHUNK * max_w * sizeof(float));
        ds__free(env, rows[t], j.rows_cap * sizeof(uint32_t));
    }
    return rc;
}

ds_status ds__student_encode(const ds__student *s, const char *const *texts, const size_t *lens, size_t n,
                             unsigned n_threads, float *out) {
    if (n > 0 && texts == NULL) return ds__fail(DS_ERR_INVALID, "null texts");
    return encode_common(s, texts, NULL, lens, n, n_threads, out);
}

ds_status ds__student_encode_ids(const ds__student *s, const int32_t *const *ids, const size_t *lens, size_t n,
                                 unsigned n_threads, float *out) {
    if (s->cfg.units != DS__UNITS_WORDPIECE)
        return ds__fail(DS_ERR_UNSUPPORTED, "this %s model reads analyzer words, not token ids: pass texts",
                        ds__student_kind_name(s->cfg.kind));
    if (n > 0 && (ids == NULL || lens == NULL)) return ds__fail(DS_ERR_INVALID, "null ids or lens");
    return encode_common(s, NULL, ids, lens, n, n_threads, out);
}
