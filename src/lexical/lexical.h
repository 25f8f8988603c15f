/* lexical.h -- internals of the BM25 index shared by the writer (build.c),
** the reader/searcher (index.c) and the validator (lexical_check.c).
**
** Implements docs/format.md §2 (file kind LEXI, version 1.0). The block codec
** here is the only code that packs or unpacks postings.
**
** Thread: an open ds_lexical is read-only after ds_lexical_open; searches
** allocate their own scratch, so any number may run concurrently.
*/
#ifndef DS_LEXICAL_H
#define DS_LEXICAL_H

#include "ds_internal.h"
#include "core/container.h"
#include "text/analyzer.h"

#include <math.h>

#define DS__LX_KIND        DS_FOURCC('L', 'E', 'X', 'I')
#define DS__LX_MAJOR       1
#define DS__LX_MINOR       0
#define DS__LX_BLOCK       128u
#define DS__LX_META_SIZE   96u
#define DS__LX_SKIP_SIZE   24u
#define DS__LX_MAX_ID      1024u
#define DS__LX_STORED_CHUNK 32u          /* most documents per DOCZ frame */
#define DS__LX_CHUNK_BYTES  (64u << 10)  /* a frame closes once it holds this much text */
/* Largest document (title + text bytes) an index accepts, and so the largest
** decompressed frame a reader ever allocates for: bounds what a hostile file
** can make us allocate. */
#define DS__LX_MAX_DOC      (256u << 20)
#define DS__LX_MAX_CHUNK_RAW (DS__LX_MAX_DOC + DS__LX_CHUNK_BYTES + 64u)

#define DS__SEC_META DS_FOURCC('L', 'X', 'M', 'T')
#define DS__SEC_DLEN DS_FOURCC('D', 'L', 'E', 'N')
#define DS__SEC_IDOF DS_FOURCC('I', 'D', 'O', 'F')
#define DS__SEC_IDST DS_FOURCC('I', 'D', 'S', 'T')
#define DS__SEC_TOFF DS_FOURCC('T', 'O', 'F', 'F')
#define DS__SEC_TSTR DS_FOURCC('T', 'S', 'T', 'R')
#define DS__SEC_TINF DS_FOURCC('T', 'I', 'N', 'F')
#define DS__SEC_SKIP DS_FOURCC('S', 'K', 'I', 'P')
#define DS__SEC_POST DS_FOURCC('P', 'O', 'S', 'T')
#define DS__SEC_DOCX DS_FOURCC('D', 'O', 'C', 'X')
#define DS__SEC_DOCZ DS_FOURCC('D', 'O', 'C', 'Z')
#define DS__SEC_DOCF DS_FOURCC('D', 'O', 'C', 'F')

/* The decoded LXMT section. */
typedef struct ds__lx_meta {
    uint32_t         n_docs, n_terms;
    uint64_t         n_tokens, n_postings;
    float            k1, b;
    uint32_t         block_size, stored_chunk;
    ds__analyzer_cfg an;
    uint64_t         n_blocks;
    uint32_t         max_chunk_raw;
    uint32_t         n_chunks;      /* DOCZ frames */
} ds__lx_meta;

/* BM25 length normalisation k1 * (1 - b + b * dl / avgdl), in f32 exactly as
** both the writer (for max_tfnorm) and the searcher compute it, so the stored
** block bounds hold bit for bit. */
static inline float ds__bm25_norm(float k1, float b, uint32_t dl, float avgdl) {
    return k1 * (1.0f - b + b * ((float)dl / avgdl));
}
static inline float ds__bm25_idf(uint64_t n_docs, uint32_t df) {
    double n = (double)n_docs, d = (double)df;
    return (float)log(1.0 + (n - d + 0.5) / (d + 0.5));
}

/* Writes n (1..128) postings as one block into out (capacity
** ds__lx_block_bound()); returns the block's length. */
size_t ds__lx_block_encode(uint8_t *out, const uint32_t *docs, const uint32_t *tfs, size_t n, int64_t prev);
#define DS__LX_BLOCK_BOUND (2u + 2u * 4u * DS__LX_BLOCK)
/* Decodes a block of n postings from p[0..len) (len must match exactly);
** prev as in encode. avail (>= len) is how many bytes from p may be read:
** with 8 to spare a faster unpacker over-reads (never uses) up to 8 bytes.
** Returns 0 if the block is malformed (lengths, widths, a doc past
** UINT32_MAX); docs/tfs receive n values. Does not check docs against n_docs
** (callers do). */
int ds__lx_block_decode(const uint8_t *p, size_t len, size_t avail, size_t n, int64_t prev, uint32_t *docs,
                        uint32_t *tfs);

/* Parses and validates LXMT. */
ds_status ds__lx_meta_read(const uint8_t *p, uint64_t len, ds__lx_meta *m);

struct ds_lexical {
    ds_env         *env;
    ds__creader    *cr;
    ds__lx_meta     meta;
    float           avgdl;
    const uint8_t  *dlen, *idof, *idst, *toff, *tstr, *tinf, *skip, *post, *docx, *docf, *docz;
    uint64_t        idst_len, tstr_len, post_len, docz_len;
    float          *norm;        /* n_docs: ds__bm25_norm with the index k1, b */
    uint64_t        serial;      /* unique per open in this process: prepared queries
                                    cache term numbers per (handle, serial) */
};

/* Maps the sections of lx->cr and checks their sizes against LXMT (index.c);
** shared with the checker. */
ds_status ds__lx_attach(ds_lexical *lx);
/* Opens an index held in memory (borrowed); for fuzzing and tests. */
ds_status ds__lexical_open_mem(ds_env *env, const void *data, size_t size, unsigned flags, ds_lexical **out);

