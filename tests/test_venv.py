"""Virtualenvs: an activated one ($VIRTUAL_ENV) is used by itself, -H /
--virtualenv names one, include-system-site-packages is honoured (a venv
without it does not see Debian's dist-packages), in the host interpreter and
in the embedded one alike; a venv of another Python version is refused with
a message naming both versions and how to build for the other."""

import os
import subprocess
from pathlib import Path

import pytest

from support import run_binary, SERVER_ENV_VARS


def make_venv(path, system_site):
    args = ["/usr/bin/python3", "-m", "venv", "--without-pip"]
    if system_site:
        args.append("--system-site-packages")
    subprocess.run(args + [str(path)], check=True)
    site = next((path / "lib").glob("python3.*")) / "site-packages"
    pkg = site / "venv_only_pkg"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("WHERE = 'venv'\n")
    return path


@pytest.fixture(scope="module")
def venvs(tmp_path_factory):
    base = tmp_path_factory.mktemp("venvs")
    return {"isolated": make_venv(base / "isolated", False),
            "system": make_venv(base / "system", True)}


def probe(srv):
    r = srv.get("/")
    assert r.status == 200, r
    return r.json()


MODES = [pytest.param({}, id="host"), pytest.param({"WSGIHOST_EMBEDDED": "1"}, id="embedded")]


@pytest.mark.parametrize("mode", MODES)
def test_activated_venv_is_used(server_factory, venvs, mode):
    venv = venvs["isolated"]
    srv = server_factory("venv_probe:application",
                         env={"VIRTUAL_ENV": str(venv), **mode})
    out = probe(srv)
    assert out["prefix"] == str(venv), out
    assert out["executable"] == str(venv / "bin" / "python"), out
    assert out["venv_only_pkg"] and out["venv_only_pkg"].startswith(str(venv)), out
    # No include-system-site-packages: Debian's Flask is not visible.
    assert out["flask"] is None, out
    assert not any("/usr/lib/python3/dist-packages" == p for p in out["site"]), out
    log = srv.log()
    assert f"at {venv}/bin/python" in log and "from $VIRTUAL_ENV" in log, log[-2000:]
    assert f"sys.prefix {venv}" in log and "site-packages [" in log
    assert f"virtualenv: {venv}, " in log, log[-2000:]


@pytest.mark.parametrize("mode", MODES)
def test_system_site_packages_are_honoured(server_factory, venvs, mode):
    venv = venvs["system"]
    srv = server_factory("venv_probe:application", "--virtualenv", str(venv), env=mode)
    out = probe(srv)
    assert out["prefix"] == str(venv), out
    assert out["venv_only_pkg"].startswith(str(venv)), out
    assert out["flask"] and out["flask"].startswith("/usr/lib/python3/dist-packages"), out
    assert "from --virtualenv" in srv.log()


def test_short_option_and_precedence_over_the_activated_one(server_factory, venvs):
    srv = server_factory("venv_probe:application", "-H", str(venvs["system"]),
                         env={"VIRTUAL_ENV": str(venvs["isolated"])})
    assert probe(srv)["prefix"] == str(venvs["system"])


def test_without_a_venv_the_system_python_serves(server_factory):
    out = probe(server_factory("venv_probe:application"))
    assert out["prefix"] == "/usr" and out["venv_only_pkg"] is None and out["flask"], out


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items() if k not in SERVER_ENV_VARS}
    env.update(extra)
    return env


def test_venv_of_another_python_version_is_refused(tmp_path):
    venv = tmp_path / "py312"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").symlink_to("/usr/bin/python3.11")
    (venv / "pyvenv.cfg").write_text("home = /usr/bin\ninclude-system-site-packages = false\n"
                                     "version = 3.12.1\n")
    for args, env in ((["--virtualenv", str(venv)], clean_env()),
                      ([], clean_env(VIRTUAL_ENV=str(venv))),
                      ([], clean_env(VIRTUAL_ENV=str(venv), WSGIHOST_EMBEDDED="1"))):
        p = run_binary(args + ["-b", "127.0.0.1:0", "venv_probe:application"], env=env)
        assert p.returncode == 2, (p.returncode, p.stderr)
        assert "wsgihost: error:" in p.stderr
        assert "Python 3.12.1" in p.stderr and "embeds Python 3.11" in p.stderr, p.stderr
        assert "-Dpython=python3.12" in p.stderr, p.stderr
        assert "Traceback" not in p.stderr and "Sanitizer" not in p.stderr


def test_stale_virtual_env_is_an_error(tmp_path):
    p = run_binary(["-b", "127.0.0.1:0", "venv_probe:application"],
                   env=clean_env(VIRTUAL_ENV=str(tmp_path / "gone")))
    assert p.returncode == 2, p.stderr
    assert "$VIRTUAL_ENV is" in p.stderr and "deactivate" in p.stderr, p.stderr


def test_virtualenv_and_python_executable_together_is_an_error(venvs):
    p = run_binary(["--virtualenv", str(venvs["system"]), "--python-executable",
                    "/usr/bin/python3.11", "-b", "127.0.0.1:0", "venv_probe:application"],
                   env=clean_env())
    assert p.returncode == 2 and "give one" in p.stderr, p.stderr


def test_config_file_names_the_virtualenv(server_factory, venvs, tmp_path):
    conf = tmp_path / "gunicorn.conf.py"
    conf.write_text(f"virtualenv = {str(venvs['system'])!r}\n")
    srv = server_factory("venv_probe:application", "-c", str(conf))
    assert probe(srv)["prefix"] == str(venvs["system"])
