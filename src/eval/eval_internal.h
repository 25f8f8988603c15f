/* eval_internal.h -- shared machinery of the eval module: a table of
** (query id, doc id, value) records read from a text file or added one by one,
** and its sorted per-query view.
**
** Invariants:
**   - Every string lives NUL-terminated in table->text; records hold offsets
**     into it (the buffer may move while it grows), views hold pointers
**     (computed once the text no longer grows).
**   - A view is sorted by query id (bytes), and within a query in the
**     table's order: qrels by doc id ascending (for binary search), runs in
**     trec_eval's evaluation order (score descending, doc id descending).
**   - No view contains two records with the same (query, doc): building the
**     view rejects them, naming both lines, as trec_eval does.
**
** Threading: a table is built by one thread; a finished view is read-only.
*/
#ifndef DS_EVAL_INTERNAL_H
#define DS_EVAL_INTERNAL_H

#include "ds_internal.h"

/* Limits that keep hostile files from costing unbounded memory per line. */
#define DS__EVAL_MAX_ID   4096u        /* bytes in a query or doc id */

typedef struct ds__erec {
    size_t   qoff, doff;     /* offsets of the NUL-terminated ids in text */
    double   val;            /* run: score; qrels: judgment               */
    uint64_t line;           /* 1-based source line; 0 if added by API    */
    size_t   seq;            /* insertion order                           */
} ds__erec;

typedef struct ds__vrec {
    const char *qid, *doc;
    double      val;
    uint64_t    line;
    size_t      seq;
} ds__vrec;

typedef struct ds__vgroup {
    const char *qid;
    size_t      begin, end;  /* records [begin, end) of the view  */
    size_t      first_seq;   /* smallest seq: order of first sight */
} ds__vgroup;

typedef struct ds__eview {
    ds__vrec   *recs;
    size_t      n;
    ds__vgroup *groups;
    size_t      n_groups;
} ds__eview;

enum { DS__ETAB_QRELS = 0, DS__ETAB_RUN = 1 };

typedef struct ds__etable {
    ds_env   *env;
    int       kind;          /* DS__ETAB_QRELS or DS__ETAB_RUN */
    char      name[256];     /* file name for messages          */
    ds__buf   text;
    ds__erec *recs;
    size_t    n, cap;
    ds__eview view;          /* valid when has_view             */
    int       has_view;
} ds__etable;

void      ds__etable_init(ds__etable *t, ds_env *env, int kind, const char *name);
void      ds__etable_release(ds__etable *t);
/* Appends a record; the ids are copied. */
ds_status ds__etable_add(ds__etable *t, const char *qid, size_t qlen, const char *doc, size_t dlen,
                         double val, uint64_t line);
/* Builds a sorted view (see the invariants above); DS_ERR_CORRUPT for a
** duplicate pair. The caller releases it with ds__eview_release. */
ds_status ds__etable_view(const ds__etable *t, ds__eview *v);
void      ds__eview_release(ds_env *env, ds__eview *v);
/* The group of qid in a view, or NULL. */
const ds__vgroup *ds__eview_find(const ds__eview *v, const char *qid);

/* Reads a whole file into memory (DS_ERR_IO with the path and errno text). */
ds_status ds__eval_read_file(ds_env *env, const char *path, ds__buf *out);

/* Line splitting over untrusted bytes: returns 1 with [*line, *len) the next
** line (without "\n" / "\r\n") and *lineno its number, 0 at the end. */
typedef struct ds__lines {
    const char *p, *end;
    uint64_t    lineno;
} ds__lines;
int ds__lines_next(ds__lines *it, const char **line, size_t *len);

/* Splits a line into at most max fields separated by runs of spaces/tabs
** (tab_only: exactly one tab per separator). Returns the number of fields
** found, which may exceed max (the excess is not stored). */
typedef struct ds__field { const char *p; size_t n; } ds__field;
size_t ds__split_fields(const char *line, size_t len, int tab_only, ds__field *f, size_t max);

/* Strict number parsers for a field: the whole field must be the number. */
int ds__field_int(const ds__field *f, long long lo, long long hi, long long *out);
int ds__field_double(const ds__field *f, double *out);   /* finite only */

#endif /* DS_EVAL_INTERNAL_H */
