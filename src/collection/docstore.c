/* docstore.c -- writer and reader of docs.dsx (docs/format.md §4.2). */
#include "collection/docstore.h"
#include "lexical/lexical.h"

#include <stdio.h>
#include <stdlib.h>

#define SEC_DSMT DS_FOURCC('D', 'S', 'M', 'T')
#define SEC_IDOF DS_FOURCC('I', 'D', 'O', 'F')
#define SEC_IDST DS_FOURCC('I', 'D', 'S', 'T')
#define SEC_PSGO DS_FOURCC('P', 'S', 'G', 'O')
#define SEC_DOCX DS_FOURCC('D', 'O', 'C', 'X')
#define SEC_DOCF DS_FOURCC('D', 'O', 'C', 'F')
#define SEC_DOCZ DS_FOURCC('D', 'O', 'C', 'Z')
#define DSMT_SIZE 32u

/* ---- writer ------------------------------------------------------------------ */

ds_status ds__docstore_writer_init(ds__docstore_writer *w, ds_env *env, const char *seg_dir, int store_text) {
    memset(w, 0, sizeof *w);
    w->env = env;
    w->store_text = store_text;
    ds__buf_init(&w->idof, env);
    ds__buf_init(&w->idst, env);
    ds__buf_init(&w->psgo, env);
    ds__buf_put_u64(&w->idof, 0);
    ds__buf_put_u32(&w->psgo, 0);
    size_t n = strlen(seg_dir) + sizeof "/docs.dsx";
    if ((w->path = ds__alloc(env, n, 1)) == NULL) return w->rc = ds__fail(DS_ERR_NOMEM, "out of memory");
    snprintf(w->path, n, "%s/docs.dsx", seg_dir);
    if (store_text) w->rc = ds__frames_writer_init(&w->frames, env, seg_dir);
    return w->rc;
}

ds_status ds__docstore_add(ds__docstore_writer *w, const char *id, size_t id_len, const char *title,
                           size_t title_len, const char *text, size_t text_len, uint32_t n_passages) {
    if (w->rc != DS_OK) return w->rc;
    if (w->n_docs == UINT32_MAX - 1) return w->rc = ds__fail(DS_ERR_RANGE, "too many documents for one segment");
    if (n_passages == 0 || w->n_passages + n_passages > UINT32_MAX - 1)
        return w->rc = ds__fail(DS_ERR_RANGE, "too many passages for one segment");
    ds__buf_put(&w->idst, id, id_len);
    ds__buf_put_u64(&w->idof, w->idst.len);
    w->n_passages += n_passages;
    ds__buf_put_u32(&w->psgo, (uint32_t)w->n_passages);
    if (w->idst.rc || w->idof.rc || w->psgo.rc) return w->rc = ds__fail(DS_ERR_NOMEM, "out of memory");
    if (w->store_text && (w->rc = ds__frames_add(&w->frames, title, title_len, text, text_len)) != DS_OK)
        return w->rc;
    w->n_docs++;
    return DS_OK;
}

ds_status ds__docstore_finish(ds__docstore_writer *w) {
    if (w->rc != DS_OK) return w->rc;
    if (w->store_text && (w->rc = ds__frames_finish(&w->frames)) != DS_OK) return w->rc;
    ds__cwriter *cw = NULL;
    ds_status rc = ds__cw_open(w->env, w->path, DS__DOCS_KIND, DS__DOCS_MAJOR, DS__DOCS_MINOR, 0, &cw);
    if (rc != DS_OK) return w->rc = rc;
    uint8_t meta[DSMT_SIZE] = { 0 };
    ds__store_u32le(meta + 0, w->n_docs);
    ds__store_u32le(meta + 4, (uint32_t)w->n_passages);
    ds__store_u32le(meta + 8, w->store_text ? DS__FRAME_DOCS : 0);
    ds__store_u32le(meta + 12, w->store_text ? w->frames.n_chunks : 0);
    ds__store_u32le(meta + 16, w->store_text ? w->frames.max_chunk_raw : 0);
    ds__cw_section(cw, SEC_DSMT, DS_SECTION_REQUIRED, meta, sizeof meta);
    ds__cw_section(cw, SEC_IDOF, DS_SECTION_REQUIRED, w->idof.p, w->idof.len);
    ds__cw_section(cw, SEC_IDST, DS_SECTION_REQUIRED, w->idst.p, w->idst.len);
    ds__cw_section(cw, SEC_PSGO, DS_SECTION_REQUIRED, w->psgo.p, w->psgo.len);
    if (w->store_text) {
        ds__cw_section(cw, SEC_DOCX, DS_SECTION_REQUIRED, w->frames.docx.p, w->frames.docx.len);
        ds__cw_section(cw, SEC_DOCF, DS_SECTION_REQUIRED, w->frames.docf.p, w->frames.docf.len);
        rc = ds__cw_begin(cw, SEC_DOCZ, DS_SECTION_REQUIRED);
        if (rc == DS_OK) rc = ds__copy_file_to(cw, w->frames.z, w->frames.z_len);
        if (rc == DS_OK) rc = ds__cw_end(cw);
        if (rc != DS_OK) {
            ds__cw_abort(cw);
            return w->rc = rc;
        }
    }
    return w->rc = ds__cw_commit(cw);
}

