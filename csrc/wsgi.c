/* The WSGI bridge (PEP 3333): environ, start_response, write(), result
 * iteration, close(), exc_info, wsgi.errors and wsgi.file_wrapper.
 *
 * Everything that can be done once is done in wsgi_init(): interned keys, a
 * base environ with the constant entries (copied per request), the types.
 * Per request the bridge reuses one start_response/write pair and one
 * wsgi.input object unless the app kept a reference to them, in which case
 * they are detached (so a leaked start_response raises RuntimeError instead
 * of touching a finished request) and fresh ones are made. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "build_config.h"
#include "wsgi.h"
#include "wsgi_input.h"
#include "wsgi_hooks.h"
#include "pyrt.h"
#include "log.h"
#include "util.h"

#include <structmember.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdatomic.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* A generator that keeps producing for longer than this without the queue
 * reaching the high-water mark still gets its bytes flushed: the bridge
 * returns WSGI_PAUSED so the loop writes them out (PEP 3333: a server "must
 * not delay the transmission of any block"), then resumes the iteration. */
#define WSGI_STREAM_FLUSH_SEC 0.02
/* How long a body-less response's iterable may run before it is ended. */
#define WSGI_NO_BODY_LIMIT_SEC 1.0
/* A response item is queued at most this many bytes at a time, pausing
 * between slices while the client is slow: one bytes object of many
 * megabytes (a file cached in memory and shared by every request) is then
 * never copied whole into each slow client's output queue. */
#define WSGI_WRITE_SLICE (256 * 1024)
/* Longest string a one-entry cache keeps (request target, header values). */
#define STRCACHE_MAX 512
/* Header names up to this length are converted on the stack. */
#define HNAME_STACK 128

/* ---------------------------------------------------------------------- */
/* Interned strings: keys, common values, method names. One list drives
 * declaration, creation and release. */

#define WSGI_STRINGS(X)                                                                            \
    X(k_request_method, "REQUEST_METHOD")                                                          \
    X(k_script_name, "SCRIPT_NAME")                                                                \
    X(k_path_info, "PATH_INFO")                                                                    \
    X(k_query_string, "QUERY_STRING")                                                              \
    X(k_raw_uri, "RAW_URI")                                                                        \
    X(k_request_uri, "REQUEST_URI")                                                                \
    X(k_content_type, "CONTENT_TYPE")                                                              \
    X(k_content_length, "CONTENT_LENGTH")                                                          \
    X(k_server_name, "SERVER_NAME")                                                                \
    X(k_server_port, "SERVER_PORT")                                                                \
    X(k_server_protocol, "SERVER_PROTOCOL")                                                        \
    X(k_server_software, "SERVER_SOFTWARE")                                                        \
    X(k_remote_addr, "REMOTE_ADDR")                                                                \
    X(k_remote_port, "REMOTE_PORT")                                                                \
    X(k_wsgi_version, "wsgi.version")                                                              \
    X(k_wsgi_url_scheme, "wsgi.url_scheme")                                                        \
    X(k_wsgi_input, "wsgi.input")                                                                  \
    X(k_wsgi_errors, "wsgi.errors")                                                                \
    X(k_wsgi_multithread, "wsgi.multithread")                                                      \
    X(k_wsgi_multiprocess, "wsgi.multiprocess")                                                    \
    X(k_wsgi_run_once, "wsgi.run_once")                                                            \
    X(k_wsgi_file_wrapper, "wsgi.file_wrapper")                                                    \
    X(k_wsgi_input_terminated, "wsgi.input_terminated")                                            \
    X(v_empty, "")                                                                                 \
    X(v_http, "http")                                                                              \
    X(v_https, "https")                                                                            \
    X(k_https, "HTTPS")                                                                            \
    X(v_on, "on")                                                                                  \
    X(k_ssl_client_s_dn, "SSL_CLIENT_S_DN")                                                        \
    X(v_http_1_1, "HTTP/1.1")                                                                      \
    X(v_http_1_0, "HTTP/1.0")                                                                      \
    X(v_get, "GET")                                                                                \
    X(v_head, "HEAD")                                                                              \
    X(v_post, "POST")                                                                              \
    X(v_put, "PUT")                                                                                \
    X(v_patch, "PATCH")                                                                            \
    X(v_delete, "DELETE")                                                                          \
    X(v_options, "OPTIONS")                                                                        \
    X(s_close, "close")                                                                            \
    X(s_read, "read")                                                                              \
    X(s_fileno, "fileno")                                                                          \
    X(s_tell, "tell")

#define DECLARE_STRING(id, text) static PyObject *id;
WSGI_STRINGS(DECLARE_STRING)
#undef DECLARE_STRING

/* ---------------------------------------------------------------------- */
/* One-entry caches: most clients send the same target, Host, User-Agent...
 * on every request of a connection, so reusing the previous str saves an
 * allocation and a copy. Strings are immutable, sharing them is safe. */

struct strcache {
    PyObject *obj;
    size_t len;
    size_t cap;
    char *data;
};

static void
strcache_clear(struct strcache *c)
{
    Py_CLEAR(c->obj);
    free(c->data);
    c->data = NULL;
    c->len = c->cap = 0;
}

/* p[0..n) decoded as Latin-1 (new reference), or NULL with an exception. */
static PyObject *
cached_latin1(struct strcache *c, const char *p, size_t n)
{
    if (c->obj && c->len == n && memcmp(c->data, p, n) == 0) {
        return Py_NewRef(c->obj);
    }
    PyObject *s = PyUnicode_DecodeLatin1(p, (Py_ssize_t)n, NULL);
    if (s && n <= STRCACHE_MAX) {
        if (c->cap < n || !c->data) {
            c->data = xrealloc(c->data, n ? n : 1);
            c->cap = n ? n : 1;
        }
        memcpy(c->data, p, n);
        c->len = n;
        Py_XSETREF(c->obj, Py_NewRef(s));
    }
    return s;
}

static struct strcache target_cache, path_cache, query_cache, method_cache;

/* SERVER_NAME / SERVER_PORT for the last Host value. */
static struct {
    char host[256];
    size_t len;
    bool https;
    PyObject *name, *port;
} host_cache;

/* SERVER_NAME / SERVER_PORT from the listening socket (no Host field). */
static struct {
    char name[64];
    char port[8];
    PyObject *name_obj, *port_obj;
} local_cache;

/* REMOTE_ADDR / REMOTE_PORT of the last peer. */
static struct {
    char addr[64];
    int port;
    PyObject *addr_obj, *port_obj;
} peer_cache;

/* CONTENT_LENGTH of the last request that had one. */
static struct {
    uint64_t len;
    PyObject *obj;
} clen_cache;

/* ---------------------------------------------------------------------- */
/* Request header names → environ keys. Every byte maps through name_map:
 * letters to upper case, '-' to '_', other token characters as they are;
 * MAP_DROP for '_' (a name with '_' could pose as one with '-' once
 * converted, CVE-2015-0219) and for anything that is not a token character. */

#define MAP_DROP 0
static unsigned char name_map[256];

/* Common field names keep an interned key and a cache of their last value,
 * in a small open-addressing table keyed by the converted name. */
#define HTABLE_SIZE 128
struct hslot {
    uint32_t hash;
    uint8_t len;       /* of the converted name (without HTTP_); 0 = free slot */
    bool skip;         /* CONTENT_LENGTH: set from the parsed length instead */
    const char *name;  /* converted name, e.g. "USER_AGENT" */
    PyObject *key;     /* "HTTP_USER_AGENT" (or CONTENT_TYPE), interned */
    struct strcache value;
};
static struct hslot htable[HTABLE_SIZE];

static const char *const common_fields[] = {
    "HOST", "USER_AGENT", "ACCEPT", "ACCEPT_ENCODING", "ACCEPT_LANGUAGE", "ACCEPT_CHARSET",
    "CONNECTION", "KEEP_ALIVE", "COOKIE", "REFERER", "ORIGIN", "CACHE_CONTROL", "PRAGMA",
    "AUTHORIZATION", "UPGRADE_INSECURE_REQUESTS", "DNT", "TE", "EXPECT", "UPGRADE", "VIA",
    "FORWARDED", "X_FORWARDED_FOR", "X_FORWARDED_PROTO", "X_FORWARDED_HOST", "X_FORWARDED_PORT",
    "X_REAL_IP", "X_REQUESTED_WITH", "X_CSRFTOKEN", "X_CSRF_TOKEN", "IF_NONE_MATCH",
    "IF_MODIFIED_SINCE", "IF_MATCH", "IF_UNMODIFIED_SINCE", "IF_RANGE", "RANGE",
    "TRANSFER_ENCODING", "CONTENT_ENCODING", "SEC_FETCH_SITE", "SEC_FETCH_MODE",
    "SEC_FETCH_DEST", "SEC_FETCH_USER", "SEC_CH_UA", "SEC_CH_UA_MOBILE", "SEC_CH_UA_PLATFORM",
    "PRIORITY", "SEC_GPC",
};

static uint32_t
fnv1a(const char *p, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) {
        h = (h ^ (unsigned char)p[i]) * 16777619u;
    }
    return h;
}

/* Convert a field name into dst (n bytes) and hash it. Returns false when
 * the field must be dropped. */
static bool
convert_name(const char *src, size_t n, char *dst, uint32_t *hash)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = name_map[(unsigned char)src[i]];
        if (c == MAP_DROP) {
            return false;
        }
        dst[i] = (char)c;
        h = (h ^ c) * 16777619u;
    }
    *hash = h;
    return n > 0;
}

