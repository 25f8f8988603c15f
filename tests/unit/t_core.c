/* t_core.c -- tests of the core module: errors, buffers, varints, threads and
** the container format (round trip, truncation, bit flips, foreign files). */
#include "test.h"
#include "core/container.h"
#include "simd/simd.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

TEST(core_status_names) {
    ASSERT_STR_EQ(ds_status_name(DS_ERR_CORRUPT), "DS_ERR_CORRUPT");
    ASSERT_STR_EQ(ds_status_name(DS_OK), "DS_OK");
    ASSERT_RC(ds__fail(DS_ERR_RANGE, "x=%d", 7), DS_ERR_RANGE);
    ASSERT_STR_EQ(ds_errmsg(), "x=7");
    ASSERT_STR_EQ(ds_version_string(), "0.1.0");
}

TEST(core_varint_roundtrip) {
    static const uint64_t vals[] = { 0, 1, 127, 128, 300, 16383, 16384, UINT32_MAX, (uint64_t)1 << 62, UINT64_MAX };
    ds__buf b;
    ds__buf_init(&b, NULL);
    for (size_t i = 0; i < DS_ARRAY_LEN(vals); i++) ds__buf_put_varint(&b, vals[i]);
    ASSERT_OK(b.rc);
    ds__reader r = { b.p, b.p + b.len };
    for (size_t i = 0; i < DS_ARRAY_LEN(vals); i++) {
        uint64_t v;
        ASSERT(ds__take_varint(&r, &v));
        ASSERT_EQ_U64(v, vals[i]);
    }
    uint64_t v;
    ASSERT(!ds__take_varint(&r, &v));              /* end of input */
    static const uint8_t overlong[11] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01 };
    ds__reader r2 = { overlong, overlong + sizeof overlong };
    ASSERT(!ds__take_varint(&r2, &v));             /* > 64 bits */
    ds__buf_release(&b);
}

typedef struct { _Atomic unsigned long sum; unsigned char *seen; } pf_ctx;
static void pf_body(void *ctx, size_t b, size_t e, unsigned t) {
    pf_ctx *c = ctx;
    DS_UNUSED(t);
    for (size_t i = b; i < e; i++) { c->seen[i]++; c->sum += i; }
}

TEST(core_parallel_for_covers_every_item_once) {
    enum { N = 100003 };
    pf_ctx c;
    c.sum = 0;
    c.seen = calloc(N, 1);
    ASSERT_OK(ds__parallel_for(NULL, 4, N, 0, pf_body, &c));
    for (size_t i = 0; i < N; i++) ASSERT_EQ_U64(c.seen[i], 1);
    ASSERT_EQ_U64(c.sum, (unsigned long)N * (N - 1) / 2);
    free(c.seen);
}

static const char *write_sample(const char *name) {
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", ds_test_tmpdir(), name);
    ds__cwriter *w;
    ASSERT_OK(ds__cw_open(NULL, path, DS_FOURCC('T', 'E', 'S', 'T'), 1, 0, 0, &w));
    ASSERT_OK(ds__cw_section(w, DS_FOURCC('A', 'A', 'A', 'A'), DS_SECTION_REQUIRED, "hello", 5));
    ASSERT_OK(ds__cw_begin(w, DS_FOURCC('B', 'B', 'B', 'B'), 0));
    for (int i = 0; i < 1000; i++) ASSERT_OK(ds__cw_write(w, &i, sizeof i));
    ASSERT_EQ_U64(ds__cw_section_size(w), 4000);
    ASSERT_OK(ds__cw_end(w));
    ASSERT_OK(ds__cw_section(w, DS_FOURCC('E', 'M', 'P', 'T'), 0, NULL, 0));
    ASSERT_OK(ds__cw_commit(w));
    ASSERT(access(path, F_OK) == 0);
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    ASSERT(access(tmp, F_OK) != 0);
    return path;
}

static uint8_t *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    ASSERT(f != NULL);
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *p = malloc(*n);
    ASSERT(fread(p, 1, *n, f) == *n);
    fclose(f);
    return p;
}