void ds__docstore_writer_release(ds__docstore_writer *w) {
    if (w->store_text) ds__frames_writer_release(&w->frames);
    ds__buf_release(&w->idof);
    ds__buf_release(&w->idst);
    ds__buf_release(&w->psgo);
    if (w->path) ds__free(w->env, w->path, strlen(w->path) + 1);
    memset(w, 0, sizeof *w);
}

/* ---- reader ------------------------------------------------------------------ */

static uint64_t id_hash(const char *id, size_t len) { return ds__hash64(id, len); }

static ds_status build_id_table(ds__docstore *ds, const char *path) {
    size_t n = 16;
    while (n < (size_t)ds->n_docs * 2) n <<= 1;
    if ((ds->id_slots = ds__calloc(ds->env, n, sizeof *ds->id_slots)) == NULL)
        return ds__fail(DS_ERR_NOMEM, "out of memory (id table of %u documents)", ds->n_docs);
    ds->n_slots = n;
    for (uint32_t d = 0; d < ds->n_docs; d++) {
        size_t len;
        const char *id = ds__docstore_id(ds, d, &len);
        if (id == NULL) return ds__fail(DS_ERR_CORRUPT, "%s: id of document %u is damaged", path, d);
        size_t s = (size_t)id_hash(id, len) & (n - 1);
        for (;;) {
            uint32_t e = ds->id_slots[s];
            if (e == 0) { ds->id_slots[s] = d + 1; break; }
            size_t l2;
            const char *o = ds__docstore_id(ds, e - 1, &l2);
            if (l2 == len && memcmp(o, id, len) == 0)
                return ds__fail(DS_ERR_CORRUPT, "%s: documents %u and %u have the same id '%.*s'", path, e - 1, d,
                                (int)DS_MIN(len, 200), id);
            s = (s + 1) & (n - 1);
        }
    }
    return DS_OK;
}

static ds_status build_passages(ds__docstore *ds, const uint8_t *psgo, const char *path) {
    size_t nf = (size_t)ds->n_docs + 1;
    if ((ds->psg_first = ds__alloc(ds->env, nf * sizeof *ds->psg_first, 64)) == NULL ||
        (ds->psg_doc = ds__alloc(ds->env, (size_t)(ds->n_passages ? ds->n_passages : 1) * sizeof *ds->psg_doc, 64)) == NULL)
        return ds__fail(DS_ERR_NOMEM, "out of memory (passage table)");
    uint32_t prev = 0;
    for (size_t d = 0; d < nf; d++) {
        uint32_t v = ds__load_u32le(psgo + 4 * d);
        if ((d == 0 && v != 0) || (d > 0 && v <= prev) || v > ds->n_passages)
            return ds__fail(DS_ERR_CORRUPT, "%s: PSGO entry %zu (%u) is not increasing within %llu passages", path, d, v,
                            (unsigned long long)ds->n_passages);
        if (d > 0)
            for (uint32_t p = prev; p < v; p++) ds->psg_doc[p] = (uint32_t)(d - 1);
        ds->psg_first[d] = v;
        prev = v;
    }
    if (prev != ds->n_passages) return ds__fail(DS_ERR_CORRUPT, "%s: PSGO ends at %u, not at %llu passages", path, prev,
                                                (unsigned long long)ds->n_passages);
    return DS_OK;
}

