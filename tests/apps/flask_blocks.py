"""pyapp, plus /__blocks reporting sys.getallocatedblocks() (for test_leaks)."""
import gc
import sys

import pyapp

_app = pyapp.app


def application(environ, start_response):
    if environ["PATH_INFO"] == "/__blocks":
        for _ in range(3):
            gc.collect()
        data = b'{"blocks": %d}' % sys.getallocatedblocks()
        start_response("200 OK", [("Content-Type", "application/json"),
                                  ("Content-Length", str(len(data)))])
        return [data]
    return _app(environ, start_response)
