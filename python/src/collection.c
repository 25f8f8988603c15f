/* collection.c -- densearch._Collection: documents, BM25 and vectors behind
** one search (the [collection] section of densearch.h).
**
** The Python class densearch.Collection wraps this type (create/open,
** Results objects). A collection being built is exclusive (add, commit take
** the lock exclusively); a committed or opened one is searched with the lock
** shared and the GIL released, so Python threads search in parallel.
*/
#include "binding.h"

#include <string.h>

typedef struct {
    PyObject_HEAD
    ds_collection   *c;        /* NULL once closed */
    ds_env          *env;
    pthread_rwlock_t lock;
    int              building; /* created and not yet committed */
    size_t           dim;      /* precomputed-embedding dimension of a build (0: none) */
} coll_obj;

static PyTypeObject coll_type;

#define CLOSED_ERR() dsp_raise_msg(DS_ERR_INVALID, "the collection is closed")

static const dsp_choice mode_choices[] = {
    { "auto", DS_SEARCH_AUTO }, { "lexical", DS_SEARCH_LEXICAL }, { "bm25", DS_SEARCH_LEXICAL },
    { "dense", DS_SEARCH_DENSE }, { "hybrid", DS_SEARCH_HYBRID }, { NULL, 0 }
};
static const dsp_choice fusion_choices[] = { { "rrf", DS_FUSION_RRF }, { "convex", DS_FUSION_CONVEX }, { NULL, 0 } };
static const dsp_choice norm_choices[] = { { "minmax", DS_NORM_MINMAX }, { "zscore", DS_NORM_ZSCORE }, { NULL, 0 } };
static const dsp_choice passage_choices[] = { { "maxp", DS_PASSAGE_MAXP }, { "firstp", DS_PASSAGE_FIRSTP }, { NULL, 0 } };
static const dsp_choice prf_choices[] = {
    { "rm3", DS_PRF_RM3 }, { "rocchio", DS_PRF_ROCCHIO }, { "both", DS_PRF_RM3 | DS_PRF_ROCCHIO }, { NULL, 0 }
};
static const dsp_choice type_choices[] = {
    { "flat", DS_INDEX_FLAT }, { "hnsw", DS_INDEX_HNSW }, { "ivfpq", DS_INDEX_IVFPQ }, { "binary", DS_INDEX_BINARY },
    { NULL, 0 }
};
static const dsp_choice metric_choices[] = {
    { "cosine", DS_METRIC_COSINE }, { "ip", DS_METRIC_IP }, { "l2", DS_METRIC_L2 }, { NULL, 0 }
};
static const char *mode_names[] = { "auto", "lexical", "dense", "hybrid" };

static PyObject *coll_new(PyTypeObject *type, PyObject *args, PyObject *kw) {
    (void)args; (void)kw;
    coll_obj *self = (coll_obj *)type->tp_alloc(type, 0);
    if (self == NULL) return NULL;
    if (pthread_rwlock_init(&self->lock, NULL) != 0) { Py_DECREF(self); return PyErr_NoMemory(); }
    return (PyObject *)self;
}

static void coll_dealloc(PyObject *o) {
    coll_obj *self = (coll_obj *)o;
    ds_collection_close(self->c);
    ds_env_destroy(self->env);
    pthread_rwlock_destroy(&self->lock);
    Py_TYPE(o)->tp_free(o);
}

static PyObject *coll_create(PyObject *cls, PyObject *args, PyObject *kw) {
    static char *kwlist[] = { "path", "model_dir", "dim", "int8", "chunk_tokens", "chunk_overlap", "type", "metric",
                              "M", "ef_construction", "k1", "b", "stemmer", "stopwords", "store_text", "threads",
                              NULL };
    PyObject *path_o, *model_o = Py_None, *type_o = NULL, *metric_o = NULL;
    Py_ssize_t dim = 0, chunk = 0, overlap = 0;
    int int8 = 0, stopwords = 1, store_text = 1;
    unsigned m = 16, efc = 200, threads = 0;
    float k1 = 0.9f, b = 0.4f;
    const char *stemmer = "english";
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|OnpnnOOIIffsppI:create", kwlist, &path_o, &model_o, &dim, &int8,
                                     &chunk, &overlap, &type_o, &metric_o, &m, &efc, &k1, &b, &stemmer, &stopwords,
                                     &store_text, &threads))
        return NULL;
    if (dim < 0 || chunk < 0 || overlap < 0) return dsp_raise_msg(DS_ERR_INVALID, "dim, chunk_tokens and chunk_overlap must be >= 0");
    ds_lexical_opts lo;
    ds_lexical_opts_init(&lo);
    lo.k1 = k1;
    lo.b = b;
    lo.stemmer = stemmer;
    lo.stopwords = stopwords;
    lo.store_text = store_text;
    ds_encoder_opts eo;
    ds_encoder_opts_init(&eo);
    eo.int8 = int8;
    ds_index_opts io;
    ds_index_opts_init(&io);
    io.type = DS_INDEX_HNSW;
    io.metric = DS_METRIC_COSINE;
    io.hnsw_m = m;
    io.hnsw_ef_construction = efc;
    int v;
    if (type_o && type_o != Py_None) { if (dsp_choose(type_o, type_choices, "type", &v) < 0) return NULL; io.type = (ds_index_type)v; }
    if (metric_o && metric_o != Py_None) { if (dsp_choose(metric_o, metric_choices, "metric", &v) < 0) return NULL; io.metric = (ds_metric)v; }
    PyObject *path = dsp_path(path_o, "path"), *model = NULL;
    if (path == NULL) return NULL;
    if (model_o != Py_None && (model = dsp_path(model_o, "model_dir")) == NULL) { Py_DECREF(path); return NULL; }
    ds_collection_opts co;
    ds_collection_opts_init(&co);
    co.lexical = &lo;
    co.model_dir = model ? PyBytes_AS_STRING(model) : NULL;
    co.encoder = &eo;
    co.dim = (size_t)dim;
    co.vectors = (model != NULL || dim > 0) ? &io : NULL;
    co.chunk_tokens = (size_t)chunk;
    co.chunk_overlap = (size_t)overlap;
    coll_obj *self = (coll_obj *)coll_new((PyTypeObject *)cls, NULL, NULL);
    if (self == NULL || dsp_env_make(threads, &self->env) < 0) goto fail;
    ds_collection *c = NULL;
    ds_status rc;
    ds_env *env = self->env;
    Py_BEGIN_ALLOW_THREADS
    rc = ds_collection_create(env, PyBytes_AS_STRING(path), &co, &c);
    Py_END_ALLOW_THREADS
    if (rc != DS_OK) { dsp_raise(rc); goto fail; }
    self->c = c;
    self->building = 1;
    self->dim = (size_t)dim;
    Py_DECREF(path);
    Py_XDECREF(model);
    return (PyObject *)self;
