"""Fixtures that run the built wsgihost binary.

`server_factory` (per test) and `module_server_factory` (shared by a module's
tests) start the binary on a free loopback port with `--pythonpath tests/apps`
and wait until it accepts connections. After each test, every server that ran
during it is checked for sanitizer reports, UBSan "runtime error:" lines and
[CRITICAL] lines; at teardown the server is stopped with SIGTERM (SIGKILL after
a bound) and must exit 0.
"""

import itertools
import os
import signal

import pytest

import support
from support import BIN, Server, ServerError

_LIVE = []  # servers started and not yet torn down
_counter = itertools.count()


def pytest_report_header(config):
    return [f"wsgihost binary: {BIN}", f"sanitizer mode: {support.SANITIZER}"]


def pytest_sessionstart(session):
    # A missing binary must fail the run, not skip every test into a green one.
    if not BIN.exists():
        pytest.exit(f"{BIN} does not exist: build it first (meson compile -C build) "
                    f"or set WSGIHOST_BIN", returncode=4)


def _make_factory(base_dir, finalizers):
    def make(app, *args, env=None, cwd=None, pythonpath=True, binds=None, start=True,
             binary=None):
        workdir = base_dir / f"server{next(_counter)}"
        srv = Server(app, args, workdir=workdir, env=env, cwd=cwd, pythonpath=pythonpath,
                     binds=binds, binary=binary)
        _LIVE.append(srv)
        finalizers.append(srv)
        if start:
            srv.start()
        return srv
    return make


def _teardown(servers):
    errors = []
    for srv in servers:
        if srv.proc is None:
            continue
        try:
            rc = srv.stop()
        except ServerError as e:
            errors.append(str(e))
            rc = None
        if srv in _LIVE:
            _LIVE.remove(srv)
        problems = srv.bad_log_lines()
        if problems:
            errors.append(f"server {srv.app} log has errors:\n" + "\n----\n".join(problems))
        if rc is not None and rc != 0 and not getattr(srv, "expect_nonzero_exit", False):
            errors.append(f"server {srv.app} exited with {rc} after SIGTERM (expected 0); "
                          f"log tail:\n{srv.log()[-3000:]}")
    if errors:
        pytest.fail("\n\n".join(errors), pytrace=False)


@pytest.fixture
def server_factory(tmp_path):
    servers = []
    yield _make_factory(tmp_path, servers)
    _teardown(servers)


@pytest.fixture(scope="module")
def module_server_factory(tmp_path_factory):
    servers = []
    yield _make_factory(tmp_path_factory.mktemp("servers"), servers)
    _teardown(servers)


@pytest.fixture(autouse=True)
def _check_server_logs():
    """Fail the test if a server that ran during it logged a sanitizer report,
    a UBSan runtime error or a [CRITICAL] line, or died."""
    before = {id(s): s.log_mark() for s in _LIVE}
    alive_before = {id(s) for s in _LIVE if s.alive()}
    yield
    errors = []
    for srv in list(_LIVE):
        # What was logged during this test only (module servers keep one log).
        new = srv.log_since(before.get(id(srv), (0, 0)))
        for pattern in support.BAD_LOG_PATTERNS:
            i = new.find(pattern)
            if i >= 0:
                start = new.rfind("\n", 0, i) + 1
                errors.append(f"server {srv.app}: {new[start:start + 3000]}")
        if id(srv) in alive_before and not srv.alive() and srv.returncode is None:
            rc = srv.proc.returncode
            if rc is not None:
                errors.append(f"server {srv.app} exited ({rc}) during the test unasked; "
                              f"log tail:\n{new[-3000:]}")
    if errors:
        pytest.fail("\n\n".join(errors), pytrace=False)


# Common server configurations --------------------------------------------------

@pytest.fixture(scope="module")
def proto_server(module_server_factory):
    return module_server_factory("proto:application")


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session, exitstatus):
    # Nothing may outlive the run: kill leftovers by PID (normally none).
    for srv in list(_LIVE):
        if srv.alive():
            os.kill(srv.pid, signal.SIGKILL)
