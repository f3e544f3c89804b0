"""HTTPS: certificates made at test time with the openssl command (a CA, a
server certificate, client certificates), spoken to with Python's ssl
module. Requests over TLS, protocol versions, ALPN, client certificates,
start-up errors for bad files, and hostile or broken clients that must cost
one connection and nothing else."""

import hashlib
import os
import shutil
import signal
import socket
import ssl
import subprocess
import time
import warnings

import pytest

import support
from support import (SLOW, RawConn, build_request, chunked, fd_count, load_app_module,
                     run_binary, wait_for)

chunks_app = load_app_module("chunks_app")

OPENSSL = shutil.which("openssl") or "/usr/bin/openssl"


def openssl(*args, cwd):
    p = subprocess.run([OPENSSL, *args], cwd=cwd, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, f"openssl {args}: {p.stderr}"


def make_key(d, name):
    openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-out", f"{name}.key", cwd=d)


def make_ca(d, name, cn):
    make_key(d, name)
    openssl("req", "-x509", "-new", "-key", f"{name}.key", "-out", f"{name}.pem", "-days", "2",
            "-subj", f"/CN={cn}", "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)


def make_cert(d, name, subj, ca, ext):
    make_key(d, name)
    openssl("req", "-new", "-key", f"{name}.key", "-out", f"{name}.csr", "-subj", subj, cwd=d)
    (d / f"{name}.ext").write_text(ext)
    openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key",
            "-CAcreateserial", "-out", f"{name}.pem", "-days", "2", "-extfile", f"{name}.ext",
            cwd=d)


class Certs:
    def __init__(self, d):
        self.dir = d
        make_ca(d, "ca", "wsgihost test CA")
        make_ca(d, "otherca", "some other CA")
        make_cert(d, "server", "/CN=localhost", "ca",
                  "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\n"
                  "extendedKeyUsage=serverAuth\n")
        make_cert(d, "server2", "/CN=localhost/O=renewed", "ca",
                  "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
        make_cert(d, "alice", "/O=Example/CN=alice", "ca", "extendedKeyUsage=clientAuth\n")
        make_cert(d, "mallory", "/O=Evil/CN=mallory", "otherca", "extendedKeyUsage=clientAuth\n")
        make_key(d, "wrong")
        openssl("pkey", "-in", "server.key", "-aes256", "-passout", "pass:secret",
                "-out", "encrypted.key", cwd=d)
        # certificate and key in one file (gunicorn allows --certfile alone)
        (d / "combined.pem").write_bytes((d / "server.pem").read_bytes() +
                                         (d / "server.key").read_bytes())
        (d / "garbage.pem").write_text("-----BEGIN CERTIFICATE-----\nnot base64\n"
                                       "-----END CERTIFICATE-----\n")

    def path(self, name):
        return str(self.dir / name)

    def server_args(self, *extra, cert="server"):
        return ["--certfile", self.path(f"{cert}.pem"), "--keyfile", self.path(f"{cert}.key"),
                *extra]

    def client_ctx(self, cert=None, minv=None, maxv=None, alpn=None):
        ctx = ssl.create_default_context(cafile=self.path("ca.pem"))
        if cert:
            ctx.load_cert_chain(self.path(f"{cert}.pem"), self.path(f"{cert}.key"))
        if minv:
            ctx.minimum_version = minv
        if maxv:
            ctx.maximum_version = maxv
        if alpn:
            ctx.set_alpn_protocols(alpn)
        return ctx


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return Certs(tmp_path_factory.mktemp("certs"))


def tls_conn(port, ctx, host="127.0.0.1", session=None, timeout=None):
    """A RawConn whose socket speaks TLS (handshake done)."""
    c = RawConn(port, host=host, timeout=timeout)
    c.sock = ctx.wrap_socket(c.sock, server_hostname=host, session=session)
    return c


def https_get(port, ctx, path="/", headers=()):
    with tls_conn(port, ctx) as c:
        c.send(build_request("GET", path, headers, host=f"127.0.0.1:{port}"))
        return c.read_response()


@pytest.fixture(scope="module")
def tls_server(module_server_factory, certs):
    return module_server_factory("proto:application", *certs.server_args())


@pytest.fixture(scope="module")
def env_server(module_server_factory, certs):
    return module_server_factory("environ_dump:application", *certs.server_args())


# -- requests over TLS -----------------------------------------------------------

def test_get(tls_server, certs):
    r = https_get(tls_server.port, certs.client_ctx())
    assert r.status == 200 and r.body == b"Hello, World!", r
    assert "Listening at: https://127.0.0.1:" in tls_server.log()
    # The start-up summary's URL says https too.
    assert f"Open https://127.0.0.1:{tls_server.port}/ in a browser\n" in tls_server.log()


def test_environ(env_server, certs):
    r = https_get(env_server.port, certs.client_ctx())
    env = r.json()["environ"]
    assert env["wsgi.url_scheme"] == "https"
    assert env["HTTPS"] == "on"
    assert "SSL_CLIENT_S_DN" not in env
    assert env["SERVER_PORT"] == str(env_server.port)
    assert env["REMOTE_ADDR"] == "127.0.0.1"


def test_post_body(tls_server, certs):
    body = os.urandom(3 * 1024 * 1024 + 17)
    with tls_conn(tls_server.port, certs.client_ctx()) as c:
        c.send(build_request("POST", "/echo", [("Content-Type", "application/octet-stream")],
                             body=body))
        r = c.read_response()
    assert r.status == 200, r
    j = r.json()
    assert j["length"] == len(body)
    assert j["sha256"] == hashlib.sha256(body).hexdigest()


def test_chunked_request_and_response(tls_server, certs):
    body = os.urandom(200_000)
    with tls_conn(tls_server.port, certs.client_ctx()) as c:
        c.send(build_request("POST", "/echo", [("Transfer-Encoding", "chunked")],
                             body=chunked(body, 7000), content_length=False))
        r = c.read_response()
        assert r.json()["sha256"] == hashlib.sha256(body).hexdigest()
        c.send(build_request("GET", "/gen?n=50"))
        r = c.read_response()
        assert r.status == 200 and r.chunked, r
        assert len(r.chunk_sizes) >= 1


def test_inline_stream_of_many_chunks(module_server_factory, certs):
    """An inline (--threads 1) generator of more than 64 chunks comes out
    whole over TLS too (the streaming stall of the inline mode)."""
    srv = module_server_factory("chunks_app:application", "--threads", "1", *certs.server_args())
    with tls_conn(srv.port, certs.client_ctx()) as c:
        for n, size in ((200, 10), (100, 65536)):
            c.send(build_request("GET", f"/gen?n={n}&size={size}"))
            r = c.read_response()
            assert r.status == 200 and len(r.chunk_sizes) == n, r
            assert r.body == b"".join(chunks_app.chunk(i, size) for i in range(n))


def test_keep_alive(tls_server, certs):
    with tls_conn(tls_server.port, certs.client_ctx()) as c:
        for i in range(20):
            c.send(build_request("GET", f"/path/{i}"))
            r = c.read_response()
            assert r.status == 200 and f"/path/{i}".encode() in r.body, r


def test_pipelining(tls_server, certs):
    n = 50
    with tls_conn(tls_server.port, certs.client_ctx()) as c:
        c.send(b"".join(build_request("GET", f"/path/{i}") for i in range(n)))
        for i in range(n):
            r = c.read_response()
            assert r.status == 200 and f"/path/{i}".encode() in r.body, (i, r)


def test_pipelining_many_records(tls_server, certs):
    """More pipelined input than the server reads at once: bytes left
    decrypted inside OpenSSL must be read without a new epoll event."""
    n = 400
    reqs = [build_request("GET", f"/path/{i}", [("X-Pad", "p" * 400)]) for i in range(n)]
    with tls_conn(tls_server.port, certs.client_ctx(), timeout=20 * SLOW) as c:
        c.send(b"".join(reqs))
        for i in range(n):
            r = c.read_response(timeout=20 * SLOW)
            assert r.status == 200 and f"/path/{i}".encode() in r.body, (i, r)


def test_large_response_slow_reader(tls_server, certs):
    from support import load_app_module
    proto = load_app_module("proto")
    ctx = certs.client_ctx()
    c = RawConn(tls_server.port, rcvbuf=16384, timeout=30 * SLOW)
    c.sock = ctx.wrap_socket(c.sock, server_hostname="127.0.0.1")
    with c:
        c.send(build_request("GET", "/big?mb=8&mode=gen"))
        time.sleep(0.5)  # the server's socket buffer fills: writes must wait for EPOLLOUT
        r = c.read_response(timeout=30 * SLOW)
        assert r.status == 200
        assert r.body == proto.big_body(8)


def test_file_wrapper(module_server_factory, certs, tmp_path):
    srv = module_server_factory("filewrapper_app:application", *certs.server_args())
    data = os.urandom(2 * 1024 * 1024 + 123)
    f = tmp_path / "blob"
    f.write_bytes(data)
    ctx = certs.client_ctx()
    with tls_conn(srv.port, ctx, timeout=20 * SLOW) as c:
        c.send(build_request("GET", f"/file?path={f}"))
        r = c.read_response(timeout=20 * SLOW)
        assert r.status == 200 and r.body == data
        c.send(build_request("GET", f"/file?path={f}&offset=1000"))
        r = c.read_response(timeout=20 * SLOW)
        assert r.body == data[1000:]
        c.send(build_request("GET", "/nofileno"))
        r = c.read_response()
        assert r.body == b"0123456789" * 1000


def test_every_bind_serves_tls(server_factory, certs, tmp_path):
    sock = str(tmp_path / "tls.sock")
    srv = server_factory("hello_app", *certs.server_args(),
                         binds=["127.0.0.1:{port}", f"unix:{sock}"])
    assert https_get(srv.port, certs.client_ctx()).status == 200
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(sock)
    t = certs.client_ctx().wrap_socket(s, server_hostname="localhost")
    t.sendall(build_request("GET", "/"))
    assert t.recv(4096).startswith(b"HTTP/1.1 200 OK")
    t.close()


def test_combined_cert_and_key_file(server_factory, certs):
    srv = server_factory("hello_app", "--certfile", certs.path("combined.pem"))
    assert https_get(srv.port, certs.client_ctx()).status == 200


# -- protocol versions, ALPN, ciphers ---------------------------------------------

def old_client_ctx(certs, version):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(certs.path("ca.pem"))
    ctx.set_ciphers("ALL:@SECLEVEL=0")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # that is the point
        ctx.minimum_version = version
        ctx.maximum_version = version
    return ctx


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1])
def test_old_tls_refused(tls_server, certs, version):
    with pytest.raises((ssl.SSLError, ConnectionError)):
        tls_conn(tls_server.port, old_client_ctx(certs, version)).close()
    assert https_get(tls_server.port, certs.client_ctx()).status == 200