fail:
    Py_DECREF(path);
    Py_XDECREF(model);
    Py_XDECREF(self);
    return NULL;
}

static PyObject *coll_open(PyObject *cls, PyObject *args, PyObject *kw) {
    static char *kwlist[] = { "path", "model_dir", "no_encoder", "int8", "verify", "threads", "writable", NULL };
    PyObject *path_o, *model_o = Py_None;
    int no_encoder = 0, int8 = 0, verify = 0, writable = 0;
    unsigned threads = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|OpppIp:open", kwlist, &path_o, &model_o, &no_encoder, &int8, &verify,
                                     &threads, &writable))
        return NULL;
    PyObject *path = dsp_path(path_o, "path"), *model = NULL;
    if (path == NULL) return NULL;
    if (model_o != Py_None && (model = dsp_path(model_o, "model_dir")) == NULL) { Py_DECREF(path); return NULL; }
    ds_encoder_opts eo;
    ds_encoder_opts_init(&eo);
    eo.int8 = int8;
    ds_collection_open_opts oo;
    ds_collection_open_opts_init(&oo);
    oo.flags = verify ? DS_OPEN_VERIFY : 0;
    oo.model_dir = model ? PyBytes_AS_STRING(model) : NULL;
    oo.encoder = &eo;
    oo.no_encoder = no_encoder;
    oo.writable = writable;
    coll_obj *self = (coll_obj *)coll_new((PyTypeObject *)cls, NULL, NULL);
    if (self == NULL || dsp_env_make(threads, &self->env) < 0) goto fail;
    ds_collection *c = NULL;
    ds_status rc;
    ds_env *env = self->env;
    Py_BEGIN_ALLOW_THREADS
    rc = ds_collection_open(env, PyBytes_AS_STRING(path), &oo, &c);
    Py_END_ALLOW_THREADS
    if (rc != DS_OK) { dsp_raise(rc); goto fail; }
    self->c = c;
    Py_DECREF(path);
    Py_XDECREF(model);
    return (PyObject *)self;
fail:
    Py_DECREF(path);
    Py_XDECREF(model);
    Py_XDECREF(self);
    return NULL;
}

static PyObject *coll_add(PyObject *o, PyObject *args, PyObject *kw) {
    coll_obj *self = (coll_obj *)o;
    static char *kwlist[] = { "id", "text", "title", "embedding", NULL };
    const char *id, *text, *title = "";
    Py_ssize_t idl, textl, titlel = 0;
    PyObject *emb_o = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "s#s#|z#O:add", kwlist, &id, &idl, &text, &textl, &title, &titlel,
                                     &emb_o))
        return NULL;
    if (self->c == NULL) return CLOSED_ERR();
    if (!self->building) return dsp_raise_msg(DS_ERR_UNSUPPORTED, "add() after commit: a collection is built once in this version");
    if (title == NULL) { title = ""; titlel = 0; }
    dsp_matrix m;
    memset(&m, 0, sizeof m);
    if (emb_o != Py_None) {
        if (self->dim == 0)
            return dsp_raise_msg(DS_ERR_INVALID, "embedding given, but the collection was not created with dim=");
        if (dsp_matrix_get(emb_o, self->dim, "embedding", &m) < 0) return NULL;
        if (m.rows != 1) { dsp_matrix_release(&m); return dsp_raise_msg(DS_ERR_INVALID, "embedding must be one vector"); }
    } else if (self->dim != 0) {
        return dsp_raise_msg(DS_ERR_INVALID, "this collection takes precomputed embeddings: pass embedding=");
    }
    ds_doc d;
    memset(&d, 0, sizeof d);
    d.id = id; d.id_len = (size_t)idl;
    d.title = title; d.title_len = (size_t)titlel;
    d.text = text; d.text_len = (size_t)textl;
    d.file = "<python>";
    ds_status rc;
    Py_BEGIN_ALLOW_THREADS
    DSP_WRLOCK(&self->lock);
    rc = self->c ? ds_collection_add(self->c, &d, m.data) : DS_ERR_INVALID;
    DSP_UNLOCK(&self->lock);
    Py_END_ALLOW_THREADS
    dsp_matrix_release(&m);
    if (self->c == NULL) return CLOSED_ERR();
    if (rc != DS_OK) return dsp_raise(rc);
    Py_RETURN_NONE;
}

