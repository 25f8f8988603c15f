/* cmd_model.c -- densearch embed | rerank | sparse: run a transformer model
** directory over a JSONL file.
**
** Input lines (embed, sparse):
**   {"text": "..."}                        the text
**   {"_id": .., "title": "..", "text": ".."}  a BEIR corpus line: encoded as
**        (title + " " + text) with surrounding whitespace stripped, which is
**        what BEIR's sentence-transformers wrapper feeds the model
**   {"ids": [101, ..., 102]}               with --ids: token ids, special
**        tokens included (skips the tokenizer; useful to test models alone)
** rerank lines: {"query": "..", "passage": ".."}, or with --ids
**   {"ids": [..], "type_ids": [..]}.
**
** Work is streamed in chunks of CHUNK lines; the library sorts each chunk
** by length, so padding is never computed. Output of embed is chosen by the
** extension of --output: .npy (float32, [n, dim]), .fvecs, or .jsonl (one
** JSON array per line). Files are written to <out>.tmp and renamed.
*/
#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHUNK 4096

typedef struct model_args {
    const char *model, *input, *output;
    uint64_t    batch, threads, max_seq;
    int         ids, int8, bf16;
} model_args;

static int parse_args(int argc, char **argv, const char *input_flag, model_args *a, const char *usage) {
    memset(a, 0, sizeof *a);
    a->batch = 32;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        int has = i + 1 < argc;
        if (strcmp(o, "--help") == 0 || strcmp(o, "-h") == 0) { printf("%s", usage); exit(CLI_OK); }
        else if (strcmp(o, "--model") == 0 && has) a->model = argv[++i];
        else if (strcmp(o, input_flag) == 0 && has) a->input = argv[++i];
        else if (strcmp(o, "--output") == 0 && has) a->output = argv[++i];
        else if (strcmp(o, "--batch") == 0 && has) { if (!cli_parse_u64(o, argv[++i], 1, 4096, &a->batch)) return CLI_USAGE; }
        else if (strcmp(o, "--threads") == 0 && has) { if (!cli_parse_u64(o, argv[++i], 1, 1024, &a->threads)) return CLI_USAGE; }
        else if (strcmp(o, "--max-seq") == 0 && has) { if (!cli_parse_u64(o, argv[++i], 2, 65536, &a->max_seq)) return CLI_USAGE; }
        else if (strcmp(o, "--ids") == 0) a->ids = 1;
        else if (strcmp(o, "--int8") == 0) a->int8 = 1;
        else if (strcmp(o, "--bf16") == 0) a->bf16 = 1;
        else { fprintf(stderr, "%s", usage); return cli_usage_error("unknown or incomplete option '%s'", o); }
    }
    if (a->model == NULL || a->input == NULL) {
        fprintf(stderr, "%s", usage);
        return cli_usage_error("--model and %s are required", input_flag);
    }
    if (a->int8 && a->bf16) return cli_usage_error("--int8 and --bf16 are exclusive");
    if (a->threads) cli_set_threads((unsigned)a->threads);
    return CLI_OK;
}

/* ---- reading JSONL -------------------------------------------------------- */
/* Lines are read by the library's corpus reader in DS_CORPUS_JSON mode (one
** JSON object per line, blank lines skipped, UTF-8 checked); its messages
** name the file and line. */
typedef struct line_reader {
    ds_corpus  *c;
    const char *path;
    uint64_t    lineno;
} line_reader;

/* Moves to the next object; *got 0 at end of file. Returns CLI_OK or
** CLI_FAIL (message printed). */
static int next_object(line_reader *r, int *got) {
    ds_doc d;
    *got = 0;
    ds_status rc = ds_corpus_next(r->c, &d);
    if (rc != DS_OK) {
        fprintf(stderr, "densearch: %s\n", ds_errmsg());
        return CLI_FAIL;
    }
    if (d.id == NULL) return CLI_OK;
    r->lineno = d.line;
    *got = 1;
    return CLI_OK;
}

static uint64_t count_lines(const char *path) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) return 0;
    char buf[1 << 16];
    uint64_t n = 0;
    size_t k;
    while ((k = fread(buf, 1, sizeof buf, f)) > 0)
        for (size_t i = 0; i < k; i++) n += buf[i] == '\n';
    fclose(f);
    return n;
}

