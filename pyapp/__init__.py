"""pyapp: the small Flask back end that wsgihost serves by default (pyapp:app).

It stands in for the JSON APIs people put behind gunicorn: a text page, a JSON
list, an endpoint that waits (I/O-bound work), one that computes (CPU-bound
work), one that consumes an upload and one that streams its answer. The same
module runs unchanged under `flask run`, gunicorn and wsgihost, which is what
makes the benchmark in bench/ a fair comparison.
"""

import hashlib
import time

from flask import Flask, Response, jsonify, request, stream_with_context
from werkzeug.exceptions import BadRequest, HTTPException

# Limits on what one request may ask for, so that a single call cannot tie up a
# worker for minutes or exhaust its memory.
MAX_SLEEP_MS = 60_000
MAX_CPU_N = 5_000_000
MAX_STREAM_CHUNKS = 1_000
ECHO_CHUNK = 64 * 1024

DEFAULT_CONFIG = {
    "GREETING": "Hello from pyapp",
    "ITEM_COUNT": 50,
    "JSON_SORT_KEYS": False,
}

# Named profiles for `create_app("prod")`; a mapping may be passed instead.
PROFILES = {
    "dev": {"DEBUG": True},
    "prod": {"DEBUG": False, "PROPAGATE_EXCEPTIONS": False},
    "test": {"TESTING": True},
}


def _int_arg(name, default, low, high):
    """Read an integer query argument within [low, high]; 400 otherwise."""
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw, 10)
    except ValueError:
        raise BadRequest(f"{name} must be an integer") from None
    if not low <= value <= high:
        raise BadRequest(f"{name} must be between {low} and {high}")
    return value


def _make_items(count):
    return [
        {
            "id": i,
            "name": f"item-{i:03d}",
            "price": round(1.5 + i * 0.75, 2),
            "in_stock": i % 3 != 0,
            "tags": ["even" if i % 2 == 0 else "odd", f"group-{i % 5}"],
        }
        for i in range(1, count + 1)
    ]


def create_app(config=None):
    """Build the application. `config` is a profile name ("dev", "prod",
    "test") or a mapping of Flask config values; wsgihost passes literal
    arguments: `pyapp:create_app("prod")`, `pyapp:create_app({"GREETING": "hi"})`."""
    app = Flask(__name__)
    app.config.update(DEFAULT_CONFIG)
    if isinstance(config, str):
        if config not in PROFILES:
            raise ValueError(f"unknown profile {config!r}; expected one of {sorted(PROFILES)}")
        app.config.update(PROFILES[config])
    elif config is not None:
        app.config.update(config)
    items = _make_items(app.config["ITEM_COUNT"])

    @app.errorhandler(HTTPException)
    def http_error(exc):
        # API clients get JSON for every HTTP error (404, 405, 400, ...), not
        # Werkzeug's HTML page.
        response = jsonify(error=exc.name, status=exc.code, description=exc.description)
        response.status_code = exc.code
        if exc.code == 405 and exc.valid_methods:
            response.headers["Allow"] = ", ".join(exc.valid_methods)
        return response

    @app.get("/")
    def index():
        return Response(app.config["GREETING"] + "\n", mimetype="text/plain")

    @app.get("/api/items")
    def list_items():
        return jsonify(items)

    @app.get("/api/sleep")
    def sleep():
        ms = _int_arg("ms", 10, 0, MAX_SLEEP_MS)
        time.sleep(ms / 1000)
        return jsonify(slept_ms=ms)

    @app.get("/api/cpu")
    def cpu():
        n = _int_arg("n", 10_000, 1, MAX_CPU_N)
        # Pure-Python arithmetic: holds the GIL the whole time, like real
        # template rendering or serialisation work.
        total = 0
        for i in range(n):
            total = (total + i * i) % 1_000_000_007
        return jsonify(n=n, result=total)

    @app.post("/api/echo")
    def echo():
        # Stream the body instead of request.get_data(), so a large upload is
        # never held in memory twice.
        digest = hashlib.sha256()
        length = 0
        while True:
            chunk = request.stream.read(ECHO_CHUNK)
            if not chunk:
                break
            digest.update(chunk)
            length += len(chunk)
        return jsonify(length=length, sha256=digest.hexdigest())

    @app.get("/api/stream")
    def stream():
        count = _int_arg("chunks", 5, 1, MAX_STREAM_CHUNKS)

        def generate():
            for i in range(count):
                yield f"chunk {i}\n"

        return Response(stream_with_context(generate()), mimetype="text/plain")

    return app


app = create_app()
