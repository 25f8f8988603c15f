/* corpus.c -- streaming corpus readers: BEIR/generic JSON lines, TSV, and a
** directory of text files (public API ds_corpus_*, densearch.h [lexical]).
**
** Invariants:
**   - Memory is bounded by the longest accepted line / file (max_doc_bytes)
**     plus the read buffer; the corpus is never held whole. A directory's
**     file *names* are listed (and sorted, for a deterministic doc order) up
**     front; contents are read one file at a time. Symlinks to files are
**     followed, symlinks to directories are not (they could loop).
**   - Every returned string is valid UTF-8 (checked with utf8proc) and
**     NUL-terminated; ids are non-empty and contain no control characters
**     (they end up in TREC run files, one per line).
**   - A bad document is reported as "file:line: problem" and the reader is
**     already positioned after it, so the caller may continue; with skip_bad
**     it is counted and logged, never silently dropped.
**
** Thread: a reader is used by one thread at a time.
*/
#include "ds_internal.h"

#include <cjson/cJSON.h>
#include <utf8proc.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define READ_CHUNK (1u << 20)

struct ds_corpus {
    ds_env          *env;
    ds_corpus_format fmt;
    char            *path;
    char            *id_field, *text_field, *title_field;
    int              skip_bad;
    size_t           max_doc;
    /* line reader */
    int              fd;
    char            *buf;            /* holds [beg, end) unread bytes + a NUL slot */
    size_t           cap, beg, end;
    int              eof;
    uint64_t         line;
    uint64_t         skipped, bytes;
    ds_status        io_rc;          /* why next_line returned -1 */
    cJSON           *json;
    char             idnum[32];      /* integer JSON ids, formatted */
    int32_t         *toks;           /* ds_corpus_get_token_ids result */
    size_t           toks_cap;       /* entries */
    /* directory */
    char           **files;          /* relative paths, sorted */
    size_t           n_files, i_file, files_cap;
    char            *fbuf;
    size_t           fbuf_cap;
    char            *cur_file;       /* full path of the current file (dir mode) */
};

void ds_corpus_opts_init(ds_corpus_opts *o) {
    memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
    o->format = DS_CORPUS_AUTO;
    o->id_field = "_id";
    o->text_field = "text";
    o->title_field = "title";
    o->skip_bad = 0;
    o->max_doc_bytes = (size_t)64 << 20;
}

uint64_t ds_corpus_skipped(const ds_corpus *c) { return c ? c->skipped : 0; }
uint64_t ds_corpus_bytes_read(const ds_corpus *c) { return c ? c->bytes : 0; }

/* Valid UTF-8 (no surrogates, no overlongs, <= U+10FFFF)? On failure *bad is
** the byte offset of the first invalid sequence. ASCII is skipped 8 bytes at a
** time because corpora are mostly ASCII. */
int ds__utf8_valid(const char *s, size_t n, size_t *bad) {
    size_t i = 0;
    const uint8_t *p = (const uint8_t *)s;
    while (i < n) {
        if (i + 8 <= n) {
            uint64_t w;
            memcpy(&w, p + i, 8);
            if ((w & 0x8080808080808080ull) == 0) { i += 8; continue; }
        }
        if (p[i] < 0x80) { i++; continue; }
        utf8proc_int32_t cp;
        utf8proc_ssize_t k = utf8proc_iterate(p + i, (utf8proc_ssize_t)(n - i), &cp);
        if (k <= 0) {
            if (bad) *bad = i;
            return 0;
        }
        i += (size_t)k;
    }
    return 1;
}

