/* cmd_lexical.c -- `densearch index` and `densearch search` (BM25).
**
** Both are plain functions of (argc, argv) with argv[0] the command name, so
** other commands (`densearch beir`) call them directly with the same flags.
** Uses only densearch.h.
*/
#include "cli.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <errno.h>

#define MAX_WARNINGS 10

static const char *arg_value(int argc, char **argv, int *i) {
    if (*i + 1 >= argc) return NULL;
    return argv[++*i];
}

/* ---- index ------------------------------------------------------------------ */

static void index_usage(FILE *f) {
    fprintf(f,
        "usage: densearch index --corpus PATH --out INDEX_DIR [options]\n"
        "Builds a BM25 index (INDEX_DIR/lexical.dsx) from a corpus, streaming it.\n\n"
        "  --corpus PATH        corpus file or directory\n"
        "  --out INDEX_DIR      index directory (created; an existing index is replaced\n"
        "                       only when the new one is complete)\n"
        "  --format F           beir | jsonl | tsv | dir (default: dir for a directory,\n"
        "                       tsv for *.tsv, else beir)\n"
        "                         beir : JSON lines {\"_id\", \"title\", \"text\"}\n"
        "                         jsonl: JSON lines with --id-field/--text-field/--title-field\n"
        "                         tsv  : id<TAB>text per line\n"
        "                         dir  : every file below PATH; id = relative path\n"
        "  --id-field F         JSONL id field (default _id)\n"
        "  --text-field F       JSONL text field (default text)\n"
        "  --title-field F      JSONL title field (default title; \"\" for none)\n"
        "  --skip-bad           skip bad documents (malformed JSON, missing id, invalid\n"
        "                       UTF-8, empty text, over-long line, duplicate id) with a\n"
        "                       warning and count them; default: stop at the first one\n"
        "  --max-doc-mb N       longest accepted line / file in MiB (default 64, at most 256)\n"
        "  --threads N          analysis threads (default: all cores)\n"
        "  --k1 X --b X         BM25 defaults recorded in the index (0.9, 0.4)\n"
        "  --stemmer NAME       Snowball stemmer (default english; porter; none)\n"
        "  --no-stopwords       keep English stop words\n"
        "  --no-store           do not store title/text (no snippets; smaller index)\n"
        "  --mem-mb N           postings memory before spilling a sorted run (default 512)\n"
        "  --quiet              no summary line\n\n"
        "Duplicate ids: the first document with an id is kept; a later duplicate is\n"
        "an error (file:line), or with --skip-bad a counted warning.\n");
}

