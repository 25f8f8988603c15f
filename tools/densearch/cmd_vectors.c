/* cmd_vectors.c -- `densearch vectors build|search|bench`.
**
** Vector files: .fvecs (per row: i32 dim, dim x f32), .ivecs (same with i32)
** and .npy (format 1.0-3.0, little-endian f4 or f8, C order, 1-D or 2-D).
** Every input is hostile: a bad header, a row whose dim differs from the
** first, a truncated file or a size that overflows gives a message naming
** the file, the row or the field, and exit 1 -- never a crash.
**
** Uses only densearch.h; the library parallelises builds and batched
** searches itself over --threads; `search --batch 1 --threads N` runs N
** client threads (searches on one index are thread-safe).
*/
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>
#include <sys/stat.h>

#define DS_ARRAY_LEN_CLI(a) (sizeof(a) / sizeof((a)[0]))

/* CPU seconds used by the whole process (all threads): on a shared machine
** this is steadier than wall time, so bench reports both. */
static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ======================================================================== */
/* readers                                                                  */
/* ======================================================================== */
typedef struct vecs {
    float   *x;        /* n x dim, row-major (malloc) */
    size_t   n, dim;
} vecs;

static int file_error(const char *path, const char *fmt, ...) CLI_PRINTF(2, 3);
static int file_error(const char *path, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "densearch: %s: ", path);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return CLI_FAIL;
}

static int read_file(const char *path, unsigned char **out, size_t *size) {
    *out = NULL;
    *size = 0;
    FILE *f = fopen(path, "rb");
    if (f == NULL) return file_error(path, "cannot open: %s", strerror(errno));
    if (fseek(f, 0, SEEK_END) != 0) { fclose(f); return file_error(path, "cannot seek"); }
    long len = ftell(f);
    if (len < 0 || fseek(f, 0, SEEK_SET) != 0) { fclose(f); return file_error(path, "cannot determine its size"); }
    unsigned char *b = malloc((size_t)len + 1);
    if (b == NULL) { fclose(f); return file_error(path, "out of memory for %ld bytes", len); }
    if (len > 0 && fread(b, 1, (size_t)len, f) != (size_t)len) {
        free(b);
        fclose(f);
        return file_error(path, "read failed");
    }
    fclose(f);
    *out = b;
    *size = (size_t)len;
    return CLI_OK;
}

static int32_t load_i32(const unsigned char *p) {
    uint32_t v = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    int32_t r;
    memcpy(&r, &v, 4);
    return r;
}

/* .fvecs / .ivecs: elem 4 bytes; is_int converts i32 to float exactly. */
static int parse_xvecs(const char *path, const unsigned char *b, size_t size, int is_int, vecs *v) {
    if (size == 0) return file_error(path, "empty file");
    if (size < 4) return file_error(path, "truncated: %zu bytes, no room for the first row's dimension", size);
    int32_t d = load_i32(b);
    if (d <= 0 || d > 65536) return file_error(path, "row 0: dimension %d is outside 1..65536", (int)d);
    size_t row = 4 + 4 * (size_t)d, n = 0;
    /* Walk the rows first so the message names the first bad one. */
    for (size_t off = 0; off < size; off += row, n++) {
        if (size - off < 4) return file_error(path, "row %zu: truncated inside the dimension field", n);
        int32_t di = load_i32(b + off);
        if (di != d) return file_error(path, "row %zu: dimension %d differs from the first row's %d", n, (int)di, (int)d);
        if (size - off < row) return file_error(path, "row %zu: truncated (%zu of %zu bytes)", n, size - off, row);
    }
    float *x = malloc(n * (size_t)d * sizeof(float) + 1);
    if (x == NULL) return file_error(path, "out of memory for %zu x %d", n, (int)d);
    for (size_t i = 0; i < n; i++) {
        const unsigned char *r = b + i * row;
        int32_t di = load_i32(r);
        if (di != d) {
            free(x);
            return file_error(path, "row %zu: dimension %d differs from the first row's %d", i, (int)di, (int)d);
        }
        if (is_int) {
            for (int32_t j = 0; j < d; j++) x[i * (size_t)d + (size_t)j] = (float)load_i32(r + 4 + 4 * (size_t)j);
        } else {
            memcpy(x + i * (size_t)d, r + 4, 4 * (size_t)d);
        }
    }
    v->x = x;
    v->n = n;
    v->dim = (size_t)d;
    return CLI_OK;
}

/* Finds 'key': in the npy header dict and returns a pointer after the colon. */
static const char *npy_field(const char *h, const char *key) {
    const char *p = strstr(h, key);
    if (p == NULL) return NULL;
    p += strlen(key);
    while (*p == ' ') p++;
    if (*p != ':') return NULL;
    p++;
    while (*p == ' ') p++;
    return p;
}

