/* docstore.h -- the document store of a collection segment (docs.dsx, file
** kind DOCS, docs/format.md §4.2): external ids, stored title/text and the
** passages of each document, keyed by document number, so the BM25 index
** and the vector index of the segment both answer in document numbers and
** passage numbers that this store maps back to ids.
**
** A collection opened from a pre-collection BM25 directory has no docs.dsx:
** its store is then backed by the lexical index's own ids and stored text
** (one passage per document), behind the same functions.
**
** Thread: a writer is exclusive; an open store is read-only.
*/
#ifndef DS_DOCSTORE_H
#define DS_DOCSTORE_H

#include "ds_internal.h"
#include "core/container.h"
#include "core/frames.h"

#define DS__DOCS_KIND   DS_FOURCC('D', 'O', 'C', 'S')
#define DS__DOCS_MAJOR  1
#define DS__DOCS_MINOR  0
#define DS__DOCS_MAX_ID 1024u

typedef struct ds__docstore_writer {
    ds_env           *env;
    char             *path;          /* .../docs.dsx */
    ds__buf           idof, idst;    /* u64 offsets, id bytes */
    ds__buf           psgo;          /* u32 first passage of each doc */
    ds__frames_writer frames;
    int               store_text;
    uint32_t          n_docs;
    uint64_t          n_passages;
    ds_status         rc;
} ds__docstore_writer;

ds_status ds__docstore_writer_init(ds__docstore_writer *w, ds_env *env, const char *seg_dir, int store_text);
/* Appends a document with n_passages (>= 1) passages. */
ds_status ds__docstore_add(ds__docstore_writer *w, const char *id, size_t id_len, const char *title,
                           size_t title_len, const char *text, size_t text_len, uint32_t n_passages);
ds_status ds__docstore_finish(ds__docstore_writer *w);   /* writes docs.dsx */
void      ds__docstore_writer_release(ds__docstore_writer *w);

typedef struct ds__docstore {
    ds_env         *env;
    ds__creader    *cr;            /* NULL when backed by a lexical index   */
    const ds_lexical *lx;          /* the backing lexical index, or NULL    */
    uint32_t        n_docs;
    uint64_t        n_passages;
    const uint8_t  *idof, *idst;
    uint64_t        idst_len;
    uint32_t       *psg_first;     /* n_docs + 1; NULL: one passage per doc */
    uint32_t       *psg_doc;       /* n_passages; NULL likewise             */
    int             has_text;
    ds__frames      frames;
    uint32_t       *id_slots;      /* open-addressing table: doc + 1, 0 empty */
    size_t          n_slots;       /* power of two                          */
} ds__docstore;

ds_status ds__docstore_open(ds_env *env, const char *path, unsigned flags, ds__docstore **out);
/* A store over a lexical index's own ids and text (pre-collection indexes). */
ds_status ds__docstore_from_lexical(ds_env *env, const ds_lexical *lx, ds__docstore **out);
void      ds__docstore_close(ds__docstore *ds);
/* Deep check of a docs.dsx file: checksums, tables, every frame. */
ds_status ds__docstore_check(ds_env *env, const char *path);

const char *ds__docstore_id(const ds__docstore *ds, uint32_t doc, size_t *len);
ds_status   ds__docstore_find(const ds__docstore *ds, const char *id, size_t len, uint32_t *doc);
ds_status   ds__docstore_doc(const ds__docstore *ds, uint32_t doc, char **title, size_t *title_len,
                             char **text, size_t *text_len);
static inline uint32_t ds__docstore_passage_doc(const ds__docstore *ds, uint64_t p) {
    return ds->psg_doc ? ds->psg_doc[p] : (uint32_t)p;
}
static inline uint32_t ds__docstore_first_passage(const ds__docstore *ds, uint32_t doc) {
    return ds->psg_first ? ds->psg_first[doc] : doc;
}

#endif /* DS_DOCSTORE_H */
