/* safetensors.c -- reader for Hugging Face's safetensors format.
**
** Layout: u64 LE header length N, N bytes of JSON
**   { "name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]},
**     ..., "__metadata__": {..} }
** then the data area; offsets are relative to its start (8 + N).
**
** Every field is untrusted: the header length is checked against the file,
** every dtype must be known, every shape entry a whole number, the byte size
** product(shape) * dtype_size is computed with overflow checks and must equal
** end - begin, offsets must lie inside the data area, tensors may not overlap
** and names may not repeat. The tensors point into the mapping; nothing is
** copied here (encoder.c converts F16/BF16).
**
** Thread: a parsed ds__safetensors is read-only.
*/
#include "model/model.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* Header JSON larger than this is refused before parsing (real checkpoints
** with thousands of tensors stay well under 10 MB). */
#define ST_MAX_HEADER ((uint64_t)100 << 20)

static const struct { const char *name; size_t size; } dtypes[DS_ST_N_DTYPES] = {
    [DS_ST_F32] = { "F32", 4 },   [DS_ST_F16] = { "F16", 2 },   [DS_ST_BF16] = { "BF16", 2 },
    [DS_ST_F64] = { "F64", 8 },   [DS_ST_I64] = { "I64", 8 },   [DS_ST_I32] = { "I32", 4 },
    [DS_ST_I16] = { "I16", 2 },   [DS_ST_I8] = { "I8", 1 },     [DS_ST_U8] = { "U8", 1 },
    [DS_ST_BOOL] = { "BOOL", 1 }, [DS_ST_U16] = { "U16", 2 },   [DS_ST_U32] = { "U32", 4 },
    [DS_ST_U64] = { "U64", 8 },   [DS_ST_F8_E4M3] = { "F8_E4M3", 1 }, [DS_ST_F8_E5M2] = { "F8_E5M2", 1 },
};

const char *ds__st_dtype_name(ds__st_dtype t) {
    return (unsigned)t < DS_ST_N_DTYPES ? dtypes[t].name : "?";
}

static int cmp_name(const void *a, const void *b) {
    return strcmp(((const ds__st_tensor *)a)->name, ((const ds__st_tensor *)b)->name);
}

static int cmp_offset(const void *a, const void *b) {
    const ds__st_tensor *x = *(const ds__st_tensor *const *)a, *y = *(const ds__st_tensor *const *)b;
    if (x->data != y->data) return x->data < y->data ? -1 : 1;
    return x->n_bytes < y->n_bytes ? -1 : x->n_bytes > y->n_bytes;
}

/* A JSON number that is a whole number in [0, 2^53]: what shapes and offsets
** must be (doubles cannot hold larger integers exactly). */
static int json_u64(const cJSON *v, uint64_t *out) {
    if (!cJSON_IsNumber(v)) return 0;
    double d = v->valuedouble;
    if (!(d >= 0.0) || d > 9007199254740992.0 || floor(d) != d) return 0;
    *out = (uint64_t)d;
    return 1;
}

static void free_tensors(ds_env *env, ds__st_tensor *t, size_t n) {
    if (t == NULL) return;
    for (size_t i = 0; i < n; i++)
        if (t[i].name) ds__free(env, t[i].name, strlen(t[i].name) + 1);
    ds__free(env, t, n * sizeof *t);
}

