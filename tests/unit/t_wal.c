/* t_wal.c -- the write-ahead log of live collections (collection/wal.h,
** docs/format.md §4.4): round trips, LSN continuity across reopen and with
** `published`, torn tails at every cut point, damage that is not a tail,
** group commit from several threads, rotate/trim, sticky write failures,
** bad directories. Records are also encoded here by hand from the format
** text, so the spec and the code are checked against each other.
** `make tsan` runs wal_group_commit and wal_concurrent_ops.
*/
#include "test.h"
#include "collection/wal.h"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#define FIRST_FILE "wal-00000000000000000001.log"

/* ---- helpers --------------------------------------------------------------- */
typedef struct got_rec {
    uint64_t lsn;
    uint8_t  type;
    size_t   len;
    uint8_t *p;
} got_rec;

typedef struct got {
    got_rec *r;
    size_t   n, cap;
} got;

static ds_status collect(void *ud, uint64_t lsn, uint8_t type, const uint8_t *p, size_t len) {
    got *g = ud;
    if (g->n == g->cap) {
        g->cap = g->cap ? g->cap * 2 : 64;
        g->r = realloc(g->r, g->cap * sizeof *g->r);
        ASSERT(g->r != NULL);
    }
    got_rec *x = &g->r[g->n++];
    x->lsn = lsn;
    x->type = type;
    x->len = len;
    x->p = malloc(len ? len : 1);
    ASSERT(x->p != NULL);
    if (len) memcpy(x->p, p, len);
    return DS_OK;
}

static void got_free(got *g) {
    for (size_t i = 0; i < g->n; i++) free(g->r[i].p);
    free(g->r);
    memset(g, 0, sizeof *g);
}

static const char *wdir(const char *name) {
    static char buf[4][512];
    static int slot;
    char *b = buf[slot++ % 4];
    snprintf(b, 512, "%s/%s", ds_test_tmpdir(), name);
    return b;
}

static const char *fpath(const char *dir, const char *file) {
    static char buf[1024];
    snprintf(buf, sizeof buf, "%s/%s", dir, file);
    return buf;
}

/* Opens dir with published, replays into *g (cleared first). */
static ds_status reopen(const char *dir, uint64_t published, ds__wal **w, got *g) {
    got_free(g);
    ds_status rc = ds__wal_open(NULL, dir, published, w);
    if (rc != DS_OK) return rc;
    rc = ds__wal_replay(*w, collect, g);
    if (rc != DS_OK) {
        ds__wal_close(*w);
        *w = NULL;
    }
    return rc;
}

static uint8_t *read_all(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    ASSERT(f != NULL);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *p = malloc(n > 0 ? (size_t)n : 1);
    ASSERT(p != NULL && fread(p, 1, (size_t)n, f) == (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return p;
}

static void write_all_file(const char *path, const uint8_t *p, size_t len) {
    FILE *f = fopen(path, "wb");
    ASSERT(f != NULL);
    ASSERT(fwrite(p, 1, len, f) == len);
    fclose(f);
}

static uint64_t file_size(const char *path) {
    struct stat st;
    if (stat(path, &st) != 0) return UINT64_MAX;
    return (uint64_t)st.st_size;
}

/* Names of wal-*.log files in dir, sorted, joined by spaces. */
static const char *list_logs(const char *dir) {
    static char out[16 * 260];
    char names[16][256];
    int n = 0;
    DIR *d = opendir(dir);
    ASSERT(d != NULL);
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strncmp(e->d_name, "wal-", 4) == 0 && n < 16) snprintf(names[n++], 256, "%s", e->d_name);
    closedir(d);
    qsort(names, (size_t)n, 256, (int (*)(const void *, const void *))strcmp);
    out[0] = '\0';
    for (int i = 0; i < n; i++) {
        if (i) strcat(out, " ");
        strcat(out, names[i]);
    }
    return out;
}

static uint64_t sum_log_sizes(const char *dir) {
    uint64_t s = 0;
    DIR *d = opendir(dir);
    ASSERT(d != NULL);
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strncmp(e->d_name, "wal-", 4) == 0) s += file_size(fpath(dir, e->d_name));
    closedir(d);
    return s;
}

