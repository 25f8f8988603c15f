/* t_writer.c -- the shared safe writer (core/container.h): private temporary
** names created with O_EXCL|O_NOFOLLOW, the per-path writer lock, the checked
** rename, and that ds_run_save and the index writers go through it (issue 14,
** items 1 and 2). */
#include "test.h"
#include "core/container.h"

#include <dirent.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void tpath(char *buf, size_t cap, const char *name) {
    snprintf(buf, cap, "%s/%s", ds_test_tmpdir(), name);
}

static void put_file(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    ASSERT(f != NULL);
    fputs(text, f);
    fclose(f);
}

static int file_is(const char *path, const char *text) {
    char buf[256] = { 0 };
    FILE *f = fopen(path, "rb");
    if (f == NULL) return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    return n == strlen(text) && memcmp(buf, text, n) == 0;
}

/* Number of entries in the test directory other than "." and "..". */
static int dir_entries(void) {
    DIR *d = opendir(ds_test_tmpdir());
    ASSERT(d != NULL);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(d);
    return n;
}

static ds_status write_small(const char *path) {
    ds__cwriter *w;
    ds_status rc = ds__cw_open(NULL, path, DS_FOURCC('T', 'E', 'S', 'T'), 1, 0, 0, &w);
    if (rc != DS_OK) return rc;
    ds__cw_section(w, DS_FOURCC('A', 'A', 'A', 'A'), DS_SECTION_REQUIRED, "hello", 5);
    return ds__cw_commit(w);
}

TEST(writer_commit_leaves_only_the_file) {
    char path[512];
    tpath(path, sizeof path, "a.dsx");
    ASSERT_OK(write_small(path));
    ASSERT_OK(write_small(path));                 /* replacing works too */
    ASSERT_EQ_U64(dir_entries(), 1);              /* no temporary, no lock file */
    ds__creader *r;
    ASSERT_OK(ds__cr_open(NULL, path, 0, DS_OPEN_VERIFY, &r));
    ds__cr_close(r);
}

TEST(writer_second_writer_fails_clearly) {
    char path[512];
    tpath(path, sizeof path, "b.dsx");
    ds__cwriter *w1, *w2;
    ASSERT_OK(ds__cw_open(NULL, path, DS_FOURCC('T', 'E', 'S', 'T'), 1, 0, 0, &w1));
    ASSERT_RC(ds__cw_open(NULL, path, DS_FOURCC('T', 'E', 'S', 'T'), 1, 0, 0, &w2), DS_ERR_IO);
    ASSERT(strstr(ds_errmsg(), "another writer") != NULL);
    ASSERT(w2 == NULL);
    /* Any writer of the path, not only containers: a TREC run too. */
    ds_run *run;
    ASSERT_OK(ds_run_create(NULL, &run));
    ASSERT_OK(ds_run_add(run, "q1", "d1", 1.0));
    ASSERT_RC(ds_run_save(run, path, NULL), DS_ERR_IO);
    ASSERT_OK(ds__cw_section(w1, DS_FOURCC('A', 'A', 'A', 'A'), 0, "x", 1));
    ASSERT_OK(ds__cw_commit(w1));
    ASSERT_OK(write_small(path));                 /* lock released */
    ASSERT_OK(ds_run_save(run, path, NULL));
    ds_run_free(run);
    ASSERT_EQ_U64(dir_entries(), 1);
    /* An aborted writer releases the lock and removes its file. */
    ASSERT_OK(ds__cw_open(NULL, path, DS_FOURCC('T', 'E', 'S', 'T'), 1, 0, 0, &w1));
    ds__cw_abort(w1);
    ASSERT_EQ_U64(dir_entries(), 1);
    ASSERT_OK(write_small(path));
}

TEST(writer_never_follows_planted_symlinks) {
    char path[512], victim[512], link[600];
    tpath(path, sizeof path, "c.dsx");
    tpath(victim, sizeof victim, "victim");
    put_file(victim, "precious");
    /* The old fixed temporary name, pointing at the victim: ignored. */
    snprintf(link, sizeof link, "%s.tmp", path);
    ASSERT(symlink(victim, link) == 0);
    ASSERT_OK(write_small(path));
    ASSERT(file_is(victim, "precious"));
    struct stat st;
    ASSERT(lstat(link, &st) == 0 && S_ISLNK(st.st_mode));
    /* A symlink at the lock name is refused, not followed. */
    snprintf(link, sizeof link, "%s.lock", path);
    ASSERT(symlink(victim, link) == 0);
    ASSERT_RC(write_small(path), DS_ERR_IO);
    ASSERT(strstr(ds_errmsg(), "symbolic link") != NULL);
    ASSERT(file_is(victim, "precious"));
    unlink(link);
    /* ds_run_save the same. */
    ds_run *run;
    ASSERT_OK(ds_run_create(NULL, &run));
    ASSERT_OK(ds_run_add(run, "q1", "d1", 1.0));
    char rpath[512];
    tpath(rpath, sizeof rpath, "run.trec");
    snprintf(link, sizeof link, "%s.tmp", rpath);
    ASSERT(symlink(victim, link) == 0);
    ASSERT_OK(ds_run_save(run, rpath, "t"));
    ASSERT(file_is(victim, "precious"));
    ASSERT(file_is(rpath, "q1 Q0 d1 1 1 t\n"));
    ds_run_free(run);
}

