/* wal.h -- the write-ahead log of a live collection (docs/format.md §4.4).
**
** A directory of files wal-<first lsn, 20 digits>.log, each a sequence of
** records; a record carries its log sequence number (LSN, consecutive from 1
** over the life of the collection), a type byte chosen by the caller, the
** payload and an XXH3-64 checksum over all of it. Appends go to the newest
** file; ds__wal_sync makes them durable with one fsync shared by every
** concurrent caller (group commit). The caller (live.c) decides what the
** payloads mean and when records are no longer needed (ds__wal_trim, once
** the segments holding them are published).
**
** A crash can leave the last record of the newest file torn (never
** acknowledged, since acknowledgement waits for the fsync): replay drops it
** and truncates the file there. Damage anywhere else is DS_ERR_CORRUPT.
**
** Thread: append, sync, rotate, trim and the getters may be called from any
** threads; replay only before the first append.
*/
#ifndef DS_WAL_H
#define DS_WAL_H

#include "ds_internal.h"

typedef struct ds__wal ds__wal;

/* Opens the log in dir (created if missing; the caller holds the collection's
** writer lock). Records with lsn <= published are already in the published
** segments: replay skips them, and the next LSN is at least published + 1. */
ds_status ds__wal_open(ds_env *env, const char *dir, uint64_t published, ds__wal **out);
/* Calls fn for every record with lsn > published, in LSN order. A status
** other than DS_OK from fn stops the replay and is returned. */
typedef ds_status (*ds__wal_fn)(void *ud, uint64_t lsn, uint8_t type, const uint8_t *p, size_t len);
ds_status ds__wal_replay(ds__wal *w, ds__wal_fn fn, void *ud);
/* Appends one record (len < 1 GiB) and returns its LSN in *lsn; LSNs follow
** the order of the calls. The record is written (write(2)) before return,
** not yet fsynced. */
ds_status ds__wal_append(ds__wal *w, uint8_t type, const void *p, size_t len, uint64_t *lsn);
/* Returns once every record up to lsn is fsynced. */
ds_status ds__wal_sync(ds__wal *w, uint64_t lsn);
/* Later appends go to a new file (so older files can be trimmed whole). */
ds_status ds__wal_rotate(ds__wal *w);
/* Removes the files all of whose records have lsn <= upto. */
ds_status ds__wal_trim(ds__wal *w, uint64_t upto);
uint64_t  ds__wal_bytes(const ds__wal *w);        /* all files */
uint64_t  ds__wal_last_lsn(const ds__wal *w);     /* last appended (or replayed) */
uint64_t  ds__wal_durable_lsn(const ds__wal *w);  /* last fsynced */
void      ds__wal_close(ds__wal *w);              /* NULL ok; fsyncs what is written */

/* For tests: fsyncs issued by sync and rotate (group commit shares them), and
** a fault: the next append writes half its record, then fails with EIO. */
uint64_t  ds__wal_n_syncs(const ds__wal *w);
void      ds__wal_fail_next_write(ds__wal *w);

#endif /* DS_WAL_H */
