"""A Bottle 0.12 app (tests/test_vs_gunicorn.py): routes with filters,
static_file (ranges, conditional GET), templates, plain and signed cookies,
uploads, JSON, errors and redirects. REALAPP_DATA names the folder
static_file serves."""
import hashlib
import os

import bottle
from bottle import (HTTPResponse, abort, redirect, request, response, static_file,
                    template)

DATA = os.environ.get("REALAPP_DATA", "/nonexistent")
bottle.TEMPLATE_PATH.insert(0, os.path.join(os.path.dirname(__file__), "bottle_views"))
app = bottle.Bottle()


@app.get("/")
def index():
    return "bottle index\n"


@app.get("/hello/<name>")
def hello(name):
    return template("Hello {{name}}, you are visitor {{n}}!", name=name, n=request.query.n or 0)


@app.get("/num/<n:int>")
def num(n):
    return {"n": n, "double": n * 2}


@app.get("/page")
def page():
    return template("page", title="a page", items=["one", "<two>", "three"],
                    raw="<script>alert(1)</script>")


@app.get("/static/<path:path>")
def static(path):
    return static_file(path, root=DATA)


@app.get("/download/<path:path>")
def download(path):
    return static_file(path, root=DATA, download=f"copy-of-{path}")


@app.get("/cookies")
def cookies():
    seen = {"plain": request.get_cookie("plain"),
            "signed": request.get_cookie("signed", secret="s3cret")}
    response.set_cookie("plain", "p1", max_age=120, path="/")
    response.set_cookie("signed", {"user": "ann", "n": 1}, secret="s3cret", path="/",
                        httponly=True)
    return seen


@app.post("/upload")
def upload():
    out = []
    for name, f in request.files.allitems():
        data = f.file.read()
        out.append({"field": name, "filename": f.filename, "raw_filename": f.raw_filename,
                    "type": f.content_type, "size": len(data),
                    "sha256": hashlib.sha256(data).hexdigest()})
    return {"files": out, "forms": dict(request.forms.allitems())}


@app.post("/json")
def json_post():
    data = request.json
    if data is None:
        abort(400, "expected JSON")
    return {"got": data}


@app.get("/redirect")
def go():
    redirect("/hello/redirected")


@app.get("/forbidden")
def forbidden():
    abort(403, "not for you")


@app.get("/boom")
def boom():
    raise ValueError("bottle view failed")


@app.get("/custom")
def custom():
    return HTTPResponse("custom body\n", status=202, headers={"X-Custom": "yes"})


@app.get("/gen")
def gen():
    response.content_type = "text/plain"
    return (f"part {i}\n" for i in range(50))


@app.error(404)
def not_found(err):
    return f"bottle 404: {request.path}\n"


@app.route("/methods", method=["GET", "PUT", "DELETE"])
def methods():
    return request.method + "\n"
