/* vocab.c -- the WordPiece vocabulary: id -> token text, token -> id.
**
** Built once at load time from (token, id) pairs, then immutable (Thread:
** any for lookups). Lookups hash the key once with XXH3 and probe an
** open-addressing table whose slots carry the top 32 bits of the hash, so a
** miss rarely touches the token text. Two tables: `whole` (every token by its
** full text) and `cont` (tokens starting with the continuing-subword prefix,
** keyed without it), so WordPiece never builds "##" + piece strings.
**
** Duplicates: a later (token, id) pair wins for token -> id, as a Python dict
** (vocab.txt) or the JSON object order would give; id -> token keeps the
** last text too.
*/
#include "text/tokenizer.h"

void ds__vocab_init(ds__vocab *v, ds_env *env) {
    memset(v, 0, sizeof *v);
    v->env = env;
    ds__buf_init(&v->pend, env);
}

void ds__vocab_add(ds__vocab *v, const char *s, size_t len, uint32_t id) {
    if (v->rc != DS_OK) return;
    if (id >= DS__TOK_MAX_ID) {
        v->rc = ds__fail(DS_ERR_CORRUPT, "token id %u is out of range (limit %u)", id, DS__TOK_MAX_ID - 1);
        return;
    }
    if (len > UINT32_MAX / 2) {
        v->rc = ds__fail(DS_ERR_CORRUPT, "token of %zu bytes is too long", len);
        return;
    }
    ds__buf_put_u32(&v->pend, id);
    ds__buf_put_u32(&v->pend, (uint32_t)len);
    ds__buf_put(&v->pend, s, len);
    if (v->pend.rc != DS_OK) {
        v->rc = ds__fail(v->pend.rc, "out of memory while reading the vocabulary");
        return;
    }
    if (v->n_pend == 0 || id > v->max_id) v->max_id = id;
    v->n_pend++;
}

static inline uint64_t key_hash(const char *s, size_t len) { return ds__hash64(s, len); }

static ds_status table_alloc(ds__vocab *v, ds__vtable *t, size_t n) {
    size_t cap = 16;
    while (cap < n * 2) cap *= 2;     /* load factor <= 0.5: short probe chains */
    t->slots = ds__calloc(v->env, cap, sizeof *t->slots);
    if (t->slots == NULL) return ds__fail(DS_ERR_NOMEM, "out of memory for the vocabulary table");
    t->mask = cap - 1;
    return DS_OK;
}

static int32_t table_find(const ds__vocab *v, const ds__vtable *t, const char *s, size_t len,
                          size_t skip) {
    if (t->slots == NULL || len > t->max_key) return -1;
    uint64_t h = key_hash(s, len);
    uint32_t tag = (uint32_t)(h >> 32);
    for (size_t i = (size_t)h & t->mask;; i = (i + 1) & t->mask) {
        uint64_t e = t->slots[i];
        if (e == 0) return -1;
        if ((uint32_t)(e >> 32) != tag) continue;
        uint32_t id = (uint32_t)e - 1;
        size_t tl = v->off[id + 1] - v->off[id] - 1;
        if (tl == len + skip && memcmp(v->text + v->off[id] + skip, s, len) == 0) return (int32_t)id;
    }
}

/* Inserts id under key (s, len); an existing equal key is overwritten. */
static void table_put(ds__vocab *v, ds__vtable *t, const char *s, size_t len, size_t skip, uint32_t id) {
    uint64_t h = key_hash(s, len);
    uint32_t tag = (uint32_t)(h >> 32);
    for (size_t i = (size_t)h & t->mask;; i = (i + 1) & t->mask) {
        uint64_t e = t->slots[i];
        if (e != 0 && (uint32_t)(e >> 32) == tag) {
            uint32_t old = (uint32_t)e - 1;
            size_t tl = v->off[old + 1] - v->off[old] - 1;
            if (tl == len + skip && memcmp(v->text + v->off[old] + skip, s, len) == 0) {
                t->slots[i] = ((uint64_t)tag << 32) | ((uint64_t)id + 1);
                return;
            }
            continue;
        }
        if (e == 0) {
            t->slots[i] = ((uint64_t)tag << 32) | ((uint64_t)id + 1);
            if (len > t->max_key) t->max_key = len;
            return;
        }
    }
}

