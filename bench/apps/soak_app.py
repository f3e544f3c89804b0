"""pyapp with one more endpoint for bench/soak: what the worker that answers
holds.

/_soak   JSON {"pid", "blocks", "rss_kb", "gc"}: the worker's pid,
         sys.getallocatedblocks() after three gc.collect() (live objects
         only, as tests/test_leaks.py reads them), its VmRSS and gc.get_count()

Everything else is pyapp:app unchanged.

    wsgihost -w 2 --pythonpath bench/apps soak_app:app
"""

import gc
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the source root, for pyapp

from pyapp import app as flask_app  # noqa: E402


def _rss_kb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def app(environ, start_response):
    if environ.get("PATH_INFO") != "/_soak":
        return flask_app(environ, start_response)
    for _ in range(3):
        gc.collect()
    data = json.dumps({"pid": os.getpid(), "blocks": sys.getallocatedblocks(),
                       "rss_kb": _rss_kb(), "gc": gc.get_count()}).encode()
    start_response("200 OK", [("Content-Type", "application/json"),
                              ("Content-Length", str(len(data))),
                              ("Cache-Control", "no-store")])
    return [data]


application = app
