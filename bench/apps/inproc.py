"""bench/instr's in-process ceiling: GET /?N calls the app named by
$INPROC_APP (MODULE:APP) N times the way bench/pyloop.py does (a fresh environ
for $INPROC_PATH, the body consumed, close() called), inside wsgihost's own
interpreter, then answers "ok". The difference between N=K and N=0 divided by
K is what one call of the app costs in that interpreter build."""
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import pyloop  # noqa: E402

_app = pyloop.load(os.environ["INPROC_APP"])
_base = pyloop.base_environ(os.environ.get("INPROC_PATH", "/"))


def app(environ, start_response):
    for _ in range(int(environ.get("QUERY_STRING") or 0)):
        pyloop.call_once(_app, _base)
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
    return [b"ok"]