static struct hslot *
htable_find(uint32_t hash, const char *name, size_t n)
{
    for (size_t i = hash % HTABLE_SIZE;; i = (i + 1) % HTABLE_SIZE) {
        struct hslot *s = &htable[i];
        if (s->len == 0) {
            return NULL;
        }
        if (s->hash == hash && s->len == n && memcmp(s->name, name, n) == 0) {
            return s;
        }
    }
}

static int
htable_add(const char *name, PyObject *key, bool skip)
{
    size_t n = strlen(name);
    uint32_t hash = fnv1a(name, n);
    size_t i = hash % HTABLE_SIZE;
    while (htable[i].len) {
        i = (i + 1) % HTABLE_SIZE;
    }
    struct hslot *s = &htable[i];
    if (key) {
        s->key = Py_NewRef(key);
    } else if (!skip) {
        s->key = PyUnicode_FromFormat("HTTP_%s", name);
        if (!s->key) {
            return -1;
        }
        PyUnicode_InternInPlace(&s->key);
    }
    s->hash = hash;
    s->len = (uint8_t)n;
    s->skip = skip;
    s->name = name;
    return 0;
}

static int
htable_init(void)
{
    for (int c = 0; c < 256; c++) {
        bool t = http_is_tchar((unsigned char)c);
        name_map[c] = !t ? MAP_DROP : c >= 'a' && c <= 'z' ? (unsigned char)(c - 'a' + 'A')
                                                             : (unsigned char)c;
    }
    name_map['-'] = '_';
    name_map['_'] = MAP_DROP;
    if (htable_add("CONTENT_TYPE", k_content_type, false) < 0 ||
        htable_add("CONTENT_LENGTH", NULL, true) < 0) {
        return -1;
    }
    for (size_t i = 0; i < countof(common_fields); i++) {
        if (htable_add(common_fields[i], NULL, false) < 0) {
            return -1;
        }
    }
    return 0;
}

static void
htable_fini(void)
{
    for (size_t i = 0; i < HTABLE_SIZE; i++) {
        Py_CLEAR(htable[i].key);
        strcache_clear(&htable[i].value);
        htable[i].len = 0;
    }
}

/* ---------------------------------------------------------------------- */
/* Types and per-worker state. */

struct wsgi_call;

struct start_response {
    PyObject_HEAD
    vectorcallfunc vectorcall;
    struct wsgi_call *call; /* NULL once the request is over */
};

struct writer {
    PyObject_HEAD
    vectorcallfunc vectorcall;
    struct start_response *sr; /* strong */
};

struct filewrapper {
    PyObject_HEAD
    PyObject *filelike;
    Py_ssize_t blksize;
};

struct wsgi_call {
    const struct http_req *req;
    struct http_resp *resp;
    PyObject *environ;
    PyObject *input;
    struct start_response *sr;
    struct writer *writer;
    PyObject *result;   /* what the app returned */
    PyObject *iter;     /* iter(result) */
    iternextfunc next;  /* Py_TYPE(iter)->tp_iternext */
    PyObject *context;  /* the request's contextvars.Context */
    PyObject *pending;  /* an item paused part-way through (owned), from pending_off */
    Py_ssize_t pending_off;
    bool started;       /* start_response() succeeded */
    double last_flush;  /* now_mono() when the loop last had a chance to write */
    PyObject *hook_req; /* pre_request/post_request's req (wsgi_hooks.h), or NULL */
};

static PyTypeObject start_response_type, writer_type, filewrapper_type, errors_type;

/* The last finished call's struct, for the next request (no calloc/free per
 * request). Guarded by the GIL: calls begin and end with it held. */
static struct wsgi_call *spare_call;

/* SCRIPT_NAME from the environment (or -e SCRIPT_NAME=...), as gunicorn
 * reads it: the app is mounted under this prefix, without a trailing slash;
 * empty = at the root. Matched against the raw path, as gunicorn does. */
static char script_name[1024];
static size_t script_name_len;
static atomic_bool outside_warned; /* pool threads call wsgi_handle() */

static PyObject *app;          /* the application (strong) */
static PyObject *base_environ; /* the constant entries */
static PyObject *errors_obj;   /* wsgi.errors */
/* Each request runs in its own contextvars.Context, a copy of this one (the
 * main thread's after the app was imported): what one request sets is not
 * seen by another, and it is still there when a paused response resumes,
 * possibly on another pool thread (Flask's stream_with_context, request
 * scoped libraries). Copying is O(1): contexts are immutable mappings. */
static PyObject *base_context;
static bool types_ready;

/* Unused objects ready for the next request (see the comment at the top). */
static struct start_response *spare_sr;
static struct writer *spare_writer;
static PyObject *spare_input;

/* ---------------------------------------------------------------------- */
/* wsgi.errors: a text stream into the error log. */

static int
errors_put(PyObject *s)
{
    if (PyUnicode_Check(s)) {
        Py_ssize_t n;
        const char *p = PyUnicode_AsUTF8AndSize(s, &n);
        if (p) {
            log_write_raw(p, (size_t)n);
            return 0;
        }
        /* Lone surrogates: write them escaped rather than lose the line. */
        PyErr_Clear();
        PyObject *b = PyUnicode_AsEncodedString(s, "utf-8", "backslashreplace");
        if (!b) {
            return -1;
        }
        log_write_raw(PyBytes_AS_STRING(b), (size_t)PyBytes_GET_SIZE(b));
        Py_DECREF(b);
        return 0;
    }
    if (PyBytes_Check(s)) {
        log_write_raw(PyBytes_AS_STRING(s), (size_t)PyBytes_GET_SIZE(s));
        return 0;
    }
    PyErr_Format(PyExc_TypeError, "wsgi.errors.write() argument must be str, not %.100s",
                 Py_TYPE(s)->tp_name);
    return -1;
}

static PyObject *
errors_write(PyObject *self, PyObject *s)
{
    (void)self;
    if (errors_put(s) < 0) {
        return NULL;
    }
    return PyLong_FromSsize_t(PyUnicode_Check(s) ? PyUnicode_GET_LENGTH(s) : PyBytes_GET_SIZE(s));
}

static PyObject *
errors_writelines(PyObject *self, PyObject *lines)
{
    (void)self;
    PyObject *it = PyObject_GetIter(lines);
    if (!it) {
        return NULL;
    }
    PyObject *line;
    while ((line = PyIter_Next(it))) {
        int rc = errors_put(line);
        Py_DECREF(line);
        if (rc < 0) {
            Py_DECREF(it);
            return NULL;
        }
    }
    Py_DECREF(it);
    if (PyErr_Occurred()) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
errors_flush(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    log_flush();
    Py_RETURN_NONE;
}

static PyMethodDef errors_methods[] = {
    {"write", errors_write, METH_O, "Write a str to the server's error log."},
    {"writelines", errors_writelines, METH_O, "Write each str of an iterable."},
    {"flush", errors_flush, METH_NOARGS, "Flush the error log."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject errors_type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "wsgihost.Errors",
    .tp_basicsize = sizeof(PyObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "wsgi.errors: the server's error log",
    .tp_methods = errors_methods,
};

/* ---------------------------------------------------------------------- */
/* wsgi.file_wrapper(filelike, blksize=8192): iterable over filelike.read();
 * when the app returns one over a regular file the bridge sends the file
 * with sendfile() instead. */

static PyObject *
filewrapper_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"filelike", "blksize", NULL};
    PyObject *filelike;
    Py_ssize_t blksize = 8192;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|n:file_wrapper", kwlist, &filelike,
                                     &blksize)) {
        return NULL;
    }
    if (blksize <= 0) {
        PyErr_SetString(PyExc_ValueError, "file_wrapper() blksize must be positive");
        return NULL;
    }
    struct filewrapper *fw = (struct filewrapper *)type->tp_alloc(type, 0);
    if (!fw) {
        return NULL;
    }
    fw->filelike = Py_NewRef(filelike);
    fw->blksize = blksize;
    return (PyObject *)fw;
}

static int
filewrapper_traverse(PyObject *self, visitproc visit, void *arg)
{
    Py_VISIT(((struct filewrapper *)self)->filelike);
    return 0;
}

static int
filewrapper_clear(PyObject *self)
{
    Py_CLEAR(((struct filewrapper *)self)->filelike);
    return 0;
}

static void
filewrapper_dealloc(PyObject *self)
{
    PyObject_GC_UnTrack(self);
    filewrapper_clear(self);
    Py_TYPE(self)->tp_free(self);
}

static PyObject *
filewrapper_iternext(PyObject *self)
{
    struct filewrapper *fw = (struct filewrapper *)self;
    if (!fw->filelike) {
        return NULL;
    }
    PyObject *size = PyLong_FromSsize_t(fw->blksize);
    if (!size) {
        return NULL;
    }
    PyObject *data = PyObject_CallMethodOneArg(fw->filelike, s_read, size);
    Py_DECREF(size);
    if (data && PyBytes_Check(data) && PyBytes_GET_SIZE(data) == 0) {
        Py_DECREF(data);
        return NULL; /* end of file: StopIteration */
    }
    return data; /* non-bytes are reported by the iteration loop */
}

/* PEP 3333: "if the object has a close() method, the returned iterable must
 * have one too, and it must call the file-like object's close()". */
static PyObject *
filewrapper_close(PyObject *self, PyObject *unused)
{
    (void)unused;
    struct filewrapper *fw = (struct filewrapper *)self;
    if (!fw->filelike) {
        Py_RETURN_NONE;
    }
    PyObject *close = PyObject_GetAttr(fw->filelike, s_close);
    if (!close) {
        if (PyErr_ExceptionMatches(PyExc_AttributeError)) {
            PyErr_Clear();
            Py_RETURN_NONE;
        }
        return NULL;
    }
    PyObject *r = PyObject_CallNoArgs(close);
    Py_DECREF(close);
    return r;
}

