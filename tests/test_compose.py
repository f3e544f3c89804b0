"""The docker compose stacks (compose/) and the nginx configurations (conf/),
proved without a Docker engine:

- every compose file passes `docker-compose config` and has the experiment's
  shape (web / nginx / user services, only the entry port published, locust
  by its Debian path with the experiment's parameters, results/ bind-mounted,
  build args for the host user's ids, nginx with a conf/ file unchanged);
- every Dockerfile RUN step is one of the scripts in compose/images/, and the
  tests run those scripts here: the package lists against this Debian, the
  user creation into a scratch /etc, the nginx preparation into a scratch
  root, the meson build into a temporary directory; then each stack's `web`
  command and health check run against the freshly built binary;
- conf/nginx.conf and conf/nginx-tuned.conf pass `nginx -t` as written
  (`web` resolved through a hosts file in a private mount namespace), and so
  does the loopback copy bench/run generates.

tests/test_topology.py runs the stacks' processes for real in network
namespaces.
"""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from support import SOURCE_ROOT

ROOT = SOURCE_ROOT
COMPOSE = ROOT / "compose"
IMAGES = COMPOSE / "images"
CONF = ROOT / "conf"
STACKS = ["flask", "flask_gunicorn", "flask_gunicorn_nginx", "wsgihost", "wsgihost_nginx"]
NGINX_STACKS = {"flask_gunicorn_nginx": "nginx.conf", "wsgihost_nginx": "nginx-tuned.conf"}
WEB_IMAGE = {"flask": "app", "flask_gunicorn": "app", "flask_gunicorn_nginx": "app",
             "wsgihost": "wsgihost", "wsgihost_nginx": "wsgihost"}
DOCKERFILES = sorted(IMAGES.glob("*.Dockerfile"))
PACKAGE_LISTS = sorted(p.stem for p in (IMAGES / "packages").glob("*.txt"))
# The experiment's locust parameters (-u 1000 -r 100 --run-time 10s --csv=output).
EXPERIMENT_ARGS = ["--headless", "-u", "1000", "-r", "100", "--run-time", "10s",
                   "--csv", "/results/output"]

DOCKER_COMPOSE = shutil.which("docker-compose")
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
need_compose = pytest.mark.skipif(DOCKER_COMPOSE is None,
                                  reason="docker-compose not found: install the Debian package "
                                         "docker-compose")
need_nginx = pytest.mark.skipif(NGINX is None,
                                reason="nginx not found: install the Debian package nginx-light")


def run(argv, timeout=60, **kw):
    return subprocess.run([str(a) for a in argv], capture_output=True, text=True,
                          timeout=timeout, **kw)


