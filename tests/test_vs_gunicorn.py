"""Real apps side by side: each app in tests/apps/real/ runs under Debian's
gunicorn 20.1 (one sync worker) and under wsgihost (the default one-process
mode with app threads and, for most apps, -w 1 with the app inline), the
same request sequences go to both, and the answers must be the same: status
line, header fields, body bytes (tests/sidebyside.py says what is compared
and what is normalised). wsgihost is also asked each sequence over one
keep-alive connection, and some pipelined in one write, which must not
change a byte.

Where wsgihost deliberately answers differently (README "Differences from
gunicorn"), the test asserts the documented difference instead. STATUSES
holds gunicorn's statuses for every sequence, so that a sequence that stops
testing what its name says (a login that no longer logs in) fails too;
SIDEBYSIDE_SHOW=1 (with pytest -s) prints gunicorn's answers."""

import json
import os
import re
import shutil
import subprocess

import pytest

from sidebyside import (SYSTEM_PYTHON, Client, Gunicorn, Req, compare, flask_normaliser,
                        gunicorn_available, run_pipelined, run_sequence, strip_dates,
                        ungzip_mtime)
from support import APPS, RawConn

REAL = APPS / "real"

# wsgihost's two ways of running the app: on a pool thread (the default one
# process) and inline on the loop thread (-w 1, under a master). Flask,
# Django and the raw callables run under both; the extensions and Bottle
# (no path of their own through the server) under the default only, to keep
# the suite fast.
MODES = {"threads": [], "w1": ["-w", "1"]}


