/* main.c -- densearch command-line tool: dispatch to the command groups. */
#include "cli.h"
#include "../server/server.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    const char *name;
    int (*fn)(int, char **);
    const char *summary;
} command;

static const command commands[] = {
    { "index",    cmd_index,    "build a collection (BM25, and vectors with a model) from a corpus" },
    { "search",   cmd_search,   "search a collection: lexical, dense or hybrid (one query or a batch)" },
    { "tune",     cmd_tune,     "grid-search the hybrid fusion on judged (train/dev) queries" },
    { "eval",     cmd_eval,     "evaluate a TREC run against qrels (trec_eval metrics)" },
    { "beir",     cmd_beir,     "index + search + evaluate a BEIR dataset, with timings" },
    { "check",    cmd_check,    "verify every checksum and structure of an index" },
    { "info",     cmd_info,     "print version, CPU and SIMD kernels, or what a collection holds" },
    { "tokenize", cmd_tokenize, "WordPiece-tokenize texts with a model's tokenizer" },
    { "embed",    cmd_embed,    "encode texts with a transformer bi-encoder" },
    { "rerank",   cmd_rerank,   "score query/passage pairs with a cross-encoder" },
    { "sparse",   cmd_sparse,   "encode texts into SPLADE sparse vectors" },
    { "vectors",  cmd_vectors,  "build, search and benchmark vector indexes" },
    { "serve",    cmd_serve,    "serve collections and an embedding model over HTTP/JSON" },
    { "train",    cmd_train,    "train a fast embedding model (lexdense, static, lsa)" },
};

static void usage(FILE *f) {
    fprintf(f, "densearch %s -- dense and hybrid text retrieval\n\nusage: densearch COMMAND [options]\n\n",
            ds_version_string());
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-9s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\nRun 'densearch COMMAND --help' for the options of a command.\n");
}

/* What a command prints on stdout (search results, a TREC run, eval tables)
** must not be lost in silence: a failed final flush (full disk) turns
** success into exit 1 with a message. Commands that already reported a
** write error return CLI_FAIL, so it is not repeated. */
static int finish_stdout(int rc) {
    errno = 0;
    int bad = fflush(stdout) != 0;
    bad |= ferror(stdout) != 0;
    if (bad && rc == CLI_OK) {
        fprintf(stderr, "densearch: write error on standard output%s%s\n", errno ? ": " : "",
                errno ? strerror(errno) : "");
        rc = CLI_FAIL;
    }
    return rc;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return CLI_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return CLI_OK;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("densearch %s\n", ds_version_string());
        return CLI_OK;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0) return finish_stdout(commands[i].fn(argc - 1, argv + 1));
    fprintf(stderr, "densearch: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return CLI_USAGE;
}

/* ---- shared helpers ----------------------------------------------------- */
int cli_fail_rc(ds_status rc, const char *fmt, ...) {
    va_list ap;
    fputs("densearch: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, ": %s [%s]\n", ds_errmsg(), ds_status_name(rc));
    return CLI_FAIL;
}

int cli_usage_error(const char *fmt, ...) {
    va_list ap;
    fputs("densearch: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return CLI_USAGE;
}

int cli_parse_u64(const char *opt, const char *s, uint64_t lo, uint64_t hi, uint64_t *out) {
    char *end;
    errno = 0;
    if (s == NULL || *s == '\0' || *s == '-') goto bad;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < lo || v > hi) goto bad;
    *out = v;
    return 1;
bad:
    cli_usage_error("%s expects a whole number from %llu to %llu, got '%s'", opt,
                    (unsigned long long)lo, (unsigned long long)hi, s ? s : "");
    return 0;
}

int cli_parse_f64(const char *opt, const char *s, double *out) {
    char *end;
    errno = 0;
    double v = s ? strtod(s, &end) : 0;
    if (s == NULL || *s == '\0' || errno != 0 || *end != '\0' || !isfinite(v)) {
        cli_usage_error("%s expects a number, got '%s'", opt, s ? s : "");
        return 0;
    }
    *out = v;
    return 1;
}

double cli_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void cli_progress_init(cli_progress *p, const char *label, const char *unit) {
    p->label = label;
    p->unit = unit;
    p->t0 = cli_now();
    p->last = 0;
    p->enabled = isatty(STDERR_FILENO) && getenv("DS_NO_PROGRESS") == NULL;
}

static void progress_draw(cli_progress *p, uint64_t done, uint64_t total, int final) {
    double el = cli_now() - p->t0;
    double rate = el > 0 ? (double)done / el : 0;
    char bar[32];
    if (total > 0) {
        int fill = (int)(30.0 * (double)(done > total ? total : done) / (double)total);
        for (int i = 0; i < 30; i++) bar[i] = i < fill ? '#' : '.';
        bar[30] = '\0';
        fprintf(stderr, "\r%s [%s] %llu/%llu %5.1f%% %.0f %s/s %.1fs%s", p->label, bar,
                (unsigned long long)done, (unsigned long long)total, 100.0 * (double)done / (double)total,
                rate, p->unit, el, final ? "\n" : "   ");
    } else {
        fprintf(stderr, "\r%s %llu %s %.0f %s/s %.1fs%s", p->label, (unsigned long long)done, p->unit,
                rate, p->unit, el, final ? "\n" : "   ");
    }
    fflush(stderr);
}

int cli_progress_cb(uint64_t done, uint64_t total, void *ud) {
    cli_progress *p = ud;
    if (!p->enabled) return 0;
    double now = cli_now();
    if (now - p->last < 0.1) return 0;
    p->last = now;
    progress_draw(p, done, total, 0);
    return 0;
}

void cli_progress_done(cli_progress *p, uint64_t done) {
    if (p->enabled) progress_draw(p, done, done, 1);
}

static ds_env *the_env;
static unsigned the_threads;

void cli_set_threads(unsigned n) { the_threads = n; }

ds_env *cli_env(void) {
    if (the_env == NULL) {
        ds_env_opts o;
        ds_env_opts_init(&o);
        o.n_threads = the_threads;
        ds_status rc = ds_env_create(&o, &the_env);
        if (rc != DS_OK) {
            cli_fail_rc(rc, "cannot create environment");
            exit(CLI_FAIL);
        }
    }
    return the_env;
}
