"""--metrics-bind: GET /metrics (the Prometheus text format) and GET /healthz
on a listener of their own, served by the master with -w N (from the
workers' shared-memory slots) and by the process itself without.

The exposition is parsed by a small Prometheus text parser below, strict
about what the format requires (HELP and TYPE before a family's samples,
_total on counters, a histogram's _bucket/_sum/_count, label syntax, no
duplicate series). The counters are checked exactly against traffic the
test sends: every request, response status, method and byte is known."""

import math
import os
import re
import signal
import socket
import ssl
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from support import (IO_TIMEOUT, SLOW, START_TIMEOUT, RawConn, build_request, free_port,
                     run_binary, wait_for)

APP = "metrics_app:application"
METRICS = ("--metrics-bind", "127.0.0.1:{mport}")


# -- a Prometheus text format parser ------------------------------------------

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
SAMPLE_RE = re.compile(rf"^({NAME})(?:\{{(.*)\}})? (\S+)$")
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"')
TYPES = ("counter", "gauge", "histogram", "summary", "untyped")


def parse_labels(text):
    labels = {}
    pos = 0
    while pos < len(text):
        m = LABEL_RE.match(text, pos)
        assert m, f"bad label set {text!r} at {pos}"
        name, value = m.group(1), m.group(2)
        assert name not in labels, f"label {name} twice in {text!r}"
        labels[name] = re.sub(r"\\(.)", lambda e: "\n" if e.group(1) == "n" else e.group(1),
                              value)
        pos = m.end()
        if pos < len(text):
            assert text[pos] == ",", f"expected ',' in {text!r} at {pos}"
            pos += 1
    return labels


def parse_value(text):
    if text in ("+Inf", "-Inf", "NaN"):
        return float(text.replace("Inf", "inf").replace("NaN", "nan"))
    assert re.fullmatch(r"-?\d+(\.\d+)?([eE][-+]?\d+)?", text), f"bad value {text!r}"
    return float(text)


class Families(dict):
    """{family name: {"type", "help", "samples": [(name, labels, value)]}}."""

    def samples(self, name, **labels):
        fam = name
        for suffix in ("_bucket", "_sum", "_count"):
            if name not in self and name.endswith(suffix) and name[:-len(suffix)] in self:
                fam = name[:-len(suffix)]
        assert fam in self, f"no family {fam} in the exposition"
        return [(n, ls, v) for n, ls, v in self[fam]["samples"]
                if n == name and all(ls.get(k) == str(v2) for k, v2 in labels.items())]

    def value(self, name, _missing=AssertionError, **labels):
        """The one sample with exactly these labels (_missing if none)."""
        found = [v for n, ls, v in self.samples(name, **labels) if len(ls) == len(labels)]
        if not found and _missing is not AssertionError:
            return _missing
        assert len(found) == 1, f"{name}{labels}: {len(found)} samples"
        return found[0]

    def total(self, name, **labels):
        return sum(v for _, _, v in self.samples(name, **labels))


def parse_prom(text):
    assert text.endswith("\n"), "the exposition must end with a newline"
    fams = Families()
    current = None
    seen = set()
    for line in text.split("\n")[:-1]:
        assert line == line.strip() and line, f"blank or padded line {line!r}"
        if line.startswith("# HELP "):
            name, _, help_text = line[7:].partition(" ")
            assert re.fullmatch(NAME, name) and help_text, line
            assert name not in fams, f"family {name} twice"
            fams[name] = {"help": help_text, "type": None, "samples": []}
            current = name
        elif line.startswith("# TYPE "):
            name, _, typ = line[7:].partition(" ")
            assert name == current, f"TYPE for {name} after HELP for {current}"
            assert fams[name]["type"] is None and typ in TYPES, line
            fams[name]["type"] = typ
        elif line.startswith("#"):
            continue
        else:
            m = SAMPLE_RE.match(line)
            assert m, f"bad sample line {line!r}"
            name, labels, value = m.group(1), parse_labels(m.group(2) or ""), m.group(3)
            assert current is not None and fams[current]["type"], f"{line!r} before HELP/TYPE"
            typ = fams[current]["type"]
            if typ == "histogram":
                assert name in (current + "_bucket", current + "_sum", current + "_count"), line
                assert ("le" in labels) == name.endswith("_bucket"), line
            else:
                assert name == current, f"sample {name} in family {current}"
            if typ == "counter":
                assert name.endswith("_total"), f"counter {name} without _total"
            assert name.startswith("wsgihost_"), name
            key = (name, tuple(sorted(labels.items())))
            assert key not in seen, f"duplicate series {line!r}"
            seen.add(key)
            v = parse_value(value)
            if typ in ("counter", "histogram"):
                assert v >= 0, line
            fams[current]["samples"].append((name, labels, v))
    for name, fam in fams.items():
        assert fam["type"], f"{name} has no TYPE"
        if fam["type"] == "histogram":
            check_histogram(fams, name)
    return fams


