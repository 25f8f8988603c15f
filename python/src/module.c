/* module.c -- densearch._densearch: errors, result arrays, input buffers,
** hits and the module table. The object types live in index.c, encoder.c,
** lexical.c, eval.c and collection.c (see binding.h for the threading and
** error rules they share).
*/
#include "binding.h"

#include <math.h>
#include <stdarg.h>
#include <string.h>

/* ======================================================================== */
/* Errors                                                                    */
/* ======================================================================== */
#define N_STATUS (DS_ERR_INTERNAL + 1)
static PyObject *error_base;
static PyObject *error_class[N_STATUS];

static const struct {
    ds_status   rc;
    const char *name;     /* densearch.<name> */
    const char *doc;
} error_table[] = {
    { DS_ERR_NOMEM,       "NoMemoryError",    "DS_ERR_NOMEM: an allocation failed; the object is unchanged." },
    { DS_ERR_IO,          "IOError",          "DS_ERR_IO: a read, write or mmap failed." },
    { DS_ERR_CORRUPT,     "CorruptError",     "DS_ERR_CORRUPT: a file or input fails validation." },
    { DS_ERR_FORMAT,      "FormatError",      "DS_ERR_FORMAT: not a densearch file, or a format version this library cannot read." },
    { DS_ERR_READONLY,    "ReadOnlyError",    "DS_ERR_READONLY: written by a newer version, or opened read-only." },
    { DS_ERR_INVALID,     "InvalidError",     "DS_ERR_INVALID: bad argument or input (also a ValueError)." },
    { DS_ERR_RANGE,       "RangeError",       "DS_ERR_RANGE: a size or count is out of range (also a ValueError)." },
    { DS_ERR_NOTFOUND,    "NotFoundError",    "DS_ERR_NOTFOUND: no such id, document or file (also a LookupError)." },
    { DS_ERR_UNSUPPORTED, "UnsupportedError", "DS_ERR_UNSUPPORTED: a feature this index type, model or CPU does not support." },
    { DS_ERR_CANCELED,    "CanceledError",    "DS_ERR_CANCELED: the operation was canceled." },
    { DS_ERR_INTERNAL,    "InternalError",    "DS_ERR_INTERNAL: a bug in densearch; please report it." },
};

PyObject *dsp_error_class(ds_status rc) {
    if ((int)rc > 0 && (int)rc < N_STATUS && error_class[rc] != NULL) return error_class[rc];
    return error_base;
}

static PyObject *raise_with(ds_status rc, const char *msg) {
    PyObject *cls = dsp_error_class(rc);
    PyObject *inst = PyObject_CallFunction(cls, "s", msg);
    if (inst == NULL) return NULL;
    PyObject *status = PyUnicode_FromString(ds_status_name(rc));
    PyObject *code = PyLong_FromLong((long)rc);
    PyObject *message = PyUnicode_FromString(msg);
    if (status == NULL || code == NULL || message == NULL ||
        PyObject_SetAttrString(inst, "status", status) < 0 ||
        PyObject_SetAttrString(inst, "code", code) < 0 ||
        PyObject_SetAttrString(inst, "message", message) < 0) {
        Py_XDECREF(status); Py_XDECREF(code); Py_XDECREF(message);
        Py_DECREF(inst);
        return NULL;
    }
    Py_DECREF(status); Py_DECREF(code); Py_DECREF(message);
    PyErr_SetObject(cls, inst);
    Py_DECREF(inst);
    return NULL;
}

PyObject *dsp_raise(ds_status rc) {
    const char *msg = ds_errmsg();
    if (msg == NULL || *msg == '\0') msg = ds_status_name(rc);
    return raise_with(rc, msg);
}

PyObject *dsp_raise_msg(ds_status rc, const char *fmt, ...) {
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return raise_with(rc, buf);
}

/* ======================================================================== */
/* densearch.Array                                                           */
/* ======================================================================== */
#define ARRAY_ALIGN 64

