/* densearch.h -- public interface of the densearch retrieval engine.
**
** Anything not declared here is private and may change without notice.
**
** Conventions that hold for every function below:
**   - Every fallible function returns ds_status. Results are written through
**     out-parameters, which are cleared (NULL / 0) first, so a failed call never
**     leaves a dangling value behind.
**   - ds_errmsg() gives a human-readable reason for the calling thread's last
**     failure; it is thread-local, so concurrent searches do not race on it.
**   - Ownership: the caller owns what it allocates. Buffers passed in are
**     borrowed for the call only. Pointers returned by getters are borrowed and
**     valid until the handle is closed. Anything the library allocates *for* the
**     caller is released with the matching _free/_destroy/_close, or ds_free()
**     for plain strings and arrays. Never use libc free() on them.
**   - Option structs are initialised with ds_<x>_opts_init(&o), which sets
**     o.struct_size and the defaults; the library reads only the fields that fit
**     inside struct_size, so fields can be appended without breaking the ABI.
**     Passing NULL for options means "all defaults".
**   - Thread: each function says "any" (safe to call concurrently on the same
**     handle) or "exclusive" (the caller serialises calls on that handle).
*/
#ifndef DENSEARCH_H
#define DENSEARCH_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#  define DS_API __attribute__((visibility("default")))
#else
#  define DS_API
#endif

#define DS_VERSION_MAJOR 0
#define DS_VERSION_MINOR 1
#define DS_VERSION_PATCH 0
#define DS_VERSION_NUMBER (DS_VERSION_MAJOR * 10000 + DS_VERSION_MINOR * 100 + DS_VERSION_PATCH)
DS_API unsigned    ds_version_number(void);   /* compare with DS_VERSION_NUMBER */
DS_API const char *ds_version_string(void);   /* "0.1.0" */

/* ------------------------------------------------------------------------ */
/* Status codes                                                              */
/* ------------------------------------------------------------------------ */
typedef enum ds_status {
    DS_OK = 0,
    DS_ERR_NOMEM,        /* allocation failed; object state unchanged          */
    DS_ERR_IO,           /* read/write/mmap failed; see ds_errmsg()            */
    DS_ERR_CORRUPT,      /* file or blob fails validation / checksum           */
    DS_ERR_FORMAT,       /* not our format, or a format version we cannot read */
    DS_ERR_READONLY,     /* newer writer version, or opened read-only          */
    DS_ERR_INVALID,      /* caller misuse or bad input: bad argument, state    */
    DS_ERR_RANGE,        /* size/count overflow or limit exceeded              */
    DS_ERR_NOTFOUND,
    DS_ERR_UNSUPPORTED,  /* feature/ISA/metric/architecture not supported      */
    DS_ERR_CANCELED,     /* user callback asked to stop                        */
    DS_ERR_INTERNAL      /* bug: please report                                 */
    /* new codes are only ever appended */
} ds_status;

DS_API const char *ds_status_name(ds_status rc);  /* "DS_ERR_CORRUPT" */
DS_API const char *ds_errmsg(void);               /* this thread's last failure */

/* Frees memory the library allocated for the caller (strings, result arrays).
** NULL is ok. */
DS_API void ds_free(void *p);

/* ------------------------------------------------------------------------ */
/* Environment: allocator, logger, thread count, selected SIMD kernels        */
/* ------------------------------------------------------------------------ */
typedef struct ds_env ds_env;
typedef struct ds_index ds_index;   /* any vector index: flat/hnsw/ivfpq/binary */

/* alloc returns memory aligned to `align` (a power of two <= 4096) or NULL;
** free receives the size that was asked for. */
typedef struct ds_allocator {
    void *(*alloc)(void *ud, size_t n, size_t align);
    void  (*free)(void *ud, void *p, size_t n);
    void  *ud;
} ds_allocator;

enum { DS_LOG_ERROR = 0, DS_LOG_WARN = 1, DS_LOG_INFO = 2, DS_LOG_DEBUG = 3 };
typedef void (*ds_log_fn)(int level, const char *msg, void *ud);

/* Progress of long work: done out of total units (total 0 = unknown).
** Return non-zero to cancel; the operation then returns DS_ERR_CANCELED. */
typedef int (*ds_progress_fn)(uint64_t done, uint64_t total, void *ud);

typedef struct ds_env_opts {
    size_t              struct_size;
    const ds_allocator *allocator;   /* NULL: malloc-based                          */
    ds_log_fn           log;         /* NULL: no logging                            */
    void               *log_ud;
    int                 log_level;   /* messages above this level are dropped       */
    const char         *simd;        /* NULL/"auto", "scalar", "avx2", "avx512";
                                        the DS_SIMD environment variable overrides  */
    unsigned            n_threads;   /* 0: number of online cores                   */
} ds_env_opts;

DS_API void      ds_env_opts_init(ds_env_opts *o);
/* Thread: any. */
DS_API ds_status ds_env_create(const ds_env_opts *opts, ds_env **out);
DS_API void      ds_env_destroy(ds_env *env);              /* NULL ok */
DS_API const char *ds_env_simd_name(const ds_env *env);    /* "avx512", "avx2", "scalar" */
DS_API unsigned  ds_env_threads(const ds_env *env);

/* ------------------------------------------------------------------------ */
/* Files                                                                     */
/* ------------------------------------------------------------------------ */
/* Flags for the *_open functions. */
enum {
    DS_OPEN_VERIFY = 1u << 0   /* verify every section checksum while opening; files are now
                                  always verified so, whatever the flags (docs/format.md 1.3):
                                  no answer is computed from bytes whose checksum failed */
};

/* Safe replacement of a file the caller writes itself (the rules densearch
** applies to its own files, docs/format.md 1.4): the data goes to a fresh
** temporary file created with O_CREAT|O_EXCL|O_NOFOLLOW next to path, while
** an advisory lock on "<path>.lock" is held (a second writer of the same
** path fails at once with DS_ERR_IO, "another writer ..."); commit fsyncs
** it, checks the temporary name still names it, and renames it over path.
** Write through ds_file_writer_fd (do not close that descriptor; a FILE made
** with fdopen(dup(fd)) may be closed). commit and abort free w; after a
** failed commit nothing changed at path. Thread: one writer, one thread. */
typedef struct ds_file_writer ds_file_writer;
DS_API ds_status ds_file_writer_open(ds_env *env, const char *path, ds_file_writer **out);
DS_API int       ds_file_writer_fd(const ds_file_writer *w);
DS_API ds_status ds_file_writer_commit(ds_file_writer *w);
DS_API void      ds_file_writer_abort(ds_file_writer *w);     /* NULL ok */

/* What kind of densearch file `path` is, from its header alone: writes a
** four-character code ("LEXI", "VFLT", ...) into kind[5]. A directory holding
** a lexical index reports "LEXI". DS_ERR_FORMAT if it is not a densearch file. */
DS_API ds_status ds_file_kind(const char *path, char kind[5]);

/* Verifies a densearch file or index directory completely: header, section
** table, every checksum, then the structure of every section (the same checks
** `densearch check` runs). On failure ds_errmsg() names the first problem.
** Thread: any. */
DS_API ds_status ds_check(ds_env *env, const char *path);

/* ======================================================================== */
/* Lexical (BM25) index                                        [lexical]     */
/* ======================================================================== */

/* ---- Corpus readers ---------------------------------------------------- */
/* Streams documents from a corpus file or directory; never holds the whole
** corpus in memory (one line, or one file of a directory, at a time).
**
** Formats:
**   DS_CORPUS_BEIR   JSON lines with "_id", "title", "text" (BEIR corpus.jsonl;
**                    also reads BEIR queries.jsonl, whose lines have no title)
**   DS_CORPUS_JSONL  JSON lines with configurable id/text/title fields
**   DS_CORPUS_TSV    lines "id<TAB>text" (text = everything after the first tab)
**   DS_CORPUS_DIR    a directory tree of text files; id = path relative to the
**                    directory, text = the file content; visited in byte order
**   DS_CORPUS_AUTO   a directory -> DIR, *.tsv -> TSV, otherwise BEIR
**   DS_CORPUS_JSON   JSON lines holding any object (no id, title or text
**                    needed): each ds_corpus_next moves to the next object,
**                    whose fields are read with ds_corpus_get_string and
**                    ds_corpus_get_token_ids (e.g. the encoders' inputs:
**                    {"text"}, BEIR lines, {"query", "passage"}, {"ids"})
**
** Bad input (malformed JSON, missing or non-string id, invalid UTF-8, a
** document with neither title nor text, a line longer than max_doc_bytes,
** a missing file) is reported by ds_corpus_next as DS_ERR_CORRUPT (DS_ERR_IO
** for read errors) with "file:line: problem" in ds_errmsg(). With skip_bad
** the document is skipped instead, logged as a warning and counted
** (ds_corpus_skipped). Either way the reader moves past the bad document, so
** the caller may go on calling ds_corpus_next. Duplicate ids are not the
** reader's concern: the index builder rejects them (see ds_lexical_add). */
typedef struct ds_corpus ds_corpus;

typedef enum ds_corpus_format {
    DS_CORPUS_AUTO = 0, DS_CORPUS_BEIR, DS_CORPUS_JSONL, DS_CORPUS_TSV, DS_CORPUS_DIR,
    DS_CORPUS_JSON
} ds_corpus_format;