static char *dup_str(ds_env *env, const char *s) { return s ? ds__strdup(env, s) : NULL; }
static void free_str(ds_env *env, char *s) { if (s) ds__free(env, s, strlen(s) + 1); }

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Recursively lists regular files under root/rel (rel "" at the top). */
static ds_status list_dir(ds_corpus *c, const char *root, const char *rel, int depth) {
    if (depth > 64) return ds__fail(DS_ERR_RANGE, "%s/%s: directories nested too deeply", root, rel);
    char full[4096];
    if ((size_t)snprintf(full, sizeof full, "%s%s%s", root, *rel ? "/" : "", rel) >= sizeof full)
        return ds__fail(DS_ERR_RANGE, "%s: path too long", root);
    DIR *d = opendir(full);
    if (d == NULL) return ds__fail(DS_ERR_IO, "%s: cannot open directory: %s", full, strerror(errno));
    ds_status rc = DS_OK;
    struct dirent *e;
    while (rc == DS_OK && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;   /* ".", "..", hidden files */
        char sub[4096], path[4096];
        if ((size_t)snprintf(sub, sizeof sub, "%s%s%s", rel, *rel ? "/" : "", e->d_name) >= sizeof sub ||
            (size_t)snprintf(path, sizeof path, "%s/%s", root, sub) >= sizeof path) {
            rc = ds__fail(DS_ERR_RANGE, "%s: path too long", full);
            break;
        }
        struct stat st, lst;
        if (lstat(path, &lst) != 0 || stat(path, &st) != 0) continue;   /* dangling symlink: not a document */
        if (S_ISDIR(st.st_mode) && S_ISLNK(lst.st_mode)) continue;     /* symlinked directories could loop */
        if (S_ISDIR(st.st_mode)) {
            rc = list_dir(c, root, sub, depth + 1);
        } else if (S_ISREG(st.st_mode)) {
            if (c->n_files == c->files_cap) {
                size_t nc = c->files_cap ? c->files_cap * 2 : 64;
                char **nf = ds__realloc(c->env, c->files, c->files_cap * sizeof *nf, nc * sizeof *nf);
                if (nf == NULL) { rc = ds__fail(DS_ERR_NOMEM, "out of memory listing %s", full); break; }
                c->files = nf;
                c->files_cap = nc;
            }
            if ((c->files[c->n_files] = ds__strdup(c->env, sub)) == NULL) {
                rc = ds__fail(DS_ERR_NOMEM, "out of memory listing %s", full);
                break;
            }
            c->n_files++;
        }
    }
    closedir(d);
    return rc;
}

static int has_suffix(const char *s, const char *suf) {
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && strcmp(s + n - m, suf) == 0;
}

ds_status ds_corpus_open(ds_env *env, const char *path, const ds_corpus_opts *opts, ds_corpus **out) {
    if (out) *out = NULL;
    if (path == NULL || out == NULL) return ds__fail(DS_ERR_INVALID, "ds_corpus_open: NULL argument");
    env = DS_ENV(env);
    ds_corpus_format fmt = DS_OPT(opts, format, DS_CORPUS_AUTO);
    struct stat st;
    if (stat(path, &st) != 0) return ds__fail(DS_ERR_IO, "%s: %s", path, strerror(errno));
    if (fmt == DS_CORPUS_AUTO)
        fmt = S_ISDIR(st.st_mode) ? DS_CORPUS_DIR : has_suffix(path, ".tsv") ? DS_CORPUS_TSV : DS_CORPUS_BEIR;
    if (fmt < DS_CORPUS_BEIR || fmt > DS_CORPUS_JSON) return ds__fail(DS_ERR_INVALID, "unknown corpus format %d", (int)fmt);
    if ((fmt == DS_CORPUS_DIR) != (S_ISDIR(st.st_mode) != 0))
        return ds__fail(DS_ERR_INVALID, "%s: %s", path,
                        fmt == DS_CORPUS_DIR ? "not a directory (format dir)" : "is a directory (use format dir)");
    ds_corpus *c = ds__calloc(env, 1, sizeof *c);
    if (c == NULL) return ds__fail(DS_ERR_NOMEM, "out of memory");
    c->env = env;
    c->fmt = fmt;
    c->fd = -1;
    c->skip_bad = DS_OPT(opts, skip_bad, 0);
    c->max_doc = DS_OPT(opts, max_doc_bytes, (size_t)64 << 20);
    if (c->max_doc == 0) c->max_doc = (size_t)64 << 20;
    const char *idf = DS_OPT(opts, id_field, NULL), *tf = DS_OPT(opts, text_field, NULL),
               *tif = DS_OPT(opts, title_field, NULL);
    if (fmt == DS_CORPUS_BEIR) { idf = "_id"; tf = "text"; tif = "title"; }
    c->path = dup_str(env, path);
    c->id_field = dup_str(env, idf ? idf : "_id");
    c->text_field = dup_str(env, tf ? tf : "text");
    c->title_field = dup_str(env, tif ? tif : "title");
    ds_status rc = DS_OK;
    if (!c->path || !c->id_field || !c->text_field || !c->title_field) {
        rc = ds__fail(DS_ERR_NOMEM, "out of memory");
    } else if (fmt == DS_CORPUS_DIR) {
        rc = list_dir(c, path, "", 0);
        if (rc == DS_OK && c->n_files > 1) qsort(c->files, c->n_files, sizeof *c->files, cmp_str);
    } else {
        c->fd = open(path, O_RDONLY | O_CLOEXEC);
        if (c->fd < 0) rc = ds__fail(DS_ERR_IO, "%s: %s", path, strerror(errno));
        c->cap = READ_CHUNK + 1;
        if (rc == DS_OK && (c->buf = ds__alloc(env, c->cap, 64)) == NULL) rc = ds__fail(DS_ERR_NOMEM, "out of memory");
    }
    if (rc != DS_OK) {
        ds_corpus_close(c);
        return rc;
    }
    *out = c;
    return DS_OK;
}

