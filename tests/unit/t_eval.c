/* t_eval.c -- tests of the eval module: qrels/run readers, trec_eval metrics
** against values computed by hand, tie-breaking, hostile input, OOM.
**
** No trec_eval binary is packaged for Debian 12 (`apt-cache search trec`
** finds nothing), so every expected value below is derived by hand in the
** comment above it (log2(3) = 1.5849625007, log2(6) = 2.5849625007).
*/
#include "test.h"

#include <stdio.h>
#include <unistd.h>

static ds_qrels *qrels_of(const char *text) {
    ds_qrels *q = NULL;
    ds_status rc = ds_qrels_parse(NULL, text, strlen(text), "qrels.tsv", &q);
    if (rc != DS_OK) FAIL("qrels parse: %s (%s)", ds_status_name(rc), ds_errmsg());
    return q;
}

static ds_run *run_of(const char *text) {
    ds_run *r = NULL;
    ds_status rc = ds_run_parse(NULL, text, strlen(text), "run.trec", &r);
    if (rc != DS_OK) FAIL("run parse: %s (%s)", ds_status_name(rc), ds_errmsg());
    return r;
}

static size_t metric_index(const ds_eval *e, const char *name) {
    for (size_t m = 0; m < ds_eval_n_metrics(e); m++)
        if (strcmp(ds_eval_metric_name(e, m), name) == 0) return m;
    FAIL("metric %s not computed", name);
    return 0;
}

/* Binary relevance, one query.
** judged: d1=1 d3=1 d7=1 d5=0 (3 relevant); run order d1 d2 d3 d4 d5.
** relevance by rank: 1 0 1 0 0.
**   ndcg@5  = (1/log2 2 + 1/log2 4) / (1 + 1/log2 3 + 1/log2 4) = 1.5/2.1309297536 = 0.7039180890
**   ndcg@1  = 1
**   mrr@10  = 1
**   recall@2 = 1/3, recall@5 = 2/3
**   map     = (1/1 + 2/3) / 3 = 0.5555555556
**   p@5     = 2/5; p@10 = 2/10 (k larger than the run still divides by k) */
static const char *QRELS_BIN = "query-id\tcorpus-id\tscore\nq1\td1\t1\nq1\td3\t1\nq1\td5\t0\nq1\td7\t1\n";
static const char *RUN_BIN = "q1 Q0 d1 1 10 t\nq1 Q0 d2 2 9 t\nq1 Q0 d3 3 8 t\nq1 Q0 d4 4 7 t\nq1 Q0 d5 5 6 t\n";

TEST(eval_binary_hand_values) {
    ds_qrels *q = qrels_of(QRELS_BIN);
    ds_run *r = run_of(RUN_BIN);
    ds_eval *e = NULL;
    ASSERT_OK(ds_eval_compute(q, r, "ndcg@5,ndcg@1,mrr@10,recall@2,recall@5,map,p@5,p@10", NULL, &e));
    ASSERT_EQ_U64(ds_eval_n_queries(e), 1);
    ASSERT_STR_EQ(ds_eval_query_id(e, 0), "q1");
    ASSERT_NEAR_F32(ds_eval_mean(e, 0), 0.7039180890, 1e-9);
    ASSERT_NEAR_F32(ds_eval_mean(e, 1), 1.0, 1e-12);
    ASSERT_NEAR_F32(ds_eval_mean(e, 2), 1.0, 1e-12);
    ASSERT_NEAR_F32(ds_eval_mean(e, 3), 1.0 / 3, 1e-12);
    ASSERT_NEAR_F32(ds_eval_mean(e, 4), 2.0 / 3, 1e-12);
    ASSERT_NEAR_F32(ds_eval_mean(e, 5), 5.0 / 9, 1e-12);
    ASSERT_NEAR_F32(ds_eval_mean(e, 6), 0.4, 1e-12);
    ASSERT_NEAR_F32(ds_eval_mean(e, 7), 0.2, 1e-12);
    ASSERT_NEAR_F32(ds_eval_value(e, 0, 0), 0.7039180890, 1e-9);
    ds_eval_free(e);
    ds_run_free(r);
    ds_qrels_free(q);
}