typedef struct ds_corpus_opts {
    size_t           struct_size;
    ds_corpus_format format;        /* default DS_CORPUS_AUTO                           */
    const char      *id_field;      /* JSONL: default "_id"                             */
    const char      *text_field;    /* JSONL: default "text"                            */
    const char      *title_field;   /* JSONL: default "title"; "" = no title            */
    int              skip_bad;      /* 1: skip and count bad documents; default 0       */
    size_t           max_doc_bytes; /* longest line / file accepted, default 64 MiB     */
} ds_corpus_opts;

/* One document. Pointers are borrowed from the reader and valid until the
** next ds_corpus_next or ds_corpus_close. Strings are valid UTF-8 and also
** NUL-terminated. */
typedef struct ds_doc {
    const char *id;    size_t id_len;      /* never empty ("" for DS_CORPUS_JSON) */
    const char *title; size_t title_len;   /* "" when absent                      */
    const char *text;  size_t text_len;    /* "" when absent                      */
    const char *file;                      /* file it came from                   */
    uint64_t    line;                      /* 1-based line; 0 for DS_CORPUS_DIR   */
} ds_doc;

DS_API void      ds_corpus_opts_init(ds_corpus_opts *o);
/* Opens path (a file, or a directory for DS_CORPUS_DIR). DS_ERR_IO if it
** cannot be opened. Thread: any. */
DS_API ds_status ds_corpus_open(ds_env *env, const char *path, const ds_corpus_opts *opts,
                                ds_corpus **out);
/* Reads the next document into *doc. At the end of the corpus returns DS_OK
** with doc->id == NULL. Thread: exclusive. */
DS_API ds_status ds_corpus_next(ds_corpus *c, ds_doc *doc);
/* Counters of a reader; call them from the thread that calls ds_corpus_next.
** Thread: exclusive. */
DS_API uint64_t  ds_corpus_skipped(const ds_corpus *c);   /* bad documents skipped so far */
DS_API uint64_t  ds_corpus_bytes_read(const ds_corpus *c); /* input bytes consumed so far */
/* DS_CORPUS_JSON: field key of the object ds_corpus_next last returned.
** ds_corpus_get_string gives a valid UTF-8 string (NUL-terminated; borrowed
** until the next ds_corpus_next). ds_corpus_get_token_ids gives a non-empty
** array of integers in [0, 2^31 - 1] (borrowed until the next call on c).
** Both return DS_ERR_NOTFOUND, with no message, when the line has no such
** field, and DS_ERR_CORRUPT with "file:line: problem" in ds_errmsg() when it
** has the wrong type; DS_ERR_INVALID for another format. Thread: exclusive. */
DS_API ds_status ds_corpus_get_string(const ds_corpus *c, const char *key, const char **s, size_t *len);
DS_API ds_status ds_corpus_get_token_ids(ds_corpus *c, const char *key, const int32_t **ids, size_t *n);
/* Closes the reader; documents it returned become invalid. NULL ok.
** Thread: exclusive. */
DS_API void      ds_corpus_close(ds_corpus *c);

/* ---- Building a BM25 index -------------------------------------------- */
/* An index is a directory holding one file, lexical.dsx (docs/format.md §2),
** written to a temporary name, fsynced and renamed: the directory never shows
** a half-written index.
**
** Analysis (recorded in the index, so queries are analysed the same way):
** NFKC normalisation + Unicode case folding (utf8proc), word segmentation on
** Unicode word boundaries (UAX #29 letter/number rules; each CJK ideograph is
** a word), English possessive "'s" removal, optional stop words (Lucene's
** default English list), optional Snowball stemming (libstemmer). Title and
** text are indexed as one field, title first.
**
** Duplicate ids: the first document with an id wins; a later one is rejected
** by ds_lexical_add with DS_ERR_INVALID ("duplicate id"), and the builder stays
** usable, so a caller may skip it (the CLI does with --skip-bad, else stops). */
typedef struct ds_lexical_builder ds_lexical_builder;
typedef struct ds_lexical ds_lexical;

typedef struct ds_lexical_opts {
    size_t         struct_size;
    float          k1;              /* BM25 k1 recorded as the index default, 0.9       */
    float          b;               /* BM25 b recorded as the index default, 0.4        */
    const char    *stemmer;         /* Snowball algorithm ("english", "porter", ...) or
                                       "none"; default "english"                        */
    int            stopwords;       /* 1: Lucene English stop words (default); 0: none  */
    int            store_text;      /* 1: keep title/text for snippets (default)        */
    unsigned       n_threads;       /* analysis threads; 0: the env's thread count      */
    size_t         mem_limit;       /* bytes of postings kept in memory before a sorted
                                       run is spilled to disk; default 512 MiB          */
    ds_progress_fn progress;        /* called with (docs added, 0); NULL: none          */
    void          *progress_ud;
} ds_lexical_opts;

typedef struct ds_lexical_stats {
    uint64_t n_docs;       /* documents indexed                    */
    uint64_t n_terms;      /* distinct terms                       */
    uint64_t n_postings;   /* (term, doc) pairs                    */
    uint64_t n_tokens;     /* indexed tokens (sum of doc lengths)  */
    uint64_t n_runs;       /* sorted runs spilled to disk          */
    uint64_t file_bytes;   /* size of lexical.dsx                  */
} ds_lexical_stats;

DS_API void      ds_lexical_opts_init(ds_lexical_opts *o);
/* Starts building an index in directory index_dir (created if missing; an
** existing lexical.dsx is replaced only when ds_lexical_finish succeeds).
** DS_ERR_INVALID for a bad option (unknown stemmer, k1 < 0, b outside [0,1]).
** Thread: any; the builder itself is exclusive. */
DS_API ds_status ds_lexical_builder_create(ds_env *env, const char *index_dir,
                                           const ds_lexical_opts *opts, ds_lexical_builder **out);
/* Adds one document (copied; doc is borrowed for the call). DS_ERR_INVALID for
** an empty or over-long (> 1024 bytes) id, a duplicate id, or a document over
** 256 MiB (title + text): that document is not added and the builder stays
** usable. Other errors are sticky.
** Thread: exclusive. */
DS_API ds_status ds_lexical_add(ds_lexical_builder *b, const ds_doc *doc);
/* Merges, writes and renames lexical.dsx into place, then frees b (also on
** failure). stats may be NULL. Thread: exclusive. */
DS_API ds_status ds_lexical_finish(ds_lexical_builder *b, ds_lexical_stats *stats);
/* Discards a build; nothing becomes visible. NULL ok. Thread: exclusive. */
DS_API void      ds_lexical_abort(ds_lexical_builder *b);

/* ---- Searching --------------------------------------------------------- */
typedef struct ds_lexical_search_opts {
    size_t   struct_size;
    float    k1;          /* < 0: the index's value (default -1)                   */
    float    b;           /* < 0: the index's value (default -1)                   */
    int      exhaustive;  /* 1: score every posting without pruning; -1: always use
                             dynamic pruning; 0 (default): choose by cost          */
    /* Allow-list: bit d (filter[d / 8] >> (d % 8) & 1) set = document number d
    ** may be returned; documents >= filter_bits never are. NULL (default):
    ** every document. Pruned and exhaustive search both return the exact
    ** top-k among the allowed documents; RM3 takes its feedback documents
    ** from them too. Borrowed for the call. */
    const uint8_t *filter;
    uint64_t       filter_bits;
    /* RM3 pseudo-relevance feedback, as Anserini's Rm3Reranker (docs/lexical.md):
    ** the query is run once, its rm3_docs best documents give rm3_terms
    ** expansion terms, and the interpolated weighted query is run again. */
    unsigned rm3_docs;             /* feedback documents; 0 (default): RM3 off  */
    unsigned rm3_terms;            /* feedback terms, default 10                */
    float    rm3_original_weight;  /* weight of the original query in [0, 1], default 0.5 */
    /* Text of a feedback document (title and text, e.g. "title text"), as a new
    ** string the library releases with ds_free; doc is the lexical document
    ** number. It is re-analysed with the index's analyzer (the index keeps no
    ** term vectors). NULL (default): the index's own stored text
    ** (ds_lexical_doc). Called from the searching thread(s): with
    ** ds_lexical_search_batch it must be safe to call concurrently. A status
    ** other than DS_OK fails the search with that status. */
    ds_status (*doc_text)(void *ud, uint32_t doc, char **text, size_t *len);
    void      *doc_text_ud;
} ds_lexical_search_opts;

/* Defaults of the RM3 fields when feedback is on (Anserini's fbDocs, fbTerms,
** originalQueryWeight). */
#define DS_LEXICAL_RM3_DOCS            10
#define DS_LEXICAL_RM3_TERMS           10
#define DS_LEXICAL_RM3_ORIGINAL_WEIGHT 0.5f

/* One result: internal document number (0-based, in indexing order) and its
** BM25 score (Lucene 8+ form: idf * tf / (tf + k1 * (1 - b + b * dl / avgdl)),
** idf = ln(1 + (N - df + 0.5) / (df + 0.5))). */
typedef struct ds_lexical_hit {
    uint32_t doc;
    float    score;
} ds_lexical_hit;

