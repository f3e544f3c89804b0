"""Realistic gunicorn config files, written from the survey of 81 public ones
in issue 12 (env-driven settings with os.getenv strings, cpu_count()*2+1,
None for unset paths, misspellings, server hooks, logconfig_dict,
Prometheus' child_exit, OpenTelemetry's post_fork, pre/post_request), each
served by wsgihost: every setting's effect is checked, and every hook writes
what it was given to a file ($HOOKS_OUT, one JSON line per call) that the
test reads back."""

import json
import os
import signal
import textwrap
import time

import pytest

from support import APPS, IO_TIMEOUT, SLOW, SERVER_ENV_VARS, build_request, run_binary, wait_for

# Every config file starts with this: rec() appends one record per hook call.
PRELUDE = '''
import json, os
def rec(hook, **kw):
    with open(os.environ["HOOKS_OUT"], "a") as f:
        f.write(json.dumps(dict(hook=hook, pid=os.getpid(), **kw), default=str) + "\\n")
'''


def children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def cmdline(pid):
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        return f.read().rstrip(b"\0").decode()


class Conf:
    """One config file and its hook records."""

    def __init__(self, tmp_path, text, name="gunicorn.conf.py"):
        self.dir = tmp_path
        self.path = tmp_path / name
        self.path.write_text(PRELUDE + textwrap.dedent(text))
        self.out = tmp_path / "hooks.jsonl"

    def env(self, **extra):
        e = {"HOOKS_OUT": str(self.out)}
        e.update(extra)
        return e

    def records(self, hook=None):
        if not self.out.exists():
            return []
        recs = [json.loads(line) for line in self.out.read_text().splitlines() if line]
        return [r for r in recs if hook is None or r["hook"] == hook]

    def hooks(self):
        return [r["hook"] for r in self.records()]

    def wait(self, hook, n=1, timeout=IO_TIMEOUT):
        return wait_for(lambda: len(self.records(hook)) >= n and self.records(hook), timeout,
                        what=f"{n} {hook} record(s); have {self.hooks()}")


def serve(server_factory, conf, *args, app="hooked_app:application", env=None, **kw):
    return server_factory(app, "-c", str(conf.path), *args, env=conf.env(**(env or {})), **kw)


def workers_ready(srv, n, log=None):
    """The master's children once n "Worker ready" lines are in the log
    (the server's stderr and stdout, or the file `log`)."""
    text = (lambda: log.read_text() if log.exists() else "") if log else srv.log
    wait_for(lambda: text().count("Worker ready") >= n, IO_TIMEOUT * 2,
             what=f"{n} workers ready")
    return children(srv.pid)


# 1 --------------------------------------------------------------------------
def test_heroku_style_env_driven_file(server_factory, tmp_path):
    """Strings from os.getenv where gunicorn wants ints, threads, the access
    log on stdout, the level from the environment."""
    conf = Conf(tmp_path, """
        import os
        bind = "0.0.0.0:" + os.getenv("PORT", "5000")
        workers = os.getenv("WEB_CONCURRENCY", "2")
        threads = int(os.getenv("PYTHON_MAX_THREADS", 1))
        worker_class = "gthread"
        timeout = os.getenv("GUNICORN_TIMEOUT", "120")
        keepalive = os.getenv("KEEPALIVE", "2")
        accesslog = "-"
        errorlog = "-"
        loglevel = os.getenv("LOG_LEVEL", "info")
        access_log_format = '%(h)s "%(r)s" %(s)s %(b)s'
        def when_ready(server):
            rec("when_ready", workers=server.cfg.workers, threads=server.cfg.threads,
                timeout=server.cfg.timeout, keepalive=server.cfg.keepalive,
                worker_class=server.cfg.worker_class, bind=server.cfg.bind)
        """)
    srv = serve(server_factory, conf, env={"WEB_CONCURRENCY": "3", "PYTHON_MAX_THREADS": "2",
                                           "LOG_LEVEL": "debug"})
    assert len(workers_ready(srv, 3)) == 3
    r = srv.get("/x?y=1")
    assert r.status == 200 and r.body == b"ok"
    wait_for(lambda: '"GET /x?y=1 HTTP/1.1" 200 2' in srv.stdout(), IO_TIMEOUT,
             what="the access log line")
    assert "[DEBUG]" in srv.log()
    (ready,) = conf.records("when_ready")
    assert ready["pid"] == srv.pid
    # bind from the file is replaced by the test's -b, as the command line wins
    assert ready["workers"] == 3 and ready["threads"] == 2 and ready["timeout"] == 120
    assert ready["keepalive"] == 2 and ready["worker_class"] == "gthread"
    assert ready["bind"] == [f"127.0.0.1:{srv.port}"]