void ds_corpus_close(ds_corpus *c) {
    if (c == NULL) return;
    ds_env *env = c->env;
    if (c->json) cJSON_Delete(c->json);
    if (c->fd >= 0) close(c->fd);
    ds__free(env, c->toks, c->toks_cap * sizeof *c->toks);
    ds__free(env, c->buf, c->cap);
    for (size_t i = 0; i < c->n_files; i++) free_str(env, c->files[i]);
    ds__free(env, c->files, c->files_cap * sizeof *c->files);
    ds__free(env, c->fbuf, c->fbuf_cap);
    free_str(env, c->cur_file);
    free_str(env, c->path);
    free_str(env, c->id_field);
    free_str(env, c->text_field);
    free_str(env, c->title_field);
    ds__free(env, c, sizeof *c);
}

/* Reads more bytes into the buffer, growing it up to max_doc + 1 bytes of
** pending data. Returns 1 if bytes were added, 0 at end of file, -1 on error. */
static int fill(ds_corpus *c) {
    if (c->eof) return 0;
    if (c->beg > 0 && c->beg == c->end) c->beg = c->end = 0;
    if (c->end + READ_CHUNK + 1 > c->cap) {
        if (c->beg > 0) {   /* compact first */
            memmove(c->buf, c->buf + c->beg, c->end - c->beg);
            c->end -= c->beg;
            c->beg = 0;
        }
        if (c->end + READ_CHUNK + 1 > c->cap) {
            size_t nc = c->cap * 2;
            if (nc < c->end + READ_CHUNK + 1) nc = c->end + READ_CHUNK + 1;
            char *nb = ds__realloc(c->env, c->buf, c->cap, nc);
            if (nb == NULL) { c->io_rc = ds__fail(DS_ERR_NOMEM, "%s: out of memory reading line %llu", c->path, (unsigned long long)c->line + 1); return -1; }
            c->buf = nb;
            c->cap = nc;
        }
    }
    ssize_t n;
    do n = read(c->fd, c->buf + c->end, READ_CHUNK); while (n < 0 && errno == EINTR);
    if (n < 0) { c->io_rc = ds__fail(DS_ERR_IO, "%s: read error: %s", c->path, strerror(errno)); return -1; }
    if (n == 0) { c->eof = 1; return 0; }
    c->end += (size_t)n;
    c->bytes += (uint64_t)n;
    return 1;
}

