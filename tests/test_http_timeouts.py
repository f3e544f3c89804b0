"""Timeouts and slow clients: a stalled or slow client costs a connection,
never the worker; other clients keep being served meanwhile."""

import hashlib
import socket
import threading
import time

import pytest

from support import SLOW, RawConn, build_request, load_app_module

proto = load_app_module("proto")  # the server's app, to recompute /big


def closed_or_408(c, timeout):
    """Wait for the server to give up on c: either a 408 response then close,
    or a plain close. Returns the status (408) or None."""
    data = c.read_until_close(timeout=timeout)
    if data:
        assert data.startswith(b"HTTP/1.1 408") or data.startswith(b"HTTP/1.0 408"), data[:200]
        assert b"connection: close" in data.lower(), data[:300]
        return 408
    return None


@pytest.fixture(scope="module")
def timeout_server(module_server_factory):
    return module_server_factory("proto:application", "--header-timeout", "1",
                                 "--body-timeout", "1", "--keep-alive", "1")


def test_stalled_head_is_dropped_while_others_are_served(timeout_server):
    t0 = time.monotonic()
    with RawConn(timeout_server.port) as stalled:
        stalled.send(b"GET / HTTP/1.1\r\nHost: h\r\n")  # half a head, then nothing
        # Another client is served while the first one stalls.
        for _ in range(3):
            t1 = time.monotonic()
            assert timeout_server.get("/").status == 200
            assert time.monotonic() - t1 < 1.0 * SLOW
        closed_or_408(stalled, timeout=5 * SLOW)
    elapsed = time.monotonic() - t0
    assert 0.5 <= elapsed <= 5 * SLOW, elapsed


def test_trickled_head_is_dropped(timeout_server):
    """The header timeout bounds the whole head, not the gap between bytes:
    a client sending one byte every 100 ms is still cut off."""
    stop = threading.Event()
    head = b"GET / HTTP/1.1\r\nHost: h\r\nX-Slow: " + b"a" * 200

    def trickle(c):
        for i in range(len(head)):
            if stop.is_set() or not c.try_send(head[i:i + 1]):
                return
            time.sleep(0.1)

    t0 = time.monotonic()
    with RawConn(timeout_server.port) as c:
        t = threading.Thread(target=trickle, args=(c,))
        t.start()
        try:
            closed_or_408(c, timeout=6 * SLOW)
        finally:
            stop.set()
            t.join(timeout=10)
    elapsed = time.monotonic() - t0
    assert elapsed < 0.1 * len(head), "the server waited for the whole trickled head"
    assert elapsed <= 6 * SLOW


def test_stalled_body_is_dropped(timeout_server):
    t0 = time.monotonic()
    with RawConn(timeout_server.port) as c:
        c.send(b"POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 100\r\n\r\n0123456789")
        assert timeout_server.get("/").status == 200
        closed_or_408(c, timeout=5 * SLOW)
    assert 0.5 <= time.monotonic() - t0 <= 5 * SLOW


def test_slow_but_steady_body_is_accepted(timeout_server):
    """--body-timeout is the gap between body bytes: a body arriving in
    pieces 0.3 s apart, 2 s in all, is fine."""
    body = b"z" * 70
    with RawConn(timeout_server.port) as c:
        c.send(b"POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 70\r\n\r\n")
        for i in range(0, 70, 10):
            time.sleep(0.3)
            c.send(body[i:i + 10])
        r = c.read_response()
        assert r.status == 200, r
        assert r.json()["length"] == 70


def test_idle_keep_alive_is_closed(timeout_server):
    with RawConn(timeout_server.port) as c:
        c.send(build_request("GET", "/"))
        assert c.read_response().status == 200
        t0 = time.monotonic()
        c.assert_closed(timeout=5 * SLOW)
        assert 0.5 <= time.monotonic() - t0 <= 5 * SLOW