TEST(core_container_roundtrip) {
    const char *path = write_sample("a.dsx");
    ds__creader *r;
    ASSERT_OK(ds__cr_open(NULL, path, DS_FOURCC('T', 'E', 'S', 'T'), DS_OPEN_VERIFY, &r));
    ASSERT_EQ_U64(r->n_sections, 3);
    ASSERT_EQ_U64(r->format_major, 1);
    const uint8_t *p;
    uint64_t len;
    ASSERT_OK(ds__cr_get(r, DS_FOURCC('A', 'A', 'A', 'A'), &p, &len));
    ASSERT_EQ_U64(len, 5);
    ASSERT(memcmp(p, "hello", 5) == 0);
    ASSERT_OK(ds__cr_get(r, DS_FOURCC('B', 'B', 'B', 'B'), &p, &len));
    ASSERT_EQ_U64(len, 4000);
    ASSERT_EQ_U64((uintptr_t)p % 64, 0);
    int v;
    memcpy(&v, p + 4 * 999, 4);
    ASSERT_EQ_U64(v, 999);
    ASSERT_RC(ds__cr_get(r, DS_FOURCC('N', 'O', 'P', 'E'), &p, &len), DS_ERR_CORRUPT);
    uint32_t known[] = { DS_FOURCC('A', 'A', 'A', 'A') };
    ASSERT_OK(ds__cr_check_known(r, known, 1));
    uint32_t other[] = { DS_FOURCC('B', 'B', 'B', 'B') };
    ASSERT_RC(ds__cr_check_known(r, other, 1), DS_ERR_FORMAT);
    ds__cr_close(r);
    ASSERT_RC(ds__cr_open(NULL, path, DS_FOURCC('L', 'E', 'X', 'I'), 0, &r), DS_ERR_FORMAT);
    uint32_t kind;
    ASSERT_OK(ds__file_kind(path, &kind));
    ASSERT_EQ_U64(kind, DS_FOURCC('T', 'E', 'S', 'T'));
}

TEST(core_container_rejects_every_truncation) {
    const char *path = write_sample("b.dsx");
    size_t n;
    uint8_t *img = slurp(path, &n);
    for (size_t len = 0; len < n; len++) {
        ds__creader *r = NULL;
        uint8_t *cut = malloc(len ? len : 1);
        memcpy(cut, img, len);
        ds_status rc = ds__cr_open_mem(NULL, cut, len, 0, DS_OPEN_VERIFY, &r);
        if (rc == DS_OK) FAIL("truncation to %zu bytes was accepted", len);
        ASSERT(rc == DS_ERR_CORRUPT || rc == DS_ERR_FORMAT);
        free(cut);
    }
    free(img);
}

TEST(core_container_rejects_every_bit_flip) {
    const char *path = write_sample("c.dsx");
    size_t n;
    uint8_t *img = slurp(path, &n);
    for (size_t i = 0; i < n; i++) {
        for (int bit = 0; bit < 8; bit += 3) {
            img[i] ^= (uint8_t)(1u << bit);
            ds__creader *r = NULL;
            ds_status rc = ds__cr_open_mem(NULL, img, n, 0, DS_OPEN_VERIFY, &r);
            /* Padding bytes between sections are covered by no checksum; a
            ** flip there is harmless and may be accepted. */
            if (rc == DS_OK) {
                int in_section = 0;
                for (uint32_t s = 0; s < r->n_sections; s++)
                    if (i >= r->sections[s].offset && i < r->sections[s].offset + r->sections[s].length) in_section = 1;
                ASSERT(!in_section && i >= DS_CONTAINER_HEADER_SIZE);
                ds__cr_close(r);
            } else {
                ASSERT(rc == DS_ERR_CORRUPT || rc == DS_ERR_FORMAT);
            }
            img[i] ^= (uint8_t)(1u << bit);
        }
    }
    free(img);
}

