"""Shared helpers for the wsgihost test suite: start the built binary, talk raw
HTTP/1.x to it, parse responses strictly.

Every network operation has a timeout and every loop a bound, so a server that
hangs makes a test fail instead of the suite stalling.
"""

import errno
import json
import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

SOURCE_ROOT = Path(os.environ.get("WSGIHOST_SOURCE_ROOT")
                   or Path(__file__).resolve().parent.parent).resolve()
BIN = Path(os.environ.get("WSGIHOST_BIN") or SOURCE_ROOT / "build" / "wsgihost").resolve()
APPS = SOURCE_ROOT / "tests" / "apps"

# Sanitizer builds run several times slower: time bounds scale with this.
SANITIZER = os.environ.get("WSGIHOST_SANITIZER", "") not in ("", "0")
SLOW = 4.0 if SANITIZER else 1.0

START_TIMEOUT = 10.0 * SLOW
STOP_TIMEOUT = 10.0 * SLOW
IO_TIMEOUT = 5.0 * SLOW

# Environment variables that change the server's behaviour (config.c,
# listener.c); removed from the environment a test server inherits.
SERVER_ENV_VARS = ("WEB_CONCURRENCY", "WSGIHOST_CMD_ARGS", "FORWARDED_ALLOW_IPS", "LISTEN_PID",
                   "LISTEN_FDS", "LISTEN_FDNAMES", "VIRTUAL_ENV", "WSGIHOST_EMBEDDED",
                   "WSGIHOST_STATIC_NO_OPENAT2",
                   "GUNICORN_CMD_ARGS", "WSGIHOST_UPGRADE_FROM", "WSGIHOST_FDS",
                   "WSGIHOST_METRICS_FD", "WSGIHOST_FDS_SYSTEMD")

# A test fails when its server's log holds one of these.
BAD_LOG_PATTERNS = ("Sanitizer", "runtime error:", "[CRITICAL]")


class ServerError(AssertionError):
    pass


def load_app_module(name):
    """Import tests/apps/<name>.py in the test process (to share its helpers)."""
    import importlib.util
    spec = importlib.util.spec_from_file_location(f"_apps_{name}", APPS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def free_port(family=socket.AF_INET, host="127.0.0.1"):
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout, interval=0.02, what="condition"):
    """Poll predicate() until it is truthy or timeout seconds pass; returns its
    value or raises AssertionError."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:.1f}s waiting for {what}")
        time.sleep(interval)


def pid_alive(pid):
    """Running, not a zombie waiting for whoever reaps orphans."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def stop_pid(pid, timeout=None):
    """TERM a process that is not our child (an upgrade's new master) and
    wait until it is gone; KILL it, and fail, after the bound."""
    if not pid_alive(pid):
        return
    os.kill(pid, signal.SIGTERM)
    try:
        wait_for(lambda: not pid_alive(pid), timeout or STOP_TIMEOUT, what=f"pid {pid} to exit")
    except AssertionError:
        os.kill(pid, signal.SIGKILL)
        raise


def new_master_pid(log, nth=1):
    """The pid of the nth new master a USR2 started, from the old one's log."""
    marks = log.split("New master started (pid ")
    assert len(marks) > nth, log[-3000:]
    return int(marks[nth].split(")", 1)[0])


def fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def fd_targets(pid):
    out = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            out.append(os.readlink(f"/proc/{pid}/fd/{fd}"))
        except OSError:
            pass
    return out


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def run_binary(args, timeout=None, cwd=None, env=None, binary=None):
    """Run the binary (or another copy of it) to completion (start-up errors,
    --help): returns CompletedProcess with text stdout/stderr. A hang fails
    the test."""
    timeout = timeout or START_TIMEOUT
    if env is None:
        env = {k: v for k, v in os.environ.items() if k not in SERVER_ENV_VARS}
    try:
        return subprocess.run([str(binary or BIN), *args], cwd=cwd or SOURCE_ROOT, env=env,
                              stdin=subprocess.DEVNULL, capture_output=True,
                              timeout=timeout, text=True, errors="replace")
    except subprocess.TimeoutExpired as e:
        raise AssertionError(f"wsgihost {args} did not exit within {timeout}s "
                             f"(stderr so far: {e.stderr!r})") from None