/* The text of an embed/sparse line (malloc'd), or NULL with a message. */
static char *line_text(const line_reader *r) {
    const char *text, *title;
    size_t xl, tl;
    ds_status rc = ds_corpus_get_string(r->c, "text", &text, &xl);
    if (rc != DS_OK) {
        fprintf(stderr, "densearch: %s:%llu: no \"text\" string\n", r->path, (unsigned long long)r->lineno);
        return NULL;
    }
    if (ds_corpus_get_string(r->c, "title", &title, &tl) != DS_OK) { title = ""; tl = 0; }
    char *s = malloc(tl + xl + 2);
    if (s == NULL) return NULL;
    memcpy(s, title, tl);
    s[tl] = ' ';
    memcpy(s + tl + 1, text, xl + 1);
    /* (title + " " + text).strip() */
    size_t b = 0, e = tl + 1 + xl;
    while (b < e && (s[b] == ' ' || s[b] == '\t' || s[b] == '\n' || s[b] == '\r')) b++;
    while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t' || s[e - 1] == '\n' || s[e - 1] == '\r')) e--;
    memmove(s, s + b, e - b);
    s[e - b] = '\0';
    return s;
}

/* An int array field of a line (malloc'd), or NULL with a message; *absent
** (when not NULL) is set instead of failing when the line has no such field. */
static int32_t *line_ints(const line_reader *r, const char *key, size_t *n, int *absent) {
    const int32_t *v;
    *n = 0;
    ds_status rc = ds_corpus_get_token_ids(r->c, key, &v, n);
    if (rc == DS_ERR_NOTFOUND && absent != NULL) { *absent = 1; return NULL; }
    if (rc == DS_ERR_NOTFOUND) {
        fprintf(stderr, "densearch: %s:%llu: \"%s\" must be a non-empty array of token ids\n", r->path,
                (unsigned long long)r->lineno, key);
        return NULL;
    }
    if (rc != DS_OK) {
        fprintf(stderr, "densearch: %s\n", ds_errmsg());
        *n = 0;
        return NULL;
    }
    int32_t *out = malloc(*n * sizeof *out);
    if (out == NULL) { *n = 0; return NULL; }
    memcpy(out, v, *n * sizeof *out);
    return out;
}

/* ---- progress across chunks ---------------------------------------------- */
typedef struct prog { cli_progress bar; uint64_t base, total; } prog;
static int prog_cb(uint64_t done, uint64_t total, void *ud) {
    prog *p = ud;
    (void)total;
    return cli_progress_cb(p->base + done, p->total, &p->bar);
}

static ds_encoder *open_encoder(const model_args *a, prog *pg, ds_encoder_kind want) {
    ds_encoder_opts o;
    ds_encoder_opts_init(&o);
    o.batch_size = (size_t)a->batch;
    o.max_seq_length = (size_t)a->max_seq;
    o.load_tokenizer = !a->ids;
    o.int8 = a->int8;
    o.bf16 = a->bf16;
    o.progress = prog_cb;
    o.progress_ud = pg;
    ds_encoder *enc = NULL;
    ds_status rc = ds_encoder_open(cli_env(), a->model, &o, &enc);
    if (rc != DS_OK) { cli_fail_rc(rc, "cannot open model %s", a->model); return NULL; }
    if (ds_encoder_kind_of(enc) != want) {
        static const char *names[] = { "a bi-encoder (BertModel): use 'densearch embed'",
                                       "a cross-encoder: use 'densearch rerank'", "a SPLADE model: use 'densearch sparse'" };
        fprintf(stderr, "densearch: %s is %s\n", a->model, names[ds_encoder_kind_of(enc)]);
        ds_encoder_close(enc);
        return NULL;
    }
    return enc;
}

/* ---- output writers --------------------------------------------------------- */
typedef enum { OUT_NPY, OUT_FVECS, OUT_JSONL } out_kind;

typedef struct out_file {
    FILE    *f;
    ds_file_writer *w;     /* private temporary, lock, rename (docs/format.md 1.4) */
    const char *path;
    out_kind kind;
    size_t   dim;
    uint64_t rows;
} out_file;

#define NPY_HEADER 128   /* fixed, so the shape can be patched in at the end */

