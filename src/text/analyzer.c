/* analyzer.c -- text -> index terms for BM25: segmentation, normalisation,
** possessives, stop words, Snowball stemming. See analyzer.h for the
** pipeline and docs/format.md §2.2 for how its configuration is recorded.
**
** Hot path: most corpus text is ASCII, so ASCII bytes are classified through
** a table and ASCII words are lower-cased in place of the (allocating)
** utf8proc NFKC + case fold, which yields the same bytes for ASCII.
**
** Thread: one ds__analyzer per thread (it owns a libstemmer stemmer).
*/
#include "text/analyzer.h"

#include <libstemmer.h>
#include <utf8proc.h>

#include <stdlib.h>

enum { C_SEP = 0, C_LET, C_NUM, C_EXT, C_SINGLE, C_ML, C_MNL, C_MN, C_ENL };

struct ds__analyzer {
    ds_env            *env;
    ds__analyzer_cfg   cfg;
    struct sb_stemmer *stem;     /* NULL: no stemming */
};

/* Lucene's EnglishAnalyzer.ENGLISH_STOP_WORDS_SET, sorted for bsearch. */
static const char *const k_stop[] = {
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is", "it",
    "no", "not", "of", "on", "or", "such", "that", "the", "their", "then", "there", "these",
    "they", "this", "to", "was", "will", "with"
};

int ds__is_stopword(const char *w, size_t len) {
    if (len == 0 || len > 5) return 0;
    size_t lo = 0, hi = DS_ARRAY_LEN(k_stop);
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        const char *s = k_stop[mid];
        size_t sl = strlen(s);
        int c = memcmp(w, s, len < sl ? len : sl);
        if (c == 0) c = (len > sl) - (len < sl);
        if (c == 0) return 1;
        if (c < 0) hi = mid; else lo = mid + 1;
    }
    return 0;
}

ds_status ds__analyzer_cfg_make(ds__analyzer_cfg *cfg, const char *stemmer, int stopwords) {
    memset(cfg, 0, sizeof *cfg);
    cfg->version = DS__AN_VERSION;
    cfg->flags = DS__AN_POSSESSIVE | (stopwords ? DS__AN_STOPWORDS : 0);
    if (stemmer == NULL || stemmer[0] == '\0') stemmer = "english";
    if (strlen(stemmer) >= sizeof cfg->stemmer) return ds__fail(DS_ERR_INVALID, "stemmer name too long: %s", stemmer);
    if (strcmp(stemmer, "none") != 0) {
        struct sb_stemmer *s = sb_stemmer_new(stemmer, "UTF_8");
        if (s == NULL) return ds__fail(DS_ERR_INVALID, "unknown stemmer '%s' (libstemmer algorithms, or \"none\")", stemmer);
        sb_stemmer_delete(s);
    }
    memcpy(cfg->stemmer, stemmer, strlen(stemmer) + 1);
    return DS_OK;
}

ds_status ds__analyzer_create(ds_env *env, const ds__analyzer_cfg *cfg, ds__analyzer **out) {
    *out = NULL;
    env = DS_ENV(env);
    if (cfg->version != DS__AN_VERSION)
        return ds__fail(DS_ERR_FORMAT, "analyzer version %u is not supported (this library: %u)", cfg->version, DS__AN_VERSION);
    if (memchr(cfg->stemmer, '\0', sizeof cfg->stemmer) == NULL)
        return ds__fail(DS_ERR_CORRUPT, "analyzer stemmer name is not terminated");
    ds__analyzer *a = ds__calloc(env, 1, sizeof *a);
    if (a == NULL) return ds__fail(DS_ERR_NOMEM, "out of memory");
    a->env = env;
    a->cfg = *cfg;
    if (strcmp(cfg->stemmer, "none") != 0) {
        a->stem = sb_stemmer_new(cfg->stemmer, "UTF_8");
        if (a->stem == NULL) {
            ds__free(env, a, sizeof *a);
            return ds__fail(DS_ERR_INVALID, "cannot create stemmer '%s' (unknown algorithm or out of memory)", cfg->stemmer);
        }
    }
    *out = a;
    return DS_OK;
}

void ds__analyzer_destroy(ds__analyzer *a) {
    if (a == NULL) return;
    if (a->stem) sb_stemmer_delete(a->stem);
    ds__free(a->env, a, sizeof *a);
}