/* A record encoded from docs/format.md §4.4 alone (not through wal.c). */
static size_t encode_record(uint8_t *out, uint64_t lsn, uint8_t type, const void *p, uint32_t len) {
    ds__store_u32le(out, DS_FOURCC('D', 'S', 'W', 'R'));
    ds__store_u32le(out + 4, len);
    ds__store_u64le(out + 8, lsn);
    out[16] = type;
    out[17] = out[18] = out[19] = 0;
    if (len) memcpy(out + 20, p, len);
    ds__store_u64le(out + 20 + len, XXH3_64bits(out, 20 + (size_t)len));
    return 28 + (size_t)len;
}

static void append_bytes(const char *path, const uint8_t *p, size_t n) {
    FILE *f = fopen(path, "ab");
    ASSERT(f != NULL);
    ASSERT(fwrite(p, 1, n, f) == n);
    fclose(f);
}

/* Appends n records "rec-<lsn>" of the given type and returns the last LSN. */
static uint64_t append_n(ds__wal *w, int n, uint8_t type) {
    uint64_t lsn = 0;
    for (int i = 0; i < n; i++) {
        char buf[64];
        int len = snprintf(buf, sizeof buf, "rec-%llu", (unsigned long long)ds__wal_last_lsn(w) + 1);
        ASSERT_OK(ds__wal_append(w, type, buf, (size_t)len, &lsn));
    }
    return lsn;
}

/* ---- tests ---------------------------------------------------------------- */
TEST(wal_round_trip) {
    const char *dir = wdir("log");
    ds__wal *w;
    got g = { 0 };
    ASSERT_OK(ds__wal_open(NULL, dir, 0, &w));
    ASSERT_EQ_U64(ds__wal_last_lsn(w), 0);
    ASSERT_OK(ds__wal_replay(w, collect, &g));      /* a new log is empty */
    ASSERT_EQ_U64(g.n, 0);
    /* Payload sizes: empty, small, and one larger than the reader's 64 KiB window. */
    size_t lens[] = { 0, 1, 7, 0, 300, 100000, 28, 0 };
    uint8_t *big = malloc(100000 + DS_ARRAY_LEN(lens));   /* payload i starts at big + i */
    ASSERT(big != NULL);
    for (size_t i = 0; i < 100000 + DS_ARRAY_LEN(lens); i++) big[i] = (uint8_t)(i * 131 + 7);
    for (size_t i = 0; i < DS_ARRAY_LEN(lens); i++) {
        uint64_t lsn;
        ASSERT_OK(ds__wal_append(w, (uint8_t)(i * 37), lens[i] ? big + i : NULL, lens[i], &lsn));
        ASSERT_EQ_U64(lsn, i + 1);
    }
    ASSERT_EQ_U64(ds__wal_last_lsn(w), 8);
    ASSERT_OK(ds__wal_sync(w, 8));
    ASSERT_EQ_U64(ds__wal_durable_lsn(w), 8);
    ASSERT_RC(ds__wal_replay(w, collect, &g), DS_ERR_INVALID);   /* after an append */
    ASSERT_EQ_U64(ds__wal_bytes(w), sum_log_sizes(dir));
    ds__wal_close(w);

    ASSERT_OK(reopen(dir, 0, &w, &g));
    ASSERT_EQ_U64(g.n, 8);
    for (size_t i = 0; i < g.n; i++) {
        ASSERT_EQ_U64(g.r[i].lsn, i + 1);
        ASSERT_EQ_U64(g.r[i].type, (uint8_t)(i * 37));
        ASSERT_EQ_U64(g.r[i].len, lens[i]);
        ASSERT(lens[i] == 0 || memcmp(g.r[i].p, big + i, lens[i]) == 0);
    }
    ASSERT_EQ_U64(ds__wal_last_lsn(w), 8);
    ASSERT_EQ_U64(ds__wal_durable_lsn(w), 8);
    ASSERT_EQ_U64(append_n(w, 1, 9), 9);          /* continues after the replayed records */
    ds__wal_close(w);                              /* close syncs record 9 */

    /* published: records <= published are skipped, the rest replayed. */
    ASSERT_OK(reopen(dir, 3, &w, &g));
    ASSERT_EQ_U64(g.n, 6);
    ASSERT_EQ_U64(g.r[0].lsn, 4);
    ASSERT_EQ_U64(g.r[5].lsn, 9);
    ASSERT(g.r[5].len == 5 && memcmp(g.r[5].p, "rec-9", 5) == 0);
    ds__wal_close(w);

    /* published beyond the log: nothing to replay, the next LSN is published + 1. */
    ASSERT_OK(reopen(dir, 100, &w, &g));
    ASSERT_EQ_U64(g.n, 0);
    ASSERT_EQ_U64(ds__wal_last_lsn(w), 100);
    ASSERT_EQ_U64(append_n(w, 1, 1), 101);
    ds__wal_close(w);
    ASSERT_STR_EQ(list_logs(dir), FIRST_FILE " wal-00000000000000000101.log");
    ASSERT_OK(reopen(dir, 100, &w, &g));
    ASSERT_EQ_U64(g.n, 1);
    ASSERT_EQ_U64(g.r[0].lsn, 101);
    ds__wal_close(w);
    /* ... but with published 50, LSNs 51..100 are neither logged nor published. */
    ASSERT_RC(ds__wal_open(NULL, dir, 50, &w), DS_ERR_CORRUPT);
    ASSERT(strstr(ds_errmsg(), "wal-00000000000000000101.log") != NULL);
    ASSERT(strstr(ds_errmsg(), "gap") != NULL);
    got_free(&g);
    free(big);
}

