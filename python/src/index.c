/* index.c -- densearch.Index: a vector index (flat, HNSW, IVF-PQ, binary).
**
** Vectors come in through the buffer protocol and are handed to the library
** without a copy; results go out as densearch.Array objects (int64 ids,
** float32 scores) that numpy wraps without a copy. Ids are int64 on the
** Python side (FAISS's convention): missing results are -1, which is the
** library's UINT64_MAX padding read as signed, so no conversion pass runs.
** Searches hold the object's lock shared with the GIL released, so Python
** threads search one index in parallel (binding.h).
*/
#include "binding.h"

#include <string.h>

typedef struct {
    PyObject_HEAD
    ds_index        *ix;       /* NULL once closed */
    ds_env          *env;      /* NULL: the library's default env */
    size_t           dim;      /* fixed for the index's life: read without the lock */
    pthread_rwlock_t lock;
    unsigned         ef;       /* default ef_search of search() (0: library default) */
    unsigned         nprobe;   /* default nprobe (0: library default) */
} index_obj;

static PyTypeObject index_type;

static const dsp_choice type_choices[] = {
    { "flat", DS_INDEX_FLAT }, { "hnsw", DS_INDEX_HNSW }, { "ivfpq", DS_INDEX_IVFPQ },
    { "binary", DS_INDEX_BINARY }, { NULL, 0 }
};
static const dsp_choice metric_choices[] = {
    { "cosine", DS_METRIC_COSINE }, { "ip", DS_METRIC_IP }, { "l2", DS_METRIC_L2 }, { NULL, 0 }
};
static const dsp_choice storage_choices[] = {
    { "f32", DS_STORAGE_F32 }, { "f16", DS_STORAGE_F16 }, { "int8", DS_STORAGE_INT8 }, { NULL, 0 }
};

static const char *type_name(ds_index_type t) {
    for (const dsp_choice *c = type_choices; c->name; c++) if (c->value == (int)t) return c->name;
    return "?";
}
static const char *metric_name(ds_metric m) {
    for (const dsp_choice *c = metric_choices; c->name; c++) if (c->value == (int)m) return c->name;
    return "?";
}

/* None -> dflt; else a non-negative int that fits an unsigned. */
static int opt_uint(PyObject *o, unsigned dflt, const char *what, unsigned *out) {
    if (o == NULL || o == Py_None) { *out = dflt; return 0; }
    unsigned long v = PyLong_AsUnsignedLong(o);
    if ((v == (unsigned long)-1 && PyErr_Occurred()) || v > 0xFFFFFFFFul) {
        PyErr_Clear();
        dsp_raise_msg(DS_ERR_INVALID, "%s must be a non-negative integer below 2**32", what);
        return -1;
    }
    *out = (unsigned)v;
    return 0;
}

static PyObject *index_new(PyTypeObject *type, PyObject *args, PyObject *kw) {
    (void)args; (void)kw;
    index_obj *self = (index_obj *)type->tp_alloc(type, 0);
    if (self == NULL) return NULL;
    if (pthread_rwlock_init(&self->lock, NULL) != 0) {
        Py_DECREF(self);
        return PyErr_NoMemory();
    }
    return (PyObject *)self;
}

/* Closes the handle; with the GIL released it waits for running calls. */
static void index_close_handle(index_obj *self) {
    ds_index *ix;
    ds_env *env;
    Py_BEGIN_ALLOW_THREADS
    DSP_WRLOCK(&self->lock);
    ix = self->ix;
    env = self->env;
    self->ix = NULL;
    self->env = NULL;
    DSP_UNLOCK(&self->lock);
    ds_index_close(ix);
    ds_env_destroy(env);
    Py_END_ALLOW_THREADS
}

static void index_dealloc(PyObject *o) {
    index_obj *self = (index_obj *)o;
    /* nobody else holds a reference, so no call can be running */
    ds_index_close(self->ix);
    ds_env_destroy(self->env);
    pthread_rwlock_destroy(&self->lock);
    Py_TYPE(o)->tp_free(o);
}