class Server:
    """One wsgihost process.

    binds: list of bind specs; "{port}" is replaced by a free port. The first
    TCP or unix bind is used for the readiness check and as .port.
    "{mport}" in args is replaced by another free port (.mport), chosen
    again on each start attempt (--metrics-bind 127.0.0.1:{mport}).
    """

    def __init__(self, app, args=(), *, workdir, env=None, cwd=None, pythonpath=True,
                 binds=None, binary=None):
        self.app = app
        self.binary = Path(binary) if binary else BIN  # an installed copy (test_install)
        self.args = list(args)
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.env = dict(os.environ)
        # Variables the server reads would make a test depend on the caller's
        # shell; a test that wants one passes it in env.
        for name in SERVER_ENV_VARS:
            self.env.pop(name, None)
        if env:
            self.env.update(env)
        self.cwd = cwd or SOURCE_ROOT
        self.pythonpath = pythonpath
        self.bind_templates = binds or ["127.0.0.1:{port}"]
        self.proc = None
        self.port = None
        self.mport = None
        self.unix_path = None
        self.returncode = None
        self.stdout_path = self.workdir / "stdout.log"
        self.stderr_path = self.workdir / "stderr.log"
        self.log_offset = 0

    # -- life cycle -------------------------------------------------------
    def command(self):
        cmd = [str(self.binary)]
        for b in self.binds:
            cmd += ["-b", b]
        if self.pythonpath:
            cmd += ["--pythonpath", str(APPS)]
        cmd += [a.replace("{mport}", str(self.mport)) if self.mport else a for a in self.args]
        cmd.append(self.app)
        return cmd

    def start(self):
        for attempt in range(3):
            self.port = free_port()
            self.port2 = free_port()
            self.mport = free_port()
            self.binds = [b.replace("{port}", str(self.port)).replace("{port2}", str(self.port2))
                          for b in self.bind_templates]
            self.unix_path = None
            if self.binds[0].startswith("unix:"):
                self.unix_path = self.binds[0][5:]
            with open(self.stdout_path, "ab") as out, open(self.stderr_path, "ab") as err:
                self.proc = subprocess.Popen(self.command(), cwd=self.cwd, env=self.env,
                                             stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                             start_new_session=True)
            try:
                self.wait_ready()
                return self
            except ServerError:
                if self.proc.poll() is not None and "in use" in self.log() and attempt < 2:
                    continue  # lost a race for the port with another process
                self.kill()
                raise
        raise ServerError("could not start the server")

    def wait_ready(self, timeout=START_TIMEOUT):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ServerError(f"server exited with {self.proc.returncode} during start-up:\n"
                                  + self.log())
            try:
                first = self.binds[0]
                if first.startswith("unix:"):
                    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                    s.settimeout(1)
                    s.connect(first[5:])
                else:
                    host, _, port = first.rpartition(":")
                    host = host.strip("[]") or "127.0.0.1"
                    if host in ("0.0.0.0", ""):
                        host = "127.0.0.1"
                    elif host == "::":
                        host = "::1"
                    s = socket.create_connection((host, int(port)), timeout=1)
                s.close()
                return
            except OSError:
                time.sleep(0.02)
        raise ServerError(f"server not accepting connections after {timeout}s:\n" + self.log())

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def send_signal(self, sig):
        if self.alive():
            os.kill(self.proc.pid, sig)

    def wait(self, timeout):
        """Wait for the process to exit; returns the exit code or None."""
        try:
            self.returncode = self.proc.wait(timeout=timeout)
            return self.returncode
        except subprocess.TimeoutExpired:
            return None

    def stop(self, sig=signal.SIGTERM, timeout=None):
        """SIGTERM (or sig), then SIGKILL after a bound. Returns the exit code
        of the graceful stop, or raises ServerError if it had to be killed."""
        if self.proc is None:
            return None
        if self.proc.poll() is not None:
            self.returncode = self.proc.returncode
            return self.returncode
        os.kill(self.proc.pid, sig)
        rc = self.wait(timeout or STOP_TIMEOUT)
        if rc is None:
            self.kill()
            raise ServerError(f"server did not exit within {timeout or STOP_TIMEOUT}s "
                              f"after signal {sig}; killed\n" + self.log()[-4000:])
        return rc

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=STOP_TIMEOUT)

    # -- logs -------------------------------------------------------------
    def stderr(self):
        return self.stderr_path.read_text(errors="replace") if self.stderr_path.exists() else ""

    def stdout(self):
        return self.stdout_path.read_text(errors="replace") if self.stdout_path.exists() else ""

    def log(self):
        return self.stderr() + self.stdout()

    def log_mark(self):
        """Current sizes of the two log files, for log_since()."""
        return tuple(p.stat().st_size if p.exists() else 0
                     for p in (self.stderr_path, self.stdout_path))

    def log_since(self, mark):
        out = []
        for p, offset in zip((self.stderr_path, self.stdout_path), mark):
            if p.exists():
                with open(p, "rb") as f:
                    f.seek(offset)
                    out.append(f.read().decode(errors="replace"))
        return "".join(out)

    def bad_log_lines(self, whole=False):
        """Lines matching BAD_LOG_PATTERNS (and the report following them)."""
        text = self.log()
        problems = []
        for pattern in BAD_LOG_PATTERNS:
            i = text.find(pattern)
            if i >= 0:
                start = text.rfind("\n", 0, i) + 1
                problems.append(text[start:start + 3000])
        return problems

    def assert_clean_log(self):
        problems = self.bad_log_lines()
        if problems:
            raise ServerError("server log has errors:\n" + "\n----\n".join(problems))

    # -- convenience ------------------------------------------------------
    def conn(self, **kw):
        if self.unix_path and not kw.get("port"):
            kw.setdefault("unix_path", self.unix_path)
        return RawConn(kw.pop("port", self.port), **kw)

    def get(self, path, headers=(), **kw):
        """One GET on a fresh connection; returns the Response."""
        with self.conn() as c:
            c.send(build_request("GET", path, headers, host=f"127.0.0.1:{self.port}", **kw))
            return c.read_response()

    def request(self, method, path, body=b"", headers=(), **kw):
        with self.conn() as c:
            c.send(build_request(method, path, headers, body=body,
                                 host=f"127.0.0.1:{self.port}", **kw))
            return c.read_response(method=method)


