"""Real gunicorn config files (written from a survey of 81 public ones):
every gunicorn setting name is known; the ones wsgihost implements are
applied with gunicorn's value rules, the others accepted with one line
saying so, unknown names ignored with a suggestion, hooks said out loud;
worker_class, raw_env, GUNICORN_CMD_ARGS and ./gunicorn.conf.py as gunicorn
does them."""

import os
import textwrap

import pytest

from support import run_binary, SERVER_ENV_VARS


def env(**extra):
    e = {k: v for k, v in os.environ.items() if k not in SERVER_ENV_VARS}
    e.update(extra)
    return e


def print_config(tmp_path, text, *args, extra_env=None, cwd=None):
    conf = tmp_path / "gunicorn.conf.py"
    conf.write_text(textwrap.dedent(text))
    argv = (["-c", str(conf)] if cwd is None else []) + ["--print-config", *args,
                                                        "hello_app:application"]
    r = run_binary(argv, env=env(**(extra_env or {})), cwd=cwd)
    settings = {}
    for line in r.stdout.splitlines():
        if " = " in line:
            k, v = line.split(" = ", 1)
            settings[k] = v
    return r, settings


def test_env_driven_production_file(tmp_path):
    r, s = print_config(tmp_path, """
        import multiprocessing, os
        bind = os.getenv("BIND", "0.0.0.0:5901")
        workers = os.getenv("WEB_CONCURRENCY", "3")     # a str, as os.getenv gives
        threads = int(os.getenv("THREADS", 4))
        worker_class = "gthread"
        timeout = 120
        graceful_timeout = 30
        keepalive = 5
        max_requests = 1000
        max_requests_jitter = 50
        worker_tmp_dir = "/dev/shm"
        accesslog = "-"
        errorlog = "-"
        loglevel = "info"
        proc_name = "myapp"
        preload_app = True
        forwarded_allow_ips = "*"
        cores = multiprocessing.cpu_count()
        """)
    assert r.returncode == 0, r.stderr
    assert s["bind"] == "['0.0.0.0:5901']"
    assert s["workers"] == "3" and s["threads"] == "4" and s["timeout"] == "120"
    assert s["max_requests"] == "1000" and s["preload_app"] == "True"
    err = r.stderr
    assert "worker_tmp_dir = '/dev/shm' does not apply to wsgihost, ignored (the heartbeat" in err
    assert s["proc_name"] == "myapp" and "proc_name" not in err
    assert "cores is not a setting, ignored" in err


def test_hex_and_octal_strings_as_gunicorn_reads_them(tmp_path):
    r, s = print_config(tmp_path, 'workers = "0x2"\nbacklog = "0o100"\n')
    assert r.returncode == 0, r.stderr
    assert s["workers"] == "2" and s["backlog"] == "64"


@pytest.mark.parametrize("cls,needle", [
    ("gevent", "no gevent workers"), ("eventlet", "no eventlet workers"),
    ("uvicorn.workers.UvicornWorker", "ASGI"), ("myproject.workers.Custom", "cannot load"),
])
def test_worker_classes_that_cannot_be_honoured_stop_start_up(tmp_path, cls, needle):
    r, _ = print_config(tmp_path, f"worker_class = {cls!r}\n")
    assert r.returncode == 2, r.stderr
    assert needle in r.stderr and "wsgihost: error:" in r.stderr, r.stderr


@pytest.mark.parametrize("cls", ["sync", "gthread", "gunicorn.workers.sync.SyncWorker"])
def test_sync_and_gthread_are_understood(tmp_path, cls):
    r, _ = print_config(tmp_path, f"worker_class = {cls!r}\nthreads = 2\n")
    assert r.returncode == 0, r.stderr


def test_k_sync_means_one_thread(server_factory):
    srv = server_factory("environ_dump:application", "-k", "sync")
    r = srv.get("/")
    assert r.status == 200 and r.json()["environ"]["wsgi.multithread"] is False


def test_hooks_are_taken_and_checked(tmp_path):
    r, s = print_config(tmp_path, """
        def post_fork(server, worker):
            server.log.info("Worker spawned (pid: %s)", worker.pid)
        def child_exit(server, worker):
            from prometheus_client import multiprocess
            multiprocess.mark_process_dead(worker.pid)
        def helper():
            return 1
        def pre_exec(server):
            pass
        ssl_context = lambda conf, factory: factory()
        post_request = lambda worker, req: None
        """)
    assert r.returncode == 0, r.stderr
    assert s["hooks"] == "['post_fork', 'pre_exec', 'post_request', 'child_exit']", s
    assert "helper" not in r.stderr and "post_fork" not in r.stderr
    assert "pre_exec" not in r.stderr  # it runs on USR2 (test_prefork.py)
    # What cannot run is said, once each.
    assert "ssl_context() is not run by wsgihost" in r.stderr


@pytest.mark.parametrize("src,needle", [
    ("def post_fork(server):\n    pass\n", "post_fork() must take (server, worker)"),
    ("def when_ready():\n    pass\n", "when_ready() must take (server)"),
    ("on_exit = 42\n", "on_exit = 42 is not callable"),
    ("child_exit = 'nodots'\n", '"module.function"'),
])
def test_a_hook_with_the_wrong_signature_stops_start_up(tmp_path, src, needle):
    # gunicorn checks a hook's arity when it reads the file, and stops.
    r, _ = print_config(tmp_path, src)
    assert r.returncode == 2 and needle in r.stderr, r.stderr


def test_daemon(tmp_path):
    r, _ = print_config(tmp_path, "daemon = False\n")
    assert r.returncode == 0 and "daemon = False does not apply" in r.stderr
    r, _ = print_config(tmp_path, "daemon = True\n")
    assert r.returncode == 2 and "does not detach" in r.stderr


def test_raw_env_reaches_the_app(server_factory, tmp_path):
    conf = tmp_path / "gunicorn.conf.py"
    conf.write_text('raw_env = ["DJANGO_SETTINGS_MODULE=site.prod", "GREETING=a=b"]\n')
    srv = server_factory("osenv_app:application", "-c", str(conf), "-e", "ONE=1")
    e = srv.get("/").json()["environ"]
    assert e["DJANGO_SETTINGS_MODULE"] == "site.prod" and e["GREETING"] == "a=b"
    assert e["ONE"] == "1"


def test_gunicorn_cmd_args(tmp_path):
    r, s = print_config(tmp_path, "workers = 2\n", extra_env={"GUNICORN_CMD_ARGS": "--workers=5"})
    assert r.returncode == 0 and s["workers"] == "5", (r.stderr, s)


def test_gunicorn_conf_py_in_the_current_directory_is_loaded(tmp_path):
    r, s = print_config(tmp_path, "workers = 3\n", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert s["workers"] == "3" and s["config"] == "./gunicorn.conf.py", s


def test_bad_value_of_a_known_setting_stops_start_up(tmp_path):
    r, _ = print_config(tmp_path, "timeout = 'soon'\n")
    assert r.returncode == 2 and "--timeout" in r.stderr
