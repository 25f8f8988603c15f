/* wal.c -- the write-ahead log of a live collection (docs/format.md §4.4).
**
** Files: wal-<first LSN, 20 digits>.log in one directory, each a 32-byte
** header then records {u32 magic, u32 len, u64 lsn, u8 type, 3 zero bytes,
** payload, u64 XXH3-64 of everything before it}. Invariants kept in memory
** and checked on open:
**   - files[] is sorted by first LSN; the last entry is the current file,
**     the only one open for writing (w->fd) and the only one that may hold a
**     torn record after a crash;
**   - the records of one file carry consecutive LSNs starting at its name;
**     across files LSNs continue, except that LSNs <= published may be
**     missing (trimmed files);
**   - a file that is not current was fsynced whole before the next file was
**     created (rotate syncs first), so only the current file can be torn.
**
** Thread: one mutex guards files[], the write offset and the flags; the
** counters the getters read are atomics written under it. ds__wal_sync is
** group commit: one caller (the leader) fsyncs outside the mutex while
** others wait on the condition variable; rotate, trim and close wait for the
** leader before they touch the file list, so the descriptor a leader syncs is
** never closed under it. A failed write or fsync is sticky (after a failed
** fsync the kernel may have dropped the dirty pages, so retrying could report
** success for data that is gone): every later append or sync fails until the
** log is reopened, and reopening replays what really reached the disk.
*/
#include "collection/wal.h"
#include "core/container.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include <xxhash.h>

#define WAL_MAGIC        "\x89" "DSWL\r\n\x1a"
#define WAL_BOM          0x01020304u
#define WAL_MAJOR        1u
#define WAL_MINOR        0u
#define WAL_HEADER       32u
#define REC_MAGIC        DS_FOURCC('D', 'S', 'W', 'R')
#define REC_HEAD         20u                      /* magic, len, lsn, type, reserved */
#define REC_OVERHEAD     (REC_HEAD + 8u)          /* + checksum */
#define WAL_MAX_PAYLOAD  ((1u << 30) - 1u)        /* < 1 GiB */
#define NAME_LEN         (4 + 20 + 4)             /* wal-<20 digits>.log */
#define READ_CHUNK       (64u * 1024u)
/* Bytes the torn-tail check may hash while it looks for a valid record after
** a damaged one; past it the damage is reported as corruption (the safe
** answer) instead of scanning a hostile file for ever. */
#define RESYNC_BUDGET    ((uint64_t)64 << 20)

typedef struct wal_file {
    uint64_t first;   /* LSN in its name and header */
    uint64_t last;    /* LSN of its last record; first - 1 when it has none */
    uint64_t size;    /* bytes, header included */
} wal_file;

struct ds__wal {
    ds_env          *env;
    char            *dir;
    int              dirfd;
    uint64_t         published;
    pthread_mutex_t  mu;
    pthread_cond_t   cv;
    wal_file        *files;         /* by LSN; files[n_files - 1] is current */
    size_t           n_files, cap_files;
    int              fd;            /* current file: O_RDWR | O_APPEND */
    int              syncing;       /* a leader is in fdatasync */
    int              appended;      /* replay is refused after the first append */
    int              fault;         /* test hook: the next write fails half-way */
    ds_status        broken;        /* sticky failure, DS_OK while healthy */
    char             broken_msg[512];
    XXH3_state_t    *hash;
    _Atomic uint64_t last_lsn, durable_lsn, bytes, n_syncs;
};

static void file_name(char buf[NAME_LEN + 1], uint64_t first) {
    snprintf(buf, NAME_LEN + 1, "wal-%020llu.log", (unsigned long long)first);
}

/* 1 when name is exactly wal-<20 digits>.log with a value in 1..2^64-1. */
static int parse_name(const char *name, uint64_t *first) {
    if (strlen(name) != NAME_LEN || memcmp(name, "wal-", 4) != 0 || memcmp(name + 24, ".log", 4) != 0)
        return 0;
    uint64_t v = 0;
    for (int i = 4; i < 24; i++) {
        unsigned d = (unsigned)(name[i] - '0');
        if (d > 9 || v > (UINT64_MAX - d) / 10) return 0;
        v = v * 10 + d;
    }
    if (v == 0) return 0;
    *first = v;
    return 1;
}

static ds_status sync_fd(int fd) {
    int r;
    do {
#if defined(__linux__)
        r = fdatasync(fd);   /* appends grow the file: fdatasync still writes the size */
#else
        r = fsync(fd);
#endif
    } while (r != 0 && errno == EINTR);
    return r == 0 ? DS_OK : DS_ERR_IO;
}