dsp_array *dsp_array_new(const char *format, int ndim, Py_ssize_t d0, Py_ssize_t d1) {
    Py_ssize_t isz = format[0] == 'q' ? 8 : 4;
    if (ndim == 1) d1 = 1;
    if (d0 < 0 || d1 < 0 || (d1 > 0 && d0 > (PY_SSIZE_T_MAX - ARRAY_ALIGN) / d1 / isz)) {
        PyErr_SetString(PyExc_OverflowError, "result array too large");
        return NULL;
    }
    Py_ssize_t bytes = d0 * d1 * isz;
    dsp_array *a = PyObject_NewVar(dsp_array, &dsp_array_type, bytes + ARRAY_ALIGN);
    if (a == NULL) return NULL;
    uintptr_t p = (uintptr_t)((char *)a + sizeof *a);
    a->data = (char *)((p + ARRAY_ALIGN - 1) & ~(uintptr_t)(ARRAY_ALIGN - 1));
    a->ndim = ndim;
    a->itemsize = isz;
    a->shape[0] = d0;
    a->shape[1] = ndim == 2 ? d1 : 0;
    a->strides[0] = ndim == 2 ? d1 * isz : isz;
    a->strides[1] = isz;
    a->format[0] = format[0];
    a->format[1] = '\0';
    return a;
}

static Py_ssize_t array_nbytes(const dsp_array *a) {
    return a->ndim == 2 ? a->shape[0] * a->shape[1] * a->itemsize : a->shape[0] * a->itemsize;
}

static int array_getbuffer(PyObject *self, Py_buffer *view, int flags) {
    dsp_array *a = (dsp_array *)self;
    view->obj = Py_NewRef(self);
    view->buf = a->data;
    view->len = array_nbytes(a);
    view->readonly = 0;
    view->suboffsets = NULL;
    view->internal = NULL;
    if (flags & PyBUF_FORMAT) {
        view->format = a->format;
        view->itemsize = a->itemsize;
    } else {
        /* without a format the consumer reads unsigned bytes */
        view->format = NULL;
        view->itemsize = (flags & PyBUF_ND) ? a->itemsize : 1;
    }
    if (flags & PyBUF_ND) {
        view->ndim = a->ndim;
        view->shape = a->shape;
        view->strides = ((flags & PyBUF_STRIDES) == PyBUF_STRIDES) ? a->strides : NULL;
    } else {
        view->ndim = 1;
        view->shape = NULL;
        view->strides = NULL;
    }
    return 0;
}

static PyBufferProcs array_as_buffer = { array_getbuffer, NULL };

static const char *format_name(char f) {
    switch (f) {
    case 'f': return "float32";
    case 'q': return "int64";
    case 'i': return "int32";
    default: return "?";
    }
}

static Py_ssize_t array_len(PyObject *self) {
    return ((dsp_array *)self)->shape[0];
}

static PyObject *array_scalar(const dsp_array *a, const char *p) {
    if (a->format[0] == 'f') { float v; memcpy(&v, p, 4); return PyFloat_FromDouble(v); }
    if (a->format[0] == 'q') { int64_t v; memcpy(&v, p, 8); return PyLong_FromLongLong(v); }
    int32_t v; memcpy(&v, p, 4); return PyLong_FromLong(v);
}

/* a[i]: a number for 1-D arrays, a copy of row i (1-D Array) for 2-D. */
static PyObject *array_item(PyObject *self, Py_ssize_t i) {
    dsp_array *a = (dsp_array *)self;
    if (i < 0 || i >= a->shape[0]) {
        PyErr_SetString(PyExc_IndexError, "densearch.Array index out of range");
        return NULL;
    }
    if (a->ndim == 1) return array_scalar(a, a->data + i * a->itemsize);
    dsp_array *row = dsp_array_new(a->format, 1, a->shape[1], 0);
    if (row == NULL) return NULL;
    memcpy(row->data, a->data + i * a->strides[0], (size_t)a->strides[0]);
    return (PyObject *)row;
}

static PySequenceMethods array_as_sequence = {
    .sq_length = array_len,
    .sq_item = array_item,
};