def test_tls12_and_13(tls_server, certs):
    for v in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
        ctx = certs.client_ctx(minv=v, maxv=v)
        with tls_conn(tls_server.port, ctx) as c:
            assert c.sock.version() == ("TLSv1.2" if v == ssl.TLSVersion.TLSv1_2 else "TLSv1.3")
            c.send(build_request("GET", "/"))
            assert c.read_response().status == 200


def test_min_version_13(server_factory, certs):
    srv = server_factory("hello_app", *certs.server_args("--tls-min-version", "1.3"))
    ctx12 = certs.client_ctx(maxv=ssl.TLSVersion.TLSv1_2)
    with pytest.raises((ssl.SSLError, ConnectionError)):
        tls_conn(srv.port, ctx12).close()
    assert https_get(srv.port, certs.client_ctx()).status == 200


def test_alpn(tls_server, certs):
    with tls_conn(tls_server.port, certs.client_ctx(alpn=["h2", "http/1.1"])) as c:
        assert c.sock.selected_alpn_protocol() == "http/1.1"
    with tls_conn(tls_server.port, certs.client_ctx()) as c:
        assert c.sock.selected_alpn_protocol() is None
    # Only HTTP/2 offered: refused during the handshake, not with a 400 later.
    with pytest.raises(ssl.SSLError):
        tls_conn(tls_server.port, certs.client_ctx(alpn=["h2"])).close()


