/* student.h -- densearch-trained model kinds behind the ds_encoder API.
**
** A "student" is a model densearch trains itself (src/train/) and runs here,
** next to the transformer: ds_encoder_open recognises its directory by the
** file densearch_model.json (docs/format.md §5) and routes ds_encoder_encode
** to ds__student_encode. Three kinds:
**   lexdense  Luxical-style: token 1..N-grams hashed and looked up in a
**             bounded feature table, TF x pseudo-IDF, a sparse-by-dense first
**             layer that reads only the rows of the features present, then
**             dense layers; L2 normalisation after every layer, ReLU before
**             it on the hidden ones, no biases.
**   lsa       the same network with one layer (the truncated-SVD projection)
**             and unigram features: the floor a trained model must clear.
**   static    Model2Vec-style: the mean of per-token vectors, normalised.
**
** Tokens come from a WordPiece tokenizer stored in the model directory
** (tokenizer.json, normally the teacher's) or, for models trained without a
** teacher, from the lexical analyzer (src/text/analyzer.h) with the
** configuration recorded in densearch_model.json: a fresh machine has no
** WordPiece vocabulary, and the analyzer's stemmed words are what BM25 sees.
**
** The featurizer (tokens -> units -> n-gram hashes) is shared with training,
** so a model is run exactly as it was trained.
**
** Thread: a student is immutable once open; encode is Thread: any.
*/
#ifndef DS_MODEL_STUDENT_H
#define DS_MODEL_STUDENT_H

#include "ds_internal.h"
#include "text/analyzer.h"

#define DS__STUDENT_CONFIG      "densearch_model.json"
#define DS__STUDENT_FORMAT      1u     /* format_version this library writes and reads */
#define DS__STUDENT_MAX_LAYERS  8u
#define DS__STUDENT_MAX_NGRAM   5u
#define DS__STUDENT_MAX_WIDTH   8192u  /* widest hidden layer / output accepted */
#define DS__STUDENT_MAX_FEAT    (1u << 24)
/* Tokens read per text; the rest of a longer text is ignored (both in
** training and inference, so they agree). */
#define DS__STUDENT_MAX_TOKENS  8192u

typedef enum ds__student_kind { DS__SK_LEXDENSE = 0, DS__SK_STATIC, DS__SK_LSA } ds__student_kind;
typedef enum ds__unit_kind { DS__UNITS_WORDPIECE = 0, DS__UNITS_WORDS } ds__unit_kind;

const char *ds__student_kind_name(ds__student_kind k);

/* How text becomes units: WordPiece ids, or XXH3-64 hashes of analyzer terms. */
typedef struct ds__featurizer {
    ds__unit_kind       units;
    const ds_tokenizer *tok;        /* WORDPIECE: borrowed                       */
    ds__analyzer_cfg    an;         /* WORDS                                     */
    unsigned            max_ngram;  /* 1..DS__STUDENT_MAX_NGRAM                  */
} ds__featurizer;

/* Growable u64 array. */
typedef struct ds__u64vec {
    uint64_t *p;
    size_t    n, cap;
} ds__u64vec;
int  ds__u64vec_push(ds_env *env, ds__u64vec *v, uint64_t x);   /* 0 on OOM */
void ds__u64vec_release(ds_env *env, ds__u64vec *v);

/* Per-thread state of a featurizer (an analyzer for WORDS, a token buffer). */
typedef struct ds__feat_scratch {
    ds_env       *env;
    ds__analyzer *an;
    int32_t      *ids;        /* DS__STUDENT_MAX_TOKENS + 8 */
    ds__u64vec    units;
    ds_status     rc;         /* sticky OOM inside the analyzer callback */
} ds__feat_scratch;
ds_status ds__feat_scratch_init(ds_env *env, const ds__featurizer *f, ds__feat_scratch *s);
void      ds__feat_scratch_release(ds__feat_scratch *s);

/* Text -> units in s->units (replaced). At most DS__STUDENT_MAX_TOKENS. */
ds_status ds__feat_units(const ds__featurizer *f, ds__feat_scratch *s, const char *text, size_t len);
/* Hash of the n-gram units[0..n): XXH3-64 of the units as u64 little-endian
** (docs/format.md §5.3). */
uint64_t  ds__ngram_hash(const uint64_t *units, size_t n);

/* ------------------------------------------------------------------------ */
/* Configuration (densearch_model.json)                                      */
/* ------------------------------------------------------------------------ */
typedef struct ds__student_cfg {
    unsigned          format_version;
    ds__student_kind  kind;
    ds__unit_kind     units;
    ds__analyzer_cfg  an;                 /* WORDS only                          */
    unsigned          max_ngram;          /* lexdense/lsa                        */
    size_t            dim;                /* output dimension                    */
    size_t            n_layers;           /* lexdense/lsa: weight matrices       */
    size_t            widths[DS__STUDENT_MAX_LAYERS + 1];  /* [0] = features, [n_layers] = dim */
    size_t            vocab;              /* static: token vectors               */
} ds__student_cfg;