DS_API void      ds_lexical_search_opts_init(ds_lexical_search_opts *o);
/* Opens INDEX_DIR/lexical.dsx (or a lexical.dsx path directly), memory-mapped.
** flags: DS_OPEN_VERIFY. DS_ERR_FORMAT for a foreign file or version,
** DS_ERR_CORRUPT for damaged content. Thread: any. */
DS_API ds_status ds_lexical_open(ds_env *env, const char *path, unsigned flags, ds_lexical **out);
/* Unmaps the index; pointers borrowed from it (doc ids) become invalid. NULL
** ok. Thread: exclusive (no search may be running). */
DS_API void      ds_lexical_close(ds_lexical *lx);
/* ---- Prepared queries ----------------------------------------------------- */
/* A query analysed once: its distinct index terms, each with a weight > 0.
** A query parsed from text weighs each term by its count in the text (qtf),
** so searching it scores exactly as ds_lexical_search does. Weighted queries
** (RM3 expansions, or a caller's own) score
**     sum over terms t of weight(t) * idf(t) * tf / (tf + k1 * (1 - b + b * dl / avgdl)),
** as Anserini's BooleanQuery of BoostQuery(TermQuery, weight) does.
** A query is immutable once created: Thread: any (concurrent use is safe). It
** may be searched on any lexical index whose analysis configuration is the one
** it was analysed with (DS_ERR_INVALID otherwise); its terms are looked up
** once for the index given at creation, and again per call for any other.
** A query does not borrow the index: it stays valid after ds_lexical_close. */
typedef struct ds_lexical_query ds_lexical_query;

/* Analyses len bytes of UTF-8 text (free text, no operators) with lx's
** analyzer. Terms absent from the index are kept (they match nothing, but a
** snippet of other text may highlight them). DS_ERR_RANGE beyond 1024
** distinct terms. Release with ds_lexical_query_free. Thread: any. */
DS_API ds_status ds_lexical_query_create(const ds_lexical *lx, const char *text, size_t len,
                                         ds_lexical_query **out);
/* A weighted query from n (term, weight) pairs whose terms are already index
** terms (analysed: ds_lexical_query_term of another query gives them); they
** are taken verbatim, not analysed again. lens NULL: each term is
** NUL-terminated. A repeated term adds its weights. Weights must be finite
** and >= 0; terms of weight 0 are dropped. DS_ERR_INVALID for a NULL or empty
** term or a bad weight, DS_ERR_RANGE beyond 1024 distinct terms.
** Thread: any. */
DS_API ds_status ds_lexical_query_create_weighted(const ds_lexical *lx, const char *const *terms,
                                                  const size_t *lens, const float *weights, size_t n,
                                                  ds_lexical_query **out);
DS_API void      ds_lexical_query_free(ds_lexical_query *q);     /* NULL ok */
/* Number of distinct terms, and term i (bytes, NOT NUL-terminated, borrowed
** until ds_lexical_query_free; NULL if i is out of range) with its weight
** (may be NULL). Text queries list terms in order of first occurrence, RM3
** expansions by weight descending (ties: term bytes ascending), weighted
** queries in the order given. Thread: any. */
DS_API size_t      ds_lexical_query_n_terms(const ds_lexical_query *q);
DS_API const char *ds_lexical_query_term(const ds_lexical_query *q, size_t i, size_t *len, float *weight);
/* Top-k for a prepared query; as ds_lexical_search otherwise (opts: k1, b,
** exhaustive, filter, and RM3 when opts->rm3_docs > 0). Thread: any. */
DS_API ds_status ds_lexical_search_query(const ds_lexical *lx, const ds_lexical_query *q, size_t k,
                                         const ds_lexical_search_opts *opts, ds_lexical_hit *hits,
                                         size_t *n_hits);
/* The RM3 expansion of q (Anserini's Rm3Reranker, docs/lexical.md), as a new
** weighted query: q is run with opts (k1, b, filter), the text of its
** opts->rm3_docs best documents (0 here: DS_LEXICAL_RM3_DOCS) is re-analysed,
** and the opts->rm3_terms best feedback terms are interpolated with q's
** L1-normalised weights (rm3_original_weight). Run the result with
** opts->rm3_docs = 0 to get what ds_lexical_search_query with RM3 returns,
** without expanding twice. DS_ERR_NOTFOUND when the index stores no text
** and opts->doc_text is NULL. Thread: any. */
DS_API ds_status ds_lexical_query_rm3(const ds_lexical *lx, const ds_lexical_query *q,
                                      const ds_lexical_search_opts *opts, ds_lexical_query **out);
/* The same expansion from feedback documents the caller picked (e.g. the
** best documents over several indexes): texts[i] (lens NULL: NUL-terminated)
** is the i-th best document's "title text", scores[i] (finite, >= 0) its
** first-stage score. Texts are analysed with lx's analyzer and the document
** frequency filter uses lx's statistics. opts: rm3_terms and
** rm3_original_weight (rm3_docs and doc_text are not used). Thread: any. */
DS_API ds_status ds_lexical_query_rm3_docs(const ds_lexical *lx, const ds_lexical_query *q,
                                           const char *const *texts, const size_t *lens,
                                           const float *scores, size_t n,
                                           const ds_lexical_search_opts *opts, ds_lexical_query **out);
/* ds_lexical_snippet for a prepared query: the words of text matching any of
** q's terms are highlighted. Thread: any. */
DS_API ds_status ds_lexical_snippet_query(const ds_lexical *lx, const ds_lexical_query *q, const char *text,
                                          size_t text_len, size_t max_bytes, const char *open,
                                          const char *close, char **out);

/* Top-k documents for a free-text query (analysed like the documents; no
** operators). Same as ds_lexical_query_create + ds_lexical_search_query. Writes up to k hits into hits (caller's array of k), best first,
** ties broken by lower doc number; *n_hits receives the count. Dynamic pruning
** (MaxScore with block maxima) returns exactly the exhaustive top-k.
** Thread: any (concurrent searches are safe). */
DS_API ds_status ds_lexical_search(const ds_lexical *lx, const char *query, size_t query_len,
                                   size_t k, const ds_lexical_search_opts *opts,
                                   ds_lexical_hit *hits, size_t *n_hits);
/* n queries on n_threads threads (0: the env's count). hits is n x k,
** n_hits an array of n. Thread: any. */
DS_API ds_status ds_lexical_search_batch(const ds_lexical *lx, const char *const *queries,
                                         size_t n, size_t k, const ds_lexical_search_opts *opts,
                                         unsigned n_threads, ds_lexical_hit *hits, size_t *n_hits);
/* Thread: any. */
DS_API uint64_t    ds_lexical_n_docs(const ds_lexical *lx);
DS_API uint64_t    ds_lexical_n_terms(const ds_lexical *lx);
/* External id of a document: len bytes, NOT NUL-terminated (print with
** "%.*s"); borrowed, valid until close; NULL if doc is out of range or its
** id record is damaged. *len (may be NULL) receives the length. Thread: any. */
DS_API const char *ds_lexical_doc_id(const ds_lexical *lx, uint32_t doc, size_t *len);
/* Stored title and text of a document, decompressed into new NUL-terminated
** strings the caller releases with ds_free. DS_ERR_NOTFOUND if the index was
** built without stored text. Thread: any. */
DS_API ds_status ds_lexical_doc(const ds_lexical *lx, uint32_t doc, char **title, size_t *title_len,
                                char **text, size_t *text_len);
/* A snippet of at most about max_bytes from text around the densest run of
** query terms, with each matching word wrapped in open/close (e.g. "**").
** Returns a new string (ds_free). Analyses query each call: for several
** snippets of one query, ds_lexical_snippet_query. Thread: any. */
DS_API ds_status ds_lexical_snippet(const ds_lexical *lx, const char *query, const char *text,
                                    size_t text_len, size_t max_bytes, const char *open,
                                    const char *close, char **out);

/* [lexical:end] */

/* ======================================================================== */
/* Evaluation: qrels, runs, trec_eval metrics                  [eval]        */
/* ======================================================================== */

/* Relevance judgments ("qrels") and ranked runs, evaluated with the
** semantics of trec_eval (docs/eval.md lists every rule and its source):
**   - A run is re-sorted per query by score descending, ties broken by doc id
**     in descending byte order (trec_eval's comp_sim_docno); the rank column of
**     a TREC run file is checked to be a number and otherwise ignored.
**   - A doc is relevant when its judgment is >= min_rel (default 1). Negative
**     judgments and unjudged docs are non-relevant. nDCG uses the judgment
**     itself as gain (graded), log2(rank + 1) as discount, and the ideal
**     ranking of all judged docs of the query.
**   - Averages run over the queries of the qrels that have at least one
**     relevant doc. Queries absent from the run score 0 (trec_eval -c) unless
**     ds_eval_opts.complete is 0 (trec_eval's default: skip them).
**   - Duplicate (query, doc) pairs are an error in both files, as in trec_eval.
** Bad input is reported as DS_ERR_CORRUPT with "file:line: what" in ds_errmsg(). */
typedef struct ds_qrels ds_qrels;
typedef struct ds_run   ds_run;
typedef struct ds_eval  ds_eval;

/* Loads qrels from a BEIR TSV file (header "query-id<TAB>corpus-id<TAB>score",
** tab-separated) or a TREC qrels file ("qid iter docid rel", whitespace-
** separated); the format is detected from the first non-blank line. Blank
** lines are skipped; CRLF line ends are accepted. Errors: DS_ERR_IO (cannot
** read), DS_ERR_CORRUPT (bad line, duplicate pair), DS_ERR_NOMEM.
** Thread: any. Free with ds_qrels_free. */
DS_API ds_status ds_qrels_load(ds_env *env, const char *path, ds_qrels **out);
/* The same from bytes in memory (data and name borrowed for the call); name
** is used in error messages. Thread: any. */
DS_API ds_status ds_qrels_parse(ds_env *env, const char *data, size_t len, const char *name,
                                ds_qrels **out);
DS_API void      ds_qrels_free(ds_qrels *q);                          /* NULL ok; Thread: exclusive */
/* Read-only queries on loaded qrels. Thread: any. */
DS_API size_t    ds_qrels_n_queries(const ds_qrels *q);               /* distinct query ids */
DS_API size_t    ds_qrels_n_judgments(const ds_qrels *q);
/* Judgment of (qid, docid) into *rel; DS_ERR_NOTFOUND if not judged.
** Thread: any. */
DS_API ds_status ds_qrels_get(const ds_qrels *q, const char *qid, const char *docid, int32_t *rel);