/* Writes every byte of iov[0..n) (short writes and EINTR resumed). */
static int write_all(int fd, struct iovec *iov, int n) {
    while (n > 0) {
        ssize_t k = writev(fd, iov, n);
        if (k < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        while (n > 0 && (size_t)k >= iov->iov_len) {
            k -= (ssize_t)iov->iov_len;
            iov++;
            n--;
        }
        if (n > 0) {
            iov->iov_base = (uint8_t *)iov->iov_base + k;
            iov->iov_len -= (size_t)k;
        }
    }
    return 0;
}

static ds_status set_broken(ds__wal *w, ds_status rc) {
    w->broken = rc;
    snprintf(w->broken_msg, sizeof w->broken_msg, "%s", ds_errmsg());
    return rc;
}

static ds_status broken_fail(const ds__wal *w) {
    return ds__fail(w->broken, "%s: the write-ahead log failed earlier and must be reopened (%s)", w->dir,
                    w->broken_msg);
}

/* ======================================================================== */
/* Reading: a window over the file, filled with pread                        */
/* ======================================================================== */
typedef struct rd {
    ds_env  *env;
    int      fd;
    uint64_t size;        /* file bytes */
    uint8_t *buf;
    size_t   cap;
    uint64_t off;         /* file offset of buf[0] */
    size_t   len;         /* valid bytes in buf */
} rd;

/* Points *p at file bytes [pos, pos + n); the caller ensures pos + n <= size,
** so no allocation exceeds the file's real size whatever a length field says. */
static ds_status rd_view(rd *r, uint64_t pos, size_t n, const uint8_t **p, const char *path) {
    if (pos >= r->off && pos - r->off <= r->len && r->len - (size_t)(pos - r->off) >= n) {
        *p = r->buf + (pos - r->off);
        return DS_OK;
    }
    size_t want = n > READ_CHUNK ? n : READ_CHUNK;
    if (want > r->size - pos) want = (size_t)(r->size - pos);
    if (want > r->cap) {
        uint8_t *nb = ds__alloc(r->env, want, 64);
        if (nb == NULL) return ds__fail(DS_ERR_NOMEM, "out of memory");
        ds__free(r->env, r->buf, r->cap);
        r->buf = nb;
        r->cap = want;
    }
    r->off = pos;
    r->len = 0;
    while (r->len < want) {
        ssize_t k = pread(r->fd, r->buf + r->len, want - r->len, (off_t)(pos + r->len));
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) {
            r->len = 0;
            return ds__fail(DS_ERR_IO, "%s: read failed at byte %llu: %s", path,
                            (unsigned long long)(pos + r->len), k < 0 ? strerror(errno) : "file shrank");
        }
        r->len += (size_t)k;
    }
    *p = r->buf;
    return DS_OK;
}

static void rd_release(rd *r) { ds__free(r->env, r->buf, r->cap); }

typedef struct rec {
    uint64_t       lsn;
    uint8_t        type;
    const uint8_t *payload;
    uint32_t       len;
} rec;

/* Parses the record at pos. Returns NULL and fills *out when it is whole and
** its checksum holds, else why not. *hashed counts the bytes checksummed.
** I/O errors come back through *rc (with a reason of NULL). */
static const char *parse_rec(rd *r, uint64_t pos, rec *out, uint64_t *hashed, ds_status *rc, const char *path) {
    const uint8_t *h;
    uint64_t rem = r->size - pos;
    *rc = DS_OK;
    if (rem < REC_HEAD) return "truncated record header";
    if ((*rc = rd_view(r, pos, REC_HEAD, &h, path)) != DS_OK) return NULL;
    if (ds__load_u32le(h) != REC_MAGIC) return "bad record magic";
    uint32_t len = ds__load_u32le(h + 4);
    if (len > WAL_MAX_PAYLOAD) return "payload length over 1 GiB";
    if (h[17] != 0 || h[18] != 0 || h[19] != 0) return "reserved record bytes are not zero";
    if (rem < (uint64_t)REC_OVERHEAD + len) return "truncated record";
    if ((*rc = rd_view(r, pos, REC_OVERHEAD + (size_t)len, &h, path)) != DS_OK) return NULL;
    *hashed += REC_HEAD + (uint64_t)len;
    if (XXH3_64bits(h, REC_HEAD + (size_t)len) != ds__load_u64le(h + REC_HEAD + len))
        return "record checksum mismatch";
    out->lsn = ds__load_u64le(h + 8);
    out->type = h[16];
    out->payload = h + REC_HEAD;
    out->len = len;
    return NULL;
}

