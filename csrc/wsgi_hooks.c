/* gunicorn's server hooks, logconfig_dict and the objects they get
 * (wsgi_hooks.h). The Python side is one piece of code below (the classes
 * Server, Worker, Request, Response, Log, Config and Hooks, run once per
 * process that needs them); this file decides where the config file runs,
 * calls the Hooks methods at the points gunicorn does, and makes the req
 * and resp objects of pre_request and post_request from the C request. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "wsgi_hooks.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "listener.h"
#include "log.h"
#include "pyrt.h"
#include "sig.h"

static const char hooks_runtime[] =
    "import sys, os, types, logging, logging.config, traceback, collections.abc\n"
    "HOOKS = ('on_starting', 'on_reload', 'when_ready', 'pre_fork', 'post_fork',\n"
    "         'post_worker_init', 'worker_int', 'worker_abort', 'pre_exec', 'pre_request',\n"
    "         'post_request', 'child_exit', 'worker_exit', 'nworkers_changed', 'on_exit')\n"
    "LEVELS = {'critical': 50, 'error': 40, 'warning': 30, 'warn': 30, 'info': 20, 'debug': 10}\n"
    "\n"
    "class Log:\n"
    "    \"\"\"server.log and worker.log: gunicorn's logger methods, writing into\n"
    "    wsgihost's error log (its level, its file, its line format).\"\"\"\n"
    "    def __init__(self):\n"
    "        self.error_log = logging.getLogger('gunicorn.error')\n"
    "        self.access_log = logging.getLogger('gunicorn.access')\n"
    "    def _write(self, level, msg, args, kw):\n"
    "        if not _enabled(level):\n"
    "            return\n"
    "        text = str(msg)\n"
    "        if args:\n"
    "            if len(args) == 1 and isinstance(args[0], collections.abc.Mapping) and args[0]:\n"
    "                args = args[0]\n"
    "            try:\n"
    "                text = text % args\n"
    "            except Exception:\n"
    "                text = '%s %r' % (text, args)\n"
    "        exc = kw.get('exc_info')\n"
    "        if exc:\n"
    "            if isinstance(exc, BaseException):\n"
    "                exc = (type(exc), exc, exc.__traceback__)\n"
    "            elif not isinstance(exc, tuple):\n"
    "                exc = sys.exc_info()\n"
    "            if exc[0] is not None:\n"
    "                text += '\\n' + ''.join(traceback.format_exception(*exc)).rstrip('\\n')\n"
    "        _emit(level, text)\n"
    "    def critical(self, msg, *args, **kw):\n"
    "        self._write(50, msg, args, kw)\n"
    "    def error(self, msg, *args, **kw):\n"
    "        self._write(40, msg, args, kw)\n"
    "    def warning(self, msg, *args, **kw):\n"
    "        self._write(30, msg, args, kw)\n"
    "    warn = warning\n"
    "    def info(self, msg, *args, **kw):\n"
    "        self._write(20, msg, args, kw)\n"
    "    def debug(self, msg, *args, **kw):\n"
    "        self._write(10, msg, args, kw)\n"
    "    def exception(self, msg, *args, **kw):\n"
    "        kw.setdefault('exc_info', True)\n"
    "        self._write(40, msg, args, kw)\n"
    "    def log(self, lvl, msg, *args, **kw):\n"
    "        if isinstance(lvl, str):\n"
    "            lvl = LEVELS.get(lvl.lower(), 20)\n"
    "        self._write(lvl, msg, args, kw)\n"
    "    def reopen_files(self):\n"
    "        _reopen()\n"
    "    def close_on_exec(self):\n"
    "        pass  # wsgihost's log descriptors are close-on-exec already\n"
    "\n"
    "class Config:\n"
    "    \"\"\"server.cfg: the settings as wsgihost resolved them, by gunicorn's names,\n"
    "    and whatever else the config file assigned.\"\"\"\n"
    "    def __init__(self, values):\n"
    "        self.__dict__.update(values)\n"
    "    def __getattr__(self, name):\n"
    "        if name.startswith('__'):\n"
    "            raise AttributeError(name)\n"
    "        raise AttributeError('server.cfg has no setting %r in wsgihost (wsgihost '\n"
    "                             '--print-config lists what it has)' % name)\n"
    "    def __repr__(self):\n"
    "        return '<wsgihost config %s>' % self.__dict__.get('config')\n"
    "\n"
    "class Listener:\n"
    "    \"\"\"What gunicorn's server.LISTENERS and worker.sockets hold: one bound\n"
    "    socket; str() as gunicorn prints it ('http://127.0.0.1:8000',\n"
    "    'unix:/run/app.sock').\"\"\"\n"
    "    def __init__(self, fd, name, address, is_unix):\n"
    "        self._fd, self._name, self.cfg_addr, self.is_unix = fd, name, address, is_unix\n"
    "    def fileno(self):\n"
    "        return self._fd\n"
    "    def getsockname(self):\n"
    "        return self.cfg_addr\n"
    "    def __getattr__(self, name):\n"
    "        if name.startswith('__'):\n"
    "            raise AttributeError(name)\n"
    "        raise AttributeError('wsgihost listener has no %r (it has fileno(), getsockname(), '\n"
    "                             'cfg_addr and str())' % name)\n"
    "    def __str__(self):\n"
    "        return self._name\n"
    "    def __repr__(self):\n"
    "        return '<wsgihost listener %s>' % self._name\n"
    "\n"
    "LISTENERS = []  # filled by set_listeners() once the sockets are bound\n"
    "\n"
    "class Server:\n"
    "    \"\"\"What gunicorn's hooks get as `server` (its Arbiter).\"\"\"\n"
    "    def __init__(self, cfg, log, pid):\n"
    "        self.cfg, self.log, self.pid = cfg, log, pid\n"
    "        self.address = cfg.address\n"
    "        self.LISTENERS = LISTENERS\n"
    "        self.num_workers = cfg.workers\n"
    "        self.proc_name = cfg.proc_name\n"
    "        self.timeout = cfg.timeout\n"
    "        self.worker_class = cfg.worker_class\n"
    "        self.master_name = 'Master'\n"
    "        self.WORKERS = {}\n"
    "    def __repr__(self):\n"
    "        return '<wsgihost master %s>' % self.pid\n"
    "\n"
    "class Worker:\n"
    "    \"\"\"What gunicorn's hooks get as `worker`.\"\"\"\n"
    "    def __init__(self, age, ppid, cfg, log):\n"
    "        self.age, self.ppid, self.cfg, self.log = age, ppid, cfg, log\n"
    "        self.pid = '[booting]'\n"
    "        self.timeout = cfg.timeout / 2.0\n"
    "        self.booted = self.aborted = False\n"
    "        self.alive = True\n"
    "        self.wsgi = None\n"
    "        self.max_requests = cfg.max_requests or sys.maxsize\n"
    "        self.sockets = LISTENERS\n"
    "    def __str__(self):\n"
    "        return '<Worker %s>' % self.pid\n"
    "\n"
    "class Request:\n"
    "    \"\"\"What pre_request and post_request get as `req`: header names upper-case,\n"
    "    as gunicorn gives them.\"\"\"\n"
    "    def __init__(self, method, uri, path, query, version, headers, scheme, addr):\n"
    "        self.method, self.uri, self.path, self.query = method, uri, path, query\n"
    "        self.version, self.headers, self.scheme = version, headers, scheme\n"
    "        self.remote_addr = self.peer_addr = addr\n"
    "        self.fragment = ''\n"
    "        self.trailers = []\n"
    "    def __repr__(self):\n"
    "        return '<Request %s %s>' % (self.method, self.uri)\n"
    "\n"
    "class Response:\n"
    "    \"\"\"What post_request gets as `resp`.\"\"\"\n"
    "    def __init__(self, status, headers, sent, length, headers_sent):\n"
    "        self.status, self.headers, self.sent = status, headers, sent\n"
    "        self.response_length, self.headers_sent = length, headers_sent\n"
    "        try:\n"
    "            self.status_code = int(status.split(None, 1)[0])\n"
    "        except (AttributeError, ValueError, IndexError):\n"
    "            self.status_code = None\n"
    "    def __repr__(self):\n"
    "        return '<Response %s>' % self.status\n"
    "\n"
    "class ErrorLogHandler(logging.Handler):\n"
    "    \"\"\"Records of the gunicorn.error logger into wsgihost's error log.\"\"\"\n"
    "    def emit(self, record):\n"
    "        try:\n"
    "            _emit(record.levelno, self.format(record))\n"
    "        except Exception:\n"
    "            self.handleError(record)\n"
    "\n"
    "class AccessLogHandler(logging.Handler):\n"
    "    \"\"\"Records of the gunicorn.access logger into wsgihost's access log.\"\"\"\n"
    "    def emit(self, record):\n"
    "        try:\n"
    "            _access(self.format(record))\n"
    "        except Exception:\n"
    "            self.handleError(record)\n"
    "\n"
    "def resolve(name, value):\n"
    "    \"\"\"A hook given as 'module.function' (gunicorn takes that too).\"\"\"\n"
    "    import importlib\n"
    "    mod, _, attr = value.rpartition('.')\n"
    "    try:\n"
    "        return getattr(importlib.import_module(mod), attr)\n"
    "    except (ImportError, AttributeError) as e:\n"
    "        raise TypeError('%s = %r: cannot load it: %s' % (name, value, e)) from None\n"
    "\n"
    "def adapt_post_request(fn):\n"
    "    \"\"\"gunicorn also takes post_request(worker, req[, environ]).\"\"\"\n"
    "    import inspect\n"
    "    for n in (4, 3, 2):\n"
    "        try:\n"
    "            inspect.signature(fn).bind(*range(n))\n"
    "        except TypeError:\n"
    "            continue\n"
    "        except ValueError:\n"
    "            return fn\n"
    "        if n == 4:\n"
    "            return fn\n"
    "        if n == 3:\n"
    "            return lambda worker, req, environ, resp: fn(worker, req, environ)\n"
    "        return lambda worker, req, environ, resp: fn(worker, req)\n"
    "    return fn\n"
    "\n"
    "_FIELD_NAME = None\n"
    "def header_environ(headers):\n"
    "    \"\"\"The environ keys wsgi.c makes of these fields: HTTP_<NAME>, CONTENT_TYPE\n"
    "    and CONTENT_LENGTH; names with '_' or with a byte that is no token character\n"
    "    dropped (RFC 9110 5.6.2); repeats joined (Cookie: '; ').\"\"\"\n"
    "    global _FIELD_NAME\n"
    "    if _FIELD_NAME is None:\n"
    "        import re\n"
    "        _FIELD_NAME = re.compile(r\"[!#$%&'*+\\-.^`|~0-9A-Za-z]+\\Z\")\n"
    "    env = {}\n"
    "    for name, value in headers:\n"
    "        if not isinstance(name, str) or not _FIELD_NAME.match(name):\n"
    "            continue\n"
    "        key = name.upper().replace('-', '_')\n"
    "        if key not in ('CONTENT_TYPE', 'CONTENT_LENGTH'):\n"
    "            key = 'HTTP_' + key\n"
    "        if key in env:\n"
    "            env[key] += ('; ' if key == 'HTTP_COOKIE' else ',') + value\n"
    "        else:\n"
    "            env[key] = value\n"
    "    return env\n"
    "\n"
    "def adapt_pre_request(fn):\n"
    "    \"\"\"gunicorn builds the environ from req after pre_request, so what the hook\n"
    "    changes in req.headers, .method, .uri, .path and .query reaches the app.\n"
    "    wsgi.c builds it from the parsed request; this carries the changes over.\"\"\"\n"
    "    from urllib.parse import unquote_to_bytes\n"
    "    def pre_request(worker, req, environ):\n"
    "        seen = (req.method, req.uri, req.path, req.query, list(req.headers))\n"
    "        fn(worker, req)\n"
    "        if req.headers != seen[4]:\n"
    "            before, after = header_environ(seen[4]), header_environ(req.headers)\n"
    "            for k in before.keys() - after.keys():\n"
    "                del environ[k]\n"
    "            for k, v in after.items():\n"
    "                if before.get(k) != v:\n"
    "                    environ[k] = v\n"
    "        if req.method != seen[0]:\n"
    "            environ['REQUEST_METHOD'] = req.method\n"
    "        if req.uri != seen[1]:\n"
    "            environ['RAW_URI'] = environ['REQUEST_URI'] = req.uri\n"
    "        if req.query != seen[3]:\n"
    "            environ['QUERY_STRING'] = req.query\n"
    "        if req.path != seen[2]:\n"
    "            script, path = environ.get('SCRIPT_NAME', ''), req.path\n"
    "            if script and path != script and not path.startswith(script + '/'):\n"
    "                raise ValueError('pre_request set req.path to %r, outside SCRIPT_NAME %r'\n"
    "                                 % (path, script))\n"
    "            environ['PATH_INFO'] = unquote_to_bytes(\n"
    "                path[len(script):].encode('latin-1')).decode('latin-1')\n"
    "    return pre_request\n"
    "\n"
    "class Hooks:\n"
    "    \"\"\"The config file run once in this process, its hooks and the objects\n"
    "    they get. wsgi_hooks.c calls the methods.\"\"\"\n"
    "    def __init__(self, path, settings, pid, log_defaults):\n"
    "        self.path, self.log_defaults = path, log_defaults\n"
    "        self.log = Log()\n"
    "        self.slots = {}\n"
    "        self.worker = None\n"
    "        self.load(settings)\n"
    "        self.server = Server(self.cfg, self.log, pid)\n"
    "    def load(self, settings):\n"
    "        ns = {'__file__': self.path, '__name__': '__config__'}\n"
    "        with open(self.path, 'rb') as f:\n"
    "            code = compile(f.read(), self.path, 'exec')\n"
    "        exec(code, ns)\n"
    "        values = {k: v for k, v in ns.items() if not k.startswith('_') and\n"
    "                  k not in HOOKS and not callable(v) and\n"
    "                  not isinstance(v, types.ModuleType)}\n"
    "        values.update(settings)\n"
    "        self.ns, self.cfg = ns, Config(values)\n"
    "        fns = {}\n"
    "        for name in HOOKS:\n"
    "            v = ns.get(name)\n"
    "            if v is None:\n"
    "                continue\n"
    "            fns[name] = resolve(name, v) if isinstance(v, str) else v\n"
    "        if 'pre_request' in fns:\n"
    "            fns['pre_request'] = adapt_pre_request(fns['pre_request'])\n"
    "        if 'post_request' in fns:\n"
    "            fns['post_request'] = adapt_post_request(fns['post_request'])\n"
    "        self.fns = fns\n"
    "    def reload(self, settings):\n"
    "        self.load(settings)\n"
    "        self.server.cfg = self.cfg\n"
    "        self.server.proc_name = self.cfg.proc_name\n"
    "        self.server.timeout = self.cfg.timeout\n"
    "    def fn(self, name):\n"
    "        return self.fns.get(name)\n"
    "    def setup_logging(self, level):\n"
    "        lcd, lcf = self.ns.get('logconfig_dict'), self.ns.get('logconfig')\n"
    "        if lcd:\n"
    "            merged = dict(self.log_defaults)\n"
    "            merged.update(lcd)\n"
    "            loggers = {k: v for k, v in (merged.get('loggers') or {}).items()\n"
    "                       if k not in ('gunicorn.error', 'gunicorn.access')}\n"
    "            handlers = merged.get('handlers') or {}\n"
    "            used = set((merged.get('root') or {}).get('handlers') or [])\n"
    "            for spec in loggers.values():\n"
    "                used.update((spec or {}).get('handlers') or [])\n"
    "            todo = list(used)  # (the config script's applied() checks the same)\n"
    "            while todo:  # handlers that hand records on (MemoryHandler's target)\n"
    "                spec = handlers.get(todo.pop()) or {}\n"
    "                for h in [spec.get('target')] + list(spec.get('handlers') or []):\n"
    "                    if isinstance(h, str) and h in handlers and h not in used:\n"
    "                        used.add(h)\n"
    "                        todo.append(h)\n"
    "            merged['loggers'] = loggers\n"
    "            merged['handlers'] = {k: v for k, v in handlers.items() if k in used}\n"
    "            logging.config.dictConfig(merged)\n"
    "        elif lcf:\n"
    "            logging.config.fileConfig(lcf, defaults={'__file__': lcf,\n"
    "                                      'here': os.path.dirname(lcf)},\n"
    "                                      disable_existing_loggers=False)\n"
    "        for name, cls, lvl in (('gunicorn.error', ErrorLogHandler, level),\n"
    "                               ('gunicorn.access', AccessLogHandler, 20)):\n"
    "            lg = logging.getLogger(name)\n"
    "            for h in list(lg.handlers):\n"
    "                lg.removeHandler(h)\n"
    "                h.close()\n"
    "            lg.addHandler(cls())\n"
    "            lg.setLevel(lvl)\n"
    "            lg.propagate = False\n"
    "            lg.disabled = False\n"
    "    def call_server(self, name):\n"
    "        self.fns[name](self.server)\n"
    "    def nworkers_changed(self, new, old):\n"
    "        self.server.num_workers = new\n"
    "        f = self.fns.get('nworkers_changed')\n"
    "        if f is not None:\n"
    "            f(self.server, new, old)\n"
    "    def pre_fork(self, slot, age):\n"
    "        w = Worker(age, self.server.pid, self.cfg, self.log)\n"
    "        self.slots[slot] = w\n"
    "        f = self.fns.get('pre_fork')\n"
    "        if f is not None:\n"
    "            f(self.server, w)\n"
    "    def forked(self, slot, pid):\n"
    "        w = self.slots.get(slot)\n"
    "        if w is not None:\n"
    "            w.pid = pid\n"
    "            self.server.WORKERS[pid] = w\n"
    "    def child_exit(self, slot, pid):\n"
    "        w = self.slots.pop(slot, None)\n"
    "        self.server.WORKERS.pop(pid, None)\n"
    "        if w is None:\n"
    "            w = Worker(0, self.server.pid, self.cfg, self.log)\n"
    "            w.pid = pid\n"
    "        f = self.fns.get('child_exit')\n"
    "        if f is not None:\n"
    "            f(self.server, w)\n"
    "    def set_listeners(self, items):\n"
    "        LISTENERS[:] = [Listener(*item) for item in items]\n"
    "    def worker_init(self, slot, age, ppid):\n"
    "        w = self.slots.get(slot)\n"
    "        if w is None:\n"
    "            w = Worker(age, ppid, self.cfg, self.log)\n"
    "        w.pid = os.getpid()\n"
    "        self.slots.clear()\n"
    "        self.worker = w\n"
    "        return w\n"
    "    def post_fork(self):\n"
    "        self.fns['post_fork'](self.server, self.worker)\n"
    "    def post_worker_init(self, app):\n"
    "        self.worker.wsgi = app\n"
    "        f = self.fns.get('post_worker_init')\n"
    "        if f is not None:\n"
    "            f(self.worker)\n"
    "        self.worker.booted = True\n"
    "    def worker_int(self):\n"
    "        self.worker.alive = False\n"
    "        self.fns['worker_int'](self.worker)\n"
    "    def worker_abort(self):\n"
    "        self.worker.alive = False\n"
    "        self.worker.aborted = True\n"
    "        self.fns['worker_abort'](self.worker)\n"
    "    def worker_exit(self):\n"
    "        self.worker.alive = False\n"
    "        self.fns['worker_exit'](self.server, self.worker)\n";

static PyObject *ns;                       /* the runtime's globals (classes, helpers) */
static PyObject *rt;                       /* the Hooks instance; NULL: no hooks in this process */
static unsigned defined;                   /* 1u << enum config_hook the file defines */
static bool master_side;                   /* this process is the master and runs master hooks */
static bool single_mode;                   /* no master: this process serves */
static int spawn_slot = -1, spawn_age = 1; /* the worker being forked (C only) */

