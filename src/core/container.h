/* container.h -- the densearch file container: a 64-byte header, 64-byte
** aligned sections, and a section table, every part checksummed (XXH3-64).
**
** Implements docs/format.md, "Container". Every index type (lexical, flat,
** HNSW, IVF-PQ, binary) is one container file whose file_kind says what it is
** and whose sections hold the data; the module that owns the kind decodes the
** sections and bounds-checks every field, because a valid checksum is not proof
** of valid content.
**
** Writes go to a temporary file of their own, "<path>.tmp.<pid>.<random>",
** created with O_CREAT|O_EXCL|O_NOFOLLOW (a planted file or symlink at that
** name makes the create fail; it is never followed or reused), fsynced, then
** renamed over <path> (and the directory fsynced), so a crash never leaves a
** half-written file visible. While a writer is open it holds an advisory
** flock on "<path>.lock"; a second writer of the same path, in this or another
** process, fails at once with a clear message instead of racing the first
** (policy: docs/format.md, "Writers"). Before renaming, the writer checks that
** the temporary name still refers to the file it wrote, so a rename never
** publishes another process's file. These rules live here once: every file
** densearch writes goes through ds__afile (plain files, TREC runs) or
** ds__cwriter (containers), which is built on it.
** Readers memory-map the file read-only; sections start at multiples of 64
** bytes so they can be used in place by SIMD code.
**
** Thread: a writer is exclusive; an open reader is read-only and may be shared.
*/
#ifndef DS_CONTAINER_H
#define DS_CONTAINER_H

#include "ds_internal.h"

#define DS_CONTAINER_MAGIC        "\x89" "DSIX\r\n\x1a"
#define DS_CONTAINER_BOM          0x01020304u
#define DS_CONTAINER_HEADER_SIZE  64u
#define DS_CONTAINER_ENTRY_SIZE   40u
#define DS_CONTAINER_ALIGN        64u
#define DS_CONTAINER_MAX_SECTIONS 4096u

/* Section flags. */
#define DS_SECTION_REQUIRED 1u   /* a reader that does not know the kind must refuse the file */

typedef struct ds__section {
    uint32_t kind;       /* fourcc, DS_FOURCC('P','O','S','T') */
    uint32_t flags;      /* DS_SECTION_* */
    uint64_t offset;     /* bytes from file start; multiple of 64 */
    uint64_t length;     /* bytes */
    uint64_t checksum;   /* XXH3-64 of the section bytes */
} ds__section;

/* ---- safe file replacement (any file densearch writes) ------------------ */
/* The advisory writer lock of one output path ("<path>.lock", removed again on
** release). Fails with DS_ERR_IO naming the path when another writer holds
** it, or when the lock name is a symlink or not a regular file. Taking it also
** removes temporary files that writers of this path left behind when they
** were killed: with the lock held no other writer can be using them. */
typedef struct ds__wlock ds__wlock;
ds_status ds__wlock_acquire(ds_env *env, const char *path, ds__wlock **out);
void      ds__wlock_release(ds__wlock *l);   /* NULL ok */

/* A file written to a fresh temporary name and renamed over <path> on commit.
** held: a lock on path the caller already holds (borrowed; it stays held
** after commit/abort), or NULL to take one for the file's lifetime. */
typedef struct ds__afile ds__afile;
ds_status   ds__afile_open(ds_env *env, const char *path, ds__wlock *held, ds__afile **out);
int         ds__afile_fd(const ds__afile *f);          /* write-only descriptor */
const char *ds__afile_tmp_path(const ds__afile *f);
/* fsyncs, checks the temporary name still names this file, renames it over
** path, fsyncs the directory, releases the lock and frees f. On failure the
** temporary file is removed and <path> is unchanged. */
ds_status   ds__afile_commit(ds__afile *f);
void        ds__afile_abort(ds__afile *f);             /* removes the temporary file; NULL ok */
/* On this thread, commits rename without fsyncing the file or its directory
** (on = 1) until called with 0: for files made durable later as a group (a
** live collection's segments, fsynced when a MANIFEST names them; until
** then the write-ahead log holds their content). */
void        ds__afile_defer_sync(int on);

/* ---- writing ---------------------------------------------------------- */
typedef struct ds__cwriter ds__cwriter;

/* Starts a new file (see the top of this file for the temporary name and
** the lock). format_major/minor are the version of the
** file kind's own layout; min_reader_minor is the oldest reader minor that may
** still read the file (SQLite's read/write version split). */
ds_status ds__cw_open(ds_env *env, const char *path, uint32_t file_kind,
                      uint16_t format_major, uint16_t format_minor,
                      uint16_t min_reader_minor, ds__cwriter **out);