/* A record written by hand from the spec is read back; one with a repeated
** LSN or a gap is DS_ERR_CORRUPT even with a valid checksum. */
TEST(wal_spec_records_and_lsn_checks) {
    const char *dir = wdir("log");
    ds__wal *w;
    got g = { 0 };
    uint8_t rec[128];
    ASSERT_OK(ds__wal_open(NULL, dir, 0, &w));
    append_n(w, 2, 5);
    ds__wal_close(w);
    char path[1100];
    snprintf(path, sizeof path, "%s", fpath(dir, FIRST_FILE));
    append_bytes(path, rec, encode_record(rec, 3, 42, "spec", 4));
    ASSERT_OK(reopen(dir, 0, &w, &g));
    ASSERT_EQ_U64(g.n, 3);
    ASSERT(g.r[2].lsn == 3 && g.r[2].type == 42 && g.r[2].len == 4 && memcmp(g.r[2].p, "spec", 4) == 0);
    ds__wal_close(w);

    size_t len;
    uint8_t *orig = read_all(path, &len);
    append_bytes(path, rec, encode_record(rec, 3, 0, "again", 5));     /* a repeat */
    ASSERT_RC(ds__wal_open(NULL, dir, 0, &w), DS_ERR_CORRUPT);
    ASSERT(strstr(ds_errmsg(), FIRST_FILE) != NULL && strstr(ds_errmsg(), "repeat") != NULL);
    write_all_file(path, orig, len);
    append_bytes(path, rec, encode_record(rec, 5, 0, "skip", 4));      /* a gap */
    ASSERT_RC(ds__wal_open(NULL, dir, 0, &w), DS_ERR_CORRUPT);
    ASSERT(strstr(ds_errmsg(), "gap") != NULL);
    /* The header's first LSN must match the name. */
    write_all_file(path, orig, len);
    ASSERT_OK(rename(path, fpath(dir, "wal-00000000000000000002.log")) == 0 ? DS_OK : DS_ERR_IO);
    ASSERT_RC(ds__wal_open(NULL, dir, 1, &w), DS_ERR_CORRUPT);
    ASSERT(strstr(ds_errmsg(), "header says first LSN 1") != NULL);
    free(orig);
    got_free(&g);
}

