"""Limits under abuse: running out of file descriptors, and clients that ask
for a large response and stop reading.

Not here, because tests/test_http_timeouts.py already asserts it with its
timing: a client that stalls or trickles its request head is closed after
--header-timeout while other clients are served within 1 s
(test_stalled_head_is_dropped_while_others_are_served,
test_trickled_head_is_dropped).
"""

import os
import re
import select
import shutil
import socket
import time

import pytest

from support import (SANITIZER, SLOW, SOURCE_ROOT, RawConn, build_request, fd_count,
                     load_app_module, rss_kb, wait_for)

abuse_app = load_app_module("abuse_app")

CLK_TCK = os.sysconf("SC_CLK_TCK")


def _c_define(path, name):
    """An integer #define from the C sources, so the bounds follow them."""
    text = (SOURCE_ROOT / path).read_text()
    m = re.search(rf"#define\s+{name}\s+\((\d+)\s*\*\s*(\d+)\)", text)
    assert m, f"{name} not found in {path}"
    return int(m.group(1)) * int(m.group(2))


HIGH_WATER = _c_define("csrc/http_resp.h", "HTTP_RESP_HIGH_WATER")   # 512 KiB
WRITE_SLICE = _c_define("csrc/wsgi.c", "WSGI_WRITE_SLICE")            # 256 KiB


# -- helpers -------------------------------------------------------------------

def start_limited(server_factory, nofile, *args):
    """A server whose RLIMIT_NOFILE is `nofile` (soft and hard). prlimit sets
    the limit and execs wsgihost, so the pid is the server's own."""
    prlimit = shutil.which("prlimit")
    if prlimit is None:
        pytest.skip("prlimit not found (Debian package util-linux)")
    srv = server_factory("abuse_app:application", *args, start=False)
    base = srv.command
    srv.command = lambda: [prlimit, f"--nofile={nofile}:{nofile}", "--", *base()]
    srv.start()
    with open(f"/proc/{srv.pid}/limits") as f:
        limits = f.read()
    assert re.search(rf"Max open files\s+{nofile}\s+{nofile}", limits), limits
    return srv


def children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def cpu_seconds(pids):
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
        rest = stat[stat.rfind(")") + 2:].split()
        total += int(rest[11]) + int(rest[12])   # utime + stime
    return total / CLK_TCK


def open_idle(port, n, first=b"G"):
    """n connections opened at once (non-blocking connect), each sending
    `first` (the start of a request head that never ends; b"" = nothing, and
    then the listener's TCP_DEFER_ACCEPT keeps them in the kernel)."""
    socks = []
    for _ in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        try:
            s.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        socks.append(s)
    # Every handshake completes in the kernel (the backlog is 2048) whether
    # or not the server accepts.
    deadline = time.monotonic() + 5 * SLOW
    pending = list(socks)
    while pending and time.monotonic() < deadline:
        _, writable, _ = select.select([], pending, [], 0.5)
        for s in writable:
            err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            assert err == 0, os.strerror(err)
            if first:
                s.send(first)
            pending.remove(s)
    assert not pending, f"{len(pending)} connections did not complete"
    return socks


def read_big(c, timeout):
    """One response with a Content-Length body, read into one bytearray
    (RawConn's buffer concatenation is quadratic for 10 MiB in small pieces).
    Returns (status, body)."""
    c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    deadline = time.monotonic() + timeout
    head = c.read_head(timeout=timeout)
    status = int(head.split(b" ", 2)[1])
    m = re.search(rb"\r\ncontent-length: *(\d+)\r\n", head, re.I)
    assert m, head
    length = int(m.group(1))
    body = bytearray(c.buf)
    c.buf = b""
    view = memoryview(bytearray(1 << 20))
    while len(body) < length:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"body not read within {timeout} s ({len(body)} of {length})"
        c.sock.settimeout(remaining)
        n = c.sock.recv_into(view, min(len(view), length - len(body)))
        assert n, f"connection closed after {len(body)} of {length} body bytes"
        body += view[:n]
    return status, bytes(body)


