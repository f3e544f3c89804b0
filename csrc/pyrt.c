/* The embedded CPython runtime: PyConfig, sys.path, sys.executable, loading
 * MODULE:APP, the GIL, exception logging, finalization. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "build_config.h"
#include "pyrt.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <stdarg.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static PyThreadState *main_ts; /* the main thread's state while the GIL is released */
static bool initialized;
static bool gil_held;
static bool host; /* the interpreter is python3.X's own (hostpy.h), not ours to finalize */
/* pyrt_init() ran in this process or in the master it was forked from (the
 * config file's hooks may start Python in the master, wsgi_hooks.h). */
static bool ready;
static PyObject *app;              /* the application callable */
static PyObject *format_exception; /* traceback.format_exception, imported on first use */

/* Parses the APP part of MODULE:APP with the ast module, so that
 * `create_app("prod", debug=True)` works without eval(): the callee must be a
 * name or dotted attribute path and every argument a literal. Returns
 * (names, args, kwargs); args is None when APP is not a call. Runs once at
 * start-up, never per request. */
static const char app_spec_parser[] =
    "import ast\n"
    "def parse(text):\n"
    "    try:\n"
    "        node = ast.parse(text.strip(), mode='eval').body\n"
    "    except SyntaxError:\n"
    "        raise ValueError(f'cannot parse {text!r}: expected a name, a dotted'\n"
    "                         f' attribute path or a call like create_app()') from None\n"
    "    args = kwargs = None\n"
    "    if isinstance(node, ast.Call):\n"
    "        try:\n"
    "            args = tuple(ast.literal_eval(a) for a in node.args)\n"
    "            kwargs = {}\n"
    "            for kw in node.keywords:\n"
    "                if kw.arg is None:\n"
    "                    raise ValueError\n"
    "                kwargs[kw.arg] = ast.literal_eval(kw.value)\n"
    "        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):\n"
    "            raise ValueError(f'arguments of {text!r} must be Python literals'\n"
    "                             f' (strings, numbers, True/False/None, tuples, lists,'\n"
    "                             f' dicts)') from None\n"
    "        node = node.func\n"
    "    names = []\n"
    "    while isinstance(node, ast.Attribute):\n"
    "        names.append(node.attr)\n"
    "        node = node.value\n"
    "    if not isinstance(node, ast.Name):\n"
    "        raise ValueError(f'cannot use {text!r}: expected a name, a dotted attribute'\n"
    "                         f' path or a call like create_app()')\n"
    "    names.append(node.id)\n"
    "    names.reverse()\n"
    "    return names, args, kwargs\n";

static int
status_failed(PyStatus st, PyConfig *pc)
{
    if (PyStatus_Exception(st)) {
        fprintf(stderr, "wsgihost: cannot start Python: %s%s%s\n",
                st.func ? st.func : "", st.func ? ": " : "",
                st.err_msg ? st.err_msg : "unknown error");
        PyConfig_Clear(pc);
        return 1;
    }
    return 0;
}

/* What pyrt_load_app printed, kept for --reload's error page. */
static char *load_msgs;
static size_t load_msgs_len;
static bool load_capturing;

static void
say_raw(const char *p, size_t n)
{
    fwrite(p, 1, n, stderr);
    if (load_capturing) {
        load_msgs = xrealloc(load_msgs, load_msgs_len + n + 1);
        memcpy(load_msgs + load_msgs_len, p, n);
        load_msgs_len += n;
        load_msgs[load_msgs_len] = '\0';
    }
}

