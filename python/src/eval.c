/* eval.c -- densearch._evaluate: trec_eval metrics of a run against qrels.
**
** The Python wrapper (densearch.evaluate) turns dicts into TREC text, so
** this side only sees a path or bytes for each input and parses them with
** ds_qrels_load/ds_qrels_parse and ds_run_load/ds_run_parse (the same
** validation as `densearch eval`). Parsing and scoring run with the GIL
** released.
*/
#include "binding.h"

static PyObject *py_evaluate(PyObject *self, PyObject *args, PyObject *kw) {
    (void)self;
    static char *kwlist[] = { "qrels_path", "qrels_text", "run_path", "run_text", "metrics", "min_rel", "complete",
                              NULL };
    PyObject *qp_o, *rp_o;
    Py_buffer qt = { 0 }, rt = { 0 };
    const char *metrics = NULL;
    int min_rel = 1, complete = 1;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "Oz*Oz*|zip:_evaluate", kwlist, &qp_o, &qt, &rp_o, &rt, &metrics,
                                     &min_rel, &complete))
        return NULL;
    PyObject *qp = NULL, *rp = NULL, *res = NULL;
    if (qp_o != Py_None && (qp = dsp_path(qp_o, "qrels")) == NULL) goto done;
    if (rp_o != Py_None && (rp = dsp_path(rp_o, "run")) == NULL) goto done;
    if ((qp == NULL) == (qt.buf == NULL) || (rp == NULL) == (rt.buf == NULL)) {
        dsp_raise_msg(DS_ERR_INVALID, "_evaluate: give each input as a path or as text");
        goto done;
    }
    ds_qrels *q = NULL;
    ds_run *r = NULL;
    ds_eval *e = NULL;
    ds_eval_opts eo;
    ds_eval_opts_init(&eo);
    eo.min_rel = min_rel;
    eo.complete = complete;
    ds_status rc;
    Py_BEGIN_ALLOW_THREADS
    rc = qp ? ds_qrels_load(NULL, PyBytes_AS_STRING(qp), &q)
            : ds_qrels_parse(NULL, qt.buf, (size_t)qt.len, "qrels", &q);
    if (rc == DS_OK)
        rc = rp ? ds_run_load(NULL, PyBytes_AS_STRING(rp), &r) : ds_run_parse(NULL, rt.buf, (size_t)rt.len, "run", &r);
    if (rc == DS_OK) rc = ds_eval_compute(q, r, metrics, &eo, &e);
    Py_END_ALLOW_THREADS
    if (rc != DS_OK) {
        dsp_raise(rc);
        goto free_all;
    }
    size_t nm = ds_eval_n_metrics(e), nq = ds_eval_n_queries(e);
    PyObject *names = PyList_New((Py_ssize_t)nm), *mean = PyDict_New(), *per = PyDict_New();
    int bad = names == NULL || mean == NULL || per == NULL;
    for (size_t m = 0; !bad && m < nm; m++) {
        PyObject *n = PyUnicode_FromString(ds_eval_metric_name(e, m));
        PyObject *v = PyFloat_FromDouble(ds_eval_mean(e, m));
        if (n == NULL || v == NULL || PyDict_SetItem(mean, n, v) < 0) bad = 1;
        Py_XDECREF(v);
        if (n) PyList_SET_ITEM(names, (Py_ssize_t)m, n);
        else bad = 1;
    }
    for (size_t i = 0; !bad && i < nq; i++) {
        PyObject *row = PyDict_New();
        for (size_t m = 0; row != NULL && m < nm; m++) {
            PyObject *v = PyFloat_FromDouble(ds_eval_value(e, i, m));
            if (v == NULL || PyDict_SetItem(row, PyList_GET_ITEM(names, (Py_ssize_t)m), v) < 0) Py_CLEAR(row);
            Py_XDECREF(v);
        }
        if (row == NULL || PyDict_SetItemString(per, ds_eval_query_id(e, i), row) < 0) bad = 1;
        Py_XDECREF(row);
    }
    if (!bad)
        res = Py_BuildValue("{s:O,s:O,s:O,s:n,s:n}", "metrics", names, "mean", mean, "per_query", per, "n_missing",
                            (Py_ssize_t)ds_eval_n_missing(e), "n_norel", (Py_ssize_t)ds_eval_n_norel(e));
    Py_XDECREF(names);
    Py_XDECREF(mean);
    Py_XDECREF(per);
free_all:
    ds_eval_free(e);
    ds_run_free(r);
    ds_qrels_free(q);
done:
    Py_XDECREF(qp);
    Py_XDECREF(rp);
    if (qt.obj) PyBuffer_Release(&qt);
    if (rt.obj) PyBuffer_Release(&rt);
    return res;
}

static PyMethodDef eval_methods[] = {
    { "_evaluate", (PyCFunction)(void (*)(void))py_evaluate, METH_VARARGS | METH_KEYWORDS,
      "_evaluate(qrels_path, qrels_text, run_path, run_text, metrics=None, min_rel=1, complete=True) -> dict\n\n"
      "Internal: use densearch.evaluate()." },
    { NULL, NULL, 0, NULL }
};

int dsp_eval_init(PyObject *m) {
    return PyModule_AddFunctions(m, eval_methods);
}