# -- HTTP on raw sockets ------------------------------------------------------

def build_request(method, target, headers=(), body=b"", version="HTTP/1.1", host="127.0.0.1",
                  content_length=True):
    """Serialise a request. headers: list of (name, value) str or bytes.
    host=None leaves Host out. content_length=False leaves it to the caller."""
    lines = [f"{method} {target} {version}".encode("latin-1")]
    names = set()
    for name, value in headers:
        name = name if isinstance(name, bytes) else name.encode("latin-1")
        value = value if isinstance(value, bytes) else value.encode("latin-1")
        names.add(name.lower())
        lines.append(name + b": " + value)
    if host is not None and b"host" not in names:
        lines.insert(1, b"Host: " + host.encode("latin-1"))
    if body and content_length and b"content-length" not in names \
            and b"transfer-encoding" not in names:
        lines.append(b"Content-Length: " + str(len(body)).encode())
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def chunked(body, size=1000, ext=b"", trailers=()):
    """Encode body with chunked transfer coding."""
    out = []
    for i in range(0, len(body), size):
        piece = body[i:i + size]
        out.append(b"%x%s\r\n%s\r\n" % (len(piece), ext, piece))
    out.append(b"0\r\n")
    for t in trailers:
        out.append(t + b"\r\n")
    out.append(b"\r\n")
    return b"".join(out)


class Incomplete(AssertionError):
    """The connection ended before a whole response arrived."""

    def __init__(self, msg, partial):
        super().__init__(msg + f" (got {len(partial)} bytes: {partial[:300]!r})")
        self.partial = partial


class Response:
    def __init__(self):
        self.version = None
        self.status = None
        self.reason = None
        self.headers = []
        self.trailers = []
        self.body = b""
        self.raw_head = b""
        self.chunked = False
        self.close_delimited = False
        self.complete = True
        self.chunk_sizes = []

    def header(self, name):
        """The header's value (repeated fields joined with ', '), or None."""
        values = self.header_all(name)
        return ", ".join(values) if values else None

    def header_all(self, name):
        name = name.lower()
        return [v for n, v in self.headers if n.lower() == name]

    def has_token(self, name, token):
        """True if the comma-separated header `name` holds `token`."""
        value = self.header(name) or ""
        return token.lower() in [t.strip().lower() for t in value.split(",")]

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return (f"<Response {self.version} {self.status} {self.reason!r} "
                f"headers={self.headers} body={self.body[:200]!r}"
                f"{'...' if len(self.body) > 200 else ''}>")


