"""Streamed responses come out whole in every mode.

A paused response iteration must resume whatever the mode: inline (--threads
1, and so every -w N default) or on a pool thread. The regression this
guards: inline, the connection stopped after 64 rounds of its processing loop
with the iteration able to go on and no event armed to wake it, so a
generator of more than 64 chunks (a Flask send_file of a BytesIO, a Range
download, a Django StreamingHttpResponse, a Bottle generator) stalled until
the client sent another byte.

Also here: HEAD of a response whose length is unknown carries no
Content-Length (an empty result to a HEAD is not a known length of 0).
"""

import hashlib
import re
import time

import pytest

from support import IO_TIMEOUT, SLOW, build_request, load_app_module

chunks_app = load_app_module("chunks_app")

MODES = {
    "inline": ["--threads", "1"],
    "pool": [],  # one process, the default 4 app threads
    "w1": ["-w", "1"],
    "w2": ["-w", "2"],
    "w1-pool": ["-w", "1", "--threads", "2"],
}

STATIC_SIZE = 2 * 1024 * 1024


def static_bytes():
    return bytes((i * 7 + i // 251) & 0xFF for i in range(STATIC_SIZE))


@pytest.fixture(scope="module")
def static_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("static")
    (d / "big.bin").write_bytes(static_bytes())
    return d


@pytest.fixture(scope="module", params=list(MODES), ids=list(MODES))
def mix(request, module_server_factory, static_dir):
    return module_server_factory("streams_mix:application", *MODES[request.param],
                                 env={"WSGIHOST_TEST_STATIC": str(static_dir)})


def read_chunked(conn, timeout):
    """Read one chunked response without keeping its body: returns (head,
    number of chunks, body length, sha256 of the body). Bounded by timeout."""
    deadline = time.monotonic() + timeout
    sock = conn.sock
    buf = bytearray(conn.buf)
    conn.buf = b""
    digest = hashlib.sha256()
    n_chunks = total = 0
    head = None
    pos = 0

    def more():
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"response incomplete after {timeout}s: {n_chunks} chunks, "
                               f"{total} bytes")
        sock.settimeout(remaining)
        data = sock.recv(1 << 20)
        if not data:
            raise AssertionError(f"connection closed after {n_chunks} chunks, {total} bytes")
        buf.extend(data)

    while head is None:
        i = buf.find(b"\r\n\r\n")
        if i >= 0:
            head = bytes(buf[:i + 4])
            pos = i + 4
        else:
            more()
    assert re.search(rb"(?im)^transfer-encoding: chunked\r$", head), head
    for _ in range(10_000_000):
        i = buf.find(b"\r\n", pos)
        if i < 0:
            del buf[:pos]
            pos = 0
            more()
            continue
        size = int(buf[pos:i], 16)
        if size == 0:
            while buf.find(b"\r\n", i + 2) < 0:
                more()
            assert buf[i:i + 4] == b"\r\n\r\n", bytes(buf[i:i + 40])
            conn.buf = bytes(buf[i + 4:])
            return head, n_chunks, total, digest.hexdigest()
        while len(buf) < i + 2 + size + 2:
            more()
        digest.update(memoryview(buf)[i + 2:i + 2 + size])
        assert buf[i + 2 + size:i + 4 + size] == b"\r\n"
        n_chunks += 1
        total += size
        pos = i + 4 + size
        if pos > (8 << 20):
            del buf[:pos]
            pos = 0
    raise AssertionError("too many chunks")


def expected(n, size):
    d = hashlib.sha256()
    for i in range(n):
        d.update(chunks_app.chunk(i, size))
    return n * size, d.hexdigest()


@pytest.mark.parametrize("n", [1, 63, 64, 65, 200, 10_000])
@pytest.mark.parametrize("size", [10, 65536])
def test_generator_chunks_all_arrive(mix, request, n, size):
    big = n * size > 64 << 20
    if big and request.node.callspec.params["mix"] not in ("inline", "pool"):
        pytest.skip("640 MiB runs in the inline and pool modes only")
    with mix.conn() as c:
        c.send(build_request("GET", f"/raw/gen?n={n}&size={size}"))
        _, got_chunks, got_len, got_sha = read_chunked(c, (60 if big else 10) * SLOW)
        assert (got_chunks, got_len) == (n, n * size)
        assert (got_len, got_sha) == expected(n, size)
        # The connection is still good for the next request.
        c.send(build_request("GET", "/raw/list?body=next"))
        r = c.read_response()
        assert r.status == 200 and r.body == b"next", r


def test_pipelined_after_a_long_stream(mix):
    """The second request waits for the first's 200 chunks, then is answered."""
    with mix.conn() as c:
        c.send(build_request("GET", "/raw/gen?n=200&size=10")
               + build_request("GET", "/raw/list?body=second"))
        _, n, length, _ = read_chunked(c, IO_TIMEOUT)
        assert (n, length) == (200, 2000)
        r = c.read_response()
        assert r.body == b"second", r


def test_flask_send_file_bytesio(mix):
    blob = load_app_module("flask_files").BLOB
    with mix.conn() as c:
        c.send(build_request("GET", "/flask/blob"))
        r = c.read_response()
        assert r.status == 200, r
        assert len(r.body) == len(blob) == 819_200
        assert r.body == blob


def test_flask_static_range_download(mix):
    data = static_bytes()
    with mix.conn() as c:
        c.send(build_request("GET", "/flask/static/big.bin", [("Range", "bytes=100-")]))
        r = c.read_response()
        assert r.status == 206, r
        assert r.header("Content-Range") == f"bytes 100-{STATIC_SIZE - 1}/{STATIC_SIZE}"
        assert len(r.body) == STATIC_SIZE - 100
        assert r.body == data[100:]
        c.send(build_request("GET", "/flask/static/big.bin"))
        r = c.read_response()
        assert r.status == 200 and r.body == data, r


def test_flask_streamed_response(mix):
    with mix.conn() as c:
        c.send(build_request("GET", "/flask/lines"))
        r = c.read_response()
        assert r.status == 200, r
        assert r.body == "".join(f"line {i}\n" for i in range(200)).encode()


def test_django_streaming_http_response(mix):
    with mix.conn() as c:
        c.send(build_request("GET", "/django/rows"))
        r = c.read_response()
        assert r.status == 200, r
        assert r.header("Content-Type") == "text/csv"
        assert r.body == "".join(f"{i},row {i}\n" for i in range(500)).encode()


def test_bottle_generator(mix):
    with mix.conn() as c:
        c.send(build_request("GET", "/bottle/lines"))
        r = c.read_response()
        assert r.status == 200, r
        assert r.body == "".join(f"line {i}\n" for i in range(100)).encode()


# -- HEAD of a response of unknown length -------------------------------------------

def head(server, path):
    """HEAD then a GET on the same connection: the HEAD's response has no
    body whatever its headers say, and the connection stays usable."""
    with server.conn() as c:
        c.send(build_request("HEAD", path))
        r = c.read_response(method="HEAD")
        c.send(build_request("GET", "/raw/list?body=after"))
        after = c.read_response()
        assert after.status == 200 and after.body == b"after", after
        return r


@pytest.fixture(scope="module")
def mix_inline(module_server_factory, static_dir):
    return module_server_factory("streams_mix:application", "--threads", "1",
                                 env={"WSGIHOST_TEST_STATIC": str(static_dir)})


@pytest.mark.parametrize("path", ["/raw/gen?n=5&size=10", "/raw/empty", "/raw/tuple",
                                  "/flask/lines", "/bottle/lines", "/django/rows"])
def test_head_of_unknown_length_has_no_content_length(mix_inline, path):
    r = head(mix_inline, path)
    assert r.status == 200, r
    assert r.header("Content-Length") is None, r
    assert r.header("Transfer-Encoding") is None, r


def test_head_keeps_a_known_length(mix_inline, static_dir):
    r = head(mix_inline, "/raw/list?body=hello")
    assert r.header("Content-Length") == "5", r
    r = head(mix_inline, "/flask/static/big.bin")
    assert r.header("Content-Length") == str(STATIC_SIZE), r
    r = head(mix_inline, "/flask/blob")
    assert r.header("Content-Length") == "819200", r


def test_get_of_an_empty_stream_still_says_zero(mix_inline):
    """A GET that produced no body has a known length: 0."""
    r = mix_inline.get("/raw/empty")
    assert r.status == 200 and r.body == b"", r
    assert r.header("Content-Length") == "0", r
