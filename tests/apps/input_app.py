"""wsgi.input methods; every answer is JSON describing what was read."""
import hashlib
import json
from urllib.parse import parse_qs


def _digest(data):
    return {"length": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def application(environ, start_response):
    path = environ["PATH_INFO"]
    qs = parse_qs(environ.get("QUERY_STRING", ""))
    size = int(qs.get("size", ["0"])[0])
    inp = environ["wsgi.input"]
    result = {}
    if path == "/read":
        data = inp.read()
        result = _digest(data)
        result["after_eof"] = inp.read().decode("latin-1")
        result["after_eof_n"] = inp.read(10).decode("latin-1")
    elif path == "/read-none":
        result = _digest(inp.read(None))
    elif path == "/read-neg":
        result = _digest(inp.read(-1))
    elif path == "/read-n":
        # read(n) returns at most n bytes; short reads are allowed, so loop.
        parts = []
        sizes_ok = True
        for _ in range(10_000_000):
            chunk = inp.read(size)
            if not chunk:
                break
            sizes_ok = sizes_ok and len(chunk) <= size
            parts.append(chunk)
        result = _digest(b"".join(parts))
        result["sizes_ok"] = sizes_ok
    elif path == "/readline":
        lines = []
        for _ in range(100_000):
            line = inp.readline(size) if size else inp.readline()
            if not line:
                break
            lines.append(line.decode("latin-1"))
        result = {"lines": lines}
    elif path == "/readlines":
        result = {"lines": [x.decode("latin-1") for x in inp.readlines()]}
    elif path == "/readlines-hint":
        result = {"lines": [x.decode("latin-1") for x in inp.readlines(size)],
                  "rest": inp.read().decode("latin-1")}
    elif path == "/iter":
        result = {"lines": [x.decode("latin-1") for x in inp]}
    elif path == "/mixed":
        first = inp.read(3)
        line = inp.readline()
        rest = inp.read()
        result = {"parts": [first.decode("latin-1"), line.decode("latin-1"),
                            rest.decode("latin-1")]}
    elif path == "/types":
        result = {"read": type(inp.read(1)).__name__, "readline": type(inp.readline()).__name__}
    elif path == "/unread":
        # The app ignores the body; the server must still frame the next
        # request on the connection correctly.
        result = {"ignored": True}
    data = json.dumps(result).encode()
    start_response("200 OK", [("Content-Type", "application/json"),
                              ("Content-Length", str(len(data)))])
    return [data]
