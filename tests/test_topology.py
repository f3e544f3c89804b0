"""The compose stacks' topology for real, without Docker: network namespaces
`web`, `nginx` and `user` on a private bridge network that the test creates,
each with its own /etc/hosts (`ip netns exec` bind-mounts
/etc/netns/<name>/hosts over /etc/hosts) so that the service names resolve as
docker's DNS would resolve them:

    user ──http://nginx:80──▶ nginx ──http://web:5901──▶ web (wsgihost -w 2)

nginx runs as the nginx image runs it: conf/nginx.conf unchanged at
/etc/nginx/nginx.conf, the image's command line (nginx.Dockerfile's CMD) as a
non-root user, with the directories compose/images/prepare-nginx.sh prepares,
port 80 allowed to that user by net.ipv4.ip_unprivileged_port_start=0 (as
Docker sets it). locust runs the `user` service's command from the compose
file (fewer users, shorter) and must report no failure.

Second variant: two `web` namespaces behind one nginx, `web` resolving to both
(two lines in nginx's hosts file, as docker's DNS returns every replica with
`--scale web=2`); both replicas must serve, and stopping one in the middle of
the locust run must not fail a single request (nginx retries the other).

Needs root (namespaces, mounts); everything happens inside the test's own
namespaces, which are deleted at the end. Addresses 10.213.0.0/24 exist only
on the test's bridge.
"""

import csv
import json
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from support import BIN, SOURCE_ROOT

ROOT = SOURCE_ROOT
IMAGES = ROOT / "compose" / "images"
NET = "10.213.0"
NGINX_UID = NGINX_GID = 1000   # the images' default build args
LOCUST = shutil.which("locust") or "/usr/bin/locust"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
PYTHON = "/usr/bin/python3"


def _why_not():
    if os.geteuid() != 0:
        return "needs root to create network namespaces"
    for tool in ("ip", "setpriv", "mount"):
        if shutil.which(tool) is None:
            return f"{tool} not found (Debian packages iproute2, util-linux, mount)"
    if not os.path.exists(NGINX):
        return "nginx not found: install the Debian package nginx-light"
    if not os.path.exists(LOCUST):
        return "locust not found: install the Debian package python3-locust"
    probe = f"whprobe{os.getpid()}"
    r = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if r.returncode != 0:
        return f"`ip netns add` failed: {r.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return None


_REASON = _why_not()
pytestmark = pytest.mark.skipif(_REASON is not None, reason=_REASON or "")


def sh(*argv, check=True, timeout=30):
    r = subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, argv))}: {r.stderr.strip()}")
    return r


def wsgihost_has(option):
    r = sh(BIN, "--help", check=False)
    return re.search(r"(?<![\w-])" + re.escape(option) + r"(?![\w-])", r.stdout + r.stderr)