/* Next line (without '\n' or "\r\n"), NUL-terminated in place. Returns 1 with
** a line, 0 at end, -1 on I/O error, -2 if the line exceeds max_doc (it has
** then been consumed). */
static int next_line(ds_corpus *c, char **line, size_t *len) {
    size_t scanned = 0;   /* bytes after beg already searched (fill may move beg) */
    int too_long = 0;
    for (;;) {
        char *nl = memchr(c->buf + c->beg + scanned, '\n', c->end - c->beg - scanned);
        if (nl != NULL) {
            size_t e = (size_t)(nl - c->buf);
            c->line++;
            if (too_long || e - c->beg > c->max_doc) {
                c->beg = e + 1;
                return -2;
            }
            size_t l = e - c->beg;
            if (l > 0 && c->buf[c->beg + l - 1] == '\r') l--;
            c->buf[c->beg + l] = '\0';
            *line = c->buf + c->beg;
            *len = l;
            c->beg = e + 1;
            return 1;
        }
        if (c->end - c->beg > c->max_doc) {
            /* Over-long line: drop what we have and keep reading to its end,
            ** so memory stays bounded by max_doc. */
            too_long = 1;
            c->beg = c->end = 0;
        }
        scanned = c->end - c->beg;
        int r = fill(c);
        if (r < 0) return -1;
        if (r == 0) {
            if (c->end == c->beg && !too_long) return 0;
            c->line++;                          /* last line without '\n' */
            if (too_long) { c->beg = c->end; return -2; }
            size_t l = c->end - c->beg;
            if (l > 0 && c->buf[c->beg + l - 1] == '\r') l--;
            c->buf[c->beg + l] = '\0';        /* cap > end always holds */
            *line = c->buf + c->beg;
            *len = l;
            c->beg = c->end;
            return 1;
        }
    }
}

/* The id rule (core/ids.c): message without the "file:line: " prefix. */
static ds_status check_id(const char *id, size_t len) {
    const char *why = ds__id_problem(id, len);
    if (why == NULL) return DS_OK;
    if (!ds__utf8_valid(id, len, NULL)) return ds__fail(DS_ERR_CORRUPT, "id %s", why);   /* do not echo the bytes */
    return ds__fail(DS_ERR_CORRUPT, "id '%.*s' %s", (int)DS_MIN(len, 60), id, why);
}

/* What cJSON would accept but must not be: raw NUL bytes (invalid JSON),
** \u0000 inside a string (cJSON would cut the string there, silently
** truncating an id or a text, so two ids could collide as a false duplicate),
** and, for a clear message instead of "malformed JSON", a lone UTF-16
** surrogate escape and nesting deeper than cJSON's limit. One pass over the
** raw line, tracking whether it is inside a string. */
static ds_status json_prescan(const char *line, size_t len) {
    int in_str = 0, depth = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)line[i];
        if (ch == 0) return ds__fail(DS_ERR_CORRUPT, "NUL byte at byte %zu (not allowed in JSON)", i + 1);
        if (!in_str) {
            if (ch == '"') in_str = 1;
            else if (ch == '{' || ch == '[') {
                if (++depth > CJSON_NESTING_LIMIT)
                    return ds__fail(DS_ERR_CORRUPT, "JSON nested deeper than %d levels at byte %zu",
                                    CJSON_NESTING_LIMIT, i + 1);
            } else if (ch == '}' || ch == ']') depth--;
            continue;
        }
        if (ch == '"') { in_str = 0; continue; }
        if (ch != '\\' || i + 1 >= len) continue;
        if (line[i + 1] != 'u') { i++; continue; }   /* \" \\ \n ...: skip the escaped char */
        unsigned v = 0;
        size_t k = 0;
        for (; k < 4 && i + 2 + k < len; k++) {
            char h = line[i + 2 + k];
            unsigned d = h >= '0' && h <= '9' ? (unsigned)(h - '0') : h >= 'a' && h <= 'f' ? (unsigned)(h - 'a' + 10)
                       : h >= 'A' && h <= 'F' ? (unsigned)(h - 'A' + 10) : 16u;
            if (d == 16) break;
            v = v * 16 + d;
        }
        if (k < 4) return DS_OK;                   /* a bad escape: cJSON reports it */
        if (v == 0)
            return ds__fail(DS_ERR_CORRUPT, "\\u0000 (NUL character) in a string at byte %zu: not allowed, it would "
                            "cut the string", i + 1);
        if (v >= 0xdc00 && v <= 0xdfff)
            return ds__fail(DS_ERR_CORRUPT, "lone UTF-16 low surrogate \\u%04x at byte %zu", v, i + 1);
        if (v >= 0xd800 && v <= 0xdbff) {
            const char *lo = line + i + 6;
            unsigned w = 0;
            int ok = i + 12 <= len && lo[0] == '\\' && lo[1] == 'u';
            for (int j = 2; ok && j < 6; j++) {
                char h = lo[j];
                unsigned d = h >= '0' && h <= '9' ? (unsigned)(h - '0') : h >= 'a' && h <= 'f' ? (unsigned)(h - 'a' + 10)
                           : h >= 'A' && h <= 'F' ? (unsigned)(h - 'A' + 10) : 16u;
                if (d == 16) ok = 0;
                w = w * 16 + d;
            }
            if (!ok || w < 0xdc00 || w > 0xdfff)
                return ds__fail(DS_ERR_CORRUPT, "lone UTF-16 high surrogate \\u%04x at byte %zu (no low surrogate after it)",
                                v, i + 1);
            i += 6;                                 /* skip the pair's first half; the loop skips the rest */
        }
        i += 5;
    }
    return DS_OK;
}