static int index_init(PyObject *o, PyObject *args, PyObject *kw) {
    index_obj *self = (index_obj *)o;
    static char *kwlist[] = { "dim", "type", "metric", "M", "ef_construction", "storage", "nlist", "pq_m",
                              "pq_bits", "opq", "itq", "seed", "threads", "ef", NULL };
    Py_ssize_t dim;
    PyObject *type_o = NULL, *metric_o = NULL, *storage_o = NULL;
    unsigned m = 16, efc = 200, nlist = 0, pq_m = 0, pq_bits = 8, threads = 0, ef = 0;
    int opq = 0, itq = 0;
    unsigned long long seed = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "n|OOIIOIIIppKII:Index", kwlist, &dim, &type_o, &metric_o, &m, &efc,
                                     &storage_o, &nlist, &pq_m, &pq_bits, &opq, &itq, &seed, &threads, &ef))
        return -1;
    if (self->ix != NULL) {
        dsp_raise_msg(DS_ERR_INVALID, "Index.__init__ called twice");
        return -1;
    }
    if (dim <= 0) {
        dsp_raise_msg(DS_ERR_INVALID, "dim must be positive, got %zd", dim);
        return -1;
    }
    ds_index_opts io;
    ds_index_opts_init(&io);
    int v;
    io.type = DS_INDEX_HNSW;
    io.metric = DS_METRIC_COSINE;
    if (type_o) { if (dsp_choose(type_o, type_choices, "type", &v) < 0) return -1; io.type = (ds_index_type)v; }
    if (metric_o) { if (dsp_choose(metric_o, metric_choices, "metric", &v) < 0) return -1; io.metric = (ds_metric)v; }
    if (storage_o) { if (dsp_choose(storage_o, storage_choices, "storage", &v) < 0) return -1; io.storage = (ds_storage)v; }
    io.hnsw_m = m;
    io.hnsw_ef_construction = efc;
    io.ivf_nlist = nlist;
    io.pq_m = pq_m;
    io.pq_bits = pq_bits;
    io.opq = opq;
    io.itq = itq;
    io.seed = seed;
    if (dsp_env_make(threads, &self->env) < 0) return -1;
    ds_status rc = ds_index_create(self->env, (size_t)dim, &io, &self->ix);
    if (rc != DS_OK) {
        ds_env_destroy(self->env);
        self->env = NULL;
        dsp_raise(rc);
        return -1;
    }
    self->dim = (size_t)dim;
    self->ef = ef;
    return 0;
}

#define CLOSED_ERR() dsp_raise_msg(DS_ERR_INVALID, "the index is closed")

/* Ids for add(): None, a buffer of 8-byte integers (borrowed, no copy) or an
** iterable of ints (copied). Negative ids are refused: they would come back
** as -1, which means "no result". */
typedef struct {
    Py_buffer       view;
    int             have_view;
    uint64_t       *owned;
    const uint64_t *ids;
} id_list;

static void ids_release(id_list *l) {
    if (l->have_view) PyBuffer_Release(&l->view);
    PyMem_Free(l->owned);
    memset(l, 0, sizeof *l);
}

