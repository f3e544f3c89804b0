"""Serve one app under gunicorn and under wsgihost, send both the same
requests, and compare what comes back (tests/test_vs_gunicorn.py).

What is compared: the status line (code and reason), the header fields as a
multiset of (lower-cased name, value), and the body after the framing is
undone, byte for byte. Fields that legitimately differ are left out: Date,
Server, Connection, Keep-Alive, and the framing itself (Transfer-Encoding
chunked against Content-Length; a Content-Length both send must agree, and
must match the body). Values that are random or time-dependent by design
(CSRF tokens, session ids, a signed cookie's timestamp) are replaced by
per-app normalisers before comparing.

gunicorn 20.1's sync worker closes the connection after every response, so
it gets one connection per request; wsgihost is asked the same sequence both
that way and over one keep-alive connection, and must answer the same."""

import base64
import json
import os
import re
import signal
import socket
import subprocess
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from support import SERVER_ENV_VARS, START_TIMEOUT, STOP_TIMEOUT, RawConn, ServerError, free_port

SYSTEM_PYTHON = "/usr/bin/python3"
HOST = "app.test"  # the same Host for both servers: URLs built by the app must match

IGNORED = {"date", "server", "connection", "keep-alive", "transfer-encoding", "content-length"}


def gunicorn_available():
    r = subprocess.run([SYSTEM_PYTHON, "-c", "import gunicorn"], capture_output=True)
    return r.returncode == 0


class Gunicorn:
    """gunicorn 20.1 (Debian's), one sync worker, on a free loopback port."""

    def __init__(self, app, *, pythonpath, workdir, env=None, args=()):
        self.app = app
        self.pythonpath = str(pythonpath)
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.env = {k: v for k, v in os.environ.items() if k not in SERVER_ENV_VARS}
        self.env.update(env or {})
        self.args = list(args)
        self.proc = None
        self.port = None
        self.log_path = self.workdir / "gunicorn.log"

    def start(self):
        for attempt in range(3):
            self.port = free_port()
            cmd = [SYSTEM_PYTHON, "-m", "gunicorn", "-w", "1", "-k", "sync",
                   "-b", f"127.0.0.1:{self.port}", "--pythonpath", self.pythonpath,
                   "--chdir", str(self.workdir), "--log-level", "warning", *self.args, self.app]
            with open(self.log_path, "ab") as log:
                self.proc = subprocess.Popen(cmd, env=self.env, stdin=subprocess.DEVNULL,
                                             stdout=log, stderr=log, start_new_session=True)
            deadline = time.monotonic() + START_TIMEOUT
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    break
                try:
                    socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                    return self
                except OSError:
                    time.sleep(0.02)
            self.stop()
            if "in use" in self.log() and attempt < 2:
                continue
            raise ServerError(f"gunicorn did not start ({cmd}):\n{self.log()[-3000:]}")
        raise ServerError("could not start gunicorn")

    def log(self):
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        os.kill(self.proc.pid, signal.SIGQUIT)  # gunicorn's quick stop: nothing is in flight
        try:
            self.proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=STOP_TIMEOUT)


# -- requests and results -------------------------------------------------------

@dataclass
class Req:
    method: str = "GET"
    path: str = "/"
    headers: list = field(default_factory=list)
    body: object = b""  # bytes, or a callable(client) -> bytes (built from earlier answers)
    version: str = "HTTP/1.1"
    cookies: bool = True  # send the client's cookie jar

    def serialise(self, client):
        body = self.body(client) if callable(self.body) else self.body
        lines = [f"{self.method} {self.path} {self.version}".encode()]
        names = {n.lower() for n, _ in self.headers}
        if "host" not in names:
            lines.append(f"Host: {HOST}".encode())
        for n, v in self.headers:
            v = v(client) if callable(v) else v
            lines.append(n.encode("latin-1") + b": " + v.encode("latin-1"))
        sent = client.cookies_for(self.path.split("?")[0]) if self.cookies else ""
        if sent and "cookie" not in names:
            lines.append(b"Cookie: " + sent.encode("latin-1"))
        if (body or self.method in ("POST", "PUT", "PATCH")) and "content-length" not in names \
                and "transfer-encoding" not in names:
            lines.append(b"Content-Length: %d" % len(body))
        return b"\r\n".join(lines) + b"\r\n\r\n" + body


