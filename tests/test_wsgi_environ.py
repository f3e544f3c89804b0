"""The WSGI environ (PEP 3333 / CGI): keys, native-string values, header
mapping and the wsgi.* members."""

import os

import pytest

from support import (APPS, SERVER_ENV_VARS, RawConn, build_request, free_port,
                     run_binary)


@pytest.fixture(scope="module")
def env_server(module_server_factory):
    return module_server_factory("environ_dump:application")


def dump(server, raw):
    with RawConn(server.port) as c:
        c.send(raw)
        r = c.read_response()
        assert r.status == 200, r
        return r.json(), c.local_port


def test_basic_keys(env_server):
    port = env_server.port
    j, client_port = dump(env_server, build_request(
        "GET", "/caf%C3%A9/x?q=1&r=%20", [("X-Multi", "a"), ("X-Multi", "b"),
                                          ("x-lower-case", "v"), ("User-Agent", "pytest")],
        host=f"127.0.0.1:{port}"))
    env = j["environ"]
    assert j["environ_type"] == "dict"
    assert j["key_types"] == ["str"]
    assert env["REQUEST_METHOD"] == "GET"
    assert env["SCRIPT_NAME"] == ""
    # Percent-decoded, then the bytes as a latin-1 native string.
    assert env["PATH_INFO"] == "/caf\u00c3\u00a9/x"
    assert env["QUERY_STRING"] == "q=1&r=%20"
    assert env["RAW_URI"] == "/caf%C3%A9/x?q=1&r=%20"
    assert env["REQUEST_URI"] == "/caf%C3%A9/x?q=1&r=%20"
    assert env["SERVER_PROTOCOL"] == "HTTP/1.1"
    assert env["SERVER_NAME"] == "127.0.0.1"
    assert env["SERVER_PORT"] == str(port)
    assert env["REMOTE_ADDR"] == "127.0.0.1"
    assert env["REMOTE_PORT"] == str(client_port)
    assert env["HTTP_HOST"] == f"127.0.0.1:{port}"
    assert env["HTTP_X_MULTI"] == "a,b"  # as gunicorn joins them
    assert env["HTTP_X_LOWER_CASE"] == "v"
    assert env["HTTP_USER_AGENT"] == "pytest"


def test_cgi_values_are_native_strings(env_server):
    j, _ = dump(env_server, build_request("POST", "/p?x", [("Content-Type", "text/plain")],
                                          body=b"body"))
    for key, value in j["environ"].items():
        if key.isupper() or key.startswith("HTTP_"):
            assert isinstance(value, str), (key, value)


@pytest.mark.parametrize("workers,expected", [("1", False), ("2", True)])
def test_multiprocess_is_true_only_with_several_workers(server_factory, workers, expected):
    """As gunicorn sets it: -w 1 runs the app in one process at a time."""
    srv = server_factory("environ_dump:application", "-w", workers)
    j, _ = dump(srv, build_request("GET", "/"))
    assert j["environ"]["wsgi.multiprocess"] is expected


def test_wsgi_members(env_server):
    j, _ = dump(env_server, build_request("GET", "/"))
    env = j["environ"]
    assert env["wsgi.version"] == {"type": "tuple", "value": [1, 0]}
    assert env["wsgi.url_scheme"] == "http"
    assert env["wsgi.input_terminated"] is True
    # Default single-process mode runs the app on a thread pool (--threads);
    # test_wsgi_threads.py checks the flag against the option.
    assert isinstance(env["wsgi.multithread"], bool)
    assert env["wsgi.multiprocess"] is False
    assert env["wsgi.run_once"] is False
    inp = env["wsgi.input"]
    assert inp["read"] and inp["readline"] and inp["readlines"] and inp["__iter__"], inp
    err = env["wsgi.errors"]
    assert err["write"] and err["writelines"] and err["flush"], err
    assert env["wsgi.file_wrapper"]["callable"], env["wsgi.file_wrapper"]