static int ids_get(PyObject *obj, size_t n, id_list *l) {
    memset(l, 0, sizeof *l);
    if (obj == NULL || obj == Py_None) return 0;
    if (PyObject_CheckBuffer(obj)) {
        if (PyObject_GetBuffer(obj, &l->view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) {
            PyErr_Clear();
            dsp_raise_msg(DS_ERR_INVALID, "ids must be C-contiguous");
            return -1;
        }
        l->have_view = 1;
        const char *f = l->view.format ? l->view.format : "B";
        if (*f == '@' || *f == '=' || *f == '<') f++;
        if (!((f[0] == 'q' || f[0] == 'Q' || f[0] == 'l' || f[0] == 'L') && f[1] == '\0' && l->view.itemsize == 8)) {
            dsp_raise_msg(DS_ERR_INVALID, "ids must be int64 or uint64 (np.asarray(ids, dtype=np.int64)), got '%s'", f);
            goto fail;
        }
        if (l->view.ndim != 1 || (size_t)l->view.shape[0] != n) {
            dsp_raise_msg(DS_ERR_INVALID, "ids must be one-dimensional with one id per vector (%zu)", n);
            goto fail;
        }
        l->ids = l->view.buf;
        for (size_t i = 0; i < n; i++)
            if (l->ids[i] > (uint64_t)INT64_MAX) {
                dsp_raise_msg(DS_ERR_INVALID, "ids[%zu] is negative or >= 2**63", i);
                goto fail;
            }
        return 0;
    }
    PyObject *seq = PySequence_Fast(obj, "ids must be a sequence of ints or an int64 array");
    if (seq == NULL) {
        PyErr_Clear();
        dsp_raise_msg(DS_ERR_INVALID, "ids must be a sequence of ints or an int64 array, not %.100s",
                      Py_TYPE(obj)->tp_name);
        return -1;
    }
    if ((size_t)PySequence_Fast_GET_SIZE(seq) != n) {
        dsp_raise_msg(DS_ERR_INVALID, "got %zd ids for %zu vectors", PySequence_Fast_GET_SIZE(seq), n);
        Py_DECREF(seq);
        return -1;
    }
    l->owned = PyMem_Malloc(n ? n * sizeof(uint64_t) : 1);
    if (l->owned == NULL) { Py_DECREF(seq); PyErr_NoMemory(); return -1; }
    for (size_t i = 0; i < n; i++) {
        long long v = PyLong_AsLongLong(PySequence_Fast_GET_ITEM(seq, (Py_ssize_t)i));
        if ((v == -1 && PyErr_Occurred()) || v < 0) {
            PyErr_Clear();
            dsp_raise_msg(DS_ERR_INVALID, "ids[%zu] must be an integer in [0, 2**63)", i);
            Py_DECREF(seq);
            goto fail;
        }
        l->owned[i] = (uint64_t)v;
    }
    Py_DECREF(seq);
    l->ids = l->owned;
    return 0;
fail:
    ids_release(l);
    return -1;
}

static PyObject *index_add(PyObject *o, PyObject *args, PyObject *kw) {
    index_obj *self = (index_obj *)o;
    static char *kwlist[] = { "vectors", "ids", NULL };
    PyObject *vec_o, *ids_o = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|O:add", kwlist, &vec_o, &ids_o)) return NULL;
    if (self->ix == NULL) return CLOSED_ERR();
    dsp_matrix m;
    if (dsp_matrix_get(vec_o, self->dim, "vectors", &m) < 0) return NULL;
    id_list ids;
    if (ids_get(ids_o, m.rows, &ids) < 0) { dsp_matrix_release(&m); return NULL; }
    ds_status rc;
    Py_BEGIN_ALLOW_THREADS
    DSP_WRLOCK(&self->lock);
    rc = self->ix ? ds_index_add(self->ix, m.data, m.rows, ids.ids) : DS_ERR_INVALID;
    DSP_UNLOCK(&self->lock);
    Py_END_ALLOW_THREADS
    int closed = self->ix == NULL;
    ids_release(&ids);
    dsp_matrix_release(&m);
    if (closed) return CLOSED_ERR();
    if (rc != DS_OK) return dsp_raise(rc);
    Py_RETURN_NONE;
}

static PyObject *index_train(PyObject *o, PyObject *arg) {
    index_obj *self = (index_obj *)o;
    if (self->ix == NULL) return CLOSED_ERR();
    dsp_matrix m;
    if (dsp_matrix_get(arg, self->dim, "vectors", &m) < 0) return NULL;
    ds_status rc;
    Py_BEGIN_ALLOW_THREADS
    DSP_WRLOCK(&self->lock);
    rc = self->ix ? ds_index_train(self->ix, m.data, m.rows) : DS_ERR_INVALID;
    DSP_UNLOCK(&self->lock);
    Py_END_ALLOW_THREADS
    dsp_matrix_release(&m);
    if (self->ix == NULL) return CLOSED_ERR();
    if (rc != DS_OK) return dsp_raise(rc);
    Py_RETURN_NONE;
}

static PyObject *index_search(PyObject *o, PyObject *args, PyObject *kw) {
    index_obj *self = (index_obj *)o;
    static char *kwlist[] = { "queries", "k", "ef", "filter", "nprobe", "rerank", NULL };
    PyObject *q_o, *ef_o = NULL, *filter_o = NULL, *nprobe_o = NULL, *rerank_o = NULL;
    Py_ssize_t k = 10;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|nOOOO:search", kwlist, &q_o, &k, &ef_o, &filter_o, &nprobe_o,
                                     &rerank_o))
        return NULL;
    if (self->ix == NULL) return CLOSED_ERR();
    if (k < 0) return dsp_raise_msg(DS_ERR_INVALID, "k must be >= 0, got %zd", k);
    /* the library's own limit, checked before the result arrays are allocated */
    if (k > (Py_ssize_t)1 << 24) return dsp_raise_msg(DS_ERR_RANGE, "k = %zd is too large (at most 2**24)", k);
    ds_search_opts so;
    ds_search_opts_init(&so);
    if (opt_uint(ef_o, self->ef, "ef", &so.ef_search) < 0 || opt_uint(nprobe_o, self->nprobe, "nprobe", &so.nprobe) < 0 ||
        opt_uint(rerank_o, 0, "rerank", &so.rerank) < 0)
        return NULL;
    dsp_matrix m;
    if (dsp_matrix_get(q_o, self->dim, "queries", &m) < 0) return NULL;
    uint8_t *bitmap = NULL;
    if (filter_o != NULL && filter_o != Py_None) {
        if (dsp_filter_bitmap(filter_o, &bitmap, &so.filter_bits) < 0) { dsp_matrix_release(&m); return NULL; }
        so.filter = bitmap;
    }
    dsp_array *ids = dsp_array_new("q", 2, (Py_ssize_t)m.rows, k);
    dsp_array *scores = ids ? dsp_array_new("f", 2, (Py_ssize_t)m.rows, k) : NULL;
    if (scores == NULL) {
        Py_XDECREF(ids);
        PyMem_Free(bitmap);
        dsp_matrix_release(&m);
        return NULL;
    }
    ds_status rc = DS_OK;
    int closed = 0;
    if (m.rows > 0 && k > 0) {
        Py_BEGIN_ALLOW_THREADS
        DSP_RDLOCK(&self->lock);
        if (self->ix != NULL)
            rc = ds_index_search(self->ix, m.data, m.rows, (size_t)k, &so, (uint64_t *)(void *)ids->data,
                                 (float *)(void *)scores->data, NULL);
        else
            closed = 1;
        DSP_UNLOCK(&self->lock);
        Py_END_ALLOW_THREADS
    }
    PyMem_Free(bitmap);
    dsp_matrix_release(&m);
    if (closed || rc != DS_OK) {
        Py_DECREF(ids);
        Py_DECREF(scores);
        return closed ? CLOSED_ERR() : dsp_raise(rc);
    }
    PyObject *t = PyTuple_New(2);
    if (t == NULL) { Py_DECREF(ids); Py_DECREF(scores); return NULL; }
    PyTuple_SET_ITEM(t, 0, (PyObject *)ids);
    PyTuple_SET_ITEM(t, 1, (PyObject *)scores);
    return t;
}