def compose_config(stack, env=None):
    """The resolved compose file (docker-compose config), as a dict."""
    import yaml
    full_env = dict(os.environ)
    for var in ("HOST_UID", "HOST_GID", "HOST_USERNAME", "HOST_GROUPNAME", "NGINX_CONF",
                "ENTRY_PORT", "THINK_TIME"):
        full_env.pop(var, None)
    full_env.update(env or {})
    r = run([DOCKER_COMPOSE, "-f", COMPOSE / stack / "docker-compose.yaml", "config"],
            env=full_env, cwd=COMPOSE / stack)
    assert r.returncode == 0, r.stderr
    return yaml.safe_load(r.stdout)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(proc, port, log, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"exited with {proc.returncode} before accepting:\n{log.read_text()[-3000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    pytest.fail(f"no connection on port {port} within {timeout} s:\n{log.read_text()[-3000:]}")


def stop(proc):
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    try:
        os.killpg(proc.pid, 9)  # leftovers of the group we created (workers)
    except (ProcessLookupError, PermissionError):
        pass


# ---------------------------------------------------------------------------
# compose files

@need_compose
@pytest.mark.parametrize("stack", STACKS)
def test_compose_file_is_valid(stack):
    path = COMPOSE / stack / "docker-compose.yaml"
    r = run([DOCKER_COMPOSE, "-f", path, "config", "-q"], cwd=path.parent)
    assert r.returncode == 0, f"{path}: {r.stderr}"


@need_compose
@pytest.mark.parametrize("stack", STACKS)
def test_compose_stack_shape(stack):
    cfg = compose_config(stack)
    services = cfg["services"]
    nginx_conf = NGINX_STACKS.get(stack)
    expected = {"web", "user"} | ({"nginx"} if nginx_conf else set())
    assert set(services) == expected
    entry, entry_port = ("nginx", 80) if nginx_conf else ("web", 5901)

    # Only the entry service publishes a port; the app server is internal.
    for name, svc in services.items():
        if name == entry:
            assert svc["ports"] and all(str(p).split("/")[0].endswith(f":{entry_port}")
                                        for p in svc["ports"]), svc["ports"]
        else:
            assert "ports" not in svc, f"{name} must not publish ports (expose only)"
    assert "5901" in [str(p) for p in services["web"]["expose"]]
    # Scalable: no fixed container name.
    assert "container_name" not in services["web"]

    # Every image is built from compose/images/ with the host user's ids.
    for name, svc in services.items():
        build = svc["build"]
        assert Path(build["context"]).resolve() == ROOT
        assert build["dockerfile"].startswith("compose/images/")
        assert (ROOT / build["dockerfile"]).is_file()
        assert build["args"] == {"UID": "1000", "GID": "1000", "USERNAME": "user",
                                 "GROUPNAME": "user"}, name
    image = Path(services["web"]["build"]["dockerfile"]).name
    assert image == f"{WEB_IMAGE[stack]}.Dockerfile"

    # The load generator: locust by its Debian path, the experiment's
    # parameters, the entry service as host, CSVs into ./results.
    user = services["user"]
    cmd = user["command"]
    assert cmd[0] == "/usr/bin/locust"
    assert cmd[1:3] == ["-f", "/opt/bench/locustfile.py"]
    assert cmd[3:-2] == EXPERIMENT_ARGS
    assert cmd[-2:] == ["-H", f"http://{entry}:{entry_port}"]
    assert f"{COMPOSE / stack / 'results'}:/results:rw" in user["volumes"]
    assert (COMPOSE / stack / "results" / ".gitignore").is_file(), \
        "results/ must exist before `up`, or docker creates it owned by root"
    assert user["depends_on"] == {entry: {"condition": "service_healthy"}}
    assert user["environment"]["THINK_TIME"] == "between"

    if nginx_conf:
        nginx = services["nginx"]
        assert nginx["volumes"] == [f"{CONF / nginx_conf}:/etc/nginx/nginx.conf:ro"]
        assert nginx["depends_on"] == {"web": {"condition": "service_healthy"}}
        assert nginx["sysctls"]["net.ipv4.ip_unprivileged_port_start"] in ("0", 0)


@need_compose
def test_compose_build_args_and_nginx_conf_follow_the_environment():
    cfg = compose_config("wsgihost_nginx", env={
        "HOST_UID": "1234", "HOST_GID": "2345", "HOST_USERNAME": "me", "HOST_GROUPNAME": "us",
        "NGINX_CONF": "nginx.conf", "THINK_TIME": "none"})
    services = cfg["services"]
    for svc in services.values():
        assert svc["build"]["args"] == {"UID": "1234", "GID": "2345", "USERNAME": "me",
                                        "GROUPNAME": "us"}
    assert services["nginx"]["volumes"] == [f"{CONF / 'nginx.conf'}:/etc/nginx/nginx.conf:ro"]
    assert services["user"]["environment"]["THINK_TIME"] == "none"


# ---------------------------------------------------------------------------
# Dockerfiles and the scripts their RUN steps call

def dockerfile_instructions(path):
    """(instruction, argument) pairs, continuation lines joined."""
    text = re.sub(r"\\\n", " ", path.read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        word, _, rest = line.partition(" ")
        out.append((word.upper(), rest.strip()))
    return out


def test_dockerfiles_exist():
    assert {p.name for p in DOCKERFILES} >= {"app.Dockerfile", "wsgihost.Dockerfile",
                                             "nginx.Dockerfile", "locust.Dockerfile"}


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_dockerfile_steps(dockerfile):
    ins = dockerfile_instructions(dockerfile)
    froms = [a for i, a in ins if i == "FROM"]
    assert froms and all(f.split()[0] == "debian:bookworm-slim" for f in froms)
    # The final stage: the user's ids as build args, defaults 1000, and it
    # runs as that user.
    last = max(i for i, (word, _) in enumerate(ins) if word == "FROM")
    final = ins[last:]
    args = dict(a.split("=", 1) for i, a in final if i == "ARG")
    assert args == {"UID": "1000", "GID": "1000", "USERNAME": "user", "GROUPNAME": "user"}
    assert ("USER", "${USERNAME}") in final
    assert ("RUN", '/opt/images/add-user.sh "${UID}" "${GID}" "${USERNAME}" "${GROUPNAME}"') \
        in final
    for word, arg in ins:
        if word == "RUN":
            # Every step is a script that the tests below run as well.
            script = arg.split()[0]
            assert script.startswith("/opt/images/"), f"RUN step not a script: {arg}"
            local = IMAGES / script[len("/opt/images/"):]
            assert local.is_file() and os.access(local, os.X_OK), local
            if local.name == "install-packages.sh":
                assert arg.split()[1] in PACKAGE_LISTS
        elif word == "COPY" and not arg.startswith("--from"):
            for src in arg.split()[:-1]:
                assert (ROOT / src).exists(), f"{dockerfile.name}: COPY source {src} missing"
        elif word == "CMD":
            argv = json.loads(arg)
            assert argv[0] in ("gunicorn", "wsgihost", "nginx", "/usr/bin/locust")


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_dockerignore_keeps_what_the_dockerfile_copies(dockerfile):
    ignore = Path(str(dockerfile) + ".dockerignore")
    assert ignore.is_file()
    kept = [line[1:].rstrip("/") for line in ignore.read_text().splitlines()
            if line.startswith("!")]
    for word, arg in dockerfile_instructions(dockerfile):
        if word == "COPY" and not arg.startswith("--from"):
            for src in arg.split()[:-1]:
                src = src.rstrip("/")
                assert any(src == k or src.startswith(k + "/") for k in kept), src


def test_package_lists_are_debian_packages():
    """Every package an image installs is installed on this Debian or known to apt."""
    r = run([IMAGES / "install-packages.sh", "--check", *PACKAGE_LISTS])
    assert r.returncode == 0, r.stderr
    r = run([IMAGES / "install-packages.sh", "--print", "locust"])
    assert r.stdout.split() == ["python3-locust"]
    # The path the compose files call locust by comes from that package.
    r = run(["dpkg-query", "-S", "/usr/bin/locust"])
    assert r.returncode == 0 and r.stdout.startswith("python3-locust:"), r.stdout + r.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="useradd --prefix needs root")
def test_add_user_script(tmp_path):
    etc = tmp_path / "etc"
    etc.mkdir()
    for name in ("passwd", "group", "shadow", "gshadow", "login.defs"):
        if os.path.exists(f"/etc/{name}"):
            shutil.copy(f"/etc/{name}", etc / name)
    r = run([IMAGES / "add-user.sh", "4321", "4322", "benchuser", "benchgroup", tmp_path])
    assert r.returncode == 0, r.stderr
    assert "benchuser:x:4321:4322::/home/benchuser:/bin/bash" in (etc / "passwd").read_text()
    assert "benchgroup:x:4322:" in (etc / "group").read_text()
    assert "benchuser" not in Path("/etc/passwd").read_text()


def test_prepare_nginx_script(tmp_path):
    owner = f"{os.getuid()}:{os.getgid()}"
    r = run([IMAGES / "prepare-nginx.sh", owner, tmp_path])
    assert r.returncode == 0, r.stderr
    for d in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        assert (tmp_path / "var/lib/nginx" / d).is_dir()
    logs = tmp_path / "var/log/nginx"
    assert os.readlink(logs / "access.log") == "/dev/stdout"
    assert os.readlink(logs / "error.log") == "/dev/stderr"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """wsgihost.Dockerfile's build stage, run here under a temporary root:
    its COPY steps (so the build sees exactly the files the image build
    sees: a file meson.build needs but the Dockerfile does not copy fails
    here too), then its RUN steps other than the package installation (the
    packages are checked by test_package_lists_are_debian_packages), with
    absolute paths moved under the temporary root."""
    base = tmp_path_factory.mktemp("image-build")
    ins = dockerfile_instructions(IMAGES / "wsgihost.Dockerfile")
    stage_end = [i for i, (word, _) in enumerate(ins) if word == "FROM"][1]

    def here(path):
        return base / path.lstrip("/")

    for word, arg in ins[:stage_end]:
        if word == "COPY":
            *srcs, dest = arg.split()
            if dest.startswith("/opt/images"):
                continue  # the scripts: run from compose/images directly
            for src in srcs:
                source = ROOT / src
                target = here(dest)
                if source.is_dir():
                    shutil.copytree(source, target, dirs_exist_ok=True, symlinks=True,
                                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
                else:
                    target.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(source, target / source.name)
        elif word == "RUN" and "install-packages.sh" not in arg:
            argv = arg.split()
            argv = [str(IMAGES / a[len("/opt/images/"):]) if a.startswith("/opt/images/")
                    else str(here(a)) if a.startswith("/") else a for a in argv]
            r = run(argv, timeout=600)
            if r.returncode != 0:
                pytest.fail(f"{' '.join(argv)} failed:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}")
    binary = here("/out/bin/wsgihost")
    assert binary.is_file()
    return binary


def test_build_script(built):
    r = run([built, "--version"])
    assert r.returncode == 0 and "wsgihost" in (r.stdout + r.stderr)


@need_compose
@pytest.mark.parametrize("stack", STACKS)
def test_web_command_and_health_check(stack, built, tmp_path):
    """The stack's `web` command, run as the image runs it: from /app with the
    pyapp package beside it, the image's binaries on PATH; then its health
    check and two requests."""
    services = compose_config(stack)["services"]
    web = services["web"]
    port = free_port()
    argv = [a.replace("0.0.0.0:5901", f"127.0.0.1:{port}").replace("0.0.0.0", "127.0.0.1")
            for a in web["command"]]
    argv = [str(port) if a == "5901" else a for a in argv]
    # The image's python3 is Debian's: here that is /usr/bin/python3.
    argv = ["/usr/bin/python3" if a == "python3" else a for a in argv]
    app_dir = tmp_path / "app"
    shutil.copytree(ROOT / "pyapp", app_dir / "pyapp",
                    ignore=shutil.ignore_patterns("__pycache__"))
    env = dict(os.environ, PATH=f"{built.parent}:/usr/local/bin:/usr/bin:/bin")
    env.pop("WEB_CONCURRENCY", None)
    log = tmp_path / "web.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(argv, cwd=app_dir, env=env, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_port(proc, port, log)
        check = [a.replace("5901", str(port)) for a in web["healthcheck"]["test"][1:]]
        r = run(check, timeout=10)
        assert r.returncode == 0, r.stderr
        for path in ("/", "/api/items"):
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as resp:
                assert resp.status == 200
                resp.read()
    finally:
        stop(proc)


# ---------------------------------------------------------------------------
# nginx configurations

def nginx_test_argv(conf, prefix):
    return [NGINX, "-t", "-q", "-p", prefix, "-c", conf, "-e", prefix / "error.log",
            "-g", f"pid {prefix / 'nginx.pid'};"]


@need_nginx
@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("unshare") is None,
                    reason="needs root and unshare(1) for a private /etc/hosts")
@pytest.mark.parametrize("conf", ["nginx.conf", "nginx-tuned.conf"])
def test_nginx_conf_as_written(conf, tmp_path):
    """`nginx -t -c conf/...` with the file unchanged: `web` must resolve, as
    it does in compose, so a hosts file is bind-mounted over /etc/hosts in a
    private mount namespace (the real /etc/hosts is untouched)."""
    hosts = tmp_path / "hosts"
    hosts.write_text("127.0.0.1 localhost\n127.0.0.1 web\n")
    script = ('mount --bind "$1" /etc/hosts && shift && exec "$@"')
    r = run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", hosts,
             *nginx_test_argv(CONF / conf, tmp_path)])
    assert r.returncode == 0, r.stdout + r.stderr
    text = (CONF / conf).read_text()
    assert re.search(r"(?m)^\s*listen\s+80\s*;", text)
    if conf == "nginx.conf":
        # The experiment's location block, literally.
        assert re.search(r"location / \{\s*(#[^\n]*\n\s*)*proxy_pass http://web:5901;\s*\}", text)
    else:
        for directive in (r"upstream web \{", r"server web:5901;", r"keepalive \d+;",
                          r"proxy_http_version 1\.1;", r'proxy_set_header Connection "";',
                          r"proxy_pass http://web;"):
            assert re.search(directive, text), directive