/* Every cut point inside the last record, and every flipped byte of it: the
** record is dropped, the file truncated to the end of the one before, and
** appends continue with its LSN. */
TEST(wal_torn_tail) {
    const char *dir = wdir("log");
    ds__wal *w;
    got g = { 0 };
    ASSERT_OK(ds__wal_open(NULL, dir, 0, &w));
    append_n(w, 2, 1);
    uint64_t keep = ds__wal_bytes(w);          /* header + 2 records */
    append_n(w, 1, 1);
    ds__wal_close(w);
    char path[1100];
    snprintf(path, sizeof path, "%s", fpath(dir, FIRST_FILE));
    size_t len;
    uint8_t *full = read_all(path, &len);
    ASSERT(len > keep);
    uint8_t *bad = malloc(len);
    ASSERT(bad != NULL);
    for (size_t variant = 0; variant < 2 * (len - keep); variant++) {
        size_t n = len;
        memcpy(bad, full, len);
        if (variant < len - keep) n = keep + variant;                 /* cut */
        else bad[keep + variant - (len - keep)] ^= 0x40;              /* flip */
        write_all_file(path, bad, n);
        ASSERT_OK(reopen(dir, 0, &w, &g));
        if (g.n != 2 || g.r[1].lsn != 2) FAIL("variant %zu: %zu records replayed", variant, g.n);
        ASSERT_EQ_U64(file_size(path), keep);
        ASSERT_EQ_U64(ds__wal_last_lsn(w), 2);
        uint64_t lsn;
        ASSERT_OK(ds__wal_append(w, 7, "new", 3, &lsn));
        ASSERT_EQ_U64(lsn, 3);
        ASSERT_OK(ds__wal_sync(w, lsn));
        ds__wal_close(w);
        ASSERT_OK(reopen(dir, 0, &w, &g));
        ASSERT(g.n == 3 && g.r[2].type == 7 && g.r[2].len == 3);
        ds__wal_close(w);
    }
    /* A header cut short in the newest file: its creation was interrupted;
    ** it is removed and appends continue. */
    write_all_file(path, full, len);
    char next[1100];
    snprintf(next, sizeof next, "%s", fpath(dir, "wal-00000000000000000004.log"));
    write_all_file(next, (const uint8_t *)"\x89" "DSWL", 5);
    ASSERT_OK(reopen(dir, 0, &w, &g));
    ASSERT_EQ_U64(g.n, 3);
    ASSERT_EQ_U64(append_n(w, 1, 0), 4);
    ds__wal_close(w);
    ASSERT_OK(reopen(dir, 0, &w, &g));
    ASSERT_EQ_U64(g.n, 4);
    ds__wal_close(w);
    free(full);
    free(bad);
    got_free(&g);
}

/* Damage that is not a torn tail: a record followed by valid ones, or any
** damage in a file that is not the newest. */
TEST(wal_damage_is_corrupt) {
    const char *dir = wdir("log");
    ds__wal *w;
    got g = { 0 };
    ASSERT_OK(ds__wal_open(NULL, dir, 0, &w));
    append_n(w, 1, 1);
    uint64_t rec2 = ds__wal_bytes(w);
    append_n(w, 2, 1);
    ds__wal_close(w);
    char path[1100], msg[64];
    snprintf(path, sizeof path, "%s", fpath(dir, FIRST_FILE));
    size_t len;
    uint8_t *full = read_all(path, &len);
    /* A flipped byte anywhere in record 2 (header, payload or checksum). */
    for (uint64_t off = rec2; off < rec2 + 28 + 5; off++) {
        full[off] ^= 0x01;
        write_all_file(path, full, len);
        full[off] ^= 0x01;
        ASSERT_RC(ds__wal_open(NULL, dir, 0, &w), DS_ERR_CORRUPT);
        snprintf(msg, sizeof msg, "byte %llu", (unsigned long long)rec2);
        if (strstr(ds_errmsg(), FIRST_FILE) == NULL || strstr(ds_errmsg(), msg) == NULL)
            FAIL("flip at %llu: message '%s'", (unsigned long long)off, ds_errmsg());
    }
    write_all_file(path, full, len);
    /* Damage in an earlier file, even in its last record or a cut tail. */
    ASSERT_OK(reopen(dir, 0, &w, &g));
    ASSERT_OK(ds__wal_rotate(w));
    append_n(w, 2, 1);
    ds__wal_close(w);
    full[len - 1] ^= 0x80;
    write_all_file(path, full, len);
    ASSERT_RC(ds__wal_open(NULL, dir, 0, &w), DS_ERR_CORRUPT);
    ASSERT(strstr(ds_errmsg(), FIRST_FILE) != NULL && strstr(ds_errmsg(), "not in the newest file") != NULL);
    full[len - 1] ^= 0x80;
    write_all_file(path, full, len - 3);
    ASSERT_RC(ds__wal_open(NULL, dir, 0, &w), DS_ERR_CORRUPT);
    ASSERT(strstr(ds_errmsg(), FIRST_FILE) != NULL);
    /* A hostile length field in the middle: reported, nothing huge allocated. */
    write_all_file(path, full, len);
    ds__store_u32le(full + rec2 + 4, 0x3fffffffu);
    write_all_file(path, full, len);
    ASSERT_RC(ds__wal_open(NULL, dir, 0, &w), DS_ERR_CORRUPT);
    /* A bad header and a foreign major version. */
    ds__store_u32le(full + rec2 + 4, 5);
    full[3] ^= 1;
    write_all_file(path, full, len);
    ASSERT_RC(ds__wal_open(NULL, dir, 0, &w), DS_ERR_CORRUPT);
    ASSERT(strstr(ds_errmsg(), "bad magic") != NULL);
    full[3] ^= 1;
    ds__store_u16le(full + 12, 2);
    ds__store_u64le(full + 24, XXH3_64bits(full, 24));
    write_all_file(path, full, len);
    ASSERT_RC(ds__wal_open(NULL, dir, 0, &w), DS_ERR_FORMAT);
    free(full);
    got_free(&g);
}