/* A start-up message on stderr (and in the capture while loading the app). */
__attribute__((format(printf, 1, 2))) static void
say(const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (n > 0) {
        say_raw(line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
    }
}

/* Format (type, value, tb) with traceback.format_exception into UTF-8 bytes.
 * Returns a new reference, or NULL with an exception set. */
static PyObject *
format_exception_bytes(PyObject *type, PyObject *value, PyObject *tb)
{
    if (!format_exception) {
        PyObject *mod = PyImport_ImportModule("traceback");
        if (!mod) {
            return NULL;
        }
        PyObject *fn = PyObject_GetAttrString(mod, "format_exception");
        Py_DECREF(mod);
        if (!fn) {
            return NULL;
        }
        /* The import may have let another pool thread get here first. */
        if (format_exception) {
            Py_DECREF(fn);
        } else {
            format_exception = fn;
        }
    }
    PyObject *args[3] = {type, value ? value : Py_None, tb ? tb : Py_None};
    PyObject *lines = PyObject_Vectorcall(format_exception, args, 3, NULL);
    if (!lines) {
        return NULL;
    }
    PyObject *sep = PyUnicode_FromStringAndSize(NULL, 0);
    PyObject *text = sep ? PyUnicode_Join(sep, lines) : NULL;
    Py_XDECREF(sep);
    Py_DECREF(lines);
    if (!text) {
        return NULL;
    }
    PyObject *bytes = PyUnicode_AsEncodedString(text, "utf-8", "backslashreplace");
    Py_DECREF(text);
    return bytes;
}

/* Print and clear the pending exception, to the error log (to_log) or to
 * stderr. Never lets SystemExit end the process (unlike PyErr_Print). */
static void
print_exception(bool to_log)
{
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    if (!type) {
        return;
    }
    PyErr_NormalizeException(&type, &value, &tb);
    if (tb && value) {
        PyException_SetTraceback(value, tb);
    }
    PyObject *text = format_exception_bytes(type, value, tb);
    if (text) {
        if (to_log) {
            log_write_raw(PyBytes_AS_STRING(text), (size_t)PyBytes_GET_SIZE(text));
        } else {
            say_raw(PyBytes_AS_STRING(text), (size_t)PyBytes_GET_SIZE(text));
        }
        Py_DECREF(text);
    } else {
        /* The formatter itself failed (MemoryError, broken traceback
         * module): say at least which exception it was. */
        PyErr_Clear();
        const char *name = PyExceptionClass_Check(type) ? PyExceptionClass_Name(type) : "?";
        if (to_log) {
            log_error("Python exception %s (traceback unavailable)", name);
        } else {
            say("Python exception %s (traceback unavailable)\n", name);
        }
    }
    if (to_log) {
        log_flush();
    } else {
        fflush(stderr);
    }
    Py_DECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(tb);
}

void
pyrt_log_exception(void)
{
    print_exception(true);
}

/* sys.path: the current directory first, then --pythonpath entries in order,
 * all absolute and ahead of the standard library (gunicorn's order). */
static int
setup_sys_path(const struct config *c)
{
    int rc = -1;
    PyObject *os_path = NULL, *abspath = NULL, *entry = NULL;
    PyObject *sys_path = PySys_GetObject("path"); /* borrowed */
    if (!sys_path || !PyList_Check(sys_path)) {
        fprintf(stderr, "wsgihost: sys.path is missing\n");
        return -1;
    }
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof cwd)) {
        fprintf(stderr, "wsgihost: getcwd: %s\n", strerror(errno));
        return -1;
    }
    entry = PyUnicode_DecodeFSDefault(cwd);
    if (!entry || PyList_Insert(sys_path, 0, entry) < 0) {
        goto fail;
    }
    Py_CLEAR(entry);
    if (c->n_pythonpath == 0) {
        return 0;
    }
    os_path = PyImport_ImportModule("os.path");
    abspath = os_path ? PyObject_GetAttrString(os_path, "abspath") : NULL;
    if (!abspath) {
        goto fail;
    }
    for (size_t i = 0; i < c->n_pythonpath; i++) {
        PyObject *raw = PyUnicode_DecodeFSDefault(c->pythonpath[i]);
        if (!raw) {
            goto fail;
        }
        entry = PyObject_CallOneArg(abspath, raw);
        Py_DECREF(raw);
        if (!entry || PyList_Insert(sys_path, (Py_ssize_t)(1 + i), entry) < 0) {
            goto fail;
        }
        Py_CLEAR(entry);
    }
    rc = 0;
    goto out;
