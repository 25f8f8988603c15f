/* fz_wal.c -- the write-ahead log (collection/wal.h) on arbitrary bytes as
** its files: open (with torn-tail truncation), replay, then one append and a
** reopen must work or fail cleanly, never crash, hang or allocate more than
** the files hold.
**
** Input: byte 0 flags (bit 0: split the data into two files; bits 1..3:
** published LSN 0..7), bytes 1..2 the split point (u16le), byte 3 the second
** file's first LSN minus 1; the rest is the data. The first file is always
** wal-00000000000000000001.log. Files live in a directory under /dev/shm
** when it exists (fsync is free there), else $TMPDIR or /tmp.
**
** Checked invariants (abort on violation, so libFuzzer reports them):
** replayed LSNs are consecutive and above published; after a successful
** open, an append gets LSN last + 1 and a reopen replays it intact.
*/
#include "collection/wal.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char base[512], dir[600];

static void clean_dir(void) {
    DIR *d = opendir(dir);
    if (d == NULL) return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        char p[1200];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        unlink(p);
    }
    closedir(d);
}

static void remove_all(void) {
    clean_dir();
    rmdir(dir);
    rmdir(base);
}

static int setup(void) {
    if (base[0]) return 1;
    struct stat st;
    const char *root = stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) ? "/dev/shm" : getenv("TMPDIR");
    snprintf(base, sizeof base, "%s/fz_wal_XXXXXX", root && *root ? root : "/tmp");
    if (mkdtemp(base) == NULL) {
        base[0] = '\0';
        return 0;
    }
    snprintf(dir, sizeof dir, "%s/log", base);
    atexit(remove_all);
    return 1;
}

static void put_file(uint64_t first, const uint8_t *p, size_t n) {
    char path[1200];
    snprintf(path, sizeof path, "%s/wal-%020llu.log", dir, (unsigned long long)first);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) abort();
    while (n > 0) {
        ssize_t k = write(fd, p, n);
        if (k <= 0) abort();
        p += k;
        n -= (size_t)k;
    }
    close(fd);
}

typedef struct replay_state {
    uint64_t published, prev, n, sum;
    uint64_t want_lsn;            /* check this record's payload, 0: none */
    const uint8_t *want;
    size_t want_len;
    int seen;
} replay_state;

static ds_status on_record(void *ud, uint64_t lsn, uint8_t type, const uint8_t *p, size_t len) {
    replay_state *s = ud;
    if (lsn <= s->published || (s->n > 0 && lsn != s->prev + 1)) abort();
    s->prev = lsn;
    s->n++;
    s->sum += type;
    for (size_t i = 0; i < len; i++) s->sum += p[i];   /* touch every byte (ASan) */
    if (lsn == s->want_lsn) {
        if (len != s->want_len || memcmp(p, s->want, len) != 0) abort();
        s->seen = 1;
    }
    return DS_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!setup()) return 0;
    uint8_t flags = 0, lsn2 = 0;
    size_t split = size;
    if (size >= 4) {
        flags = data[0];
        split = ds__load_u16le(data + 1);
        lsn2 = data[3];
        data += 4;
        size -= 4;
    }
    if (!(flags & 1) || split > size) split = size;
    uint64_t published = (flags >> 1) & 7;
    clean_dir();
    mkdir(dir, 0755);
    put_file(1, data, split);
    if (flags & 1) put_file(1 + (uint64_t)lsn2, data + split, size - split);

    ds__wal *w = NULL;
    if (ds__wal_open(NULL, dir, published, &w) != DS_OK) return 0;
    replay_state s = { published, 0, 0, 0, 0, NULL, 0, 0 };
    ds_status rc = ds__wal_replay(w, on_record, &s);
    if (rc != DS_OK) abort();   /* open validated every record replay reads */
    uint64_t last = ds__wal_last_lsn(w), lsn = 0;
    if (rc == DS_OK) {
        if (s.n > 0 && s.prev != last) abort();
        static const uint8_t payload[] = "fuzz";
        if (ds__wal_append(w, 9, payload, 4, &lsn) == DS_OK) {
            if (lsn != last + 1 || ds__wal_sync(w, lsn) != DS_OK) abort();
            ds__wal_close(w);
            w = NULL;
            replay_state t = { published, 0, 0, 0, lsn, payload, 4, 0 };
            if (ds__wal_open(NULL, dir, published, &w) != DS_OK || ds__wal_replay(w, on_record, &t) != DS_OK ||
                !t.seen)
                abort();
        }
    }
    ds__wal_close(w);
    return 0;
}
