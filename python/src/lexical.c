/* lexical.c -- densearch.LexicalIndex: BM25 indexes (build, open, search,
** stored text, snippets).
**
** Results are densearch.Hit tuples (id, score) with bm25 and bm25_rank set,
** the same shape Collection.search returns. Builds from a corpus file run
** entirely with the GIL released; builds from Python documents hold it
** while iterating (the iterator is Python code) and release it for the
** final merge.
*/
#include "binding.h"

#include <math.h>
#include <string.h>

typedef struct {
    PyObject_HEAD
    ds_lexical      *lx;       /* NULL once closed */
    ds_env          *env;
    pthread_rwlock_t lock;
} lexical_obj;

static PyTypeObject lexical_type;

#define CLOSED_ERR() dsp_raise_msg(DS_ERR_INVALID, "the lexical index is closed")

static const dsp_choice format_choices[] = {
    { "auto", DS_CORPUS_AUTO }, { "beir", DS_CORPUS_BEIR }, { "jsonl", DS_CORPUS_JSONL },
    { "tsv", DS_CORPUS_TSV }, { "dir", DS_CORPUS_DIR }, { NULL, 0 }
};

static PyObject *lexical_new(PyTypeObject *type, PyObject *args, PyObject *kw) {
    (void)args; (void)kw;
    lexical_obj *self = (lexical_obj *)type->tp_alloc(type, 0);
    if (self == NULL) return NULL;
    if (pthread_rwlock_init(&self->lock, NULL) != 0) { Py_DECREF(self); return PyErr_NoMemory(); }
    return (PyObject *)self;
}

static void lexical_dealloc(PyObject *o) {
    lexical_obj *self = (lexical_obj *)o;
    ds_lexical_close(self->lx);
    ds_env_destroy(self->env);
    pthread_rwlock_destroy(&self->lock);
    Py_TYPE(o)->tp_free(o);
}

static int open_into(lexical_obj *self, PyObject *path_o, int verify, unsigned threads) {
    PyObject *p = dsp_path(path_o, "path");
    if (p == NULL) return -1;
    if (self->env == NULL && dsp_env_make(threads, &self->env) < 0) { Py_DECREF(p); return -1; }
    ds_status rc;
    ds_lexical *lx = NULL;
    ds_env *env = self->env;
    Py_BEGIN_ALLOW_THREADS
    rc = ds_lexical_open(env, PyBytes_AS_STRING(p), verify ? DS_OPEN_VERIFY : 0, &lx);
    Py_END_ALLOW_THREADS
    Py_DECREF(p);
    if (rc != DS_OK) { dsp_raise(rc); return -1; }
    self->lx = lx;
    return 0;
}

static int lexical_init(PyObject *o, PyObject *args, PyObject *kw) {
    static char *kwlist[] = { "path", "verify", "threads", NULL };
    PyObject *path_o;
    int verify = 0;
    unsigned threads = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|pI:LexicalIndex", kwlist, &path_o, &verify, &threads)) return -1;
    lexical_obj *self = (lexical_obj *)o;
    if (self->lx != NULL) { dsp_raise_msg(DS_ERR_INVALID, "LexicalIndex.__init__ called twice"); return -1; }
    return open_into(self, path_o, verify, threads);
}

static PyObject *lexical_open(PyObject *cls, PyObject *args, PyObject *kw) {
    return PyObject_Call(cls, args, kw);
}

