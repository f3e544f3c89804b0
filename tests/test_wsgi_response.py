"""Responses (PEP 3333): start_response validation, header handling, the
write() callable, lazy start_response, framing choices (Content-Length vs
chunked vs close), HEAD/204/304, Date and Server."""

import time

import pytest

from support import SLOW, RawConn, build_request, http_date_ok


def get(server, path, method="GET", version="HTTP/1.1", headers=()):
    with RawConn(server.port) as c:
        c.send(build_request(method, path, headers, version=version))
        return c.read_response(method=method)


# -- start_response argument checks -------------------------------------------

@pytest.fixture(scope="module")
def checks_server(module_server_factory):
    # --strict-wsgi: refuse what PEP 3333 lets a server refuse (the default
    # serves hop-by-hop headers and reason-less statuses like gunicorn:
    # tests/test_gunicorn_compat.py).
    return module_server_factory("start_response_checks:application", "--strict-wsgi")


TYPE = {"TypeError"}
VALUE = {"ValueError"}
EITHER = TYPE | VALUE

MUST_RAISE = [
    ("/status-bytes", TYPE),
    ("/status-int", TYPE),
    ("/status-not-digits", VALUE),
    ("/status-crlf", VALUE),
    ("/status-no-reason", VALUE),
    ("/status-100", VALUE),
    ("/status-101", VALUE),
    ("/status-199", VALUE),
    ("/status-600", VALUE),
    ("/status-999", VALUE),
    ("/headers-not-list", TYPE),
    ("/headers-none", TYPE),
    ("/header-not-tuple", EITHER),
    ("/header-triple", EITHER),
    ("/header-name-bytes", TYPE),
    ("/header-value-bytes", TYPE),
    ("/header-value-int", TYPE),
    ("/header-value-crlf", VALUE),
    ("/header-value-lf", VALUE),
    ("/header-value-nul", VALUE),
    ("/header-name-colon", VALUE),
    ("/header-name-space", VALUE),
    ("/header-name-empty", VALUE),
    ("/header-value-not-latin1", VALUE),  # UnicodeEncodeError is a ValueError
    ("/hop-by-hop-connection", EITHER),
    ("/hop-by-hop-transfer-encoding", EITHER),
    ("/hop-by-hop-keep-alive", EITHER),
    ("/hop-by-hop-upgrade", EITHER),
]


@pytest.mark.parametrize("path,allowed", MUST_RAISE, ids=[p for p, _ in MUST_RAISE])
def test_start_response_rejects(checks_server, path, allowed):
    r = get(checks_server, path)
    assert r.status == 200, r
    report = r.json()
    assert report["exc"] is not None, f"start_response accepted {path}"
    assert allowed & set(report["mro"]), report
    assert r.header("X-Injected") is None, r
    assert r.header("X-Bad") is None, r


def test_start_response_accepts_latin1_value(checks_server):
    r = get(checks_server, "/good")
    assert r.status == 200
    assert r.header("X-Ok") == "caf\u00e9"
    assert r.body == b"good"


# -- headers and status ---------------------------------------------------------

@pytest.fixture(scope="module")
def headers_server(module_server_factory):
    return module_server_factory("headers_app:application")


def test_custom_reason_phrase(headers_server):
    r = get(headers_server, "/reason")
    assert r.raw_head.startswith(b"HTTP/1.1 299 Custom Reason Phrase\r\n"), r.raw_head
    assert r.body == b"custom"


def test_duplicate_headers_kept_in_order(headers_server):
    r = get(headers_server, "/dup")
    assert r.header_all("Set-Cookie") == ["a=1; Path=/", "b=2; Path=/"]
    assert r.header_all("X-Order") == ["first", "second"]


def test_date_and_server_headers(headers_server):
    r = get(headers_server, "/single")
    assert len(r.header_all("Date")) == 1, r
    assert http_date_ok(r.header("Date")), r.header("Date")
    assert len(r.header_all("Server")) == 1, r
    assert r.header("Server")


def test_app_server_and_date_not_duplicated(headers_server):
    r = get(headers_server, "/own-server-date")
    assert r.header_all("Server") == ["custom-server/1.0"], r
    assert len(r.header_all("Date")) == 1, r


def test_whitespace_around_header_values_is_cut(headers_server):
    """As gunicorn does (RFC 9110 5.5): ' 6 ' is Content-Length 6, not a 500."""
    r = get(headers_server, "/padded")
    assert r.status == 200 and r.body == b"padded", r
    assert b"Content-Length: 6\r\n" in r.raw_head and b"X-Padded: a  b\r\n" in r.raw_head
    assert b"Content-Type: text/plain\r\n" in r.raw_head


def test_single_item_list_gets_content_length(headers_server):
    r = get(headers_server, "/single")
    assert r.header("Content-Length") == str(len(b"single item body"))
    assert not r.chunked
    assert r.body == b"single item body"


def test_generator_gets_chunked_on_http11(headers_server):
    r = get(headers_server, "/multi")
    assert r.chunked, r
    assert r.body == b"multi chunk body"


def test_generator_close_delimited_on_http10(headers_server):
    with RawConn(headers_server.port) as c:
        c.send(b"GET /multi HTTP/1.0\r\n\r\n")
        r = c.read_response()
        assert not r.chunked and r.close_delimited, r
        assert r.body == b"multi chunk body"


def test_multi_item_list(headers_server):
    r = get(headers_server, "/multi-list")
    assert r.body == b"list of chunks"
    assert r.chunked or r.header("Content-Length") == "14"