/* The same, for a caller that took the path's lock earlier (a builder that
** locks its output when it starts, so a second builder fails before doing the
** work); held is borrowed and stays held after commit/abort. */
ds_status ds__cw_open_locked(ds_env *env, const char *path, ds__wlock *held, uint32_t file_kind,
                             uint16_t format_major, uint16_t format_minor,
                             uint16_t min_reader_minor, ds__cwriter **out);
/* Sections are written one at a time: begin, any number of writes, end.
** Errors are sticky: after a failure every call is a no-op and commit returns
** the first error. */
ds_status ds__cw_begin(ds__cwriter *w, uint32_t kind, uint32_t flags);
ds_status ds__cw_write(ds__cwriter *w, const void *p, size_t n);
ds_status ds__cw_end(ds__cwriter *w);
/* Convenience: begin + write + end. */
ds_status ds__cw_section(ds__cwriter *w, uint32_t kind, uint32_t flags, const void *p, size_t n);
/* Bytes written to the current section so far. */
uint64_t  ds__cw_section_size(const ds__cwriter *w);
/* Writes the table and header, fsyncs, renames into place, frees w. On any
** failure the temporary file is removed and nothing is visible at <path>. */
ds_status ds__cw_commit(ds__cwriter *w);
/* Removes the temporary file and frees w. NULL ok. */
void      ds__cw_abort(ds__cwriter *w);

/* ---- reading ---------------------------------------------------------- */
typedef struct ds__creader {
    ds_env            *env;
    const uint8_t     *base;       /* whole file, read-only */
    uint64_t           size;       /* bytes */
    uint32_t           file_kind;
    uint16_t           format_major, format_minor, min_reader_minor;
    uint32_t           flags;
    uint32_t           n_sections;
    ds__section       *sections;
    int                mapped;     /* base came from mmap (else borrowed memory) */
} ds__creader;

/* Opens and validates the header, the section table, the zero padding and
** every section's checksum (always, for files: an answer must never be
** computed from bytes whose checksum failed; DS_OPEN_VERIFY is implied).
** expect_kind 0 accepts any kind.
** Errors: DS_ERR_IO (cannot read), DS_ERR_FORMAT (not a densearch file, other
** byte order, other kind, unsupported major version), DS_ERR_CORRUPT
** (truncated, checksum mismatch, sections out of bounds or overlapping). */
ds_status ds__cr_open(ds_env *env, const char *path, uint32_t expect_kind,
                      unsigned flags, ds__creader **out);
/* The same over bytes in memory (borrowed for the reader's lifetime); used by
** fuzz targets and tests. Here section checksums are verified only with
** DS_OPEN_VERIFY, so fuzz targets can reach the section decoders with
** arbitrary bytes. */
ds_status ds__cr_open_mem(ds_env *env, const void *data, size_t size, uint32_t expect_kind,
                          unsigned flags, ds__creader **out);
void      ds__cr_close(ds__creader *r);   /* NULL ok */

/* Checks every section checksum. */
ds_status ds__cr_verify(const ds__creader *r);
/* Fails with DS_ERR_FORMAT if a section marked required has a kind not in
** known[0..n_known). */
ds_status ds__cr_check_known(const ds__creader *r, const uint32_t *known, size_t n_known);
/* First section of that kind, or NULL. */
const ds__section *ds__cr_find(const ds__creader *r, uint32_t kind);
/* Pointer and length of a section; DS_ERR_CORRUPT naming the kind if absent. */
ds_status ds__cr_get(const ds__creader *r, uint32_t kind, const uint8_t **p, uint64_t *len);

/* Like ds__cr_get, but the section must be exactly `want` bytes long
** (DS_ERR_CORRUPT naming the section and both sizes otherwise). */
ds_status ds__cr_get_sized(const ds__creader *r, uint32_t kind, uint64_t want, const uint8_t **p);

/* "POST" from a fourcc, for messages. buf must hold 5 bytes. */
const char *ds__fourcc_str(uint32_t kind, char buf[5]);

/* Reads just the header of a file and reports its kind (ds_file_kind). */
ds_status ds__file_kind(const char *path, uint32_t *kind);

/* ---- plain files -------------------------------------------------------- */
/* fsyncs the directory that contains path, so a rename into it is durable. */
ds_status ds__fsync_dir_of(const char *path);

#endif /* DS_CONTAINER_H */