typedef struct gc_arg {
    ds__wal *w;
    int      t, n;
    int      failed;
} gc_arg;

static void *gc_body(void *p) {
    gc_arg *a = p;
    for (int i = 0; i < a->n; i++) {
        uint8_t buf[8];
        uint64_t lsn;
        ds__store_u32le(buf, (uint32_t)a->t);
        ds__store_u32le(buf + 4, (uint32_t)i);
        if (ds__wal_append(a->w, (uint8_t)a->t, buf, sizeof buf, &lsn) != DS_OK ||
            ds__wal_sync(a->w, lsn) != DS_OK || ds__wal_durable_lsn(a->w) < lsn)
            a->failed = 1;
    }
    return NULL;
}

/* Replayed records must be every (thread, i) exactly once, in LSN order, with
** each thread's records in its call order. */
static void check_threads_replay(const got *g, uint64_t first_lsn, int nt, int n) {
    int *next = calloc((size_t)nt, sizeof *next);
    ASSERT(next != NULL);
    for (size_t k = 0; k < g->n; k++) {
        ASSERT_EQ_U64(g->r[k].lsn, first_lsn + k);
        ASSERT_EQ_U64(g->r[k].len, 8);
        uint32_t t = ds__load_u32le(g->r[k].p), i = ds__load_u32le(g->r[k].p + 4);
        ASSERT(t < (uint32_t)nt && g->r[k].type == t);
        ASSERT_EQ_U64(i, next[t]);
        next[t]++;
    }
    for (int t = 0; t < nt; t++) ASSERT_EQ_U64(next[t], n);
    free(next);
}

TEST(wal_group_commit) {
    const char *dir = wdir("log");
    ds__wal *w;
    got g = { 0 };
    ASSERT_OK(ds__wal_open(NULL, dir, 0, &w));
    uint64_t syncs0 = ds__wal_n_syncs(w);
    enum { NT = 4, N = 200 };
    pthread_t th[NT];
    gc_arg a[NT];
    for (int t = 0; t < NT; t++) {
        a[t] = (gc_arg){ w, t, N, 0 };
        ASSERT(pthread_create(&th[t], NULL, gc_body, &a[t]) == 0);
    }
    for (int t = 0; t < NT; t++) pthread_join(th[t], NULL);
    for (int t = 0; t < NT; t++) ASSERT(!a[t].failed);
    uint64_t syncs = ds__wal_n_syncs(w) - syncs0;
    printf("      wal_group_commit: %d append+sync calls, %llu fsyncs\n", NT * N, (unsigned long long)syncs);
    ASSERT_EQ_U64(ds__wal_last_lsn(w), NT * N);
    ASSERT_EQ_U64(ds__wal_durable_lsn(w), NT * N);
    /* Shared fsyncs: a caller whose record a running fsync already covers,
    ** or that arrives while one runs, does not issue its own. Each thread
    ** waits for its sync, so at most one in NT appends can find nobody to
    ** share with; 3/4 leaves room for a scheduler that runs them apart. */
    ASSERT(syncs <= NT * N * 3 / 4);
    ds__wal_close(w);
    ASSERT_OK(reopen(dir, 0, &w, &g));
    ASSERT_EQ_U64(g.n, NT * N);
    check_threads_replay(&g, 1, NT, N);
    ds__wal_close(w);
    got_free(&g);
}