static PyMethodDef filewrapper_methods[] = {
    {"close", filewrapper_close, METH_NOARGS, "Close the wrapped file-like object."},
    {NULL, NULL, 0, NULL},
};

static PyMemberDef filewrapper_members[] = {
    {"filelike", T_OBJECT, offsetof(struct filewrapper, filelike), READONLY, NULL},
    {"blksize", T_PYSSIZET, offsetof(struct filewrapper, blksize), READONLY, NULL},
    {NULL, 0, 0, 0, NULL},
};

static PyTypeObject filewrapper_type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "wsgihost.FileWrapper",
    .tp_basicsize = sizeof(struct filewrapper),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "wsgi.file_wrapper(filelike, blksize=8192)",
    .tp_new = filewrapper_new,
    .tp_dealloc = filewrapper_dealloc,
    .tp_traverse = filewrapper_traverse,
    .tp_clear = filewrapper_clear,
    .tp_iter = PyObject_SelfIter,
    .tp_iternext = filewrapper_iternext,
    .tp_methods = filewrapper_methods,
    .tp_members = filewrapper_members,
};

/* ---------------------------------------------------------------------- */
/* start_response(status, headers, exc_info=None) */

static const struct {
    const char *name;
    size_t len;
} hop_by_hop[] = {
#define HOP(s) {s, sizeof(s) - 1}
    HOP("connection"), HOP("keep-alive"), HOP("proxy-authenticate"), HOP("proxy-authorization"),
    HOP("te"),         HOP("trailers"),   HOP("transfer-encoding"),  HOP("upgrade"),
#undef HOP
};

/* --strict-wsgi; else what gunicorn serves is served, with a warning once. */
static bool strict;
static unsigned warned_hop; /* bit i: hop_by_hop[i] was warned about */
static bool warned_reason;
static bool warned_headers_tuple, warned_header_list;

static int
hop_by_hop_index(const char *n, size_t nlen)
{
    for (size_t i = 0; i < countof(hop_by_hop); i++) {
        if (nlen == hop_by_hop[i].len && strncasecmp(n, hop_by_hop[i].name, nlen) == 0) {
            return (int)i;
        }
    }
    return -1;
}

/* Does a Connection value list "close"? */
static bool
lists_close(const unsigned char *v, size_t n)
{
    size_t i = 0;
    while (i < n) {
        while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ',')) {
            i++;
        }
        size_t b = i;
        while (i < n && v[i] != ',' && v[i] != ' ' && v[i] != '\t') {
            i++;
        }
        if (i - b == 5 && strncasecmp((const char *)v + b, "close", 5) == 0) {
            return true;
        }
    }
    return false;
}

/* Before 3.12 a str made by a deprecated C API may not be in its canonical
 * form yet; kind and data are only valid once it is. */
static int
str_ready(PyObject *s)
{
#if PY_VERSION_HEX < 0x030C0000
    return PyUnicode_READY(s);
#else
    (void)s;
    return 0;
#endif
}

/* Status "NNN reason": 3 digits, a space, a reason without control
 * characters (may be empty, as in wsgiref). */
static int
check_status(PyObject *status, int *code)
{
    if (!PyUnicode_Check(status)) {
        PyErr_Format(PyExc_TypeError, "start_response() status must be a str, not %.100s",
                     Py_TYPE(status)->tp_name);
        return -1;
    }
    if (str_ready(status) < 0) {
        return -1;
    }
    Py_ssize_t n = PyUnicode_GET_LENGTH(status);
    if (PyUnicode_KIND(status) != PyUnicode_1BYTE_KIND) {
        PyErr_Format(PyExc_ValueError, "start_response() status '%U' is not latin-1", status);
        return -1;
    }
    const unsigned char *s = PyUnicode_1BYTE_DATA(status);
    if (n == 3 && !strict && s[0] >= '1' && s[0] <= '9' && s[1] >= '0' && s[1] <= '9' &&
        s[2] >= '0' && s[2] <= '9') {
        /* "200": no reason phrase. gunicorn sends it; so do we, with the
         * standard phrase (the caller adds it). */
        n = 4; /* passes the checks below as "200 " */
    } else if (n < 4 || s[0] < '1' || s[0] > '9' || s[1] < '0' || s[1] > '9' || s[2] < '0' ||
        s[2] > '9' || s[3] != ' ') {
        PyErr_Format(PyExc_ValueError,
                     "start_response() status must be 3 digits, a space and a reason "
                     "(like '200 OK'), got '%U'",
                     status);
        return -1;
    }
    for (Py_ssize_t i = 4; i < n; i++) {
        if ((s[i] < 0x20 && s[i] != '\t') || s[i] == 0x7f) {
            PyErr_Format(PyExc_ValueError,
                         "start_response() status %R contains a control character", status);
            return -1;
        }
    }
    *code = (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
    if (*code < 200 || *code > 599) {
        /* A 1xx would go out as if final, and a client would take it as
         * interim and match the next response to this request; 600+ is
         * no status at all (RFC 9110 15). */
        PyErr_Format(PyExc_ValueError,
                     "start_response() status %R: a WSGI app's status must be final, "
                     "200 to 599 (1xx responses are the server's)",
                     status);
        return -1;
    }
    return 0;
}

/* *clen: the first Content-Length value seen in this list (borrowed). */
/* RFC 9110 5.5: a field value has no leading or trailing whitespace. The
 * app's is cut off (gunicorn strips it too), so " 12 " is Content-Length 12. */
static const unsigned char *
trimmed_value(PyObject *value, size_t *len)
{
    const unsigned char *v = PyUnicode_1BYTE_DATA(value);
    size_t n = (size_t)PyUnicode_GET_LENGTH(value);
    while (n > 0 && (v[0] == ' ' || v[0] == '\t')) {
        v++;
        n--;
    }
    while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t')) {
        n--;
    }
    *len = n;
    return v;
}

static int
check_header(PyObject *item, Py_ssize_t idx, PyObject **clen)
{
    if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != 2) {
        PyErr_Format(PyExc_TypeError,
                     "start_response() headers[%zd] must be a (name, value) tuple, not %.100s",
                     idx, Py_TYPE(item)->tp_name);
        return -1;
    }
    PyObject *name = PyTuple_GET_ITEM(item, 0);  /* borrowed; no Python runs meanwhile */
    PyObject *value = PyTuple_GET_ITEM(item, 1); /* borrowed */
    if (!PyUnicode_Check(name) || !PyUnicode_Check(value)) {
        PyErr_Format(PyExc_TypeError,
                     "start_response() header name and value must be str, got (%.100s, %.100s)",
                     Py_TYPE(name)->tp_name, Py_TYPE(value)->tp_name);
        return -1;
    }
    if (str_ready(name) < 0 || str_ready(value) < 0) {
        return -1;
    }
    Py_ssize_t nlen = PyUnicode_GET_LENGTH(name);
    bool token = nlen > 0 && PyUnicode_KIND(name) == PyUnicode_1BYTE_KIND;
    const unsigned char *n = PyUnicode_1BYTE_DATA(name);
    for (Py_ssize_t i = 0; token && i < nlen; i++) {
        token = http_is_tchar(n[i]);
    }
    if (!token) {
        PyErr_Format(PyExc_ValueError, "start_response() header name %R is not an HTTP token",
                     name);
        return -1;
    }
    if (PyUnicode_KIND(value) != PyUnicode_1BYTE_KIND) {
        PyErr_Format(PyExc_ValueError, "start_response() value of header '%U' is not latin-1",
                     name);
        return -1;
    }
    Py_ssize_t vlen = PyUnicode_GET_LENGTH(value);
    const unsigned char *v = PyUnicode_1BYTE_DATA(value);
    for (Py_ssize_t i = 0; i < vlen; i++) {
        if (v[i] == '\r' || v[i] == '\n' || v[i] == '\0') {
            PyErr_Format(PyExc_ValueError,
                         "start_response() value of header '%U' contains CR, LF or NUL", name);
            return -1;
        }
    }
    if (nlen == 14 && strncasecmp((const char *)n, "content-length", 14) == 0) {
        int64_t ignored;
        size_t tlen, plen;
        const unsigned char *t = trimmed_value(value, &tlen);
        if (!http_parse_content_length((const char *)t, tlen, &ignored)) {
            PyErr_Format(PyExc_ValueError,
                         "start_response() Content-Length must be a non-negative integer, "
                         "got %R",
                         value);
            return -1;
        }
        const unsigned char *prev = *clen ? trimmed_value(*clen, &plen) : NULL;
        if (prev && (plen != tlen || memcmp(prev, t, tlen) != 0)) {
            PyErr_Format(PyExc_ValueError,
                         "start_response() conflicting Content-Length headers %R and %R", *clen,
                         value);
            return -1;
        }
        *clen = value;
    }
    int hop = hop_by_hop_index((const char *)n, (size_t)nlen);
    if (hop >= 0) {
        if (strict) {
            PyErr_Format(PyExc_ValueError,
                         "start_response() hop-by-hop header '%U' is not allowed (PEP 3333); "
                         "the server manages the connection (--strict-wsgi)",
                         name);
            return -1;
        }
        return 1; /* dropped (gunicorn serves it) */
    }
    return 0;
}

/* PEP 3333: with exc_info after the head went out, "start_response must
 * raise an error, and should re-raise using the exc_info tuple". */
static bool
has_list_item(PyObject *headers)
{
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(headers); i++) {
        if (PyList_Check(PyList_GET_ITEM(headers, i))) {
            return true;
        }
    }
    return false;
}

/* gunicorn reads the headers as `for name, value in headers`, so a tuple of
 * pairs, or [name, value] lists as pairs, are served. PEP 3333 asks for a
 * list of tuples: accepted (said once each) unless --strict-wsgi. Returns a
 * new list of the pairs as tuples (new reference; the app's own list is not
 * changed), or NULL with an exception. */