def served(port, timeout):
    with RawConn(port, timeout=timeout) as c:
        c.send(build_request("GET", "/"))
        r = c.read_response()
    assert r.status == 200 and r.body == b"ok", r
    return r


# -- 1. EMFILE: pause accepting, stay cheap, recover ---------------------------

def test_silent_connections_do_not_take_descriptors(server_factory):
    """TCP_DEFER_ACCEPT: a connection that sends nothing stays in the kernel,
    so a flood of them far past the descriptor limit does not stop the
    server from serving (before it, the normal client got nothing)."""
    srv = start_limited(server_factory, NOFILE, "--header-timeout", "60")
    served(srv.port, 5 * SLOW)
    mark = srv.log_mark()
    flood = open_idle(srv.port, FLOOD, first=b"")
    try:
        for _ in range(5):
            served(srv.port, 5 * SLOW)
        assert fd_count(srv.pid) < NOFILE // 2
        assert "Too many open files" not in srv.log_since(mark)
    finally:
        for s in flood:
            s.close()

NOFILE = 64
FLOOD = 200      # idle connections: more than every worker's descriptors together
HOLD = 2.0       # seconds the flood is held while CPU time is measured


@pytest.mark.parametrize("mode", [[], ["-w", "2"]], ids=["single", "w2"])
def test_emfile_pauses_accepting_and_recovers(server_factory, mode):
    # A long header timeout: the held connections must not time out (and free
    # descriptors) during the test.
    srv = start_limited(server_factory, NOFILE, "--header-timeout", "60", *mode)
    workers = 2 if mode else 1
    if mode:
        wait_for(lambda: len(children(srv.pid)) == 2, 10 * SLOW, what="2 workers")
    procs = [srv.pid] + children(srv.pid)
    servers = children(srv.pid) if mode else [srv.pid]
    served(srv.port, 5 * SLOW)

    mark = srv.log_mark()
    flood = open_idle(srv.port, FLOOD)
    probe = None
    try:
        # Every serving process reaches its limit and says so.
        wait_for(lambda: srv.log_since(mark).count("Too many open files") >= workers,
                 10 * SLOW, what="an EMFILE warning from every serving process")
        wait_for(lambda: all(fd_count(p) >= NOFILE - 1 for p in servers), 5 * SLOW,
                 what="every serving process at its descriptor limit")
        assert "pausing accepts" in srv.log_since(mark)

        # A client arriving now waits in the backlog.
        probe = RawConn(srv.port, timeout=10 * SLOW)
        probe.send(build_request("GET", "/"))

        # Held at the limit: the server must not spin on accept() (it retries
        # on its 250 ms tick), nor warn on every retry.
        hold_mark = srv.log_mark()
        cpu0, t0 = cpu_seconds(procs), time.monotonic()
        time.sleep(HOLD)
        cpu1, t1 = cpu_seconds(procs), time.monotonic()
        cpu = cpu1 - cpu0
        assert cpu < min(0.5, 0.1 * SLOW) * (t1 - t0), \
            f"{cpu:.2f} s of CPU in {t1 - t0:.1f} s held at EMFILE (accept loop spinning?)"
        repeated = srv.log_since(hold_mark).count("Too many open files")
        assert repeated <= workers, f"{repeated} EMFILE warnings in {HOLD} s: the log is flooded"
        assert all(fd_count(p) <= NOFILE for p in servers)
        assert not select.select([probe.sock], [], [], 0)[0], \
            "the probe was answered although every descriptor was taken"
        assert srv.alive() and children(srv.pid) == procs[1:], "a process died or was replaced"
    finally:
        for s in flood:
            s.close()

    # Released: the client that waited in the backlog and a new one are served.
    try:
        t0 = time.monotonic()
        r = probe.read_response(timeout=5 * SLOW)
        assert r.status == 200 and r.body == b"ok", r
        served(srv.port, 5 * SLOW)
        assert time.monotonic() - t0 < 2.0 * SLOW, "recovery after the flood was slow"
    finally:
        probe.close()
    assert srv.alive() and [srv.pid] + children(srv.pid) == procs
    # And accepting keeps working: the descriptors were given back.
    wait_for(lambda: all(fd_count(p) < NOFILE // 2 for p in servers), 5 * SLOW,
             what="descriptors released")
    for _ in range(3):
        served(srv.port, 5 * SLOW)


# -- 2. A client that stops reading a large response ---------------------------

N_STALLED = 3
RSS_SLACK_KB = 2048   # malloc and Python bookkeeping for a few requests
PER_CLIENT_QUEUE_KB = (HIGH_WATER + WRITE_SLICE + 64 * 1024) // 1024


def stalled_growth_kb(srv, path):
    """RSS growth of the server while N_STALLED clients (4 KiB receive
    buffers) have requested `path` and read nothing; returns (growth, conns)."""
    for _ in range(3):   # warm: the route, Python's caches, one full response
        with RawConn(srv.port, timeout=10 * SLOW) as c:
            c.send(build_request("GET", path))
            assert read_big(c, 10 * SLOW)[0] == 200
    for _ in range(20):
        served(srv.port, 5 * SLOW)
    rss0 = rss_kb(srv.pid)
    conns = []
    for _ in range(N_STALLED):
        c = RawConn(srv.port, rcvbuf=4096, timeout=30 * SLOW)
        c.send(build_request("GET", path))
        conns.append(c)
    peak = rss0
    deadline = time.monotonic() + 1.0 * SLOW
    while time.monotonic() < deadline:
        time.sleep(0.05)
        peak = max(peak, rss_kb(srv.pid))
    return peak - rss0, conns


def read_all_and_check(conns, expected_len, expected=None):
    for c in conns:
        status, body = read_big(c, 30 * SLOW)
        assert status == 200
        assert len(body) == expected_len
        if expected is not None:
            assert body == expected
        # The connection is still good for the next request.
        c.send(build_request("GET", "/"))
        assert c.read_response().body == b"ok"
        c.close()


@pytest.mark.parametrize("args", [[], ["--threads", "1"]], ids=["pool", "inline"])
@pytest.mark.parametrize("path", ["/stream?mb=10", "/const"])
def test_stalled_reader_queue_is_bounded(server_factory, args, path):
    """A 10 MiB response to a client that reads nothing costs the server one
    output queue (the high-water mark plus one slice), not the body:

    /stream yields 64 KiB chunks and is paused when the queue fills;
    /const returns one 10 MiB bytes object shared by every request (a file
    cached in memory): Python holds it once, and the server must not copy it
    whole into each slow client's queue (it did, 10 MiB per client, before
    items were queued in WSGI_WRITE_SLICE pieces)."""
    srv = server_factory("abuse_app:application", *args)
    growth, conns = stalled_growth_kb(srv, path)
    try:
        # Others are served meanwhile.
        served(srv.port, 2 * SLOW)
        bound = N_STALLED * PER_CLIENT_QUEUE_KB + RSS_SLACK_KB
        if not SANITIZER:   # ASan's quarantine and shadow memory make RSS meaningless
            assert growth < bound, \
                f"RSS grew {growth} KiB with {N_STALLED} stalled clients (bound {bound} KiB)"
        expected = abuse_app.BIG if path == "/const" else None
        read_all_and_check(conns, 10 * 1024 * 1024, expected)
    finally:
        for c in conns:
            c.close()


def test_stalled_reader_fresh_body_is_not_copied(server_factory):
    """[bytes] made per request: Python holds those 10 MiB until the response
    ends (the app's choice, nothing a server can avoid); the server adds no
    more than a queue to it (it used to add a copy of the whole body)."""
    srv = server_factory("abuse_app:application")
    growth, conns = stalled_growth_kb(srv, "/fresh?mb=10")
    try:
        served(srv.port, 2 * SLOW)
        bound = N_STALLED * (10 * 1024 + PER_CLIENT_QUEUE_KB) + RSS_SLACK_KB
        if not SANITIZER:
            assert growth < bound, \
                f"RSS grew {growth} KiB with {N_STALLED} stalled clients (bound {bound} KiB)"
        read_all_and_check(conns, 10 * 1024 * 1024, b"f" * (10 * 1024 * 1024))
    finally:
        for c in conns:
            c.close()