/* Parses densearch_model.json text (name for messages). DS_ERR_FORMAT for
** another file kind or a newer format_version, DS_ERR_CORRUPT for bad or
** missing fields. */
ds_status ds__student_cfg_parse(const char *json, size_t len, const char *name, ds__student_cfg *cfg);
/* Writes cfg as densearch_model.json text (a library allocation,
** ds__free(env, p, *len + 1)); extra: extra JSON members (informational,
** e.g. "\"teacher\": \"...\""), or NULL. */
ds_status ds__student_cfg_format(ds_env *env, const ds__student_cfg *cfg, const char *extra, char **out,
                                 size_t *len);

/* ------------------------------------------------------------------------ */
/* The runtime model                                                          */
/* ------------------------------------------------------------------------ */
typedef struct ds__student ds__student;

/* Opens the model in dir (densearch_model.json found there). */
ds_status ds__student_open(ds_env *env, const char *dir, ds__student **out);
void      ds__student_close(ds__student *s);
const ds__student_cfg *ds__student_config(const ds__student *s);
/* The WordPiece tokenizer, or NULL for WORDS models. */
const ds_tokenizer    *ds__student_tokenizer(const ds__student *s);

/* Embeddings of n texts (lens NULL: NUL-terminated) into out (n x dim), on
** n_threads threads. A text without any known feature gets the zero vector. */
ds_status ds__student_encode(const ds__student *s, const char *const *texts, const size_t *lens, size_t n,
                             unsigned n_threads, float *out);
/* Same from WordPiece ids (special tokens, if present, are skipped).
** DS_ERR_UNSUPPORTED for WORDS models. */
ds_status ds__student_encode_ids(const ds__student *s, const int32_t *const *ids, const size_t *lens,
                                 size_t n, unsigned n_threads, float *out);

/* Lexdense forward pass shared with training. Layer 0 input of one text:
** the feature rows it contains (with repeats: TF by repetition) -> z0 =
** sum idf[row] * W0[row]. Then h0 = z0/|z0|, h_i = norm(relu(h_{i-1} W_i))
** for hidden layers, out = norm(h_{L-1} W_{L-1}) (no ReLU on the last).
** Weight i is [widths[i], widths[i+1]] row-major (input-major). */
typedef struct ds__lexnet {
    size_t       n_layers;
    size_t       widths[DS__STUDENT_MAX_LAYERS + 1];
    const float *w[DS__STUDENT_MAX_LAYERS];
    const float *idf;              /* widths[0] */
} ds__lexnet;

/* out <- row-normalised in place; rows with norm below 1e-12 become 0. */
void ds__rows_normalize(float *x, size_t n, size_t d);
/* Pulls the feature rows of units (1..max_ngram grams) through the table of
** s into rows (appended; at most cap; returns the count). */
size_t ds__student_rows(const ds__student *s, const uint64_t *units, size_t n_units, uint32_t *rows,
                        size_t cap);

/* The sparse-by-dense product of layer 0: z[0..dim) += sum_k scale[rows[k]] *
** W[rows[k] * dim .. + dim). The AVX2 kernel keeps a block of z in registers
** while it walks the rows; the scalar one is its reference (t_train compares
** them). ds__rows_accum picks one from the env's kernel level. */
void ds__rows_accum_scalar(float *z, const float *W, size_t dim, const uint32_t *rows, size_t n, const float *scale);
void ds__rows_accum_avx2(float *z, const float *W, size_t dim, const uint32_t *rows, size_t n, const float *scale);
typedef void (*ds__rows_accum_fn)(float *, const float *, size_t, const uint32_t *, size_t, const float *);
ds__rows_accum_fn ds__rows_accum_for(const ds_env *env);

/* Feature table: open addressing over XXH3 hashes (already uniform). */
typedef struct ds__ftable {
    uint64_t *keys;
    uint32_t *vals;    /* row + 1; 0 = empty */
    size_t    mask;
} ds__ftable;
ds_status ds__ftable_build(ds_env *env, const uint64_t *hashes, size_t n, ds__ftable *t);
void      ds__ftable_release(ds_env *env, ds__ftable *t);
static inline int64_t ds__ftable_find(const ds__ftable *t, uint64_t h) {
    size_t i = (size_t)h & t->mask;
    for (;;) {
        uint32_t v = t->vals[i];
        if (v == 0) return -1;
        if (t->keys[i] == h) return (int64_t)v - 1;
        i = (i + 1) & t->mask;
    }
}
/* Rows of every 1..max_ngram gram of units found in t (with repeats). */
size_t ds__ftable_rows(const ds__ftable *t, unsigned max_ngram, const uint64_t *units, size_t n_units,
                       uint32_t *rows, size_t cap);

#endif /* DS_MODEL_STUDENT_H */
