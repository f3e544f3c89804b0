"""App for tests/test_abuse_limits.py: large responses for clients that stop
reading, and a small one for everyone else.

/stream?mb=N  N MiB as a generator of 64 KiB chunks (the server can pause it)
/const        [BIG]: one 10 MiB bytes object made at import and shared by every
              request, as an app serving a cached file from memory does
/fresh?mb=N   [bytes] made for this request (Python holds it until the end)
anything else "ok"
"""
from urllib.parse import parse_qs

CHUNK = 64 * 1024
BIG = bytes(range(256)) * (10 * 1024 * 1024 // 256)
_PIECE = b"s" * CHUNK


def application(environ, start_response):
    path = environ["PATH_INFO"]
    qs = parse_qs(environ.get("QUERY_STRING", ""))
    mb = int(qs.get("mb", ["10"])[0])
    if path == "/stream":
        start_response("200 OK", [("Content-Type", "application/octet-stream"),
                                  ("Content-Length", str(mb * 1024 * 1024))])
        return (_PIECE for _ in range(mb * 1024 * 1024 // CHUNK))
    if path == "/const":
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return [BIG]
    if path == "/fresh":
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return [b"f" * (mb * 1024 * 1024)]
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
    return [b"ok"]
