/* cpu.c -- CPU feature detection (cpuid + xgetbv) and kernel-table choice. */
#include "simd/simd.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#  include <cpuid.h>
#  define DS_X86 1
#endif

static unsigned features;
static char model[64] = "unknown";
static pthread_once_t once = PTHREAD_ONCE_INIT;

#ifdef DS_X86
static uint64_t xgetbv0(void) {
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}
#endif

static void detect(void) {
#ifdef DS_X86
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return;
    int osxsave = (c >> 27) & 1;
    uint64_t xcr0 = osxsave ? xgetbv0() : 0;
    int ymm_ok = (xcr0 & 0x6) == 0x6;                 /* SSE + AVX state */
    int zmm_ok = ymm_ok && (xcr0 & 0xe0) == 0xe0;     /* opmask + ZMM state */
    unsigned f = 0;
    if (c & (1u << 23)) f |= DS_CPU_POPCNT;
    if (ymm_ok && (c & (1u << 12))) f |= DS_CPU_FMA;
    if (ymm_ok && (c & (1u << 29))) f |= DS_CPU_F16C;
    if (__get_cpuid_count(7, 0, &a, &b, &c, &d)) {
        if (ymm_ok && (b & (1u << 5))) f |= DS_CPU_AVX2;
        if (zmm_ok) {
            if (b & (1u << 16)) f |= DS_CPU_AVX512F;
            if (b & (1u << 17)) f |= DS_CPU_AVX512DQ;
            if (b & (1u << 30)) f |= DS_CPU_AVX512BW;
            if (b & (1u << 31)) f |= DS_CPU_AVX512VL;
            if (c & (1u << 11)) f |= DS_CPU_AVX512VNNI;
            if (c & (1u << 14)) f |= DS_CPU_AVX512VPOPCNTDQ;
        }
        if (zmm_ok && __get_cpuid_count(7, 1, &a, &b, &c, &d) && (a & (1u << 5)))
            f |= DS_CPU_AVX512BF16;
    }
    features = f;
    unsigned regs[12];
    if (__get_cpuid(0x80000000, &a, &b, &c, &d) && a >= 0x80000004) {
        for (unsigned i = 0; i < 3; i++)
            __get_cpuid(0x80000002 + i, &regs[4 * i], &regs[4 * i + 1], &regs[4 * i + 2], &regs[4 * i + 3]);
        char raw[49];
        memcpy(raw, regs, 48);
        raw[48] = '\0';
        const char *s = raw;
        while (*s == ' ') s++;
        snprintf(model, sizeof model, "%s", s);
    }
#endif
}

unsigned ds__cpu_features(void) {
    pthread_once(&once, detect);
    return features;
}

const char *ds__cpu_model(void) {
    pthread_once(&once, detect);
    return model;
}

const ds__kernels *ds__kernels_select(const char *want) {
    if (want == NULL || want[0] == '\0' || strcmp(want, "auto") == 0) {
        const ds__kernels *k = ds__kernels_avx512();
        if (k == NULL) k = ds__kernels_avx2();
        return k ? k : ds__kernels_scalar();
    }
    if (strcmp(want, "scalar") == 0) return ds__kernels_scalar();
    if (strcmp(want, "avx2") == 0) return ds__kernels_avx2();
    if (strcmp(want, "avx512") == 0) return ds__kernels_avx512();
    return NULL;
}