# 2 --------------------------------------------------------------------------
def test_cpu_count_workers_preload_and_recycling(server_factory, tmp_path):
    """The most copied line of all, with preload_app and max_requests."""
    conf = Conf(tmp_path, """
        import multiprocessing
        workers = multiprocessing.cpu_count() * 2 + 1
        preload_app = True
        max_requests = 20
        max_requests_jitter = 5
        graceful_timeout = 5
        def post_fork(server, worker):
            rec("post_fork", wpid=worker.pid, age=worker.age, max_requests=worker.max_requests)
        """)
    srv = serve(server_factory, conf)
    n = (os.cpu_count() or 1) * 2 + 1
    first = set(workers_ready(srv, n))
    assert len(first) == n
    # preload: imported once, by the master, before any post_fork
    imports = conf.records("import")
    assert [r["pid"] for r in imports] == [srv.pid]
    forks = conf.records("post_fork")
    assert sorted(r["age"] for r in forks) == list(range(1, n + 1))
    assert {r["wpid"] for r in forks} == first
    for _ in range(30 * n):
        assert srv.get("/").status == 200
    # every worker took about a fair share: some were recycled after 20-25
    wait_for(lambda: "Autorestarting worker after" in srv.log(), IO_TIMEOUT,
             what="a recycled worker")
    wait_for(lambda: len(conf.records("post_fork")) > n, IO_TIMEOUT, what="a new worker's post_fork")
    assert max(r["age"] for r in conf.records("post_fork")) > n


# 3 --------------------------------------------------------------------------
def test_none_means_unset_and_capture_output(server_factory, tmp_path):
    """None for the paths a file does not use; the error log in a file with
    capture_output: the app's prints, fd-1 writes and stderr land in it."""
    errlog = tmp_path / "error.log"
    conf = Conf(tmp_path, f"""
        pidfile = None
        accesslog = None
        chdir = None
        user = None
        group = None
        certfile = None
        keyfile = None
        errorlog = {str(errlog)!r}
        capture_output = True
        loglevel = "info"
        """)
    srv = serve(server_factory, conf, "-w", "1")
    workers_ready(srv, 1, log=errlog)
    assert srv.get("/print").body == b"printed"
    wait_for(lambda: "sys.stderr from the app" in errlog.read_text(), IO_TIMEOUT,
             what="the app's output in the error log")
    text = errlog.read_text()
    assert "print() from the app" in text and "os.write(1) from the app" in text
    assert "Worker ready" in text and "Listening at" in text
    # nothing of it on the real stdout/stderr, and no access log anywhere
    assert "from the app" not in srv.log()
    assert "GET /print" not in text


def test_capture_output_without_an_error_log_file_says_so(server_factory, tmp_path):
    conf = Conf(tmp_path, "capture_output = True\n")
    srv = serve(server_factory, conf)
    assert "capture_output: the error log is stderr" in srv.log()


# 4 --------------------------------------------------------------------------
def test_misspelled_settings_are_ignored_with_a_suggestion(server_factory, tmp_path):
    conf = Conf(tmp_path, """
        preload = True          # gunicorn's name is preload_app
        worker = 3              # workers
        timout = 10             # timeout
        bind = ["127.0.0.1:1", "127.0.0.1:2"]
        """)
    srv = serve(server_factory, conf, "-w", "2")
    workers_ready(srv, 2)
    err = srv.log()
    assert "preload is not a setting, ignored (as gunicorn does); did you mean preload_app?" in err
    assert "worker is not a setting, ignored (as gunicorn does); did you mean workers?" in err
    assert "timout is not a setting, ignored (as gunicorn does); did you mean timeout?" in err
    # preload not applied: each worker imported the app itself
    wait_for(lambda: len(conf.records("import")) == 2, IO_TIMEOUT, what="two imports")
    assert srv.pid not in {r["pid"] for r in conf.records("import")}


LISTENERS_CONF = """
    import os
    def on_starting(server):
        rec("on_starting", listeners=[str(l) for l in server.LISTENERS])
    def when_ready(server):
        rec("when_ready", listeners=[str(l) for l in server.LISTENERS],
            names=[l.getsockname() for l in server.LISTENERS],
            cfg=[l.cfg_addr for l in server.LISTENERS],
            fds_ok=all(os.fstat(l.fileno()) for l in server.LISTENERS))
        try:
            server.LISTENERS[0].sock
        except AttributeError as e:
            rec("no_sock", why=str(e))
    def post_fork(server, worker):
        rec("post_fork", sockets=[str(l) for l in worker.sockets],
            same=worker.sockets is server.LISTENERS)
    """


@pytest.mark.parametrize("mode", ["w1", "single", "embedded"])
def test_server_listeners_as_gunicorn_lists_them(server_factory, tmp_path, mode):
    """when_ready(server) loops over server.LISTENERS (a systemd notify, a log
    line with the address); gunicorn fills it once the sockets are bound, so
    on_starting sees it empty. worker.sockets is the same list."""
    sock = tmp_path / "app.sock"
    conf = Conf(tmp_path, LISTENERS_CONF)
    args = () if mode == "single" else ("-w", "1")
    env = {"WSGIHOST_EMBEDDED": "1"} if mode == "embedded" else {}
    srv = server_factory("hooked_app:application", "-c", str(conf.path), *args,
                         binds=["127.0.0.1:{port}", f"unix:{sock}"], env=conf.env(**env))
    conf.wait("post_fork")
    assert srv.get("/").status == 200
    tcp = f"http://127.0.0.1:{srv.port}"
    (start,) = conf.records("on_starting")
    assert start["listeners"] == []
    (ready,) = conf.records("when_ready")
    assert ready["listeners"] == [tcp, f"unix:{sock}"]
    assert ready["names"] == [["127.0.0.1", srv.port], str(sock)] == ready["cfg"]
    assert ready["fds_ok"]
    assert "wsgihost listener has no 'sock'" in conf.records("no_sock")[0]["why"]
    (fork,) = conf.records("post_fork")
    assert fork["sockets"] == [tcp, f"unix:{sock}"] and fork["same"]


