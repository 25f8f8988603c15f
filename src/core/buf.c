/* buf.c -- growable byte buffer with a sticky error, varints, checksums. */
#include "ds_internal.h"

#include <xxhash.h>

void ds__buf_init(ds__buf *b, ds_env *env) {
    memset(b, 0, sizeof *b);
    b->env = env;
}

void ds__buf_release(ds__buf *b) {
    ds__free(b->env, b->p, b->cap);
    b->p = NULL;
    b->len = b->cap = 0;
}

int ds__buf_reserve(ds__buf *b, size_t extra) {
    if (b->rc != DS_OK) return 0;
    size_t need;
    if (!ds__add_ok(b->len, extra, &need)) {
        b->rc = DS_ERR_RANGE;
        return 0;
    }
    if (need <= b->cap) return 1;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need) {
        if (cap > SIZE_MAX / 2) { cap = need; break; }
        cap *= 2;
    }
    uint8_t *p = ds__realloc(b->env, b->p, b->cap, cap);
    if (p == NULL) {
        b->rc = DS_ERR_NOMEM;
        return 0;
    }
    b->p = p;
    b->cap = cap;
    return 1;
}

void ds__buf_put(ds__buf *b, const void *p, size_t n) {
    if (n == 0 || !ds__buf_reserve(b, n)) return;
    memcpy(b->p + b->len, p, n);
    b->len += n;
}

void ds__buf_put_u8(ds__buf *b, uint8_t v) { ds__buf_put(b, &v, 1); }

void ds__buf_put_u16(ds__buf *b, uint16_t v) {
    uint8_t t[2];
    ds__store_u16le(t, v);
    ds__buf_put(b, t, 2);
}

void ds__buf_put_u32(ds__buf *b, uint32_t v) {
    uint8_t t[4];
    ds__store_u32le(t, v);
    ds__buf_put(b, t, 4);
}

void ds__buf_put_u64(ds__buf *b, uint64_t v) {
    uint8_t t[8];
    ds__store_u64le(t, v);
    ds__buf_put(b, t, 8);
}

void ds__buf_put_f32(ds__buf *b, float v) {
    uint8_t t[4];
    ds__store_f32le(t, v);
    ds__buf_put(b, t, 4);
}

size_t ds__varint_put(uint8_t *dst, uint64_t v) {
    size_t n = 0;
    while (v >= 0x80) {
        dst[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    dst[n++] = (uint8_t)v;
    return n;
}

void ds__buf_put_varint(ds__buf *b, uint64_t v) {
    uint8_t t[10];
    ds__buf_put(b, t, ds__varint_put(t, v));
}

void ds__buf_pad_to(ds__buf *b, size_t align) {
    static const uint8_t zeros[64];
    while (b->rc == DS_OK && b->len % align != 0) {
        size_t n = align - b->len % align;
        ds__buf_put(b, zeros, n > sizeof zeros ? sizeof zeros : n);
    }
}

int ds__take_varint(ds__reader *r, uint64_t *v) {
    uint64_t x = 0;
    for (unsigned shift = 0; shift < 70; shift += 7) {
        if (r->cur >= r->end) return 0;
        uint8_t byte = *r->cur++;
        if (shift == 63 && byte > 1) return 0;     /* would overflow 64 bits */
        x |= (uint64_t)(byte & 0x7f) << shift;
        if (!(byte & 0x80)) {
            *v = x;
            return 1;
        }
    }
    return 0;
}

uint64_t ds__hash64(const void *p, size_t n) { return XXH3_64bits(p, n); }