static ds_status parse_entry(const cJSON *e, const uint8_t *base, uint64_t data_len, const char *what,
                             ds__st_tensor *t) {
    const char *name = e->string;
    if (!cJSON_IsObject(e))
        return ds__fail(DS_ERR_CORRUPT, "%s: tensor '%s' is not a JSON object", what, name);
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(e, "dtype");
    const cJSON *sh = cJSON_GetObjectItemCaseSensitive(e, "shape");
    const cJSON *off = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
    if (!cJSON_IsString(dt) || !cJSON_IsArray(sh) || !cJSON_IsArray(off))
        return ds__fail(DS_ERR_CORRUPT, "%s: tensor '%s' lacks dtype, shape or data_offsets", what, name);
    int found = 0;
    for (unsigned i = 0; i < DS_ST_N_DTYPES; i++)
        if (strcmp(dt->valuestring, dtypes[i].name) == 0) { t->dtype = (ds__st_dtype)i; found = 1; }
    if (!found)
        return ds__fail(DS_ERR_CORRUPT, "%s: tensor '%s' has unknown dtype '%.32s'", what, name, dt->valuestring);
    int nd = cJSON_GetArraySize(sh);
    if (nd > DS_ST_MAX_DIMS)
        return ds__fail(DS_ERR_CORRUPT, "%s: tensor '%s' has %d dimensions (at most %d)", what, name, nd,
                        DS_ST_MAX_DIMS);
    t->n_dims = (unsigned)nd;
    size_t elems = 1;
    for (int i = 0; i < nd; i++) {
        uint64_t d;
        if (!json_u64(cJSON_GetArrayItem(sh, i), &d))
            return ds__fail(DS_ERR_CORRUPT, "%s: tensor '%s': shape[%d] is not a whole number", what, name, i);
        t->shape[i] = d;
        if (d > SIZE_MAX || !ds__mul_ok(elems, (size_t)d, &elems))
            return ds__fail(DS_ERR_CORRUPT, "%s: tensor '%s': shape overflows", what, name);
    }
    t->n_elems = elems;
    size_t bytes;
    if (!ds__mul_ok(elems, dtypes[t->dtype].size, &bytes))
        return ds__fail(DS_ERR_CORRUPT, "%s: tensor '%s': byte size overflows", what, name);
    uint64_t b, en;
    if (cJSON_GetArraySize(off) != 2 || !json_u64(cJSON_GetArrayItem(off, 0), &b) ||
        !json_u64(cJSON_GetArrayItem(off, 1), &en))
        return ds__fail(DS_ERR_CORRUPT, "%s: tensor '%s': data_offsets must be two whole numbers", what, name);
    if (b > en || en > data_len)
        return ds__fail(DS_ERR_CORRUPT,
                        "%s: tensor '%s': data_offsets [%llu, %llu] outside the data area (%llu bytes)", what,
                        name, (unsigned long long)b, (unsigned long long)en, (unsigned long long)data_len);
    if (en - b != (uint64_t)bytes)
        return ds__fail(DS_ERR_CORRUPT, "%s: tensor '%s': %llu bytes stored, shape and dtype need %llu", what,
                        name, (unsigned long long)(en - b), (unsigned long long)bytes);
    t->data = base + b;
    t->n_bytes = bytes;
    return DS_OK;
}

