/* tokenizer.h -- internals of the BERT WordPiece tokenizer (src/text/).
**
** Pipeline (the one Hugging Face `tokenizers` runs for BERT models):
**   bytes --(lossy UTF-8 decode: each maximal invalid subpart -> U+FFFD)-->
**   added-token split on the raw text (tokens with normalized=false) -->
**   BertNormalizer (clean_text, handle_chinese_chars, NFD + drop Mn, lowercase) -->
**   BertPreTokenizer (split on White_Space, isolate punctuation) -->
**   WordPiece (greedy longest-match-first, "##" continuation) -->
**   TemplateProcessing ([CLS] A [SEP] / [CLS] A [SEP] B [SEP]) with truncation.
** Every stage except NFD canonical reordering is a per-code-point map, so the
** encoder streams: no intermediate normalized string, and ASCII goes through
** a 128-entry class table built at load time from the same definitions.
**
** Files: vocab.c (token table + hashes), tokenizer_json.c (loading
** tokenizer.json / vocab.txt + tokenizer_config.json), wordpiece.c (encoding
** and the public API).
**
** Invariants: after a successful load the tokenizer is immutable, so every
** encode call is Thread: any. All ids stored are in [0, n_ids).
*/
#ifndef DS_TEXT_TOKENIZER_H
#define DS_TEXT_TOKENIZER_H

#include "ds_internal.h"

/* Ids above this are rejected when loading: real vocabularies have < 1M
** tokens, and the bound keeps a hostile file from asking for a huge table. */
#define DS__TOK_MAX_ID (1u << 24)
/* Largest tokenizer file we read into memory (bytes). */
#define DS__TOK_MAX_FILE ((size_t)512 << 20)

/* ------------------------------------------------------------------------ */
/* Vocabulary: id -> token string, and token -> id through two hash tables  */
/* ------------------------------------------------------------------------ */
/* `whole` holds every token by its full text (used for the first piece of a
** word); `cont` holds tokens that start with the continuing-subword prefix,
** keyed by the text after the prefix, so the hot loop never concatenates
** "##" + piece. */
typedef struct ds__vtable {
    uint64_t *slots;     /* (hash high 32 bits << 32) | (id + 1); 0 = empty */
    size_t    mask;      /* capacity - 1 (power of two) */
    size_t    max_key;   /* longest key in bytes: bounds the greedy search */
} ds__vtable;

typedef struct ds__vocab {
    ds_env     *env;
    uint32_t    n_ids;      /* ids are [0, n_ids); some may be holes */
    uint32_t   *off;        /* n_ids + 1 offsets into text; off[i] == off[i+1]: hole or "" */
    uint8_t    *has;        /* n_ids flags: 1 if the id has a token */
    char       *text;       /* tokens, each followed by NUL */
    size_t      text_len;
    ds__vtable  whole, cont;
    size_t      prefix_len; /* bytes of the continuing-subword prefix */
    /* building */
    ds__buf     pend;       /* pending entries: u32 id, u32 len, bytes */
    size_t      n_pend;
    uint32_t    max_id;
    ds_status   rc;         /* sticky builder error */
} ds__vocab;

void      ds__vocab_init(ds__vocab *v, ds_env *env);
void      ds__vocab_add(ds__vocab *v, const char *s, size_t len, uint32_t id);   /* sticky errors */
ds_status ds__vocab_finish(ds__vocab *v, const char *prefix, size_t prefix_len);
void      ds__vocab_release(ds__vocab *v);
/* -1 when absent. cont != 0 looks the key up among "##"-prefixed tokens. */
int32_t   ds__vocab_find(const ds__vocab *v, const char *s, size_t len, int cont);
const char *ds__vocab_token(const ds__vocab *v, int32_t id);                     /* NULL if none */