fail:
    print_exception(false);
    fprintf(stderr, "wsgihost: cannot set up sys.path\n");
out:
    Py_XDECREF(entry);
    Py_XDECREF(abspath);
    Py_XDECREF(os_path);
    return rc;
}

void
pyrt_host_attach(void)
{
    initialized = true;
    host = true;
    gil_held = true;
    pyrt_leave();
}

bool
pyrt_initialized(void)
{
    return initialized;
}

static void
log_sys_path(const char *exe, const char *source)
{
    PyObject *prefix = PySys_GetObject("prefix");     /* borrowed */
    PyObject *base = PySys_GetObject("base_prefix"); /* borrowed */
    const char *p = prefix && PyUnicode_Check(prefix) ? PyUnicode_AsUTF8(prefix) : NULL;
    const char *bp = base && PyUnicode_Check(base) ? PyUnicode_AsUTF8(base) : NULL;
    PyErr_Clear();
    /* PEP 405: in a virtualenv sys.prefix is the venv, sys.base_prefix the
     * Python it was made from. */
    bool venv = p != NULL && bp != NULL && strcmp(p, bp) != 0;
    /* site-packages as site.py set them up (a venv's own, the system's
     * only with include-system-site-packages). */
    PyObject *site = PyImport_ImportModule("site");
    PyObject *sp = site ? PyObject_CallMethod(site, "getsitepackages", NULL) : NULL;
    PyObject *spr = sp ? PyObject_Repr(sp) : NULL;
    const char *sps = spr ? PyUnicode_AsUTF8(spr) : NULL;
    PyErr_Clear();
    log_info("Python %.*s at %s (%s interpreter%s%s), virtualenv: %s, sys.prefix %s, "
             "site-packages %s",
             (int)strcspn(Py_GetVersion(), " "), Py_GetVersion(), exe,
             host ? "host" : "embedded", source ? ", from " : "", source ? source : "",
             venv ? p : "none", p ? p : "?", sps ? sps : "?");
    Py_XDECREF(spr);
    Py_XDECREF(sp);
    Py_XDECREF(site);
    PyErr_Clear();
    if (log_enabled(LOG_DEBUG)) {
        PyObject *path = PySys_GetObject("path"); /* borrowed */
        PyObject *repr = path ? PyObject_Repr(path) : NULL;
        const char *s = repr ? PyUnicode_AsUTF8(repr) : NULL;
        log_debug("Python %s, executable %s, sys.path %s", Py_GetVersion(), exe, s ? s : "?");
        Py_XDECREF(repr);
        PyErr_Clear();
    }
}

/* The host interpreter read the environment when python3.X started, before
 * we unset LISTEN_FDS & co. (listener.c): os.environ must be what the
 * process environment is now, as in the embedded mode (which starts
 * later). Only os.environ's mapping is replaced; the process's own
 * environment is already right. */
static int
sync_os_environ(void)
{
    extern char **environ;
    int rc = -1;
    PyObject *os = NULL, *env = NULL, *data = NULL;
    os = PyImport_ImportModule("os");
    env = os ? PyObject_GetAttrString(os, "environ") : NULL;
    data = env ? PyObject_GetAttrString(env, "_data") : NULL;
    if (data == NULL || !PyDict_Check(data)) {
        goto out;
    }
    PyDict_Clear(data);
    for (char **e = environ; e != NULL && *e != NULL; e++) {
        const char *eq = strchr(*e, '=');
        if (eq == NULL || eq == *e) {
            continue;
        }
        PyObject *k = PyBytes_FromStringAndSize(*e, eq - *e);
        PyObject *v = PyBytes_FromString(eq + 1);
        int r = (k && v) ? PyDict_SetItem(data, k, v) : -1;
        Py_XDECREF(k);
        Py_XDECREF(v);
        if (r < 0) {
            goto out;
        }
    }
    rc = 0;
out:
    if (rc < 0) {
        print_exception(false);
        fprintf(stderr, "wsgihost: cannot set up os.environ\n");
    }
    Py_XDECREF(data);
    Py_XDECREF(env);
    Py_XDECREF(os);
    return rc;
}

