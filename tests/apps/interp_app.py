"""Reports which interpreter runs the app and how it was set up, for
tests/test_host_python.py (the host-interpreter and the embedded mode must
look the same to an app)."""
import json
import os
import sys

import __main__


def application(environ, start_response):
    out = {
        "exe": os.path.realpath("/proc/self/exe"),
        "pid": os.getpid(),
        "executable": sys.executable,
        "prefix": sys.prefix,
        "base_prefix": sys.base_prefix,
        "argv": sys.argv,
        "path0": sys.path[0],
        "empty_in_path": "" in sys.path,
        "version": "%d.%d" % sys.version_info[:2],
        "main_names": sorted(n for n in vars(__main__) if not n.startswith("__")),
        "environ_has_listen": any(k.startswith("LISTEN_") for k in os.environ),
        "test_var": os.environ.get("WSGIHOST_TEST_VAR"),
        "stdout_line_buffered_or_unbuffered": not sys.stdout.buffer.__class__.__name__ == "x",
    }
    body = json.dumps(out).encode()
    start_response("200 OK", [("Content-Type", "application/json"),
                              ("Content-Length", str(len(body)))])
    return [body]