def check_histogram(fams, name):
    buckets = fams.samples(name + "_bucket")
    assert buckets, f"histogram {name} without buckets"
    les = [parse_value(ls["le"]) for _, ls, _ in buckets]
    assert les == sorted(les) and len(set(les)) == len(les), f"{name}: le not increasing"
    assert les[-1] == math.inf, f"{name}: last bucket is not +Inf"
    counts = [v for _, _, v in buckets]
    assert counts == sorted(counts), f"{name}: bucket counts not cumulative: {counts}"
    assert counts[-1] == fams.value(name + "_count"), f"{name}: +Inf bucket != _count"
    assert fams.value(name + "_sum") >= 0


# -- helpers -------------------------------------------------------------------

def mget(target, path="/metrics", method="GET", raw=None, timeout=None):
    """One request to the metrics listener (a port, or a unix socket path)."""
    kw = {"unix_path": target} if isinstance(target, str) else {"port": target}
    with RawConn(timeout=timeout, **kw) as c:
        c.send(raw if raw is not None else build_request(method, path, host="metrics"))
        r = c.read_response(method=method)
        assert r.header("Connection") == "close"
        c.assert_closed()
        return r


def scrape(target):
    r = mget(target)
    assert r.status == 200, r
    assert r.header("Content-Type") == "text/plain; version=0.0.4; charset=utf-8"
    return parse_prom(r.body.decode())


def start(factory, *args, app=APP, metrics=METRICS, **kw):
    srv = factory(app, *metrics, *args, **kw)
    srv.mtarget = srv.mport if metrics == METRICS else metrics[1][len("unix:"):]
    wait_for(lambda: mget(srv.mtarget, "/healthz").status == 200, START_TIMEOUT,
             what="GET /healthz 200 (a worker ready)")
    # healthz says one worker is ready; the tests want them all.
    wait_scrape(srv, lambda f: f.value("wsgihost_workers") == f.value("wsgihost_workers_desired")
                and all(v == 1 for _, _, v in f.samples("wsgihost_worker_ready")), START_TIMEOUT,
                "every worker ready")
    return srv


class Client:
    """One keep-alive connection to the app that counts the bytes it sends
    and receives, and the requests it makes by (method, status class)."""

    def __init__(self, port):
        self.conn = RawConn(port)
        self.sent = self.received = 0
        self.tally = {}
        self.pid = None

    def request(self, method, path, body=b""):
        raw = build_request(method, path, body=body)
        self.conn.send(raw)
        self.sent += len(raw)
        r = self.conn.read_response(method=method)
        self.received += len(r.raw_head) + len(r.body)
        key = (method if method in KNOWN_METHODS else "other", f"{r.status // 100}xx")
        self.tally[key] = self.tally.get(key, 0) + 1
        return r


KNOWN_METHODS = ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS")

# (method, path, body, expected status) and how many of each.
PLAN = [
    (("GET", "/status/200", b"", 200), 24),
    (("POST", "/status/201", b"x" * 300, 201), 12),
    (("HEAD", "/status/200", b"", 200), 8),
    (("PUT", "/status/404", b"y" * 10, 404), 8),
    (("DELETE", "/status/500", b"", 500), 6),
    (("PATCH", "/status/302", b"", 302), 4),
    (("OPTIONS", "/status/204", b"", 204), 4),
    (("PROPFIND", "/status/207", b"", 207), 4),
    (("GET", "/sleep?ms=30", b"", 200), 2),
]