def test_content_type_and_length_without_http_prefix(env_server):
    j, _ = dump(env_server, build_request("POST", "/", [("Content-Type", "application/json")],
                                          body=b'{"a": 1}'))
    env = j["environ"]
    assert env["CONTENT_TYPE"] == "application/json"
    assert env["CONTENT_LENGTH"] == "8"
    assert "HTTP_CONTENT_TYPE" not in env
    assert "HTTP_CONTENT_LENGTH" not in env
    assert j["body_length"] == 8


def test_get_without_body_content_length(env_server):
    j, _ = dump(env_server, build_request("GET", "/"))
    assert j["environ"].get("CONTENT_LENGTH", "") in ("", "0")
    assert j["body_length"] == 0


def test_chunked_body_environ(env_server):
    j, _ = dump(env_server, b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                            b"5\r\nhello\r\n0\r\n\r\n")
    assert j["body_length"] == 5
    # No Content-Length was sent: it may be absent or empty, never a guess
    # that disagrees with the body.
    assert j["environ"].get("CONTENT_LENGTH", "") in ("", "5")


def test_underscore_header_cannot_spoof_dash_header(env_server):
    j, _ = dump(env_server, build_request("GET", "/", [("X_Forwarded_For", "evil"),
                                                      ("X-Forwarded-For", "good")]))
    env = j["environ"]
    assert env["HTTP_X_FORWARDED_FOR"] == "good"
    assert not any(v == "evil" for v in env.values() if isinstance(v, str)), env


def test_underscore_header_alone_is_dropped(env_server):
    j, _ = dump(env_server, build_request("GET", "/", [("X_Forwarded_For", "evil")]))
    env = j["environ"]
    assert "HTTP_X_FORWARDED_FOR" not in env
    assert not any(v == "evil" for v in env.values() if isinstance(v, str))


def test_latin1_header_value(env_server):
    j, _ = dump(env_server, b"GET / HTTP/1.1\r\nHost: h\r\nX-Latin: caf\xe9\r\n\r\n")
    assert j["environ"]["HTTP_X_LATIN"] == "caf\u00e9"


def test_header_value_whitespace_trimmed(env_server):
    j, _ = dump(env_server, b"GET / HTTP/1.1\r\nHost: h\r\nX-Pad:   padded value \t\r\n\r\n")
    assert j["environ"]["HTTP_X_PAD"] == "padded value"


def test_empty_header_value(env_server):
    j, _ = dump(env_server, b"GET / HTTP/1.1\r\nHost: h\r\nX-Empty:\r\n\r\n")
    assert j["environ"]["HTTP_X_EMPTY"] == ""


def test_http10_protocol(env_server):
    j, _ = dump(env_server, b"GET /ten HTTP/1.0\r\n\r\n")
    assert j["environ"]["SERVER_PROTOCOL"] == "HTTP/1.0"
    assert j["environ"]["PATH_INFO"] == "/ten"


def test_no_query_string(env_server):
    j, _ = dump(env_server, build_request("GET", "/plain"))
    assert j["environ"].get("QUERY_STRING", "") == ""
    assert j["environ"]["PATH_INFO"] == "/plain"


def test_encoded_question_mark_stays_in_path(env_server):
    j, _ = dump(env_server, build_request("GET", "/a%3Fb?c=%3F"))
    assert j["environ"]["PATH_INFO"] == "/a?b"
    assert j["environ"]["QUERY_STRING"] == "c=%3F"


def test_percent_encoded_space_and_plus(env_server):
    j, _ = dump(env_server, build_request("GET", "/a%20b+c"))
    assert j["environ"]["PATH_INFO"] == "/a b+c"


def test_methods_pass_through(env_server):
    for method in ("PUT", "DELETE", "PATCH", "OPTIONS"):
        j, _ = dump(env_server, build_request(method, "/m", body=b"x" if method != "OPTIONS" else b""))
        assert j["environ"]["REQUEST_METHOD"] == method


def test_options_asterisk_does_not_crash(env_server):
    with RawConn(env_server.port) as c:
        c.send(b"OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n")
        r = c.read_response()
        assert r.status < 500, r
    with RawConn(env_server.port) as c:
        c.send(build_request("GET", "/after"))
        assert c.read_response().status == 200