static PyObject *index_delete(PyObject *o, PyObject *arg) {
    index_obj *self = (index_obj *)o;
    if (self->ix == NULL) return CLOSED_ERR();
    id_list ids;
    size_t n;
    uint64_t one;
    if (PyLong_Check(arg)) {
        long long v = PyLong_AsLongLong(arg);
        if ((v == -1 && PyErr_Occurred()) || v < 0) {
            PyErr_Clear();
            return dsp_raise_msg(DS_ERR_INVALID, "id must be an integer in [0, 2**63)");
        }
        one = (uint64_t)v;
        memset(&ids, 0, sizeof ids);
        ids.ids = &one;
        n = 1;
    } else {
        Py_ssize_t len = PyObject_Length(arg);
        if (len < 0) {
            PyErr_Clear();
            return dsp_raise_msg(DS_ERR_INVALID, "delete() takes an id or a sequence of ids, not %.100s",
                                 Py_TYPE(arg)->tp_name);
        }
        n = (size_t)len;
        if (ids_get(arg, n, &ids) < 0) return NULL;
    }
    ds_status rc = DS_OK;
    size_t done = 0;
    Py_BEGIN_ALLOW_THREADS
    DSP_WRLOCK(&self->lock);
    for (; self->ix != NULL && done < n && rc == DS_OK; done++) rc = ds_index_delete(self->ix, ids.ids[done]);
    DSP_UNLOCK(&self->lock);
    Py_END_ALLOW_THREADS
    ids_release(&ids);
    if (self->ix == NULL) return CLOSED_ERR();
    if (rc != DS_OK) return dsp_raise(rc);
    Py_RETURN_NONE;
}