int
pyrt_init(const struct config *c)
{
    if (ready) {
        return 0;
    }
    if (host) {
        /* python3.X set itself up (site, sys.executable, the prefix);
         * only our sys.path entries are missing. */
        pyrt_enter();
        if (sync_os_environ() < 0 || setup_sys_path(c) < 0) {
            return -1;
        }
        PyObject *exe = PySys_GetObject("executable"); /* borrowed */
        const char *e = exe && PyUnicode_Check(exe) ? PyUnicode_AsUTF8(exe) : NULL;
        log_sys_path(e ? e : "?", c->python_source);
        PyErr_Clear();
        pyrt_leave();
        ready = true;
        return 0;
    }
    PyConfig pc;
    PyStatus st;
    /* The "Python" configuration (not isolated) so that Debian's site module
     * adds dist-packages, where python3-flask lives. */
    PyConfig_InitPythonConfig(&pc);
    pc.parse_argv = 0;
    /* Our own handlers own the signals (sig.c); Python's would only set a
     * flag that nobody checks while the loop sleeps in epoll_wait. */
    pc.install_signal_handlers = 0;
    /* The app's print()s and tracebacks must show up now, not at exit. */
    pc.buffered_stdio = 0;
    /* sys.executable must be the interpreter matching the linked libpython
     * (not whatever python3 is first on PATH): subprocess/multiprocessing in
     * the app use it, and getpath derives the prefix from it. */
    const char *exe = c->python_executable && *c->python_executable ? c->python_executable
                                                                      : WSGIHOST_PYTHON_EXECUTABLE;
    st = PyConfig_SetBytesString(&pc, &pc.program_name, exe);
    if (status_failed(st, &pc)) {
        return -1;
    }
    st = PyConfig_SetBytesString(&pc, &pc.executable, exe);
    if (status_failed(st, &pc)) {
        return -1;
    }
    char *argv[] = {"wsgihost", NULL};
    st = PyConfig_SetBytesArgv(&pc, 1, argv);
    if (status_failed(st, &pc)) {
        return -1;
    }
    st = Py_InitializeFromConfig(&pc);
    if (status_failed(st, &pc)) {
        return -1;
    }
    PyConfig_Clear(&pc);
    initialized = true;
    gil_held = true;
    if (setup_sys_path(c) < 0) {
        return -1; /* pyrt_finalize() still works: it knows the GIL is held */
    }
    log_sys_path(exe, c->python_source);
    pyrt_leave();
    ready = true;
    return 0;
}

/* The calling pool thread's state; NULL on the main thread. */
static _Thread_local PyThreadState *thread_ts;

/* How pool threads enter Python. CPython's GIL is not fair: a thread
 * waiting for it forces a switch only if nobody else took it for 5 ms, so
 * while two threads hand it back and forth between requests a third one,
 * holding a request, can wait for many intervals (p99 on a CPU-bound
 * endpoint: 11 ms with one thread, 47 ms with two, 148 ms with four). So one
 * waiting thread at a time is the "designated" one: others may still barge
 * in (cheap: the thread that just finished a request keeps the CPU) while
 * it has waited less than ENTRY_PATIENCE_NS, and after that they wait until
 * it is in. Measured on /api/items, 4 threads, wrk -c64: strict turns on
 * every entry cost a third of the throughput in thread hand-offs; patience
 * 1 ms: -14% requests/s, p99 15 ms; 3-8 ms: about -7%, p99 19-21 ms; no
 * gate: p99 150-180 ms. Only the entry is managed: inside the app, threads
 * that release the GIL (I/O, sleep) get it back as CPython decides. */