ds_status ds__docstore_open(ds_env *env, const char *path, unsigned flags, ds__docstore **out) {
    *out = NULL;
    ds__docstore *ds = ds__calloc(env, 1, sizeof *ds);
    if (ds == NULL) return ds__fail(DS_ERR_NOMEM, "out of memory");
    ds->env = env;
    static const uint32_t known[] = { SEC_DSMT, SEC_IDOF, SEC_IDST, SEC_PSGO, SEC_DOCX, SEC_DOCF, SEC_DOCZ };
    const uint8_t *meta, *psgo;
    ds_status rc = ds__cr_open(env, path, DS__DOCS_KIND, flags, &ds->cr);
    if (rc == DS_OK) rc = ds__cr_check_known(ds->cr, known, DS_ARRAY_LEN(known));
    if (rc == DS_OK && ds->cr->format_major != DS__DOCS_MAJOR)
        rc = ds__fail(DS_ERR_FORMAT, "%s: document store version %u.%u, this library reads %u.x", path,
                      ds->cr->format_major, ds->cr->format_minor, DS__DOCS_MAJOR);
    if (rc == DS_OK) rc = ds__cr_get_sized(ds->cr, SEC_DSMT, DSMT_SIZE, &meta);
    if (rc != DS_OK) goto fail;
    ds->n_docs = ds__load_u32le(meta);
    ds->n_passages = ds__load_u32le(meta + 4);
    uint32_t stored_chunk = ds__load_u32le(meta + 8), n_chunks = ds__load_u32le(meta + 12);
    uint32_t max_raw = ds__load_u32le(meta + 16);
    if (ds->n_docs == UINT32_MAX || ds->n_passages < ds->n_docs || ds->n_passages == UINT32_MAX ||
        stored_chunk > DS__FRAME_DOCS || (stored_chunk == 0) != (n_chunks == 0) || n_chunks > ds->n_docs ||
        max_raw > (256u << 20) + DS__FRAME_BYTES + 64u) {
        rc = ds__fail(DS_ERR_CORRUPT, "%s: DSMT fields out of range", path);
        goto fail;
    }
    if ((rc = ds__cr_get_sized(ds->cr, SEC_IDOF, ((uint64_t)ds->n_docs + 1) * 8, &ds->idof)) != DS_OK ||
        (rc = ds__cr_get(ds->cr, SEC_IDST, &ds->idst, &ds->idst_len)) != DS_OK ||
        (rc = ds__cr_get_sized(ds->cr, SEC_PSGO, ((uint64_t)ds->n_docs + 1) * 4, &psgo)) != DS_OK)
        goto fail;
    uint64_t prev = 0;
    for (uint64_t d = 0; d <= ds->n_docs; d++) {
        uint64_t v = ds__load_u64le(ds->idof + 8 * d);
        if ((d == 0 && v != 0) || (d > 0 && (v <= prev || v - prev > DS__DOCS_MAX_ID)) || v > ds->idst_len) {
            rc = ds__fail(DS_ERR_CORRUPT, "%s: IDOF entry %llu is out of order or range", path, (unsigned long long)d);
            goto fail;
        }
        prev = v;
    }
    if (prev != ds->idst_len) {
        rc = ds__fail(DS_ERR_CORRUPT, "%s: IDOF does not end at the length of IDST", path);
        goto fail;
    }
    if (stored_chunk) {
        ds->has_text = 1;
        ds->frames.n_docs = ds->n_docs;
        ds->frames.n_chunks = n_chunks;
        ds->frames.stored_chunk = stored_chunk;
        ds->frames.max_chunk_raw = max_raw;
        if ((rc = ds__cr_get_sized(ds->cr, SEC_DOCX, ((uint64_t)n_chunks + 1) * 8, &ds->frames.docx)) != DS_OK ||
            (rc = ds__cr_get_sized(ds->cr, SEC_DOCF, ((uint64_t)n_chunks + 1) * 4, &ds->frames.docf)) != DS_OK ||
            (rc = ds__cr_get(ds->cr, SEC_DOCZ, &ds->frames.docz, &ds->frames.docz_len)) != DS_OK)
            goto fail;
    }
    if ((rc = build_passages(ds, psgo, path)) != DS_OK) goto fail;
    if ((rc = build_id_table(ds, path)) != DS_OK) goto fail;
    *out = ds;
    return DS_OK;
fail:
    ds__docstore_close(ds);
    return rc;
}

