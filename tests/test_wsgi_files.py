"""wsgi.file_wrapper, the app's Content-Length as a hard bound, and
wsgiref.validate.validator."""

import os

import pytest

from support import IO_TIMEOUT, RawConn, build_request, wait_for


def get(server, path, method="GET", headers=(), allow_incomplete=False):
    c = RawConn(server.port)
    c.send(build_request(method, path, headers))
    return c.read_response(method=method, allow_incomplete=allow_incomplete), c


# -- file_wrapper -------------------------------------------------------------

@pytest.fixture(scope="module")
def file_server(module_server_factory):
    return module_server_factory("filewrapper_app:application")


@pytest.fixture(scope="module")
def data_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("files") / "data.bin"
    path.write_bytes(os.urandom(300_000))
    return path


def test_file_wrapper_exact_bytes(file_server, data_file):
    r, c = get(file_server, f"/file?path={data_file}")
    with c:
        assert r.status == 200
        assert r.header("Content-Length") == "300000"
        assert r.body == data_file.read_bytes()
        # Keep-alive still framed right after a sendfile-style body.
        c.send(build_request("GET", f"/file?path={data_file}&offset=299990"))
        r2 = c.read_response()
        assert r2.body == data_file.read_bytes()[299990:]


def test_file_wrapper_pipelined_past_the_high_water_mark(file_server, tmp_path):
    """Requests pipelined behind a file response larger than the output
    queue's high-water mark are answered as soon as it is sent (they used
    to wait for the keep-alive timeout: nothing brought them back)."""
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(1_100_000))
    c = RawConn(file_server.port)
    with c:
        c.send(build_request("GET", f"/file?path={big}") * 3)
        for _ in range(3):
            r = c.read_response(timeout=2)
            assert r.status == 200 and r.body == big.read_bytes()


def test_pipelined_requests_after_responses_over_the_high_water_mark(file_server, data_file):
    """Two pipelined 300 kB file responses put the queue over its high-water
    mark, so the third request waits in the input buffer; a flush that
    drains the queue at once (sendfile on loopback) must bring it back. It
    used to stay there, unanswered, until the client gave up (found by
    tests/test_vs_gunicorn.py)."""
    data = data_file.read_bytes()
    with RawConn(file_server.port) as c:
        c.send(build_request("GET", f"/file?path={data_file}") * 3
               + build_request("GET", f"/file?path={data_file}&offset=299990"))
        for _ in range(3):
            r = c.read_response()
            assert r.status == 200 and r.body == data
        assert c.read_response().body == data[299990:]


def test_file_wrapper_from_offset(file_server, data_file):
    r, c = get(file_server, f"/file?path={data_file}&offset=1000")
    c.close()
    assert r.body == data_file.read_bytes()[1000:]


def test_file_wrapper_content_length_shorter_than_file(file_server, data_file):
    with RawConn(file_server.port) as c:
        c.send(build_request("GET", f"/file-short?path={data_file}&length=100")
               + build_request("GET", f"/file?path={data_file}&offset=299000"))
        r = c.read_response()
        assert r.body == data_file.read_bytes()[:100]
        # Nothing beyond 100 bytes: the next response parses (or the server closed).
        try:
            r2 = c.read_response()
        except AssertionError as e:
            if "closed" not in str(e):
                raise
            assert c.buf == b""
        else:
            assert r2.status == 200 and r2.body == data_file.read_bytes()[299000:], r2


def test_file_wrapper_without_length(file_server, data_file):
    r, c = get(file_server, f"/file-nolength?path={data_file}")
    c.close()
    assert r.body == data_file.read_bytes()


def test_file_wrapper_head(file_server, data_file):
    with RawConn(file_server.port) as c:
        c.send(build_request("HEAD", f"/file?path={data_file}") + build_request(
            "GET", f"/file?path={data_file}&offset=299999"))
        r = c.read_response(method="HEAD")
        assert r.header("Content-Length") == "300000"
        assert r.body == b""
        assert c.read_response().body == data_file.read_bytes()[299999:]


