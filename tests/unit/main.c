/* main.c -- the unit-test runner.
**
** Usage: test_unit [--nofork] [--list] [SUBSTRING...]
** Runs every registered test whose name contains one of the substrings (all
** when none given), each in a forked child with a 300 s timeout unless
** --nofork. Prints one line per test and the summary "N passed, N failed,
** N skipped"; exits non-zero if any test failed.
*/
#include "test.h"

#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define X(name) void test_##name(void);
#include "test_list.h"
#undef X

typedef struct { const char *name; void (*fn)(void); } test_entry;
static const test_entry tests[] = {
#define X(name) { #name, test_##name },
#include "test_list.h"
#undef X
};

enum { EXIT_SKIP = 77 };
static char tmpdir[256];

void ds_test_fail(const char *file, int line, const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "    %s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(stderr);
    exit(1);
}

void ds_test_skip(const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "    skip: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(stderr);
    exit(EXIT_SKIP);
}

const char *ds_test_shared(const char *rel) {
    static _Thread_local char bufs[8][4096];
    static _Thread_local unsigned slot;
    char *b = bufs[slot++ % 8];
    const char *root = getenv("DS_SHARED");
    if (root == NULL || !*root) root = "../shared";
    snprintf(b, 4096, "%s/%s", root, rel);
    return access(b, R_OK) == 0 ? b : NULL;
}

const char *ds_test_shared_or_skip(const char *rel) {
    const char *p = ds_test_shared(rel);
    if (p == NULL) SKIP("../shared/%s is absent (set DS_SHARED to its folder)", rel);
    return p;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    DS_UNUSED(sb); DS_UNUSED(flag); DS_UNUSED(ftw);
    return remove(path);
}

static void rm_tmpdir(void) {
    if (tmpdir[0]) nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

const char *ds_test_tmpdir(void) {
    if (!tmpdir[0]) {
        const char *base = getenv("TMPDIR");
        snprintf(tmpdir, sizeof tmpdir, "%s/ds_test_XXXXXX", base && *base ? base : "/tmp");
        if (mkdtemp(tmpdir) == NULL) FAIL("mkdtemp: %s", strerror(errno));
        atexit(rm_tmpdir);
    }
    return tmpdir;
}

static int selected(const char *name, int argc, char **argv, int first) {
    if (first >= argc) return 1;
    for (int i = first; i < argc; i++)
        if (strstr(name, argv[i]) != NULL) return 1;
    return 0;
}

int main(int argc, char **argv) {
    int fork_each = 1, first = 1;
    for (; first < argc && argv[first][0] == '-'; first++) {
        if (strcmp(argv[first], "--nofork") == 0) fork_each = 0;
        else if (strcmp(argv[first], "--list") == 0) {
            for (size_t i = 0; i < DS_ARRAY_LEN(tests); i++) printf("%s\n", tests[i].name);
            return 0;
        } else {
            fprintf(stderr, "usage: %s [--nofork] [--list] [SUBSTRING...]\n", argv[0]);
            return 2;
        }
    }
    unsigned passed = 0, failed = 0, skipped = 0;
    for (size_t i = 0; i < DS_ARRAY_LEN(tests); i++) {
        if (!selected(tests[i].name, argc, argv, first)) continue;
        double t0 = ds__now();
        int status = 0;
        if (fork_each) {
            fflush(stdout);
            pid_t pid = fork();
            if (pid == 0) {
                alarm(300);
                tests[i].fn();
                exit(0);
            }
            if (pid < 0 || waitpid(pid, &status, 0) < 0) status = 1 << 8;
        } else {
            tests[i].fn();
        }
        double ms = (ds__now() - t0) * 1e3;
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
            printf("ok    %-48s %8.1f ms\n", tests[i].name, ms);
            passed++;
        } else if (WIFEXITED(status) && WEXITSTATUS(status) == EXIT_SKIP) {
            printf("skip  %s\n", tests[i].name);
            skipped++;
        } else {
            if (WIFSIGNALED(status))
                printf("FAIL  %s (signal %d%s)\n", tests[i].name, WTERMSIG(status),
                       WTERMSIG(status) == SIGALRM ? ": timeout" : "");
            else
                printf("FAIL  %s\n", tests[i].name);
            failed++;
        }
        fflush(stdout);
    }
    printf("unit: %u passed, %u failed, %u skipped\n", passed, failed, skipped);
    return failed ? 1 : 0;
}

float *ds_test_rand_vecs(size_t n, size_t dim, uint64_t seed) {
    float *x = malloc(sizeof(float) * n * dim);
    uint64_t s = seed * 0x9E3779B97F4A7C15ULL + 1;
    for (size_t i = 0; i < n * dim; i++) {
        s ^= s << 13; s ^= s >> 7; s ^= s << 17;
        x[i] = (float)((double)(s >> 11) / 9007199254740992.0 * 2.0 - 1.0);
    }
    return x;
}