static PyObject *array_tolist(PyObject *self, PyObject *unused) {
    (void)unused;
    dsp_array *a = (dsp_array *)self;
    if (a->ndim == 1) {
        PyObject *l = PyList_New(a->shape[0]);
        for (Py_ssize_t i = 0; l != NULL && i < a->shape[0]; i++) {
            PyObject *v = array_scalar(a, a->data + i * a->itemsize);
            if (v == NULL) { Py_CLEAR(l); break; }
            PyList_SET_ITEM(l, i, v);
        }
        return l;
    }
    PyObject *l = PyList_New(a->shape[0]);
    for (Py_ssize_t i = 0; l != NULL && i < a->shape[0]; i++) {
        PyObject *r = PyList_New(a->shape[1]);
        if (r == NULL) { Py_CLEAR(l); break; }
        for (Py_ssize_t j = 0; j < a->shape[1]; j++) {
            PyObject *v = array_scalar(a, a->data + i * a->strides[0] + j * a->itemsize);
            if (v == NULL) { Py_CLEAR(r); break; }
            PyList_SET_ITEM(r, j, v);
        }
        if (r == NULL) { Py_CLEAR(l); break; }
        PyList_SET_ITEM(l, i, r);
    }
    return l;
}

static PyObject *array_get_shape(PyObject *self, void *closure) {
    (void)closure;
    dsp_array *a = (dsp_array *)self;
    return a->ndim == 2 ? Py_BuildValue("(nn)", a->shape[0], a->shape[1]) : Py_BuildValue("(n)", a->shape[0]);
}

static PyObject *array_get_dtype(PyObject *self, void *closure) {
    (void)closure;
    return PyUnicode_FromString(format_name(((dsp_array *)self)->format[0]));
}

static PyObject *array_get_ndim(PyObject *self, void *closure) {
    (void)closure;
    return PyLong_FromLong(((dsp_array *)self)->ndim);
}

static PyObject *array_repr(PyObject *self) {
    dsp_array *a = (dsp_array *)self;
    if (a->ndim == 2)
        return PyUnicode_FromFormat("densearch.Array(shape=(%zd, %zd), dtype=%s)", a->shape[0], a->shape[1],
                                    format_name(a->format[0]));
    return PyUnicode_FromFormat("densearch.Array(shape=(%zd,), dtype=%s)", a->shape[0], format_name(a->format[0]));
}

static PyMethodDef array_methods[] = {
    { "tolist", array_tolist, METH_NOARGS, "tolist() -> list\n\nThe values as (nested) Python lists." },
    { NULL, NULL, 0, NULL }
};

static PyGetSetDef array_getset[] = {
    { "shape", array_get_shape, NULL, "Shape as a tuple, like numpy's.", NULL },
    { "dtype", array_get_dtype, NULL, "Element type name: 'float32', 'int64' or 'int32'.", NULL },
    { "ndim", array_get_ndim, NULL, "Number of dimensions (1 or 2).", NULL },
    { NULL, NULL, NULL, NULL, NULL }
};

PyTypeObject dsp_array_type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "densearch.Array",
    .tp_basicsize = sizeof(dsp_array),
    .tp_itemsize = 1,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A result array (float32 scores or embeddings, int64 ids) owned by densearch.\n\n"
              "It exports the buffer protocol: np.asarray(a) and memoryview(a) share its memory\n"
              "(no copy). Also has .shape, .dtype, len(), a[i] and .tolist().",
    .tp_as_buffer = &array_as_buffer,
    .tp_as_sequence = &array_as_sequence,
    .tp_methods = array_methods,
    .tp_getset = array_getset,
    .tp_repr = array_repr,
};

/* ======================================================================== */
/* Input float32 matrices                                                    */
/* ======================================================================== */
static const char *struct_code_name(const char *fmt) {
    if (fmt == NULL) return "bytes";
    while (*fmt == '@' || *fmt == '=' || *fmt == '<' || *fmt == '>' || *fmt == '!') fmt++;
    if (fmt[0] == '\0' || fmt[1] != '\0') return fmt;
    switch (fmt[0]) {
    case 'd': return "float64";
    case 'f': return "float32";
    case 'e': return "float16";
    case 'b': return "int8";
    case 'B': return "uint8";
    case 'h': return "int16";
    case 'H': return "uint16";
    case 'i': case 'l': return fmt[0] == 'l' ? "int64 ('l')" : "int32";
    case 'I': case 'L': return fmt[0] == 'L' ? "uint64 ('L')" : "uint32";
    case 'q': return "int64";
    case 'Q': return "uint64";
    case '?': return "bool";
    default: return fmt;
    }
}