static int parse_npy(const char *path, const unsigned char *b, size_t size, vecs *v) {
    if (size < 10 || memcmp(b, "\x93NUMPY", 6) != 0) return file_error(path, "not a .npy file (bad magic)");
    unsigned major = b[6];
    size_t hlen, hoff;
    if (major == 1) { hlen = (size_t)b[8] | (size_t)b[9] << 8; hoff = 10; }
    else if (major == 2 || major == 3) {
        if (size < 12) return file_error(path, "truncated .npy header");
        hlen = (size_t)(uint32_t)load_i32(b + 8);
        hoff = 12;
    } else return file_error(path, ".npy format version %u is not supported", major);
    if (hlen > size - hoff) return file_error(path, ".npy header length %zu runs past the end of the file", hlen);
    if (hlen > 1 << 20) return file_error(path, ".npy header of %zu bytes is implausible", hlen);
    char *h = malloc(hlen + 1);
    if (h == NULL) return file_error(path, "out of memory");
    memcpy(h, b + hoff, hlen);
    h[hlen] = '\0';
    int rc = CLI_OK;
    size_t elem = 0;
    const char *descr = npy_field(h, "'descr'"), *fo = npy_field(h, "'fortran_order'"), *shape = npy_field(h, "'shape'");
    unsigned long long dims[2] = { 0, 1 };
    int nd = 0;
    if (descr == NULL || fo == NULL || shape == NULL) {
        rc = file_error(path, ".npy header lacks descr, fortran_order or shape: %s", h);
    } else if (strncmp(descr, "'<f4'", 5) == 0 || strncmp(descr, "'float32'", 9) == 0) {
        elem = 4;
    } else if (strncmp(descr, "'<f8'", 5) == 0) {
        elem = 8;
    } else {
        /* quote just the dtype token ('<i4'), not the rest of the header */
        int dl = 0;
        if (descr[0] == '\'') {
            const char *q = strchr(descr + 1, '\'');
            dl = q ? (int)(q - descr) + 1 : 0;
        }
        if (dl <= 0 || dl > 40) dl = (int)strcspn(descr, ",}");
        if (dl > 40) dl = 40;
        rc = file_error(path, ".npy dtype %.*s is not supported (use little-endian float32 or float64)", dl, descr);
    }
    if (rc == CLI_OK && strncmp(fo, "False", 5) != 0) rc = file_error(path, ".npy arrays in Fortran order are not supported");
    if (rc == CLI_OK) {
        const char *p = shape;
        if (*p++ != '(') rc = file_error(path, ".npy shape is malformed");
        while (rc == CLI_OK && *p != ')') {
            while (*p == ' ' || *p == ',') p++;
            if (*p == ')') break;
            char *end;
            errno = 0;
            unsigned long long val = strtoull(p, &end, 10);
            if (end == p || errno != 0 || nd >= 2) { rc = file_error(path, ".npy shape must be (n,) or (n, dim)"); break; }
            dims[nd++] = val;
            p = end;
        }
        if (rc == CLI_OK && nd == 0) rc = file_error(path, ".npy shape must be (n,) or (n, dim)");
    }
    free(h);
    if (rc != CLI_OK) return rc;
    if (nd == 1) { dims[1] = dims[0]; dims[0] = 1; }
    if (dims[1] == 0 || dims[1] > 65536) return file_error(path, ".npy dimension %llu is outside 1..65536", dims[1]);
    size_t data = size - hoff - hlen;
    if (dims[0] > data / dims[1] / elem || dims[0] * dims[1] * elem != data)
        return file_error(path, ".npy holds %zu data bytes, shape (%llu, %llu) needs %s", data, dims[0], dims[1],
                          dims[0] > data / dims[1] / elem ? "more (truncated)" : "fewer (trailing bytes)");
    size_t n = (size_t)dims[0], d = (size_t)dims[1];
    float *x = malloc(n * d * sizeof(float) + 1);
    if (x == NULL) return file_error(path, "out of memory");
    const unsigned char *src = b + hoff + hlen;
    if (elem == 4) memcpy(x, src, n * d * 4);
    else for (size_t i = 0; i < n * d; i++) { double t; memcpy(&t, src + 8 * i, 8); x[i] = (float)t; }
    v->x = x;
    v->n = n;
    v->dim = d;
    return CLI_OK;
}