/* ------------------------------------------------------------------------ */
/* Tokenizer                                                                  */
/* ------------------------------------------------------------------------ */
typedef struct ds__added_token {
    char    *content;     /* NUL-terminated, owned */
    size_t   len;         /* bytes */
    char    *norm;        /* normalized=true: the content normalized (what is matched), owned */
    size_t   norm_len, norm_cap;
    int32_t  id;
    uint8_t  special, normalized, lstrip, rstrip, single_word;
} ds__added_token;

enum { DS__TPL_SPECIAL = 0, DS__TPL_A = 1, DS__TPL_B = 2 };
#define DS__TPL_MAX_ITEMS 16
#define DS__TPL_MAX_IDS 64
typedef struct ds__tpl_item {
    uint8_t  kind;        /* DS__TPL_* */
    uint32_t type_id;
    uint32_t first, n;    /* DS__TPL_SPECIAL: ids are tpl_ids[first .. first+n) */
} ds__tpl_item;
typedef struct ds__template {
    ds__tpl_item items[DS__TPL_MAX_ITEMS];
    uint32_t     n_items;
    uint32_t     n_special;   /* ids added by the template */
} ds__template;

/* ASCII classes of the fast path (built from the general definitions). */
enum { DS__AC_SKIP = 0, DS__AC_SPACE, DS__AC_PUNCT, DS__AC_WORD };

struct ds_tokenizer {
    ds_env          *env;
    ds__vocab        vocab;
    ds__added_token *added;
    size_t           n_added;
    uint8_t          added_first[256];   /* 1 if some raw-matched added token starts with this byte */
    uint8_t          added_first_norm[256];  /* same for tokens matched on normalized text */
    int              has_normalized_added;
    /* BertNormalizer */
    int              clean_text, chinese, strip_accents, lowercase;
    int              has_normalizer;
    /* WordPiece */
    int32_t          unk_id;
    size_t           max_chars_per_word;
    size_t           prefix_len;
    /* post-processing */
    ds__template     single, pair;
    int32_t          tpl_ids[DS__TPL_MAX_IDS];
    uint32_t         n_tpl_ids;
    int32_t          special[5];          /* ds_special_token -> id or -1 */
    size_t           max_length;          /* truncation.max_length / model_max_length; 0 none */
    uint8_t          ascii_class[128];    /* DS__AC_* */
    uint8_t          ascii_map[128];      /* the byte after normalization (DS__AC_WORD/PUNCT) */
    char             source[32];          /* "tokenizer.json" or "vocab.txt" */
};

/* Loads from an in-memory tokenizer.json (name is used in messages), with an
** optional tokenizer_config.json (cfg may be NULL) for special-token names
** and model_max_length. */
ds_status ds__tokenizer_load_json(ds_env *env, const char *json, size_t len, const char *name,
                                  const char *cfg, size_t clen, const char *cname,
                                  ds_tokenizer **out);
/* Loads from an in-memory vocab.txt plus an optional tokenizer_config.json
** (cfg may be NULL). */
ds_status ds__tokenizer_load_vocab(ds_env *env, const char *vocab, size_t vlen, const char *vname,
                                   const char *cfg, size_t clen, const char *cname,
                                   ds_tokenizer **out);
/* Allocates an empty tokenizer with BERT defaults (used by the loaders). */
ds_status ds__tokenizer_new(ds_env *env, ds_tokenizer **out);
/* Called by the loaders once everything is parsed: builds the ASCII table,
** the added-token first-byte set and the special-token ids; validates. */
ds_status ds__tokenizer_finish(ds_tokenizer *tok, const char *const names[5]);

/* Reads a whole file (at most DS__TOK_MAX_FILE bytes) into a NUL-terminated
** buffer; *len excludes the NUL. Free with ds__free(env, p, len + 1).
** Returns DS_ERR_NOTFOUND when the file does not exist. */
ds_status ds__tok_read_file(ds_env *env, const char *path, char **out, size_t *len);

#endif /* DS_TEXT_TOKENIZER_H */