#define ENTRY_PATIENCE_NS 4000000
static pthread_mutex_t entry_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t entry_cv = PTHREAD_COND_INITIALIZER;
static int64_t designated_since; /* 0 = no designated waiter */

static void
enter_in_turn(PyThreadState *ts)
{
    pthread_mutex_lock(&entry_mu);
    for (;;) {
        if (designated_since == 0) {
            designated_since = now_mono_ns();
            pthread_mutex_unlock(&entry_mu);
            PyEval_RestoreThread(ts);
            pthread_mutex_lock(&entry_mu);
            designated_since = 0;
            pthread_cond_broadcast(&entry_cv);
            pthread_mutex_unlock(&entry_mu);
            return;
        }
        if (now_mono_ns() - designated_since < ENTRY_PATIENCE_NS) {
            pthread_mutex_unlock(&entry_mu);
            PyEval_RestoreThread(ts);
            return;
        }
        pthread_cond_wait(&entry_cv, &entry_mu);
    }
}

void
pyrt_enter(void)
{
    if (thread_ts != NULL) {
        enter_in_turn(thread_ts);
        return;
    }
    PyEval_RestoreThread(main_ts);
    main_ts = NULL;
    gil_held = true;
}

void
pyrt_leave(void)
{
    if (thread_ts != NULL) {
        PyEval_SaveThread();
        return;
    }
    gil_held = false;
    main_ts = PyEval_SaveThread();
}

void
pyrt_thread_begin(void)
{
    PyThreadState *ts = PyThreadState_New(PyInterpreterState_Main());
    PyEval_RestoreThread(ts);
    PyEval_SaveThread();
    thread_ts = ts;
}

void
pyrt_thread_end(void)
{
    if (thread_ts == NULL) {
        return;
    }
    PyEval_RestoreThread(thread_ts);
    PyThreadState_Clear(thread_ts);
    PyThreadState_DeleteCurrent();
    thread_ts = NULL;
}

/* Resolve names[0].names[1]... on the module. Returns a new reference or
 * NULL after printing why. */
static PyObject *
resolve_attrs(PyObject *module, const char *modname, PyObject *names)
{
    PyObject *obj = Py_NewRef(module);
    PyObject *where = PyUnicode_FromFormat("%s", modname);
    if (!where) {
        goto fail_print;
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(names); i++) {
        PyObject *name = PyList_GET_ITEM(names, i); /* borrowed; the list is ours */
        PyObject *next = PyObject_GetAttr(obj, name);
        if (!next) {
            if (PyErr_ExceptionMatches(PyExc_AttributeError)) {
                PyErr_Clear();
                if (i == 0) {
                    say("wsgihost: module '%s' has no attribute '%s'\n", modname,
                        PyUnicode_AsUTF8(name));
                } else {
                    say("wsgihost: '%s' has no attribute '%s'\n", PyUnicode_AsUTF8(where),
                        PyUnicode_AsUTF8(name));
                }
                PyErr_Clear();
                goto fail;
            }
            print_exception(false);
            say("wsgihost: looking up '%s' in '%s' raised an exception\n", PyUnicode_AsUTF8(name),
                PyUnicode_AsUTF8(where));
            PyErr_Clear();
            goto fail;
        }
        Py_SETREF(obj, next);
        PyObject *w = PyUnicode_FromFormat(i == 0 ? "%U:%U" : "%U.%U", where, name);
        Py_SETREF(where, w);
        if (!where) {
            goto fail_print;
        }
    }
    Py_XDECREF(where);
    return obj;
fail_print:
    print_exception(false);
fail:
    Py_XDECREF(where);
    Py_DECREF(obj);
    return NULL;
}

