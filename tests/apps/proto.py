"""General app for the raw-socket protocol tests.

/echo     JSON {length, sha256, ...} of the request body and a few environ keys
/gen?n=N  N chunks from a generator, no Content-Length (chunked on HTTP/1.1)
/big?mb=N&mode=gen|list   N MiB of deterministic bytes, with Content-Length
/path/... the PATH_INFO and QUERY_STRING, as text
anything else: "Hello, World!"
"""
import hashlib
import json
from urllib.parse import parse_qs

CHUNK = 64 * 1024


def pattern_chunk(i):
    """The i-th 64 KiB block of /big; tests recompute it with the same code."""
    seed = hashlib.sha256(i.to_bytes(8, "big")).digest()
    return (seed * (CHUNK // len(seed)))[:CHUNK]


def big_body(mb):
    return b"".join(pattern_chunk(i) for i in range(mb * 16))


def _json(start_response, obj, status="200 OK"):
    data = json.dumps(obj).encode()
    start_response(status, [("Content-Type", "application/json"),
                            ("Content-Length", str(len(data)))])
    return [data]


def application(environ, start_response):
    path = environ["PATH_INFO"]
    qs = parse_qs(environ.get("QUERY_STRING", ""))
    if path == "/echo":
        digest = hashlib.sha256()
        length = 0
        stream = environ["wsgi.input"]
        while True:
            chunk = stream.read(CHUNK)
            if not chunk:
                break
            digest.update(chunk)
            length += len(chunk)
        return _json(start_response, {
            "length": length,
            "sha256": digest.hexdigest(),
            "method": environ["REQUEST_METHOD"],
            "path": path,
            "query": environ.get("QUERY_STRING", ""),
            "host": environ.get("HTTP_HOST"),
            "content_length": environ.get("CONTENT_LENGTH"),
            "transfer_encoding": environ.get("HTTP_TRANSFER_ENCODING"),
            "protocol": environ["SERVER_PROTOCOL"],
        })
    if path == "/gen":
        n = int(qs.get("n", ["3"])[0])

        def gen():
            start_response("200 OK", [("Content-Type", "text/plain")])
            for i in range(n):
                yield b"part %d;" % i
        return gen()
    if path == "/big":
        mb = int(qs.get("mb", ["10"])[0])
        mode = qs.get("mode", ["gen"])[0]
        start_response("200 OK", [("Content-Type", "application/octet-stream"),
                                  ("Content-Length", str(mb * 1024 * 1024))])
        if mode == "list":
            return [big_body(mb)]
        return (pattern_chunk(i) for i in range(mb * 16))
    if path.startswith("/path/"):
        data = ("%s?%s" % (path, environ.get("QUERY_STRING", ""))).encode("latin-1")
        start_response("200 OK", [("Content-Type", "text/plain"),
                                  ("Content-Length", str(len(data)))])
        return [data]
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "13")])
    return [b"Hello, World!"]