/* ---- live writes ---------------------------------------------------------- */

/* The documents of an upsert, copied out of Python objects so the GIL can be
** released: each item a dict {"id", "text"[, "title"]} or a tuple
** (id, text[, title]). */
typedef struct doc_batch {
    ds_doc *docs;
    char   *bytes;
    size_t  n;
} doc_batch;

static int str_field(PyObject *v, const char *what, Py_ssize_t i, const char **s, Py_ssize_t *len) {
    if (v == NULL || v == Py_None) { *s = ""; *len = 0; return 0; }
    if (!PyUnicode_Check(v)) {
        PyErr_Format(PyExc_TypeError, "document %zd: %s must be a str", i, what);
        return -1;
    }
    *s = PyUnicode_AsUTF8AndSize(v, len);
    return *s ? 0 : -1;
}

static int batch_get(PyObject *seq_o, doc_batch *b) {
    memset(b, 0, sizeof *b);
    PyObject *seq = PySequence_Fast(seq_o, "documents must be a sequence of dicts or tuples");
    if (seq == NULL) return -1;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    const char **ptr = PyMem_Calloc((size_t)(n ? n : 1) * 3, sizeof *ptr);
    Py_ssize_t *len = PyMem_Calloc((size_t)(n ? n : 1) * 3, sizeof *len);
    size_t total = 0;
    int rc = ptr && len ? 0 : (PyErr_NoMemory(), -1);
    for (Py_ssize_t i = 0; i < n && rc == 0; i++) {
        PyObject *it = PySequence_Fast_GET_ITEM(seq, i), *id = NULL, *text = NULL, *title = NULL;
        if (PyDict_Check(it)) {
            id = PyDict_GetItemString(it, "id");
            if (id == NULL) id = PyDict_GetItemString(it, "_id");
            text = PyDict_GetItemString(it, "text");
            title = PyDict_GetItemString(it, "title");
        } else if (PyTuple_Check(it) && PyTuple_GET_SIZE(it) >= 2 && PyTuple_GET_SIZE(it) <= 3) {
            id = PyTuple_GET_ITEM(it, 0);
            text = PyTuple_GET_ITEM(it, 1);
            title = PyTuple_GET_SIZE(it) == 3 ? PyTuple_GET_ITEM(it, 2) : NULL;
        } else {
            PyErr_Format(PyExc_TypeError, "document %zd: a dict with id and text, or a tuple (id, text[, title])", i);
            rc = -1;
            break;
        }
        if (id == NULL || id == Py_None) {
            PyErr_Format(PyExc_TypeError, "document %zd has no id", i);
            rc = -1;
            break;
        }
        if (str_field(id, "id", i, &ptr[3 * i], &len[3 * i]) < 0 || str_field(text, "text", i, &ptr[3 * i + 1], &len[3 * i + 1]) < 0 ||
            str_field(title, "title", i, &ptr[3 * i + 2], &len[3 * i + 2]) < 0)
            rc = -1;
        else total += (size_t)len[3 * i] + (size_t)len[3 * i + 1] + (size_t)len[3 * i + 2];
    }
    if (rc == 0) {
        b->docs = PyMem_Calloc((size_t)(n ? n : 1), sizeof *b->docs);
        b->bytes = PyMem_Malloc(total ? total : 1);
        if (b->docs == NULL || b->bytes == NULL) { PyErr_NoMemory(); rc = -1; }
    }
    if (rc == 0) {
        size_t at = 0;
        for (Py_ssize_t i = 0; i < n; i++) {
            const char **dst[3];
            size_t *dl[3];
            dst[0] = &b->docs[i].id; dl[0] = &b->docs[i].id_len;
            dst[1] = &b->docs[i].text; dl[1] = &b->docs[i].text_len;
            dst[2] = &b->docs[i].title; dl[2] = &b->docs[i].title_len;
            for (int f = 0; f < 3; f++) {
                memcpy(b->bytes + at, ptr[3 * i + f], (size_t)len[3 * i + f]);
                *dst[f] = b->bytes + at;
                *dl[f] = (size_t)len[3 * i + f];
                at += (size_t)len[3 * i + f];
            }
            b->docs[i].file = "<python>";
        }
        b->n = (size_t)n;
    }
    PyMem_Free(ptr);
    PyMem_Free(len);
    Py_DECREF(seq);
    if (rc < 0) {
        PyMem_Free(b->docs);
        PyMem_Free(b->bytes);
        memset(b, 0, sizeof *b);
    }
    return rc;
}

static PyObject *write_result(const ds_write_result *r) {
    return Py_BuildValue("{s:K,s:n,s:n,s:n,s:n}", "lsn", (unsigned long long)r->lsn, "added", (Py_ssize_t)r->n_added,
                         "replaced", (Py_ssize_t)r->n_replaced, "deleted", (Py_ssize_t)r->n_deleted, "missing",
                         (Py_ssize_t)r->n_missing);
}

