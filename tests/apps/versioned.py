"""Answers with the version string read from $WSGIHOST_TEST_VERSION_FILE at
import time, and counts its imports in $WSGIHOST_TEST_IMPORTS (one line per
import), so tests can tell a fresh import (reload, --preload) from a stale
one. /sleep?ms=N sleeps first (and appends a line to $WSGIHOST_TEST_SLEEPING
when it begins, so a test can wait for requests to be inside the app); /pid
answers the worker's pid."""
import os
import time
from urllib.parse import parse_qs

_VERSION_FILE = os.environ.get("WSGIHOST_TEST_VERSION_FILE")
VERSION = open(_VERSION_FILE).read().strip() if _VERSION_FILE else "none"

_IMPORTS = os.environ.get("WSGIHOST_TEST_IMPORTS")
if _IMPORTS:
    with open(_IMPORTS, "a") as f:
        f.write("%d\n" % os.getpid())


def application(environ, start_response):
    path = environ["PATH_INFO"]
    qs = parse_qs(environ.get("QUERY_STRING", ""))
    if path == "/sleep":
        if os.environ.get("WSGIHOST_TEST_SLEEPING"):
            with open(os.environ["WSGIHOST_TEST_SLEEPING"], "a") as f:
                f.write("%d\n" % os.getpid())
        time.sleep(int(qs.get("ms", ["0"])[0]) / 1000)
    if path == "/pid":
        body = str(os.getpid()).encode()
    else:
        body = VERSION.encode()
    start_response("200 OK", [("Content-Type", "text/plain"),
                              ("Content-Length", str(len(body)))])
    return [body]