/* One JSON value per line into c->json, for every JSON format: UTF-8, the
** prescan (NUL, lone surrogates, depth), and nothing but whitespace after
** the value (a second object glued on would otherwise be lost silently).
** any: DS_CORPUS_JSON, whose parse error says "not a JSON object". */
static ds_status parse_json_line(ds_corpus *c, const char *line, size_t len, int any) {
    size_t bad;
    if (!ds__utf8_valid(line, len, &bad)) return ds__fail(DS_ERR_CORRUPT, "invalid UTF-8 at byte %zu", bad + 1);
    if (c->json) { cJSON_Delete(c->json); c->json = NULL; }
    ds_status rc = json_prescan(line, len);
    if (rc != DS_OK) return rc;
    const char *end = NULL;
    c->json = cJSON_ParseWithLengthOpts(line, len, &end, 0);
    if (c->json == NULL) {
        const char *at = cJSON_GetErrorPtr();
        size_t off = (at && at >= line && at <= line + len) ? (size_t)(at - line) : 0;
        return any ? ds__fail(DS_ERR_CORRUPT, "not a JSON object (malformed JSON near byte %zu)", off + 1)
                   : ds__fail(DS_ERR_CORRUPT, "malformed JSON near byte %zu", off + 1);
    }
    if (end != NULL && end >= line && end <= line + len) {
        size_t off = (size_t)(end - line);
        while (off < len && (line[off] == ' ' || line[off] == '\t' || line[off] == '\r')) off++;
        if (off < len)
            return ds__fail(DS_ERR_CORRUPT, "unexpected text after the JSON value at byte %zu", off + 1);
    }
    return DS_OK;
}

/* Parses one JSON line into doc. Returns DS_OK or DS_ERR_CORRUPT (message set
** without the "file:line: " prefix, which the caller adds). */
static ds_status parse_json(ds_corpus *c, char *line, size_t len, ds_doc *doc) {
    size_t bad;
    ds_status rc = parse_json_line(c, line, len, 0);
    if (rc != DS_OK) return rc;
    if (!cJSON_IsObject(c->json)) return ds__fail(DS_ERR_CORRUPT, "JSON line is not an object");
    cJSON *id = cJSON_GetObjectItemCaseSensitive(c->json, c->id_field);
    if (id == NULL) return ds__fail(DS_ERR_CORRUPT, "missing id field \"%s\"", c->id_field);
    if (cJSON_IsString(id) && id->valuestring) {
        doc->id = id->valuestring;
    } else if (cJSON_IsNumber(id) && id->valuedouble == (double)(long long)id->valuedouble &&
               id->valuedouble >= -9e15 && id->valuedouble <= 9e15) {
        snprintf(c->idnum, sizeof c->idnum, "%lld", (long long)id->valuedouble);
        doc->id = c->idnum;
    } else {
        return ds__fail(DS_ERR_CORRUPT, "id field \"%s\" is not a string or an integer", c->id_field);
    }
    doc->id_len = strlen(doc->id);
    if (doc->id_len == 0) return ds__fail(DS_ERR_CORRUPT, "empty id");
    if ((rc = check_id(doc->id, doc->id_len)) != DS_OK) return rc;
    const char *fields[2] = { c->title_field, c->text_field };
    const char **dst[2] = { &doc->title, &doc->text };
    size_t *dlen[2] = { &doc->title_len, &doc->text_len };
    for (int i = 0; i < 2; i++) {
        *dst[i] = "";
        *dlen[i] = 0;
        if (fields[i][0] == '\0') continue;
        cJSON *f = cJSON_GetObjectItemCaseSensitive(c->json, fields[i]);
        if (f == NULL || cJSON_IsNull(f)) continue;
        if (!cJSON_IsString(f) || f->valuestring == NULL)
            return ds__fail(DS_ERR_CORRUPT, "field \"%s\" is not a string", fields[i]);
        *dst[i] = f->valuestring;
        *dlen[i] = strlen(f->valuestring);
        /* \u escapes were decoded by cJSON; re-check what they produced. */
        if (!ds__utf8_valid(*dst[i], *dlen[i], &bad))
            return ds__fail(DS_ERR_CORRUPT, "field \"%s\": invalid UTF-8 (from an escape)", fields[i]);
    }
    if (doc->text_len == 0 && doc->title_len == 0) {
        if (c->title_field[0] == '\0')    /* e.g. a queries file: no title to fall back on */
            return ds__fail(DS_ERR_CORRUPT, "empty text (\"%s\" is missing or empty)", c->text_field);
        return ds__fail(DS_ERR_CORRUPT, "empty document (no \"%s\" and no \"%s\")", c->text_field, c->title_field);
    }
    return DS_OK;
}