/* ASCII classes: letters, digits, and UAX #29 mid-word punctuation. */
static const uint8_t k_ascii[128] = {
    ['0'] = C_NUM, ['1'] = C_NUM, ['2'] = C_NUM, ['3'] = C_NUM, ['4'] = C_NUM,
    ['5'] = C_NUM, ['6'] = C_NUM, ['7'] = C_NUM, ['8'] = C_NUM, ['9'] = C_NUM,
    ['A'] = C_LET, ['B'] = C_LET, ['C'] = C_LET, ['D'] = C_LET, ['E'] = C_LET, ['F'] = C_LET,
    ['G'] = C_LET, ['H'] = C_LET, ['I'] = C_LET, ['J'] = C_LET, ['K'] = C_LET, ['L'] = C_LET,
    ['M'] = C_LET, ['N'] = C_LET, ['O'] = C_LET, ['P'] = C_LET, ['Q'] = C_LET, ['R'] = C_LET,
    ['S'] = C_LET, ['T'] = C_LET, ['U'] = C_LET, ['V'] = C_LET, ['W'] = C_LET, ['X'] = C_LET,
    ['Y'] = C_LET, ['Z'] = C_LET,
    ['a'] = C_LET, ['b'] = C_LET, ['c'] = C_LET, ['d'] = C_LET, ['e'] = C_LET, ['f'] = C_LET,
    ['g'] = C_LET, ['h'] = C_LET, ['i'] = C_LET, ['j'] = C_LET, ['k'] = C_LET, ['l'] = C_LET,
    ['m'] = C_LET, ['n'] = C_LET, ['o'] = C_LET, ['p'] = C_LET, ['q'] = C_LET, ['r'] = C_LET,
    ['s'] = C_LET, ['t'] = C_LET, ['u'] = C_LET, ['v'] = C_LET, ['w'] = C_LET, ['x'] = C_LET,
    ['y'] = C_LET, ['z'] = C_LET,
    ['\''] = C_MNL, ['.'] = C_MNL, [':'] = C_ML, [','] = C_MN, [';'] = C_MN, ['_'] = C_ENL,
};

static int class_of_cp(int32_t cp) {
    switch (cp) {   /* WordBreakProperty.txt: MidLetter, MidNumLet, MidNum */
    case 0x00B7: case 0x0387: case 0x05F4: case 0x2027: case 0xFE13: case 0xFE55: case 0xFF1A:
        return C_ML;
    case 0x2018: case 0x2019: case 0x2024: case 0xFE52: case 0xFF07: case 0xFF0E:
        return C_MNL;
    case 0x037E: case 0x0589: case 0x060C: case 0x060D: case 0x066C: case 0x07F8: case 0x2044:
    case 0xFE10: case 0xFE14: case 0xFE50: case 0xFE54: case 0xFF0C: case 0xFF1B:
        return C_MN;
    default: break;
    }
    if ((cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x20000 && cp <= 0x2FFFF) ||
        (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x3040 && cp <= 0x309F))
        return C_SINGLE;
    switch (utf8proc_category(cp)) {
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM: case UTF8PROC_CATEGORY_LO: case UTF8PROC_CATEGORY_NL:
        return C_LET;
    case UTF8PROC_CATEGORY_ND: case UTF8PROC_CATEGORY_NO:
        return C_NUM;
    case UTF8PROC_CATEGORY_MN: case UTF8PROC_CATEGORY_MC: case UTF8PROC_CATEGORY_ME:
    case UTF8PROC_CATEGORY_CF:
        return C_EXT;
    case UTF8PROC_CATEGORY_PC:
        return C_ENL;
    default:
        return C_SEP;
    }
}

/* Class and byte length of the code point at p[0..n); invalid bytes are
** one-byte separators. */
static inline int decode_class(const uint8_t *p, size_t n, size_t *k) {
    if (p[0] < 0x80) { *k = 1; return k_ascii[p[0]]; }
    utf8proc_int32_t cp;
    utf8proc_ssize_t r = utf8proc_iterate(p, (utf8proc_ssize_t)n, &cp);
    if (r <= 0) { *k = 1; return C_SEP; }
    *k = (size_t)r;
    return class_of_cp(cp);
}

typedef struct emit_ctx {
    ds__analyzer *a;
    ds__term_fn   fn;
    void         *ud;
    size_t        raw_beg, raw_end;
} emit_ctx;

