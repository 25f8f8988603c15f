/* encoder.c -- densearch.Encoder: bi-encoder embeddings, cross-encoder
** scores and SPLADE vectors from a Hugging Face model directory.
**
** Texts are converted to UTF-8 while the GIL is held, from a tuple the
** binding owns (so another thread mutating the caller's list cannot free a
** string under a running encode); the forward passes run with the GIL
** released and the encoder's lock shared (encodes may run concurrently,
** close waits for them).
*/
#include "binding.h"

#include <string.h>

typedef struct {
    PyObject_HEAD
    ds_encoder      *enc;      /* NULL once closed */
    ds_env          *env;
    pthread_rwlock_t lock;
    size_t           dim;
    ds_encoder_kind  kind;
} encoder_obj;

static PyTypeObject encoder_type;

#define CLOSED_ERR() dsp_raise_msg(DS_ERR_INVALID, "the encoder is closed")

static const dsp_choice pooling_choices[] = {
    { "auto", DS_POOLING_AUTO }, { "mean", DS_POOLING_MEAN }, { "cls", DS_POOLING_CLS },
    { "max", DS_POOLING_MAX }, { "mean_sqrt_len", DS_POOLING_MEAN_SQRT_LEN }, { NULL, 0 }
};

static PyObject *encoder_new(PyTypeObject *type, PyObject *args, PyObject *kw) {
    (void)args; (void)kw;
    encoder_obj *self = (encoder_obj *)type->tp_alloc(type, 0);
    if (self == NULL) return NULL;
    if (pthread_rwlock_init(&self->lock, NULL) != 0) { Py_DECREF(self); return PyErr_NoMemory(); }
    return (PyObject *)self;
}

static void encoder_dealloc(PyObject *o) {
    encoder_obj *self = (encoder_obj *)o;
    ds_encoder_close(self->enc);
    ds_env_destroy(self->env);
    pthread_rwlock_destroy(&self->lock);
    Py_TYPE(o)->tp_free(o);
}

static int encoder_init(PyObject *o, PyObject *args, PyObject *kw) {
    encoder_obj *self = (encoder_obj *)o;
    static char *kwlist[] = { "model_dir", "int8", "batch_size", "max_seq_length", "pooling", "normalize", "threads",
                              "bf16", NULL };
    PyObject *dir_o, *pool_o = NULL, *norm_o = NULL;
    int int8 = 0, bf16 = 0;
    Py_ssize_t batch = 32, max_seq = 0;
    unsigned threads = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|pnnOOIp:Encoder", kwlist, &dir_o, &int8, &batch, &max_seq, &pool_o,
                                     &norm_o, &threads, &bf16))
        return -1;
    if (self->enc != NULL) { dsp_raise_msg(DS_ERR_INVALID, "Encoder.__init__ called twice"); return -1; }
    if (batch <= 0) { dsp_raise_msg(DS_ERR_INVALID, "batch_size must be positive, got %zd", batch); return -1; }
    if (max_seq < 0) { dsp_raise_msg(DS_ERR_INVALID, "max_seq_length must be >= 0, got %zd", max_seq); return -1; }
    ds_encoder_opts eo;
    ds_encoder_opts_init(&eo);
    eo.int8 = int8;
    eo.bf16 = bf16;
    eo.batch_size = (size_t)batch;
    eo.max_seq_length = (size_t)max_seq;
    if (pool_o != NULL && pool_o != Py_None) {
        int v;
        if (dsp_choose(pool_o, pooling_choices, "pooling", &v) < 0) return -1;
        eo.pooling = (ds_pooling)v;
    }
    if (norm_o != NULL && norm_o != Py_None) {
        int t = PyObject_IsTrue(norm_o);
        if (t < 0) return -1;
        eo.normalize = t;
    }
    PyObject *p = dsp_path(dir_o, "model_dir");
    if (p == NULL) return -1;
    if (dsp_env_make(threads, &self->env) < 0) { Py_DECREF(p); return -1; }
    ds_status rc;
    ds_encoder *enc = NULL;
    ds_env *env = self->env;
    Py_BEGIN_ALLOW_THREADS
    rc = ds_encoder_open(env, PyBytes_AS_STRING(p), &eo, &enc);
    Py_END_ALLOW_THREADS
    Py_DECREF(p);
    if (rc != DS_OK) { dsp_raise(rc); return -1; }
    self->enc = enc;
    self->dim = ds_encoder_dim(enc);
    self->kind = ds_encoder_kind_of(enc);
    return 0;
}