/* One document from Python: (id, text), (id, title, text), or a mapping with
** "_id"/"id", "title", "text". The strings stay owned by *keep. */
static int doc_from_py(PyObject *d, size_t i, ds_doc *doc, PyObject **keep) {
    memset(doc, 0, sizeof *doc);
    *keep = NULL;
    PyObject *id = NULL, *title = NULL, *text = NULL;
    if (PyDict_Check(d)) {
        id = PyDict_GetItemString(d, "_id");
        if (id == NULL) id = PyDict_GetItemString(d, "id");
        title = PyDict_GetItemString(d, "title");
        text = PyDict_GetItemString(d, "text");
    } else if (PyTuple_Check(d) || PyList_Check(d)) {
        Py_ssize_t n = PySequence_Size(d);
        if (n == 2) { id = PySequence_Fast_GET_ITEM(d, 0); text = PySequence_Fast_GET_ITEM(d, 1); }
        else if (n == 3) { id = PySequence_Fast_GET_ITEM(d, 0); title = PySequence_Fast_GET_ITEM(d, 1); text = PySequence_Fast_GET_ITEM(d, 2); }
    }
    if (id == NULL || !PyUnicode_Check(id) || (title && title != Py_None && !PyUnicode_Check(title)) ||
        (text && text != Py_None && !PyUnicode_Check(text))) {
        dsp_raise_msg(DS_ERR_INVALID, "documents[%zu] must be (id, text), (id, title, text) or a dict with "
                      "'_id' (or 'id'), 'title' and 'text' str values", i);
        return -1;
    }
    *keep = PyTuple_Pack(3, id, title ? title : Py_None, text ? text : Py_None);
    if (*keep == NULL) return -1;
    Py_ssize_t l;
    doc->id = PyUnicode_AsUTF8AndSize(id, &l);
    doc->id_len = (size_t)l;
    doc->title = "";
    doc->text = "";
    if (doc->id != NULL && title && title != Py_None) {
        doc->title = PyUnicode_AsUTF8AndSize(title, &l);
        doc->title_len = (size_t)l;
    }
    if (doc->id != NULL && doc->title != NULL && text && text != Py_None) {
        doc->text = PyUnicode_AsUTF8AndSize(text, &l);
        doc->text_len = (size_t)l;
    }
    if (doc->id == NULL || doc->title == NULL || doc->text == NULL) {
        Py_CLEAR(*keep);
        PyErr_Clear();
        dsp_raise_msg(DS_ERR_INVALID, "documents[%zu] is not valid Unicode", i);
        return -1;
    }
    doc->file = "<python>";
    doc->line = (uint64_t)i + 1;
    return 0;
}

