/* cmd_eval.c -- `densearch eval` (trec_eval metrics of a run) and
** `densearch beir` (index + batch search + eval of a BEIR dataset, timed).
**
** beir drives the other commands through their command-line contract
** (cmd_index / cmd_search with argv arrays, as a user would type them), so it
** measures exactly what users run. Uses only densearch.h.
*/
#include "cli.h"

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_METRICS "ndcg@10,mrr@10,recall@100,map"

/* ---- output helpers ------------------------------------------------------- */
static void json_str(FILE *f, const char *s) {
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') fprintf(f, "\\%c", *p);
        else if (*p < 0x20) fprintf(f, "\\u%04x", *p);
        else fputc(*p, f);
    }
    fputc('"', f);
}

static void print_eval(FILE *f, const ds_eval *e, int json, int per_query, int nested) {
    size_t nm = ds_eval_n_metrics(e), nq = ds_eval_n_queries(e);
    if (json) {
        fprintf(f, "{\"num_q\": %zu, \"missing\": %zu, \"no_relevant\": %zu, \"metrics\": {", nq,
                ds_eval_n_missing(e), ds_eval_n_norel(e));
        for (size_t m = 0; m < nm; m++) {
            fprintf(f, "%s", m ? ", " : "");
            json_str(f, ds_eval_metric_name(e, m));
            fprintf(f, ": %.6f", ds_eval_mean(e, m));
        }
        fprintf(f, "}");
        if (per_query) {
            fprintf(f, ", \"per_query\": {");
            for (size_t q = 0; q < nq; q++) {
                fprintf(f, "%s", q ? ", " : "");
                json_str(f, ds_eval_query_id(e, q));
                fprintf(f, ": {");
                for (size_t m = 0; m < nm; m++) {
                    fprintf(f, "%s", m ? ", " : "");
                    json_str(f, ds_eval_metric_name(e, m));
                    fprintf(f, ": %.6f", ds_eval_value(e, q, m));
                }
                fprintf(f, "}");
            }
            fprintf(f, "}");
        }
        fprintf(f, nested ? "}" : "}\n");
        return;
    }
    /* trec_eval's relational layout: measure, query (or "all"), value. */
    if (per_query)
        for (size_t q = 0; q < nq; q++)
            for (size_t m = 0; m < nm; m++)
                fprintf(f, "%-12s\t%s\t%.4f\n", ds_eval_metric_name(e, m), ds_eval_query_id(e, q),
                        ds_eval_value(e, q, m));
    fprintf(f, "%-12s\tall\t%zu\n", "num_q", nq);
    for (size_t m = 0; m < nm; m++) fprintf(f, "%-12s\tall\t%.4f\n", ds_eval_metric_name(e, m), ds_eval_mean(e, m));
}

static void eval_usage(FILE *f) {
    fprintf(f,
            "usage: densearch eval --qrels QRELS --run RUN [--metrics LIST] [--json] [--per-query]\n"
            "                      [--skip-missing] [--min-rel N]\n\n"
            "  --qrels FILE     BEIR TSV (query-id corpus-id score) or TREC qrels (qid iter docid rel)\n"
            "  --run FILE       TREC run (qid Q0 docid rank score tag)\n"
            "  --metrics LIST   comma-separated, default " DEFAULT_METRICS "\n"
            "                   (ndcg@K mrr@K recall@K map map@K p@K; trec_eval names work too)\n"
            "  --json           one JSON object instead of the trec_eval-style table\n"
            "  --per-query      also print every query's values\n"
            "  --skip-missing   leave judged queries the run lacks out of the averages\n"
            "                   (trec_eval's default; densearch scores them 0, like trec_eval -c)\n"
            "  --min-rel N      judgments >= N are relevant (default 1, trec_eval -l)\n");
}

/* Loads the qrels for eval/beir. A file with no judgments at all (empty,
** or only a header) is refused: every metric would print 0.0000 over zero
** queries, which looks like a result but is a wrong path. */
static int load_qrels(ds_env *env, const char *path, const char *cmd, ds_qrels **q) {
    ds_status rc = ds_qrels_load(env, path, q);
    if (rc != DS_OK) return cli_fail_rc(rc, "%s: cannot read qrels", cmd);
    if (ds_qrels_n_judgments(*q) == 0) {
        fprintf(stderr, "densearch: %s: %s: no judgments (empty qrels file?)\n", cmd, path);
        ds_qrels_free(*q);
        *q = NULL;
        return CLI_FAIL;
    }
    return CLI_OK;
}