static PyObject *
lenient_headers(PyObject *headers)
{
    if (!PyList_Check(headers)) {
        if (strict || !PyTuple_Check(headers)) {
            PyErr_Format(PyExc_TypeError,
                         "start_response() headers must be a list of (name, value) tuples, "
                         "not %.100s",
                         Py_TYPE(headers)->tp_name);
            return NULL;
        }
        if (!warned_headers_tuple) {
            warned_headers_tuple = true;
            log_warning("the app's start_response() headers are a tuple, not a list (PEP 3333): "
                        "served (gunicorn serves them too; --strict-wsgi refuses them; this is "
                        "said once)");
        }
    }
    PyObject *list = PySequence_List(headers);
    if (!list) {
        return NULL;
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(list); i++) {
        PyObject *item = PyList_GET_ITEM(list, i);
        if (!PyList_Check(item) || strict) {
            continue; /* check_header() says what is wrong with it, if anything */
        }
        if (!warned_header_list) {
            warned_header_list = true;
            log_warning("the app's start_response() headers[%zd] is a list, not a (name, value) "
                        "tuple (PEP 3333): served (gunicorn serves it too; --strict-wsgi refuses "
                        "it; this is said once)",
                        i);
        }
        PyObject *t = PyList_AsTuple(item);
        if (!t) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, i, t); /* steals t */
        Py_DECREF(item);
    }
    return list;
}

static PyObject *
reraise(PyObject *exc_info)
{
    if (!PyTuple_Check(exc_info) || PyTuple_GET_SIZE(exc_info) != 3 ||
        !PyExceptionInstance_Check(PyTuple_GET_ITEM(exc_info, 1))) {
        PyErr_SetString(PyExc_TypeError,
                        "start_response() exc_info must be a (type, value, traceback) tuple");
        return NULL;
    }
    PyObject *value = PyTuple_GET_ITEM(exc_info, 1);
    PyObject *tb = PyTuple_GET_ITEM(exc_info, 2);
    PyErr_Restore(Py_NewRef((PyObject *)Py_TYPE(value)), Py_NewRef(value),
                  PyTraceBack_Check(tb) ? Py_NewRef(tb) : NULL);
    return NULL;
}

static PyObject *
start_response_call(PyObject *self, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    struct start_response *sr = (struct start_response *)self;
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    PyObject *status = NULL, *headers = NULL, *exc_info = NULL; /* borrowed */

    if (nargs > 3) {
        PyErr_Format(PyExc_TypeError,
                     "start_response() takes from 2 to 3 positional arguments but %zd were given",
                     nargs);
        return NULL;
    }
    status = nargs > 0 ? args[0] : NULL;
    headers = nargs > 1 ? args[1] : NULL;
    exc_info = nargs > 2 ? args[2] : NULL;
    Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    for (Py_ssize_t i = 0; i < nkw; i++) {
        PyObject *kw = PyTuple_GET_ITEM(kwnames, i);
        PyObject **slot;
        if (PyUnicode_CompareWithASCIIString(kw, "exc_info") == 0) {
            slot = &exc_info;
        } else if (PyUnicode_CompareWithASCIIString(kw, "status") == 0) {
            slot = &status;
        } else if (PyUnicode_CompareWithASCIIString(kw, "headers") == 0 ||
                   PyUnicode_CompareWithASCIIString(kw, "response_headers") == 0) {
            slot = &headers;
        } else {
            PyErr_Format(PyExc_TypeError,
                         "start_response() got an unexpected keyword argument '%U'", kw);
            return NULL;
        }
        if (*slot) {
            PyErr_Format(PyExc_TypeError, "start_response() got multiple values for '%U'", kw);
            return NULL;
        }
        *slot = args[nargs + i];
    }
    if (!status || !headers) {
        PyErr_SetString(PyExc_TypeError,
                        "start_response() missing required arguments: status and headers");
        return NULL;
    }

    struct wsgi_call *call = sr->call;
    if (!call) {
        PyErr_SetString(PyExc_RuntimeError,
                        "start_response() called after its request was finished");
        return NULL;
    }
    struct http_resp *resp = call->resp;
    if (exc_info && exc_info != Py_None) {
        if (resp->head_sent) {
            return reraise(exc_info);
        }
        /* Before the head is out the error page replaces the pending
         * status and headers. */
    } else if (call->started) {
        PyErr_SetString(PyExc_RuntimeError,
                        "start_response() called a second time without exc_info (PEP 3333)");
        return NULL;
    }

    /* Validate everything first, so that a bad call leaves the previous
     * (exc_info) state untouched. */
    int code;
    if (check_status(status, &code) < 0) {
        return NULL;
    }
    PyObject *owned = NULL; /* the headers as a list of tuples, when the app's were not */
    if (!PyList_Check(headers) || (!strict && has_list_item(headers))) {
        owned = lenient_headers(headers);
        if (!owned) {
            return NULL;
        }
        headers = owned;
    }
    PyObject *result = NULL;
    Py_ssize_t n = PyList_GET_SIZE(headers);
    PyObject *clen = NULL; /* borrowed */
    bool any_hop = false;
    for (Py_ssize_t i = 0; i < n; i++) {
        int rc = check_header(PyList_GET_ITEM(headers, i), i, &clen);
        if (rc < 0) {
            goto out;
        }
        any_hop |= rc > 0;
    }
    /* No Python code ran since the checks: the items are still the same. */
    const char *sline = (const char *)PyUnicode_1BYTE_DATA(status);
    size_t slen = (size_t)PyUnicode_GET_LENGTH(status);
    char with_reason[64];
    if (slen == 3) {
        /* "200" (not --strict-wsgi): the standard reason phrase. */
        slen = (size_t)snprintf(with_reason, sizeof(with_reason), "%.3s %s", sline,
                                http_status_reason(code));
        sline = with_reason;
        if (!warned_reason) {
            warned_reason = true;
            log_warning("the app's status '%.3s' has no reason phrase: sent as '%s' (gunicorn "
                        "sends it too; --strict-wsgi refuses it; this is said once)",
                        (const char *)PyUnicode_1BYTE_DATA(status), with_reason);
        }
    }
    http_resp_set_status(resp, code, sline, slen);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PyList_GET_ITEM(headers, i);
        PyObject *name = PyTuple_GET_ITEM(item, 0);
        PyObject *value = PyTuple_GET_ITEM(item, 1);
        if (any_hop) {
            const char *nm = (const char *)PyUnicode_1BYTE_DATA(name);
            size_t nl = (size_t)PyUnicode_GET_LENGTH(name);
            int hop = hop_by_hop_index(nm, nl);
            if (hop >= 0) {
                /* The server frames the response and owns the connection:
                 * the app's field is dropped, but "Connection: close" is
                 * honoured (the connection closes after this response). */
                bool close = hop == 0 && lists_close(PyUnicode_1BYTE_DATA(value),
                                                     (size_t)PyUnicode_GET_LENGTH(value));
                if (close) {
                    resp->keep_alive = false;
                }
                if (!(warned_hop & (1u << hop))) {
                    warned_hop |= 1u << hop;
                    const char *shown = PyUnicode_AsUTF8(value);
                    if (shown == NULL) {
                        PyErr_Clear();
                        shown = "?";
                    }
                    log_warning("the app sent the hop-by-hop header '%s: %s': %s (PEP 3333 "
                                "leaves it to the server; gunicorn passes it on; --strict-wsgi "
                                "refuses it; this is said once per header name)",
                                hop_by_hop[hop].name, shown,
                                close ? "the connection closes after the response, the field "
                                        "itself is the server's"
                                      : "dropped");
                }
                continue;
            }
        }
        size_t vlen;
        const unsigned char *v = trimmed_value(value, &vlen);
        if (http_resp_add_header(resp, (const char *)PyUnicode_1BYTE_DATA(name),
                                 (size_t)PyUnicode_GET_LENGTH(name), (const char *)v, vlen) < 0) {
            /* Only a bad Content-Length, which the checks above exclude. */
            PyErr_Format(PyExc_ValueError, "start_response() header '%U' was refused", name);
            goto out;
        }
    }
    call->started = true;
    result = Py_NewRef((PyObject *)call->writer);
out:
    Py_XDECREF(owned);
    return result;
}

static void
start_response_dealloc(PyObject *self)
{
    PyObject_Free(self);
}

static PyTypeObject start_response_type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "wsgihost.StartResponse",
    .tp_basicsize = sizeof(struct start_response),
    .tp_dealloc = start_response_dealloc,
    .tp_vectorcall_offset = offsetof(struct start_response, vectorcall),
    .tp_call = PyVectorcall_Call,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_doc = "start_response(status, headers, exc_info=None) -> write",
};

/* ---------------------------------------------------------------------- */
/* write(data): the legacy imperative API. The bytes are queued; the loop
 * sends them once the app returns (or pauses). */

static PyObject *
writer_call(PyObject *self, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    struct writer *w = (struct writer *)self;
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    if (nargs != 1 || (kwnames && PyTuple_GET_SIZE(kwnames))) {
        PyErr_SetString(PyExc_TypeError, "write() takes exactly one positional argument");
        return NULL;
    }
    struct wsgi_call *call = w->sr->call;
    if (!call) {
        PyErr_SetString(PyExc_RuntimeError, "write() called after its request was finished");
        return NULL;
    }
    if (!call->started) {
        PyErr_SetString(PyExc_RuntimeError, "write() called before start_response()");
        return NULL;
    }
    PyObject *data = args[0];
    if (!PyBytes_Check(data)) {
        PyErr_Format(PyExc_TypeError, "write() argument must be bytes, not %.100s",
                     Py_TYPE(data)->tp_name);
        return NULL;
    }
    if (PyBytes_GET_SIZE(data) > 0) {
        /* Sends the head first if it is not out yet. */
        http_resp_write(call->resp, PyBytes_AS_STRING(data), (size_t)PyBytes_GET_SIZE(data));
    }
    Py_RETURN_NONE;
}