/* Graded relevance, tied scores, a negative judgment, TREC qrels format.
** judged: a=2 b=1 c=0 e=3 f=-1. Run scores: a 5, b 5, c 5, f 4, e 1 (the file's
** ranks say a, b, c; trec_eval ignores them). Ties go by doc id descending:
** order c b a f e, gains 0 1 2 0 3 (f's -1 is non-relevant, gain 0).
**   ndcg@3 = (1/log2 3 + 2/log2 4) / (3 + 2/log2 3 + 1/log2 4)
**          = 1.6309297536 / 4.7618595071 = 0.3424985032
**   ndcg   = (1/log2 3 + 2/2 + 3/log2 6) / 4.7618595071 = 0.5862180879
**   mrr@10 = 1/2 (b at rank 2); mrr@1 = 0
**   map    = (1/2 + 2/3 + 3/5) / 3 = 0.5888888889
**   recall@3 = 2/3 */
static const char *QRELS_GRADED = "q2 0 a 2\nq2 0 b 1\nq2 0 c 0\nq2 0 e 3\nq2 0 f -1\n";
static const char *RUN_TIES = "q2 Q0 a 1 5.0 t\nq2 Q0 b 2 5 t\nq2 Q0 c 3 5.000 t\nq2 Q0 f 4 4 t\nq2 Q0 e 5 1 t\n";

TEST(eval_graded_ties_hand_values) {
    ds_qrels *q = qrels_of(QRELS_GRADED);
    ds_run *r = run_of(RUN_TIES);
    ds_eval *e = NULL;
    ASSERT_OK(ds_eval_compute(q, r, "ndcg@3,ndcg,mrr@10,mrr@1,map,recall@3", NULL, &e));
    ASSERT_EQ_U64(ds_eval_n_queries(e), 1);
    ASSERT_NEAR_F32(ds_eval_mean(e, 0), 0.3424985032, 1e-9);
    ASSERT_NEAR_F32(ds_eval_mean(e, 1), 0.5862180879, 1e-9);
    ASSERT_NEAR_F32(ds_eval_mean(e, 2), 0.5, 1e-12);
    ASSERT_NEAR_F32(ds_eval_mean(e, 3), 0.0, 1e-12);
    ASSERT_NEAR_F32(ds_eval_mean(e, 4), 0.5888888889, 1e-9);
    ASSERT_NEAR_F32(ds_eval_mean(e, 5), 2.0 / 3, 1e-12);
    int32_t rel;
    ASSERT_OK(ds_qrels_get(q, "q2", "f", &rel));
    ASSERT_EQ_I64(rel, -1);
    ASSERT_RC(ds_qrels_get(q, "q2", "zz", &rel), DS_ERR_NOTFOUND);
    ds_eval_free(e);
    ds_run_free(r);
    ds_qrels_free(q);
}

