"""For tests/test_metrics.py: answers what the test asks, so the counters it
reads back are known in advance.

  /status/NNN          status NNN, body "NNN"
  /sleep?ms=N&mark=P   creates P (the request is inside the app), sleeps N ms
  /pid                 the worker's pid
$METRICS_APP_IMPORT_SLEEP: seconds the import takes.
"""
import os
import time
from urllib.parse import parse_qs

# A slow import: the worker is not ready for that long (healthz tests).
time.sleep(float(os.environ.get("METRICS_APP_IMPORT_SLEEP", "0")))


def application(environ, start_response):
    path = environ["PATH_INFO"]
    qs = parse_qs(environ.get("QUERY_STRING", ""))
    if path.startswith("/status/"):
        code = int(path[len("/status/"):])
        body = b"%d" % code
        if code in (204, 304):
            body = b""
        start_response("%d Whatever" % code, [("Content-Type", "text/plain"),
                                               ("Content-Length", str(len(body)))])
        return [body]
    if path == "/sleep":
        mark = qs.get("mark", [None])[0]
        if mark:
            with open(mark, "w") as f:
                f.write(str(os.getpid()))
        ms = int(qs.get("ms", ["0"])[0])
        time.sleep(ms / 1000)
        body = b"slept %d" % ms
    elif path == "/pid":
        body = str(os.getpid()).encode()
    else:
        body = b"app: " + path.encode("latin-1")
        start_response("404 Not Found", [("Content-Type", "text/plain"),
                                         ("Content-Length", str(len(body)))])
        return [body]
    start_response("200 OK", [("Content-Type", "text/plain"),
                              ("Content-Length", str(len(body)))])
    return [body]