static void
writer_dealloc(PyObject *self)
{
    Py_XDECREF((PyObject *)((struct writer *)self)->sr);
    PyObject_Free(self);
}

static PyTypeObject writer_type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "wsgihost.Write",
    .tp_basicsize = sizeof(struct writer),
    .tp_dealloc = writer_dealloc,
    .tp_vectorcall_offset = offsetof(struct writer, vectorcall),
    .tp_call = PyVectorcall_Call,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_doc = "write(data): send bytes (legacy PEP 3333 API)",
};

/* ---------------------------------------------------------------------- */
/* environ */

static int
hexval(unsigned char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    c |= 0x20;
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    return -1;
}

/* PATH_INFO: the raw path percent-decoded to bytes, as a Latin-1 str (the
 * WSGI "bytes in a native string" rule). Invalid escapes stay as they are. */
static PyObject *
path_info(const char *p, size_t n)
{
    if (!memchr(p, '%', n)) {
        return cached_latin1(&path_cache, p, n);
    }
    char stackbuf[1024];
    stackbuf[0] = '\0'; /* n > 0 here, but gcc -O2 cannot tell */
    char *dst = n <= sizeof stackbuf ? stackbuf : xmalloc(n);
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        int hi, lo;
        if (p[i] == '%' && i + 2 < n &&
            (hi = hexval((unsigned char)p[i + 1])) >= 0 &&
            (lo = hexval((unsigned char)p[i + 2])) >= 0) {
            dst[j++] = (char)(hi * 16 + lo);
            i += 2;
        } else {
            dst[j++] = p[i];
        }
    }
    PyObject *s = PyUnicode_DecodeLatin1(dst, (Py_ssize_t)j, NULL);
    if (dst != stackbuf) {
        free(dst);
    }
    return s;
}

static PyObject *
method_str(const char *m, size_t n)
{
    switch (n) {
    case 3:
        if (memcmp(m, "GET", 3) == 0) {
            return Py_NewRef(v_get);
        }
        if (memcmp(m, "PUT", 3) == 0) {
            return Py_NewRef(v_put);
        }
        break;
    case 4:
        if (memcmp(m, "POST", 4) == 0) {
            return Py_NewRef(v_post);
        }
        if (memcmp(m, "HEAD", 4) == 0) {
            return Py_NewRef(v_head);
        }
        break;
    case 5:
        if (memcmp(m, "PATCH", 5) == 0) {
            return Py_NewRef(v_patch);
        }
        break;
    case 6:
        if (memcmp(m, "DELETE", 6) == 0) {
            return Py_NewRef(v_delete);
        }
        break;
    case 7:
        if (memcmp(m, "OPTIONS", 7) == 0) {
            return Py_NewRef(v_options);
        }
        break;
    default:
        break;
    }
    return cached_latin1(&method_cache, m, n);
}

/* Set env[key] = val and release val (a new reference, may be NULL on
 * error). Returns 0 or -1. */
static int
set_steal(PyObject *env, PyObject *key, PyObject *val)
{
    if (!val) {
        return -1;
    }
    int rc = PyDict_SetItem(env, key, val);
    Py_DECREF(val);
    return rc;
}

/* SERVER_NAME and SERVER_PORT: from the Host field when there is one (host
 * part and port, the scheme's default port when it has none), else the
 * address the connection was accepted on. */
static int
set_server(PyObject *env, const struct http_req *req, bool https)
{
    const struct http_conn_meta *meta = req->meta;
    if (req->host && req->host_len) {
        const char *h = req->host;
        size_t n = req->host_len;
        if (!(host_cache.name && host_cache.len == n && host_cache.https == https &&
              memcmp(host_cache.host, h, n) == 0)) {
            size_t name_len = n;
            const char *port = NULL;
            size_t port_len = 0;
            const char *rb = h[0] == '[' ? memchr(h, ']', n) : NULL;
            const char *colon = rb ? (rb + 1 < h + n && rb[1] == ':' ? rb + 1 : NULL)
                                   : memrchr(h, ':', n);
            if (colon) {
                name_len = (size_t)(colon - h);
                port = colon + 1;
                port_len = n - name_len - 1;
            }
            if (!port_len) {
                port = https ? "443" : "80";
                port_len = strlen(port);
            }
            PyObject *name_obj = PyUnicode_DecodeLatin1(h, (Py_ssize_t)name_len, NULL);
            PyObject *port_obj = PyUnicode_DecodeLatin1(port, (Py_ssize_t)port_len, NULL);
            if (!name_obj || !port_obj) {
                Py_XDECREF(name_obj);
                Py_XDECREF(port_obj);
                return -1;
            }
            Py_XSETREF(host_cache.name, name_obj);
            Py_XSETREF(host_cache.port, port_obj);
            host_cache.https = https;
            if (n <= sizeof host_cache.host) {
                memcpy(host_cache.host, h, n);
                host_cache.len = n;
            } else {
                host_cache.len = SIZE_MAX; /* never matches */
            }
        }
        if (PyDict_SetItem(env, k_server_name, host_cache.name) < 0 ||
            PyDict_SetItem(env, k_server_port, host_cache.port) < 0) {
            return -1;
        }
        return 0;
    }
    const char *name = meta ? meta->server_name : "";
    const char *port = meta ? meta->server_port : "";
    if (!(local_cache.name_obj && strcmp(local_cache.name, name) == 0 &&
          strcmp(local_cache.port, port) == 0)) {
        PyObject *name_obj = PyUnicode_DecodeFSDefault(name);
        PyObject *port_obj = PyUnicode_DecodeLatin1(port, (Py_ssize_t)strlen(port), NULL);
        if (!name_obj || !port_obj) {
            Py_XDECREF(name_obj);
            Py_XDECREF(port_obj);
            return -1;
        }
        Py_XSETREF(local_cache.name_obj, name_obj);
        Py_XSETREF(local_cache.port_obj, port_obj);
        snprintf(local_cache.name, sizeof local_cache.name, "%s", name);
        snprintf(local_cache.port, sizeof local_cache.port, "%s", port);
    }
    if (PyDict_SetItem(env, k_server_name, local_cache.name_obj) < 0 ||
        PyDict_SetItem(env, k_server_port, local_cache.port_obj) < 0) {
        return -1;
    }
    return 0;
}

static int
set_remote(PyObject *env, const struct http_conn_meta *meta)
{
    if (!meta || !meta->remote_addr[0]) {
        /* A unix socket peer has no address (gunicorn sets REMOTE_ADDR to
         * "" and no REMOTE_PORT; the base environ has a placeholder). */
        if (PyDict_DelItem(env, k_remote_port) < 0) {
            return -1;
        }
        return PyDict_SetItem(env, k_remote_addr, v_empty);
    }
    if (!(peer_cache.addr_obj && peer_cache.port == meta->remote_port &&
          strcmp(peer_cache.addr, meta->remote_addr) == 0)) {
        char port[16];
        int plen = snprintf(port, sizeof port, "%d", meta->remote_port);
        PyObject *addr_obj = PyUnicode_DecodeLatin1(meta->remote_addr,
                                                    (Py_ssize_t)strlen(meta->remote_addr), NULL);
        PyObject *port_obj = PyUnicode_DecodeLatin1(port, plen, NULL);
        if (!addr_obj || !port_obj) {
            Py_XDECREF(addr_obj);
            Py_XDECREF(port_obj);
            return -1;
        }
        Py_XSETREF(peer_cache.addr_obj, addr_obj);
        Py_XSETREF(peer_cache.port_obj, port_obj);
        snprintf(peer_cache.addr, sizeof peer_cache.addr, "%s", meta->remote_addr);
        peer_cache.port = meta->remote_port;
    }
    if (PyDict_SetItem(env, k_remote_addr, peer_cache.addr_obj) < 0 ||
        PyDict_SetItem(env, k_remote_port, peer_cache.port_obj) < 0) {
        return -1;
    }
    return 0;
}

/* env[key] = val, or, when a previous field already set key, the two
 * values joined with ", " (RFC 9110 field combination), except Cookie,
 * whose pairs are separated by "; " (RFC 6265 5.4; a "," would glue two
 * cookies into one value for Flask's cookie parser). */
static int
set_header(PyObject *env, PyObject *key, PyObject *val)
{
    Py_ssize_t before = PyDict_GET_SIZE(env);
    PyObject *cur = PyDict_SetDefault(env, key, val); /* borrowed */
    if (!cur) {
        return -1;
    }
    if (PyDict_GET_SIZE(env) != before) {
        return 0; /* it was new */
    }
    /* Repeated fields are joined with a bare comma, as gunicorn, Werkzeug and
     * wsgiref join them (an app sees the same string under each). Cookie is
     * the exception: "; " keeps every cookie parseable (RFC 6265 5.4), where
     * a comma would glue the second cookie into the first one's value. */
    const char *fmt =
        PyUnicode_CompareWithASCIIString(key, "HTTP_COOKIE") == 0 ? "%U; %U" : "%U,%U";
    PyObject *joined = PyUnicode_FromFormat(fmt, cur, val);
    return set_steal(env, key, joined);
}