def test_listeners_in_workers_that_ran_the_file_themselves(server_factory, tmp_path):
    """WSGIHOST_EMBEDDED=1 and no master hook: each worker runs the file, and
    its server.LISTENERS is filled there."""
    conf = Conf(tmp_path, """
        workers = 1
        def post_fork(server, worker):
            rec("post_fork", sockets=[str(l) for l in worker.sockets],
                listeners=[str(l) for l in server.LISTENERS])
        """)
    srv = serve(server_factory, conf, env={"WSGIHOST_EMBEDDED": "1"})
    (fork,) = conf.wait("post_fork")
    assert fork["pid"] != srv.pid  # the worker ran the file
    tcp = f"http://127.0.0.1:{srv.port}"
    assert fork["sockets"] == [tcp] and fork["listeners"] == [tcp]


# 5 --------------------------------------------------------------------------
PROMETHEUS = """
    import os, shutil
    workers = 2
    prom_dir = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    def on_starting(server):
        # the usual clean-up of the multiprocess directory
        shutil.rmtree(prom_dir, ignore_errors=True)
        os.makedirs(prom_dir)
        rec("on_starting", spid=server.pid, address=server.address)
        server.log.info("Prometheus multiprocess dir %s ready", prom_dir)
    def when_ready(server):
        rec("when_ready", spid=server.pid, workers=server.cfg.workers)
    def child_exit(server, worker):
        # prometheus_client.multiprocess.mark_process_dead(worker.pid)
        with open(os.path.join(prom_dir, "dead"), "a") as f:
            f.write("%d\\n" % worker.pid)
        rec("child_exit", wpid=worker.pid, age=worker.age, spid=server.pid,
            known=worker.pid in server.WORKERS)
    """


@pytest.mark.parametrize("embedded", [False, True], ids=["host", "embedded"])
def test_prometheus_multiprocess_child_exit(server_factory, tmp_path, embedded):
    prom = tmp_path / "prom"
    conf = Conf(tmp_path, PROMETHEUS)
    env = {"PROMETHEUS_MULTIPROC_DIR": str(prom)}
    if embedded:
        env["WSGIHOST_EMBEDDED"] = "1"
    srv = serve(server_factory, conf, env=env)
    first = workers_ready(srv, 2)
    (start,) = conf.records("on_starting")
    assert start["pid"] == srv.pid and start["address"] == [["127.0.0.1", srv.port]]
    assert "Prometheus multiprocess dir" in srv.log() and prom.is_dir()
    assert conf.hooks().index("on_starting") < conf.hooks().index("when_ready")
    # a worker that dies is reported with its pid, and replaced
    victim = first[0]
    os.kill(victim, signal.SIGKILL)
    conf.wait("child_exit")
    assert conf.records("child_exit")[0]["wpid"] == victim
    assert conf.records("child_exit")[0]["spid"] == srv.pid
    wait_for(lambda: len(children(srv.pid)) == 2 and victim not in children(srv.pid),
             IO_TIMEOUT, what="the replacement")
    assert srv.stop() == 0
    dead = [int(x) for x in (prom / "dead").read_text().split()]
    assert dead[0] == victim and len(dead) == 3  # the victim, then both at the stop
    assert all(r["pid"] == srv.pid and r["known"] is False for r in conf.records("child_exit"))
    if embedded:
        # the master started the embedded interpreter for its hooks
        assert f"[{srv.pid}] [INFO] Python 3" in srv.log()


# 6 --------------------------------------------------------------------------
OTEL = """
    import os
    workers = 2
    def post_fork(server, worker):
        # opentelemetry: set up the tracer provider in each worker
        server.log.info("Worker spawned (pid: %s)", worker.pid)
        os.environ["OTEL_WORKER_PID"] = str(worker.pid)
        rec("post_fork", wpid=worker.pid, ppid=worker.ppid, age=worker.age, spid=server.pid,
            cfg_workers=worker.cfg.workers, log=type(worker.log).__name__)
    def post_worker_init(worker):
        rec("post_worker_init", wpid=worker.pid, app=getattr(worker.wsgi, "__name__", None))
    """


@pytest.mark.parametrize("embedded", [False, True], ids=["host", "embedded"])
def test_opentelemetry_post_fork_records_its_pid(server_factory, tmp_path, embedded):
    conf = Conf(tmp_path, OTEL)
    srv = serve(server_factory, conf, env={"WSGIHOST_EMBEDDED": "1"} if embedded else None)
    pids = set(workers_ready(srv, 2))
    forks = conf.records("post_fork")
    assert {r["pid"] for r in forks} == pids
    for r in forks:
        assert r["wpid"] == r["pid"] and r["ppid"] == srv.pid and r["spid"] == srv.pid
        assert r["cfg_workers"] == 2 and r["log"] == "Log"
    assert sorted(r["age"] for r in forks) == [1, 2]
    for pid in pids:
        assert f"[{pid}] [INFO] Worker spawned (pid: {pid})" in srv.log()
    # before the app is imported in that worker, after it: post_worker_init
    for pid in pids:
        order = [r["hook"] for r in conf.records() if r["pid"] == pid]
        assert order == ["post_fork", "import", "post_worker_init"], order
    assert {r["app"] for r in conf.records("post_worker_init")} == {"application"}
    # what post_fork set up is the app's
    seen = {}
    for _ in range(20):
        e = json.loads(srv.get("/env").body)
        seen[e["pid"]] = e["otel"]
    assert seen and all(str(pid) == otel for pid, otel in seen.items())
    if embedded:
        # no master hook: the master stayed without Python, each worker ran the file
        assert f"[{srv.pid}] [INFO] Python 3" not in srv.log()