/* Which queries are averaged.
** q1: as in eval_binary (map 5/9); q3: judged but nothing relevant -> skipped;
** q4: relevant doc but absent from the run -> 0 with complete (default),
** skipped without; q9: in the run, not judged -> ignored.
**   complete: map = (5/9 + 0) / 2 = 0.2777777778 over q1, q4
**   not complete: map = 5/9 over q1 */
TEST(eval_query_selection) {
    char qr[512], rn[512];
    snprintf(qr, sizeof qr, "%sq3\tx\t0\nq4\ty\t1\n", QRELS_BIN);
    snprintf(rn, sizeof rn, "%sq9 Q0 d1 1 3 t\nq3 Q0 x 1 1 t\n", RUN_BIN);
    ds_qrels *q = qrels_of(qr);
    ds_run *r = run_of(rn);
    ds_eval *e = NULL;
    ASSERT_OK(ds_eval_compute(q, r, "map", NULL, &e));
    ASSERT_EQ_U64(ds_eval_n_queries(e), 2);
    ASSERT_EQ_U64(ds_eval_n_missing(e), 1);
    ASSERT_EQ_U64(ds_eval_n_norel(e), 1);
    ASSERT_STR_EQ(ds_eval_query_id(e, 0), "q1");
    ASSERT_STR_EQ(ds_eval_query_id(e, 1), "q4");
    ASSERT_NEAR_F32(ds_eval_value(e, 1, 0), 0.0, 0);
    ASSERT_NEAR_F32(ds_eval_mean(e, 0), 5.0 / 18, 1e-12);
    ds_eval_free(e);
    ds_eval_opts o;
    ds_eval_opts_init(&o);
    o.complete = 0;
    ASSERT_OK(ds_eval_compute(q, r, "map", &o, &e));
    ASSERT_EQ_U64(ds_eval_n_queries(e), 1);
    ASSERT_NEAR_F32(ds_eval_mean(e, 0), 5.0 / 9, 1e-12);
    ds_eval_free(e);
    /* min_rel 2 (trec_eval -l2): only a and e are relevant in q2; q1 has none.
    ** order c b a f e -> relevant at ranks 3 and 5: map = (1/3 + 2/5) / 2 = 0.3666666667 */
    ds_qrels *q2 = qrels_of(QRELS_GRADED);
    ds_run *r2 = run_of(RUN_TIES);
    o.min_rel = 2;
    ASSERT_OK(ds_eval_compute(q2, r2, "map", &o, &e));
    ASSERT_NEAR_F32(ds_eval_mean(e, 0), 0.3666666667, 1e-9);
    ds_eval_free(e);
    ds_run_free(r2);
    ds_qrels_free(q2);
    ds_run_free(r);
    ds_qrels_free(q);
}

/* An empty run, or one sharing no query with the qrels, would print 0.0000
** for every metric: an error, like empty qrels (issue 14, item 12). */
TEST(eval_empty_inputs) {
    ds_qrels *q = qrels_of("");
    ds_run *r = run_of("\n\n");
    ds_eval *e = NULL;
    ASSERT_RC(ds_eval_compute(q, r, NULL, NULL, &e), DS_ERR_INVALID);
    ASSERT(e == NULL);
    ASSERT(strstr(ds_errmsg(), "run is empty") != NULL);
    ds_run_free(r);
    ds_qrels_free(q);
    q = qrels_of("q1 0 d1 1\nq2 0 d2 1\n");
    r = run_of("x1 Q0 d1 1 2.0 t\n");
    ASSERT_RC(ds_eval_compute(q, r, NULL, NULL, &e), DS_ERR_INVALID);
    ASSERT(strstr(ds_errmsg(), "share no query") != NULL);
    ds_run_free(r);
    r = run_of("q1 Q0 d1 1 2.0 t\n");      /* one shared query is enough */
    ASSERT_OK(ds_eval_compute(q, r, NULL, NULL, &e));
    ASSERT_EQ_U64(ds_eval_n_metrics(e), 4);
    ASSERT_STR_EQ(ds_eval_metric_name(e, 0), "ndcg@10");
    ASSERT_STR_EQ(ds_eval_metric_name(e, 3), "map");
    ds_eval_free(e);
    /* trec_eval's printed metric names (issue 14, item 13) */
    ASSERT_OK(ds_eval_compute(q, r, "ndcg_cut_10,P_10,recall_100,map_cut_10", NULL, &e));
    ASSERT_STR_EQ(ds_eval_metric_name(e, 0), "ndcg@10");
    ASSERT_STR_EQ(ds_eval_metric_name(e, 1), "p@10");
    ASSERT_STR_EQ(ds_eval_metric_name(e, 2), "recall@100");
    ASSERT_STR_EQ(ds_eval_metric_name(e, 3), "map@10");
    ds_eval_free(e);
    ds_run_free(r);
    ds_qrels_free(q);
}

static void expect_run_error(const char *text, const char *needle) {
    ds_run *r = NULL;
    ds_status rc = ds_run_parse(NULL, text, strlen(text), "run.trec", &r);
    if (rc != DS_ERR_CORRUPT) FAIL("run %s: got %s, want DS_ERR_CORRUPT", needle, ds_status_name(rc));
    if (r != NULL) FAIL("out not cleared");
    if (strstr(ds_errmsg(), needle) == NULL) FAIL("message '%s' lacks '%s'", ds_errmsg(), needle);
}