static PyObject *coll_upsert(PyObject *o, PyObject *args, PyObject *kw) {
    coll_obj *self = (coll_obj *)o;
    static char *kwlist[] = { "documents", "embeddings", "wait", NULL };
    PyObject *docs_o, *emb_o = Py_None;
    int wait = 1;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|Op:upsert", kwlist, &docs_o, &emb_o, &wait)) return NULL;
    if (self->c == NULL) return CLOSED_ERR();
    doc_batch b;
    if (batch_get(docs_o, &b) < 0) return NULL;
    dsp_matrix m;
    memset(&m, 0, sizeof m);
    size_t dim = ds_collection_dim(self->c);
    if (emb_o != Py_None) {
        if (dim == 0 || dsp_matrix_get(emb_o, dim, "embeddings", &m) < 0) {
            PyMem_Free(b.docs);
            PyMem_Free(b.bytes);
            return dim == 0 ? dsp_raise_msg(DS_ERR_INVALID, "embeddings given, but the collection holds no vectors") : NULL;
        }
        if (m.rows != b.n) {
            dsp_matrix_release(&m);
            PyMem_Free(b.docs);
            PyMem_Free(b.bytes);
            return dsp_raise_msg(DS_ERR_INVALID, "embeddings: one row per document");
        }
    }
    ds_write_opts wo;
    ds_write_opts_init(&wo);
    wo.wait = wait;
    ds_write_result res;
    memset(&res, 0, sizeof res);
    ds_status rc;
    Py_BEGIN_ALLOW_THREADS
    DSP_RDLOCK(&self->lock);   /* the library orders writers; close waits for us */
    rc = self->c ? ds_collection_upsert(self->c, b.docs, b.n, m.data, &wo, &res) : DS_ERR_INVALID;
    DSP_UNLOCK(&self->lock);
    Py_END_ALLOW_THREADS
    dsp_matrix_release(&m);
    PyMem_Free(b.docs);
    PyMem_Free(b.bytes);
    if (self->c == NULL) return CLOSED_ERR();
    if (rc != DS_OK) return dsp_raise(rc);
    return write_result(&res);
}

static PyObject *coll_delete(PyObject *o, PyObject *args, PyObject *kw) {
    coll_obj *self = (coll_obj *)o;
    static char *kwlist[] = { "ids", "wait", NULL };
    PyObject *ids_o;
    int wait = 1;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|p:delete", kwlist, &ids_o, &wait)) return NULL;
    if (self->c == NULL) return CLOSED_ERR();
    PyObject *seq = PySequence_Fast(ids_o, "ids must be a sequence of str");
    if (seq == NULL) return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    char **ids = PyMem_Calloc((size_t)(n ? n : 1), sizeof *ids);
    size_t *lens = PyMem_Calloc((size_t)(n ? n : 1), sizeof *lens);
    int bad = ids == NULL || lens == NULL;
    if (bad) PyErr_NoMemory();
    for (Py_ssize_t i = 0; i < n && !bad; i++) {
        const char *s;
        Py_ssize_t l;
        PyObject *it = PySequence_Fast_GET_ITEM(seq, i);
        if (!PyUnicode_Check(it)) { PyErr_Format(PyExc_TypeError, "id %zd is not a str", i); bad = 1; break; }
        if ((s = PyUnicode_AsUTF8AndSize(it, &l)) == NULL || (ids[i] = PyMem_Malloc((size_t)l + 1)) == NULL) {
            if (s) PyErr_NoMemory();
            bad = 1;
            break;
        }
        memcpy(ids[i], s, (size_t)l + 1);
        lens[i] = (size_t)l;
    }
    Py_DECREF(seq);
    ds_status rc = DS_OK;
    ds_write_result res;
    memset(&res, 0, sizeof res);
    if (!bad) {
        ds_write_opts wo;
        ds_write_opts_init(&wo);
        wo.wait = wait;
        Py_BEGIN_ALLOW_THREADS
        DSP_RDLOCK(&self->lock);
        rc = self->c ? ds_collection_delete(self->c, (const char *const *)ids, lens, (size_t)n, &wo, &res) : DS_ERR_INVALID;
        DSP_UNLOCK(&self->lock);
        Py_END_ALLOW_THREADS
    }
    for (Py_ssize_t i = 0; ids && i < n; i++) PyMem_Free(ids[i]);
    PyMem_Free(ids);
    PyMem_Free(lens);
    if (bad) return NULL;
    if (self->c == NULL) return CLOSED_ERR();
    if (rc != DS_OK) return dsp_raise(rc);
    return write_result(&res);
}

static PyObject *coll_maintain(PyObject *o, int compact) {
    coll_obj *self = (coll_obj *)o;
    if (self->c == NULL) return CLOSED_ERR();
    ds_status rc;
    Py_BEGIN_ALLOW_THREADS
    DSP_RDLOCK(&self->lock);
    rc = self->c ? (compact ? ds_collection_compact(self->c) : ds_collection_flush(self->c)) : DS_ERR_INVALID;
    DSP_UNLOCK(&self->lock);
    Py_END_ALLOW_THREADS
    if (rc != DS_OK) return dsp_raise(rc);
    Py_RETURN_NONE;
}
static PyObject *coll_flush(PyObject *o, PyObject *unused) { (void)unused; return coll_maintain(o, 0); }
static PyObject *coll_compact(PyObject *o, PyObject *unused) { (void)unused; return coll_maintain(o, 1); }

