/* run.c -- TREC runs: reader, builder and writer.
**
** Line format: "qid Q0 docid rank score tag", whitespace-separated (trec_eval
** reads exactly these six fields). The second field is not checked (trec_eval
** ignores it; some tools write "0" or "q0"); the rank must be a whole number
** but is otherwise ignored, since trec_eval re-ranks by score; the score must
** be a finite number. A run saved by ds_run_save lists each query's results
** in evaluation order, so rank and order in the file agree with what
** ds_eval_compute and trec_eval use.
**
** Threading: building (ds_run_add) is exclusive; a run is read-only afterwards.
*/
#include "eval/eval_internal.h"
#include "core/container.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

struct ds_run {
    ds__etable t;    /* kind DS__ETAB_RUN */
};

static int id_ok(const char *p, size_t n) {
    if (n == 0 || n > DS__EVAL_MAX_ID) return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c <= 0x20 || c == 0x7f) return 0;
    }
    return 1;
}

static ds_status parse_into(ds__etable *t, const char *data, size_t len) {
    ds__lines it = { data, data + len, 0 };
    const char *line;
    size_t ll;
    const char *nul = memchr(data, '\0', len);
    while (ds__lines_next(&it, &line, &ll)) {
        unsigned long long ln = (unsigned long long)it.lineno;
        if (nul != NULL && nul < line + ll)
            return ds__fail(DS_ERR_CORRUPT, "%s:%llu: NUL byte in a text file", t->name, ln);
        ds__field f[6];
        size_t nf = ds__split_fields(line, ll, 0, f, 6);
        if (nf == 0) continue;                         /* blank line */
        if (nf != 6)
            return ds__fail(DS_ERR_CORRUPT, "%s:%llu: expected 6 fields (qid Q0 docid rank score tag), got %zu",
                            t->name, ln, nf);
        if (!id_ok(f[0].p, f[0].n) || !id_ok(f[2].p, f[2].n))
            return ds__fail(DS_ERR_CORRUPT, "%s:%llu: bad %s id (longer than %u bytes or control bytes)", t->name,
                            ln, id_ok(f[0].p, f[0].n) ? "doc" : "query", DS__EVAL_MAX_ID);
        long long rank;
        if (!ds__field_int(&f[3], -1000000000000LL, 1000000000000LL, &rank))
            return ds__fail(DS_ERR_CORRUPT, "%s:%llu: rank '%.*s' is not a whole number (fields: qid Q0 docid rank score tag)",
                            t->name, ln, (int)DS_MIN(f[3].n, 40), f[3].p);
        double score;
        if (!ds__field_double(&f[4], &score))
            return ds__fail(DS_ERR_CORRUPT, "%s:%llu: score '%.*s' is not a finite number", t->name, ln,
                            (int)DS_MIN(f[4].n, 40), f[4].p);
        ds_status rc = ds__etable_add(t, f[0].p, f[0].n, f[2].p, f[2].n, score, it.lineno);
        if (rc != DS_OK) return ds__fail_prefix(rc, "%s:%llu: ", t->name, ln);
    }
    return DS_OK;
}

static ds_status run_new(ds_env *env, const char *name, ds_run **out) {
    env = DS_ENV(env);
    ds_run *r = ds__calloc(env, 1, sizeof *r);
    if (r == NULL) return ds__fail(DS_ERR_NOMEM, "out of memory");
    ds__etable_init(&r->t, env, DS__ETAB_RUN, name);
    *out = r;
    return DS_OK;
}

static ds_status run_from(ds_env *env, const char *data, size_t len, const char *name, ds_run **out) {
    ds_run *r = NULL;
    ds_status rc = run_new(env, name, &r);
    if (rc != DS_OK) return rc;
    rc = parse_into(&r->t, data, len);
    /* Building the view now reports duplicates with their lines at load time. */
    if (rc == DS_OK) rc = ds__etable_view(&r->t, &r->t.view);
    if (rc == DS_OK) {
        r->t.has_view = 1;
        *out = r;
    } else {
        ds_run_free(r);
    }
    return rc;
}

ds_status ds_run_parse(ds_env *env, const char *data, size_t len, const char *name, ds_run **out) {
    if (out == NULL) return ds__fail(DS_ERR_INVALID, "null out");
    *out = NULL;
    if (data == NULL && len > 0) return ds__fail(DS_ERR_INVALID, "null data");
    return run_from(env, data ? data : "", len, name, out);
}

ds_status ds_run_load(ds_env *env, const char *path, ds_run **out) {
    if (out == NULL) return ds__fail(DS_ERR_INVALID, "null out");
    *out = NULL;
    if (path == NULL) return ds__fail(DS_ERR_INVALID, "null path");
    ds__buf b;
    ds_status rc = ds__eval_read_file(env, path, &b);
    if (rc != DS_OK) return rc;
    rc = run_from(env, b.len ? (const char *)b.p : "", b.len, path, out);
    ds__buf_release(&b);
    return rc;
}

ds_status ds_run_create(ds_env *env, ds_run **out) {
    if (out == NULL) return ds__fail(DS_ERR_INVALID, "null out");
    *out = NULL;
    return run_new(env, "run", out);
}