# 7 --------------------------------------------------------------------------
REQUEST_HOOKS = """
    import time
    workers = 1
    def pre_request(worker, req):
        req.t0 = time.monotonic()
        rec("pre_request", method=req.method, path=req.path, query=req.query, uri=req.uri,
            version=req.version, headers=req.headers, scheme=req.scheme, wpid=worker.pid,
            req_id=id(req))
    def post_request(worker, req, environ, resp):
        rec("post_request", path=req.path, req_id=id(req), took=time.monotonic() - req.t0,
            status=resp.status, code=resp.status_code, headers=resp.headers, sent=resp.sent,
            path_info=environ.get("PATH_INFO"), method=environ.get("REQUEST_METHOD"))
    """


def test_pre_and_post_request_get_gunicorns_objects(server_factory, tmp_path):
    conf = Conf(tmp_path, REQUEST_HOOKS)
    srv = serve(server_factory, conf)
    (worker,) = workers_ready(srv, 1)
    r = srv.get("/items/7?sort=name&x=%20", headers=[("X-Request-Id", "abc-123")])
    assert r.status == 200 and r.body == b"ok"
    r = srv.request("POST", "/upload", body=b"hello", headers=[("Content-Type", "text/plain")])
    assert r.status == 200
    conf.wait("post_request", 2)
    pre = conf.records("pre_request")
    post = conf.records("post_request")
    assert pre[0]["method"] == "GET" and pre[0]["path"] == "/items/7"
    assert pre[0]["query"] == "sort=name&x=%20" and pre[0]["uri"] == "/items/7?sort=name&x=%20"
    assert pre[0]["version"] == [1, 1] and pre[0]["scheme"] == "http"
    assert ["X-REQUEST-ID", "abc-123"] in pre[0]["headers"]
    assert ["HOST", f"127.0.0.1:{srv.port}"] in pre[0]["headers"]
    assert pre[0]["wpid"] == worker and pre[0]["pid"] == worker
    assert pre[1]["method"] == "POST" and ["CONTENT-LENGTH", "5"] in pre[1]["headers"]
    # post_request: the same req object, the environ and the response
    assert post[0]["req_id"] == pre[0]["req_id"] and post[0]["took"] >= 0
    assert post[0]["status"] == "200 OK" and post[0]["code"] == 200 and post[0]["sent"] == 2
    assert ["X-App", "hooked"] in post[0]["headers"]
    assert post[0]["path_info"] == "/items/7" and post[1]["method"] == "POST"


PRE_REQUEST_EDITS = """
    workers = 1
    def pre_request(worker, req):
        if not req.path.startswith("/environ"):
            return
        req.headers.append(("X-REQUEST-ID", "rid-1"))
        req.headers.append(("X-TWICE", "a"))
        req.headers.append(("X-TWICE", "b"))
        req.headers.append(("X_UNDER", "u"))   # dropped, as wsgi.c drops it
        req.headers.append(("X BAD", "s"))     # no token: dropped too
        req.headers = [(n, "text/csv" if n == "CONTENT-TYPE" else v)
                       for n, v in req.headers if n != "USER-AGENT"]
        if req.query == "rewrite":
            req.method = "PUT"
            req.path = "/environ/re%20written"
            req.query = "a=1"
            req.uri = "/environ/re%20written?a=1"
    """


@pytest.mark.parametrize("threads", [1, 4])
def test_pre_request_edits_of_req_reach_the_environ(server_factory, tmp_path, threads):
    """gunicorn builds the environ from req after pre_request, so a header the
    hook adds (a request id) or drops, and a rewritten method, path or query,
    are what the app sees. The expected values are what gunicorn 20.1 gives
    for this hook."""
    conf = Conf(tmp_path, PRE_REQUEST_EDITS)
    srv = serve(server_factory, conf, "--threads", str(threads))
    workers_ready(srv, 1)
    r = srv.request("POST", "/environ?rewrite", body=b"hello",
                    headers=[("Content-Type", "text/plain"), ("User-Agent", "ua/1")])
    assert r.status == 200, r.body
    e = json.loads(r.body)
    assert e["REQUEST_METHOD"] == "PUT" and e["PATH_INFO"] == "/environ/re written"
    assert e["QUERY_STRING"] == "a=1" and e["RAW_URI"] == "/environ/re%20written?a=1"
    assert e["REQUEST_URI"] == "/environ/re%20written?a=1"
    assert e["HTTP_X_REQUEST_ID"] == "rid-1" and e["HTTP_X_TWICE"] == "a,b"
    assert e["CONTENT_TYPE"] == "text/csv" and "HTTP_USER_AGENT" not in e
    assert e["CONTENT_LENGTH"] == "5" and e["body"] == "hello"  # the body is untouched
    assert e["HTTP_HOST"] == f"127.0.0.1:{srv.port}"
    assert not [k for k in e if "UNDER" in k or "BAD" in k], sorted(e)
    # not rewritten: the parsed request's values, the hook's headers
    e = json.loads(srv.get("/environ?x", headers=[("User-Agent", "ua/1")]).body)
    assert e["REQUEST_METHOD"] == "GET" and e["PATH_INFO"] == "/environ"
    assert e["QUERY_STRING"] == "x" and e["HTTP_X_REQUEST_ID"] == "rid-1"
    assert "HTTP_USER_AGENT" not in e and "CONTENT_TYPE" not in e
    # a route the hook leaves alone keeps every field
    e = srv.get("/elsewhere", headers=[("User-Agent", "ua/1")])
    assert e.status == 200 and e.body == b"ok"