def run_plan(port, n_conns=8):
    """PLAN on n_conns keep-alive connections at once (so both workers get
    some); returns the clients."""
    clients = [Client(port) for _ in range(n_conns)]
    for c in clients:
        c.pid = int(c.request("GET", "/pid").body)
    work = [step for step, count in PLAN for _ in range(count)]

    def run(i):
        for method, path, body, status in work[i::n_conns]:
            r = clients[i].request(method, path, body)
            assert r.status == status, (method, path, r)

    with ThreadPoolExecutor(n_conns) as ex:
        list(ex.map(run, range(n_conns)))
    for c in clients:
        c.conn.close()
    return clients


def expected_requests(clients):
    tally = {}
    for c in clients:
        for k, v in c.tally.items():
            tally[k] = tally.get(k, 0) + v
    return tally


def worker_pids(fams):
    return {ls["worker"]: int(v) for _, ls, v in fams.samples("wsgihost_worker_pid")}


def wait_scrape(srv, pred, timeout, what):
    """Scrape until pred(families) is true; returns those families."""
    return wait_for(lambda: (lambda f: f if pred(f) else None)(scrape(srv.mtarget)), timeout,
                    what=what)


def listening_inode(port):
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            parts = line.split()
            if parts[3] == "0A" and int(parts[1].split(":")[1], 16) == port:
                return parts[9]
    raise AssertionError(f"nothing listens on port {port}")


def fd_links(pid):
    out = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            out.add(os.readlink(f"/proc/{pid}/fd/{fd}"))
        except OSError:
            pass
    return out


def children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except FileNotFoundError:
        return []


# -- the format -----------------------------------------------------------------

def test_exposition_parses_and_has_every_family(server_factory):
    srv = start(server_factory, "-w", "2")
    fams = scrape(srv.mtarget)
    for name, typ in [("wsgihost_requests_total", "counter"),
                      ("wsgihost_request_duration_seconds", "histogram"),
                      ("wsgihost_received_bytes_total", "counter"),
                      ("wsgihost_sent_bytes_total", "counter"),
                      ("wsgihost_connections_open", "gauge"),
                      ("wsgihost_connections_active", "gauge"),
                      ("wsgihost_pool_queued", "gauge"),
                      ("wsgihost_tls_handshakes_total", "counter"),
                      ("wsgihost_workers", "gauge"),
                      ("wsgihost_workers_busy", "gauge"),
                      ("wsgihost_worker_boots_total", "counter"),
                      ("wsgihost_worker_deaths_total", "counter"),
                      ("wsgihost_worker_timeouts_total", "counter"),
                      ("wsgihost_worker_busy", "gauge"),
                      ("wsgihost_worker_request_age_seconds", "gauge"),
                      ("wsgihost_worker_requests_total", "counter"),
                      ("wsgihost_worker_restarts_total", "counter"),
                      ("wsgihost_worker_resident_memory_bytes", "gauge"),
                      ("wsgihost_listen_backlog", "gauge"),
                      ("wsgihost_draining", "gauge")]:
        assert fams[name]["type"] == typ, name
    # Every method x status class series exists from the start.
    assert len(fams.samples("wsgihost_requests_total")) == 8 * 5
    assert fams.total("wsgihost_requests_total") == 0
    assert fams.value("wsgihost_workers") == 2
    assert set(worker_pids(fams)) == {"0", "1"}
    assert set(worker_pids(fams).values()) == set(children(srv.pid))
    for w in ("0", "1"):
        assert fams.value("wsgihost_worker_resident_memory_bytes", worker=w) > 1 << 20
        assert fams.value("wsgihost_worker_busy", worker=w) == 0
    assert fams.value("wsgihost_listen_backlog", listener=f"http://127.0.0.1:{srv.port}") == 0
    assert fams.value("wsgihost_listen_backlog_max", listener=f"http://127.0.0.1:{srv.port}") > 0
    # HEAD: the same head, no body.
    r = mget(srv.mtarget, method="HEAD")
    assert r.status == 200 and r.body == b"" and int(r.header("Content-Length")) > 1000


