"""Shared machinery of bench/quick and bench/run.

A *setup* is a way of serving a WSGI app that people compare (the Flask dev
server, gunicorn, uwsgi, wsgihost, any of them behind nginx). Setups are data
(the SETUPS table below): adding one is a few lines. Running one means: check
the tools it needs (a missing one is a Skip naming the Debian package), start
its processes on free loopback ports, wait until the entry port accepts, and
stop them by PID afterwards. Everything is bounded in time.

Measurements: wrk (requests/s, latency percentiles), locust (the experiment's
tool), the fairness client (fairness.py), the Python-loop ceiling (pyloop.py),
and the CPU time of the server's processes from /proc.
"""

import json
import os
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
CONF = ROOT / "conf"
PYTHON = "/usr/bin/python3"  # Debian's, with Flask; never the pyenv python3 on PATH
WSGIHOST = Path(os.environ.get("WSGIHOST_BIN") or ROOT / "build" / "wsgihost")
LOOPBACK = "127.0.0.1"
CLK_TCK = os.sysconf("SC_CLK_TCK")

START_TIMEOUT = 20.0   # seconds for a server to accept connections
STOP_TIMEOUT = 10.0    # seconds between SIGTERM and SIGKILL


class Skip(Exception):
    """A setup or measurement that cannot run here; the message says why."""


class StartError(Exception):
    """A server that died or never accepted connections."""


# ---------------------------------------------------------------------------
# Tools

# tool -> (how to find it, Debian package that provides it)
TOOLS = {
    "wrk": ("wrk", "wrk"),
    "gunicorn": ("gunicorn", "gunicorn"),
    "nginx": ("nginx", "nginx-light (or nginx)"),
    "uwsgi": ("uwsgi", "uwsgi and uwsgi-plugin-python3"),
    "locust": ("locust", "python3-locust"),
    "flask": ("flask", "python3-flask"),
    "matplotlib": ("matplotlib", "python3-matplotlib"),
}
UWSGI_PLUGIN_DIRS = ["/usr/lib/uwsgi/plugins", "/usr/lib/uwsgi"]

_tool_cache = {}


def _python_has(module):
    r = subprocess.run([PYTHON, "-c", f"import {module}"], capture_output=True, timeout=60)
    return r.returncode == 0


def find_tool(name):
    """Return the argv prefix that runs `name`, or raise Skip naming the package."""
    if name in _tool_cache:
        if isinstance(_tool_cache[name], Skip):
            raise _tool_cache[name]
        return _tool_cache[name]
    result = None
    if name == "wsgihost":
        if WSGIHOST.is_file() and os.access(WSGIHOST, os.X_OK):
            result = [str(WSGIHOST)]
        else:
            result = Skip(f"{WSGIHOST} is not built: run `meson setup build && "
                          f"meson compile -C build` in {ROOT}")
    elif name == "flask":
        result = [PYTHON, "-m", "flask"] if _python_has("flask") else None
    elif name == "matplotlib":
        result = [PYTHON] if _python_has("matplotlib") else None
    elif name == "locust":
        # Debian's python3-locust installs /usr/bin/locust; prefer the module
        # run by the same interpreter when the script is missing.
        path = shutil.which("locust") or ("/usr/bin/locust" if Path("/usr/bin/locust").exists()
                                          else None)
        if path:
            result = [path]
        elif _python_has("locust"):
            result = [PYTHON, "-m", "locust"]
    elif name == "uwsgi":
        path = shutil.which("uwsgi")
        plugin = any(Path(d, "python3_plugin.so").exists() for d in UWSGI_PLUGIN_DIRS)
        if path and plugin:
            result = [path]
        elif path:
            result = Skip("uwsgi has no python3 plugin: install the Debian package "
                          "uwsgi-plugin-python3")
    else:
        path = shutil.which(TOOLS[name][0]) or next(
            (p for p in (f"/usr/sbin/{name}", f"/usr/bin/{name}") if os.access(p, os.X_OK)), None)
        if path:
            result = [path]
    if result is None:
        result = Skip(f"{name} not found: install the Debian package {TOOLS[name][1]}")
    _tool_cache[name] = result
    if isinstance(result, Skip):
        raise result
    return result