typedef struct chaos_arg {
    ds__wal         *w;
    _Atomic int      stop;
    uint64_t         trimmed;   /* highest upto passed to trim */
    int              failed;
} chaos_arg;

static void *chaos_body(void *p) {
    chaos_arg *a = p;
    while (!atomic_load(&a->stop)) {
        uint64_t d = ds__wal_durable_lsn(a->w);
        if (ds__wal_rotate(a->w) != DS_OK) a->failed = 1;
        if (d / 2 > a->trimmed) {
            if (ds__wal_trim(a->w, d / 2) != DS_OK) a->failed = 1;
            a->trimmed = d / 2;
        }
        if (ds__wal_bytes(a->w) == 0 || ds__wal_last_lsn(a->w) < d) a->failed = 1;
        usleep(2000);
    }
    return NULL;
}

/* Appends and syncs from 3 threads while a fourth rotates, trims and reads
** the getters (for TSan; `make tsan`). */
TEST(wal_concurrent_ops) {
    const char *dir = wdir("log");
    ds__wal *w;
    got g = { 0 };
    ASSERT_OK(ds__wal_open(NULL, dir, 0, &w));
    enum { NT = 3, N = 150 };
    pthread_t th[NT], ch;
    gc_arg a[NT];
    chaos_arg c = { w, 0, 0, 0 };
    ASSERT(pthread_create(&ch, NULL, chaos_body, &c) == 0);
    for (int t = 0; t < NT; t++) {
        a[t] = (gc_arg){ w, t, N, 0 };
        ASSERT(pthread_create(&th[t], NULL, gc_body, &a[t]) == 0);
    }
    for (int t = 0; t < NT; t++) pthread_join(th[t], NULL);
    atomic_store(&c.stop, 1);
    pthread_join(ch, NULL);
    for (int t = 0; t < NT; t++) ASSERT(!a[t].failed);
    ASSERT(!c.failed);
    ASSERT_EQ_U64(ds__wal_bytes(w), sum_log_sizes(dir));
    ds__wal_close(w);
    /* Everything after the last trim is still there, in order. */
    ASSERT_OK(reopen(dir, c.trimmed, &w, &g));
    ASSERT_EQ_U64(g.n, NT * N - c.trimmed);
    for (size_t k = 0; k < g.n; k++) ASSERT_EQ_U64(g.r[k].lsn, c.trimmed + 1 + k);
    ds__wal_close(w);
    got_free(&g);
}

