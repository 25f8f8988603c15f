/* b_query.c -- what prepared queries and RM3 cost per query (public API only).
**
**   cc -std=c11 -D_GNU_SOURCE -O2 -Iinclude bench/lexical/b_query.c build/libdensearch.a \
**      -lutf8proc -lstemmer -lzstd -lxxhash -lcjson -lopenblas -lm -lpthread -o /tmp/b_query
**   /tmp/b_query INDEX_DIR queries.jsonl [rounds]
**
** One thread, CPU time of this process (the machine is shared), every query
** of the file per round; variants alternate round by round (ABAB...) and the
** median round is reported, in microseconds per query:
**   text+snip   ds_lexical_search k=10, then ds_lexical_doc + ds_lexical_snippet
**               (the query analysed again) for each hit: the old way
**   query+snip  ds_lexical_query_create once, ds_lexical_search_query, then
**               ds_lexical_doc + ds_lexical_snippet_query for each hit
**   *-nodoc     the same with the hits' texts fetched beforehand, so only
**               search and snippets are timed (what the analysis saving is
**               measured against)
**   analyse only  ds_lexical_query_create + free: the work each text snippet
**               call repeats (a k=10 search with snippets saves 10 of them)
**   bm25 k, rm3 k   ds_lexical_search with and without --prf rm3 defaults
**
**   /tmp/b_query build corpus.jsonl INDEX_DIR
** builds a lexical index with stored text (defaults, bad documents skipped:
** `densearch index` now builds collections, whose segments store no text).
**
**   /tmp/b_query run INDEX_DIR queries.jsonl RUN.trec [rm3]
** writes the top-1000 TREC run of every query (RM3 with Anserini's defaults
** when "rm3" is given), for `densearch eval`.
*/
#include "densearch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double cpu_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void die(const char *what, ds_status rc) {
    fprintf(stderr, "b_query: %s: %s: %s\n", what, ds_status_name(rc), ds_errmsg());
    exit(1);
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

enum { V_TEXT, V_QUERY, V_TEXT_NODOC, V_QUERY_NODOC, V_ANALYSE, V_BM25_10, V_RM3_10, V_BM25_1000, V_RM3_1000, NV };
static const char *k_names[NV] = { "text+snip", "query+snip", "text+snip-nodoc", "query+snip-nodoc", "analyse only",
                                   "bm25 k=10", "rm3 k=10", "bm25 k=1000", "rm3 k=1000" };

static ds_lexical *lx;
static char **qs, **qids;
static size_t nq;
static char ***texts;     /* per query: texts of its top 10 (nodoc variants) */
static size_t **tlens;
static ds_lexical_hit hits[1000];
static size_t sink;

static void snippet_hits(const char *q, const ds_lexical_query *lq, size_t n, size_t qi, int nodoc) {
    for (size_t r = 0; r < n; r++) {
        char *title = NULL, *text = NULL, *snip = NULL;
        size_t tl = 0, xl = 0;
        ds_status rc;
        if (nodoc) { text = texts[qi][r]; xl = tlens[qi][r]; }
        else if ((rc = ds_lexical_doc(lx, hits[r].doc, &title, &tl, &text, &xl)) != DS_OK) die("doc", rc);
        rc = lq ? ds_lexical_snippet_query(lx, lq, text, xl, 240, "**", "**", &snip)
                : ds_lexical_snippet(lx, q, text, xl, 240, "**", "**", &snip);
        if (rc != DS_OK) die("snippet", rc);
        sink += strlen(snip);
        ds_free(snip);
        if (!nodoc) { ds_free(title); ds_free(text); }
    }
}