bool wsgi_hooks_per_request;
/* For the per-request path (worker only): the worker object and the two
 * hooks are owned, the classes borrowed from ns. */
static PyObject *worker_obj, *fn_pre_request, *fn_post_request, *request_cls, *response_cls;

/* The interpreter is about to go: the abort watcher must not enter it. */
static atomic_bool finishing;

static bool
has(enum config_hook h)
{
    return (defined & (1u << h)) != 0;
}

/* ---- what the Python side calls ---------------------------------------- */

/* _emit(level, text): one error-log record; a multi-line text (a traceback)
 * keeps its lines after the first as they are. */
static PyObject *
py_emit(PyObject *self, PyObject *args)
{
    int level;
    const char *text;
    Py_ssize_t n;
    (void)self;
    if (!PyArg_ParseTuple(args, "is#", &level, &text, &n)) {
        return NULL;
    }
    if (log_enabled(level)) {
        const char *nl = memchr(text, '\n', (size_t)n);
        size_t first = nl != NULL ? (size_t)(nl - text) : (size_t)n;
        log_msg(level, "%.*s", (int)first, text);
        if (nl != NULL && (size_t)n > first + 1) {
            log_write_raw(nl + 1, (size_t)n - first - 1);
            log_write_raw("\n", 1);
        }
    }
    Py_RETURN_NONE;
}