TEST(writer_never_publishes_a_replaced_temporary) {
    char path[512], other[512];
    tpath(path, sizeof path, "d.dsx");
    tpath(other, sizeof other, "other");
    ds__afile *f;
    ASSERT_OK(ds__afile_open(NULL, path, NULL, &f));
    ASSERT(write(ds__afile_fd(f), "mine", 4) == 4);
    /* Someone swaps another file in under our temporary name. */
    put_file(other, "theirs");
    ASSERT(rename(other, ds__afile_tmp_path(f)) == 0);
    ASSERT_RC(ds__afile_commit(f), DS_ERR_IO);
    ASSERT(strstr(ds_errmsg(), "replaced") != NULL);
    ASSERT(access(path, F_OK) != 0);              /* nothing published */
}

TEST(writer_removes_stale_temporaries_of_killed_writers) {
    char path[512], stale[600], keep[600];
    tpath(path, sizeof path, "e.dsx");
    snprintf(stale, sizeof stale, "%s.tmp.4242.0badcafe", path);
    snprintf(keep, sizeof keep, "%s.tmp.mine", path);   /* not our pattern: left alone */
    put_file(stale, "half");
    put_file(keep, "keep");
    ASSERT_OK(write_small(path));
    ASSERT(access(stale, F_OK) != 0);
    ASSERT(file_is(keep, "keep"));
}

TEST(writer_lexical_builder_locks_from_create) {
    char dir[512];
    tpath(dir, sizeof dir, "ix");
    ds_lexical_builder *b1, *b2;
    ASSERT_OK(ds_lexical_builder_create(NULL, dir, NULL, &b1));
    ASSERT_RC(ds_lexical_builder_create(NULL, dir, NULL, &b2), DS_ERR_IO);
    ASSERT(strstr(ds_errmsg(), "another writer") != NULL);
    ds_doc d;
    memset(&d, 0, sizeof d);
    d.id = "d1"; d.id_len = 2; d.text = "hello world"; d.text_len = 11; d.title = ""; d.file = "x";
    ASSERT_OK(ds_lexical_add(b1, &d));
    ASSERT_OK(ds_lexical_finish(b1, NULL));
    ASSERT_OK(ds_lexical_builder_create(NULL, dir, NULL, &b2));
    ds_lexical_abort(b2);
    ds_lexical *lx;
    ASSERT_OK(ds_lexical_open(NULL, dir, DS_OPEN_VERIFY, &lx));
    ds_lexical_close(lx);
}

/* The final name is replaced only when it is a regular file (or absent):
** renaming over a symlink would replace the link (/dev/stdout would become
** a file), over a device or FIFO would remove the node. */
TEST(writer_refuses_to_replace_links_and_devices) {
    char path[512], target[512];
    tpath(path, sizeof path, "link.dsx");
    tpath(target, sizeof target, "target");
    put_file(target, "precious");
    ASSERT(symlink(target, path) == 0);
    ASSERT_RC(write_small(path), DS_ERR_INVALID);
    ASSERT(strstr(ds_errmsg(), "symbolic link") != NULL);
    ASSERT(file_is(target, "precious"));
    struct stat st;
    ASSERT(lstat(path, &st) == 0 && S_ISLNK(st.st_mode));
    tpath(path, sizeof path, "fifo");
    ASSERT(mkfifo(path, 0600) == 0);
    ds_run *run;
    ASSERT_OK(ds_run_create(NULL, &run));
    ASSERT_OK(ds_run_add(run, "q1", "d1", 1.0));
    ASSERT_RC(ds_run_save(run, path, NULL), DS_ERR_INVALID);
    ASSERT(lstat(path, &st) == 0 && S_ISFIFO(st.st_mode));
    ds_run_free(run);
    ASSERT_EQ_U64(dir_entries(), 3);    /* link, target, fifo: no temporaries or locks */
}