@dataclass
class Result:
    status: int
    reason: str
    headers: list  # [(lower name, value)] without the IGNORED ones, sorted
    body: bytes
    complete: bool
    content_length: object  # str or None
    framing: str  # "length", "chunked", "close", "none"
    raw_head: bytes = b""
    raw_len: int = 0  # body bytes as received (before normalising)
    names: list = field(default_factory=list)  # field names as sent (case kept), sorted

    def header(self, name):
        vals = [v for n, v in self.headers if n == name]
        return ", ".join(vals) if vals else None


class Client:
    """A cookie jar and, with keepalive=True, one connection for the whole
    sequence (reconnecting only after a response that announced a close)."""

    def __init__(self, port, keepalive=False, cookies=True):
        self.port = port
        self.keepalive = keepalive
        self.cookies = cookies  # False: never store a cookie (pipelined sequences)
        self.jar = {}  # name -> (value, path), as a browser on http://app.test keeps them
        self.conn = None
        self.last = None  # the last raw Response
        self.history = []

    def close(self):
        if self.conn:
            self.conn.close()
            self.conn = None

    def send(self, req):
        if self.conn is None or not self.keepalive:
            self.close()
            self.conn = RawConn(self.port)
        self.conn.send(req.serialise(self))
        resp = self.conn.read_response(method=req.method, allow_incomplete=True)
        self.last = resp
        self.history.append(resp)
        self._store_cookies(resp)
        closes = (resp.has_token("Connection", "close") or not resp.complete
                  or resp.close_delimited or req.version == "HTTP/1.0")
        if self.keepalive and closes:
            self.close()
        return resp

    def cookies_for(self, path):
        return "; ".join(f"{k}={v}" for k, (v, p) in self.jar.items()
                         if path == p or path.startswith(p.rstrip("/") + "/"))

    def _store_cookies(self, resp):
        """What a browser on http://app.test keeps: not Secure ones, not
        another domain's; Max-Age=0 or an expiry in 1970 deletes."""
        if not self.cookies:
            return
        for value in resp.header_all("Set-Cookie"):
            pair, _, attrs = value.partition(";")
            name, _, val = pair.strip().partition("=")
            attr = {}
            for a in attrs.split(";"):
                k, _, v = a.strip().partition("=")
                attr[k.lower()] = v.strip()
            if "secure" in attr or attr.get("domain", HOST).lstrip(".") != HOST:
                continue
            if attr.get("max-age") == "0" or "1970" in attr.get("expires", ""):
                self.jar.pop(name, None)
            else:
                self.jar[name] = (val, attr.get("path") or "/")

def framing(resp):
    if resp.chunked:
        return "chunked"
    if resp.header("Content-Length") is not None:
        return "length"
    if resp.close_delimited:
        return "close"
    return "none"


def to_result(resp, normalise=None):
    headers = sorted((n.lower(), v) for n, v in resp.headers if n.lower() not in IGNORED)
    body = resp.body
    if normalise:
        headers, body = normalise(headers, body)
        headers = sorted(headers)
    return Result(resp.status, resp.reason, headers, body, resp.complete,
                  resp.header("Content-Length"), framing(resp), resp.raw_head, len(resp.body),
                  sorted(n for n, _ in resp.headers if n.lower() not in IGNORED))


def run_sequence(port, steps, keepalive=False, normalise=None, cookies=True):
    client = Client(port, keepalive=keepalive, cookies=cookies)
    out = []
    try:
        for step in steps:
            out.append(to_result(client.send(step), normalise))
    finally:
        client.close()
    return out


def run_pipelined(port, steps, normalise=None):
    """All the requests in one write on one connection, then the answers."""
    client = Client(port, cookies=False)
    with RawConn(port) as conn:
        conn.send(b"".join(step.serialise(client) for step in steps))
        return [to_result(conn.read_response(method=step.method, allow_incomplete=True),
                          normalise) for step in steps]


