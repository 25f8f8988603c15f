/* frames.c -- stored documents in zstd frames (see frames.h). */
#include "core/frames.h"
#include "core/container.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>
#include <zstd.h>

#define FRAME_ZSTD_LEVEL 3

static int take_str(ds__reader *r, const uint8_t **p, uint64_t *len) {
    return ds__take_varint(r, len) && *len <= ds__reader_left(r) && ds__take(r, (size_t)*len, p);
}

ds_status ds__frames_get(const ds__frames *f, uint32_t doc, char **title, size_t *title_len, char **text,
                         size_t *text_len) {
    if (doc >= f->n_docs) return ds__fail(DS_ERR_INVALID, "document %u out of range (%u documents)", doc, f->n_docs);
    if (f->n_chunks == 0) return ds__fail(DS_ERR_CORRUPT, "stored text table is empty");
    /* the frame holding doc: last c with first_doc[c] <= doc (DOCF ascending) */
    uint64_t lo = 0, hi = f->n_chunks;
    while (hi - lo > 1) {
        uint64_t mid = lo + (hi - lo) / 2;
        if (ds__load_u32le(f->docf + 4 * mid) <= doc) lo = mid; else hi = mid;
    }
    uint64_t c = lo;
    uint32_t f0 = ds__load_u32le(f->docf + 4 * c), f1 = ds__load_u32le(f->docf + 4 * c + 4);
    if (!(f0 <= doc && doc < f1 && f1 - f0 <= f->stored_chunk))
        return ds__fail(DS_ERR_CORRUPT, "stored text chunk table damaged near document %u", doc);
    uint64_t a = ds__load_u64le(f->docx + 8 * c), b = ds__load_u64le(f->docx + 8 * c + 8);
    if (a >= b || b > f->docz_len) return ds__fail(DS_ERR_CORRUPT, "stored text chunk %llu: bad offsets", (unsigned long long)c);
    unsigned long long raw = ZSTD_getFrameContentSize(f->docz + a, (size_t)(b - a));
    if (raw == ZSTD_CONTENTSIZE_ERROR || raw == ZSTD_CONTENTSIZE_UNKNOWN || raw > f->max_chunk_raw)
        return ds__fail(DS_ERR_CORRUPT, "stored text chunk %llu: bad frame", (unsigned long long)c);
    uint8_t *buf = malloc(raw ? (size_t)raw : 1);
    if (buf == NULL) return ds__fail(DS_ERR_NOMEM, "out of memory");
    ds_status rc = DS_OK;
    size_t got = ZSTD_decompress(buf, (size_t)raw, f->docz + a, (size_t)(b - a));
    if (ZSTD_isError(got) || got != raw) {
        rc = ds__fail(DS_ERR_CORRUPT, "stored text chunk %llu does not decompress", (unsigned long long)c);
    } else {
        ds__reader r = { buf, buf + got };
        const uint8_t *tp = NULL, *xp = NULL;
        uint64_t tl = 0, xl = 0;
        for (uint32_t i = f0; i <= doc && rc == DS_OK; i++)
            if (!take_str(&r, &tp, &tl) || !take_str(&r, &xp, &xl))
                rc = ds__fail(DS_ERR_CORRUPT, "stored text chunk %llu is damaged", (unsigned long long)c);
        if (rc == DS_OK) {
            char *t1 = title ? ds__dup_for_caller(tp, (size_t)tl) : NULL, *t2 = text ? ds__dup_for_caller(xp, (size_t)xl) : NULL;
            if ((title && !t1) || (text && !t2)) {
                free(t1);
                free(t2);
                rc = ds__fail(DS_ERR_NOMEM, "out of memory");
            } else {
                if (title) { *title = t1; if (title_len) *title_len = (size_t)tl; }
                if (text) { *text = t2; if (text_len) *text_len = (size_t)xl; }
            }
        }
    }
    free(buf);
    return rc;
}

/* ---- writer ------------------------------------------------------------------ */

