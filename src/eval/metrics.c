/* metrics.c -- trec_eval metrics over a run and qrels: nDCG@k, MRR@k,
** Recall@k, MAP (and MAP@k), P@k.
**
** Semantics (docs/eval.md; each rule follows trec_eval 9):
**   - per query, results in trec_eval's order (score desc, doc id desc);
**   - relevant: judgment >= min_rel; negative and missing judgments are
**     non-relevant with gain 0;
**   - nDCG: DCG = sum gain_i / log2(i + 1) over ranks i = 1..k, gain = the
**     judgment (graded); the ideal DCG uses the judged docs' gains sorted
**     descending, cut at the same k (trec_eval ndcg_cut);
**   - MRR@k: 1 / rank of the first relevant doc within k, else 0;
**   - Recall@k: relevant docs in the top k / relevant judged docs;
**   - MAP: sum over relevant retrieved docs (within k for map@k) of the
**     precision at their rank, / relevant judged docs;
**   - P@k: relevant docs in the top k / k (k, even when fewer were retrieved);
**   - queries averaged: every qrels query with >= 1 relevant doc; those the
**     run lacks score 0 when opts.complete (trec_eval -c), else are skipped.
**
** Threading: ds_eval_compute only reads its inputs; results are immutable.
*/
#include "eval/eval_internal.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

const ds__eview *ds__qrels_view(const ds_qrels *q);
ds_status ds__run_view(const ds_run *run, ds__eview *tmp, const ds__eview **v, int *owned);
ds_env *ds__run_env(const ds_run *run);

enum { M_NDCG, M_MRR, M_RECALL, M_MAP, M_P };
#define MAX_METRICS 64

typedef struct metric {
    int      type;
    uint64_t k;          /* cut-off; 0 = none */
    char     name[40];   /* canonical */
} metric;

struct ds_eval {
    ds_env  *env;
    size_t   n_metrics;
    metric   m[MAX_METRICS];
    size_t   n_queries, n_missing, n_norel;
    char    *qid_text;          /* NUL-separated query ids */
    size_t   qid_text_len;
    const char **qids;          /* n_queries pointers into qid_text */
    double  *values;            /* n_queries x n_metrics */
    double   mean[MAX_METRICS];
};

void ds_eval_opts_init(ds_eval_opts *o) {
    if (o == NULL) return;
    memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
    o->min_rel = 1;
    o->complete = 1;
}

/* ---- metric spec --------------------------------------------------------- */
static int parse_k(const char *s, size_t n, uint64_t *k) {
    if (n == 0 || n > 10) return 0;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return 0;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (v == 0 || v > 1000000000u) return 0;
    *k = v;
    return 1;
}

/* name[0..n) is one item; "prefix" followed by a separator and K, or alone. */
static int match(const char *s, size_t n, const char *prefix, int case_fold, int k_required, uint64_t *k) {
    size_t pl = strlen(prefix);
    if (n < pl) return 0;
    for (size_t i = 0; i < pl; i++) {
        char a = s[i], b = prefix[i];
        if (case_fold) a = (char)tolower((unsigned char)a);
        if (a != b) return 0;
    }
    if (n == pl) {
        *k = 0;
        return !k_required;
    }
    return parse_k(s + pl, n - pl, k);
}