static PyObject *
py_enabled(PyObject *self, PyObject *arg)
{
    (void)self;
    long level = PyLong_AsLong(arg);
    if (level == -1 && PyErr_Occurred()) {
        return NULL;
    }
    return PyBool_FromLong(log_enabled((int)level));
}

static PyObject *
py_access(PyObject *self, PyObject *args)
{
    const char *text;
    Py_ssize_t n;
    (void)self;
    if (!PyArg_ParseTuple(args, "s#", &text, &n)) {
        return NULL;
    }
    log_access_raw(text, (size_t)n);
    Py_RETURN_NONE;
}

static PyObject *
py_reopen(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    log_reopen();
    Py_RETURN_NONE;
}

static PyMethodDef builtins[] = {
    {"_emit", py_emit, METH_VARARGS, NULL},
    {"_enabled", py_enabled, METH_O, NULL},
    {"_access", py_access, METH_VARARGS, NULL},
    {"_reopen", py_reopen, METH_NOARGS, NULL},
    {NULL, NULL, 0, NULL},
};

/* ---- server.cfg ---------------------------------------------------------- */

/* d[key] = v (stolen); false (exception set) on failure. */
static bool
put(PyObject *d, const char *key, PyObject *v)
{
    if (v == NULL) {
        return false;
    }
    int rc = PyDict_SetItemString(d, key, v);
    Py_DECREF(v);
    return rc == 0;
}