static void npy_header(char *h, uint64_t rows, size_t dim) {
    memset(h, ' ', NPY_HEADER);
    memcpy(h, "\x93NUMPY\x01\x00", 8);
    h[8] = (char)(NPY_HEADER - 10);
    h[9] = 0;
    char d[NPY_HEADER];
    int n = snprintf(d, sizeof d, "{'descr': '<f4', 'fortran_order': False, 'shape': (%llu, %zu), }",
                     (unsigned long long)rows, dim);
    memcpy(h + 10, d, (size_t)n);
    h[NPY_HEADER - 1] = '\n';
}

static int out_open(out_file *o, const char *path, size_t dim) {
    memset(o, 0, sizeof *o);
    o->path = path;
    o->dim = dim;
    size_t l = strlen(path);
    if (l >= 4 && strcmp(path + l - 4, ".npy") == 0) o->kind = OUT_NPY;
    else if (l >= 6 && strcmp(path + l - 6, ".fvecs") == 0) o->kind = OUT_FVECS;
    else if (l >= 6 && strcmp(path + l - 6, ".jsonl") == 0) o->kind = OUT_JSONL;
    else return cli_usage_error("--output must end in .npy, .fvecs or .jsonl: '%s'", path);
    ds_status st = ds_file_writer_open(cli_env(), path, &o->w);
    if (st != DS_OK) return cli_fail_rc(st, "cannot write %s", path);
    int fd = dup(ds_file_writer_fd(o->w));
    if (fd < 0 || (o->f = fdopen(fd, "wb")) == NULL) {
        fprintf(stderr, "densearch: %s: %s\n", path, strerror(errno));
        if (fd >= 0) close(fd);
        ds_file_writer_abort(o->w);
        o->w = NULL;
        return CLI_FAIL;
    }
    if (o->kind == OUT_NPY) {
        char h[NPY_HEADER];
        npy_header(h, 0, dim);
        fwrite(h, 1, NPY_HEADER, o->f);
    }
    return CLI_OK;
}

static void out_rows(out_file *o, const float *x, size_t n) {
    for (size_t i = 0; i < n; i++) {
        const float *r = x + i * o->dim;
        if (o->kind == OUT_NPY) fwrite(r, sizeof *r, o->dim, o->f);   /* little-endian host (x86-64, arm64) */
        else if (o->kind == OUT_FVECS) {
            int32_t d = (int32_t)o->dim;
            fwrite(&d, sizeof d, 1, o->f);
            fwrite(r, sizeof *r, o->dim, o->f);
        } else {
            fputc('[', o->f);
            for (size_t j = 0; j < o->dim; j++) fprintf(o->f, j ? ", %.8g" : "%.8g", (double)r[j]);
            fputs("]\n", o->f);
        }
    }
    o->rows += n;
}

static int out_close(out_file *o, int ok) {
    if (o->f == NULL) return CLI_FAIL;
    if (ok && o->kind == OUT_NPY) {
        char h[NPY_HEADER];
        npy_header(h, o->rows, o->dim);
        ok = fseek(o->f, 0, SEEK_SET) == 0 && fwrite(h, 1, NPY_HEADER, o->f) == NPY_HEADER;
    }
    ok = ok && fflush(o->f) == 0 && !ferror(o->f);
    ok = (fclose(o->f) == 0) && ok;
    o->f = NULL;
    ds_file_writer *w = o->w;
    o->w = NULL;
    if (!ok) {
        ds_file_writer_abort(w);
        return CLI_FAIL;
    }
    ds_status st = ds_file_writer_commit(w);
    if (st != DS_OK) return cli_fail_rc(st, "cannot write %s", o->path);
    return CLI_OK;
}

/* ---- chunks ---------------------------------------------------------------- */
typedef struct chunk {
    char    **texts, **texts2;
    int32_t **ids, **types;
    size_t   *lens;
    size_t    n;
} chunk;

static void chunk_clear(chunk *c) {
    for (size_t i = 0; i < c->n; i++) {
        free(c->texts[i]); free(c->texts2[i]); free(c->ids[i]); free(c->types[i]);
        c->texts[i] = c->texts2[i] = NULL;
        c->ids[i] = c->types[i] = NULL;
    }
    c->n = 0;
}

static int chunk_alloc(chunk *c) {
    c->texts = calloc(CHUNK, sizeof *c->texts);
    c->texts2 = calloc(CHUNK, sizeof *c->texts2);
    c->ids = calloc(CHUNK, sizeof *c->ids);
    c->types = calloc(CHUNK, sizeof *c->types);
    c->lens = calloc(CHUNK, sizeof *c->lens);
    c->n = 0;
    return c->texts && c->texts2 && c->ids && c->types && c->lens;
}