static void expect_qrels_error(const char *text, size_t len, const char *needle) {
    ds_qrels *q = NULL;
    ds_status rc = ds_qrels_parse(NULL, text, len, "qrels.tsv", &q);
    if (rc != DS_ERR_CORRUPT) FAIL("qrels %s: got %s, want DS_ERR_CORRUPT", needle, ds_status_name(rc));
    if (q != NULL) FAIL("out not cleared");
    if (strstr(ds_errmsg(), needle) == NULL) FAIL("message '%s' lacks '%s'", ds_errmsg(), needle);
}

TEST(eval_bad_run_lines) {
    expect_run_error("q1 Q0 d1 1 1.0 t\nq1 Q0 d2 2 1.0\n", "run.trec:2: expected 6 fields");
    expect_run_error("q1 Q0 d1 1 abc t\n", "run.trec:1: score 'abc'");
    expect_run_error("q1 Q0 d1 1 nan t\n", "run.trec:1: score 'nan'");
    expect_run_error("q1 Q0 d1 1 1e999 t\n", "not a finite number");
    expect_run_error("q1 Q0 d1 x 1 t\n", "run.trec:1: rank 'x'");
    /* duplicate docs in a run: trec_eval refuses them, so do we, naming both lines */
    expect_run_error("q1 Q0 d1 1 2 t\nq1 Q0 d2 2 1 t\nq1 Q0 d1 3 0.5 t\n", "run.trec:3: duplicate result for query 'q1', doc 'd1' (first at run.trec:1)");
    static const char nul[] = "q1 Q0 d1 1 1 t\nq1 Q0 d\0 2 1 t\n";
    ds_run *r = NULL;
    ASSERT_RC(ds_run_parse(NULL, nul, sizeof nul - 1, "run.trec", &r), DS_ERR_CORRUPT);
    ASSERT(strstr(ds_errmsg(), "run.trec:2: NUL") != NULL);
    /* CRLF, blank lines and tabs are fine; the same doc under two queries too */
    r = run_of("q1\tQ0\td1\t1\t2\tt\r\n\r\n  \nq2 Q0 d1 1 1 t");
    ASSERT_EQ_U64(ds_run_n_results(r), 2);
    ASSERT_EQ_U64(ds_run_n_queries(r), 2);
    ds_run_free(r);
}

TEST(eval_bad_qrels_lines) {
    const char *t;
    t = "query-id\tcorpus-id\tscore\nq1\td1\t1\nq1\td1\n";
    expect_qrels_error(t, strlen(t), "qrels.tsv:3: expected 3 fields");
    t = "q1 0 d1 1\nq1 0 d2 1.5\n";
    expect_qrels_error(t, strlen(t), "qrels.tsv:2: relevance '1.5'");
    t = "q1 0 d1 1\nq1 0 d2 x\n";
    expect_qrels_error(t, strlen(t), "qrels.tsv:2: relevance 'x'");
    t = "q1 d1\n";
    expect_qrels_error(t, strlen(t), "qrels.tsv:1: not a qrels line");
    t = "q1 0 d1 1\nq1 0 d1 2\n";
    expect_qrels_error(t, strlen(t), "qrels.tsv:2: duplicate judgment for query 'q1', doc 'd1' (first at qrels.tsv:1)");
    t = "q1 0 d1 99999999999\n";
    expect_qrels_error(t, strlen(t), "not a whole number");
    static const char nul[] = "q1\td1\t1\nq\0\td2\t1\n";
    expect_qrels_error(nul, sizeof nul - 1, "qrels.tsv:2: NUL");
    /* a header-less BEIR file (3 tab fields) and CRLF ends are accepted */
    ds_qrels *q = qrels_of("query-id corpus-id score\nq1 d1 1\n");   /* header and fields with spaces */
    ASSERT_EQ_U64(ds_qrels_n_judgments(q), 1);
    ds_qrels_free(q);
    q = qrels_of("q1\td1\t1\r\nq1\td2\t0\r\n");
    ASSERT_EQ_U64(ds_qrels_n_judgments(q), 2);
    ASSERT_EQ_U64(ds_qrels_n_queries(q), 1);
    ds_qrels_free(q);
}