static PyObject *lexical_build(PyObject *cls, PyObject *args, PyObject *kw) {
    static char *kwlist[] = { "index_dir", "corpus", "documents", "format", "id_field", "text_field", "title_field",
                              "skip_bad", "k1", "b", "stemmer", "stopwords", "store_text", "threads", "mem_mb", NULL };
    PyObject *dir_o, *corpus_o = Py_None, *docs_o = Py_None, *format_o = NULL;
    const char *id_field = NULL, *text_field = NULL, *title_field = NULL, *stemmer = "english";
    int skip_bad = 0, stopwords = 1, store_text = 1;
    float k1 = 0.9f, b = 0.4f;
    unsigned threads = 0;
    Py_ssize_t mem_mb = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|OOOzzzpffsppIn:build", kwlist, &dir_o, &corpus_o, &docs_o, &format_o,
                                     &id_field, &text_field, &title_field, &skip_bad, &k1, &b, &stemmer, &stopwords,
                                     &store_text, &threads, &mem_mb))
        return NULL;
    if ((corpus_o == Py_None) == (docs_o == Py_None))
        return dsp_raise_msg(DS_ERR_INVALID, "build() needs exactly one of corpus= (a file or directory) or documents=");
    if (mem_mb < 0) return dsp_raise_msg(DS_ERR_INVALID, "mem_mb must be >= 0");
    ds_corpus_opts co;
    ds_corpus_opts_init(&co);
    if (format_o != NULL && format_o != Py_None) {
        int v;
        if (dsp_choose(format_o, format_choices, "format", &v) < 0) return NULL;
        co.format = (ds_corpus_format)v;
    }
    if (id_field) co.id_field = id_field;
    if (text_field) co.text_field = text_field;
    if (title_field) co.title_field = title_field;
    co.skip_bad = skip_bad;
    ds_lexical_opts lo;
    ds_lexical_opts_init(&lo);
    lo.k1 = k1;
    lo.b = b;
    lo.stemmer = stemmer;
    lo.stopwords = stopwords;
    lo.store_text = store_text;
    lo.n_threads = threads;
    if (mem_mb > 0) lo.mem_limit = (size_t)mem_mb << 20;

    PyObject *dir = dsp_path(dir_o, "index_dir");
    if (dir == NULL) return NULL;
    PyObject *corpus = NULL;
    if (corpus_o != Py_None && (corpus = dsp_path(corpus_o, "corpus")) == NULL) { Py_DECREF(dir); return NULL; }
    lexical_obj *self = (lexical_obj *)lexical_new((PyTypeObject *)cls, NULL, NULL);
    if (self == NULL || dsp_env_make(threads, &self->env) < 0) goto fail;

    ds_lexical_builder *bld = NULL;
    ds_status rc;
    ds_env *env = self->env;
    Py_BEGIN_ALLOW_THREADS
    rc = ds_lexical_builder_create(env, PyBytes_AS_STRING(dir), &lo, &bld);
    Py_END_ALLOW_THREADS
    if (rc != DS_OK) { dsp_raise(rc); goto fail; }
    if (corpus != NULL) {
        ds_corpus *c = NULL;
        Py_BEGIN_ALLOW_THREADS
        rc = ds_corpus_open(env, PyBytes_AS_STRING(corpus), &co, &c);
        while (rc == DS_OK) {
            ds_doc d;
            rc = ds_corpus_next(c, &d);
            if (rc == DS_OK && d.id == NULL) break;
            if (rc == DS_OK) {
                rc = ds_lexical_add(bld, &d);
                /* a refused document (duplicate id) is skipped only on request, as the CLI does */
                if (rc == DS_ERR_INVALID && skip_bad) rc = DS_OK;
            } else if (skip_bad && rc == DS_ERR_CORRUPT) {
                rc = DS_OK;
            }
        }
        ds_corpus_close(c);
        Py_END_ALLOW_THREADS
    } else {
        PyObject *it = PyObject_GetIter(docs_o);
        if (it == NULL) {
            PyErr_Clear();
            dsp_raise_msg(DS_ERR_INVALID, "documents must be an iterable, not %.100s", Py_TYPE(docs_o)->tp_name);
            ds_lexical_abort(bld);
            goto fail;
        }
        PyObject *d;
        size_t i = 0;
        rc = DS_OK;
        while (rc == DS_OK && (d = PyIter_Next(it)) != NULL) {
            ds_doc doc;
            PyObject *keep;
            int bad = doc_from_py(d, i++, &doc, &keep);
            Py_DECREF(d);
            if (bad < 0) { rc = DS_ERR_INVALID; break; }
            rc = ds_lexical_add(bld, &doc);
            if (rc == DS_ERR_INVALID && skip_bad) rc = DS_OK;
            Py_DECREF(keep);
            if (rc != DS_OK) dsp_raise(rc);
        }
        Py_DECREF(it);
        if (rc == DS_OK && PyErr_Occurred()) rc = DS_ERR_INVALID;
        if (rc != DS_OK) { ds_lexical_abort(bld); goto fail; }
    }
    if (rc != DS_OK) { ds_lexical_abort(bld); dsp_raise(rc); goto fail; }
    Py_BEGIN_ALLOW_THREADS
    rc = ds_lexical_finish(bld, NULL);
    Py_END_ALLOW_THREADS
    if (rc != DS_OK) { dsp_raise(rc); goto fail; }
    {
        ds_lexical *lx = NULL;
        Py_BEGIN_ALLOW_THREADS
        rc = ds_lexical_open(env, PyBytes_AS_STRING(dir), 0, &lx);
        Py_END_ALLOW_THREADS
        if (rc != DS_OK) { dsp_raise(rc); goto fail; }
        self->lx = lx;
    }
    Py_DECREF(dir);
    Py_XDECREF(corpus);
    return (PyObject *)self;
fail:
    Py_DECREF(dir);
    Py_XDECREF(corpus);
    Py_XDECREF(self);
    return NULL;
}

