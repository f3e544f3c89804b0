/* wsgi.input (PEP 3333): read(), readline(), readlines(), iteration, over the
 * request body that conn/http buffered before the app was called. The body is
 * either in memory or in an unlinked spill file read with pread(); either way
 * the object never returns more than body->len bytes, and a read returns
 * exactly the bytes it got. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "wsgi_input.h"
#include "buf.h"
#include "util.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

/* Bytes pread() at a time for readline() on a spill file. */
#define INPUT_WINDOW (64 * 1024)
/* Reads at least this large release the GIL around pread(): with --threads,
 * other requests keep running while the disk works. */
#define INPUT_NOGIL_READ (256 * 1024)

struct input {
    PyObject_HEAD
    const char *mem; /* body bytes when in memory, else NULL */
    int fd;          /* spill file, or -1 */
    uint64_t len;    /* body length */
    uint64_t pos;    /* bytes consumed */
    /* readline() window over the spill file: win[0..win_len) holds the file
     * bytes from win_off. Kept across requests (the object is reused). */
    char *win;
    uint64_t win_off;
    size_t win_len;
};

static PyTypeObject input_type;

/* pread exactly n bytes at off unless the file ends first. Returns the bytes
 * read, or -1 with errno. */
static ssize_t
pread_full(int fd, char *dst, size_t n, uint64_t off)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r;
        if (n >= INPUT_NOGIL_READ) {
            Py_BEGIN_ALLOW_THREADS
            r = pread(fd, dst + got, n - got, (off_t)(off + got));
            Py_END_ALLOW_THREADS
        } else {
            r = pread(fd, dst + got, n - got, (off_t)(off + got));
        }
        if (r < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -1;
        }
        if (r == 0) {
            break;
        }
        got += (size_t)r;
    }
    return (ssize_t)got;
}

/* The optional size argument of read()/readline(): None or negative = no
 * limit (-1). Returns 0, or -1 with an exception. */
static int
size_arg(PyObject *const *args, Py_ssize_t nargs, const char *fname, Py_ssize_t *size)
{
    *size = -1;
    if (nargs > 1) {
        PyErr_Format(PyExc_TypeError, "%s() takes at most 1 argument (%zd given)", fname, nargs);
        return -1;
    }
    if (nargs == 0 || args[0] == Py_None) {
        return 0;
    }
    if (!PyIndex_Check(args[0])) {
        PyErr_Format(PyExc_TypeError, "%s() argument must be int or None, not %.100s", fname,
                     Py_TYPE(args[0])->tp_name);
        return -1;
    }
    /* NULL: clamp huge values instead of raising. */
    Py_ssize_t n = PyNumber_AsSsize_t(args[0], NULL);
    if (n == -1 && PyErr_Occurred()) {
        return -1;
    }
    *size = n < 0 ? -1 : n;
    return 0;
}

/* How many bytes a read of `size` (-1 = all) may return. */
static size_t
clamp(const struct input *in, Py_ssize_t size)
{
    uint64_t avail = in->len - in->pos;
    if (size < 0 || (uint64_t)size > avail) {
        return avail > PY_SSIZE_T_MAX ? PY_SSIZE_T_MAX : (size_t)avail;
    }
    return (size_t)size;
}

static PyObject *
read_fd(struct input *in, size_t n)
{
    PyObject *bytes = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)n);
    if (!bytes) {
        return NULL;
    }
    char *dst = PyBytes_AS_STRING(bytes);
    size_t copied = 0;
    /* Serve what readline() already has in its window first. */
    if (in->win_len && in->pos >= in->win_off && in->pos < in->win_off + in->win_len) {
        size_t off = (size_t)(in->pos - in->win_off);
        copied = in->win_len - off;
        if (copied > n) {
            copied = n;
        }
        memcpy(dst, in->win + off, copied);
    }
    if (copied < n) {
        ssize_t r = pread_full(in->fd, dst + copied, n - copied, in->pos + copied);
        if (r < 0) {
            Py_DECREF(bytes);
            return PyErr_SetFromErrno(PyExc_OSError);
        }
        copied += (size_t)r;
    }
    if (copied < n && _PyBytes_Resize(&bytes, (Py_ssize_t)copied) < 0) {
        return NULL;
    }
    in->pos += copied;
    return bytes;
}