int cmd_eval(int argc, char **argv) {
    const char *qrels_path = NULL, *run_path = NULL, *metrics = DEFAULT_METRICS;
    int json = 0, per_query = 0;
    ds_eval_opts o;
    ds_eval_opts_init(&o);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has = i + 1 < argc;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            eval_usage(stdout);
            return CLI_OK;
        } else if (strcmp(a, "--qrels") == 0 && has) qrels_path = argv[++i];
        else if (strcmp(a, "--run") == 0 && has) run_path = argv[++i];
        else if (strcmp(a, "--metrics") == 0 && has) metrics = argv[++i];
        else if (strcmp(a, "--json") == 0) json = 1;
        else if (strcmp(a, "--per-query") == 0) per_query = 1;
        else if (strcmp(a, "--skip-missing") == 0) o.complete = 0;
        else if (strcmp(a, "--min-rel") == 0 && has) {
            uint64_t v;
            if (!cli_parse_u64("--min-rel", argv[++i], 1, 1000000, &v)) return CLI_USAGE;
            o.min_rel = (int)v;
        } else {
            eval_usage(stderr);
            return cli_usage_error("eval: unknown or incomplete option '%s'", a);
        }
    }
    if (qrels_path == NULL || run_path == NULL) {
        eval_usage(stderr);
        return cli_usage_error("eval: --qrels and --run are required");
    }
    ds_env *env = cli_env();
    ds_qrels *q = NULL;
    ds_run *r = NULL;
    ds_eval *e = NULL;
    int ret = CLI_OK;
    ds_status rc = DS_OK;
    if ((ret = load_qrels(env, qrels_path, "eval", &q)) != CLI_OK) goto done;
    rc = ds_run_load(env, run_path, &r);
    if (rc != DS_OK) { ret = cli_fail_rc(rc, "eval: cannot read run"); goto done; }
    rc = ds_eval_compute(q, r, metrics, &o, &e);
    if (rc != DS_OK) { ret = cli_fail_rc(rc, "eval"); goto done; }
    if (ds_eval_n_missing(e) > 0)
        fprintf(stderr, "densearch: eval: %zu judged quer%s not in the run (%s)\n", ds_eval_n_missing(e),
                ds_eval_n_missing(e) == 1 ? "y is" : "ies are", o.complete ? "scored 0" : "skipped");
    print_eval(stdout, e, json, per_query, 0);
done:
    ds_eval_free(e);
    ds_run_free(r);
    ds_qrels_free(q);
    return ret;
}

/* ---- beir ------------------------------------------------------------------ */
static uint64_t du_total;
static int du_add(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)path; (void)ftw;
    if (flag == FTW_F) du_total += (uint64_t)st->st_size;
    return 0;
}
static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st; (void)flag; (void)ftw;
    return remove(path) == 0 ? 0 : -1;
}

static uint64_t dir_bytes(const char *path) {
    du_total = 0;
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISDIR(st.st_mode)) return (uint64_t)st.st_size;
    nftw(path, du_add, 16, FTW_PHYS);
    return du_total;
}

static void restore_stdout(int *saved) {
    if (*saved < 0) return;
    fflush(stdout);
    dup2(*saved, STDOUT_FILENO);
    close(*saved);
    *saved = -1;
}

static int file_exists(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

static uint64_t count_lines(const char *path) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) return 0;
    uint64_t n = 0;
    int c, last = '\n', nonblank = 0;
    while ((c = getc(f)) != EOF) {
        if (c == '\n') { n += nonblank; nonblank = 0; }
        else if (c != ' ' && c != '\t' && c != '\r') nonblank = 1;
        last = c;
    }
    if (last != '\n') n += nonblank;
    fclose(f);
    return n;
}

static void beir_usage(FILE *f) {
    fprintf(f,
            "usage: densearch beir DATASET_DIR [--k 1000] [--threads N] [--keep INDEX_DIR]\n"
            "                      [--run-out RUN] [--metrics LIST] [--json] [--strict]\n\n"
            "Indexes DATASET_DIR/corpus.jsonl, searches DATASET_DIR/queries.jsonl (top k), evaluates\n"
            "against DATASET_DIR/qrels/test.tsv and prints quality, index time, index size and q/s.\n"
            "  --keep DIR    build the index in DIR and keep it (default: a temporary folder, removed)\n"
            "  --run-out F   keep the TREC run in F\n"
            "  --strict      stop on a bad document (default: index --skip-bad, which skips and counts)\n");
}