@pytest.fixture(scope="module", autouse=True)
def _need_gunicorn():
    if not gunicorn_available():
        pytest.fail("gunicorn is not importable by /usr/bin/python3: apt-get install gunicorn "
                    "(tests/run installs it)", pytrace=False)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    """Files the apps serve, with a fixed mtime so Last-Modified is known."""
    d = tmp_path_factory.mktemp("realdata")
    blob = bytes((i * 31 + i // 253) & 0xFF for i in range(300_000))
    (d / "report.bin").write_bytes(blob)
    (d / "notes.txt").write_text("notes\n" * 1000)
    for p in d.iterdir():
        os.utime(p, (1_700_000_000, 1_700_000_000))
    return d


class Pair:
    def __init__(self, gunicorn, wsgihost, normalise=None):
        self.gunicorn = gunicorn
        self.wsgihost = wsgihost
        self.normalise = normalise

    def check(self, steps, keepalive=True):
        """Run steps on both; assert equal answers. Returns (gunicorn, wsgihost) results."""
        ref = run_sequence(self.gunicorn.port, steps, normalise=self.normalise)
        if os.environ.get("SIDEBYSIDE_SHOW"):  # with pytest -s: what gunicorn answered
            for st, r in zip(steps, ref):
                print("SHOW", st.method, st.path, r.status, r.framing, r.headers, r.body[:120])
        got = run_sequence(self.wsgihost.port, steps, normalise=self.normalise)
        compare(steps, ref, got)
        if keepalive:
            kept = run_sequence(self.wsgihost.port, steps, keepalive=True,
                                normalise=self.normalise)
            compare(steps, ref, kept, "wsgihost, one keep-alive connection")
        return ref, got


def start_pair(module_server_factory, tmp_path_factory, app, mode, env=None, normalise=None,
               per_server_env=None):
    """gunicorn and wsgihost serving app with the same environment (plus
    per_server_env(who) for each, who = "gunicorn" or "wsgihost")."""
    # Werkzeug's Allow field and 405 bodies list a set: the same hash seed
    # gives both servers the same order.
    env = {"PYTHONHASHSEED": "0", **(env or {})}
    extra = per_server_env or (lambda who: {})
    g = Gunicorn(app, pythonpath=REAL, workdir=tmp_path_factory.mktemp("gunicorn"),
                 env={**env, **extra("gunicorn")}).start()
    w = module_server_factory(app, "--pythonpath", str(REAL), *MODES[mode],
                              env={**env, **extra("wsgihost")}, pythonpath=False)
    pair = Pair(g, w, normalise)
    return pair, g


# -- Flask -------------------------------------------------------------------------------

@pytest.fixture(scope="module", params=list(MODES))
def flask_pair(request, module_server_factory, tmp_path_factory, data_dir):
    pair, g = start_pair(module_server_factory, tmp_path_factory, "flask_site:app",
                         request.param, env={"REALAPP_DATA": str(data_dir)},
                         normalise=flask_normaliser())
    yield pair
    g.stop()


def form(**fields):
    from urllib.parse import urlencode
    return urlencode(fields).encode()


FORM = [("Content-Type", "application/x-www-form-urlencoded")]
JSON = [("Content-Type", "application/json")]


def multipart(parts, boundary="----wsgihostboundary7MA4YWxkTrZu0gW"):
    """parts: (field, filename or None, content type or None, bytes)."""
    out = []
    for name, filename, ctype, data in parts:
        disp = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        out.append(f"--{boundary}\r\nContent-Disposition: {disp}\r\n".encode())
        if ctype:
            out.append(f"Content-Type: {ctype}\r\n".encode())
        out.append(b"\r\n" + data + b"\r\n")
    out.append(f"--{boundary}--\r\n".encode())
    return [("Content-Type", f"multipart/form-data; boundary={boundary}")], b"".join(out)


def big_payload(n):
    return bytes((i * 131 + (i >> 9)) & 0xFF for i in range(n))


def last_header(name):
    return lambda client: client.last.header(name) or ""


UP_HEADERS, UP_BODY = multipart([
    ("title", None, None, "Grüße".encode()),
    ("tags", None, None, b"a"), ("tags", None, None, b"b"),
    ("doc", "report.txt", "text/plain", b"hello\r\nworld\r\n"),
    ("doc", "empty.bin", "application/octet-stream", b""),
    ("image", "pic.png", "image/png", bytes(range(256)) * 40),
])
BIG_HEADERS, BIG_BODY = multipart([("note", None, None, b"large"),
                                   ("blob", "big.bin", "application/octet-stream",
                                    big_payload(5 * 1024 * 1024))])

FLASK = {
    "index": [Req()],
    "login-flow": [
        Req("GET", "/private"),
        Req("GET", "/login?next=/private"),
        Req("POST", "/login", FORM, form(user="ann", password="wrong")),
        Req("GET", "/"),  # the flashed error was consumed by the 401 page
        Req("POST", "/login?next=/private", FORM, form(user="ann", password="secret")),
        Req("GET", "/private"),
        Req("GET", "/private"),
        Req("GET", "/logout"),
        Req("GET", "/"),
        Req("GET", "/private"),
    ],
    "remember-me": [Req("POST", "/login", FORM, form(user="bo", password="secret", remember="on")),
                    Req("GET", "/private")],
    "upload-several": [Req("POST", "/upload", UP_HEADERS, UP_BODY)],
    "upload-large": [Req("POST", "/upload", BIG_HEADERS, BIG_BODY)],
    "upload-expect-100": [Req("POST", "/upload", UP_HEADERS + [("Expect", "100-continue")],
                              UP_BODY)],
    "stream-with-context": [Req("GET", "/stream?n=300&who=ann")],
    "generator": [Req("GET", "/generator")],
    "send-file": [Req("GET", "/download"), Req("GET", "/download?attach=1"),
                  Req("GET", "/text-file")],
    "send-file-etag-304": [Req("GET", "/download"),
                           Req("GET", "/download", [("If-None-Match", last_header("ETag"))])],
    "send-file-ims-304": [Req("GET", "/download"),
                          Req("GET", "/download", [("If-Modified-Since",
                                                  last_header("Last-Modified"))])],
    "send-file-ims-old": [Req("GET", "/download", [("If-Modified-Since",
                                                  "Sat, 01 Jan 2000 00:00:00 GMT")])],
    "send-file-range": [Req("GET", "/download", [("Range", "bytes=0-99")]),
                        Req("GET", "/download", [("Range", "bytes=1000-")]),
                        Req("GET", "/download", [("Range", "bytes=-500")]),
                        Req("GET", "/download", [("Range", "bytes=299990-400000")]),
                        Req("GET", "/download", [("Range", "bytes=0-9,20-29")]),
                        Req("GET", "/download", [("Range", "bytes=400000-")]),
                        Req("GET", "/download", [("Range", "bytes=9-1")])],
    "send-file-if-range": [Req("GET", "/download"),
                           Req("GET", "/download", [("Range", "bytes=10-19"),
                                                  ("If-Range", last_header("ETag"))]),
                           Req("GET", "/download", [("Range", "bytes=10-19"),
                                                  ("If-Range", '"other"')])],
    "head": [Req("HEAD", "/"), Req("HEAD", "/head-me"), Req("HEAD", "/download"),
             Req("HEAD", "/stream"), Req("HEAD", "/api/items"), Req("HEAD", "/nope")],
    "redirects": [Req("GET", f"/redirect/{k}") for k in
                  ("found", "permanent", "see-other", "temporary", "perm308", "external")],
    "json-api": [
        Req("GET", "/api/items"),
        Req("POST", "/api/items", JSON, b'{"name": "three"}'),
        Req("POST", "/api/items", JSON, b'{"name": '),
        Req("POST", "/api/items", JSON, b'[1, 2]'),
        Req("POST", "/api/items", [("Content-Type", "text/plain")], b'{"name": "x"}'),
        Req("POST", "/api/silent-json", JSON, b"not json"),
        Req("POST", "/api/silent-json", [("Content-Type", "application/json; charset=utf-8")],
            '{"ü": [1, 2.5, null]}'.encode()),
        Req("GET", "/api/items/1"),
        Req("GET", "/api/items/9"),
        Req("DELETE", "/api/items/2"),
        Req("PUT", "/api/items/1", JSON, b"{}"),
        Req("GET", "/api/boom"),
        Req("GET", "/api/teapot"),
        Req("GET", "/nope"),
        Req("OPTIONS", "/api/items"),
    ],
    "cookies": [Req("GET", "/cookies", [("Cookie", 'a=1; b="quoted"; gone=x')], cookies=False),
                Req("GET", "/cookies")],
    "urls": [Req("GET", "/urls"), Req("GET", "/urls?x=1&y=%C3%BC")],
    "query": [Req("GET", "/query?a=1&a=2&b=%20x+y&c=%E2%82%AC&empty=&flag"),
              Req("GET", "/query?q=caf%C3%A9#frag-not-sent".split("#")[0])],
    "request-headers": [Req("GET", "/echo-headers", [
        ("Accept", "text/html"), ("Accept", "application/json"),
        ("X-Custom", "  spaced value"), ("X-Empty", ""), ("X-Latin", "caf\xe9"),
        ("User-Agent", "side-by-side/1.0"), ("X-Forwarded-Host", "a"),
        ("Cache-Control", "no-cache"), ("Cache-Control", "max-age=0"),
    ], cookies=False)],
    "http10": [Req("GET", "/", version="HTTP/1.0"), Req("GET", "/stream?n=5", version="HTTP/1.0"),
               Req("GET", "/download", version="HTTP/1.0")],
}


@pytest.mark.parametrize("name", list(FLASK))
def test_flask(flask_pair, name):
    check_reference(f"flask/{name}", flask_pair.check(FLASK[name])[0])


# -- Flask with its extensions -----------------------------------------------------------

CSRF_INPUT = re.compile(rb'(name="csrf_token" type="hidden" value=")[^"]+(")')


def wtf_extra(headers, body):
    return headers, CSRF_INPUT.sub(rb"\1<csrf>\2", body)


@pytest.fixture(scope="module", params=["threads"])
def exts_pair(request, module_server_factory, tmp_path_factory):
    db_dir = tmp_path_factory.mktemp("extsdb")
    pair, g = start_pair(module_server_factory, tmp_path_factory, "flask_exts:app",
                         request.param, per_server_env=lambda who: {
                             "REALAPP_DB": str(db_dir / f"{who}.sqlite")},
                         normalise=flask_normaliser(random_keys=("csrf_token",),
                                                    extra=lambda h, b: ungzip_mtime(
                                                        *wtf_extra(h, b))))
    yield pair
    g.stop()


def csrf_form(**fields):
    """A form body carrying the CSRF token of the page fetched just before."""
    def build(client):
        m = CSRF_INPUT.search(client.last.body)
        assert m, f"no CSRF token in {client.last.body[:300]!r}"
        token = client.last.body[m.end(1):m.start(2)].decode()
        return form(csrf_token=token, **fields)
    return build


def basic(user, password):
    import base64
    return [("Authorization", "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode())]


RESET = Req("POST", "/reset")
ORIGIN = [("Origin", "https://front.test")]

EXTS = {
    "login-manager": [
        Req("GET", "/me"),
        Req("POST", "/login?next=/me", FORM, form(user="ann")),
        Req("GET", "/me"),
        Req("GET", "/logout"),
        Req("GET", "/me", [("Accept", "application/json")]),
        Req("POST", "/login", FORM, form(user="nobody")),
    ],
    "remember-cookie": [Req("POST", "/login", FORM, form(user="bo", remember="1")),
                        Req("GET", "/me")],
    "wtf-sqlalchemy": [
        RESET,
        Req("GET", "/notes/new"),
        Req("POST", "/notes/new", FORM, csrf_form(title="first", stars="4")),
        Req("GET", "/notes/1"),
        Req("GET", "/notes/new"),
        Req("POST", "/notes/new", FORM, csrf_form(title="", stars="9")),
        Req("POST", "/notes/new", FORM, form(title="no token", stars="1")),
        Req("GET", "/notes"),
        Req("GET", "/notes/2"),
    ],
    "caching": [RESET, Req("GET", "/cached?q=a"), Req("GET", "/cached?q=a"),
                Req("GET", "/cached?q=b"), Req("GET", "/memo/12"), Req("GET", "/memo/12")],
    "cors": [
        Req("GET", "/cors/data", ORIGIN),
        Req("OPTIONS", "/cors/data", ORIGIN + [("Access-Control-Request-Method", "PUT"),
                                              ("Access-Control-Request-Headers", "X-Token")]),
        Req("GET", "/cors/data", [("Origin", "https://evil.test")]),
        Req("GET", "/cors-route", [("Origin", "https://any.test")]),
    ],
    "basicauth": [Req("GET", "/basic"), Req("GET", "/basic", basic("admin", "wrong")),
                  Req("GET", "/basic", basic("admin", "hunter2"))],
    "httpauth": [Req("GET", "/httpauth"), Req("GET", "/httpauth", basic("ann", "pw")),
                 Req("GET", "/token"), Req("GET", "/token", [("Authorization", "Bearer t0k3n")]),
                 Req("GET", "/token", [("Authorization", "Bearer nope")])],
    "compress": [Req("GET", "/big-text", [("Accept-Encoding", "gzip, deflate")]),
                 Req("GET", "/big-text"),
                 Req("HEAD", "/big-text", [("Accept-Encoding", "gzip")])],
    "restful": [
        Req("GET", "/rest/todos"), Req("GET", "/rest/todos/1"), Req("GET", "/rest/todos/9"),
        Req("PUT", "/rest/todos/3", JSON, b'{"task": "more"}'),
        Req("PUT", "/rest/todos/3", JSON, b'{}'),
        Req("PUT", "/rest/todos/3", JSON, b'{bad json'),
        Req("DELETE", "/rest/todos/1"),
    ],
}


@pytest.mark.parametrize("name", list(EXTS))
def test_flask_extensions(exts_pair, name):
    check_reference(f"exts/{name}", exts_pair.check(EXTS[name])[0])


# -- Django ------------------------------------------------------------------------------

DJ_TOKEN = re.compile(rb'(name="csrfmiddlewaretoken" value=")[^"]+(")')
DJ_COOKIES = re.compile(r"^(csrftoken|sessionid)=[^;]+")
DJ_SIGNED = re.compile(r"^signed=(\w+):[^;]+")


def django_normaliser(headers, body):
    out = []
    for n, v in strip_dates(headers):
        if n == "set-cookie":
            v = DJ_SIGNED.sub(r"signed=\1:<signature>", DJ_COOKIES.sub(r"\1=<random>", v))
        out.append((n, v))
    return out, DJ_TOKEN.sub(rb"\1<csrf>\2", body)


@pytest.fixture(scope="module")
def django_db(tmp_path_factory):
    """One migrated database with the admin user; each server gets a copy."""
    d = tmp_path_factory.mktemp("djdb")
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env.update(PYTHONPATH=str(REAL), REALAPP_DB=str(d / "template.sqlite3"))
    r = subprocess.run([SYSTEM_PYTHON, "-m", "djsite.setup_db"], env=env, cwd=d,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return d / "template.sqlite3"


@pytest.fixture(scope="module", params=list(MODES))
def django_pair(request, module_server_factory, tmp_path_factory, django_db, data_dir):
    def copy_db(who):
        target = django_db.with_name(f"{request.param}-{who}.sqlite3")
        shutil.copyfile(django_db, target)
        return {"REALAPP_DB": str(target)}
    pair, g = start_pair(module_server_factory, tmp_path_factory, "djsite.wsgi:application",
                         request.param, env={"REALAPP_DATA": str(data_dir)},
                         per_server_env=copy_db, normalise=django_normaliser)
    yield pair
    g.stop()


def dj_form(**fields):
    def build(client):
        m = DJ_TOKEN.search(client.last.body)
        assert m, f"no csrfmiddlewaretoken in {client.last.body[:300]!r}"
        return form(csrfmiddlewaretoken=client.last.body[m.end(1):m.start(2)].decode(), **fields)
    return build


def csrf_header(client):
    return client.jar.get("csrftoken", ("", "/"))[0]


ADMIN_LOGIN = "/admin/login/?next=/admin/"
DJANGO = {
    "admin-login": [
        Req("GET", "/admin/"),
        Req("GET", ADMIN_LOGIN),
        Req("POST", ADMIN_LOGIN, FORM, dj_form(username="admin", password="wrong",
                                                next="/admin/")),
        Req("POST", ADMIN_LOGIN, FORM, dj_form(username="admin", password="s3cret-pw",
                                                next="/admin/")),
        Req("GET", "/admin/"),
        Req("GET", "/admin/auth/user/"),
        Req("GET", "/admin/auth/user/?q=adm&o=1"),
        Req("GET", "/admin/logout/"),
        Req("GET", "/admin/"),
    ],
    "admin-csrf-refused": [Req("POST", ADMIN_LOGIN, FORM,
                               form(username="admin", password="s3cret-pw"))],
    "static-serve": [Req("GET", "/static/admin/css/base.css"),
                     Req("GET", "/static/admin/css/base.css",
                         [("If-Modified-Since", last_header("Last-Modified"))]),
                     Req("GET", "/static/admin/img/icon-yes.svg"),
                     Req("HEAD", "/static/admin/js/core.js"),
                     Req("GET", "/static/admin/nope.css")],
    "json": [Req("GET", "/api/info?a=1&b=%C3%BC"),
             Req("POST", "/api/echo", JSON, b'{"x": 1}'),
             Req("GET", "/form"),
             Req("POST", "/api/echo", JSON + [("X-CSRFToken", csrf_header)], b'{"x": [1, 2]}'),
             Req("POST", "/api/echo", JSON + [("X-CSRFToken", csrf_header)], b'{"x": '),
             Req("GET", "/api/echo")],
    "form-post": [Req("GET", "/form"),
                  Req("POST", "/form", FORM, dj_form(name="Zoë"))],
    "streaming": [Req("GET", "/stream?n=500"), Req("HEAD", "/stream")],
    "file-response": [Req("GET", "/file"), Req("GET", "/attachment"), Req("HEAD", "/file"),
                      Req("GET", "/file", [("Range", "bytes=0-9")])],
    "redirects-errors": [Req("GET", "/redirect"), Req("GET", "/admin"), Req("GET", "/nope"),
                         Req("GET", "/boom"),
                         Req("GET", "/api/info", [("Host", "evil.test")])],
    "cookies": [Req("GET", "/cookies"), Req("GET", "/cookies")],
    "http10": [Req("GET", "/api/info", version="HTTP/1.0"),
               Req("GET", "/stream?n=3", version="HTTP/1.0")],
}


@pytest.mark.parametrize("name", list(DJANGO))
def test_django(django_pair, name):
    check_reference(f"django/{name}", django_pair.check(DJANGO[name])[0])


# -- Bottle ------------------------------------------------------------------------------

@pytest.fixture(scope="module", params=["threads"])
def bottle_pair(request, module_server_factory, tmp_path_factory, data_dir):
    pair, g = start_pair(module_server_factory, tmp_path_factory, "bottle_site:app",
                         request.param, env={"REALAPP_DATA": str(data_dir)},
                         normalise=lambda h, b: (strip_dates(h), b))
    yield pair
    g.stop()


BOTTLE_UP_HEADERS, BOTTLE_UP_BODY = multipart([
    ("who", None, None, b"ann"),
    ("a", "a.txt", "text/plain", b"first file\n"),
    ("b", "../../etc/passwd", "application/octet-stream", big_payload(200_000)),
])

BOTTLE = {
    "routes": [Req("GET", "/"), Req("GET", "/hello/w%C3%B6rld?n=3"), Req("GET", "/num/21"),
               Req("GET", "/num/x"), Req("GET", "/methods"), Req("PUT", "/methods", body=b"x"),
               Req("DELETE", "/methods"), Req("POST", "/methods", body=b""),
               Req("GET", "/custom"), Req("GET", "/gen"), Req("HEAD", "/gen")],
    "templates": [Req("GET", "/page")],
    "static-file": [Req("GET", "/static/report.bin"), Req("GET", "/static/notes.txt"),
                    Req("GET", "/static/report.bin", [("If-Modified-Since",
                                                      last_header("Last-Modified"))]),
                    Req("GET", "/static/report.bin", [("Range", "bytes=100-199")]),
                    Req("GET", "/static/report.bin", [("Range", "bytes=-10")]),
                    Req("GET", "/static/report.bin", [("Range", "bytes=999999-")]),
                    Req("HEAD", "/static/notes.txt"),
                    Req("GET", "/static/../etc/passwd"),
                    Req("GET", "/static/missing.txt"),
                    Req("GET", "/download/notes.txt")],
    "cookies": [Req("GET", "/cookies"), Req("GET", "/cookies")],
    "uploads": [Req("POST", "/upload", BOTTLE_UP_HEADERS, BOTTLE_UP_BODY)],
    "json": [Req("POST", "/json", JSON, b'{"a": [1, "b"]}'),
             Req("POST", "/json", [("Content-Type", "text/plain")], b'{"a": 1}'),
             Req("POST", "/json", JSON, b'{"a": ')],
    "errors-redirects": [Req("GET", "/redirect"), Req("GET", "/forbidden"), Req("GET", "/boom"),
                         Req("GET", "/missing")],
}


@pytest.mark.parametrize("name", list(BOTTLE))
def test_bottle(bottle_pair, name):
    check_reference(f"bottle/{name}", bottle_pair.check(BOTTLE[name])[0])


# -- raw PEP 3333 ------------------------------------------------------------------------

@pytest.fixture(scope="module", params=list(MODES))
def raw_pair(request, module_server_factory, tmp_path_factory, data_dir):
    pair, g = start_pair(module_server_factory, tmp_path_factory, "pep3333:application",
                         request.param, env={"REALAPP_DATA": str(data_dir)})
    yield pair
    g.stop()


RAW = {
    "write": [Req("GET", "/write"), Req("GET", "/write-then-iter"), Req("GET", "/write-length")],
    "file-wrapper": [Req("GET", "/file-wrapper"), Req("GET", "/file-wrapper-length"),
                     Req("GET", "/file-wrapper-bytesio"),
                     Req("HEAD", "/file-wrapper-length")],
    "close-called": [Req("GET", "/closing?c1"), Req("GET", "/was-closed?c1"),
                     Req("GET", "/generator-close?c2"), Req("GET", "/was-closed?c2"),
                     Req("HEAD", "/closing?c3"), Req("GET", "/was-closed?c3")],
    "exc-after-head": [Req("GET", "/exc-after-head")],
    "exc-info-after-head": [Req("GET", "/exc-info-after-head")],
    "late-start-response": [Req("GET", "/late-start")],
    "unusual-headers": [Req("GET", "/unusual-headers")],
    "large-head": [Req("GET", "/large-head")],
    "gunicorn-habits": [Req("GET", "/hop-connection-close"), Req("GET", "/hop-keep-alive"),
                        Req("GET", "/hop-transfer-encoding"), Req("GET", "/hop-upgrade"),
                        Req("GET", "/headers-tuple"), Req("GET", "/header-items-lists"),
                        Req("GET", "/padded-values")],
    "empty-bodies": [Req("GET", "/empty"), Req("GET", "/empty-length"), Req("GET", "/empty-chunks"),
                     Req("HEAD", "/empty"), Req("GET", "/no-content-type")],
    "204-304": [Req("GET", "/no-content"), Req("GET", "/not-modified"),
                Req("HEAD", "/not-modified"), Req("DELETE", "/no-content")],
    "content-length": [Req("GET", "/length-given"), Req("GET", "/length-not-given"),
                       Req("GET", "/length-not-given-parts"), Req("HEAD", "/length-given"),
                       Req("HEAD", "/length-not-given")],
    "statuses": [Req("GET", "/statuses?" + s) for s in
                 ("299%20Custom%20Reason", "418%20I'm%20a%20teapot", "200%20ok",
                  "451%20Unavailable%20For%20Legal%20Reasons", "599%20Network%20Timeout",
                  "203%20Non-Authoritative%20Information", "400%20Bad%20Request")],
    "big-iterable": [Req("GET", "/big-iter")],
    "request-body": [Req("POST", "/input", [("Content-Type", "application/octet-stream")],
                         big_payload(3 * 1024 * 1024)),
                     Req("POST", "/input-lines", [("Content-Type", "text/plain")],
                         b"one\ntwo\r\nthree"),
                     Req("POST", "/input", [("Content-Length", "0")]),
                     Req("GET", "/input")],
    "environ": [Req("GET", "/environ?a=%20b"), Req("POST", "/environ", FORM, b"x=1"),
                Req("GET", "/environ", version="HTTP/1.0"),
                Req("GET", "/environ", [("X-Forwarded-Proto", "https")])],
    "http10": [Req("GET", "/write", version="HTTP/1.0"),
               Req("GET", "/length-not-given-parts", version="HTTP/1.0"),
               Req("GET", "/file-wrapper-length", version="HTTP/1.0"),
               Req("GET", "/length-given", [("Connection", "keep-alive")], version="HTTP/1.0")],
}


@pytest.mark.parametrize("name", list(RAW))
def test_pep3333(raw_pair, name):
    check_reference(f"raw/{name}", raw_pair.check(RAW[name])[0])


# -- SCRIPT_NAME from the environment (an app mounted under a prefix) --------------------

@pytest.fixture(scope="module")
def prefix_pair(module_server_factory, tmp_path_factory, data_dir):
    pair, g = start_pair(module_server_factory, tmp_path_factory, "flask_site:app", "threads",
                         env={"REALAPP_DATA": str(data_dir), "SCRIPT_NAME": "/prefix"},
                         normalise=flask_normaliser())
    yield pair
    g.stop()


PREFIX = {
    "url-for": [Req("GET", "/prefix/urls"), Req("GET", "/prefix/urls?x=%C3%BC"),
                Req("GET", "/prefix/"), Req("GET", "/prefix")],
    "login-redirects": [Req("GET", "/prefix/private"),
                        Req("POST", "/prefix/login", FORM, form(user="ann", password="secret")),
                        Req("GET", "/prefix/private"), Req("GET", "/prefix/logout")],
    "send-file": [Req("GET", "/prefix/download", [("Range", "bytes=5-9")]),
                  Req("GET", "/prefix/redirect/found")],
    "errors": [Req("GET", "/prefix/nope"), Req("GET", "/prefix/api/items/9")],
}


@pytest.mark.parametrize("name", list(PREFIX))
def test_script_name_prefix(prefix_pair, name):
    ref, _ = prefix_pair.check(PREFIX[name])
    check_reference(f"prefix/{name}", ref)
    if name == "url-for":
        assert json.loads(ref[0].body)["index"] == "/prefix/"
        assert json.loads(ref[0].body)["external"] == "http://app.test/prefix/api/items/7"


@pytest.mark.parametrize("path,theirs", [("/other", 500), ("/prefixed/urls", 404),
                                         ("/a/prefix/urls", 200)])
def test_difference_path_outside_script_name(prefix_pair, path, theirs):
    """gunicorn 20.1 answers a path outside SCRIPT_NAME with a 500 (an
    IndexError), or cuts the prefix out wherever it appears in the path
    (/prefixed/urls gives PATH_INFO 'ed/urls', /a/prefix/urls serves
    /urls); wsgihost answers 404 without calling the app."""
    ref, got = pair_results(prefix_pair, Req("GET", path))
    assert ref.status == theirs, ref
    assert (got.status, got.body) == (404, b"Not Found (outside SCRIPT_NAME)\n")
    assert "is outside SCRIPT_NAME '/prefix': 404" in prefix_pair.wsgihost.log()


# -- what gunicorn answers ---------------------------------------------------------------

# What gunicorn answers each step of each sequence: wsgihost must answer the
# same, and this says the sequence does what its name claims (a login that
# logs in, a 304 that is a 304).
STATUSES = {
    "flask/index": "200",
    "flask/login-flow": "302 200 401 200 302 200 200 302 200 302",
    "flask/remember-me": "302 200",
    "flask/upload-several": "200",
    "flask/upload-large": "200",
    "flask/upload-expect-100": "200",
    "flask/stream-with-context": "200",
    "flask/generator": "200",
    "flask/send-file": "200 200 200",
    "flask/send-file-etag-304": "200 304",
    "flask/send-file-ims-304": "200 304",
    "flask/send-file-ims-old": "200",
    "flask/send-file-range": "206 206 206 206 416 416 416",
    "flask/send-file-if-range": "200 206 200",
    "flask/head": "200 200 200 200 200 404",
    "flask/redirects": "302 301 303 307 308 302",
    "flask/json-api": "200 201 400 400 400 200 200 200 404 204 405 500 418 404 200",
    "flask/cookies": "200 200",
    "flask/urls": "200 200",
    "flask/query": "200 200",
    "flask/request-headers": "200",
    "flask/http10": "200 200 200",
    "exts/login-manager": "302 302 200 302 302 403",
    "exts/remember-cookie": "302 200",
    "exts/wtf-sqlalchemy": "200 200 302 200 200 400 400 200 404",
    "exts/caching": "200 200 200 200 200 200",
    "exts/cors": "200 200 200 200",
    "exts/basicauth": "401 401 200",
    "exts/httpauth": "401 200 401 200 401",
    "exts/compress": "200 200 200",
    "exts/restful": "200 200 404 201 400 400 405",
    "django/admin-login": "302 200 200 302 200 200 200 200 302",
    "django/admin-csrf-refused": "403",
    "django/static-serve": "200 304 200 200 404",
    "django/json": "200 403 200 201 400 405",
    "django/form-post": "200 200",
    "django/streaming": "200 200",
    "django/file-response": "200 200 200 200",
    "django/redirects-errors": "302 301 404 500 400",
    "django/cookies": "200 200",
    "django/http10": "200 200",
    "bottle/routes": "200 200 200 404 200 200 200 405 202 200 200",
    "bottle/templates": "200",
    "bottle/static-file": "200 200 304 206 206 416 200 403 404 200",
    "bottle/cookies": "200 200",
    "bottle/uploads": "200",
    "bottle/json": "200 400 500",
    "bottle/errors-redirects": "303 403 500 404",
    "raw/write": "200 200 200",
    "raw/file-wrapper": "200 200 200 200",
    "raw/close-called": "200 200 200 200 200 200",
    "raw/exc-after-head": "200",
    "raw/exc-info-after-head": "200",
    "raw/late-start-response": "201",
    "raw/unusual-headers": "200",
    "raw/large-head": "200",
    "raw/gunicorn-habits": "200 200 200 200 200 200 200",
    "raw/empty-bodies": "200 200 200 200 200",
    "raw/204-304": "204 304 304 204",
    "raw/content-length": "200 200 200 200 200",
    "raw/statuses": "299 418 200 451 599 203 400",
    "raw/big-iterable": "200",
    "raw/request-body": "200 200 200 200",
    "raw/environ": "200 200 200 200",
    "raw/http10": "200 200 200 200",
    "prefix/url-for": "200 200 200 308",
    "prefix/login-redirects": "302 302 200 302",
    "prefix/send-file": "206 302",
    "prefix/errors": "404 404",
}

# More about gunicorn's answers, where the status alone does not say it.
CHECKS = {
    "flask/login-flow": lambda r: b"user: ann" in r[5].body and b"visits: 2" in r[6].body
    and b"bye" in r[8].body,
    "flask/upload-large": lambda r: json.loads(r[0].body)["files"][0]["size"] == 5 * 1024 * 1024,
    "flask/upload-several": lambda r: len(json.loads(r[0].body)["files"]) == 3
    and json.loads(r[0].body)["form"] == {"tags": ["a", "b"], "title": ["Grüße"]},
    "flask/stream-with-context": lambda r: r[0].body.startswith(b"streaming for ann\n"),
    "flask/cookies": lambda r: json.loads(r[1].body) == {"lax": "v", "plain": "1"},
    "exts/login-manager": lambda r: json.loads(r[2].body)["user"] == "ann",
    "exts/wtf-sqlalchemy": lambda r: json.loads(r[3].body)["title"] == "first",
    "exts/caching": lambda r: [json.loads(x.body).get("computation") for x in r[1:4]] == [1, 1, 2],
    "exts/compress": lambda r: r[0].header("content-encoding") == "gzip"
    and r[1].header("content-encoding") is None,
    "django/admin-login": lambda r: b"Site administration" in r[4].body
    and b"Please enter the correct username" in r[2].body,
    "django/cookies": lambda r: json.loads(r[1].body) == {"dj": "value", "signed": "payload"},
    "bottle/cookies": lambda r: json.loads(r[1].body) == {"plain": "p1",
                                                          "signed": {"user": "ann", "n": 1}},
    "django/streaming": lambda r: r[0].body.count(b"\n") == 500,
    "raw/exc-after-head": lambda r: not r[0].complete and r[0].body == b"first part\n",
    "raw/exc-info-after-head": lambda r: not r[0].complete and r[0].body == b"first part\n",
    "raw/close-called": lambda r: [x.body for x in r[1::2]] == [b"closed\n"] * 3,
    "raw/big-iterable": lambda r: len(r[0].body) == 40 * 65536,
}


def check_reference(key, ref):
    assert [r.status for r in ref] == [int(x) for x in STATUSES[key].split()], \
        f"gunicorn's statuses changed for {key}: the sequence no longer tests what it says"
    if key in CHECKS:
        assert CHECKS[key](ref), f"gunicorn's answers to {key} are not what the sequence means"


# -- pipelined: every request of a sequence in one write ---------------------------------

def check_pipelined(pair, steps):
    """gunicorn answers one request per connection; wsgihost, given the
    whole sequence pipelined on one connection, answers each the same (and
    the connection is still usable after it)."""
    steps = steps + [Req("GET", "/")]
    ref = run_sequence(pair.gunicorn.port, steps, normalise=pair.normalise, cookies=False)
    got = run_pipelined(pair.wsgihost.port, steps, normalise=pair.normalise)
    compare(steps, ref, got, "wsgihost, pipelined")


@pytest.mark.parametrize("name", ["json-api", "send-file-range", "head", "redirects",
                                  "upload-large"])
def test_pipelined_flask(flask_pair, name):
    check_pipelined(flask_pair, FLASK[name])


def test_pipelined_flask_extensions(exts_pair):
    check_pipelined(exts_pair, EXTS["restful"])


@pytest.mark.parametrize("name", ["streaming", "file-response"])
def test_pipelined_django(django_pair, name):
    check_pipelined(django_pair, DJANGO[name])


def test_pipelined_bottle(bottle_pair):
    check_pipelined(bottle_pair, BOTTLE["routes"])


@pytest.mark.parametrize("name", ["write", "file-wrapper", "content-length", "204-304",
                                  "empty-bodies", "statuses", "big-iterable"])
def test_pipelined_pep3333(raw_pair, name):
    check_pipelined(raw_pair, RAW[name])


# -- documented differences (README "Differences from gunicorn") -------------------------

def pair_results(pair, step):
    (ref,) = run_sequence(pair.gunicorn.port, [step], normalise=pair.normalise)
    (got,) = run_sequence(pair.wsgihost.port, [step], normalise=pair.normalise)
    return ref, got


def test_difference_repeated_cookie_fields(flask_pair):
    """Two Cookie fields (an HTTP/2 proxy may split them): gunicorn joins them
    with a comma, so the second cookie is glued into the first one's value;
    wsgihost joins them with '; ' (RFC 6265 5.4) and the app sees both."""
    step = Req("GET", "/cookies", [("Cookie", "a=1"), ("Cookie", "b=2")], cookies=False)
    ref, got = pair_results(flask_pair, step)
    assert ref.status == got.status == 200
    assert json.loads(ref.body) == {"a": "1,b=2"}
    assert json.loads(got.body) == {"a": "1", "b": "2"}


def test_difference_trailing_whitespace_of_a_field_value(flask_pair):
    """RFC 9112 section 5: a field value has no leading or trailing
    whitespace. gunicorn 20.1 keeps the trailing one; wsgihost strips it."""
    step = Req("GET", "/echo-headers", [("X-Pad", "value \t ")], cookies=False)
    ref, got = pair_results(flask_pair, step)
    assert json.loads(ref.body)["X-Pad"] == "value \t "
    assert json.loads(got.body)["X-Pad"] == "value"


def test_difference_file_wrapper_starts_at_the_file_position(raw_pair, data_dir):
    """PEP 3333: a file_wrapper transmission "should begin at the current
    position within the file". gunicorn 20.1's sendfile starts at offset 0
    whatever the app seeked to; wsgihost starts where the file is."""
    ref, got = pair_results(raw_pair, Req("GET", "/file-wrapper-partial"))
    blob = (data_dir / "report.bin").read_bytes()
    assert ref.status == got.status == 200
    assert ref.body == blob[:5000]
    assert got.body == blob[1000:6000]


def test_difference_exc_info_replaces_the_headers(raw_pair):
    """PEP 3333: start_response(..., exc_info) before the head is sent
    replaces the status *and the headers*. gunicorn 20.1 keeps the first
    call's fields beside the second's; wsgihost sends only the second's."""
    ref, got = pair_results(raw_pair, Req("GET", "/exc-before-head"))
    assert ref.status == got.status == 503
    assert ref.body == got.body == b"try again later\n"
    assert ref.header("x-dropped") == "yes"
    assert got.header("x-dropped") is None
    assert got.header("retry-after") == "5" and got.header("content-type") == "text/plain"


def test_difference_chunked_request_has_a_content_length(raw_pair):
    """wsgihost reads a chunked request body whole before the app runs, so
    CONTENT_LENGTH is its decoded length; gunicorn leaves it unset (the app
    reads to the end of wsgi.input either way)."""
    ref, got = pair_results(raw_pair, Req("POST", "/input", [("Transfer-Encoding", "chunked")],
                                          b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"))
    assert ref.body == b"len=11 ctype= clen= after=b''\n"
    assert got.body == b"len=11 ctype= clen=11 after=b''\n"


def test_environ_keys_gunicorn_gives_are_there(raw_pair):
    """Every environ key gunicorn gives a plain GET is in wsgihost's environ
    too, except gunicorn's own socket object."""
    ref, got = pair_results(raw_pair, Req("GET", "/environ-keys"))
    theirs = set(ref.body.decode().split())
    ours = set(got.body.decode().split())
    assert theirs - ours == {"gunicorn.socket"}, (theirs - ours)
    assert ours - theirs <= {"REQUEST_URI", "wsgi.file_wrapper"} | theirs, ours - theirs


def test_difference_script_name_request_header(flask_pair):
    """gunicorn 20.1 takes SCRIPT_NAME from a request header of that name,
    from any client, so a client can move the app's URLs (url_for, redirects)
    where it likes. wsgihost drops header names with '_' (as nginx does by
    default): SCRIPT_NAME comes from the server's environment only."""
    step = Req("GET", "/evil/urls", [("SCRIPT_NAME", "/evil")])
    ref, got = pair_results(flask_pair, step)
    assert ref.status == 200 and json.loads(ref.body)["index"] == "/evil/"
    assert got.status == 404  # /evil/urls is not a route of the app


def test_difference_chunked_request_to_django(django_pair):
    """The consequence of the CONTENT_LENGTH difference for Django: its
    request.body reads CONTENT_LENGTH bytes, so under gunicorn a chunked
    request body is empty (JSON decoding fails: 400); under wsgihost Django
    reads it."""
    steps = [Req("GET", "/form"),
             Req("POST", "/api/echo", JSON + [("X-CSRFToken", csrf_header),
                                              ("Transfer-Encoding", "chunked")],
                 b"8\r\n{\"x\": 1}\r\n0\r\n\r\n")]
    ref = run_sequence(django_pair.gunicorn.port, steps, normalise=django_pair.normalise)
    got = run_sequence(django_pair.wsgihost.port, steps, normalise=django_pair.normalise)
    assert (ref[1].status, ref[1].body) == (400, b"bad json\n")
    assert got[1].status == 201 and json.loads(got[1].body)["got"] == {"x": 1}


def raw_exchange(port, step):
    """The bytes of one response, unparsed (gunicorn's may not parse)."""
    with RawConn(port) as c:
        c.send(step.serialise(Client(port)))
        return c.read_head()


def test_difference_status_without_reason(raw_pair):
    """gunicorn sends the app's '200' as 'HTTP/1.1 200' with no space after
    the code, which RFC 9112's status-line does not allow (and this suite's
    strict client refuses); wsgihost sends the standard phrase
    (--strict-wsgi: a 500)."""
    step = Req("GET", "/no-reason")
    assert raw_exchange(raw_pair.gunicorn.port, step).startswith(b"HTTP/1.1 200\r\n")
    (got,) = run_sequence(raw_pair.wsgihost.port, [step])
    assert got.raw_head.startswith(b"HTTP/1.1 200 OK\r\n") and got.body == b"no reason\n"


def test_difference_the_apps_own_date_and_server(raw_pair):
    """gunicorn replaces an app's Date and Server fields with its own;
    wsgihost sends the app's (and adds neither)."""
    ref = raw_exchange(raw_pair.gunicorn.port, Req("GET", "/date-server"))
    got = raw_exchange(raw_pair.wsgihost.port, Req("GET", "/date-server"))
    assert b"\r\nServer: gunicorn\r\n" in ref and b"myapp" not in ref and b"1970" not in ref
    assert got.count(b"\r\nServer: ") == 1 and b"\r\nServer: myapp/1.0\r\n" in got
    assert got.count(b"\r\nDate: ") == 1 and b"\r\nDate: Thu, 01 Jan 1970 00:00:00 GMT" in got


def read_until_close(port, raw):
    with RawConn(port) as c:
        c.send(raw)
        return c.read_until_close()


def test_difference_body_of_a_204(raw_pair):
    """An app that returns a body with a 204: gunicorn writes it after the
    head, where a keep-alive client would read it as the next response;
    wsgihost drops it."""
    raw = b"GET /no-content-with-body HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n"
    ref = read_until_close(raw_pair.gunicorn.port, raw)
    got = read_until_close(raw_pair.wsgihost.port, raw)
    assert ref.startswith(b"HTTP/1.1 204 ") and ref.endswith(b"\r\n\r\na body a 204 must not have")
    assert got.startswith(b"HTTP/1.1 204 ") and got.endswith(b"\r\n\r\n")
    assert b"X-Why: deleted\r\n" in got


def test_difference_raw_utf8_in_the_request_target(flask_pair):
    """RFC 9112 3.2 / RFC 3986: a request target is ASCII (clients
    percent-encode). gunicorn 20.1 passes raw UTF-8 bytes on; wsgihost's
    strict parser answers 400."""
    step = Req("GET", "/query?q=café")
    ref, got = pair_results(flask_pair, step)
    assert ref.status == 200 and json.loads(ref.body)["args"] == {"q": ["café"]}
    assert got.status == 400


def head_status(port, raw):
    with RawConn(port) as c:
        c.send(raw)
        head = c.read_head()
    return int(head.split(b" ", 2)[1])


REFUSED = {
    # RFC 9110 9.1: methods are case-sensitive, an unknown one is a 501.
    "lower-case method": (b"get /length-given HTTP/1.1\r\nHost: a\r\n\r\n", 501),
    "unregistered method": (b"FOO-BAR /length-given HTTP/1.1\r\nHost: a\r\n\r\n", 501),
    # RFC 9112 3.2: "MUST respond with a 400" without Host, or with two.
    "no Host": (b"GET /length-given HTTP/1.1\r\n\r\n", 400),
    "two Host fields": (b"GET /length-given HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
    # RFC 9112 5.2: a server rejects obs-fold (or replaces it).
    "obs-fold": (b"GET /length-given HTTP/1.1\r\nHost: a\r\nX-F: a\r\n b\r\n\r\n", 400),
    # RFC 9112 3.2: the origin-form target has no fragment.
    "fragment": (b"GET /length-given#top HTTP/1.1\r\nHost: a\r\n\r\n", 400),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_difference_requests_gunicorn_accepts(raw_pair, case):
    """Requests that break RFC 9110/9112 in ways gunicorn 20.1 lets through
    (README "Differences from gunicorn"): wsgihost refuses them, as the RFCs
    say a server must or may."""
    raw, ours = REFUSED[case]
    assert head_status(raw_pair.gunicorn.port, raw) == 200
    assert head_status(raw_pair.wsgihost.port, raw) == ours


def test_difference_field_name_with_underscore(flask_pair):
    """gunicorn 20.1 maps X_Custom to HTTP_X_CUSTOM, the same key as
    X-Custom (so a client can pose as a proxy's X-Forwarded-For with
    X_Forwarded_For); wsgihost drops such fields."""
    ref, got = pair_results(flask_pair, Req("GET", "/echo-headers", [("X_Custom", "v")]))
    assert json.loads(ref.body).get("X-Custom") == "v"
    assert "X-Custom" not in json.loads(got.body)