_help_text = None


def wsgihost_help():
    """`wsgihost --help` output (cached): the capability check for options
    that later issues add (--workers, --threads)."""
    global _help_text
    if _help_text is None:
        find_tool("wsgihost")
        try:
            r = subprocess.run([str(WSGIHOST), "--help"], capture_output=True, text=True,
                               timeout=10)
            _help_text = r.stdout + r.stderr
        except (OSError, subprocess.TimeoutExpired) as e:
            _help_text = f"(--help failed: {e})"
    return _help_text


def wsgihost_supports(option):
    return re.search(r"(?<![\w-])" + re.escape(option) + r"(?![\w-])", wsgihost_help()) is not None


# ---------------------------------------------------------------------------
# Apps and setups

@dataclass(frozen=True)
class App:
    key: str
    spec: str          # module:callable
    pythonpath: Path
    flask: bool        # a Flask app (the Flask dev server can only serve those)


APPS = {
    "pyapp": App("pyapp", "pyapp:app", ROOT, True),
    "hello": App("hello", "hello:app", BENCH / "apps", False),
}


@dataclass
class Setup:
    """One way of serving an app.

    argv: the backend command; {host} {port} {bind} {app} {pythonpath} {root}
    {mport} (another free port, for --metrics-bind)
          are filled in. Runs with the source root as working directory.
    needs: tools (keys of TOOLS, or "wsgihost").
    options: wsgihost options that must appear in `wsgihost --help`.
    nginx: a file in conf/ to put in front (nginx listens on the entry port
           and proxies to the backend), or None.
    label: what tables show.
    """
    key: str
    label: str
    argv: list
    needs: list = field(default_factory=list)
    options: list = field(default_factory=list)
    nginx: str = None
    flask_only: bool = False
    env: dict = field(default_factory=dict)

    def check(self, app=None):
        """Raise Skip if this setup cannot run here (or cannot serve `app`)."""
        if app is not None and self.flask_only and not app.flask:
            raise Skip(f"{self.label} serves Flask apps only")
        for tool in self.needs:
            find_tool(tool)
        if self.nginx:
            find_tool("nginx")
            if not (CONF / self.nginx).is_file():
                raise Skip(f"conf/{self.nginx} is missing")
        missing = [o for o in self.options if not wsgihost_supports(o)]
        if missing:
            raise Skip(f"{WSGIHOST.name} does not support {', '.join(missing)} yet "
                       f"(not in `wsgihost --help`)")


def _wsgihost(*extra):
    return ["{wsgihost}", *extra, "--pythonpath", "{pythonpath}", "-b", "{bind}", "{app}"]


def _gunicorn(*extra):
    # The sync worker unless --threads is given (then gunicorn picks gthread).
    return ["{gunicorn}", *extra, "--pythonpath", "{pythonpath}", "-b", "{bind}", "{app}"]


def _uwsgi(processes, threads=None):
    argv = ["{uwsgi}", "--plugin", "python3", "--http-socket", "{bind}", "--master",
            "--processes", str(processes), "--pythonpath", "{pythonpath}", "--module", "{app}",
            # No request log (like the others); exit on SIGTERM instead of
            # reloading (uwsgi 2.0's default); fail if the app does not load.
            "--disable-logging", "--die-on-term", "--need-app",
            # Same listen backlog as gunicorn and wsgihost (uwsgi's is 100).
            "--listen", "2048",
            # --http-socket closes the connection after every response without
            # saying so; clients (wrk, locust) then count a read error per
            # request. Announcing the close is what gunicorn's sync worker does.
            "--add-header", "Connection: close"]
    if threads:
        argv += ["--threads", str(threads)]
    return argv


