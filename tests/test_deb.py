"""The Debian package built from debian/ (issue 12), run by tests/deb/run:
its fields and files, and the wsgihost it installs serving pyapp:app — from
a `dpkg -x` root (WSGIHOST_DEB_ROOT), and, on a throwaway CI machine, as
really installed by apt-get (WSGIHOST_DEB_INSTALLED=1). Skipped in the
ordinary suite, which has no package to test."""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from support import run_binary

DEB = os.environ.get("WSGIHOST_DEB")
ROOT = Path(os.environ.get("WSGIHOST_DEB_ROOT", "/nonexistent"))
INSTALLED = os.environ.get("WSGIHOST_DEB_INSTALLED") == "1"

pytestmark = pytest.mark.skipif(not DEB, reason="no package to test: tests/deb/run builds one")


def multiarch():
    return subprocess.run(["dpkg-architecture", "-qDEB_HOST_MULTIARCH"], capture_output=True,
                          text=True, check=True).stdout.strip()


def pyver():
    """The X.Y the package was built for (its Depends: python3.X)."""
    m = re.search(r"\bpython(3\.\d+)\b", field("Depends"))
    assert m, field("Depends")
    return m.group(1)


def field(name):
    return subprocess.run(["dpkg-deb", "-f", DEB, name], capture_output=True, text=True,
                          check=True).stdout.strip()


def prefix():
    """Where the package's files are: the dpkg -x root, or / once installed."""
    return Path("/") if INSTALLED else ROOT


def test_control_fields():
    assert field("Package") == "wsgihost"
    deps = field("Depends")
    v = pyver()
    # The host-interpreter mode execs /usr/bin/python3.X; the embedded one
    # links the shared libpython3.X (security updates apply without a rebuild).
    assert re.search(rf"(^|, )python{v}(,|$)", deps), deps
    assert f"libpython{v} " in deps and "libssl3" in deps, deps
    assert "python3-flask" in field("Recommends")


def test_files_where_debian_puts_them():
    names = set(subprocess.run(["dpkg-deb", "-c", DEB], capture_output=True, text=True,
                               check=True).stdout.split())
    for path in ("./usr/bin/wsgihost", f"./usr/lib/{multiarch()}/wsgihost/_wsgihost.so",
                 "./usr/share/man/man1/wsgihost.1.gz", "./usr/share/doc/wsgihost/copyright",
                 "./usr/share/doc/wsgihost/examples/pyapp/__init__.py"):
        assert path in names, (path, sorted(names))
    # A run of pyapp in the tree leaves bytecode there; the package has none.
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")], sorted(names)


def binary():
    return prefix() / "usr" / "bin" / "wsgihost"


def test_version_names_the_packaged_module():
    r = run_binary(["--version"], binary=binary())
    assert r.returncode == 0, r
    mod = prefix() / "usr" / "lib" / multiarch() / "wsgihost" / "_wsgihost.so"
    assert f"embeds CPython {pyver()} (shared libpython)" in r.stdout, r.stdout
    assert f"serves inside /usr/bin/python{pyver()} (host interpreter, {mod})" in r.stdout, \
        r.stdout


@pytest.mark.parametrize("mode", [pytest.param({}, id="host"),
                                  pytest.param({"WSGIHOST_EMBEDDED": "1"}, id="embedded")])
def test_serves_the_packaged_example_app(server_factory, mode):
    examples = prefix() / "usr" / "share" / "doc" / "wsgihost" / "examples"
    srv = server_factory("pyapp:app", binary=binary(), cwd=examples, pythonpath=False, env=mode)
    r = srv.get("/")
    assert r.status == 200 and r.body == b"Hello from pyapp\n", r
    r = srv.get("/api/items")
    assert r.status == 200 and len(r.json()) == 50, r
    log = srv.log()
    assert f"Open http://127.0.0.1:{srv.port}/ in a browser" in log, log
    assert ("(embedded interpreter" if mode else "(host interpreter") in log, log


@pytest.mark.skipif(shutil.which("man") is None, reason="man-db is not installed")
def test_man_page_renders():
    page = prefix() / "usr" / "share" / "man" / "man1" / "wsgihost.1.gz"
    env = dict(os.environ, MANWIDTH="80", LC_ALL="C.UTF-8")
    r = subprocess.run(["man", "--warnings", "-l", str(page)], capture_output=True, text=True,
                       timeout=60, env=env)
    assert r.returncode == 0 and r.stderr == "", r.stderr
    assert "EXAMPLES" in re.sub(".\x08", "", r.stdout)


@pytest.mark.skipif(not INSTALLED, reason="not installed with apt-get (CI=true as root does it)")
def test_installed_for_real():
    st = subprocess.run(["dpkg-query", "-W", "-f", "${Status}", "wsgihost"], capture_output=True,
                        text=True).stdout
    assert st == "install ok installed", st
    assert shutil.which("wsgihost") == "/usr/bin/wsgihost"
    r = subprocess.run(["man", "-w", "wsgihost"], capture_output=True, text=True, timeout=60)
    assert r.stdout.strip() == "/usr/share/man/man1/wsgihost.1.gz", r