class Topology:
    """Namespaces on one bridge, processes in them; cleanup() undoes it all."""

    _count = 0

    def __init__(self, tmp):
        Topology._count += 1
        self.prefix = f"wh{os.getpid()}{Topology._count}"
        self.tmp = tmp
        self.namespaces = []
        self.etc_dirs = []
        self.procs = []
        self.created_etc_netns = not os.path.isdir("/etc/netns")
        self.bridge = self._netns("br")
        sh("ip", "-n", self.bridge, "link", "add", "br0", "type", "bridge")
        sh("ip", "-n", self.bridge, "link", "set", "br0", "up")

    def _netns(self, role):
        name = self.prefix + role
        sh("ip", "netns", "add", name)
        self.namespaces.append(name)
        sh("ip", "-n", name, "link", "set", "lo", "up")
        return name

    def host(self, role, last_octet, hosts=()):
        """A namespace on the bridge at NET.last_octet with its own hosts file
        (lines "address name")."""
        name = self._netns(role)
        veth = f"v{role}"[:15]
        sh("ip", "-n", self.bridge, "link", "add", veth, "type", "veth", "peer", "name", "eth0",
           "netns", name)
        sh("ip", "-n", self.bridge, "link", "set", veth, "master", "br0", "up")
        sh("ip", "-n", name, "addr", "add", f"{NET}.{last_octet}/24", "dev", "eth0")
        sh("ip", "-n", name, "link", "set", "eth0", "up")
        etc = Path("/etc/netns") / name
        etc.mkdir(parents=True)
        self.etc_dirs.append(etc)
        lines = ["127.0.0.1 localhost"] + [f"{addr} {host}" for addr, host in hosts]
        (etc / "hosts").write_text("\n".join(lines) + "\n")
        return name

    def start(self, name, argv, log, cwd=ROOT, env=None, stdout=None):
        out = stdout or open(log, "ab")
        try:
            proc = subprocess.Popen(["ip", "netns", "exec", name, *map(str, argv)], cwd=cwd,
                                    env=env, stdin=subprocess.DEVNULL, stdout=out,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        finally:
            out.close()
        proc.log = log
        self.procs.append(proc)
        return proc

    def run_in(self, name, argv, timeout=30, env=None):
        return subprocess.run(["ip", "netns", "exec", name, *map(str, argv)], capture_output=True,
                              text=True, timeout=timeout, env=env, cwd=ROOT)

    def wait_http(self, name, url, timeout=20.0, expect_status=200):
        """Poll `url` from inside namespace `name` until it answers."""
        code = (
            "import sys, time, urllib.request\n"
            "url, deadline = sys.argv[1], time.monotonic() + float(sys.argv[2])\n"
            "err = None\n"
            "while time.monotonic() < deadline:\n"
            "    try:\n"
            "        with urllib.request.urlopen(url, timeout=2) as r:\n"
            "            r.read(); sys.exit(0 if r.status == int(sys.argv[3]) else 3)\n"
            "    except Exception as e:\n"
            "        err = e; time.sleep(0.1)\n"
            "print(err); sys.exit(1)\n")
        r = self.run_in(name, [PYTHON, "-c", code, url, timeout, expect_status],
                        timeout=timeout + 10)
        if r.returncode != 0:
            logs = "\n".join(f"--- {p.log}\n{Path(p.log).read_text(errors='replace')[-2000:]}"
                             for p in self.procs if Path(p.log).exists())
            pytest.fail(f"{url} from {name}: {r.stdout}{r.stderr}\n{logs}")

    def stop(self, proc, sig=signal.SIGTERM, timeout=10):
        if proc.poll() is None:
            proc.send_signal(sig)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # the session we created
        except (ProcessLookupError, PermissionError):
            pass

    def cleanup(self):
        for proc in reversed(self.procs):
            self.stop(proc)
        for name in self.namespaces:
            # Anything still running in our namespaces was started by this test.
            r = sh("ip", "netns", "pids", name, check=False)
            for pid in r.stdout.split():
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass
        for name in reversed(self.namespaces):
            sh("ip", "netns", "del", name, check=False)
        for etc in self.etc_dirs:
            shutil.rmtree(etc, ignore_errors=True)
        if self.created_etc_netns:
            try:
                os.rmdir("/etc/netns")
            except OSError:
                pass


@pytest.fixture
def topo(tmp_path):
    t = Topology(tmp_path)
    try:
        yield t
    finally:
        t.cleanup()


def start_web(topo, name, log_name):
    """wsgihost -w 2 -b 0.0.0.0:5901 pyapp:app in namespace `name`, with an
    access log that shows which replica served what."""
    access = topo.tmp / f"{log_name}-access.log"
    argv = [BIN]
    if wsgihost_has("--workers"):
        argv += ["-w", "2"]
    else:
        print(f"note: {BIN.name} has no --workers yet: web runs one process")
    argv += ["-b", "0.0.0.0:5901", "--access-logfile", access, "pyapp:app"]
    env = {k: v for k, v in os.environ.items() if k != "WEB_CONCURRENCY"}
    proc = topo.start(name, argv, topo.tmp / f"{log_name}.log", env=env)
    proc.access_log = access
    return proc


def nginx_image_cmd():
    """The nginx image's command line, from nginx.Dockerfile's CMD."""
    text = (IMAGES / "nginx.Dockerfile").read_text()
    m = re.search(r"(?m)^CMD (\[.*\])\s*$", text)
    return json.loads(m.group(1))


def start_nginx(topo, name, conf="nginx.conf"):
    """nginx as the image runs it, in namespace `name`: the conf/ file mounted
    unchanged at /etc/nginx/nginx.conf, the directories prepare-nginx.sh
    makes, non-root, the image's CMD."""
    root = topo.tmp / "nginx-root"
    r = sh(IMAGES / "prepare-nginx.sh", f"{NGINX_UID}:{NGINX_GID}", root)
    assert r.returncode == 0
    log = topo.tmp / "nginx.log"
    log.touch()
    # The access log is a symlink to /dev/stdout: the image's user must be
    # able to open what its stdout is (runc hands the container's stdio to
    # that user the same way).
    os.chown(log, NGINX_UID, NGINX_GID)
    script = (
        'set -e\n'
        'sysctl -q -w net.ipv4.ip_unprivileged_port_start=0\n'
        'mount --bind "$1" /etc/nginx/nginx.conf\n'
        'mount --bind "$2/var/lib/nginx" /var/lib/nginx\n'
        'mount --bind "$2/var/log/nginx" /var/log/nginx\n'
        'mount -t tmpfs tmpfs /tmp\n'
        'shift 2\n'
        f'exec setpriv --reuid={NGINX_UID} --regid={NGINX_GID} --clear-groups "$@"\n')
    cmd = nginx_image_cmd()
    assert cmd[0] == "nginx"
    argv = ["sh", "-c", script, "sh", ROOT / "conf" / conf, root, NGINX, *cmd[1:]]
    return topo.start(name, argv, log, stdout=open(log, "ab"))


def locust_cmd(out_prefix, users, run_time):
    """The `user` service's command from compose/wsgihost_nginx, with the
    locustfile's path in this tree, fewer users and a shorter run."""
    import yaml
    compose = yaml.safe_load((ROOT / "compose" / "wsgihost_nginx" / "docker-compose.yaml")
                             .read_text())
    cmd = list(compose["services"]["user"]["command"])
    repl = {"/opt/bench/locustfile.py": str(ROOT / "bench" / "locustfile.py"),
            "/results/output": str(out_prefix)}
    cmd = [repl.get(a, a) for a in cmd]
    cmd[cmd.index("-u") + 1] = str(users)
    cmd[cmd.index("-r") + 1] = str(users)
    cmd[cmd.index("--run-time") + 1] = f"{run_time}s"
    assert cmd[0] == "/usr/bin/locust" and cmd[-2:] == ["-H", "http://nginx:80"]
    cmd[0] = LOCUST
    return cmd + ["--only-summary", "--loglevel", "WARNING", "--stop-timeout", "2"]


def locust_summary(prefix):
    with open(f"{prefix}_stats.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["Name"] == "Aggregated"]
    assert rows, f"no Aggregated row in {prefix}_stats.csv"
    return int(rows[0]["Request Count"]), int(rows[0]["Failure Count"])


def access_lines(proc):
    try:
        return sum(1 for line in open(proc.access_log) if '"GET ' in line)
    except FileNotFoundError:
        return 0


def test_user_nginx_web(topo):
    web = topo.host("web", 10)
    nginx = topo.host("nginx", 2, hosts=[(f"{NET}.10", "web")])
    user = topo.host("user", 3, hosts=[(f"{NET}.2", "nginx")])
    web_proc = start_web(topo, web, "web")
    topo.wait_http(nginx, "http://web:5901/")
    start_nginx(topo, nginx)
    topo.wait_http(user, "http://nginx:80/")

    prefix = topo.tmp / "output"
    env = dict(os.environ, THINK_TIME="none")
    r = topo.run_in(user, locust_cmd(prefix, 20, 4), timeout=60, env=env)
    requests, failures = locust_summary(prefix)
    print(f"locust {requests} requests, {failures} failures; web served {access_lines(web_proc)}")
    assert requests > 50, r.stdout + r.stderr
    assert failures == 0, f"{failures} failures:\n" + Path(f"{prefix}_failures.csv").read_text()
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert access_lines(web_proc) >= requests


@pytest.mark.parametrize("conf", ["nginx.conf", "nginx-tuned.conf"])
def test_two_web_replicas_and_one_stops(topo, conf):
    web1 = topo.host("web1", 11)
    web2 = topo.host("web2", 12)
    # `web` has two addresses, as docker's DNS answers with --scale web=2.
    nginx = topo.host("nginx", 2, hosts=[(f"{NET}.11", "web"), (f"{NET}.12", "web")])
    user = topo.host("user", 3, hosts=[(f"{NET}.2", "nginx")])
    replicas = [start_web(topo, web1, "web1"), start_web(topo, web2, "web2")]
    topo.wait_http(nginx, f"http://{NET}.11:5901/")
    topo.wait_http(nginx, f"http://{NET}.12:5901/")
    start_nginx(topo, nginx, conf)
    topo.wait_http(user, "http://nginx:80/")

    prefix = topo.tmp / "output"
    env = dict(os.environ, THINK_TIME="none")
    run_time = 5
    locust = subprocess.Popen(["ip", "netns", "exec", user, *locust_cmd(prefix, 20, run_time)],
                              cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, start_new_session=True)
    topo.procs.append(locust)
    locust.log = topo.tmp / "locust.log"
    # Let both replicas serve, then stop the first one (graceful, SIGTERM)
    # in the middle of the run.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and (access_lines(replicas[0]) < 20
                                           or access_lines(replicas[1]) < 20):
        time.sleep(0.1)
    served_before = [access_lines(p) for p in replicas]
    topo.stop(replicas[0])
    stopped_at = access_lines(replicas[1])
    out, _ = locust.communicate(timeout=run_time + 60)
    requests, failures = locust_summary(prefix)
    print(f"{conf}: served before the stop {served_before}, web2 at the stop {stopped_at}, "
          f"web2 at the end {access_lines(replicas[1])}; locust {requests} requests, "
          f"{failures} failures")

    assert all(n >= 20 for n in served_before), \
        f"both replicas must serve before the stop: {served_before}"
    assert failures == 0, (f"{failures} failures after stopping one replica:\n"
                           + Path(f"{prefix}_failures.csv").read_text() + out[-2000:])
    assert locust.returncode == 0, out[-3000:]
    # The survivor carried on alone.
    assert access_lines(replicas[1]) > stopped_at + 50
    assert requests > 200