static int ends_with(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

/* Reads .fvecs, .ivecs (as floats) or .npy, by extension (or magic). */
static int read_vecs(const char *path, vecs *v) {
    memset(v, 0, sizeof *v);
    unsigned char *b;
    size_t size;
    int rc = read_file(path, &b, &size);
    if (rc != CLI_OK) return rc;
    if (ends_with(path, ".npy") || (size >= 6 && memcmp(b, "\x93NUMPY", 6) == 0)) rc = parse_npy(path, b, size, v);
    else rc = parse_xvecs(path, b, size, ends_with(path, ".ivecs"), v);
    free(b);
    if (rc == CLI_OK && v->n == 0) { free(v->x); v->x = NULL; rc = file_error(path, "holds no vectors"); }
    for (size_t i = 0; rc == CLI_OK && i < v->n * v->dim; i++)
        if (!isfinite(v->x[i])) {
            rc = file_error(path, "row %zu, column %zu: value is not finite", i / v->dim, i % v->dim);
            free(v->x);
            v->x = NULL;
        }
    return rc;
}

static int write_ivecs(const char *path, const uint64_t *ids, size_t n, size_t k) {
    ds_file_writer *w = NULL;   /* private temporary, lock, rename (docs/format.md 1.4) */
    struct stat ps;
    int fd;
    if (lstat(path, &ps) == 0 && !S_ISREG(ps.st_mode)) {
        fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);   /* /dev/stdout, a FIFO, a symlink: in place */
    } else {
        ds_status st0 = ds_file_writer_open(cli_env(), path, &w);
        if (st0 != DS_OK) return cli_fail_rc(st0, "cannot write %s", path);
        fd = dup(ds_file_writer_fd(w));
    }
    ds_status st = DS_OK;
    FILE *f = fd >= 0 ? fdopen(fd, "wb") : NULL;
    if (f == NULL) {
        if (fd >= 0) close(fd);
        ds_file_writer_abort(w);
        return file_error(path, "cannot create: %s", strerror(errno));
    }
    unsigned char *row = malloc(4 * (k + 1));
    if (row == NULL) { fclose(f); ds_file_writer_abort(w); return file_error(path, "out of memory"); }
    int ok = 1;
    for (size_t i = 0; i < n && ok; i++) {
        uint32_t kk[1];
        kk[0] = (uint32_t)k;
        memcpy(row, kk, 4);
        for (size_t j = 0; j < k; j++) {
            uint64_t id = ids[i * k + j];
            int32_t v = id > INT32_MAX ? -1 : (int32_t)id;   /* ivecs holds i32: missing or huge ids are -1 */
            memcpy(row + 4 + 4 * j, &v, 4);
        }
        ok = fwrite(row, 1, 4 * (k + 1), f) == 4 * (k + 1);
    }
    free(row);
    if (fclose(f) != 0) ok = 0;
    if (!ok) {
        ds_file_writer_abort(w);
        return file_error(path, "write failed");
    }
    if (w == NULL) return CLI_OK;
    st = ds_file_writer_commit(w);
    return st == DS_OK ? CLI_OK : cli_fail_rc(st, "cannot write %s", path);
}

/* ======================================================================== */
/* options                                                                  */
/* ======================================================================== */
typedef struct vopts {
    const char *input, *out, *index, *queries, *base, *truth, *svg;
    ds_index_opts io;
    uint64_t k, ef, nprobe, rerank, threads, batch, max_queries;
    int have_ef, have_nprobe, have_rerank;
    unsigned sweep[32];       /* bench --sweep: the parameter values to try, in order */
    size_t n_sweep;
} vopts;

/* "10,16,24": up to 32 values in [1, 2^20]; anything else is a usage error
** (a typo must not silently shorten a benchmark sweep). */
int cli_read_vectors(const char *path, float **x, size_t *n, size_t *dim) {
    vecs v;
    int rc = read_vecs(path, &v);
    *x = v.x;
    *n = v.n;
    *dim = v.dim;
    return rc;
}

static int parse_sweep(const char *s, vopts *o) {
    o->n_sweep = 0;
    const char *p = s;
    for (;;) {
        char *end;
        errno = 0;
        unsigned long v = strtoul(p, &end, 10);
        if (end == p || errno || v < 1 || v > (1ul << 20) || (*end != ',' && *end != '\0') || *p == '-' || *p == '+')
            return cli_usage_error("--sweep: expected comma-separated whole numbers in [1, 1048576], got '%s'", s), 0;
        if (o->n_sweep == sizeof o->sweep / sizeof o->sweep[0])
            return cli_usage_error("--sweep: at most %zu values", sizeof o->sweep / sizeof o->sweep[0]), 0;
        o->sweep[o->n_sweep++] = (unsigned)v;
        if (*end == '\0') return 1;
        p = end + 1;
    }
}

static int parse_type(const char *s, ds_index_type *t) {
    if (strcmp(s, "flat") == 0) *t = DS_INDEX_FLAT;
    else if (strcmp(s, "hnsw") == 0) *t = DS_INDEX_HNSW;
    else if (strcmp(s, "ivfpq") == 0) *t = DS_INDEX_IVFPQ;
    else if (strcmp(s, "binary") == 0) *t = DS_INDEX_BINARY;
    else return cli_usage_error("--type must be flat, hnsw, ivfpq or binary, got '%s'", s) , 0;
    return 1;
}