/* Loads a TREC run: "qid Q0 docid rank score tag", whitespace-separated,
** score a finite number. Errors as for ds_qrels_load. Thread: any. */
DS_API ds_status ds_run_load(ds_env *env, const char *path, ds_run **out);
/* The same from bytes in memory, as ds_qrels_parse. Thread: any. */
DS_API ds_status ds_run_parse(ds_env *env, const char *data, size_t len, const char *name,
                              ds_run **out);
/* The id rule every document and query id must follow (README, "Ids"):
** 1..4096 bytes of valid UTF-8 without whitespace (ASCII or Unicode, e.g.
** NBSP, U+2028) or control characters, so it survives a TREC run or qrels
** line in densearch and in trec_eval. DS_OK, or DS_ERR_INVALID with the
** reason in ds_errmsg(). The corpus readers, the lexical builder and
** ds_run_add apply it; callers use it for ids they print themselves.
** Thread: any. */
DS_API ds_status ds_id_check(const char *id, size_t len);
/* An empty run to fill with ds_run_add (Thread: exclusive) and write with
** ds_run_save. */
DS_API ds_status ds_run_create(ds_env *env, ds_run **out);
/* Appends one result (qid and docid are copied). qid and docid must be
** non-empty and free of whitespace and control bytes (DS_ERR_INVALID
** otherwise); score must be finite. Thread: exclusive. */
DS_API ds_status ds_run_add(ds_run *run, const char *qid, const char *docid, double score);
/* Writes the run in TREC format, each query's results in evaluation order
** (score descending, doc id descending on ties) with ranks 1, 2, ...; tag
** NULL means "densearch". Queries appear in the order they were first seen.
** Temporary file + rename, so a reader never sees half a run. Thread: any. */
DS_API ds_status ds_run_save(const ds_run *run, const char *path, const char *tag);
DS_API void      ds_run_free(ds_run *run);                            /* NULL ok; Thread: exclusive */
/* Thread: any. */
DS_API size_t    ds_run_n_queries(const ds_run *run);
DS_API size_t    ds_run_n_results(const ds_run *run);

typedef struct ds_eval_opts {
    size_t struct_size;
    int    min_rel;      /* judgments >= min_rel are relevant; default 1 (trec_eval -l) */
    int    complete;     /* 1 (default): judged queries missing from the run score 0
                            (trec_eval -c); 0: they are left out of the averages     */
} ds_eval_opts;
DS_API void ds_eval_opts_init(ds_eval_opts *o);                       /* Thread: any */

/* Evaluates run against qrels. metrics is a comma-separated list (NULL means
** "ndcg@10,mrr@10,recall@100,map"); each item is one of
**   ndcg@K  nDCG cut at K (trec_eval ndcg_cut.K); "ndcg" = no cut-off
**   mrr@K   reciprocal rank of the first relevant doc within K; "mrr" = no cut
**   recall@K  relevant docs in the top K / relevant judged docs
**   map     mean average precision over all retrieved docs; map@K cuts at K
**   p@K     precision at K (relevant in top K / K)
** trec_eval names are accepted too: ndcg_cut.K, recip_rank, recall.K, P.K,
** map_cut.K. DS_ERR_INVALID names a bad item. Thread: any (read-only on the
** inputs). Free the result with ds_eval_free. */
DS_API ds_status ds_eval_compute(const ds_qrels *qrels, const ds_run *run, const char *metrics,
                                 const ds_eval_opts *opts, ds_eval **out);
DS_API void        ds_eval_free(ds_eval *e);                        /* NULL ok; Thread: exclusive */
/* Getters on a result: Thread: any. Strings are borrowed, valid until
** ds_eval_free; m or q out of range gives NULL (strings) or NaN (values). */
DS_API size_t      ds_eval_n_metrics(const ds_eval *e);
DS_API const char *ds_eval_metric_name(const ds_eval *e, size_t m);  /* canonical: "ndcg@10" */
DS_API double      ds_eval_mean(const ds_eval *e, size_t m);         /* over ds_eval_n_queries */
/* Queries averaged (judged with >= 1 relevant doc, and in the run unless
** complete); they are listed in byte order of their ids. */
DS_API size_t      ds_eval_n_queries(const ds_eval *e);
DS_API const char *ds_eval_query_id(const ds_eval *e, size_t q);
DS_API double      ds_eval_value(const ds_eval *e, size_t q, size_t m);
DS_API size_t      ds_eval_n_missing(const ds_eval *e);  /* judged queries absent from the run */
DS_API size_t      ds_eval_n_norel(const ds_eval *e);    /* judged queries without relevant docs (skipped) */

/* [eval:end] */

/* ======================================================================== */
/* Tokenizers                                                   [tokenizer]   */
/* ======================================================================== */

typedef struct ds_tokenizer ds_tokenizer;

/* Special tokens a tokenizer knows; ds_tokenizer_special returns -1 for one
** the vocabulary lacks. */
typedef enum ds_special_token {
    DS_TOKEN_CLS = 0, DS_TOKEN_SEP, DS_TOKEN_PAD, DS_TOKEN_UNK, DS_TOKEN_MASK
} ds_special_token;

/* Loads the tokenizer of a Hugging Face model directory: tokenizer.json
** (BertNormalizer, BertPreTokenizer, WordPiece, TemplateProcessing or
** BertProcessing, added tokens), or vocab.txt + tokenizer_config.json when
** there is no tokenizer.json; both are also looked for in model_dir/
** 0_Transformer/ (old sentence-transformers layout). model_dir may also be
** the path of a tokenizer.json. Output ids equal Hugging Face tokenizers'
** (see docs/tokenizer.md). Errors name the file and the field: DS_ERR_NOTFOUND
** (no tokenizer files), DS_ERR_IO, DS_ERR_CORRUPT (bad JSON, wrong types,
** ids out of range, unknown token missing), DS_ERR_UNSUPPORTED (a model,
** normalizer, pre-tokenizer or post-processor type other than the ones
** above: the message names it and lists what is supported), DS_ERR_NOMEM.
** The tokenizer is immutable once open. Thread: any. */
DS_API ds_status ds_tokenizer_open(ds_env *env, const char *model_dir, ds_tokenizer **out);
DS_API void      ds_tokenizer_close(ds_tokenizer *tok);   /* NULL ok; Thread: exclusive */

/* Encodes one text (UTF-8, len bytes, borrowed; each invalid UTF-8 sequence
** becomes U+FFFD, which the BERT normalizer removes: never an error; NUL
** bytes are removed too) as [CLS] tokens [SEP] per the template. max_tokens
** > 0 truncates to that many ids including the special tokens (the first
** max_tokens - 2 tokens are kept); 0 means no truncation; a max_tokens
** below ds_tokenizer_num_special(tok, 0) is DS_ERR_INVALID. Writes at most
** cap ids (ids may be NULL when cap is 0); *n receives the full count, and
** DS_ERR_RANGE is returned if it exceeds cap (call again with a bigger
** buffer). No allocation unless a word exceeds 1 KB or the tokenizer has
** normalized added tokens. Thread: any. */
DS_API ds_status ds_tokenizer_encode(const ds_tokenizer *tok, const char *text, size_t len,
                                     size_t max_tokens, int32_t *ids, size_t cap, size_t *n);
/* Pair encoding [CLS] a [SEP] b [SEP] with the template's token type ids
** (0 for the first segment, 1 for the second and its [SEP]); truncation to
** max_tokens is Hugging Face's LongestFirst: if the shorter sequence fits in
** half the budget the longer one gets the rest, else both get half and the
** longer one (the second on a tie) the odd token. Same buffer rules as
** ds_tokenizer_encode (both arrays hold cap). Thread: any. */
DS_API ds_status ds_tokenizer_encode_pair(const ds_tokenizer *tok, const char *a, size_t alen,
                                          const char *b, size_t blen, size_t max_tokens,
                                          int32_t *ids, int32_t *type_ids, size_t cap, size_t *n);
/* Getters below: Thread: any (the tokenizer is immutable). */
/* Number of ids (the largest id + 1, added tokens included). */
DS_API size_t      ds_tokenizer_vocab_size(const ds_tokenizer *tok);
/* The token string of id: borrowed, valid until ds_tokenizer_close; NULL if
** id is out of range. */
DS_API const char *ds_tokenizer_token(const ds_tokenizer *tok, int32_t id);
DS_API int32_t     ds_tokenizer_special(const ds_tokenizer *tok, ds_special_token which);
/* The length limit the model directory declares: tokenizer.json's
** truncation.max_length, else tokenizer_config.json's model_max_length when
** it is a real limit (<= 1048576); 0 when neither is set. Encoding never
** applies it by itself: pass it (or sentence_bert_config's max_seq_length)
** as max_tokens. */
DS_API size_t      ds_tokenizer_max_length(const ds_tokenizer *tok);
/* Ids the template adds around one text (pair == 0, e.g. 2 for BERT) or a
** pair (pair != 0, e.g. 3). */
DS_API size_t      ds_tokenizer_num_special(const ds_tokenizer *tok, int pair);

/* [tokenizer:end] */

/* ======================================================================== */
/* Transformer encoders, cross-encoders, SPLADE                 [encoder]     */
/* ======================================================================== */

