"""pyapp end to end through wsgihost, with http.client as the client."""

import hashlib
import http.client
import json
import os

import pytest

from support import IO_TIMEOUT, SOURCE_ROOT, free_port, run_binary


@pytest.fixture(scope="module")
def flask_server(module_server_factory):
    return module_server_factory("pyapp:app")


@pytest.fixture
def client(flask_server):
    conn = http.client.HTTPConnection("127.0.0.1", flask_server.port, timeout=IO_TIMEOUT)
    yield conn
    conn.close()


def fetch(conn, method, path, body=None, headers=None, **kw):
    conn.request(method, path, body=body, headers=headers or {}, **kw)
    resp = conn.getresponse()
    return resp, resp.read()


def test_index(client):
    resp, body = fetch(client, "GET", "/")
    assert resp.status == 200
    assert resp.getheader("Content-Type").startswith("text/plain")
    assert body == b"Hello from pyapp\n"


def test_items(client):
    resp, body = fetch(client, "GET", "/api/items")
    assert resp.status == 200
    assert resp.getheader("Content-Type") == "application/json"
    items = json.loads(body)
    assert len(items) == 50
    assert {"id", "name", "price"} <= set(items[0])
    assert [i["id"] for i in items] == list(range(1, 51))


def test_sleep(client):
    resp, body = fetch(client, "GET", "/api/sleep?ms=20")
    assert resp.status == 200
    assert json.loads(body) == {"slept_ms": 20}


@pytest.mark.parametrize("query", ["ms=abc", "ms=-1", "ms=60001", "ms=1.5"])
def test_sleep_bad_values(client, query):
    resp, body = fetch(client, "GET", "/api/sleep?" + query)
    assert resp.status == 400
    assert resp.getheader("Content-Type") == "application/json"
    assert json.loads(body)["status"] == 400


def test_cpu(client):
    resp, body = fetch(client, "GET", "/api/cpu?n=1000")
    assert resp.status == 200
    assert json.loads(body) == {"n": 1000, "result": sum(i * i for i in range(1000))}


def test_cpu_bounds(client):
    resp, _ = fetch(client, "GET", "/api/cpu?n=999999999")
    assert resp.status == 400


def test_echo(client):
    data = os.urandom(200_000)
    resp, body = fetch(client, "POST", "/api/echo", body=data,
                       headers={"Content-Type": "application/octet-stream"})
    assert resp.status == 200
    assert json.loads(body) == {"length": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def test_echo_chunked(client):
    parts = [os.urandom(1000) for _ in range(20)]
    resp, body = fetch(client, "POST", "/api/echo", body=iter(parts), encode_chunked=True,
                       headers={"Transfer-Encoding": "chunked"})
    data = b"".join(parts)
    assert resp.status == 200
    assert json.loads(body) == {"length": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def test_echo_empty(client):
    resp, body = fetch(client, "POST", "/api/echo", body=b"")
    assert json.loads(body)["length"] == 0


def test_stream(client):
    resp, body = fetch(client, "GET", "/api/stream?chunks=7")
    assert resp.status == 200
    assert resp.getheader("Transfer-Encoding") == "chunked"
    assert body == b"".join(b"chunk %d\n" % i for i in range(7))


def test_static_file(client):
    resp, body = fetch(client, "GET", "/static/hello.txt")
    assert resp.status == 200
    assert body == (SOURCE_ROOT / "pyapp" / "static" / "hello.txt").read_bytes()
    assert resp.getheader("Content-Length") == str(len(body))


def test_static_index_html(client):
    resp, body = fetch(client, "GET", "/static/index.html")
    assert resp.status == 200
    assert resp.getheader("Content-Type").startswith("text/html")
    assert body == (SOURCE_ROOT / "pyapp" / "static" / "index.html").read_bytes()


def test_static_conditional_get(client):
    resp, _ = fetch(client, "GET", "/static/hello.txt")
    etag = resp.getheader("ETag")
    assert etag
    resp, body = fetch(client, "GET", "/static/hello.txt", headers={"If-None-Match": etag})
    assert resp.status == 304
    assert body == b""
    # The connection still works after a 304.
    resp, body = fetch(client, "GET", "/")
    assert body == b"Hello from pyapp\n"


def test_404_json(client):
    resp, body = fetch(client, "GET", "/no/such/page")
    assert resp.status == 404
    assert resp.getheader("Content-Type") == "application/json"
    assert json.loads(body)["status"] == 404


def test_405_json(client):
    resp, body = fetch(client, "DELETE", "/api/items")
    assert resp.status == 405
    assert resp.getheader("Content-Type") == "application/json"
    assert json.loads(body)["status"] == 405
    assert "GET" in resp.getheader("Allow")


def test_head(client):
    resp, body = fetch(client, "HEAD", "/api/items")
    assert resp.status == 200
    assert body == b""
    assert int(resp.getheader("Content-Length")) > 1000


def test_keep_alive_sequence(client):
    for path in ["/", "/api/items", "/api/sleep?ms=1", "/api/stream", "/static/hello.txt", "/"]:
        resp, _ = fetch(client, "GET", path)
        assert resp.status == 200
        assert not resp.will_close


def test_factory_with_literal_config(server_factory):
    srv = server_factory('pyapp:create_app({"GREETING": "hi there"})')
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=IO_TIMEOUT)
    try:
        resp, body = fetch(conn, "GET", "/")
        assert body == b"hi there\n"
    finally:
        conn.close()


def test_factory_with_profile_name(server_factory):
    """The README's form: `pyapp:create_app("prod")`."""
    srv = server_factory('pyapp:create_app("prod")')
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=IO_TIMEOUT)
    try:
        resp, body = fetch(conn, "GET", "/api/items")
        assert resp.status == 200
        assert len(json.loads(body)) == 50
    finally:
        conn.close()


def test_factory_with_unknown_profile_fails_startup():
    p = run_binary(["-b", f"127.0.0.1:{free_port()}", 'pyapp:create_app("nope")'])
    assert p.returncode != 0
    assert "wsgihost:" in p.stderr
    assert "unknown profile" in p.stderr
