"""wsgi.input: read/readline/readlines/iteration over bodies sent with
Content-Length or chunked, kept in memory or spilled to a temp file."""

import hashlib
import os

import pytest

from support import RawConn, build_request, chunked

LINES = b"first line\nsecond\n\nfourth is longer than the others\nno newline at end"


@pytest.fixture(scope="module", params=["memory", "spill"])
def input_server(request, module_server_factory):
    args = ("--body-buffer-size", "16") if request.param == "spill" else ()
    return module_server_factory("input_app:application", *args)


@pytest.fixture(params=["length", "chunked"])
def send(request, input_server):
    def do(path, body):
        if request.param == "chunked":
            raw = build_request("POST", path, [("Transfer-Encoding", "chunked")],
                                body=chunked(body, 7))
        else:
            raw = build_request("POST", path, body=body)
        with RawConn(input_server.port) as c:
            c.send(raw)
            r = c.read_response()
            assert r.status == 200, r
            return r.json()
    return do


def expected_lines(data):
    return [x.decode("latin-1") for x in data.splitlines(keepends=True)]


def test_read_all(send):
    body = os.urandom(3000)
    j = send("/read", body)
    assert j["length"] == 3000
    assert j["sha256"] == hashlib.sha256(body).hexdigest()
    assert j["after_eof"] == "" and j["after_eof_n"] == ""


def test_read_none_and_negative(send):
    assert send("/read-none", b"abcdef")["length"] == 6
    assert send("/read-neg", b"abcdef")["length"] == 6


@pytest.mark.parametrize("size", [1, 5, 1000, 100000])
def test_read_n(send, size):
    body = bytes(range(256)) * 10
    j = send(f"/read-n?size={size}", body)
    assert j["sizes_ok"]
    assert j["length"] == len(body)
    assert j["sha256"] == hashlib.sha256(body).hexdigest()


def test_readline(send):
    assert send("/readline", LINES)["lines"] == expected_lines(LINES)


def test_readline_with_size(send):
    # Not required by PEP 3333, but the cgi module and many parsers call it.
    lines = send("/readline?size=4", LINES)["lines"]
    assert all(len(x) <= 4 for x in lines)
    assert "".join(lines) == LINES.decode("latin-1")


def test_readlines(send):
    assert send("/readlines", LINES)["lines"] == expected_lines(LINES)


def test_readlines_hint(send):
    j = send("/readlines-hint?size=12", LINES)
    # PEP 3333 lets the server ignore the hint; honoured, it stops after
    # the line that reaches 12 bytes. Either way no line is split.
    assert j["lines"] in (expected_lines(LINES)[:2], expected_lines(LINES))
    assert "".join(j["lines"]) + j["rest"] == LINES.decode("latin-1")


def test_iteration(send):
    assert send("/iter", LINES)["lines"] == expected_lines(LINES)


def test_mixed_reads(send):
    j = send("/mixed", b"abcdef\nghi\njkl")
    assert j["parts"] == ["abc", "def\n", "ghi\njkl"]


def test_types_are_bytes(send):
    j = send("/types", b"x\ny\n")
    assert j == {"read": "bytes", "readline": "bytes"}


def test_empty_body(send):
    assert send("/read", b"")["length"] == 0
    assert send("/readlines", b"")["lines"] == []


def test_unread_body_does_not_break_the_next_request(input_server):
    """The app ignores a body; the server must skip it, not parse it as the
    next request."""
    evil = build_request("GET", "/read", host="h")  # would be a request if mis-framed
    with RawConn(input_server.port) as c:
        c.send(build_request("POST", "/unread", body=evil))
        assert c.read_response().json() == {"ignored": True}
        c.send(build_request("POST", "/read", body=b"12345"))
        assert c.read_response().json()["length"] == 5
        c.send(build_request("POST", "/unread", [("Transfer-Encoding", "chunked")],
                             body=chunked(evil, 5)))
        assert c.read_response().json() == {"ignored": True}
        c.send(build_request("POST", "/read", body=b"123"))
        assert c.read_response().json()["length"] == 3
