"""What a gunicorn app must not lose: hop-by-hop headers the app sets itself,
a status without a reason phrase and headers given as a tuple or as lists
are served (with a warning once) as gunicorn serves them; --strict-wsgi
refuses them (a 500, the app's ValueError or TypeError), as PEP 3333
allows."""

import pytest

from support import RawConn, build_request


@pytest.fixture(scope="module")
def lenient(module_server_factory):
    return module_server_factory("gunicorn_habits:application")


@pytest.fixture(scope="module")
def strict(module_server_factory):
    return module_server_factory("gunicorn_habits:application", "--strict-wsgi")


def test_connection_close_from_the_app_closes_after_the_response(lenient):
    with RawConn(lenient.port) as c:
        c.send(build_request("GET", "/connection-close") + build_request("GET", "/other"))
        r = c.read_response()
        assert r.status == 200 and r.body == b"body of /connection-close", r
        assert r.header("Connection") == "close"
        assert r.raw_head.lower().count(b"connection:") == 1, r.raw_head
        c.assert_closed()
    assert "hop-by-hop header 'connection: close'" in lenient.log()


def test_other_hop_by_hop_headers_are_dropped(lenient):
    with RawConn(lenient.port) as c:
        c.send(build_request("GET", "/connection-keep-alive"))
        r = c.read_response()
        assert r.status == 200 and r.header("Keep-Alive") is None, r.headers
        assert r.header("Connection") is None
        c.send(build_request("GET", "/upgrade"))
        r = c.read_response()
        assert r.status == 200 and r.header("Upgrade") is None and r.header("X-Kept") == "yes"
        c.send(build_request("GET", "/transfer-encoding"))
        r = c.read_response()
        # Framed by the server, once: a client reads the body right.
        assert r.status == 200 and r.body == b"body of /transfer-encoding", r
        assert r.raw_head.lower().count(b"transfer-encoding:") <= 1, r.raw_head
        c.send(build_request("GET", "/after"))  # the connection is still usable
        assert c.read_response().body == b"body of /after"
    log = lenient.log()
    assert log.count("hop-by-hop header 'keep-alive") == 1
    assert "hop-by-hop header 'upgrade: h2c': dropped" in log


def test_each_name_is_warned_about_once(lenient):
    for _ in range(3):
        with RawConn(lenient.port) as c:
            c.send(build_request("GET", "/upgrade"))
            assert c.read_response().status == 200
    assert lenient.log().count("hop-by-hop header 'upgrade") == 1


@pytest.mark.parametrize("path,line", [("/no-reason", b"HTTP/1.1 200 OK\r\n"),
                                       ("/no-reason-404", b"HTTP/1.1 404 Not Found\r\n")])
def test_status_without_reason_gets_the_standard_phrase(lenient, path, line):
    with RawConn(lenient.port) as c:
        c.send(build_request("GET", path))
        r = c.read_response()
        assert r.raw_head.startswith(line), r.raw_head
        assert r.body == f"body of {path}".encode()
    assert "has no reason phrase" in lenient.log()


@pytest.mark.parametrize("path,what", [("/headers-tuple", "headers are a tuple, not a list"),
                                       ("/header-items-lists",
                                        "headers[0] is a list, not a (name, value) tuple")])
def test_headers_as_tuple_or_lists_are_served(lenient, path, what):
    """gunicorn reads the headers as `for name, value in headers`; PEP 3333
    wants a list of tuples. Served, with a warning once."""
    for _ in range(2):
        with RawConn(lenient.port) as c:
            c.send(build_request("GET", path))
            r = c.read_response()
            assert r.status == 200 and r.body == f"body of {path}".encode(), r
            assert r.header("X-Kept") == "yes" and r.header("Content-Type") == "text/plain"
    assert lenient.log().count(what) == 1


@pytest.mark.parametrize("path", ["/connection-close", "/connection-keep-alive",
                                  "/transfer-encoding", "/upgrade", "/no-reason",
                                  "/headers-tuple", "/header-items-lists"])
def test_strict_refuses(strict, path):
    with RawConn(strict.port) as c:
        c.send(build_request("GET", path))
        r = c.read_response()
        assert r.status == 500, r
    assert "--strict-wsgi" in strict.log()