def describe_difference(label, a, b, method="GET"):
    """None when the two Results agree, else a readable account of how not."""
    problems = []
    if (a.status, a.reason) != (b.status, b.reason):
        problems.append(f"status: gunicorn {a.status} {a.reason!r}, "
                        f"wsgihost {b.status} {b.reason!r}")
    if a.headers != b.headers:
        only_a = [h for h in a.headers if h not in b.headers]
        only_b = [h for h in b.headers if h not in a.headers]
        problems.append(f"headers only from gunicorn: {only_a}; only from wsgihost: {only_b}")
    if a.headers == b.headers and a.names != b.names:
        problems.append(f"field name case: gunicorn {a.names}, wsgihost {b.names}")
    if a.body != b.body:
        i = next((k for k in range(min(len(a.body), len(b.body))) if a.body[k] != b.body[k]),
                 min(len(a.body), len(b.body)))
        problems.append(f"bodies differ at byte {i} (lengths {len(a.body)} / {len(b.body)}): "
                        f"gunicorn {a.body[max(0, i - 40):i + 80]!r}, "
                        f"wsgihost {b.body[max(0, i - 40):i + 80]!r}")
    if a.complete != b.complete:
        problems.append(f"complete response: gunicorn {a.complete}, wsgihost {b.complete}")
    if a.content_length is not None and b.content_length is not None \
            and a.content_length != b.content_length:
        problems.append(f"Content-Length: gunicorn {a.content_length}, wsgihost {b.content_length}")
    for name, r in (("wsgihost", b),):
        if r.framing == "length" and method != "HEAD" and r.status not in (204, 304) \
                and r.complete and int(r.content_length) != r.raw_len:
            problems.append(f"{name}: Content-Length {r.content_length} but {r.raw_len} bytes")
    if problems:
        return f"{label}:\n  " + "\n  ".join(problems)
    return None


def compare(steps, ref, got, what="wsgihost"):
    """Assert two result lists agree step by step; the message names each step."""
    assert len(ref) == len(got)
    diffs = []
    for i, (step, a, b) in enumerate(zip(steps, ref, got)):
        d = describe_difference(f"step {i} {step.method} {step.path} ({what})", a, b, step.method)
        if d:
            diffs.append(d)
    assert not diffs, "\n".join(diffs)


# -- normalisers -------------------------------------------------------------------

HTTP_DATE = re.compile(r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d[ -](Jan|Feb|Mar|Apr|May|Jun|Jul|Aug"
                       r"|Sep|Oct|Nov|Dec)[ -]\d{4} \d\d:\d\d:\d\d GMT")


def strip_dates(headers, names=("set-cookie", "expires")):
    """Dates that are 'now + N' (cookie expiry, Expires) differ by the time
    between the two requests: replaced, in those fields only."""
    return [(n, HTTP_DATE.sub("<date>", v) if n in names else v) for n, v in headers]


def flask_session_payload(value, random_keys=()):
    """A Flask session cookie is payload.timestamp.signature (the payload
    zlib-compressed when it starts with '.'): the payload is what must match."""
    compressed = value.startswith(".")
    parts = value.lstrip(".").split(".")
    if len(parts) != 3:
        return value
    data = base64.urlsafe_b64decode(parts[0] + "=" * (-len(parts[0]) % 4))
    if compressed:
        data = zlib.decompress(data)
    try:
        obj = json.loads(data)
    except ValueError:
        return value
    for k in random_keys:
        if k in obj:
            obj[k] = "<random>"
    return "<session " + json.dumps(obj, sort_keys=True) + ">"


def flask_normaliser(random_keys=(), extra=None):
    def normalise(headers, body):
        headers = strip_dates(headers)
        out = []
        for n, v in headers:
            if n == "set-cookie" and v.startswith("session="):
                val, sep, rest = v[len("session="):].partition(";")
                v = "session=" + flask_session_payload(val, random_keys) + sep + rest
            out.append((n, v))
        if extra:
            out, body = extra(out, body)
        return out, body
    return normalise


def ungzip_mtime(headers, body):
    """gzip writes the time into bytes 4-7 of its header."""
    if ("content-encoding", "gzip") in headers and body[:2] == b"\x1f\x8b" and len(body) > 8:
        body = body[:4] + b"\0\0\0\0" + body[8:]
    return headers, body
