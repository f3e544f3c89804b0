#!/usr/bin/python3
"""The ceiling for one core: call a WSGI application directly in a Python loop.

No sockets, no parsing, no server: each call gets a fresh environ (copied from
one built like a server would for wrk's `GET <path>` with only a Host header),
calls `app(environ, start_response)`, consumes the body and calls close(). The
calls/s this reaches is what a single-process server could reach if its own
work cost nothing; bench/quick prints how close wsgihost gets.

    /usr/bin/python3 bench/pyloop.py [--pythonpath DIR] [--seconds S] MODULE:APP PATH

Prints one JSON line: {"calls": N, "seconds": S, "rps": R, "cpu_us_per_call": C,
"status": "200 OK"}; C is the process's own CPU time per call, which a busy or
shared machine (steal, another process on the core) disturbs less than R.
"""

import argparse
import importlib
import io
import json
import sys
import time


def load(spec):
    module_name, _, attr = spec.partition(":")
    module = importlib.import_module(module_name)
    return getattr(module, attr or "application")


def base_environ(path_qs):
    path, _, query = path_qs.partition("?")
    return {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "RAW_URI": path_qs,
        "REQUEST_URI": path_qs,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "REMOTE_PORT": "40000",
        "HTTP_HOST": "127.0.0.1:8000",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "wsgi.input_terminated": True,
    }


def _start_response(status, headers, exc_info=None):
    return lambda data: None


def call_once(app, base, start_response=_start_response):
    """One call as a server makes it: a fresh environ, the body consumed,
    close() called."""
    environ = dict(base)
    environ["wsgi.input"] = io.BytesIO(b"")
    result = app(environ, start_response)
    try:
        for _chunk in result:
            pass
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("app")
    ap.add_argument("path")
    ap.add_argument("--pythonpath", action="append", default=[])
    ap.add_argument("--seconds", type=float, default=2.0)
    args = ap.parse_args()
    for p in reversed(args.pythonpath):
        sys.path.insert(0, p)
    app = load(args.app)
    base = base_environ(args.path)
    status_seen = []

    def start_response(status, headers, exc_info=None):
        status_seen.append(status)
        return lambda data: None

    def one_call():
        call_once(app, base, start_response)

    for _ in range(200):  # warm caches, imports and Flask's first-request setup
        one_call()
    calls = 0
    cpu0 = time.process_time()
    start = time.perf_counter()
    deadline = start + args.seconds
    while True:
        for _ in range(100):
            one_call()
        calls += 100
        now = time.perf_counter()
        if now >= deadline:
            break
        del status_seen[:]
    elapsed = now - start
    cpu = time.process_time() - cpu0
    print(json.dumps({"calls": calls, "seconds": round(elapsed, 3), "rps": calls / elapsed,
                      "cpu_us_per_call": 1e6 * cpu / calls,
                      "status": status_seen[-1] if status_seen else None}))


if __name__ == "__main__":
    main()
