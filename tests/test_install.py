"""Install and first run (issue 12): `meson install` puts wsgihost, its
_wsgihost.so and the man page where they belong, the installed binary finds
its module from wherever the tree is (DESTDIR, dpkg -x, a copied prefix)
and serves pyapp:app; the man page renders without a warning and describes
every option `wsgihost --help` lists (and no other)."""

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from support import BIN, SOURCE_ROOT, run_binary

MAN_PAGE = SOURCE_ROOT / "doc" / "wsgihost.1"
BUILD_DIR = BIN.parent
OPTION = re.compile(r"(?<![\w-])(--[a-z][a-z0-9_-]*|-[a-zA-Z])(?![\w-])")


def help_options():
    """The options --help lists: the option column of each line, plus the
    spellings named in '(also --x)'."""
    r = run_binary(["--help"])
    assert r.returncode == 0, r
    opts = set()
    for line in r.stdout.splitlines():
        m = re.match(r"^ {2,6}(-\w, )?(--[a-z][\w-]*)", line)
        if m:
            opts.add(m.group(2))
            if m.group(1):
                opts.add(m.group(1)[:2])
        opts.update(re.findall(r"\(also (--[a-z][\w-]*)\)", line))
    assert len(opts) > 40, sorted(opts)  # the parse found the options
    return opts


def unroff(text):
    """roff source -> plain words: \\- is a hyphen, fonts and escapes dropped."""
    text = text.replace("\\-", "-").replace("\\(aq", "'").replace("\\e", "\\")
    text = re.sub(r"\\f[BIRP]", "", text)
    return text


def man_sections():
    """{section name: source lines} of the man page."""
    sections, name = {}, None
    for line in MAN_PAGE.read_text().splitlines():
        if line.startswith(".SH "):
            name = line[4:].strip().strip('"')
            sections[name] = []
        elif name is not None:
            sections[name].append(line)
    return sections


def man_option_heads():
    """Options named in the tags (.TP heads) of the OPTIONS section."""
    lines = man_sections()["OPTIONS"]
    opts = set()
    for i, line in enumerate(lines[:-1]):
        if line.strip() == ".TP":
            head = unroff(lines[i + 1])
            opts.update(OPTION.findall(head))
    return opts


def test_every_help_option_is_in_the_man_page():
    text = unroff("\n".join(man_sections()["OPTIONS"]))
    heads = man_option_heads()
    missing = sorted(o for o in help_options() if o not in heads)
    assert not missing, (f"options in `wsgihost --help` that doc/wsgihost.1 does not describe "
                         f"(add a .TP entry under OPTIONS): {missing}")
    assert "--bind" in text


def test_every_man_page_option_is_in_help():
    stale = sorted(man_option_heads() - help_options())
    assert not stale, f"doc/wsgihost.1 describes options that --help does not list: {stale}"


def test_man_page_has_the_sections_a_reader_looks_for():
    names = set(man_sections())
    for want in ("NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "CONFIGURATION FILE", "SIGNALS",
                 "ENVIRONMENT", "EXIT STATUS", "EXAMPLES", "SEE ALSO"):
        assert want in names, (want, sorted(names))
    # The environment variables config.c reads are documented.
    env = unroff("\n".join(man_sections()["ENVIRONMENT"]))
    for var in ("WSGIHOST_CMD_ARGS", "GUNICORN_CMD_ARGS", "WEB_CONCURRENCY", "VIRTUAL_ENV",
                "FORWARDED_ALLOW_IPS", "WSGIHOST_EMBEDDED", "LISTEN_FDS"):
        assert var in env, var
    # Every signal the README's table lists.
    sig = unroff("\n".join(man_sections()["SIGNALS"]))
    for s in ("TERM", "INT", "QUIT", "HUP", "TTIN", "TTOU", "USR1"):
        assert re.search(rf"\b{s}\b", sig), s


def test_the_exit_statuses_it_documents_are_the_real_ones():
    status = unroff("\n".join(man_sections()["EXIT STATUS"]))
    assert re.search(r"^\.B 2$", status, re.M) and re.search(r"^\.B 1$", status, re.M)
    assert run_binary(["--no-such-option", "pyapp:app"]).returncode == 2
    assert run_binary(["--help"]).returncode == 0
    assert run_binary(["-b", "256.0.0.1:1", "pyapp:app"]).returncode == 1