TEST(eval_metric_spec) {
    ds_qrels *q = qrels_of(QRELS_BIN);
    ds_run *r = run_of(RUN_BIN);
    ds_eval *e = NULL;
    ASSERT_OK(ds_eval_compute(q, r, " ndcg_cut.5 , recip_rank,P.5,recall.5,map_cut.2, NDCG@5 ,MRR,Recall", NULL, &e));
    static const char *const want[] = { "ndcg@5", "mrr", "p@5", "recall@5", "map@2", "ndcg@5", "mrr", "recall" };
    ASSERT_EQ_U64(ds_eval_n_metrics(e), 8);
    for (size_t m = 0; m < 8; m++) ASSERT_STR_EQ(ds_eval_metric_name(e, m), want[m]);
    /* map@2: relevant d1 at rank 1 only -> 1/3 */
    ASSERT_NEAR_F32(ds_eval_mean(e, metric_index(e, "map@2")), 1.0 / 3, 1e-12);
    ASSERT_NEAR_F32(ds_eval_mean(e, metric_index(e, "recall")), 2.0 / 3, 1e-12);
    ds_eval_free(e);
    static const char *const bad[] = { "foo", "ndcg@0", "p", "p@", "", "ndcg@10,,map", "ndcg@x", "map@-1",
                                       "ndcg@99999999999" };
    for (size_t i = 0; i < DS_ARRAY_LEN(bad); i++) {
        ASSERT_RC(ds_eval_compute(q, r, bad[i], NULL, &e), DS_ERR_INVALID);
        ASSERT(e == NULL);
    }
    ds_run_free(r);
    ds_qrels_free(q);
}

TEST(eval_run_save_roundtrip) {
    ds_run *r = NULL;
    ASSERT_OK(ds_run_create(NULL, &r));
    ASSERT_OK(ds_run_add(r, "qB", "x", 1.0));
    ASSERT_OK(ds_run_add(r, "qA", "a", 5.0));
    ASSERT_OK(ds_run_add(r, "qA", "b", 5.0));
    ASSERT_OK(ds_run_add(r, "qB", "y", 0.1234567890123));
    ASSERT_OK(ds_run_add(r, "qA", "c", 7.5));
    ASSERT_RC(ds_run_add(r, "q A", "c", 1), DS_ERR_INVALID);
    ASSERT_RC(ds_run_add(r, "qA", "", 1), DS_ERR_INVALID);
    ASSERT_RC(ds_run_add(r, "qA", "d", INFINITY), DS_ERR_INVALID);
    char path[512];
    snprintf(path, sizeof path, "%s/run.trec", ds_test_tmpdir());
    ASSERT_OK(ds_run_save(r, path, "mytag"));
    FILE *f = fopen(path, "r");
    ASSERT(f != NULL);
    char buf[1024];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* queries in order of first sight; within one: score desc, then doc id desc */
    ASSERT_STR_EQ(buf, "qB Q0 x 1 1 mytag\nqB Q0 y 2 0.1234567890123 mytag\n"
                       "qA Q0 c 1 7.5 mytag\nqA Q0 b 2 5 mytag\nqA Q0 a 3 5 mytag\n");
    ds_run *back = NULL;
    ASSERT_OK(ds_run_load(NULL, path, &back));
    ASSERT_EQ_U64(ds_run_n_results(back), 5);
    ASSERT_EQ_U64(ds_run_n_queries(back), 2);
    ds_run_free(back);
    /* a duplicate added through the API is caught when the run is used */
    ASSERT_OK(ds_run_add(r, "qA", "a", 1.0));
    ASSERT_RC(ds_run_save(r, path, NULL), DS_ERR_CORRUPT);
    ASSERT(strstr(ds_errmsg(), "duplicate result") != NULL);
    ds_run_free(r);
    ASSERT_RC(ds_run_load(NULL, "/nonexistent/run.trec", &back), DS_ERR_IO);
    ASSERT(strstr(ds_errmsg(), "/nonexistent/run.trec") != NULL);
    ds_qrels *q = NULL;
    ASSERT_RC(ds_qrels_load(NULL, "/nonexistent/q.tsv", &q), DS_ERR_IO);
}

