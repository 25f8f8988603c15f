/* wordpiece.c -- BERT WordPiece encoding and the public ds_tokenizer_* API.
**
** Streams each text once: bytes -> code points (lossy UTF-8) -> added-token
** split -> BertNormalizer -> BertPreTokenizer -> WordPiece -> ids, with no
** allocation for single texts (the word buffer lives on the stack unless a
** tokenizer allows words longer than WORD_STACK bytes; tokenizers with
** normalized=true added tokens normalize each piece into a buffer first).
** Definitions follow Hugging Face `tokenizers` (normalizers/bert.rs,
** pre_tokenizers/bert.rs, models/wordpiece, added_vocabulary) as
** documented; each one is commented where it is used, and
** bench/tokenizer/run.sh checks them against the Rust library on every code
** point. Character properties come from utf8proc, masked to Unicode 8.0 where
** Hugging Face's tables are older (hf_unicode8.h).
**
** Invalid UTF-8: each maximal invalid subpart becomes U+FFFD (the Unicode /
** WHATWG "substitution of maximal subparts" that Python's and JavaScript's
** lossy decoders apply), which clean_text then removes, as the Rust library
** would after such a decode. It is never an error.
**
** Thread: any (the tokenizer is read-only after loading).
*/
#include "text/tokenizer.h"

#include <utf8proc.h>

#include "text/hf_unicode8.h"

#define WORD_STACK 1024       /* bytes of word buffer kept on the stack */
#define PEND_MAX   32         /* non-Mn combining marks awaiting canonical reordering */

/* ------------------------------------------------------------------------ */
/* Character classes (HF definitions, utf8proc properties)                   */
/* ------------------------------------------------------------------------ */
/* The category as Hugging Face's Unicode 8.0 tables see it: code points
** assigned later have none (Cn) there (hf_unicode8.h), and six code points
** whose General_Category changed after 8.0 keep their 8.0 value. Found and
** checked by the sweep over every code point in bench/tokenizer/run.sh. */
static utf8proc_category_t hf_category(int32_t c) {
    switch (c) {
    case 0x166D: return UTF8PROC_CATEGORY_PO;   /* CANADIAN SYLLABICS CHI SIGN: So since 12.0 */
    case 0x1734: return UTF8PROC_CATEGORY_MN;   /* HANUNOO SIGN PAMUDPOD: Mc since 14.0 */
    case 0x1885: case 0x1886:                   /* MONGOLIAN LETTER ALI GALI BALUDA: Mn since 9.0 */
        return UTF8PROC_CATEGORY_LO;
    case 0xA9BD: return UTF8PROC_CATEGORY_MC;   /* JAVANESE CONSONANT SIGN KERET: Mn since 12.0 */
    case 0x111C9: return UTF8PROC_CATEGORY_PO;  /* SHARADA SANDHI MARK: Mn since 11.0 */
    default: break;
    }
    if (c >= hf_newer_than_8[0].lo) {
        size_t lo = 0, hi = DS_ARRAY_LEN(hf_newer_than_8);
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (c < hf_newer_than_8[mid].lo) hi = mid;
            else if (c > hf_newer_than_8[mid].hi) lo = mid + 1;
            else return UTF8PROC_CATEGORY_CN;
        }
    }
    return utf8proc_category(c);
}

