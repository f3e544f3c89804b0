"""Thousands of requests through every bridge path must not grow the
interpreter's live blocks (sys.getallocatedblocks(), read through the app),
the process's descriptors or its RSS.

LSan (the sanitizer run) cannot see PyObject leaks: its suppressions hide
libpython, so this test is what catches a missing Py_DECREF.
"""

import hashlib
import os

import pytest

from support import (IO_TIMEOUT, SANITIZER, SLOW, SOURCE_ROOT, RawConn, build_request, chunked,
                     fd_count, rss_kb, wait_for)

ROUNDS_WARMUP = 100
ROUNDS = 600
# A leak of one block per request of any single kind grows by >= ROUNDS.
MAX_BLOCK_GROWTH = ROUNDS // 2
MAX_RSS_GROWTH_KB = 16 * 1024  # a leaked 64 KiB body per round would be ~38 MiB

BODY = os.urandom(64 * 1024)
BODY_SHA = hashlib.sha256(BODY).hexdigest()


@pytest.fixture(scope="module")
def leak_server(module_server_factory):
    return module_server_factory("alloc_app:application", "--body-buffer-size", "32768")


def blocks(server):
    with RawConn(server.port) as c:
        c.send(build_request("GET", "/blocks"))
        return c.read_response().json()["blocks"]


def one_round(port):
    """One request of every kind; a fresh connection each round."""
    with RawConn(port) as c:
        keep = [
            (build_request("GET", "/environ?q=1", [("X-A", "1"), ("X-A", "2"),
                                                   ("X_Dropped", "x"), ("Cookie", "c=1")]),
             "GET", lambda r: r.status == 200),
            (build_request("POST", "/echo", body=BODY), "POST",
             lambda r: r.json()["sha256"] == BODY_SHA),
            (build_request("POST", "/echo", [("Transfer-Encoding", "chunked")],
                           body=chunked(b"abc" * 100, 64)), "POST",
             lambda r: r.json()["length"] == 300),
            (build_request("POST", "/lines", body=b"a\nb\nc\n"), "POST",
             lambda r: r.json()["lines"] == 3),
            (build_request("GET", "/gen"), "GET", lambda r: r.body == b"0,1,2,3,4,"),
            (build_request("GET", "/close"), "GET", lambda r: r.body == b"abc"),
            (build_request("GET", "/write"), "GET", lambda r: r.body == b"written;returned"),
            (build_request("GET", "/bad-header"), "GET", lambda r: r.body == b"recovered"),
            (build_request("GET", "/file"), "GET", lambda r: r.body == b"file body " * 10),
            (build_request("HEAD", "/"), "HEAD", lambda r: r.status == 200),
            (build_request("GET", "/"), "GET", lambda r: r.body == b"hello"),
        ]
        for raw, method, check in keep:
            c.send(raw)
            r = c.read_response(method=method)
            assert check(r), r
        c.send(build_request("GET", "/error"))
        assert c.read_response().status == 500
    with RawConn(port) as c:
        c.send(b"GET / HTTP/1.1\r\nX-A : b\r\n\r\n")
        assert c.read_response().status == 400


def test_no_growth(leak_server):
    port = leak_server.port
    for _ in range(ROUNDS_WARMUP):
        one_round(port)
    b0 = blocks(leak_server)
    fds0 = fd_count(leak_server.pid)
    rss0 = rss_kb(leak_server.pid)
    for _ in range(ROUNDS // 2):
        one_round(port)
    b1 = blocks(leak_server)
    for _ in range(ROUNDS - ROUNDS // 2):
        one_round(port)
    b2 = blocks(leak_server)
    rss2 = rss_kb(leak_server.pid)
    # Client sockets are closed; the server releases its side promptly.
    wait_for(lambda: fd_count(leak_server.pid) <= fds0, IO_TIMEOUT * SLOW,
             what=f"fd count back to {fds0} (now {fd_count(leak_server.pid)})")
    if b0 == 0:
        pytest.skip("sys.getallocatedblocks() is 0 (PYTHONMALLOC=malloc): blocks not measurable")
    assert b2 - b0 < MAX_BLOCK_GROWTH, \
        f"allocated blocks grew {b0} -> {b1} -> {b2} over {ROUNDS} rounds"
    if not SANITIZER:
        assert rss2 - rss0 < MAX_RSS_GROWTH_KB, f"RSS grew {rss0} -> {rss2} KiB"


def test_flask_app_no_growth(server_factory):
    """The real app through Flask: blocks and RSS stay flat after warm-up."""
    srv = server_factory("flask_blocks:application", "--pythonpath", str(SOURCE_ROOT))

    def burst(n):
        with RawConn(srv.port) as c:
            for i in range(n):
                c.send(build_request("GET", "/api/items"))
                assert c.read_response().status == 200
                c.send(build_request("POST", "/api/echo", body=BODY))
                assert c.read_response().json()["sha256"] == BODY_SHA
                c.send(build_request("GET", "/api/stream"))
                assert c.read_response().status == 200
                c.send(build_request("GET", "/static/hello.txt"))
                assert c.read_response().status == 200
                c.send(build_request("GET", "/nope"))
                assert c.read_response().status == 404

    def flask_blocks():
        with RawConn(srv.port) as c:
            c.send(build_request("GET", "/__blocks"))
            return c.read_response().json()["blocks"]

    burst(300)  # Flask and Werkzeug fill small caches for a while
    b0 = flask_blocks()
    rss0 = rss_kb(srv.pid)
    burst(ROUNDS)
    b1 = flask_blocks()
    rss1 = rss_kb(srv.pid)
    if b0 == 0:
        pytest.skip("sys.getallocatedblocks() is 0 (PYTHONMALLOC=malloc): blocks not measurable")
    assert b1 - b0 < MAX_BLOCK_GROWTH, f"allocated blocks grew {b0} -> {b1} over {ROUNDS} rounds"
    if not SANITIZER:
        assert rss1 - rss0 < MAX_RSS_GROWTH_KB, f"RSS grew {rss0} -> {rss1} KiB"