int cmd_index(int argc, char **argv) {
    const char *corpus = NULL, *out = NULL;
    ds_corpus_opts co;
    ds_corpus_opts_init(&co);
    ds_lexical_opts lo;
    ds_lexical_opts_init(&lo);
    int quiet = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) { index_usage(stdout); return CLI_OK; }
        if (strcmp(a, "--skip-bad") == 0) { co.skip_bad = 1; continue; }
        if (strcmp(a, "--no-stopwords") == 0) { lo.stopwords = 0; continue; }
        if (strcmp(a, "--no-store") == 0) { lo.store_text = 0; continue; }
        if (strcmp(a, "--quiet") == 0) { quiet = 1; continue; }
        if (strncmp(a, "--", 2) != 0) return cli_usage_error("index: unexpected argument '%s' (see --help)", a);
        if ((v = arg_value(argc, argv, &i)) == NULL) return cli_usage_error("index: %s needs a value", a);
        uint64_t u;
        double d;
        if (strcmp(a, "--corpus") == 0) corpus = v;
        else if (strcmp(a, "--out") == 0) out = v;
        else if (strcmp(a, "--format") == 0) {
            if (strcmp(v, "beir") == 0) co.format = DS_CORPUS_BEIR;
            else if (strcmp(v, "jsonl") == 0) co.format = DS_CORPUS_JSONL;
            else if (strcmp(v, "tsv") == 0) co.format = DS_CORPUS_TSV;
            else if (strcmp(v, "dir") == 0) co.format = DS_CORPUS_DIR;
            else return cli_usage_error("index: --format must be beir, jsonl, tsv or dir (got '%s')", v);
        } else if (strcmp(a, "--id-field") == 0) co.id_field = v;
        else if (strcmp(a, "--text-field") == 0) co.text_field = v;
        else if (strcmp(a, "--title-field") == 0) co.title_field = v;
        else if (strcmp(a, "--max-doc-mb") == 0) {
            if (!cli_parse_u64(a, v, 1, 256, &u)) return CLI_USAGE;   /* the index's document limit */
            co.max_doc_bytes = (size_t)u << 20;
        } else if (strcmp(a, "--threads") == 0) {
            if (!cli_parse_u64(a, v, 1, 64, &u)) return CLI_USAGE;
            lo.n_threads = (unsigned)u;
            cli_set_threads((unsigned)u);
        } else if (strcmp(a, "--k1") == 0) {
            if (!cli_parse_f64(a, v, &d)) return CLI_USAGE;
            lo.k1 = (float)d;
        } else if (strcmp(a, "--b") == 0) {
            if (!cli_parse_f64(a, v, &d)) return CLI_USAGE;
            lo.b = (float)d;
        } else if (strcmp(a, "--stemmer") == 0) lo.stemmer = v;
        else if (strcmp(a, "--mem-mb") == 0) {
            if (!cli_parse_u64(a, v, 1, 1 << 20, &u)) return CLI_USAGE;
            lo.mem_limit = (size_t)u << 20;
        } else return cli_usage_error("index: unknown option '%s' (see --help)", a);
    }
    if (corpus == NULL || out == NULL) {
        index_usage(stderr);
        return cli_usage_error("index: --corpus and --out are required");
    }
    ds_env *env = cli_env();
    cli_progress prog;
    cli_progress_init(&prog, "indexing", "docs");
    lo.progress = cli_progress_cb;
    lo.progress_ud = &prog;
    ds_corpus *c = NULL;
    ds_lexical_builder *b = NULL;
    ds_status rc = ds_corpus_open(env, corpus, &co, &c);
    if (rc != DS_OK) return cli_fail_rc(rc, "cannot open corpus");
    rc = ds_lexical_builder_create(env, out, &lo, &b);
    if (rc != DS_OK) {
        ds_corpus_close(c);
        return cli_fail_rc(rc, "cannot start the index");
    }
    double t0 = cli_now();
    uint64_t skipped_seen = 0, dups = 0, warned = 0;
    ds_doc doc;
    int fail = 0;
    for (;;) {
        rc = ds_corpus_next(c, &doc);
        uint64_t sk = ds_corpus_skipped(c);
        if (sk != skipped_seen) {   /* the reader skipped bad documents; ds_errmsg has the last */
            if (warned++ < MAX_WARNINGS) fprintf(stderr, "%sdensearch: warning: skipped: %s\n", prog.enabled ? "\n" : "", ds_errmsg());
            skipped_seen = sk;
        }
        if (rc != DS_OK) {
            cli_fail_rc(rc, "bad input");
            fail = 1;
            break;
        }
        if (doc.id == NULL) break;
        rc = ds_lexical_add(b, &doc);
        if (rc == DS_ERR_INVALID) {
            if (co.skip_bad) {
                dups++;
                if (warned++ < MAX_WARNINGS)
                    fprintf(stderr, "%sdensearch: warning: skipped: %s:%llu: %s\n", prog.enabled ? "\n" : "", doc.file,
                            (unsigned long long)doc.line, ds_errmsg());
                continue;
            }
            fprintf(stderr, "densearch: %s:%llu: %s\n", doc.file, (unsigned long long)doc.line, ds_errmsg());
            fail = 1;
            break;
        }
        if (rc != DS_OK) {
            cli_fail_rc(rc, "indexing failed");
            fail = 1;
            break;
        }
    }
    if (warned > MAX_WARNINGS) fprintf(stderr, "densearch: %llu more warnings not shown\n", (unsigned long long)(warned - MAX_WARNINGS));
    uint64_t skipped = ds_corpus_skipped(c) + dups;
    ds_corpus_close(c);
    if (fail) {
        ds_lexical_abort(b);
        fprintf(stderr, "densearch: no index written (use --skip-bad to skip bad documents)\n");
        return CLI_FAIL;
    }
    ds_lexical_stats st;
    rc = ds_lexical_finish(b, &st);
    if (rc != DS_OK) return cli_fail_rc(rc, "writing the index failed");
    double el = cli_now() - t0;
    cli_progress_done(&prog, st.n_docs);
    if (!quiet)
        printf("indexed %llu docs, %llu terms, %llu postings in %.2f s (%.0f docs/s); %s/%s %.1f MB; skipped %llu\n",
               (unsigned long long)st.n_docs, (unsigned long long)st.n_terms, (unsigned long long)st.n_postings, el,
               el > 0 ? (double)st.n_docs / el : 0.0, out, "lexical.dsx", (double)st.file_bytes / 1e6,
               (unsigned long long)skipped);
    return CLI_OK;
}