def test_keep_alive_survives_short_pause(timeout_server):
    with RawConn(timeout_server.port) as c:
        c.send(build_request("GET", "/"))
        assert c.read_response().status == 200
        time.sleep(0.3)
        c.send(build_request("GET", "/path/again"))
        assert c.read_response().body == b"/path/again?"


@pytest.mark.parametrize("mode", ["gen", "list"])
def test_slow_reader_does_not_block_others(proto_server, mode):
    """A client reading a 10 MiB response slowly; a second client's requests
    to / each complete quickly meanwhile. Then the slow client reads the rest
    fast and gets exactly the right bytes."""
    expected = proto.big_body(10)
    with RawConn(proto_server.port, rcvbuf=16384, timeout=30 * SLOW) as slow:
        slow.send(build_request("GET", f"/big?mb=10&mode={mode}"))
        head = slow.read_head()
        assert head.startswith(b"HTTP/1.1 200"), head
        got = [slow.buf]
        slow.buf = b""
        received = 0
        slow.sock.settimeout(10 * SLOW)
        fast_times = []
        deadline = time.monotonic() + 2.0
        with RawConn(proto_server.port) as fast:
            while time.monotonic() < deadline:
                piece = slow.sock.recv(4096)
                assert piece, "slow client: connection closed early"
                got.append(piece)
                received += len(piece)
                time.sleep(0.01)
                t1 = time.monotonic()
                fast.send(build_request("GET", "/"))
                r = fast.read_response(timeout=5 * SLOW)
                fast_times.append(time.monotonic() - t1)
                assert r.status == 200
        assert max(fast_times) < 2.0 * SLOW, max(fast_times)
        assert received < len(expected)  # it really was slow
        # Now read the rest at full speed.
        body = b"".join(got)
        deadline = time.monotonic() + 30 * SLOW
        while len(body) < len(expected) and time.monotonic() < deadline:
            piece = slow.sock.recv(1 << 20)
            if not piece:
                break
            body += piece
        assert len(body) == len(expected)
        assert hashlib.sha256(body).digest() == hashlib.sha256(expected).digest()
        # The connection is still usable afterwards.
        slow.send(build_request("GET", "/path/after-big"))
        assert slow.read_response().body == b"/path/after-big?"


def test_send_timeout_drops_client_that_stops_reading(server_factory):
    srv = server_factory("proto:application", "--send-timeout", "1")
    c = RawConn(srv.port, rcvbuf=16384, timeout=30 * SLOW)
    try:
        c.send(build_request("GET", "/big?mb=10&mode=gen"))
        # Meanwhile other clients are served.
        for _ in range(3):
            assert srv.get("/").status == 200
        # Do not read for a while: the server must give up on us.
        time.sleep(3 * SLOW)
        total = 0
        deadline = time.monotonic() + 30 * SLOW
        while time.monotonic() < deadline:
            try:
                piece = c.sock.recv(1 << 20)
            except ConnectionResetError:
                break
            if not piece:
                break
            total += len(piece)
        assert total < 10 * 1024 * 1024, "server waited for a client that stopped reading"
    finally:
        c.close()
    assert srv.get("/").status == 200


def test_many_idle_connections_do_not_block(proto_server):
    conns = []
    try:
        for _ in range(50):
            s = socket.create_connection(("127.0.0.1", proto_server.port), timeout=5)
            conns.append(s)
        t0 = time.monotonic()
        assert proto_server.get("/").status == 200
        assert time.monotonic() - t0 < 1.0 * SLOW
    finally:
        for s in conns:
            s.close()


def test_concurrent_clients(proto_server):
    errors = []

    def worker(n):
        try:
            with RawConn(proto_server.port) as c:
                for i in range(20):
                    c.send(build_request("POST", "/echo", body=b"%d-%d" % (n, i)))
                    r = c.read_response()
                    assert r.status == 200
                    assert r.json()["length"] == len(b"%d-%d" % (n, i))
        except Exception as e:  # reported below
            errors.append(repr(e))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30 * SLOW)
    assert not any(t.is_alive() for t in threads)
    assert not errors, errors
