/* frames.h -- stored documents in zstd frames: the layout shared by the
** lexical index's DOCX/DOCF/DOCZ sections (docs/format.md §2.1) and the
** collection's document store (§4.2).
**
** A frame holds consecutive documents, each as varint title length, title,
** varint text length, text. DOCF[c] is the first document of frame c and
** DOCX[c] its offset in DOCZ (both with one extra entry closing the table).
**
** Thread: a reader is read-only (decoding allocates its own buffer); a writer
** is exclusive.
*/
#ifndef DS_FRAMES_H
#define DS_FRAMES_H

#include "ds_internal.h"

#include <stdio.h>

#define DS__FRAME_DOCS  32u           /* most documents per frame */
#define DS__FRAME_BYTES (64u << 10)   /* a frame closes once it holds this much text */

/* The mapped sections of stored documents. Lengths are in entries for docx
** (n_chunks + 1 u64) and docf (n_chunks + 1 u32), in bytes for docz. */
typedef struct ds__frames {
    const uint8_t *docx, *docf, *docz;
    uint64_t       docz_len;
    uint32_t       n_docs, n_chunks, stored_chunk, max_chunk_raw;
} ds__frames;

/* Title and text of doc as new NUL-terminated strings (released with
** ds_free); either out pointer may be NULL. DS_ERR_CORRUPT names the frame
** when the tables or the frame are damaged. */
ds_status ds__frames_get(const ds__frames *f, uint32_t doc, char **title, size_t *title_len, char **text,
                         size_t *text_len);

/* Sequential writer: documents are buffered into frames, compressed and
** appended to an unlinked temporary file in dir; the caller copies the
** tables and the file into its container at the end. Errors are sticky. */
typedef struct ds__frames_writer {
    ds_env   *env;
    ds__buf   raw;          /* the open frame, uncompressed          */
    uint32_t  raw_docs;     /* documents in the open frame           */
    uint32_t  n_docs;
    ds__buf   docx, docf;   /* u64 / u32 little-endian tables        */
    FILE     *z;            /* compressed frames                     */
    uint64_t  z_len;
    uint32_t  n_chunks, max_chunk_raw;
    void     *zc;           /* ZSTD_CCtx                             */
    ds_status rc;
} ds__frames_writer;

ds_status ds__frames_writer_init(ds__frames_writer *w, ds_env *env, const char *dir);
ds_status ds__frames_add(ds__frames_writer *w, const char *title, size_t title_len, const char *text,
                         size_t text_len);
/* Closes the last frame and the tables (docx/docf then hold n_chunks + 1
** entries); the compressed bytes are in w->z, w->z_len long. */
ds_status ds__frames_finish(ds__frames_writer *w);
/* Copies len bytes of a temporary file, from its start, into the current
** container section (a ds__cwriter is passed as void * to keep this header
** free of the container's). */
ds_status ds__copy_file_to(void *cwriter, FILE *f, uint64_t len);
void      ds__frames_writer_release(ds__frames_writer *w);

#endif /* DS_FRAMES_H */
