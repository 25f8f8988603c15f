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

static void beir_usage(FILE *f) {
    fprintf(f,
            "usage: densearch beir DATASET_DIR [--model DIR] [--mode M] [--prf P] [--rerank DIR]\n"
            "                      [--k 1000] [--threads N] [--keep COLL] [--run-out RUN]\n"
            "                      [--metrics LIST] [--json] [--strict] [search and index options]\n\n"
            "Builds a collection of DATASET_DIR/corpus.jsonl (BM25; with --model also vectors),\n"
            "searches DATASET_DIR/queries.jsonl (top k) in every mode it can, evaluates each run\n"
            "against DATASET_DIR/qrels/test.tsv and prints them side by side: quality, queries/s,\n"
            "index time and size. Runs: lexical; with vectors dense and hybrid; with --prf each\n"
            "mode again with feedback; with --rerank the hybrid (or lexical) run re-ranked.\n"
            "  --mode M      only this mode (lexical | dense | hybrid)\n"
            "  --qrels F     judgments (default DATASET_DIR/qrels/test.tsv)\n"
            "  --keep DIR    build the collection in DIR and keep it (default: a temporary folder)\n"
            "  --run-out F   keep the TREC run in F (with several runs: F.<run name>)\n"
            "  --strict      stop on a bad document (default: index --skip-bad, which skips and counts)\n"
            "Index options passed through: --int8 --bf16 --chunk-tokens --chunk-overlap --vectors --m\n"
            "--ef-construction --metric --nlist --pq-m --pq-bits --opq --itq --max-seq --batch.\n"
            "Search options passed through: --fusion --rrf-k --alpha --norm --depth --fb-docs\n"
            "--fb-terms --fb-orig-weight --rocchio-docs --rocchio-alpha --rocchio-beta --rerank-depth\n"
            "--passage-score --ef --nprobe.\n");
}

typedef struct beir_run {
    char     name[48];
    ds_eval *e;
    double   secs, enc_share;
} beir_run;

