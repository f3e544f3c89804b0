"""Command line and start-up: --help/--version, bad options, every way of
naming the app, start-up errors (one clear `wsgihost:` message, non-zero exit,
never a hang), binds, sys.executable and sys.path of the embedded interpreter."""

import os
import re
import socket

import pytest

from support import (APPS, BIN, SOURCE_ROOT, RawConn, build_request, free_port, ipv6_available,
                     run_binary)


def project_version():
    m = re.search(r"version\s*:\s*'([^']+)'", (SOURCE_ROOT / "meson.build").read_text())
    return m.group(1)


def bind_args():
    return ["-b", f"127.0.0.1:{free_port()}"]


def expect_startup_error(args, *contains, cwd=None):
    p = run_binary(args, cwd=cwd)
    assert p.returncode != 0, f"exit 0 for {args}:\n{p.stdout}\n{p.stderr}"
    assert p.returncode > 0, f"killed by signal {-p.returncode} for {args}:\n{p.stderr}"
    assert "wsgihost:" in p.stderr, p.stderr
    for text in contains:
        assert text in p.stderr, f"{text!r} not in stderr:\n{p.stderr}"
    for bad in ("Sanitizer", "runtime error:", "Segmentation"):
        assert bad not in p.stderr, p.stderr
    return p


def test_help():
    p = run_binary(["--help"])
    assert p.returncode == 0, p.stderr
    out = p.stdout.lower()
    assert "usage" in out
    for opt in ("--bind", "--chdir", "--pythonpath", "--keep-alive", "--limit-request-line",
                "--limit-request-body", "--access-logfile", "--graceful-timeout"):
        assert opt in out, opt


def test_version():
    p = run_binary(["--version"])
    assert p.returncode == 0, p.stderr
    assert project_version() in p.stdout


def test_no_app_argument():
    expect_startup_error(bind_args())


def test_two_app_arguments():
    expect_startup_error(bind_args() + ["hello_app", "proto"])


@pytest.mark.parametrize("args", [
    ["--bogus"],
    ["-Z"],
    ["--keep-alive", "abc"],
    ["--keep-alive", "-1"],
    ["--keep-alive=abc"],
    ["--backlog", "abc"],
    ["--backlog", "-5"],
    ["--limit-request-line", "abc"],
    ["--limit-request-line", "-1"],
    ["--limit-request-fields", "1x"],
    ["--limit-request-field_size", "nan"],
    ["--limit-request-body", "-1"],
    ["--limit-request-body", "1e3"],
    ["--body-buffer-size", "big"],
    ["--header-timeout", "xyz"],
    ["--body-timeout", ""],
    ["--send-timeout", "-3"],
    ["--graceful-timeout", "soon"],
    ["--log-level", "loud"],
    ["-b", "127.0.0.1:99999"],
    ["-b", "127.0.0.1:abc"],
    ["-b", ""],
    ["-b", "[::1"],
    ["-b", "unix:"],
], ids=lambda a: " ".join(a) or "empty")
def test_bad_option(args):
    b = [] if args[0] == "-b" else bind_args()
    expect_startup_error(b + args + ["--pythonpath", str(APPS), "hello_app"])


def test_option_missing_value():
    expect_startup_error(["hello_app", "-b"])


def test_module_not_found():
    expect_startup_error(bind_args() + ["no_such_module_xyz:app"], "no_such_module_xyz")


def test_import_error_prints_traceback():
    p = expect_startup_error(bind_args() + ["--pythonpath", str(APPS), "broken_import:app"],
                             "boom at import time")
    assert "Traceback" in p.stderr


def test_missing_attribute():
    expect_startup_error(bind_args() + ["--pythonpath", str(APPS), "hello_app:nope"], "nope")


def test_not_callable():
    expect_startup_error(bind_args() + ["--pythonpath", str(APPS), "notcallable_app:app"])


def test_factory_returns_not_callable():
    expect_startup_error(bind_args() + ["--pythonpath", str(APPS),
                                        "factory_app:make_not_callable()"])


def test_factory_raises():
    p = expect_startup_error(bind_args() + ["--pythonpath", str(APPS), "factory_app:make_raises()"],
                             "factory failed")
    assert "Traceback" in p.stderr


@pytest.mark.parametrize("spec", ["pyapp:create_app(", ":app", "pyapp:", "pyapp:1app",
                                  "pyapp:create_app(x=)", "pyapp:app:app"])
def test_malformed_app_spec(spec):
    expect_startup_error(bind_args() + [spec])