/* Is there a whole, checksummed record with an LSN above `after` anywhere in
** [from, size)? Decides whether damage is a torn tail (no) or corruption
** (yes). Exhausting the budget answers yes. */
static int valid_record_after(rd *r, uint64_t from, uint64_t after, ds_status *rc, const char *path) {
    uint64_t hashed = 0;
    *rc = DS_OK;
    for (uint64_t p = from; p + REC_OVERHEAD <= r->size; p++) {
        const uint8_t *h;
        if ((*rc = rd_view(r, p, 4, &h, path)) != DS_OK) return 1;
        if (ds__load_u32le(h) != REC_MAGIC) continue;
        rec x;
        const char *why = parse_rec(r, p, &x, &hashed, rc, path);
        if (*rc != DS_OK) return 1;
        if (why == NULL && x.lsn > after) return 1;
        if (hashed > RESYNC_BUDGET) return 1;
    }
    return 0;
}

/* ======================================================================== */
/* Files                                                                    */
/* ======================================================================== */
static void encode_header(uint8_t h[WAL_HEADER], uint64_t first) {
    memset(h, 0, WAL_HEADER);
    memcpy(h, WAL_MAGIC, 8);
    ds__store_u32le(h + 8, WAL_BOM);
    ds__store_u16le(h + 12, WAL_MAJOR);
    ds__store_u16le(h + 14, WAL_MINOR);
    ds__store_u64le(h + 16, first);
    ds__store_u64le(h + 24, XXH3_64bits(h, 24));
}

static ds_status grow_files(ds__wal *w) {
    if (w->n_files < w->cap_files) return DS_OK;
    size_t cap = w->cap_files ? w->cap_files * 2 : 8;
    wal_file *f = ds__realloc(w->env, w->files, w->cap_files * sizeof *f, cap * sizeof *f);
    if (f == NULL) return ds__fail(DS_ERR_NOMEM, "out of memory");
    w->files = f;
    w->cap_files = cap;
    return DS_OK;
}

/* Creates wal-<first>.log (header written and fsynced, directory fsynced) and
** appends it to files[]. The caller closes the previous descriptor. */
static ds_status create_file(ds__wal *w, uint64_t first, int *fd_out) {
    char name[NAME_LEN + 1];
    *fd_out = -1;
    ds_status rc = grow_files(w);
    if (rc != DS_OK) return rc;
    file_name(name, first);
    int fd = openat(w->dirfd, name, O_RDWR | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0) return ds__fail(DS_ERR_IO, "%s/%s: cannot create: %s", w->dir, name, strerror(errno));
    uint8_t h[WAL_HEADER];
    encode_header(h, first);
    struct iovec iov = { h, sizeof h };
    if (write_all(fd, &iov, 1) != 0 || sync_fd(fd) != DS_OK || fsync(w->dirfd) != 0) {
        rc = ds__fail(DS_ERR_IO, "%s/%s: cannot write the header: %s", w->dir, name, strerror(errno));
        close(fd);
        unlinkat(w->dirfd, name, 0);
        return rc;
    }
    w->files[w->n_files++] = (wal_file){ first, first - 1, WAL_HEADER };
    atomic_fetch_add(&w->bytes, WAL_HEADER);
    *fd_out = fd;
    return DS_OK;
}

/* Checks the header of files[i] (size bytes, open as fd). *torn is set for a
** current file whose header never fully reached the disk (a crash while it was
** being created): it holds no record and is removed. */
static ds_status check_header(ds__wal *w, size_t i, int fd, uint64_t size, int *torn) {
    char name[NAME_LEN + 1];
    uint8_t h[WAL_HEADER];
    int newest = i + 1 == w->n_files;
    *torn = 0;
    file_name(name, w->files[i].first);
    if (size >= WAL_HEADER) {
        ssize_t k;
        do k = pread(fd, h, sizeof h, 0); while (k < 0 && errno == EINTR);
        if (k != (ssize_t)sizeof h)
            return ds__fail(DS_ERR_IO, "%s/%s: cannot read the header: %s", w->dir, name,
                            k < 0 ? strerror(errno) : "short read");
    }
    int ok = size >= WAL_HEADER && memcmp(h, WAL_MAGIC, 8) == 0 && ds__load_u64le(h + 24) == XXH3_64bits(h, 24);
    if (!ok && newest && size <= WAL_HEADER) {
        *torn = 1;
        return DS_OK;
    }
    if (size < WAL_HEADER)
        return ds__fail(DS_ERR_CORRUPT, "%s/%s: %llu bytes, shorter than the %u-byte header", w->dir, name,
                        (unsigned long long)size, WAL_HEADER);
    if (memcmp(h, WAL_MAGIC, 8) != 0)
        return ds__fail(DS_ERR_CORRUPT, "%s/%s: byte 0: not a densearch write-ahead log (bad magic)", w->dir, name);
    if (ds__load_u32le(h + 8) == 0x04030201u)
        return ds__fail(DS_ERR_FORMAT, "%s/%s: written with the other byte order", w->dir, name);
    if (!ok || ds__load_u32le(h + 8) != WAL_BOM)
        return ds__fail(DS_ERR_CORRUPT, "%s/%s: byte 0: header checksum mismatch", w->dir, name);
    if (ds__load_u16le(h + 12) != WAL_MAJOR)
        return ds__fail(DS_ERR_FORMAT, "%s/%s: log format %u.%u, this library reads %u.x", w->dir, name,
                        ds__load_u16le(h + 12), ds__load_u16le(h + 14), WAL_MAJOR);
    if (ds__load_u64le(h + 16) != w->files[i].first)
        return ds__fail(DS_ERR_CORRUPT, "%s/%s: header says first LSN %llu, the name says %llu", w->dir, name,
                        (unsigned long long)ds__load_u64le(h + 16), (unsigned long long)w->files[i].first);
    return DS_OK;
}

