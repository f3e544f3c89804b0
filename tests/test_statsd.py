"""--statsd-host, --statsd-prefix, --dogstatsd-tags: gunicorn's statsd
metrics, its names and its datagram format, received by a UDP socket the
test binds on loopback. Every wait is bounded."""

import re
import signal
import socket

import pytest

from support import IO_TIMEOUT, build_request, RawConn, run_binary, wait_for

APP = """
def application(environ, start_response):
    if environ["PATH_INFO"] == "/boom":
        raise RuntimeError("boom (expected by test_statsd)")
    status = "200 OK" if environ["PATH_INFO"] == "/" else "404 Not Found"
    start_response(status, [("Content-Type", "text/plain")])
    return [b"ok"]
"""


class Receiver:
    """A statsd server: the lines of every datagram received, in order."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.05)
        self.port = self.sock.getsockname()[1]
        self.lines = []
        self.datagrams = 0

    def drain(self):
        while True:
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                return self.lines
            self.datagrams += 1
            self.lines += data.decode("ascii").split("\n")

    def wait_lines(self, pred, what):
        """Receive until pred(lines) holds (bounded); returns the lines."""
        wait_for(lambda: pred(self.drain()), IO_TIMEOUT, what=what)
        return self.lines

    def close(self):
        self.sock.close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def get(port, path):
    with RawConn(port) as c:
        c.send(build_request("GET", path))
        return c.read_response().status


@pytest.mark.parametrize("mode", [("-w", "1"), ()], ids=["master", "single"])
def test_gunicorns_metrics_arrive(server_factory, receiver, tmp_path, mode):
    (tmp_path / "statsd_app.py").write_text(APP)
    srv = server_factory("statsd_app:application", *mode, "--pythonpath", str(tmp_path),
                         "--statsd-host", f"127.0.0.1:{receiver.port}", "--statsd-prefix", "app",
                         "--dogstatsd-tags", "env:test,team:web")
    tags = "|#env:test,team:web"
    assert [get(srv.port, p) for p in ("/", "/nope", "/", "/boom")] == [200, 404, 200, 500]
    lines = receiver.wait_lines(
        lambda ls: sum(1 for x in ls if x.startswith("app.gunicorn.requests:")) == 4,
        "four requests counted")
    assert lines.count(f"app.gunicorn.requests:1|c|@1.0{tags}") == 4
    assert lines.count(f"app.gunicorn.request.status.200:1|c|@1.0{tags}") == 2
    assert lines.count(f"app.gunicorn.request.status.404:1|c|@1.0{tags}") == 1
    assert lines.count(f"app.gunicorn.request.status.500:1|c|@1.0{tags}") == 1
    durations = [x for x in lines if x.startswith("app.gunicorn.request.duration:")]
    assert len(durations) == 4, lines
    for d in durations:
        assert re.fullmatch(r"app\.gunicorn\.request\.duration:\d+\.\d{3}\|ms" + re.escape(tags),
                            d), d
    # The app's exception is logged as an error, and counted as one.
    receiver.wait_lines(lambda ls: f"app.gunicorn.log.error:1|c|@1.0{tags}" in ls,
                        "the error log line counted")
    if mode:  # the master's gauge, sent on its next turn after the worker was forked
        receiver.wait_lines(lambda ls: f"app.gunicorn.workers:1|g{tags}" in ls, "the gauge")
    else:
        assert not [x for x in lines if "gunicorn.workers" in x]
    # A response's three lines travel in one datagram, not three.
    assert receiver.datagrams < len(lines)


def test_workers_gauge_follows_ttin(server_factory, receiver):
    srv = server_factory("hello_app", "-w", "1", "--statsd-host", f"127.0.0.1:{receiver.port}")
    receiver.wait_lines(lambda ls: "gunicorn.workers:1|g" in ls, "the first gauge")
    srv.send_signal(signal.SIGTTIN)
    receiver.wait_lines(lambda ls: "gunicorn.workers:2|g" in ls, "the gauge after TTIN")


def test_a_statsd_that_is_down_costs_one_log_line(server_factory):
    # A port nobody listens on: the kernel answers the datagrams with
    # ICMP port unreachable, which the next send() reports.
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    srv = server_factory("hello_app", "--statsd-host", f"127.0.0.1:{port}")
    for _ in range(20):
        assert get(srv.port, "/") == 200
    wait_for(lambda: "statsd: cannot send to" in srv.log(), IO_TIMEOUT, what="the failure said")
    for _ in range(20):
        assert get(srv.port, "/") == 200
    assert srv.log().count("statsd: cannot send to") == 1


def test_config_file_and_errors(tmp_path):
    conf = tmp_path / "conf.py"
    conf.write_text("statsd_host = '127.0.0.1:8125'\nstatsd_prefix = 'shop.'\n"
                    "dogstatsd_tags = 'env:prod'\n")
    p = run_binary(["-c", str(conf), "--print-config", "hello_app:app"])
    assert p.returncode == 0, p.stderr
    assert "statsd_host = '127.0.0.1:8125'" in p.stdout
    assert "statsd_prefix = 'shop.'" in p.stdout and "dogstatsd_tags = 'env:prod'" in p.stdout
    assert "does not apply" not in p.stderr, p.stderr
    p = run_binary(["--statsd-host", "localhost", "hello_app:app"])
    assert p.returncode == 1 and "--statsd-host 'localhost': expected HOST:PORT" in p.stderr, \
        p.stderr


def test_prefix_gets_one_dot(server_factory, receiver):
    srv = server_factory("hello_app", "--statsd-host", f"127.0.0.1:{receiver.port}",
                         "--statsd-prefix", "shop..")
    assert get(srv.port, "/") == 200
    lines = receiver.wait_lines(lambda ls: any("requests:" in x for x in ls), "the request")
    assert "shop.gunicorn.requests:1|c|@1.0" in lines, lines


def test_hup_keeps_statsd(server_factory, receiver):
    """The workers a HUP starts still report (the reloaded settings keep
    the master's statsd socket)."""
    srv = server_factory("hello_app", "-w", "1", "--statsd-host", f"127.0.0.1:{receiver.port}")
    receiver.wait_lines(lambda ls: "gunicorn.workers:1|g" in ls, "the first gauge")
    srv.send_signal(signal.SIGHUP)
    wait_for(lambda: srv.log().count("Worker ready") == 2, IO_TIMEOUT, what="the new worker")
    wait_for(lambda: srv.log().count("Worker exiting") == 1, IO_TIMEOUT, what="the old worker gone")
    before = len([x for x in receiver.drain() if x.startswith("gunicorn.requests:")])
    assert get(srv.port, "/") == 200
    receiver.wait_lines(
        lambda ls: len([x for x in ls if x.startswith("gunicorn.requests:")]) == before + 1,
        "the new worker's request counted")
    assert "statsd changes need a restart" not in srv.log()


def test_a_prefix_too_long_is_refused_not_cut():
    p = run_binary(["--statsd-host", "127.0.0.1:8125", "--statsd-prefix", "p" * 200,
                    "hello_app:app"])
    assert p.returncode == 1 and "--statsd-prefix is longer than 126 characters" in p.stderr, \
        p.stderr