static PyObject *hits_to_list(const ds_lexical *lx, const ds_lexical_hit *h, size_t n) {
    PyObject *l = PyList_New((Py_ssize_t)n);
    for (size_t i = 0; l != NULL && i < n; i++) {
        ds_hit x;
        memset(&x, 0, sizeof x);
        x.id = ds_lexical_doc_id(lx, h[i].doc, &x.id_len);
        x.doc = h[i].doc;
        x.score = h[i].score;
        x.bm25 = h[i].score;
        x.dense = x.fused = x.rerank = NAN;
        x.bm25_rank = (uint32_t)(i + 1);
        PyObject *t = dsp_hit_new(&x);
        if (t == NULL) { Py_CLEAR(l); break; }
        PyList_SET_ITEM(l, (Py_ssize_t)i, t);
    }
    return l;
}

static int search_opts(PyObject *k1_o, PyObject *b_o, ds_lexical_search_opts *so) {
    ds_lexical_search_opts_init(so);
    if (k1_o != NULL && k1_o != Py_None) { so->k1 = (float)PyFloat_AsDouble(k1_o); if (PyErr_Occurred()) return -1; }
    if (b_o != NULL && b_o != Py_None) { so->b = (float)PyFloat_AsDouble(b_o); if (PyErr_Occurred()) return -1; }
    return 0;
}

static PyObject *lexical_search(PyObject *o, PyObject *args, PyObject *kw) {
    lexical_obj *self = (lexical_obj *)o;
    static char *kwlist[] = { "query", "k", "k1", "b", NULL };
    PyObject *k1_o = NULL, *b_o = NULL;
    const char *q;
    Py_ssize_t qlen, k = 10;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "s#|nOO:search", kwlist, &q, &qlen, &k, &k1_o, &b_o)) return NULL;
    if (self->lx == NULL) return CLOSED_ERR();
    if (k < 0) return dsp_raise_msg(DS_ERR_INVALID, "k must be >= 0");
    if (k > (Py_ssize_t)1 << 24) return dsp_raise_msg(DS_ERR_RANGE, "k = %zd is too large (at most 2**24)", k);
    ds_lexical_search_opts so;
    if (search_opts(k1_o, b_o, &so) < 0) return NULL;
    ds_lexical_hit *hits = PyMem_Malloc((size_t)(k ? k : 1) * sizeof *hits);
    if (hits == NULL) return PyErr_NoMemory();
    size_t n = 0;
    ds_status rc = DS_OK;
    int closed = 0;
    Py_BEGIN_ALLOW_THREADS
    DSP_RDLOCK(&self->lock);
    closed = self->lx == NULL;
    if (!closed && k > 0) rc = ds_lexical_search(self->lx, q, (size_t)qlen, (size_t)k, &so, hits, &n);
    DSP_UNLOCK(&self->lock);
    Py_END_ALLOW_THREADS
    PyObject *res = NULL;
    if (closed) CLOSED_ERR();
    else if (rc != DS_OK) dsp_raise(rc);
    else res = hits_to_list(self->lx, hits, n);
    PyMem_Free(hits);
    return res;
}

