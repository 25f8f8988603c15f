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
#include "collection/collection.h"

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
    uint32_t kind = 0;
    if (ds__file_kind(path, &kind) == DS_OK && kind == DS__DOCS_KIND) return ds__docstore_check(env, path);
    ds__creader *r = NULL;
    ds_status rc = ds__cr_open(env, path, 0, DS_OPEN_VERIFY, &r);
    if (rc != DS_OK) return rc;
    char k[5];
    switch (r->file_kind) {
    case DS_FOURCC('L', 'E', 'X', 'I'):
        rc = ds__lexical_check(env, r);
        break;
    case DS_FOURCC('C', 'M', 'A', 'N'):
        break;   /* read with the collection it describes (check_collection) */
    default:
        if ((r->file_kind & 0xff) == 'V') rc = ds__vector_check(env, r);
        else rc = ds__fail(DS_ERR_FORMAT, "unknown densearch file kind '%s'", ds__fourcc_str(r->file_kind, k));
        break;
    }
    if (rc != DS_OK) ds__fail_prefix(rc, "%s: ", path);
    ds__cr_close(r);
    return rc;
}

/* A collection: the MANIFEST and the parts it names open together (counts
** and dimensions agree, every checksum verified), then each file of the
** segments it names is checked deeply on its own (orphans of killed builds
** are not part of the collection and are not checked). */
static ds_status check_collection(ds_env *env, const char *path) {
    ds_collection_open_opts oo;
    ds_collection_open_opts_init(&oo);
    oo.flags = DS_OPEN_VERIFY;
    oo.no_encoder = 1;
    ds_collection *c = NULL;
    ds_status rc = ds_collection_open(env, path, &oo, &c);
    if (rc != DS_OK) return rc;
    char seg[4096];
    for (size_t i = 0; !c->legacy && rc == DS_OK && i < c->n_seg; i++) {
        if ((size_t)snprintf(seg, sizeof seg, "%s/%s", path, c->seg[i]->name) >= sizeof seg)
            rc = ds__fail(DS_ERR_RANGE, "%s: path too long", path);
        else
            rc = ds_check(env, seg);
    }
    ds_collection_close(c);
    return rc;
}

ds_status ds_check(ds_env *env, const char *path) {
    if (path == NULL) return ds__fail(DS_ERR_INVALID, "ds_check: path is NULL");
    env = DS_ENV(env);
    if (!is_dir(path)) return check_file(env, path);
    char manifest[4096];
    if ((size_t)snprintf(manifest, sizeof manifest, "%s/MANIFEST", path) < sizeof manifest && !is_dir(manifest)) {
        struct stat st;
        if (stat(manifest, &st) == 0) return check_collection(env, path);
    }
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
        if ((size_t)snprintf(full, sizeof full, "%s/MANIFEST", path) >= sizeof full)
            return ds__fail(DS_ERR_RANGE, "%s: path too long", path);
        struct stat st;
        if (stat(full, &st) != 0 && (size_t)snprintf(full, sizeof full, "%s/%s", path, DS_LEXICAL_FILE_NAME) >= sizeof full)
            return ds__fail(DS_ERR_RANGE, "%s: path too long", path);
        rc = ds__file_kind(full, &kind);
    } else {
        rc = ds__file_kind(path, &kind);
    }
    if (rc == DS_OK) ds__fourcc_str(kind, kind_out);
    return rc;
}
