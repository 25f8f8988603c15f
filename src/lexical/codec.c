/* codec.c -- the postings block codec and the LXMT decoder
** (docs/format.md §2.2, §2.3).
**
** Blocks are bit-packed with one width per block for gaps and one for tf-1:
** decoding is branch-light shifts and masks, and 128-posting blocks keep the
** per-block skip/max entries that dynamic pruning needs. The decoder treats
** its input as hostile: widths > 32 and length mismatches are rejected, and
** it never reads outside p[0..len).
**
** Thread: pure functions.
*/
#include "lexical/lexical.h"

static unsigned bits_for(uint32_t v) {
    return v == 0 ? 0u : 32u - (unsigned)__builtin_clz(v);
}

static size_t pack(uint8_t *out, const uint32_t *v, size_t n, unsigned w) {
    size_t bytes = (n * w + 7) / 8;
    memset(out, 0, bytes);
    if (w == 0) return 0;
    uint64_t acc = 0;
    unsigned have = 0;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        acc |= (uint64_t)v[i] << have;
        have += w;
        while (have >= 8) {
            out[o++] = (uint8_t)acc;
            acc >>= 8;
            have -= 8;
        }
    }
    if (have > 0) out[o++] = (uint8_t)acc;
    DS_ASSERT(o == bytes);
    return bytes;
}

/* Unpacks n values of width w from p (exactly ceil(n*w/8) bytes available). */
static void unpack(const uint8_t *p, size_t bytes, uint32_t *v, size_t n, unsigned w) {
    if (w == 0) {
        memset(v, 0, n * sizeof *v);
        return;
    }
    const uint64_t mask = (w == 32) ? 0xffffffffull : ((1ull << w) - 1);
    uint64_t acc = 0;
    unsigned have = 0;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        while (have < w) {
            /* fast refill: 4 bytes at once when they exist */
            if (o + 4 <= bytes && have <= 32) {
                acc |= (uint64_t)ds__load_u32le(p + o) << have;
                o += 4;
                have += 32;
            } else {
                acc |= (uint64_t)(o < bytes ? p[o] : 0) << have;
                o++;
                have += 8;
            }
        }
        v[i] = (uint32_t)(acc & mask);
        acc >>= w;
        have -= w;
    }
}

size_t ds__lx_block_encode(uint8_t *out, const uint32_t *docs, const uint32_t *tfs, size_t n, int64_t prev) {
    uint32_t gaps[DS__LX_BLOCK], tf1[DS__LX_BLOCK];
    uint32_t gmax = 0, tmax = 0;
    DS_ASSERT(n >= 1 && n <= DS__LX_BLOCK);
    for (size_t i = 0; i < n; i++) {
        gaps[i] = (uint32_t)((int64_t)docs[i] - prev - 1);
        prev = docs[i];
        tf1[i] = tfs[i] - 1;
        gmax |= gaps[i];
        tmax |= tf1[i];
    }
    unsigned gw = bits_for(gmax), tw = bits_for(tmax);
    out[0] = (uint8_t)gw;
    out[1] = (uint8_t)tw;
    size_t o = 2;
    o += pack(out + o, gaps, n, gw);
    o += pack(out + o, tf1, n, tw);
    return o;
}

/* Fast unpack when 8 bytes past the packed data are readable: each value is
** one unaligned 64-bit load and a shift (w <= 32 and a shift <= 7 always fit
** in 64 bits), with no data-dependent branches; the loop over a constant
** width is unrolled by the compiler through the switch below. */
static inline void unpack_w(const uint8_t *p, uint32_t *v, size_t n, unsigned w) {
    const uint64_t mask = (w == 32) ? 0xffffffffull : ((1ull << w) - 1);
    size_t bit = 0;
    for (size_t i = 0; i < n; i++, bit += w) {
        uint64_t x;
        memcpy(&x, p + (bit >> 3), 8);   /* little-endian hosts; see ds__load_u64le for others */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
        x = __builtin_bswap64(x);
#endif
        v[i] = (uint32_t)((x >> (bit & 7)) & mask);
    }
}

static void unpack_fast(const uint8_t *p, uint32_t *v, size_t n, unsigned w) {
    if (n == DS__LX_BLOCK) {
        switch (w) {   /* constant widths for the common full block */
#define W(k) case k: unpack_w(p, v, DS__LX_BLOCK, k); return;
        W(1) W(2) W(3) W(4) W(5) W(6) W(7) W(8) W(9) W(10) W(11) W(12) W(13) W(14) W(15) W(16)
        W(17) W(18) W(19) W(20) W(21) W(22) W(23) W(24)
#undef W
        default: break;
        }
    }
    if (w == 0) { memset(v, 0, n * sizeof *v); return; }
    unpack_w(p, v, n, w);
}