/* Options that set a ds_index_opts field, shared by `vectors` and `index`:
** returns 0 when a is not one, 1 or 2 (arguments consumed), -1 after a
** usage error. */
int cli_index_option(const char *a, const char *val, ds_index_opts *io) {
    uint64_t u;
#define NEED_VAL() do { if (val == NULL) return cli_usage_error("%s needs a value", a), -1; } while (0)
#define U64(field, lo, hi) do { NEED_VAL(); if (!cli_parse_u64(a, val, lo, hi, &u)) return -1; field = u; return 2; } while (0)
    if (strcmp(a, "--type") == 0 || strcmp(a, "--vectors") == 0) { NEED_VAL(); return parse_type(val, &io->type) ? 2 : -1; }
    if (strcmp(a, "--metric") == 0) {
        NEED_VAL();
        if (strcmp(val, "ip") == 0) io->metric = DS_METRIC_IP;
        else if (strcmp(val, "l2") == 0) io->metric = DS_METRIC_L2;
        else if (strcmp(val, "cosine") == 0) io->metric = DS_METRIC_COSINE;
        else return cli_usage_error("--metric must be ip, l2 or cosine, got '%s'", val), -1;
        return 2;
    }
    if (strcmp(a, "--storage") == 0) {
        NEED_VAL();
        if (strcmp(val, "f32") == 0) io->storage = DS_STORAGE_F32;
        else if (strcmp(val, "f16") == 0) io->storage = DS_STORAGE_F16;
        else if (strcmp(val, "int8") == 0) io->storage = DS_STORAGE_INT8;
        else return cli_usage_error("--storage must be f32, f16 or int8, got '%s'", val), -1;
        return 2;
    }
    if (strcmp(a, "--m") == 0) U64(io->hnsw_m, 2, 256);
    if (strcmp(a, "--ef-construction") == 0) U64(io->hnsw_ef_construction, 1, 1000);
    if (strcmp(a, "--nlist") == 0) U64(io->ivf_nlist, 1, 1u << 24);
    if (strcmp(a, "--pq-m") == 0) U64(io->pq_m, 1, 65536);
    if (strcmp(a, "--pq-bits") == 0) U64(io->pq_bits, 4, 8);
    if (strcmp(a, "--opq") == 0) { io->opq = 1; return 1; }
    if (strcmp(a, "--itq") == 0) { io->itq = 1; return 1; }
    if (strcmp(a, "--seed") == 0) U64(io->seed, 0, UINT64_MAX);
#undef U64
#undef NEED_VAL
    return 0;
}

/* Parses every option any vectors subcommand takes; returns CLI_OK or the
** usage exit code. Unknown options are errors. */
static int parse_opts(int argc, char **argv, vopts *o) {
    memset(o, 0, sizeof *o);
    ds_index_opts_init(&o->io);
    o->k = 10;
    o->batch = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        uint64_t u;
        int used;
#define NEED_VAL() do { if (val == NULL) return cli_usage_error("%s needs a value", a); i++; } while (0)
#define U64(field, lo, hi) do { NEED_VAL(); if (!cli_parse_u64(a, val, lo, hi, &u)) return CLI_USAGE; field = u; } while (0)
        if (strcmp(a, "--input") == 0) { NEED_VAL(); o->input = val; }
        else if (strcmp(a, "--out") == 0) { NEED_VAL(); o->out = val; }
        else if (strcmp(a, "--index") == 0) { NEED_VAL(); o->index = val; }
        else if (strcmp(a, "--queries") == 0) { NEED_VAL(); o->queries = val; }
        else if (strcmp(a, "--base") == 0) { NEED_VAL(); o->base = val; }
        else if (strcmp(a, "--truth") == 0) { NEED_VAL(); o->truth = val; }
        else if (strcmp(a, "--svg") == 0) { NEED_VAL(); o->svg = val; }
        else if ((used = cli_index_option(a, val, &o->io)) != 0) {
            if (used < 0) return CLI_USAGE;
            i += used - 1;
        }
        else if (strcmp(a, "--threads") == 0) U64(o->threads, 1, 1024);
        else if (strcmp(a, "--k") == 0) U64(o->k, 1, 100000);
        else if (strcmp(a, "--ef") == 0) { U64(o->ef, 1, 1u << 20); o->have_ef = 1; }
        else if (strcmp(a, "--nprobe") == 0) { U64(o->nprobe, 1, 1u << 24); o->have_nprobe = 1; }
        else if (strcmp(a, "--rerank") == 0) { U64(o->rerank, 1, 1u << 20); o->have_rerank = 1; }
        else if (strcmp(a, "--batch") == 0) U64(o->batch, 1, UINT64_MAX);
        else if (strcmp(a, "--max-queries") == 0) U64(o->max_queries, 1, UINT64_MAX);
        else if (strcmp(a, "--sweep") == 0) { NEED_VAL(); if (!parse_sweep(val, o)) return CLI_USAGE; }
        else return cli_usage_error("vectors %s: unknown option '%s'", argv[0], a);
#undef U64
#undef NEED_VAL
    }
    if (o->threads) cli_set_threads((unsigned)o->threads);
    return CLI_OK;
}