def test_pre_request_path_outside_script_name_is_a_500(server_factory, tmp_path):
    conf = Conf(tmp_path, """
        workers = 1
        def pre_request(worker, req):
            if req.query == "escape":
                req.path = "/elsewhere"
        """)
    srv = serve(server_factory, conf, env={"SCRIPT_NAME": "/shop"})
    workers_ready(srv, 1)
    e = json.loads(srv.get("/shop/environ").body)
    assert e["SCRIPT_NAME"] == "/shop" and e["PATH_INFO"] == "/environ"
    r = srv.get("/shop/environ?escape")
    assert r.status == 500
    assert "pre_request set req.path to '/elsewhere', outside SCRIPT_NAME '/shop'" in srv.log()
    assert srv.get("/shop/environ").status == 200


def test_request_hooks_with_threads_and_the_short_post_request(server_factory, tmp_path):
    """gthread runs the hooks on the worker's threads; gunicorn also takes
    post_request(worker, req)."""
    conf = Conf(tmp_path, """
        threads = 4
        def pre_request(worker, req):
            rec("pre_request", path=req.path)
        def post_request(worker, req):
            rec("post_request", path=req.path)
        """)
    srv = serve(server_factory, conf, "-w", "1")
    for i in range(8):
        assert srv.get(f"/sleep?ms=5&i={i}").status == 200
    conf.wait("post_request", 8)
    assert len(conf.records("pre_request")) == 8


# 8 --------------------------------------------------------------------------
def test_logconfig_dict(server_factory, tmp_path):
    """gunicorn.error's FileHandler becomes the error log (file and level),
    gunicorn.access's StreamHandler the access log; the app's own logger
    is configured in each worker; a handler that cannot map is said."""
    errlog, applog = tmp_path / "gunicorn-error.log", tmp_path / "shop.log"
    conf = Conf(tmp_path, f"""
        workers = 2
        errorlog = "-"                 # replaced by logconfig_dict, as in gunicorn
        logconfig_dict = {{
            "version": 1,
            "disable_existing_loggers": False,
            "root": {{"level": "WARNING", "handlers": ["console"]}},
            "loggers": {{
                "gunicorn.error": {{"level": "DEBUG", "handlers": ["error_file"],
                                   "propagate": False}},
                "gunicorn.access": {{"level": "INFO", "handlers": ["console", "syslog"],
                                    "propagate": False}},
                "shop": {{"level": "INFO", "handlers": ["shop_file"], "propagate": False}},
            }},
            "handlers": {{
                "console": {{"class": "logging.StreamHandler", "formatter": "generic",
                            "stream": "ext://sys.stdout"}},
                "error_file": {{"class": "logging.FileHandler", "formatter": "generic",
                               "filename": {str(errlog)!r}}},
                "shop_file": {{"class": "logging.FileHandler", "formatter": "shop",
                              "filename": {str(applog)!r}}},
                "syslog": {{"class": "logging.handlers.SysLogHandler",
                           "address": "/dev/null-socket"}},
            }},
            "formatters": {{
                "generic": {{"format": "%(asctime)s [%(process)d] [%(levelname)s] %(message)s"}},
                "shop": {{"format": "SHOP %(levelname)s %(process)d %(message)s"}},
            }},
        }}
        """)
    srv = serve(server_factory, conf)
    wait_for(lambda: errlog.exists() and errlog.read_text().count("Worker ready") == 2,
             IO_TIMEOUT, what="two workers in the error log file")
    assert srv.get("/print").status == 200
    assert srv.get("/print").status == 200
    wait_for(lambda: srv.stdout().count('"GET /print HTTP/1.1" 200') == 2, IO_TIMEOUT,
             what="the access log on stdout")
    text = errlog.read_text()
    assert "[DEBUG]" in text  # the level came from the dict
    assert "[WARNING] the app logs through gunicorn.error" in text
    lines = [ln for ln in applog.read_text().splitlines() if ln]
    assert len(lines) == 2 and all(ln.startswith("SHOP INFO ") for ln in lines)
    assert lines[0].endswith("the app's own logger: /print")
    # each worker opened its own handler: the two lines may come from either
    assert {int(ln.split()[2]) for ln in lines} <= set(children(srv.pid))
    assert ("the gunicorn.access handler 'syslog' (logging.handlers.SysLogHandler) is not "
            "applied") in srv.log()


