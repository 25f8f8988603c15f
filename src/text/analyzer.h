/* analyzer.h -- the lexical analyzer: text -> index terms (BM25 side).
**
** Pipeline (docs/format.md §2.2 records its configuration in every index):
**   1. segmentation of the raw text on Unicode word boundaries (UAX #29 rules
**      WB5-WB13b for letters, numbers and the mid-word punctuation between
**      them; Extend/Format characters stay inside a word; each Han ideograph
**      or Hiragana character is a word of its own, as Lucene's
**      StandardTokenizer does);
**   2. per word: NFKC + Unicode case folding + removal of default-ignorable
**      characters (utf8proc); ASCII words take a lower-casing fast path that
**      gives the same bytes; a word that normalisation splits is re-segmented;
**   3. English possessive removal (trailing 's or ’s);
**   4. stop words (Lucene's default English set, 33 words), if enabled;
**   5. Snowball stemming (libstemmer), if enabled;
**   6. words longer than DS__AN_MAX_TERM bytes are dropped.
**
** Thread: an analyzer owns a stemmer (libstemmer is not re-entrant), so each
** thread uses its own ds__analyzer.
*/
#ifndef DS_ANALYZER_H
#define DS_ANALYZER_H

#include "ds_internal.h"

#define DS__AN_STOPWORDS  1u    /* flag: drop Lucene English stop words   */
#define DS__AN_POSSESSIVE 2u    /* flag: strip English possessive 's      */
#define DS__AN_MAX_TERM   255u  /* bytes                                  */
#define DS__AN_VERSION    1u    /* bump when the pipeline's output changes */

typedef struct ds__analyzer_cfg {
    uint32_t version;       /* DS__AN_VERSION */
    uint32_t flags;         /* DS__AN_* */
    char     stemmer[32];   /* Snowball algorithm name, or "none" */
} ds__analyzer_cfg;

typedef struct ds__analyzer ds__analyzer;

/* Fills cfg from a stemmer name (NULL = "english") and the stop-word flag.
** DS_ERR_INVALID if libstemmer does not know the algorithm. */
ds_status ds__analyzer_cfg_make(ds__analyzer_cfg *cfg, const char *stemmer, int stopwords);
ds_status ds__analyzer_create(ds_env *env, const ds__analyzer_cfg *cfg, ds__analyzer **out);
void      ds__analyzer_destroy(ds__analyzer *a);   /* NULL ok */

/* Called once per term, in text order. term is not NUL-terminated and valid
** only during the call; [raw_beg, raw_end) is the word's byte span in the
** analysed text (for highlighting). */
typedef void (*ds__term_fn)(void *ud, const char *term, size_t len, size_t raw_beg, size_t raw_end);

/* Analyses len bytes of text. Invalid UTF-8 bytes act as word separators
** (never an error). Returns DS_ERR_NOMEM only. */
ds_status ds__analyze(ds__analyzer *a, const char *text, size_t len, ds__term_fn fn, void *ud);

/* Is this (normalised) word in the stop list? */
int ds__is_stopword(const char *w, size_t len);

#endif /* DS_ANALYZER_H */