/* (names, args, kwargs) for the APP part, or NULL after printing why. */
static PyObject *
parse_app_expr(const char *expr)
{
    PyObject *globals = NULL, *res = NULL, *parse = NULL, *text = NULL, *parsed = NULL;
    globals = PyDict_New();
    if (!globals || PyDict_SetItemString(globals, "__builtins__", PyEval_GetBuiltins()) < 0) {
        goto fail;
    }
    res = PyRun_String(app_spec_parser, Py_file_input, globals, globals);
    if (!res) {
        goto fail;
    }
    parse = PyDict_GetItemString(globals, "parse"); /* borrowed, held by globals */
    text = PyUnicode_DecodeFSDefault(expr);
    if (!parse || !text) {
        goto fail;
    }
    parsed = PyObject_CallOneArg(parse, text);
    if (!parsed) {
        if (PyErr_ExceptionMatches(PyExc_ValueError)) {
            PyObject *type, *value, *tb;
            PyErr_Fetch(&type, &value, &tb);
            PyObject *msg = value ? PyObject_Str(value) : NULL;
            say("wsgihost: bad application name: %s\n", msg ? PyUnicode_AsUTF8(msg) : expr);
            Py_XDECREF(msg);
            Py_XDECREF(type);
            Py_XDECREF(value);
            Py_XDECREF(tb);
            PyErr_Clear();
            goto out;
        }
        goto fail;
    }
    goto out;
fail:
    print_exception(false);
    say("wsgihost: cannot parse the application name '%s'\n", expr);
out:
    Py_XDECREF(text);
    Py_XDECREF(res);
    Py_XDECREF(globals);
    return parsed;
}

int
pyrt_load_app(const char *spec)
{
    int rc = -1;
    char *modname = NULL;
    PyObject *module = NULL, *parsed = NULL, *obj = NULL;

    pyrt_enter();
    free(load_msgs);
    load_msgs = NULL;
    load_msgs_len = 0;
    load_capturing = true;
    const char *colon = strchr(spec, ':');
    const char *expr = colon ? colon + 1 : "application";
    modname = colon ? xstrndup(spec, (size_t)(colon - spec)) : xstrdup(spec);
    if (!*modname || !*expr) {
        say("wsgihost: bad application '%s': expected MODULE:APP or MODULE\n", spec);
        goto out;
    }
    parsed = parse_app_expr(expr);
    if (!parsed) {
        goto out;
    }
    module = PyImport_ImportModule(modname);
    if (!module) {
        print_exception(false);
        say("wsgihost: cannot import module '%s'\n", modname);
        goto out;
    }
    PyObject *names = PyTuple_GET_ITEM(parsed, 0);  /* borrowed from parsed */
    PyObject *args = PyTuple_GET_ITEM(parsed, 1);   /* borrowed */
    PyObject *kwargs = PyTuple_GET_ITEM(parsed, 2); /* borrowed */
    obj = resolve_attrs(module, modname, names);
    if (!obj) {
        goto out;
    }
    if (args != Py_None) {
        PyObject *made = PyObject_Call(obj, args, kwargs);
        if (!made) {
            print_exception(false);
            say("wsgihost: application factory '%s:%s' raised an exception\n", modname, expr);
            goto out;
        }
        Py_SETREF(obj, made);
    }
    if (!PyCallable_Check(obj)) {
        say("wsgihost: application object '%s:%s' is not callable (it is %s)\n", modname, expr,
            Py_TYPE(obj)->tp_name);
        goto out;
    }
    Py_XSETREF(app, Py_NewRef(obj));
    rc = 0;
out:
    if (PyErr_Occurred()) {
        print_exception(false);
    }
    Py_XDECREF(obj);
    Py_XDECREF(module);
    Py_XDECREF(parsed);
    free(modname);
    fflush(stderr);
    load_capturing = false;
    pyrt_leave();
    return rc;
}

/* --reload's stand-in while the app cannot be loaded: every request gets a
 * 500 with what the load printed (gunicorn does the same under --reload),
 * so the developer sees the error in the browser, and the watcher restarts
 * the worker once a source file changes. */
