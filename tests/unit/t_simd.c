/* t_simd.c -- every SIMD kernel against its scalar twin (k_scalar.c) on the
** awkward lengths and unaligned pointers of the house test contract. Integer
** kernels and f16 conversions must match exactly; float sums within a
** relative tolerance (vectorisation reassociates the additions). */
#include "test.h"
#include "simd/simd.h"

#include <math.h>

static const size_t lens[] = { 0, 1, 3, 15, 16, 17, 63, 64, 65, 767, 768, 1024 };

static uint64_t rng(uint64_t *s) {
    *s ^= *s << 13; *s ^= *s >> 7; *s ^= *s << 17;
    return *s;
}

static float tol_for(size_t n, float mag) { return 1e-5f * (float)(n + 1) * mag + 1e-6f; }

TEST(simd_f16_conversion_exact) {
    const ds__kernels *ref = ds__kernels_scalar();
    /* Every half round-trips through f32 exactly (NaNs keep being NaN). */
    for (uint32_t h = 0; h < 65536; h++) {
        float f = ds__f16_to_f32((uint16_t)h);
        if (isnan(f)) { ASSERT(((h >> 10) & 0x1f) == 0x1f && (h & 0x3ff)); continue; }
        ASSERT_EQ_U64(ds__f32_to_f16(f), h);
    }
    ASSERT_NEAR_F32(ds__f16_to_f32(ds__f32_to_f16(1.0f / 3.0f)), 0.33325195f, 0);
    ASSERT_EQ_U64(ds__f32_to_f16(65520.0f), 0x7c00);           /* rounds to inf */
    ASSERT_EQ_U64(ds__f32_to_f16(1e-9f), 0);
    const ds__kernels *vars[] = { ds__kernels_avx2(), ds__kernels_avx512() };
    enum { N = 1100 };
    float *x = malloc(sizeof(float) * N), *y = malloc(sizeof(float) * N), *z = malloc(sizeof(float) * N);
    uint16_t *h1 = malloc(2 * N), *h2 = malloc(2 * N);
    uint64_t s = 7;
    for (int i = 0; i < N; i++) {
        uint32_t bits = (uint32_t)rng(&s);
        float f;
        memcpy(&f, &bits, 4);
        /* Mix random bit patterns (subnormals, overflow) with ordinary values. */
        x[i] = (i % 3 == 0 && isfinite(f)) ? f : (float)((double)(rng(&s) >> 11) / 9007199254740992.0 * 200.0 - 100.0) * (i % 5 == 0 ? 1e-6f : 1.0f);
    }
    for (size_t v = 0; v < DS_ARRAY_LEN(vars); v++) {
        if (vars[v] == NULL) continue;
        for (size_t l = 0; l < DS_ARRAY_LEN(lens); l++) {
            size_t n = lens[l];
            memset(h1, 0, 2 * N); memset(h2, 0, 2 * N);
            ref->f32_to_f16(x + 1, h1 + 3, n);
            vars[v]->f32_to_f16(x + 1, h2 + 3, n);
            ASSERT(memcmp(h1, h2, 2 * N) == 0);                 /* also: nothing written past n */
            memset(y, 0, sizeof(float) * N); memset(z, 0, sizeof(float) * N);
            ref->f16_to_f32(h1 + 3, y + 1, n);
            vars[v]->f16_to_f32(h1 + 3, z + 1, n);
            ASSERT(memcmp(y, z, sizeof(float) * N) == 0);
        }
    }
    free(x); free(y); free(z); free(h1); free(h2);
}

