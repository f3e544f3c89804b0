"""How libpython is linked (meson option static_python, default auto): the
binary says it in --version, and C extension modules loaded from outside the
binary work either way (with a static libpython they resolve the C API from
the executable's exported symbols)."""

import re

from support import run_binary

EXT = ["_json", "markupsafe._speedups", "_ssl", "_ctypes", "_decimal", "_hashlib", "_asyncio"]


def link_mode():
    r = run_binary(["--version"])
    assert r.returncode == 0, r
    m = re.search(r"embeds CPython (\d+\.\d+) \((static|shared) libpython\)", r.stdout)
    assert m, r.stdout
    return m.group(2)


def test_version_names_the_embedded_python():
    assert link_mode() in ("static", "shared")


def test_extension_modules_load(server_factory):
    srv = server_factory("ext_modules:application")
    r = srv.get("/")
    assert r.status == 200, r
    out = r.json()
    for name in EXT:
        assert out[name].endswith(".so"), (name, out[name])
    assert out["pyexpat"] and not out["pyexpat"].startswith("ERROR")
    assert out["zlib"] and not out["zlib"].startswith("ERROR")
    assert out["json uses C scanner"] is True
    assert out["markupsafe escape from"] == "markupsafe._speedups"
    assert out["ssl works"] is True
    # What --version says is what runs: a static build maps no libpython.so.
    with open(f"/proc/{srv.pid}/maps") as f:
        maps = f.read()
    has_shared = re.search(r"libpython3\.\d+\.so", maps) is not None
    assert has_shared == (link_mode() == "shared"), maps[:2000]