/* Builds an index from v with o->io, showing progress; *out on success. */
static int build_index(const vopts *o, const vecs *v, const char *label, ds_index **out, double *secs, double *cpu) {
    *out = NULL;
    ds_env *env = cli_env();
    ds_index *ix;
    ds_status rc = ds_index_create(env, v->dim, &o->io, &ix);
    if (rc != DS_OK) return cli_fail_rc(rc, "cannot create the index");
    double t0 = cli_now(), c0 = cpu_now();
    if (o->io.type == DS_INDEX_IVFPQ || o->io.type == DS_INDEX_BINARY) {
        rc = ds_index_train(ix, v->x, v->n);
        if (rc != DS_OK) { ds_index_close(ix); return cli_fail_rc(rc, "training failed"); }
    }
    cli_progress p;
    cli_progress_init(&p, label, "vec");
    size_t chunk = 20000;
    for (size_t i = 0; i < v->n; i += chunk) {
        size_t n = v->n - i < chunk ? v->n - i : chunk;
        rc = ds_index_add(ix, v->x + i * v->dim, n, NULL);
        if (rc != DS_OK) { ds_index_close(ix); return cli_fail_rc(rc, "adding vectors %zu..%zu failed", i, i + n - 1); }
        cli_progress_cb(i + n, v->n, &p);
    }
    cli_progress_done(&p, v->n);
    *secs = cli_now() - t0;
    if (cpu) *cpu = cpu_now() - c0;
    *out = ix;
    return CLI_OK;
}

/* ======================================================================== */
/* build                                                                    */
/* ======================================================================== */
static int vectors_build(int argc, char **argv) {
    vopts o;
    int rc = parse_opts(argc, argv, &o);
    if (rc != CLI_OK) return rc;
    if (o.input == NULL || o.out == NULL) return cli_usage_error("vectors build needs --input FILE and --out INDEX");
    vecs v;
    if ((rc = read_vecs(o.input, &v)) != CLI_OK) return rc;
    ds_index *ix;
    double secs;
    rc = build_index(&o, &v, "build", &ix, &secs, NULL);
    if (rc == CLI_OK) {
        ds_status st = ds_index_save(ix, o.out);
        if (st != DS_OK) rc = cli_fail_rc(st, "cannot save %s", o.out);
        else fprintf(stderr, "built %zu x %zu vectors in %.2f s (%.0f vec/s), index memory %.1f MB (not peak RSS) -> %s\n", v.n, v.dim, secs,
                     (double)v.n / (secs > 0 ? secs : 1e-9), (double)ds_index_memory_bytes(ix) / 1e6, o.out);
        ds_index_close(ix);
    }
    free(v.x);
    return rc;
}

/* ======================================================================== */
/* search                                                                   */
/* ======================================================================== */
static void fill_search_opts(const vopts *o, ds_search_opts *so) {
    ds_search_opts_init(so);
    so->ef_search = (unsigned)o->ef;
    so->nprobe = (unsigned)o->nprobe;
    so->rerank = (unsigned)o->rerank;
}

/* Runs nq queries in batches of `batch` (1: one call per query, as an
** online service). Returns seconds spent, or a negative value on failure. */
typedef struct qjob {
    const ds_index *ix;
    const vecs *q;
    size_t begin, end, k, batch;
    const ds_search_opts *so;
    uint64_t *ids;
    float *scores;
    ds_status rc;
    size_t failed_at;
} qjob;

static void *qjob_run(void *arg) {
    qjob *j = arg;
    for (size_t i = j->begin; i < j->end && j->rc == DS_OK; i += j->batch) {
        size_t b = j->end - i < j->batch ? j->end - i : j->batch;
        j->rc = ds_index_search(j->ix, j->q->x + i * j->q->dim, b, j->k, j->so, j->ids + i * j->k, j->scores + i * j->k, NULL);
        if (j->rc != DS_OK) j->failed_at = i;
    }
    return NULL;
}