@pytest.mark.skipif(shutil.which("groff") is None, reason="groff is not installed")
def test_man_page_renders_without_warnings():
    r = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z", str(MAN_PAGE)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stderr == "", r.stderr


@pytest.mark.skipif(shutil.which("man") is None, reason="man-db is not installed")
def test_man_l_renders_it():
    env = dict(os.environ, MANWIDTH="80", LC_ALL="C.UTF-8")
    r = subprocess.run(["man", "--warnings", "-l", str(MAN_PAGE)], capture_output=True,
                       text=True, timeout=60, env=env)
    assert r.returncode == 0 and r.stderr == "", r.stderr
    # grotty's overstriking (bold, underline) off, justification spaces joined.
    text = " ".join(re.sub(".\x08", "", r.stdout).split())
    assert "wsgihost - a WSGI server" in text and "--graceful-timeout" in text, text[:500]


# -- meson install -----------------------------------------------------------

def host_mode_built():
    return re.search(r"^serves inside ", run_binary(["--version"]).stdout, re.M) is not None


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """`meson install --destdir` of the build under test: {kind: path}."""
    if not (BUILD_DIR / "build.ninja").exists() or shutil.which("meson") is None:
        pytest.skip(f"{BUILD_DIR} is not a meson build directory")
    dest = tmp_path_factory.mktemp("destdir")
    r = subprocess.run(["meson", "install", "-C", str(BUILD_DIR), "--no-rebuild", "--destdir",
                        str(dest)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    r = subprocess.run(["meson", "introspect", "--installed", str(BUILD_DIR)],
                       capture_output=True, text=True, timeout=60, check=True)
    where = {}
    for src, target in json.loads(r.stdout).items():
        path = Path(str(dest) + target)
        assert path.exists(), (src, path)
        where[Path(target).name] = path
    return where


def test_meson_install_puts_binary_module_and_man_page_in_place(installed):
    assert installed["wsgihost"].parent.name == "bin" and os.access(installed["wsgihost"],
                                                                     os.X_OK)
    man = installed["wsgihost.1"]
    assert man.parent.name == "man1" and man.parent.parent.name == "man", man
    assert man.read_bytes() == MAN_PAGE.read_bytes()
    if host_mode_built():
        mod = installed["_wsgihost.so"]
        assert mod.parent.name == "wsgihost", mod
    else:
        assert "_wsgihost.so" not in installed


def test_installed_binary_finds_its_module_under_its_own_prefix(installed):
    r = run_binary(["--version"], binary=installed["wsgihost"])
    assert r.returncode == 0, r
    if host_mode_built():
        # The destdir copy, not the build tree's module nor /usr/lib's.
        assert f"(host interpreter, {installed['_wsgihost.so']})" in r.stdout, r.stdout
    else:
        assert "built without the host-interpreter mode" in r.stdout, r.stdout


@pytest.mark.parametrize("layout", ["lib/wsgihost", "libexec/wsgihost"])
def test_other_layouts_are_found(installed, tmp_path, layout):
    if not host_mode_built():
        pytest.skip("built without _wsgihost.so")
    (tmp_path / "bin").mkdir()
    exe = tmp_path / "bin" / "wsgihost"
    shutil.copy2(installed["wsgihost"], exe)
    (tmp_path / layout).mkdir(parents=True)
    mod = tmp_path / layout / "_wsgihost.so"
    shutil.copy2(installed["_wsgihost.so"], mod)
    out = run_binary(["--version"], binary=exe).stdout
    assert f"(host interpreter, {mod})" in out, out
    mod.unlink()
    out = run_binary(["--version"], binary=exe).stdout
    # Only the absolute install directory is left to try.
    assert f"(host interpreter, {mod})" not in out, out
    assert "serves with the embedded interpreter (no _wsgihost.so" in out or \
        "serves inside" in out, out


@pytest.mark.parametrize("mode", [pytest.param({}, id="host"),
                                  pytest.param({"WSGIHOST_EMBEDDED": "1"}, id="embedded")])
def test_installed_binary_serves_pyapp(server_factory, installed, mode):
    srv = server_factory("pyapp:app", binary=installed["wsgihost"], pythonpath=False,
                         env=mode)
    r = srv.get("/")
    assert r.status == 200 and r.body == b"Hello from pyapp\n", r
    log = srv.log()
    want = "embedded" if mode or not host_mode_built() else "host"
    assert f"({want} interpreter" in log, log