def test_parser_rejects_what_the_format_forbids():
    good = "# HELP wsgihost_x_total x.\n# TYPE wsgihost_x_total counter\nwsgihost_x_total 1\n"
    parse_prom(good)
    for bad in [good.replace("_total 1", "_total one"),            # value
                good.replace("# TYPE wsgihost_x_total counter\n", ""),  # no TYPE
                good + "wsgihost_x_total 2\n",                     # duplicate series
                good.replace("_total", ""),                        # counter without _total
                good.replace('x_total 1', 'x_total{a="1} 1'),      # label syntax
                good[:-1]]:                                        # no final newline
        with pytest.raises(AssertionError):
            parse_prom(bad)


# -- counters add up ---------------------------------------------------------------

def test_counters_add_up_across_workers(server_factory):
    srv = start(server_factory, "-w", "2")
    clients = run_plan(srv.port)
    fams = scrape(srv.mtarget)
    pids = worker_pids(fams)
    assert len({c.pid for c in clients}) == 2, "the load should reach both workers"

    want = expected_requests(clients)
    n = sum(want.values())
    assert n == 8 + sum(count for _, count in PLAN)
    for method in KNOWN_METHODS + ("other",):
        for cls in ("1xx", "2xx", "3xx", "4xx", "5xx"):
            assert fams.value("wsgihost_requests_total", method=method, status=cls) == \
                want.get((method, cls), 0), (method, cls)
    assert fams.total("wsgihost_requests_total") == n
    # Per worker: each connection stayed on one worker, whose pid it knows.
    for w, pid in pids.items():
        served = sum(sum(c.tally.values()) for c in clients if c.pid == pid)
        assert fams.value("wsgihost_worker_requests_total", worker=w) == served, w
    # Every byte either way.
    assert fams.value("wsgihost_received_bytes_total") == sum(c.sent for c in clients)
    assert fams.value("wsgihost_sent_bytes_total") == sum(c.received for c in clients)
    assert fams.value("wsgihost_connections_total") >= len(clients)
    assert fams.value("wsgihost_connections_active") == 0
    wait_scrape(srv, lambda f: f.value("wsgihost_connections_open") == 0, IO_TIMEOUT,
                "the closed connections to leave the gauge")

    # The histogram counts every request; the two 30 ms sleeps are above 25 ms.
    assert fams.value("wsgihost_request_duration_seconds_count") == n
    assert fams.value("wsgihost_request_duration_seconds_bucket", le="+Inf") == n
    assert fams.value("wsgihost_request_duration_seconds_bucket", le="0.025") <= n - 2
    assert fams.value("wsgihost_request_duration_seconds_sum") >= 0.060

    # Scrapes are not requests of the app.
    again = scrape(srv.mtarget)
    assert again.total("wsgihost_requests_total") == n
    assert again.value("wsgihost_received_bytes_total") == \
        fams.value("wsgihost_received_bytes_total")


def test_bad_requests_count_as_4xx(server_factory):
    srv = start(server_factory, "-w", "1")
    with RawConn(srv.port) as c:
        c.send(b"GET / HTTP/1.1\r\nHost: a\r\nBad Header\r\n\r\n")
        assert c.read_response().status == 400
    fams = scrape(srv.mtarget)
    assert fams.value("wsgihost_requests_total", method="other", status="4xx") == 1
    assert fams.value("wsgihost_request_duration_seconds_count") == 1


