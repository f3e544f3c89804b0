"""Error log lines ([date] [pid] [LEVEL] msg) and the access log
(gunicorn's format and atoms)."""

import re

from support import IO_TIMEOUT, RawConn, build_request, wait_for

LOG_LINE = re.compile(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4})\] \[(\d+)\] "
                      r"\[(DEBUG|INFO|WARNING|ERROR|CRITICAL)\] (.+)$")


def test_error_log_format(server_factory):
    srv = server_factory("hello_app")
    srv.get("/")
    lines = [line for line in srv.stderr().splitlines() if line.startswith("[")]
    assert lines, srv.stderr()
    for line in lines:
        m = LOG_LINE.match(line)
        assert m, f"malformed log line {line!r}"
        assert int(m.group(2)) == srv.pid
    assert any(f"127.0.0.1:{srv.port}" in line for line in lines), \
        "the listening address is not logged"


def test_log_level_warning_hides_info(server_factory):
    srv = server_factory("hello_app", "--log-level", "warning")
    srv.get("/")
    assert "[INFO]" not in srv.stderr()


def test_error_logfile(server_factory, tmp_path):
    path = tmp_path / "error.log"
    srv = server_factory("exceptions_app:application", "--error-logfile", str(path))
    assert srv.get("/before-start").status == 500
    wait_for(lambda: path.exists() and "raised before start_response" in path.read_text(),
             IO_TIMEOUT, what="traceback in the error log file")
    assert any(LOG_LINE.match(line) for line in path.read_text().splitlines())
    assert "raised before start_response" not in srv.stderr()


ACCESS_DEFAULT = re.compile(
    r'^127\.0\.0\.1 - - \[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\] '
    r'"GET /path/x\?y=1 HTTP/1\.1" 200 13 "http://ref\.example/" "test-agent/1\.0"$')


def test_access_log_stdout_default_format(server_factory):
    srv = server_factory("hello_app", "--access-logfile", "-")
    with RawConn(srv.port) as c:
        c.send(build_request("GET", "/path/x?y=1", [("Referer", "http://ref.example/"),
                                                    ("User-Agent", "test-agent/1.0")]))
        assert c.read_response().status == 200
    line = wait_for(lambda: [x for x in srv.stdout().splitlines() if "/path/x" in x],
                    IO_TIMEOUT, what="access log line")[0]
    assert ACCESS_DEFAULT.match(line), line


def test_access_log_file_custom_format(server_factory, tmp_path):
    path = tmp_path / "access.log"
    fmt = "%(m)s %(U)s %(q)s %(H)s %(s)s %(B)s %({x-test}i)s %({content-type}o)s"
    srv = server_factory("hello_app", "--access-logfile", str(path), "--access-logformat", fmt)
    with RawConn(srv.port) as c:
        c.send(build_request("POST", "/p/q?a=b", [("X-Test", "hdr")], body=b"xyz"))
        assert c.read_response().status == 200
    text = wait_for(lambda: path.exists() and path.read_text(), IO_TIMEOUT,
                    what="access log file")
    assert text.splitlines()[-1] == "POST /p/q a=b HTTP/1.1 200 13 hdr text/plain", text


def test_access_log_off_by_default(server_factory):
    srv = server_factory("hello_app")
    srv.get("/path/nolog")
    assert "/path/nolog" not in srv.log()


def test_access_log_records_errors(server_factory):
    srv = server_factory("proto:application", "--access-logfile", "-")
    with RawConn(srv.port) as c:
        c.send(b"GET / HTTP/1.1\r\n\r\n")  # no Host
        assert c.read_response().status == 400
    srv.get("/path/after")
    wait_for(lambda: "/path/after" in srv.stdout(), IO_TIMEOUT, what="access log line")