/* An encoder runs a BERT-family checkpoint from a Hugging Face model
** directory as users download it: config.json, model.safetensors (F32, F16 or
** BF16; tensor names with or without the "bert." prefix), and, for
** sentence-transformers folders, modules.json, 1_Pooling/config.json,
** 2_Normalize and sentence_bert_config.json. What it computes follows the
** architecture named in config.json:
**   BertModel                       -> embeddings (pooled, optionally normalised)
**   BertForSequenceClassification   -> cross-encoder scores (raw logit, 1 label)
**   BertForMaskedLM                 -> SPLADE sparse vectors
** F32 weights are memory-mapped, F16/BF16 are converted to float32 once.
** All arithmetic is float32. */
typedef struct ds_encoder ds_encoder;

typedef enum ds_encoder_kind {
    DS_ENCODER_EMBED = 0,    /* BertModel: ds_encoder_encode*                    */
    DS_ENCODER_CROSS = 1,    /* BertForSequenceClassification: ds_encoder_rerank* */
    DS_ENCODER_SPLADE = 2    /* BertForMaskedLM: ds_encoder_sparse*               */
} ds_encoder_kind;

typedef enum ds_pooling {
    DS_POOLING_AUTO = 0,     /* 1_Pooling/config.json if present, else mean      */
    DS_POOLING_MEAN = 1,     /* mean of the token states (padding excluded)      */
    DS_POOLING_CLS = 2,      /* state of the first token                         */
    DS_POOLING_MAX = 3,      /* per-dimension max over tokens                    */
    DS_POOLING_MEAN_SQRT_LEN = 4 /* sum / sqrt(n_tokens)                         */
} ds_pooling;

typedef struct ds_encoder_opts {
    size_t         struct_size;
    ds_pooling     pooling;         /* default DS_POOLING_AUTO                        */
    int            normalize;       /* -1 (default): as modules.json says (2_Normalize); 0 off; 1 on */
    size_t         max_seq_length;  /* tokens incl. [CLS]/[SEP]; 0 (default): sentence_bert_config.json,
                                       else min(512, max_position_embeddings)         */
    size_t         batch_size;      /* sequences per forward pass, default 32         */
    int            load_tokenizer;  /* default 1; 0: ids-only encoder (the *_ids calls) */
    ds_progress_fn progress;        /* called after each batch with sequences done; may cancel */
    void          *progress_ud;
    int            int8;            /* default 0. 1: encoder-layer weights quantized to int8
                                       per output channel, activations per token at run time
                                       (faster, approximate: see docs/benchmarks.md)   */
    int            bf16;            /* default 0. 1: encoder-layer weights and their input rows
                                       rounded to bfloat16, products accumulated in float32;
                                       AVX512-BF16 where the CPU has it, else the same
                                       arithmetic widened to float32 (never unsupported).
                                       Not with int8 (DS_ERR_INVALID). Accuracy and speed:
                                       docs/benchmarks.md                                */
} ds_encoder_opts;

/* One SPLADE vector: nnz (token id, weight) entries, ids ascending, weights > 0.
** indices and values share one allocation; release with ds_sparse_vec_free. */
typedef struct ds_sparse_vec {
    size_t   nnz;
    int32_t *indices;
    float   *values;
} ds_sparse_vec;

DS_API void ds_encoder_opts_init(ds_encoder_opts *o);                 /* Thread: any */

/* Opens the model in model_dir. Every field of the checkpoint is validated:
** DS_ERR_NOTFOUND (no config.json), DS_ERR_IO (no model.safetensors, an
** unreadable file), DS_ERR_CORRUPT (bad safetensors header,
** offsets outside the file, overlapping tensors, bad JSON), DS_ERR_FORMAT
** (shape disagreeing with config.json, missing tensor), DS_ERR_UNSUPPORTED
** (architecture, activation, pooling or module we do not run; the message
** lists what is supported). ds_errmsg() names the file and field.
** Thread: any. */
DS_API ds_status ds_encoder_open(ds_env *env, const char *model_dir, const ds_encoder_opts *opts,
                                 ds_encoder **out);
/* Frees the encoder and its tokenizer (ds_encoder_tokenizer's pointer becomes
** invalid). NULL ok. Thread: exclusive (no encode may be running). */
DS_API void      ds_encoder_close(ds_encoder *enc);
/* Getters below: Thread: any (the encoder is read-only once open). */
DS_API ds_encoder_kind ds_encoder_kind_of(const ds_encoder *enc);
/* Embedding dimension (hidden size); for SPLADE, the vocabulary size. */
DS_API size_t    ds_encoder_dim(const ds_encoder *enc);
DS_API size_t    ds_encoder_hidden_size(const ds_encoder *enc);
DS_API size_t    ds_encoder_max_seq_length(const ds_encoder *enc);
/* The model's tokenizer (borrowed, valid until ds_encoder_close), or NULL when
** opened with load_tokenizer 0. */
DS_API const ds_tokenizer *ds_encoder_tokenizer(const ds_encoder *enc);

/* Sequences given as token ids (special tokens included, as the tokenizer
** produces them): ids[i] holds lens[i] ids. A sequence longer than
** max_seq_length keeps its first max_seq_length-1 ids and its last id (the
** [SEP]), which is what Hugging Face truncation produces. Ids outside the
** vocabulary and empty sequences give DS_ERR_INVALID. Sequences are sorted by
** length and batched without padding, so the order of the input does not
** matter for speed. Thread: any (the encoder is read-only). */

/* Embeddings of n sequences into out (n x dim floats, row-major). */
DS_API ds_status ds_encoder_encode_ids(const ds_encoder *enc, const int32_t *const *ids,
                                       const size_t *lens, size_t n, float *out);
/* Same for n UTF-8 texts (lens NULL: NUL-terminated), tokenized with the
** model's tokenizer and truncated to max_seq_length. */
DS_API ds_status ds_encoder_encode(const ds_encoder *enc, const char *const *texts,
                                   const size_t *lens, size_t n, float *out);
/* Last hidden state of every token of one sequence: out holds len x
** hidden_size floats (len after truncation; *n_tokens receives it). Any kind
** of encoder. */
DS_API ds_status ds_encoder_token_states(const ds_encoder *enc, const int32_t *ids, size_t len,
                                         float *out, size_t *n_tokens);
/* Cross-encoder scores (raw logits) of n pre-tokenized pairs: type_ids[i]
** (NULL: all 0) are the segment ids. */
DS_API ds_status ds_encoder_rerank_ids(const ds_encoder *enc, const int32_t *const *ids,
                                       const int32_t *const *type_ids, const size_t *lens,
                                       size_t n, float *scores);
/* Scores of n (query, passage) text pairs, encoded [CLS] q [SEP] p [SEP] and
** truncated longest-first to max_seq_length. */
DS_API ds_status ds_encoder_rerank(const ds_encoder *enc, const char *const *queries,
                                   const char *const *passages, size_t n, float *scores);
/* SPLADE vectors of n sequences: out is a caller array of n structs, each
** filled with a library allocation (ds_sparse_vec_free). On failure every
** entry is empty. */
DS_API ds_status ds_encoder_sparse_ids(const ds_encoder *enc, const int32_t *const *ids,
                                       const size_t *lens, size_t n, ds_sparse_vec *out);
DS_API ds_status ds_encoder_sparse(const ds_encoder *enc, const char *const *texts,
                                   const size_t *lens, size_t n, ds_sparse_vec *out);
/* Releases the allocation of each of the n entries and empties them; the
** array itself is the caller's. NULL ok. Thread: any (on the caller's own
** vectors). */
DS_API void      ds_sparse_vec_free(ds_sparse_vec *v, size_t n);


/* [encoder:end] */

/* ======================================================================== */
/* Training densearch's own embedding models                   [train]       */
/* ======================================================================== */

/* ds_train writes a model directory that ds_encoder_open runs like any other
** embedding model (docs/format.md §4), so embed, collections and the server
** use it unchanged. Kinds:
**   DS_MODEL_LEXDENSE  Luxical-style lexical-dense network: token 1..N-gram
**                      features (a bounded table of the corpus's most frequent
**                      n-grams), TF x IDF, a sparse first layer, ReLU MLP, L2
**                      normalisation between layers. With a teacher: distilled
**                      (KL between in-batch similarity matrices, temperature
**                      3) on the teacher's WordPiece tokens. Without: trained
**                      self-supervised on the corpus alone (InfoNCE over
**                      (title, body) pairs and pairs of random spans of one
**                      document, Contriever-style) on the lexical analyzer's
**                      words: the embedded default dense model.
**   DS_MODEL_STATIC    Model2Vec-style per-token vectors from a teacher (every
**                      vocabulary token embedded, PCA to dim, SIF weights by
**                      the token's frequency rank in the corpus). Needs a teacher.
**   DS_MODEL_LSA       TF-IDF -> truncated SVD to dim (latent semantic
**                      indexing): the baseline a trained model must beat.
** Output is deterministic for a fixed seed (whatever the thread count). */
typedef enum ds_model_kind {
    DS_MODEL_LEXDENSE = 0,
    DS_MODEL_STATIC = 1,
    DS_MODEL_LSA = 2
} ds_model_kind;

/* What ds_train is doing, passed to the progress callback. */
typedef struct ds_train_progress {
    const char *phase;      /* "read", "teacher", "train", "svd", "write"            */
    uint64_t    done;       /* units of the phase done: documents, texts or steps    */
    uint64_t    total;      /* units in the phase (0: unknown)                       */
    unsigned    epoch;      /* "train": 1-based epoch                                 */
    unsigned    epochs;
    double      loss;       /* "train": mean loss over the last steps; else NaN      */
    double      items_per_s;/* "train": training examples per second; else units/s   */
} ds_train_progress;
/* Return non-zero to cancel (ds_train then returns DS_ERR_CANCELED). */
typedef int (*ds_train_progress_fn)(const ds_train_progress *p, void *ud);