static void chunk_free(chunk *c) {
    if (c->texts) chunk_clear(c);
    free(c->texts); free(c->texts2); free(c->ids); free(c->types); free(c->lens);
}

/* Fills c with up to CHUNK lines. mode: 0 texts, 1 pairs. */
static int chunk_fill(chunk *c, line_reader *r, int ids_mode, int pairs) {
    chunk_clear(c);
    while (c->n < CHUNK) {
        int got;
        int rc = next_object(r, &got);
        if (rc != CLI_OK) return rc;
        if (!got) break;
        size_t i = c->n;
        int bad = 0;
        if (ids_mode) {
            c->ids[i] = line_ints(r, "ids", &c->lens[i], NULL);
            bad = c->ids[i] == NULL;
            int absent = 0;
            size_t tn = 0;
            if (!bad && pairs) {
                c->types[i] = line_ints(r, "type_ids", &tn, &absent);
                bad = c->types[i] == NULL && !absent;
                if (!bad && !absent && tn != c->lens[i]) {
                    fprintf(stderr, "densearch: %s:%llu: \"type_ids\" and \"ids\" differ in length\n", r->path,
                            (unsigned long long)r->lineno);
                    bad = 1;
                }
            }
        } else if (pairs) {
            const char *q, *p;
            size_t ql, pl;
            if (ds_corpus_get_string(r->c, "query", &q, &ql) != DS_OK || ds_corpus_get_string(r->c, "passage", &p, &pl) != DS_OK) {
                fprintf(stderr, "densearch: %s:%llu: needs \"query\" and \"passage\" strings\n", r->path,
                        (unsigned long long)r->lineno);
                bad = 1;
            } else {
                c->texts[i] = strdup(q);
                c->texts2[i] = strdup(p);
                bad = c->texts[i] == NULL || c->texts2[i] == NULL;
            }
        } else {
            c->texts[i] = line_text(r);
            bad = c->texts[i] == NULL;
        }
        c->n++;
        if (bad) return CLI_FAIL;
    }
    return CLI_OK;
}

static int open_input(line_reader *r, const char *path) {
    memset(r, 0, sizeof *r);
    r->path = path;
    ds_corpus_opts o;
    ds_corpus_opts_init(&o);
    o.format = DS_CORPUS_JSON;
    o.max_doc_bytes = SIZE_MAX / 2;   /* a line is one text or one id list: no limit of its own, as before */
    if (ds_corpus_open(cli_env(), path, &o, &r->c) != DS_OK) {
        fprintf(stderr, "densearch: %s\n", ds_errmsg());
        return CLI_FAIL;
    }
    return CLI_OK;
}

static void close_input(line_reader *r) { ds_corpus_close(r->c); }

/* rerank and sparse print text: to --output when given, else to stdout.
** Unlike embed's binary outputs these are written in place (no .tmp), as
** a shell redirect would be. */
static int text_out_open(const char *path, FILE **out) {
    *out = stdout;
    if (path != NULL && (*out = fopen(path, "w")) == NULL) {
        fprintf(stderr, "densearch: %s: %s\n", path, strerror(errno));
        return CLI_FAIL;
    }
    return CLI_OK;
}

/* Flush or close the text output (path NULL: stdout); a failed write (disk
** full) turns rc into CLI_FAIL with a message, since the output is then
** incomplete. out NULL (never opened) is ok. */
static int text_out_close(FILE *out, const char *path, int rc) {
    if (out == NULL) return rc;
    int bad = ferror(out);
    if (out == stdout) bad |= fflush(stdout) != 0;
    else bad |= fclose(out) != 0;
    if (bad) {
        fprintf(stderr, "densearch: write error on %s: %s\n", path ? path : "standard output", strerror(errno));
        rc = CLI_FAIL;
    }
    return rc;
}

/* ---- commands ------------------------------------------------------------- */
/* What every command holds while it runs. pg lives here, not on the
** command's stack, because the encoder keeps a pointer to it (progress_ud). */
typedef struct job {
    model_args  a;
    prog        pg;
    ds_encoder *enc;
    line_reader r;
    chunk       c;
} job;