static PyObject *
str_or_none(const char *s)
{
    return s != NULL ? PyUnicode_DecodeFSDefault(s) : Py_NewRef(Py_None);
}

/* gunicorn keeps whole seconds as int. */
static PyObject *
seconds(double v)
{
    return v == (double)(long)v ? PyLong_FromLong((long)v) : PyFloat_FromDouble(v);
}

static const char *
level_name(int level)
{
    return level <= LOG_DEBUG     ? "debug"
           : level <= LOG_INFO    ? "info"
           : level <= LOG_WARNING ? "warning"
           : level <= LOG_ERROR   ? "error"
                                  : "critical";
}

/* "127.0.0.1:8000" -> ('127.0.0.1', 8000), "[::1]:80" -> ('::1', 80),
 * "unix:/p" -> '/p': gunicorn's cfg.address. */
static PyObject *
address_of(const char *b)
{
    if (strncmp(b, "unix:", 5) == 0) {
        return PyUnicode_DecodeFSDefault(b + 5);
    }
    const char *colon = strrchr(b, ':');
    if (colon == NULL) {
        return PyUnicode_DecodeFSDefault(b);
    }
    const char *h = b;
    size_t hl = (size_t)(colon - b);
    if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
        h++;
        hl -= 2;
    }
    return Py_BuildValue("(s#i)", h, (Py_ssize_t)hl, atoi(colon + 1));
}

