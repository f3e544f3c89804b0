"""Static files served in C (csrc/static.c, README "Static files"): --static
PREFIX=DIR in front of the app, Content-Type, ETag / Last-Modified and the
preconditions (304, 412), byte ranges (206, 416), HEAD, precompressed .br /
.gz siblings, Cache-Control, the SPA fallback, the app's own paths, every
escape attempt out of DIR (with openat2 and with the checked openat walk),
TLS, -w 2, the config file and start-up errors."""

import calendar
import email.utils
import hashlib
import os
import re
import socket
import ssl
import time
from pathlib import Path

import pytest

import support
from support import SLOW, RawConn, build_request, fd_count, run_binary, wait_for

SECRET = b"TOP-SECRET-OUTSIDE-THE-STATIC-DIR"
JS = b"console.log('hello from app.js');\n" * 3
JS_BR = b"BROTLI-BYTES-OF-APP-JS"
JS_GZ = b"GZIP-BYTES-OF-APP-JS-LONGER"
INDEX = b"<!doctype html><title>spa</title><div id=app></div>\n"
BIG = hashlib.sha256(b"seed").digest() * (1024 * 1024 // 32 + 7)  # ~1 MiB, sendfile path

ETAG_RE = re.compile(r'^"[0-9a-f]+-[0-9a-f]+(-br|-gz)?"$')


def make_tree(root):
    """dist/ and what lies around it; returns dist."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "secret.txt").write_bytes(SECRET)
    (root / "outside").mkdir()
    (root / "outside" / "x.txt").write_bytes(SECRET)
    d = root / "dist"
    (d / "assets").mkdir(parents=True)
    (d / "docs").mkdir()
    (d / "emptydir").mkdir()
    (d / ".git").mkdir()
    (d / ".well-known").mkdir()
    (d / "index.html").write_bytes(INDEX)
    (d / "api").mkdir()
    (d / "api" / "items").write_bytes(b"A FILE, NOT THE APP")
    (d / "docs" / "index.html").write_bytes(b"docs index\n")
    (d / "assets" / "app-B2xq9ZzD.js").write_bytes(JS)
    (d / "assets" / "app-B2xq9ZzD.js.br").write_bytes(JS_BR)
    (d / "assets" / "app-B2xq9ZzD.js.gz").write_bytes(JS_GZ)
    (d / "assets" / "only-gz.css").write_bytes(b"body{}\n")
    (d / "assets" / "only-gz.css.gz").write_bytes(b"GZ-CSS")
    (d / "assets" / "main.3f2a1b4c.chunk.css").write_bytes(b"a{}\n")
    (d / "assets" / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\nfake")
    (d / "assets" / "logo.png.gz").write_bytes(b"never-chosen")
    (d / "assets" / ".hidden").write_bytes(SECRET)
    (d / "plain.txt").write_bytes(b"plain text\n")
    (d / "data.json").write_bytes(b'{"a": 1}\n')
    (d / "empty.txt").write_bytes(b"")
    (d / "big.bin").write_bytes(BIG)
    (d / "app.webmanifest").write_bytes(b"{}")
    (d / "bundle.js.map").write_bytes(b"{}")
    (d / "mod.wasm").write_bytes(b"\0asm")
    (d / "file.unknownext").write_bytes(b"?")
    (d / "README").write_bytes(b"readme")
    (d / "%2e%2e").write_bytes(b"a file named percent-2e-percent-2e\n")
    (d / "a\\b.txt").write_bytes(SECRET)
    (d / ".env").write_bytes(SECRET)
    (d / ".git" / "config").write_bytes(SECRET)
    (d / ".well-known" / "security.txt").write_bytes(b"Contact: mailto:x@example.com\n")
    (d / "in.js").symlink_to("assets/app-B2xq9ZzD.js")
    (d / "indir").symlink_to("assets")
    (d / "out.txt").symlink_to("../secret.txt")
    (d / "outdir").symlink_to("../outside")
    (d / "abs.html").symlink_to(d / "index.html")  # absolute, even if inside: refused
    (d / "loop1").symlink_to("loop2")
    (d / "loop2").symlink_to("loop1")
    # Relative, climbing out of the tree to a magic link of /proc (to a file).
    (d / "proc").symlink_to("../" * 64 + "proc/self/exe")
    os.mkfifo(d / "fifo")
    return d


@pytest.fixture(scope="module")
def dist(tmp_path_factory):
    return make_tree(tmp_path_factory.mktemp("site"))


def start(factory, dist, *extra, app="static_echo:application", walk=False, **kw):
    env = {"WSGIHOST_STATIC_NO_OPENAT2": "1"} if walk else None
    return factory(app, "--static", f"/={dist}", *extra, env=env, **kw)


@pytest.fixture(scope="module", params=["openat2", "walk"])
def srv(request, module_server_factory, dist):
    s = start(module_server_factory, dist, "--static-fallback", "/=index.html",
              "--static-exclude", "/api", walk=request.param == "walk")
    mode = "checked openat() walk" if request.param == "walk" else "openat2(RESOLVE_BENEATH)"
    assert mode in s.log(), s.log()
    return s


def get(srv, path, headers=(), method="GET"):
    with srv.conn() as c:
        c.send(build_request(method, path, headers, host=f"127.0.0.1:{srv.port}"))
        return c.read_response(method=method)


def from_app(r):
    return r.header("X-App") == "1"


def http_date(t):
    return email.utils.formatdate(t, usegmt=True)


# -- files -----------------------------------------------------------------------

def test_get_file(srv, dist):
    r = get(srv, "/assets/app-B2xq9ZzD.js")
    assert r.status == 200 and r.body == JS and not from_app(r)
    assert r.header("Content-Type") == "text/javascript; charset=utf-8"
    assert r.header("Content-Length") == str(len(JS))
    assert r.header("Accept-Ranges") == "bytes"
    assert ETAG_RE.match(r.header("ETag")), r.header("ETag")
    st = os.stat(dist / "assets" / "app-B2xq9ZzD.js")
    assert r.header("Last-Modified") == http_date(int(st.st_mtime))
    assert support.http_date_ok(r.header("Date"))
    assert r.header("Server") == "wsgihost"
    assert r.header("Vary") == "Accept-Encoding"  # it has siblings
    assert r.header("Content-Encoding") is None


def test_head(srv):
    g = get(srv, "/plain.txt")
    h = get(srv, "/plain.txt", method="HEAD")
    assert h.status == 200 and h.body == b""
    for name in ("Content-Type", "Content-Length", "ETag", "Last-Modified", "Cache-Control",
                 "Accept-Ranges"):
        assert h.header(name) == g.header(name), name
    # An empty file says so, on GET and HEAD.
    assert get(srv, "/empty.txt").header("Content-Length") == "0"
    assert get(srv, "/empty.txt", method="HEAD").header("Content-Length") == "0"
    # HEAD of the big file: no body on the wire, the connection stays usable.
    with srv.conn() as c:
        c.send(build_request("HEAD", "/big.bin", host="x") + build_request("GET", "/plain.txt",
                                                                            host="x"))
        h = c.read_response(method="HEAD")
        assert h.status == 200 and h.header("Content-Length") == str(len(BIG))
        assert c.read_response().body == b"plain text\n"


def test_big_file_and_keep_alive(srv):
    with srv.conn() as c:
        for _ in range(3):
            c.send(build_request("GET", "/big.bin", host="x"))
            r = c.read_response()
            assert r.status == 200 and r.body == BIG
            assert r.header("Content-Type") == "application/octet-stream"


def test_pipelined(srv):
    paths = ["/plain.txt", "/big.bin", "/data.json", "/nowhere", "/big.bin", "/"]
    with srv.conn() as c:
        c.send(b"".join(build_request("GET", p, host="x") for p in paths))
        bodies = [c.read_response().body for _ in paths]
    assert bodies == [b"plain text\n", BIG, b'{"a": 1}\n', b"app GET /nowhere", BIG, INDEX]


@pytest.mark.parametrize("name,ctype", [
    ("/index.html", "text/html; charset=utf-8"),
    ("/plain.txt", "text/plain; charset=utf-8"),
    ("/data.json", "application/json; charset=utf-8"),
    ("/assets/main.3f2a1b4c.chunk.css", "text/css; charset=utf-8"),
    ("/assets/logo.png", "image/png"),
    ("/bundle.js.map", "application/json; charset=utf-8"),
    ("/mod.wasm", "application/wasm"),
    ("/app.webmanifest", "application/manifest+json; charset=utf-8"),
    ("/file.unknownext", "application/octet-stream"),
    ("/README", "application/octet-stream"),
])
def test_content_types(srv, name, ctype):
    r = get(srv, name)
    assert r.status == 200 and r.header("Content-Type") == ctype


def test_mime_types_file_is_read(server_factory, tmp_path):
    """A type only /etc/mime.types knows (the built-in table has no .epub)."""
    types = Path("/etc/mime.types")
    if not types.exists() or not re.search(r"(?m)^application/epub\+zip\s.*\bepub\b",
                                           types.read_text(errors="replace")):
        pytest.skip("/etc/mime.types has no epub line (package media-types)")
    d = tmp_path / "d"
    d.mkdir()
    (d / "book.epub").write_bytes(b"PK")
    s = start(server_factory, d)
    assert get(s, "/book.epub").header("Content-Type") == "application/epub+zip"


def test_index_and_redirect(srv):
    r = get(srv, "/")
    assert r.status == 200 and r.body == INDEX and r.header("Content-Type").startswith("text/html")
    r = get(srv, "/docs/")
    assert r.status == 200 and r.body == b"docs index\n"
    r = get(srv, "/docs?x=1")
    assert r.status == 301 and r.header("Location") == "/docs/?x=1"
    r = get(srv, "/docs", method="HEAD")
    assert r.status == 301 and r.header("Location") == "/docs/"
    # No listing: a directory without index.html is not ours.
    for p in ("/emptydir/", "/assets/", "/emptydir"):
        r = get(srv, p)
        assert r.status == 200 and from_app(r), p
    # "file/" names no file.
    assert from_app(get(srv, "/plain.txt/"))


# -- preconditions -----------------------------------------------------------------

def test_if_none_match(srv):
    r = get(srv, "/plain.txt")
    etag, lm, cc = r.header("ETag"), r.header("Last-Modified"), r.header("Cache-Control")
    for value in (etag, "W/" + etag, f'"nope", {etag}', "*", f' "x" ,W/{etag} '):
        n = get(srv, "/plain.txt", [("If-None-Match", value)])
        assert n.status == 304 and n.body == b"", value
        assert n.header("ETag") == etag and n.header("Last-Modified") == lm
        assert n.header("Cache-Control") == cc
        assert n.header("Content-Length") is None and n.header("Content-Type") is None
    assert get(srv, "/plain.txt", [("If-None-Match", '"other"')]).status == 200
    # Two fields are one list.
    r2 = get(srv, "/plain.txt", [("If-None-Match", '"a"'), ("If-None-Match", etag)])
    assert r2.status == 304
    # HEAD too.
    assert get(srv, "/plain.txt", [("If-None-Match", etag)], method="HEAD").status == 304
    # A malformed list is ignored (the full response, never a wrong 304).
    assert get(srv, "/plain.txt", [("If-None-Match", "unquoted")]).status == 200


def test_if_modified_since(srv, dist):
    mtime = int(os.stat(dist / "plain.txt").st_mtime)
    for value in (http_date(mtime), http_date(mtime + 3600),
                  time.strftime("%A, %d-%b-%y %H:%M:%S GMT", time.gmtime(mtime)),
                  time.strftime("%a %b %e %H:%M:%S %Y", time.gmtime(mtime))):
        assert get(srv, "/plain.txt", [("If-Modified-Since", value)]).status == 304, value
    assert get(srv, "/plain.txt", [("If-Modified-Since", http_date(mtime - 1))]).status == 200
    assert get(srv, "/plain.txt", [("If-Modified-Since", "yesterday")]).status == 200
    # If-None-Match takes precedence (RFC 9110 13.2.2): a tag that does not
    # match gives 200 even though the date says unmodified.
    r = get(srv, "/plain.txt", [("If-None-Match", '"other"'),
                                ("If-Modified-Since", http_date(mtime + 3600))])
    assert r.status == 200 and r.body == b"plain text\n"


def test_if_match_and_unmodified_since(srv, dist):
    etag = get(srv, "/plain.txt").header("ETag")
    mtime = int(os.stat(dist / "plain.txt").st_mtime)
    assert get(srv, "/plain.txt", [("If-Match", etag)]).status == 200
    assert get(srv, "/plain.txt", [("If-Match", "*")]).status == 200
    assert get(srv, "/plain.txt", [("If-Match", '"other"')]).status == 412
    assert get(srv, "/plain.txt", [("If-Match", "W/" + etag)]).status == 412  # strong only
    assert get(srv, "/plain.txt", [("If-Unmodified-Since", http_date(mtime - 10))]).status == 412
    assert get(srv, "/plain.txt", [("If-Unmodified-Since", http_date(mtime))]).status == 200


# -- ranges ------------------------------------------------------------------------

def test_ranges(srv):
    n = len(BIG)
    cases = [("bytes=0-9", 0, 9), ("bytes=-10", n - 10, n - 1), ("bytes=1000000-", 1000000, n - 1),
             ("bytes=5-5", 5, 5), ("bytes=100-99999999999", 100, n - 1),
             ("bytes=-99999999", 0, n - 1), ("bytes=524288-600000", 524288, 600000)]
    for spec, a, b in cases:
        r = get(srv, "/big.bin", [("Range", spec)])
        assert r.status == 206, spec
        assert r.header("Content-Range") == f"bytes {a}-{b}/{n}", spec
        assert r.header("Content-Length") == str(b - a + 1)
        assert r.body == BIG[a:b + 1], spec
        assert r.header("ETag") and r.header("Accept-Ranges") == "bytes"
    r = get(srv, "/plain.txt", [("Range", "bytes=2-4")])
    assert r.status == 206 and r.body == b"ain"


def test_ranges_ignored_or_unsatisfiable(srv):
    n = len(BIG)
    for spec in ("bytes=5-2", "bytes=0-1,4-5", "items=0-1", "bytes=x-y", "bytes="):
        r = get(srv, "/big.bin", [("Range", spec)])
        assert r.status == 200 and r.body == BIG and r.header("Content-Range") is None, spec
    for spec in (f"bytes={n}-", "bytes=99999999-", "bytes=-0"):
        r = get(srv, "/big.bin", [("Range", spec)])
        assert r.status == 416, spec
        assert r.header("Content-Range") == f"bytes */{n}"
    # The empty file: Range is ignored (no byte can be named).
    r = get(srv, "/empty.txt", [("Range", "bytes=0-")])
    assert r.status == 200 and r.body == b""
    # HEAD ignores Range (defined for GET only).
    r = get(srv, "/big.bin", [("Range", "bytes=0-9")], method="HEAD")
    assert r.status == 200 and r.header("Content-Length") == str(n)
    # The connection stays usable after a 416.
    with srv.conn() as c:
        c.send(build_request("GET", "/plain.txt", [("Range", "bytes=100-")], host="x") +
               build_request("GET", "/plain.txt", host="x"))
        assert c.read_response().status == 416
        assert c.read_response().body == b"plain text\n"


def test_if_range(srv, dist):
    r = get(srv, "/big.bin")
    etag, lm = r.header("ETag"), r.header("Last-Modified")
    ok = get(srv, "/big.bin", [("Range", "bytes=0-3"), ("If-Range", etag)])
    assert ok.status == 206 and ok.body == BIG[:4]
    ok = get(srv, "/big.bin", [("Range", "bytes=0-3"), ("If-Range", lm)])
    assert ok.status == 206
    for stale in ('"stale"', "W/" + etag, http_date(int(os.stat(dist / "big.bin").st_mtime) - 5)):
        r = get(srv, "/big.bin", [("Range", "bytes=0-3"), ("If-Range", stale)])
        assert r.status == 200 and r.body == BIG, stale


# -- precompressed siblings ----------------------------------------------------------

@pytest.mark.parametrize("ae,body,enc", [
    ("br, gzip", JS_BR, "br"),
    ("gzip, deflate, br", JS_BR, "br"),  # equal q: br (smaller)
    ("gzip", JS_GZ, "gzip"),
    ("br;q=0, gzip", JS_GZ, "gzip"),
    ("gzip;q=0.5, br;q=0.4", JS_GZ, "gzip"),
    ("*", JS_BR, "br"),
    ("*;q=0.3, br;q=0", JS_GZ, "gzip"),
    ("*;q=0", JS, None),
    ("br;q=0, gzip;q=0", JS, None),
    ("identity", JS, None),
    ("identity;q=1, br;q=0.5", JS, None),  # identity named and preferred
    ("deflate", JS, None),
    (None, JS, None),
])
def test_precompressed_choice(srv, ae, body, enc):
    headers = [("Accept-Encoding", ae)] if ae is not None else []
    r = get(srv, "/assets/app-B2xq9ZzD.js", headers)
    assert r.status == 200 and r.body == body
    assert r.header("Content-Encoding") == enc
    assert r.header("Vary") == "Accept-Encoding"
    assert r.header("Content-Type") == "text/javascript; charset=utf-8"
    assert r.header("Content-Length") == str(len(body))
    assert r.header("ETag").endswith({"br": '-br"', "gzip": '-gz"', None: '"'}[enc])


def test_precompressed_etags_and_conditionals(srv):
    tags = {get(srv, "/assets/app-B2xq9ZzD.js", [("Accept-Encoding", ae)]).header("ETag")
            for ae in ("br", "gzip", "identity")}
    assert len(tags) == 3, tags
    br = get(srv, "/assets/app-B2xq9ZzD.js", [("Accept-Encoding", "br")])
    r = get(srv, "/assets/app-B2xq9ZzD.js", [("Accept-Encoding", "br"),
                                            ("If-None-Match", br.header("ETag"))])
    assert r.status == 304 and r.header("Vary") == "Accept-Encoding"
    # The br tag does not validate the gzip representation.
    r = get(srv, "/assets/app-B2xq9ZzD.js", [("Accept-Encoding", "gzip"),
                                            ("If-None-Match", br.header("ETag"))])
    assert r.status == 200 and r.body == JS_GZ
    # A range of the encoded representation.
    r = get(srv, "/assets/app-B2xq9ZzD.js", [("Accept-Encoding", "br"), ("Range", "bytes=0-5")])
    assert r.status == 206 and r.body == JS_BR[:6] and r.header("Content-Encoding") == "br"


def test_precompressed_only_some(srv):
    r = get(srv, "/assets/only-gz.css", [("Accept-Encoding", "br")])
    assert r.body == b"body{}\n" and r.header("Vary") == "Accept-Encoding"
    r = get(srv, "/assets/only-gz.css", [("Accept-Encoding", "br, gzip")])
    assert r.body == b"GZ-CSS" and r.header("Content-Encoding") == "gzip"
    # No sibling: no Vary.
    assert get(srv, "/plain.txt", [("Accept-Encoding", "gzip")]).header("Vary") is None
    # Already-compressed types are never swapped for a sibling.
    r = get(srv, "/assets/logo.png", [("Accept-Encoding", "gzip")])
    assert r.body.startswith(b"\x89PNG") and r.header("Content-Encoding") is None
    assert r.header("Vary") is None
    # The sibling itself is a file like any other.
    r = get(srv, "/assets/app-B2xq9ZzD.js.gz")
    assert r.body == JS_GZ and r.header("Content-Encoding") is None


def test_siblings_that_come_and_go(server_factory, tmp_path):
    """Siblings are remembered for a second per file (while the file itself
    is unchanged): one added shows within that second, one removed is never
    served, a new build of the file is seen at once."""
    d = tmp_path / "d"
    d.mkdir()
    (d / "a.js").write_bytes(b"plain")
    s = start(server_factory, d)
    br = [("Accept-Encoding", "br, gzip")]
    r = get(s, "/a.js", br)
    assert r.body == b"plain" and r.header("Vary") is None
    (d / "a.js.br").write_bytes(b"BR")
    wait_for(lambda: get(s, "/a.js", br).body == b"BR", 3 * SLOW, what="the new .br")
    (d / "a.js.gz").write_bytes(b"GZ")
    (d / "a.js.br").unlink()
    r = get(s, "/a.js", br)  # the .br is remembered, but gone: the next best
    assert r.body in (b"GZ", b"plain") and r.header("Vary") == "Accept-Encoding"
    assert r.header("Content-Encoding") == {b"GZ": "gzip", b"plain": None}[r.body]
    wait_for(lambda: get(s, "/a.js", br).body == b"GZ", 3 * SLOW, what="the .gz")
    # A new build (a new file) drops what was remembered at once.
    (d / "a.js.gz").unlink()
    (d / "new.js").write_bytes(b"plain two")
    os.replace(d / "new.js", d / "a.js")
    r = get(s, "/a.js", br)
    assert r.body == b"plain two" and r.header("Vary") is None


# -- cache control -------------------------------------------------------------------

IMMUTABLE = "public, max-age=31536000, immutable"


def test_cache_control_default(srv):
    assert get(srv, "/plain.txt").header("Cache-Control") == "no-cache"
    assert get(srv, "/").header("Cache-Control") == "no-cache"
    assert get(srv, "/assets/app-B2xq9ZzD.js").header("Cache-Control") == IMMUTABLE
    assert get(srv, "/assets/main.3f2a1b4c.chunk.css").header("Cache-Control") == IMMUTABLE


@pytest.mark.parametrize("name,hashed", [
    ("index-B2xq9ZzD.js", True),        # Vite / Rollup
    ("vendor-Dk3n2l_m.js", True),
    ("main.3f2a1b4c.js", True),         # webpack / CRA
    ("787.a1b2c3d4.chunk.js", True),
    ("main.1a2b3c4d5e6f7a8b.js", True),  # Angular
    ("app.3f2a1b4c.js.map", True),
    ("index-DiwrgTda.css", False),      # no digit: missed on purpose (safe side)
    ("jquery-3.6.0.min.js", False),
    ("Roboto-BoldItalic.ttf", False),
    ("report-2024final.pdf", False),
    ("20240101.txt", False),
    ("a1b2c3d4e5.js", False),           # the stem is not looked at
    ("favicon.ico", False),
    ("index.html", False),
])
def test_hashed_names(server_factory, tmp_path, name, hashed):
    d = tmp_path / "d"
    d.mkdir()
    (d / name).write_bytes(b"x")
    s = start(server_factory, d)
    assert get(s, "/" + name).header("Cache-Control") == (IMMUTABLE if hashed else "no-cache")


def test_cache_control_options(server_factory, dist):
    s = start(server_factory, dist, "--static-cache-control", "public, max-age=60",
              "--static-immutable", "/docs")
    assert get(s, "/plain.txt").header("Cache-Control") == "public, max-age=60"
    assert get(s, "/docs/").header("Cache-Control") == IMMUTABLE
    # A list replaces the default: auto is off now.
    assert get(s, "/assets/app-B2xq9ZzD.js").header("Cache-Control") == "public, max-age=60"
    s2 = start(server_factory, dist, "--static-cache-control", "off", "--static-immutable", "off")
    r = get(s2, "/assets/app-B2xq9ZzD.js")
    assert r.status == 200 and r.header("Cache-Control") is None
    s3 = start(server_factory, dist, "--static-immutable", "auto", "--static-immutable", "/docs")
    assert get(s3, "/assets/app-B2xq9ZzD.js").header("Cache-Control") == IMMUTABLE
    assert get(s3, "/docs/").header("Cache-Control") == IMMUTABLE


# -- SPA fallback and the app's paths --------------------------------------------------

BROWSER = ("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")


def test_fallback(srv):
    for p in ("/about", "/users/42/edit", "/about/"):
        r = get(srv, p, [BROWSER])
        assert r.status == 200 and r.body == INDEX and not from_app(r), p
        assert r.header("Cache-Control") == "no-cache"  # never immutable
    r = get(srv, "/about", [BROWSER], method="HEAD")
    assert r.status == 200 and r.header("Content-Length") == str(len(INDEX))
    # What a browser's route is not: other Accept values, a file extension,
    # another method, the excluded /api, hidden names.
    for p, h, m in [("/about", [], "GET"), ("/about", [("Accept", "*/*")], "GET"),
                    ("/about", [("Accept", "application/json, text/plain, */*")], "GET"),
                    ("/about", [("Accept", "text/html;q=0")], "GET"),
                    ("/missing.js", [BROWSER], "GET"), ("/about", [BROWSER], "POST"),
                    ("/api/items", [BROWSER], "GET"), ("/api", [BROWSER], "GET")]:
        r = get(srv, p, h, method=m)
        assert r.status == 200 and from_app(r) and r.body == f"app {m} {p}".encode(), (p, h, m)
    assert get(srv, "/.secret-route", [BROWSER]).status == 404


def test_app_paths_and_methods(srv):
    r = get(srv, "/api/items")
    assert from_app(r) and r.body == b"app GET /api/items"
    # A file that exists under /api is still the app's.
    for m in ("POST", "PUT", "DELETE", "OPTIONS"):
        r = get(srv, "/index.html", method=m)
        assert r.status == 405 and r.header("Allow") == "GET, HEAD", m
        r = get(srv, "/docs/", method=m)
        assert r.status == 405, m
        r = get(srv, "/login", method=m)
        assert from_app(r) and r.body == f"app {m} /login".encode()
    # A request body on a static 405 is read and the connection goes on.
    with srv.conn() as c:
        c.send(build_request("POST", "/index.html", body=b"x" * 5000, host="x") +
               build_request("GET", "/plain.txt", host="x"))
        assert c.read_response().status == 405
        assert c.read_response().body == b"plain text\n"


def test_flask_spa_layout(server_factory, tmp_path):
    """The README's layout: Vue/React build at /, Flask at /api."""
    d = tmp_path / "dist"
    (d / "assets").mkdir(parents=True)
    (d / "index.html").write_bytes(INDEX)
    (d / "assets" / "index-B2xq9ZzD.js").write_bytes(JS)
    s = server_factory("pyapp:app", "--static", f"/={d}", "--static-fallback", "/=index.html",
                       "--static-exclude", "/api", pythonpath=False)
    r = get(s, "/api/items")
    assert r.status == 200 and r.header("Content-Type").startswith("application/json")
    assert get(s, "/").body == INDEX
    assert get(s, "/settings/profile", [BROWSER]).body == INDEX
    assert get(s, "/assets/index-B2xq9ZzD.js").body == JS
    # fetch('/settings/profile') without text/html: Flask's own 404.
    r = get(s, "/settings/profile", [("Accept", "*/*")])
    assert r.status == 404 and b"Not Found" in r.body


def test_longest_prefix(server_factory, tmp_path, dist):
    other = tmp_path / "other"
    (other / "deep").mkdir(parents=True)
    (other / "plain.txt").write_bytes(b"other plain\n")
    (other / "deep" / "x.txt").write_bytes(b"deep x\n")
    s = start(server_factory, dist, "--static", f"/o={other}", "--static-exclude", "/o/deep",
              "--static", "/o/deep/er=" + str(other))
    assert get(s, "/plain.txt").body == b"plain text\n"
    assert get(s, "/o/plain.txt").body == b"other plain\n"
    assert get(s, "/o").status == 200 and from_app(get(s, "/o"))  # no index.html in other
    assert from_app(get(s, "/o/deep/x.txt"))             # the exclusion is longer
    assert get(s, "/o/deep/er/plain.txt").body == b"other plain\n"  # the mount is longer again
    assert from_app(get(s, "/oplain.txt"))                # /o covers /o/..., not /oplain.txt


# -- escapes ---------------------------------------------------------------------------

ESCAPES = [
    "/../secret.txt", "/%2e%2e/secret.txt", "/%2E%2E/secret.txt", "/.%2e/secret.txt",
    "/assets/../../secret.txt", "/assets/%2e%2e/%2e%2e/secret.txt", "/%2e%2e%2fsecret.txt",
    "/..%2fsecret.txt", "/assets%2fapp-B2xq9ZzD.js", "/assets%2F..%2F..%2Fsecret.txt",
    "/index.html%00.js", "/%00", "/assets\\app-B2xq9ZzD.js", "/a%5cb.txt", "/a%5Cb.txt",
    "/out.txt", "/outdir/x.txt", "/abs.html", "/loop1", "/proc", "/.env", "/%2eenv",
    "/.git/config", "/assets/.hidden", "/./index.html", "/%2e/index.html", "/docs/.",
    "/docs/..", "/fifo",
]


@pytest.mark.parametrize("path", ESCAPES)
def test_escape_attempts(srv, path):
    r = get(srv, path)
    assert r.status == 404, (path, r)
    assert SECRET not in r.body and not from_app(r)


def test_symlinks_inside_are_followed(srv):
    assert get(srv, "/in.js").body == JS
    assert get(srv, "/indir/app-B2xq9ZzD.js").body == JS
    assert get(srv, "/.well-known/security.txt").status == 200


def test_paths_the_app_keeps(srv):
    # An absolute-looking double slash names dist/etc/passwd: not there, so
    # the app's; a broken escape is not a path of ours either.
    for p in ("//etc/passwd", "/%zz", "/%4"):
        r = get(srv, p)
        assert from_app(r) and SECRET not in r.body and b"root:" not in r.body, p
    # Decoded once: %252e%252e is the file named "%2e%2e".
    r = get(srv, "/%252e%252e")
    assert r.status == 200 and r.body == b"a file named percent-2e-percent-2e\n"


def test_no_descriptor_leak(srv):
    before = fd_count(srv.pid)
    for path, h in [("/assets/app-B2xq9ZzD.js", [("Accept-Encoding", "br, gzip")]),
                    ("/assets/app-B2xq9ZzD.js", []), ("/plain.txt", [("If-None-Match", "*")]),
                    ("/big.bin", [("Range", "bytes=99999999-")]), ("/big.bin", []),
                    ("/out.txt", []), ("/fifo", []), ("/about", [BROWSER]), ("/docs", []),
                    ("/plain.txt", [("If-Match", '"x"')])] * 5:
        get(srv, path, h)
        get(srv, path, h, method="HEAD")
    wait_for(lambda: fd_count(srv.pid) <= before, 5 * SLOW, what="descriptors back to baseline")


# -- files that change -------------------------------------------------------------------

def test_file_changes_are_seen(server_factory, tmp_path):
    d = tmp_path / "d"
    d.mkdir()
    (d / "f.txt").write_bytes(b"one")
    s = start(server_factory, d)
    r1 = get(s, "/f.txt")
    (d / "f.txt").write_bytes(b"two!")
    r2 = get(s, "/f.txt")
    assert (r1.body, r2.body) == (b"one", b"two!") and r1.header("ETag") != r2.header("ETag")
    assert get(s, "/f.txt", [("If-None-Match", r1.header("ETag"))]).status == 200


def test_deploy_by_rename_and_symlink_swap(server_factory, tmp_path):
    """DIR is held open, but a new build renamed (or symlinked) into its
    place is served within a second or so."""
    live = tmp_path / "live"
    rel1 = tmp_path / "rel1"
    rel2 = tmp_path / "rel2"
    for rel, text in ((rel1, b"release 1"), (rel2, b"release 2")):
        rel.mkdir()
        (rel / "v.txt").write_bytes(text)
    live.symlink_to(rel1)
    s = start(server_factory, live)
    assert get(s, "/v.txt").body == b"release 1"
    tmp_link = tmp_path / "live.new"
    tmp_link.symlink_to(rel2)
    os.replace(tmp_link, live)  # the atomic swap deploy tools do
    wait_for(lambda: get(s, "/v.txt").body == b"release 2", 5 * SLOW, what="the new release")
    # By rename: the old directory moves away, a new one takes its name.
    d = tmp_path / "dist"
    d.mkdir()
    (d / "v.txt").write_bytes(b"build A")
    s2 = start(server_factory, d)
    assert get(s2, "/v.txt").body == b"build A"
    new = tmp_path / "dist.new"
    new.mkdir()
    (new / "v.txt").write_bytes(b"build B")
    os.rename(d, tmp_path / "dist.old")
    os.rename(new, d)
    wait_for(lambda: get(s2, "/v.txt").body == b"build B", 5 * SLOW, what="the new build")
    assert "names another directory now" in s2.log()


def test_file_shrinking_while_sent(server_factory, tmp_path):
    """A file truncated while a slow client reads it: the connection ends
    (short body), nothing hangs, the next client is served."""
    d = tmp_path / "d"
    d.mkdir()
    size = 8 * 1024 * 1024
    (d / "grow.bin").write_bytes(b"z" * size)
    s = start(server_factory, d)
    c = RawConn(s.port, rcvbuf=4096, timeout=10 * SLOW)
    try:
        c.send(build_request("GET", "/grow.bin", host="x"))
        head = c.read_head()
        assert b"200 OK" in head and f"Content-Length: {size}".encode() in head
        os.truncate(d / "grow.bin", 1000)
        data = c.read_until_close(timeout=10 * SLOW)
        assert len(c.buf) + len(data) < size
    finally:
        c.close()
    assert get(s, "/grow.bin").body == b"z" * 1000


# -- logs, TLS, workers ------------------------------------------------------------------

def test_access_log(server_factory, dist, tmp_path):
    log = tmp_path / "access.log"
    s = start(server_factory, dist, "--access-logfile", str(log),
              "--access-logformat", "%(m)s %(U)s %(s)s %(B)s")
    etag = get(s, "/plain.txt").header("ETag")
    get(s, "/plain.txt", [("If-None-Match", etag)])
    get(s, "/.env")
    get(s, "/plain.txt", method="HEAD")
    get(s, "/nowhere")
    get(s, "/big.bin", [("Range", "bytes=0-99")])
    want = ["GET /plain.txt 200 11", "GET /plain.txt 304 0", "GET /.env 404 10",
            "HEAD /plain.txt 200 0", "GET /nowhere 200 16", "GET /big.bin 206 100"]
    wait_for(lambda: log.exists() and log.read_text().splitlines() == want, 5 * SLOW,
             what=f"access log lines {want}")


def test_max_requests_counts_static(server_factory, dist):
    s = start(server_factory, dist, "-w", "1", "--max-requests", "3")
    wait_for(lambda: "Worker ready" in s.log(), 10 * SLOW, what="worker ready")
    for _ in range(3):
        assert get(s, "/plain.txt").status == 200
    wait_for(lambda: "Autorestarting worker after 3 requests" in s.log(), 10 * SLOW,
             what="the recycle after 3 static requests")


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    from test_tls import Certs
    return Certs(tmp_path_factory.mktemp("static-certs"))


def test_tls(server_factory, dist, certs):
    from test_tls import tls_conn
    s = start(server_factory, dist, *certs.server_args())
    ctx = certs.client_ctx()
    with tls_conn(s.port, ctx) as c:
        for path, headers, body in [("/plain.txt", [], b"plain text\n"), ("/big.bin", [], BIG),
                                    ("/big.bin", [("Range", "bytes=1000-300000")],
                                     BIG[1000:300001]),
                                    ("/assets/app-B2xq9ZzD.js", [("Accept-Encoding", "br")],
                                     JS_BR),
                                    ("/nowhere", [], b"app GET /nowhere")]:
            c.send(build_request("GET", path, headers, host="x"))
            r = c.read_response()
            assert r.body == body, path
        # Pipelined, big files between small ones.
        c.send(b"".join(build_request("GET", p, host="x")
                        for p in ("/big.bin", "/plain.txt", "/big.bin")))
        assert [c.read_response().body for _ in range(3)] == [BIG, b"plain text\n", BIG]


def test_prefork(server_factory, dist, tmp_path):
    log = tmp_path / "access.log"
    s = start(server_factory, dist, "-w", "2", "--access-logfile", str(log),
              "--access-logformat", "%(p)s %(s)s %(U)s")
    wait_for(lambda: s.log().count("Worker ready") >= 2, 10 * SLOW, what="two workers")
    conns = [s.conn() for _ in range(16)]
    try:
        for round_ in range(4):
            for c in conns:
                c.send(build_request("GET", "/big.bin" if round_ == 1 else "/plain.txt",
                                     host="x"))
            for c in conns:
                r = c.read_response()
                assert r.status == 200 and r.body in (BIG, b"plain text\n")
    finally:
        for c in conns:
            c.close()
    wait_for(lambda: log.exists() and len(log.read_text().splitlines()) == 64, 5 * SLOW,
             what="64 access log lines")
    pids = {line.split()[0] for line in log.read_text().splitlines()}
    assert len(pids) == 2, pids


def test_hup_reopens_the_static_map(server_factory, tmp_path):
    """HUP re-reads the config file: a new static_map is served by the new
    workers; a broken one is refused and the running ones keep serving."""
    import signal
    a, b = tmp_path / "a", tmp_path / "b"
    for d, text in ((a, b"from a"), (b, b"from b")):
        d.mkdir()
        (d / "v.txt").write_bytes(text)
    conf = tmp_path / "c.py"
    conf.write_text(f"static_map = {{'/': {str(a)!r}}}\nworkers = 2\n")
    s = server_factory("static_echo:application", "-c", str(conf))
    assert get(s, "/v.txt").body == b"from a"
    conf.write_text(f"static_map = {{'/': {str(b)!r}}}\nworkers = 2\n")
    s.send_signal(signal.SIGHUP)
    wait_for(lambda: get(s, "/v.txt").body == b"from b", 10 * SLOW, what="the new static_map")
    conf.write_text(f"static_map = {{'/': {str(tmp_path / 'gone')!r}}}\nworkers = 2\n")
    s.send_signal(signal.SIGHUP)
    wait_for(lambda: "reload: --static /=" in s.log(), 10 * SLOW, what="the refused reload")
    assert all(get(s, "/v.txt").body == b"from b" for _ in range(5))


# -- configuration ---------------------------------------------------------------------

def test_config_file(server_factory, dist, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    (other / "o.txt").write_bytes(b"o")
    for i, value in enumerate([f"{{'/': {str(dist)!r}, '/o': {str(other)!r}}}",
                               f"[('/', {str(dist)!r}), ('/o', {str(other)!r})]",
                               f"['/={dist}', '/o={other}']"]):
        conf = tmp_path / f"c{i}.py"
        conf.write_text(f"static_map = {value}\n"
                        "static_fallback = {'/': 'index.html'}\n"
                        "static_exclude = ['/api']\n"
                        "static_cache_control = 'public, max-age=5'\n"
                        "static_immutable = ['/o']\n")
        s = server_factory("static_echo:application", "-c", str(conf))
        assert get(s, "/plain.txt").header("Cache-Control") == "public, max-age=5"
        assert get(s, "/o/o.txt").header("Cache-Control") == IMMUTABLE
        assert get(s, "/route", [BROWSER]).body == INDEX
        assert from_app(get(s, "/api/route", [BROWSER]))
        s.stop()
    conf = tmp_path / "p.py"
    conf.write_text(f"static_map = {{'/assets': {str(dist)!r}}}\n")
    r = run_binary(["-c", str(conf), "--print-config", "x:app"])
    assert r.returncode == 0, r.stderr
    assert f"static_map = [('/assets', '{dist}')]" in r.stdout
    assert "static_cache_control = no-cache" in r.stdout
    assert "static_immutable = ['auto']" in r.stdout
    # The command line replaces the file's list.
    r = run_binary(["-c", str(conf), "--static", f"/x={dist}", "--print-config", "x:app"])
    assert f"static_map = [('/x', '{dist}')]" in r.stdout, r.stdout
    # $WSGIHOST_CMD_ARGS carries them like any option.
    env = {k: v for k, v in os.environ.items() if k not in support.SERVER_ENV_VARS}
    env["WSGIHOST_CMD_ARGS"] = f"--static /e={dist} --static-exclude /e/api"
    r = run_binary(["--print-config", "x:app"], env=env)
    assert f"static_map = [('/e', '{dist}')]" in r.stdout and "static_exclude = ['/e/api']" \
        in r.stdout, r.stdout + r.stderr
    conf.write_text("static_map = 5\n")
    r = run_binary(["-c", str(conf), "x:app"])
    assert r.returncode != 0 and "static_map = 5: expected a dict" in r.stderr
    conf.write_text("static_map = [('/',)]\n")
    r = run_binary(["-c", str(conf), "x:app"])
    assert r.returncode != 0 and "is not a (PREFIX, PATH) pair" in r.stderr


def test_startup_errors(tmp_path, dist):
    f = tmp_path / "file"
    f.write_text("x")
    cases = [
        (["--static", f"/={tmp_path / 'missing'}"], "No such file or directory"),
        (["--static", f"/={f}"], "not a directory"),
        (["--static", f"assets={dist}"], "must start with '/'"),
        (["--static", f"/a/../b={dist}"], "'..' segment"),
        (["--static", f"/a%20b={dist}"], "not allowed in a URL prefix"),
        (["--static", "/"], "expected URL_PREFIX=DIR"),
        (["--static", f"/={dist}", "--static", f"/={dist}"], "given twice"),
        (["--static", f"/={dist}", "--static-fallback", "/=missing.html"],
         "missing.html: No such file"),
        (["--static", f"/={dist}", "--static-fallback", "/=docs"], "not a regular file"),
        (["--static", f"/={dist}", "--static-fallback", "/=../secret.txt"], "inside the --static"),
        (["--static", f"/={dist}", "--static-fallback", "/=out.txt"], "leads out"),
        (["--static", f"/a={dist}", "--static-fallback", "/b=index.html"], "no --static prefix"),
        (["--static-fallback", "/=index.html"], "--static-fallback needs --static"),
        (["--static-exclude", "/api"], "--static-exclude needs --static"),
        (["--static", f"/={dist}", "--static-cache-control", "a\x01b"], "not allowed"),
        (["--static", f"/={dist}", "--static-immutable", "sometimes"], "expected auto, off"),
    ]
    for args, msg in cases:
        r = run_binary([*args, "static_echo:application"])
        assert r.returncode == 2, (args, r.returncode, r.stderr)
        assert "wsgihost: error:" in r.stderr and msg in r.stderr, (args, r.stderr)


def test_help_names_the_options():
    out = run_binary(["--help"]).stdout
    for opt in ("--static PREFIX=DIR", "--static-fallback", "--static-exclude",
                "--static-cache-control", "--static-immutable"):
        assert opt in out, opt