/* DS_CORPUS_JSON: any JSON object per line, read with ds_corpus_get_*; the
** document is only its position (id "", no title or text). */
static ds_status parse_json_any(ds_corpus *c, char *line, size_t len, ds_doc *doc) {
    ds_status rc = parse_json_line(c, line, len, 1);
    if (rc != DS_OK) return rc;
    if (!cJSON_IsObject(c->json)) return ds__fail(DS_ERR_CORRUPT, "not a JSON object");
    doc->id = "";
    doc->id_len = 0;
    doc->title = doc->text = "";
    doc->title_len = doc->text_len = 0;
    return DS_OK;
}

static ds_status parse_tsv(char *line, size_t len, ds_doc *doc) {
    size_t bad;
    if (!ds__utf8_valid(line, len, &bad)) return ds__fail(DS_ERR_CORRUPT, "invalid UTF-8 at byte %zu", bad + 1);
    /* A NUL would end the stored copy of the text (a C string) early while
    ** the analyzer indexed all of it. */
    const char *nul = memchr(line, '\0', len);
    if (nul != NULL) return ds__fail(DS_ERR_CORRUPT, "NUL byte at byte %zu", (size_t)(nul - line) + 1);
    char *tab = memchr(line, '\t', len);
    if (tab == NULL) return ds__fail(DS_ERR_CORRUPT, "no tab: expected \"id<TAB>text\"");
    *tab = '\0';
    doc->id = line;
    doc->id_len = (size_t)(tab - line);
    if (doc->id_len == 0) return ds__fail(DS_ERR_CORRUPT, "empty id");
    ds_status rc = check_id(doc->id, doc->id_len);
    if (rc != DS_OK) return rc;
    doc->title = "";
    doc->title_len = 0;
    doc->text = tab + 1;
    doc->text_len = len - doc->id_len - 1;
    if (doc->text_len == 0) return ds__fail(DS_ERR_CORRUPT, "empty text");
    return DS_OK;
}