def test_counters_never_go_back_when_a_worker_dies(server_factory):
    srv = start(server_factory, "-w", "2")
    clients = run_plan(srv.port)
    before = scrape(srv.mtarget)
    n = before.total("wsgihost_requests_total")
    assert n == sum(sum(c.tally.values()) for c in clients)
    pids = worker_pids(before)
    victim_slot, victim = max(pids.items(),
                              key=lambda kv: before.value("wsgihost_worker_requests_total",
                                                          worker=kv[0]))
    served = before.value("wsgihost_worker_requests_total", worker=victim_slot)
    assert served > 0
    os.kill(victim, signal.SIGKILL)

    def respawned():
        f = scrape(srv.mtarget)
        p = worker_pids(f).get(victim_slot)
        return f if p not in (None, 0, victim) and \
            f.value("wsgihost_worker_ready", None, worker=victim_slot) == 1 else None

    after = wait_for(respawned, 10 * SLOW, what="the killed worker's slot serving again")
    assert after.value("wsgihost_worker_deaths_total") == 1
    assert after.value("wsgihost_worker_boots_total") == 3
    assert after.value("wsgihost_worker_restarts_total", worker=victim_slot) == 1
    # No request since: every counter is where it was (the dead worker's
    # folded into the totals), the supervision ones went up.
    went_up = ("wsgihost_worker_boots_total", "wsgihost_worker_deaths_total",
               "wsgihost_worker_restarts_total")
    for name, fam in before.items():
        if fam["type"] not in ("counter", "histogram"):
            continue
        for sname, labels, v in fam["samples"]:
            now = [v2 for n2, l2, v2 in after[name]["samples"] if n2 == sname and l2 == labels]
            assert len(now) == 1, (sname, labels)
            if name in went_up:
                assert now[0] >= v, (sname, labels, v, now[0])
            else:
                assert now[0] == v, (sname, labels, v, now[0])
    # And they go on from there.
    more = run_plan(srv.port, n_conns=4)
    final = scrape(srv.mtarget)
    assert final.total("wsgihost_requests_total") == n + sum(sum(c.tally.values()) for c in more)
    assert final.value("wsgihost_request_duration_seconds_count") == \
        final.total("wsgihost_requests_total")


def test_timeout_kills_are_counted(server_factory, tmp_path):
    srv = start(server_factory, "-w", "1", "--timeout", "1")
    mark = tmp_path / "in-app"
    with RawConn(srv.port, timeout=20 * SLOW) as c:
        c.send(build_request("GET", f"/sleep?ms=8000&mark={mark}"))
        wait_for(mark.exists, IO_TIMEOUT, what="the request inside the app")
        f = wait_scrape(srv, lambda f: f.value("wsgihost_worker_busy", worker="0") == 1,
                        IO_TIMEOUT, "worker 0 busy")
        assert f.value("wsgihost_workers_busy") == 1
        assert f.value("wsgihost_worker_request_age_seconds", worker="0") >= 0
        c.read_until_close(timeout=15 * SLOW)
    # The replacement starts while the killed one is still dying: in
    # another slot.
    f = wait_scrape(srv, lambda f: f.value("wsgihost_worker_boots_total") == 2 and
                    f.value("wsgihost_workers") == 1 and
                    [v for _, _, v in f.samples("wsgihost_worker_ready")] == [1], 15 * SLOW,
                    "the timed-out worker replaced")
    assert f.value("wsgihost_worker_timeouts_total") == 1
    assert f.value("wsgihost_worker_deaths_total") == 0  # asked to die: not a death
    assert "WORKER TIMEOUT" in srv.log()


def test_pool_queue_and_busy_workers(server_factory, tmp_path):
    srv = start(server_factory, "-w", "1", "--threads", "2")
    socks = []
    try:
        for i in range(5):
            c = RawConn(srv.port, timeout=20 * SLOW)
            c.send(build_request("GET", "/sleep?ms=2500"))
            socks.append(c)

        f = wait_scrape(srv, lambda f: f.value("wsgihost_pool_queued") == 3, 5 * SLOW,
                        "three calls waiting for the two pool threads")
        assert f.value("wsgihost_connections_active") == 5
        assert f.value("wsgihost_connections_open") == 5
        f = wait_scrape(srv, lambda f: f.value("wsgihost_worker_busy", worker="0") == 1,
                        2 * SLOW, "the heartbeat of a pool call")
        assert f.value("wsgihost_workers_busy") == 1
        assert f.value("wsgihost_worker_request_age_seconds", worker="0") > 0
        for c in socks:
            assert c.read_response().status == 200
    finally:
        for c in socks:
            c.close()
    f = scrape(srv.mtarget)
    assert f.value("wsgihost_pool_queued") == 0
    assert f.value("wsgihost_connections_active") == 0
    # 2.5 s sleeps, two at a time: above 2.5 s each, the second pair above 5 s.
    assert f.value("wsgihost_request_duration_seconds_bucket", le="2.5") == 0
    assert f.value("wsgihost_request_duration_seconds_bucket", le="10") == 5


