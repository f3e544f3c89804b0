"""Application errors (500 before the head, abort after it), exc_info, and
close() on the result on every path including a client that goes away."""

import time

import pytest

from support import IO_TIMEOUT, RawConn, build_request, wait_for


def get(server, path, method="GET", version="HTTP/1.1", allow_incomplete=False):
    c = RawConn(server.port)
    c.send(build_request(method, path, version=version))
    return c.read_response(method=method, allow_incomplete=allow_incomplete), c


# -- exceptions -------------------------------------------------------------------

@pytest.fixture(scope="module")
def exc_server(module_server_factory):
    return module_server_factory("exceptions_app:application")


BEFORE_HEAD = ["/before-start", "/after-start", "/in-first-chunk", "/no-start-response",
               "/returns-none", "/yields-str", "/returns-str"]


@pytest.mark.parametrize("path", BEFORE_HEAD)
def test_error_before_head_gives_500(exc_server, path):
    r, c = get(exc_server, path)
    with c:
        assert r.status == 500, r
        # If the server kept the connection, it must be usable.
        if not r.has_token("Connection", "close"):
            c.send(build_request("GET", "/ok"))
            assert c.read_response().body == b"ok"
        else:
            c.assert_closed()
    r2, c2 = get(exc_server, "/ok")
    c2.close()
    assert r2.status == 200 and r2.body == b"ok"


def test_traceback_logged(exc_server):
    r, c = get(exc_server, "/before-start")
    c.close()
    assert r.status == 500
    wait_for(lambda: "raised before start_response" in exc_server.log(), IO_TIMEOUT,
             what="traceback in the log")
    assert "Traceback" in exc_server.log()


def test_500_has_no_traceback_in_body(exc_server):
    r, c = get(exc_server, "/before-start")
    c.close()
    assert b"raised before start_response" not in r.body
    assert b"Traceback" not in r.body


@pytest.mark.parametrize("path", ["/after-first-chunk", "/after-first-chunk-cl"])
def test_error_after_head_aborts_connection(exc_server, path):
    r, c = get(exc_server, path, allow_incomplete=True)
    with c:
        assert r.status == 200
        assert not r.complete, "a response cut short must not look complete"
        assert r.body == b"partial body;"
        c.assert_closed()
    r2, c2 = get(exc_server, "/ok")
    c2.close()
    assert r2.body == b"ok"


def test_error_after_head_http10(exc_server):
    """Close-delimited: the client cannot tell, but the server must still
    close right away rather than hang."""
    c = RawConn(exc_server.port)
    with c:
        c.send(b"GET /after-first-chunk HTTP/1.0\r\n\r\n")
        r = c.read_response()
        assert r.status == 200
        assert r.body == b"partial body;"


# -- exc_info -------------------------------------------------------------------

@pytest.fixture(scope="module")
def exc_info_server(module_server_factory):
    return module_server_factory("exc_info_app:application")


def test_exc_info_before_head_replaces_status(exc_info_server):
    r, c = get(exc_info_server, "/before-head")
    c.close()
    assert r.status == 500
    assert r.header("X-Second") == "1"
    assert r.header("X-First") is None
    assert r.body == b"replaced"


def test_exc_info_after_head_reraises(exc_info_server):
    r, c = get(exc_info_server, "/after-head", allow_incomplete=True)
    with c:
        assert r.status == 200
        assert b"first chunk;" in r.body
        assert b"should not be sent" not in r.body
        assert not r.complete
        c.assert_closed()
    r2, c2 = get(exc_info_server, "/last")
    c2.close()
    # PEP 3333: start_response "should re-raise using the exc_info tuple".
    assert r2.json().get("after-head") == "AppError", r2.json()


def test_start_response_twice_without_exc_info_raises(exc_info_server):
    r, c = get(exc_info_server, "/twice")
    c.close()
    assert r.status == 200
    assert r.body not in (b"no exception", b""), r.body


# -- close() ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def close_log(tmp_path_factory):
    return tmp_path_factory.mktemp("close") / "close.log"