static int
set_headers(PyObject *env, const struct http_req *req)
{
    char kb[5 + HNAME_STACK];
    memcpy(kb, "HTTP_", 5);
    for (size_t i = 0; i < req->n_headers; i++) {
        const struct hfield *h = &req->headers[i];
        struct hslot *slot = NULL;
        PyObject *key, *val;
        uint32_t hash;
        if (h->name_len <= HNAME_STACK) {
            if (!convert_name(h->name, h->name_len, kb + 5, &hash)) {
                continue;
            }
            slot = htable_find(hash, kb + 5, h->name_len);
            if (slot) {
                if (slot->skip) {
                    continue;
                }
                key = Py_NewRef(slot->key);
            } else {
                key = PyUnicode_New((Py_ssize_t)h->name_len + 5, 127);
                if (!key) {
                    return -1;
                }
                memcpy(PyUnicode_1BYTE_DATA(key), kb, h->name_len + 5);
            }
        } else {
            key = PyUnicode_New((Py_ssize_t)h->name_len + 5, 127);
            if (!key) {
                return -1;
            }
            char *d = (char *)PyUnicode_1BYTE_DATA(key);
            memcpy(d, "HTTP_", 5);
            if (!convert_name(h->name, h->name_len, d + 5, &hash)) {
                Py_DECREF(key);
                continue;
            }
        }
        if (slot) {
            val = cached_latin1(&slot->value, h->value, h->value_len);
        } else {
            val = PyUnicode_DecodeLatin1(h->value, (Py_ssize_t)h->value_len, NULL);
        }
        int rc = val ? set_header(env, key, val) : -1;
        Py_DECREF(key);
        Py_XDECREF(val);
        if (rc < 0) {
            return -1;
        }
    }
    return 0;
}

static PyObject *
content_length_str(uint64_t len)
{
    if (!clen_cache.obj || clen_cache.len != len) {
        char num[24];
        int n = snprintf(num, sizeof num, "%" PRIu64, len);
        PyObject *s = PyUnicode_DecodeLatin1(num, n, NULL);
        if (!s) {
            return NULL;
        }
        Py_XSETREF(clen_cache.obj, s);
        clen_cache.len = len;
    }
    return Py_NewRef(clen_cache.obj);
}

/* A new environ dict for the call (new reference), or NULL with an
 * exception. */
static PyObject *
build_environ(struct wsgi_call *call)
{
    const struct http_req *req = call->req;
    const struct http_conn_meta *meta = req->meta;
    PyObject *env = PyDict_Copy(base_environ);
    if (!env) {
        return NULL;
    }
    bool https = meta && meta->url_scheme && strcmp(meta->url_scheme, "https") == 0;
    PyObject *uri;
    /* wsgi_handle() answered the paths outside SCRIPT_NAME already. */
    size_t skip = script_name_len;
    if (set_steal(env, k_request_method, method_str(req->method, req->method_len)) < 0 ||
        set_steal(env, k_path_info, path_info(req->path + skip, req->path_len - skip)) < 0 ||
        set_steal(env, k_query_string, cached_latin1(&query_cache, req->query, req->query_len)) <
            0) {
        goto fail;
    }
    uri = cached_latin1(&target_cache, req->target, req->target_len);
    if (!uri || PyDict_SetItem(env, k_raw_uri, uri) < 0 || set_steal(env, k_request_uri, uri) < 0) {
        Py_XDECREF(uri);
        goto fail;
    }
    PyObject *proto = req->http_major == 1 && req->http_minor == 1   ? Py_NewRef(v_http_1_1)
                      : req->http_major == 1 && req->http_minor == 0 ? Py_NewRef(v_http_1_0)
                      : PyUnicode_FromFormat("HTTP/%d.%d", req->http_major, req->http_minor);
    if (set_steal(env, k_server_protocol, proto) < 0) {
        goto fail;
    }
    if (PyDict_SetItem(env, k_wsgi_url_scheme, https ? v_https : v_http) < 0 ||
        PyDict_SetItem(env, k_wsgi_input, call->input) < 0) {
        goto fail;
    }
    if (set_server(env, req, https) < 0 || set_remote(env, meta) < 0) {
        goto fail;
    }
    /* HTTPS (tls.c / forwarded fields, via conn.c): the CGI names Apache's
     * mod_ssl uses, for apps and libraries that look for them. */
    if (https && PyDict_SetItem(env, k_https, v_on) < 0) {
        goto fail;
    }
    if (meta && meta->ssl_client_s_dn &&
        set_steal(env, k_ssl_client_s_dn,
                  PyUnicode_DecodeLatin1(meta->ssl_client_s_dn,
                                         (Py_ssize_t)strlen(meta->ssl_client_s_dn), NULL)) < 0) {
        goto fail;
    }
    /* The body is complete before the app runs, so a chunked body has a
     * length too: giving it lets Flask/Werkzeug read it like any other. */
    if (req->chunked) {
        if (set_steal(env, k_content_length, content_length_str(req->body.len)) < 0) {
            goto fail;
        }
    } else if (req->content_length >= 0) {
        if (set_steal(env, k_content_length, content_length_str((uint64_t)req->content_length)) <
            0) {
            goto fail;
        }
    }
    if (set_headers(env, req) < 0) {
        goto fail;
    }
    return env;
fail:
    Py_DECREF(env);
    return NULL;
}

/* ---------------------------------------------------------------------- */
/* The call: objects, iteration, close(), errors. */

static int
acquire_objects(struct wsgi_call *call)
{
    if (spare_sr) {
        call->sr = spare_sr;
        call->writer = spare_writer;
        spare_sr = NULL;
        spare_writer = NULL;
    } else {
        struct start_response *sr = PyObject_New(struct start_response, &start_response_type);
        if (!sr) {
            return -1;
        }
        sr->vectorcall = start_response_call;
        sr->call = NULL;
        struct writer *w = PyObject_New(struct writer, &writer_type);
        if (!w) {
            Py_DECREF(sr);
            return -1;
        }
        w->vectorcall = writer_call;
        w->sr = sr; /* takes our reference */
        call->sr = (struct start_response *)Py_NewRef((PyObject *)sr);
        call->writer = w;
    }
    if (spare_input) {
        call->input = spare_input;
        spare_input = NULL;
    } else {
        call->input = wsgi_input_new();
        if (!call->input) {
            return -1;
        }
    }
    return 0;
}

/* Keep the objects for the next request unless the app still holds one. */
static void
release_objects(struct wsgi_call *call)
{
    if (call->sr) {
        call->sr->call = NULL;
        /* Our reference and the writer's; the writer only ours. */
        if (!spare_sr && Py_REFCNT(call->sr) == 2 && Py_REFCNT(call->writer) == 1) {
            spare_sr = call->sr;
            spare_writer = call->writer;
        } else {
            Py_DECREF((PyObject *)call->writer);
            Py_DECREF((PyObject *)call->sr);
        }
        call->sr = NULL;
        call->writer = NULL;
    }
    if (call->input) {
        wsgi_input_detach(call->input);
        if (!spare_input && Py_REFCNT(call->input) == 1) {
            spare_input = call->input;
        } else {
            Py_DECREF(call->input);
        }
        call->input = NULL;
    }
}

static void
log_request_error(const struct wsgi_call *call, const char *what)
{
    const struct http_req *req = call->req;
    int tlen = req->target_len > 200 ? 200 : (int)req->target_len;
    log_error("%s %.*s %.*s", what, (int)req->method_len, req->method, tlen, req->target);
    pyrt_log_exception();
}

/* PEP 3333: "If the iterable returned by the application has a close()
 * method, the server or gateway must call that method upon completion of the
 * current request, whether the request was completed normally, or terminated
 * early due to an application error during iteration or an early
 * disconnect". Only AttributeError means "has none". */
static void
close_result(struct wsgi_call *call)
{
    PyObject *r = call->result;
    if (!r || PyList_CheckExact(r) || PyTuple_CheckExact(r) || PyBytes_CheckExact(r)) {
        return;
    }
    PyObject *close = PyObject_GetAttr(r, s_close);
    if (!close) {
        if (PyErr_ExceptionMatches(PyExc_AttributeError)) {
            PyErr_Clear();
        } else {
            log_request_error(call, "Error looking up close() of the response to");
        }
        return;
    }
    PyObject *res = PyObject_CallNoArgs(close);
    Py_DECREF(close);
    if (!res) {
        log_request_error(call, "Error in close() of the response to");
        return;
    }
    Py_DECREF(res);
}

/* gunicorn's post_request: after the response, on every path. Out of line,
 * so that the request path without hooks pays only the test. */
static __attribute__((noinline, cold)) void
post_request_hook(struct wsgi_call *call)
{
    wsgi_hooks_post_request(call->hook_req, call->environ, call->resp);
    Py_CLEAR(call->hook_req);
}

static void
end_call(struct wsgi_call *call)
{
    if (call->sr) {
        call->sr->call = NULL;
    }
    close_result(call);
    if (UNLIKELY(call->hook_req != NULL)) {
        post_request_hook(call);
    }
    Py_CLEAR(call->pending);
    Py_CLEAR(call->iter);
    Py_CLEAR(call->result);
    Py_CLEAR(call->context); /* the caller still holds it until it exits it */
    /* After the environ, so that only the app can still hold wsgi.input. */
    Py_CLEAR(call->environ);
    release_objects(call);
    if (spare_call == NULL) {
        spare_call = call;
    } else {
        free(call);
    }
}

static enum wsgi_rc
finish_call(struct wsgi_call *call)
{
    http_resp_finish(call->resp);
    end_call(call);
    return WSGI_DONE;
}

/* The app failed (exception pending): 500 if nothing was sent yet, else cut
 * the response short. */
static enum wsgi_rc
fail_call(struct wsgi_call *call)
{
    enum wsgi_rc rc;
    log_request_error(call, "Error handling request");
    if (!call->resp->head_sent) {
        http_resp_simple(call->resp, 500, "Internal Server Error\n");
        rc = WSGI_DONE;
    } else {
        rc = WSGI_CLOSE;
    }
    end_call(call);
    return rc;
}

