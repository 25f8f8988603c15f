/* lexical_check.c -- deep validation of a lexical (BM25) index file, what
** `densearch check` runs on LEXI files (docs/format.md §2).
**
** The container has already verified header, table and every checksum; this
** decodes every section and checks every rule of the format: offsets
** monotone and in bounds, terms strictly increasing, df/first_block
** consistent with the block count, every postings block decoding to exactly
** its stored length with strictly increasing doc numbers < n_docs and the
** skip entry's last_doc / max_tf / min_len / max_tfnorm, sums of df and DLEN
** matching LXMT, unique ids, and every stored-text frame decompressing to
** the documents it should hold.
**
** Thread: any (read-only).
*/
#include "check/check.h"
#include "lexical/lexical.h"

#include <zstd.h>

#include <stdlib.h>


static ds_status check_ids(ds_env *env, const ds_lexical *lx) {
    uint32_t n = lx->meta.n_docs;
    uint64_t prev = ds__load_u64le(lx->idof);
    if (prev != 0) return ds__fail(DS_ERR_CORRUPT, "IDOF[0] is not 0");
    for (uint32_t d = 0; d < n; d++) {
        uint64_t b = ds__load_u64le(lx->idof + 8 * ((size_t)d + 1));
        if (b <= prev || b - prev > DS__LX_MAX_ID || b > lx->idst_len)
            return ds__fail(DS_ERR_CORRUPT, "IDOF: id of document %u has bad offsets", d);
        for (uint64_t i = prev; i < b; i++)
            if (lx->idst[i] < 0x20) return ds__fail(DS_ERR_CORRUPT, "IDST: id of document %u has control bytes", d);
        prev = b;
    }
    if (prev != lx->idst_len) return ds__fail(DS_ERR_CORRUPT, "IDST: %llu bytes, ids end at %llu",
                                              (unsigned long long)lx->idst_len, (unsigned long long)prev);
    /* uniqueness: hash set of doc numbers */
    size_t ns = 16;
    while (ns < 2 * (size_t)n) ns *= 2;
    uint32_t *slots = ds__calloc(env, ns, sizeof *slots);
    if (slots == NULL) return ds__fail(DS_ERR_NOMEM, "out of memory");
    ds_status rc = DS_OK;
    for (uint32_t d = 0; d < n && rc == DS_OK; d++) {
        size_t len;
        const char *id = ds_lexical_doc_id(lx, d, &len);
        size_t i = (size_t)ds__hash64(id, len) & (ns - 1);
        while (slots[i] != 0) {
            size_t l2;
            const char *o = ds_lexical_doc_id(lx, slots[i] - 1, &l2);
            if (l2 == len && memcmp(o, id, len) == 0) {
                rc = ds__fail(DS_ERR_CORRUPT, "IDST: documents %u and %u have the same id", slots[i] - 1, d);
                break;
            }
            i = (i + 1) & (ns - 1);
        }
        slots[i] = d + 1;
    }
    ds__free(env, slots, ns * sizeof *slots);
    return rc;
}

