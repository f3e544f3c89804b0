"""Exercises the bridge's paths for the leak test; /blocks reports
sys.getallocatedblocks() after a full collection."""
import gc
import hashlib
import json
import sys


def _json(start_response, obj, status="200 OK"):
    data = json.dumps(obj).encode()
    start_response(status, [("Content-Type", "application/json"),
                            ("Content-Length", str(len(data)))])
    return [data]


class Closing:
    def __init__(self, chunks):
        self.chunks = chunks

    def __iter__(self):
        return iter(self.chunks)

    def close(self):
        pass


def application(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/blocks":
        for _ in range(3):
            gc.collect()
        return _json(start_response, {"blocks": sys.getallocatedblocks(),
                                      "objects": len(gc.get_objects())})
    if path == "/echo":
        inp = environ["wsgi.input"]
        digest = hashlib.sha256()
        n = 0
        for _ in range(100_000):
            chunk = inp.read(16384)
            if not chunk:
                break
            n += len(chunk)
            digest.update(chunk)
        return _json(start_response, {"length": n, "sha256": digest.hexdigest()})
    if path == "/lines":
        lines = environ["wsgi.input"].readlines()
        return _json(start_response, {"lines": len(lines)})
    if path == "/gen":
        def gen():
            start_response("200 OK", [("Content-Type", "text/plain")])
            for i in range(5):
                yield b"%d," % i
        return gen()
    if path == "/close":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return Closing([b"a", b"b", b"c"])
    if path == "/write":
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        write(b"written;")
        return [b"returned"]
    if path == "/error":
        raise ValueError("expected by the leak test")
    if path == "/bad-header":
        try:
            start_response("200 OK", [("X-Bad", "a\r\nb")])
        except Exception:
            pass
        try:
            raise RuntimeError("x")
        except RuntimeError:
            start_response("200 OK", [("Content-Type", "text/plain")], sys.exc_info())
        return [b"recovered"]
    if path == "/file":
        import io
        start_response("200 OK", [("Content-Type", "text/plain")])
        return environ["wsgi.file_wrapper"](io.BytesIO(b"file body " * 10), 64)
    if path == "/environ":
        keys = sorted(k for k in environ if k.startswith("HTTP_"))
        return _json(start_response, {"keys": keys, "path": path,
                                      "query": environ.get("QUERY_STRING")})
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "5")])
    return [b"hello"]
