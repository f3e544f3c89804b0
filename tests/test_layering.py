"""The layering of csrc/ (README "Architecture"): the #include graph between
modules (x.c and x.h are one module) has no cycle, the connection layer
knows neither the worker, the pool nor Python, and only the bridge (wsgi*.c:
the PEP 3333 bridge, wsgi.input, gunicorn's server hooks), the runtime and
the extension's entry point include Python.h."""

import collections
import pathlib
import re

CSRC = pathlib.Path(__file__).resolve().parent.parent / "csrc"
INCLUDE = re.compile(r'^\s*#\s*include\s+[<"]([^>"]+)[>"]', re.M)


def includes():
    """{file name: [included names]} for csrc/*.c and csrc/*.h."""
    return {p.name: INCLUDE.findall(p.read_text())
            for p in sorted(CSRC.iterdir()) if p.suffix in (".c", ".h")}


def module_graph():
    graph = collections.defaultdict(set)
    local = {p.stem for p in CSRC.glob("*.h")}
    for name, incs in includes().items():
        mod = name.rsplit(".", 1)[0]
        for inc in incs:
            dep = inc.rsplit(".", 1)[0]
            if inc.endswith(".h") and dep in local and dep != mod:
                graph[mod].add(dep)
    return graph


def cycles(graph):
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in list(graph):
        if v not in index:
            visit(v)
    return found


def test_no_include_cycle():
    assert cycles(module_graph()) == []


def test_connection_knows_no_worker_pool_or_python():
    incs = includes()
    banned = {"wsgi.h", "wsgi_handler.h", "pool.h", "worker.h", "pyrt.h", "appsched.h",
              "master.h", "Python.h"}
    for name in ("conn.c", "conn.h", "handler.h"):
        assert banned.isdisjoint(incs[name]), (name, banned & set(incs[name]))


def test_only_the_bridge_includes_python():
    users = {name for name, incs in includes().items() if "Python.h" in incs}
    assert users == {"pyrt.c", "wsgi.c", "wsgi_input.c", "wsgi_hooks.c", "hostpy_entry.c"}