/* Reads the next file of a directory corpus into fbuf. */
static ds_status read_file_doc(ds_corpus *c, ds_doc *doc) {
    const char *rel = c->files[c->i_file++];
    char full[4096];
    if ((size_t)snprintf(full, sizeof full, "%s/%s", c->path, rel) >= sizeof full)
        return ds__fail(DS_ERR_RANGE, "%s/%s: path too long", c->path, rel);
    free_str(c->env, c->cur_file);
    c->cur_file = ds__strdup(c->env, full);
    int fd = open(full, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return ds__fail(DS_ERR_IO, "%s: %s", full, strerror(errno));
    ds_status rc = DS_OK;
    struct stat st;
    size_t len = 0;
    if (fstat(fd, &st) != 0) { rc = ds__fail(DS_ERR_IO, "%s: %s", full, strerror(errno)); goto done; }
    if ((uint64_t)st.st_size > c->max_doc) {
        rc = ds__fail(DS_ERR_CORRUPT, "%s: file of %llu bytes exceeds the limit of %zu bytes", full,
                      (unsigned long long)st.st_size, c->max_doc);
        goto done;
    }
    size_t want = (size_t)st.st_size + 1;
    if (want > c->fbuf_cap) {
        char *nb = ds__realloc(c->env, c->fbuf, c->fbuf_cap, want);
        if (nb == NULL) { rc = ds__fail(DS_ERR_NOMEM, "%s: out of memory", full); goto done; }
        c->fbuf = nb;
        c->fbuf_cap = want;
    }
    while (len < (size_t)st.st_size) {
        ssize_t n = read(fd, c->fbuf + len, (size_t)st.st_size - len);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) { rc = ds__fail(DS_ERR_IO, "%s: read error: %s", full, strerror(errno)); goto done; }
        if (n == 0) break;   /* file shrank meanwhile: take what is there */
        len += (size_t)n;
    }
    c->bytes += len;
    c->fbuf[len] = '\0';
    size_t bad;
    if (!ds__utf8_valid(c->fbuf, len, &bad)) {
        rc = ds__fail(DS_ERR_CORRUPT, "%s: invalid UTF-8 at byte %zu (binary file?)", full, bad + 1);
        goto done;
    }
    if (len == 0) { rc = ds__fail(DS_ERR_CORRUPT, "%s: empty file", full); goto done; }
    if (memchr(c->fbuf, '\0', len) != NULL) {
        rc = ds__fail(DS_ERR_CORRUPT, "%s: NUL byte at byte %zu (binary file?)", full,
                      (size_t)((char *)memchr(c->fbuf, '\0', len) - c->fbuf) + 1);
        goto done;
    }
    if (check_id(rel, strlen(rel)) != DS_OK) { ds__fail_prefix(DS_ERR_CORRUPT, "%s: file name: ", full); rc = DS_ERR_CORRUPT; goto done; }
    doc->id = rel;
    doc->id_len = strlen(rel);
    doc->title = "";
    doc->title_len = 0;
    doc->text = c->fbuf;
    doc->text_len = len;
    doc->file = c->cur_file ? c->cur_file : c->path;
    doc->line = 0;
done:
    close(fd);
    return rc;
}

ds_status ds_corpus_next(ds_corpus *c, ds_doc *doc) {
    if (doc) memset(doc, 0, sizeof *doc);
    if (c == NULL || doc == NULL) return ds__fail(DS_ERR_INVALID, "ds_corpus_next: NULL argument");
    for (;;) {
        ds_status rc;
        if (c->fmt == DS_CORPUS_DIR) {
            if (c->i_file >= c->n_files) return DS_OK;
            rc = read_file_doc(c, doc);
            if (rc == DS_OK) return DS_OK;
        } else {
            char *line = NULL;
            size_t len = 0;
            int r = next_line(c, &line, &len);
            if (r == 0) return DS_OK;
            if (r == -1) return c->io_rc;
            doc->file = c->path;
            doc->line = c->line;
            if (r == -2) {
                rc = ds__fail(DS_ERR_CORRUPT, "%s:%llu: line longer than %zu bytes (raise --max-doc-mb)", c->path,
                              (unsigned long long)c->line, c->max_doc);
            } else {
                /* Blank lines carry no document: skipped silently, like
                ** trailing newlines at the end of a file. */
                size_t i = 0;
                while (i < len && (line[i] == ' ' || line[i] == '\t')) i++;
                if (i == len) continue;
                rc = c->fmt == DS_CORPUS_TSV ? parse_tsv(line, len, doc)
                   : c->fmt == DS_CORPUS_JSON ? parse_json_any(c, line, len, doc) : parse_json(c, line, len, doc);
                if (rc == DS_OK) return DS_OK;
                ds__fail_prefix(rc, "%s:%llu: ", c->path, (unsigned long long)c->line);
            }
        }
        if (rc == DS_ERR_NOMEM || rc == DS_ERR_IO || rc == DS_ERR_RANGE || !c->skip_bad) {
            if (rc == DS_ERR_IO && c->fmt == DS_CORPUS_DIR && c->skip_bad) {
                /* an unreadable file in a directory is one bad document */
            } else {
                const char *f = doc->file;
                uint64_t l = doc->line;
                memset(doc, 0, sizeof *doc);   /* no half-filled document */
                doc->file = f;
                doc->line = l;
                return rc;
            }
        }
        c->skipped++;
        ds__log(c->env, DS_LOG_WARN, "skipped: %s", ds_errmsg());
        memset(doc, 0, sizeof *doc);
    }
}