def test_logconfig_dict_gunicorn_would_refuse_stops_start_up(tmp_path):
    # The user's "handlers" replace the defaults', whose root uses "console":
    # gunicorn cannot configure that either.
    conf = Conf(tmp_path, """
        logconfig_dict = {"handlers": {"f": {"class": "logging.StreamHandler"}},
                          "loggers": {"shop": {"handlers": ["f"]}}}
        """)
    env = {k: v for k, v in os.environ.items() if k not in SERVER_ENV_VARS}
    env.update(conf.env())
    r = run_binary(["-c", str(conf.path), "--print-config", "hooked_app:application"], env=env)
    assert r.returncode == 2, r.stderr
    assert "logconfig_dict: ValueError: Unable to configure root logger" in r.stderr
    assert "KeyError: 'console'" in r.stderr


def test_logconfig_ini_file(server_factory, tmp_path):
    applog = tmp_path / "shop.log"
    ini = tmp_path / "logging.ini"
    ini.write_text(textwrap.dedent(f"""
        [loggers]
        keys=root,error,shop
        [handlers]
        keys=console,shopfile
        [formatters]
        keys=plain
        [logger_root]
        level=WARNING
        handlers=console
        [logger_error]
        qualname=gunicorn.error
        level=DEBUG
        handlers=console
        propagate=0
        [logger_shop]
        qualname=shop
        level=INFO
        handlers=shopfile
        propagate=0
        [handler_console]
        class=StreamHandler
        args=(sys.stderr,)
        [handler_shopfile]
        class=FileHandler
        formatter=plain
        args=({str(applog)!r}, 'a')
        [formatter_plain]
        format=INI %(message)s
        """))
    conf = Conf(tmp_path, f"logconfig = {str(ini)!r}\n")
    srv = serve(server_factory, conf, "-w", "1")
    workers_ready(srv, 1)
    assert "[DEBUG]" in srv.log()  # gunicorn.error's level from the file
    assert srv.get("/print").status == 200
    wait_for(lambda: applog.exists() and "INI the app's own logger" in applog.read_text(),
             IO_TIMEOUT, what="the app's logger configured by the ini file")


# 9 --------------------------------------------------------------------------
LIFECYCLE = """
    workers = int(open(os.environ["NWORKERS"]).read())
    graceful_timeout = 5
    def nworkers_changed(server, new_value, old_value):
        rec("nworkers_changed", new=new_value, old=old_value, num=server.num_workers)
    def on_reload(server):
        rec("on_reload", workers=server.cfg.workers)
    def pre_fork(server, worker):
        rec("pre_fork", wpid=worker.pid, age=worker.age, ppid=worker.ppid)
    def post_fork(server, worker):
        rec("post_fork", age=worker.age)
    def worker_int(worker):
        rec("worker_int", wpid=worker.pid, alive=worker.alive)
    def worker_exit(server, worker):
        rec("worker_exit", wpid=worker.pid, spid=server.pid)
    def on_exit(server):
        rec("on_exit", spid=server.pid)
    """


def test_worker_lifecycle_hooks_ttin_ttou_hup_and_int(server_factory, tmp_path):
    nw = tmp_path / "nworkers"
    nw.write_text("2")
    conf = Conf(tmp_path, LIFECYCLE)
    srv = serve(server_factory, conf, env={"NWORKERS": str(nw)})
    workers_ready(srv, 2)
    assert conf.records("nworkers_changed")[0] == dict(hook="nworkers_changed", pid=srv.pid,
                                                      new=2, old=None, num=2)
    pre = conf.records("pre_fork")
    assert [r["wpid"] for r in pre] == ["[booting]", "[booting]"]
    assert [r["age"] for r in pre] == [1, 2] and {r["ppid"] for r in pre} == {srv.pid}
    srv.send_signal(signal.SIGTTIN)
    conf.wait("post_fork", 3)
    srv.send_signal(signal.SIGTTOU)
    conf.wait("worker_exit", 1)
    nw.write_text("3")
    srv.send_signal(signal.SIGHUP)
    conf.wait("on_reload")
    conf.wait("post_fork", 6)
    changes = [(r["new"], r["old"]) for r in conf.records("nworkers_changed")]
    assert changes == [(2, None), (3, 2), (2, 3), (3, 2)], changes
    assert conf.records("on_reload")[0]["workers"] == 3
    wait_for(lambda: len(children(srv.pid)) == 3, IO_TIMEOUT * 2, what="3 workers after HUP")
    live = set(children(srv.pid))
    wait_for(lambda: srv.log().count("Worker ready") >= 6, IO_TIMEOUT, what="new workers ready")
    # INT: gunicorn's workers run worker_int, then worker_exit; then on_exit
    srv.send_signal(signal.SIGINT)
    assert srv.wait(IO_TIMEOUT * 2) == 0
    ints = {r["wpid"] for r in conf.records("worker_int")}
    assert ints == live and all(r["alive"] is False for r in conf.records("worker_int"))
    assert live <= {r["wpid"] for r in conf.records("worker_exit")}
    assert conf.hooks()[-1] == "on_exit" and conf.records("on_exit")[0]["pid"] == srv.pid