const ds_encoder *dsp_encoder_handle(PyObject *obj, pthread_rwlock_t **lock) {
    if (!PyObject_TypeCheck(obj, &encoder_type)) {
        dsp_raise_msg(DS_ERR_INVALID, "expected a densearch.Encoder, not %.100s", Py_TYPE(obj)->tp_name);
        return NULL;
    }
    encoder_obj *e = (encoder_obj *)obj;
    if (e->enc == NULL) { CLOSED_ERR(); return NULL; }
    *lock = &e->lock;
    return e->enc;
}

/* A list of UTF-8 strings borrowed from a tuple of str the binding owns. */
typedef struct {
    PyObject    *tuple;
    const char **s;
    size_t      *len;
    size_t       n;
} text_list;

static void texts_release(text_list *t) {
    PyMem_Free(t->s);
    PyMem_Free(t->len);
    Py_XDECREF(t->tuple);
    memset(t, 0, sizeof *t);
}

static int texts_get(PyObject *obj, const char *what, text_list *t) {
    memset(t, 0, sizeof *t);
    if (PyUnicode_Check(obj)) {
        t->tuple = PyTuple_Pack(1, obj);
    } else {
        t->tuple = PySequence_Tuple(obj);
        if (t->tuple == NULL) {
            PyErr_Clear();
            dsp_raise_msg(DS_ERR_INVALID, "%s must be a str or a sequence of str, not %.100s", what,
                          Py_TYPE(obj)->tp_name);
            return -1;
        }
    }
    if (t->tuple == NULL) return -1;
    t->n = (size_t)PyTuple_GET_SIZE(t->tuple);
    t->s = PyMem_Malloc((t->n ? t->n : 1) * sizeof *t->s);
    t->len = PyMem_Malloc((t->n ? t->n : 1) * sizeof *t->len);
    if (t->s == NULL || t->len == NULL) { texts_release(t); PyErr_NoMemory(); return -1; }
    for (size_t i = 0; i < t->n; i++) {
        PyObject *x = PyTuple_GET_ITEM(t->tuple, (Py_ssize_t)i);
        if (!PyUnicode_Check(x)) {
            dsp_raise_msg(DS_ERR_INVALID, "%s[%zu] must be a str, not %.100s", what, i, Py_TYPE(x)->tp_name);
            texts_release(t);
            return -1;
        }
        Py_ssize_t l;
        t->s[i] = PyUnicode_AsUTF8AndSize(x, &l);
        if (t->s[i] == NULL) {
            PyErr_Clear();
            dsp_raise_msg(DS_ERR_INVALID, "%s[%zu] is not valid Unicode (lone surrogate?)", what, i);
            texts_release(t);
            return -1;
        }
        t->len[i] = (size_t)l;
    }
    return 0;
}

static int need_kind(encoder_obj *self, ds_encoder_kind want, const char *call) {
    static const char *names[] = { "an embedding model (BertModel)", "a cross-encoder (BertForSequenceClassification)",
                                   "a SPLADE model (BertForMaskedLM)" };
    if (self->enc == NULL) { CLOSED_ERR(); return -1; }
    if (self->kind != want) {
        dsp_raise_msg(DS_ERR_INVALID, "%s needs %s; this encoder is %s", call, names[want], names[self->kind]);
        return -1;
    }
    return 0;
}