int ds__lx_block_decode(const uint8_t *p, size_t len, size_t avail, size_t n, int64_t prev, uint32_t *docs,
                        uint32_t *tfs) {
    if (len < 2 || n == 0 || n > DS__LX_BLOCK || avail < len) return 0;
    unsigned gw = p[0], tw = p[1];
    if (gw > 32 || tw > 32) return 0;
    size_t gb = (n * gw + 7) / 8, tb = (n * tw + 7) / 8;
    if (len != 2 + gb + tb) return 0;
    if (avail >= len + 8) {
        unpack_fast(p + 2, docs, n, gw);
        unpack_fast(p + 2 + gb, tfs, n, tw);
    } else {
        unpack(p + 2, gb, docs, n, gw);
        unpack(p + 2 + gb, tb, tfs, n, tw);
    }
    uint64_t d = (uint64_t)(prev + 1);
    for (size_t i = 0; i < n; i++) {
        d += docs[i];
        if (d >= UINT32_MAX) return 0;
        docs[i] = (uint32_t)d;
        d++;
        if (tfs[i] == UINT32_MAX) return 0;
        tfs[i] += 1;
    }
    return 1;
}

ds_status ds__lx_meta_read(const uint8_t *p, uint64_t len, ds__lx_meta *m) {
    memset(m, 0, sizeof *m);
    if (len != DS__LX_META_SIZE) return ds__fail(DS_ERR_CORRUPT, "LXMT: %llu bytes, expected %u", (unsigned long long)len, DS__LX_META_SIZE);
    m->n_docs = ds__load_u32le(p);
    m->n_terms = ds__load_u32le(p + 4);
    m->n_tokens = ds__load_u64le(p + 8);
    m->n_postings = ds__load_u64le(p + 16);
    m->k1 = ds__load_f32le(p + 24);
    m->b = ds__load_f32le(p + 28);
    m->block_size = ds__load_u32le(p + 32);
    m->stored_chunk = ds__load_u32le(p + 36);
    m->an.version = ds__load_u32le(p + 40);
    m->an.flags = ds__load_u32le(p + 44);
    memcpy(m->an.stemmer, p + 48, 32);
    m->n_blocks = ds__load_u64le(p + 80);
    m->max_chunk_raw = ds__load_u32le(p + 88);
    if (m->n_docs == UINT32_MAX) return ds__fail(DS_ERR_CORRUPT, "LXMT: n_docs out of range");
    if (!(m->k1 >= 0.0f && m->k1 < 1e6f) || !(m->b >= 0.0f && m->b <= 1.0f))
        return ds__fail(DS_ERR_CORRUPT, "LXMT: bad BM25 parameters k1=%g b=%g", (double)m->k1, (double)m->b);
    if (m->block_size != DS__LX_BLOCK) return ds__fail(DS_ERR_FORMAT, "LXMT: block size %u not supported", m->block_size);
    if (m->an.version != DS__AN_VERSION) return ds__fail(DS_ERR_FORMAT, "LXMT: analyzer version %u not supported", m->an.version);
    if (m->an.flags & ~(uint32_t)(DS__AN_STOPWORDS | DS__AN_POSSESSIVE)) return ds__fail(DS_ERR_FORMAT, "LXMT: unknown analyzer flags 0x%x", m->an.flags);
    if (memchr(m->an.stemmer, '\0', sizeof m->an.stemmer) == NULL) return ds__fail(DS_ERR_CORRUPT, "LXMT: stemmer name not terminated");
    m->n_chunks = ds__load_u32le(p + 92);
    if (m->max_chunk_raw > DS__LX_MAX_CHUNK_RAW)
        return ds__fail(DS_ERR_CORRUPT, "LXMT: max_chunk_raw %u exceeds the format limit %u", m->max_chunk_raw, DS__LX_MAX_CHUNK_RAW);
    if (m->stored_chunk == 0 ? m->n_chunks != 0 : (m->n_chunks == 0 || m->n_chunks > m->n_docs))
        return ds__fail(DS_ERR_CORRUPT, "LXMT: %u stored-text chunks for %u documents", m->n_chunks, m->n_docs);
    if (m->n_postings < m->n_terms || m->n_blocks < m->n_terms || m->n_blocks > m->n_postings)
        return ds__fail(DS_ERR_CORRUPT, "LXMT: inconsistent counts (terms %u, postings %llu, blocks %llu)", m->n_terms,
                        (unsigned long long)m->n_postings, (unsigned long long)m->n_blocks);
    if (m->n_docs == 0 && (m->n_terms != 0 || m->n_tokens != 0)) return ds__fail(DS_ERR_CORRUPT, "LXMT: terms without documents");
    if (m->n_postings > m->n_tokens) return ds__fail(DS_ERR_CORRUPT, "LXMT: more postings than tokens");
    return DS_OK;
}