ds_status ds__vocab_finish(ds__vocab *v, const char *prefix, size_t prefix_len) {
    ds_status rc = v->rc;
    if (rc != DS_OK) return rc;
    if (v->n_pend == 0) return ds__fail(DS_ERR_CORRUPT, "the vocabulary is empty");
    size_t n_ids = (size_t)v->max_id + 1;
    /* Vocabularies are dense; a few tokens with a huge id would only make us
    ** allocate tables for ids that do not exist. Validate before allocating. */
    if (n_ids > 2 * v->n_pend + 1024)
        return v->rc = ds__fail(DS_ERR_CORRUPT, "token ids are sparse: largest id %u for %zu tokens", v->max_id, v->n_pend);
    /* Pass 1: the text of each id (last definition wins), as offsets into pend. */
    size_t *src = ds__calloc(v->env, n_ids, sizeof *src);   /* pend offset + 1; 0 = hole */
    if (src == NULL) return ds__fail(DS_ERR_NOMEM, "out of memory for the vocabulary");
    ds__reader r = { v->pend.p, v->pend.p + v->pend.len };
    size_t text_len = 0;
    for (size_t k = 0; k < v->n_pend; k++) {
        uint32_t id, len;
        const uint8_t *p;
        size_t at = (size_t)(r.cur - v->pend.p);
        if (!ds__take_u32(&r, &id) || !ds__take_u32(&r, &len) || !ds__take(&r, len, &p)) {
            rc = ds__fail(DS_ERR_INTERNAL, "vocabulary builder out of sync");
            goto done;
        }
        src[id] = at + 1;
    }
    for (size_t id = 0; id < n_ids; id++)
        if (src[id]) text_len += ds__load_u32le(v->pend.p + src[id] - 1 + 4) + 1;
    if (text_len > UINT32_MAX) { rc = ds__fail(DS_ERR_RANGE, "vocabulary text exceeds 4 GiB"); goto done; }
    v->off = ds__calloc(v->env, n_ids + 1, sizeof *v->off);
    v->has = ds__calloc(v->env, n_ids, 1);
    v->text = ds__alloc(v->env, text_len ? text_len : 1, 1);
    if (!v->off || !v->has || !v->text) { rc = ds__fail(DS_ERR_NOMEM, "out of memory for the vocabulary"); goto done; }
    v->n_ids = (uint32_t)n_ids;
    v->prefix_len = prefix_len;
    v->text_len = text_len;
    size_t pos = 0, n_cont = 0, n_tok = 0;
    for (size_t id = 0; id < n_ids; id++) {
        v->off[id] = (uint32_t)pos;
        if (!src[id]) continue;
        const uint8_t *e = v->pend.p + src[id] - 1;
        uint32_t len = ds__load_u32le(e + 4);
        memcpy(v->text + pos, e + 8, len);
        v->text[pos + len] = '\0';
        pos += len + 1;
        v->has[id] = 1;
        n_tok++;
        if (prefix_len > 0 && len >= prefix_len && memcmp(e + 8, prefix, prefix_len) == 0) n_cont++;
    }
    v->off[n_ids] = (uint32_t)pos;
    if ((rc = table_alloc(v, &v->whole, n_tok)) != DS_OK) goto done;
    if ((rc = table_alloc(v, &v->cont, n_cont ? n_cont : 1)) != DS_OK) goto done;
    /* Pass 2: insert in input order, so a later duplicate token wins. Ids
    ** whose text was redefined later point at the final text (hole-free). */
    r.cur = v->pend.p;
    for (size_t k = 0; k < v->n_pend; k++) {
        uint32_t id = 0, len = 0;
        const uint8_t *p = NULL;
        if (!ds__take_u32(&r, &id) || !ds__take_u32(&r, &len) || !ds__take(&r, len, &p)) break;
        size_t at = (size_t)(p - 8 - v->pend.p);
        if (src[id] != at + 1) continue;      /* this id was redefined later */
        table_put(v, &v->whole, (const char *)p, len, 0, id);
        if (prefix_len > 0 && len >= prefix_len && memcmp(p, prefix, prefix_len) == 0)
            table_put(v, &v->cont, (const char *)p + prefix_len, len - prefix_len, prefix_len, id);
    }
done:
    ds__free(v->env, src, n_ids * sizeof *src);
    ds__buf_release(&v->pend);
    v->n_pend = 0;
    if (rc != DS_OK) v->rc = rc;
    return rc;
}

void ds__vocab_release(ds__vocab *v) {
    ds__buf_release(&v->pend);
    ds__free(v->env, v->whole.slots, (v->whole.mask + 1) * sizeof(uint64_t));
    ds__free(v->env, v->cont.slots, (v->cont.mask + 1) * sizeof(uint64_t));
    ds__free(v->env, v->text, v->text_len ? v->text_len : 1);
    ds__free(v->env, v->has, v->n_ids);
    ds__free(v->env, v->off, ((size_t)v->n_ids + 1) * sizeof *v->off);
    memset(v, 0, sizeof *v);
}

int32_t ds__vocab_find(const ds__vocab *v, const char *s, size_t len, int cont) {
    return cont ? table_find(v, &v->cont, s, len, v->prefix_len) : table_find(v, &v->whole, s, len, 0);
}

const char *ds__vocab_token(const ds__vocab *v, int32_t id) {
    if (id < 0 || (uint32_t)id >= v->n_ids || !v->has[id]) return NULL;
    return v->text + v->off[id];
}