static double run(int v) {
    ds_lexical_search_opts o;
    ds_lexical_search_opts_init(&o);
    if (v == V_RM3_10 || v == V_RM3_1000) o.rm3_docs = DS_LEXICAL_RM3_DOCS;
    size_t k = v == V_BM25_1000 || v == V_RM3_1000 ? 1000 : 10;
    double t0 = cpu_now();
    for (size_t i = 0; i < nq; i++) {
        size_t n = 0;
        ds_status rc;
        if (v == V_ANALYSE) {   /* what each ds_lexical_snippet call repeats */
            ds_lexical_query *lq = NULL;
            if ((rc = ds_lexical_query_create(lx, qs[i], strlen(qs[i]), &lq)) != DS_OK) die("query", rc);
            sink += ds_lexical_query_n_terms(lq);
            ds_lexical_query_free(lq);
        } else if (v == V_QUERY || v == V_QUERY_NODOC) {
            ds_lexical_query *lq = NULL;
            if ((rc = ds_lexical_query_create(lx, qs[i], strlen(qs[i]), &lq)) != DS_OK) die("query", rc);
            if ((rc = ds_lexical_search_query(lx, lq, k, &o, hits, &n)) != DS_OK) die("search", rc);
            snippet_hits(NULL, lq, n, i, v == V_QUERY_NODOC);
            ds_lexical_query_free(lq);
        } else {
            if ((rc = ds_lexical_search(lx, qs[i], strlen(qs[i]), k, &o, hits, &n)) != DS_OK) die("search", rc);
            if (v == V_TEXT || v == V_TEXT_NODOC) snippet_hits(qs[i], NULL, n, i, v == V_TEXT_NODOC);
        }
        sink += n;
    }
    return (cpu_now() - t0) / (double)nq * 1e6;
}