def test_factory_arguments_are_not_evaluated(tmp_path):
    """Only literals: an expression must be refused, not run."""
    marker = tmp_path / "pwned"
    expect_startup_error(bind_args() + [
        f'pyapp:create_app(__import__("os").system("touch {marker}"))'])
    assert not marker.exists()


def test_port_in_use():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        expect_startup_error(["-b", f"127.0.0.1:{port}", "--pythonpath", str(APPS), "hello_app"],
                             str(port))


def test_unix_path_not_creatable(tmp_path):
    path = tmp_path / "no" / "such" / "dir" / "s.sock"
    expect_startup_error(["-b", f"unix:{path}", "--pythonpath", str(APPS), "hello_app"])


def test_chdir_missing():
    expect_startup_error(bind_args() + ["--chdir", "/nonexistent/wsgihost-dir", "hello_app"],
                         "/nonexistent/wsgihost-dir")


def test_error_logfile_not_writable():
    expect_startup_error(bind_args() + ["--error-logfile", "/nonexistent/dir/err.log",
                                        "--pythonpath", str(APPS), "hello_app"])


# -- ways of naming the app ----------------------------------------------------------

def body_of(srv, path="/"):
    r = srv.get(path)
    assert r.status == 200, r
    return r.body


def test_module_alone_means_application(server_factory):
    assert body_of(server_factory("hello_app")) == b"Hello, World!"


def test_module_colon_name(server_factory):
    assert body_of(server_factory("hello_app:application")) == b"Hello, World!"


def test_dotted_attribute(server_factory):
    assert body_of(server_factory("factory_app:holder.app")) == b"from dotted attribute"


def test_factory_no_args(server_factory):
    assert body_of(server_factory("pyapp:create_app()")) == b"Hello from pyapp\n"


def test_factory_literal_args(server_factory):
    assert body_of(server_factory('factory_app:make("x")')) == b"x"


def test_factory_literal_kwargs(server_factory):
    assert body_of(server_factory("factory_app:make('ab', repeat=3)")) == b"ababab"


def test_relative_pythonpath(server_factory):
    srv = server_factory("hello_app", "--pythonpath", "tests/apps", pythonpath=False,
                         cwd=SOURCE_ROOT)
    assert body_of(srv) == b"Hello, World!"


def test_chdir_puts_directory_on_sys_path(server_factory):
    srv = server_factory("info_app", "--chdir", str(APPS), pythonpath=False, cwd="/")
    info = srv.get("/").json()
    assert os.path.realpath(info["cwd"]) == os.path.realpath(APPS)


def test_build_dir_usage(server_factory):
    """`cd build && ./wsgihost pyapp:app`: the build dir has a pyapp symlink
    and the current directory is on sys.path."""
    assert (BIN.parent / "pyapp").exists(), "build dir has no pyapp symlink"
    srv = server_factory("pyapp:app", cwd=BIN.parent, pythonpath=False)
    assert body_of(srv) == b"Hello from pyapp\n"


def test_interpreter_facts(server_factory):
    srv = server_factory("info_app")
    info = srv.get("/").json()
    # sys.executable must be the interpreter matching the linked libpython
    # (Debian's), never a pyenv shim found on PATH.
    assert os.path.realpath(info["executable"]).startswith("/usr/bin/python3"), info
    assert info["version"][:2] == [3, 11]
    assert info["module"] == "info_app"
    assert info["pid"] == srv.pid
    assert str(APPS) in info["path"]
    assert os.path.realpath(info["path"][0]) == os.path.realpath(info["cwd"]) or \
        info["path"][0] in ("", "."), info["path"][:3]


def test_app_imported_once(server_factory):
    srv = server_factory("info_app")
    for _ in range(5):
        info = srv.get("/").json()
    assert info["imports"] == 1


# -- binds ---------------------------------------------------------------------------

def test_multiple_binds(server_factory, tmp_path):
    sock_path = tmp_path / "multi.sock"
    binds = ["127.0.0.1:{port}", f"unix:{sock_path}"]
    if ipv6_available():
        binds.append("[::1]:{port2}")
    srv = server_factory("hello_app", binds=binds)
    assert body_of(srv) == b"Hello, World!"
    with RawConn(unix_path=str(sock_path)) as c:
        c.send(build_request("GET", "/"))
        assert c.read_response().body == b"Hello, World!"
    if ipv6_available():
        with RawConn(srv.port2, host="::1") as c:
            c.send(build_request("GET", "/", host="[::1]"))
            assert c.read_response().body == b"Hello, World!"