/* Batches larger than one are spread over threads by the library itself
** (--threads sets the env); with --batch 1 and --threads N, N client
** threads each send single queries, as N connections to a service would. */
static double run_queries(const ds_index *ix, const vecs *q, size_t nq, size_t k, size_t batch, unsigned threads,
                          const ds_search_opts *so, uint64_t *ids, float *scores) {
    enum { MAX_CLIENTS = 64 };
    qjob jobs[MAX_CLIENTS];
    pthread_t tids[MAX_CLIENTS];
    unsigned nt = batch == 1 && threads > 1 ? (threads > MAX_CLIENTS ? MAX_CLIENTS : threads) : 1;
    if (nt > nq) nt = nq ? (unsigned)nq : 1;
    double t0 = cli_now();
    unsigned started = 0;
    for (unsigned t = 0; t < nt; t++) {
        jobs[t] = (qjob){ ix, q, nq * t / nt, nq * (t + 1) / nt, k, batch, so, ids, scores, DS_OK, 0 };
        if (t > 0 && pthread_create(&tids[t], NULL, qjob_run, &jobs[t]) == 0) started = t;
        else if (t > 0) qjob_run(&jobs[t]);
    }
    qjob_run(&jobs[0]);
    for (unsigned t = 1; t <= started; t++) pthread_join(tids[t], NULL);
    double secs = cli_now() - t0;
    for (unsigned t = 0; t < nt; t++)
        if (jobs[t].rc != DS_OK) { cli_fail_rc(jobs[t].rc, "search failed at query %zu", jobs[t].failed_at); return -1; }
    return secs;
}

static int vectors_search(int argc, char **argv) {
    vopts o;
    int rc = parse_opts(argc, argv, &o);
    if (rc != CLI_OK) return rc;
    if (o.index == NULL || o.queries == NULL || o.out == NULL)
        return cli_usage_error("vectors search needs --index INDEX --queries FILE --out RESULT.ivecs");
    ds_index *ix;
    ds_status st = ds_index_open(cli_env(), o.index, 0, &ix);
    if (st != DS_OK) return cli_fail_rc(st, "cannot open %s", o.index);
    /* a search option the index type does not use is a mistake, not a no-op */
    static const char *const tnames[] = { "flat", "hnsw", "ivfpq", "binary" };
    ds_index_type kind = ds_index_kind(ix);
    const char *unused = o.have_ef && kind != DS_INDEX_HNSW ? "--ef (hnsw only)"
                       : o.have_nprobe && kind != DS_INDEX_IVFPQ ? "--nprobe (ivfpq only)"
                       : o.have_rerank && kind != DS_INDEX_IVFPQ && kind != DS_INDEX_BINARY ? "--rerank (ivfpq and binary only)"
                       : NULL;
    if (unused != NULL) {
        ds_index_close(ix);
        return cli_usage_error("vectors search: %s does not apply to %s, a %s index", unused, o.index,
                               (unsigned)kind < 4 ? tnames[kind] : "?");
    }
    vecs q;
    if ((rc = read_vecs(o.queries, &q)) != CLI_OK) { ds_index_close(ix); return rc; }
    if (q.dim != ds_index_dim(ix)) {
        rc = file_error(o.queries, "queries have dimension %zu, the index has %zu", q.dim, ds_index_dim(ix));
    } else {
        size_t nq = o.max_queries && o.max_queries < q.n ? (size_t)o.max_queries : q.n, k = (size_t)o.k;
        uint64_t *ids = malloc(nq * k * sizeof *ids);
        float *sc = malloc(nq * k * sizeof *sc);
        if (ids == NULL || sc == NULL) rc = file_error(o.queries, "out of memory for %zu x %zu results", nq, k);
        if (rc == CLI_OK) {
            ds_search_opts so;
            fill_search_opts(&o, &so);
            size_t batch = o.batch ? (size_t)o.batch : nq;
            double secs = run_queries(ix, &q, nq, k, batch, (unsigned)o.threads, &so, ids, sc);
            if (secs < 0) rc = CLI_FAIL;
            else {
                fprintf(stderr, "%zu queries in %.3f s: %.0f QPS (batch %zu)\n", nq, secs, (double)nq / (secs > 0 ? secs : 1e-9), batch);
                rc = write_ivecs(o.out, ids, nq, k);
            }
        }
        free(ids);
        free(sc);
    }
    free(q.x);
    ds_index_close(ix);
    return rc;
}

/* ======================================================================== */
/* bench                                                                    */
/* ======================================================================== */
typedef struct point { unsigned param; double recall, qps; } point;   /* qps: wall clock */