static PyObject *
do_read(struct input *in, Py_ssize_t size)
{
    size_t n = clamp(in, size);
    if (n == 0) {
        return PyBytes_FromStringAndSize(NULL, 0);
    }
    if (in->mem) {
        PyObject *bytes = PyBytes_FromStringAndSize(in->mem + in->pos, (Py_ssize_t)n);
        if (bytes) {
            in->pos += n;
        }
        return bytes;
    }
    return read_fd(in, n);
}

/* Make the window cover in->pos. Returns the bytes available from pos in the
 * window (0 at the end of the file), or -1 with an exception. */
static ssize_t
window_at_pos(struct input *in)
{
    if (in->win_len && in->pos >= in->win_off && in->pos < in->win_off + in->win_len) {
        return (ssize_t)(in->win_off + in->win_len - in->pos);
    }
    if (!in->win) {
        in->win = PyMem_Malloc(INPUT_WINDOW);
        if (!in->win) {
            PyErr_NoMemory();
            return -1;
        }
    }
    size_t want = INPUT_WINDOW;
    if (in->len - in->pos < want) {
        want = (size_t)(in->len - in->pos);
    }
    in->win_len = 0;
    ssize_t r = pread_full(in->fd, in->win, want, in->pos);
    if (r < 0) {
        PyErr_SetFromErrno(PyExc_OSError);
        return -1;
    }
    in->win_off = in->pos;
    in->win_len = (size_t)r;
    return r;
}

static PyObject *
readline_fd(struct input *in, size_t limit)
{
    struct buf acc;
    buf_init(&acc);
    PyObject *res = NULL;
    for (;;) {
        ssize_t avail = window_at_pos(in);
        if (avail < 0) {
            goto out;
        }
        if (avail == 0) {
            break; /* the file is shorter than the body length; stop there */
        }
        const char *p = in->win + (in->pos - in->win_off);
        size_t chunk = (size_t)avail;
        if (chunk > limit - acc.len) {
            chunk = limit - acc.len;
        }
        const char *nl = memchr(p, '\n', chunk);
        size_t take = nl ? (size_t)(nl - p) + 1 : chunk;
        if (acc.len == 0 && (nl || take == limit)) {
            /* The whole line is in the window: no intermediate copy. */
            res = PyBytes_FromStringAndSize(p, (Py_ssize_t)take);
            if (res) {
                in->pos += take;
            }
            goto out;
        }
        buf_append(&acc, p, take);
        in->pos += take;
        if (nl || acc.len == limit) {
            break;
        }
    }
    res = PyBytes_FromStringAndSize(acc.data, (Py_ssize_t)acc.len);
out:
    buf_free(&acc);
    return res;
}

static PyObject *
do_readline(struct input *in, Py_ssize_t size)
{
    size_t limit = clamp(in, size);
    if (limit == 0) {
        return PyBytes_FromStringAndSize(NULL, 0);
    }
    if (in->mem) {
        const char *p = in->mem + in->pos;
        const char *nl = memchr(p, '\n', limit);
        size_t n = nl ? (size_t)(nl - p) + 1 : limit;
        PyObject *bytes = PyBytes_FromStringAndSize(p, (Py_ssize_t)n);
        if (bytes) {
            in->pos += n;
        }
        return bytes;
    }
    return readline_fd(in, limit);
}

static PyObject *
input_read(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t size;
    if (size_arg(args, nargs, "read", &size) < 0) {
        return NULL;
    }
    return do_read((struct input *)self, size);
}