static PyObject *encoder_encode(PyObject *o, PyObject *args, PyObject *kw) {
    encoder_obj *self = (encoder_obj *)o;
    static char *kwlist[] = { "texts", "batch_size", NULL };
    PyObject *texts_o, *bs_o = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|O:encode", kwlist, &texts_o, &bs_o)) return NULL;
    if (need_kind(self, DS_ENCODER_EMBED, "encode()") < 0) return NULL;
    size_t chunk = 0;
    if (bs_o != Py_None) {
        Py_ssize_t b = PyLong_AsSsize_t(bs_o);
        if (b <= 0) { PyErr_Clear(); return dsp_raise_msg(DS_ERR_INVALID, "batch_size must be a positive int"); }
        chunk = (size_t)b;
    }
    int single = PyUnicode_Check(texts_o);
    text_list t;
    if (texts_get(texts_o, "texts", &t) < 0) return NULL;
    dsp_array *out = single ? dsp_array_new("f", 1, (Py_ssize_t)self->dim, 0)
                            : dsp_array_new("f", 2, (Py_ssize_t)t.n, (Py_ssize_t)self->dim);
    if (out == NULL) { texts_release(&t); return NULL; }
    ds_status rc = DS_OK;
    int closed = 0;
    if (chunk == 0) chunk = t.n ? t.n : 1;
    Py_BEGIN_ALLOW_THREADS
    DSP_RDLOCK(&self->lock);
    closed = self->enc == NULL;
    for (size_t i = 0; !closed && rc == DS_OK && i < t.n; i += chunk) {
        size_t n = t.n - i < chunk ? t.n - i : chunk;
        rc = ds_encoder_encode(self->enc, t.s + i, t.len + i, n, (float *)(void *)out->data + i * self->dim);
    }
    DSP_UNLOCK(&self->lock);
    Py_END_ALLOW_THREADS
    texts_release(&t);
    if (closed || rc != DS_OK) { Py_DECREF(out); return closed ? CLOSED_ERR() : dsp_raise(rc); }
    return (PyObject *)out;
}

static PyObject *encoder_rerank(PyObject *o, PyObject *args, PyObject *kw) {
    encoder_obj *self = (encoder_obj *)o;
    static char *kwlist[] = { "query", "passages", NULL };
    PyObject *q_o, *p_o;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OO:rerank", kwlist, &q_o, &p_o)) return NULL;
    if (need_kind(self, DS_ENCODER_CROSS, "rerank()") < 0) return NULL;
    text_list q, p;
    if (texts_get(p_o, "passages", &p) < 0) return NULL;
    if (texts_get(q_o, "query", &q) < 0) { texts_release(&p); return NULL; }
    if (q.n != 1 && q.n != p.n) {
        dsp_raise_msg(DS_ERR_INVALID, "query must be one str or one per passage (%zu), got %zu", p.n, q.n);
        goto fail;
    }
    /* ds_encoder_rerank takes NUL-terminated strings: Python's UTF-8 cache is. */
    const char **qs = PyMem_Malloc((p.n ? p.n : 1) * sizeof *qs);
    if (qs == NULL) { PyErr_NoMemory(); goto fail; }
    for (size_t i = 0; i < p.n; i++) qs[i] = q.s[q.n == 1 ? 0 : i];
    dsp_array *out = dsp_array_new("f", 1, (Py_ssize_t)p.n, 0);
    if (out == NULL) { PyMem_Free(qs); goto fail; }
    ds_status rc = DS_OK;
    int closed = 0;
    Py_BEGIN_ALLOW_THREADS
    DSP_RDLOCK(&self->lock);
    closed = self->enc == NULL;
    if (!closed && p.n > 0) rc = ds_encoder_rerank(self->enc, qs, p.s, p.n, (float *)(void *)out->data);
    DSP_UNLOCK(&self->lock);
    Py_END_ALLOW_THREADS
    PyMem_Free(qs);
    texts_release(&q);
    texts_release(&p);
    if (closed || rc != DS_OK) { Py_DECREF(out); return closed ? CLOSED_ERR() : dsp_raise(rc); }
    return (PyObject *)out;
fail:
    texts_release(&q);
    texts_release(&p);
    return NULL;
}