def test_long_bind_option(server_factory):
    port = free_port()
    srv = server_factory("hello_app", "--bind", f"127.0.0.1:{port}",
                         binds=["127.0.0.1:{port}"])
    assert body_of(srv) == b"Hello, World!"
    with RawConn(port) as c:
        c.send(build_request("GET", "/"))
        assert c.read_response().body == b"Hello, World!"


def test_ipv6_only_bind(server_factory):
    if not ipv6_available():
        pytest.skip("no IPv6 loopback")
    srv = server_factory("hello_app", binds=["[::1]:{port}"])
    with RawConn(srv.port, host="::1") as c:
        c.send(build_request("GET", "/", host="[::1]"))
        r = c.read_response()
        assert r.body == b"Hello, World!"


def test_check_config_loads_the_app_and_binds_nothing(tmp_path):
    """gunicorn's --check-config: the settings are checked and the app is
    imported, nothing is bound (the port here is taken), exit 0."""
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    port = taken.getsockname()[1]
    try:
        p = run_binary(["--check-config", "-w", "2", "-b", f"127.0.0.1:{port}",
                        "--pythonpath", str(SOURCE_ROOT), "pyapp:app"])
        assert p.returncode == 0, p.stderr
        assert "the configuration is valid and pyapp:app loads" in p.stderr
        assert "Listening at" not in p.stderr and "in use" not in p.stderr
        # The same from a config file, as gunicorn reads it there too.
        conf = tmp_path / "conf.py"
        conf.write_text("check_config = True\nworkers = 2\n")
        p = run_binary(["-c", str(conf), "-b", f"127.0.0.1:{port}",
                        "--pythonpath", str(SOURCE_ROOT), "pyapp:app"])
        assert p.returncode == 0, p.stderr
        assert "the configuration is valid and pyapp:app loads" in p.stderr
    finally:
        taken.close()


@pytest.mark.parametrize("args,needle", [
    (["broken_import:app"], "boom at import time"),
    (["hello_app:nope"], "has no attribute 'nope'"),
    (["--certfile", "/nonexistent.pem", "hello_app:app"], "/nonexistent.pem"),
], ids=["raises", "no-attribute", "certfile"])
def test_check_config_fails_with_what_is_wrong(args, needle):
    p = expect_startup_error(["--check-config", "--pythonpath", str(APPS), *args], needle)
    assert p.returncode == 1, p.stderr
    if "certfile" not in args[0]:
        assert "does not load (see above)" in p.stderr


GROUPS_APP = """
def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    with open("/proc/self/status") as f:
        groups = [l for l in f if l.startswith("Groups:")][0].split(":", 1)[1].split()
    return [(" ".join(groups) or "-").encode()]
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="--user needs root")
@pytest.mark.parametrize("initgroups", [False, True], ids=["no-groups", "initgroups"])
def test_initgroups_keeps_the_users_groups(server_factory, initgroups):
    """gunicorn's initgroups: with --user, the process keeps the user's
    supplementary groups (its group database entries); without it, none."""
    import grp
    import pwd
    import tempfile
    try:
        pw = pwd.getpwnam("www-data")
    except KeyError:
        pytest.skip("no www-data user")
    # A directory the user can read (the test tree may be root's alone).
    d = tempfile.mkdtemp(prefix="wsgihost-initgroups-")
    try:
        os.chmod(d, 0o755)
        with open(os.path.join(d, "groups_app.py"), "w") as f:
            f.write(GROUPS_APP)
        os.chmod(os.path.join(d, "groups_app.py"), 0o644)
        args = ["--user", "www-data", "--pythonpath", d] + (["--initgroups"] if initgroups else [])
        srv = server_factory("groups_app:app", *args, cwd=d, pythonpath=False)
        with RawConn(srv.port) as c:
            c.send(build_request("GET", "/"))
            r = c.read_response()
        assert r.status == 200, r
        want = sorted(os.getgrouplist("www-data", pw.pw_gid)) if initgroups else []
        assert sorted(int(g) for g in r.body.decode().split() if g != "-") == want, \
            (r.body, [grp.getgrgid(g).gr_name for g in want])
        assert srv.stop() == 0
    finally:
        import shutil
        shutil.rmtree(d, ignore_errors=True)


def test_initgroups_without_user_is_said(server_factory):
    srv = server_factory("hello_app", "--initgroups")
    assert "--initgroups: no --user to take the groups of" in srv.log()