@need_nginx
@pytest.mark.parametrize("conf", ["nginx.conf", "nginx-tuned.conf"])
def test_nginx_conf_as_the_bench_renders_it(conf, tmp_path):
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import benchlib
    finally:
        sys.path.pop(0)
    text = benchlib.render_nginx_conf(CONF / conf, tmp_path, 5901, 8080)
    assert "web:5901" not in text and "127.0.0.1:5901" in text
    assert "listen 127.0.0.1:8080;" in text
    # The location block is the same as in the source file.
    block = re.compile(r"(?m)^ *location / \{.*?\n        \}", re.S)
    assert block.search(text).group(0) == block.search(
        (CONF / conf).read_text()).group(0).replace("web:5901", "127.0.0.1:5901")
    rendered = tmp_path / "nginx.conf"
    rendered.write_text(text)
    (tmp_path / "logs").mkdir()
    (tmp_path / "tmp").mkdir()
    r = run(nginx_test_argv(rendered, tmp_path))
    assert r.returncode == 0, r.stdout + r.stderr


# ---------------------------------------------------------------------------
# the locustfile the user containers run

@pytest.mark.parametrize("think", ["between", "none"])
def test_locustfile_loads(think):
    locust = shutil.which("locust") or "/usr/bin/locust"
    if not os.path.exists(locust):
        pytest.skip("locust not found: install the Debian package python3-locust")
    r = run([locust, "-f", ROOT / "bench" / "locustfile.py", "--list"],
            env=dict(os.environ, THINK_TIME=think), timeout=60)
    assert r.returncode == 0, r.stderr
    assert "ApiUser" in r.stdout