static ds_status parse_metrics(const char *spec, metric *m, size_t *n_out) {
    *n_out = 0;
    size_t n = 0;
    const char *p = spec;
    for (;;) {
        while (*p == ' ' || *p == '\t') p++;
        const char *e = p;
        while (*e && *e != ',') e++;
        const char *t = e;
        while (t > p && (t[-1] == ' ' || t[-1] == '\t')) t--;
        size_t len = (size_t)(t - p);
        if (len == 0) return ds__fail(DS_ERR_INVALID, "empty item in metrics list '%s'", spec);
        if (n == MAX_METRICS) return ds__fail(DS_ERR_INVALID, "more than %d metrics", MAX_METRICS);
        uint64_t k = 0;
        int type = -1;
        /* trec_eval's names: "ndcg_cut.10" on its command line, "ndcg_cut_10"
        ** in its output; both are accepted. */
        if (match(p, len, "ndcg@", 1, 1, &k) || match(p, len, "ndcg_cut.", 0, 1, &k) ||
            match(p, len, "ndcg_cut_", 0, 1, &k)) type = M_NDCG;
        else if (match(p, len, "ndcg", 1, 0, &k) && k == 0) type = M_NDCG;
        else if (match(p, len, "mrr@", 1, 1, &k)) type = M_MRR;
        else if ((match(p, len, "mrr", 1, 0, &k) || match(p, len, "recip_rank", 0, 0, &k)) && k == 0) type = M_MRR;
        else if (match(p, len, "recall@", 1, 1, &k) || match(p, len, "recall.", 0, 1, &k) ||
                 match(p, len, "recall_", 0, 1, &k)) type = M_RECALL;
        else if (match(p, len, "recall", 1, 0, &k) && k == 0) type = M_RECALL;
        else if (match(p, len, "map@", 1, 1, &k) || match(p, len, "map_cut.", 0, 1, &k) ||
                 match(p, len, "map_cut_", 0, 1, &k)) type = M_MAP;
        else if (match(p, len, "map", 1, 0, &k) && k == 0) type = M_MAP;
        else if (match(p, len, "p@", 1, 1, &k) || match(p, len, "P.", 0, 1, &k) || match(p, len, "P_", 0, 1, &k)) type = M_P;
        if (type < 0)
            return ds__fail(DS_ERR_INVALID,
                            "unknown metric '%.*s' (known: ndcg@K, mrr@K, recall@K, map, map@K, p@K; "
                            "K a whole number >= 1)",
                            (int)DS_MIN(len, 60), p);
        static const char *const names[] = { "ndcg", "mrr", "recall", "map", "p" };
        m[n].type = type;
        m[n].k = k;
        if (k) snprintf(m[n].name, sizeof m[n].name, "%s@%llu", names[type], (unsigned long long)k);
        else snprintf(m[n].name, sizeof m[n].name, "%s", names[type]);
        n++;
        if (*e == '\0') break;
        p = e + 1;
    }
    *n_out = n;
    return DS_OK;
}

/* ---- per-query computation ------------------------------------------------ */
static int cmp_double_desc(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x < y) - (x > y);
}

static double judgment_of(const ds__eview *qv, const ds__vgroup *g, const char *doc, int *judged) {
    size_t lo = g->begin, hi = g->end;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(qv->recs[mid].doc, doc);
        if (c == 0) {
            *judged = 1;
            return qv->recs[mid].val;
        }
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    *judged = 0;
    return 0;
}

/* rel[i]: judgment of the i-th retrieved doc (0 when unjudged); ideal: the
** positive gains of the query's judged docs, descending. */
static double metric_value(const metric *m, const double *rel, size_t n_ret, const double *ideal, size_t n_ideal,
                           size_t num_rel, double min_rel) {
    size_t cut = (m->k && m->k < n_ret) ? (size_t)m->k : n_ret;
    switch (m->type) {
    case M_NDCG: {
        double dcg = 0, idcg = 0;
        for (size_t i = 0; i < cut; i++)
            if (rel[i] > 0) dcg += rel[i] / log2((double)i + 2.0);
        size_t icut = (m->k && m->k < n_ideal) ? (size_t)m->k : n_ideal;
        for (size_t i = 0; i < icut; i++) idcg += ideal[i] / log2((double)i + 2.0);
        return idcg > 0 ? dcg / idcg : 0.0;
    }
    case M_MRR:
        for (size_t i = 0; i < cut; i++)
            if (rel[i] >= min_rel) return 1.0 / (double)(i + 1);
        return 0.0;
    case M_RECALL: {
        size_t hit = 0;
        for (size_t i = 0; i < cut; i++) hit += rel[i] >= min_rel;
        return num_rel ? (double)hit / (double)num_rel : 0.0;
    }
    case M_MAP: {
        size_t hit = 0;
        double sum = 0;
        for (size_t i = 0; i < cut; i++)
            if (rel[i] >= min_rel) {
                hit++;
                sum += (double)hit / (double)(i + 1);
            }
        return num_rel ? sum / (double)num_rel : 0.0;
    }
    case M_P: {
        size_t hit = 0;
        for (size_t i = 0; i < cut; i++) hit += rel[i] >= min_rel;
        return (double)hit / (double)m->k;
    }
    }
    return 0.0;
}

