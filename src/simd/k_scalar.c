/* k_scalar.c -- the plain C reference for every kernel; the ground truth in tests.
**
** Every SIMD kernel in k_x86_*.c must agree with these: exactly for the
** integer kernels and the f16 conversions, within a stated relative tolerance
** for float sums (which are reassociated by vectorisation). */
#include "simd/simd.h"

#include <string.h>

static float dot_f32(const float *a, const float *b, size_t n) {
    float s = 0.0f;
    for (size_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

static float l2sq_f32(const float *a, const float *b, size_t n) {
    float s = 0.0f;
    for (size_t i = 0; i < n; i++) {
        float d = a[i] - b[i];
        s += d * d;
    }
    return s;
}

/* binary16: 1 sign, 5 exponent (bias 15), 10 mantissa bits. */
float ds__f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
    if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else {                       /* subnormal: normalise */
            int e = -1;
            do { e++; man <<= 1; } while ((man & 0x400) == 0);
            bits = sign | ((uint32_t)(127 - 15 - e) << 23) | ((man & 0x3ff) << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (man << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

/* Round to nearest, ties to even, like vcvtps2ph with imm 0. */
uint16_t ds__f32_to_f16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000;
    uint32_t exp = (x >> 23) & 0xff, man = x & 0x7fffff;
    if (exp == 0xff) return (uint16_t)(sign | 0x7c00 | (man ? 0x200 | (man >> 13) : 0));
    int e = (int)exp - 127 + 15;
    if (e >= 31) return (uint16_t)(sign | 0x7c00);                 /* overflow: inf */
    if (e <= 0) {                                                  /* subnormal or zero */
        if (e < -10) return (uint16_t)sign;
        man |= 0x800000;
        uint32_t shift = (uint32_t)(14 - e);
        uint32_t h = man >> shift, rem = man & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (h & 1))) h++;
        return (uint16_t)(sign | h);
    }
    uint32_t h = ((uint32_t)e << 10) | (man >> 13), rem = man & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (h & 1))) h++;           /* may carry into inf: correct */
    return (uint16_t)(sign | h);
}

static float dot_f16(const float *q, const uint16_t *x, size_t n) {
    float s = 0.0f;
    for (size_t i = 0; i < n; i++) s += q[i] * ds__f16_to_f32(x[i]);
    return s;
}

static float l2sq_f16(const float *q, const uint16_t *x, size_t n) {
    float s = 0.0f;
    for (size_t i = 0; i < n; i++) {
        float d = q[i] - ds__f16_to_f32(x[i]);
        s += d * d;
    }
    return s;
}

static void f16_to_f32(const uint16_t *x, float *out, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] = ds__f16_to_f32(x[i]);
}

static void f32_to_f16(const float *x, uint16_t *out, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] = ds__f32_to_f16(x[i]);
}

static int32_t dot_i8(const int8_t *a, const int8_t *b, size_t n) {
    int32_t s = 0;
    for (size_t i = 0; i < n; i++) s += (int32_t)a[i] * b[i];
    return s;
}

static int32_t l2sq_i8(const int8_t *a, const int8_t *b, size_t n) {
    int32_t s = 0;
    for (size_t i = 0; i < n; i++) {
        int32_t d = (int32_t)a[i] - b[i];
        s += d * d;
    }
    return s;
}

static void dot_f32_rows(const float *q, const float *rows, size_t stride, size_t n_rows, size_t dim, float *out) {
    for (size_t r = 0; r < n_rows; r++) out[r] = dot_f32(q, rows + r * stride, dim);
}

static void dot_f32_ptrs(const float *q, const float *const *rows, size_t n_rows, size_t dim, float *out) {
    for (size_t r = 0; r < n_rows; r++) out[r] = dot_f32(q, rows[r], dim);
}

static const ds__kernels table = {
    .name = "scalar",
    .level = 0,
    .dot_f32 = dot_f32,
    .l2sq_f32 = l2sq_f32,
    .dot_f16 = dot_f16,
    .l2sq_f16 = l2sq_f16,
    .f16_to_f32 = f16_to_f32,
    .f32_to_f16 = f32_to_f16,
    .dot_i8 = dot_i8,
    .l2sq_i8 = l2sq_i8,
    .dot_f32_rows = dot_f32_rows,
    .dot_f32_ptrs = dot_f32_ptrs,
};

const ds__kernels *ds__kernels_scalar(void) { return &table; }
