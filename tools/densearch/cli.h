/* cli.h -- shared pieces of the densearch command-line tool.
**
** The CLI uses only the public header densearch.h, so it is dogfood for the
** API. Each command group lives in its own cmd_<group>.c and is listed in
** main.c's table.
*/
#ifndef DS_CLI_H
#define DS_CLI_H

#include "densearch.h"

#include <stdint.h>
#include <stdio.h>

#if defined(__GNUC__)
#  define CLI_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#  define CLI_PRINTF(f, a)
#endif

/* Exit codes: 0 success, 1 the operation failed (bad input, corrupt file),
** 2 usage error. */
enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2 };

/* Prints "densearch: <message>: <ds_errmsg()>" to stderr and returns CLI_FAIL. */
int cli_fail_rc(ds_status rc, const char *fmt, ...) CLI_PRINTF(2, 3);
/* Prints "densearch: <message>" and returns CLI_USAGE. */
int cli_usage_error(const char *fmt, ...) CLI_PRINTF(1, 2);

/* Argument helpers for "--name value" options. cli_arg_u64 fails with a usage
** error message on anything but a whole number within [lo, hi]. */
int cli_parse_u64(const char *opt, const char *s, uint64_t lo, uint64_t hi, uint64_t *out);
int cli_parse_f64(const char *opt, const char *s, double *out);

/* A progress bar on stderr when it is a terminal (silent otherwise): shows
** done/total, percent, rate in `unit`/s and elapsed time. Usable directly as
** a ds_progress_fn with a cli_progress as ud. */
typedef struct cli_progress {
    const char *label;
    const char *unit;
    double      t0, last;
    int         enabled;
} cli_progress;
void cli_progress_init(cli_progress *p, const char *label, const char *unit);
int  cli_progress_cb(uint64_t done, uint64_t total, void *ud);
void cli_progress_done(cli_progress *p, uint64_t done);
double cli_now(void);

/* A shared env for the process, created on first use (honours DS_SIMD and
** --threads via cli_set_threads before first use). */
ds_env *cli_env(void);
void    cli_set_threads(unsigned n);

/* Reads .fvecs, .ivecs or .npy (float32) vectors: *x (malloc) holds n x dim
** finite floats. Prints the reason and returns CLI_FAIL on bad input. */
int cli_read_vectors(const char *path, float **x, size_t *n, size_t *dim);
/* Parses one vector index option (--vectors/--type, --metric, --storage, --m,
** --ef-construction, --nlist, --pq-m, --pq-bits, --opq, --itq, --seed) into
** io: returns 0 if a is not one, else the arguments consumed (1 or 2), or -1
** after printing a usage error. */
int cli_index_option(const char *a, const char *val, ds_index_opts *io);

/* Command entry points: argv[0] is the command name. */
int cmd_index(int argc, char **argv);
int cmd_search(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_beir(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_embed(int argc, char **argv);
int cmd_rerank(int argc, char **argv);
int cmd_sparse(int argc, char **argv);
int cmd_vectors(int argc, char **argv);
int cmd_tune(int argc, char **argv);
/* Queries of a BEIR queries.jsonl (or id<TAB>text .tsv), in file order. */
typedef struct query_set {
    char    **ids, **texts;
    uint64_t *lines;          /* line of each query in its file */
    size_t    n, cap;
} query_set;
int  load_queries(const char *path, query_set *q);
void query_set_free(query_set *q);
/* Runs every query of qs through ds_collection_search_batch into a new run;
** *secs is the wall time, *enc_share (may be NULL) the share of the
** queries' time spent encoding them. */
int cli_run_queries(const ds_collection *coll, const query_set *qs, const ds_collection_search_opts *so,
                    unsigned threads, ds_run **run, double *secs, double *enc_share);
/* `densearch info COLL` */
int cli_collection_info(const char *path);
/* Search options shared by search, beir and tune (see cmd_collection.c). */
int cli_search_option(const char *a, const char *v, ds_collection_search_opts *so);
/* prec: the query encoder's precision, CLI_PREC_* (--int8, --bf16) */
enum { CLI_PREC_F32 = 0, CLI_PREC_INT8 = 1, CLI_PREC_BF16 = 2 };
int cli_open_collection(const char *path, const char *model, int prec, int need_encoder, ds_collection **out);
int cmd_train(int argc, char **argv);

#endif /* DS_CLI_H */