static bool
content_length_reached(const struct http_resp *resp)
{
    return resp->content_length >= 0 && resp->body_sent >= (uint64_t)resp->content_length;
}

static enum wsgi_rc
run_iter(struct wsgi_call *call)
{
    struct http_resp *resp = call->resp;
    for (;;) {
        /* An item paused part-way through is finished first (the checks
         * below hold for it already). */
        PyObject *item = call->pending ? call->pending : call->next(call->iter);
        Py_ssize_t off = call->pending ? call->pending_off : 0;
        call->pending = NULL;
        if (!item) {
            if (PyErr_Occurred()) {
                if (!PyErr_ExceptionMatches(PyExc_StopIteration)) {
                    return fail_call(call);
                }
                PyErr_Clear();
            }
            break;
        }
        if (!PyBytes_Check(item)) {
            PyErr_Format(PyExc_TypeError,
                         "the response iterable must yield bytes, not %.100s",
                         Py_TYPE(item)->tp_name);
            Py_DECREF(item);
            return fail_call(call);
        }
        Py_ssize_t n = PyBytes_GET_SIZE(item);
        if (n == 0) {
            /* PEP 3333: the head waits for the first non-empty chunk. */
            Py_DECREF(item);
            continue;
        }
        if (!resp->head_sent) {
            if (!call->started) {
                Py_DECREF(item);
                PyErr_SetString(PyExc_RuntimeError,
                                "the application produced a body before calling "
                                "start_response()");
                return fail_call(call);
            }
            /* PEP 3333: the head goes out with the first non-empty chunk,
             * not later: a generator may take its time (or fail) before the
             * next one, and the client must see the first already. */
            http_resp_send_head(resp, -1);
        }
        while (off < n) {
            Py_ssize_t len = n - off > WSGI_WRITE_SLICE ? WSGI_WRITE_SLICE : n - off;
            http_resp_write(resp, PyBytes_AS_STRING(item) + off, (size_t)len);
            off += len;
            if (off < n && !resp->no_body && !content_length_reached(resp) &&
                http_resp_should_pause(resp)) {
                call->pending = item;
                call->pending_off = off;
                call->last_flush = now_mono();
                return WSGI_PAUSED;
            }
        }
        Py_DECREF(item);
        if (content_length_reached(resp)) {
            /* PEP 3333 lets a server stop once Content-Length bytes were
             * sent; more would be truncated anyway. */
            break;
        }
        if (resp->no_body) {
            /* HEAD, 204, 304: the client has the whole response once the
             * head is out, and may send its next request, on any
             * connection, at once. So the head waits for the end of the
             * iteration and close(), as under gunicorn's sync worker. An
             * iterable still going after WSGI_NO_BODY_LIMIT_SEC is ended
             * there (close()): none of its bytes would reach the client,
             * and with nothing written nothing would notice the client
             * leave, so an endless one would run for ever. */
            if (now_mono() - call->last_flush >= WSGI_NO_BODY_LIMIT_SEC) {
                log_warning("%.*s %.*s: a body-less response's iterable ran for over %.0f s; "
                            "ended there",
                            (int)call->req->method_len, call->req->method,
                            (int)call->req->path_len, call->req->path, WSGI_NO_BODY_LIMIT_SEC);
                break;
            }
            continue;
        }
        if (http_resp_should_pause(resp)) {
            call->last_flush = now_mono();
            return WSGI_PAUSED;
        }
        double now = now_mono();
        if (now - call->last_flush >= WSGI_STREAM_FLUSH_SEC) {
            call->last_flush = now;
            return WSGI_PAUSED;
        }
    }
    if (!resp->head_sent) {
        if (!call->started) {
            PyErr_SetString(PyExc_RuntimeError,
                            "the application returned without calling start_response()");
            return fail_call(call);
        }
        http_resp_send_head(resp, 0);
    }
    return finish_call(call);
}

/* 1: sent with sendfile; 0: not a regular file, iterate instead; -1: error
 * (exception set). */
static int
not_a_file(void)
{
    if (PyErr_Occurred()) {
        if (!PyErr_ExceptionMatches(PyExc_Exception)) {
            return -1;
        }
        PyErr_Clear();
    }
    return 0;
}