static PyObject *coll_live_stats(PyObject *o, PyObject *unused) {
    (void)unused;
    coll_obj *self = (coll_obj *)o;
    if (self->c == NULL) return CLOSED_ERR();
    ds_collection_live_stats st;
    ds_status rc;
    Py_BEGIN_ALLOW_THREADS
    DSP_RDLOCK(&self->lock);
    rc = self->c ? ds_collection_stats_live(self->c, &st) : DS_ERR_INVALID;
    DSP_UNLOCK(&self->lock);
    Py_END_ALLOW_THREADS
    if (rc != DS_OK) return dsp_raise(rc);
    return Py_BuildValue("{s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K}", "docs", (unsigned long long)st.n_docs, "deleted",
                         (unsigned long long)st.n_deleted, "segments", (unsigned long long)st.n_segments, "unpublished",
                         (unsigned long long)st.n_unpublished, "wal_bytes", (unsigned long long)st.wal_bytes, "lsn_written",
                         (unsigned long long)st.lsn_written, "lsn_durable", (unsigned long long)st.lsn_durable,
                         "lsn_published", (unsigned long long)st.lsn_published, "flushes", (unsigned long long)st.n_flushes,
                         "merges", (unsigned long long)st.n_merges, "generation", (unsigned long long)st.generation);
}

static PyObject *coll_commit(PyObject *o, PyObject *unused) {
    (void)unused;
    coll_obj *self = (coll_obj *)o;
    if (self->c == NULL) return CLOSED_ERR();
    if (!self->building) return dsp_raise_msg(DS_ERR_INVALID, "commit(): nothing is being built");
    ds_collection_stats st;
    memset(&st, 0, sizeof st);
    ds_status rc;
    Py_BEGIN_ALLOW_THREADS
    DSP_WRLOCK(&self->lock);
    rc = self->c ? ds_collection_commit(self->c, &st) : DS_ERR_INVALID;
    DSP_UNLOCK(&self->lock);
    Py_END_ALLOW_THREADS
    if (self->c == NULL) return CLOSED_ERR();
    self->building = 0;
    if (rc != DS_OK) {
        /* the handle can only be closed now (densearch.h) */
        PyObject *none = PyObject_CallMethod(o, "close", NULL);
        Py_XDECREF(none);
        return dsp_raise(rc);
    }
    return Py_BuildValue("{s:K,s:K,s:K,s:d,s:d,s:d,s:d,s:K}", "n_docs", (unsigned long long)st.n_docs, "n_passages",
                         (unsigned long long)st.n_passages, "n_skipped", (unsigned long long)st.n_skipped, "t_encode",
                         st.t_encode, "t_lexical", st.t_lexical, "t_vectors", st.t_vectors, "t_total", st.t_total,
                         "bytes", (unsigned long long)st.bytes);
}

/* Search options from keywords; *keep holds what the pointers in so borrow. */
typedef struct {
    uint8_t          *bitmap;      /* ds_free */
    dsp_matrix        qv;
    pthread_rwlock_t *rr_lock;     /* reranker's lock, taken shared during the search */
    PyObject         *rr_obj;
} search_keep;

static void keep_release(search_keep *k) {
    ds_free(k->bitmap);
    dsp_matrix_release(&k->qv);
    Py_XDECREF(k->rr_obj);
    memset(k, 0, sizeof *k);
}