typedef struct ds_train_opts {
    size_t         struct_size;
    ds_model_kind  kind;          /* default DS_MODEL_LEXDENSE                          */
    const char    *teacher;       /* Hugging Face bi-encoder directory, or NULL (default) */
    size_t         dim;           /* output dimension, default 256; <= the teacher's    */
    unsigned       epochs;        /* lexdense: 0 (default) = enough for ~1500 steps     */
    unsigned       n_threads;     /* 0 (default): the env's thread count                */
    uint64_t       seed;          /* default 1                                          */
    size_t         max_features;  /* lexdense/lsa feature table bound, default 65536    */
    unsigned       max_ngram;     /* lexdense: 0 (default) = 2; lsa always 1            */
    size_t         batch_size;    /* lexdense: pairs or texts per step, default 256     */
    size_t         max_docs;      /* documents read for training, default 200000        */
    const char    *queries;       /* lexdense + teacher: a queries file (BEIR
                                     queries.jsonl) also distilled; NULL: documents only */
    const char    *teacher_cache; /* lexdense + teacher: file caching the teacher's
                                     embeddings of the training texts; NULL: none       */
    ds_train_progress_fn progress;
    void          *progress_ud;
    float          lr;            /* lexdense: peak AdamW learning rate, default 3e-3   */
    size_t         first_width;   /* lexdense: width of the sparse first layer (the
                                     layers are [features, w, 2w, dim]); 0 (default):
                                     min(dim, 128)                                      */
    int            analyzer_words;/* without a teacher, the units features are made of:
                                     0 (default) a WordPiece vocabulary built from the
                                     corpus (saved as the model's vocab.txt); 1 the
                                     lexical analyzer's stemmed words (the model then
                                     has no tokenizer: collections cannot cut passages
                                     with it)                                           */
} ds_train_opts;

DS_API void ds_train_opts_init(ds_train_opts *o);                    /* Thread: any */

/* Trains a model on the corpus at corpus_path (read with corpus_opts, NULL:
** defaults; see ds_corpus_open) and writes it to the directory out_dir:
** built in a temporary sibling directory and renamed into place, replacing
** an existing model directory; a path that exists and is anything else is
** refused (DS_ERR_INVALID) before any work. Errors: DS_ERR_INVALID (fewer
** than 32 documents, dim larger than the teacher's, a teacher that is not a
** bi-encoder, static without a teacher, a bad option), the corpus reader's
** and the teacher's errors, DS_ERR_IO, DS_ERR_NOMEM, DS_ERR_CANCELED.
** ds_errmsg() says which. Thread: any (the env's threads are used). */
DS_API ds_status ds_train(ds_env *env, const char *corpus_path, const ds_corpus_opts *corpus_opts,
                          const char *out_dir, const ds_train_opts *opts);

/* [train:end] */

/* ======================================================================== */
/* Vector indexes: flat, HNSW, IVF-PQ, binary                   [vector]      */
/* ======================================================================== */

/* Distance / similarity. Scores returned by searches are always "higher is
** better": IP and COSINE return the similarity, L2 returns the negated squared
** distance, HAMMING the negated bit distance. */
typedef enum ds_metric {
    DS_METRIC_IP = 0,        /* inner product                                   */
    DS_METRIC_L2 = 1,        /* squared Euclidean distance                      */
    DS_METRIC_COSINE = 2     /* vectors are L2-normalised on add and on search  */
} ds_metric;

typedef enum ds_index_type {
    DS_INDEX_FLAT = 0,       /* exact search                                     */
    DS_INDEX_HNSW = 1,       /* hierarchical navigable small-world graph         */
    DS_INDEX_IVFPQ = 2,      /* inverted lists + product quantization + re-score */
    DS_INDEX_BINARY = 3      /* sign bits (optionally ITQ-rotated) + re-score    */
} ds_index_type;

/* How a flat index (and HNSW's stored vectors) keep the vectors in memory. */
typedef enum ds_storage {
    DS_STORAGE_F32 = 0,
    DS_STORAGE_F16 = 1,
    DS_STORAGE_INT8 = 2      /* per-dimension scalar quantization */
} ds_storage;

typedef struct ds_index_opts {
    size_t        struct_size;
    ds_index_type type;             /* default DS_INDEX_FLAT                          */
    ds_metric     metric;           /* default DS_METRIC_IP                           */
    ds_storage    storage;          /* flat vector storage, default F32 (HNSW: F32 only) */
    /* HNSW */
    unsigned      hnsw_m;           /* links per node on upper layers (2*M on layer 0), default 16 */
    unsigned      hnsw_ef_construction; /* default 200                                */
    /* IVF-PQ */
    unsigned      ivf_nlist;        /* coarse centroids; 0: about 4*sqrt(n) at train  */
    unsigned      pq_m;             /* sub-quantizers; 0: dim/8 (or a divisor of dim) */
    unsigned      pq_bits;          /* bits per code, 8 (default) or 4                */
    int           opq;              /* learn an OPQ rotation before PQ, default 0     */
    /* Binary */
    int           itq;              /* learn an ITQ rotation before taking signs, default 0 */
    uint64_t      seed;             /* random seed for training and graph levels      */
} ds_index_opts;

typedef struct ds_search_opts {
    size_t         struct_size;
    unsigned       ef_search;       /* HNSW beam width; 0: max(k, 64)                   */
    unsigned       nprobe;          /* IVF lists visited; 0: 16                         */
    unsigned       rerank;          /* IVF-PQ/binary: candidates re-scored exactly; 0: 10*k (binary 50*k) */
    const uint8_t *filter;          /* allow-list bitmap over ids (bit i = id i); NULL: all */
    uint64_t       filter_bits;     /* bits in filter                                   */
    int          (*cancel)(void *ud);   /* polled during long searches; non-zero stops  */
    void          *cancel_ud;
} ds_search_opts;

DS_API void ds_index_opts_init(ds_index_opts *o);
DS_API void ds_search_opts_init(ds_search_opts *o);

/* Creates an empty in-memory index of dimension dim. Thread: any. */
DS_API ds_status ds_index_create(ds_env *env, size_t dim, const ds_index_opts *opts, ds_index **out);
/* Learns quantizers (IVF-PQ, binary with ITQ) from n sample vectors; other
** types accept and ignore it. Must precede the first add for IVF-PQ.
** Thread: exclusive. */
DS_API ds_status ds_index_train(ds_index *ix, const float *x, size_t n);
/* Adds n vectors (row-major n x dim). ids: NULL assigns size(), size()+1, ...;
** otherwise each id must be new. Thread: exclusive. */
DS_API ds_status ds_index_add(ds_index *ix, const float *x, size_t n, const uint64_t *ids);
/* Deletes one id; later searches never return it. DS_ERR_NOTFOUND if absent.
** Thread: exclusive. */
DS_API ds_status ds_index_delete(ds_index *ix, uint64_t id);
/* Rebuilds the index from its live vectors: deleted slots and their memory
** are released and, for HNSW, the graph is built afresh (it costs as long as
** building the live vectors from scratch). Deletes repair the HNSW graph as
** they go, which holds recall up to about 20% deleted; beyond that recall
** sinks (50% deleted: ~0.03 lower recall@10 at small ef) and compacting
** restores it. Ids stay; a flat index answers exactly as before, an HNSW
** index as a fresh build of the live vectors would. On failure
** the index is unchanged. DS_ERR_UNSUPPORTED for types that do not keep
** full-precision vectors to rebuild from (IVF-PQ, binary, flat f16/int8).
** Thread: exclusive. */
DS_API ds_status ds_index_compact(ds_index *ix);
/* k nearest neighbours of each of nq queries. ids/scores are nq x k arrays;
** rows with fewer than k results are padded with id UINT64_MAX and score
** -INFINITY. n_found (may be NULL) receives the per-query result counts
** (an array of nq). Thread: any (concurrent searches are safe). */
DS_API ds_status ds_index_search(const ds_index *ix, const float *queries, size_t nq, size_t k,
                                 const ds_search_opts *opts, uint64_t *ids, float *scores,
                                 size_t *n_found);
/* Writes the index to path (temporary file, fsync, rename). Thread: any. */
DS_API ds_status ds_index_save(const ds_index *ix, const char *path);
/* Opens a saved index (memory-mapped where the layout allows).
** flags: DS_OPEN_VERIFY. Thread: any. */
DS_API ds_status ds_index_open(ds_env *env, const char *path, unsigned flags, ds_index **out);
DS_API void      ds_index_close(ds_index *ix);                       /* NULL ok */
DS_API size_t        ds_index_dim(const ds_index *ix);
DS_API uint64_t      ds_index_size(const ds_index *ix);              /* live vectors */
DS_API ds_index_type ds_index_kind(const ds_index *ix);
DS_API ds_metric     ds_index_metric(const ds_index *ix);
DS_API uint64_t      ds_index_memory_bytes(const ds_index *ix);      /* resident bytes, excluding mapped full vectors */

/* [vector:end] */

/* ======================================================================== */
/* Collections: documents, BM25 and vectors behind one search [collection]   */
/* ======================================================================== */

