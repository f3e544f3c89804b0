"""SIGTERM/SIGINT: graceful stop. In-flight requests complete, idle
connections are closed, the listener goes away, the interpreter is finalized
and the process exits 0."""

import signal
import socket
import time

import pytest

from support import IO_TIMEOUT, SLOW, STOP_TIMEOUT, RawConn, build_request, wait_for


def refused(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except ConnectionRefusedError:
        return True
    return False


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["TERM", "INT"])
def test_request_in_flight_completes(server_factory, tmp_path, sig):
    atexit_file = tmp_path / "atexit"
    srv = server_factory("sleeper:application",
                         env={"WSGIHOST_TEST_ATEXIT": str(atexit_file)})
    mark = tmp_path / "mark"
    with RawConn(srv.port, timeout=15 * SLOW) as c:
        c.send(build_request("GET", f"/sleep?ms=1500&mark={mark}"))
        wait_for(mark.exists, IO_TIMEOUT, what="request inside the app")
        srv.send_signal(sig)
        r = c.read_response()
        assert r.status == 200, r
        assert r.body == b"slept 1500"
        c.assert_closed()
    rc = srv.wait(STOP_TIMEOUT)
    assert rc == 0, srv.log()[-3000:]
    assert refused(srv.port)
    assert atexit_file.exists(), "atexit handlers did not run (interpreter not finalized)"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["TERM", "INT"])
def test_idle_server_stops_promptly(server_factory, sig):
    srv = server_factory("hello_app", "--keep-alive", "30")
    with RawConn(srv.port) as idle:
        idle.send(build_request("GET", "/"))
        assert idle.read_response().status == 200
        t0 = time.monotonic()
        srv.send_signal(sig)
        # The idle keep-alive connection is closed, not waited for.
        idle.assert_closed(timeout=5 * SLOW)
        rc = srv.wait(5 * SLOW)
        assert rc == 0, srv.log()[-3000:]
        assert time.monotonic() - t0 < 5 * SLOW
    assert refused(srv.port)


def test_new_connections_refused_after_stop(server_factory):
    srv = server_factory("hello_app")
    assert srv.stop() == 0
    assert refused(srv.port)


def test_unix_socket_removed_on_exit(server_factory, tmp_path):
    path = tmp_path / "s.sock"
    srv = server_factory("hello_app", binds=[f"unix:{path}"])
    assert path.exists()
    assert srv.stop() == 0
    assert not path.exists()


def test_graceful_timeout_bounds_shutdown(server_factory, tmp_path):
    """A request that outlives --graceful-timeout does not keep the process
    alive: it exits soon after the timeout."""
    srv = server_factory("sleeper:application", "--graceful-timeout", "1")
    srv.expect_nonzero_exit = True
    mark = tmp_path / "mark"
    with RawConn(srv.port, timeout=20 * SLOW) as c:
        c.send(build_request("GET", f"/sleep?ms=8000&mark={mark}"))
        wait_for(mark.exists, IO_TIMEOUT, what="request inside the app")
        t0 = time.monotonic()
        srv.send_signal(signal.SIGTERM)
        rc = srv.wait(5 * SLOW)
        assert rc is not None, "process still running 5 s after SIGTERM with --graceful-timeout 1"
        assert time.monotonic() - t0 < 5 * SLOW


def test_sigterm_during_startup_exits(server_factory):
    """A signal before the first request still stops the server cleanly."""
    srv = server_factory("pyapp:app")
    assert srv.stop() == 0
    assert "Traceback" not in srv.log()