static int parse_search(coll_obj *self, PyObject *kw_tuple[], size_t nq, ds_collection_search_opts *so,
                        search_keep *keep) {
    /* kw_tuple: mode, fusion, rrf_k, alpha, norm, depth, prf, rerank, rerank_depth, passage_score, filter,
    ** query_vector, ef, nprobe, with_text, snippet_bytes */
    memset(keep, 0, sizeof *keep);
    int v;
    if (kw_tuple[0] != Py_None) { if (dsp_choose(kw_tuple[0], mode_choices, "mode", &v) < 0) return -1; so->mode = (ds_search_mode)v; }
    if (kw_tuple[1] != Py_None) { if (dsp_choose(kw_tuple[1], fusion_choices, "fusion", &v) < 0) return -1; so->fusion = (ds_fusion)v; }
    if (kw_tuple[2] != Py_None) { so->rrf_k = (unsigned)PyLong_AsUnsignedLong(kw_tuple[2]); if (PyErr_Occurred()) return -1; }
    if (kw_tuple[3] != Py_None) { so->alpha = (float)PyFloat_AsDouble(kw_tuple[3]); if (PyErr_Occurred()) return -1; }
    if (kw_tuple[4] != Py_None) { if (dsp_choose(kw_tuple[4], norm_choices, "norm", &v) < 0) return -1; so->norm = (ds_score_norm)v; }
    if (kw_tuple[5] != Py_None) { so->depth = PyLong_AsSize_t(kw_tuple[5]); if (PyErr_Occurred()) return -1; }
    if (kw_tuple[6] != Py_None) {
        PyObject *p = kw_tuple[6];
        if (PyUnicode_Check(p)) {
            if (dsp_choose(p, prf_choices, "prf", &v) < 0) return -1;
            so->prf = (unsigned)v;
        } else {
            PyObject *it = PyObject_GetIter(p), *x;
            if (it == NULL) return -1;
            while ((x = PyIter_Next(it)) != NULL) {
                int r = dsp_choose(x, prf_choices, "prf", &v);
                Py_DECREF(x);
                if (r < 0) { Py_DECREF(it); return -1; }
                so->prf |= (unsigned)v;
            }
            Py_DECREF(it);
            if (PyErr_Occurred()) return -1;
        }
    }
    if (kw_tuple[7] != Py_None) {
        so->reranker = dsp_encoder_handle(kw_tuple[7], &keep->rr_lock);
        if (so->reranker == NULL) return -1;
        keep->rr_obj = Py_NewRef(kw_tuple[7]);
    }
    if (kw_tuple[8] != Py_None) { so->rerank_depth = PyLong_AsSize_t(kw_tuple[8]); if (PyErr_Occurred()) return -1; }
    if (kw_tuple[9] != Py_None) { if (dsp_choose(kw_tuple[9], passage_choices, "passage_score", &v) < 0) return -1; so->passage_score = (ds_passage_score)v; }
    if (kw_tuple[10] != Py_None) {
        /* allow-list of external ids */
        PyObject *tup = PyUnicode_Check(kw_tuple[10]) ? PyTuple_Pack(1, kw_tuple[10]) : PySequence_Tuple(kw_tuple[10]);
        if (tup == NULL) return -1;
        size_t n = (size_t)PyTuple_GET_SIZE(tup);
        const char **ids = PyMem_Malloc((n ? n : 1) * sizeof *ids);
        size_t *lens = PyMem_Malloc((n ? n : 1) * sizeof *lens);
        int bad = ids == NULL || lens == NULL;
        if (bad) PyErr_NoMemory();
        for (size_t i = 0; !bad && i < n; i++) {
            Py_ssize_t l;
            PyObject *x = PyTuple_GET_ITEM(tup, (Py_ssize_t)i);
            ids[i] = PyUnicode_Check(x) ? PyUnicode_AsUTF8AndSize(x, &l) : NULL;
            if (ids[i] == NULL) { PyErr_Clear(); dsp_raise_msg(DS_ERR_INVALID, "filter[%zu] must be a str id", i); bad = 1; }
            else lens[i] = (size_t)l;
        }
        if (!bad) {
            ds_status rc = ds_collection_filter(self->c, ids, lens, n, &keep->bitmap, &so->filter_bits, NULL);
            if (rc != DS_OK) { dsp_raise(rc); bad = 1; }
            so->filter = keep->bitmap;
        }
        PyMem_Free(ids);
        PyMem_Free(lens);
        Py_DECREF(tup);
        if (bad) return -1;
    }
    if (kw_tuple[11] != Py_None) {
        size_t d = ds_collection_dim(self->c);
        if (dsp_matrix_get(kw_tuple[11], d, "query_vector", &keep->qv) < 0) return -1;
        if (keep->qv.rows != nq) {
            dsp_raise_msg(DS_ERR_INVALID, "query_vector has %zu rows for %zu queries", keep->qv.rows, nq);
            return -1;
        }
        so->query_vectors = keep->qv.data;
    }
    if (kw_tuple[12] != Py_None) { so->ef_search = (unsigned)PyLong_AsUnsignedLong(kw_tuple[12]); if (PyErr_Occurred()) return -1; }
    if (kw_tuple[13] != Py_None) { so->nprobe = (unsigned)PyLong_AsUnsignedLong(kw_tuple[13]); if (PyErr_Occurred()) return -1; }
    if (kw_tuple[14] != Py_None) { int t = PyObject_IsTrue(kw_tuple[14]); if (t < 0) return -1; so->with_text = t; }
    if (kw_tuple[15] != Py_None) { so->snippet_bytes = PyLong_AsSize_t(kw_tuple[15]); if (PyErr_Occurred()) return -1; }
    return 0;
}

/* (hits, info) for one ds_results. */
static PyObject *results_to_py(const ds_results *r) {
    PyObject *hits = PyList_New((Py_ssize_t)r->n);
    for (size_t i = 0; hits != NULL && i < r->n; i++) {
        PyObject *h = dsp_hit_new(&r->hits[i]);
        if (h == NULL) { Py_CLEAR(hits); break; }
        PyList_SET_ITEM(hits, (Py_ssize_t)i, h);
    }
    if (hits == NULL) return NULL;
    unsigned mode = (unsigned)r->mode < 4 ? (unsigned)r->mode : 0;
    PyObject *info = Py_BuildValue("{s:s,s:d,s:d,s:d,s:d,s:d,s:z}", "mode", mode_names[mode], "t_encode", r->t_encode,
                                   "t_lexical", r->t_lexical, "t_dense", r->t_dense, "t_rerank", r->t_rerank,
                                   "t_total", r->t_total, "expansion", r->expansion);
    if (info == NULL) { Py_DECREF(hits); return NULL; }
    PyObject *t = PyTuple_Pack(2, hits, info);
    Py_DECREF(hits);
    Py_DECREF(info);
    return t;
}

static char *search_kwlist[] = { "query", "k", "mode", "fusion", "rrf_k", "alpha", "norm", "depth", "prf", "rerank",
                                 "rerank_depth", "passage_score", "filter", "query_vector", "ef", "nprobe",
                                 "with_text", "snippet_bytes", "threads", NULL };