static PyObject *encoder_sparse(PyObject *o, PyObject *args, PyObject *kw) {
    encoder_obj *self = (encoder_obj *)o;
    static char *kwlist[] = { "texts", NULL };
    PyObject *texts_o;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O:sparse", kwlist, &texts_o)) return NULL;
    if (need_kind(self, DS_ENCODER_SPLADE, "sparse()") < 0) return NULL;
    int single = PyUnicode_Check(texts_o);
    text_list t;
    if (texts_get(texts_o, "texts", &t) < 0) return NULL;
    ds_sparse_vec *v = PyMem_Calloc(t.n ? t.n : 1, sizeof *v);
    if (v == NULL) { texts_release(&t); return PyErr_NoMemory(); }
    ds_status rc = DS_OK;
    int closed = 0;
    Py_BEGIN_ALLOW_THREADS
    DSP_RDLOCK(&self->lock);
    closed = self->enc == NULL;
    if (!closed && t.n > 0) rc = ds_encoder_sparse(self->enc, t.s, t.len, t.n, v);
    DSP_UNLOCK(&self->lock);
    Py_END_ALLOW_THREADS
    size_t n = t.n;
    texts_release(&t);
    PyObject *res = NULL;
    if (closed || rc != DS_OK) {
        if (closed) CLOSED_ERR(); else dsp_raise(rc);
        goto done;
    }
    res = PyList_New((Py_ssize_t)n);
    for (size_t i = 0; res != NULL && i < n; i++) {
        dsp_array *ix = dsp_array_new("i", 1, (Py_ssize_t)v[i].nnz, 0);
        dsp_array *val = ix ? dsp_array_new("f", 1, (Py_ssize_t)v[i].nnz, 0) : NULL;
        PyObject *pair = val ? PyTuple_New(2) : NULL;
        if (pair == NULL) { Py_XDECREF(ix); Py_XDECREF(val); Py_CLEAR(res); break; }
        if (v[i].nnz) {
            memcpy(ix->data, v[i].indices, v[i].nnz * sizeof(int32_t));
            memcpy(val->data, v[i].values, v[i].nnz * sizeof(float));
        }
        PyTuple_SET_ITEM(pair, 0, (PyObject *)ix);
        PyTuple_SET_ITEM(pair, 1, (PyObject *)val);
        PyList_SET_ITEM(res, (Py_ssize_t)i, pair);
    }
    if (res != NULL && single) {
        PyObject *first = Py_NewRef(PyList_GET_ITEM(res, 0));
        Py_DECREF(res);
        res = first;
    }
done:
    ds_sparse_vec_free(v, n);
    PyMem_Free(v);
    return res;
}