TEST(wal_rotate_trim) {
    const char *dir = wdir("log");
    ds__wal *w;
    got g = { 0 };
    ASSERT_OK(ds__wal_open(NULL, dir, 0, &w));
    ASSERT_OK(ds__wal_rotate(w));                         /* empty current file: no-op */
    ASSERT_STR_EQ(list_logs(dir), FIRST_FILE);
    append_n(w, 3, 0);
    ASSERT_OK(ds__wal_rotate(w));
    ASSERT_EQ_U64(ds__wal_durable_lsn(w), 3);            /* rotate syncs the old file */
    ASSERT_OK(ds__wal_rotate(w));                         /* still empty: no-op */
    append_n(w, 3, 0);
    ASSERT_OK(ds__wal_rotate(w));
    append_n(w, 3, 0);
    ASSERT_STR_EQ(list_logs(dir), FIRST_FILE " wal-00000000000000000004.log wal-00000000000000000007.log");
    ASSERT_EQ_U64(ds__wal_bytes(w), sum_log_sizes(dir));
    ASSERT_OK(ds__wal_trim(w, 2));                        /* wal-1 holds 3 > 2: kept */
    ASSERT_STR_EQ(list_logs(dir), FIRST_FILE " wal-00000000000000000004.log wal-00000000000000000007.log");
    ASSERT_OK(ds__wal_trim(w, 5));
    ASSERT_STR_EQ(list_logs(dir), "wal-00000000000000000004.log wal-00000000000000000007.log");
    ASSERT_EQ_U64(ds__wal_bytes(w), sum_log_sizes(dir));
    ASSERT_OK(ds__wal_trim(w, 6));
    ASSERT_STR_EQ(list_logs(dir), "wal-00000000000000000007.log");
    ASSERT_OK(ds__wal_sync(w, 9));
    ds__wal_close(w);
    /* Reopen: LSNs 1..6 are gone, so published must cover them. */
    ASSERT_RC(ds__wal_open(NULL, dir, 5, &w), DS_ERR_CORRUPT);
    ASSERT(strstr(ds_errmsg(), "wal-00000000000000000007.log") != NULL);
    ASSERT_OK(reopen(dir, 6, &w, &g));
    ASSERT_EQ_U64(g.n, 3);
    ASSERT_EQ_U64(g.r[0].lsn, 7);
    /* Trimming everything rotates the current file away: one empty file left. */
    ASSERT_OK(ds__wal_trim(w, 9));
    ASSERT_STR_EQ(list_logs(dir), "wal-00000000000000000010.log");
    ASSERT_EQ_U64(ds__wal_bytes(w), sum_log_sizes(dir));
    ASSERT_EQ_U64(append_n(w, 1, 0), 10);
    ds__wal_close(w);
    ASSERT_OK(reopen(dir, 9, &w, &g));
    ASSERT(g.n == 1 && g.r[0].lsn == 10);
    ds__wal_close(w);
    /* A current file with records below published: appends start a new
    ** file at published + 1. */
    ASSERT_OK(reopen(dir, 20, &w, &g));
    ASSERT_EQ_U64(g.n, 0);
    ASSERT_STR_EQ(list_logs(dir), "wal-00000000000000000010.log wal-00000000000000000021.log");
    ASSERT_OK(ds__wal_trim(w, 20));
    ASSERT_STR_EQ(list_logs(dir), "wal-00000000000000000021.log");
    ds__wal_close(w);
    /* An empty current file whose name published has moved past is replaced. */
    ASSERT_OK(reopen(dir, 30, &w, &g));
    ASSERT_STR_EQ(list_logs(dir), "wal-00000000000000000031.log");
    ASSERT_EQ_U64(append_n(w, 1, 0), 31);
    ds__wal_close(w);
    ASSERT_OK(reopen(dir, 30, &w, &g));
    ASSERT(g.n == 1 && g.r[0].lsn == 31);
    ds__wal_close(w);
    got_free(&g);
}

TEST(wal_sticky_failure) {
    const char *dir = wdir("log");
    ds__wal *w;
    got g = { 0 };
    ASSERT_OK(ds__wal_open(NULL, dir, 0, &w));
    append_n(w, 2, 0);
    ASSERT_OK(ds__wal_sync(w, 2));
    append_n(w, 1, 0);                                          /* written, not synced */
    uint64_t good = ds__wal_bytes(w);
    ds__wal_fail_next_write(w);
    uint64_t lsn = 99;
    ASSERT_RC(ds__wal_append(w, 0, "x", 1, &lsn), DS_ERR_IO);
    ASSERT_EQ_U64(lsn, 0);
    ASSERT_RC(ds__wal_append(w, 0, "y", 1, &lsn), DS_ERR_IO);    /* sticky */
    ASSERT(strstr(ds_errmsg(), "reopen") != NULL);
    ASSERT_OK(ds__wal_sync(w, 2));                              /* already durable */
    ASSERT_RC(ds__wal_sync(w, 3), DS_ERR_IO);
    ASSERT_EQ_U64(ds__wal_durable_lsn(w), 2);
    ASSERT_RC(ds__wal_rotate(w), DS_ERR_IO);
    ASSERT_EQ_U64(ds__wal_last_lsn(w), 3);
    ds__wal_close(w);
    ASSERT(file_size(fpath(dir, FIRST_FILE)) > good);          /* half a record on disk */
    ASSERT_OK(reopen(dir, 0, &w, &g));
    ASSERT_EQ_U64(g.n, 3);                                      /* the page cache still had LSN 3 */
    ASSERT_EQ_U64(file_size(fpath(dir, FIRST_FILE)), good);     /* cut at open */
    ASSERT_EQ_U64(ds__wal_durable_lsn(w), 3);                   /* open synced it */
    ASSERT_EQ_U64(append_n(w, 1, 0), 4);
    ds__wal_close(w);
    got_free(&g);
}

