"""Status lines and headers as the app sets them."""
import json


def application(environ, start_response):
    path = environ["PATH_INFO"]
    method = environ["REQUEST_METHOD"]
    if path == "/reason":
        start_response("299 Custom Reason Phrase", [("Content-Type", "text/plain")])
        return [b"custom"]
    if path == "/dup":
        start_response("200 OK", [("Content-Type", "text/plain"),
                                  ("Set-Cookie", "a=1; Path=/"),
                                  ("X-Order", "first"),
                                  ("Set-Cookie", "b=2; Path=/"),
                                  ("X-Order", "second")])
        return [b"dup"]
    if path == "/own-server-date":
        start_response("200 OK", [("Content-Type", "text/plain"),
                                  ("Server", "custom-server/1.0"),
                                  ("Date", "Thu, 01 Jan 1970 00:00:00 GMT")])
        return [b"own"]
    if path == "/padded":
        # Whitespace around values is not part of them (RFC 9110 5.5).
        start_response("200 OK", [("Content-Type", " text/plain\t"), ("Content-Length", " 6 "),
                                  ("X-Padded", "\t a  b ")])
        return [b"padded"]
    if path == "/204":
        start_response("204 No Content", [])
        return [b"body that must not be sent"]
    if path == "/204-cl":
        # A Content-Length on a 204 is the app's mistake: not sent (RFC 9110 8.6).
        start_response("204 No Content", [("Content-Length", "0"), ("X-After", "kept")])
        return []
    if path == "/304":
        start_response("304 Not Modified", [("ETag", '"abc"')])
        return [b"body that must not be sent"]
    if path == "/head-body":
        # Apps may return a body for HEAD; the server drops it.
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "11")])
        return [b"hello world"]
    if path == "/head-gen":
        def gen():
            start_response("200 OK", [("Content-Type", "text/plain")])
            yield b"chunk one;"
            yield b"chunk two"
        return gen()
    if path == "/single":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"single item body"]
    if path == "/multi":
        def gen():
            start_response("200 OK", [("Content-Type", "text/plain")])
            yield b"multi "
            yield b"chunk "
            yield b"body"
        return gen()
    if path == "/multi-list":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"list ", b"of ", b"chunks"]
    if path == "/empty":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return []
    if path == "/lowercase-cl":
        start_response("200 OK", [("content-type", "text/plain"), ("content-length", "5")])
        return [b"lower"]
    data = json.dumps({"method": method, "path": path}).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [data]
