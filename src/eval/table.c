/* table.c -- the record table shared by qrels and runs: id storage, the
** sorted per-query view with duplicate detection, file reading, and the
** strict line/field/number parsers every eval reader uses.
**
** Every byte here comes from a file someone else wrote: ids are length-
** checked, NUL and control bytes rejected, numbers parsed strictly (the whole
** field, finite, in range), so bad input ends in a message, not a surprise.
** Threading: a table is built by one thread; views are read-only.
*/
#include "eval/eval_internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

void ds__etable_init(ds__etable *t, ds_env *env, int kind, const char *name) {
    memset(t, 0, sizeof *t);
    t->env = DS_ENV(env);
    t->kind = kind;
    snprintf(t->name, sizeof t->name, "%s", name ? name : "<memory>");
    ds__buf_init(&t->text, t->env);
}

void ds__etable_release(ds__etable *t) {
    if (t->has_view) ds__eview_release(t->env, &t->view);
    t->has_view = 0;
    ds__free(t->env, t->recs, t->cap * sizeof *t->recs);
    t->recs = NULL;
    t->n = t->cap = 0;
    ds__buf_release(&t->text);
}

ds_status ds__etable_add(ds__etable *t, const char *qid, size_t qlen, const char *doc, size_t dlen,
                         double val, uint64_t line) {
    if (t->n == t->cap) {
        size_t ncap = t->cap ? t->cap * 2 : 1024, bytes;
        if (!ds__mul_ok(ncap, sizeof *t->recs, &bytes)) return ds__fail(DS_ERR_RANGE, "too many records");
        ds__erec *nr = ds__realloc(t->env, t->recs, t->cap * sizeof *t->recs, bytes);
        if (nr == NULL) return ds__fail(DS_ERR_NOMEM, "out of memory for %zu records", ncap);
        t->recs = nr;
        t->cap = ncap;
    }
    ds__erec *r = &t->recs[t->n];
    r->qoff = t->text.len;
    ds__buf_put(&t->text, qid, qlen);
    ds__buf_put_u8(&t->text, 0);
    r->doff = t->text.len;
    ds__buf_put(&t->text, doc, dlen);
    ds__buf_put_u8(&t->text, 0);
    if (t->text.rc != DS_OK) return ds__fail(t->text.rc, "out of memory for ids");
    r->val = val;
    r->line = line;
    r->seq = t->n;
    t->n++;
    if (t->has_view) {                  /* the cached view no longer covers every record */
        ds__eview_release(t->env, &t->view);
        t->has_view = 0;
    }
    return DS_OK;
}

/* ---- sorting ------------------------------------------------------------- */
static int cmp_qid_doc_seq(const void *a, const void *b) {
    const ds__vrec *x = a, *y = b;
    int c = strcmp(x->qid, y->qid);
    if (c == 0) c = strcmp(x->doc, y->doc);
    if (c == 0) c = (x->seq > y->seq) - (x->seq < y->seq);
    return c;
}

/* trec_eval's order (form_res_rels.c, comp_sim_docno): score descending, then
** docno compared with strcmp in *descending* order. seq only makes the sort
** total; within a query (qid, doc) is unique once duplicates are rejected. */
static int cmp_qid_score_doc(const void *a, const void *b) {
    const ds__vrec *x = a, *y = b;
    int c = strcmp(x->qid, y->qid);
    if (c != 0) return c;
    if (x->val > y->val) return -1;
    if (x->val < y->val) return 1;
    c = strcmp(y->doc, x->doc);
    if (c == 0) c = (x->seq > y->seq) - (x->seq < y->seq);
    return c;
}

void ds__eview_release(ds_env *env, ds__eview *v) {
    ds__free(env, v->recs, v->n * sizeof *v->recs);
    ds__free(env, v->groups, v->n_groups * sizeof *v->groups);
    memset(v, 0, sizeof *v);
}

static void where(char *dst, size_t cap, const char *name, uint64_t line) {
    if (line) snprintf(dst, cap, "%s:%llu", name, (unsigned long long)line);
    else snprintf(dst, cap, "%s (added record)", name);
}