int cmd_beir(int argc, char **argv) {
    const char *dir = NULL, *keep = NULL, *run_keep = NULL, *metrics = DEFAULT_METRICS;
    uint64_t k = 1000, threads = 0;
    int json = 0, strict = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has = i + 1 < argc;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            beir_usage(stdout);
            return CLI_OK;
        } else if (strcmp(a, "--k") == 0 && has) {
            if (!cli_parse_u64("--k", argv[++i], 1, 100000, &k)) return CLI_USAGE;
        } else if (strcmp(a, "--threads") == 0 && has) {
            if (!cli_parse_u64("--threads", argv[++i], 1, 1024, &threads)) return CLI_USAGE;
        } else if (strcmp(a, "--keep") == 0 && has) keep = argv[++i];
        else if (strcmp(a, "--run-out") == 0 && has) run_keep = argv[++i];
        else if (strcmp(a, "--metrics") == 0 && has) metrics = argv[++i];
        else if (strcmp(a, "--json") == 0) json = 1;
        else if (strcmp(a, "--strict") == 0) strict = 1;
        else if (a[0] != '-' && dir == NULL) dir = a;
        else {
            beir_usage(stderr);
            return cli_usage_error("beir: unknown or incomplete option '%s'", a);
        }
    }
    if (dir == NULL) {
        beir_usage(stderr);
        return cli_usage_error("beir: DATASET_DIR is required");
    }
    char corpus[PATH_MAX], queries[PATH_MAX], qrels_path[PATH_MAX], work[PATH_MAX], index_dir[PATH_MAX],
        run_path[PATH_MAX];
    if (snprintf(corpus, sizeof corpus, "%s/corpus.jsonl", dir) >= (int)sizeof corpus ||
        snprintf(queries, sizeof queries, "%s/queries.jsonl", dir) >= (int)sizeof queries ||
        snprintf(qrels_path, sizeof qrels_path, "%s/qrels/test.tsv", dir) >= (int)sizeof qrels_path)
        return cli_usage_error("beir: path too long");
    const char *need[3] = { corpus, queries, qrels_path };
    for (int i = 0; i < 3; i++)
        if (!file_exists(need[i])) {
            fprintf(stderr, "densearch: beir: %s: missing (want the BEIR layout: corpus.jsonl, queries.jsonl, "
                            "qrels/test.tsv)\n", need[i]);
            return CLI_FAIL;
        }
    /* The qrels are read first so a bad file fails before minutes of indexing. */
    ds_env *env = cli_env();
    ds_qrels *q = NULL;
    ds_run *r = NULL;
    ds_eval *e = NULL;
    int ret = CLI_OK, made_work = 0;
    ds_status rc = DS_OK;
    if ((ret = load_qrels(env, qrels_path, "beir", &q)) != CLI_OK) return ret;

    const char *tmpdir = getenv("TMPDIR");
    snprintf(work, sizeof work, "%s/densearch-beir-XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp");
    if (mkdtemp(work) == NULL) {
        fprintf(stderr, "densearch: beir: cannot create a temporary folder in %s: %s\n",
                tmpdir && *tmpdir ? tmpdir : "/tmp", strerror(errno));
        ret = CLI_FAIL;
        goto done;
    }
    made_work = 1;
    snprintf(index_dir, sizeof index_dir, "%s", keep ? keep : "");
    if (keep == NULL && snprintf(index_dir, sizeof index_dir, "%s/index", work) >= (int)sizeof index_dir) {
        ret = cli_usage_error("beir: path too long");
        goto done;
    }
    if (run_keep) snprintf(run_path, sizeof run_path, "%s", run_keep);
    else if (snprintf(run_path, sizeof run_path, "%s/run.trec", work) >= (int)sizeof run_path) {
        ret = cli_usage_error("beir: path too long");
        goto done;
    }
    if (threads == 0) {
        long nc = sysconf(_SC_NPROCESSORS_ONLN);
        threads = nc > 0 ? (uint64_t)nc : 1;
    }
    char k_s[32], th_s[32];
    snprintf(k_s, sizeof k_s, "%llu", (unsigned long long)k);
    snprintf(th_s, sizeof th_s, "%llu", (unsigned long long)threads);

    /* The CLI contract of `index` and `search` (README, issue 2). */
    /* --skip-bad unless --strict: BEIR corpora hold a few empty documents
    ** (Cranfield 471 and 995); evaluating a dataset should not stop on them,
    ** and `index` reports how many it skipped. */
    char *index_argv[] = { "index", "--corpus", corpus, "--out", index_dir, "--format", "beir",
                           "--threads", th_s, strict ? NULL : "--skip-bad", NULL };
    char *search_argv[] = { "search", "--index", index_dir, "--queries", queries, "--k", k_s,
                            "--run-out", run_path, "--threads", th_s, NULL };
    fprintf(stderr, "densearch: beir: indexing %s\n", corpus);
    int index_argc = 0;
    while (index_argv[index_argc] != NULL) index_argc++;
    /* The sub-commands' summaries go to stderr, so stdout holds only our
    ** table or JSON (scripts parse it). */
    fflush(stdout);
    int saved_out = dup(STDOUT_FILENO);
    if (saved_out >= 0) dup2(STDERR_FILENO, STDOUT_FILENO);
    double t0 = cli_now();
    int irc = cmd_index(index_argc, index_argv);
    double t_index = cli_now() - t0;
    if (irc != CLI_OK) {
        restore_stdout(&saved_out);
        fprintf(stderr, "densearch: beir: indexing failed (exit %d)\n", irc);
        ret = CLI_FAIL;
        goto done;
    }
    uint64_t index_bytes = dir_bytes(index_dir);
    fprintf(stderr, "densearch: beir: searching %s (k=%llu, %llu threads)\n", queries, (unsigned long long)k,
            (unsigned long long)threads);
    t0 = cli_now();
    int src = cmd_search((int)(sizeof search_argv / sizeof *search_argv) - 1, search_argv);
    double t_search = cli_now() - t0;
    restore_stdout(&saved_out);
    if (src != CLI_OK) {
        fprintf(stderr, "densearch: beir: search failed (exit %d)\n", src);
        ret = CLI_FAIL;
        goto done;
    }
    uint64_t n_queries = count_lines(queries);
    rc = ds_run_load(env, run_path, &r);
    if (rc != DS_OK) { ret = cli_fail_rc(rc, "beir: cannot read the run"); goto done; }
    rc = ds_eval_compute(q, r, metrics, NULL, &e);
    if (rc != DS_OK) { ret = cli_fail_rc(rc, "beir: eval"); goto done; }
    double qps = t_search > 0 ? (double)n_queries / t_search : 0;
    const char *name = strrchr(dir, '/');
    name = (name && name[1]) ? name + 1 : dir;
    if (json) {
        printf("{\"dataset\": ");
        json_str(stdout, name);
        printf(", \"index_seconds\": %.3f, \"index_bytes\": %llu, \"queries\": %llu, \"search_seconds\": %.3f, "
               "\"qps\": %.1f, \"k\": %llu, \"threads\": %llu, \"eval\": ",
               t_index, (unsigned long long)index_bytes, (unsigned long long)n_queries, t_search, qps,
               (unsigned long long)k, (unsigned long long)threads);
        print_eval(stdout, e, 1, 0, 1);
        printf("}\n");
    } else {
        printf("| dataset | judged queries |");
        for (size_t m = 0; m < ds_eval_n_metrics(e); m++) printf(" %s |", ds_eval_metric_name(e, m));
        printf(" index time | index size | queries/s |\n|---|---|");
        for (size_t m = 0; m < ds_eval_n_metrics(e); m++) printf("---|");
        printf("---|---|---|\n| %s | %zu |", name, ds_eval_n_queries(e));
        for (size_t m = 0; m < ds_eval_n_metrics(e); m++) printf(" %.4f |", ds_eval_mean(e, m));
        printf(" %.2f s | %.2f MB | %.0f (%llu queries, k=%llu, %llu threads) |\n", t_index,
               (double)index_bytes / 1e6, qps, (unsigned long long)n_queries, (unsigned long long)k,
               (unsigned long long)threads);
    }
    if (keep) fprintf(stderr, "densearch: beir: index kept in %s\n", index_dir);
done:
    /* Only what this command created goes: the temporary folder (index and
    ** run inside it unless --keep / --run-out put them elsewhere). */
    if (made_work) nftw(work, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    ds_eval_free(e);
    ds_run_free(r);
    ds_qrels_free(q);
    return ret;
}