def test_listen_backlog_while_the_worker_is_stuck(server_factory, tmp_path):
    # One worker, no pool: an app call blocks its loop, so new connections
    # wait in the listening socket's accept queue.
    srv = start(server_factory, "-w", "1", "--threads", "1")
    mark = tmp_path / "in-app"
    listener = f"http://127.0.0.1:{srv.port}"
    conns = []
    try:
        slow = RawConn(srv.port, timeout=20 * SLOW)
        slow.send(build_request("GET", f"/sleep?ms=3000&mark={mark}"))
        conns.append(slow)
        wait_for(mark.exists, IO_TIMEOUT, what="the request inside the app")
        for _ in range(3):
            c = RawConn(srv.port, timeout=20 * SLOW)
            c.send(build_request("GET", "/status/200"))  # data: past TCP_DEFER_ACCEPT
            conns.append(c)
        f = wait_scrape(srv, lambda f: f.value("wsgihost_listen_backlog", listener=listener) == 3,
                        5 * SLOW, "3 connections in the accept queue")
        assert f.value("wsgihost_listen_backlog_max", listener=listener) > 3
        for c in conns:
            assert c.read_response().status == 200
    finally:
        for c in conns:
            c.close()
    assert scrape(srv.mtarget).value("wsgihost_listen_backlog", listener=listener) == 0


# -- /healthz ---------------------------------------------------------------------

@pytest.mark.parametrize("workers", [[], ["-w", "1"]], ids=["single", "w1"])
def test_healthz_503_while_draining(server_factory, tmp_path, workers):
    srv = start(server_factory, *workers, "--graceful-timeout", "20")
    r = mget(srv.mtarget, "/healthz")
    assert (r.status, r.body) == (200, b"ok\n")
    assert r.header("Content-Type") == "text/plain; charset=utf-8"
    mark = tmp_path / "in-app"
    with RawConn(srv.port, timeout=20 * SLOW) as c:
        c.send(build_request("GET", f"/sleep?ms=2500&mark={mark}"))
        wait_for(mark.exists, IO_TIMEOUT, what="the slow request inside the app")
        srv.send_signal(signal.SIGTERM)
        r = wait_for(lambda: (lambda r: r if r.status == 503 else None)(
            mget(srv.mtarget, "/healthz")), IO_TIMEOUT, what="healthz 503 while draining")
        assert r.body == b"shutting down\n"
        assert mget(srv.mtarget, "/healthz", method="HEAD").status == 503
        assert scrape(srv.mtarget).value("wsgihost_draining") == 1
        assert srv.proc.poll() is None, "still draining the slow request"
        resp = c.read_response()
        assert resp.status == 200 and resp.body == b"slept 2500"
    assert srv.wait(15 * SLOW) == 0, "a clean exit once the slow request is done"


def test_healthz_503_when_no_worker_is_up(server_factory):
    # The app takes a while to import: no worker is ready meanwhile, at
    # start and after a worker dies.
    srv = server_factory(APP, *METRICS, "-w", "1", env={"METRICS_APP_IMPORT_SLEEP": "1.5"})
    srv.mtarget = srv.mport
    r = mget(srv.mtarget, "/healthz")
    assert (r.status, r.body) == (503, b"no worker is ready\n")
    wait_for(lambda: mget(srv.mtarget, "/healthz").status == 200, START_TIMEOUT + 2,
             what="the first worker ready")
    (victim,) = children(srv.pid)
    os.kill(victim, signal.SIGKILL)
    r = wait_for(lambda: (lambda r: r if r.status == 503 else None)(
        mget(srv.mtarget, "/healthz")), IO_TIMEOUT, what="503 while the replacement boots")
    assert r.body == b"no worker is ready\n"
    wait_for(lambda: mget(srv.mtarget, "/healthz").status == 200, START_TIMEOUT + 2,
             what="the replacement ready")


# -- the listener itself ----------------------------------------------------------