/* Looks a term up; returns its number, -1 if absent, -2 if the lexicon is damaged. */
int64_t ds__lx_find_term(const ds_lexical *lx, const char *t, size_t len);
/* Document frequency of term number t (< n_terms); 0 if TINF is damaged. */
static inline uint32_t ds__lx_df(const ds_lexical *lx, uint32_t t) { return ds__load_u32le(lx->tinf + 8 * (size_t)t); }

/* ---- search (index.c) and prepared queries (query.c) -------------------- */

#define DS__LX_MAX_QUERY_TERMS 1024

/* Collection-wide BM25 statistics of a live collection: live documents and
** tokens over every segment, and the live document frequency of a term (the
** segments' df less their deleted documents'), so a segment scores exactly
** as one index over the surviving documents would. */
typedef struct ds__lx_global {
    uint64_t n_docs;
    uint64_t n_tokens;
    /* live df of a term (analysed bytes) over all segments */
    uint32_t (*df)(void *ud, const char *term, size_t len);
    void     *df_ud;
} ds__lx_global;
/* avgdl exactly as an index of n_docs documents and n_tokens tokens has it. */
static inline float ds__lx_avgdl(uint64_t n_docs, uint64_t n_tokens) {
    float a = n_docs ? (float)((double)n_tokens / (double)n_docs) : 1.0f;
    return a > 0.0f ? a : 1.0f;
}

/* ds_lexical_search_opts read once (DS_OPT: fields past struct_size take
** their defaults) and checked. */
typedef struct ds__lx_params {
    float          k1, b;           /* resolved: the index's unless overridden */
    int            exhaustive;
    const uint8_t *filter;          /* NULL: every document */
    uint64_t       filter_bits;
    unsigned       rm3_docs, rm3_terms;
    float          rm3_w;           /* original query weight */
    ds_status    (*doc_text)(void *ud, uint32_t doc, char **text, size_t *len);
    void          *doc_text_ud;
    /* One segment of a live collection (collection/live.c): BM25 statistics
    ** over all its segments instead of this index's own, deleted documents
    ** left out, and the filter indexed from filter_offset. */
    const ds__lx_global *g;         /* NULL: this index's statistics */
    const uint8_t  *dead;           /* bit d set: document d is deleted; NULL: none */
    uint64_t        filter_offset;  /* document d is filter bit filter_offset + d */
} ds__lx_params;
ds_status ds__lx_params_read(const ds_lexical *lx, const ds_lexical_search_opts *o, ds__lx_params *p);
/* Checks the RM3 fields (params_read does only when rm3_docs > 0). */
ds_status ds__lx_params_check_rm3(const ds__lx_params *p);

/* A resolved query term: lexicon number, weight (> 0) and, when searching
** with collection-wide statistics, its live df over all segments. */
typedef struct ds__lx_wterm { uint32_t term; float w; uint32_t gdf; uint32_t qi; /* index in the query's terms */ } ds__lx_wterm;
/* Top-k of sum_t w_t * idf_t * tfnorm over terms t[0..n), which must be sorted
** by term number and distinct (the canonical summation order). RM3 fields of
** p are ignored. */
ds_status ds__lx_search_terms(const ds_lexical *lx, const ds__lx_wterm *t, size_t n, size_t k,
                              const ds__lx_params *p, ds_lexical_hit *hits, size_t *n_hits);

/* RM3 expansion from the caller's feedback texts and first-stage scores
** (ds_lexical_query_rm3_docs with parameters already read; p->g gives the
** df filter collection-wide statistics). */
ds_status ds__lx_query_rm3_texts(const ds_lexical *lx, const ds_lexical_query *q, const char *const *texts,
                                 const size_t *lens, const float *scores, size_t n, const ds__lx_params *p,
                                 ds_lexical_query **out);

/* One distinct term of a prepared query: bytes str[off, off+len), weight,
** lexicon number in q->lx (-1: absent). */
typedef struct ds__lx_qterm { uint32_t off, len; float w; int64_t term; } ds__lx_qterm;

struct ds_lexical_query {
    ds_env           *env;
    const ds_lexical *lx;         /* index the term numbers (and `res`) refer to... */
    uint64_t          lx_serial;  /* ...while its serial is this (the handle may be reused) */
    ds__analyzer_cfg  an;         /* analysis the terms came from */
    size_t            n;          /* distinct terms */
    ds__lx_qterm     *t;          /* n, in the query's listing order */
    ds__lx_wterm     *res;        /* n_res terms present in lx, sorted by term number */
    size_t            n_res;
    char             *str;        /* term bytes */
    size_t            bytes;      /* the one allocation holding all of the above */
};

/* Do two analysis configurations produce the same terms? (The stemmer field
** may hold bytes after its NUL that mean nothing.) */
static inline int ds__lx_an_same(const ds__analyzer_cfg *a, const ds__analyzer_cfg *b) {
    return a->version == b->version && a->flags == b->flags && strcmp(a->stemmer, b->stemmer) == 0;
}

/* Analyses text with an (lx's analyzer) into a new query. */
ds_status ds__lx_query_analyze(const ds_lexical *lx, ds__analyzer *an, const char *text, size_t len,
                               ds_lexical_query **out);
/* Searches q (RM3 included when p->rm3_docs > 0; an, lx's analyzer, then
** analyses the feedback documents; NULL: one is created). */
ds_status ds__lx_query_search(const ds_lexical *lx, ds__analyzer *an, const ds_lexical_query *q, size_t k,
                              const ds__lx_params *p, ds_lexical_hit *hits, size_t *n_hits);

#endif /* DS_LEXICAL_H */
