"""pyapp with one more endpoint for bench/abuse: a large streamed response for
the slow readers. Everything else is pyapp:app unchanged (the normal client
measures Flask `/`).

/_abuse/big?kb=N   N KiB (default 2048, at most 65536) of bytes, as a generator
                   of 64 KiB chunks with a Content-Length, so every server can
                   pause it while the client is slow.

    gunicorn --pythonpath bench/apps abuse_app:app
"""

import sys
from pathlib import Path
from urllib.parse import parse_qs

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the source root, for pyapp

from pyapp import app as flask_app  # noqa: E402

CHUNK = 64 * 1024
PIECE = b"x" * CHUNK
MAX_KB = 65536


def app(environ, start_response):
    if environ.get("PATH_INFO") != "/_abuse/big":
        return flask_app(environ, start_response)
    try:
        kb = int(parse_qs(environ.get("QUERY_STRING", "")).get("kb", ["2048"])[0])
    except ValueError:
        kb = -1
    if not 1 <= kb <= MAX_KB:
        msg = b"kb must be between 1 and %d\n" % MAX_KB
        start_response("400 Bad Request", [("Content-Type", "text/plain"),
                                           ("Content-Length", str(len(msg)))])
        return [msg]
    size = kb * 1024
    start_response("200 OK", [("Content-Type", "application/octet-stream"),
                              ("Content-Length", str(size))])

    def body():
        left = size
        while left > 0:
            n = min(left, CHUNK)
            yield PIECE if n == CHUNK else PIECE[:n]
            left -= n
    return body()


application = app
