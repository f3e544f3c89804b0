"""Echo app for the request corpus (tests/requests/, tests/test_request_corpus.py).

Every request is answered 200 with a JSON description of what the app saw:
the CGI keys the corpus checks, every HTTP_* key plus CONTENT_TYPE and
CONTENT_LENGTH, and the body. The body is read in one of four ways, one
callable each, so that the server (not the request) decides how it is read:

    corpus_echo:app_read      wsgi.input.read()
    corpus_echo:app_readn     wsgi.input.read(3) until b""
    corpus_echo:app_readline  wsgi.input.readline() until b""
    corpus_echo:app_iter      for line in wsgi.input

After the body the app reads once more and reports what came back, which
must be b"" (wsgi.input never gives more than the body). Strings in the
environ are latin-1 native strings, so JSON's \\u00XX escapes carry their
bytes exactly; the body goes out the same way (bytes decoded as latin-1).

For HEAD the server sends no body, so the same JSON also travels
hex-encoded in the X-Echo response header (for every method, so that a HEAD
and a GET answer alike).
"""
import json

CGI_KEYS = ("REQUEST_METHOD", "RAW_URI", "REQUEST_URI", "PATH_INFO", "QUERY_STRING",
            "SERVER_PROTOCOL", "SERVER_NAME", "SERVER_PORT", "REMOTE_ADDR", "REMOTE_PORT",
            "SCRIPT_NAME", "wsgi.url_scheme")
READ_N = 3


def _read_all(inp):
    return inp.read()


def _read_n(inp):
    parts = []
    for _ in range(10_000_000):
        piece = inp.read(READ_N)
        if not piece:
            break
        if len(piece) > READ_N:
            raise AssertionError(f"read({READ_N}) returned {len(piece)} bytes")
        parts.append(piece)
    return b"".join(parts)


def _read_lines(inp):
    parts = []
    for _ in range(10_000_000):
        line = inp.readline()
        if not line:
            break
        if b"\n" in line[:-1]:
            raise AssertionError(f"readline() returned more than one line: {line!r}")
        parts.append(line)
    return b"".join(parts)


def _read_iter(inp):
    return b"".join(inp)


def _make(reader, mode):
    def app(environ, start_response):
        inp = environ["wsgi.input"]
        body = reader(inp)
        after = inp.read()
        info = {key: environ.get(key) for key in CGI_KEYS}
        info["headers"] = {k: v for k, v in environ.items()
                           if k.startswith("HTTP_") or k in ("CONTENT_TYPE", "CONTENT_LENGTH")}
        info["body"] = body.decode("latin-1")
        info["after_eof"] = after.decode("latin-1")
        info["mode"] = mode
        data = json.dumps(info, sort_keys=True).encode("ascii")
        start_response("200 OK", [("Content-Type", "application/json"),
                                  ("Content-Length", str(len(data))),
                                  ("X-Echo", data.hex())])
        return [data]
    app.__name__ = f"app_{mode}"
    return app


app_read = _make(_read_all, "read")
app_readn = _make(_read_n, "readn")
app_readline = _make(_read_lines, "readline")
app_iter = _make(_read_iter, "iter")
application = app_read
