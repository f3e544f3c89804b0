"""Life behind a proxy: X-Forwarded-* from trusted and untrusted peers, the
PROXY protocol (v1 and v2) and nginx -> wsgihost over a unix socket.

Loopback aliases give distinct peers without leaving the machine: a client
socket bound to 127.0.0.2 is "another host" for --forwarded-allow-ips and
--proxy-allow-from."""

import os
import shutil
import socket
import struct
import subprocess
import time

import pytest

from support import (IO_TIMEOUT, SLOW, SOURCE_ROOT, RawConn, build_request, free_port,
                     ipv6_available, wait_for)


class ConnFrom(RawConn):
    """A RawConn whose client address is `source` (a loopback alias)."""

    def __init__(self, port, source="127.0.0.1", host="127.0.0.1", timeout=None):
        self.timeout = timeout or IO_TIMEOUT
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(fam, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.bind((source, 0))
        self.sock.settimeout(self.timeout)
        self.sock.connect((host, port))
        self.buf = b""
        self.eof = False
        self.reset = False


def env_from(port, source="127.0.0.1", headers=(), prefix=b"", host="127.0.0.1"):
    """The environ the app saw for one GET sent from `source`."""
    with ConnFrom(port, source, host=host) as c:
        c.send(prefix + build_request("GET", "/", headers))
        r = c.read_response()
        assert r.status == 200, r
        return r.json()["environ"]


# -- X-Forwarded-* -----------------------------------------------------------------

FWD = [("X-Forwarded-For", "203.0.113.7"), ("X-Forwarded-Proto", "https")]


@pytest.fixture(scope="module")
def default_server(module_server_factory):
    return module_server_factory("environ_dump:application")


def test_trusted_peer_sets_remote_addr_and_scheme(default_server):
    env = env_from(default_server.port, "127.0.0.1", FWD)
    assert env["REMOTE_ADDR"] == "203.0.113.7"
    assert env["REMOTE_PORT"] == "0"
    assert env["wsgi.url_scheme"] == "https"
    assert env["HTTPS"] == "on"
    # The fields still reach the app as they were.
    assert env["HTTP_X_FORWARDED_FOR"] == "203.0.113.7"
    assert env["HTTP_X_FORWARDED_PROTO"] == "https"


def test_untrusted_peer_changes_nothing(default_server):
    env = env_from(default_server.port, "127.0.0.2", FWD)
    assert env["REMOTE_ADDR"] == "127.0.0.2"
    assert env["wsgi.url_scheme"] == "http"
    assert "HTTPS" not in env
    assert env["HTTP_X_FORWARDED_FOR"] == "203.0.113.7"
    assert env["HTTP_X_FORWARDED_PROTO"] == "https"


def test_without_headers_nothing_changes(default_server):
    with ConnFrom(default_server.port) as c:
        c.send(build_request("GET", "/"))
        env = c.read_response().json()["environ"]
        assert env["REMOTE_ADDR"] == "127.0.0.1"
        assert env["REMOTE_PORT"] == str(c.local_port)
        assert env["wsgi.url_scheme"] == "http"


def test_forwarded_values_are_per_request(default_server):
    """One proxy connection carries requests of many clients."""
    with ConnFrom(default_server.port) as c:
        for client, proto in (("198.51.100.1", "https"), ("198.51.100.2", "http"),
                              (None, None), ("2001:db8::5", "https")):
            headers = []
            if client:
                headers.append(("X-Forwarded-For", client))
            if proto:
                headers.append(("X-Forwarded-Proto", proto))
            c.send(build_request("GET", "/", headers))
            env = c.read_response().json()["environ"]
            assert env["REMOTE_ADDR"] == (client or "127.0.0.1")
            assert env["wsgi.url_scheme"] == (proto or "http")


def test_scheme_fields(default_server):
    port = default_server.port
    assert env_from(port, headers=[("X-Forwarded-Ssl", "on")])["wsgi.url_scheme"] == "https"
    assert env_from(port, headers=[("X-Forwarded-Protocol", "ssl")])["wsgi.url_scheme"] == "https"
    assert env_from(port, headers=[("X-Forwarded-Proto", "HTTP")])["wsgi.url_scheme"] == "http"
    assert env_from(port, headers=[("X-Forwarded-Proto", "gopher")])["wsgi.url_scheme"] == "http"
    # SERVER_PORT follows the scheme when Host has no port.
    env = env_from(port, headers=[("X-Forwarded-Proto", "https"), ("Host", "example.com")])
    assert env["SERVER_NAME"] == "example.com" and env["SERVER_PORT"] == "443"


@pytest.mark.parametrize("headers,scheme", [
    # A proxy that appends puts its own view last; the client wrote the rest.
    ([("X-Forwarded-Proto", "https, http")], "http"),
    ([("X-Forwarded-Proto", "http, https")], "https"),
    ([("X-Forwarded-Proto", "https"), ("X-Forwarded-Proto", "http")], "http"),
    ([("X-Forwarded-Proto", "https, wss")], "http"),  # unknown last: no scheme from it
    ([("X-Forwarded-Ssl", "on, off")], "http"),
    ([("X-Forwarded-Ssl", "on"), ("X-Forwarded-Ssl", "off")], "http"),
    ([("X-Forwarded-Protocol", "ssl, http")], "http"),
    ([("X-Forwarded-Protocol", "http"), ("X-Forwarded-Protocol", "ssl")], "https"),
    ([("X-Forwarded-Proto", "https, http"), ("X-Forwarded-Ssl", "off")], "http"),
])
def test_list_valued_scheme_fields_take_the_last_element(default_server, headers, scheme):
    env = env_from(default_server.port, headers=headers)
    assert env["wsgi.url_scheme"] == scheme
    assert ("HTTPS" in env) == (scheme == "https")


def test_contradictory_scheme_fields_are_a_bad_request(default_server):
    with ConnFrom(default_server.port) as c:
        c.send(build_request("GET", "/", [("X-Forwarded-Proto", "https"),
                                          ("X-Forwarded-Ssl", "off")]))
        r = c.read_response()
        assert r.status == 400, r
    # from an untrusted peer they are just fields
    assert env_from(default_server.port, "127.0.0.2",
                    [("X-Forwarded-Proto", "https"), ("X-Forwarded-Ssl", "off")])


def test_underscore_names_are_not_forwarded_fields(default_server):
    env = env_from(default_server.port, headers=[("X_Forwarded_For", "6.6.6.6"),
                                                 ("X_Forwarded_Proto", "https")])
    assert env["REMOTE_ADDR"] == "127.0.0.1" and env["wsgi.url_scheme"] == "http"


def test_garbled_forwarded_for_is_ignored(default_server):
    for value in ("unknown", "1.2.3.4.5", "203.0.113.7, _hidden", ""):
        env = env_from(default_server.port, headers=[("X-Forwarded-For", value)])
        assert env["REMOTE_ADDR"] == "127.0.0.1", value


def test_chain_of_proxies(server_factory):
    srv = server_factory("environ_dump:application",
                         "--forwarded-allow-ips", "127.0.0.1, 10.0.0.0/8")
    # the client spoofs a leftmost entry; 10.x are our own proxies
    env = env_from(srv.port, headers=[("X-Forwarded-For", "6.6.6.6, 203.0.113.7"),
                                      ("X-Forwarded-For", "10.1.1.1, 10.2.2.2")])
    assert env["REMOTE_ADDR"] == "203.0.113.7"
    env = env_from(srv.port, headers=[("X-Forwarded-For", "10.1.1.1")])
    assert env["REMOTE_ADDR"] == "10.1.1.1"  # all trusted: the leftmost


def test_allow_list_option(server_factory):
    srv = server_factory("environ_dump:application", "--forwarded-allow-ips", "127.0.0.2")
    assert env_from(srv.port, "127.0.0.2", FWD)["REMOTE_ADDR"] == "203.0.113.7"
    assert env_from(srv.port, "127.0.0.1", FWD)["REMOTE_ADDR"] == "127.0.0.1"


def test_allow_everyone(server_factory):
    srv = server_factory("environ_dump:application", "--forwarded-allow-ips", "*")
    env = env_from(srv.port, "127.0.0.3", [("X-Forwarded-For", "6.6.6.6, 203.0.113.7"),
                                           ("X-Forwarded-Proto", "https")])
    assert env["REMOTE_ADDR"] == "6.6.6.6" and env["wsgi.url_scheme"] == "https"


def test_allow_from_environment(server_factory):
    srv = server_factory("environ_dump:application", env={"FORWARDED_ALLOW_IPS": "127.0.0.4"})
    assert env_from(srv.port, "127.0.0.4", FWD)["REMOTE_ADDR"] == "203.0.113.7"
    assert env_from(srv.port, "127.0.0.1", FWD)["REMOTE_ADDR"] == "127.0.0.1"


@pytest.mark.skipif(not ipv6_available(), reason="no IPv6 loopback")
def test_ipv6_loopback_is_trusted_by_default(server_factory):
    srv = server_factory("environ_dump:application", binds=["[::1]:{port}"])
    env = env_from(srv.port, "::1", FWD, host="::1")
    assert env["REMOTE_ADDR"] == "203.0.113.7"


def test_access_log_shows_the_client(server_factory):
    srv = server_factory("environ_dump:application", "--access-logfile", "-")
    env_from(srv.port, headers=[("X-Forwarded-For", "203.0.113.99")])
    wait_for(lambda: "203.0.113.99 - -" in srv.stdout(), 5, what="access log line")


# -- PROXY protocol ----------------------------------------------------------------

V2_SIG = b"\r\n\r\n\x00\r\nQUIT\n"


def v2_header(src, dst, sport, dport, command=1, tlvs=b""):
    if ":" in src:
        fam, addrs = 0x21, socket.inet_pton(socket.AF_INET6, src) + \
            socket.inet_pton(socket.AF_INET6, dst)
    else:
        fam, addrs = 0x11, socket.inet_aton(src) + socket.inet_aton(dst)
    body = addrs + struct.pack("!HH", sport, dport) + tlvs
    return V2_SIG + bytes([0x20 | command, fam]) + struct.pack("!H", len(body)) + body


def v2_local():
    return V2_SIG + bytes([0x20, 0x00]) + b"\x00\x00"


@pytest.fixture(scope="module")
def pp_server(module_server_factory):
    return module_server_factory("environ_dump:application", "--proxy-protocol",
                                 "--proxy-allow-from", "127.0.0.1,127.0.0.5")


def assert_closed_without_answer(port, data, source="127.0.0.1"):
    with ConnFrom(port, source) as c:
        c.try_send(data)
        try:
            extra = c.read_until_close(timeout=5 * SLOW)
        except TimeoutError:
            raise AssertionError(f"connection left open after {data[:60]!r}") from None
        assert extra == b"", extra


def test_v1(pp_server):
    env = env_from(pp_server.port, prefix=b"PROXY TCP4 203.0.113.9 10.0.0.1 4444 80\r\n")
    assert env["REMOTE_ADDR"] == "203.0.113.9" and env["REMOTE_PORT"] == "4444"
    env = env_from(pp_server.port, prefix=b"PROXY TCP6 2001:db8::9 2001:db8::1 5555 443\r\n")
    assert env["REMOTE_ADDR"] == "2001:db8::9" and env["REMOTE_PORT"] == "5555"


def test_v1_unknown_keeps_the_peer(pp_server):
    with ConnFrom(pp_server.port) as c:
        c.send(b"PROXY UNKNOWN\r\n" + build_request("GET", "/"))
        env = c.read_response().json()["environ"]
        assert env["REMOTE_ADDR"] == "127.0.0.1" and env["REMOTE_PORT"] == str(c.local_port)


def test_v2(pp_server):
    tlvs = b"\x01\x00\x08http/1.1" + b"\x04\x00\x03\x00\x00\x00"  # ALPN, NOOP
    env = env_from(pp_server.port, prefix=v2_header("198.51.100.20", "10.0.0.1", 1234, 443, tlvs=tlvs))
    assert env["REMOTE_ADDR"] == "198.51.100.20" and env["REMOTE_PORT"] == "1234"
    env = env_from(pp_server.port, prefix=v2_header("2001:db8::20", "2001:db8::1", 65535, 80))
    assert env["REMOTE_ADDR"] == "2001:db8::20" and env["REMOTE_PORT"] == "65535"
    env = env_from(pp_server.port, prefix=v2_local())
    assert env["REMOTE_ADDR"] == "127.0.0.1"


def test_header_in_pieces(pp_server):
    for header in (b"PROXY TCP4 203.0.113.9 10.0.0.1 4444 80\r\n",
                   v2_header("198.51.100.20", "10.0.0.1", 1234, 443)):
        with ConnFrom(pp_server.port) as c:
            for i in range(0, len(header), 7):
                c.send(header[i:i + 7])
                time.sleep(0.02)
            c.send(build_request("GET", "/"))
            env = c.read_response().json()["environ"]
            assert env["REMOTE_ADDR"] in ("203.0.113.9", "198.51.100.20")


def test_header_applies_to_the_whole_connection(pp_server):
    with ConnFrom(pp_server.port) as c:
        c.send(b"PROXY TCP4 203.0.113.9 10.0.0.1 4444 80\r\n")
        for _ in range(3):
            c.send(build_request("GET", "/"))
            assert c.read_response().json()["environ"]["REMOTE_ADDR"] == "203.0.113.9"
        # a second PROXY line is not HTTP (an unknown method)
        c.send(b"PROXY TCP4 6.6.6.6 10.0.0.1 1 80\r\n" + build_request("GET", "/"))
        assert c.read_response().status in (400, 501)
        c.assert_closed()


@pytest.mark.parametrize("data", [
    build_request("GET", "/"),                          # no header at all
    b"PROXY TCP4 203.0.113.9 10.0.0.1 4444\r\n",       # a port missing
    b"PROXY TCP4 ::1 ::1 1 2\r\n",                     # wrong family
    b"PROXY TCP4 203.0.113.9  10.0.0.1 4444 80\r\n",   # two spaces
    b"PROXY TCP4 203.0.113.9 10.0.0.1 4444 80\n",      # bare LF
    b"PROXY " + b"x" * 200,                             # over the 107-byte bound
    b"proxy TCP4 203.0.113.9 10.0.0.1 4444 80\r\n",
    V2_SIG + b"\x21\x12\x00\x0c" + b"\x00" * 12,        # datagram
    V2_SIG + b"\x31\x11\x00\x0c" + b"\x00" * 12,        # version 3
    V2_SIG + b"\x21\x11\x00\x08" + b"\x00" * 8,         # address block too short
    V2_SIG + b"\x21\x11\xff\xff",                       # longer than we accept
    b"\x16\x03\x01\x00\x05hello",                        # TLS without the header
])
def test_bad_header_closes(pp_server, data):
    assert_closed_without_answer(pp_server.port, data)
    assert env_from(pp_server.port, prefix=b"PROXY UNKNOWN\r\n")


def test_untrusted_peer_is_closed(pp_server):
    assert_closed_without_answer(pp_server.port, b"PROXY TCP4 203.0.113.9 10.0.0.1 4444 80\r\n"
                                 + build_request("GET", "/"), source="127.0.0.2")
    env = env_from(pp_server.port, "127.0.0.5", prefix=b"PROXY TCP4 203.0.113.9 10.0.0.1 1 80\r\n")
    assert env["REMOTE_ADDR"] == "203.0.113.9"


def test_stalled_header_times_out_without_spinning(server_factory):
    srv = server_factory("environ_dump:application", "--proxy-protocol", "--header-timeout", "1.5")
    with ConnFrom(srv.port) as c:
        c.send(b"PROXY TCP4 203.0")
        t0 = time.monotonic()
        cpu0 = cpu_seconds(srv.pid)
        time.sleep(1.0)
        assert cpu_seconds(srv.pid) - cpu0 < 0.3, "the server busy-loops on a partial header"
        c.read_until_close(timeout=5 * SLOW)
        assert time.monotonic() - t0 < 4 * SLOW


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_forwarded_fields_are_judged_by_the_proxied_address(server_factory):
    srv = server_factory("environ_dump:application", "--proxy-protocol")
    # haproxy in TCP mode: the HTTP fields come from the real client, who is
    # not trusted, whatever the proxy's own address is.
    env = env_from(srv.port, prefix=b"PROXY TCP4 203.0.113.9 10.0.0.1 4444 80\r\n",
                   headers=FWD)
    assert env["REMOTE_ADDR"] == "203.0.113.9" and env["wsgi.url_scheme"] == "http"
    env = env_from(srv.port, prefix=b"PROXY TCP4 127.0.0.1 10.0.0.1 4444 80\r\n", headers=FWD)
    assert env["REMOTE_ADDR"] == "203.0.113.7" and env["wsgi.url_scheme"] == "https"


def test_proxy_protocol_before_tls(server_factory, tmp_path):
    from test_tls import Certs
    certs = Certs(tmp_path)
    srv = server_factory("environ_dump:application", "--proxy-protocol", *certs.server_args())
    for header in (b"PROXY TCP4 203.0.113.9 10.0.0.1 4444 443\r\n",
                   v2_header("198.51.100.20", "10.0.0.1", 1234, 443)):
        c = ConnFrom(srv.port)
        c.send(header)
        c.sock = certs.client_ctx().wrap_socket(c.sock, server_hostname="127.0.0.1")
        with c:
            c.send(build_request("GET", "/"))
            env = c.read_response().json()["environ"]
        assert env["REMOTE_ADDR"] in ("203.0.113.9", "198.51.100.20")
        assert env["wsgi.url_scheme"] == "https"


# -- nginx -> wsgihost over a unix socket ---------------------------------------------

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


class Nginx:
    """nginx run unprivileged from a temporary prefix, on a loopback port,
    with conf/nginx-unix.conf as its site."""

    def __init__(self, d, sock_path):
        self.dir = d
        self.port = free_port()
        site = (SOURCE_ROOT / "conf" / "nginx-unix.conf").read_text()
        assert "unix:/run/wsgihost/wsgihost.sock" in site and "listen 80;" in site
        site = site.replace("unix:/run/wsgihost/wsgihost.sock", f"unix:{sock_path}")
        site = site.replace("listen 80;", f"listen 127.0.0.1:{self.port};")
        (d / "site.conf").write_text(site)
        temps = "\n".join(f"    {k}_temp_path {d}/{k};"
                          for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        # As root, nginx's workers would become "nobody", who may not write
        # to the test's socket; keep them as the user running the test.
        user = "user root;" if os.geteuid() == 0 else ""
        (d / "nginx.conf").write_text(f"""
{user}
daemon off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log info;
events {{ worker_connections 128; }}
http {{
    access_log {d}/access.log;
{temps}
    include {d}/site.conf;
}}
""")
        cmd = [NGINX, "-p", str(d), "-c", str(d / "nginx.conf"), "-e", str(d / "error.log")]
        t = subprocess.run(cmd + ["-t"], capture_output=True, text=True, timeout=30)
        assert t.returncode == 0, t.stderr
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=open(d / "stderr.log", "wb"), start_new_session=True)

        def up():
            if self.proc.poll() is not None:
                raise AssertionError("nginx exited: " + (d / "error.log").read_text())
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return True
            except OSError:
                return False
        wait_for(up, 10 * SLOW, what="nginx")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


@pytest.fixture
def nginx_factory(server_factory, tmp_path):
    """make(app) -> (wsgihost on a unix socket serving app, nginx in front of it)."""
    if not os.path.exists(NGINX):
        pytest.skip("nginx is not installed")
    started = []

    def make(app):
        d = tmp_path / f"nginx{len(started)}"
        d.mkdir()
        sock = d / "wsgihost.sock"
        srv = server_factory(app, binds=[f"unix:{sock}"])
        ngx = Nginx(d, sock)
        started.append(ngx)
        return srv, ngx
    yield make
    for ngx in started:
        ngx.stop()


def test_nginx_unix_socket_end_to_end(nginx_factory):
    srv, ngx = nginx_factory("proto:application")
    with ConnFrom(ngx.port, "127.0.0.3") as c:
        for i in range(5):  # keep-alive to nginx, and from nginx to wsgihost
            c.send(build_request("GET", f"/path/{i}", host=f"127.0.0.1:{ngx.port}"))
            r = c.read_response()
            assert r.status == 200 and f"/path/{i}".encode() in r.body, r
        body = os.urandom(300_000)
        c.send(build_request("POST", "/echo", body=body, host="127.0.0.1"))
        r = c.read_response()
        assert r.status == 200 and r.json()["length"] == len(body), r
        c.send(build_request("GET", "/big?mb=4&mode=gen", host="127.0.0.1"))
        r = c.read_response(timeout=20 * SLOW)
        assert r.status == 200 and len(r.body) == 4 << 20


def test_nginx_forwarded_fields_over_unix_socket(nginx_factory):
    srv, ngx = nginx_factory("environ_dump:application")
    with ConnFrom(ngx.port, "127.0.0.3") as c:
        c.send(build_request("GET", "/x?y=1", host="app.example"))
        env = c.read_response().json()["environ"]
    # The unix-socket peer (nginx) is trusted, as in gunicorn: its
    # X-Forwarded-For names the client.
    assert env["REMOTE_ADDR"] == "127.0.0.3"
    assert env["wsgi.url_scheme"] == "http"
    assert env["HTTP_HOST"] == "app.example"
    assert env["HTTP_X_FORWARDED_FOR"] == "127.0.0.3"
    assert env["PATH_INFO"] == "/x" and env["QUERY_STRING"] == "y=1"


def test_unix_socket_permissions(server_factory, tmp_path):
    sock = tmp_path / "perm.sock"
    args = ["--umask", "0o007"]
    if os.geteuid() == 0:
        args += ["--group", "nogroup"]
    server_factory("hello_app", *args, binds=[f"unix:{sock}"])
    st = os.stat(sock)
    assert st.st_mode & 0o777 == 0o770, oct(st.st_mode)
    if os.geteuid() == 0:
        import grp
        assert st.st_gid == grp.getgrnam("nogroup").gr_gid
