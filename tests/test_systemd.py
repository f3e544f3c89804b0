"""systemd socket activation: the test plays systemd. It binds the listening
sockets itself and starts wsgihost through a small wrapper that moves them to
fds 3, 4, ... and sets LISTEN_FDS and LISTEN_PID (= the pid that then execs
wsgihost), exactly what systemd does for a .socket unit."""

import os
import signal
import socket

import pytest

from support import SLOW, BIN, RawConn, ServerError, build_request, free_port, wait_for

PYTHON = "/usr/bin/python3"

# dup the given fds to 3.., close the originals, set the LISTEN_* variables
# for our own pid, exec the rest of argv.
WRAPPER = r"""
import os, sys
fds = [int(x) for x in sys.argv[1].split(",") if x]
n = len(fds)
tmp = [os.dup(f) for f in fds]
for i, f in enumerate(tmp):
    if f != 3 + i:
        os.dup2(f, 3 + i)
    os.set_inheritable(3 + i, True)  # a dup() that landed on 3 is still CLOEXEC
for f in set(tmp + fds):
    if not 3 <= f < 3 + n:
        os.close(f)
os.environ["LISTEN_PID"] = str(os.getpid()) if sys.argv[2] == "self" else sys.argv[2]
os.environ["LISTEN_FDS"] = str(n)
os.environ["LISTEN_FDNAMES"] = ":".join(["web"] * n)
os.execv(sys.argv[3], sys.argv[3:])
"""


def tcp_listener(host="127.0.0.1"):
    s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, 0))
    s.listen(128)
    return s


def unix_listener(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(str(path))
    s.listen(128)
    return s


def start_activated(factory, app, socks, *args, listen_pid="self", ready=None, binds=None):
    """A Server whose listening sockets are socks, passed like systemd does.
    ready: the address spec wait_ready connects to ("127.0.0.1:P" or "unix:/p")."""
    srv = factory(app, *args, start=False)
    srv.binds = binds or []
    base = srv.command()
    fds = [s.fileno() for s in socks]
    cmd = [PYTHON, "-c", WRAPPER, ",".join(map(str, fds)), listen_pid, *base]
    import subprocess
    with open(srv.stdout_path, "ab") as out, open(srv.stderr_path, "ab") as err:
        srv.proc = subprocess.Popen(cmd, cwd=srv.cwd, env=srv.env, stdin=subprocess.DEVNULL,
                                    stdout=out, stderr=err, start_new_session=True,
                                    pass_fds=fds)
    if ready is None:
        s = socks[0]
        if s.family == socket.AF_UNIX:
            ready = "unix:" + s.getsockname()
        else:
            ready = f"127.0.0.1:{s.getsockname()[1]}"
    srv.binds = [ready]
    if ready.startswith("unix:"):
        srv.unix_path = ready[5:]
        srv.port = None
    else:
        srv.port = int(ready.rpartition(":")[2])
    # A connect succeeds as soon as the test's own socket listens: wait for
    # the server to say it serves, then for an answer.
    wait_for(lambda: "Listening at" in srv.log() or not srv.alive(), 10 * SLOW,
             what="wsgihost start-up")
    if not srv.alive():
        raise ServerError("server exited during start-up:\n" + srv.log())
    srv.wait_ready()
    return srv


def get(port=None, path="/", unix_path=None):
    with RawConn(port, unix_path=unix_path) as c:
        c.send(build_request("GET", path))
        return c.read_response()


def test_single_process_serves_the_inherited_socket(server_factory):
    sock = tcp_listener()
    port = sock.getsockname()[1]
    srv = start_activated(server_factory, "osenv_app:application", [sock])
    sock.close()  # the server holds its own copy now
    r = get(port)
    assert r.status == 200, r
    env = r.json()["environ"]
    # The variables are for us, not for the app's children.
    assert "LISTEN_FDS" not in env and "LISTEN_PID" not in env and "LISTEN_FDNAMES" not in env
    assert f"Listening at: http://127.0.0.1:{port}" in srv.log()
    assert "(from systemd)" in srv.log()
    # The fd is close-on-exec and non-blocking in the server: nothing to see
    # from outside except that it is fd 3 and a socket.
    assert os.readlink(f"/proc/{srv.pid}/fd/3").startswith("socket:")
    assert srv.stop() == 0


def test_bind_is_ignored_when_activated(server_factory):
    sock = tcp_listener()
    port = sock.getsockname()[1]
    other = free_port()
    srv = start_activated(server_factory, "hello_app", [sock], "-b", f"127.0.0.1:{other}")
    sock.close()
    assert get(port).body == b"Hello, World!"
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", other), timeout=1).close()
    assert "--bind ignored" in srv.log()


def test_several_sockets_and_unix(server_factory, tmp_path):
    tcp = tcp_listener()
    path = tmp_path / "act.sock"
    unix = unix_listener(path)
    srv = start_activated(server_factory, "hello_app", [tcp, unix])
    port = tcp.getsockname()[1]
    tcp.close()
    unix.close()
    assert get(port).status == 200
    assert get(unix_path=str(path)).body == b"Hello, World!"
    assert f"Listening at: unix:{path}" in srv.log()
    assert srv.stop() == 0
    # The socket file belongs to systemd: wsgihost must not unlink it.
    assert path.exists()


def test_prefork_keeps_the_socket_across_hup(server_factory):
    sock = tcp_listener()
    port = sock.getsockname()[1]
    srv = start_activated(server_factory, "osenv_app:application", [sock], "-w", "2")
    sock.close()
    inode = os.readlink(f"/proc/{srv.pid}/fd/3")
    pids = {get(port).json()["pid"] for _ in range(20)}
    assert pids and srv.pid not in pids
    srv.send_signal(signal.SIGHUP)

    def new_generation():
        try:
            got = {get(port).json()["pid"] for _ in range(10)}
        except (OSError, AssertionError):
            return False
        return got and not (got & pids)
    wait_for(new_generation, 20, interval=0.1, what="new workers after HUP")
    # Served throughout, on the very same socket.
    assert os.readlink(f"/proc/{srv.pid}/fd/3") == inode
    for _ in range(10):
        assert get(port).status == 200
    assert srv.stop() == 0


def test_listen_pid_for_someone_else_is_ignored(server_factory):
    sock = tcp_listener()
    port = sock.getsockname()[1]
    own = free_port()
    srv = start_activated(server_factory, "hello_app", [sock], "-b", f"127.0.0.1:{own}",
                          listen_pid="1", ready=f"127.0.0.1:{own}")
    assert get(own).status == 200
    assert "from systemd" not in srv.log()
    # The passed socket was not adopted: nobody accepts on it.
    c = socket.create_connection(("127.0.0.1", port), timeout=1)
    c.settimeout(0.3)
    c.sendall(build_request("GET", "/"))
    with pytest.raises(socket.timeout):
        c.recv(1)
    c.close()
    sock.close()


def run_wrapped(socks, args, listen_pid="self"):
    import subprocess
    fds = [s.fileno() for s in socks]
    cmd = [PYTHON, "-c", WRAPPER, ",".join(map(str, fds)), listen_pid, str(BIN), *args]
    return subprocess.run(cmd, pass_fds=fds, capture_output=True, text=True, timeout=20,
                          stdin=subprocess.DEVNULL)


def test_a_socket_that_is_not_listening_is_a_startup_error():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))  # bound, never listen()ed
    p = run_wrapped([s], ["hello_app"])
    s.close()
    assert p.returncode == 1, (p.returncode, p.stderr)
    assert "wsgihost: error: LISTEN_FDS: fd 3 is not a listening socket" in p.stderr


