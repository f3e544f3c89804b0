"""The app of tests/test_gunicorn_realistic.py (gunicorn config files with
server hooks). At import it appends "import PID" to $HOOKS_OUT (so a test
sees whether post_fork ran before the import). Routes:
  /print   writes to stdout (print), to fd 1 directly (C level), to stderr,
           and logs through logging (the app's logger "shop" and gunicorn.error)
  /env     {"pid", "otel"}: os.environ's OTEL_WORKER_PID, set by a post_fork hook
  /sleep   ?ms=N
  /environ[/...]  the environ's CGI and HTTP_ keys (str values) as JSON,
           and "body": what wsgi.input gave for CONTENT_LENGTH
  /boom    answers 200 (a pre_request hook makes it fail)
  /forkabort  forks a child (no exec) that calls abort(); answers how it ended
  other    "ok" with a header of its own
"""
import json
import logging
import os
import sys
import time
from urllib.parse import parse_qs

_OUT = os.environ.get("HOOKS_OUT")
if _OUT:
    with open(_OUT, "a") as f:
        f.write(json.dumps({"hook": "import", "pid": os.getpid()}) + "\n")

log = logging.getLogger("shop")


def application(environ, start_response):
    path = environ["PATH_INFO"]
    headers = [("Content-Type", "text/plain"), ("X-App", "hooked")]
    if path == "/print":
        print("print() from the app")
        os.write(1, b"os.write(1) from the app\n")
        sys.stderr.write("sys.stderr from the app\n")
        log.info("the app's own logger: %s", path)
        logging.getLogger("gunicorn.error").warning("the app logs through gunicorn.error")
        body = b"printed"
    elif path == "/env":
        body = json.dumps({"pid": os.getpid(),
                           "otel": os.environ.get("OTEL_WORKER_PID")}).encode()
    elif path.startswith("/environ"):
        seen = {k: v for k, v in environ.items() if k.isupper() and isinstance(v, str)}
        n = int(environ.get("CONTENT_LENGTH") or 0)
        seen["body"] = environ["wsgi.input"].read(n).decode("latin-1")
        body = json.dumps(seen).encode()
    elif path == "/forkabort":
        child = os.fork()
        if child == 0:
            os.abort()
        _, status = os.waitpid(child, 0)
        body = b"signal %d" % os.WTERMSIG(status) if os.WIFSIGNALED(status) else b"exit"
    elif path == "/sleep":
        time.sleep(int(parse_qs(environ.get("QUERY_STRING", "")).get("ms", ["0"])[0]) / 1000)
        body = b"slept"
    else:
        body = b"ok"
    start_response("200 OK", headers + [("Content-Length", str(len(body)))])
    return [body]