ds_status ds__docstore_from_lexical(ds_env *env, const ds_lexical *lx, ds__docstore **out) {
    *out = NULL;
    ds__docstore *ds = ds__calloc(env, 1, sizeof *ds);
    if (ds == NULL) return ds__fail(DS_ERR_NOMEM, "out of memory");
    ds->env = env;
    ds->lx = lx;
    ds->n_docs = (uint32_t)ds_lexical_n_docs(lx);
    ds->n_passages = ds->n_docs;
    ds->has_text = lx->meta.stored_chunk > 0;
    ds_status rc = build_id_table(ds, "lexical.dsx");
    if (rc != DS_OK) {
        ds__docstore_close(ds);
        return rc;
    }
    *out = ds;
    return DS_OK;
}

void ds__docstore_close(ds__docstore *ds) {
    if (ds == NULL) return;
    ds_env *env = ds->env;
    ds__free(env, ds->id_slots, ds->n_slots * sizeof *ds->id_slots);
    ds__free(env, ds->psg_first, ((size_t)ds->n_docs + 1) * sizeof *ds->psg_first);
    ds__free(env, ds->psg_doc, (size_t)(ds->n_passages ? ds->n_passages : 1) * sizeof *ds->psg_doc);
    ds__cr_close(ds->cr);
    ds__free(env, ds, sizeof *ds);
}

const char *ds__docstore_id(const ds__docstore *ds, uint32_t doc, size_t *len) {
    if (doc >= ds->n_docs) return NULL;
    if (ds->lx) return ds_lexical_doc_id(ds->lx, doc, len);
    uint64_t a = ds__load_u64le(ds->idof + 8 * (uint64_t)doc), b = ds__load_u64le(ds->idof + 8 * (uint64_t)doc + 8);
    if (len) *len = (size_t)(b - a);
    return (const char *)ds->idst + a;
}

ds_status ds__docstore_find(const ds__docstore *ds, const char *id, size_t len, uint32_t *doc) {
    size_t s = (size_t)id_hash(id, len) & (ds->n_slots - 1);
    for (;;) {
        uint32_t e = ds->id_slots[s];
        if (e == 0) return DS_ERR_NOTFOUND;
        size_t l2;
        const char *o = ds__docstore_id(ds, e - 1, &l2);
        if (o && l2 == len && memcmp(o, id, len) == 0) {
            *doc = e - 1;
            return DS_OK;
        }
        s = (s + 1) & (ds->n_slots - 1);
    }
}

ds_status ds__docstore_doc(const ds__docstore *ds, uint32_t doc, char **title, size_t *title_len, char **text,
                           size_t *text_len) {
    if (ds->lx) return ds_lexical_doc(ds->lx, doc, title, title_len, text, text_len);
    if (title) *title = NULL;
    if (text) *text = NULL;
    if (!ds->has_text) return ds__fail(DS_ERR_NOTFOUND, "the collection was built without stored text");
    return ds__frames_get(&ds->frames, doc, title, title_len, text, text_len);
}

ds_status ds__docstore_check(ds_env *env, const char *path) {
    ds__docstore *ds = NULL;
    ds_status rc = ds__docstore_open(env, path, DS_OPEN_VERIFY, &ds);
    if (rc != DS_OK) return rc;
    /* every frame decompresses and holds exactly its documents */
    for (uint32_t c = 0; rc == DS_OK && ds->has_text && c < ds->frames.n_chunks; c++) {
        uint32_t f0 = ds__load_u32le(ds->frames.docf + 4 * (uint64_t)c), f1 = ds__load_u32le(ds->frames.docf + 4 * (uint64_t)c + 4);
        if (f1 <= f0 || f1 > ds->n_docs || (c == 0 && f0 != 0) || (c + 1 == ds->frames.n_chunks && f1 != ds->n_docs)) {
            rc = ds__fail(DS_ERR_CORRUPT, "%s: DOCF entry %u out of order", path, c);
            break;
        }
        char *t = NULL;
        rc = ds__frames_get(&ds->frames, f1 - 1, NULL, NULL, &t, NULL);
        free(t);
    }
    ds__docstore_close(ds);
    return rc;
}
