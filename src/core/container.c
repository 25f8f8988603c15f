/* container.c -- writer and validating reader for the densearch container.
** Byte layout: docs/format.md, "Container". */
#include "core/container.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

const char *ds__fourcc_str(uint32_t kind, char buf[5]) {
    for (int i = 0; i < 4; i++) {
        unsigned char c = (unsigned char)(kind >> (8 * i));
        buf[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    buf[4] = '\0';
    return buf;
}

/* ======================================================================== */
/* Safe replacement of a file: lock, private temporary, checked rename       */
/* ======================================================================== */
struct ds__wlock {
    ds_env *env;
    char   *lock_path;    /* "<path>.lock" */
    int     fd;
};

/* Temporary names are "<base>.tmp.<pid>.<8 hex digits>". */
static int is_our_tmp_name(const char *name, const char *base) {
    size_t bl = strlen(base);
    if (strncmp(name, base, bl) != 0 || strncmp(name + bl, ".tmp.", 5) != 0) return 0;
    const char *p = name + bl + 5;
    if (*p < '0' || *p > '9') return 0;
    while (*p >= '0' && *p <= '9') p++;
    if (*p++ != '.') return 0;
    for (int i = 0; i < 8; i++, p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'))) return 0;
    return *p == '\0';
}

/* With the lock held no live writer of path has a temporary file, so any that
** match the pattern were left by a writer that was killed. Best effort. */
static void remove_stale_tmps(const char *path) {
    char *c1 = strdup(path), *c2 = strdup(path);
    if (c1 && c2) {
        const char *dir = dirname(c1), *base = basename(c2);
        DIR *d = opendir(dir);
        if (d != NULL) {
            struct dirent *e;
            while ((e = readdir(d)) != NULL)
                if (is_our_tmp_name(e->d_name, base)) unlinkat(dirfd(d), e->d_name, 0);
            closedir(d);
        }
    }
    free(c1);
    free(c2);
}

ds_status ds__wlock_acquire(ds_env *env, const char *path, ds__wlock **out) {
    *out = NULL;
    env = DS_ENV(env);
    if (path == NULL || *path == '\0') return ds__fail(DS_ERR_INVALID, "empty output path");
    ds__wlock *l = ds__calloc(env, 1, sizeof *l);
    size_t plen = strlen(path);
    if (l == NULL || (l->lock_path = ds__alloc(env, plen + 6, 1)) == NULL) {
        ds__free(env, l, sizeof *l);
        return ds__fail(DS_ERR_NOMEM, "out of memory");
    }
    l->env = env;
    l->fd = -1;
    memcpy(l->lock_path, path, plen);
    memcpy(l->lock_path + plen, ".lock", 6);
    ds_status rc = DS_OK;
    /* The lock file is removed on release, so a writer may lock a file that
    ** was just unlinked; it then sees another inode (or none) at the name and
    ** tries again. */
    for (int attempt = 0;; attempt++) {
        int fd = open(l->lock_path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0644);
        if (fd < 0) {
            rc = ds__fail(DS_ERR_IO, "%s: cannot create the writer lock: %s", l->lock_path,
                          errno == ELOOP ? "it is a symbolic link (not followed)" : strerror(errno));
            break;
        }
        struct stat fs, ps;
        if (fstat(fd, &fs) != 0 || !S_ISREG(fs.st_mode)) {
            close(fd);
            rc = ds__fail(DS_ERR_IO, "%s: the writer lock is not a regular file", l->lock_path);
            break;
        }
        int r;
        do r = flock(fd, LOCK_EX | LOCK_NB); while (r != 0 && errno == EINTR);
        if (r != 0) {
            int e = errno;
            close(fd);
            rc = e == EWOULDBLOCK
                     ? ds__fail(DS_ERR_IO, "%s: another writer is writing this file now (lock %s is held); "
                                "wait for it to finish, or write elsewhere", path, l->lock_path)
                     : ds__fail(DS_ERR_IO, "%s: cannot lock: %s", l->lock_path, strerror(e));
            break;
        }
        if (lstat(l->lock_path, &ps) == 0 && ps.st_dev == fs.st_dev && ps.st_ino == fs.st_ino) {
            l->fd = fd;
            break;
        }
        close(fd);
        if (attempt == 100) {
            rc = ds__fail(DS_ERR_IO, "%s: the writer lock keeps changing", l->lock_path);
            break;
        }
    }
    if (rc != DS_OK) {
        ds__free(env, l->lock_path, plen + 6);
        ds__free(env, l, sizeof *l);
        return rc;
    }
    remove_stale_tmps(path);
    *out = l;
    return DS_OK;
}

void ds__wlock_release(ds__wlock *l) {
    if (l == NULL) return;
    /* Unlink while still holding the lock: see the retry in acquire. */
    unlink(l->lock_path);
    close(l->fd);
    ds__free(l->env, l->lock_path, strlen(l->lock_path) + 1);
    ds__free(l->env, l, sizeof *l);
}

struct ds__afile {
    ds_env    *env;
    char      *path, *tmp_path;
    size_t     path_cap, tmp_cap;
    int        fd;
    dev_t      dev;
    ino_t      ino;
    ds__wlock *lock;       /* owned when own_lock */
    int        own_lock;
    int        created;    /* tmp_path was created by us (dev, ino are set) */
};

static uint32_t tmp_random(void) {
    static atomic_uint counter;
    uint32_t r = 0;
    if (getrandom(&r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        r = (uint32_t)ts.tv_nsec ^ (uint32_t)ts.tv_sec * 2654435761u;
    }
    return r ^ (atomic_fetch_add(&counter, 1) * 0x9e3779b9u);
}

static void afile_free(ds__afile *f) {
    ds_env *env = f->env;
    if (f->own_lock) ds__wlock_release(f->lock);
    ds__free(env, f->path, f->path_cap);
    ds__free(env, f->tmp_path, f->tmp_cap);
    ds__free(env, f, sizeof *f);
}

ds_status ds__afile_open(ds_env *env, const char *path, ds__wlock *held, ds__afile **out) {
    *out = NULL;
    env = DS_ENV(env);
    if (path == NULL || *path == '\0') return ds__fail(DS_ERR_INVALID, "empty output path");
    ds__afile *f = ds__calloc(env, 1, sizeof *f);
    if (f == NULL) return ds__fail(DS_ERR_NOMEM, "out of memory");
    f->env = env;
    f->fd = -1;
    size_t plen = strlen(path);
    f->path_cap = plen + 1;
    f->tmp_cap = plen + 40;     /* ".tmp." + pid (<= 20 digits) + "." + 8 hex + NUL */
    f->path = ds__alloc(env, f->path_cap, 1);
    f->tmp_path = ds__alloc(env, f->tmp_cap, 1);
    if (f->path == NULL || f->tmp_path == NULL) {
        afile_free(f);
        return ds__fail(DS_ERR_NOMEM, "out of memory");
    }
    memcpy(f->path, path, plen + 1);
    ds_status rc = DS_OK;
    /* Replacing means renaming over the name: never over a device, FIFO,
    ** socket or directory (as root, a mistaken "--out /dev/null" would remove
    ** the node), and never over a symlink, which rename would replace rather
    ** than follow (/dev/stdout -> /proc/self/fd/1 would become a file). */
    struct stat ps;
    if (lstat(path, &ps) == 0 && !S_ISREG(ps.st_mode)) {
        afile_free(f);
        return ds__fail(DS_ERR_INVALID, "%s %s; densearch only replaces regular files", path,
                        S_ISLNK(ps.st_mode) ? "is a symbolic link (write to the file it points to)"
                                            : "exists and is not a regular file");
    }
    if (held != NULL) {
        f->lock = held;
    } else if ((rc = ds__wlock_acquire(env, path, &f->lock)) != DS_OK) {
        afile_free(f);
        return rc;
    } else {
        f->own_lock = 1;
    }
    /* A fresh name each time, created exclusively and never through a
    ** symlink: whatever already sits at a name (a planted link, a file of
    ** another writer) makes this attempt fail with EEXIST, never get used. */
    for (int attempt = 0; attempt < 64; attempt++) {
        snprintf(f->tmp_path, f->tmp_cap, "%s.tmp.%ld.%08x", path, (long)getpid(), tmp_random());
        f->fd = open(f->tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (f->fd >= 0 || errno != EEXIST) break;
    }
    struct stat st;
    if (f->fd < 0) {
        rc = ds__fail(DS_ERR_IO, "%s: cannot create: %s", f->tmp_path, strerror(errno));
    } else if (fstat(f->fd, &st) != 0) {
        rc = ds__fail(DS_ERR_IO, "%s: cannot stat: %s", f->tmp_path, strerror(errno));
        unlink(f->tmp_path);   /* just created exclusively by us */
    } else {
        f->dev = st.st_dev;
        f->ino = st.st_ino;
        f->created = 1;
    }
    if (rc != DS_OK) {
        ds__afile_abort(f);
        return rc;
    }
    *out = f;
    return DS_OK;
}

int ds__afile_fd(const ds__afile *f) { return f->fd; }
const char *ds__afile_tmp_path(const ds__afile *f) { return f->tmp_path; }

void ds__afile_abort(ds__afile *f) {
    if (f == NULL) return;
    if (f->fd >= 0) close(f->fd);
    if (f->created) {
        /* Only our own file: if the name was replaced meanwhile, leave it. */
        struct stat st;
        if (lstat(f->tmp_path, &st) == 0 && st.st_dev == f->dev && st.st_ino == f->ino) unlink(f->tmp_path);
    }
    afile_free(f);
}

static _Thread_local int defer_sync;

void ds__afile_defer_sync(int on) {
    defer_sync = on;
}

ds_status ds__afile_commit(ds__afile *f) {
    ds_status rc = DS_OK;
    struct stat st;
    if (!defer_sync && fsync(f->fd) != 0) rc = ds__fail(DS_ERR_IO, "%s: fsync failed: %s", f->tmp_path, strerror(errno));
    if (rc == DS_OK) {
        int fd = f->fd;
        f->fd = -1;
        if (close(fd) != 0) rc = ds__fail(DS_ERR_IO, "%s: close failed: %s", f->tmp_path, strerror(errno));
    }
    /* rename() acts on names, not on our descriptor: publish only if the
    ** temporary name still refers to the file we wrote. */
    if (rc == DS_OK && (lstat(f->tmp_path, &st) != 0 || st.st_dev != f->dev || st.st_ino != f->ino))
        rc = ds__fail(DS_ERR_IO, "%s: the temporary file was removed or replaced by someone else; "
                      "not publishing it as %s", f->tmp_path, f->path);
    if (rc == DS_OK && rename(f->tmp_path, f->path) != 0)
        rc = ds__fail(DS_ERR_IO, "cannot rename %s to %s: %s", f->tmp_path, f->path, strerror(errno));
    if (rc != DS_OK) {
        ds__afile_abort(f);
        return rc;
    }
    if (!defer_sync) rc = ds__fsync_dir_of(f->path);
    afile_free(f);
    return rc;
}

/* The public face of ds__afile, for files the CLI writes itself. */
struct ds_file_writer {
    ds_env    *env;
    ds__afile *f;
};

ds_status ds_file_writer_open(ds_env *env, const char *path, ds_file_writer **out) {
    if (out == NULL) return ds__fail(DS_ERR_INVALID, "ds_file_writer_open: NULL out");
    *out = NULL;
    env = DS_ENV(env);
    ds_file_writer *w = ds__calloc(env, 1, sizeof *w);
    if (w == NULL) return ds__fail(DS_ERR_NOMEM, "out of memory");
    w->env = env;
    ds_status rc = ds__afile_open(env, path, NULL, &w->f);
    if (rc != DS_OK) {
        ds__free(env, w, sizeof *w);
        return rc;
    }
    *out = w;
    return DS_OK;
}

int ds_file_writer_fd(const ds_file_writer *w) { return w ? ds__afile_fd(w->f) : -1; }

ds_status ds_file_writer_commit(ds_file_writer *w) {
    if (w == NULL) return ds__fail(DS_ERR_INVALID, "ds_file_writer_commit: NULL writer");
    ds_status rc = ds__afile_commit(w->f);
    ds__free(w->env, w, sizeof *w);
    return rc;
}

void ds_file_writer_abort(ds_file_writer *w) {
    if (w == NULL) return;
    ds__afile_abort(w->f);
    ds__free(w->env, w, sizeof *w);
}

/* ======================================================================== */
/* Writer                                                                   */
/* ======================================================================== */
#define CW_BUFSIZE (1u << 20)

struct ds__cwriter {
    ds_env      *env;
    ds__afile   *file;
    const char  *tmp_path;          /* borrowed from file, for messages */
    int          fd;                /* borrowed from file */
    ds_status    rc;
    uint32_t     file_kind;
    uint16_t     major, minor, min_reader_minor;
    uint64_t     pos;               /* bytes written to the file so far (incl. buffer) */
    uint8_t     *buf;               /* write buffer */
    size_t       buf_len;
    ds__section *sections;
    uint32_t     n_sections, cap_sections;
    int          in_section;
    XXH3_state_t *hash;
};

static ds_status cw_flush(ds__cwriter *w) {
    size_t off = 0;
    while (off < w->buf_len) {
        ssize_t n = write(w->fd, w->buf + off, w->buf_len - off);
        if (n < 0) {
            if (errno == EINTR) continue;
            return w->rc = ds__fail(DS_ERR_IO, "%s: write failed: %s", w->tmp_path, strerror(errno));
        }
        off += (size_t)n;
    }
    w->buf_len = 0;
    return DS_OK;
}

static ds_status cw_raw(ds__cwriter *w, const void *p, size_t n) {
    const uint8_t *s = p;
    while (n > 0 && w->rc == DS_OK) {
        size_t room = CW_BUFSIZE - w->buf_len;
        size_t take = n < room ? n : room;
        memcpy(w->buf + w->buf_len, s, take);
        w->buf_len += take;
        w->pos += take;
        s += take;
        n -= take;
        if (w->buf_len == CW_BUFSIZE) cw_flush(w);
    }
    return w->rc;
}

static ds_status cw_pad(ds__cwriter *w) {
    static const uint8_t zeros[DS_CONTAINER_ALIGN];
    size_t pad = (size_t)(ds__align_up(w->pos, DS_CONTAINER_ALIGN) - w->pos);
    return cw_raw(w, zeros, pad);
}

static void cw_free(ds__cwriter *w) {
    ds_env *env = w->env;
    if (w->hash) XXH3_freeState(w->hash);
    ds__free(env, w->buf, CW_BUFSIZE);
    ds__free(env, w->sections, sizeof(ds__section) * w->cap_sections);
    ds__free(env, w, sizeof *w);
}

ds_status ds__cw_open_locked(ds_env *env, const char *path, ds__wlock *held, uint32_t file_kind,
                             uint16_t format_major, uint16_t format_minor,
                             uint16_t min_reader_minor, ds__cwriter **out) {
    *out = NULL;
    env = DS_ENV(env);
    if (path == NULL || *path == '\0') return ds__fail(DS_ERR_INVALID, "empty output path");
    ds__cwriter *w = ds__calloc(env, 1, sizeof *w);
    if (w == NULL) return ds__fail(DS_ERR_NOMEM, "out of memory");
    w->env = env;
    w->fd = -1;
    w->file_kind = file_kind;
    w->major = format_major;
    w->minor = format_minor;
    w->min_reader_minor = min_reader_minor;
    w->buf = ds__alloc(env, CW_BUFSIZE, 64);
    w->hash = XXH3_createState();
    if (!w->buf || !w->hash) {
        cw_free(w);
        return ds__fail(DS_ERR_NOMEM, "out of memory");
    }
    ds_status rc = ds__afile_open(env, path, held, &w->file);
    if (rc != DS_OK) {
        cw_free(w);
        return rc;
    }
    w->fd = ds__afile_fd(w->file);
    w->tmp_path = ds__afile_tmp_path(w->file);
    /* Placeholder header; the real one is written at commit, once sizes and
    ** checksums are known. */
    uint8_t zero[DS_CONTAINER_HEADER_SIZE] = { 0 };
    cw_raw(w, zero, sizeof zero);
    *out = w;
    return w->rc;
}

ds_status ds__cw_open(ds_env *env, const char *path, uint32_t file_kind, uint16_t format_major,
                      uint16_t format_minor, uint16_t min_reader_minor, ds__cwriter **out) {
    return ds__cw_open_locked(env, path, NULL, file_kind, format_major, format_minor, min_reader_minor, out);
}

ds_status ds__cw_begin(ds__cwriter *w, uint32_t kind, uint32_t flags) {
    if (w->rc != DS_OK) return w->rc;
    if (w->in_section) return w->rc = ds__fail(DS_ERR_INTERNAL, "container: section not ended");
    if (w->n_sections == DS_CONTAINER_MAX_SECTIONS)
        return w->rc = ds__fail(DS_ERR_RANGE, "container: too many sections");
    if (w->n_sections == w->cap_sections) {
        uint32_t cap = w->cap_sections ? w->cap_sections * 2 : 16;
        ds__section *s = ds__realloc(w->env, w->sections, sizeof(ds__section) * w->cap_sections,
                                     sizeof(ds__section) * cap);
        if (s == NULL) return w->rc = ds__fail(DS_ERR_NOMEM, "out of memory");
        w->sections = s;
        w->cap_sections = cap;
    }
    if (cw_pad(w) != DS_OK) return w->rc;
    ds__section *s = &w->sections[w->n_sections];
    memset(s, 0, sizeof *s);
    s->kind = kind;
    s->flags = flags;
    s->offset = w->pos;
    XXH3_64bits_reset(w->hash);
    w->in_section = 1;
    return DS_OK;
}

ds_status ds__cw_write(ds__cwriter *w, const void *p, size_t n) {
    if (w->rc != DS_OK) return w->rc;
    if (!w->in_section) return w->rc = ds__fail(DS_ERR_INTERNAL, "container: write outside a section");
    if (n == 0) return DS_OK;
    XXH3_64bits_update(w->hash, p, n);
    return cw_raw(w, p, n);
}

uint64_t ds__cw_section_size(const ds__cwriter *w) {
    return w->in_section ? w->pos - w->sections[w->n_sections].offset : 0;
}

ds_status ds__cw_end(ds__cwriter *w) {
    if (w->rc != DS_OK) return w->rc;
    if (!w->in_section) return w->rc = ds__fail(DS_ERR_INTERNAL, "container: no open section");
    ds__section *s = &w->sections[w->n_sections];
    s->length = w->pos - s->offset;
    s->checksum = XXH3_64bits_digest(w->hash);
    w->n_sections++;
    w->in_section = 0;
    return DS_OK;
}

ds_status ds__cw_section(ds__cwriter *w, uint32_t kind, uint32_t flags, const void *p, size_t n) {
    ds__cw_begin(w, kind, flags);
    ds__cw_write(w, p, n);
    return ds__cw_end(w);
}

static void encode_header(uint8_t h[DS_CONTAINER_HEADER_SIZE], uint32_t file_kind, uint16_t major,
                          uint16_t minor, uint16_t min_reader_minor, uint32_t n_sections,
                          uint64_t file_size, uint64_t table_off, uint64_t table_sum) {
    memset(h, 0, DS_CONTAINER_HEADER_SIZE);
    memcpy(h, DS_CONTAINER_MAGIC, 8);
    ds__store_u32le(h + 8, DS_CONTAINER_BOM);
    ds__store_u16le(h + 12, major);
    ds__store_u16le(h + 14, minor);
    ds__store_u16le(h + 16, min_reader_minor);
    /* 18..19 reserved */
    ds__store_u32le(h + 20, file_kind);
    /* 24..27 flags: none defined yet */
    ds__store_u32le(h + 28, n_sections);
    ds__store_u64le(h + 32, file_size);
    ds__store_u64le(h + 40, table_off);
    ds__store_u64le(h + 48, table_sum);
    ds__store_u64le(h + 56, XXH3_64bits(h, 56));
}

void ds__cw_abort(ds__cwriter *w) {
    if (w == NULL) return;
    ds__afile_abort(w->file);
    cw_free(w);
}

ds_status ds__fsync_dir_of(const char *path) {
    char *copy = strdup(path);
    if (copy == NULL) return ds__fail(DS_ERR_NOMEM, "out of memory");
    const char *dir = dirname(copy);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    ds_status rc = DS_OK;
    if (fd < 0 || fsync(fd) != 0)
        rc = ds__fail(DS_ERR_IO, "%s: cannot sync directory: %s", dir, strerror(errno));
    if (fd >= 0) close(fd);
    free(copy);
    return rc;
}

ds_status ds__cw_commit(ds__cwriter *w) {
    ds_status rc = w->rc;
    if (rc == DS_OK && w->in_section) rc = ds__fail(DS_ERR_INTERNAL, "container: section not ended");
    if (rc == DS_OK) rc = cw_pad(w);
    uint64_t table_off = w->pos;
    ds__buf t;
    ds__buf_init(&t, w->env);
    for (uint32_t i = 0; rc == DS_OK && i < w->n_sections; i++) {
        const ds__section *s = &w->sections[i];
        ds__buf_put_u32(&t, s->kind);
        ds__buf_put_u32(&t, s->flags);
        ds__buf_put_u64(&t, s->offset);
        ds__buf_put_u64(&t, s->length);
        ds__buf_put_u64(&t, s->checksum);
        ds__buf_put_u64(&t, 0);
    }
    if (rc == DS_OK && t.rc != DS_OK) rc = ds__fail(t.rc, "out of memory");
    if (rc == DS_OK) rc = cw_raw(w, t.p, t.len);
    if (rc == DS_OK) rc = cw_flush(w);
    if (rc == DS_OK) {
        uint8_t h[DS_CONTAINER_HEADER_SIZE];
        encode_header(h, w->file_kind, w->major, w->minor, w->min_reader_minor, w->n_sections,
                      w->pos, table_off, XXH3_64bits(t.p, t.len));
        if (pwrite(w->fd, h, sizeof h, 0) != (ssize_t)sizeof h)
            rc = ds__fail(DS_ERR_IO, "%s: header write failed: %s", w->tmp_path, strerror(errno));
    }
    ds__buf_release(&t);
    if (rc != DS_OK) {
        ds__cw_abort(w);
        return rc;
    }
    rc = ds__afile_commit(w->file);   /* frees the file, also on failure */
    w->file = NULL;
    cw_free(w);
    return rc;
}

/* ======================================================================== */
/* Reader                                                                   */
/* ======================================================================== */
static int all_zero(const uint8_t *p, uint64_t n) {
    for (uint64_t i = 0; i < n; i++)
        if (p[i] != 0) return 0;
    return 1;
}

static ds_status parse(ds__creader *r, uint32_t expect_kind, unsigned flags) {
    const uint8_t *h = r->base;
    char k1[5], k2[5];
    if (r->size < DS_CONTAINER_HEADER_SIZE || memcmp(h, DS_CONTAINER_MAGIC, 8) != 0) {
        if (r->size >= 5 && memcmp(h + 1, "DSIX", 4) == 0)
            return ds__fail(DS_ERR_CORRUPT, "densearch magic is damaged (file transferred in text mode?)");
        if (r->size < DS_CONTAINER_HEADER_SIZE && r->size >= 8 && memcmp(h, DS_CONTAINER_MAGIC, 8) == 0)
            return ds__fail(DS_ERR_CORRUPT, "truncated: %llu bytes, header needs %u",
                            (unsigned long long)r->size, DS_CONTAINER_HEADER_SIZE);
        return ds__fail(DS_ERR_FORMAT, "not a densearch file (bad magic)");
    }
    uint32_t bom = ds__load_u32le(h + 8);
    if (bom == 0x04030201u)
        return ds__fail(DS_ERR_FORMAT, "file was written with the other byte order");
    if (bom != DS_CONTAINER_BOM || ds__load_u64le(h + 56) != XXH3_64bits(h, 56))
        return ds__fail(DS_ERR_CORRUPT, "header checksum mismatch");
    r->format_major = ds__load_u16le(h + 12);
    r->format_minor = ds__load_u16le(h + 14);
    r->min_reader_minor = ds__load_u16le(h + 16);
    r->file_kind = ds__load_u32le(h + 20);
    r->flags = ds__load_u32le(h + 24);
    r->n_sections = ds__load_u32le(h + 28);
    uint64_t file_size = ds__load_u64le(h + 32);
    uint64_t table_off = ds__load_u64le(h + 40);
    uint64_t table_sum = ds__load_u64le(h + 48);
    if (expect_kind != 0 && r->file_kind != expect_kind)
        return ds__fail(DS_ERR_FORMAT, "file holds a '%s', expected a '%s'",
                        ds__fourcc_str(r->file_kind, k1), ds__fourcc_str(expect_kind, k2));
    if (ds__load_u16le(h + 18) != 0 || r->flags != 0)
        return ds__fail(DS_ERR_CORRUPT, "reserved header bytes are not zero");
    if (file_size != r->size)
        return ds__fail(DS_ERR_CORRUPT, "file is %llu bytes, header says %llu (truncated or appended to)",
                        (unsigned long long)r->size, (unsigned long long)file_size);
    if (r->n_sections > DS_CONTAINER_MAX_SECTIONS)
        return ds__fail(DS_ERR_CORRUPT, "section count %u exceeds %u", r->n_sections, DS_CONTAINER_MAX_SECTIONS);
    uint64_t table_len = (uint64_t)r->n_sections * DS_CONTAINER_ENTRY_SIZE;
    if (table_off < DS_CONTAINER_HEADER_SIZE || table_off > r->size || r->size - table_off < table_len)
        return ds__fail(DS_ERR_CORRUPT, "section table outside the file");
    /* The table ends the file: bytes after it would be covered by nothing. */
    if (r->size - table_off != table_len)
        return ds__fail(DS_ERR_CORRUPT, "%llu bytes after the section table",
                        (unsigned long long)(r->size - table_off - table_len));
    const uint8_t *t = r->base + table_off;
    if (XXH3_64bits(t, (size_t)table_len) != table_sum)
        return ds__fail(DS_ERR_CORRUPT, "section table checksum mismatch");
    if (r->n_sections > 0) {
        r->sections = ds__calloc(r->env, r->n_sections, sizeof(ds__section));
        if (r->sections == NULL) return ds__fail(DS_ERR_NOMEM, "out of memory");
    }
    uint64_t prev_end = DS_CONTAINER_HEADER_SIZE;
    for (uint32_t i = 0; i < r->n_sections; i++) {
        const uint8_t *e = t + (size_t)i * DS_CONTAINER_ENTRY_SIZE;
        ds__section *s = &r->sections[i];
        s->kind = ds__load_u32le(e);
        s->flags = ds__load_u32le(e + 4);
        s->offset = ds__load_u64le(e + 8);
        s->length = ds__load_u64le(e + 16);
        s->checksum = ds__load_u64le(e + 24);
        /* Sections are laid out in table order, aligned, without overlap, and
        ** all before the table. */
        if (s->offset % DS_CONTAINER_ALIGN != 0 || s->offset < prev_end || s->offset > table_off ||
            table_off - s->offset < s->length || ds__load_u64le(e + 32) != 0)
            return ds__fail(DS_ERR_CORRUPT, "section %u ('%s') has a bad offset or length",
                            i, ds__fourcc_str(s->kind, k1));
        if (!all_zero(r->base + prev_end, s->offset - prev_end))
            return ds__fail(DS_ERR_CORRUPT, "non-zero padding before section %u ('%s')", i, ds__fourcc_str(s->kind, k1));
        prev_end = s->offset + s->length;
    }
    /* Padding carries no checksum, so it is checked to be zero instead: no
    ** byte of a file is covered by nothing. */
    if (!all_zero(r->base + prev_end, table_off - prev_end))
        return ds__fail(DS_ERR_CORRUPT, "non-zero padding before the section table");
    if (flags & DS_OPEN_VERIFY) return ds__cr_verify(r);
    return DS_OK;
}

ds_status ds__cr_verify(const ds__creader *r) {
    char k[5];
    for (uint32_t i = 0; i < r->n_sections; i++) {
        const ds__section *s = &r->sections[i];
        if (XXH3_64bits(r->base + s->offset, (size_t)s->length) != s->checksum)
            return ds__fail(DS_ERR_CORRUPT, "section %u ('%s') checksum mismatch", i, ds__fourcc_str(s->kind, k));
    }
    return DS_OK;
}

ds_status ds__cr_open_mem(ds_env *env, const void *data, size_t size, uint32_t expect_kind,
                          unsigned flags, ds__creader **out) {
    *out = NULL;
    env = DS_ENV(env);
    ds__creader *r = ds__calloc(env, 1, sizeof *r);
    if (r == NULL) return ds__fail(DS_ERR_NOMEM, "out of memory");
    r->env = env;
    r->base = data;
    r->size = size;
    ds_status rc = parse(r, expect_kind, flags);
    if (rc != DS_OK) {
        ds__cr_close(r);
        return rc;
    }
    *out = r;
    return DS_OK;
}

ds_status ds__cr_open(ds_env *env, const char *path, uint32_t expect_kind, unsigned flags,
                      ds__creader **out) {
    *out = NULL;
    env = DS_ENV(env);
    /* O_NONBLOCK: opening a FIFO for reading would otherwise wait forever for
    ** a writer before the S_ISREG check below could refuse it. It has no
    ** effect on a regular file, and the file is only mmap'd. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return ds__fail(DS_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        ds_status rc = ds__fail(DS_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
        close(fd);
        return rc;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return ds__fail(DS_ERR_FORMAT, "%s: not a regular file", path);
    }
    if (st.st_size == 0 || (uint64_t)st.st_size > SIZE_MAX) {
        close(fd);
        return ds__fail(DS_ERR_CORRUPT, "%s: empty file (an interrupted copy?)", path);
    }
    void *base = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (base == MAP_FAILED) return ds__fail(DS_ERR_IO, "%s: mmap failed: %s", path, strerror(errno));
    ds__creader *r = ds__calloc(env, 1, sizeof *r);
    if (r == NULL) {
        munmap(base, (size_t)st.st_size);
        return ds__fail(DS_ERR_NOMEM, "out of memory");
    }
    r->env = env;
    r->base = base;
    r->size = (uint64_t)st.st_size;
    r->mapped = 1;
    /* Files are always verified whole, whatever flags says: a flipped byte in
    ** any section could otherwise change an answer without an error (issue
    ** 14). The cost is one XXH3 pass over the file at open; it is measured in
    ** docs/benchmarks.md ("Open-time verification"). */
    ds_status rc = parse(r, expect_kind, flags | DS_OPEN_VERIFY);
    if (rc != DS_OK) {
        ds__fail_prefix(rc, "%s: ", path);
        ds__cr_close(r);
        return rc;
    }
    *out = r;
    return DS_OK;
}

void ds__cr_close(ds__creader *r) {
    if (r == NULL) return;
    if (r->mapped) munmap((void *)r->base, (size_t)r->size);
    ds__free(r->env, r->sections, sizeof(ds__section) * r->n_sections);
    ds__free(r->env, r, sizeof *r);
}

ds_status ds__cr_check_known(const ds__creader *r, const uint32_t *known, size_t n_known) {
    char k[5];
    for (uint32_t i = 0; i < r->n_sections; i++) {
        const ds__section *s = &r->sections[i];
        if (!(s->flags & DS_SECTION_REQUIRED)) continue;
        size_t j = 0;
        while (j < n_known && known[j] != s->kind) j++;
        if (j == n_known)
            return ds__fail(DS_ERR_FORMAT, "required section '%s' is unknown to this version",
                            ds__fourcc_str(s->kind, k));
    }
    return DS_OK;
}

const ds__section *ds__cr_find(const ds__creader *r, uint32_t kind) {
    for (uint32_t i = 0; i < r->n_sections; i++)
        if (r->sections[i].kind == kind) return &r->sections[i];
    return NULL;
}

ds_status ds__cr_get(const ds__creader *r, uint32_t kind, const uint8_t **p, uint64_t *len) {
    char k[5];
    const ds__section *s = ds__cr_find(r, kind);
    *p = NULL;
    *len = 0;
    if (s == NULL) return ds__fail(DS_ERR_CORRUPT, "section '%s' is missing", ds__fourcc_str(kind, k));
    *p = r->base + s->offset;
    *len = s->length;
    return DS_OK;
}

ds_status ds__cr_get_sized(const ds__creader *r, uint32_t kind, uint64_t want, const uint8_t **p) {
    uint64_t len;
    ds_status rc = ds__cr_get(r, kind, p, &len);
    if (rc != DS_OK) return rc;
    if (len != want) {
        char k[5];
        return ds__fail(DS_ERR_CORRUPT, "section '%s' holds %llu bytes, expected %llu", ds__fourcc_str(kind, k),
                        (unsigned long long)len, (unsigned long long)want);
    }
    return DS_OK;
}

ds_status ds__file_kind(const char *path, uint32_t *kind) {
    *kind = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);   /* a FIFO must not block: see ds__cr_open */
    if (fd < 0) return ds__fail(DS_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    uint8_t h[DS_CONTAINER_HEADER_SIZE];
    ssize_t n = read(fd, h, sizeof h);
    close(fd);
    if (n < 8 || memcmp(h, DS_CONTAINER_MAGIC, 8) != 0)
        return ds__fail(DS_ERR_FORMAT, "%s: not a densearch file", path);
    if (n < (ssize_t)sizeof h) return ds__fail(DS_ERR_CORRUPT, "%s: truncated header", path);
    *kind = ds__load_u32le(h + 20);
    return DS_OK;
}
