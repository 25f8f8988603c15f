/* qrels.c -- relevance judgments: BEIR TSV and TREC qrels readers.
**
** Formats (detected from the first non-blank line):
**   BEIR TSV   "query-id<TAB>corpus-id<TAB>score" header, then three
**              tab-separated fields a line (a header-less three-field first
**              line is read as data too).
**   TREC       "qid iter docid rel", whitespace-separated; iter is ignored.
** A judgment is an integer in [-1e9, 1e9]: trec_eval reads it with atol;
** we refuse "1.5" or "x" instead of silently truncating. Negative values are
** kept (they mean "in the pool but unjudged" to trec_eval) and count as
** non-relevant. Duplicate (qid, docid) pairs are an error, as in trec_eval.
**
** Threading: loading is independent per call; a loaded ds_qrels is read-only.
*/
#include "eval/eval_internal.h"

#include <stdio.h>

struct ds_qrels {
    ds__etable t;    /* kind DS__ETAB_QRELS; t.view always built (doc id ascending) */
};

static int id_ok(const ds__field *f, int allow_space) {
    if (f->n == 0 || f->n > DS__EVAL_MAX_ID) return 0;
    for (size_t i = 0; i < f->n; i++) {
        unsigned char c = (unsigned char)f->p[i];
        if (c < 0x20 || c == 0x7f) return 0;
        if (c == ' ' && !allow_space) return 0;
    }
    return 1;
}

static int is_beir_header(const ds__field *f, size_t nf) {
    static const char *const want[3] = { "query-id", "corpus-id", "score" };
    if (nf != 3) return 0;
    for (int i = 0; i < 3; i++)
        if (f[i].n != strlen(want[i]) || memcmp(f[i].p, want[i], f[i].n) != 0) return 0;
    return 1;
}

static ds_status parse_into(ds__etable *t, const char *data, size_t len) {
    ds__lines it = { data, data + len, 0 };
    const char *line;
    size_t ll;
    int fmt = 0;                          /* 0 unknown, 1 BEIR TSV, 2 TREC */
    const char *nul = memchr(data, '\0', len);
    while (ds__lines_next(&it, &line, &ll)) {
        if (nul != NULL && nul < line + ll)
            return ds__fail(DS_ERR_CORRUPT, "%s:%llu: NUL byte in a text file", t->name,
                            (unsigned long long)it.lineno);
        int blank = 1;
        for (size_t i = 0; i < ll && blank; i++) blank = line[i] == ' ' || line[i] == '\t';
        if (blank) continue;
        ds__field f[4];
        size_t nf;
        if (fmt == 0) {
            nf = ds__split_fields(line, ll, 1, f, 4);
            if (is_beir_header(f, nf)) { fmt = 1; continue; }
            if (nf == 3) fmt = 1;
            else {
                nf = ds__split_fields(line, ll, 0, f, 4);
                if (is_beir_header(f, nf)) { fmt = 1; continue; }   /* header with spaces */
                if (nf == 4) fmt = 2;
                else if (nf == 3) fmt = 1;
                else
                    return ds__fail(DS_ERR_CORRUPT,
                                    "%s:%llu: not a qrels line: want 'query-id<TAB>corpus-id<TAB>score' "
                                    "(BEIR) or 'qid iter docid rel' (TREC), got %zu fields",
                                    t->name, (unsigned long long)it.lineno, nf);
            }
        }
        nf = ds__split_fields(line, ll, fmt == 1 && memchr(line, '\t', ll) != NULL, f, 4);
        size_t want = fmt == 1 ? 3 : 4;
        if (nf != want)
            return ds__fail(DS_ERR_CORRUPT, "%s:%llu: expected %zu fields (%s), got %zu", t->name,
                            (unsigned long long)it.lineno, want,
                            fmt == 1 ? "query-id corpus-id score" : "qid iter docid rel", nf);
        const ds__field *q = &f[0], *d = &f[fmt == 1 ? 1 : 2], *r = &f[fmt == 1 ? 2 : 3];
        if (!id_ok(q, fmt == 1) || !id_ok(d, fmt == 1))
            return ds__fail(DS_ERR_CORRUPT, "%s:%llu: bad %s id (empty, longer than %u bytes, or control bytes)",
                            t->name, (unsigned long long)it.lineno, id_ok(q, fmt == 1) ? "doc" : "query",
                            DS__EVAL_MAX_ID);
        long long rel;
        if (!ds__field_int(r, -1000000000LL, 1000000000LL, &rel))
            return ds__fail(DS_ERR_CORRUPT, "%s:%llu: relevance '%.*s' is not a whole number in [-1e9, 1e9]",
                            t->name, (unsigned long long)it.lineno, (int)DS_MIN(r->n, 40), r->p);
        ds_status rc = ds__etable_add(t, q->p, q->n, d->p, d->n, (double)rel, it.lineno);
        if (rc != DS_OK) return ds__fail_prefix(rc, "%s:%llu: ", t->name, (unsigned long long)it.lineno);
    }
    return DS_OK;
}