static PyObject *index_compact(PyObject *o, PyObject *unused) {
    (void)unused;
    index_obj *self = (index_obj *)o;
    if (self->ix == NULL) return CLOSED_ERR();
    ds_status rc;
    Py_BEGIN_ALLOW_THREADS
    DSP_WRLOCK(&self->lock);
    rc = self->ix ? ds_index_compact(self->ix) : DS_ERR_INVALID;
    DSP_UNLOCK(&self->lock);
    Py_END_ALLOW_THREADS
    if (self->ix == NULL) return CLOSED_ERR();
    if (rc != DS_OK) return dsp_raise(rc);
    Py_RETURN_NONE;
}

static PyObject *index_save(PyObject *o, PyObject *arg) {
    index_obj *self = (index_obj *)o;
    if (self->ix == NULL) return CLOSED_ERR();
    PyObject *p = dsp_path(arg, "path");
    if (p == NULL) return NULL;
    ds_status rc;
    Py_BEGIN_ALLOW_THREADS
    DSP_RDLOCK(&self->lock);
    rc = self->ix ? ds_index_save(self->ix, PyBytes_AS_STRING(p)) : DS_ERR_INVALID;
    DSP_UNLOCK(&self->lock);
    Py_END_ALLOW_THREADS
    Py_DECREF(p);
    if (self->ix == NULL) return CLOSED_ERR();
    if (rc != DS_OK) return dsp_raise(rc);
    Py_RETURN_NONE;
}

static PyObject *index_load(PyObject *cls, PyObject *args, PyObject *kw) {
    static char *kwlist[] = { "path", "verify", "threads", "ef", NULL };
    PyObject *path_o;
    int verify = 0;
    unsigned threads = 0, ef = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|pII:load", kwlist, &path_o, &verify, &threads, &ef)) return NULL;
    PyObject *p = dsp_path(path_o, "path");
    if (p == NULL) return NULL;
    index_obj *self = (index_obj *)index_new((PyTypeObject *)cls, NULL, NULL);
    if (self == NULL) { Py_DECREF(p); return NULL; }
    if (dsp_env_make(threads, &self->env) < 0) { Py_DECREF(p); Py_DECREF(self); return NULL; }
    ds_status rc;
    ds_index *ix = NULL;
    ds_env *env = self->env;
    Py_BEGIN_ALLOW_THREADS
    rc = ds_index_open(env, PyBytes_AS_STRING(p), verify ? DS_OPEN_VERIFY : 0, &ix);
    Py_END_ALLOW_THREADS
    Py_DECREF(p);
    if (rc != DS_OK) { Py_DECREF(self); return dsp_raise(rc); }
    self->ix = ix;
    self->dim = ds_index_dim(ix);
    self->ef = ef;
    return (PyObject *)self;
}

static PyObject *index_close(PyObject *o, PyObject *unused) {
    (void)unused;
    index_close_handle((index_obj *)o);
    Py_RETURN_NONE;
}

static PyObject *index_enter(PyObject *o, PyObject *unused) {
    (void)unused;
    return Py_NewRef(o);
}

static PyObject *index_exit(PyObject *o, PyObject *args) {
    (void)args;
    index_close_handle((index_obj *)o);
    Py_RETURN_FALSE;
}

/* Getters read sizes that an add running in another thread may change; they
** take the lock shared like a search (they are cheap). */
static PyObject *index_get(index_obj *self, int what) {
    if (self->ix == NULL) return CLOSED_ERR();
    uint64_t v = 0;
    const char *s = NULL;
    int closed = 0;
    Py_BEGIN_ALLOW_THREADS
    DSP_RDLOCK(&self->lock);
    closed = self->ix == NULL;
    if (!closed) {
        switch (what) {
        case 0: v = ds_index_dim(self->ix); break;
        case 1: v = ds_index_size(self->ix); break;
        case 2: v = ds_index_memory_bytes(self->ix); break;
        case 3: s = type_name(ds_index_kind(self->ix)); break;
        case 4: s = metric_name(ds_index_metric(self->ix)); break;
        default: break;
        }
    }
    DSP_UNLOCK(&self->lock);
    Py_END_ALLOW_THREADS
    if (closed) return CLOSED_ERR();
    return s ? PyUnicode_FromString(s) : PyLong_FromUnsignedLongLong(v);
}