static int
try_sendfile(struct wsgi_call *call)
{
    struct filewrapper *fw = (struct filewrapper *)call->result;
    struct http_resp *resp = call->resp;
    if (!fw->filelike) {
        return 0;
    }
    PyObject *o = PyObject_CallMethodNoArgs(fw->filelike, s_fileno);
    if (!o) {
        return not_a_file();
    }
    long fd = PyLong_Check(o) ? PyLong_AsLong(o) : -1;
    Py_DECREF(o);
    if (fd < 0 || fd > INT_MAX) {
        return not_a_file();
    }
    struct stat st;
    if (fstat((int)fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        return 0;
    }
    /* tell() knows about a buffered file object's read-ahead; the fd's own
     * offset does not. */
    long long pos = -1;
    o = PyObject_CallMethodNoArgs(fw->filelike, s_tell);
    if (o) {
        pos = PyLong_Check(o) ? PyLong_AsLongLong(o) : -1;
        Py_DECREF(o);
    }
    if (pos < 0) {
        if (not_a_file() < 0) {
            return -1;
        }
        pos = (long long)lseek((int)fd, 0, SEEK_CUR);
        if (pos < 0) {
            return 0;
        }
    }
    uint64_t n = (uint64_t)st.st_size > (uint64_t)pos ? (uint64_t)st.st_size - (uint64_t)pos : 0;
    if (resp->content_length >= 0 && n > (uint64_t)resp->content_length) {
        n = (uint64_t)resp->content_length;
    }
    int dupfd = -1;
    if (n > 0) {
        dupfd = fcntl((int)fd, F_DUPFD_CLOEXEC, 0);
        if (dupfd < 0) {
            log_warning("wsgi.file_wrapper: dup: %s; sending by reading instead", strerror(errno));
            return 0;
        }
    }
    if (!resp->head_sent) {
        http_resp_send_head(resp, (int64_t)n);
    }
    if (dupfd >= 0) {
        if (resp->no_body) {
            close(dupfd);
        } else {
            http_resp_sendfile(resp, dupfd, (off_t)pos, n);
        }
    }
    return 1;
}

static enum wsgi_rc
start_iteration(struct wsgi_call *call)
{
    PyObject *r = call->result;
    struct http_resp *resp = call->resp;
    if (call->started && (PyList_CheckExact(r) || PyTuple_CheckExact(r))) {
        /* The common case (`return [body]`): no iterator, a known length. */
        Py_ssize_t n = PySequence_Fast_GET_SIZE(r);
        PyObject **items = PySequence_Fast_ITEMS(r);
        uint64_t total = 0;
        Py_ssize_t i;
        for (i = 0; i < n && PyBytes_CheckExact(items[i]); i++) {
            total += (uint64_t)PyBytes_GET_SIZE(items[i]);
        }
        if (i == n) {
            if (!resp->head_sent) {
                http_resp_send_head(resp, (int64_t)total);
            }
            if (total <= HTTP_RESP_HIGH_WATER) {
                for (i = 0; i < n; i++) {
                    if (PyBytes_GET_SIZE(items[i])) {
                        http_resp_write(resp, PyBytes_AS_STRING(items[i]),
                                        (size_t)PyBytes_GET_SIZE(items[i]));
                    }
                }
                return finish_call(call);
            }
            /* Large: iterate below, pausing when the queue fills. */
        }
    } else if (call->started && Py_IS_TYPE(r, &filewrapper_type)) {
        int rc = try_sendfile(call);
        if (rc < 0) {
            return fail_call(call);
        }
        if (rc > 0) {
            return finish_call(call);
        }
    }
    call->iter = PyObject_GetIter(r);
    if (!call->iter) {
        return fail_call(call);
    }
    call->next = Py_TYPE(call->iter)->tp_iternext;
    call->last_flush = now_mono();
    return run_iter(call);
}

/* No exception may cross back into C. */
static void
check_no_exception(void)
{
    if (UNLIKELY(PyErr_Occurred())) {
        log_critical("bug: a Python exception was left pending by the WSGI bridge");
        pyrt_log_exception();
    }
}

/* Enter the call's context; returns a reference for leave_context(), or
 * NULL when the call runs without one (only on out-of-memory, logged). */
static PyObject *
enter_context(struct wsgi_call *call)
{
    PyObject *ctx = call->context ? Py_NewRef(call->context) : NULL;
    if (ctx && PyContext_Enter(ctx) < 0) {
        log_critical("cannot enter the request's contextvars context");
        pyrt_log_exception();
        Py_CLEAR(ctx);
    }
    return ctx;
}

static void
leave_context(PyObject *ctx)
{
    if (!ctx) {
        return;
    }
    if (PyContext_Exit(ctx) < 0) {
        /* The app entered a context and never left it (C extensions
         * only): say so rather than leave an exception pending. */
        log_critical("the request's contextvars context was not the current one at its end");
        pyrt_log_exception();
    }
    Py_DECREF(ctx);
}

static _Thread_local double last_span;

double
wsgi_last_span(void)
{
    return last_span;
}

/* The path is SCRIPT_NAME itself or below it ("/app", "/app/x"; not "/apple"). */
static bool
under_script_name(const struct http_req *req)
{
    return req->path_len >= script_name_len &&
           memcmp(req->path, script_name, script_name_len) == 0 &&
           (req->path_len == script_name_len || req->path[script_name_len] == '/');
}

enum wsgi_rc
wsgi_handle(const struct http_req *req, struct http_resp *resp, struct wsgi_call **out)
{
    enum wsgi_rc rc;
    *out = NULL;
    if (script_name_len && !under_script_name(req)) {
        /* gunicorn 20.1 answers 500 here (or cuts the prefix out of the
         * middle of the path); there is no app under that path. */
        if (!atomic_exchange(&outside_warned, true)) {
            int tlen = req->target_len > 200 ? 200 : (int)req->target_len;
            log_warning("%.*s is outside SCRIPT_NAME '%s': 404 (said once)", tlen, req->target,
                        script_name);
        }
        last_span = 0;
        http_resp_simple(resp, 404, "Not Found (outside SCRIPT_NAME)\n");
        return WSGI_DONE;
    }
    pyrt_enter();
    double t0 = now_mono();
    struct wsgi_call *call = spare_call;
    if (call != NULL) {
        spare_call = NULL;
        memset(call, 0, sizeof(*call));
    } else {
        call = xcalloc(1, sizeof *call);
    }
    call->req = req;
    call->resp = resp;
    call->context = PyContext_Copy(base_context);
    if (!call->context) {
        rc = fail_call(call);
        goto out;
    }
    PyObject *ctx = enter_context(call);
    if (acquire_objects(call) < 0) {
        rc = fail_call(call);
        goto leave;
    }
    call->sr->call = call;
    wsgi_input_attach(call->input, &req->body);
    call->environ = build_environ(call);
    if (!call->environ) {
        rc = fail_call(call);
        goto leave;
    }
    if (UNLIKELY(wsgi_hooks_per_request) &&
        wsgi_hooks_pre_request(req, call->environ, &call->hook_req) < 0) {
        /* pre_request raised: a 500, as gunicorn answers it; post_request
         * gets environ {}, as in gunicorn, where the hook runs first. */
        Py_CLEAR(call->environ);
        rc = fail_call(call);
        goto leave;
    }
    /* Slot 0 is scratch space (PY_VECTORCALL_ARGUMENTS_OFFSET) so a bound
     * method can be called without building a new argument array. */
    PyObject *argv[3] = {NULL, call->environ, (PyObject *)call->sr};
    call->result = PyObject_Vectorcall(app, argv + 1, 2 | PY_VECTORCALL_ARGUMENTS_OFFSET, NULL);
    if (!call->result) {
        rc = fail_call(call);
        goto leave;
    }
    rc = start_iteration(call);
    if (rc == WSGI_PAUSED) {
        *out = call;
    }
leave:
    leave_context(ctx);
out:
    check_no_exception();
    last_span = now_mono() - t0;
    pyrt_leave();
    return rc;
}

enum wsgi_rc
wsgi_resume(struct wsgi_call *call)
{
    pyrt_enter();
    double t0 = now_mono();
    PyObject *ctx = enter_context(call);
    enum wsgi_rc rc = run_iter(call);
    leave_context(ctx);
    check_no_exception();
    last_span = now_mono() - t0;
    pyrt_leave();
    return rc;
}

void
wsgi_abort(struct wsgi_call *call)
{
    if (!call) {
        return;
    }
    pyrt_enter();
    PyObject *ctx = enter_context(call);
    end_call(call);
    leave_context(ctx);
    check_no_exception();
    pyrt_leave();
}

/* ---------------------------------------------------------------------- */

static int
build_base_environ(const struct wsgi_server_info *info)
{
    PyObject *env = PyDict_New();
    if (!env) {
        return -1;
    }
    base_environ = env;
    PyObject *version = Py_BuildValue("(ii)", 1, 0);
    errors_obj = PyObject_New(PyObject, &errors_type);
    PyObject *software = PyUnicode_FromString("wsgihost/" WSGIHOST_VERSION);
    PyObject *sn = script_name_len
                       ? PyUnicode_DecodeLatin1(script_name, (Py_ssize_t)script_name_len, NULL)
                       : Py_NewRef(v_empty);
    if (set_steal(env, k_wsgi_version, version) < 0 ||
        set_steal(env, k_server_software, software) < 0 || !errors_obj ||
        PyDict_SetItem(env, k_wsgi_errors, errors_obj) < 0 ||
        PyDict_SetItem(env, k_wsgi_multithread, info->multithread ? Py_True : Py_False) < 0 ||
        PyDict_SetItem(env, k_wsgi_multiprocess, info->multiprocess ? Py_True : Py_False) < 0 ||
        PyDict_SetItem(env, k_wsgi_run_once, info->run_once ? Py_True : Py_False) < 0 ||
        PyDict_SetItem(env, k_wsgi_file_wrapper, (PyObject *)&filewrapper_type) < 0 ||
        PyDict_SetItem(env, k_wsgi_input_terminated, Py_True) < 0 ||
        set_steal(env, k_script_name, sn) < 0) {
        return -1;
    }
    /* Placeholders for the keys build_environ() always sets: replacing a
     * value is cheaper than inserting a key. */
    PyObject *always[] = {
        k_request_method, k_path_info, k_query_string, k_raw_uri, k_request_uri,
        k_server_protocol, k_wsgi_url_scheme, k_wsgi_input, k_server_name, k_server_port,
        k_remote_addr, k_remote_port,
    };
    for (size_t i = 0; i < countof(always); i++) {
        if (PyDict_SetItem(env, always[i], Py_None) < 0) {
            return -1;
        }
    }
    /* Grow the table now: PyDict_Copy() keeps the source's table size, so
     * every per-request copy then takes the request's HTTP_* keys without
     * resizing (two resizes per request otherwise). CPython's dict grows at
     * 2/3 load, to 3 * used; inserting keys up to ENVIRON_GROW_TO and
     * deleting the extra ones leaves a 64-slot table with 20+ free entries,
     * still dense enough for PyDict_Copy's fast path. Only speed depends on
     * these internals. */
#define ENVIRON_GROW_TO 22
    Py_ssize_t n_dummies = ENVIRON_GROW_TO - PyDict_GET_SIZE(env);
    for (int del = 0; del < 2; del++) {
        for (Py_ssize_t i = 0; i < n_dummies; i++) {
            PyObject *dummy = PyUnicode_FromFormat("wsgihost.presize.%zd", i);
            if (!dummy) {
                return -1;
            }
            int rc = del ? PyDict_DelItem(env, dummy) : PyDict_SetItem(env, dummy, Py_None);
            Py_DECREF(dummy);
            if (rc < 0) {
                return -1;
            }
        }
    }
#undef ENVIRON_GROW_TO
    return 0;
}

/* SCRIPT_NAME from the environment: "" or "/" = none; a trailing slash is
 * dropped ("/app/" mounts at "/app"). Returns -1 (logged) if unusable. */
static int
read_script_name(void)
{
    const char *v = getenv("SCRIPT_NAME");
    size_t n = v ? strlen(v) : 0;
    while (n > 0 && v[n - 1] == '/') {
        n--;
    }
    script_name_len = 0;
    atomic_store(&outside_warned, false);
    if (n == 0) {
        return 0;
    }
    if (v[0] != '/' || n >= sizeof script_name || memchr(v, '?', n) || memchr(v, '#', n)) {
        log_error("SCRIPT_NAME '%.200s' from the environment: expected a path such as /app "
                  "(starting with '/', no '?' or '#', under %zu bytes)",
                  v, sizeof script_name);
        return -1;
    }
    memcpy(script_name, v, n);
    script_name[n] = '\0';
    script_name_len = n;
    log_info("SCRIPT_NAME '%s' (from the environment): the app is served under it", script_name);
    return 0;
}

int
wsgi_init(const struct wsgi_server_info *info)
{
    strict = info->strict;
    if (read_script_name() < 0) {
        return -1;
    }
    pyrt_enter();
    if (!pyrt_app()) {
        log_critical("wsgi_init: no application loaded");
        pyrt_leave();
        return -1;
    }
#define INTERN_STRING(id, text)                                                                    \
    if (!(id = PyUnicode_InternFromString(text))) {                                                \
        goto fail;                                                                                 \
    }
    WSGI_STRINGS(INTERN_STRING)
#undef INTERN_STRING
    if (!types_ready) {
        if (PyType_Ready(&start_response_type) < 0 || PyType_Ready(&writer_type) < 0 ||
            PyType_Ready(&filewrapper_type) < 0 || PyType_Ready(&errors_type) < 0 ||
            wsgi_input_type_init() < 0) {
            goto fail;
        }
        types_ready = true;
    }
    if (htable_init() < 0 || build_base_environ(info) < 0) {
        goto fail;
    }
    base_context = PyContext_CopyCurrent();
    if (!base_context) {
        goto fail;
    }
    app = Py_NewRef(pyrt_app());
    pyrt_leave();
    return 0;
fail:
    log_critical("cannot set up the WSGI bridge");
    pyrt_log_exception();
    pyrt_leave();
    wsgi_fini();
    return -1;
}

void
wsgi_fini(void)
{
    pyrt_enter();
    Py_CLEAR(app);
    Py_CLEAR(base_context);
    Py_CLEAR(base_environ);
    Py_CLEAR(errors_obj);
    if (spare_sr) {
        Py_CLEAR(spare_writer);
        Py_CLEAR(spare_sr);
    }
    Py_CLEAR(spare_input);
    htable_fini();
    strcache_clear(&target_cache);
    strcache_clear(&path_cache);
    strcache_clear(&query_cache);
    strcache_clear(&method_cache);
    Py_CLEAR(host_cache.name);
    Py_CLEAR(host_cache.port);
    Py_CLEAR(local_cache.name_obj);
    Py_CLEAR(local_cache.port_obj);
    Py_CLEAR(peer_cache.addr_obj);
    Py_CLEAR(peer_cache.port_obj);
    Py_CLEAR(clen_cache.obj);
#define RELEASE_STRING(id, text) Py_CLEAR(id);
    WSGI_STRINGS(RELEASE_STRING)
#undef RELEASE_STRING
    pyrt_leave();
}