static PyObject *lexical_search_batch(PyObject *o, PyObject *args, PyObject *kw) {
    lexical_obj *self = (lexical_obj *)o;
    static char *kwlist[] = { "queries", "k", "k1", "b", "threads", NULL };
    PyObject *q_o, *k1_o = NULL, *b_o = NULL;
    Py_ssize_t k = 10;
    unsigned threads = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|nOOI:search_batch", kwlist, &q_o, &k, &k1_o, &b_o, &threads))
        return NULL;
    if (self->lx == NULL) return CLOSED_ERR();
    if (k < 0) return dsp_raise_msg(DS_ERR_INVALID, "k must be >= 0");
    if (k > (Py_ssize_t)1 << 24) return dsp_raise_msg(DS_ERR_RANGE, "k = %zd is too large (at most 2**24)", k);
    ds_lexical_search_opts so;
    if (search_opts(k1_o, b_o, &so) < 0) return NULL;
    PyObject *tup = PySequence_Tuple(q_o);
    if (tup == NULL) return NULL;
    size_t n = (size_t)PyTuple_GET_SIZE(tup), kk = (size_t)(k ? k : 1);
    const char **qs = PyMem_Malloc((n ? n : 1) * sizeof *qs);
    ds_lexical_hit *hits = NULL;
    size_t *nh = PyMem_Malloc((n ? n : 1) * sizeof *nh);
    if (n > 0 && kk > (size_t)PY_SSIZE_T_MAX / sizeof *hits / n) { PyErr_NoMemory(); goto done_early; }
    hits = PyMem_Malloc((n ? n : 1) * kk * sizeof *hits);
    if (qs == NULL || hits == NULL || nh == NULL) { PyErr_NoMemory(); goto done_early; }
    for (size_t i = 0; i < n; i++) {
        PyObject *x = PyTuple_GET_ITEM(tup, (Py_ssize_t)i);
        qs[i] = PyUnicode_Check(x) ? PyUnicode_AsUTF8(x) : NULL;
        if (qs[i] == NULL) {
            PyErr_Clear();
            dsp_raise_msg(DS_ERR_INVALID, "queries[%zu] must be a str", i);
            goto done_early;
        }
    }
    ds_status rc = DS_OK;
    int closed = 0;
    Py_BEGIN_ALLOW_THREADS
    DSP_RDLOCK(&self->lock);
    closed = self->lx == NULL;
    if (!closed && k > 0 && n > 0) rc = ds_lexical_search_batch(self->lx, qs, n, kk, &so, threads, hits, nh);
    DSP_UNLOCK(&self->lock);
    Py_END_ALLOW_THREADS
    PyObject *res = NULL;
    if (closed) CLOSED_ERR();
    else if (rc != DS_OK) dsp_raise(rc);
    else {
        res = PyList_New((Py_ssize_t)n);
        for (size_t i = 0; res != NULL && i < n; i++) {
            PyObject *l = hits_to_list(self->lx, hits + i * kk, k > 0 ? nh[i] : 0);
            if (l == NULL) { Py_CLEAR(res); break; }
            PyList_SET_ITEM(res, (Py_ssize_t)i, l);
        }
    }
    PyMem_Free(qs); PyMem_Free(hits); PyMem_Free(nh); Py_DECREF(tup);
    return res;
done_early:
    PyMem_Free(qs); PyMem_Free(hits); PyMem_Free(nh); Py_DECREF(tup);
    return NULL;
}

/* By document number (Hit.doc): the lexical index keeps no id -> number map
** (collections do: Collection.doc takes an id). */
static PyObject *lexical_doc(PyObject *o, PyObject *arg) {
    lexical_obj *self = (lexical_obj *)o;
    if (self->lx == NULL) return CLOSED_ERR();
    long long d = PyLong_AsLongLong(arg);
    if (d == -1 && PyErr_Occurred()) {
        PyErr_Clear();
        return dsp_raise_msg(DS_ERR_INVALID, "doc() takes a document number (see Hit.doc)");
    }
    if (d < 0 || (uint64_t)d >= ds_lexical_n_docs(self->lx))
        return dsp_raise_msg(DS_ERR_NOTFOUND, "document %lld out of range (the index has %llu)", d,
                             (unsigned long long)ds_lexical_n_docs(self->lx));
    char *title = NULL, *text = NULL;
    size_t tl = 0, xl = 0;
    ds_status rc;
    Py_BEGIN_ALLOW_THREADS
    DSP_RDLOCK(&self->lock);
    rc = self->lx ? ds_lexical_doc(self->lx, (uint32_t)d, &title, &tl, &text, &xl) : DS_ERR_INVALID;
    DSP_UNLOCK(&self->lock);
    Py_END_ALLOW_THREADS
    if (rc != DS_OK) return dsp_raise(rc);
    PyObject *r = Py_BuildValue("(s#s#)", title, (Py_ssize_t)tl, text, (Py_ssize_t)xl);
    ds_free(title);
    ds_free(text);
    return r;
}