# 10 -------------------------------------------------------------------------
def test_worker_abort_on_timeout(server_factory, tmp_path):
    conf = Conf(tmp_path, """
        workers = 1
        timeout = 1
        def worker_abort(worker):
            worker.log.warning("worker_abort: %s is stuck", worker.pid)
            rec("worker_abort", wpid=worker.pid, aborted=worker.aborted)
        def worker_exit(server, worker):
            rec("worker_exit", wpid=worker.pid)
        """)
    srv = serve(server_factory, conf)
    (stuck,) = workers_ready(srv, 1)
    with srv.conn(timeout=10 * SLOW) as c:
        c.send(build_request("GET", "/sleep?ms=20000"))
        conf.wait("worker_abort", timeout=8 * SLOW)
    assert conf.records("worker_abort") == [dict(hook="worker_abort", pid=stuck, wpid=stuck,
                                                 aborted=True)]
    conf.wait("worker_exit")
    assert f"[{stuck}] [WARNING] worker_abort: {stuck} is stuck" in srv.log()
    wait_for(lambda: f"Worker (pid:{stuck}) exited with code 1" in srv.log(), IO_TIMEOUT,
             what="the aborted worker's exit")
    wait_for(lambda: children(srv.pid) and stuck not in children(srv.pid), IO_TIMEOUT,
             what="its replacement")
    assert srv.get("/").status == 200


def test_worker_abort_is_not_fooled_by_an_abort_in_a_forked_child(server_factory, tmp_path):
    """The SIGABRT watcher is the worker's: a child the app forks (without
    exec) that aborts dies of SIGABRT as usual, the worker goes on."""
    conf = Conf(tmp_path, """
        workers = 1
        def worker_abort(worker):
            rec("worker_abort", wpid=worker.pid)
        """)
    srv = serve(server_factory, conf)
    (worker,) = workers_ready(srv, 1)
    r = srv.get("/forkabort")
    assert r.status == 200 and r.body == b"signal %d" % signal.SIGABRT
    assert srv.get("/").status == 200 and children(srv.pid) == [worker]
    assert conf.records("worker_abort") == []


# 11 -------------------------------------------------------------------------
def test_request_and_exit_hooks_that_raise_do_not_stop_the_server(server_factory, tmp_path):
    conf = Conf(tmp_path, """
        workers = 1
        def pre_request(worker, req):
            if req.path == "/boom":
                raise RuntimeError("pre_request refuses " + req.path)
        def post_request(worker, req, environ, resp):
            rec("post_request", path=req.path, status=resp.status, env=bool(environ))
            if req.path == "/late":
                raise KeyError("post_request failed")
        def worker_exit(server, worker):
            raise ValueError("worker_exit failed")
        """)
    srv = serve(server_factory, conf)
    assert srv.get("/boom").status == 500  # gunicorn answers 500 too
    assert srv.get("/late").status == 200
    assert srv.get("/").status == 200
    log = srv.log()
    assert "RuntimeError: pre_request refuses /boom" in log
    assert "Exception in the post_request hook" in log and "KeyError: 'post_request failed'" in log
    statuses = [(r["path"], r["status"], r["env"]) for r in conf.records("post_request")]
    # post_request runs after a refused request too (environ is then {})
    assert statuses == [("/boom", "500 Internal Server Error", False), ("/late", "200 OK", True),
                        ("/", "200 OK", True)]
    assert srv.stop() == 0
    assert "Exception in the worker_exit hook" in srv.log()
    assert "ValueError: worker_exit failed" in srv.log()


@pytest.mark.parametrize("hook,args,rc", [
    ("on_starting", "server", 1),
    ("when_ready", "server", 1),
    ("post_fork", "server, worker", 3),
    ("post_worker_init", "worker", 3),
])
def test_start_up_hooks_that_raise_stop_it_as_in_gunicorn(tmp_path, hook, args, rc):
    conf = Conf(tmp_path, f"""
        workers = 1
        def {hook}({args}):
            raise RuntimeError("{hook} says no")
        """)
    env = {k: v for k, v in os.environ.items() if k not in SERVER_ENV_VARS}
    env.update(conf.env())
    r = run_binary(["-c", str(conf.path), "-b", "127.0.0.1:0", "--pythonpath", str(APPS),
                    "hello_app:application"], env=env)
    assert r.returncode == rc, r.stderr
    assert f"Exception in the {hook} hook" in r.stderr
    assert f"RuntimeError: {hook} says no" in r.stderr


def test_a_master_hook_that_raises_later_stops_the_server(server_factory, tmp_path):
    conf = Conf(tmp_path, """
        workers = 2
        def child_exit(server, worker):
            raise RuntimeError("child_exit failed for %s" % worker.pid)
        """)
    srv = serve(server_factory, conf)
    victim = workers_ready(srv, 2)[0]
    srv.expect_nonzero_exit = True
    os.kill(victim, signal.SIGKILL)
    assert srv.wait(IO_TIMEOUT * 2) == 1
    assert f"RuntimeError: child_exit failed for {victim}" in srv.log()
    assert "Exception in the child_exit hook: stopping (gunicorn stops on it too)" in srv.log()