def test_ciphers(server_factory, certs):
    srv = server_factory("hello_app",
                         *certs.server_args("--ciphers", "ECDHE-ECDSA-AES128-GCM-SHA256"))
    ctx = certs.client_ctx(maxv=ssl.TLSVersion.TLSv1_2)
    with tls_conn(srv.port, ctx) as c:
        assert c.sock.cipher()[0] == "ECDHE-ECDSA-AES128-GCM-SHA256"
    ctx = certs.client_ctx(maxv=ssl.TLSVersion.TLSv1_2)
    ctx.set_ciphers("ECDHE-ECDSA-AES256-GCM-SHA384")
    with pytest.raises(ssl.SSLError):
        tls_conn(srv.port, ctx).close()


# -- client certificates ----------------------------------------------------------

def client_cert_result(port, ctx):
    """The environ the app saw, or the exception the client got. In TLS 1.3
    the server checks the client's certificate after the client considers
    the handshake done, so a refusal may only show when reading."""
    try:
        with tls_conn(port, ctx) as c:
            c.send(build_request("GET", "/"))
            r = c.read_response()
            return r.json()["environ"]
    except (ssl.SSLError, ConnectionError, support.Incomplete) as e:
        return e


def test_client_cert_required(server_factory, certs):
    srv = server_factory("environ_dump:application", *certs.server_args(
        "--ca-certs", certs.path("ca.pem"), "--cert-reqs", "required"))
    env = client_cert_result(srv.port, certs.client_ctx(cert="alice"))
    assert isinstance(env, dict), env
    assert env["SSL_CLIENT_S_DN"] == "CN=alice,O=Example"
    assert env["wsgi.url_scheme"] == "https"
    for v in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
        assert isinstance(client_cert_result(srv.port, certs.client_ctx(maxv=v)), Exception)
        assert isinstance(client_cert_result(srv.port, certs.client_ctx(cert="mallory", maxv=v)),
                          Exception)
    assert isinstance(client_cert_result(srv.port, certs.client_ctx(cert="alice")), dict)


