"""Imports C extension modules that live outside the binary (lib-dynload,
dist-packages) and reports where each came from: with a statically linked
libpython they must find the C API in the executable itself."""
import importlib
import json

MODULES = ["_json", "markupsafe._speedups", "_ssl", "_ctypes", "_decimal", "_hashlib",
           "_asyncio", "pyexpat", "zlib"]


def application(environ, start_response):
    out = {}
    for name in MODULES:
        try:
            out[name] = getattr(importlib.import_module(name), "__file__", "built-in")
        except Exception as e:  # reported, the test names the module
            out[name] = f"ERROR {e!r}"
    import json.decoder
    import markupsafe
    out["json uses C scanner"] = json.decoder.c_scanstring is not None
    out["markupsafe escape from"] = markupsafe.escape.__module__
    import ssl
    out["ssl works"] = ssl.create_default_context().check_hostname
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(out).encode()]