static PyObject *
input_readline(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t size;
    if (size_arg(args, nargs, "readline", &size) < 0) {
        return NULL;
    }
    return do_readline((struct input *)self, size);
}

static PyObject *
input_readlines(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t hint;
    if (size_arg(args, nargs, "readlines", &hint) < 0) {
        return NULL;
    }
    PyObject *lines = PyList_New(0);
    if (!lines) {
        return NULL;
    }
    Py_ssize_t total = 0;
    for (;;) {
        PyObject *line = do_readline((struct input *)self, -1);
        if (!line) {
            goto fail;
        }
        Py_ssize_t n = PyBytes_GET_SIZE(line);
        if (n == 0) {
            Py_DECREF(line);
            break;
        }
        int rc = PyList_Append(lines, line);
        Py_DECREF(line);
        if (rc < 0) {
            goto fail;
        }
        total += n;
        /* io semantics: stop once the lines so far reach the hint. */
        if (hint > 0 && total >= hint) {
            break;
        }
    }
    return lines;
fail:
    Py_DECREF(lines);
    return NULL;
}

static PyObject *
input_readable(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    Py_RETURN_TRUE;
}

static PyObject *
input_iternext(PyObject *self)
{
    PyObject *line = do_readline((struct input *)self, -1);
    if (line && PyBytes_GET_SIZE(line) == 0) {
        Py_DECREF(line);
        return NULL; /* no exception set: StopIteration */
    }
    return line;
}

static void
input_dealloc(PyObject *self)
{
    struct input *in = (struct input *)self;
    PyMem_Free(in->win);
    Py_TYPE(self)->tp_free(self);
}

static PyMethodDef input_methods[] = {
    {"read", (PyCFunction)(void (*)(void))input_read, METH_FASTCALL,
     "read(size=-1) -> bytes: up to size bytes of the body, all if size is negative or None"},
    {"readline", (PyCFunction)(void (*)(void))input_readline, METH_FASTCALL,
     "readline(size=-1) -> bytes: one line (with its newline), at most size bytes"},
    {"readlines", (PyCFunction)(void (*)(void))input_readlines, METH_FASTCALL,
     "readlines(hint=-1) -> list of lines, stopping once hint bytes were read"},
    {"readable", input_readable, METH_NOARGS, "Always True."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject input_type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "wsgihost.Input",
    .tp_basicsize = sizeof(struct input),
    .tp_dealloc = input_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "wsgi.input: the request body",
    .tp_iter = PyObject_SelfIter,
    .tp_iternext = input_iternext,
    .tp_methods = input_methods,
};

int
wsgi_input_type_init(void)
{
    return PyType_Ready(&input_type);
}

PyObject *
wsgi_input_new(void)
{
    struct input *in = PyObject_New(struct input, &input_type);
    if (!in) {
        return NULL;
    }
    in->mem = NULL;
    in->fd = -1;
    in->len = 0;
    in->pos = 0;
    in->win = NULL;
    in->win_off = 0;
    in->win_len = 0;
    return (PyObject *)in;
}

void
wsgi_input_attach(PyObject *self, const struct http_body *body)
{
    struct input *in = (struct input *)self;
    in->pos = 0;
    in->win_len = 0;
    in->win_off = 0;
    if (body->fd >= 0) {
        in->mem = NULL;
        in->fd = body->fd;
        in->len = body->len;
    } else {
        in->fd = -1;
        /* A body that was never buffered has data == NULL: reads of a zero
         * length never touch mem, but keep it non-NULL so the memory path
         * is taken. */
        in->mem = body->mem.data ? body->mem.data : "";
        in->len = body->mem.data ? (body->len < body->mem.len ? body->len : body->mem.len) : 0;
    }
}

void
wsgi_input_detach(PyObject *self)
{
    struct input *in = (struct input *)self;
    in->mem = "";
    in->fd = -1;
    in->len = 0;
    in->pos = 0;
    in->win_len = 0;
}
