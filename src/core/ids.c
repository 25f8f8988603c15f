/* ids.c -- the one rule for document and query ids (issue 14, item 4).
**
** Policy (README "Ids"): an id is 1..4096 bytes of valid UTF-8 with no
** whitespace of any kind (ASCII space/tab/newline, and Unicode White_Space:
** U+0085, U+00A0, U+1680, U+2000..U+200A, U+2028, U+2029, U+202F, U+205F,
** U+3000) and no control character (C0, DEL, C1). Ids end up as fields of
** TREC run and qrels lines, which trec_eval and densearch split on
** whitespace; an id that contains whitespace cannot survive that, and
** escaping it would make it differ from the same id in the qrels. So such ids
** are rejected where they enter: the corpus and query readers, the lexical
** builder, ds_run_add and the CLI's --qid/--tag.
*/
#include "ds_internal.h"

#define DS__ID_MAX 4096u

/* Decodes one UTF-8 sequence at p[0..n); returns its length (0 if invalid)
** and the code point in *cp. Overlongs, surrogates and > U+10FFFF are
** invalid. */
static size_t utf8_one(const unsigned char *p, size_t n, uint32_t *cp) {
    unsigned char c = p[0];
    if (c < 0x80) { *cp = c; return 1; }
    size_t len;
    uint32_t v, min;
    if (c >= 0xc2 && c <= 0xdf) { len = 2; v = c & 0x1f; min = 0x80; }
    else if (c >= 0xe0 && c <= 0xef) { len = 3; v = c & 0x0f; min = 0x800; }
    else if (c >= 0xf0 && c <= 0xf4) { len = 4; v = c & 0x07; min = 0x10000; }
    else return 0;
    if (n < len) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80) return 0;
        v = (v << 6) | (p[i] & 0x3f);
    }
    if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) return 0;
    *cp = v;
    return len;
}

static int is_space_or_control(uint32_t cp) {
    if (cp <= 0x20 || (cp >= 0x7f && cp <= 0xa0)) return 1;   /* C0, space, DEL, C1 (incl. U+0085), NBSP */
    switch (cp) {
    case 0x1680: case 0x2028: case 0x2029: case 0x202f: case 0x205f: case 0x3000: return 1;
    default: return cp >= 0x2000 && cp <= 0x200a;
    }
}

const char *ds__id_problem(const char *id, size_t len) {
    if (len == 0) return "is empty";
    if (len > DS__ID_MAX) return "is longer than 4096 bytes";
    const unsigned char *p = (const unsigned char *)id;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t k = utf8_one(p + i, len - i, &cp);
        if (k == 0) return "is not valid UTF-8";
        if (is_space_or_control(cp))
            return cp == 0 ? "contains a NUL character"
                 : (cp < 0x20 && cp != '\t' && cp != '\n' && cp != '\r') || (cp >= 0x7f && cp < 0xa0 && cp != 0x85)
                       ? "contains a control character"
                       : "contains whitespace (ids end up in whitespace-separated TREC files)";
        i += k;
    }
    return NULL;
}

ds_status ds_id_check(const char *id, size_t len) {
    if (id == NULL) return ds__fail(DS_ERR_INVALID, "null id");
    const char *why = ds__id_problem(id, len);
    if (why != NULL) return ds__fail(DS_ERR_INVALID, "id '%.*s' %s", (int)(len > 60 ? 60 : len), id, why);
    return DS_OK;
}
