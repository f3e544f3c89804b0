"""Bad requests: each gets the listed status with Connection: close, the
server closes the connection, and a new connection is served normally
(h2o t/40bad-request.t style). llhttp runs in strict mode: no guessing."""

import pytest

from support import RawConn, build_request

H = b"Host: h\r\n"

BAD_REQUESTS = [
    # (id, raw request, acceptable statuses)
    # An invalid request-line is a 400 (RFC 9112 3); 505 is only for a
    # well-formed HTTP-version we do not serve (below).
    ("no-version", b"GET /\r\n\r\n", {400}),
    ("no-version-with-headers", b"GET /env\r\n" + H + b"X-A: b\r\n\r\n", {400}),
    ("version-x", b"GET /ping HTTP/1.x\r\n" + H + b"\r\n", {400}),
    ("version-two-digit-minor", b"GET / HTTP/1.10\r\n" + H + b"\r\n", {400}),
    ("version-leading-zero", b"GET / HTTP/01.1\r\n" + H + b"\r\n", {400}),
    ("version-two-digit-major", b"GET / HTTP/10.1\r\n" + H + b"\r\n", {400}),
    ("version-trailing-space", b"GET / HTTP/1.1 \r\n" + H + b"\r\n", {400}),
    ("version-space-after-slash", b"GET / HTTP/ 1.1\r\n" + H + b"\r\n", {400}),
    ("version-no-minor", b"GET / HTTP/1\r\n" + H + b"\r\n", {400}),
    ("version-dot-no-minor", b"GET / HTTP/1.\r\n" + H + b"\r\n", {400}),
    ("version-suffix", b"GET / HTTP/1.1x\r\n" + H + b"\r\n", {400}),
    ("version-https-name", b"GET / HTTPS/1.1\r\n" + H + b"\r\n", {400}),
    # (Two spaces between the parts is not listed: RFC 9112 section 3 lets a
    # recipient parse on whitespace boundaries.)
    ("extra-token", b"GET / HTTP/1.1 extra\r\n" + H + b"\r\n", {400, 505}),
    ("bad-method-char", b"G@T / HTTP/1.1\r\n" + H + b"\r\n", {400}),
    ("lowercase-version", b"GET / http/1.1\r\n" + H + b"\r\n", {400}),
    ("garbage", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", {400}),
    ("nul-in-header-value", b"GET / HTTP/1.1\r\n" + H + b"X-A: a\x00b\r\n\r\n", {400}),
    ("nul-in-target", b"GET /a\x00b HTTP/1.1\r\n" + H + b"\r\n", {400}),
    ("bare-cr-in-value", b"GET / HTTP/1.1\r\n" + H + b"X-A: a\rb\r\n\r\n", {400}),
    ("obs-fold-space", b"GET / HTTP/1.1\r\n" + H + b"X-A: a\r\n b\r\n\r\n", {400}),
    ("obs-fold-tab", b"GET / HTTP/1.1\r\n" + H + b"X-A: a\r\n\tb\r\n\r\n", {400}),
    ("space-before-colon", b"GET / HTTP/1.1\r\n" + H + b"X-A : b\r\n\r\n", {400}),
    ("space-before-colon-host", b"GET / HTTP/1.1\r\nHost : h\r\n\r\n", {400}),
    ("bad-header-name-char", b"GET / HTTP/1.1\r\n" + H + b"X(A): b\r\n\r\n", {400}),
    ("header-without-colon", b"GET / HTTP/1.1\r\n" + H + b"X-A b\r\n\r\n", {400}),
    ("cl-and-te", b"POST /echo HTTP/1.1\r\n" + H + b"Content-Length: 5\r\n"
     b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", {400}),
    ("te-and-cl", b"POST /echo HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n"
     b"Content-Length: 5\r\n\r\n0\r\n\r\n", {400}),
    ("two-different-cl", b"POST /echo HTTP/1.1\r\n" + H + b"Content-Length: 5\r\n"
     b"Content-Length: 6\r\n\r\nhello!", {400}),
    ("cl-list", b"POST /echo HTTP/1.1\r\n" + H + b"Content-Length: 5, 6\r\n\r\nhello!", {400}),
    ("te-gzip", b"POST /echo HTTP/1.1\r\n" + H + b"Transfer-Encoding: gzip\r\n\r\nxxxx",
     {400, 501}),
    ("te-chunked-gzip", b"POST /echo HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked, gzip\r\n"
     b"\r\n0\r\n\r\n", {400, 501}),
    ("te-unknown", b"POST /echo HTTP/1.1\r\n" + H + b"Transfer-Encoding: bogus\r\n\r\n",
     {400, 501}),
    ("te-http10", b"POST /echo HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"
     b"5\r\nhello\r\n0\r\n\r\n", {400}),
    ("bad-chunk-size", b"POST /echo HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n"
     b"zz\r\nhello\r\n0\r\n\r\n", {400}),
    ("chunk-size-overflow", b"POST /echo HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n"
     b"fffffffffffffffffffff\r\nhello\r\n0\r\n\r\n", {400, 413}),
    ("chunk-data-too-long", b"POST /echo HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n"
     b"3\r\nhello\r\n0\r\n\r\n", {400}),
    ("cl-negative", b"POST /echo HTTP/1.1\r\n" + H + b"Content-Length: -1\r\n\r\n", {400}),
    ("cl-hex-suffix", b"POST /echo HTTP/1.1\r\n" + H + b"Content-Length: 1a\r\n\r\nx", {400}),
    ("cl-plus", b"POST /echo HTTP/1.1\r\n" + H + b"Content-Length: +1\r\n\r\nx", {400}),
    ("cl-empty", b"POST /echo HTTP/1.1\r\n" + H + b"Content-Length: \r\n\r\n", {400}),
    ("cl-overflow", b"POST /echo HTTP/1.1\r\n" + H +
     b"Content-Length: 99999999999999999999999\r\n\r\n", {400, 413}),
    ("missing-host-http11", b"GET / HTTP/1.1\r\n\r\n", {400}),
    ("two-hosts", b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", {400}),
    # Well-formed versions we do not serve: 505.
    ("http2-over-h1", b"GET / HTTP/2.0\r\n" + H + b"\r\n", {505}),
    ("http3", b"GET / HTTP/3.0\r\n" + H + b"\r\n", {505}),
    ("http12", b"GET / HTTP/1.2\r\n" + H + b"\r\n", {505}),
    ("http99", b"GET / HTTP/9.9\r\n" + H + b"\r\n", {505}),
    ("http0", b"GET / HTTP/0.9\r\n\r\n", {505}),
    ("http2-preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", {505, 400}),
    ("long-request-line", b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n" + H + b"\r\n", {414}),
    ("too-many-headers", b"GET / HTTP/1.1\r\n" + H +
     b"".join(b"X-H%d: v\r\n" % i for i in range(150)) + b"\r\n", {431}),
    ("header-too-large", b"GET / HTTP/1.1\r\n" + H + b"X-Big: " + b"v" * 9000 + b"\r\n\r\n",
     {431}),
    ("header-name-too-large", b"GET / HTTP/1.1\r\n" + H + b"X-" + b"n" * 9000 + b": v\r\n\r\n",
     {431}),
]


@pytest.mark.parametrize("raw,statuses", [(r, s) for _, r, s in BAD_REQUESTS],
                         ids=[i for i, _, _ in BAD_REQUESTS])
def test_bad_request(proto_server, raw, statuses):
    with RawConn(proto_server.port) as c:
        c.try_send(raw)
        r = c.read_response()
        assert r.status in statuses, r
        assert r.has_token("Connection", "close"), r
        c.assert_closed()
    # The server is unharmed: a new connection is served.
    assert proto_server.get("/").status == 200


def test_bad_request_after_good_pipelined(proto_server):
    """A good request answered normally, then the bad one that follows it
    on the same connection gets 400 and the close."""
    with RawConn(proto_server.port) as c:
        c.send(build_request("GET", "/path/good", host="h") + b"GET / HTTP/1.1\r\nX-A : b\r\n\r\n")
        r1 = c.read_response()
        assert r1.status == 200 and r1.body == b"/path/good?"
        r2 = c.read_response()
        assert r2.status == 400, r2
        assert r2.has_token("Connection", "close")
        c.assert_closed()


def test_error_response_to_head_has_no_body(proto_server):
    with RawConn(proto_server.port) as c:
        c.send(b"HEAD / HTTP/1.1\r\n\r\n")  # no Host
        r = c.read_response(method="HEAD")
        assert r.status == 400
        c.assert_closed()


def test_request_line_at_limit_is_accepted(proto_server):
    # Default --limit-request-line is 8190 (gunicorn): a 8000-byte line passes.
    target = "/path/" + "a" * (8000 - len("GET /path/ HTTP/1.1"))
    with RawConn(proto_server.port) as c:
        c.send(build_request("GET", target))
        assert c.read_response().status == 200


@pytest.fixture(scope="module")
def small_limits_server(module_server_factory):
    return module_server_factory("proto:application", "--limit-request-line", "100",
                                 "--limit-request-fields", "5",
                                 "--limit-request-field_size", "200")


def test_custom_limits(small_limits_server):
    port = small_limits_server.port
    ok = build_request("GET", "/path/" + "a" * 50, [("X-A", "1"), ("X-B", "2")])
    with RawConn(port) as c:
        c.send(ok)
        assert c.read_response().status == 200
    for raw, status in [
        (build_request("GET", "/path/" + "a" * 150), 414),
        (build_request("GET", "/", [(f"X-{i}", "v") for i in range(10)]), 431),
        (build_request("GET", "/", [("X-Big", "v" * 300)]), 431),
    ]:
        with RawConn(port) as c:
            c.try_send(raw)
            r = c.read_response()
            assert r.status == status, (raw[:60], r)
            c.assert_closed()