/* ---- DS_CORPUS_JSON field access ------------------------------------------ */

static const cJSON *json_field(const ds_corpus *c, const char *key) {
    if (c == NULL || key == NULL || c->fmt != DS_CORPUS_JSON || c->json == NULL) return NULL;
    return cJSON_GetObjectItemCaseSensitive(c->json, key);
}

ds_status ds_corpus_get_string(const ds_corpus *c, const char *key, const char **s, size_t *len) {
    if (s) *s = NULL;
    if (len) *len = 0;
    if (c == NULL || key == NULL || s == NULL || len == NULL || c->fmt != DS_CORPUS_JSON)
        return ds__fail(DS_ERR_INVALID, "ds_corpus_get_string: NULL argument or not a DS_CORPUS_JSON reader");
    const cJSON *f = json_field(c, key);
    if (f == NULL) return DS_ERR_NOTFOUND;
    if (!cJSON_IsString(f) || f->valuestring == NULL)
        return ds__fail(DS_ERR_CORRUPT, "%s:%llu: \"%s\" is not a string", c->path, (unsigned long long)c->line, key);
    size_t bad, n = strlen(f->valuestring);
    /* \u escapes were decoded by cJSON; re-check what they produced. */
    if (!ds__utf8_valid(f->valuestring, n, &bad))
        return ds__fail(DS_ERR_CORRUPT, "%s:%llu: \"%s\": invalid UTF-8 (from an escape)", c->path,
                        (unsigned long long)c->line, key);
    *s = f->valuestring;
    *len = n;
    return DS_OK;
}

ds_status ds_corpus_get_token_ids(ds_corpus *c, const char *key, const int32_t **ids, size_t *n) {
    if (ids) *ids = NULL;
    if (n) *n = 0;
    if (c == NULL || key == NULL || ids == NULL || n == NULL || c->fmt != DS_CORPUS_JSON)
        return ds__fail(DS_ERR_INVALID, "ds_corpus_get_token_ids: NULL argument or not a DS_CORPUS_JSON reader");
    const cJSON *a = json_field(c, key);
    if (a == NULL) return DS_ERR_NOTFOUND;
    int k = cJSON_IsArray(a) ? cJSON_GetArraySize(a) : 0;
    if (k <= 0)
        return ds__fail(DS_ERR_CORRUPT, "%s:%llu: \"%s\" must be a non-empty array of token ids", c->path,
                        (unsigned long long)c->line, key);
    if ((size_t)k > c->toks_cap) {
        int32_t *nt = ds__alloc(c->env, (size_t)k * sizeof *nt, 64);
        if (nt == NULL) return ds__fail(DS_ERR_NOMEM, "%s:%llu: out of memory", c->path, (unsigned long long)c->line);
        ds__free(c->env, c->toks, c->toks_cap * sizeof *c->toks);
        c->toks = nt;
        c->toks_cap = (size_t)k;
    }
    size_t i = 0;
    for (const cJSON *e = a->child; e != NULL && i < (size_t)k; e = e->next, i++) {
        double d = cJSON_IsNumber(e) ? e->valuedouble : -1;
        if (!(d >= 0 && d <= 2147483647.0) || (double)(int32_t)d != d)
            return ds__fail(DS_ERR_CORRUPT, "%s:%llu: \"%s\"[%zu] is not a token id", c->path,
                            (unsigned long long)c->line, key, i);
        c->toks[i] = (int32_t)d;
    }
    *ids = c->toks;
    *n = i;
    return DS_OK;
}