def test_metrics_are_not_on_the_app_port(server_factory):
    srv = start(server_factory, "-w", "1")
    r = RawConn(srv.port)
    r.send(build_request("GET", "/metrics"))
    resp = r.read_response()
    r.close()
    assert (resp.status, resp.body) == (404, b"app: /metrics"), "the app answers its own port"
    assert srv.mport != srv.port
    r = mget(srv.mtarget, "/")
    assert r.status == 404 and b"/metrics and /healthz" in r.body
    assert mget(srv.mtarget, "/metrics?x=1").status == 200
    r = mget(srv.mtarget, "/metrics", method="POST")
    assert r.status == 405 and r.header("Allow") == "GET, HEAD"
    assert mget(srv.mtarget, "/healthz", method="DELETE").status == 405
    assert mget(srv.mtarget, "/elsewhere", method="POST").status == 404
    # The metrics socket is the master's alone: the worker that runs the
    # app holds the app's listening socket, not that one.
    (worker,) = children(srv.pid)
    msock = f"socket:[{listening_inode(srv.mport)}]"
    assert msock in fd_links(srv.pid)
    assert msock not in fd_links(worker)
    assert f"socket:[{listening_inode(srv.port)}]" in fd_links(worker)


def test_bad_requests_to_the_metrics_listener(server_factory):
    srv = start(server_factory, "-w", "1")
    assert mget(srv.mtarget, raw=b"HELLO\r\n\r\n").status == 400
    assert mget(srv.mtarget, raw=b"GET /metrics HTTP/2.0\r\n\r\n").status == 400
    assert mget(srv.mtarget, raw=b"GET  /metrics HTTP/1.1\r\n\r\n").status == 400
    big = b"GET /metrics HTTP/1.1\r\nX: " + b"a" * 9000 + b"\r\n\r\n"
    with RawConn(srv.mport) as c:
        c.try_send(big)
        assert c.read_response().status == 431
    # A body nobody asked for does not turn the answer into a reset.
    r = mget(srv.mtarget, raw=build_request("POST", "/metrics", body=b"z" * 50000))
    assert r.status == 405
    # A client that stops halfway is closed after METRICS_SERVER_TIMEOUT (5 s),
    # and does not hold up the others meanwhile.
    t0 = time.monotonic()
    with RawConn(srv.mport, timeout=15 * SLOW) as stalled:
        stalled.send(b"GET /metrics HTTP/1.1\r\n")
        assert mget(srv.mtarget, "/healthz").status == 200
        stalled.assert_closed(timeout=15 * SLOW)
    assert 4.0 < time.monotonic() - t0 < 5 + 5 * SLOW
    assert scrape(srv.mtarget).total("wsgihost_requests_total") == 0


def test_unix_socket_metrics(server_factory, tmp_path):
    path = str(tmp_path / "metrics.sock")
    app_sock = str(tmp_path / "app.sock")
    srv = start(server_factory, "-w", "1", metrics=("--metrics-bind", f"unix:{path}"),
                binds=[f"unix:{app_sock}", "127.0.0.1:{port2}"])
    assert os.path.exists(path)
    with RawConn(unix_path=app_sock) as c:
        c.send(build_request("GET", "/status/201"))
        assert c.read_response().status == 201
    fams = scrape(path)
    assert fams.value("wsgihost_requests_total", method="GET", status="2xx") == 1
    # Unix listeners have no backlog series (Linux does not report one); TCP ones do.
    backlog = {ls["listener"] for _, ls, _ in fams.samples("wsgihost_listen_backlog")}
    assert backlog == {f"http://127.0.0.1:{srv.port2}"}
    assert "unix sockets" in fams["wsgihost_listen_backlog"]["help"]
    assert srv.stop() == 0
    assert not os.path.exists(path), "the metrics socket is removed on exit"