def test_file_wrapper_on_object_without_fileno(file_server):
    r, c = get(file_server, "/nofileno")
    c.close()
    assert r.body == b"0123456789" * 1000


def test_file_wrapper_closes_the_file(file_server, data_file):
    r, c = get(file_server, f"/file?path={data_file}")
    c.close()
    assert r.status == 200

    def closed():
        r2, c2 = get(file_server, "/closed")
        c2.close()
        return str(data_file) in r2.json()

    wait_for(closed, IO_TIMEOUT, what="file closed after the response")
    # No descriptor of the data file left open in the server.
    assert not any(t == str(data_file) for t in
                   [os.readlink(f"/proc/{file_server.pid}/fd/{fd}")
                    for fd in os.listdir(f"/proc/{file_server.pid}/fd")])


# -- Content-Length from the app is a hard bound --------------------------------

@pytest.fixture(scope="module")
def cl_server(module_server_factory):
    return module_server_factory("short_cl:application")


@pytest.mark.parametrize("path", ["/smaller", "/smaller-gen"])
def test_body_truncated_to_content_length(cl_server, path):
    with RawConn(cl_server.port) as c:
        c.send(build_request("GET", path, [("Connection", "close")]))
        head = c.read_head()
        assert b"Content-Length: 5\r\n" in head or b"content-length: 5\r\n" in head.lower()
        rest = c.read_until_close()
        assert rest == b"Hello", rest


@pytest.mark.parametrize("path", ["/smaller", "/smaller-gen"])
def test_truncated_body_keep_alive(cl_server, path):
    with RawConn(cl_server.port) as c:
        c.send(build_request("GET", path) + build_request("GET", "/ok"))
        r = c.read_response()
        assert r.body == b"Hello"
        try:
            r2 = c.read_response()
        except AssertionError as e:
            assert "closed" in str(e), e
            assert c.buf == b""
        else:
            assert r2.status == 200 and r2.body == b"ok", r2


def test_body_shorter_than_content_length_closes(cl_server):
    with RawConn(cl_server.port) as c:
        c.send(build_request("GET", "/larger"))
        r = c.read_response(allow_incomplete=True)
        assert r.status == 200
        assert r.body == b"Hello"
        assert not r.complete


# -- wsgiref validator -------------------------------------------------------------

@pytest.fixture(scope="module")
def validator_server(module_server_factory):
    return module_server_factory("validator_app:application")


def test_validator_get(validator_server):
    r, c = get(validator_server, "/")
    c.close()
    assert r.status == 200, (r, validator_server.log()[-3000:])
    assert r.body == b"validated:"


def test_validator_post(validator_server):
    c = RawConn(validator_server.port)
    with c:
        c.send(build_request("POST", "/", [("Content-Type", "text/plain")], body=b"payload"))
        r = c.read_response()
    assert r.status == 200, (r, validator_server.log()[-3000:])
    assert r.body == b"validated:payload"


def test_validator_generator(validator_server):
    r, c = get(validator_server, "/gen")
    c.close()
    assert r.status == 200, (r, validator_server.log()[-3000:])
    assert r.body == b"validated generator"


def test_validator_head_and_keep_alive(validator_server):
    with RawConn(validator_server.port) as c:
        for method in ("HEAD", "GET", "GET"):
            c.send(build_request(method, "/"))
            r = c.read_response(method=method)
            assert r.status == 200, (r, validator_server.log()[-3000:])


def test_validator_found_nothing(validator_server):
    # Problems the validator reports outside the response (e.g. an iterator
    # never closed) show up in the log only.
    get(validator_server, "/")[1].close()
    log = validator_server.log()
    for marker in ("AssertionError", "WSGIWarning", "Exception ignored", "Traceback"):
        assert marker not in log, log[-3000:]