/* Every allocation failure is reported as DS_ERR_NOMEM and leaks nothing. */
TEST(eval_oom_sweep) {
    ds_env *env;
    ASSERT_OK(ds_env_create(NULL, &env));
    for (uint64_t n = 1;; n++) {
        env->n_allocs = 0;
        env->fail_at = n;
        ds_qrels *q = NULL;
        ds_run *r = NULL;
        ds_eval *e = NULL;
        ds_status rc = ds_qrels_parse(env, QRELS_GRADED, strlen(QRELS_GRADED), "q", &q);
        if (rc == DS_OK) rc = ds_run_parse(env, RUN_TIES, strlen(RUN_TIES), "r", &r);
        if (rc == DS_OK) rc = ds_eval_compute(q, r, "ndcg@10,map", NULL, &e);
        ds_eval_free(e);
        ds_run_free(r);
        ds_qrels_free(q);
        if (rc == DS_OK) break;
        ASSERT_RC(rc, DS_ERR_NOMEM);
        ASSERT(n < 1000);
    }
    env->fail_at = 0;
    ds_env_destroy(env);
}

/* Real data: SciFact's test qrels evaluated against themselves as a run
** (score = judgment) give a perfect score on every metric. */
TEST(eval_scifact_qrels_as_run) {
    const char *path = ds_test_shared_or_skip("data/scifact/qrels/test.tsv");
    ds_qrels *q = NULL;
    ASSERT_OK(ds_qrels_load(NULL, path, &q));
    ASSERT_EQ_U64(ds_qrels_n_judgments(q), 339);
    ASSERT_EQ_U64(ds_qrels_n_queries(q), 300);
    FILE *f = fopen(path, "r");
    ASSERT(f != NULL);
    ds_run *r = NULL;
    ASSERT_OK(ds_run_create(NULL, &r));
    char line[512], qid[128], doc[128];
    int score;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "%127s %127s %d", qid, doc, &score) == 3) ASSERT_OK(ds_run_add(r, qid, doc, score));
    fclose(f);
    ds_eval *e = NULL;
    ASSERT_OK(ds_eval_compute(q, r, "ndcg@10,mrr@10,recall@100,map,p@1", NULL, &e));
    ASSERT_EQ_U64(ds_eval_n_queries(e), 300);
    for (size_t m = 0; m < 5; m++) ASSERT_NEAR_F32(ds_eval_mean(e, m), 1.0, 1e-12);
    ds_eval_free(e);
    ds_run_free(r);
    ds_qrels_free(q);
}

/* Every shared collection's qrels load with the sizes data/README.md lists. */
TEST(eval_shared_qrels_counts) {
    static const struct { const char *name; size_t judgments, queries; } want[] = {
        { "cranfield", 1612, 225 }, { "cisi", 3114, 76 }, { "medline", 696, 30 },
        { "cacm", 796, 52 },        { "adi", 170, 35 },   { "scifact", 339, 300 },
    };
    ds_test_shared_or_skip("data/scifact/qrels/test.tsv");
    for (size_t i = 0; i < DS_ARRAY_LEN(want); i++) {
        char rel[128];
        snprintf(rel, sizeof rel, "data/%s/qrels/test.tsv", want[i].name);
        const char *path = ds_test_shared(rel);
        if (path == NULL) continue;
        ds_qrels *q = NULL;
        ASSERT_OK(ds_qrels_load(NULL, path, &q));
        ASSERT_EQ_U64(ds_qrels_n_judgments(q), want[i].judgments);
        ASSERT_EQ_U64(ds_qrels_n_queries(q), want[i].queries);
        ds_qrels_free(q);
    }
}