static PyObject *encoder_close(PyObject *o, PyObject *unused) {
    (void)unused;
    encoder_obj *self = (encoder_obj *)o;
    ds_encoder *enc;
    ds_env *env;
    Py_BEGIN_ALLOW_THREADS
    DSP_WRLOCK(&self->lock);
    enc = self->enc;
    env = self->env;
    self->enc = NULL;
    self->env = NULL;
    DSP_UNLOCK(&self->lock);
    ds_encoder_close(enc);
    ds_env_destroy(env);
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

static PyObject *encoder_enter(PyObject *o, PyObject *unused) { (void)unused; return Py_NewRef(o); }
static PyObject *encoder_exit(PyObject *o, PyObject *args) {
    (void)args;
    PyObject *r = encoder_close(o, NULL);
    Py_XDECREF(r);
    if (r == NULL) return NULL;
    Py_RETURN_FALSE;
}

static PyObject *get_dim(PyObject *o, void *c) { (void)c; return PyLong_FromSize_t(((encoder_obj *)o)->dim); }
static PyObject *get_kind(PyObject *o, void *c) {
    (void)c;
    static const char *k[] = { "embed", "cross", "splade" };
    return PyUnicode_FromString(k[((encoder_obj *)o)->kind]);
}
static PyObject *get_maxlen(PyObject *o, void *c) {
    (void)c;
    encoder_obj *self = (encoder_obj *)o;
    if (self->enc == NULL) return CLOSED_ERR();
    return PyLong_FromSize_t(ds_encoder_max_seq_length(self->enc));
}
static PyObject *get_hidden(PyObject *o, void *c) {
    (void)c;
    encoder_obj *self = (encoder_obj *)o;
    if (self->enc == NULL) return CLOSED_ERR();
    return PyLong_FromSize_t(ds_encoder_hidden_size(self->enc));
}
static PyObject *get_closed(PyObject *o, void *c) { (void)c; return PyBool_FromLong(((encoder_obj *)o)->enc == NULL); }

static PyObject *encoder_repr(PyObject *o) {
    encoder_obj *self = (encoder_obj *)o;
    static const char *k[] = { "embed", "cross", "splade" };
    if (self->enc == NULL) return PyUnicode_FromString("densearch.Encoder(closed)");
    return PyUnicode_FromFormat("densearch.Encoder(kind='%s', dim=%zu)", k[self->kind], self->dim);
}

#define KWFN(f) (PyCFunction)(void (*)(void))(f)

static PyMethodDef encoder_methods[] = {
    { "encode", KWFN(encoder_encode), METH_VARARGS | METH_KEYWORDS,
      "encode(texts, batch_size=None) -> Array\n\n"
      "Embeddings of texts (a sequence of str: shape (n, dim); one str: shape (dim,)), float32.\n"
      "The library sorts the texts it is given by length and runs them without padding in\n"
      "forward batches of the constructor's batch_size. batch_size here bounds how many\n"
      "texts go to the library per call (memory); None: all at once. GIL released." },
    { "rerank", KWFN(encoder_rerank), METH_VARARGS | METH_KEYWORDS,
      "rerank(query, passages) -> Array\n\n"
      "Cross-encoder scores (raw logits, float32, one per passage) of (query, passage) pairs;\n"
      "query is one str or one per passage. Needs a BertForSequenceClassification model." },
    { "sparse", KWFN(encoder_sparse), METH_VARARGS | METH_KEYWORDS,
      "sparse(texts) -> list[(indices, values)]\n\n"
      "SPLADE vectors: per text an int32 Array of token ids (ascending) and a float32 Array of\n"
      "weights (> 0). One str gives one pair. Needs a BertForMaskedLM model." },
    { "close", encoder_close, METH_NOARGS, "close() -> None\n\nReleases the model (waits for running calls)." },
    { "__enter__", encoder_enter, METH_NOARGS, NULL },
    { "__exit__", encoder_exit, METH_VARARGS, NULL },
    { NULL, NULL, 0, NULL }
};

static PyGetSetDef encoder_getset[] = {
    { "dim", get_dim, NULL, "Embedding dimension (SPLADE: vocabulary size).", NULL },
    { "kind", get_kind, NULL, "'embed', 'cross' (cross-encoder) or 'splade'.", NULL },
    { "max_seq_length", get_maxlen, NULL, "Tokens per sequence, special tokens included.", NULL },
    { "hidden_size", get_hidden, NULL, "Transformer hidden size.", NULL },
    { "closed", get_closed, NULL, "True after close().", NULL },
    { NULL, NULL, NULL, NULL, NULL }
};

static PyTypeObject encoder_type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "densearch.Encoder",
    .tp_basicsize = sizeof(encoder_obj),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "Encoder(model_dir, int8=False, batch_size=32, max_seq_length=0, pooling=None,\n"
              "        normalize=None, threads=0, bf16=False)\n\n"
              "A BERT-family model from a Hugging Face directory (config.json, model.safetensors,\n"
              "tokenizer.json, sentence-transformers modules). What it computes follows config.json:\n"
              "BertModel -> encode(), BertForSequenceClassification -> rerank(), BertForMaskedLM ->\n"
              "sparse(). int8=True quantizes the encoder layers (faster, approximate); bf16=True\n"
              "runs them in bfloat16 with float32 sums (AVX512-BF16 where present). pooling:\n"
              "'auto', 'mean', 'cls', 'max', 'mean_sqrt_len'; normalize: None (as the model says),\n"
              "True or False; max_seq_length 0: the model's; threads 0: all cores.",
    .tp_new = encoder_new,
    .tp_init = encoder_init,
    .tp_dealloc = encoder_dealloc,
    .tp_methods = encoder_methods,
    .tp_getset = encoder_getset,
    .tp_repr = encoder_repr,
};

int dsp_encoder_init(PyObject *m) {
    if (PyType_Ready(&encoder_type) < 0) return -1;
    return PyModule_AddObjectRef(m, "Encoder", (PyObject *)&encoder_type);
}