def test_a_datagram_socket_is_a_startup_error():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    p = run_wrapped([s], ["hello_app"])
    s.close()
    assert p.returncode == 1, (p.returncode, p.stderr)
    assert "is not a stream socket" in p.stderr


def test_usr2_upgrade_keeps_systemds_sockets_systemds(server_factory, tmp_path):
    """The new master of a USR2 upgrade gets systemd's sockets from the old
    one, still as systemd's: said so at start, and their path is never
    unlinked, by either master."""
    from support import new_master_pid, stop_pid
    path = tmp_path / "act.sock"
    unix = unix_listener(path)
    srv = start_activated(server_factory, "osenv_app:application", [unix], "-w", "1")
    unix.close()
    wait_for(lambda: "Worker ready" in srv.log(), 10 * SLOW, what="the worker")
    srv.send_signal(signal.SIGUSR2)
    wait_for(lambda: "New master started (pid " in srv.log(), 10 * SLOW, what="the new master")
    new = new_master_pid(srv.log())
    try:
        wait_for(lambda: srv.log().count(f"Listening at: unix:{path} ({new}) (from systemd)"),
                 10 * SLOW, what="the new master listening")
        assert srv.stop() == 0
        wait_for(lambda: "Master has been promoted" in srv.log(), 10 * SLOW, what="the promotion")
        r = get(unix_path=str(path))
        assert r.status == 200, r
        # What the old master passed is not the new one's app's to see.
        env = r.json()["environ"]
        assert not {"WSGIHOST_FDS", "WSGIHOST_UPGRADE_FROM", "WSGIHOST_FDS_SYSTEMD",
                    "WSGIHOST_METRICS_FD", "LISTEN_FDS", "LISTEN_PID"} & set(env), env
        stop_pid(new)
        assert path.exists()
    finally:
        stop_pid(new)