ds_status ds__frames_writer_init(ds__frames_writer *w, ds_env *env, const char *dir) {
    memset(w, 0, sizeof *w);
    w->env = env;
    ds__buf_init(&w->raw, env);
    ds__buf_init(&w->docx, env);
    ds__buf_init(&w->docf, env);
    ds__buf_put_u64(&w->docx, 0);
    ds__buf_put_u32(&w->docf, 0);
    if ((w->zc = ZSTD_createCCtx()) == NULL) return w->rc = ds__fail(DS_ERR_NOMEM, "out of memory (zstd)");
    char tmpl[4200];
    if ((size_t)snprintf(tmpl, sizeof tmpl, "%s/.docs.spill.XXXXXX", dir) >= sizeof tmpl)
        return w->rc = ds__fail(DS_ERR_INVALID, "%s: path too long", dir);
    int fd = mkstemp(tmpl);
    if (fd < 0) return w->rc = ds__fail(DS_ERR_IO, "%s: cannot create a temporary file: %s", dir, strerror(errno));
    unlink(tmpl);   /* never visible after a crash */
    if ((w->z = fdopen(fd, "w+b")) == NULL) {
        close(fd);
        return w->rc = ds__fail(DS_ERR_IO, "%s: %s", dir, strerror(errno));
    }
    setvbuf(w->z, NULL, _IOFBF, 1 << 20);
    return DS_OK;
}

static ds_status close_frame(ds__frames_writer *w) {
    if (w->rc != DS_OK || w->raw_docs == 0) return w->rc;
    if (w->raw.rc != DS_OK) return w->rc = w->raw.rc;
    size_t bound = ZSTD_compressBound(w->raw.len);
    void *z = malloc(bound);
    if (z == NULL) return w->rc = ds__fail(DS_ERR_NOMEM, "out of memory");
    size_t n = ZSTD_compressCCtx(w->zc, z, bound, w->raw.p, w->raw.len, FRAME_ZSTD_LEVEL);
    if (ZSTD_isError(n)) w->rc = ds__fail(DS_ERR_INTERNAL, "zstd: %s", ZSTD_getErrorName(n));
    else if (fwrite(z, 1, n, w->z) != n) w->rc = ds__fail(DS_ERR_IO, "temporary file: %s", strerror(errno));
    free(z);
    if (w->rc != DS_OK) return w->rc;
    if (w->raw.len > w->max_chunk_raw) w->max_chunk_raw = (uint32_t)w->raw.len;
    w->z_len += n;
    w->n_chunks++;
    ds__buf_put_u64(&w->docx, w->z_len);
    ds__buf_put_u32(&w->docf, w->n_docs);
    w->raw.len = 0;
    w->raw_docs = 0;
    if (w->docx.rc != DS_OK || w->docf.rc != DS_OK) w->rc = DS_ERR_NOMEM;
    return w->rc;
}

ds_status ds__frames_add(ds__frames_writer *w, const char *title, size_t title_len, const char *text,
                         size_t text_len) {
    if (w->rc != DS_OK) return w->rc;
    ds__buf_put_varint(&w->raw, title_len);
    ds__buf_put(&w->raw, title, title_len);
    ds__buf_put_varint(&w->raw, text_len);
    ds__buf_put(&w->raw, text, text_len);
    if (w->raw.rc != DS_OK) return w->rc = ds__fail(DS_ERR_NOMEM, "out of memory");
    w->raw_docs++;
    w->n_docs++;
    if (w->raw_docs >= DS__FRAME_DOCS || w->raw.len >= DS__FRAME_BYTES) return close_frame(w);
    return DS_OK;
}

ds_status ds__frames_finish(ds__frames_writer *w) {
    ds_status rc = close_frame(w);
    if (rc == DS_OK && fflush(w->z) != 0) rc = w->rc = ds__fail(DS_ERR_IO, "temporary file: %s", strerror(errno));
    return rc;
}

ds_status ds__copy_file_to(void *cwriter, FILE *f, uint64_t len) {
    if (fflush(f) != 0 || fseek(f, 0, SEEK_SET) != 0) return ds__fail(DS_ERR_IO, "temporary file: %s", strerror(errno));
    uint8_t buf[1 << 16];
    while (len > 0) {
        size_t want = len < sizeof buf ? (size_t)len : sizeof buf;
        if (fread(buf, 1, want, f) != want) return ds__fail(DS_ERR_IO, "temporary file: short read");
        ds_status rc = ds__cw_write(cwriter, buf, want);
        if (rc != DS_OK) return rc;
        len -= want;
    }
    return DS_OK;
}

void ds__frames_writer_release(ds__frames_writer *w) {
    if (w->zc) ZSTD_freeCCtx(w->zc);
    if (w->z) fclose(w->z);
    ds__buf_release(&w->raw);
    ds__buf_release(&w->docx);
    ds__buf_release(&w->docf);
    memset(w, 0, sizeof *w);
}
