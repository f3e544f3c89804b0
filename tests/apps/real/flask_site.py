"""A Flask 2.2 site as people write them, served by tests/test_vs_gunicorn.py
under gunicorn and under wsgihost: sessions (a login flow), flash messages,
uploads, streams, send_file of a real file, redirects, a JSON API with error
handlers, cookies with attributes, url_for under a SCRIPT_NAME prefix.

REALAPP_DATA names a folder the test fills (the file sent by send_file)."""
import hashlib
import json
import os

from flask import (Flask, Response, abort, flash, jsonify, make_response, redirect,
                   render_template_string, request, send_file, session,
                   stream_with_context, url_for)

DATA = os.environ.get("REALAPP_DATA", "/nonexistent")

app = Flask(__name__)
app.secret_key = "test-only-secret"

PAGE = """<!doctype html><title>{{ title }}</title>
{% for category, message in get_flashed_messages(with_categories=true) %}
<p class="{{ category }}">{{ message }}</p>
{% endfor %}
<p>user: {{ session.get('user', 'anonymous') }}</p>
<a href="{{ url_for('index') }}">home</a> <a href="{{ url_for('login') }}">login</a>
"""


@app.route("/")
def index():
    return render_template_string(PAGE, title="index")


@app.route("/login", methods=["GET", "POST"])
def login():
    if request.method == "POST":
        if request.form.get("password") != "secret":
            flash("wrong password", "error")
            return render_template_string(PAGE, title="login"), 401
        session["user"] = request.form["user"]
        session.permanent = request.form.get("remember") == "on"
        flash(f"welcome {session['user']}", "info")
        return redirect(url_for("private", next=request.args.get("next", "")))
    return render_template_string(PAGE + '<form method="post"><input name="user"></form>',
                                  title="login")


@app.route("/private")
def private():
    if "user" not in session:
        return redirect(url_for("login", next=request.path))
    session["visits"] = session.get("visits", 0) + 1
    return render_template_string(PAGE + "<p>visits: {{ session.visits }}</p>", title="private")


@app.route("/logout")
def logout():
    session.clear()
    flash("bye", "info")
    return redirect(url_for("index"))


@app.route("/upload", methods=["POST"])
def upload():
    files = []
    for field, storage in request.files.items(multi=True):
        data = storage.read()
        files.append({"field": field, "filename": storage.filename,
                      "content_type": storage.content_type, "size": len(data),
                      "sha256": hashlib.sha256(data).hexdigest()})
    return jsonify(files=files, form=request.form.to_dict(flat=False),
                   content_length=request.content_length)


@app.route("/stream")
def stream():
    n = request.args.get("n", 50, type=int)

    @stream_with_context
    def gen():
        yield f"streaming for {request.args.get('who', 'nobody')}\n"
        for i in range(n):
            yield f"line {i} " + "x" * (i % 40) + "\n"

    return Response(gen(), mimetype="text/plain")


@app.route("/generator")
def generator():
    def gen():
        for i in range(20):
            yield b"%d," % i
        yield b"end"
    return Response(gen(), mimetype="application/octet-stream",
                    headers={"X-Generated": "yes"})


@app.route("/download")
def download():
    return send_file(os.path.join(DATA, "report.bin"), mimetype="application/octet-stream",
                     as_attachment=request.args.get("attach") == "1",
                     download_name="report.bin", conditional=True, max_age=60)


@app.route("/text-file")
def text_file():
    return send_file(os.path.join(DATA, "notes.txt"))


@app.route("/redirect/<kind>")
def redirects(kind):
    codes = {"found": 302, "permanent": 301, "see-other": 303, "temporary": 307, "perm308": 308}
    if kind == "external":
        return redirect("https://example.com/elsewhere?q=1")
    return redirect(url_for("index", from_=kind), code=codes.get(kind, 302))


@app.route("/api/items", methods=["GET", "POST"])
def items():
    if request.method == "POST":
        payload = request.get_json()  # a 400 on bad JSON (Flask's own)
        if not isinstance(payload, dict) or "name" not in payload:
            abort(400, description="name is required")
        return jsonify(id=3, name=payload["name"]), 201, {"Location": url_for("item", n=3)}
    return jsonify(items=[{"id": 1, "name": "one"}, {"id": 2, "name": "two"}])


@app.route("/api/items/<int:n>", methods=["GET", "DELETE"])
def item(n):
    if n > 2:
        abort(404)
    if request.method == "DELETE":
        return "", 204
    return jsonify(id=n)


@app.route("/api/silent-json", methods=["POST"])
def silent_json():
    return jsonify(got=request.get_json(silent=True), is_json=request.is_json)


@app.route("/api/boom")
def boom():
    raise RuntimeError("the app failed")


@app.route("/api/teapot")
def teapot():
    abort(418)


@app.errorhandler(400)
def bad_request(e):
    return jsonify(error="bad request", description=e.description), 400


@app.errorhandler(404)
def not_found(e):
    if request.path.startswith("/api/"):
        return jsonify(error="not found", path=request.path), 404
    return "<h1>nothing here</h1>", 404


@app.errorhandler(405)
def not_allowed(e):
    return jsonify(error="method not allowed", allowed=e.valid_methods), 405


@app.errorhandler(500)
def server_error(e):
    return jsonify(error="internal", original=type(e.original_exception).__name__), 500


@app.route("/cookies")
def cookies():
    resp = make_response(json.dumps(request.cookies, sort_keys=True))
    resp.set_cookie("plain", "1")
    resp.set_cookie("attrs", "a b;c", max_age=3600, path="/cookies", domain="127.0.0.1",
                    secure=True, httponly=True, samesite="Strict")
    resp.set_cookie("lax", "v", samesite="Lax")
    resp.delete_cookie("gone")
    return resp


@app.route("/urls")
def urls():
    return jsonify(index=url_for("index"), external=url_for("item", n=7, _external=True),
                   script_root=request.script_root, path=request.path, url=request.url,
                   base_url=request.base_url, full_path=request.full_path)


@app.route("/head-me", methods=["GET"])
def head_me():
    return Response("a body HEAD must not carry\n" * 10, headers={"X-Head": "1"})


@app.route("/echo-headers")
def echo_headers():
    skip = {"Host"}
    return jsonify({k: v for k, v in request.headers.items() if k not in skip})


@app.route("/query")
def query():
    return jsonify(args=request.args.to_dict(flat=False), raw=request.query_string.decode())