TEST(wal_bad_arguments) {
    ds__wal *w = (ds__wal *)1;
    ASSERT_RC(ds__wal_open(NULL, "", 0, &w), DS_ERR_INVALID);
    ASSERT(w == NULL);
    char file[600];
    snprintf(file, sizeof file, "%s", wdir("plain"));
    write_all_file(file, (const uint8_t *)"x", 1);
    ASSERT_RC(ds__wal_open(NULL, file, 0, &w), DS_ERR_IO);
    ASSERT(strstr(ds_errmsg(), file) != NULL && strstr(ds_errmsg(), "not a directory") != NULL);
    ASSERT_RC(ds__wal_open(NULL, wdir("missing/sub"), 0, &w), DS_ERR_IO);
    ASSERT(strstr(ds_errmsg(), "cannot create") != NULL);
    ASSERT_RC(ds__wal_open(NULL, wdir("log"), UINT64_MAX, &w), DS_ERR_INVALID);
    /* Other names in the directory are ignored; a non-file under a log name is refused. */
    const char *dir = wdir("log");
    ASSERT_OK(ds__wal_open(NULL, dir, 0, &w));
    ds__wal_close(w);
    write_all_file(fpath(dir, "notes.txt"), (const uint8_t *)"hi", 2);
    write_all_file(fpath(dir, "wal-1.log"), (const uint8_t *)"hi", 2);
    ASSERT_OK(ds__wal_open(NULL, dir, 0, &w));
    ASSERT_RC(ds__wal_append(w, 0, NULL, 1, NULL), DS_ERR_INVALID);
    ASSERT_RC(ds__wal_append(w, 0, "x", (size_t)1 << 30, NULL), DS_ERR_RANGE);
    ds__wal_close(w);
    ASSERT(mkdir(fpath(dir, "wal-00000000000000000002.log"), 0755) == 0);
    ASSERT_RC(ds__wal_open(NULL, dir, 1, &w), DS_ERR_IO);
    ASSERT(strstr(ds_errmsg(), "wal-00000000000000000002.log") != NULL);
    ds__wal_close(NULL);
}

/* Every allocation of open and replay failing in turn: DS_ERR_NOMEM each
** time (no leak under ASan), then the same records as without faults. */
TEST(wal_oom_sweep) {
    const char *dir = wdir("log");
    ds__wal *w;
    got g = { 0 };
    ASSERT_OK(ds__wal_open(NULL, dir, 0, &w));
    for (int f = 0; f < 9; f++) {                 /* 10 files: the file list grows */
        append_n(w, 2, 0);
        ASSERT_OK(ds__wal_rotate(w));
    }
    append_n(w, 2, 0);
    ds__wal_close(w);
    char path[1100];
    snprintf(path, sizeof path, "%s", fpath(dir, "wal-00000000000000000019.log"));
    append_bytes(path, (const uint8_t *)"DSWR\x05", 5);           /* a torn tail */
    ds_env *env;
    ASSERT_OK(ds_env_create(NULL, &env));
    uint64_t publ[] = { 3, 100 };                 /* 100: open creates a new file */
    for (size_t k = 0; k < DS_ARRAY_LEN(publ); k++) {
        for (uint64_t n = 1;; n++) {
            env->n_allocs = 0;
            env->fail_at = n;
            got_free(&g);
            ds_status rc = ds__wal_open(env, dir, publ[k], &w);
            if (rc == DS_OK) {
                rc = ds__wal_replay(w, collect, &g);
                ds__wal_close(w);
            }
            if (rc == DS_OK) break;
            ASSERT_RC(rc, DS_ERR_NOMEM);
            ASSERT(n < 1000);
        }
        env->fail_at = 0;
        ASSERT_EQ_U64(g.n, publ[k] < 20 ? 20 - publ[k] : 0);
    }
    ds_env_destroy(env);
    got_free(&g);
}