static PyObject *coll_search_any(PyObject *o, PyObject *args, PyObject *kw, int batch) {
    coll_obj *self = (coll_obj *)o;
    PyObject *q_o, *x[16];
    for (int i = 0; i < 16; i++) x[i] = Py_None;
    Py_ssize_t k = 10;
    unsigned threads = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, batch ? "O|nOOOOOOOOOOOOOOOOI:search_batch" : "O|nOOOOOOOOOOOOOOOOI:search",
                                     search_kwlist, &q_o, &k, &x[0], &x[1], &x[2], &x[3], &x[4], &x[5], &x[6], &x[7],
                                     &x[8], &x[9], &x[10], &x[11], &x[12], &x[13], &x[14], &x[15], &threads))
        return NULL;
    if (self->c == NULL) return CLOSED_ERR();
    if (self->building) return dsp_raise_msg(DS_ERR_INVALID, "search before commit(): commit the collection first");
    if (k < 0) return dsp_raise_msg(DS_ERR_INVALID, "k must be >= 0");
    PyObject *tup = NULL;
    if (batch) {
        tup = PySequence_Tuple(q_o);
        if (tup == NULL) return NULL;
    } else {
        if (!PyUnicode_Check(q_o)) return dsp_raise_msg(DS_ERR_INVALID, "query must be a str");
        tup = PyTuple_Pack(1, q_o);
        if (tup == NULL) return NULL;
    }
    size_t n = (size_t)PyTuple_GET_SIZE(tup);
    ds_collection_search_opts so;
    ds_collection_search_opts_init(&so);
    so.k = (size_t)k;
    search_keep keep;
    const char **qs = NULL;
    ds_results **out = NULL;
    PyObject *res = NULL;
    if (parse_search(self, x, n, &so, &keep) < 0) goto done;
    qs = PyMem_Malloc((n ? n : 1) * sizeof *qs);
    out = PyMem_Calloc(n ? n : 1, sizeof *out);
    if (qs == NULL || out == NULL) { PyErr_NoMemory(); goto done; }
    for (size_t i = 0; i < n; i++) {
        PyObject *s = PyTuple_GET_ITEM(tup, (Py_ssize_t)i);
        qs[i] = PyUnicode_Check(s) ? PyUnicode_AsUTF8(s) : NULL;
        if (qs[i] == NULL) { PyErr_Clear(); dsp_raise_msg(DS_ERR_INVALID, "queries[%zu] must be a str", i); goto done; }
    }
    ds_status rc = DS_OK;
    int closed = 0;
    pthread_rwlock_t *rr = keep.rr_lock;
    Py_BEGIN_ALLOW_THREADS
    if (rr) DSP_RDLOCK(rr);
    DSP_RDLOCK(&self->lock);
    closed = self->c == NULL;
    if (!closed && n > 0) {
        if (batch) rc = ds_collection_search_batch(self->c, qs, n, &so, threads, out);
        else rc = ds_collection_search(self->c, qs[0], strlen(qs[0]), &so, &out[0]);
    }
    DSP_UNLOCK(&self->lock);
    if (rr) DSP_UNLOCK(rr);
    Py_END_ALLOW_THREADS
    if (closed) { CLOSED_ERR(); goto done; }
    if (rc != DS_OK) { dsp_raise(rc); goto done; }
    if (batch) {
        res = PyList_New((Py_ssize_t)n);
        for (size_t i = 0; res != NULL && i < n; i++) {
            PyObject *r = results_to_py(out[i]);
            if (r == NULL) { Py_CLEAR(res); break; }
            PyList_SET_ITEM(res, (Py_ssize_t)i, r);
        }
    } else {
        res = results_to_py(out[0]);
    }
done:
    if (out) for (size_t i = 0; i < n; i++) ds_results_free(out[i]);
    PyMem_Free(out);
    PyMem_Free(qs);
    keep_release(&keep);
    Py_DECREF(tup);
    return res;
}

static PyObject *coll_search(PyObject *o, PyObject *args, PyObject *kw) { return coll_search_any(o, args, kw, 0); }
static PyObject *coll_search_batch(PyObject *o, PyObject *args, PyObject *kw) { return coll_search_any(o, args, kw, 1); }

static PyObject *coll_doc(PyObject *o, PyObject *arg) {
    coll_obj *self = (coll_obj *)o;
    if (self->c == NULL) return CLOSED_ERR();
    if (self->building) return dsp_raise_msg(DS_ERR_INVALID, "doc() before commit()");
    uint32_t d;
    if (PyUnicode_Check(arg)) {
        Py_ssize_t l;
        const char *id = PyUnicode_AsUTF8AndSize(arg, &l);
        if (id == NULL) return NULL;
        ds_status rc = ds_collection_find(self->c, id, (size_t)l, &d);
        if (rc != DS_OK) return dsp_raise(rc);
    } else {
        long long v = PyLong_AsLongLong(arg);
        if (v == -1 && PyErr_Occurred()) { PyErr_Clear(); return dsp_raise_msg(DS_ERR_INVALID, "doc() takes an id (str) or a document number"); }
        if (v < 0 || (uint64_t)v >= ds_collection_n_docs(self->c))
            return dsp_raise_msg(DS_ERR_NOTFOUND, "document %lld out of range", v);
        d = (uint32_t)v;
    }
    char *title = NULL, *text = NULL;
    size_t tl = 0, xl = 0;
    ds_status rc;
    Py_BEGIN_ALLOW_THREADS
    DSP_RDLOCK(&self->lock);
    rc = self->c ? ds_collection_doc(self->c, d, &title, &tl, &text, &xl) : DS_ERR_INVALID;
    DSP_UNLOCK(&self->lock);
    Py_END_ALLOW_THREADS
    if (rc != DS_OK) return dsp_raise(rc);
    PyObject *r = Py_BuildValue("(s#s#)", title ? title : "", (Py_ssize_t)tl, text ? text : "", (Py_ssize_t)xl);
    ds_free(title);
    ds_free(text);
    return r;
}

static PyObject *coll_info(PyObject *o, PyObject *unused) {
    (void)unused;
    coll_obj *self = (coll_obj *)o;
    if (self->c == NULL) return CLOSED_ERR();
    if (self->building) return dsp_raise_msg(DS_ERR_INVALID, "info() before commit()");
    char *json = NULL;
    ds_status rc = ds_collection_info(self->c, &json);
    if (rc != DS_OK) return dsp_raise(rc);
    PyObject *s = PyUnicode_FromString(json);
    ds_free(json);
    return s;
}