ds_status ds__st_parse(ds_env *env, const uint8_t *data, size_t size, const char *what, ds__safetensors *st) {
    memset(st, 0, sizeof *st);
    st->env = env;
    if (size < 8) return ds__fail(DS_ERR_CORRUPT, "%s: %zu bytes, too short for a safetensors header", what, size);
    uint64_t hlen = ds__load_u64le(data);
    if (hlen < 2 || hlen > size - 8 || hlen > ST_MAX_HEADER)
        return ds__fail(DS_ERR_CORRUPT, "%s: header length %llu does not fit the file (%zu bytes)", what,
                        (unsigned long long)hlen, size);
    const uint8_t *base = data + 8 + hlen;
    uint64_t data_len = size - 8 - hlen;
    cJSON *root = cJSON_ParseWithLength((const char *)data + 8, (size_t)hlen);
    if (root == NULL) return ds__fail(DS_ERR_CORRUPT, "%s: header is not valid JSON", what);
    ds_status rc = DS_OK;
    ds__st_tensor *ts = NULL, **by_off = NULL;
    size_t n = 0, cap = 0;
    if (!cJSON_IsObject(root)) { rc = ds__fail(DS_ERR_CORRUPT, "%s: header is not a JSON object", what); goto done; }
    for (const cJSON *e = root->child; e != NULL; e = e->next) {
        if (e->string == NULL) { rc = ds__fail(DS_ERR_CORRUPT, "%s: header entry without a name", what); goto done; }
        if (strcmp(e->string, "__metadata__") == 0) continue;
        cap++;
    }
    if (cap > 0 && (ts = ds__calloc(env, cap, sizeof *ts)) == NULL) { rc = DS_ERR_NOMEM; goto done; }
    for (const cJSON *e = root->child; e != NULL; e = e->next) {
        if (strcmp(e->string, "__metadata__") == 0) continue;
        ds__st_tensor *t = &ts[n];
        if ((rc = parse_entry(e, base, data_len, what, t)) != DS_OK) goto done;
        if ((t->name = ds__strdup(env, e->string)) == NULL) { rc = DS_ERR_NOMEM; goto done; }
        n++;
    }
    if (n > 1) {
        qsort(ts, n, sizeof *ts, cmp_name);
        for (size_t i = 1; i < n; i++)
            if (strcmp(ts[i - 1].name, ts[i].name) == 0) {
                rc = ds__fail(DS_ERR_CORRUPT, "%s: tensor '%s' appears twice", what, ts[i].name);
                goto done;
            }
        /* Overlap check on a second, offset-ordered view. */
        if ((by_off = ds__calloc(env, n, sizeof *by_off)) == NULL) { rc = DS_ERR_NOMEM; goto done; }
        for (size_t i = 0; i < n; i++) by_off[i] = &ts[i];
        qsort(by_off, n, sizeof *by_off, cmp_offset);
        const ds__st_tensor *prev = NULL;
        for (size_t i = 0; i < n; i++) {
            const ds__st_tensor *t = by_off[i];
            if (t->n_bytes == 0) continue;
            if (prev != NULL && t->data < prev->data + prev->n_bytes) {
                rc = ds__fail(DS_ERR_CORRUPT, "%s: tensors '%s' and '%s' overlap", what, prev->name, t->name);
                goto done;
            }
            prev = t;
        }
    }
    st->tensors = ts;
    st->n_tensors = n;
    ts = NULL;
done:
    if (by_off) ds__free(env, by_off, n * sizeof *by_off);
    free_tensors(env, ts, cap);
    cJSON_Delete(root);
    return rc;
}

ds_status ds__st_open(ds_env *env, const char *path, ds__safetensors *st) {
    memset(st, 0, sizeof *st);
    /* O_NONBLOCK: a FIFO must fail the S_ISREG check, not block in open() */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return ds__fail(errno == ENOENT ? DS_ERR_NOTFOUND : DS_ERR_IO, "%s: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return ds__fail(DS_ERR_IO, "%s: not a regular file", path);
    }
    size_t size = (size_t)sb.st_size;
    if (size < 8) {
        close(fd);
        return ds__fail(DS_ERR_CORRUPT, "%s: %zu bytes, too short for a safetensors header", path, size);
    }
    void *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    int err = errno;
    close(fd);
    if (map == MAP_FAILED) return ds__fail(DS_ERR_IO, "%s: mmap: %s", path, strerror(err));
    ds_status rc = ds__st_parse(env, map, size, path, st);
    if (rc != DS_OK) {
        munmap(map, size);
        return rc;
    }
    st->map = map;
    st->map_len = size;
    return DS_OK;
}

void ds__st_release(ds__safetensors *st) {
    if (st == NULL) return;
    free_tensors(st->env, st->tensors, st->n_tensors);
    if (st->map) munmap(st->map, st->map_len);
    memset(st, 0, sizeof *st);
}

const ds__st_tensor *ds__st_find(const ds__safetensors *st, const char *name) {
    if (st->n_tensors == 0) return NULL;
    ds__st_tensor key;
    memset(&key, 0, sizeof key);
    key.name = (char *)(uintptr_t)name;
    return bsearch(&key, st->tensors, st->n_tensors, sizeof key, cmp_name);
}