/* ---- search ------------------------------------------------------------------ */

static void search_usage(FILE *f) {
    fprintf(f,
        "usage: densearch search --index INDEX_DIR \"free text query\" [options]\n"
        "       densearch search --index INDEX_DIR --queries queries.jsonl --run-out run.trec [options]\n"
        "BM25 search. One query prints ranked results; --queries runs a batch (BEIR\n"
        "queries.jsonl with _id/text, or id<TAB>text for *.tsv) and writes a TREC run\n"
        "(qid Q0 docid rank score tag) on all cores.\n\n"
        "  --k N                results per query (default 10; 1000 with --queries)\n"
        "  --format F           text | json | trec (single query; default text)\n"
        "  --queries FILE       batch mode\n"
        "  --run-out FILE       TREC run output for batch mode (default stdout)\n"
        "  --tag TAG            run tag (default densearch)\n"
        "  --qid ID             query id for --format trec (default q)\n"
        "  --threads N          batch threads (default all cores)\n"
        "  --k1 X --b X         override the index's BM25 parameters\n"
        "  --snippet-bytes N    snippet length (default 240); 0: no snippet\n"
        "  --exhaustive         score every posting (no pruning; for testing)\n");
}

static void json_str(FILE *f, const char *s, size_t n) {
    fputc('"', f);
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '"' || ch == '\\') fprintf(f, "\\%c", ch);
        else if (ch == '\n') fputs("\\n", f);
        else if (ch == '\t') fputs("\\t", f);
        else if (ch == '\r') fputs("\\r", f);
        else if (ch < 0x20) fprintf(f, "\\u%04x", ch);
        else fputc(ch, f);
    }
    fputc('"', f);
}

/* Appends "qid Q0 docid rank score tag\n" to b; score as %.6f would print it,
** formatted by hand because printf's float path dominated batch output. */
static size_t trec_line(char *b, size_t cap, const char *qid, const char *id, size_t il, size_t rank, float score,
                        const char *tag) {
    double s = (double)score;
    int neg = s < 0;
    if (neg) s = -s;
    if (!(s < 1e12)) return (size_t)snprintf(b, cap, "%s Q0 %.*s %zu %.6f %s\n", qid, (int)il, id, rank, (double)score, tag);
    unsigned long long v = (unsigned long long)(s * 1e6 + 0.5);
    size_t ql = strlen(qid), tl = strlen(tag);
    if (ql + il + tl + 64 > cap) return (size_t)snprintf(b, cap, "%s Q0 %.*s %zu %.6f %s\n", qid, (int)il, id, rank, (double)score, tag);
    size_t o = 0;
    memcpy(b + o, qid, ql); o += ql;
    memcpy(b + o, " Q0 ", 4); o += 4;
    memcpy(b + o, id, il); o += il;
    b[o++] = ' ';
    char tmp[32];
    int n = 0;
    do { tmp[n++] = (char)('0' + rank % 10); rank /= 10; } while (rank);
    while (n) b[o++] = tmp[--n];
    b[o++] = ' ';
    if (neg && v) b[o++] = '-';
    unsigned long long ip = v / 1000000, fp = v % 1000000;
    do { tmp[n++] = (char)('0' + ip % 10); ip /= 10; } while (ip);
    while (n) b[o++] = tmp[--n];
    b[o++] = '.';
    for (int i = 5; i >= 0; i--) { b[o + (size_t)i] = (char)('0' + fp % 10); fp /= 10; }
    o += 6;
    b[o++] = ' ';
    memcpy(b + o, tag, tl); o += tl;
    b[o++] = '\n';
    return o;
}

