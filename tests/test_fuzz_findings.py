"""Regression tests for what the libFuzzer harnesses (tests/fuzz/) found,
checked end to end against the server. Each test names the harness and the
corpus file that holds the input it was found with."""

from support import RawConn


def test_connect_with_content_is_rejected(proto_server):
    """fuzz_http, corpus regress_connect_cl: llhttp stops at a CONNECT
    request's head (what follows is the tunnel), so a Content-Length there
    reached the app as CONTENT_LENGTH while wsgi.input held nothing. RFC
    9110 9.3.6: a CONNECT request has no content; now 400 and close."""
    for framing in (b"Content-Length: 5\r\n", b"Transfer-Encoding: chunked\r\n"):
        with RawConn(proto_server.port) as c:
            c.try_send(b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n" +
                       framing + b"\r\nhello")
            r = c.read_response()
            assert r.status == 400, r
            assert r.has_token("Connection", "close"), r
            c.assert_closed()


def test_connect_without_content_still_reaches_the_app(proto_server):
    """The same request without a body (or with Content-Length: 0) is served
    as before: the app answers, then the connection closes (a tunnel is not
    HTTP for us)."""
    for framing in (b"", b"Content-Length: 0\r\n"):
        with RawConn(proto_server.port) as c:
            c.send(b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n" +
                   framing + b"\r\n")
            r = c.read_response()
            assert r.status != 400, r
            assert r.has_token("Connection", "close"), r
            c.assert_closed(allow_data=True)