/* The common start of embed/rerank/sparse: options, a progress bar sized by
** the input's line count, the encoder (of the command's kind) and the input
** file. On failure everything acquired is released and the exit code
** returned; on success job_end must follow. */
static int job_start(job *j, int argc, char **argv, const char *input_flag, const char *usage,
                     int need_output, const char *verb, const char *unit, ds_encoder_kind kind) {
    memset(j, 0, sizeof *j);
    int rc = parse_args(argc, argv, input_flag, &j->a, usage);
    if (rc != CLI_OK) return rc;
    if (need_output && j->a.output == NULL) return cli_usage_error("--output is required");
    j->pg.total = count_lines(j->a.input);
    cli_progress_init(&j->pg.bar, verb, unit);
    if ((j->enc = open_encoder(&j->a, &j->pg, kind)) == NULL) return CLI_FAIL;
    if ((rc = open_input(&j->r, j->a.input)) != CLI_OK) {
        ds_encoder_close(j->enc);
        return rc;
    }
    return CLI_OK;
}

/* Releases what job_start acquired (and the chunk); finishes the progress
** bar when the command succeeded. Returns rc. */
static int job_end(job *j, int rc) {
    chunk_free(&j->c);
    close_input(&j->r);
    ds_encoder_close(j->enc);
    if (rc == CLI_OK) cli_progress_done(&j->pg.bar, j->pg.base);
    return rc;
}

static const char embed_usage[] =
    "usage: densearch embed --model MODEL_DIR --input texts.jsonl --output out.{npy,fvecs,jsonl}\n"
    "                       [--batch 32] [--threads N] [--max-seq N] [--ids] [--int8 | --bf16]\n"
    "  --int8: int8 encoder layers (7-bit weights and token rows; faster than float32, cosine\n"
    "          close to it; figures in docs/benchmarks.md)\n"
    "  --bf16: bfloat16 encoder layers, float32 sums (AVX512-BF16 where the CPU has it, else\n"
    "          emulated; cosine to float32 and speed in docs/benchmarks.md)\n"
    "  input lines: {\"text\": ...}, BEIR corpus lines ({\"title\", \"text\"}: encoded as\n"
    "  title + \" \" + text, stripped), or with --ids {\"ids\": [token ids]}\n";

int cmd_embed(int argc, char **argv) {
    job j;
    int rc = job_start(&j, argc, argv, "--input", embed_usage, 1, "embed", "sentences", DS_ENCODER_EMBED);
    if (rc != CLI_OK) return rc;
    size_t dim = ds_encoder_dim(j.enc);
    out_file out;
    float *emb = NULL;
    int ok = 0;
    if ((rc = out_open(&out, j.a.output, dim)) != CLI_OK) return job_end(&j, rc);
    emb = malloc((size_t)CHUNK * dim * sizeof *emb);
    if (emb == NULL || !chunk_alloc(&j.c)) { fprintf(stderr, "densearch: out of memory\n"); goto done; }
    for (;;) {
        if (chunk_fill(&j.c, &j.r, j.a.ids, 0) != CLI_OK) goto done;
        if (j.c.n == 0) break;
        ds_status s = j.a.ids ? ds_encoder_encode_ids(j.enc, (const int32_t *const *)j.c.ids, j.c.lens, j.c.n, emb)
                              : ds_encoder_encode(j.enc, (const char *const *)j.c.texts, NULL, j.c.n, emb);
        if (s != DS_OK) {
            cli_fail_rc(s, "%s: lines %llu..%llu", j.a.input, (unsigned long long)(j.pg.base + 1),
                        (unsigned long long)(j.pg.base + j.c.n));
            goto done;
        }
        out_rows(&out, emb, j.c.n);
        j.pg.base += j.c.n;
    }
    ok = 1;
done:
    free(emb);
    rc = job_end(&j, out_close(&out, ok));
    if (rc == CLI_OK)
        fprintf(stderr, "densearch: %llu embeddings of dimension %zu written to %s\n", (unsigned long long)j.pg.base,
                dim, j.a.output);
    return rc;
}

static const char rerank_usage[] =
    "usage: densearch rerank --model MODEL_DIR --pairs pairs.jsonl [--output scores.txt]\n"
    "                        [--batch 32] [--threads N] [--max-seq N] [--ids] [--int8 | --bf16]\n"
    "  lines {\"query\": ..., \"passage\": ...} (or with --ids {\"ids\": [..], \"type_ids\": [..]});\n"
    "  prints one score (raw logit) per line\n";