typedef struct query_set {
    char  **ids, **texts;
    size_t  n, cap;
} query_set;

static void query_set_free(query_set *q) {
    for (size_t i = 0; i < q->n; i++) { free(q->ids[i]); free(q->texts[i]); }
    free(q->ids);
    free(q->texts);
}

static int load_queries(const char *path, query_set *q) {
    ds_corpus_opts co;
    ds_corpus_opts_init(&co);
    size_t pl = strlen(path);
    co.format = pl > 4 && strcmp(path + pl - 4, ".tsv") == 0 ? DS_CORPUS_TSV : DS_CORPUS_JSONL;
    co.id_field = "_id";
    co.text_field = "text";
    co.title_field = "";
    ds_corpus *c = NULL;
    ds_status rc = ds_corpus_open(cli_env(), path, &co, &c);
    if (rc != DS_OK) return cli_fail_rc(rc, "cannot open queries");
    ds_doc d;
    int ret = CLI_OK;
    for (;;) {
        rc = ds_corpus_next(c, &d);
        if (rc != DS_OK) { ret = cli_fail_rc(rc, "bad queries file"); break; }
        if (d.id == NULL) break;
        if (q->n == q->cap) {
            size_t nc = q->cap ? 2 * q->cap : 256;
            char **ni = realloc(q->ids, nc * sizeof *ni);
            if (ni) q->ids = ni;
            char **nt = ni ? realloc(q->texts, nc * sizeof *nt) : NULL;
            if (!ni || !nt) { ret = cli_fail_rc(DS_ERR_NOMEM, "out of memory"); break; }
            q->texts = nt;
            q->cap = nc;
        }
        q->ids[q->n] = strdup(d.id);
        q->texts[q->n] = strdup(d.text);
        if (!q->ids[q->n] || !q->texts[q->n]) {
            free(q->ids[q->n]);
            free(q->texts[q->n]);
            ret = cli_fail_rc(DS_ERR_NOMEM, "out of memory");
            break;
        }
        q->n++;
    }
    ds_corpus_close(c);
    return ret;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int cmd_search(int argc, char **argv) {
    const char *index = NULL, *queries = NULL, *run_out = NULL, *tag = "densearch", *qid = "q", *format = "text";
    uint64_t k = 0, snippet = 240;
    unsigned threads = 0;
    ds_lexical_search_opts so;
    ds_lexical_search_opts_init(&so);
    char query[8192];
    size_t qlen = 0;
    query[0] = '\0';
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) { search_usage(stdout); return CLI_OK; }
        if (strcmp(a, "--exhaustive") == 0) { so.exhaustive = 1; continue; }
        if (strncmp(a, "--", 2) != 0) {   /* query words */
            size_t l = strlen(a);
            if (qlen + l + 2 > sizeof query) return cli_usage_error("search: query longer than %zu bytes", sizeof query - 2);
            if (qlen) query[qlen++] = ' ';
            memcpy(query + qlen, a, l + 1);
            qlen += l;
            continue;
        }
        if ((v = arg_value(argc, argv, &i)) == NULL) return cli_usage_error("search: %s needs a value", a);
        uint64_t u;
        double d;
        if (strcmp(a, "--index") == 0) index = v;
        else if (strcmp(a, "--queries") == 0) queries = v;
        else if (strcmp(a, "--run-out") == 0) run_out = v;
        else if (strcmp(a, "--tag") == 0) tag = v;
        else if (strcmp(a, "--qid") == 0) qid = v;
        else if (strcmp(a, "--format") == 0) {
            if (strcmp(v, "text") && strcmp(v, "json") && strcmp(v, "trec"))
                return cli_usage_error("search: --format must be text, json or trec (got '%s')", v);
            format = v;
        } else if (strcmp(a, "--k") == 0) {
            if (!cli_parse_u64(a, v, 1, 1000000, &k)) return CLI_USAGE;
        } else if (strcmp(a, "--threads") == 0) {
            if (!cli_parse_u64(a, v, 1, 64, &u)) return CLI_USAGE;
            threads = (unsigned)u;
            cli_set_threads(threads);
        } else if (strcmp(a, "--snippet-bytes") == 0) {
            if (!cli_parse_u64(a, v, 0, 100000, &snippet)) return CLI_USAGE;
        } else if (strcmp(a, "--k1") == 0) {
            if (!cli_parse_f64(a, v, &d) || d < 0) return cli_usage_error("search: --k1 must be >= 0");
            so.k1 = (float)d;
        } else if (strcmp(a, "--b") == 0) {
            if (!cli_parse_f64(a, v, &d) || d < 0 || d > 1) return cli_usage_error("search: --b must be in [0, 1]");
            so.b = (float)d;
        } else return cli_usage_error("search: unknown option '%s' (see --help)", a);
    }
    if (index == NULL || (queries == NULL && qlen == 0) || (queries != NULL && qlen > 0)) {
        search_usage(stderr);
        return cli_usage_error("search: --index and either a query or --queries are required");
    }
    if (k == 0) k = queries ? 1000 : 10;
    ds_env *env = cli_env();
    ds_lexical *lx = NULL;
    ds_status rc = ds_lexical_open(env, index, 0, &lx);
    if (rc != DS_OK) return cli_fail_rc(rc, "cannot open index");
    int ret = CLI_OK;
    ds_lexical_hit *hits = NULL;
    size_t *n_hits = NULL;
    if (queries) {
        query_set qs = { 0 };
        ret = load_queries(queries, &qs);
        FILE *out = stdout;
        if (ret == CLI_OK && run_out && (out = fopen(run_out, "w")) == NULL) {
            fprintf(stderr, "densearch: %s: cannot write: %s\n", run_out, strerror(errno));
            ret = CLI_FAIL;
        }
        if (ret == CLI_OK && qs.n > 0) {
            hits = calloc(qs.n * (size_t)k, sizeof *hits);
            n_hits = calloc(qs.n, sizeof *n_hits);
            if (!hits || !n_hits) ret = cli_fail_rc(DS_ERR_NOMEM, "out of memory for %zu x %llu results", qs.n, (unsigned long long)k);
        }
        if (ret == CLI_OK && qs.n > 0) {
            /* On one thread the queries are answered one by one, as an online
            ** service would, so per-query latency percentiles can be reported. */
            unsigned eff = threads ? threads : ds_env_threads(env);
            double *lat = eff == 1 ? calloc(qs.n, sizeof *lat) : NULL;
            double t0 = cli_now();
            if (lat != NULL) {
                rc = DS_OK;
                for (size_t q = 0; q < qs.n && rc == DS_OK; q++) {
                    double tq = cli_now();
                    rc = ds_lexical_search(lx, qs.texts[q], strlen(qs.texts[q]), (size_t)k, &so,
                                           hits + q * (size_t)k, &n_hits[q]);
                    lat[q] = cli_now() - tq;
                }
            } else {
                rc = ds_lexical_search_batch(lx, (const char *const *)qs.texts, qs.n, (size_t)k, &so, threads, hits, n_hits);
            }
            double el = cli_now() - t0;
            if (lat != NULL && rc == DS_OK) {
                qsort(lat, qs.n, sizeof *lat, cmp_double);
                fprintf(stderr, "latency p50 %.3f ms, p99 %.3f ms, max %.3f ms\n", 1e3 * lat[(qs.n - 1) / 2],
                        1e3 * lat[(size_t)((double)(qs.n - 1) * 0.99)], 1e3 * lat[qs.n - 1]);
            }
            free(lat);
            if (rc != DS_OK) ret = cli_fail_rc(rc, "search failed");
            else {
                for (size_t q = 0; q < qs.n; q++)
                    for (size_t r = 0; r < n_hits[q]; r++) {
                        const ds_lexical_hit *h = &hits[q * (size_t)k + r];
                        size_t il;
                        const char *id = ds_lexical_doc_id(lx, h->doc, &il);
                        char line[4096];
                        size_t ln = trec_line(line, sizeof line, qs.ids[q], id ? id : "?", id ? il : 1, r + 1, h->score, tag);
                        fwrite(line, 1, ln < sizeof line ? ln : sizeof line - 1, out);
                    }
                fprintf(stderr, "searched %zu queries in %.3f s (%.0f queries/s, k=%llu, %u threads)\n", qs.n, el,
                        el > 0 ? (double)qs.n / el : 0.0, (unsigned long long)k, threads ? threads : ds_env_threads(env));
            }
        }
        if (out && out != stdout && fclose(out) != 0 && ret == CLI_OK) {
            fprintf(stderr, "densearch: %s: write failed\n", run_out);
            ret = CLI_FAIL;
        }
        query_set_free(&qs);
    } else {
        hits = calloc((size_t)k, sizeof *hits);
        size_t n = 0;
        if (hits == NULL) ret = cli_fail_rc(DS_ERR_NOMEM, "out of memory");
        else if ((rc = ds_lexical_search(lx, query, qlen, (size_t)k, &so, hits, &n)) != DS_OK) ret = cli_fail_rc(rc, "search failed");
        int tty = isatty(STDOUT_FILENO);
        const char *hl_open = tty ? "\033[1m" : "**", *hl_close = tty ? "\033[0m" : "**";
        int json = strcmp(format, "json") == 0, trec = strcmp(format, "trec") == 0;
        if (ret == CLI_OK && json) printf("[");
        for (size_t r = 0; ret == CLI_OK && r < n; r++) {
            size_t il;
            const char *id = ds_lexical_doc_id(lx, hits[r].doc, &il);
            if (id == NULL) { id = "?"; il = 1; }
            if (trec) {
                printf("%s Q0 %.*s %zu %.6f %s\n", qid, (int)il, id, r + 1, (double)hits[r].score, tag);
                continue;
            }
            char *title = NULL, *text = NULL, *snip = NULL;
            size_t tl = 0, xl = 0;
            if (ds_lexical_doc(lx, hits[r].doc, &title, &tl, &text, &xl) == DS_OK && snippet > 0)
                ds_lexical_snippet(lx, query, text, xl, (size_t)snippet, json ? "**" : hl_open, json ? "**" : hl_close, &snip);
            if (json) {
                printf("%s\n {\"rank\": %zu, \"id\": ", r ? "," : "", r + 1);
                json_str(stdout, id, il);
                printf(", \"score\": %.6f, \"title\": ", (double)hits[r].score);
                json_str(stdout, title ? title : "", tl);
                printf(", \"snippet\": ");
                json_str(stdout, snip ? snip : "", snip ? strlen(snip) : 0);
                printf("}");
            } else {
                printf("%2zu. %.*s  %.4f%s%s\n", r + 1, (int)il, id, (double)hits[r].score, tl ? "  " : "", title ? title : "");
                if (snip && *snip) printf("    %s\n", snip);
            }
            ds_free(title);
            ds_free(text);
            ds_free(snip);
        }
        if (ret == CLI_OK && json) printf("%s]\n", n ? "\n" : "");
        if (ret == CLI_OK && !json && !trec && n == 0) printf("no results\n");
    }
    free(hits);
    free(n_hits);
    ds_lexical_close(lx);
    return ret;
}