def _s(key, label, argv, **kw):
    needs = kw.pop("needs", None)
    if needs is None:
        tool = argv[0].strip("{}")
        needs = [tool]
    return Setup(key, label, argv, needs=needs, **kw)


SETUPS = {s.key: s for s in [
    # The experiment's three.
    _s("flask", "flask dev server",
       ["{python}", "-m", "flask", "--app", "{app}", "run", "--host", "{host}", "--port",
        "{port}", "--no-reload", "--no-debugger"],
       needs=["flask"], flask_only=True, env={"FLASK_DEBUG": "0"}),
    _s("gunicorn", "gunicorn -w 1", _gunicorn("-w", "1")),
    _s("gunicorn-w2", "gunicorn -w 2", _gunicorn("-w", "2")),
    _s("gunicorn-w4", "gunicorn -w 4", _gunicorn("-w", "4")),
    _s("gunicorn-w2t8", "gunicorn -w 2 --threads 8", _gunicorn("-w", "2", "--threads", "8")),
    _s("gunicorn-w4+nginx", "gunicorn -w 4 + nginx", _gunicorn("-w", "4"), nginx="nginx.conf"),
    # wsgihost.
    _s("wsgihost", "wsgihost", _wsgihost()),
    _s("wsgihost-t1", "wsgihost --threads 1", _wsgihost("--threads", "1"), options=["--threads"]),
    _s("wsgihost-t1-nc", "wsgihost --threads 1, writes not coalesced",
       _wsgihost("--threads", "1"), options=["--threads"], env={"WSGIHOST_NO_COALESCE": "1"}),
    _s("wsgihost-w2", "wsgihost -w 2", _wsgihost("-w", "2"), options=["--workers"]),
    _s("wsgihost-w2-nc", "wsgihost -w 2, writes not coalesced", _wsgihost("-w", "2"),
       options=["--workers"], env={"WSGIHOST_NO_COALESCE": "1"}),
    # The same with /metrics served (the counters kept on every request).
    _s("wsgihost-m", "wsgihost --metrics-bind", _wsgihost("--metrics-bind", "{host}:{mport}"),
       options=["--metrics-bind"]),
    _s("wsgihost-w2-m", "wsgihost -w 2 --metrics-bind",
       _wsgihost("-w", "2", "--metrics-bind", "{host}:{mport}"),
       options=["--workers", "--metrics-bind"]),
    _s("wsgihost-w4", "wsgihost -w 4", _wsgihost("-w", "4"), options=["--workers"]),
    _s("wsgihost-w2t8", "wsgihost -w 2 --threads 8", _wsgihost("-w", "2", "--threads", "8"),
       options=["--workers", "--threads"]),
    _s("wsgihost-w2t8-nc", "wsgihost -w 2 --threads 8, writes not coalesced",
       _wsgihost("-w", "2", "--threads", "8"), options=["--workers", "--threads"],
       env={"WSGIHOST_NO_COALESCE": "1"}),
    _s("wsgihost-w4+nginx", "wsgihost -w 4 + nginx", _wsgihost("-w", "4"),
       options=["--workers"], nginx="nginx.conf"),
    _s("wsgihost-w4+nginx-tuned", "wsgihost -w 4 + nginx (tuned)", _wsgihost("-w", "4"),
       options=["--workers"], nginx="nginx-tuned.conf"),
    # uwsgi, the C peer.
    _s("uwsgi-p2", "uwsgi --processes 2", _uwsgi(2)),
    _s("uwsgi-p4", "uwsgi --processes 4", _uwsgi(4)),
    _s("uwsgi-p2t8", "uwsgi --processes 2 --threads 8", _uwsgi(2, 8)),
]}


def select_setups(keys, only):
    """Filter setup keys by --only (comma-separated keys or shell patterns)."""
    if not only:
        return list(keys)
    import fnmatch
    pats = [p.strip() for p in only.split(",") if p.strip()]
    unknown = [p for p in pats if not any(fnmatch.fnmatchcase(k, p) for k in SETUPS)]
    if unknown:
        raise SystemExit(f"--only: no setup matches {', '.join(unknown)}; "
                         f"known: {', '.join(SETUPS)}")
    return [k for k in keys if any(fnmatch.fnmatchcase(k, p) for p in pats)]