static void write_svg(const char *path, const char *title, const point *pts, size_t n) {
    FILE *f = fopen(path, "w");
    if (f == NULL) { file_error(path, "cannot create: %s", strerror(errno)); return; }
    const double W = 640, H = 420, L = 70, R = 20, T = 40, B = 50;
    double rmin = 1, qmin = 1e300, qmax = 0;
    for (size_t i = 0; i < n; i++) {
        if (pts[i].recall < rmin) rmin = pts[i].recall;
        if (pts[i].qps < qmin) qmin = pts[i].qps;
        if (pts[i].qps > qmax) qmax = pts[i].qps;
    }
    rmin = floor(rmin * 20) / 20;
    if (rmin > 0.9) rmin = 0.9;
    double lqmin = log10(qmin > 0 ? qmin : 1) - 0.1, lqmax = log10(qmax > 0 ? qmax : 10) + 0.1;
    fprintf(f, "<svg xmlns='http://www.w3.org/2000/svg' width='%.0f' height='%.0f' font-family='sans-serif' font-size='12'>\n", W, H);
    fprintf(f, "<rect width='100%%' height='100%%' fill='white'/>\n<text x='%.0f' y='22' font-size='14'>%s</text>\n", L, title);
    fprintf(f, "<line x1='%.0f' y1='%.0f' x2='%.0f' y2='%.0f' stroke='black'/>\n", L, H - B, W - R, H - B);
    fprintf(f, "<line x1='%.0f' y1='%.0f' x2='%.0f' y2='%.0f' stroke='black'/>\n", L, T, L, H - B);
    fprintf(f, "<text x='%.0f' y='%.0f'>recall@10</text>\n", (W - R + L) / 2 - 30, H - 12);
    fprintf(f, "<text x='14' y='%.0f' transform='rotate(-90 14 %.0f)'>queries/s (log)</text>\n", (H - B + T) / 2 + 40, (H - B + T) / 2 + 40);
    for (int t = 0; t <= 4; t++) {
        double r = rmin + (1 - rmin) * t / 4, x = L + (W - R - L) * t / 4;
        fprintf(f, "<text x='%.0f' y='%.0f' text-anchor='middle'>%.3f</text>\n", x, H - B + 16, r);
    }
    for (double e = ceil(lqmin); e <= lqmax; e += 1) {
        double y = (H - B) - (H - B - T) * (e - lqmin) / (lqmax - lqmin);
        fprintf(f, "<text x='%.0f' y='%.0f' text-anchor='end'>%.0f</text>\n", L - 4, y + 4, pow(10, e));
    }
    fprintf(f, "<polyline fill='none' stroke='#1f77b4' stroke-width='2' points='");
    for (size_t i = 0; i < n; i++) {
        double x = L + (W - R - L) * (pts[i].recall - rmin) / (1 - rmin);
        double y = (H - B) - (H - B - T) * (log10(pts[i].qps > 0 ? pts[i].qps : 1) - lqmin) / (lqmax - lqmin);
        fprintf(f, "%.1f,%.1f ", x, y);
    }
    fprintf(f, "'/>\n</svg>\n");
    fclose(f);
}