static const char fail_app_code[] =
    "def make(text):\n"
    "    body = text.encode('utf-8', 'backslashreplace')\n"
    "    headers = [('Content-Type', 'text/plain; charset=utf-8'),\n"
    "               ('Content-Length', str(len(body)))]\n"
    "    def fail_app(environ, start_response):\n"
    "        start_response('500 Internal Server Error', headers)\n"
    "        return [body]\n"
    "    return fail_app\n";

int
pyrt_use_fail_app(void)
{
    int rc = -1;
    pyrt_enter();
    PyObject *ns = PyDict_New(), *res = NULL, *text = NULL, *made = NULL;
    if (!ns || PyDict_SetItemString(ns, "__builtins__", PyEval_GetBuiltins()) < 0) {
        goto out;
    }
    res = PyRun_String(fail_app_code, Py_file_input, ns, ns);
    PyObject *make = res ? PyDict_GetItemString(ns, "make") : NULL; /* borrowed */
    text = PyUnicode_FromFormat("wsgihost --reload: the application failed to load. Fix it and "
                                "save a source file: the server reloads.\n\n%s",
                                load_msgs ? load_msgs : "");
    if (!make || !text) {
        goto out;
    }
    made = PyObject_CallOneArg(make, text);
    if (made) {
        Py_XSETREF(app, Py_NewRef(made));
        rc = 0;
    }
out:
    if (PyErr_Occurred()) {
        print_exception(true);
    }
    Py_XDECREF(made);
    Py_XDECREF(text);
    Py_XDECREF(res);
    Py_XDECREF(ns);
    pyrt_leave();
    return rc;
}

PyObject *
pyrt_app(void)
{
    return app;
}

void
pyrt_finalize(void)
{
    if (!initialized) {
        return;
    }
    if (!gil_held) {
        pyrt_enter();
    }
    Py_CLEAR(app);
    Py_CLEAR(format_exception);
    free(load_msgs);
    load_msgs = NULL;
    load_msgs_len = 0;
    if (host) {
        /* Not ours to tear down (the process ends with _exit() after
         * main()); what Py_FinalizeEx() would do that the app can see:
         * wait for its non-daemon threads, run its atexit functions, flush. */
        static const char code[] =
            "import sys\n"
            "t = sys.modules.get('threading')\n"
            "if t is not None: t._shutdown()\n"
            "import atexit\n"
            "atexit._run_exitfuncs()\n"
            "for f in (sys.stdout, sys.stderr):\n"
            "    try: f.flush()\n"
            "    except Exception: pass\n";
        PyObject *ns = PyDict_New();
        PyObject *r = ns ? PyRun_String(code, Py_file_input, ns, ns) : NULL;
        if (r == NULL) {
            print_exception(true);
        }
        Py_XDECREF(r);
        Py_XDECREF(ns);
        pyrt_leave();
        initialized = false;
        ready = false;
        return;
    }
    if (Py_FinalizeEx() < 0) {
        /* Only flushing sys.stdout/stderr failed; nothing left to do. */
    }
    initialized = false;
    ready = false;
    gil_held = false;
    main_ts = NULL;
}

/* --preload: fork with the GIL held and CPython's hooks around it, as
 * os.fork() does (Doc/c-api/sys.rst, PyOS_AfterFork_Child). gc.freeze()
 * keeps the parent's objects out of the children's collections, so the
 * pages stay shared copy-on-write longer. */
static void
fork_prepare(void)
{
    pyrt_enter();
    PyObject *gc = PyImport_ImportModule("gc");
    if (gc != NULL) {
        PyObject *r = PyObject_CallMethod(gc, "freeze", NULL);
        Py_XDECREF(r);
        Py_DECREF(gc);
    }
    PyErr_Clear();
    PyOS_BeforeFork();
}