static PyObject *get_dim(PyObject *o, void *c) { (void)c; return index_get((index_obj *)o, 0); }
static PyObject *get_size(PyObject *o, void *c) { (void)c; return index_get((index_obj *)o, 1); }
static PyObject *get_mem(PyObject *o, void *c) { (void)c; return index_get((index_obj *)o, 2); }
static PyObject *get_type(PyObject *o, void *c) { (void)c; return index_get((index_obj *)o, 3); }
static PyObject *get_metric(PyObject *o, void *c) { (void)c; return index_get((index_obj *)o, 4); }
static Py_ssize_t index_len(PyObject *o) {
    PyObject *v = index_get((index_obj *)o, 1);
    if (v == NULL) return -1;
    Py_ssize_t n = PyLong_AsSsize_t(v);
    Py_DECREF(v);
    return n;
}
static PyObject *get_closed(PyObject *o, void *c) { (void)c; return PyBool_FromLong(((index_obj *)o)->ix == NULL); }
static PyObject *get_ef(PyObject *o, void *c) { (void)c; return PyLong_FromUnsignedLong(((index_obj *)o)->ef); }
static int set_ef(PyObject *o, PyObject *v, void *c) {
    (void)c;
    if (v == NULL) { dsp_raise_msg(DS_ERR_INVALID, "ef cannot be deleted"); return -1; }
    return opt_uint(v, 0, "ef", &((index_obj *)o)->ef);
}
static PyObject *get_nprobe(PyObject *o, void *c) { (void)c; return PyLong_FromUnsignedLong(((index_obj *)o)->nprobe); }
static int set_nprobe(PyObject *o, PyObject *v, void *c) {
    (void)c;
    if (v == NULL) { dsp_raise_msg(DS_ERR_INVALID, "nprobe cannot be deleted"); return -1; }
    return opt_uint(v, 0, "nprobe", &((index_obj *)o)->nprobe);
}

static PyObject *index_repr(PyObject *o) {
    index_obj *self = (index_obj *)o;
    if (self->ix == NULL) return PyUnicode_FromString("densearch.Index(closed)");
    PyObject *t = index_get(self, 3), *mt = index_get(self, 4), *n = index_get(self, 1);
    PyObject *r = NULL;
    if (t && mt && n) r = PyUnicode_FromFormat("densearch.Index(dim=%zu, type='%U', metric='%U', size=%S)", self->dim, t, mt, n);
    Py_XDECREF(t); Py_XDECREF(mt); Py_XDECREF(n);
    return r;
}

#define KWFN(f) (PyCFunction)(void (*)(void))(f)

