/* fz_jsonl.c -- the corpus readers on arbitrary bytes: the input is exposed
** as a file (memfd) and read as BEIR JSONL, generic JSONL with other field
** names and TSV, with and without skip_bad; every call must succeed or fail
** cleanly, and every returned document must be valid, NUL-terminated UTF-8
** with a non-empty id. */
#include "ds_internal.h"

#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int ds__utf8_valid(const char *s, size_t n, size_t *bad);

static void read_all(const char *path, ds_corpus_format fmt, int skip_bad, const char *idf) {
    ds_corpus_opts o;
    ds_corpus_opts_init(&o);
    o.format = fmt;
    o.skip_bad = skip_bad;
    o.max_doc_bytes = 4096;   /* small, so the over-long path is reachable */
    if (idf) { o.id_field = idf; o.text_field = "body"; o.title_field = ""; }
    ds_corpus *c = NULL;
    if (ds_corpus_open(NULL, path, &o, &c) != DS_OK) return;
    ds_doc d;
    for (int i = 0; i < 100000; i++) {
        ds_status rc = ds_corpus_next(c, &d);
        if (rc != DS_OK) continue;   /* positioned after the bad line: go on */
        if (d.id == NULL) break;
        if (d.id_len == 0 || d.id[d.id_len] != '\0' || d.text[d.text_len] != '\0' ||
            !ds__utf8_valid(d.text, d.text_len, NULL) || !ds__utf8_valid(d.title, d.title_len, NULL))
            __builtin_trap();
    }
    ds_corpus_close(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    int fd = memfd_create("fz_jsonl", 0);
    if (fd < 0) return 0;
    size_t off = 0;
    while (off < size) {
        ssize_t n = write(fd, data + off, size - off);
        if (n <= 0) break;
        off += (size_t)n;
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    read_all(path, DS_CORPUS_BEIR, 0, NULL);
    read_all(path, DS_CORPUS_BEIR, 1, NULL);
    read_all(path, DS_CORPUS_JSONL, 1, "id");
    read_all(path, DS_CORPUS_TSV, 1, NULL);
    close(fd);
    return 0;
}