/* A collection is what a user searches: documents with their external ids and
** stored text, a BM25 index over them and, when built with an encoder or with
** precomputed embeddings, a vector index over their passages. Every search
** returns one result shape (ds_hit): the document id, the final score and the
** score and rank each component gave it (BM25, dense, fused, re-rank).
**
** On disk a collection is a directory (docs/format.md §4):
**   MANIFEST              the published state (file kind CMAN): segments,
**                         encoder identity, vector index settings, passages
**   seg-NNNNNN/docs.dsx   document store: ids, stored title/text, passages
**   seg-NNNNNN/lexical.dsx  BM25 index over the documents (§2, no stored text)
**   seg-NNNNNN/vectors.dsx  vector index over the passages (§3), if any
** A build writes a new segment directory and then publishes a new MANIFEST
** (temporary file, fsync, rename); segments the new MANIFEST does not name
** are removed afterwards. A killed or failed build therefore leaves the
** previous collection (or none) visible, never a partial one. A directory
** holding only a lexical.dsx (an index built before collections existed)
** opens as a BM25-only collection.
**
** Documents are numbered 0..n_docs-1 in the order they were added (document
** numbers); passages 0..n_passages-1 in document order. A document is one
** passage unless chunk_tokens splits it.
**
** Encoder identity: the MANIFEST records the model directory's name, a hash
** of its config.json, the SHA-256 of its weights, the pooling, normalisation,
** maximum length and dimension. Opening a collection with a different model
** is DS_ERR_INVALID, and the message names both. */
typedef struct ds_collection ds_collection;

typedef enum ds_search_mode {
    DS_SEARCH_AUTO = 0,      /* hybrid when the collection has vectors, else lexical */
    DS_SEARCH_LEXICAL = 1,   /* BM25 only                                           */
    DS_SEARCH_DENSE = 2,     /* vectors only                                        */
    DS_SEARCH_HYBRID = 3     /* both, fused                                         */
} ds_search_mode;

typedef enum ds_fusion {
    DS_FUSION_RRF = 0,       /* sum of 1 / (rrf_k + rank), ranks from 1            */
    DS_FUSION_CONVEX = 1     /* alpha * lexical + (1 - alpha) * dense, normalised   */
} ds_fusion;

typedef enum ds_score_norm {
    DS_NORM_MINMAX = 0,      /* (s - min) / (max - min) over each list              */
    DS_NORM_ZSCORE = 1       /* (s - mean) / stddev over each list                  */
} ds_score_norm;

/* Pseudo-relevance feedback, as bits of ds_collection_search_opts.prf. */
enum {
    DS_PRF_RM3 = 1u << 0,     /* lexical: RM3 query expansion (Anserini)            */
    DS_PRF_ROCCHIO = 1u << 1  /* dense: query vector moved towards the top documents */
};

/* How a document's dense score comes from its passages' scores. */
typedef enum ds_passage_score {
    DS_PASSAGE_MAXP = 0,     /* its best passage                                    */
    DS_PASSAGE_FIRSTP = 1    /* its first passage                                   */
} ds_passage_score;

typedef struct ds_collection_opts {
    size_t                 struct_size;
    const ds_lexical_opts *lexical;       /* BM25 and analysis; NULL: defaults (its
                                             progress fields are ignored)              */
    const char            *model_dir;     /* encoder for documents and queries (a
                                             Hugging Face directory or a densearch-
                                             trained model); NULL: none                */
    const ds_encoder_opts *encoder;       /* NULL: defaults                             */
    size_t                 dim;           /* without model_dir: dimension of the
                                             precomputed embeddings ds_collection_add
                                             receives; 0 with neither: BM25 only        */
    const ds_index_opts   *vectors;       /* NULL: HNSW, cosine, M 16, ef_construction 200 */
    size_t                 chunk_tokens;  /* > 0: passages of at most this many
                                             tokens of the model's tokenizer (special
                                             tokens excluded; at most max length - 2);
                                             0 (default): one passage per document,
                                             truncated to the model's max length       */
    size_t                 chunk_overlap; /* tokens shared by consecutive passages,
                                             < chunk_tokens; default 0                 */
    ds_progress_fn         progress;      /* (documents added or encoded, 0)           */
    void                  *progress_ud;
} ds_collection_opts;

typedef struct ds_collection_open_opts {
    size_t                 struct_size;
    unsigned               flags;         /* DS_OPEN_VERIFY                            */
    const char            *model_dir;     /* query encoder; NULL: the directory the
                                             MANIFEST recorded, if it is still there
                                             and still the same model                 */
    const ds_encoder_opts *encoder;       /* NULL: defaults (e.g. int8 queries)         */
    int                    no_encoder;    /* 1: load no encoder (lexical search, or
                                             queries given as vectors)                */
    /* Live collections (see "Live collections" below). */
    int                    writable;      /* 1: open for ds_collection_upsert/delete:
                                             takes the writer lock, replays the write-
                                             ahead log, starts the background merger  */
    size_t                 flush_docs;    /* publish once this many written documents
                                             are not yet in the MANIFEST; default 10000 */
    double                 flush_seconds; /* ...or once the oldest is this old; default 5 */
    int                    no_merge;      /* 1: no background merges (tests)          */
} ds_collection_open_opts;

typedef struct ds_collection_stats {
    uint64_t n_docs;
    uint64_t n_passages;
    uint64_t n_skipped;     /* documents refused by ds_collection_add (not counted above) */
    double   t_encode;      /* seconds spent in the encoder                          */
    double   t_lexical;     /* seconds building BM25 (analysis, merge, write)         */
    double   t_vectors;     /* seconds building and writing the vector index          */
    double   t_total;
    uint64_t bytes;         /* on disk, all files of the collection                   */
} ds_collection_stats;

typedef struct ds_collection_search_opts {
    size_t            struct_size;
    size_t            k;              /* results; default 10                           */
    ds_search_mode    mode;           /* default DS_SEARCH_AUTO                        */
    ds_fusion         fusion;         /* default DS_FUSION_RRF                         */
    unsigned          rrf_k;          /* default 60                                    */
    float             alpha;          /* convex: weight of the lexical side, 0..1;
                                         0 ranks as dense, 1 as lexical; default 0.5  */
    ds_score_norm     norm;           /* convex normalisation; default MINMAX          */
    size_t            depth;          /* candidates each side contributes to fusion;
                                         default 100 (at least k)                     */
    unsigned          prf;            /* DS_PRF_* bits; default 0                      */
    unsigned          rm3_docs;       /* feedback documents, default 10                */
    unsigned          rm3_terms;      /* expansion terms, default 10                   */
    float             rm3_weight;     /* original query weight, default 0.5            */
    unsigned          rocchio_docs;   /* feedback documents, default 5                 */
    float             rocchio_alpha;  /* weight of the query vector, default 0.4       */
    float             rocchio_beta;   /* weight of the mean feedback vector, default 0.6
                                         (Li et al., TOIS 2023, as Pyserini's vector
                                         PRF; Average PRF of k docs is alpha 1/(k+1),
                                         beta k/(k+1))                                  */
    const ds_encoder *reranker;       /* cross-encoder (borrowed); NULL: none          */
    size_t            rerank_depth;   /* documents re-scored; default 100              */
    ds_passage_score  passage_score;  /* default MAXP                                  */
    const uint8_t    *filter;         /* allow-list over document numbers (bit d =
                                         document d); NULL: all documents; see
                                         ds_collection_filter                         */
    uint64_t          filter_bits;    /* bits in filter                                */
    const float      *query_vectors;  /* one embedding per query (dim floats each):
                                         used instead of the encoder; required for
                                         dense search when no encoder is loaded       */
    unsigned          ef_search;      /* HNSW beam; 0: max(depth, 64)                  */
    unsigned          nprobe;         /* IVF-PQ lists; 0: index default                */
    int               with_text;      /* 1: fill title and snippet of each hit         */
    size_t            snippet_bytes;  /* default 200                                   */
    const char       *hl_open;        /* snippet highlight, default "**"               */
    const char       *hl_close;       /* default "**"                                  */
    int             (*cancel)(void *ud);  /* polled; non-zero stops: DS_ERR_CANCELED   */
    void             *cancel_ud;
    /* An allow-list by external id, resolved in the same snapshot the search
    ** runs on (so it is safe while writers run; filter is not): n_filter_ids
    ** ids (filter_id_lens NULL: NUL-terminated). Unknown ids are ignored.
    ** With filter too, a document must be in both. */
    const char *const *filter_ids;
    const size_t      *filter_id_lens;
    size_t             n_filter_ids;
} ds_collection_search_opts;

/* One result. Component scores are NAN, and ranks 0, where that component did
** not run or did not retrieve the document (ranks are 1-based). */
typedef struct ds_hit {
    const char *id;          /* external id, NUL-terminated, owned by the results  */
    size_t      id_len;
    uint32_t    doc;         /* document number                                   */
    uint32_t    passage;     /* passage of the document that gave the dense score,
                                0-based within the document                       */
    float       score;       /* the score results are ranked by                   */
    float       bm25, dense, fused, rerank;
    uint32_t    bm25_rank, dense_rank, fused_rank, rerank_rank;
    const char *title;       /* with_text: NUL-terminated; else NULL              */
    size_t      title_len;
    const char *snippet;     /* with_text: highlighted excerpt; else NULL         */
    size_t      snippet_len;
} ds_hit;

/* The results of one query: hits best first (ties: lower document number),
** with where the time went. One allocation; release with ds_results_free. */
typedef struct ds_results {
    size_t          n;
    ds_hit         *hits;
    ds_search_mode  mode;        /* the mode that ran (AUTO resolved)              */
    double          t_encode;    /* seconds: query encoding                        */
    double          t_lexical;   /* BM25 (with RM3)                                */
    double          t_dense;     /* vector search (with Rocchio)                   */
    double          t_rerank;    /* cross-encoder                                  */
    double          t_total;
    const char     *expansion;   /* RM3: the expanded query "term^weight ..."; else NULL */
} ds_results;