def test_absolute_form_environ(env_server):
    j, _ = dump(env_server, b"GET http://example.com/x/y?z=1 HTTP/1.1\r\nHost: ignored\r\n\r\n")
    env = j["environ"]
    assert env["PATH_INFO"] == "/x/y"
    assert env["QUERY_STRING"] == "z=1"
    assert env["HTTP_HOST"] == "example.com"


def test_wsgi_errors_reach_the_log(env_server):
    dump(env_server, build_request("GET", "/errors"))
    log = env_server.log()
    assert "wsgi-errors-marker-7f3a" in log
    assert "wsgi-errors-lines-2" in log


def test_environ_is_fresh_per_request(env_server):
    """Keys from one request (a header, a body) must not leak into the next on
    the same connection."""
    with RawConn(env_server.port) as c:
        c.send(build_request("POST", "/one", [("X-Only-First", "1"),
                                              ("Content-Type", "text/plain")], body=b"abc"))
        first = c.read_response().json()["environ"]
        c.send(build_request("GET", "/two"))
        second = c.read_response().json()["environ"]
    assert first["HTTP_X_ONLY_FIRST"] == "1"
    assert "HTTP_X_ONLY_FIRST" not in second
    assert "CONTENT_TYPE" not in second or second["CONTENT_TYPE"] == ""
    assert second["PATH_INFO"] == "/two"


def test_repeated_cookie_headers_join_with_semicolon(env_server):
    j, _ = dump(env_server, build_request("GET", "/", [("Cookie", "a=1"), ("Cookie", "b=2"),
                                                       ("X-Multi", "x"), ("X-Multi", "y")]))
    env = j["environ"]
    assert env["HTTP_COOKIE"] == "a=1; b=2"
    assert env["HTTP_X_MULTI"] == "x,y"


@pytest.fixture(scope="module")
def prefixed_server(module_server_factory):
    # A trailing slash is dropped: mounted at /app.
    return module_server_factory("environ_dump:application", env={"SCRIPT_NAME": "/app/"})


@pytest.mark.parametrize("target,script,path", [
    ("/app/x/y?q=1", "/app", "/x/y"),
    ("/app", "/app", ""),
    ("/app/", "/app", "/"),
    ("/app/caf%C3%A9", "/app", "/caf\u00c3\u00a9"),
])
def test_script_name_from_the_environment(prefixed_server, target, script, path):
    """SCRIPT_NAME in the server's environment (or -e SCRIPT_NAME=...) mounts
    the app under it, as gunicorn does: PATH_INFO is the rest of the path."""
    j, _ = dump(prefixed_server, build_request("GET", target))
    env = j["environ"]
    assert (env["SCRIPT_NAME"], env["PATH_INFO"]) == (script, path)
    assert env["RAW_URI"] == target


@pytest.mark.parametrize("target", ["/", "/apple", "/x/app/y", "/%61pp/x"])
def test_path_outside_script_name_is_404(prefixed_server, target):
    with RawConn(prefixed_server.port) as c:
        c.send(build_request("GET", target))
        r = c.read_response()
        assert (r.status, r.body) == (404, b"Not Found (outside SCRIPT_NAME)\n"), r
        c.send(build_request("GET", "/app/next"))  # the connection goes on
        assert c.read_response().json()["environ"]["PATH_INFO"] == "/next"
    assert prefixed_server.log().count("is outside SCRIPT_NAME '/app': 404") == 1


@pytest.mark.parametrize("value", ["app", "/app?x=1", "/" + "a" * 2000])
def test_bad_script_name_stops_start_up(value):
    env = {k: v for k, v in os.environ.items() if k not in SERVER_ENV_VARS}
    env["SCRIPT_NAME"] = value
    r = run_binary(["-b", f"127.0.0.1:{free_port()}", "--pythonpath", str(APPS),
                    "environ_dump:application"], env=env)
    assert r.returncode != 0
    assert "expected a path such as /app" in r.stderr, r.stderr