pid_t
pyrt_fork(void)
{
    if (!pyrt_initialized()) {
        return fork();
    }
    fork_prepare();
    pid_t pid = fork();
    if (pid == 0) {
        PyOS_AfterFork_Child();
    } else {
        PyOS_AfterFork_Parent();
    }
    pyrt_leave();
    return pid;
}

/* --reload: the directories to watch. Every imported module whose file is
 * outside the standard library and site-packages (the app's own code), the
 * current directory and --pythonpath entries, and the packages directly
 * under them (so a package whose import failed is still watched). */
static const char source_dirs_code[] =
    "def _wsgihost_source_dirs(extra):\n"
    "    import os, sys, sysconfig, site\n"
    "    skip = set()\n"
    "    for k in ('stdlib', 'platstdlib', 'purelib', 'platlib'):\n"
    "        p = sysconfig.get_paths().get(k)\n"
    "        if p: skip.add(os.path.realpath(p))\n"
    "    for p in site.getsitepackages() + [site.getusersitepackages()]:\n"
    "        skip.add(os.path.realpath(p))\n"
    "    for p in sys.path:\n"
    "        if 'dist-packages' in p or 'site-packages' in p: skip.add(os.path.realpath(p))\n"
    "    def ok(d):\n"
    "        d = os.path.realpath(d)\n"
    "        return not any(d == s or d.startswith(s + os.sep) for s in skip)\n"
    "    dirs = set()\n"
    "    roots = [os.getcwd()] + list(extra)\n"
    "    for r in roots:\n"
    "        r = os.path.realpath(r)\n"
    "        if os.path.isdir(r) and ok(r):\n"
    "            dirs.add(r)\n"
    "            for e in os.scandir(r):\n"
    "                if e.is_dir() and os.path.exists(os.path.join(e.path, '__init__.py')):\n"
    "                    dirs.add(os.path.realpath(e.path))\n"
    "    for m in list(sys.modules.values()):\n"
    "        f = getattr(m, '__file__', None)\n"
    "        if f and f.endswith('.py') and ok(os.path.dirname(f)):\n"
    "            dirs.add(os.path.realpath(os.path.dirname(f)))\n"
    "    return sorted(dirs)\n";

char **
pyrt_source_dirs(const struct config *c)
{
    char **out = NULL;
    pyrt_enter();
    PyObject *ns = PyDict_New();
    PyObject *extra = PyList_New(0);
    PyObject *res = NULL;
    if (ns == NULL || extra == NULL) {
        goto done;
    }
    for (size_t i = 0; i < c->n_pythonpath; i++) {
        PyObject *s = PyUnicode_DecodeFSDefault(c->pythonpath[i]);
        if (s == NULL || PyList_Append(extra, s) != 0) {
            Py_XDECREF(s);
            goto done;
        }
        Py_DECREF(s);
    }
    if (PyDict_SetItemString(ns, "__builtins__", PyEval_GetBuiltins()) != 0) {
        goto done;
    }
    PyObject *r = PyRun_String(source_dirs_code, Py_file_input, ns, ns);
    if (r == NULL) {
        goto done;
    }
    Py_DECREF(r);
    PyObject *fn = PyDict_GetItemString(ns, "_wsgihost_source_dirs"); /* borrowed */
    if (fn == NULL) {
        goto done;
    }
    res = PyObject_CallOneArg(fn, extra);
    if (res == NULL || !PyList_Check(res)) {
        goto done;
    }
    Py_ssize_t n = PyList_GET_SIZE(res);
    out = xcalloc((size_t)n + 1, sizeof(char *));
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *b = PyUnicode_EncodeFSDefault(PyList_GET_ITEM(res, i));
        out[i] = xstrdup(b != NULL ? PyBytes_AS_STRING(b) : ".");
        Py_XDECREF(b);
    }
done:
    if (PyErr_Occurred()) {
        pyrt_log_exception();
    }
    Py_XDECREF(res);
    Py_XDECREF(extra);
    Py_XDECREF(ns);
    pyrt_leave();
    return out;
}