int cmd_beir(int argc, char **argv) {
    const char *dir = NULL, *keep = NULL, *run_keep = NULL, *metrics = DEFAULT_METRICS, *model = NULL, *rerank = NULL;
    const char *qrels_opt = NULL;
    uint64_t k = 1000, threads = 0;
    int json = 0, strict = 0, only_mode = 0;
    unsigned prf = 0;
    ds_collection_search_opts so;
    ds_collection_search_opts_init(&so);
    char *pass[64];   /* index options handed to `index` */
    int n_pass = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has = i + 1 < argc;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            beir_usage(stdout);
            return CLI_OK;
        }
        int used = cli_search_option(a, has ? argv[i + 1] : NULL, &so);
        if (used < 0) return CLI_USAGE;
        if (used > 0) {
            if (strcmp(a, "--mode") == 0) only_mode = 1;
            if (strcmp(a, "--prf") == 0) { prf = so.prf; so.prf = 0; }
            i += used - 1;
            continue;
        }
        static const char *flags[] = { "--int8", "--bf16", "--opq", "--itq" };
        static const char *valued[] = { "--chunk-tokens", "--chunk-overlap", "--vectors", "--m", "--ef-construction",
                                        "--metric", "--nlist", "--pq-m", "--pq-bits", "--max-seq", "--batch",
                                        "--storage", "--seed" };
        int handled = 0;
        for (size_t f = 0; f < sizeof flags / sizeof *flags && !handled; f++)
            if (strcmp(a, flags[f]) == 0 && n_pass < 60) { pass[n_pass++] = argv[i]; handled = 1; }
        for (size_t f = 0; f < sizeof valued / sizeof *valued && !handled; f++)
            if (strcmp(a, valued[f]) == 0) {
                if (!has) return cli_usage_error("beir: %s needs a value", a);
                if (n_pass < 60) { pass[n_pass++] = argv[i]; pass[n_pass++] = argv[i + 1]; }
                i++;
                handled = 1;
            }
        if (handled) continue;
        if (strcmp(a, "--k") == 0 && has) {
            if (!cli_parse_u64("--k", argv[++i], 1, 100000, &k)) return CLI_USAGE;
        } else if (strcmp(a, "--threads") == 0 && has) {
            if (!cli_parse_u64("--threads", argv[++i], 1, 1024, &threads)) return CLI_USAGE;
        } else if (strcmp(a, "--keep") == 0 && has) keep = argv[++i];
        else if (strcmp(a, "--run-out") == 0 && has) run_keep = argv[++i];
        else if (strcmp(a, "--metrics") == 0 && has) metrics = argv[++i];
        else if (strcmp(a, "--model") == 0 && has) model = argv[++i];
        else if (strcmp(a, "--rerank") == 0 && has) rerank = argv[++i];
        else if (strcmp(a, "--qrels") == 0 && has) qrels_opt = argv[++i];
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
    if (only_mode && so.mode != DS_SEARCH_LEXICAL && model == NULL)
        return cli_usage_error("beir: --mode dense/hybrid needs --model");
    char corpus[PATH_MAX], queries[PATH_MAX], qrels_path[PATH_MAX], work[PATH_MAX], index_dir[PATH_MAX];
    if (snprintf(corpus, sizeof corpus, "%s/corpus.jsonl", dir) >= (int)sizeof corpus ||
        snprintf(queries, sizeof queries, "%s/queries.jsonl", dir) >= (int)sizeof queries ||
        snprintf(qrels_path, sizeof qrels_path, "%s", qrels_opt ? qrels_opt : "") >= (int)sizeof qrels_path ||
        (!qrels_opt && snprintf(qrels_path, sizeof qrels_path, "%s/qrels/test.tsv", dir) >= (int)sizeof qrels_path))
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
    ds_collection *coll = NULL;
    ds_encoder *reranker = NULL;
    query_set qs = { 0 };
    beir_run runs[16];
    size_t n_runs = 0;
    memset(runs, 0, sizeof runs);
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
    if (threads == 0) {
        long nc = sysconf(_SC_NPROCESSORS_ONLN);
        threads = nc > 0 ? (uint64_t)nc : 1;
    }
    char th_s[32];
    snprintf(th_s, sizeof th_s, "%llu", (unsigned long long)threads);

    /* --skip-bad unless --strict: BEIR corpora hold a few empty documents
    ** (Cranfield 471 and 995); evaluating a dataset should not stop on them,
    ** and `index` reports how many it skipped. */
    char *index_argv[96] = { "index", "--corpus", corpus, "--out", index_dir, "--format", "beir", "--threads", th_s };
    int index_argc = 9;
    if (!strict) index_argv[index_argc++] = "--skip-bad";
    if (model) {
        index_argv[index_argc++] = "--model";
        index_argv[index_argc++] = (char *)model;
    }
    for (int i = 0; i < n_pass; i++) index_argv[index_argc++] = pass[i];
    index_argv[index_argc] = NULL;
    fprintf(stderr, "densearch: beir: indexing %s\n", corpus);
    /* The sub-command's summary goes to stderr, so stdout holds only our
    ** table or JSON (scripts parse it). */
    fflush(stdout);
    int saved_out = dup(STDOUT_FILENO);
    if (saved_out >= 0) dup2(STDERR_FILENO, STDOUT_FILENO);
    double t0 = cli_now();
    int irc = cmd_index(index_argc, index_argv);
    double t_index = cli_now() - t0;
    restore_stdout(&saved_out);
    if (irc != CLI_OK) {
        fprintf(stderr, "densearch: beir: indexing failed (exit %d)\n", irc);
        ret = CLI_FAIL;
        goto done;
    }
    uint64_t index_bytes = dir_bytes(index_dir);
    if ((ret = cli_open_collection(index_dir, NULL, 0, model != NULL, &coll)) != CLI_OK) goto done;
    if (rerank) {
        if ((rc = ds_encoder_open(env, rerank, NULL, &reranker)) != DS_OK) {
            ret = cli_fail_rc(rc, "beir: cannot open the re-ranker");
            goto done;
        }
    }
    if ((ret = load_queries(queries, &qs)) != CLI_OK) goto done;

    /* the runs, in table order */
    ds_search_mode modes[3];
    size_t n_modes = 0;
    if (only_mode) modes[n_modes++] = so.mode;
    else {
        modes[n_modes++] = DS_SEARCH_LEXICAL;
        if (ds_collection_dim(coll)) {
            modes[n_modes++] = DS_SEARCH_DENSE;
            modes[n_modes++] = DS_SEARCH_HYBRID;
        }
    }
    static const char *mode_names[] = { "auto", "lexical", "dense", "hybrid" };
    for (size_t m = 0; m < n_modes && ret == CLI_OK; m++)
        for (int with_prf = 0; with_prf < 2 && ret == CLI_OK; with_prf++) {
            ds_collection_search_opts o = so;
            o.mode = modes[m];
            o.k = (size_t)k;
            if (o.depth < o.k) o.depth = o.k;
            o.prf = 0;
            if (with_prf) {
                if (prf & DS_PRF_RM3 && o.mode != DS_SEARCH_DENSE) o.prf |= DS_PRF_RM3;
                if (prf & DS_PRF_ROCCHIO && o.mode != DS_SEARCH_LEXICAL) o.prf |= DS_PRF_ROCCHIO;
                if (o.prf == 0) continue;
            }
            beir_run *br = &runs[n_runs];
            snprintf(br->name, sizeof br->name, "%s%s%s", mode_names[o.mode], with_prf ? "+" : "",
                     with_prf ? (o.prf == (DS_PRF_RM3 | DS_PRF_ROCCHIO) ? "rm3+rocchio" : o.prf == DS_PRF_RM3 ? "rm3" : "rocchio") : "");
            fprintf(stderr, "densearch: beir: searching %s: %s (k=%llu, %llu threads)\n", queries, br->name,
                    (unsigned long long)k, (unsigned long long)threads);
            ds_run *r = NULL;
            if ((ret = cli_run_queries(coll, &qs, &o, (unsigned)threads, &r, &br->secs, &br->enc_share)) != CLI_OK) break;
            rc = ds_eval_compute(q, r, metrics, NULL, &br->e);
            if (rc != DS_OK) ret = cli_fail_rc(rc, "beir: eval");
            if (ret == CLI_OK && run_keep) {
                char path[PATH_MAX + 64];
                snprintf(path, sizeof path, "%s", run_keep);
                if (n_modes > 1 || prf || rerank) snprintf(path, sizeof path, "%s.%s", run_keep, br->name);
                if ((rc = ds_run_save(r, path, NULL)) != DS_OK) ret = cli_fail_rc(rc, "beir: writing %s", path);
            }
            ds_run_free(r);
            n_runs++;
        }
    if (ret == CLI_OK && reranker) {
        ds_collection_search_opts o = so;
        o.mode = only_mode ? so.mode : ds_collection_dim(coll) ? DS_SEARCH_HYBRID : DS_SEARCH_LEXICAL;
        o.k = (size_t)k;
        if (o.depth < o.k) o.depth = o.k;
        o.prf = 0;
        o.reranker = reranker;
        beir_run *br = &runs[n_runs];
        snprintf(br->name, sizeof br->name, "%s+rerank", mode_names[o.mode]);
        fprintf(stderr, "densearch: beir: searching %s: %s (top %zu)\n", queries, br->name, o.rerank_depth);
        ds_run *r = NULL;
        if ((ret = cli_run_queries(coll, &qs, &o, (unsigned)threads, &r, &br->secs, &br->enc_share)) == CLI_OK) {
            if ((rc = ds_eval_compute(q, r, metrics, NULL, &br->e)) != DS_OK) ret = cli_fail_rc(rc, "beir: eval");
            if (ret == CLI_OK && run_keep) {
                char path[PATH_MAX + 64];
                snprintf(path, sizeof path, "%s.%s", run_keep, br->name);
                if ((rc = ds_run_save(r, path, NULL)) != DS_OK) ret = cli_fail_rc(rc, "beir: writing %s", path);
            }
            n_runs++;
        }
        ds_run_free(r);
    }
    if (ret != CLI_OK) goto done;
    const char *name = strrchr(dir, '/');
    name = (name && name[1]) ? name + 1 : dir;
    if (json) {
        printf("{\"dataset\": ");
        json_str(stdout, name);
        printf(", \"index_seconds\": %.3f, \"index_bytes\": %llu, \"queries\": %zu, \"k\": %llu, \"threads\": %llu, "
               "\"search_seconds\": %.3f, \"qps\": %.1f, \"eval\": ",
               t_index, (unsigned long long)index_bytes, qs.n, (unsigned long long)k, (unsigned long long)threads,
               runs[0].secs, runs[0].secs > 0 ? (double)qs.n / runs[0].secs : 0.0);
        print_eval(stdout, runs[0].e, 1, 0, 1);
        printf(", \"runs\": [");
        for (size_t i = 0; i < n_runs; i++) {
            printf("%s{\"name\": \"%s\", \"search_seconds\": %.3f, \"qps\": %.1f, \"encode_share\": %.3f, \"eval\": ",
                   i ? ", " : "", runs[i].name, runs[i].secs, runs[i].secs > 0 ? (double)qs.n / runs[i].secs : 0.0,
                   runs[i].enc_share);
            print_eval(stdout, runs[i].e, 1, 0, 1);
            printf("}");
        }
        printf("]}\n");
    } else {
        const ds_eval *e = runs[0].e;
        printf("| dataset | run | judged queries |");
        for (size_t m = 0; m < ds_eval_n_metrics(e); m++) printf(" %s |", ds_eval_metric_name(e, m));
        printf(" queries/s |\n|---|---|---|");
        for (size_t m = 0; m < ds_eval_n_metrics(e); m++) printf("---|");
        printf("---|\n");
        for (size_t i = 0; i < n_runs; i++) {
            printf("| %s | %s | %zu |", name, runs[i].name, ds_eval_n_queries(runs[i].e));
            for (size_t m = 0; m < ds_eval_n_metrics(runs[i].e); m++) printf(" %.4f |", ds_eval_mean(runs[i].e, m));
            printf(" %.0f |\n", runs[i].secs > 0 ? (double)qs.n / runs[i].secs : 0.0);
        }
        printf("\nindex: %.2f s, %.2f MB; %zu queries, k=%llu, %llu threads\n", t_index, (double)index_bytes / 1e6, qs.n,
               (unsigned long long)k, (unsigned long long)threads);
    }
    if (keep) fprintf(stderr, "densearch: beir: collection kept in %s\n", index_dir);
done:
    /* Only what this command created goes: the temporary folder (collection
    ** and runs inside it unless --keep / --run-out put them elsewhere). */
    if (made_work) nftw(work, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    for (size_t i = 0; i < n_runs; i++) ds_eval_free(runs[i].e);
    query_set_free(&qs);
    ds_encoder_close(reranker);
    ds_collection_close(coll);
    ds_qrels_free(q);
    return ret;
}