def test_client_cert_optional(server_factory, certs):
    srv = server_factory("environ_dump:application", *certs.server_args(
        "--ca-certs", certs.path("ca.pem"), "--cert-reqs", "optional"))
    env = client_cert_result(srv.port, certs.client_ctx())
    assert isinstance(env, dict), env
    assert "SSL_CLIENT_S_DN" not in env
    env = client_cert_result(srv.port, certs.client_ctx(cert="alice"))
    assert env["SSL_CLIENT_S_DN"] == "CN=alice,O=Example"
    # a certificate from an unknown CA is refused, not ignored
    assert isinstance(client_cert_result(srv.port, certs.client_ctx(cert="mallory")), Exception)


def test_client_cert_not_asked(env_server, certs):
    env = client_cert_result(env_server.port, certs.client_ctx(cert="alice"))
    assert isinstance(env, dict) and "SSL_CLIENT_S_DN" not in env


# -- start-up errors ---------------------------------------------------------------

def startup_error(args, *contains):
    p = run_binary(["-b", f"127.0.0.1:{support.free_port()}", *args, "hello_app"])
    assert p.returncode == 1, (p.returncode, p.stderr)
    assert p.stderr.startswith("wsgihost: error: "), p.stderr
    for text in contains:
        assert text in p.stderr, p.stderr
    assert len(p.stderr.strip().splitlines()) == 1, p.stderr
    return p