/* Walks the records of files[i] (size bytes, open as fd), checking LSNs.
** may_tear: damage with no valid record after it is a torn tail; *cut is then
** set to its offset (else to size). fn, when given, sees records > published. */
static ds_status scan_file(ds__wal *w, size_t i, int fd, uint64_t size, int may_tear, ds__wal_fn fn, void *ud,
                           uint64_t *last_out, uint64_t *cut) {
    char name[NAME_LEN + 1], path[4096];
    file_name(name, w->files[i].first);
    snprintf(path, sizeof path, "%s/%s", w->dir, name);
    rd r = { w->env, fd, size, NULL, 0, 0, 0 };
    uint64_t pos = WAL_HEADER, last = w->files[i].first - 1, hashed = 0;
    ds_status rc = DS_OK;
    *cut = size;
    while (pos < size) {
        rec x;
        const char *why = parse_rec(&r, pos, &x, &hashed, &rc, path);
        if (rc != DS_OK) break;
        if (why != NULL) {
            int follow = 1;
            if (may_tear) {
                follow = valid_record_after(&r, pos + 1, last, &rc, path);
                if (rc != DS_OK) break;
            }
            if (!follow) {
                *cut = pos;
                break;
            }
            rc = ds__fail(DS_ERR_CORRUPT, "%s: byte %llu: %s%s", path, (unsigned long long)pos, why,
                          may_tear ? " (valid records follow it, so it is not a torn tail)"
                                   : " (not in the newest file, so it is not a torn tail)");
            break;
        }
        if (last == UINT64_MAX || x.lsn != last + 1) {
            rc = ds__fail(DS_ERR_CORRUPT, "%s: byte %llu: record has LSN %llu, expected %llu (%s)", path,
                          (unsigned long long)pos, (unsigned long long)x.lsn, (unsigned long long)(last + 1),
                          x.lsn <= last ? "a repeat" : "a gap");
            break;
        }
        if (fn != NULL && x.lsn > w->published) {
            rc = fn(ud, x.lsn, x.type, x.payload, x.len);
            if (rc != DS_OK) break;
        }
        last = x.lsn;
        pos += REC_OVERHEAD + (uint64_t)x.len;
    }
    rd_release(&r);
    *last_out = last;
    return rc;
}

/* Opens files[i] read-only (or read-write with O_APPEND when it is current
** and will be written), checking that it is a regular file. */
static ds_status open_file(ds__wal *w, size_t i, int writable, int *fd_out, uint64_t *size) {
    char name[NAME_LEN + 1];
    file_name(name, w->files[i].first);
    int flags = (writable ? O_RDWR | O_APPEND : O_RDONLY) | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK;
    int fd = openat(w->dirfd, name, flags);
    *fd_out = -1;
    if (fd < 0) return ds__fail(DS_ERR_IO, "%s/%s: cannot open: %s", w->dir, name, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return ds__fail(DS_ERR_CORRUPT, "%s/%s: not a regular file", w->dir, name);
    }
    *size = (uint64_t)st.st_size;
    *fd_out = fd;
    return DS_OK;
}

static int cmp_files(const void *a, const void *b) {
    uint64_t x = ((const wal_file *)a)->first, y = ((const wal_file *)b)->first;
    return x < y ? -1 : x > y;
}

