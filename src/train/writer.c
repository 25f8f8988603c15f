/* writer.c -- writing a model directory: safetensors files, small files,
** and the swap that makes the finished directory appear at once.
**
** A model directory is built in a temporary sibling directory, every file
** fsynced, then renamed into place; an existing model directory at the
** target is moved aside first and removed after the rename, so a reader sees
** the old model or the new one, never a mix. A target that exists and is not
** a densearch model directory (nor empty) is refused: training never deletes
** a user's files.
*/
#include "train/train.h"
#include "model/model.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static ds_status write_all(int fd, const void *p, size_t n, const char *path) {
    const uint8_t *b = p;
    while (n > 0) {
        ssize_t w = write(fd, b, n > ((size_t)1 << 30) ? ((size_t)1 << 30) : n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return ds__fail(DS_ERR_IO, "%s: write: %s", path, strerror(errno));
        }
        b += w;
        n -= (size_t)w;
    }
    return DS_OK;
}

static ds_status open_out(const char *path, int *fd) {
    *fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (*fd < 0) return ds__fail(DS_ERR_IO, "%s: %s", path, strerror(errno));
    return DS_OK;
}

static ds_status close_out(int fd, const char *path, ds_status rc) {
    if (rc == DS_OK && fsync(fd) != 0) rc = ds__fail(DS_ERR_IO, "%s: fsync: %s", path, strerror(errno));
    if (close(fd) != 0 && rc == DS_OK) rc = ds__fail(DS_ERR_IO, "%s: close: %s", path, strerror(errno));
    return rc;
}

ds_status ds__write_file(const char *path, const void *p, size_t n) {
    int fd;
    ds_status rc = open_out(path, &fd);
    if (rc != DS_OK) return rc;
    return close_out(fd, path, write_all(fd, p, n, path));
}

ds_status ds__st_write(const char *path, const ds__st_out *t, size_t n) {
    char hdr[8192];
    size_t h = 0, off = 0;
    h += (size_t)snprintf(hdr + h, sizeof hdr - h, "{\"__metadata__\":{\"format\":\"densearch\"}");
    for (size_t i = 0; i < n; i++) {
        size_t esz = t[i].dtype == DS_ST_U64 ? 8 : 4, elems = t[i].d0 * (t[i].d1 ? t[i].d1 : 1);
        size_t bytes = elems * esz;
        if (t[i].d1)
            h += (size_t)snprintf(hdr + h, sizeof hdr - h, ",\"%s\":{\"dtype\":\"%s\",\"shape\":[%zu,%zu],\"data_offsets\":[%zu,%zu]}",
                                  t[i].name, esz == 8 ? "U64" : "F32", t[i].d0, t[i].d1, off, off + bytes);
        else
            h += (size_t)snprintf(hdr + h, sizeof hdr - h, ",\"%s\":{\"dtype\":\"%s\",\"shape\":[%zu],\"data_offsets\":[%zu,%zu]}",
                                  t[i].name, esz == 8 ? "U64" : "F32", t[i].d0, off, off + bytes);
        if (h + 64 >= sizeof hdr) return ds__fail(DS_ERR_INTERNAL, "safetensors header too long");
        off += bytes;
    }
    hdr[h++] = '}';
    while ((8 + h) % 64 != 0) hdr[h++] = ' ';   /* data starts 64-byte aligned in the file */
    int fd;
    ds_status rc = open_out(path, &fd);
    if (rc != DS_OK) return rc;
    uint8_t len8[8];
    ds__store_u64le(len8, (uint64_t)h);
    if ((rc = write_all(fd, len8, 8, path)) == DS_OK) rc = write_all(fd, hdr, h, path);
    /* little-endian on disk: convert through a bounded staging buffer */
    uint8_t *stage = rc == DS_OK ? malloc(1 << 20) : NULL;
    if (rc == DS_OK && stage == NULL) rc = DS_ERR_NOMEM;
    for (size_t i = 0; rc == DS_OK && i < n; i++) {
        size_t esz = t[i].dtype == DS_ST_U64 ? 8 : 4, elems = t[i].d0 * (t[i].d1 ? t[i].d1 : 1);
        size_t per = (1 << 20) / esz;
        for (size_t e = 0; rc == DS_OK && e < elems; e += per) {
            size_t m = DS_MIN(per, elems - e);
            for (size_t k = 0; k < m; k++) {
                if (esz == 8) ds__store_u64le(stage + 8 * k, ((const uint64_t *)t[i].data)[e + k]);
                else ds__store_f32le(stage + 4 * k, ((const float *)t[i].data)[e + k]);
            }
            rc = write_all(fd, stage, m * esz, path);
        }
    }
    free(stage);
    return close_out(fd, path, rc);
}

ds_status ds__copy_file(ds_env *env, const char *src, const char *dst) {
    char *p = NULL;
    size_t n = 0;
    ds_status rc = ds__read_small_file(env, src, (size_t)512 << 20, &p, &n);
    if (rc != DS_OK) return rc;
    rc = ds__write_file(dst, p, n);
    ds__free(env, p, n + 1);
    return rc;
}

void ds__dir_remove(const char *dir) {
    DIR *d = opendir(dir);
    if (d == NULL) return;
    struct dirent *e;
    char path[4096];
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, e->d_name) < sizeof path) unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

static int dir_is_empty(const char *dir) {
    DIR *d = opendir(dir);
    if (d == NULL) return 0;
    struct dirent *e;
    int empty = 1;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) { empty = 0; break; }
    closedir(d);
    return empty;
}

static void fsync_parent(const char *path) {
    char parent[4096];
    snprintf(parent, sizeof parent, "%s", path);
    char *slash = strrchr(parent, '/');
    if (slash == NULL) snprintf(parent, sizeof parent, ".");
    else if (slash == parent) parent[1] = '\0';
    else *slash = '\0';
    int fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) { fsync(fd); close(fd); }
}

ds_status ds__dir_swap(const char *tmp_dir, const char *out_dir) {
    struct stat sb;
    char old[4096], cfg[4096];
    if (stat(out_dir, &sb) == 0) {
        if (!S_ISDIR(sb.st_mode)) return ds__fail(DS_ERR_INVALID, "%s exists and is not a directory", out_dir);
        snprintf(cfg, sizeof cfg, "%s/%s", out_dir, DS__STUDENT_CONFIG);
        if (dir_is_empty(out_dir)) {
            if (rmdir(out_dir) != 0) return ds__fail(DS_ERR_IO, "%s: %s", out_dir, strerror(errno));
        } else if (access(cfg, F_OK) == 0) {
            if ((size_t)snprintf(old, sizeof old, "%s.old-%ld", out_dir, (long)getpid()) >= sizeof old)
                return ds__fail(DS_ERR_INVALID, "path too long");
            if (rename(out_dir, old) != 0) return ds__fail(DS_ERR_IO, "%s: %s", out_dir, strerror(errno));
            if (rename(tmp_dir, out_dir) != 0) {
                int e = errno;
                rename(old, out_dir);
                return ds__fail(DS_ERR_IO, "%s: %s", out_dir, strerror(e));
            }
            fsync_parent(out_dir);
            ds__dir_remove(old);
            return DS_OK;
        } else {
            return ds__fail(DS_ERR_INVALID, "%s exists and is not a densearch model directory (no %s): "
                            "choose another --out", out_dir, DS__STUDENT_CONFIG);
        }
    }
    if (rename(tmp_dir, out_dir) != 0) return ds__fail(DS_ERR_IO, "%s: %s", out_dir, strerror(errno));
    fsync_parent(out_dir);
    return DS_OK;
}