static ds_status check_postings(const ds_lexical *lx) {
    const ds__lx_meta *m = &lx->meta;
    uint64_t sum_df = 0, gb = 0, sum_dl = 0;
    for (uint32_t d = 0; d < m->n_docs; d++) sum_dl += ds__load_u32le(lx->dlen + 4 * (size_t)d);
    if (sum_dl != m->n_tokens) return ds__fail(DS_ERR_CORRUPT, "DLEN sums to %llu, LXMT says %llu tokens",
                                               (unsigned long long)sum_dl, (unsigned long long)m->n_tokens);
    if (ds__load_u32le(lx->toff) != 0) return ds__fail(DS_ERR_CORRUPT, "TOFF[0] is not 0");
    if (ds__load_u32le(lx->toff + 4 * (size_t)m->n_terms) != lx->tstr_len)
        return ds__fail(DS_ERR_CORRUPT, "TOFF does not end at the end of TSTR");
    uint32_t docs[DS__LX_BLOCK], tfs[DS__LX_BLOCK];
    const uint8_t *prev_t = NULL;
    size_t prev_len = 0;
    uint64_t expect_off = 0;
    for (uint32_t t = 0; t < m->n_terms; t++) {
        uint32_t a = ds__load_u32le(lx->toff + 4 * (size_t)t), b = ds__load_u32le(lx->toff + 4 * (size_t)t + 4);
        if (a >= b || b > lx->tstr_len || b - a > DS__AN_MAX_TERM)
            return ds__fail(DS_ERR_CORRUPT, "TOFF: term %u has bad offsets", t);
        const uint8_t *tp = lx->tstr + a;
        size_t tl = b - a;
        if (prev_t) {
            int c = memcmp(prev_t, tp, prev_len < tl ? prev_len : tl);
            if (c > 0 || (c == 0 && prev_len >= tl)) return ds__fail(DS_ERR_CORRUPT, "TSTR: term %u out of order", t);
        }
        prev_t = tp;
        prev_len = tl;
        uint32_t df = ds__load_u32le(lx->tinf + 8 * (size_t)t), fb = ds__load_u32le(lx->tinf + 8 * (size_t)t + 4);
        if (df == 0 || df > m->n_docs) return ds__fail(DS_ERR_CORRUPT, "TINF: term %u has df %u", t, df);
        if (fb != gb) return ds__fail(DS_ERR_CORRUPT, "TINF: term %u starts at block %u, expected %llu", t, fb, (unsigned long long)gb);
        uint32_t nb = (df + DS__LX_BLOCK - 1) / DS__LX_BLOCK;
        if (gb + nb > m->n_blocks) return ds__fail(DS_ERR_CORRUPT, "TINF: term %u needs blocks past n_blocks", t);
        int64_t prev = -1;
        for (uint32_t bi = 0; bi < nb; bi++, gb++) {
            const uint8_t *e = lx->skip + gb * DS__LX_SKIP_SIZE;
            uint64_t off = ds__load_u64le(e);
            uint64_t end = gb + 1 < m->n_blocks ? ds__load_u64le(e + DS__LX_SKIP_SIZE) : lx->post_len;
            if (off != expect_off || off > end || end > lx->post_len)
                return ds__fail(DS_ERR_CORRUPT, "SKIP: block %llu has bad offsets", (unsigned long long)gb);
            expect_off = end;
            uint32_t n = bi + 1 < nb ? DS__LX_BLOCK : df - DS__LX_BLOCK * (nb - 1);
            if (!ds__lx_block_decode(lx->post + off, (size_t)(end - off), (size_t)(end - off), n, prev, docs, tfs))
                return ds__fail(DS_ERR_CORRUPT, "POST: block %llu (term %u) does not decode", (unsigned long long)gb, t);
            uint32_t max_tf = 0, min_len = UINT32_MAX;
            float max_norm = 0.0f;
            for (uint32_t i = 0; i < n; i++) {
                if (docs[i] >= m->n_docs) return ds__fail(DS_ERR_CORRUPT, "POST: block %llu has doc %u >= n_docs", (unsigned long long)gb, docs[i]);
                uint32_t dl = ds__load_u32le(lx->dlen + 4 * (size_t)docs[i]);
                if (tfs[i] > dl) return ds__fail(DS_ERR_CORRUPT, "POST: block %llu: tf %u exceeds doc length %u", (unsigned long long)gb, tfs[i], dl);
                if (tfs[i] > max_tf) max_tf = tfs[i];
                if (dl < min_len) min_len = dl;
                float tf = (float)tfs[i];
                float x = tf / (tf + ds__bm25_norm(m->k1, m->b, dl, lx->avgdl));
                if (x > max_norm) max_norm = x;
            }
            if (docs[n - 1] != ds__load_u32le(e + 8) || max_tf != ds__load_u32le(e + 12) ||
                min_len != ds__load_u32le(e + 16) || !(ds__load_f32le(e + 20) >= max_norm && ds__load_f32le(e + 20) <= 1.0f))
                return ds__fail(DS_ERR_CORRUPT, "SKIP: block %llu summary does not match its postings", (unsigned long long)gb);
            prev = docs[n - 1];
        }
        sum_df += df;
    }
    if (gb != m->n_blocks) return ds__fail(DS_ERR_CORRUPT, "SKIP: %llu blocks, terms use %llu", (unsigned long long)m->n_blocks, (unsigned long long)gb);
    if (expect_off != lx->post_len) return ds__fail(DS_ERR_CORRUPT, "POST: %llu trailing bytes", (unsigned long long)(lx->post_len - expect_off));
    if (sum_df != m->n_postings) return ds__fail(DS_ERR_CORRUPT, "TINF: df sums to %llu, LXMT says %llu postings",
                                                 (unsigned long long)sum_df, (unsigned long long)m->n_postings);
    return DS_OK;
}