/* The settings as wsgihost resolved them, by gunicorn's names. */
static PyObject *
settings_dict(const struct config *c)
{
    static const char *default_bind = "127.0.0.1:8000";
    const char *const *binds = c->n_binds ? c->binds : &default_bind;
    size_t n_binds = c->n_binds ? c->n_binds : 1;
    PyObject *d = PyDict_New();
    PyObject *bind = PyList_New(0), *address = PyList_New(0), *raw_env = PyList_New(0);
    PyObject *env = PyDict_New();
    bool ok = d && bind && address && raw_env && env;
    for (size_t i = 0; ok && i < n_binds; i++) {
        PyObject *s = PyUnicode_DecodeFSDefault(binds[i]);
        PyObject *a = address_of(binds[i]);
        ok = s && a && PyList_Append(bind, s) == 0 && PyList_Append(address, a) == 0;
        Py_XDECREF(s);
        Py_XDECREF(a);
    }
    for (size_t i = 0; ok && i < c->n_env; i++) {
        const char *eq = strchr(c->env[i], '=');
        PyObject *s = PyUnicode_DecodeFSDefault(c->env[i]);
        PyObject *k = PyUnicode_DecodeFSDefaultAndSize(c->env[i], eq - c->env[i]);
        PyObject *v = PyUnicode_DecodeFSDefault(eq + 1);
        ok = s && k && v && PyList_Append(raw_env, s) == 0 && PyDict_SetItem(env, k, v) == 0;
        Py_XDECREF(s);
        Py_XDECREF(k);
        Py_XDECREF(v);
    }
    char cwd[4096], pp[4096] = "", fwd[1024], pallow[1024];
    if (c->chdir == NULL && getcwd(cwd, sizeof(cwd)) == NULL) {
        snprintf(cwd, sizeof(cwd), ".");
    }
    for (size_t i = 0, o = 0; i < c->n_pythonpath && o < sizeof(pp); i++) {
        o += (size_t)snprintf(pp + o, sizeof(pp) - o, "%s%s", i ? "," : "", c->pythonpath[i]);
    }
    ip_allow_format(&c->forwarded_allow, fwd, sizeof(fwd));
    ip_allow_format(&c->proxy_allow, pallow, sizeof(pallow));
    ok = ok && put(d, "bind", Py_NewRef(bind)) && put(d, "address", Py_NewRef(address)) &&
         put(d, "raw_env", Py_NewRef(raw_env)) && put(d, "env", Py_NewRef(env)) &&
         put(d, "workers", PyLong_FromLong(c->workers > 0 ? c->workers : 1)) &&
         put(d, "threads", PyLong_FromLong(c->threads)) &&
         put(d, "worker_class", PyUnicode_FromString(c->threads > 1 ? "gthread" : "sync")) &&
         put(d, "worker_class_str", PyUnicode_FromString(c->threads > 1 ? "gthread" : "sync")) &&
         put(d, "timeout", seconds(c->timeout)) &&
         put(d, "graceful_timeout", seconds(c->graceful_timeout)) &&
         put(d, "keepalive", seconds(c->keepalive)) &&
         put(d, "header_timeout", seconds(c->header_timeout)) &&
         put(d, "body_timeout", seconds(c->body_timeout)) &&
         put(d, "send_timeout", seconds(c->send_timeout)) &&
         put(d, "backlog", PyLong_FromLong(c->backlog)) &&
         put(d, "max_requests", PyLong_FromUnsignedLongLong(c->max_requests)) &&
         put(d, "max_requests_jitter", PyLong_FromUnsignedLongLong(c->max_requests_jitter)) &&
         put(d, "worker_connections", PyLong_FromLong(c->worker_connections)) &&
         put(d, "preload_app", PyBool_FromLong(c->preload)) &&
         put(d, "reload", PyBool_FromLong(c->reload)) && put(d, "daemon", Py_NewRef(Py_False)) &&
         put(d, "accesslog", str_or_none(c->access_logfile)) &&
         put(d, "access_log_format",
             PyUnicode_FromString(c->access_logformat ? c->access_logformat
                                                      : LOG_DEFAULT_ACCESS_FORMAT)) &&
         put(d, "errorlog", PyUnicode_DecodeFSDefault(c->error_logfile ? c->error_logfile : "-")) &&
         put(d, "loglevel", PyUnicode_FromString(level_name(c->log_level))) &&
         put(d, "capture_output", PyBool_FromLong(c->capture_output)) &&
         put(d, "pidfile", str_or_none(c->pidfile)) && put(d, "user", str_or_none(c->user)) &&
         put(d, "group", str_or_none(c->group)) &&
         put(d, "umask", PyLong_FromLong(c->umask >= 0 ? c->umask : 0)) &&
         put(d, "chdir", str_or_none(c->chdir ? c->chdir : cwd)) &&
         put(d, "pythonpath", str_or_none(c->n_pythonpath ? pp : NULL)) &&
         put(d, "proc_name", str_or_none(c->proc_name ? c->proc_name : c->app_spec)) &&
         put(d, "default_proc_name", str_or_none(c->app_spec)) &&
         put(d, "wsgi_app", str_or_none(c->app_spec)) &&
         put(d, "config", str_or_none(c->config_file)) &&
         put(d, "limit_request_line", PyLong_FromSize_t(c->limit_request_line)) &&
         put(d, "limit_request_fields", PyLong_FromSize_t(c->limit_request_fields)) &&
         put(d, "limit_request_field_size", PyLong_FromSize_t(c->limit_request_field_size)) &&
         put(d, "limit_request_body", PyLong_FromUnsignedLongLong(c->limit_request_body)) &&
         put(d, "body_buffer_size", PyLong_FromSize_t(c->body_buffer_size)) &&
         put(d, "certfile", str_or_none(c->certfile)) &&
         put(d, "keyfile", str_or_none(c->keyfile)) &&
         put(d, "ca_certs", str_or_none(c->ca_certs)) &&
         put(d, "cert_reqs", PyLong_FromLong(c->cert_reqs)) &&
         put(d, "ciphers", str_or_none(c->ciphers)) &&
         put(d, "is_ssl", PyBool_FromLong(c->certfile != NULL)) &&
         put(d, "forwarded_allow_ips", PyUnicode_FromString(fwd)) &&
         put(d, "proxy_protocol", PyBool_FromLong(c->proxy_protocol)) &&
         put(d, "proxy_allow_ips", PyUnicode_FromString(pallow)) &&
         put(d, "strict_wsgi", PyBool_FromLong(c->strict_wsgi)) &&
         put(d, "virtualenv", str_or_none(c->virtualenv)) &&
         put(d, "python_executable", str_or_none(c->python_executable));
    Py_XDECREF(bind);
    Py_XDECREF(address);
    Py_XDECREF(raw_env);
    Py_XDECREF(env);
    if (!ok) {
        Py_XDECREF(d);
        return NULL;
    }
    return d;
}

/* ---- loading ------------------------------------------------------------ */

/* The runtime's classes in a namespace of their own. GIL held; 0 or -1
 * with an exception set. */