static ds_status list_files(ds__wal *w) {
    int fd = openat(w->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (d == NULL) {
        if (fd >= 0) close(fd);
        return ds__fail(DS_ERR_IO, "%s: cannot list: %s", w->dir, strerror(errno));
    }
    ds_status rc = DS_OK;
    struct dirent *e;
    while (rc == DS_OK && (e = readdir(d)) != NULL) {
        uint64_t first;
        if (!parse_name(e->d_name, &first)) continue;   /* not ours: ignored */
        if ((rc = grow_files(w)) == DS_OK) w->files[w->n_files++] = (wal_file){ first, first - 1, 0 };
    }
    closedir(d);
    if (rc == DS_OK && w->n_files > 1) qsort(w->files, w->n_files, sizeof *w->files, cmp_files);
    return rc;
}

/* LSNs must continue from file to file, except where every missing LSN is
** already published (a trim removed files in an order a crash undid). */
static ds_status check_continuity(const ds__wal *w, size_t i) {
    char name[NAME_LEN + 1];
    uint64_t first = w->files[i].first;
    uint64_t prev_last = i > 0 ? w->files[i - 1].last : 0;
    file_name(name, first);
    if (i > 0 && first <= prev_last)
        return ds__fail(DS_ERR_CORRUPT, "%s/%s: starts at LSN %llu, but the previous file ends at %llu (a repeat)",
                        w->dir, name, (unsigned long long)first, (unsigned long long)prev_last);
    uint64_t have = prev_last > w->published ? prev_last : w->published;
    if (first - 1 > have)
        return ds__fail(DS_ERR_CORRUPT, "%s/%s: starts at LSN %llu, but LSNs %llu..%llu are neither in the log "
                        "nor published (a gap)", w->dir, name, (unsigned long long)first,
                        (unsigned long long)(have + 1), (unsigned long long)(first - 1));
    return DS_OK;
}

static void remove_file_entry(ds__wal *w, size_t i) {
    memmove(w->files + i, w->files + i + 1, (w->n_files - i - 1) * sizeof *w->files);
    w->n_files--;
}

static ds_status open_dir(ds__wal *w) {
    int created = 0;
    if (mkdir(w->dir, 0755) == 0)
        created = 1;
    else if (errno != EEXIST)
        return ds__fail(DS_ERR_IO, "%s: cannot create the log directory: %s", w->dir, strerror(errno));
    w->dirfd = open(w->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (w->dirfd < 0)
        return ds__fail(DS_ERR_IO, "%s: cannot open the log directory: %s", w->dir,
                        errno == ENOTDIR ? "not a directory" : strerror(errno));
    /* A new directory is durable only once its parent is synced. */
    if (created) return ds__fsync_dir_of(w->dir);
    return DS_OK;
}

/* Validates every file, cuts a torn tail off the current one, and leaves the
** current file open for appends with the next LSN settled. */
static ds_status recover(ds__wal *w) {
    ds_status rc = list_files(w);
    uint64_t last = w->published;
    for (size_t i = 0; rc == DS_OK && i < w->n_files; i++) {
        int newest = i + 1 == w->n_files, fd, torn;
        uint64_t size, cut, flast;
        char name[NAME_LEN + 1];
        file_name(name, w->files[i].first);
        if ((rc = check_continuity(w, i)) != DS_OK) break;
        if ((rc = open_file(w, i, newest, &fd, &size)) != DS_OK) break;
        rc = check_header(w, i, fd, size, &torn);
        if (rc == DS_OK && torn) {
            close(fd);
            ds__log(w->env, DS_LOG_WARN, "%s/%s: removing a log file whose creation was interrupted", w->dir, name);
            if (unlinkat(w->dirfd, name, 0) != 0 || fsync(w->dirfd) != 0)
                rc = ds__fail(DS_ERR_IO, "%s/%s: cannot remove: %s", w->dir, name, strerror(errno));
            remove_file_entry(w, i);
            break;
        }
        if (rc == DS_OK) rc = scan_file(w, i, fd, size, newest, NULL, NULL, &flast, &cut);
        if (rc == DS_OK && cut < size) {
            ds__log(w->env, DS_LOG_WARN, "%s/%s: dropping a torn record at byte %llu (the write was cut by a crash)",
                    w->dir, name, (unsigned long long)cut);
            int r;
            do r = ftruncate(fd, (off_t)cut); while (r != 0 && errno == EINTR);
            if (r != 0 || sync_fd(fd) != DS_OK)
                rc = ds__fail(DS_ERR_IO, "%s/%s: cannot truncate the torn tail: %s", w->dir, name, strerror(errno));
            size = cut;
        }
        if (rc != DS_OK) {
            close(fd);
            break;
        }
        w->files[i].last = flast;
        w->files[i].size = size;
        atomic_fetch_add(&w->bytes, size);
        if (flast > last) last = flast;
        if (newest) w->fd = fd;
        else close(fd);
    }
    if (rc != DS_OK) return rc;
    /* After a process crash the records may sit in the page cache only: sync
    ** them before they count as durable (and before replay hands them out). */
    if (w->fd >= 0 && sync_fd(w->fd) != DS_OK)
        return ds__fail(DS_ERR_IO, "%s: fsync failed: %s", w->dir, strerror(errno));
    atomic_store(&w->last_lsn, last);
    atomic_store(&w->durable_lsn, last);
    /* Appends go to the current file only if its records would continue at
    ** last + 1 (an empty one: if its name is last + 1). */
    wal_file *cur = w->n_files ? &w->files[w->n_files - 1] : NULL;
    if (cur != NULL && w->fd >= 0 && cur->last == last) return DS_OK;
    if (cur != NULL && cur->last < cur->first) {
        /* An empty file under another name (published moved past it). */
        char name[NAME_LEN + 1];
        file_name(name, cur->first);
        if (unlinkat(w->dirfd, name, 0) != 0 && errno != ENOENT)
            return ds__fail(DS_ERR_IO, "%s/%s: cannot remove: %s", w->dir, name, strerror(errno));
        atomic_fetch_sub(&w->bytes, cur->size);
        w->n_files--;
    }
    int fd;
    if ((rc = create_file(w, last + 1, &fd)) != DS_OK) return rc;
    if (w->fd >= 0) close(w->fd);
    w->fd = fd;
    return DS_OK;
}

static void wal_free(ds__wal *w) {
    if (w->fd >= 0) close(w->fd);
    if (w->dirfd >= 0) close(w->dirfd);
    if (w->hash) XXH3_freeState(w->hash);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    ds__free(w->env, w->files, w->cap_files * sizeof *w->files);
    ds__free(w->env, w->dir, strlen(w->dir) + 1);
    ds__free(w->env, w, sizeof *w);
}

ds_status ds__wal_open(ds_env *env, const char *dir, uint64_t published, ds__wal **out) {
    *out = NULL;
    env = DS_ENV(env);
    if (dir == NULL || *dir == '\0') return ds__fail(DS_ERR_INVALID, "write-ahead log: empty directory path");
    if (published == UINT64_MAX) return ds__fail(DS_ERR_INVALID, "write-ahead log: published LSN out of range");
    ds__wal *w = ds__calloc(env, 1, sizeof *w);
    if (w == NULL) return ds__fail(DS_ERR_NOMEM, "out of memory");
    w->env = env;
    w->fd = w->dirfd = -1;
    w->published = published;
    if ((w->dir = ds__strdup(env, dir)) == NULL) {
        ds__free(env, w, sizeof *w);
        return ds__fail(DS_ERR_NOMEM, "out of memory");
    }
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    ds_status rc = (w->hash = XXH3_createState()) == NULL ? ds__fail(DS_ERR_NOMEM, "out of memory") : DS_OK;
    if (rc == DS_OK) rc = open_dir(w);
    if (rc == DS_OK) rc = recover(w);
    if (rc != DS_OK) {
        wal_free(w);
        return rc;
    }
    *out = w;
    return DS_OK;
}

ds_status ds__wal_replay(ds__wal *w, ds__wal_fn fn, void *ud) {
    if (w == NULL || fn == NULL) return ds__fail(DS_ERR_INVALID, "ds__wal_replay: NULL argument");
    pthread_mutex_lock(&w->mu);
    int appended = w->appended;
    pthread_mutex_unlock(&w->mu);
    /* Replay reads files[] unlocked: before the first append nothing else
    ** changes it (wal.h: replay only before the first append). */
    if (appended) return ds__fail(DS_ERR_INVALID, "%s: replay after an append", w->dir);
    ds_status rc = DS_OK;
    for (size_t i = 0; rc == DS_OK && i < w->n_files; i++) {
        const wal_file *f = &w->files[i];
        if (f->last <= w->published) continue;
        int fd, torn;
        uint64_t size, last, cut;
        if ((rc = open_file(w, i, 0, &fd, &size)) != DS_OK) break;
        rc = check_header(w, i, fd, size, &torn);
        if (rc == DS_OK) rc = scan_file(w, i, fd, size, 0, fn, ud, &last, &cut);
        close(fd);
        if (rc == DS_OK && (last != f->last || size != f->size)) {
            char name[NAME_LEN + 1];
            file_name(name, f->first);
            rc = ds__fail(DS_ERR_CORRUPT, "%s/%s: changed since the log was opened", w->dir, name);
        }
    }
    return rc;
}

/* ======================================================================== */
/* Appending and group commit                                               */
/* ======================================================================== */
ds_status ds__wal_append(ds__wal *w, uint8_t type, const void *p, size_t len, uint64_t *lsn) {
    if (lsn != NULL) *lsn = 0;
    if (w == NULL || (p == NULL && len > 0)) return ds__fail(DS_ERR_INVALID, "ds__wal_append: NULL argument");
    if (len > WAL_MAX_PAYLOAD)
        return ds__fail(DS_ERR_RANGE, "write-ahead log record of %zu bytes (limit %u)", len, WAL_MAX_PAYLOAD);
    uint8_t head[REC_HEAD], tail[8];
    pthread_mutex_lock(&w->mu);
    ds_status rc = DS_OK;
    uint64_t l = atomic_load(&w->last_lsn);
    if (w->broken != DS_OK)
        rc = broken_fail(w);
    else if (l == UINT64_MAX)
        rc = ds__fail(DS_ERR_RANGE, "%s: log sequence numbers exhausted", w->dir);
    if (rc == DS_OK) {
        l++;
        ds__store_u32le(head, REC_MAGIC);
        ds__store_u32le(head + 4, (uint32_t)len);
        ds__store_u64le(head + 8, l);
        head[16] = type;
        head[17] = head[18] = head[19] = 0;
        XXH3_64bits_reset(w->hash);
        XXH3_64bits_update(w->hash, head, REC_HEAD);
        if (len) XXH3_64bits_update(w->hash, p, len);
        ds__store_u64le(tail, XXH3_64bits_digest(w->hash));
        struct iovec iov[3] = { { head, REC_HEAD }, { (void *)p, len }, { tail, 8 } };
        int failed;
        if (w->fault) {
            /* Test hook: half the record reaches the file, then EIO. */
            w->fault = 0;
            struct iovec half = { head, REC_HEAD / 2 };
            write_all(w->fd, &half, 1);
            errno = EIO;
            failed = 1;
        } else {
            failed = write_all(w->fd, iov, 3) != 0;
        }
        if (failed) {
            rc = set_broken(w, ds__fail(DS_ERR_IO, "%s: append of LSN %llu failed: %s", w->dir,
                                        (unsigned long long)l, strerror(errno)));
        } else {
            wal_file *cur = &w->files[w->n_files - 1];
            cur->last = l;
            cur->size += REC_OVERHEAD + len;
            atomic_fetch_add(&w->bytes, REC_OVERHEAD + len);
            atomic_store(&w->last_lsn, l);
            w->appended = 1;
            if (lsn != NULL) *lsn = l;
        }
    }
    pthread_mutex_unlock(&w->mu);
    return rc;
}

ds_status ds__wal_sync(ds__wal *w, uint64_t lsn) {
    if (w == NULL) return ds__fail(DS_ERR_INVALID, "ds__wal_sync: NULL argument");
    ds_status rc = DS_OK;
    pthread_mutex_lock(&w->mu);
    /* Asking beyond the last append means "everything appended so far". */
    uint64_t last = atomic_load(&w->last_lsn);
    if (lsn > last) lsn = last;
    while (rc == DS_OK && atomic_load(&w->durable_lsn) < lsn) {
        if (w->broken != DS_OK) {
            rc = broken_fail(w);
        } else if (w->syncing) {
            pthread_cond_wait(&w->cv, &w->mu);   /* the leader's fsync may cover us: re-check */
        } else {
            /* Leader: everything appended up to now is in the current file (a
            ** rotate syncs the old file before switching), so one fsync
            ** covers the callers waiting now and those that append meanwhile
            ** up to `target`. */
            uint64_t target = atomic_load(&w->last_lsn);
            int fd = w->fd;
            w->syncing = 1;
            pthread_mutex_unlock(&w->mu);
            ds_status r = sync_fd(fd);
            int err = errno;
            pthread_mutex_lock(&w->mu);
            w->syncing = 0;
            atomic_fetch_add(&w->n_syncs, 1);
            if (r == DS_OK) {
                if (atomic_load(&w->durable_lsn) < target) atomic_store(&w->durable_lsn, target);
            } else {
                rc = set_broken(w, ds__fail(DS_ERR_IO, "%s: fsync failed: %s", w->dir, strerror(err)));
            }
            pthread_cond_broadcast(&w->cv);
        }
    }
    pthread_mutex_unlock(&w->mu);
    return rc;
}

/* Waits until no leader is inside fdatasync (the caller holds mu). */
static void wait_no_leader(ds__wal *w) {
    while (w->syncing) pthread_cond_wait(&w->cv, &w->mu);
}

static ds_status rotate_locked(ds__wal *w) {
    if (w->broken != DS_OK) return broken_fail(w);
    const wal_file *cur = &w->files[w->n_files - 1];
    if (cur->last < cur->first) return DS_OK;   /* empty: a new file would get the same name */
    /* The old file is synced before the new one exists, so after a crash
    ** only the newest file can hold a torn record (see the top of this file). */
    ds_status rc = sync_fd(w->fd);
    atomic_fetch_add(&w->n_syncs, 1);
    if (rc != DS_OK) return set_broken(w, ds__fail(DS_ERR_IO, "%s: fsync failed: %s", w->dir, strerror(errno)));
    uint64_t last = atomic_load(&w->last_lsn);
    atomic_store(&w->durable_lsn, last);
    pthread_cond_broadcast(&w->cv);
    int fd;
    if ((rc = create_file(w, last + 1, &fd)) != DS_OK) return rc;   /* still appending to the old file */
    close(w->fd);
    w->fd = fd;
    return DS_OK;
}

ds_status ds__wal_rotate(ds__wal *w) {
    if (w == NULL) return ds__fail(DS_ERR_INVALID, "ds__wal_rotate: NULL argument");
    pthread_mutex_lock(&w->mu);
    wait_no_leader(w);
    ds_status rc = rotate_locked(w);
    pthread_mutex_unlock(&w->mu);
    return rc;
}

ds_status ds__wal_trim(ds__wal *w, uint64_t upto) {
    if (w == NULL) return ds__fail(DS_ERR_INVALID, "ds__wal_trim: NULL argument");
    pthread_mutex_lock(&w->mu);
    wait_no_leader(w);
    ds_status rc = DS_OK;
    /* A current file holding only trimmable records is rotated first, so a
    ** fully published log shrinks to one empty file instead of keeping its
    ** last file until the next rotate. */
    const wal_file *cur = &w->files[w->n_files - 1];
    if (cur->last >= cur->first && cur->last <= upto) rc = rotate_locked(w);
    size_t n = 0;
    while (rc == DS_OK && n + 1 < w->n_files && w->files[n].last <= upto) {
        char name[NAME_LEN + 1];
        file_name(name, w->files[n].first);
        if (unlinkat(w->dirfd, name, 0) != 0 && errno != ENOENT) {
            rc = ds__fail(DS_ERR_IO, "%s/%s: cannot remove: %s", w->dir, name, strerror(errno));
            break;
        }
        atomic_fetch_sub(&w->bytes, w->files[n].size);
        n++;
    }
    if (n > 0) {
        memmove(w->files, w->files + n, (w->n_files - n) * sizeof *w->files);
        w->n_files -= n;
        /* Not needed for correctness (a file that comes back after a crash
        ** holds only published LSNs, which open accepts), but it keeps the
        ** space from reappearing. */
        if (fsync(w->dirfd) != 0 && rc == DS_OK)
            rc = ds__fail(DS_ERR_IO, "%s: cannot sync the directory: %s", w->dir, strerror(errno));
    }
    pthread_mutex_unlock(&w->mu);
    return rc;
}

uint64_t ds__wal_bytes(const ds__wal *w) { return atomic_load(&w->bytes); }
uint64_t ds__wal_last_lsn(const ds__wal *w) { return atomic_load(&w->last_lsn); }
uint64_t ds__wal_durable_lsn(const ds__wal *w) { return atomic_load(&w->durable_lsn); }
uint64_t ds__wal_n_syncs(const ds__wal *w) { return atomic_load(&w->n_syncs); }

void ds__wal_fail_next_write(ds__wal *w) {
    pthread_mutex_lock(&w->mu);
    w->fault = 1;
    pthread_mutex_unlock(&w->mu);
}

void ds__wal_close(ds__wal *w) {
    if (w == NULL) return;
    pthread_mutex_lock(&w->mu);
    wait_no_leader(w);
    if (w->broken == DS_OK && atomic_load(&w->durable_lsn) < atomic_load(&w->last_lsn)) {
        if (sync_fd(w->fd) != DS_OK)
            ds__log(w->env, DS_LOG_ERROR, "%s: fsync at close failed: %s", w->dir, strerror(errno));
        else
            atomic_store(&w->durable_lsn, atomic_load(&w->last_lsn));
    }
    pthread_mutex_unlock(&w->mu);
    wal_free(w);
}
