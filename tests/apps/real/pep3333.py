"""Plain PEP 3333 callables, the corners frameworks hide: write(), the file
wrapper, iterables with close(), exc_info before and after the head, unusual
but legal header fields, large heads, empty bodies, 204/304, Content-Length
given or not (tests/test_vs_gunicorn.py serves them under gunicorn and
under wsgihost). REALAPP_DATA names a folder with report.bin."""
import io
import os
import sys
import threading

DATA = os.environ.get("REALAPP_DATA", "/nonexistent")
CLOSED = set()  # tokens of results whose close() ran
LOCK = threading.Lock()


class Closing:
    """An iterable (not a generator) with close(), as middleware returns."""

    def __init__(self, token, parts):
        self.token = token
        self.parts = parts

    def __iter__(self):
        return iter(self.parts)

    def close(self):
        with LOCK:
            CLOSED.add(self.token)


def text(start_response, body, status="200 OK", extra=(), length=True):
    headers = [("Content-Type", "text/plain")] + list(extra)
    if length:
        headers.append(("Content-Length", str(len(body))))
    start_response(status, headers)
    return [body]


def application(environ, start_response):
    path = environ["PATH_INFO"]
    query = environ.get("QUERY_STRING", "")

    if path == "/write":
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        for i in range(5):
            write(b"written %d\n" % i)
        return []
    if path == "/write-then-iter":
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        write(b"from write()\n")
        return [b"from the iterable\n", b"", b"end\n"]
    if path == "/write-length":
        write = start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "12")])
        write(b"hello ")
        write(b"world!")
        return []

    if path.startswith("/file-wrapper"):
        f = open(os.path.join(DATA, "report.bin"), "rb")
        headers = [("Content-Type", "application/octet-stream")]
        if path == "/file-wrapper-length":
            headers.append(("Content-Length", str(os.fstat(f.fileno()).st_size)))
        if path == "/file-wrapper-partial":
            f.seek(1000)
            headers.append(("Content-Length", "5000"))
        if path == "/file-wrapper-bytesio":
            f.close()
            f = io.BytesIO(b"not a real file\n" * 3000)
        start_response("200 OK", headers)
        return environ["wsgi.file_wrapper"](f, 8192)

    if path == "/closing":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return Closing(query, [b"closing ", b"iterable\n"])
    if path == "/generator-close":
        start_response("200 OK", [("Content-Type", "text/plain")])

        def gen():
            try:
                for i in range(10):
                    yield b"gen %d\n" % i
            finally:
                with LOCK:
                    CLOSED.add(query)
        return gen()
    if path == "/was-closed":
        with LOCK:
            closed = query in CLOSED
            CLOSED.discard(query)
        return text(start_response, b"closed\n" if closed else b"not closed\n")

    if path == "/exc-before-head":
        start_response("200 OK", [("Content-Type", "text/plain"), ("X-Dropped", "yes")])
        try:
            raise KeyError("failed before the first body byte")
        except KeyError:
            start_response("503 Service Unavailable", [("Content-Type", "text/plain"),
                                                       ("Retry-After", "5")], sys.exc_info())
        return [b"try again later\n"]
    if path == "/exc-after-head":
        def gen():
            yield b"first part\n"
            raise RuntimeError("failed in the middle of the body")
        start_response("200 OK", [("Content-Type", "text/plain")])
        return gen()
    if path == "/exc-info-after-head":
        def gen():
            yield b"first part\n"
            try:
                raise ValueError("late")
            except ValueError:
                start_response("500 Internal Server Error", [], sys.exc_info())
            yield b"never sent\n"
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "100")])
        return gen()
    if path == "/late-start":
        def gen():
            start_response("201 Created", [("Content-Type", "text/plain")])
            yield b"head decided on the first next()\n"
        return gen()

    if path == "/unusual-headers":
        return text(start_response, b"unusual\n", extra=[
            ("X-Token-Chars!#$%&'*+-.^_`|~", "v"),
            ("X-Tab-Inside", "a\tb"),
            ("X-Obs-Text", "caf\xe9"),
            ("X-Empty", ""),
            ("X-Repeated", "1"), ("X-Repeated", "2"),
            ("x-lower-case", "kept"), ("X-MiXeD-CaSe", "kept"),
            ("Link", '</style.css>; rel=preload; as=style, </app.js>; rel=preload'),
            ("Content-Security-Policy", "default-src 'self'; img-src * data:"),
            ("Cache-Control", "public, max-age=3600"), ("Vary", "Accept-Encoding, Cookie"),
            ("WWW-Authenticate", 'Basic realm="x", charset="UTF-8"'),
            ("Set-Cookie", "a=1; Path=/"), ("Set-Cookie", "b=2; Path=/; HttpOnly"),
            ("Expires", "Thu, 01 Jan 1970 00:00:00 GMT"),
        ])
    # What gunicorn serves and PEP 3333 lets a server refuse (wsgihost serves
    # it too unless --strict-wsgi).
    if path == "/hop-connection-close":
        return text(start_response, b"closing\n", extra=[("Connection", "close")])
    if path == "/hop-keep-alive":
        return text(start_response, b"kept\n", extra=[("Connection", "keep-alive"),
                                                      ("Keep-Alive", "timeout=5")])
    if path == "/hop-transfer-encoding":
        start_response("200 OK", [("Content-Type", "text/plain"), ("Transfer-Encoding", "chunked")])
        return [b"framed by ", b"the server\n"]
    if path == "/hop-upgrade":
        return text(start_response, b"no upgrade\n", extra=[("Upgrade", "h2c")])
    if path == "/headers-tuple":
        start_response("200 OK", (("Content-Type", "text/plain"), ("X-Tuple", "yes")))
        return [b"headers in a tuple\n"]
    if path == "/header-items-lists":
        start_response("200 OK", [["Content-Type", "text/plain"], ["X-List", "yes"]])
        return [b"header items as lists\n"]
    if path == "/padded-values":
        start_response("200 OK", [("Content-Type", " text/plain "), ("Content-Length", " 7"),
                                  ("X-Padded", "\tvalue  ")])
        return [b"padded\n"]
    if path == "/no-reason":
        return text(start_response, b"no reason\n", status="200")
    if path == "/date-server":
        return text(start_response, b"own date and server\n", extra=[
            ("Date", "Thu, 01 Jan 1970 00:00:00 GMT"), ("Server", "myapp/1.0")])
    if path == "/large-head":
        extra = [("X-Big", "b" * 7000), ("Set-Cookie", "big=" + "c" * 4000)]
        extra += [(f"X-Field-{i}", f"value {i}") for i in range(60)]
        return text(start_response, b"large head\n", extra=extra)

    if path == "/empty":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return []
    if path == "/empty-length":
        return text(start_response, b"")
    if path == "/empty-chunks":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"", b"a", b"", b"", b"b", b""]
    if path == "/no-content":
        start_response("204 No Content", [("X-Why", "deleted")])
        return []
    if path == "/no-content-with-body":
        start_response("204 No Content", [("X-Why", "deleted")])
        return [b"a body a 204 must not have"]
    if path == "/not-modified":
        start_response("304 Not Modified", [("ETag", '"v1"'), ("Cache-Control", "max-age=60")])
        return []
    if path == "/no-content-type":
        start_response("200 OK", [("Content-Length", "4")])
        return [b"bare"]
    if path == "/length-given":
        return text(start_response, b"exactly this\n")
    if path == "/length-not-given":
        return text(start_response, b"no length given\n", length=False)
    if path == "/length-not-given-parts":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"part one, ", b"part two, ", b"part three\n"]
    if path == "/length-too-small":
        # The app says 5 and returns more: both servers send 5 bytes.
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "5")])
        return [b"12345", b"6789"]
    if path == "/statuses":
        code = query or "200 OK"
        return text(start_response, b"status " + code.encode() + b"\n",
                    status=code.replace("%20", " "))
    if path == "/big-iter":
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return (bytes([i % 251]) * 65536 for i in range(40))
    if path == "/input":
        body = environ["wsgi.input"].read()
        lines = environ["wsgi.input"].readline()  # at EOF: b""
        info = (f"len={len(body)} ctype={environ.get('CONTENT_TYPE', '')} "
                f"clen={environ.get('CONTENT_LENGTH', '')} after={lines!r}\n")
        return text(start_response, info.encode())
    if path == "/input-lines":
        inp = environ["wsgi.input"]
        out = [b"%d:%s" % (i, line) for i, line in enumerate(inp)]
        return text(start_response, b"".join(out))
    if path == "/environ-keys":
        keys = sorted(k for k in environ if not k.startswith("HTTP_"))
        return text(start_response, ("\n".join(keys) + "\n").encode())
    if path == "/environ":
        # REQUEST_URI is wsgihost's (and uWSGI's) only: not compared.
        keys = ["REQUEST_METHOD", "SCRIPT_NAME", "PATH_INFO", "QUERY_STRING", "CONTENT_TYPE",
                "CONTENT_LENGTH", "SERVER_PROTOCOL", "wsgi.url_scheme", "HTTP_HOST",
                "HTTP_X_FORWARDED_PROTO", "RAW_URI", "wsgi.version", "wsgi.run_once",
                "wsgi.input_terminated", "wsgi.multiprocess"]
        lines = [f"{k}={environ.get(k, '<unset>')!r}" for k in keys]
        return text(start_response, ("\n".join(lines) + "\n").encode())
    return text(start_response, b"not found: " + path.encode("latin-1") + b"\n",
                status="404 Not Found")