def test_wrong_key(certs):
    startup_error(["--certfile", certs.path("server.pem"), "--keyfile", certs.path("wrong.key")],
                  "does not match the certificate")


def test_encrypted_key(certs):
    startup_error(["--certfile", certs.path("server.pem"),
                   "--keyfile", certs.path("encrypted.key")],
                  "encrypted", "passphrase")


def test_missing_files(certs):
    startup_error(["--certfile", certs.path("nope.pem")], "--certfile", "nope.pem",
                  "No such file or directory")
    startup_error(["--certfile", certs.path("server.pem"), "--keyfile", certs.path("nope.key")],
                  "--keyfile", "No such file or directory")
    startup_error(certs.server_args("--ca-certs", certs.path("nope.pem"),
                                    "--cert-reqs", "required"),
                  "--ca-certs", "No such file or directory")


def test_bad_files(certs):
    startup_error(["--certfile", certs.path("garbage.pem"), "--keyfile", certs.path("server.key")],
                  "--certfile", "cannot load")
    startup_error(["--certfile", certs.path("server.pem"), "--keyfile", certs.path("server.pem")],
                  "--keyfile", "cannot load")
    startup_error(["--certfile", certs.path("server.pem")], "cannot load")  # key not in it
    startup_error(certs.server_args("--ca-certs", certs.path("garbage.pem"),
                                    "--cert-reqs", "optional"),
                  "--ca-certs")
    startup_error(certs.server_args("--ciphers", "NO-SUCH-CIPHER"), "--ciphers")


def test_usage_errors(certs):
    p = run_binary(["--tls-min-version", "1.1", "hello_app"])
    assert p.returncode == 2 and "obsolete" in p.stderr, p.stderr


# -- hostile and broken clients ---------------------------------------------------

def test_plain_http_to_tls_port(tls_server, certs):
    with RawConn(tls_server.port) as c:
        c.send(build_request("GET", "/"))
        r = c.read_response()
        assert r.status == 400
        assert b"https://" in r.body
        c.assert_closed()
    assert https_get(tls_server.port, certs.client_ctx()).status == 200


def test_garbage_to_tls_port(tls_server, certs):
    for junk in (b"\x16\x03\x01\x00\x05hello", os.urandom(3000), b"\x00" * 10, b"SSH-2.0-x\r\n"):
        with RawConn(tls_server.port) as c:
            c.try_send(junk)
            try:
                c.read_until_close()
            except TimeoutError:
                raise AssertionError(f"server kept a connection open after {junk[:20]!r}")
    assert https_get(tls_server.port, certs.client_ctx()).status == 200