TEST(core_container_foreign_files) {
    char path[512];
    snprintf(path, sizeof path, "%s/foreign", ds_test_tmpdir());
    FILE *f = fopen(path, "wb");
    fputs("{\"this is\": \"json, not an index\"}\n", f);
    for (int i = 0; i < 100; i++) fputs("padding padding padding\n", f);
    fclose(f);
    ds__creader *r;
    ASSERT_RC(ds__cr_open(NULL, path, 0, 0, &r), DS_ERR_FORMAT);
    ASSERT(strstr(ds_errmsg(), "not a densearch file") != NULL);
    snprintf(path, sizeof path, "%s/missing", ds_test_tmpdir());
    ASSERT_RC(ds__cr_open(NULL, path, 0, 0, &r), DS_ERR_IO);
    /* A file of the other byte order is recognised as such. */
    const char *good = write_sample("d.dsx");
    size_t n;
    uint8_t *img = slurp(good, &n);
    ds__store_u32le(img + 8, 0x04030201u);
    ASSERT_RC(ds__cr_open_mem(NULL, img, n, 0, 0, &r), DS_ERR_FORMAT);
    ASSERT(strstr(ds_errmsg(), "byte order") != NULL);
    free(img);
}

static ds_status write_with_env(ds_env *env, const char *path) {
    ds__cwriter *w;
    ds_status rc = ds__cw_open(env, path, DS_FOURCC('T', 'E', 'S', 'T'), 1, 0, 0, &w);
    if (rc != DS_OK) return rc;
    for (int i = 0; i < 40; i++) ds__cw_section(w, DS_FOURCC('S', 'E', 'C', (char)('0' + i % 10)), 0, "x", 1);
    return ds__cw_commit(w);
}

TEST(core_container_oom_sweep) {
    char path[512];
    snprintf(path, sizeof path, "%s/oom.dsx", ds_test_tmpdir());
    ds_env *env;
    ASSERT_OK(ds_env_create(NULL, &env));
    for (uint64_t n = 1;; n++) {
        env->n_allocs = 0;
        env->fail_at = n;
        ds_status rc = write_with_env(env, path);
        if (rc == DS_OK) break;
        ASSERT_RC(rc, DS_ERR_NOMEM);
        ASSERT(access(path, F_OK) != 0);      /* nothing half-written is visible */
        ASSERT(n < 1000);
    }
    env->fail_at = 0;
    ds_env_destroy(env);
}

TEST(core_env_simd_override) {
    ds_env_opts o;
    ds_env_opts_init(&o);
    o.simd = "scalar";
    ds_env *env;
    unsetenv("DS_SIMD");
    ASSERT_OK(ds_env_create(&o, &env));
    ASSERT_STR_EQ(ds_env_simd_name(env), "scalar");
    ds_env_destroy(env);
    o.simd = "no-such-isa";
    ASSERT_RC(ds_env_create(&o, &env), DS_ERR_UNSUPPORTED);
}

TEST(core_kernels_match_scalar) {
    const ds__kernels *ref = ds__kernels_scalar();
    const ds__kernels *vars[] = { ds__kernels_avx2(), ds__kernels_avx512() };
    static const size_t lens[] = { 0, 1, 3, 15, 16, 17, 63, 64, 65, 767, 768, 1024 };
    float *a = malloc(sizeof(float) * 1040), *b = malloc(sizeof(float) * 1040);
    for (int i = 0; i < 1040; i++) { a[i] = (float)((i * 37) % 101) / 50.0f - 1.0f; b[i] = (float)((i * 53) % 97) / 40.0f - 1.2f; }
    for (size_t v = 0; v < DS_ARRAY_LEN(vars); v++) {
        if (vars[v] == NULL) continue;
        for (size_t l = 0; l < DS_ARRAY_LEN(lens); l++) {
            size_t n = lens[l];
            float tol = 1e-5f * (float)(n + 1) * 4;
            ASSERT_NEAR_F32(vars[v]->dot_f32(a + 1, b + 3, n), ref->dot_f32(a + 1, b + 3, n), tol);
            ASSERT_NEAR_F32(vars[v]->l2sq_f32(a + 1, b + 3, n), ref->l2sq_f32(a + 1, b + 3, n), tol);
        }
    }
    free(a);
    free(b);
}