ds_status ds_run_add(ds_run *run, const char *qid, const char *docid, double score) {
    if (run == NULL || qid == NULL || docid == NULL) return ds__fail(DS_ERR_INVALID, "null argument");
    size_t ql = strlen(qid), dl = strlen(docid);
    /* The id rule (core/ids.c), so whatever ds_run_save writes reads back
    ** here and in trec_eval. */
    const char *why;
    if ((why = ds__id_problem(qid, ql)) != NULL) return ds__fail(DS_ERR_INVALID, "query id '%.40s' %s", qid, why);
    if ((why = ds__id_problem(docid, dl)) != NULL) return ds__fail(DS_ERR_INVALID, "doc id '%.40s' %s", docid, why);
    if (!isfinite(score)) return ds__fail(DS_ERR_INVALID, "score of query '%s', doc '%s' is not finite", qid, docid);
    return ds__etable_add(&run->t, qid, ql, docid, dl, score, 0);
}

void ds_run_free(ds_run *run) {
    if (run == NULL) return;
    ds_env *env = run->t.env;
    ds__etable_release(&run->t);
    ds__free(env, run, sizeof *run);
}

size_t ds_run_n_results(const ds_run *run) { return run ? run->t.n : 0; }

size_t ds_run_n_queries(const ds_run *run) {
    if (run == NULL) return 0;
    if (run->t.has_view) return run->t.view.n_groups;
    ds__eview v;
    if (ds__etable_view(&run->t, &v) != DS_OK) return 0;
    size_t n = v.n_groups;
    ds__eview_release(run->t.env, &v);
    return n;
}

/* For metrics.c: the sorted view, either cached or built into *tmp (then
** *owned = 1 and the caller releases tmp). */
ds_status ds__run_view(const ds_run *run, ds__eview *tmp, const ds__eview **v, int *owned);
ds_status ds__run_view(const ds_run *run, ds__eview *tmp, const ds__eview **v, int *owned) {
    *owned = 0;
    if (run->t.has_view) {
        *v = &run->t.view;
        return DS_OK;
    }
    ds_status rc = ds__etable_view(&run->t, tmp);
    if (rc != DS_OK) return rc;
    *v = tmp;
    *owned = 1;
    return DS_OK;
}
ds_env *ds__run_env(const ds_run *run);
ds_env *ds__run_env(const ds_run *run) { return run->t.env; }

static int cmp_group_first(const void *a, const void *b) {
    const ds__vgroup *x = *(const ds__vgroup *const *)a, *y = *(const ds__vgroup *const *)b;
    return (x->first_seq > y->first_seq) - (x->first_seq < y->first_seq);
}

ds_status ds_run_save(const ds_run *run, const char *path, const char *tag) {
    if (run == NULL || path == NULL) return ds__fail(DS_ERR_INVALID, "null argument");
    if (tag == NULL) tag = "densearch";
    const char *why = ds__id_problem(tag, strlen(tag));
    if (why != NULL) return ds__fail(DS_ERR_INVALID, "run tag '%.40s' %s", tag, why);
    ds_env *env = run->t.env;
    ds__eview tmp;
    const ds__eview *v = NULL;
    int owned = 0;
    const ds__vgroup **order = NULL;
    FILE *f = NULL;
    ds__afile *af = NULL;
    ds_status rc = ds__run_view(run, &tmp, &v, &owned);
    if (rc != DS_OK) return rc;
    if (v->n_groups > 0 && (order = ds__calloc(env, v->n_groups, sizeof *order)) == NULL) {
        rc = ds__fail(DS_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < v->n_groups; i++) order[i] = &v->groups[i];
    if (v->n_groups > 1) qsort(order, v->n_groups, sizeof *order, cmp_group_first);
    /* The shared writer: private temporary name, writer lock, checked rename
    ** (core/container.h). */
    if ((rc = ds__afile_open(env, path, NULL, &af)) != DS_OK) goto done;
    int fd = dup(ds__afile_fd(af));
    if (fd < 0 || (f = fdopen(fd, "wb")) == NULL) {
        if (fd >= 0) close(fd);
        rc = ds__fail(DS_ERR_IO, "%s: cannot write: %s", ds__afile_tmp_path(af), strerror(errno));
        goto done;
    }
    for (size_t g = 0; g < v->n_groups; g++) {
        for (size_t i = order[g]->begin; i < order[g]->end; i++) {
            /* %.9g round-trips float scores (what engines produce) and stays
            ** short; anything finer gets the shortest exact form (<= 17 digits), so a reader that re-sorts by
            ** the printed score sees exactly our order and our ties. */
            char num[40];
            for (int prec = 9; prec <= 17; prec++) {
                snprintf(num, sizeof num, "%.*g", prec, v->recs[i].val);
                if (strtod(num, NULL) == v->recs[i].val) break;
            }
            fprintf(f, "%s Q0 %s %zu %s %s\n", v->recs[i].qid, v->recs[i].doc, i - order[g]->begin + 1, num, tag);
        }
    }
    if (fflush(f) != 0 || ferror(f)) {
        rc = ds__fail(DS_ERR_IO, "%s: write failed: %s", ds__afile_tmp_path(af), strerror(errno));
        goto done;
    }
    if (fclose(f) != 0) {
        f = NULL;
        rc = ds__fail(DS_ERR_IO, "%s: close failed: %s", ds__afile_tmp_path(af), strerror(errno));
        goto done;
    }
    f = NULL;
    rc = ds__afile_commit(af);   /* fsync, rename; frees af */
    af = NULL;
done:
    if (f != NULL) fclose(f);
    ds__afile_abort(af);
    ds__free(env, order, v && v->n_groups ? v->n_groups * sizeof *order : 0);
    if (owned) ds__eview_release(env, &tmp);
    return rc;
}