static PyObject *coll_close(PyObject *o, PyObject *unused) {
    (void)unused;
    coll_obj *self = (coll_obj *)o;
    ds_collection *c;
    ds_env *env;
    Py_BEGIN_ALLOW_THREADS
    DSP_WRLOCK(&self->lock);
    c = self->c;
    env = self->env;
    self->c = NULL;
    self->env = NULL;
    DSP_UNLOCK(&self->lock);
    ds_collection_close(c);
    ds_env_destroy(env);
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

static PyObject *coll_get(coll_obj *self, int what) {
    if (self->c == NULL) return CLOSED_ERR();
    if (what == 3) return PyBool_FromLong(self->building);
    if (self->building) return dsp_raise_msg(DS_ERR_INVALID, "the collection is not committed yet");
    switch (what) {
    case 0: return PyLong_FromUnsignedLongLong(ds_collection_n_docs(self->c));
    case 1: return PyLong_FromUnsignedLongLong(ds_collection_n_passages(self->c));
    case 2: return PyLong_FromSize_t(ds_collection_dim(self->c));
    case 4: return PyBool_FromLong(ds_collection_encoder(self->c) != NULL);
    default: Py_RETURN_NONE;
    }
}
static PyObject *get_n_docs(PyObject *o, void *c) { (void)c; return coll_get((coll_obj *)o, 0); }
static PyObject *get_n_passages(PyObject *o, void *c) { (void)c; return coll_get((coll_obj *)o, 1); }
static PyObject *get_dim(PyObject *o, void *c) { (void)c; return coll_get((coll_obj *)o, 2); }
static PyObject *get_building(PyObject *o, void *c) { (void)c; return coll_get((coll_obj *)o, 3); }
static PyObject *get_has_encoder(PyObject *o, void *c) { (void)c; return coll_get((coll_obj *)o, 4); }
static PyObject *get_closed(PyObject *o, void *c) { (void)c; return PyBool_FromLong(((coll_obj *)o)->c == NULL); }

#define KWFN(f) (PyCFunction)(void (*)(void))(f)

static PyMethodDef coll_methods[] = {
    { "_create", KWFN(coll_create), METH_VARARGS | METH_KEYWORDS | METH_CLASS, NULL },
    { "_open", KWFN(coll_open), METH_VARARGS | METH_KEYWORDS | METH_CLASS, NULL },
    { "add", KWFN(coll_add), METH_VARARGS | METH_KEYWORDS,
      "add(id, text, title=None, embedding=None) -> None\n\n"
      "Adds one document to a collection being built (embedding: dim float32 values when the\n"
      "collection was created with dim=). Refused documents (empty/duplicate id, non-finite\n"
      "embedding) raise InvalidError and the build goes on." },
    { "commit", coll_commit, METH_NOARGS,
      "commit() -> dict\n\nEncodes what is left, writes and publishes the collection; returns its stats.\n"
      "After a commit the collection is open for searching." },
    { "upsert", KWFN(coll_upsert), METH_VARARGS | METH_KEYWORDS,
      "upsert(documents, embeddings=None, wait=True) -> dict\n\n"
      "Adds or replaces documents (dicts with id, text, title, or (id, text[, title]) tuples) as one\n"
      "batch in a collection opened with writable=True; searchable on return, durable (fsynced log)\n"
      "unless wait=False. Returns lsn, added, replaced." },
    { "delete", KWFN(coll_delete), METH_VARARGS | METH_KEYWORDS,
      "delete(ids, wait=True) -> dict\n\nDeletes documents by id; returns lsn, deleted, missing." },
    { "flush", coll_flush, METH_NOARGS, "flush() -> None\n\nPublishes what was written (new MANIFEST, log trimmed)." },
    { "compact", coll_compact, METH_NOARGS, "compact() -> None\n\nMerges all segments into one without deleted documents." },
    { "live_stats", coll_live_stats, METH_NOARGS, "live_stats() -> dict\n\nSegments, deleted documents, log size and positions." },
    { "_search", KWFN(coll_search), METH_VARARGS | METH_KEYWORDS, NULL },
    { "_search_batch", KWFN(coll_search_batch), METH_VARARGS | METH_KEYWORDS, NULL },
    { "doc", coll_doc, METH_O, "doc(id_or_number) -> (title, text)\n\nStored title and text of a document." },
    { "_info", coll_info, METH_NOARGS, NULL },
    { "close", coll_close, METH_NOARGS, "close() -> None\n\nCloses the collection; an uncommitted build is discarded." },
    { NULL, NULL, 0, NULL }
};

static PyGetSetDef coll_getset[] = {
    { "n_docs", get_n_docs, NULL, "Documents in the collection.", NULL },
    { "n_passages", get_n_passages, NULL, "Passages (documents split by chunk_tokens).", NULL },
    { "dim", get_dim, NULL, "Vector dimension (0: BM25 only).", NULL },
    { "building", get_building, NULL, "True between create() and commit().", NULL },
    { "has_encoder", get_has_encoder, NULL, "True when a query encoder is loaded.", NULL },
    { "closed", get_closed, NULL, "True after close().", NULL },
    { NULL, NULL, NULL, NULL, NULL }
};

static PyTypeObject coll_type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "densearch._Collection",
    .tp_basicsize = sizeof(coll_obj),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "Internal base of densearch.Collection.",
    .tp_new = coll_new,
    .tp_dealloc = coll_dealloc,
    .tp_methods = coll_methods,
    .tp_getset = coll_getset,
};

int dsp_collection_init(PyObject *m) {
    if (PyType_Ready(&coll_type) < 0) return -1;
    return PyModule_AddObjectRef(m, "_Collection", (PyObject *)&coll_type);
}