def test_single_process_mode(server_factory):
    srv = start(server_factory, "--threads", "2")
    clients = run_plan(srv.port, n_conns=4)
    fams = scrape(srv.mtarget)
    n = sum(sum(c.tally.values()) for c in clients)
    assert fams.total("wsgihost_requests_total") == n
    assert fams.value("wsgihost_request_duration_seconds_count") == n
    assert fams.value("wsgihost_received_bytes_total") == sum(c.sent for c in clients)
    assert fams.value("wsgihost_sent_bytes_total") == sum(c.received for c in clients)
    assert worker_pids(fams) == {"0": srv.pid}
    assert fams.value("wsgihost_worker_requests_total", worker="0") == n
    assert fams.value("wsgihost_workers") == 1
    assert fams.value("wsgihost_worker_boots_total") == 1
    assert fams.value("wsgihost_worker_ready", worker="0") == 1
    assert mget(srv.mtarget, "/healthz").status == 200


def test_tls_handshakes(server_factory, tmp_path):
    key, cert = tmp_path / "k.pem", tmp_path / "c.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "2", "-subj", "/CN=127.0.0.1"], check=True, capture_output=True)
    srv = start(server_factory, "-w", "1", "--certfile", str(cert), "--keyfile", str(key))
    before = scrape(srv.mtarget)
    ctx = ssl.create_default_context(cafile=str(cert))
    ctx.check_hostname = False
    with socket.create_connection(("127.0.0.1", srv.port), timeout=IO_TIMEOUT) as raw:
        with ctx.wrap_socket(raw) as s:
            s.sendall(build_request("GET", "/status/200"))
            assert s.recv(100).startswith(b"HTTP/1.1 200")
    with RawConn(srv.port) as c:  # plain HTTP to the TLS port
        c.try_send(build_request("GET", "/"))
        c.read_until_close(timeout=IO_TIMEOUT)

    def counted():
        f = scrape(srv.mtarget)
        return f if f.value("wsgihost_tls_handshakes_total", result="failed") > \
            before.value("wsgihost_tls_handshakes_total", result="failed") else None

    after = wait_for(counted, IO_TIMEOUT, what="the failed handshake counted")
    assert after.value("wsgihost_tls_handshakes_total", result="ok") == \
        before.value("wsgihost_tls_handshakes_total", result="ok") + 1
    assert after.value("wsgihost_requests_total", method="GET", status="2xx") == 1


# -- configuration -----------------------------------------------------------------

@pytest.mark.parametrize("value, message", [
    ("", "--metrics-bind: empty address"),
    ("localhost", "give the port too (HOST:PORT)"),
    ("[::1]", "give the port too ([IPv6]:PORT)"),
    ("127.0.0.1:http", "is not a port number"),
    ("127.0.0.1:70000", "is not a port number"),
    ("unix:", "empty unix socket path"),
    ("::1:9000", "write IPv6 addresses in brackets"),
    ("127.0.0.1:8000", "also the default --bind"),
])
def test_bad_values(value, message):
    r = run_binary(["--metrics-bind", value, APP])
    assert r.returncode == 2, r
    assert message in r.stderr and "wsgihost: error:" in r.stderr, r.stderr


def test_same_address_as_a_bind():
    r = run_binary(["-b", "127.0.0.1:8123", "--metrics-bind", "127.0.0.1:8123", APP])
    assert r.returncode == 2 and "also a --bind" in r.stderr, r.stderr
    r = run_binary(["--metrics-bind"])
    assert r.returncode == 2 and "requires a value" in r.stderr, r.stderr


def test_config_file_and_print_config(tmp_path):
    conf = tmp_path / "w.conf.py"
    conf.write_text("metrics_bind = '127.0.0.1:9107'\n")
    r = run_binary(["-c", str(conf), "--print-config", APP])
    assert r.returncode == 0 and "metrics_bind = 127.0.0.1:9107" in r.stdout, r
    conf.write_text("metrics_bind = 'nowhere'\n")
    r = run_binary(["-c", str(conf), APP])
    assert r.returncode == 2 and "--metrics-bind: 'nowhere': give the port" in r.stderr, r.stderr
    r = run_binary(["--help"])
    assert "--metrics-bind ADDRESS" in r.stdout


def test_port_in_use_is_a_startup_error(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        r = run_binary(["-b", f"127.0.0.1:{free_port()}", "--metrics-bind", f"127.0.0.1:{port}",
                        "--pythonpath", str(tmp_path), APP])
    assert r.returncode == 1, r
    assert f"--metrics-bind: cannot bind 127.0.0.1:{port}" in r.stderr, r.stderr