TOKEN_RE = re.compile(rb"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
STATUS_RE = re.compile(rb"^HTTP/(\d)\.(\d) (\d{3}) ([^\r\n\x00]*)$")


class RawConn:
    """A client socket with a read buffer and a strict HTTP/1.x response parser."""

    def __init__(self, port=None, host="127.0.0.1", timeout=None, rcvbuf=None, unix_path=None,
                 family=None):
        self.timeout = timeout or IO_TIMEOUT
        if unix_path:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            addr = unix_path
        else:
            fam = family or (socket.AF_INET6 if ":" in host else socket.AF_INET)
            self.sock = socket.socket(fam, socket.SOCK_STREAM)
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            addr = (host, port)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(self.timeout)
        self.sock.connect(addr)
        self.buf = b""
        self.eof = False
        self.reset = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self.sock.close()

    @property
    def local_port(self):
        return self.sock.getsockname()[1]

    def send(self, data):
        self.sock.sendall(data)

    def try_send(self, data):
        """Send, tolerating the server having closed (it may answer an error
        before reading everything). Returns False if the send failed."""
        try:
            self.sock.sendall(data)
            return True
        except (BrokenPipeError, ConnectionResetError):
            return False
        except socket.timeout:
            return False

    def _recv_more(self, deadline, size=65536):
        """Read once into the buffer. False on EOF/reset. Raises on timeout."""
        if self.eof:
            return False
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"no data within the time bound (buffer: {self.buf[:300]!r})")
        self.sock.settimeout(remaining)
        try:
            data = self.sock.recv(size)
        except socket.timeout:
            raise TimeoutError(f"no data within the time bound (buffer: {self.buf[:300]!r})") \
                from None
        except ConnectionResetError:
            self.eof = self.reset = True
            return False
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True

    def read_head(self, timeout=None):
        """Raw bytes of one response head (through the blank line)."""
        deadline = time.monotonic() + (timeout or self.timeout)
        for _ in range(100_000):
            i = self.buf.find(b"\r\n\r\n")
            if i >= 0:
                head, self.buf = self.buf[:i + 4], self.buf[i + 4:]
                return head
            if len(self.buf) > 1 << 20:
                raise AssertionError("response head larger than 1 MiB")
            if not self._recv_more(deadline):
                raise Incomplete("connection closed before a complete response head", self.buf)
        raise AssertionError("read_head loop bound")

    def _read_exact(self, n, deadline):
        for _ in range(10_000_000):
            if len(self.buf) >= n:
                data, self.buf = self.buf[:n], self.buf[n:]
                return data
            if not self._recv_more(deadline, max(65536, min(n - len(self.buf), 1 << 20))):
                raise Incomplete(f"connection closed after {len(self.buf)} of {n} body bytes",
                                 self.buf)
        raise AssertionError("read loop bound")

    def _read_line(self, deadline):
        for _ in range(100_000):
            i = self.buf.find(b"\r\n")
            if i >= 0:
                line, self.buf = self.buf[:i], self.buf[i + 2:]
                return line
            if len(self.buf) > 65536:
                raise AssertionError("line longer than 64 KiB in a chunked body")
            if not self._recv_more(deadline):
                raise Incomplete("connection closed inside a chunked body", self.buf)
        raise AssertionError("read_line loop bound")

    def read_response(self, method="GET", timeout=None, interim=False, allow_incomplete=False):
        """Read and parse one response. 1xx responses are skipped unless
        interim=True (then the 1xx itself is returned). With
        allow_incomplete=True a truncated body gives resp.complete=False
        instead of raising."""
        timeout = timeout or self.timeout
        deadline = time.monotonic() + timeout
        for _ in range(100):
            resp = Response()
            resp.raw_head = self.read_head(timeout=max(0.01, deadline - time.monotonic()))
            parse_head(resp, resp.raw_head)
            if 100 <= resp.status < 200:
                if interim:
                    return resp
                continue
            break
        else:
            raise AssertionError("more than 100 interim responses")
        try:
            self._read_body(resp, method, deadline)
        except Incomplete:
            if not allow_incomplete:
                raise
            resp.complete = False
            resp.body = getattr(resp, "_partial", b"") + self.buf
            self.buf = b""
        return resp

    def _read_body(self, resp, method, deadline):
        te = resp.header("Transfer-Encoding")
        cl = resp.header_all("Content-Length")
        if te is not None and cl:
            raise AssertionError(f"response has both Transfer-Encoding and Content-Length: {resp}")
        if method == "HEAD" or resp.status in (204, 304):
            if resp.status in (204, 304):
                assert te is None, f"{resp.status} response with Transfer-Encoding"
            return
        if te is not None:
            assert te.lower() == "chunked", f"unexpected Transfer-Encoding {te!r}"
            resp.chunked = True
            parts = []
            resp._partial = b""
            for _ in range(10_000_000):
                line = self._read_line(deadline)
                m = re.match(rb"^([0-9a-fA-F]+)(;[^\r\n]*)?$", line)
                assert m, f"bad chunk size line {line!r}"
                size = int(m.group(1), 16)
                if size == 0:
                    break
                resp.chunk_sizes.append(size)
                parts.append(self._read_exact(size, deadline))
                resp._partial = b"".join(parts)
                crlf = self._read_exact(2, deadline)
                assert crlf == b"\r\n", f"chunk data not followed by CRLF: {crlf!r}"
            for _ in range(1000):
                line = self._read_line(deadline)
                if not line:
                    break
                resp.trailers.append(line)
            resp.body = b"".join(parts)
            return
        if cl:
            assert len(cl) == 1 or len(set(cl)) == 1, f"several Content-Length values: {cl}"
            assert re.fullmatch(r"\d+", cl[0]), f"bad Content-Length {cl[0]!r}"
            resp.body = self._read_exact(int(cl[0]), deadline)
            return
        resp.close_delimited = True
        resp.body = self.read_until_close(timeout=max(0.01, deadline - time.monotonic()))

    def read_until_close(self, timeout=None):
        """Everything until the server closes; fails if it does not close in time."""
        deadline = time.monotonic() + (timeout or self.timeout)
        for _ in range(10_000_000):
            if not self._recv_more(deadline, 1 << 20):
                break
        data, self.buf = self.buf, b""
        return data

    def assert_closed(self, timeout=None, allow_data=False):
        """The server closes the connection (EOF or reset) within timeout,
        sending nothing more (unless allow_data)."""
        try:
            extra = self.read_until_close(timeout or IO_TIMEOUT)
        except TimeoutError:
            raise AssertionError("server did not close the connection") from None
        if not allow_data:
            assert extra == b"", f"unexpected bytes before close: {extra[:300]!r}"
        return extra

    def assert_open(self, wait=0.2):
        """Nothing arrives and the connection stays open for `wait` seconds."""
        self.sock.settimeout(wait)
        try:
            data = self.sock.recv(1, socket.MSG_PEEK)
        except socket.timeout:
            return
        except ConnectionResetError:
            raise AssertionError("connection was reset") from None
        finally:
            self.sock.settimeout(self.timeout)
        if data == b"":
            raise AssertionError("server closed the connection")
        raise AssertionError(f"unexpected data: {data!r}")


