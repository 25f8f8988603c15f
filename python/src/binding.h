/* binding.h -- shared pieces of the CPython extension densearch._densearch.
**
** The extension uses only include/densearch.h (like the CLI), so it is one
** more proof that the public API is enough. It is built against the static
** library, so the module carries the whole engine.
**
** Threading: every handle a Python object wraps sits behind a
** pthread_rwlock. Calls the C API marks "Thread: any" (search, encode, save)
** take it shared, calls marked "Thread: exclusive" (add, delete, compact,
** close) take it exclusive. The lock is always taken with the GIL released,
** and released before the GIL is taken back, so a thread waiting for the GIL
** never holds it and no lock order between the two exists. That makes
** concurrent searches from Python threads run in parallel while an add from
** another thread can never run into them.
**
** Errors: a failed ds_status becomes densearch.<Status>Error carrying
** .status ("DS_ERR_INVALID"), .code and .message (ds_errmsg() of the thread
** that failed). Bad Python input (wrong dtype, shape, non-contiguous buffer)
** is reported as densearch.InvalidError (DS_ERR_INVALID), a ValueError.
*/
#ifndef DS_PY_BINDING_H
#define DS_PY_BINDING_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <pthread.h>

#include "densearch.h"

/* ---- errors -------------------------------------------------------------- */
/* Raises the exception for rc with ds_errmsg() of this thread; returns NULL. */
PyObject *dsp_raise(ds_status rc);
/* Raises the exception for rc with a message of ours (binding-level checks). */
PyObject *dsp_raise_msg(ds_status rc, const char *fmt, ...);
/* The exception class of a status (borrowed). */
PyObject *dsp_error_class(ds_status rc);

/* ---- result arrays (buffer protocol) ------------------------------------ */
/* An n-dimensional (1 or 2) C-contiguous array owning its data, exported
** through the buffer protocol, so np.asarray(a) shares its memory. Data sits
** in the same allocation as the object (PyObject_Malloc: visible to
** tracemalloc and sys.getallocatedblocks, which the leak tests read). */
typedef struct {
    PyObject_VAR_HEAD
    char        *data;          /* 64-byte aligned, inside this object       */
    Py_ssize_t   shape[2];
    Py_ssize_t   strides[2];
    Py_ssize_t   itemsize;
    int          ndim;
    char         format[4];     /* struct-module code: "f", "q", "i"         */
} dsp_array;

extern PyTypeObject dsp_array_type;
/* New array of ndim (1 or 2) with the given shape; format "f" (float32),
** "q" (int64) or "i" (int32). Contents are uninitialised. */
dsp_array *dsp_array_new(const char *format, int ndim, Py_ssize_t d0, Py_ssize_t d1);

/* ---- input buffers -------------------------------------------------------- */
/* A borrowed float32 matrix: rows x dim, C-contiguous, from any object that
** exports the buffer protocol. Released with dsp_matrix_release. */
typedef struct {
    Py_buffer     view;
    int           have_view;
    const float  *data;
    size_t        rows, dim;
    int           was_1d;
} dsp_matrix;
/* what names the argument in messages ("vectors", "queries"). dim 0 accepts
** any width. Returns 0, or -1 with an exception set. */
int  dsp_matrix_get(PyObject *obj, size_t dim, const char *what, dsp_matrix *m);
void dsp_matrix_release(dsp_matrix *m);

/* ---- hits ------------------------------------------------------------------ */
/* densearch.Hit: a named tuple whose first two fields are (id, score), so
** `for doc_id, score in hits` works; the other fields are attributes. */
extern PyTypeObject *dsp_hit_type;
PyObject *dsp_hit_new(const ds_hit *h);

/* ---- locks ------------------------------------------------------------------ */
/* Call only with the GIL released. */
#define DSP_RDLOCK(l)  pthread_rwlock_rdlock(l)
#define DSP_WRLOCK(l)  pthread_rwlock_wrlock(l)
#define DSP_UNLOCK(l)  pthread_rwlock_unlock(l)

/* ---- misc ------------------------------------------------------------------ */
/* Path argument: str, bytes or os.PathLike -> new bytes object (caller
** decrefs); NULL with an exception set. */
PyObject *dsp_path(PyObject *obj, const char *what);
/* An env with n_threads (0: NULL, the library's default env). */
int dsp_env_make(unsigned n_threads, ds_env **out);
/* Looks name up in a NULL-terminated table of (name, value); -1 with an
** InvalidError listing the choices when absent. */
typedef struct { const char *name; int value; } dsp_choice;
int dsp_choose(PyObject *obj, const dsp_choice *table, const char *what, int *out);
/* Bitmap over [0, max id] from ids given as a buffer of integers or an
** iterable of ints; or a raw bitmap from bytes/bytearray/uint8 buffer.
** *bytes is PyMem_Malloc'd (PyMem_Free). */
int dsp_filter_bitmap(PyObject *obj, uint8_t **bitmap, uint64_t *bits);

/* Module parts: each adds its types/functions to the module. */
int dsp_index_init(PyObject *m);
int dsp_encoder_init(PyObject *m);
int dsp_lexical_init(PyObject *m);
int dsp_eval_init(PyObject *m);
int dsp_collection_init(PyObject *m);

/* The Encoder object's handle, for Collection's reranker argument; NULL
** (with an exception) when obj is not an open Encoder. The caller must keep
** obj alive and must not close it while the handle is in use. */
const ds_encoder *dsp_encoder_handle(PyObject *obj, pthread_rwlock_t **lock);

#endif