@pytest.fixture(scope="module")
def close_server(module_server_factory, close_log):
    close_log.write_text("")
    return module_server_factory("close_recorder:application",
                                 env={"WSGIHOST_TEST_CLOSE_LOG": str(close_log)})


def closes(close_log, tag):
    return close_log.read_text().splitlines().count("close " + tag)


def wait_closed(close_log, tag):
    wait_for(lambda: closes(close_log, tag) >= 1, IO_TIMEOUT, what=f"close() for {tag}")
    return closes(close_log, tag)


def test_close_on_normal_end(close_server, close_log):
    r, c = get(close_server, "/normal?normal")
    c.close()
    assert r.body == b"one two three"
    assert wait_closed(close_log, "normal") == 1


def test_close_on_head(close_server, close_log):
    r, c = get(close_server, "/normal?head", method="HEAD")
    c.close()
    assert r.status == 200
    assert wait_closed(close_log, "head") == 1


@pytest.mark.parametrize("threads", [1, 4])
def test_head_answered_after_close(server_factory, close_log, threads):
    """A HEAD's client has the whole response with the head, and may send
    its next request at once, on another connection: close() must have run
    by then, as under gunicorn's sync worker (issue 12: the head went out
    with the first chunk while a pool thread still iterated)."""
    srv = server_factory("close_recorder:application", "--threads", str(threads),
                         env={"WSGIHOST_TEST_CLOSE_LOG": str(close_log)})
    tag = f"head-slow-{threads}"
    r, c = get(srv, f"/slow?{tag}", method="HEAD")
    c.close()
    assert r.status == 200
    assert r.body == b""
    assert closes(close_log, tag) == 1, "the head arrived before close()"


def test_head_of_endless_iterable_still_sent(close_server, close_log):
    """The head of a body-less response waits for the iterable's end, but
    not for ever: an endless one is ended (close()) after about a second,
    with a warning, and the head sent; nothing of it would reach the client,
    and nothing would notice the client leave."""
    mark = close_server.log_mark()
    r, c = get(close_server, "/infinite?head-endless", method="HEAD")
    c.close()
    assert r.status == 200
    assert r.body == b""
    assert closes(close_log, "head-endless") == 1
    assert "HEAD /infinite: a body-less response's iterable ran for over 1 s; ended there" \
        in close_server.log_since(mark)
    r, c = get(close_server, "/normal?after-endless")
    c.close()
    assert r.body == b"one two three"


def test_close_on_exception_before_head(close_server, close_log):
    r, c = get(close_server, "/raise-first?raise-first")
    c.close()
    assert r.status == 500
    assert wait_closed(close_log, "raise-first") == 1


def test_close_on_exception_after_head(close_server, close_log):
    r, c = get(close_server, "/raise-later?raise-later", allow_incomplete=True)
    c.close()
    assert r.status == 200
    assert wait_closed(close_log, "raise-later") == 1


def test_close_on_404(close_server, close_log):
    r, c = get(close_server, "/missing?missing")
    c.close()
    assert r.status == 404
    assert wait_closed(close_log, "missing") == 1


def test_close_on_client_disconnect_mid_stream(close_server, close_log):
    c = RawConn(close_server.port)
    c.send(build_request("GET", "/infinite?disconnect"))
    head = c.read_head()
    assert head.startswith(b"HTTP/1.1 200")
    deadline = time.monotonic() + IO_TIMEOUT
    for _ in range(10_000):
        if len(c.buf) > 200_000:
            break
        assert c._recv_more(deadline), "stream ended early"
    c.close()
    assert wait_closed(close_log, "disconnect") == 1
    # The server is fine afterwards.
    r, c2 = get(close_server, "/normal?after-disconnect")
    c2.close()
    assert r.body == b"one two three"


def test_close_called_once_per_request_on_keep_alive(close_server, close_log):
    with RawConn(close_server.port) as c:
        for i in range(3):
            c.send(build_request("GET", f"/normal?ka{i}"))
            assert c.read_response().body == b"one two three"
    for i in range(3):
        assert wait_closed(close_log, f"ka{i}") == 1