static int build(const char *corpus, const char *dir) {
    ds_corpus_opts co;
    ds_corpus_opts_init(&co);
    co.format = DS_CORPUS_BEIR;
    co.skip_bad = 1;
    ds_corpus *c;
    ds_lexical_builder *b;
    ds_status rc = ds_corpus_open(NULL, corpus, &co, &c);
    if (rc != DS_OK) die("corpus", rc);
    if ((rc = ds_lexical_builder_create(NULL, dir, NULL, &b)) != DS_OK) die("builder", rc);
    for (;;) {
        ds_doc d;
        if ((rc = ds_corpus_next(c, &d)) != DS_OK) die("corpus", rc);
        if (d.id == NULL) break;
        if ((rc = ds_lexical_add(b, &d)) != DS_OK) die("add", rc);
    }
    ds_corpus_close(c);
    ds_lexical_stats st;
    if ((rc = ds_lexical_finish(b, &st)) != DS_OK) die("finish", rc);
    printf("%s: %llu documents\n", dir, (unsigned long long)st.n_docs);
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 4 && strcmp(argv[1], "build") == 0) return build(argv[2], argv[3]);
    const char *run_out = NULL;
    int rm3 = 0;
    if (argc >= 5 && strcmp(argv[1], "run") == 0) {
        run_out = argv[4];
        rm3 = argc > 5 && strcmp(argv[5], "rm3") == 0;
        argv++;
        argc--;
    }
    if (argc < 3) {
        fprintf(stderr, "usage: b_query INDEX_DIR queries.jsonl [rounds]\n"
                        "       b_query run INDEX_DIR queries.jsonl RUN.trec [rm3]\n");
        return 2;
    }
    int rounds = argc > 3 && run_out == NULL ? atoi(argv[3]) : 5;
    if (rounds < 1) rounds = 1;
    ds_status rc = ds_lexical_open(NULL, argv[1], 0, &lx);
    if (rc != DS_OK) die("open", rc);
    ds_corpus_opts co;
    ds_corpus_opts_init(&co);
    co.format = DS_CORPUS_JSONL;
    co.title_field = "";
    ds_corpus *c;
    if ((rc = ds_corpus_open(NULL, argv[2], &co, &c)) != DS_OK) die("queries", rc);
    size_t cap = 0;
    for (;;) {
        ds_doc d;
        if ((rc = ds_corpus_next(c, &d)) != DS_OK) die("queries", rc);
        if (d.id == NULL) break;
        if (nq == cap) {
            cap = cap ? 2 * cap : 256;
            qs = realloc(qs, cap * sizeof *qs);
            qids = realloc(qids, cap * sizeof *qids);
        }
        qids[nq] = strdup(d.id);
        qs[nq++] = strdup(d.text);
    }
    ds_corpus_close(c);
    if (run_out != NULL) {
        ds_run *run;
        if ((rc = ds_run_create(NULL, &run)) != DS_OK) die("run", rc);
        ds_lexical_search_opts o;
        ds_lexical_search_opts_init(&o);
        if (rm3) o.rm3_docs = DS_LEXICAL_RM3_DOCS;
        for (size_t i = 0; i < nq; i++) {
            size_t n;
            if ((rc = ds_lexical_search(lx, qs[i], strlen(qs[i]), 1000, &o, hits, &n)) != DS_OK) die("search", rc);
            for (size_t r = 0; r < n; r++) {
                size_t il;
                const char *id = ds_lexical_doc_id(lx, hits[r].doc, &il);
                char idz[1100], qid[64];
                snprintf(idz, sizeof idz, "%.*s", (int)il, id);
                snprintf(qid, sizeof qid, "%s", qids[i]);
                if ((rc = ds_run_add(run, qid, idz, hits[r].score)) != DS_OK) die("run", rc);
            }
        }
        if ((rc = ds_run_save(run, run_out, rm3 ? "bm25+rm3" : "bm25")) != DS_OK) die("run", rc);
        ds_run_free(run);
        ds_lexical_close(lx);
        return 0;
    }
    /* B_QUERY_ONLY=N runs variant N alone (e.g. 6, rm3 k=10, under perf) */
    const char *only = getenv("B_QUERY_ONLY");
    int prefetch = only == NULL || atoi(only) == V_TEXT_NODOC || atoi(only) == V_QUERY_NODOC;
    texts = calloc(nq, sizeof *texts);
    tlens = calloc(nq, sizeof *tlens);
    for (size_t i = 0; i < nq && prefetch; i++) {
        size_t n;
        if ((rc = ds_lexical_search(lx, qs[i], strlen(qs[i]), 10, NULL, hits, &n)) != DS_OK) die("search", rc);
        texts[i] = calloc(10, sizeof **texts);
        tlens[i] = calloc(10, sizeof **tlens);
        for (size_t r = 0; r < n; r++)
            if ((rc = ds_lexical_doc(lx, hits[r].doc, NULL, NULL, &texts[i][r], &tlens[i][r])) != DS_OK) die("doc", rc);
    }
    double *t[NV];
    for (int v = 0; v < NV; v++) t[v] = calloc((size_t)rounds, sizeof *t[v]);
    for (int r = 0; r < rounds; r++)
        for (int v = 0; v < NV; v++) t[v][r] = only == NULL || atoi(only) == v ? run(v) : 1.0;
    double med[NV];
    for (int v = 0; v < NV; v++) {
        qsort(t[v], (size_t)rounds, sizeof *t[v], cmp_d);
        med[v] = t[v][rounds / 2];
    }
    printf("%s: %zu queries, %d rounds, CPU us/query (median round)\n", argv[1], nq, rounds);
    for (int v = 0; v < NV; v++) printf("  %-18s %9.1f\n", k_names[v], med[v]);
    printf("  prepared/text with doc fetch %.3f, without %.3f; 10 x analyse = %.1f%% of text+snip; rm3/bm25 k=10 %.1fx (+%.0f us), k=1000 %.1fx (+%.0f us)\n",
           med[V_QUERY] / med[V_TEXT], med[V_QUERY_NODOC] / med[V_TEXT_NODOC], 1000.0 * med[V_ANALYSE] / med[V_TEXT], med[V_RM3_10] / med[V_BM25_10],
           med[V_RM3_10] - med[V_BM25_10], med[V_RM3_1000] / med[V_BM25_1000], med[V_RM3_1000] - med[V_BM25_1000]);
    fprintf(stderr, "(%zu)\n", sink);
    ds_lexical_close(lx);
    return 0;
}
