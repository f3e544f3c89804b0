"""Streamed responses of a chosen shape, for the framing and resumption tests.

/gen?n=N&size=S     a generator of N chunks of S bytes each; chunk i is the
                    decimal i padded with '.' to S bytes (so a lost, doubled or
                    reordered chunk shows)
/empty              a generator that yields nothing (an empty streamed body)
/tuple              an empty tuple as the result, as Werkzeug answers HEAD
/list?body=B        [B]: a known length
"""
from urllib.parse import parse_qs


def chunk(i, size):
    tag = b"%d|" % i
    return (tag + b"." * size)[:size] if size >= len(tag) else b"x" * size


def application(environ, start_response):
    path = environ["PATH_INFO"]
    qs = parse_qs(environ.get("QUERY_STRING", ""))
    start_response("200 OK", [("Content-Type", "text/plain")])
    if path == "/gen":
        n = int(qs["n"][0])
        size = int(qs["size"][0])
        return (chunk(i, size) for i in range(n))
    if path == "/empty":
        return (b"" for _ in range(0))
    if path == "/tuple":
        return ()
    if path == "/list":
        return [qs["body"][0].encode()]
    return [b"?"]