static PyObject *lexical_doc_id(PyObject *o, PyObject *arg) {
    lexical_obj *self = (lexical_obj *)o;
    if (self->lx == NULL) return CLOSED_ERR();
    long long d = PyLong_AsLongLong(arg);
    if (d == -1 && PyErr_Occurred()) return NULL;
    size_t len = 0;
    const char *id = d >= 0 && d <= UINT32_MAX ? ds_lexical_doc_id(self->lx, (uint32_t)d, &len) : NULL;
    if (id == NULL) return dsp_raise_msg(DS_ERR_NOTFOUND, "document %lld out of range", d);
    return PyUnicode_DecodeUTF8(id, (Py_ssize_t)len, "replace");
}

static PyObject *lexical_snippet(PyObject *o, PyObject *args, PyObject *kw) {
    lexical_obj *self = (lexical_obj *)o;
    static char *kwlist[] = { "query", "text", "max_bytes", "open", "close", NULL };
    const char *q, *text, *op = "**", *cl = "**";
    Py_ssize_t tlen, max_bytes = 200;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "ss#|nss:snippet", kwlist, &q, &text, &tlen, &max_bytes, &op, &cl))
        return NULL;
    if (self->lx == NULL) return CLOSED_ERR();
    if (max_bytes <= 0) return dsp_raise_msg(DS_ERR_INVALID, "max_bytes must be positive");
    char *out = NULL;
    ds_status rc = ds_lexical_snippet(self->lx, q, text, (size_t)tlen, (size_t)max_bytes, op, cl, &out);
    if (rc != DS_OK) return dsp_raise(rc);
    PyObject *r = PyUnicode_DecodeUTF8(out, (Py_ssize_t)strlen(out), "replace");
    ds_free(out);
    return r;
}

