"""The app thread pool (--threads): the wsgi.multithread flag, real
concurrency for blocking apps, and per-request context (contextvars) kept
while a paused response is resumed, possibly on another thread."""

import re
import socket
import threading
import time

import pytest

from support import SLOW, RawConn, build_request


@pytest.mark.parametrize("threads,expected", [("1", False), ("2", True)])
def test_multithread_flag(server_factory, threads, expected):
    srv = server_factory("environ_dump:application", "--threads", threads)
    env = srv.get("/").json()["environ"]
    assert env["wsgi.multithread"] is expected
    assert env["wsgi.multiprocess"] is False
    assert env["wsgi.run_once"] is False


def test_blocking_requests_run_concurrently(server_factory, tmp_path):
    srv = server_factory("sleeper:application", "--threads", "4")
    results = []

    def one(i):
        with RawConn(srv.port, timeout=10 * SLOW) as c:
            c.send(build_request("GET", "/sleep?ms=600"))
            results.append(c.read_response().status)

    t0 = time.monotonic()
    threads = [threading.Thread(target=one, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=20 * SLOW)
    elapsed = time.monotonic() - t0
    assert results == [200] * 4
    # Serially this would take 2.4 s.
    assert elapsed < 1.8 * SLOW, elapsed


def test_fast_requests_served_while_pool_busy(server_factory, tmp_path):
    """With every app thread busy, the loop still accepts and answers as soon
    as a thread frees up; nothing is lost."""
    srv = server_factory("sleeper:application", "--threads", "2")
    conns = []
    try:
        for _ in range(2):
            c = RawConn(srv.port, timeout=10 * SLOW)
            c.send(build_request("GET", "/sleep?ms=500"))
            conns.append(c)
        with RawConn(srv.port, timeout=10 * SLOW) as c:
            c.send(build_request("GET", "/sleep?ms=0"))
            assert c.read_response().body == b"slept 0"
        for c in conns:
            assert c.read_response().body == b"slept 500"
    finally:
        for c in conns:
            c.close()


def slow_read_all(port, token, results):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
    s.settimeout(10 * SLOW)
    s.connect(("127.0.0.1", port))
    try:
        s.sendall(build_request("GET", f"/?{token}", [("Connection", "close")]))
        data = b""
        deadline = time.monotonic() + 30 * SLOW
        while time.monotonic() < deadline:
            piece = s.recv(16384)
            if not piece:
                break
            data += piece
            if len(data) < 400_000:
                time.sleep(0.002)  # slow at first: the server must pause and resume
        results[token] = data
    finally:
        s.close()


@pytest.mark.parametrize("threads", ["1", "4"])
def test_contextvars_survive_pause_and_resume(server_factory, threads):
    srv = server_factory("ctxvar_app:application", "--threads", threads)
    results = {}
    workers = [threading.Thread(target=slow_read_all, args=(srv.port, f"tok{i}", results))
               for i in range(6)]
    for t in workers:
        t.start()
    for t in workers:
        t.join(timeout=60 * SLOW)
    assert len(results) == 6
    for token, data in results.items():
        assert b"MISMATCH" not in data, data[data.find(b"MISMATCH"):][:200]
        assert b"END threads=" in data[-100:], data[-200:]


def flask_slow_read(port, token, results):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
    s.settimeout(10 * SLOW)
    s.connect(("127.0.0.1", port))
    try:
        s.sendall(build_request("GET", f"/stream?tok={token}", [("Connection", "close")]))
        data = b""
        deadline = time.monotonic() + 30 * SLOW
        while time.monotonic() < deadline:
            piece = s.recv(16384)
            if not piece:
                break
            data += piece
            if len(data) < 400_000:
                time.sleep(0.002)
        results[token] = data
    finally:
        s.close()


def test_flask_stream_with_context_under_concurrency(server_factory):
    """The user-visible face of the contextvars rule: flask.request inside a
    stream_with_context generator is the request that generator belongs to."""
    srv = server_factory("flask_stream:app", "--threads", "4")
    results = {}
    workers = [threading.Thread(target=flask_slow_read, args=(srv.port, f"t{i}", results))
               for i in range(6)]
    for t in workers:
        t.start()
    for t in workers:
        t.join(timeout=60 * SLOW)
    assert len(results) == 6
    for token, data in results.items():
        assert data.startswith(b"HTTP/1.1 200"), data[:200]
        tags = set(re.findall(rb"\[(t\d+)\]", data))
        assert tags == {token.encode()}, f"{token} got blocks for {sorted(tags)}"
        assert data.rstrip(b"\r\n0").endswith(b"END"), data[-100:]
