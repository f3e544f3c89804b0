"""/sleep?ms=N&mark=PATH: creates PATH (so a test knows the request is inside
the app), then sleeps N ms and answers. If $WSGIHOST_TEST_ATEXIT names a file,
an atexit handler writes it (to show the interpreter was finalized)."""
import atexit
import os
import time
from urllib.parse import parse_qs

_ATEXIT = os.environ.get("WSGIHOST_TEST_ATEXIT")
if _ATEXIT:
    def _at_exit():
        with open(_ATEXIT, "w") as f:
            f.write("finalized")
    atexit.register(_at_exit)


def application(environ, start_response):
    qs = parse_qs(environ.get("QUERY_STRING", ""))
    mark = qs.get("mark", [None])[0]
    if mark:
        with open(mark, "w") as f:
            f.write(str(os.getpid()))
    ms = int(qs.get("ms", ["0"])[0])
    time.sleep(ms / 1000)
    data = b"slept %d" % ms
    start_response("200 OK", [("Content-Type", "text/plain"),
                              ("Content-Length", str(len(data)))])
    return [data]