def test_empty_result(headers_server):
    with RawConn(headers_server.port) as c:
        c.send(build_request("GET", "/empty") + build_request("GET", "/single"))
        r = c.read_response()
        assert r.status == 200 and r.body == b""
        assert r.chunked or r.header("Content-Length") == "0"
        assert c.read_response().body == b"single item body"


def test_app_content_length_lowercase_is_honoured(headers_server):
    r = get(headers_server, "/lowercase-cl")
    assert len(r.header_all("Content-Length")) == 1, r
    assert not r.chunked
    assert r.body == b"lower"


@pytest.mark.parametrize("status", [204, 304])
def test_no_body_statuses(headers_server, status):
    with RawConn(headers_server.port) as c:
        c.send(build_request("GET", f"/{status}") + build_request("GET", "/single"))
        r = c.read_response()
        assert r.status == status
        assert r.header("Transfer-Encoding") is None
        if status == 204:
            assert r.header("Content-Length") is None, r
        # The body the app returned was not sent: the next response follows.
        r2 = c.read_response()
        assert r2.status == 200 and r2.body == b"single item body", r2


def test_no_content_length_on_204_even_if_the_app_sets_one(headers_server):
    """RFC 9110 8.6: a server MUST NOT send Content-Length in a 204."""
    with RawConn(headers_server.port) as c:
        c.send(build_request("GET", "/204-cl") + build_request("GET", "/single"))
        r = c.read_response()
        assert r.status == 204
        assert r.header("Content-Length") is None, r.headers
        assert r.header("X-After") == "kept"
        r2 = c.read_response()
        assert r2.status == 200 and r2.body == b"single item body", r2


@pytest.mark.parametrize("path", ["/head-body", "/head-gen", "/single"])
def test_head_drops_body(headers_server, path):
    with RawConn(headers_server.port) as c:
        c.send(build_request("HEAD", path) + build_request("GET", "/single"))
        r = c.read_response(method="HEAD")
        assert r.status == 200
        if path == "/head-body":
            assert r.header("Content-Length") == "11"
        r2 = c.read_response()
        assert r2.status == 200 and r2.body == b"single item body", r2


def test_method_visible_to_app(headers_server):
    r = get(headers_server, "/json", method="POST")
    assert r.json()["method"] == "POST"


def test_connection_close_honoured(headers_server):
    with RawConn(headers_server.port) as c:
        c.send(build_request("GET", "/single", [("Connection", "close")]))
        r = c.read_response()
        assert r.has_token("Connection", "close")
        c.assert_closed()


# -- write() -------------------------------------------------------------------

@pytest.fixture(scope="module")
def write_server(module_server_factory):
    return module_server_factory("write_app:application")


def test_write_callable(write_server):
    r = get(write_server, "/")
    assert r.status == 200 and r.body == b"hello world"


def test_write_then_iterable(write_server):
    assert get(write_server, "/mixed").body == b"written and returned"


def test_write_with_content_length(write_server):
    r = get(write_server, "/cl")
    assert r.header("Content-Length") == "11"
    assert r.body == b"hello world"


def test_write_rejects_str(write_server):
    assert get(write_server, "/bad").body == b"write(str) raised: TypeError"


def test_write_keep_alive(write_server):
    with RawConn(write_server.port) as c:
        for _ in range(3):
            c.send(build_request("GET", "/mixed"))
            assert c.read_response().body == b"written and returned"


# -- lazy start_response --------------------------------------------------------

@pytest.fixture(scope="module")
def lazy_server(module_server_factory):
    return module_server_factory("lazy_start:application")


def test_lazy_start_response(lazy_server):
    r = get(lazy_server, "/")
    assert r.status == 200
    assert r.header("X-Lazy") == "1"
    assert r.body == b"lazy body"


def test_empty_chunks_do_not_send_the_head(lazy_server):
    r = get(lazy_server, "/empty-first")
    assert r.status == 202, r
    assert r.header("X-Late") == "yes"
    assert r.body == b"late"


def test_generator_without_body(lazy_server):
    r = get(lazy_server, "/no-body")
    assert r.status == 200
    assert r.header("X-Lazy") == "1"
    assert r.body == b""


# -- streaming ------------------------------------------------------------------

def test_blocks_are_sent_as_produced(server_factory, tmp_path):
    """PEP 3333, Buffering and Streaming: a server "must not delay the
    transmission of any block". The app yields one block and then waits until
    the client has received it before it yields the next."""
    srv = server_factory("streaming:application")
    mark = tmp_path / "seen"
    with RawConn(srv.port) as c:
        c.send(build_request("GET", f"/wait?mark={mark}"))
        deadline = time.monotonic() + 3 * SLOW
        try:
            while b"first block;" not in c.buf:
                assert c._recv_more(deadline), "connection closed"
        except TimeoutError:
            pytest.fail("the first block did not arrive while the generator was running "
                        f"(got {c.buf[:200]!r})")
        mark.write_text("seen")
        r = c.read_response()
        assert r.status == 200
        assert r.body == b"first block;seen"


def test_blocks_are_sent_as_produced_inline(server_factory, tmp_path):
    """The same with the app on the loop thread (--threads 1, the default
    with -w): a block is sent before the generator makes the next one."""
    srv = server_factory("streaming:application", "--threads", "1")
    mark = tmp_path / "seen"
    with RawConn(srv.port) as c:
        c.send(build_request("GET", f"/wait?mark={mark}"))
        deadline = time.monotonic() + 3 * SLOW
        while b"first block;" not in c.buf:
            assert c._recv_more(deadline), "connection closed"
        mark.write_text("x")