def parse_head(resp, head):
    assert head.endswith(b"\r\n\r\n")
    lines = head[:-4].split(b"\r\n")
    for line in lines:
        assert b"\n" not in line and b"\r" not in line, f"bare CR/LF in response head {head!r}"
    m = STATUS_RE.match(lines[0])
    assert m, f"bad status line {lines[0]!r}"
    resp.version = f"HTTP/{m.group(1).decode()}.{m.group(2).decode()}"
    resp.status = int(m.group(3))
    resp.reason = m.group(4).decode("latin-1")
    for line in lines[1:]:
        assert line[:1] not in (b" ", b"\t"), f"obs-fold in response head {head!r}"
        name, sep, value = line.partition(b":")
        assert sep and TOKEN_RE.match(name), f"bad header line {line!r}"
        assert b"\x00" not in value, f"NUL in header {line!r}"
        resp.headers.append((name.decode("latin-1"), value.strip(b" \t").decode("latin-1")))


def roundtrip(port, raw, method="GET", timeout=None, **kw):
    """Send raw bytes on a new connection, read one response; returns
    (response, conn) — the caller closes conn."""
    c = RawConn(port, timeout=timeout, **kw)
    c.send(raw)
    return c.read_response(method=method), c


def http_date_ok(value):
    """RFC 9110 IMF-fixdate, e.g. 'Sun, 06 Nov 1994 08:49:37 GMT'."""
    return re.fullmatch(r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug"
                        r"|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d GMT", value or "") is not None


def ipv6_available():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def is_conn_error(exc):
    return isinstance(exc, (ConnectionError, BrokenPipeError)) or \
        (isinstance(exc, OSError) and exc.errno in (errno.ECONNRESET, errno.EPIPE))
