/* fz_jsonl.c -- the corpus readers on arbitrary bytes: the input is exposed
** as a file (memfd) and read as BEIR JSONL, generic JSONL with other field
** names, TSV and any-object JSON lines (DS_CORPUS_JSON, fields read by the
** getters), with and without skip_bad; every call must succeed or fail
** cleanly, and every returned document must be valid, NUL-terminated UTF-8
** with a non-empty id. */
#include "ds_internal.h"

#include <stdio.h>
#include <string.h>
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
        /* issue 14: no NUL inside any string (it would cut it), and every id
        ** follows the id rule (survives a TREC line) */
        if (memchr(d.id, '\0', d.id_len) || memchr(d.text, '\0', d.text_len) || memchr(d.title, '\0', d.title_len) ||
            ds__id_problem(d.id, d.id_len) != NULL)
            __builtin_trap();
    }
    ds_corpus_close(c);
}

/* DS_CORPUS_JSON (the encoders' inputs): any object, fields read by getters. */
static void read_json_fields(const char *path) {
    ds_corpus_opts o;
    ds_corpus_opts_init(&o);
    o.format = DS_CORPUS_JSON;
    o.max_doc_bytes = 4096;
    ds_corpus *c = NULL;
    if (ds_corpus_open(NULL, path, &o, &c) != DS_OK) return;
    ds_doc d;
    for (int i = 0; i < 100000; i++) {
        if (ds_corpus_next(c, &d) != DS_OK) continue;
        if (d.id == NULL) break;
        const char *s;
        size_t n;
        const int32_t *ids;
        if (ds_corpus_get_string(c, "text", &s, &n) == DS_OK && (s[n] != '\0' || !ds__utf8_valid(s, n, NULL)))
            __builtin_trap();
        if (ds_corpus_get_token_ids(c, "ids", &ids, &n) == DS_OK) {
            if (n == 0) __builtin_trap();
            for (size_t j = 0; j < n; j++)
                if (ids[j] < 0) __builtin_trap();
        }
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
    read_json_fields(path);
    close(fd);
    return 0;
}