def test_aborted_handshakes_leak_nothing(server_factory, certs):
    srv = server_factory("hello_app", *certs.server_args())
    ctx = certs.client_ctx()
    assert https_get(srv.port, ctx).status == 200
    base = fd_count(srv.pid)
    # Half a ClientHello, then gone; a full ClientHello, then gone.
    hello = ClientHelloRecorder.record(ctx)
    for _ in range(20):
        with RawConn(srv.port) as c:
            c.send(hello[: len(hello) // 2])
        with RawConn(srv.port) as c:
            c.send(hello)
        s = socket.create_connection(("127.0.0.1", srv.port))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        s.send(hello)
        s.close()  # RST
    assert https_get(srv.port, ctx).status == 200
    wait_for(lambda: fd_count(srv.pid) <= base, 5 * SLOW, what="connections released")


class ClientHelloRecorder:
    """The bytes of a real ClientHello, captured through memory BIOs."""

    @staticmethod
    def record(ctx):
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        obj = ctx.wrap_bio(incoming, outgoing, server_hostname="127.0.0.1")
        with pytest.raises(ssl.SSLWantReadError):
            obj.do_handshake()
        return outgoing.read()


def test_stalled_handshakes_do_not_block_others(server_factory, certs):
    srv = server_factory("hello_app", *certs.server_args("--header-timeout", "2"))
    ctx = certs.client_ctx()
    hello = ClientHelloRecorder.record(ctx)
    assert https_get(srv.port, ctx).status == 200  # warm up before counting fds
    base = fd_count(srv.pid)
    stalled = []
    try:
        for i in range(100):
            s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
            # nothing, a byte, or half a ClientHello: then silence
            s.send(b"" if i % 3 == 0 else hello[:1] if i % 3 == 1 else hello[: len(hello) // 2])
            stalled.append(s)
        t0 = time.monotonic()
        for _ in range(10):
            assert https_get(srv.port, ctx).status == 200
        assert time.monotonic() - t0 < 2 * SLOW, "a normal client waited behind stalled ones"
        # --header-timeout counts from accept: the stalled ones are closed.
        def all_closed():
            for s in stalled:
                s.settimeout(0.01)
                try:
                    if s.recv(1) != b"":
                        return False
                except socket.timeout:
                    return False
                except ConnectionError:
                    pass
            return True
        wait_for(all_closed, 6 * SLOW, interval=0.1, what="stalled handshakes closed")
        wait_for(lambda: fd_count(srv.pid) <= base, 5 * SLOW, what="fds released")
    finally:
        for s in stalled:
            s.close()
    assert https_get(srv.port, ctx).status == 200


# -- sessions and reload -----------------------------------------------------------

@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3])
def test_session_tickets_resume_on_any_worker(server_factory, certs, version):
    srv = server_factory("info_app:application", *certs.server_args("-w", "2"))
    ctx = certs.client_ctx(maxv=version)
    with tls_conn(srv.port, ctx) as c:
        c.send(build_request("GET", "/"))
        c.read_response()
        session = c.sock.session
    assert session is not None
    # Connections held open at the same time spread over the workers.
    pids = set()
    reused = total = 0
    for _ in range(20):
        conns = [tls_conn(srv.port, ctx, session=session) for _ in range(16)]
        try:
            for c in conns:
                c.send(build_request("GET", "/"))
            for c in conns:
                pids.add(c.read_response().json()["pid"])
                reused += c.sock.session_reused
                total += 1
        finally:
            for c in conns:
                c.close()
        if len(pids) == 2:
            break
        time.sleep(0.2)  # the second worker may still be booting
    assert reused == total, f"only {reused}/{total} resumed"
    assert len(pids) == 2, f"every connection went to one worker ({pids}): test inconclusive"


def test_hup_reloads_certificates(server_factory, certs, tmp_path):
    cert, key = tmp_path / "live.pem", tmp_path / "live.key"
    shutil.copy(certs.path("server.pem"), cert)
    shutil.copy(certs.path("server.key"), key)
    srv = server_factory("hello_app", "--certfile", str(cert), "--keyfile", str(key), "-w", "1")
    ctx = certs.client_ctx()

    def served_subject():
        with tls_conn(srv.port, ctx) as c:
            return dict(x[0] for x in c.sock.getpeercert()["subject"])
    assert "organizationName" not in served_subject()
    shutil.copy(certs.path("server2.pem"), cert)
    shutil.copy(certs.path("server2.key"), key)
    srv.send_signal(signal.SIGHUP)
    wait_for(lambda: served_subject().get("organizationName") == "renewed", 15 * SLOW,
             interval=0.2, what="the renewed certificate")
    # A broken certificate on HUP keeps the running one.
    (cert).write_text("garbage")
    srv.send_signal(signal.SIGHUP)
    wait_for(lambda: "reload: --certfile" in srv.log(), 10 * SLOW, what="reload error logged")
    assert served_subject().get("organizationName") == "renewed"