ds_status ds__etable_view(const ds__etable *t, ds__eview *v) {
    memset(v, 0, sizeof *v);
    ds_env *env = t->env;
    ds_status rc = DS_OK;
    size_t n = t->n;
    ds__vrec *recs = NULL;
    ds__vgroup *groups = NULL;
    size_t n_groups = 0;
    if (n > 0) {
        if ((recs = ds__calloc(env, n, sizeof *recs)) == NULL) {
            rc = ds__fail(DS_ERR_NOMEM, "out of memory sorting %zu records", n);
            goto done;
        }
        const char *base = (const char *)t->text.p;
        for (size_t i = 0; i < n; i++) {
            recs[i].qid = base + t->recs[i].qoff;
            recs[i].doc = base + t->recs[i].doff;
            recs[i].val = t->recs[i].val;
            recs[i].line = t->recs[i].line;
            recs[i].seq = t->recs[i].seq;
        }
        /* Duplicates first: they sit next to each other in (qid, doc) order. */
        qsort(recs, n, sizeof *recs, cmp_qid_doc_seq);
        for (size_t i = 1; i < n; i++) {
            if (strcmp(recs[i].qid, recs[i - 1].qid) == 0 && strcmp(recs[i].doc, recs[i - 1].doc) == 0) {
                char a[300], b[300];
                where(a, sizeof a, t->name, recs[i - 1].line);
                where(b, sizeof b, t->name, recs[i].line);
                rc = ds__fail(DS_ERR_CORRUPT, "%s: duplicate %s for query '%s', doc '%s' (first at %s)", b,
                              t->kind == DS__ETAB_RUN ? "result" : "judgment", recs[i].qid, recs[i].doc, a);
                goto done;
            }
        }
        if (t->kind == DS__ETAB_RUN) qsort(recs, n, sizeof *recs, cmp_qid_score_doc);
        size_t count = 1;
        for (size_t i = 1; i < n; i++) count += strcmp(recs[i].qid, recs[i - 1].qid) != 0;
        if ((groups = ds__calloc(env, count, sizeof *groups)) == NULL) {
            rc = ds__fail(DS_ERR_NOMEM, "out of memory for %zu queries", count);
            goto done;
        }
        for (size_t i = 0; i < n; i++) {
            if (i == 0 || strcmp(recs[i].qid, recs[i - 1].qid) != 0) {
                ds__vgroup *g = &groups[n_groups++];
                g->qid = recs[i].qid;
                g->begin = i;
                g->first_seq = recs[i].seq;
            }
            ds__vgroup *g = &groups[n_groups - 1];
            g->end = i + 1;
            if (recs[i].seq < g->first_seq) g->first_seq = recs[i].seq;
        }
        DS_ASSERT(n_groups == count);
    }
    v->recs = recs;
    v->n = n;
    v->groups = groups;
    v->n_groups = n_groups;
    recs = NULL;
    groups = NULL;
done:
    ds__free(env, recs, n * sizeof *recs);
    ds__free(env, groups, n_groups * sizeof *groups);
    return rc;
}

const ds__vgroup *ds__eview_find(const ds__eview *v, const char *qid) {
    size_t lo = 0, hi = v->n_groups;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(v->groups[mid].qid, qid);
        if (c == 0) return &v->groups[mid];
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

/* ---- input --------------------------------------------------------------- */
ds_status ds__eval_read_file(ds_env *env, const char *path, ds__buf *out) {
    ds__buf_init(out, DS_ENV(env));
    FILE *f = fopen(path, "rb");
    if (f == NULL) return ds__fail(DS_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    ds_status rc = DS_OK;
    for (;;) {
        if (!ds__buf_reserve(out, 1 << 16)) {
            rc = ds__fail(out->rc, "%s: out of memory after %zu bytes", path, out->len);
            break;
        }
        size_t got = fread(out->p + out->len, 1, out->cap - out->len, f);
        out->len += got;
        if (got == 0) {
            if (ferror(f)) rc = ds__fail(DS_ERR_IO, "%s: read error: %s", path, strerror(errno));
            break;
        }
    }
    fclose(f);
    if (rc != DS_OK) ds__buf_release(out);
    return rc;
}

int ds__lines_next(ds__lines *it, const char **line, size_t *len) {
    if (it->p >= it->end) return 0;
    const char *s = it->p;
    const char *nl = memchr(s, '\n', (size_t)(it->end - s));
    const char *e = nl ? nl : it->end;
    it->p = nl ? nl + 1 : it->end;
    if (e > s && e[-1] == '\r') e--;
    it->lineno++;
    *line = s;
    *len = (size_t)(e - s);
    return 1;
}

size_t ds__split_fields(const char *line, size_t len, int tab_only, ds__field *f, size_t max) {
    size_t n = 0, i = 0;
    if (tab_only) {
        size_t start = 0;
        for (i = 0; i <= len; i++) {
            if (i == len || line[i] == '\t') {
                if (n < max) { f[n].p = line + start; f[n].n = i - start; }
                n++;
                start = i + 1;
            }
        }
        return n;
    }
    while (i < len) {
        while (i < len && (line[i] == ' ' || line[i] == '\t')) i++;
        if (i == len) break;
        size_t start = i;
        while (i < len && line[i] != ' ' && line[i] != '\t') i++;
        if (n < max) { f[n].p = line + start; f[n].n = i - start; }
        n++;
    }
    return n;
}

int ds__field_int(const ds__field *f, long long lo, long long hi, long long *out) {
    char tmp[32];
    if (f->n == 0 || f->n >= sizeof tmp) return 0;
    memcpy(tmp, f->p, f->n);
    tmp[f->n] = '\0';
    char *end;
    errno = 0;
    long long v = strtoll(tmp, &end, 10);
    if (errno != 0 || *end != '\0' || end == tmp || tmp[0] == ' ' || v < lo || v > hi) return 0;
    *out = v;
    return 1;
}

int ds__field_double(const ds__field *f, double *out) {
    char tmp[64];
    if (f->n == 0 || f->n >= sizeof tmp) return 0;
    memcpy(tmp, f->p, f->n);
    tmp[f->n] = '\0';
    char *end;
    errno = 0;
    double v = strtod(tmp, &end);
    /* ERANGE on underflow still gives a usable (tiny or zero) value; overflow
    ** gives inf, rejected by isfinite. */
    if (*end != '\0' || end == tmp || !isfinite(v)) return 0;
    *out = v;
    return 1;
}
