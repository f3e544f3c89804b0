"""Which Python environment serves: sys.prefix, site-packages, and whether a
package that lives only in the test's virtualenv, and Debian's Flask, can
be imported (tests/test_venv.py). Needs nothing outside the stdlib."""
import json
import os
import site
import sys


def application(environ, start_response):
    out = {"prefix": sys.prefix, "base_prefix": sys.base_prefix,
           "executable": sys.executable, "site": site.getsitepackages(),
           "exe": os.path.realpath("/proc/self/exe")}
    for name in ("venv_only_pkg", "flask"):
        try:
            mod = __import__(name)
            out[name] = getattr(mod, "__file__", "?")
        except ImportError:
            out[name] = None
    body = json.dumps(out).encode()
    start_response("200 OK", [("Content-Type", "application/json"),
                              ("Content-Length", str(len(body)))])
    return [body]