static PyObject *lexical_close(PyObject *o, PyObject *unused) {
    (void)unused;
    lexical_obj *self = (lexical_obj *)o;
    ds_lexical *lx;
    ds_env *env;
    Py_BEGIN_ALLOW_THREADS
    DSP_WRLOCK(&self->lock);
    lx = self->lx;
    env = self->env;
    self->lx = NULL;
    self->env = NULL;
    DSP_UNLOCK(&self->lock);
    ds_lexical_close(lx);
    ds_env_destroy(env);
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

static PyObject *lexical_enter(PyObject *o, PyObject *unused) { (void)unused; return Py_NewRef(o); }
static PyObject *lexical_exit(PyObject *o, PyObject *args) {
    (void)args;
    PyObject *r = lexical_close(o, NULL);
    Py_XDECREF(r);
    if (r == NULL) return NULL;
    Py_RETURN_FALSE;
}

static Py_ssize_t lexical_len(PyObject *o) {
    lexical_obj *self = (lexical_obj *)o;
    if (self->lx == NULL) { CLOSED_ERR(); return -1; }
    return (Py_ssize_t)ds_lexical_n_docs(self->lx);
}

static PyObject *get_n_terms(PyObject *o, void *c) {
    (void)c;
    lexical_obj *self = (lexical_obj *)o;
    if (self->lx == NULL) return CLOSED_ERR();
    return PyLong_FromUnsignedLongLong(ds_lexical_n_terms(self->lx));
}
static PyObject *get_n_docs(PyObject *o, void *c) {
    (void)c;
    lexical_obj *self = (lexical_obj *)o;
    if (self->lx == NULL) return CLOSED_ERR();
    return PyLong_FromUnsignedLongLong(ds_lexical_n_docs(self->lx));
}
static PyObject *get_closed(PyObject *o, void *c) { (void)c; return PyBool_FromLong(((lexical_obj *)o)->lx == NULL); }

static PyObject *lexical_repr(PyObject *o) {
    lexical_obj *self = (lexical_obj *)o;
    if (self->lx == NULL) return PyUnicode_FromString("densearch.LexicalIndex(closed)");
    return PyUnicode_FromFormat("densearch.LexicalIndex(n_docs=%llu, n_terms=%llu)",
                                (unsigned long long)ds_lexical_n_docs(self->lx),
                                (unsigned long long)ds_lexical_n_terms(self->lx));
}

#define KWFN(f) (PyCFunction)(void (*)(void))(f)

static PyMethodDef lexical_methods[] = {
    { "build", KWFN(lexical_build), METH_VARARGS | METH_KEYWORDS | METH_CLASS,
      "LexicalIndex.build(index_dir, corpus=None, documents=None, format='auto', id_field=None,\n"
      "                   text_field=None, title_field=None, skip_bad=False, k1=0.9, b=0.4,\n"
      "                   stemmer='english', stopwords=True, store_text=True, threads=0,\n"
      "                   mem_mb=0) -> LexicalIndex\n\n"
      "Builds a BM25 index in index_dir from a corpus file or directory (format 'auto',\n"
      "'beir', 'jsonl', 'tsv', 'dir'; the CLI's `densearch index`) or from documents: an\n"
      "iterable of (id, text), (id, title, text) or dicts with '_id'/'id', 'title', 'text'.\n"
      "Bad or duplicate documents raise (CorruptError / InvalidError naming file:line or\n"
      "the document); skip_bad=True skips them. Returns the opened index." },
    { "open", KWFN(lexical_open), METH_VARARGS | METH_KEYWORDS | METH_CLASS,
      "LexicalIndex.open(path, verify=False, threads=0) -> LexicalIndex\n\nSame as LexicalIndex(path)." },
    { "search", KWFN(lexical_search), METH_VARARGS | METH_KEYWORDS,
      "search(query, k=10, k1=None, b=None) -> list[Hit]\n\n"
      "Top-k documents by BM25 for a free-text query, best first (ties: lower document\n"
      "number). Each Hit unpacks as (id, score) and has .doc, .bm25, .bm25_rank." },
    { "search_batch", KWFN(lexical_search_batch), METH_VARARGS | METH_KEYWORDS,
      "search_batch(queries, k=10, k1=None, b=None, threads=0) -> list[list[Hit]]\n\n"
      "Many queries on threads (0: all cores), GIL released." },
    { "doc", lexical_doc, METH_O,
      "doc(doc) -> (title, text)\n\nStored title and text of a document number (Hit.doc).\n"
      "NotFoundError if out of range or the index was built with store_text=False." },
    { "doc_id", lexical_doc_id, METH_O, "doc_id(doc) -> str\n\nExternal id of a document number." },
    { "snippet", KWFN(lexical_snippet), METH_VARARGS | METH_KEYWORDS,
      "snippet(query, text, max_bytes=200, open='**', close='**') -> str\n\n"
      "An excerpt of text around the densest run of query terms, each match wrapped." },
    { "close", lexical_close, METH_NOARGS, "close() -> None\n\nUnmaps the index (waits for running searches)." },
    { "__enter__", lexical_enter, METH_NOARGS, NULL },
    { "__exit__", lexical_exit, METH_VARARGS, NULL },
    { NULL, NULL, 0, NULL }
};

static PyGetSetDef lexical_getset[] = {
    { "n_docs", get_n_docs, NULL, "Documents indexed (also len(index)).", NULL },
    { "n_terms", get_n_terms, NULL, "Distinct terms.", NULL },
    { "closed", get_closed, NULL, "True after close().", NULL },
    { NULL, NULL, NULL, NULL, NULL }
};

static PySequenceMethods lexical_as_sequence = { .sq_length = lexical_len };

static PyTypeObject lexical_type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "densearch.LexicalIndex",
    .tp_basicsize = sizeof(lexical_obj),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "LexicalIndex(path, verify=False, threads=0)\n\n"
              "A BM25 index directory (built by LexicalIndex.build or `densearch index`), opened\n"
              "memory-mapped. Searches release the GIL and may run from many threads.",
    .tp_new = lexical_new,
    .tp_init = lexical_init,
    .tp_dealloc = lexical_dealloc,
    .tp_methods = lexical_methods,
    .tp_getset = lexical_getset,
    .tp_as_sequence = &lexical_as_sequence,
    .tp_repr = lexical_repr,
};

int dsp_lexical_init(PyObject *m) {
    if (PyType_Ready(&lexical_type) < 0) return -1;
    return PyModule_AddObjectRef(m, "LexicalIndex", (PyObject *)&lexical_type);
}
