/* collection.h -- internals of a collection (public API: densearch.h
** [collection]; on-disk layout: docs/format.md §4).
**
** A collection handle is in one of two states: building (between
** ds_collection_create and a successful ds_collection_commit; exclusive) and
** open (read-only; any number of concurrent searches). Commit turns the first
** into the second on the same handle.
*/
#ifndef DS_COLLECTION_H
#define DS_COLLECTION_H

#include "ds_internal.h"
#include "collection/docstore.h"
#include "core/container.h"

#define DS__CMAN_KIND  DS_FOURCC('C', 'M', 'A', 'N')
#define DS__CMAN_MAJOR 1
#define DS__CMAN_MINOR 0
#define DS__SEC_CMTA   DS_FOURCC('C', 'M', 'T', 'A')

typedef struct ds__coll_build ds__coll_build;

/* Who the encoder is, as recorded in the MANIFEST and compared at open. */
typedef struct ds__encoder_identity {
    char     name[256];          /* model directory's base name             */
    char     path[4096];         /* absolute path at build time             */
    char     config_xxh3[17];    /* XXH3-64 of config.json, hex             */
    char     weights_sha256[65]; /* SHA-256 of the weights file, hex        */
    char     weights_xxh3[33];   /* XXH3-128 of the weights file, hex       */
    uint64_t weights_bytes;
    char     kind[16];           /* "embed", ...                            */
    char     pooling[16];
    int      normalize;
    size_t   max_seq_length, dim;
} ds__encoder_identity;

struct ds_collection {
    ds_env         *env;
    char           *dir;
    int             building;     /* 1 until commit succeeds                 */
    int             legacy;       /* opened from a pre-collection BM25 index */
    ds__coll_build *b;
    /* open state */
    ds_lexical     *lx;
    ds__docstore   *ds;
    ds_index       *vx;           /* NULL: BM25 only                         */
    ds_encoder     *enc;          /* owned; NULL when none is loaded         */
    size_t          dim;
    int             has_identity; /* the MANIFEST names an encoder           */
    ds__encoder_identity ident;
    char           *enc_note;     /* why no encoder is loaded, for errors    */
    size_t          chunk_tokens, chunk_overlap;
    char           *vec_type;     /* "hnsw", ...                             */
    char           *seg_name;
    ds__wlock      *lock;         /* MANIFEST writer lock while building    */
};

#endif /* DS_COLLECTION_H */