static int
make_namespace(void)
{
    if (ns != NULL) {
        return 0;
    }
    PyObject *g = PyDict_New();
    if (g == NULL || PyDict_SetItemString(g, "__builtins__", PyEval_GetBuiltins()) < 0) {
        Py_XDECREF(g);
        return -1;
    }
    PyObject *name = PyUnicode_FromString("wsgihost.hooks");
    if (!put(g, "__name__", name)) {
        Py_DECREF(g);
        return -1;
    }
    for (PyMethodDef *m = builtins; m->ml_name != NULL; m++) {
        if (!put(g, m->ml_name, PyCFunction_New(m, NULL))) {
            Py_DECREF(g);
            return -1;
        }
    }
    PyObject *r = PyRun_String(hooks_runtime, Py_file_input, g, g);
    if (r == NULL) {
        Py_DECREF(g);
        return -1;
    }
    Py_DECREF(r);
    ns = g;
    return 0;
}

/* Run the config file here: rt = Hooks(path, settings, master_pid, the
 * logging defaults), and set up logging. GIL held. 0, or -1 logged. */
static int
load(const struct config *c, int master_pid)
{
    PyObject *settings = NULL, *defaults = NULL, *r = NULL;
    int rc = -1;
    if (make_namespace() < 0) {
        goto out;
    }
    PyObject *cls = PyDict_GetItemString(ns, "Hooks"); /* borrowed */
    settings = settings_dict(c);
    defaults = PyRun_String(config_log_defaults, Py_eval_input, ns, ns);
    if (cls == NULL || settings == NULL || defaults == NULL) {
        goto out;
    }
    rt = PyObject_CallFunction(cls, "sOiO", c->config_file, settings, master_pid, defaults);
    if (rt == NULL) {
        goto out;
    }
    r = PyObject_CallMethod(rt, "setup_logging", "i", c->log_level);
    if (r == NULL) {
        Py_CLEAR(rt);
        goto out;
    }
    rc = 0;
out:
    if (rc < 0) {
        log_error("the config file %s failed when run for its server hooks and logging:",
                  c->config_file);
        pyrt_log_exception();
    }
    Py_XDECREF(r);
    Py_XDECREF(defaults);
    Py_XDECREF(settings);
    return rc;
}

static bool
wanted(const struct config *c)
{
    return c->config_file != NULL && (c->hooks != 0 || c->py_logging);
}

int
wsgi_hooks_start(const struct config *c, bool single)
{
    defined = c->hooks;
    single_mode = single;
    if (!wanted(c)) {
        return 0;
    }
    /* Where an interpreter already is (python3.X's, --preload's) or must be
     * anyway (one process serves, a master hook): here, once, and the
     * workers inherit it by fork. Else each worker runs the file. */
    bool master_hooks = (c->hooks & CONFIG_MASTER_HOOKS) != 0;
    if (!(single || c->preload || pyrt_initialized() || master_hooks)) {
        return 0;
    }
    if (pyrt_init(c) != 0) {
        return -1;
    }
    pyrt_enter();
    int rc = load(c, (int)getpid());
    pyrt_leave();
    master_side = rc == 0 && (single || master_hooks);
    return rc;
}

/* Call rt.method(args...) for hook h; a raise is logged, with what follows. */
static int
call(enum config_hook h, const char *what_next, const char *method, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    PyObject *args = fmt[0] ? Py_VaBuildValue(fmt, ap) : PyTuple_New(0);
    va_end(ap);
    PyObject *fn = args ? PyObject_GetAttrString(rt, method) : NULL;
    PyObject *r = NULL;
    if (fn != NULL) {
        PyObject *t = PyTuple_Check(args) ? Py_NewRef(args) : PyTuple_Pack(1, args);
        r = t ? PyObject_Call(fn, t, NULL) : NULL;
        Py_XDECREF(t);
    }
    Py_XDECREF(fn);
    Py_XDECREF(args);
    if (r == NULL) {
        log_error("Exception in the %s hook%s", config_hook_name(h), what_next);
        pyrt_log_exception();
        return -1;
    }
    Py_DECREF(r);
    return 0;
}

/* The bound sockets, for server.LISTENERS (main.c's array, inherited by
 * the workers with the rest of memory). */
static const struct listener *hook_ls;
static size_t hook_n_ls;

/* rt's LISTENERS from hook_ls (GIL held). -1 after logging. */
static int
publish_listeners(void)
{
    PyObject *items = PyList_New((Py_ssize_t)hook_n_ls);
    for (size_t i = 0; items != NULL && i < hook_n_ls; i++) {
        const struct listener *l = &hook_ls[i];
        PyObject *item =
            l->is_unix
                ? Py_BuildValue("(isNO)", l->fd, l->display,
                                PyUnicode_DecodeFSDefault(l->unix_path ? l->unix_path : l->host),
                                Py_True)
                : Py_BuildValue("(is(si)O)", l->fd, l->display, l->host, atoi(l->port), Py_False);
        if (item == NULL) {
            Py_CLEAR(items);
            break;
        }
        PyList_SET_ITEM(items, (Py_ssize_t)i, item);
    }
    PyObject *r = items ? PyObject_CallMethod(rt, "set_listeners", "O", items) : NULL;
    Py_XDECREF(items);
    if (r == NULL) {
        log_error("the config file's hooks: server.LISTENERS could not be made:");
        pyrt_log_exception();
        return -1;
    }
    Py_DECREF(r);
    return 0;
}

int
wsgi_hooks_listeners(const struct listener *ls, size_t n)
{
    hook_ls = ls;
    hook_n_ls = n;
    if (rt == NULL) {
        return 0;
    }
    pyrt_enter();
    int rc = publish_listeners();
    pyrt_leave();
    return rc;
}

int
wsgi_hooks_server(enum config_hook h)
{
    if (rt == NULL || !master_side || !has(h)) {
        return 0;
    }
    pyrt_enter();
    int rc = call(h,
                  h == HOOK_ON_EXIT   ? ""
                  : h == HOOK_PRE_EXEC ? ": no new master; the old one serves on"
                                       : ": stopping (gunicorn stops on it too)",
                  "call_server", "(s)", config_hook_name(h));
    pyrt_leave();
    return rc;
}

int
wsgi_hooks_nworkers_changed(int new_value, int old_value)
{
    if (rt == NULL || !master_side || single_mode || !has(HOOK_NWORKERS_CHANGED)) {
        return 0;
    }
    pyrt_enter();
    int rc;
    if (old_value < 0) {
        rc = call(HOOK_NWORKERS_CHANGED, ": stopping (gunicorn stops on it too)",
                  "nworkers_changed", "(iO)", new_value, Py_None);
    } else {
        rc = call(HOOK_NWORKERS_CHANGED, ": stopping (gunicorn stops on it too)",
                  "nworkers_changed", "(ii)", new_value, old_value);
    }
    pyrt_leave();
    return rc;
}