/* Rust's char::is_whitespace (the Unicode White_Space property): Zs, Zl, Zp,
** U+0009..U+000D and U+0085. Note U+001C..U+001F are not White_Space. */
static int is_rust_ws(int32_t c) {
    if (c < 128) return c == ' ' || (c >= 9 && c <= 13);
    if (c == 0x85) return 1;
    utf8proc_category_t k = utf8proc_category(c);
    return k == UTF8PROC_CATEGORY_ZS || k == UTF8PROC_CATEGORY_ZL || k == UTF8PROC_CATEGORY_ZP;
}
/* BertNormalizer: tab, LF and CR count as whitespace although they are Cc. */
static int is_bert_ws(int32_t c) { return c == '\t' || c == '\n' || c == '\r' || is_rust_ws(c); }
/* BertNormalizer's is_control: categories Cc, Cf, Co, Cs, except tab, LF,
** CR. Unassigned code points (Cn) are kept: the Rust library keeps them
** (checked over every code point by bench/tokenizer/run.sh). */
static int is_bert_control(int32_t c) {
    if (c == '\t' || c == '\n' || c == '\r') return 0;
    switch (hf_category(c)) {
    case UTF8PROC_CATEGORY_CC: case UTF8PROC_CATEGORY_CF:
    case UTF8PROC_CATEGORY_CO: case UTF8PROC_CATEGORY_CS:
        return 1;
    default:
        return 0;
    }
}
/* The CJK blocks BERT isolates (handle_chinese_chars). */
static int is_chinese(int32_t c) {
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
           (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
           (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
           (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}
/* BertPreTokenizer punctuation: ASCII punctuation (33-47, 58-64, 91-96,
** 123-126, which includes $+<=>^`| though they are symbols in Unicode) or
** any Unicode P* category. */
static int is_punct(int32_t c) {
    if (c < 128)
        return (c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126);
    switch (hf_category(c)) {
    case UTF8PROC_CATEGORY_PC: case UTF8PROC_CATEGORY_PD: case UTF8PROC_CATEGORY_PS:
    case UTF8PROC_CATEGORY_PE: case UTF8PROC_CATEGORY_PI: case UTF8PROC_CATEGORY_PF:
    case UTF8PROC_CATEGORY_PO:
        return 1;
    default:
        return 0;
    }
}

/* Decodes one code point; each maximal invalid subpart (a lead byte plus the
** continuation bytes that were valid so far) yields one U+FFFD. n >= 1. */
static size_t utf8_next(const uint8_t *s, size_t n, int32_t *cp) {
    uint8_t b = s[0], lo = 0x80, hi = 0xBF;
    size_t need;
    int32_t c;
    if (b < 0x80) { *cp = b; return 1; }
    if (b >= 0xC2 && b <= 0xDF) { need = 1; c = b & 0x1F; }
    else if (b >= 0xE0 && b <= 0xEF) { need = 2; c = b & 0x0F; if (b == 0xE0) lo = 0xA0; if (b == 0xED) hi = 0x9F; }
    else if (b >= 0xF0 && b <= 0xF4) { need = 3; c = b & 0x07; if (b == 0xF0) lo = 0x90; if (b == 0xF4) hi = 0x8F; }
    else { *cp = 0xFFFD; return 1; }
    for (size_t i = 1; i <= need; i++) {
        if (i >= n || s[i] < lo || s[i] > hi) { *cp = 0xFFFD; return i; }
        lo = 0x80; hi = 0xBF;
        c = (c << 6) | (s[i] & 0x3F);
    }
    *cp = c;
    return need + 1;
}

static size_t utf8_put(char *d, int32_t c) {
    if (c < 0x80) { d[0] = (char)c; return 1; }
    if (c < 0x800) { d[0] = (char)(0xC0 | (c >> 6)); d[1] = (char)(0x80 | (c & 0x3F)); return 2; }
    if (c < 0x10000) {
        d[0] = (char)(0xE0 | (c >> 12)); d[1] = (char)(0x80 | ((c >> 6) & 0x3F)); d[2] = (char)(0x80 | (c & 0x3F));
        return 3;
    }
    d[0] = (char)(0xF0 | (c >> 18)); d[1] = (char)(0x80 | ((c >> 12) & 0x3F));
    d[2] = (char)(0x80 | ((c >> 6) & 0x3F)); d[3] = (char)(0x80 | (c & 0x3F));
    return 4;
}

/* ------------------------------------------------------------------------ */
/* Output sink                                                               */
/* ------------------------------------------------------------------------ */
/* Ids are counted even past cap, so callers learn the size they need. A
** growable sink (pairs) reallocates instead. */
typedef struct sink {
    int32_t  *ids;
    size_t    cap, n;
    size_t    limit;     /* stop encoding once n reaches this (truncation) */
    ds_env   *env;       /* non-NULL: growable, owned buffer */
    ds_status rc;
} sink;

static void sink_grow(sink *s) {
    size_t ncap = s->cap ? s->cap * 2 : 256, bytes, old;
    if (!ds__mul_ok(ncap, sizeof(int32_t), &bytes)) { s->rc = DS_ERR_RANGE; return; }
    old = s->cap * sizeof(int32_t);
    int32_t *p = ds__realloc(s->env, s->ids, old, bytes);
    if (p == NULL) { s->rc = DS_ERR_NOMEM; return; }
    s->ids = p;
    s->cap = ncap;
}

static inline void sink_push(sink *s, int32_t id) {
    if (s->n >= s->cap && s->env != NULL && s->rc == DS_OK) sink_grow(s);
    if (s->n < s->cap) s->ids[s->n] = id;
    s->n++;
}

/* ------------------------------------------------------------------------ */
/* Encoder state                                                             */
/* ------------------------------------------------------------------------ */
typedef struct enc {
    const ds_tokenizer *tok;
    sink   *out;
    char   *word;          /* current word, normalized UTF-8 */
    size_t  wlen, wcap;    /* bytes */
    size_t  wchars;        /* code points (counted past max_chars_per_word) */
    char   *heap;          /* word buffer when it outgrows the stack one */
    int32_t pend[PEND_MAX];
    uint8_t pend_ccc[PEND_MAX];
    int     n_pend;
    int     stop;          /* truncation limit reached */
    ds__buf *collect;      /* non-NULL: normalized text goes here, not to the pre-tokenizer */
    ds_status rc;
} enc;

static void word_grow(enc *e, size_t need) {
    ds_env *env = e->tok->env;
    size_t ncap = e->wcap * 2;
    while (ncap < need) ncap *= 2;
    char *p = ds__alloc(env, ncap, 1);
    if (p == NULL) { e->rc = DS_ERR_NOMEM; e->stop = 1; return; }
    memcpy(p, e->word, e->wlen);
    if (e->heap) ds__free(env, e->heap, e->wcap);
    e->heap = e->word = p;
    e->wcap = ncap;
}

static inline void word_put(enc *e, const char *b, size_t n) {
    /* A word longer than max_chars_per_word becomes [UNK] whatever it holds,
    ** so its bytes past the limit need not be kept. */
    if (++e->wchars > e->tok->max_chars_per_word) return;
    if (e->wlen + n > e->wcap) {
        word_grow(e, e->wlen + n);
        if (e->rc != DS_OK) return;
    }
    memcpy(e->word + e->wlen, b, n);
    e->wlen += n;
}

/* WordPiece on one pre-token: greedy longest-match-first; the first piece is
** looked up as is, later ones with the "##" prefix; if some position has no
** match the whole word is one [UNK]. The end of each candidate is capped at
** the longest key of the table, which changes nothing but the work done. */
static void wordpiece(enc *e) {
    const ds_tokenizer *t = e->tok;
    const ds__vocab *v = &t->vocab;
    const char *w = e->word;
    size_t len = e->wlen, start = 0, n0 = e->out->n;
    while (start < len) {
        const ds__vtable *tab = start == 0 ? &v->whole : &v->cont;
        size_t end = len;
        if (end - start > tab->max_key) {
            end = start + tab->max_key;
            while (end > start && ((uint8_t)w[end] & 0xC0) == 0x80) end--;   /* char boundary */
        }
        int32_t id = -1;
        while (end > start) {
            id = ds__vocab_find(v, w + start, end - start, start != 0);
            if (id >= 0) break;
            do end--; while (end > start && ((uint8_t)w[end] & 0xC0) == 0x80);
        }
        if (id < 0) {
            e->out->n = n0;
            sink_push(e->out, t->unk_id);
            return;
        }
        sink_push(e->out, id);
        start = end;
    }
}

static void word_end(enc *e) {
    if (e->wchars == 0) return;
    if (e->wchars > e->tok->max_chars_per_word) sink_push(e->out, e->tok->unk_id);
    else wordpiece(e);
    e->wlen = e->wchars = 0;
    if (e->out->n >= e->out->limit) e->stop = 1;
}

/* BertPreTokenizer on a normalized code point: White_Space ends the word
** (and is dropped), punctuation is a word of its own. */
static void pretok_cp(enc *e, int32_t c) {
    char b[4];
    if (e->collect != NULL) { ds__buf_put(e->collect, b, utf8_put(b, c)); return; }
    if (is_rust_ws(c)) { word_end(e); return; }
    if (is_punct(c)) {
        word_end(e);
        word_put(e, b, utf8_put(b, c));
        word_end(e);
        return;
    }
    word_put(e, b, utf8_put(b, c));
}

/* Lowercase as Rust's char::to_lowercase: the simple mapping, except U+0130
** whose full lowercase is "i" + U+0307 (the only unconditional multi-char
** lowercase mapping in SpecialCasing.txt). */
static void lower_cp(enc *e, int32_t c) {
    if (!e->tok->lowercase) { pretok_cp(e, c); return; }
    if (c == 0x130) { pretok_cp(e, 'i'); pretok_cp(e, 0x307); return; }
    pretok_cp(e, utf8proc_tolower(c));
}

/* Combining marks that survive strip_accents (non-Mn with a non-zero
** combining class) are held until the next starter, then emitted in
** canonical order as NFD of the whole string would leave them. */
static void flush_pending(enc *e) {
    for (int i = 1; i < e->n_pend; i++) {          /* stable insertion sort by ccc */
        int32_t c = e->pend[i];
        uint8_t k = e->pend_ccc[i];
        int j = i - 1;
        while (j >= 0 && e->pend_ccc[j] > k) { e->pend[j + 1] = e->pend[j]; e->pend_ccc[j + 1] = e->pend_ccc[j]; j--; }
        e->pend[j + 1] = c;
        e->pend_ccc[j + 1] = k;
    }
    int n = e->n_pend;
    e->n_pend = 0;
    for (int i = 0; i < n; i++) lower_cp(e, e->pend[i]);
}

/* strip_accents: NFD, then drop nonspacing marks (Mn). */
static void strip_cp(enc *e, int32_t c) {
    if (!e->tok->strip_accents) { lower_cp(e, c); return; }
    utf8proc_int32_t d[16];
    int last = 0;
    utf8proc_ssize_t n = 1;
    if (c >= 0xC0) n = utf8proc_decompose_char(c, d, 16, UTF8PROC_DECOMPOSE, &last);
    if (n <= 0 || n > 16 || c < 0xC0) { n = 1; d[0] = c; }
    for (utf8proc_ssize_t i = 0; i < n; i++) {
        const utf8proc_property_t *p = utf8proc_get_property(d[i]);
        if (hf_category(d[i]) == UTF8PROC_CATEGORY_MN) continue;
        if (p->combining_class != 0) {
            if (e->n_pend == PEND_MAX) flush_pending(e);
            e->pend[e->n_pend] = d[i];
            e->pend_ccc[e->n_pend++] = (uint8_t)p->combining_class;
            continue;
        }
        if (e->n_pend) flush_pending(e);
        lower_cp(e, d[i]);
    }
}

/* BertNormalizer on one input code point, in HF's order: clean_text,
** handle_chinese_chars, strip_accents, lowercase. */
static void normalize_cp(enc *e, int32_t c) {
    const ds_tokenizer *t = e->tok;
    if (t->clean_text) {
        if (c == 0 || c == 0xFFFD || is_bert_control(c)) return;
        if (is_bert_ws(c)) c = ' ';
    }
    if (t->chinese && is_chinese(c)) {
        strip_cp(e, ' ');
        strip_cp(e, c);
        strip_cp(e, ' ');
        return;
    }
    strip_cp(e, c);
}

/* Normalizes and pre-tokenizes a piece of raw text that contains no
** raw-matched added token (or, in collect mode, only normalizes it). */
static void normalize_piece(enc *e, const uint8_t *s, size_t n) {
    const ds_tokenizer *t = e->tok;
    size_t i = 0;
    while (i < n && !e->stop) {
        uint8_t b = s[i];
        if (b < 0x80 && e->collect == NULL) {
            uint8_t cls = t->ascii_class[b];
            /* A removed control character does not end a run of combining
            ** marks: clean_text runs before NFD. */
            if (e->n_pend && cls != DS__AC_SKIP) flush_pending(e);
            if (cls == DS__AC_WORD) {
                /* ASCII fast path: a run of word bytes goes straight into the word. */
                do {
                    if (++e->wchars <= t->max_chars_per_word) {
                        if (e->wlen >= e->wcap) { e->wchars--; word_put(e, (const char *)&t->ascii_map[b], 1); if (e->rc) return; }
                        else e->word[e->wlen++] = (char)t->ascii_map[b];
                    }
                    i++;
                } while (i < n && (b = s[i]) < 0x80 && t->ascii_class[b] == DS__AC_WORD);
                continue;
            }
            if (cls == DS__AC_SPACE) word_end(e);
            else if (cls == DS__AC_PUNCT) {
                word_end(e);
                word_put(e, (const char *)&t->ascii_map[b], 1);
                word_end(e);
            }
            i++;
            continue;
        }
        int32_t c;
        i += utf8_next(s + i, n - i, &c);
        normalize_cp(e, c);
    }
    if (e->n_pend) flush_pending(e);
    word_end(e);
}

static int ascii_ws(uint8_t b) { return b == ' ' || (b >= 9 && b <= 13); }
static int ascii_wordch(uint8_t b) { return (b >= '0' && b <= '9') || ((b | 0x20) >= 'a' && (b | 0x20) <= 'z') || b == '_'; }

/* The longest added token of the given kind (normalized or matched on raw
** text) starting at s, or NULL. */
static const ds__added_token *match_added(const ds_tokenizer *t, const uint8_t *s, size_t n, int normalized) {
    const ds__added_token *best = NULL;
    for (size_t k = 0; k < t->n_added; k++) {
        const ds__added_token *a = &t->added[k];
        if (a->normalized != normalized) continue;
        const char *m = normalized ? a->norm : a->content;
        size_t ml = normalized ? a->norm_len : a->len;
        if (ml == 0 || ml > n || memcmp(s, m, ml) != 0) continue;
        if (best == NULL || ml > (normalized ? best->norm_len : best->len)) best = a;
    }
    return best;
}

static void encode_piece(enc *e, const uint8_t *s, size_t n);

/* Pre-tokenizes normalized UTF-8 (written by us, so valid). */
static void pretok_normalized(enc *e, const uint8_t *s, size_t n) {
    size_t i = 0;
    while (i < n && !e->stop) {
        int32_t c;
        i += utf8_next(s + i, n - i, &c);
        pretok_cp(e, c);
    }
    word_end(e);
}

/* Splits text on added tokens (leftmost-longest, as HF's AddedVocabulary):
** pass 0 matches tokens with normalized=false on the raw text and hands the
** rest to encode_piece; pass 1 matches normalized=true tokens on normalized
** text and hands the rest to the pre-tokenizer. */
static void split_added(enc *e, const uint8_t *s, size_t len, int pass) {
    const ds_tokenizer *t = e->tok;
    const uint8_t *first = pass ? t->added_first_norm : t->added_first;
    size_t seg = 0, i = 0;
    while (i < len && !e->stop) {
        if (!first[s[i]]) { i++; continue; }
        const ds__added_token *a = match_added(t, s + i, len - i, pass);
        if (a == NULL) { i++; continue; }
        /* single_word: the match must not touch a word character (ASCII
        ** letters, digits, '_'; non-ASCII neighbours are not checked). */
        size_t mlen = pass ? a->norm_len : a->len;
        if (a->single_word && ((i > 0 && ascii_wordch(s[i - 1])) ||
                               (i + mlen < len && ascii_wordch(s[i + mlen])))) { i++; continue; }
        size_t piece_end = i;
        if (a->lstrip) while (piece_end > seg && ascii_ws(s[piece_end - 1])) piece_end--;
        if (pass) pretok_normalized(e, s + seg, piece_end - seg);
        else encode_piece(e, s + seg, piece_end - seg);
        if (e->stop) return;
        sink_push(e->out, a->id);
        if (e->out->n >= e->out->limit) { e->stop = 1; return; }
        i += mlen;
        if (a->rstrip) while (i < len && ascii_ws(s[i])) i++;
        seg = i;
    }
    if (e->stop) return;
    if (pass) pretok_normalized(e, s + seg, len - seg);
    else encode_piece(e, s + seg, len - seg);
}

/* A raw piece: straight through the streaming pipeline, unless some added
** token is matched on normalized text; then the piece is normalized into a
** buffer first (the slow path: one allocation per piece). */
static void encode_piece(enc *e, const uint8_t *s, size_t n) {
    if (!e->tok->has_normalized_added) { normalize_piece(e, s, n); return; }
    ds__buf b;
    ds__buf_init(&b, e->tok->env);
    e->collect = &b;
    normalize_piece(e, s, n);
    e->collect = NULL;
    if (b.rc != DS_OK) { e->rc = b.rc; e->stop = 1; }
    else if (b.len > 0) split_added(e, b.p, b.len, 1);
    ds__buf_release(&b);
}

static void encode_seq(enc *e, const char *text, size_t len) {
    split_added(e, (const uint8_t *)text, len, 0);
}

/* Runs the whole pipeline for one sequence into out. */
static ds_status encode_text(const ds_tokenizer *t, const char *text, size_t len, sink *out) {
    char stack[WORD_STACK];
    enc e;
    memset(&e, 0, sizeof e);
    e.tok = t;
    e.out = out;
    e.word = stack;
    e.wcap = sizeof stack;
    if (out->limit > 0) encode_seq(&e, text, len);
    if (e.heap) ds__free(t->env, e.heap, e.wcap);
    if (e.rc != DS_OK) return ds__fail(e.rc, "out of memory while tokenizing");
    if (out->rc != DS_OK) return ds__fail(out->rc, "out of memory for token ids");
    return DS_OK;
}

/* ------------------------------------------------------------------------ */
/* Setup shared by the loaders                                                */
/* ------------------------------------------------------------------------ */
ds_status ds__tokenizer_new(ds_env *env, ds_tokenizer **out) {
    *out = NULL;
    env = DS_ENV(env);
    ds_tokenizer *t = ds__calloc(env, 1, sizeof *t);
    if (t == NULL) return ds__fail(DS_ERR_NOMEM, "out of memory");
    t->env = env;
    ds__vocab_init(&t->vocab, env);
    t->clean_text = t->chinese = t->strip_accents = t->lowercase = 1;
    t->has_normalizer = 1;
    t->unk_id = -1;
    t->max_chars_per_word = 100;
    for (int i = 0; i < 5; i++) t->special[i] = -1;
    *out = t;
    return DS_OK;
}

static int32_t find_token(const ds_tokenizer *t, const char *s) {
    for (size_t k = 0; k < t->n_added; k++)
        if (strcmp(t->added[k].content, s) == 0) return t->added[k].id;
    return ds__vocab_find(&t->vocab, s, strlen(s), 0);
}

ds_status ds__tokenizer_finish(ds_tokenizer *t, const char *const names[5]) {
    if (!t->has_normalizer) t->clean_text = t->chinese = t->strip_accents = t->lowercase = 0;
    /* The ASCII table is computed with the general definitions, so the fast
    ** path cannot disagree with the slow one. */
    for (int b = 0; b < 128; b++) {
        int32_t c = b;
        uint8_t cls;
        if (t->clean_text && (c == 0 || is_bert_control(c))) { t->ascii_class[b] = DS__AC_SKIP; continue; }
        if (t->clean_text && is_bert_ws(c)) c = ' ';
        if (t->lowercase) c = utf8proc_tolower(c);
        if (is_rust_ws(c)) cls = DS__AC_SPACE;
        else if (is_punct(c)) cls = DS__AC_PUNCT;
        else cls = DS__AC_WORD;
        t->ascii_class[b] = cls;
        t->ascii_map[b] = (uint8_t)c;
    }
    /* Tokens with normalized=true are matched in their normalized form. */
    for (size_t k = 0; k < t->n_added; k++) {
        ds__added_token *a = &t->added[k];
        if (!a->normalized || a->norm != NULL) continue;
        ds__buf b;
        ds__buf_init(&b, t->env);
        enc e;
        memset(&e, 0, sizeof e);
        sink none = { NULL, 0, 0, SIZE_MAX, NULL, DS_OK };
        char stack[16];
        e.tok = t;
        e.out = &none;
        e.word = stack;
        e.wcap = sizeof stack;
        e.collect = &b;
        normalize_piece(&e, (const uint8_t *)a->content, a->len);
        ds__buf_put_u8(&b, 0);
        if (b.rc != DS_OK || e.rc != DS_OK) { ds__buf_release(&b); return ds__fail(DS_ERR_NOMEM, "out of memory"); }
        a->norm = (char *)b.p;          /* allocated with b.cap bytes: keep the size */
        a->norm_len = b.len - 1;
        a->norm_cap = b.cap;
    }
    memset(t->added_first, 0, sizeof t->added_first);
    memset(t->added_first_norm, 0, sizeof t->added_first_norm);
    t->has_normalized_added = 0;
    for (size_t k = 0; k < t->n_added; k++) {
        const ds__added_token *a = &t->added[k];
        if (a->len == 0) continue;
        if (a->normalized) {
            if (a->norm_len == 0) continue;            /* normalizes to nothing: never matches */
            t->added_first_norm[(uint8_t)a->norm[0]] = 1;
            t->has_normalized_added = 1;
        }
        else t->added_first[(uint8_t)a->content[0]] = 1;
    }
    for (int i = 0; i < 5; i++) t->special[i] = names[i] ? find_token(t, names[i]) : -1;
    size_t vs = ds_tokenizer_vocab_size(t);
    if (t->unk_id < 0 || (size_t)t->unk_id >= vs)
        return ds__fail(DS_ERR_CORRUPT, "the unknown token is not in the vocabulary");
    for (uint32_t i = 0; i < t->n_tpl_ids; i++)
        if (t->tpl_ids[i] < 0 || (size_t)t->tpl_ids[i] >= vs)
            return ds__fail(DS_ERR_CORRUPT, "post_processor: special token id %d is outside the vocabulary (%zu ids)",
                            (int)t->tpl_ids[i], vs);
    return DS_OK;
}

/* ------------------------------------------------------------------------ */
/* Public API                                                                */
/* ------------------------------------------------------------------------ */
void ds_tokenizer_close(ds_tokenizer *tok) {
    if (tok == NULL) return;
    ds_env *env = tok->env;
    for (size_t k = 0; k < tok->n_added; k++) {
        ds__free(env, tok->added[k].content, tok->added[k].len + 1);
        ds__free(env, tok->added[k].norm, tok->added[k].norm_cap);
    }
    ds__free(env, tok->added, tok->n_added * sizeof *tok->added);
    ds__vocab_release(&tok->vocab);
    ds__free(env, tok, sizeof *tok);
}

size_t ds_tokenizer_vocab_size(const ds_tokenizer *tok) {
    if (tok == NULL) return 0;
    size_t n = tok->vocab.n_ids;
    for (size_t k = 0; k < tok->n_added; k++)
        if ((size_t)tok->added[k].id + 1 > n) n = (size_t)tok->added[k].id + 1;
    return n;
}

const char *ds_tokenizer_token(const ds_tokenizer *tok, int32_t id) {
    if (tok == NULL || id < 0) return NULL;
    for (size_t k = 0; k < tok->n_added; k++)
        if (tok->added[k].id == id) return tok->added[k].content;
    return ds__vocab_token(&tok->vocab, id);
}

int32_t ds_tokenizer_special(const ds_tokenizer *tok, ds_special_token which) {
    if (tok == NULL || (int)which < 0 || (int)which >= 5) return -1;
    return tok->special[which];
}

size_t ds_tokenizer_max_length(const ds_tokenizer *tok) { return tok ? tok->max_length : 0; }

size_t ds_tokenizer_num_special(const ds_tokenizer *tok, int pair) {
    if (tok == NULL) return 0;
    return pair ? tok->pair.n_special : tok->single.n_special;
}

/* Writes the template's ids: special tokens from tpl_ids, sequences from
** a / b (lengths na / nb); positions at or past cap are only counted. */
static size_t assemble(const ds_tokenizer *t, const ds__template *tp, const int32_t *a, size_t na,
                       const int32_t *b, size_t nb, int32_t *ids, int32_t *type_ids, size_t cap) {
    size_t pos = 0;
    for (uint32_t k = 0; k < tp->n_items; k++) {
        const ds__tpl_item *it = &tp->items[k];
        const int32_t *src = it->kind == DS__TPL_A ? a : it->kind == DS__TPL_B ? b : t->tpl_ids + it->first;
        size_t n = it->kind == DS__TPL_A ? na : it->kind == DS__TPL_B ? nb : it->n;
        for (size_t i = 0; i < n; i++, pos++) {
            if (pos >= cap) continue;
            if (src != NULL && ids + pos != src + i) ids[pos] = src[i];
            if (type_ids) type_ids[pos] = (int32_t)it->type_id;
        }
    }
    return pos;
}

ds_status ds_tokenizer_encode(const ds_tokenizer *tok, const char *text, size_t len, size_t max_tokens,
                              int32_t *ids, size_t cap, size_t *n) {
    if (n != NULL) *n = 0;
    if (tok == NULL || n == NULL || (text == NULL && len > 0) || (ids == NULL && cap > 0))
        return ds__fail(DS_ERR_INVALID, "ds_tokenizer_encode: null argument");
    const ds__template *tp = &tok->single;
    if (max_tokens > 0 && max_tokens < tp->n_special)
        return ds__fail(DS_ERR_INVALID, "max_tokens %zu is less than the %u special tokens the template adds",
                        max_tokens, tp->n_special);
    /* Sequence A is encoded in place, right after the special ids before it. */
    size_t pre = 0;
    for (uint32_t k = 0; k < tp->n_items && tp->items[k].kind != DS__TPL_A; k++) pre += tp->items[k].n;
    sink s = { ids + (cap > pre ? pre : cap), cap > pre ? cap - pre : 0, 0,
               max_tokens > 0 ? max_tokens - tp->n_special : SIZE_MAX, NULL, DS_OK };
    if (cap == 0) s.ids = NULL;
    ds_status rc = encode_text(tok, text ? text : "", len, &s);
    if (rc != DS_OK) return rc;
    size_t na = DS_MIN(s.n, s.limit);
    size_t total = assemble(tok, tp, s.ids, na, NULL, 0, ids, NULL, cap);
    *n = total;
    if (total > cap) return ds__fail(DS_ERR_RANGE, "the text has %zu tokens; the buffer holds %zu", total, cap);
    return DS_OK;
}

/* HF's LongestFirst truncation of a pair to budget tokens (tokenizers'
** truncate_encodings): if the shorter one fits, the longer keeps the rest;
** otherwise both get half, the longer one (the second on a tie) the odd one. */
static void truncate_pair(size_t la, size_t lb, size_t budget, size_t *ka, size_t *kb) {
    *ka = la;
    *kb = lb;
    if (la + lb <= budget) return;
    size_t n1 = la, n2 = lb;
    int swap = 0;
    if (n1 > n2) { swap = 1; n1 = lb; n2 = la; }
    if (n1 > budget) n2 = n1;
    else n2 = DS_MAX(n1, budget - n1);
    if (n1 + n2 > budget) { n1 = budget / 2; n2 = n1 + budget % 2; }
    if (swap) { size_t x = n1; n1 = n2; n2 = x; }
    *ka = DS_MIN(la, n1);
    *kb = DS_MIN(lb, n2);
}

ds_status ds_tokenizer_encode_pair(const ds_tokenizer *tok, const char *a, size_t alen, const char *b,
                                   size_t blen, size_t max_tokens, int32_t *ids, int32_t *type_ids,
                                   size_t cap, size_t *n) {
    if (n != NULL) *n = 0;
    if (tok == NULL || n == NULL || (a == NULL && alen > 0) || (b == NULL && blen > 0) ||
        (cap > 0 && (ids == NULL || type_ids == NULL)))
        return ds__fail(DS_ERR_INVALID, "ds_tokenizer_encode_pair: null argument");
    const ds__template *tp = &tok->pair;
    if (max_tokens > 0 && max_tokens < tp->n_special)
        return ds__fail(DS_ERR_INVALID, "max_tokens %zu is less than the %u special tokens the pair template adds",
                        max_tokens, tp->n_special);
    sink sa = { NULL, 0, 0, SIZE_MAX, tok->env, DS_OK }, sb = sa;
    ds_status rc = encode_text(tok, a ? a : "", alen, &sa);
    if (rc == DS_OK) rc = encode_text(tok, b ? b : "", blen, &sb);
    if (rc == DS_OK) {
        size_t ka = sa.n, kb = sb.n;
        if (max_tokens > 0) truncate_pair(sa.n, sb.n, max_tokens - tp->n_special, &ka, &kb);
        size_t total = assemble(tok, tp, sa.ids, ka, sb.ids, kb, ids, type_ids, cap);
        *n = total;
        if (total > cap) rc = ds__fail(DS_ERR_RANGE, "the pair has %zu tokens; the buffer holds %zu", total, cap);
    }
    ds__free(tok->env, sa.ids, sa.cap * sizeof(int32_t));
    ds__free(tok->env, sb.ids, sb.cap * sizeof(int32_t));
    return rc;
}