ds_status ds_eval_compute(const ds_qrels *qrels, const ds_run *run, const char *metrics,
                          const ds_eval_opts *opts, ds_eval **out) {
    if (out == NULL) return ds__fail(DS_ERR_INVALID, "null out");
    *out = NULL;
    if (qrels == NULL || run == NULL) return ds__fail(DS_ERR_INVALID, "null qrels or run");
    if (metrics == NULL) metrics = "ndcg@10,mrr@10,recall@100,map";
    int min_rel = DS_OPT(opts, min_rel, 1);
    int complete = DS_OPT(opts, complete, 1);
    ds_env *env = ds__run_env(run);

    ds_eval *e = ds__calloc(env, 1, sizeof *e);
    if (e == NULL) return ds__fail(DS_ERR_NOMEM, "out of memory");
    e->env = env;
    ds_status rc = parse_metrics(metrics, e->m, &e->n_metrics);
    ds__eview tmp;
    const ds__eview *rv = NULL;
    int owned = 0;
    double *rel = NULL, *ideal = NULL;
    size_t rel_cap = 0, ideal_cap = 0;
    size_t *qsel = NULL;
    ds__buf names;
    ds__buf_init(&names, env);
    const ds__eview *qv = ds__qrels_view(qrels);
    if (rc != DS_OK) goto done;
    if ((rc = ds__run_view(run, &tmp, &rv, &owned)) != DS_OK) goto done;

    /* Pass 1: which qrels queries are averaged. */
    size_t max_ret = 0, max_judged = 0;
    if (qv->n_groups > 0 && (qsel = ds__calloc(env, qv->n_groups, sizeof *qsel)) == NULL) {
        rc = ds__fail(DS_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (size_t g = 0; g < qv->n_groups; g++) {
        const ds__vgroup *qg = &qv->groups[g];
        size_t num_rel = 0;
        for (size_t i = qg->begin; i < qg->end; i++) num_rel += qv->recs[i].val >= (double)min_rel;
        if (num_rel == 0) {
            e->n_norel++;
            continue;
        }
        const ds__vgroup *rg = ds__eview_find(rv, qg->qid);
        if (rg == NULL) {
            e->n_missing++;
            if (!complete) continue;
        } else {
            max_ret = DS_MAX(max_ret, rg->end - rg->begin);
        }
        max_judged = DS_MAX(max_judged, qg->end - qg->begin);
        qsel[e->n_queries++] = g;
    }
    /* Every metric would be 0.0000 and look like a result: an empty run, or
    ** one whose query ids match none of the judged queries (wrong file, or ids
    ** that differ in form), is an error, as empty qrels are. */
    if (rv->n_groups == 0) {
        rc = ds__fail(DS_ERR_INVALID, "the run is empty (no results to evaluate)");
        goto done;
    }
    size_t n_judged = qv->n_groups - e->n_norel;   /* queries with a relevant doc */
    if (n_judged > 0 && e->n_missing == n_judged) {
        rc = ds__fail(DS_ERR_INVALID, "the run and the qrels share no query id (run has %zu queries, "
                      "e.g. '%s'; qrels judge %zu, e.g. '%s')", rv->n_groups, rv->groups[0].qid,
                      n_judged, qv->groups[0].qid);
        goto done;
    }

    size_t nv;
    if (!ds__mul_ok(e->n_queries, e->n_metrics, &nv)) {
        rc = ds__fail(DS_ERR_RANGE, "too many queries x metrics");
        goto done;
    }
    rel_cap = max_ret ? max_ret : 1;
    ideal_cap = max_judged ? max_judged : 1;
    if ((nv && (e->values = ds__calloc(env, nv, sizeof *e->values)) == NULL) ||
        (e->n_queries && (e->qids = ds__calloc(env, e->n_queries, sizeof *e->qids)) == NULL) ||
        (rel = ds__calloc(env, rel_cap, sizeof *rel)) == NULL ||
        (ideal = ds__calloc(env, ideal_cap, sizeof *ideal)) == NULL) {
        rc = ds__fail(DS_ERR_NOMEM, "out of memory for %zu queries", e->n_queries);
        goto done;
    }

    /* Pass 2: per-query values. */
    for (size_t q = 0; q < e->n_queries; q++) {
        const ds__vgroup *qg = &qv->groups[qsel[q]];
        size_t n_ideal = 0, num_rel = 0;
        for (size_t i = qg->begin; i < qg->end; i++) {
            double r = qv->recs[i].val;
            if (r > 0) ideal[n_ideal++] = r;
            num_rel += r >= (double)min_rel;
        }
        qsort(ideal, n_ideal, sizeof *ideal, cmp_double_desc);
        const ds__vgroup *rg = ds__eview_find(rv, qg->qid);
        size_t n_ret = 0;
        if (rg != NULL) {
            for (size_t i = rg->begin; i < rg->end; i++) {
                int judged;
                double r = judgment_of(qv, qg, rv->recs[i].doc, &judged);
                rel[n_ret++] = r;
            }
        }
        for (size_t m = 0; m < e->n_metrics; m++)
            e->values[q * e->n_metrics + m] =
                metric_value(&e->m[m], rel, n_ret, ideal, n_ideal, num_rel, (double)min_rel);
        ds__buf_put(&names, qg->qid, strlen(qg->qid) + 1);
    }
    if (names.rc != DS_OK) {
        rc = ds__fail(names.rc, "out of memory for query ids");
        goto done;
    }
    /* The names buffer stops moving here, so pointers into it stay valid. */
    e->qid_text = (char *)names.p;
    e->qid_text_len = names.cap;
    names.p = NULL;
    names.cap = names.len = 0;
    {
        const char *s = e->qid_text;
        for (size_t q = 0; q < e->n_queries; q++) {
            e->qids[q] = s;
            s += strlen(s) + 1;
        }
    }
    for (size_t m = 0; m < e->n_metrics; m++) {
        double sum = 0;
        for (size_t q = 0; q < e->n_queries; q++) sum += e->values[q * e->n_metrics + m];
        e->mean[m] = e->n_queries ? sum / (double)e->n_queries : 0.0;
    }
done:
    ds__free(env, rel, rel_cap * sizeof *rel);
    ds__free(env, ideal, ideal_cap * sizeof *ideal);
    ds__free(env, qsel, qv->n_groups * sizeof *qsel);
    ds__buf_release(&names);
    if (owned) ds__eview_release(env, &tmp);
    if (rc == DS_OK) *out = e;
    else ds_eval_free(e);
    return rc;
}

void ds_eval_free(ds_eval *e) {
    if (e == NULL) return;
    ds_env *env = e->env;
    ds__free(env, e->values, e->n_queries * e->n_metrics * sizeof *e->values);
    ds__free(env, e->qids, e->n_queries * sizeof *e->qids);
    ds__free(env, e->qid_text, e->qid_text_len);
    ds__free(env, e, sizeof *e);
}

size_t ds_eval_n_metrics(const ds_eval *e) { return e ? e->n_metrics : 0; }
const char *ds_eval_metric_name(const ds_eval *e, size_t m) {
    return (e && m < e->n_metrics) ? e->m[m].name : NULL;
}
double ds_eval_mean(const ds_eval *e, size_t m) { return (e && m < e->n_metrics) ? e->mean[m] : NAN; }
size_t ds_eval_n_queries(const ds_eval *e) { return e ? e->n_queries : 0; }
const char *ds_eval_query_id(const ds_eval *e, size_t q) {
    return (e && q < e->n_queries) ? e->qids[q] : NULL;
}
double ds_eval_value(const ds_eval *e, size_t q, size_t m) {
    return (e && q < e->n_queries && m < e->n_metrics) ? e->values[q * e->n_metrics + m] : NAN;
}
size_t ds_eval_n_missing(const ds_eval *e) { return e ? e->n_missing : 0; }
size_t ds_eval_n_norel(const ds_eval *e) { return e ? e->n_norel : 0; }
