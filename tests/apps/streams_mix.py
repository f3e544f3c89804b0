"""Several real frameworks' streamed responses behind one server, by path
prefix: /raw (chunks_app), /flask (flask_files), /django (django_stream),
/bottle (bottle_stream). The prefix moves to SCRIPT_NAME, and each app's own
result object reaches the server unchanged."""
from bottle_stream import app as bottle_app
from chunks_app import application as raw_app
from django_stream import application as django_app
from flask_files import app as flask_app

PREFIXES = {"/raw": raw_app, "/flask": flask_app, "/django": django_app, "/bottle": bottle_app}


def application(environ, start_response):
    path = environ["PATH_INFO"]
    for prefix, app in PREFIXES.items():
        if path.startswith(prefix + "/"):
            environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "") + prefix
            environ["PATH_INFO"] = path[len(prefix):]
            return app(environ, start_response)
    start_response("404 Not Found", [("Content-Type", "text/plain")])
    return [b"no such prefix"]