# 12 -------------------------------------------------------------------------
@pytest.mark.parametrize("embedded", [False, True], ids=["host", "embedded"])
def test_proc_name_titles_as_ps_shows_them(server_factory, tmp_path, embedded):
    conf = Conf(tmp_path, """
        proc_name = "shop-api"
        workers = 2
        """)
    srv = serve(server_factory, conf, env={"WSGIHOST_EMBEDDED": "1"} if embedded else None)
    kids = workers_ready(srv, 2)
    assert cmdline(srv.pid) == "wsgihost: master [shop-api]"
    assert [cmdline(k) for k in kids] == ["wsgihost: worker [shop-api]"] * 2
    assert srv.get("/").status == 200


def test_name_on_the_command_line_and_in_a_single_process(server_factory, tmp_path):
    srv = server_factory("hello_app:application", "-n", "a-long-project-name-for-the-title",
                         env={"WSGIHOST_EMBEDDED": "1"})
    assert cmdline(srv.pid) == "wsgihost: master [a-long-project-name-for-the-title]"
    srv2 = server_factory("hello_app:application")
    plain = cmdline(srv2.pid)  # no name: the command line, as typed
    assert plain.endswith("hello_app:application") and "[" not in plain


# 13 -------------------------------------------------------------------------
@pytest.mark.parametrize("embedded", [False, True], ids=["host", "embedded"])
def test_hooks_in_a_single_process(server_factory, tmp_path, embedded):
    """No master: the process is the server and its one worker."""
    conf = Conf(tmp_path, """
        def on_starting(server):
            rec("on_starting", spid=server.pid)
        def when_ready(server):
            rec("when_ready")
        def post_fork(server, worker):
            rec("post_fork", wpid=worker.pid, ppid=worker.ppid)
        def post_worker_init(worker):
            rec("post_worker_init")
        def pre_request(worker, req):
            rec("pre_request", path=req.path)
        def child_exit(server, worker):
            rec("child_exit")
        def worker_int(worker):
            rec("worker_int")
        def worker_exit(server, worker):
            rec("worker_exit")
        def on_exit(server):
            rec("on_exit")
        """)
    srv = serve(server_factory, conf, env={"WSGIHOST_EMBEDDED": "1"} if embedded else None)
    assert srv.get("/a").status == 200
    conf.wait("pre_request")
    srv.send_signal(signal.SIGINT)
    assert srv.wait(IO_TIMEOUT * 2) == 0
    assert conf.hooks() == ["on_starting", "when_ready", "post_fork", "import",
                            "post_worker_init", "pre_request", "worker_int", "worker_exit",
                            "on_exit"]
    assert {r["pid"] for r in conf.records()} == {srv.pid}
    assert conf.records("post_fork")[0]["ppid"] == srv.pid
    assert "child_exit() does not run in a single process" in srv.log()


# 14 -------------------------------------------------------------------------
def test_worker_hooks_only_in_embedded_mode_run_the_file_in_each_worker(server_factory,
                                                                      tmp_path):
    """WSGIHOST_EMBEDDED=1 and no master hook: the master starts no Python;
    each worker runs the file once, then its hooks."""
    conf = Conf(tmp_path, """
        rec("config file ran")
        workers = 2
        def post_fork(server, worker):
            rec("post_fork", spid=server.pid)
        """)
    srv = serve(server_factory, conf, env={"WSGIHOST_EMBEDDED": "1"})
    kids = set(workers_ready(srv, 2))
    ran = {r["pid"] for r in conf.records("config file ran")}
    # the config child that read the settings, then each worker
    assert kids <= ran and srv.pid not in ran
    assert {r["spid"] for r in conf.records("post_fork")} == {srv.pid}


def test_hook_given_as_module_function_string(server_factory, tmp_path):
    (tmp_path / "myhooks.py").write_text(PRELUDE + textwrap.dedent("""
        def post_fork(server, worker):
            rec("post_fork", wpid=worker.pid)
        """))
    conf = Conf(tmp_path, 'post_fork = "myhooks.post_fork"\nworkers = 1\n')
    srv = serve(server_factory, conf, "--pythonpath", str(tmp_path))
    (kid,) = workers_ready(srv, 1)
    conf.wait("post_fork")
    assert conf.records("post_fork")[0]["wpid"] == kid


def test_server_cfg_has_the_settings_and_says_what_it_lacks(server_factory, tmp_path):
    conf = Conf(tmp_path, """
        workers = 1
        worker_tmp_dir = "/dev/shm"
        raw_env = ["STAGE=prod"]
        def when_ready(server):
            try:
                server.cfg.statsd_hostname
                missing = None
            except AttributeError as e:
                missing = str(e)
            rec("when_ready", tmp=server.cfg.worker_tmp_dir, env=server.cfg.env,
                proc_name=server.cfg.proc_name, errorlog=server.cfg.errorlog,
                missing=missing, timeout=server.timeout)
        """)
    srv = serve(server_factory, conf)
    r = conf.wait("when_ready")[0]
    assert r["tmp"] == "/dev/shm" and r["env"] == {"STAGE": "prod"}
    assert r["proc_name"] == "hooked_app:application" and r["errorlog"] == "-"
    assert "server.cfg has no setting 'statsd_hostname'" in r["missing"]
    assert r["timeout"] == 30
    assert srv.get("/").status == 200