static ds_status qrels_from(ds_env *env, const char *data, size_t len, const char *name, ds_qrels **out) {
    env = DS_ENV(env);
    ds_qrels *q = ds__calloc(env, 1, sizeof *q);
    if (q == NULL) return ds__fail(DS_ERR_NOMEM, "out of memory");
    ds__etable_init(&q->t, env, DS__ETAB_QRELS, name);
    ds_status rc = parse_into(&q->t, data, len);
    if (rc == DS_OK) rc = ds__etable_view(&q->t, &q->t.view);
    if (rc == DS_OK) {
        q->t.has_view = 1;
        *out = q;
    } else {
        ds_qrels_free(q);
    }
    return rc;
}

ds_status ds_qrels_parse(ds_env *env, const char *data, size_t len, const char *name, ds_qrels **out) {
    if (out == NULL) return ds__fail(DS_ERR_INVALID, "null out");
    *out = NULL;
    if (data == NULL && len > 0) return ds__fail(DS_ERR_INVALID, "null data");
    return qrels_from(env, data ? data : "", len, name, out);
}

ds_status ds_qrels_load(ds_env *env, const char *path, ds_qrels **out) {
    if (out == NULL) return ds__fail(DS_ERR_INVALID, "null out");
    *out = NULL;
    if (path == NULL) return ds__fail(DS_ERR_INVALID, "null path");
    ds__buf b;
    ds_status rc = ds__eval_read_file(env, path, &b);
    if (rc != DS_OK) return rc;
    rc = qrels_from(env, b.len ? (const char *)b.p : "", b.len, path, out);
    ds__buf_release(&b);
    return rc;
}

void ds_qrels_free(ds_qrels *q) {
    if (q == NULL) return;
    ds_env *env = q->t.env;
    ds__etable_release(&q->t);
    ds__free(env, q, sizeof *q);
}

size_t ds_qrels_n_queries(const ds_qrels *q) { return q ? q->t.view.n_groups : 0; }
size_t ds_qrels_n_judgments(const ds_qrels *q) { return q ? q->t.view.n : 0; }

/* Index of docid inside group g (records sorted by doc id), or SIZE_MAX. */
static size_t find_doc(const ds__eview *v, const ds__vgroup *g, const char *docid) {
    size_t lo = g->begin, hi = g->end;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(v->recs[mid].doc, docid);
        if (c == 0) return mid;
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return SIZE_MAX;
}

ds_status ds_qrels_get(const ds_qrels *q, const char *qid, const char *docid, int32_t *rel) {
    if (rel == NULL) return ds__fail(DS_ERR_INVALID, "null out");
    *rel = 0;
    if (q == NULL || qid == NULL || docid == NULL) return ds__fail(DS_ERR_INVALID, "null argument");
    const ds__vgroup *g = ds__eview_find(&q->t.view, qid);
    size_t i = g ? find_doc(&q->t.view, g, docid) : SIZE_MAX;
    if (i == SIZE_MAX) return ds__fail(DS_ERR_NOTFOUND, "query '%s', doc '%s' not judged", qid, docid);
    *rel = (int32_t)q->t.view.recs[i].val;
    return DS_OK;
}

/* For metrics.c: the judged docs of qid (doc id ascending), or NULL. */
const ds__eview *ds__qrels_view(const ds_qrels *q);
const ds__eview *ds__qrels_view(const ds_qrels *q) { return &q->t.view; }