DS_API void ds_collection_opts_init(ds_collection_opts *o);                 /* Thread: any */
DS_API void ds_collection_open_opts_init(ds_collection_open_opts *o);       /* Thread: any */
DS_API void ds_collection_search_opts_init(ds_collection_search_opts *o);   /* Thread: any */

/* Starts building a collection in dir (created if missing). Nothing becomes
** visible in dir until ds_collection_commit succeeds; an existing collection
** there stays searchable until then and is replaced by the commit.
** DS_ERR_INVALID for contradictory options (dim with model_dir, chunking
** without a model, overlap >= chunk_tokens, chunk_tokens beyond the model's
** length), DS_ERR_NOTFOUND/... from ds_encoder_open for a bad model_dir.
** Thread: any; the returned handle is exclusive until committed. */
DS_API ds_status ds_collection_create(ds_env *env, const char *dir, const ds_collection_opts *opts,
                                      ds_collection **out);
/* Adds one document (copied; doc borrowed for the call). embedding: dim
** floats when the collection was created with dim (precomputed embeddings),
** else NULL. Documents are encoded in batches as they arrive, so a call may
** take as long as a batch's forward pass. DS_ERR_INVALID for an empty or
** over-long id, a duplicate id, a non-finite embedding: that document is not
** added and the collection stays usable; other errors are sticky.
** Thread: exclusive. */
DS_API ds_status ds_collection_add(ds_collection *c, const ds_doc *doc, const float *embedding);
/* Encodes what is left, writes the segment (BM25, document store, vector
** index), publishes the MANIFEST and removes the segments it replaced. On
** success the handle is open for searching as if by ds_collection_open; on
** failure nothing was published and the handle can only be closed. stats
** may be NULL. Adding after a commit is DS_ERR_UNSUPPORTED in this version
** (one build per collection). Thread: exclusive. */
DS_API ds_status ds_collection_commit(ds_collection *c, ds_collection_stats *stats);
/* Opens a collection directory (or a pre-collection BM25 index directory).
** DS_ERR_NOTFOUND when dir holds neither a MANIFEST nor a lexical.dsx;
** DS_ERR_CORRUPT naming the file for a missing or damaged part;
** DS_ERR_INVALID when opts->model_dir is not the model the collection was
** built with (the message names both). Thread: any. */
DS_API ds_status ds_collection_open(ds_env *env, const char *dir, const ds_collection_open_opts *opts,
                                    ds_collection **out);
/* Closes the collection; an uncommitted build is discarded (nothing visible).
** NULL ok. Thread: exclusive (no search may be running). */
DS_API void      ds_collection_close(ds_collection *c);

/* Searches for one free-text query (query_len bytes; the query is analysed
** and encoded once). *out receives the results (ds_results_free); an empty
** result set is not an error. DS_ERR_INVALID when the mode needs what the
** collection lacks (dense without vectors; dense without an encoder and
** without query_vectors) or options are out of range. Thread: any
** (concurrent searches on one collection are safe). */
DS_API ds_status ds_collection_search(const ds_collection *c, const char *query, size_t query_len,
                                      const ds_collection_search_opts *opts, ds_results **out);
/* n queries (NUL-terminated); queries are encoded in batches, then searched
** on n_threads threads (0: the env's count). out is the caller's array of n
** pointers, each set to a result to release with ds_results_free (all NULL
** on failure). query_vectors, if given, holds n rows. Thread: any. */
DS_API ds_status ds_collection_search_batch(const ds_collection *c, const char *const *queries, size_t n,
                                            const ds_collection_search_opts *opts, unsigned n_threads,
                                            ds_results **out);
DS_API void      ds_results_free(ds_results *r);                          /* NULL ok */

/* An allow-list for ds_collection_search_opts.filter from n external ids
** (lens NULL: NUL-terminated). *bitmap (ds_free) has *bits = n_docs bits;
** *n_unknown (may be NULL) counts ids the collection does not hold.
** Thread: any. */
DS_API ds_status ds_collection_filter(const ds_collection *c, const char *const *ids, const size_t *lens,
                                      size_t n, uint8_t **bitmap, uint64_t *bits, size_t *n_unknown);

/* Getters. Thread: any. */
DS_API uint64_t    ds_collection_n_docs(const ds_collection *c);
DS_API uint64_t    ds_collection_n_passages(const ds_collection *c);
DS_API size_t      ds_collection_dim(const ds_collection *c);      /* 0: no vectors */
/* The query encoder in use (borrowed), or NULL when none is loaded. */
DS_API const ds_encoder *ds_collection_encoder(const ds_collection *c);
/* External id of document doc: *len bytes, NOT NUL-terminated (print with
** "%.*s"); borrowed, valid until close; NULL if doc is out of range. */
DS_API const char *ds_collection_doc_id(const ds_collection *c, uint32_t doc, size_t *len);
/* Document number of an external id; DS_ERR_NOTFOUND if absent. */
DS_API ds_status   ds_collection_find(const ds_collection *c, const char *id, size_t len, uint32_t *doc);
/* Stored title and text of a document as new strings (ds_free).
** DS_ERR_NOTFOUND if the collection stores no text. */
DS_API ds_status   ds_collection_doc(const ds_collection *c, uint32_t doc, char **title, size_t *title_len,
                                     char **text, size_t *text_len);
/* What the collection holds, as a JSON object (ds_free): documents, passages,
** analyzer, encoder identity, vector index type, dimension and sizes. */
DS_API ds_status   ds_collection_info(const ds_collection *c, char **json);

/* ---- Live collections ------------------------------------------------------
** A collection opened with writable = 1 takes writes while it is searched, as
** Lucene, Tantivy or Qdrant do: a write batch goes to the write-ahead log
** (COLL/wal/, fsynced before the call returns unless wait = 0; concurrent
** writers share one fsync), then becomes a small segment that searches see at
** once. Segments are published (files fsynced, MANIFEST renamed) every
** flush_docs documents or flush_seconds, by ds_collection_flush and on close;
** a background merger rewrites small segments into larger ones without their
** deleted documents. An upsert of an existing id deletes the old version
** (a tombstone in its segment) and appends the new one. Opening replays the
** log past the published MANIFEST; a torn last record (never acknowledged)
** is dropped.
**
** BM25 statistics (N, average length, document frequencies) are taken over
** the live documents of all segments, so a search ranks and scores exactly as
** on a fresh build of the surviving documents in their order (each document
** at the place of its latest write).
**
** Document numbers (ds_hit.doc, ds_collection_doc_id, filter bitmaps) are
** positions in the current segments and change when a write or a merge
** lands: look a document up by its id (ds_collection_find) or use
** filter_ids while writers run. Another process opening the collection
** read-only sees the last published MANIFEST.
**
** Thread: upsert, delete, flush and compact may be called from any threads
** while searches run on others; writes are applied in log order. */
typedef struct ds_write_opts {
    size_t struct_size;
    int    wait;          /* 1 (default): return once the batch is fsynced in the
                             log; 0: once it is written (it survives the process
                             being killed, not the machine losing power)           */
} ds_write_opts;

typedef struct ds_write_result {
    uint64_t lsn;         /* log sequence number of the batch                       */
    size_t   n_added;     /* upsert: ids that were not present                      */
    size_t   n_replaced;  /* upsert: ids whose previous version was deleted         */
    size_t   n_deleted;   /* delete: ids found and deleted                          */
    size_t   n_missing;   /* delete: ids that were not present                      */
} ds_write_result;

typedef struct ds_collection_live_stats {
    uint64_t n_docs;          /* live documents                                    */
    uint64_t n_deleted;       /* deleted documents still held by segments          */
    uint64_t n_segments;
    uint64_t n_unpublished;   /* segments written since the last MANIFEST           */
    uint64_t wal_bytes;       /* size of the write-ahead log                       */
    uint64_t lsn_written, lsn_durable, lsn_published;
    uint64_t n_flushes, n_merges;
    uint64_t generation;      /* MANIFEST generation                               */
} ds_collection_live_stats;

DS_API void      ds_write_opts_init(ds_write_opts *o);                      /* Thread: any */
/* Adds or replaces n documents as one batch (all or nothing): DS_ERR_INVALID
** naming the document for an empty or over-long id, an id twice in the batch,
** a document over the size limit or a non-finite embedding; nothing is then
** written. embeddings: n x dim floats when the collection holds precomputed
** embeddings, else NULL. DS_ERR_READONLY when not opened writable. res may be
** NULL. */
DS_API ds_status ds_collection_upsert(ds_collection *c, const ds_doc *docs, size_t n, const float *embeddings,
                                      const ds_write_opts *opts, ds_write_result *res);
/* Deletes the documents with these ids (lens NULL: NUL-terminated); absent
** ids are counted in res->n_missing, not an error. */
DS_API ds_status ds_collection_delete(ds_collection *c, const char *const *ids, const size_t *lens, size_t n,
                                      const ds_write_opts *opts, ds_write_result *res);
/* Publishes what was written: segments fsynced, a new MANIFEST, the log
** trimmed. */
DS_API ds_status ds_collection_flush(ds_collection *c);
/* Merges every segment into one without the deleted documents, publishes it. */
DS_API ds_status ds_collection_compact(ds_collection *c);
DS_API ds_status ds_collection_stats_live(const ds_collection *c, ds_collection_live_stats *st);

/* [collection:end] */

#ifdef __cplusplus
}
#endif
#endif /* DENSEARCH_H */
