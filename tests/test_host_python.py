"""The host-interpreter mode (csrc/hostpy.h): wsgihost re-executes itself as
the system python3.X with _wsgihost.so loaded, so requests run on that
interpreter's faster build; WSGIHOST_EMBEDDED=1 keeps the libpython linked
into the executable. Both must look the same to the app."""

import os
import re
import stat
import subprocess

import pytest

from support import BIN, run_binary, wait_for, IO_TIMEOUT


def version_lines():
    r = run_binary(["--version"])
    assert r.returncode == 0, r
    return r.stdout


def host_python():
    m = re.search(r"^serves inside (\S+) \(host interpreter, (\S+)\)$", version_lines(), re.M)
    return m.group(1) if m else None


needs_host = pytest.mark.skipif(host_python() is None,
                                reason="built without _wsgihost.so (sanitizer build or "
                                       "-Dhost_python=disabled)")


def info(srv):
    r = srv.get("/")
    assert r.status == 200, r
    return r.json()


def test_version_says_which_interpreter_serves():
    out = version_lines()
    assert re.search(r"^serves (inside \S+ \(host interpreter, \S+_wsgihost\.so\)|"
                     r"with the embedded interpreter \(.+\))$", out, re.M), out
    env = dict(os.environ, WSGIHOST_EMBEDDED="1")
    r = run_binary(["--version"], env=env)
    assert "serves with the embedded interpreter (WSGIHOST_EMBEDDED is set)" in r.stdout, r.stdout


@needs_host
def test_default_serves_inside_the_system_python(server_factory):
    srv = server_factory("interp_app:application")
    out = info(srv)
    assert out["exe"] == os.path.realpath(host_python()), out
    assert out["pid"] == srv.pid  # the same process, re-executed
    assert "(host interpreter)" in srv.log()


@needs_host
def test_host_and_embedded_look_the_same_to_the_app(server_factory, tmp_path):
    host = info(server_factory("interp_app:application", env={"WSGIHOST_TEST_VAR": "x"}))
    emb_srv = server_factory("interp_app:application",
                             env={"WSGIHOST_EMBEDDED": "1", "WSGIHOST_TEST_VAR": "x"})
    emb = info(emb_srv)
    assert emb["exe"] == os.path.realpath(BIN), emb
    assert "(embedded interpreter)" in emb_srv.log()
    for key in ("executable", "prefix", "base_prefix", "argv", "path0", "empty_in_path",
                "version", "test_var", "environ_has_listen"):
        assert host[key] == emb[key], (key, host[key], emb[key])
    assert host["argv"] == ["wsgihost"]
    assert host["empty_in_path"] is False
    # __main__ holds the launcher's one function and nothing of the app's.
    assert host["main_names"] in ([], ["_wsgihost_launch"]), host["main_names"]


@needs_host
def test_workers_run_in_the_host_interpreter(server_factory):
    srv = server_factory("interp_app:application", "-w", "2")
    pids = set()
    for _ in range(40):
        out = info(srv)
        assert out["exe"] == os.path.realpath(host_python()), out
        pids.add(out["pid"])
        if len(pids) == 2:
            break
    assert srv.pid not in pids
    assert os.path.realpath(f"/proc/{srv.pid}/exe") == os.path.realpath(host_python())


@needs_host
def test_config_file_names_another_interpreter(server_factory, tmp_path):
    """python_executable in the config file is read after the switch: main()
    switches once more, to the venv's python (sys.prefix is the venv)."""
    venv = tmp_path / "venv"
    subprocess.run(["/usr/bin/python3", "-m", "venv", "--without-pip",
                    "--system-site-packages", str(venv)], check=True)
    conf = tmp_path / "conf.py"
    conf.write_text(f"python_executable = {str(venv / 'bin' / 'python')!r}\n")
    srv = server_factory("interp_app:application", "-c", str(conf))
    out = info(srv)
    assert out["prefix"] == str(venv), out
    assert out["executable"] == str(venv / "bin" / "python"), out
    assert out["exe"] == os.path.realpath(host_python()), out
    assert "switched once already" not in srv.log()


@needs_host
def test_interpreter_of_another_version_falls_back_to_the_embedded_one(server_factory,
                                                                       tmp_path):
    """A python3.X of another minor version cannot load the module: the
    launcher says so and the embedded interpreter serves. (A wrapper that
    makes the launcher believe it was built for 3.99 stands in for one.)"""
    fake = tmp_path / "python3.99"
    fake.write_text("#!/bin/bash\n"
                    "args=(\"$@\")\n"
                    "for i in \"${!args[@]}\"; do\n"
                    "  if [ \"${args[$i]}\" = 3.11 ]; then args[$i]=3.99; break; fi\n"
                    "done\n"
                    f"exec {host_python()} \"${{args[@]}}\"\n")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    srv = server_factory("interp_app:application", "--python-executable", str(fake))
    out = info(srv)
    assert out["exe"] == os.path.realpath(BIN), out
    assert "not the 3.99 this wsgihost was built for: using its embedded interpreter" in srv.log()


@needs_host
def test_ps_shows_the_command_not_the_launcher(server_factory):
    srv = server_factory("interp_app:application", "-w", "1")
    info(srv)
    for pid in [srv.pid] + [int(p) for p in open(f"/proc/{srv.pid}/task/{srv.pid}/children")
                                                .read().split()]:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            args = f.read().rstrip(b"\0").split(b"\0")
        assert args[0] == b"wsgihost", args
        assert b"interp_app:application" in args and b"-w" in args, args
        assert not any(b"_wsgihost_launch" in a for a in args), args
        with open(f"/proc/{pid}/comm") as f:
            assert f.read().strip() == "wsgihost"