int cmd_rerank(int argc, char **argv) {
    job j;
    int rc = job_start(&j, argc, argv, "--pairs", rerank_usage, 0, "rerank", "pairs", DS_ENCODER_CROSS);
    if (rc != CLI_OK) return rc;
    float *sc = NULL;
    FILE *out = NULL;
    if ((rc = text_out_open(j.a.output, &out)) != CLI_OK) return job_end(&j, rc);
    rc = CLI_FAIL;
    sc = malloc(CHUNK * sizeof *sc);
    if (sc == NULL || !chunk_alloc(&j.c)) { fprintf(stderr, "densearch: out of memory\n"); goto done; }
    for (;;) {
        chunk *c = &j.c;
        if (chunk_fill(c, &j.r, j.a.ids, 1) != CLI_OK) goto done;
        if (c->n == 0) break;
        int any_types = 0;
        for (size_t i = 0; i < c->n; i++) any_types |= c->types[i] != NULL;
        if (any_types)
            for (size_t i = 0; i < c->n; i++)
                if (c->types[i] == NULL) {
                    c->types[i] = calloc(c->lens[i], sizeof(int32_t));
                    if (c->types[i] == NULL) { fprintf(stderr, "densearch: out of memory\n"); goto done; }
                }
        ds_status s = j.a.ids ? ds_encoder_rerank_ids(j.enc, (const int32_t *const *)c->ids,
                                                      any_types ? (const int32_t *const *)c->types : NULL, c->lens,
                                                      c->n, sc)
                              : ds_encoder_rerank(j.enc, (const char *const *)c->texts,
                                                  (const char *const *)c->texts2, c->n, sc);
        if (s != DS_OK) { cli_fail_rc(s, "%s", j.a.input); goto done; }
        for (size_t i = 0; i < c->n; i++) fprintf(out, "%.7g\n", (double)sc[i]);
        j.pg.base += c->n;
    }
    rc = CLI_OK;
done:
    free(sc);
    return job_end(&j, text_out_close(out, j.a.output, rc));
}

static const char sparse_usage[] =
    "usage: densearch sparse --model MODEL_DIR --input texts.jsonl [--output out.jsonl]\n"
    "                        [--batch 32] [--threads N] [--max-seq N] [--ids] [--int8 | --bf16]\n"
    "  one {\"indices\": [token ids], \"values\": [weights]} per input line (ids ascending)\n";

int cmd_sparse(int argc, char **argv) {
    job j;
    int rc = job_start(&j, argc, argv, "--input", sparse_usage, 0, "sparse", "texts", DS_ENCODER_SPLADE);
    if (rc != CLI_OK) return rc;
    ds_sparse_vec *v = NULL;
    FILE *out = NULL;
    if ((rc = text_out_open(j.a.output, &out)) != CLI_OK) return job_end(&j, rc);
    rc = CLI_FAIL;
    v = calloc(CHUNK, sizeof *v);
    if (v == NULL || !chunk_alloc(&j.c)) { fprintf(stderr, "densearch: out of memory\n"); goto done; }
    for (;;) {
        chunk *c = &j.c;
        if (chunk_fill(c, &j.r, j.a.ids, 0) != CLI_OK) goto done;
        if (c->n == 0) break;
        ds_status s = j.a.ids ? ds_encoder_sparse_ids(j.enc, (const int32_t *const *)c->ids, c->lens, c->n, v)
                              : ds_encoder_sparse(j.enc, (const char *const *)c->texts, NULL, c->n, v);
        if (s != DS_OK) { cli_fail_rc(s, "%s", j.a.input); goto done; }
        for (size_t i = 0; i < c->n; i++) {
            fputs("{\"indices\": [", out);
            for (size_t e = 0; e < v[i].nnz; e++) fprintf(out, e ? ", %d" : "%d", (int)v[i].indices[e]);
            fputs("], \"values\": [", out);
            for (size_t e = 0; e < v[i].nnz; e++) fprintf(out, e ? ", %.7g" : "%.7g", (double)v[i].values[e]);
            fputs("]}\n", out);
        }
        ds_sparse_vec_free(v, c->n);
        j.pg.base += c->n;
    }
    rc = CLI_OK;
done:
    free(v);
    return job_end(&j, text_out_close(out, j.a.output, rc));
}