int
wsgi_hooks_pre_fork(int slot, int age)
{
    spawn_slot = slot;
    spawn_age = age;
    if (rt == NULL || !master_side) {
        return 0;
    }
    pyrt_enter();
    int rc =
        call(HOOK_PRE_FORK, ": stopping (gunicorn stops on it too)", "pre_fork", "(ii)", slot, age);
    pyrt_leave();
    return rc;
}

void
wsgi_hooks_forked(int slot, int pid)
{
    if (rt == NULL || !master_side) {
        return;
    }
    pyrt_enter();
    PyObject *r = PyObject_CallMethod(rt, "forked", "ii", slot, pid);
    if (r == NULL) {
        pyrt_log_exception();
    }
    Py_XDECREF(r);
    pyrt_leave();
}

int
wsgi_hooks_child_exit(int slot, int pid)
{
    if (rt == NULL || !master_side) {
        return 0;
    }
    pyrt_enter();
    int rc = call(HOOK_CHILD_EXIT, ": stopping (gunicorn stops on it too)", "child_exit", "(ii)",
                  slot, pid);
    pyrt_leave();
    return rc;
}

int
wsgi_hooks_reload(const struct config *c)
{
    bool had = rt != NULL;
    defined = c->hooks;
    if (!had) {
        /* Hooks new in the file: where wsgi_hooks_start() would run it. */
        return wsgi_hooks_start(c, false);
    }
    pyrt_enter();
    int rc = -1;
    PyObject *settings = settings_dict(c);
    PyObject *r = settings ? PyObject_CallMethod(rt, "reload", "O", settings) : NULL;
    if (r != NULL) {
        Py_DECREF(r);
        r = PyObject_CallMethod(rt, "setup_logging", "i", c->log_level);
    }
    if (r == NULL) {
        log_error("reload: the config file %s failed when run for its server hooks:",
                  c->config_file);
        pyrt_log_exception();
    } else {
        rc = 0;
    }
    Py_XDECREF(r);
    Py_XDECREF(settings);
    master_side = (c->hooks & CONFIG_MASTER_HOOKS) != 0;
    pyrt_leave();
    return rc;
}

/* ---- the worker --------------------------------------------------------- */

static void *
abort_watcher(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char ch;
    ssize_t n;
    do {
        n = read(fd, &ch, 1);
    } while (n < 0 && errno == EINTR);
    if (n != 1 || atomic_load(&finishing)) {
        _exit(1);
    }
    /* The loop thread is most likely stuck in the app (that is why the
     * master sent SIGABRT): this thread takes the GIL as soon as the app
     * lets it go (a switch interval at most, unless a C call never
     * releases it: then the master's SIGKILL follows). gunicorn runs the
     * hook and exits; its worker_exit follows as the exit unwinds. */
    PyGILState_STATE g = PyGILState_Ensure();
    call(HOOK_WORKER_ABORT, "", "worker_abort", "");
    if (has(HOOK_WORKER_EXIT)) {
        call(HOOK_WORKER_EXIT, "", "worker_exit", "");
    }
    log_info("Worker exiting (pid: %d)", (int)getpid());
    PyGILState_Release(g);
    _exit(1);
    return NULL;
}

static void
start_abort_watcher(void)
{
    int fd = sig_abort_fd();
    if (fd < 0) {
        return;
    }
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    if (pthread_create(&t, &attr, abort_watcher, (void *)(intptr_t)fd) != 0) {
        log_error("worker_abort: cannot start its thread: the hook will not run");
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
}

/* rt's attribute (a new reference), None -> NULL. */
static PyObject *
hook_fn(const char *name)
{
    PyObject *f = PyObject_CallMethod(rt, "fn", "s", name);
    if (f == Py_None) {
        Py_CLEAR(f);
    }
    return f;
}

int
wsgi_hooks_worker_start(const struct config *c, bool single)
{
    defined = c->hooks;
    if (!wanted(c)) {
        return 0;
    }
    int rc = -1;
    pyrt_enter();
    int master_pid = single ? (int)getpid() : (int)getppid();
    if (rt == NULL && (load(c, master_pid) < 0 || (hook_ls != NULL && publish_listeners() < 0))) {
        goto out;
    }
    if (rt != NULL && ns != NULL) {
        if (!single) {
            /* The master's logging (when it ran the file) was inherited;
             * configured again here, each worker has its own files. */
            PyObject *r = PyObject_CallMethod(rt, "setup_logging", "i", c->log_level);
            if (r == NULL) {
                log_error("logconfig in the config file %s failed:", c->config_file);
                pyrt_log_exception();
                goto out;
            }
            Py_DECREF(r);
        }
        worker_obj = PyObject_CallMethod(rt, "worker_init", "iii", single ? 0 : spawn_slot,
                                         single ? 1 : spawn_age, master_pid);
        request_cls = PyDict_GetItemString(ns, "Request");   /* borrowed, ns lives on */
        response_cls = PyDict_GetItemString(ns, "Response"); /* borrowed */
        fn_pre_request = hook_fn("pre_request");
        fn_post_request = hook_fn("post_request");
        if (worker_obj == NULL || request_cls == NULL || response_cls == NULL || PyErr_Occurred()) {
            pyrt_log_exception();
            goto out;
        }
        wsgi_hooks_per_request = fn_pre_request != NULL || fn_post_request != NULL;
    }
    if (has(HOOK_WORKER_ABORT) && !single) {
        start_abort_watcher();
    }
    rc = has(HOOK_POST_FORK)
             ? call(HOOK_POST_FORK, ": the worker does not boot (as in gunicorn)", "post_fork", "")
             : 0;
out:
    pyrt_leave();
    return rc;
}

int
wsgi_hooks_post_worker_init(void)
{
    if (rt == NULL || worker_obj == NULL) {
        return 0;
    }
    pyrt_enter();
    PyObject *app = pyrt_app();
    int rc = call(HOOK_POST_WORKER_INIT, ": the worker does not boot (as in gunicorn)",
                  "post_worker_init", "(O)", app != NULL ? app : Py_None);
    pyrt_leave();
    return rc;
}

void
wsgi_hooks_worker_int(void)
{
    if (rt == NULL || worker_obj == NULL || !has(HOOK_WORKER_INT)) {
        return;
    }
    pyrt_enter();
    call(HOOK_WORKER_INT, "", "worker_int", "");
    pyrt_leave();
}

void
wsgi_hooks_worker_exit(void)
{
    if (rt == NULL || worker_obj == NULL || !has(HOOK_WORKER_EXIT)) {
        return;
    }
    pyrt_enter();
    call(HOOK_WORKER_EXIT, "", "worker_exit", "");
    pyrt_leave();
}

bool
wsgi_hooks_here(void)
{
    return rt != NULL;
}

void
wsgi_hooks_finish(void)
{
    atomic_store(&finishing, true);
    if (ns == NULL && rt == NULL) {
        return;
    }
    pyrt_enter();
    wsgi_hooks_per_request = false;
    Py_CLEAR(fn_pre_request);
    Py_CLEAR(fn_post_request);
    Py_CLEAR(worker_obj);
    request_cls = response_cls = NULL;
    Py_CLEAR(rt);
    Py_CLEAR(ns);
    master_side = false;
    pyrt_leave();
}

/* ---- per request (GIL held) --------------------------------------------- */

static PyObject *
latin1(const char *p, size_t n)
{
    return PyUnicode_DecodeLatin1(p, (Py_ssize_t)n, NULL);
}

/* gunicorn's req.headers: [(NAME, value)] in arrival order, names upper-case. */
static PyObject *
request_headers(const struct http_req *req)
{
    PyObject *list = PyList_New((Py_ssize_t)req->n_headers);
    for (size_t i = 0; list != NULL && i < req->n_headers; i++) {
        const struct hfield *h = &req->headers[i];
        /* llhttp's strict mode leaves only token bytes (ASCII) in names. */
        PyObject *name = PyUnicode_New((Py_ssize_t)h->name_len, 127);
        PyObject *value = latin1(h->value, h->value_len);
        if (name != NULL) {
            Py_UCS1 *d = PyUnicode_1BYTE_DATA(name);
            for (size_t k = 0; k < h->name_len; k++) {
                unsigned char ch = (unsigned char)h->name[k];
                d[k] = (Py_UCS1)(ch >= 'a' && ch <= 'z' ? ch - 32 : ch);
            }
        }
        PyObject *pair = name && value ? PyTuple_Pack(2, name, value) : NULL;
        Py_XDECREF(name);
        Py_XDECREF(value);
        if (pair == NULL) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)i, pair);
    }
    return list;
}

