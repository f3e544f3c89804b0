"""The start-up summary (csrc/banner.c, issue 12): what a newcomer reads
when the server starts — the configuration file loaded (or none), the mode
(one process, or a master and N workers) with the app threads, the URL(s)
to open (the loopback URL for a wildcard bind, plus this machine's own
addresses; https with TLS; a curl line for a unix socket), and the Python
and virtualenv in use."""

import re
import socket

from support import wait_for, IO_TIMEOUT


def summary(srv, want="Open ", count=1):
    """The log once the summary (and, with workers, every worker's Python
    line) is out."""
    wait_for(lambda: srv.log().count(want) >= count, IO_TIMEOUT, what=f"{want!r} in the log")
    return srv.log()


def test_single_process_defaults(server_factory):
    srv = server_factory("hello_app:application")
    log = summary(srv, "virtualenv: ")
    assert "Config file: none (-c FILE names one)" in log, log
    assert "Serving hello_app:application in a single process, 4 app threads\n" in log, log
    assert f"Open http://127.0.0.1:{srv.port}/ in a browser\n" in log, log
    assert re.search(r"\] Python 3\.\d+\.\d+ at \S+ \((host|embedded) interpreter\), "
                     r"virtualenv: none, sys\.prefix /usr, site-packages \[", log), log
    # The old single-process line and the master's "Using N worker
    # process(es)" gave half of this; one line says it now.
    assert "(epoll)" not in log and "Using " not in log, log


def test_master_mode_names_workers_threads_and_the_config_file(server_factory, tmp_path):
    conf = tmp_path / "site.conf.py"
    conf.write_text("workers = 2\nthreads = 3\n")
    srv = server_factory("hello_app:application", "-c", str(conf))
    log = summary(srv, "Worker ready", 2)
    assert f"Config file: {conf}\n" in log, log
    assert (f"Serving hello_app:application with a master (pid {srv.pid}) and 2 worker processes, "
            f"3 app threads each\n") in log, log
    # Summary first, then the workers.
    assert log.index("Open http://") < log.index("Booting worker"), log


def test_one_worker_reload_and_the_sync_class(server_factory):
    srv = server_factory("hello_app:application", "--reload", "-k", "sync")
    log = summary(srv, "Worker ready")
    assert ("with a master (pid %d) and 1 worker process, 1 app thread each, restarted when a "
            "source file changes (--reload)\n" % srv.pid) in log, log


def test_gunicorn_conf_py_found_in_the_current_directory_is_named(server_factory, tmp_path):
    (tmp_path / "gunicorn.conf.py").write_text("threads = 2\n")
    srv = server_factory("hello_app:application", cwd=tmp_path)
    log = summary(srv)
    assert f"Config file: {tmp_path / 'gunicorn.conf.py'}\n" in log, log
    assert "in a single process, 2 app threads" in log, log


def test_options_from_the_environment_are_mentioned(server_factory):
    srv = server_factory("hello_app:application", env={"WSGIHOST_CMD_ARGS": "--threads 2"})
    log = summary(srv)
    assert "Config file: none (-c FILE names one); options also from $WSGIHOST_CMD_ARGS" in log
    assert "in a single process, 2 app threads" in log, log


def is_local_address(addr):
    """True when this machine has addr (binding to it succeeds)."""
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    with socket.socket(fam, socket.SOCK_STREAM) as s:
        try:
            s.bind((addr, 0))
            return True
        except OSError:
            return False


def test_wildcard_bind_lists_loopback_then_this_machines_addresses(server_factory):
    srv = server_factory("hello_app:application", binds=["0.0.0.0:{port}"])
    log = summary(srv)
    m = re.search(rf"Open http://127\.0\.0\.1:{srv.port}/ in a browser"
                  rf"(?: \(from other machines: ([^)]*)\))?\n", log)
    assert m, log
    others = m.group(1).split(", ") if m.group(1) else []
    assert len(others) <= 4, others
    for url in others:
        u = re.fullmatch(rf"http://(\d+\.\d+\.\d+\.\d+):{srv.port}/", url)
        assert u and not u.group(1).startswith("127.") and is_local_address(u.group(1)), url
        # ... and the server answers there.
        with socket.create_connection((u.group(1), srv.port), timeout=IO_TIMEOUT):
            pass


def test_unix_socket_gets_a_curl_line(server_factory, tmp_path):
    path = tmp_path / "s.sock"
    srv = server_factory("hello_app:application", binds=[f"unix:{path}"])
    log = summary(srv, "Try: ")
    assert f"Try: curl --unix-socket {path} http://localhost/\n" in log, log
    assert "Open " not in log, log


def test_one_url_line_per_listener(server_factory, tmp_path):
    path = tmp_path / "s.sock"
    srv = server_factory("hello_app:application", binds=["127.0.0.1:{port}", "127.0.0.1:{port2}",
                                                     f"unix:{path}"])
    log = summary(srv, "Try: ")
    assert f"Open http://127.0.0.1:{srv.port}/ in a browser\n" in log, log
    assert f"Open http://127.0.0.1:{srv.port2}/ in a browser\n" in log, log
