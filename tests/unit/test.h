/* test.h -- the unit-test framework: TEST(name) registers a test (the Makefile
** collects every TEST( line of tests/unit/t_*.c into test_list.h), typed
** assertions print both sides, SKIP() reports a test that cannot run here.
**
** Each test runs in a forked child with a timeout (libuv's runner), so a crash
** or hang fails that test, not the run. Tests reach internals through
** ds_internal.h and the module headers.
*/
#ifndef DS_TEST_H
#define DS_TEST_H

#include "densearch.h"
#include "ds_internal.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define TEST(name) void test_##name(void)

void ds_test_fail(const char *file, int line, const char *fmt, ...) DS_PRINTF(3, 4);
void ds_test_skip(const char *fmt, ...) DS_PRINTF(1, 2);
/* Path of a file under ../shared (DS_SHARED overrides the location), or NULL
** when the shared folder is absent. Returns a static buffer per call slot. */
const char *ds_test_shared(const char *rel);
/* Like ds_test_shared, but SKIPs the test with a message when it is absent. */
const char *ds_test_shared_or_skip(const char *rel);
/* A fresh empty directory for this test (removed at exit of the child). */
const char *ds_test_tmpdir(void);
/* n x dim floats uniform in [-1, 1), the same for a seed (caller frees). */
float *ds_test_rand_vecs(size_t n, size_t dim, uint64_t seed);

#define FAIL(...) ds_test_fail(__FILE__, __LINE__, __VA_ARGS__)
#define SKIP(...) ds_test_skip(__VA_ARGS__)

#define ASSERT(c) do { if (!(c)) FAIL("assertion failed: %s", #c); } while (0)
#define ASSERT_EQ_U64(a, b) do { uint64_t a_ = (uint64_t)(a), b_ = (uint64_t)(b); \
    if (a_ != b_) FAIL("%s == %s: %" PRIu64 " != %" PRIu64, #a, #b, a_, b_); } while (0)
#define ASSERT_EQ_I64(a, b) do { int64_t a_ = (int64_t)(a), b_ = (int64_t)(b); \
    if (a_ != b_) FAIL("%s == %s: %" PRId64 " != %" PRId64, #a, #b, a_, b_); } while (0)
#define ASSERT_NEAR_F32(a, b, tol) do { double a_ = (double)(a), b_ = (double)(b); \
    if (!(fabs(a_ - b_) <= (double)(tol))) FAIL("%s ~= %s: %.9g vs %.9g (tol %g)", #a, #b, a_, b_, (double)(tol)); } while (0)
#define ASSERT_STR_EQ(a, b) do { const char *a_ = (a), *b_ = (b); \
    if (strcmp(a_, b_) != 0) FAIL("%s == %s: \"%s\" != \"%s\"", #a, #b, a_, b_); } while (0)
#define ASSERT_OK(rc) do { ds_status r_ = (rc); \
    if (r_ != DS_OK) FAIL("%s: %s (%s)", #rc, ds_status_name(r_), ds_errmsg()); } while (0)
#define ASSERT_RC(rc, want) do { ds_status r_ = (rc), w_ = (want); \
    if (r_ != w_) FAIL("%s: got %s, want %s (%s)", #rc, ds_status_name(r_), ds_status_name(w_), ds_errmsg()); } while (0)

#endif /* DS_TEST_H */