static PyMethodDef index_methods[] = {
    { "add", KWFN(index_add), METH_VARARGS | METH_KEYWORDS,
      "add(vectors, ids=None) -> None\n\n"
      "Adds vectors (a C-contiguous float32 (n, dim) or (dim,) buffer, read without a copy).\n"
      "ids: None assigns len(index), len(index)+1, ...; else n distinct new int64 ids >= 0\n"
      "(an int64/uint64 array or a sequence of ints). NaN or inf raise InvalidError.\n"
      "Exclusive: waits for running searches on this index." },
    { "train", index_train, METH_O,
      "train(vectors) -> None\n\nLearns the quantizers of an 'ivfpq' index (required before the first add)\n"
      "or the ITQ rotation of a 'binary' index; other types ignore it." },
    { "search", KWFN(index_search), METH_VARARGS | METH_KEYWORDS,
      "search(queries, k=10, ef=None, filter=None, nprobe=None, rerank=None) -> (ids, scores)\n\n"
      "k nearest neighbours of each query (float32 (nq, dim) or (dim,)). Returns two\n"
      "densearch.Array objects of shape (nq, k): int64 ids (-1 pads rows with fewer than k\n"
      "results) and float32 scores, higher is better (cosine/ip similarity, negated squared\n"
      "L2 distance; -inf pads). np.asarray() on either shares memory.\n"
      "ef: HNSW beam width (default: index.ef, else max(k, 64)); nprobe: IVF lists visited;\n"
      "rerank: IVF-PQ/binary candidates re-scored exactly; filter: allowed ids (an iterable or\n"
      "integer array of ids, a boolean mask over ids, or a bytes bitmap, bit i = id i).\n"
      "Releases the GIL: searches from several threads run in parallel." },
    { "delete", index_delete, METH_O,
      "delete(ids) -> None\n\nDeletes one id or a sequence of ids; later searches never return them.\n"
      "NotFoundError for an absent id (ids before it in the sequence stay deleted)." },
    { "compact", index_compact, METH_NOARGS,
      "compact() -> None\n\nRebuilds the index from its live vectors, releasing deleted slots (HNSW: a fresh\n"
      "graph). UnsupportedError for types without full-precision vectors." },
    { "save", index_save, METH_O,
      "save(path) -> None\n\nWrites the index to path (temporary file, fsync, rename)." },
    { "load", KWFN(index_load), METH_VARARGS | METH_KEYWORDS | METH_CLASS,
      "Index.load(path, verify=False, threads=0, ef=0) -> Index\n\n"
      "Opens a saved index (memory-mapped where the layout allows). verify=True checks every\n"
      "section checksum first." },
    { "open", KWFN(index_load), METH_VARARGS | METH_KEYWORDS | METH_CLASS,
      "Index.open(path, verify=False, threads=0, ef=0) -> Index\n\nSame as Index.load." },
    { "close", index_close, METH_NOARGS,
      "close() -> None\n\nReleases the index (waits for running calls); later calls raise InvalidError." },
    { "__enter__", index_enter, METH_NOARGS, NULL },
    { "__exit__", index_exit, METH_VARARGS, NULL },
    { NULL, NULL, 0, NULL }
};

static PyGetSetDef index_getset[] = {
    { "dim", get_dim, NULL, "Vector dimension.", NULL },
    { "size", get_size, NULL, "Live vectors (also len(index)).", NULL },
    { "memory_bytes", get_mem, NULL, "Resident bytes, excluding memory-mapped full vectors.", NULL },
    { "type", get_type, NULL, "'flat', 'hnsw', 'ivfpq' or 'binary'.", NULL },
    { "metric", get_metric, NULL, "'cosine', 'ip' or 'l2'.", NULL },
    { "closed", get_closed, NULL, "True after close().", NULL },
    { "ef", get_ef, set_ef, "Default HNSW beam width of search() (0: max(k, 64)); hnswlib's set_ef.", NULL },
    { "nprobe", get_nprobe, set_nprobe, "Default IVF lists visited by search() (0: 16).", NULL },
    { NULL, NULL, NULL, NULL, NULL }
};

static PySequenceMethods index_as_sequence = { .sq_length = index_len };

static PyTypeObject index_type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "densearch.Index",
    .tp_basicsize = sizeof(index_obj),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "Index(dim, type='hnsw', metric='cosine', M=16, ef_construction=200, storage='f32',\n"
              "      nlist=0, pq_m=0, pq_bits=8, opq=False, itq=False, seed=0, threads=0, ef=0)\n\n"
              "An in-memory vector index: 'flat' (exact; storage 'f32', 'f16' or 'int8'), 'hnsw',\n"
              "'ivfpq' (train() first) or 'binary'. metric 'cosine' normalises vectors on add and\n"
              "search, 'ip' is the inner product, 'l2' the squared distance (scores are negated so\n"
              "higher is always better). threads: worker threads of builds and batched searches\n"
              "(0: all cores). Use Index.load(path) to open a saved index.",
    .tp_new = index_new,
    .tp_init = index_init,
    .tp_dealloc = index_dealloc,
    .tp_methods = index_methods,
    .tp_getset = index_getset,
    .tp_as_sequence = &index_as_sequence,
    .tp_repr = index_repr,
};

int dsp_index_init(PyObject *m) {
    if (PyType_Ready(&index_type) < 0) return -1;
    return PyModule_AddObjectRef(m, "Index", (PyObject *)&index_type);
}