static ds_status check_stored(const ds_lexical *lx) {
    const ds__lx_meta *m = &lx->meta;
    if (m->stored_chunk == 0) return DS_OK;
    uint64_t nc = m->n_chunks;
    if (ds__load_u64le(lx->docx) != 0) return ds__fail(DS_ERR_CORRUPT, "DOCX[0] is not 0");
    if (ds__load_u32le(lx->docf) != 0 || ds__load_u32le(lx->docf + 4 * nc) != m->n_docs)
        return ds__fail(DS_ERR_CORRUPT, "DOCF does not run from 0 to n_docs");
    for (uint64_t c = 0; c < nc; c++) {
        uint32_t f0 = ds__load_u32le(lx->docf + 4 * c), f1 = ds__load_u32le(lx->docf + 4 * c + 4);
        if (f1 <= f0 || f1 - f0 > m->stored_chunk)
            return ds__fail(DS_ERR_CORRUPT, "DOCF: chunk %llu holds %lld documents", (unsigned long long)c, (long long)f1 - (long long)f0);
    }
    if (ds__load_u64le(lx->docx + 8 * nc) != lx->docz_len) return ds__fail(DS_ERR_CORRUPT, "DOCX does not end at the end of DOCZ");
    uint8_t *buf = malloc(m->max_chunk_raw ? m->max_chunk_raw : 1);
    if (buf == NULL) return ds__fail(DS_ERR_NOMEM, "out of memory");
    ds_status rc = DS_OK;
    for (uint64_t c = 0; c < nc && rc == DS_OK; c++) {
        uint64_t a = ds__load_u64le(lx->docx + 8 * c), b = ds__load_u64le(lx->docx + 8 * c + 8);
        if (a >= b || b > lx->docz_len) { rc = ds__fail(DS_ERR_CORRUPT, "DOCX: chunk %llu has bad offsets", (unsigned long long)c); break; }
        unsigned long long raw = ZSTD_getFrameContentSize(lx->docz + a, (size_t)(b - a));
        if (raw == ZSTD_CONTENTSIZE_ERROR || raw == ZSTD_CONTENTSIZE_UNKNOWN || raw > m->max_chunk_raw) {
            rc = ds__fail(DS_ERR_CORRUPT, "DOCZ: chunk %llu has a bad frame header", (unsigned long long)c);
            break;
        }
        size_t got = ZSTD_decompress(buf, (size_t)raw, lx->docz + a, (size_t)(b - a));
        if (ZSTD_isError(got) || got != raw) { rc = ds__fail(DS_ERR_CORRUPT, "DOCZ: chunk %llu does not decompress", (unsigned long long)c); break; }
        ds__reader r = { buf, buf + got };
        uint64_t d0 = ds__load_u32le(lx->docf + 4 * c), d1 = ds__load_u32le(lx->docf + 4 * c + 4);
        for (uint64_t d = d0; d < d1; d++) {
            for (int f = 0; f < 2; f++) {
                uint64_t len;
                const uint8_t *p;
                if (!ds__take_varint(&r, &len) || len > ds__reader_left(&r) || !ds__take(&r, (size_t)len, &p)) {
                    rc = ds__fail(DS_ERR_CORRUPT, "DOCZ: document %llu is damaged", (unsigned long long)d);
                    break;
                }
            }
            if (rc != DS_OK) break;
        }
        if (rc == DS_OK && ds__reader_left(&r) != 0) rc = ds__fail(DS_ERR_CORRUPT, "DOCZ: chunk %llu has trailing bytes", (unsigned long long)c);
    }
    free(buf);
    return rc;
}

ds_status ds__lexical_check(ds_env *env, const ds__creader *r) {
    env = DS_ENV(env);
    ds_lexical lx;
    memset(&lx, 0, sizeof lx);
    lx.env = env;
    lx.cr = (ds__creader *)r;   /* borrowed; attach only reads */
    ds_status rc = ds__lx_attach(&lx);
    if (rc == DS_OK) {
        ds__analyzer *an = NULL;
        rc = ds__analyzer_create(env, &lx.meta.an, &an);
        if (rc == DS_ERR_INVALID) rc = DS_ERR_FORMAT;
        ds__analyzer_destroy(an);
    }
    if (rc == DS_OK) rc = check_ids(env, &lx);
    if (rc == DS_OK) rc = check_postings(&lx);
    if (rc == DS_OK) rc = check_stored(&lx);
    return rc;
}
