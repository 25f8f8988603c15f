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
    DS_OPEN_VERIFY = 1u << 0   /* verify every section checksum while opening */
};

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

/* [lexical:end] */

/* ======================================================================== */
/* Evaluation: qrels, runs, trec_eval metrics                  [eval]        */
/* ======================================================================== */

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
** (BertNormalizer, BertPreTokenizer, WordPiece, TemplateProcessing), or
** vocab.txt + tokenizer_config.json when there is no tokenizer.json.
** Errors name the file and the problem (DS_ERR_IO, DS_ERR_CORRUPT for bad
** JSON, DS_ERR_UNSUPPORTED for a normalizer/model type other than BERT
** WordPiece). Thread: any. */
DS_API ds_status ds_tokenizer_open(ds_env *env, const char *model_dir, ds_tokenizer **out);
DS_API void      ds_tokenizer_close(ds_tokenizer *tok);                       /* NULL ok */

/* Encodes one text (UTF-8, len bytes; invalid UTF-8 is replaced, never an
** error) as [CLS] tokens [SEP] per the template. max_tokens > 0 truncates to
** that many ids including special tokens; 0 means no truncation. Writes at
** most cap ids; *n receives the full count, and DS_ERR_RANGE is returned if
** it exceeds cap (call again with a bigger buffer). Thread: any. */
DS_API ds_status ds_tokenizer_encode(const ds_tokenizer *tok, const char *text, size_t len,
                                     size_t max_tokens, int32_t *ids, size_t cap, size_t *n);
/* Pair encoding [CLS] a [SEP] b [SEP] with token type ids 0 for the first
** segment and 1 for the second; truncation longest-first to max_tokens.
** Same buffer rules as ds_tokenizer_encode (both arrays hold cap). */
DS_API ds_status ds_tokenizer_encode_pair(const ds_tokenizer *tok, const char *a, size_t alen,
                                          const char *b, size_t blen, size_t max_tokens,
                                          int32_t *ids, int32_t *type_ids, size_t cap, size_t *n);
DS_API size_t      ds_tokenizer_vocab_size(const ds_tokenizer *tok);
DS_API const char *ds_tokenizer_token(const ds_tokenizer *tok, int32_t id);   /* NULL if out of range */
DS_API int32_t     ds_tokenizer_special(const ds_tokenizer *tok, ds_special_token which);

/* [tokenizer:end] */

/* ======================================================================== */
/* Transformer encoders, cross-encoders, SPLADE                 [encoder]     */
/* ======================================================================== */

/* [encoder:end] */

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

#ifdef __cplusplus
}
#endif
#endif /* DENSEARCH_H */