/* True for a native or little-endian float32 format; this module is built
** only for little-endian hosts (the library's own rule). */
static int is_f32(const char *fmt) {
    if (fmt == NULL) return 0;
    if (*fmt == '@' || *fmt == '=' || *fmt == '<') fmt++;
    return fmt[0] == 'f' && fmt[1] == '\0';
}

int dsp_matrix_get(PyObject *obj, size_t dim, const char *what, dsp_matrix *m) {
    memset(m, 0, sizeof *m);
    if (!PyObject_CheckBuffer(obj)) {
        dsp_raise_msg(DS_ERR_INVALID, "%s must be a float32 buffer such as a numpy array "
                      "(np.asarray(x, dtype=np.float32)), not %.100s", what, Py_TYPE(obj)->tp_name);
        return -1;
    }
    if (PyObject_GetBuffer(obj, &m->view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) {
        PyErr_Clear();
        dsp_raise_msg(DS_ERR_INVALID, "%s must be C-contiguous (np.ascontiguousarray(x, dtype=np.float32)); "
                      "a strided view or a Fortran-order array would need a copy", what);
        return -1;
    }
    m->have_view = 1;
    if (!is_f32(m->view.format)) {
        dsp_raise_msg(DS_ERR_INVALID, "%s must be float32, got %s (convert with np.asarray(x, dtype=np.float32))",
                      what, struct_code_name(m->view.format));
        goto fail;
    }
    if (m->view.ndim == 1) {
        m->rows = 1;
        m->dim = (size_t)m->view.shape[0];
        m->was_1d = 1;
    } else if (m->view.ndim == 2) {
        m->rows = (size_t)m->view.shape[0];
        m->dim = (size_t)m->view.shape[1];
    } else {
        dsp_raise_msg(DS_ERR_INVALID, "%s must have 1 or 2 dimensions (rows x dim), got %d", what, m->view.ndim);
        goto fail;
    }
    if (dim != 0 && m->dim != dim) {
        dsp_raise_msg(DS_ERR_INVALID, "%s have dimension %zu, expected %zu", what, m->dim, dim);
        goto fail;
    }
    if (m->dim == 0) {
        dsp_raise_msg(DS_ERR_INVALID, "%s have dimension 0", what);
        goto fail;
    }
    m->data = m->view.buf;
    return 0;
fail:
    dsp_matrix_release(m);
    return -1;
}

void dsp_matrix_release(dsp_matrix *m) {
    if (m->have_view) PyBuffer_Release(&m->view);
    m->have_view = 0;
}

/* ======================================================================== */
/* densearch.Hit                                                             */
/* ======================================================================== */
PyTypeObject *dsp_hit_type;

static PyStructSequence_Field hit_fields[] = {
    { "id", "external document id (str)" },
    { "score", "the score results are ranked by" },
    { "doc", "document number (0-based, in indexing order)" },
    { "passage", "passage of the document that gave the dense score (0-based)" },
    { "bm25", "BM25 score, or None if BM25 did not run or retrieve it" },
    { "dense", "dense (vector) score, or None" },
    { "fused", "fused score (RRF or convex), or None" },
    { "rerank", "cross-encoder score, or None" },
    { "bm25_rank", "1-based rank in the BM25 list, or None" },
    { "dense_rank", "1-based rank in the dense list, or None" },
    { "fused_rank", "1-based rank after fusion, or None" },
    { "rerank_rank", "1-based rank after re-ranking, or None" },
    { "title", "stored title (with_text=True), else None" },
    { "snippet", "highlighted excerpt (with_text=True), else None" },
    { NULL, NULL }
};

static PyStructSequence_Desc hit_desc = {
    "densearch.Hit",
    "One search result. Unpacks as (id, score); the other fields are attributes.",
    hit_fields,
    2
};

static PyObject *opt_score(float v) {
    if (isnan(v)) Py_RETURN_NONE;
    return PyFloat_FromDouble(v);
}

static PyObject *opt_rank(uint32_t r) {
    if (r == 0) Py_RETURN_NONE;
    return PyLong_FromUnsignedLong(r);
}

static PyObject *opt_str(const char *s, size_t len) {
    if (s == NULL) Py_RETURN_NONE;
    return PyUnicode_DecodeUTF8(s, (Py_ssize_t)len, "replace");
}

PyObject *dsp_hit_new(const ds_hit *h) {
    PyObject *t = PyStructSequence_New(dsp_hit_type);
    if (t == NULL) return NULL;
    PyObject *v[14] = {
        PyUnicode_DecodeUTF8(h->id ? h->id : "", (Py_ssize_t)(h->id ? h->id_len : 0), "replace"),
        PyFloat_FromDouble(h->score),
        PyLong_FromUnsignedLong(h->doc),
        PyLong_FromUnsignedLong(h->passage),
        opt_score(h->bm25), opt_score(h->dense), opt_score(h->fused), opt_score(h->rerank),
        opt_rank(h->bm25_rank), opt_rank(h->dense_rank), opt_rank(h->fused_rank), opt_rank(h->rerank_rank),
        opt_str(h->title, h->title_len), opt_str(h->snippet, h->snippet_len),
    };
    int bad = 0;
    for (int i = 0; i < 14; i++) {
        if (v[i] == NULL) bad = 1;
        PyStructSequence_SetItem(t, i, v[i]);   /* steals; NULL slots are fine for dealloc */
    }
    if (bad) { Py_DECREF(t); return NULL; }
    return t;
}

/* ======================================================================== */
/* Small helpers                                                             */
/* ======================================================================== */
PyObject *dsp_path(PyObject *obj, const char *what) {
    PyObject *b = NULL;
    if (!PyUnicode_FSConverter(obj, &b)) {
        PyErr_Clear();
        dsp_raise_msg(DS_ERR_INVALID, "%s must be a path (str, bytes or os.PathLike), not %.100s",
                      what, Py_TYPE(obj)->tp_name);
        return NULL;
    }
    return b;
}

int dsp_env_make(unsigned n_threads, ds_env **out) {
    *out = NULL;
    if (n_threads == 0) return 0;
    ds_env_opts o;
    ds_env_opts_init(&o);
    o.n_threads = n_threads;
    ds_status rc = ds_env_create(&o, out);
    if (rc != DS_OK) { dsp_raise(rc); return -1; }
    return 0;
}

int dsp_choose(PyObject *obj, const dsp_choice *table, const char *what, int *out) {
    const char *s = PyUnicode_Check(obj) ? PyUnicode_AsUTF8(obj) : NULL;
    if (s != NULL) {
        for (const dsp_choice *c = table; c->name != NULL; c++)
            if (strcmp(c->name, s) == 0) { *out = c->value; return 0; }
    }
    PyErr_Clear();
    char list[256] = "";
    for (const dsp_choice *c = table; c->name != NULL; c++) {
        if (list[0]) strncat(list, ", ", sizeof list - strlen(list) - 1);
        strncat(list, c->name, sizeof list - strlen(list) - 1);
    }
    PyObject *r = PyObject_Repr(obj);
    dsp_raise_msg(DS_ERR_INVALID, "%s must be one of %s; got %s", what, list, r ? PyUnicode_AsUTF8(r) : "?");
    Py_XDECREF(r);
    return -1;
}

static int set_bit(uint8_t **bm, uint64_t *bits, size_t *cap, long long id) {
    if (id < 0) {
        dsp_raise_msg(DS_ERR_INVALID, "filter: id %lld is negative", id);
        return -1;
    }
    if ((uint64_t)id >= ((uint64_t)1 << 40)) {
        dsp_raise_msg(DS_ERR_RANGE, "filter: id %lld is too large for an allow-list bitmap", id);
        return -1;
    }
    size_t need = (size_t)(id / 8) + 1;
    if (need > *cap) {
        size_t nc = *cap ? *cap : 64;
        while (nc < need) nc *= 2;
        uint8_t *p = PyMem_Realloc(*bm, nc);
        if (p == NULL) { PyErr_NoMemory(); return -1; }
        memset(p + *cap, 0, nc - *cap);
        *bm = p;
        *cap = nc;
    }
    (*bm)[id / 8] |= (uint8_t)(1u << (id % 8));
    if ((uint64_t)id + 1 > *bits) *bits = (uint64_t)id + 1;
    return 0;
}

int dsp_filter_bitmap(PyObject *obj, uint8_t **bitmap, uint64_t *bits) {
    *bitmap = NULL;
    *bits = 0;
    size_t cap = 0;
    if (PyBytes_Check(obj) || PyByteArray_Check(obj)) {
        /* a raw bitmap, bit i (LSB first) = id i */
        Py_buffer v;
        if (PyObject_GetBuffer(obj, &v, PyBUF_SIMPLE) < 0) return -1;
        *bitmap = PyMem_Malloc(v.len ? (size_t)v.len : 1);
        if (*bitmap == NULL) { PyBuffer_Release(&v); PyErr_NoMemory(); return -1; }
        memcpy(*bitmap, v.buf, (size_t)v.len);
        *bits = (uint64_t)v.len * 8;
        PyBuffer_Release(&v);
        return 0;
    }
    if (PyObject_CheckBuffer(obj)) {
        Py_buffer v;
        if (PyObject_GetBuffer(obj, &v, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) {
            PyErr_Clear();
            dsp_raise_msg(DS_ERR_INVALID, "filter must be C-contiguous");
            return -1;
        }
        const char *f = v.format ? v.format : "B";
        if (*f == '@' || *f == '=' || *f == '<') f++;
        int ok = 0;
        if (f[0] != '\0' && f[1] == '\0' && v.ndim <= 1) {
            Py_ssize_t n = v.itemsize ? v.len / v.itemsize : 0;
            ok = 1;
            for (Py_ssize_t i = 0; i < n && ok == 1; i++) {
                const char *p = (const char *)v.buf + i * v.itemsize;
                long long id;
                switch (f[0]) {
                case '?': /* a boolean mask: position i allowed when true */
                    if (!*(const unsigned char *)p) continue;
                    id = i;
                    break;
                case 'b': id = *(const int8_t *)p; break;
                case 'B': id = *(const uint8_t *)p; break;
                case 'h': id = *(const int16_t *)p; break;
                case 'H': id = *(const uint16_t *)p; break;
                case 'i': id = *(const int32_t *)p; break;
                case 'I': id = *(const uint32_t *)p; break;
                case 'l': case 'q': { int64_t x; memcpy(&x, p, 8); id = x; break; }
                case 'L': case 'Q': { uint64_t x; memcpy(&x, p, 8); id = x > (uint64_t)INT64_MAX ? -1 : (long long)x; break; }
                default: ok = 0; continue;
                }
                if (set_bit(bitmap, bits, &cap, id) < 0) ok = -1;
            }
        }
        if (ok == 0) {
            dsp_raise_msg(DS_ERR_INVALID, "filter must hold integer ids or be a boolean mask, got %s",
                          struct_code_name(v.format));
        }
        PyBuffer_Release(&v);
        if (ok != 1) { PyMem_Free(*bitmap); *bitmap = NULL; *bits = 0; return -1; }
        if (*bitmap == NULL) { *bitmap = PyMem_Malloc(1); if (*bitmap == NULL) { PyErr_NoMemory(); return -1; } **bitmap = 0; }
        return 0;
    }
    PyObject *it = PyObject_GetIter(obj);
    if (it == NULL) {
        PyErr_Clear();
        dsp_raise_msg(DS_ERR_INVALID, "filter must be an iterable of ids, a boolean mask or a bytes bitmap, not %.100s",
                      Py_TYPE(obj)->tp_name);
        return -1;
    }
    PyObject *x;
    while ((x = PyIter_Next(it)) != NULL) {
        long long id = PyLong_AsLongLong(x);
        Py_DECREF(x);
        if (id == -1 && PyErr_Occurred()) {
            PyErr_Clear();
            dsp_raise_msg(DS_ERR_INVALID, "filter ids must be non-negative integers");
            goto fail;
        }
        if (set_bit(bitmap, bits, &cap, id) < 0) goto fail;
    }
    Py_DECREF(it);
    if (PyErr_Occurred()) goto fail_noit;
    if (*bitmap == NULL) { *bitmap = PyMem_Malloc(1); if (*bitmap == NULL) { PyErr_NoMemory(); return -1; } **bitmap = 0; }
    return 0;
fail:
    Py_DECREF(it);
fail_noit:
    PyMem_Free(*bitmap);
    *bitmap = NULL;
    *bits = 0;
    return -1;
}

/* ======================================================================== */
/* Module                                                                    */
/* ======================================================================== */
static PyObject *mod_simd(PyObject *self, PyObject *unused) {
    (void)self; (void)unused;
    return PyUnicode_FromString(ds_env_simd_name(NULL));
}

static PyObject *mod_threads(PyObject *self, PyObject *unused) {
    (void)self; (void)unused;
    return PyLong_FromUnsignedLong(ds_env_threads(NULL));
}

static PyObject *mod_check(PyObject *self, PyObject *arg) {
    (void)self;
    PyObject *p = dsp_path(arg, "path");
    if (p == NULL) return NULL;
    ds_status rc;
    Py_BEGIN_ALLOW_THREADS
    rc = ds_check(NULL, PyBytes_AS_STRING(p));
    Py_END_ALLOW_THREADS
    Py_DECREF(p);
    if (rc != DS_OK) return dsp_raise(rc);
    Py_RETURN_NONE;
}

static PyMethodDef module_methods[] = {
    { "simd", mod_simd, METH_NOARGS, "simd() -> str\n\nThe SIMD kernels in use: 'avx512', 'avx2' or 'scalar'." },
    { "threads", mod_threads, METH_NOARGS, "threads() -> int\n\nDefault thread count (online cores)." },
    { "check", mod_check, METH_O,
      "check(path) -> None\n\nVerifies a densearch file or index directory completely (what `densearch check`\n"
      "runs); raises the Error subclass of the first problem." },
    { NULL, NULL, 0, NULL }
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "densearch._densearch",
    "C extension of densearch; import the densearch package instead.", -1, module_methods,
    NULL, NULL, NULL, NULL
};

static int add_errors(PyObject *m) {
    error_base = PyErr_NewExceptionWithDoc("densearch.Error",
        "Base of every densearch error. Attributes: status (e.g. 'DS_ERR_CORRUPT'),\n"
        "code (the ds_status number) and message (ds_errmsg(): what failed and where).", NULL, NULL);
    if (error_base == NULL || PyModule_AddObjectRef(m, "Error", error_base) < 0) return -1;
    for (size_t i = 0; i < sizeof error_table / sizeof error_table[0]; i++) {
        PyObject *extra = NULL;
        switch (error_table[i].rc) {
        case DS_ERR_NOMEM: extra = PyExc_MemoryError; break;
        case DS_ERR_IO: extra = PyExc_OSError; break;
        case DS_ERR_INVALID: case DS_ERR_RANGE: extra = PyExc_ValueError; break;
        case DS_ERR_NOTFOUND: extra = PyExc_LookupError; break;
        default: break;
        }
        PyObject *bases = extra ? PyTuple_Pack(2, error_base, extra) : PyTuple_Pack(1, error_base);
        if (bases == NULL) return -1;
        char qual[64];
        snprintf(qual, sizeof qual, "densearch.%s", error_table[i].name);
        PyObject *cls = PyErr_NewExceptionWithDoc(qual, error_table[i].doc, bases, NULL);
        Py_DECREF(bases);
        if (cls == NULL) return -1;
        error_class[error_table[i].rc] = cls;
        if (PyModule_AddObjectRef(m, error_table[i].name, cls) < 0) return -1;
    }
    return 0;
}

PyMODINIT_FUNC PyInit__densearch(void) {
    PyObject *m = PyModule_Create(&module_def);
    if (m == NULL) return NULL;
    if (add_errors(m) < 0) goto fail;
    if (PyType_Ready(&dsp_array_type) < 0 || PyModule_AddObjectRef(m, "Array", (PyObject *)&dsp_array_type) < 0)
        goto fail;
    dsp_hit_type = PyStructSequence_NewType(&hit_desc);
    if (dsp_hit_type == NULL || PyModule_AddObjectRef(m, "Hit", (PyObject *)dsp_hit_type) < 0) goto fail;
    if (PyModule_AddStringConstant(m, "__version__", ds_version_string()) < 0) goto fail;
    if (dsp_index_init(m) < 0 || dsp_encoder_init(m) < 0 || dsp_lexical_init(m) < 0 ||
        dsp_eval_init(m) < 0 || dsp_collection_init(m) < 0)
        goto fail;
    return m;
fail:
    Py_DECREF(m);
    return NULL;
}
