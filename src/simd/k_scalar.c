/* k_scalar.c -- the plain C reference for every kernel; the ground truth in tests. */
#include "simd/simd.h"

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

static const ds__kernels table = {
    .name = "scalar",
    .level = 0,
    .dot_f32 = dot_f32,
    .l2sq_f32 = l2sq_f32,
};

const ds__kernels *ds__kernels_scalar(void) { return &table; }
