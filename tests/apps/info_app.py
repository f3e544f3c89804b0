"""Facts about the embedded interpreter, and an import counter.

The counter lives in builtins so that a second import of this file under
another name (a sys.path mistake, or an import per request) is counted too.
"""
import builtins
import json
import os
import sys

builtins._wsgihost_info_imports = getattr(builtins, "_wsgihost_info_imports", 0) + 1


def application(environ, start_response):
    data = json.dumps({
        "imports": builtins._wsgihost_info_imports,
        "executable": sys.executable,
        "version": list(sys.version_info[:3]),
        "path": sys.path,
        "cwd": os.getcwd(),
        "pid": os.getpid(),
        "module": __name__,
    }).encode()
    start_response("200 OK", [("Content-Type", "application/json"),
                              ("Content-Length", str(len(data)))])
    return [data]