/* Steps 3-6 on one normalised word. */
static void finish_word(emit_ctx *e, const char *w, size_t len) {
    const ds__analyzer *a = e->a;
    if (a->cfg.flags & DS__AN_POSSESSIVE) {
        if (len > 2 && w[len - 2] == '\'' && w[len - 1] == 's') len -= 2;
        else if (len > 4 && memcmp(w + len - 4, "\xE2\x80\x99s", 4) == 0) len -= 4;
    }
    if (len == 0 || len > DS__AN_MAX_TERM) return;
    if ((a->cfg.flags & DS__AN_STOPWORDS) && ds__is_stopword(w, len)) return;
    if (a->stem != NULL) {
        const sb_symbol *s = sb_stemmer_stem(a->stem, (const sb_symbol *)w, (int)len);
        if (s != NULL) {
            int sl = sb_stemmer_length(a->stem);
            if (sl > 0) e->fn(e->ud, (const char *)s, (size_t)sl, e->raw_beg, e->raw_end);
            return;
        }
        /* out of memory inside libstemmer: index the unstemmed word rather
        ** than lose it (cannot happen for ASCII-sized words in practice). */
    }
    e->fn(e->ud, w, len, e->raw_beg, e->raw_end);
}

typedef void (*word_fn)(emit_ctx *e, const char *text, size_t beg, size_t end);

/* UAX #29 word segmentation (letter/number subset, see analyzer.h). Calls fn
** for each word [beg, end) of text. */
static void segment(emit_ctx *e, const char *text, size_t len, word_fn fn) {
    const uint8_t *p = (const uint8_t *)text;
    size_t i = 0;
    while (i < len) {
        size_t k;
        int c = decode_class(p + i, len - i, &k);
        if (c == C_SINGLE) { fn(e, text, i, i + k); i += k; continue; }
        if (c != C_LET && c != C_NUM) { i += k; continue; }
        size_t j = i + k;
        int last = c;
        while (j < len) {
            size_t k2, k3;
            int c2 = decode_class(p + j, len - j, &k2);
            if (c2 == C_LET || c2 == C_NUM) { j += k2; last = c2; continue; }
            if (c2 == C_EXT) { j += k2; continue; }
            if (j + k2 >= len) break;
            int c3 = decode_class(p + j + k2, len - j - k2, &k3);
            int ok;
            if (c2 == C_ENL) ok = (c3 == C_LET || c3 == C_NUM);
            else if (c2 == C_ML) ok = (last == C_LET && c3 == C_LET);
            else if (c2 == C_MNL) ok = (last == C_LET && c3 == C_LET) || (last == C_NUM && c3 == C_NUM);
            else if (c2 == C_MN) ok = (last == C_NUM && c3 == C_NUM);
            else ok = 0;
            if (!ok) break;
            j += k2 + k3;
            last = c3;
        }
        fn(e, text, i, j);
        i = j;
    }
}

static void normalised_subword(emit_ctx *e, const char *text, size_t beg, size_t end) {
    finish_word(e, text + beg, end - beg);
}

/* Step 2 on one raw word. */
static void raw_word(emit_ctx *e, const char *text, size_t beg, size_t end) {
    size_t len = end - beg;
    const uint8_t *w = (const uint8_t *)text + beg;
    e->raw_beg = beg;
    e->raw_end = end;
    int ascii = 1;
    for (size_t i = 0; i < len; i++)
        if (w[i] >= 0x80) { ascii = 0; break; }
    if (ascii) {
        if (len > DS__AN_MAX_TERM) return;
        char low[DS__AN_MAX_TERM + 1];
        for (size_t i = 0; i < len; i++) low[i] = (char)(w[i] >= 'A' && w[i] <= 'Z' ? w[i] + 32 : w[i]);
        finish_word(e, low, len);
        return;
    }
    if (len > 4 * DS__AN_MAX_TERM) return;   /* cannot shrink below the term limit */
    utf8proc_uint8_t *norm = NULL;
    utf8proc_ssize_t n = utf8proc_map(w, (utf8proc_ssize_t)len, &norm,
                                      UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT |
                                      UTF8PROC_CASEFOLD | UTF8PROC_IGNORE);
    if (n < 0) {   /* only for out of memory: segmentation already ensured valid UTF-8 */
        free(norm);
        return;
    }
    /* NFKC can introduce separators ("㎏" stays one word, "¼" becomes "1⁄4"),
    ** so the normalised word is segmented again. */
    segment(e, (const char *)norm, (size_t)n, normalised_subword);
    free(norm);   /* allocated by utf8proc with malloc */
}

ds_status ds__analyze(ds__analyzer *a, const char *text, size_t len, ds__term_fn fn, void *ud) {
    emit_ctx e = { a, fn, ud, 0, 0 };
    if (len > 0) segment(&e, text, len, raw_word);
    return DS_OK;
}