static int vectors_bench(int argc, char **argv) {
    vopts o;
    int rc = parse_opts(argc, argv, &o);
    if (rc != CLI_OK) return rc;
    if (o.base == NULL || o.queries == NULL || o.truth == NULL)
        return cli_usage_error("vectors bench needs --base FILE --queries FILE --truth GT.ivecs");
    vecs base = { 0 }, q = { 0 }, gt = { 0 };
    if ((rc = read_vecs(o.base, &base)) != CLI_OK) return rc;
    if ((rc = read_vecs(o.queries, &q)) != CLI_OK) goto done;
    if ((rc = read_vecs(o.truth, &gt)) != CLI_OK) goto done;
    if (q.dim != base.dim) { rc = file_error(o.queries, "dimension %zu differs from the base's %zu", q.dim, base.dim); goto done; }
    if (gt.n < q.n || gt.dim < 10) { rc = file_error(o.truth, "needs >= 10 neighbours for each of %zu queries", q.n); goto done; }
    size_t nq = o.max_queries && o.max_queries < q.n ? (size_t)o.max_queries : q.n, k = 10;
    ds_index *ix;
    double build_s, build_cpu;
    if ((rc = build_index(&o, &base, "build", &ix, &build_s, &build_cpu)) != CLI_OK) goto done;
    const char *tname = o.io.type == DS_INDEX_HNSW ? "hnsw" : o.io.type == DS_INDEX_IVFPQ ? "ivfpq"
                      : o.io.type == DS_INDEX_BINARY ? "binary" : "flat";
    const char *pname = o.io.type == DS_INDEX_HNSW ? "ef" : o.io.type == DS_INDEX_IVFPQ ? "nprobe"
                      : o.io.type == DS_INDEX_BINARY ? "rerank" : "-";
    printf("# %s: %zu x %zu, build %.2f s, %.1f bytes/vector, simd %s, batch %llu, build cpu %.2f s\n", tname, base.n, base.dim, build_s,
           (double)ds_index_memory_bytes(ix) / (double)base.n, ds_env_simd_name(cli_env()), (unsigned long long)(o.batch ? o.batch : 1), build_cpu);
    printf("%-8s %10s %12s %12s\n", pname, "recall@10", "QPS", "cpuQPS");
    static const unsigned ef_sweep[] = { 10, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512 };
    static const unsigned np_sweep[] = { 1, 2, 4, 8, 16, 32, 64, 128, 256 };
    static const unsigned rr_sweep[] = { 20, 50, 100, 200, 500, 1000, 2000 };
    const unsigned *sweep = ef_sweep;
    size_t n_sweep = DS_ARRAY_LEN_CLI(ef_sweep);
    if (o.io.type == DS_INDEX_IVFPQ) { sweep = np_sweep; n_sweep = DS_ARRAY_LEN_CLI(np_sweep); }
    if (o.io.type == DS_INDEX_BINARY) { sweep = rr_sweep; n_sweep = DS_ARRAY_LEN_CLI(rr_sweep); }
    if (o.n_sweep) { sweep = o.sweep; n_sweep = o.n_sweep; }
    if (o.io.type == DS_INDEX_FLAT) n_sweep = 1;
    if (o.have_ef || o.have_nprobe) n_sweep = 1;
    uint64_t *ids = malloc(nq * k * sizeof *ids);
    float *sc = malloc(nq * k * sizeof *sc);
    point pts[32];
    size_t np = 0;
    for (size_t s = 0; s < n_sweep && ids && sc; s++) {
        ds_search_opts so;
        fill_search_opts(&o, &so);
        unsigned prm = o.have_ef ? (unsigned)o.ef : o.have_nprobe ? (unsigned)o.nprobe : sweep[s];
        if (o.io.type == DS_INDEX_HNSW) so.ef_search = prm;
        else if (o.io.type == DS_INDEX_IVFPQ) so.nprobe = prm;
        else if (o.io.type == DS_INDEX_BINARY) so.rerank = prm;
        double c0 = cpu_now();
        double secs = run_queries(ix, &q, nq, k, o.batch ? (size_t)o.batch : 1, 1, &so, ids, sc);
        double csecs = cpu_now() - c0;
        if (secs < 0) { rc = CLI_FAIL; break; }
        size_t hit = 0;
        for (size_t i = 0; i < nq; i++)
            for (size_t a = 0; a < k; a++)
                for (size_t b = 0; b < k; b++)
                    if (ids[i * k + a] != UINT64_MAX && (double)ids[i * k + a] == (double)gt.x[i * gt.dim + b]) { hit++; break; }
        point pt = { o.io.type == DS_INDEX_FLAT ? 0 : prm, (double)hit / (double)(nq * k), (double)nq / (secs > 0 ? secs : 1e-9) };
        pts[np++] = pt;
        printf("%-8u %10.4f %12.1f %12.1f\n", pt.param, pt.recall, pt.qps, (double)nq / (csecs > 0 ? csecs : 1e-9));
        fflush(stdout);
    }
    if (ids == NULL || sc == NULL) rc = file_error(o.queries, "out of memory");
    if (rc == CLI_OK && o.svg && np) {
        char title[160];
        snprintf(title, sizeof title, "densearch %s: %zu x %zu, recall@10 vs QPS", tname, base.n, base.dim);
        write_svg(o.svg, title, pts, np);
    }
    free(ids);
    free(sc);
    ds_index_close(ix);
done:
    free(base.x);
    free(q.x);
    free(gt.x);
    return rc;
}

/* ======================================================================== */
/* dispatch                                                                 */
/* ======================================================================== */
static int usage(FILE *f, int code) {
    fprintf(f,
            "usage:\n"
            "  densearch vectors build --input base.(fvecs|npy) --type flat|hnsw|ivfpq|binary --out INDEX\n"
            "        [--metric ip|l2|cosine] [--storage f32|f16|int8] [--m 16 --ef-construction 200]\n"
            "        [--nlist N --pq-m N --pq-bits 4|8 --opq] [--itq] [--seed N] [--threads N]\n"
            "  densearch vectors search --index INDEX --queries q.(fvecs|npy) --out result.ivecs\n"
            "        [--k 10] [--ef N | --nprobe N] [--rerank N] [--threads N] [--batch N]\n"
            "        (--batch 1 answers queries one at a time, as an online service)\n"
            "  densearch vectors bench --base base.fvecs --queries q.fvecs --truth gt.ivecs\n"
            "        [--type hnsw ...build options] [--ef N | --nprobe N] [--sweep V1,V2,...] [--batch N]\n"
            "        [--svg plot.svg]\n"
            "        sweeps ef (hnsw), nprobe (ivfpq) or rerank (binary) over default values or --sweep\n"
            "        (at most 32); prints recall@10 and QPS\n");
    return code;
}

int cmd_vectors(int argc, char **argv) {
    if (argc < 2) return usage(stderr, CLI_USAGE);
    const char *sub = argv[1];
    if (strcmp(sub, "--help") == 0 || strcmp(sub, "help") == 0) return usage(stdout, CLI_OK);
    for (int i = 2; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0) return usage(stdout, CLI_OK);
    if (strcmp(sub, "build") == 0) return vectors_build(argc - 1, argv + 1);
    if (strcmp(sub, "search") == 0) return vectors_search(argc - 1, argv + 1);
    if (strcmp(sub, "bench") == 0) return vectors_bench(argc - 1, argv + 1);
    cli_usage_error("vectors: unknown subcommand '%s' (build, search, bench)", sub);
    return usage(stderr, CLI_USAGE);
}
