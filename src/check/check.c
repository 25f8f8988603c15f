/* check.c -- ds_check and ds_file_kind: whole-file verification for every
** densearch file kind (what `densearch check` runs).
**
** The container layer verifies header, table and checksums; then the module
** that owns the file kind decodes every section and bounds-checks it. A
** directory is checked file by file (every *.dsx inside it).
*/
#include "ds_internal.h"
#include "check/check.h"
#include "core/container.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

static int is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int has_suffix(const char *s, const char *suf) {
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && strcmp(s + n - m, suf) == 0;
}

static ds_status check_file(ds_env *env, const char *path) {
    ds__creader *r = NULL;
    ds_status rc = ds__cr_open(env, path, 0, DS_OPEN_VERIFY, &r);
    if (rc != DS_OK) return rc;
    char k[5];
    switch (r->file_kind) {
    case DS_FOURCC('L', 'E', 'X', 'I'):
        rc = ds__lexical_check(env, r);
        break;
    default:
        if ((r->file_kind & 0xff) == 'V') rc = ds__vector_check(env, r);
        else rc = ds__fail(DS_ERR_FORMAT, "unknown densearch file kind '%s'", ds__fourcc_str(r->file_kind, k));
        break;
    }
    if (rc != DS_OK) ds__fail_prefix(rc, "%s: ", path);
    ds__cr_close(r);
    return rc;
}

ds_status ds_check(ds_env *env, const char *path) {
    if (path == NULL) return ds__fail(DS_ERR_INVALID, "ds_check: path is NULL");
    env = DS_ENV(env);
    if (!is_dir(path)) return check_file(env, path);
    DIR *d = opendir(path);
    if (d == NULL) return ds__fail(DS_ERR_IO, "%s: cannot open directory: %s", path, strerror(errno));
    ds_status rc = DS_OK;
    unsigned n_files = 0;
    struct dirent *e;
    while (rc == DS_OK && (e = readdir(d)) != NULL) {
        if (!has_suffix(e->d_name, ".dsx")) continue;
        char full[4096];
        if ((size_t)snprintf(full, sizeof full, "%s/%s", path, e->d_name) >= sizeof full) {
            rc = ds__fail(DS_ERR_RANGE, "%s: path too long", path);
            break;
        }
        rc = check_file(env, full);
        n_files++;
    }
    closedir(d);
    if (rc == DS_OK && n_files == 0) rc = ds__fail(DS_ERR_FORMAT, "%s: no densearch files (*.dsx) in directory", path);
    return rc;
}

ds_status ds_file_kind(const char *path, char kind_out[5]) {
    if (path == NULL || kind_out == NULL) return ds__fail(DS_ERR_INVALID, "ds_file_kind: NULL argument");
    kind_out[0] = '\0';
    uint32_t kind = 0;
    ds_status rc;
    if (is_dir(path)) {
        char full[4096];
        if ((size_t)snprintf(full, sizeof full, "%s/%s", path, DS_LEXICAL_FILE_NAME) >= sizeof full)
            return ds__fail(DS_ERR_RANGE, "%s: path too long", path);
        rc = ds__file_kind(full, &kind);
    } else {
        rc = ds__file_kind(path, &kind);
    }
    if (rc == DS_OK) ds__fourcc_str(kind, kind_out);
    return rc;
}