# ---------------------------------------------------------------------------
# Processes

def free_port(host=LOOPBACK):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def port_accepts(host, port, timeout=0.2):
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def tail(path, n=2000):
    try:
        data = Path(path).read_bytes()
    except OSError:
        return ""
    return data[-n:].decode("utf-8", "replace")


class Proc:
    """A process we started, in its own session so that the whole tree can be
    found (descendants for CPU accounting) and stopped by its PID."""

    def __init__(self, name, argv, log_path, cwd=ROOT, env=None):
        self.name = name
        self.argv = [str(a) for a in argv]
        self.log_path = Path(log_path)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        full_env = dict(os.environ)
        # gunicorn and wsgihost both read WEB_CONCURRENCY as a default for -w;
        # a setup's process count must come from its command line only.
        full_env.pop("WEB_CONCURRENCY", None)
        full_env.update(env or {})
        with open(self.log_path, "ab") as log:
            log.write(("$ " + " ".join(self.argv) + "\n").encode())
            log.flush()
            self.popen = subprocess.Popen(self.argv, cwd=cwd, env=full_env, stdin=subprocess.DEVNULL,
                                          stdout=log, stderr=subprocess.STDOUT,
                                          start_new_session=True)
        self.pid = self.popen.pid

    def alive(self):
        return self.popen.poll() is None

    def wait_port(self, host, port, timeout=START_TIMEOUT):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise StartError(f"{self.name} exited with {self.popen.returncode} before "
                                 f"accepting connections; log {self.log_path}:\n"
                                 f"{tail(self.log_path)}")
            if port_accepts(host, port):
                return
            time.sleep(0.05)
        raise StartError(f"{self.name} did not accept connections on {host}:{port} within "
                         f"{timeout:.0f} s; log {self.log_path}:\n{tail(self.log_path)}")

    def stop(self, timeout=STOP_TIMEOUT):
        """SIGTERM, wait, SIGKILL if needed; then kill whatever is left of its
        process group (workers of a master that died first)."""
        if self.alive():
            try:
                os.kill(self.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                try:
                    os.kill(self.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.popen.wait(5)
        try:
            os.killpg(self.pid, signal.SIGKILL)  # the group we created: its id is our child's pid
        except (ProcessLookupError, PermissionError):
            pass
        return self.popen.returncode


# ---------------------------------------------------------------------------
# CPU accounting from /proc

def _proc_table():
    """pid -> (ppid, user ticks, system ticks) for every process: utime +
    cutime and stime + cstime, so a worker that exited and was reaped during
    the measurement is counted in its parent's, and no live process is
    counted twice (cutime only holds children that are gone)."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read().decode("latin-1")
        except OSError:
            continue
        rest = stat[stat.rfind(")") + 2:].split()
        # fields after "(comm)": state=0 ppid=1 ... utime=11 stime=12 cutime=13 cstime=14
        table[int(entry)] = (int(rest[1]), int(rest[11]) + int(rest[13]),
                             int(rest[12]) + int(rest[14]))
    return table


def tree_cpu_seconds(root_pids, split=False):
    """CPU seconds used so far by the given processes and all their
    descendants; with split, (user seconds, system seconds)."""
    table = _proc_table()
    children = {}
    for pid, (ppid, _, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    seen, stack, user, system = set(), list(root_pids), 0, 0
    while stack:
        pid = stack.pop()
        if pid in seen or pid not in table:
            continue
        seen.add(pid)
        user += table[pid][1]
        system += table[pid][2]
        stack.extend(children.get(pid, ()))
    if split:
        return user / CLK_TCK, system / CLK_TCK
    return (user + system) / CLK_TCK


# ---------------------------------------------------------------------------
# nginx in front

NGINX_TEMP_DIRS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")


def render_nginx_conf(src, prefix, upstream_port, listen_port, host=LOOPBACK):
    """conf/<src> with the experiment's service name pointed at the bench's
    backend and nginx's files kept inside `prefix`, so it runs without root.

    Only three things change: `web:5901` (the compose service) becomes
    host:upstream_port, `listen 80` becomes host:listen_port, and the paths
    that Debian compiles in (/var/log/nginx, /var/lib/nginx) are overridden at
    the top of the http block. The location block is left exactly as written."""
    text = Path(src).read_text()
    text, n_up = re.subn(r"\bweb:5901\b", f"{host}:{upstream_port}", text)
    text, n_listen = re.subn(r"(?m)^(\s*)listen\s+80\s*;", rf"\g<1>listen {host}:{listen_port};",
                             text)
    if n_up < 1 or n_listen != 1:
        raise Skip(f"{src}: expected `web:5901` and one `listen 80;` to substitute "
                   f"(found {n_up} and {n_listen})")
    prefix = Path(prefix)
    lines = [f"    # --- added by bench/benchlib.py: files under {prefix}"]
    for d in NGINX_TEMP_DIRS:
        lines.append(f"    {d}_temp_path {prefix / 'tmp' / d};")
    if not re.search(r"(?m)^\s*access_log\b", text):
        lines.append(f"    access_log {prefix / 'logs' / 'access.log'};")
    lines.append("    # --- end of additions")
    text, n_http = re.subn(r"(?m)^(http\s*\{[^\n]*\n)", lambda m: m.group(1) + "\n".join(lines) + "\n",
                           text, count=1)
    if n_http != 1:
        raise Skip(f"{src}: no `http {{` block found")
    return text


def nginx_argv(conf_path, prefix):
    """Run in the foreground, pid file and error log inside the prefix."""
    prefix = Path(prefix)
    return [*find_tool("nginx"), "-p", str(prefix), "-c", str(conf_path), "-e",
            str(prefix / "logs" / "error.log"),
            "-g", f"daemon off; pid {prefix / 'nginx.pid'};"]


def prepare_nginx(conf_name, workdir, upstream_port, listen_port):
    prefix = Path(workdir)
    for d in ("logs", "tmp"):
        (prefix / d).mkdir(parents=True, exist_ok=True)
    conf_path = prefix / "nginx.conf"
    conf_path.write_text(render_nginx_conf(CONF / conf_name, prefix, upstream_port, listen_port))
    # Started as root, nginx runs its workers as `nobody`; they only touch the
    # temp dirs when a body does not fit in memory buffers (not the case for
    # the bench's requests), and the master opens the logs. Nothing to chmod.
    return nginx_argv(conf_path, prefix)


# ---------------------------------------------------------------------------
# Running a setup

class Running:
    """A started setup: its processes, entry URL and CPU accounting."""

    def __init__(self, setup, app, procs, host, port):
        self.setup = setup
        self.app = app
        self.procs = procs
        self.host = host
        self.port = port

    def url(self, path):
        return f"http://{self.host}:{self.port}{path}"

    def cpu_seconds(self, split=False):
        return tree_cpu_seconds([p.pid for p in self.procs], split=split)

    def alive(self):
        return all(p.alive() for p in self.procs)

    def stop(self):
        for p in reversed(self.procs):
            p.stop()


def start_setup(setup, app, workdir):
    """Start `setup` serving `app`; return a Running. Raises Skip or StartError.
    On any failure the processes already started are stopped."""
    setup.check(app)
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    backend_port = free_port()
    subst = {
        "host": LOOPBACK, "port": str(backend_port), "bind": f"{LOOPBACK}:{backend_port}",
        "app": app.spec, "pythonpath": str(app.pythonpath), "root": str(ROOT),
        "python": PYTHON, "mport": str(free_port()),
    }
    for tool in ("wsgihost", "gunicorn", "uwsgi"):
        if tool in setup.needs:
            subst[tool] = find_tool(tool)[0]
    argv = [a.format(**subst) for a in setup.argv]
    procs = []
    try:
        backend = Proc(setup.label, argv, workdir / f"{setup.key}-{app.key}.log",
                       env=setup.env)
        procs.append(backend)
        backend.wait_port(LOOPBACK, backend_port)
        entry_port = backend_port
        if setup.nginx:
            entry_port = free_port()
            nginx_dir = workdir / f"nginx-{setup.key}-{app.key}"
            argv = prepare_nginx(setup.nginx, nginx_dir, backend_port, entry_port)
            ngx = Proc(f"nginx ({setup.nginx})", argv, nginx_dir / "logs" / "stdout.log")
            procs.append(ngx)
            ngx.wait_port(LOOPBACK, entry_port)
        run = Running(setup, app, procs, LOOPBACK, entry_port)
        _check_serves(run)
        _wait_booted(run)
        return run
    except BaseException:
        for p in reversed(procs):
            p.stop()
        raise


def _wait_booted(run, timeout=15.0):
    """Until the setup's processes are quiet (under 4 ms of CPU in 0.2 s):
    the port accepts as soon as one worker listens, while the others may
    still be importing the app. Load that arrives then lands on the booted
    workers, and keep-alive connections stay where they landed, so a
    measurement of `-w 2` could start with one worker holding most of
    wrk's connections. Any server, no log format needed."""
    deadline = time.monotonic() + timeout
    last = run.cpu_seconds()
    while time.monotonic() < deadline:
        time.sleep(0.2)
        now = run.cpu_seconds()
        if now - last < 0.004:
            return
        last = now
    warn(f"{run.setup.label}: still busy {timeout:.0f} s after it began to serve; measuring anyway")


def _check_serves(run):
    """One request before measuring: a setup that answers 404/500 (app not
    found, wrong path) must fail loudly, not produce a fast-looking table."""
    import http.client
    path = "/"
    last = None
    for _ in range(50):
        try:
            c = http.client.HTTPConnection(run.host, run.port, timeout=10)
            c.request("GET", path)
            r = c.getresponse()
            r.read()
            c.close()
            if r.status == 200:
                return
            last = f"status {r.status}"
        except OSError as e:
            last = str(e)
        time.sleep(0.1)
    logs = "\n".join(f"--- {p.log_path}\n{tail(p.log_path)}" for p in run.procs)
    raise StartError(f"{run.setup.label}: GET {path} did not answer 200 ({last})\n{logs}")


# ---------------------------------------------------------------------------
# Measurements

def tcp_out_segments():
    """The kernel's count of TCP segments sent (/proc/net/snmp Tcp OutSegs),
    or None where it cannot be read."""
    try:
        lines = [l.split() for l in Path("/proc/net/snmp").read_text().splitlines()
                 if l.startswith("Tcp:")]
        return int(lines[1][lines[0].index("OutSegs")])
    except (OSError, IndexError, ValueError):
        return None


def cpu_ticks():
    """(idle, total) jiffies of all CPUs from /proc/stat (idle counts iowait
    too), or None where it cannot be read."""
    try:
        f = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        return f[3] + f[4], sum(f[:8])
    except (OSError, IndexError, ValueError):
        return None


def run_wrk(url, duration, conns=64, threads=1, timeout=None):
    """wrk with --latency and the JSON reporter; returns a dict (latencies in ms)."""
    argv = [*find_tool("wrk"), f"-t{threads}", f"-c{conns}", f"-d{duration}s", "--latency",
            "-s", str(BENCH / "wrk-report.lua"), url]
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    segs0 = tcp_out_segments()
    ticks0 = cpu_ticks()
    try:
        r = subprocess.run(argv, capture_output=True, text=True,
                           timeout=timeout or duration + 30)
    except subprocess.TimeoutExpired:
        raise StartError(f"wrk did not finish within {duration + 30} s")
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    segs1 = tcp_out_segments()
    ticks1 = cpu_ticks()
    m = re.search(r"^WRKJSON (\{.*\})$", r.stdout, re.M)
    if r.returncode != 0 or not m:
        raise StartError(f"wrk failed ({r.returncode}): {r.stdout[-1000:]}{r.stderr[-1000:]}")
    d = json.loads(m.group(1))
    secs = d["duration_us"] / 1e6
    errors = d["connect"] + d["read"] + d["write"] + d["timeout"]
    return {
        "requests": d["requests"],
        "rps": d["requests"] / secs if secs else 0.0,
        "p50_ms": d["p50_us"] / 1000, "p90_ms": d["p90_us"] / 1000,
        "p99_ms": d["p99_us"] / 1000, "mean_ms": d["lat_mean_us"] / 1000,
        "max_ms": d["lat_max_us"] / 1000,
        "socket_errors": errors, "non2xx": d["status"],
        "errors_detail": {k: d[k] for k in ("connect", "read", "write", "timeout", "status")},
        # The load generator's own CPU per response (it shares the cores):
        # a server that wakes it once per response costs it more.
        "client_cpu_us_per_resp": ((ru1.ru_utime + ru1.ru_stime - ru0.ru_utime - ru0.ru_stime)
                                   / d["requests"] * 1e6 if d["requests"] else None),
        # TCP segments sent by both ends (and anything else on the machine)
        # per response: 2.0 is the floor for keep-alive request/response, one
        # segment each way with the ACKs riding on them.
        "tcp_segs_per_resp": ((segs1 - segs0) / d["requests"]
                              if d["requests"] and segs0 is not None and segs1 is not None
                              else None),
        # The share of the machine's CPU time nobody used: server and wrk
        # both waiting (a wake-up in flight, a core with nothing to run).
        "idle_pct": (100.0 * (ticks1[0] - ticks0[0]) / (ticks1[1] - ticks0[1])
                     if ticks0 and ticks1 and ticks1[1] > ticks0[1] else None),
    }


def measure_wrk(run, path, duration, conns=64):
    """wrk against a running setup, with the server's CPU time per response."""
    u0, s0 = run.cpu_seconds(split=True)
    res = run_wrk(run.url(path), duration, conns=conns)
    u1, s1 = run.cpu_seconds(split=True)
    cpu0, cpu1 = u0 + s0, u1 + s1
    res["cpu_s"] = cpu1 - cpu0
    n = res["requests"]
    res["cpu_us_per_resp"] = (cpu1 - cpu0) / n * 1e6 if n else None
    res["user_us_per_resp"] = (u1 - u0) / n * 1e6 if n else None
    res["sys_us_per_resp"] = (s1 - s0) / n * 1e6 if n else None
    if not run.alive():
        raise StartError(f"{run.setup.label} died during wrk; see {run.procs[0].log_path}")
    return res


def run_pyloop(app, path, seconds):
    argv = [PYTHON, str(BENCH / "pyloop.py"), "--pythonpath", str(app.pythonpath),
            "--seconds", str(seconds), app.spec, path]
    r = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, timeout=seconds + 60)
    if r.returncode != 0:
        raise StartError(f"pyloop failed: {r.stderr[-1500:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def run_fairness(run, path, seconds, conns=64):
    argv = [PYTHON, str(BENCH / "fairness.py"), "--conns", str(conns), "--seconds", str(seconds),
            run.url(path)]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 30)
    if r.returncode != 0:
        raise StartError(f"fairness client failed: {r.stderr[-1500:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


LOCUST_COLUMNS = {
    "Request Count": "requests", "Failure Count": "failures",
    "Median Response Time": "median_ms", "Average Response Time": "avg_ms",
    "Min Response Time": "min_ms", "Max Response Time": "max_ms", "Requests/s": "rps",
    "95%": "p95_ms", "99%": "p99_ms",
}


def run_locust(run, users, spawn_rate, run_time, think, csv_prefix, log_path):
    """locust headless against a running setup; returns the Aggregated row."""
    import csv
    argv = [*find_tool("locust"), "-f", str(BENCH / "locustfile.py"), "--headless",
            "-u", str(users), "-r", str(spawn_rate), "--run-time", f"{run_time}s",
            "--csv", str(csv_prefix), "--only-summary", "-H", run.url(""),
            "--stop-timeout", "0", "--loglevel", "WARNING"]
    env = dict(os.environ, THINK_TIME=think)
    Path(csv_prefix).parent.mkdir(parents=True, exist_ok=True)
    cpu0 = run.cpu_seconds()
    with open(log_path, "ab") as log:
        log.write(("$ THINK_TIME=" + think + " " + " ".join(argv) + "\n").encode())
        log.flush()
        try:
            proc = subprocess.Popen(argv, cwd=BENCH, env=env, stdin=subprocess.DEVNULL,
                                    stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
            rc = proc.wait(timeout=run_time + 90)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
            raise StartError(f"locust did not finish within {run_time + 90} s; log {log_path}")
    cpu1 = run.cpu_seconds()
    stats = Path(f"{csv_prefix}_stats.csv")
    if not stats.exists():
        raise StartError(f"locust exited {rc} without {stats}; log {log_path}:\n{tail(log_path)}")
    with open(stats, newline="") as f:
        rows = [r for r in csv.DictReader(f) if r.get("Name") == "Aggregated"]
    if not rows:
        raise StartError(f"no Aggregated row in {stats}")
    res = {}
    for col, key in LOCUST_COLUMNS.items():
        v = rows[0].get(col, "")
        try:
            res[key] = float(v) if v not in ("", "N/A") else None
        except ValueError:
            res[key] = None
    res["requests"] = int(res["requests"] or 0)
    res["failures"] = int(res["failures"] or 0)
    res["cpu_s"] = cpu1 - cpu0
    res["cpu_us_per_resp"] = ((cpu1 - cpu0) / res["requests"] * 1e6
                              if res["requests"] else None)
    res["exit_code"] = rc
    return res


# ---------------------------------------------------------------------------
# Formatting

def fmt(v, digits=1):
    if v is None:
        return "—"
    if isinstance(v, float):
        if abs(v) >= 1000:
            return f"{v:,.0f}"
        return f"{v:.{digits}f}"
    return str(v)


def md_table(header, rows):
    out = ["| " + " | ".join(header) + " |",
           "|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|"]
    for r in rows:
        out.append("| " + " | ".join(str(c) for c in r) + " |")
    return "\n".join(out)


def median_of(results, key):
    vals = [r[key] for r in results if r.get(key) is not None]
    return statistics.median(vals) if vals else None


def machine_info():
    info = {"host": socket.gethostname(), "cores": os.cpu_count(), "kernel": os.uname().release}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return info


def tool_versions():
    """Versions of whatever is installed (best effort, for the results header)."""
    out = {}
    probes = {
        "wsgihost": [str(WSGIHOST), "--version"],
        "gunicorn": ["gunicorn", "--version"],
        "uwsgi": ["uwsgi", "--version"],
        "nginx": ["nginx", "-v"],
        "wrk": ["wrk", "--version"],
        "python": [PYTHON, "--version"],
        "flask": [PYTHON, "-c", "import importlib.metadata as m; print(m.version('flask'))"],
        "locust": ["dpkg-query", "-W", "-f", "${Version}", "python3-locust"],
    }
    for name, argv in probes.items():
        try:
            r = subprocess.run(argv, capture_output=True, text=True, timeout=10)
            text = (r.stdout + r.stderr).strip().splitlines()
            v = text[0] if text else "?"
            v = re.sub(r"^(nginx version: |gunicorn \(version |wsgihost |wrk |Python )", "", v)
            out[name] = v.split(" Copyright")[0].rstrip(")")[:60]
        except (OSError, subprocess.TimeoutExpired):
            out[name] = "not installed"
    return out


def say(msg):
    print(msg, flush=True)


def warn(msg):
    print(msg, file=sys.stderr, flush=True)