TEST(simd_kernels_match_scalar_all_types) {
    const ds__kernels *ref = ds__kernels_scalar();
    const ds__kernels *vars[] = { ds__kernels_avx2(), ds__kernels_avx512() };
    enum { N = 1100 };
    float *a = malloc(sizeof(float) * N), *b = malloc(sizeof(float) * N);
    uint16_t *h = malloc(2 * N);
    int8_t *i8a = malloc(N), *i8b = malloc(N);
    uint64_t s = 99;
    for (int i = 0; i < N; i++) {
        a[i] = (float)((double)(rng(&s) >> 11) / 9007199254740992.0 * 2.0 - 1.0);
        b[i] = (float)((double)(rng(&s) >> 11) / 9007199254740992.0 * 2.0 - 1.0);
        i8a[i] = (int8_t)(rng(&s) & 0xff);
        i8b[i] = (int8_t)(rng(&s) & 0xff);
    }
    i8a[5] = -128; i8b[5] = -128; i8a[6] = 127; i8b[6] = -128;    /* extremes */
    ref->f32_to_f16(b, h, N);
    for (size_t v = 0; v < DS_ARRAY_LEN(vars); v++) {
        if (vars[v] == NULL) continue;
        const ds__kernels *k = vars[v];
        for (size_t l = 0; l < DS_ARRAY_LEN(lens); l++) {
            size_t n = lens[l];
            for (int off = 0; off < 3; off++) {
                const float *pa = a + off, *pb = b + 2 * off + 1;
                ASSERT_NEAR_F32(k->dot_f32(pa, pb, n), ref->dot_f32(pa, pb, n), tol_for(n, 1));
                ASSERT_NEAR_F32(k->l2sq_f32(pa, pb, n), ref->l2sq_f32(pa, pb, n), tol_for(n, 4));
                ASSERT_NEAR_F32(k->dot_f16(pa, h + off + 1, n), ref->dot_f16(pa, h + off + 1, n), tol_for(n, 1));
                ASSERT_NEAR_F32(k->l2sq_f16(pa, h + off + 1, n), ref->l2sq_f16(pa, h + off + 1, n), tol_for(n, 4));
                ASSERT_EQ_U64((uint64_t)(int64_t)k->dot_i8(i8a + off, i8b + off + 1, n), (uint64_t)(int64_t)ref->dot_i8(i8a + off, i8b + off + 1, n));
                ASSERT_EQ_U64((uint64_t)(int64_t)k->l2sq_i8(i8a + off, i8b + off + 1, n), (uint64_t)(int64_t)ref->l2sq_i8(i8a + off, i8b + off + 1, n));
                if (k == ds__kernels_avx512())
                    ASSERT_EQ_U64((uint64_t)(int64_t)ds__dot_i8_avx512_novnni(i8a + off, i8b + off + 1, n),
                                  (uint64_t)(int64_t)ref->dot_i8(i8a + off, i8b + off + 1, n));
            }
        }
        /* One query against many rows: row counts around the 4-row blocking. */
        for (size_t rows = 0; rows < 11; rows++) {
            size_t dim = 17 + rows * 7, stride = dim + 3;
            if (rows * stride + dim > N) break;
            float out[16], want[16];
            k->dot_f32_rows(a + 1, b + 1, stride, rows, dim, out);
            ref->dot_f32_rows(a + 1, b + 1, stride, rows, dim, want);
            for (size_t r = 0; r < rows; r++) ASSERT_NEAR_F32(out[r], want[r], tol_for(dim, 1));
            const float *ptrs[16];
            for (size_t r = 0; r < rows; r++) ptrs[r] = b + 1 + ((r * 7) % (rows ? rows : 1)) * stride;
            k->dot_f32_ptrs(a + 1, ptrs, rows, dim, out);
            ref->dot_f32_ptrs(a + 1, ptrs, rows, dim, want);
            for (size_t r = 0; r < rows; r++) ASSERT_NEAR_F32(out[r], want[r], tol_for(dim, 1));
        }
    }
    /* All int8 extremes: 1024 x (-128 * -128) is the largest product sum. */
    memset(i8a, 0x80, N); memset(i8b, 0x80, N);
    for (size_t v = 0; v < DS_ARRAY_LEN(vars); v++)
        if (vars[v]) ASSERT_EQ_U64((uint64_t)vars[v]->dot_i8(i8a, i8b, 1024), 1024u * 16384u);
    free(a); free(b); free(h); free(i8a); free(i8b);
}