int
wsgi_hooks_pre_request(const struct http_req *req, PyObject *environ, PyObject **req_obj)
{
    const struct http_conn_meta *m = req->meta;
    PyObject *addr = m != NULL && m->remote_addr[0]
                         ? Py_BuildValue("(si)", m->remote_addr, m->remote_port)
                         : PyUnicode_FromString("");
    PyObject *args[8] = {
        latin1(req->method, req->method_len),
        latin1(req->target, req->target_len),
        latin1(req->path, req->path_len),
        latin1(req->query, req->query_len),
        Py_BuildValue("(ii)", req->http_major, req->http_minor),
        request_headers(req),
        PyUnicode_FromString(m != NULL && m->url_scheme ? m->url_scheme : "http"),
        addr,
    };
    PyObject *r = NULL;
    bool ok = true;
    for (size_t i = 0; i < countof(args); i++) {
        ok &= args[i] != NULL;
    }
    if (ok) {
        r = PyObject_Vectorcall(request_cls, args, countof(args), NULL);
    }
    for (size_t i = 0; i < countof(args); i++) {
        Py_XDECREF(args[i]);
    }
    *req_obj = r;
    if (r == NULL) {
        return -1;
    }
    if (fn_pre_request != NULL) {
        PyObject *a[3] = {worker_obj, r, environ};
        PyObject *res = PyObject_Vectorcall(fn_pre_request, a, 3, NULL);
        if (res == NULL) {
            return -1;
        }
        Py_DECREF(res);
    }
    return 0;
}

static PyObject *
response_obj(struct http_resp *resp)
{
    size_t n = 0;
    const struct hfield *f = resp->status ? http_resp_fields(resp, &n) : NULL;
    PyObject *headers = PyList_New((Py_ssize_t)n);
    for (size_t i = 0; headers != NULL && i < n; i++) {
        PyObject *pair = Py_BuildValue("(NN)", latin1(f[i].name, f[i].name_len),
                                       latin1(f[i].value, f[i].value_len));
        if (pair == NULL) {
            Py_CLEAR(headers);
            break;
        }
        PyList_SET_ITEM(headers, (Py_ssize_t)i, pair);
    }
    PyObject *args[5] = {
        resp->status ? latin1(resp->status_line.data, resp->status_line.len) : Py_NewRef(Py_None),
        headers,
        PyLong_FromUnsignedLongLong(resp->body_sent),
        resp->content_length >= 0 ? PyLong_FromLongLong(resp->content_length) : Py_NewRef(Py_None),
        PyBool_FromLong(resp->head_sent),
    };
    PyObject *r = NULL;
    bool ok = true;
    for (size_t i = 0; i < countof(args); i++) {
        ok &= args[i] != NULL;
    }
    if (ok) {
        r = PyObject_Vectorcall(response_cls, args, countof(args), NULL);
    }
    for (size_t i = 0; i < countof(args); i++) {
        Py_XDECREF(args[i]);
    }
    return r;
}

void
wsgi_hooks_post_request(PyObject *req_obj, PyObject *environ, struct http_resp *resp)
{
    if (fn_post_request == NULL) {
        return;
    }
    PyObject *env = environ != NULL ? Py_NewRef(environ) : PyDict_New();
    PyObject *r = env != NULL ? response_obj(resp) : NULL;
    PyObject *res = NULL;
    if (r != NULL) {
        PyObject *a[4] = {worker_obj, req_obj, env, r};
        res = PyObject_Vectorcall(fn_post_request, a, 4, NULL);
    }
    if (res == NULL) {
        log_error("Exception in the post_request hook");
        pyrt_log_exception();
    }
    Py_XDECREF(res);
    Py_XDECREF(r);
    Py_XDECREF(env);
}
