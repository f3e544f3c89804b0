"""The request corpus (tests/requests/, format in tests/requests/README.md):
every case is sent to a running wsgihost and what comes back is compared
exactly with the case's expectation.

Each case runs once per (delivery, read mode):
  deliveries  whole  - one send
              split  - 1 to 8 random cut points, seeded with the case name (the
                       same pieces on every run), up to 0.5 ms between pieces
              bytes  - one send per byte (TCP_NODELAY), read mode "read" only
  read modes  read, readn, readline, iter - the body read by wsgi.input.read(),
              read(3) in a loop, readline() in a loop, iteration; each is its own
              server (tests/apps/corpus_echo.py: app_read, app_readn, ...), so
              the request itself is never changed to pick one.

Servers (one per kind and read mode, started on first use, shared by the module):
  default  wsgihost's default options
  limits   --limit-request-line 256 --limit-request-fields 10
           --limit-request-field_size 128 --limit-request-body 64
           --body-buffer-size 16 (bodies over 16 bytes go to a temporary file)
  proxy    --proxy-protocol (peers allowed by default: 127.0.0.1, ::1)
"""

import json
import random
import re
import select
import socket

import pytest

from support import IO_TIMEOUT, SOURCE_ROOT, RawConn

CORPUS = SOURCE_ROOT / "tests" / "requests"
SUBDIRS = ("valid", "invalid")

SERVER_ARGS = {
    "default": [],
    "limits": ["--limit-request-line", "256", "--limit-request-fields", "10",
               "--limit-request-field_size", "128", "--limit-request-body", "64",
               "--body-buffer-size", "16"],
    "proxy": ["--proxy-protocol"],
}
READ_MODES = ("read", "readn", "readline", "iter")
RUNS = [("whole", m) for m in READ_MODES] + [("split", m) for m in READ_MODES] + \
    [("bytes", "read")]

PROBE = b"GET /__probe__?after HTTP/1.1\r\nHost: probe\r\n\r\n"

# What a request expectation may say (README.md); the first group is required.
REQ_REQUIRED = {"REQUEST_METHOD", "RAW_URI", "PATH_INFO", "QUERY_STRING", "SERVER_PROTOCOL",
                "headers", "body"}
REQ_OPTIONAL = {"SERVER_NAME", "SERVER_PORT", "REMOTE_ADDR", "REMOTE_PORT", "wsgi.url_scheme",
                "continue"}
VALID_KEYS = {"server", "requests", "close", "note"}
INVALID_KEYS = {"server", "before", "status", "head", "eof", "note"}


# -- the .http format ---------------------------------------------------------

class CorpusFormatError(ValueError):
    pass


_ESCAPES = {ord("r"): b"\r", ord("n"): b"\n", ord("t"): b"\t", ord("0"): b"\x00",
            ord("\\"): b"\\"}
_HEX = b"0123456789abcdefABCDEF"


def decode_http(text):
    """The bytes a .http file stands for (README.md, "The .http files")."""
    if isinstance(text, str):
        text = text.encode("ascii")
    out = bytearray()
    for lineno, line in enumerate(text.split(b"\n"), 1):
        bad = [c for c in line if not 0x20 <= c <= 0x7e]
        if bad:
            raise CorpusFormatError(f"line {lineno}: byte 0x{bad[0]:02x} outside printable "
                                    f"ASCII (write it as \\xHH)")
        if line.endswith((b" ",)):
            raise CorpusFormatError(f"line {lineno}: ends with a space (write \\x20)")
        i = 0
        while i < len(line):
            c = line[i]
            if c != 0x5c:  # backslash
                out.append(c)
                i += 1
                continue
            if i + 1 >= len(line):
                raise CorpusFormatError(f"line {lineno}: backslash at the end of a line")
            e = line[i + 1]
            if e in _ESCAPES:
                out += _ESCAPES[e]
                i += 2
            elif e == ord("x"):
                hh = line[i + 2:i + 4]
                if len(hh) != 2 or any(h not in _HEX for h in hh):
                    raise CorpusFormatError(f"line {lineno}: \\x needs two hex digits")
                out.append(int(hh, 16))
                i += 4
            else:
                raise CorpusFormatError(f"line {lineno}: unknown escape \\{chr(e)}")
    return bytes(out)


class Case:
    def __init__(self, subdir, name):
        self.subdir = subdir
        self.name = name
        self.id = f"{subdir}/{name}"
        base = CORPUS / subdir / name
        self.raw = decode_http(base.with_suffix(".http").read_bytes())
        self.exp = json.loads(base.with_suffix(".json").read_text(encoding="utf-8"))
        self.valid = subdir == "valid"
        self.server = self.exp.get("server", "default")
        check_expectation(self)


def check_expectation(case):
    exp = case.exp
    if not isinstance(exp, dict):
        raise CorpusFormatError(f"{case.id}.json: not an object")
    allowed = VALID_KEYS if case.valid else INVALID_KEYS
    unknown = set(exp) - allowed
    if unknown:
        raise CorpusFormatError(f"{case.id}.json: unknown keys {sorted(unknown)}")
    if case.server not in SERVER_ARGS:
        raise CorpusFormatError(f"{case.id}.json: unknown server {case.server!r}")
    if case.valid:
        reqs = exp.get("requests")
        if not isinstance(reqs, list) or not reqs:
            raise CorpusFormatError(f"{case.id}.json: 'requests' must be a non-empty list")
    else:
        if "status" not in exp or not (exp["status"] is None or isinstance(exp["status"], int)):
            raise CorpusFormatError(f"{case.id}.json: 'status' must be an int or null")
        reqs = exp.get("before", [])
        if not isinstance(reqs, list):
            raise CorpusFormatError(f"{case.id}.json: 'before' must be a list")
    for i, r in enumerate(reqs):
        missing = REQ_REQUIRED - set(r)
        extra = set(r) - REQ_REQUIRED - REQ_OPTIONAL
        if missing or extra:
            raise CorpusFormatError(f"{case.id}.json: request {i}: missing {sorted(missing)}, "
                                    f"unknown {sorted(extra)}")
        if not all(k.startswith("HTTP_") or k in ("CONTENT_TYPE", "CONTENT_LENGTH")
                   for k in r["headers"]):
            raise CorpusFormatError(f"{case.id}.json: request {i}: 'headers' holds only "
                                    f"HTTP_*, CONTENT_TYPE and CONTENT_LENGTH")
        if case.server == "proxy" and not {"REMOTE_ADDR", "REMOTE_PORT"} <= set(r) and \
                "note" not in exp:
            raise CorpusFormatError(f"{case.id}.json: a proxy case states REMOTE_ADDR and "
                                    f"REMOTE_PORT, or says in 'note' why the real peer is kept")


def case_names():
    out = []
    for sub in SUBDIRS:
        for p in sorted((CORPUS / sub).glob("*.http")):
            out.append((sub, p.stem))
    return out


_CASES = {}


def load_case(sub, name):
    key = (sub, name)
    if key not in _CASES:
        _CASES[key] = Case(sub, name)
    return _CASES[key]


# -- servers ------------------------------------------------------------------

class CorpusServers:
    """One server per (kind, read mode), started the first time a case needs it."""

    def __init__(self, factory):
        self.factory = factory
        self.servers = {}

    def get(self, kind, mode):
        key = (kind, mode)
        if key not in self.servers:
            self.servers[key] = self.factory(f"corpus_echo:app_{mode}", *SERVER_ARGS[kind])
        return self.servers[key]


@pytest.fixture(scope="module")
def corpus_servers(module_server_factory):
    return CorpusServers(module_server_factory)


# -- delivery -----------------------------------------------------------------

def pieces_for(case, delivery):
    data = case.raw
    if delivery == "whole" or len(data) < 2:
        return [data]
    if delivery == "bytes":
        return [data[i:i + 1] for i in range(len(data))]
    rng = random.Random(f"{case.id}:split")  # str seeds are stable across runs
    k = rng.randint(1, min(8, len(data) - 1))
    cuts = sorted(rng.sample(range(1, len(data)), k))
    return [data[a:b] for a, b in zip([0] + cuts, cuts + [len(data)])]


def _drain(conn, wait):
    """Take what the server has sent so far into conn.buf. Returns False once
    the server has closed (then nothing more is worth sending)."""
    for _ in range(1000):
        if conn.eof:
            return False
        r, _, _ = select.select([conn.sock], [], [], wait)
        if not r:
            return True
        wait = 0
        try:
            data = conn.sock.recv(65536)
        except ConnectionResetError:
            conn.eof = conn.reset = True
            return False
        if not data:
            conn.eof = True
            return False
        conn.buf += data
    return True


def deliver(conn, pieces, pace):
    """Send the pieces in order, one send() each, reading between them; stop
    early if the server closes (an error may come before the whole request)."""
    for piece in pieces:
        if not _drain(conn, pace):
            return
        try:
            conn.sock.sendall(piece)
        except (BrokenPipeError, ConnectionResetError):
            return


# -- checks -------------------------------------------------------------------

def echo_of(resp, method):
    """The JSON the echo app sent: from the body, or from X-Echo for HEAD."""
    header = resp.header("X-Echo")
    assert header is not None, f"not an answer from corpus_echo: {resp}"
    info = json.loads(bytes.fromhex(header))
    if method == "HEAD":
        assert resp.body == b"", f"HEAD response with a body: {resp}"
    else:
        assert json.loads(resp.body) == info, "body and X-Echo differ"
    return info


def check_request(conn, want, index):
    method = want["REQUEST_METHOD"]
    if want.get("continue"):
        r = conn.read_response(interim=True)
        assert r.status == 100, f"request {index}: expected 100 Continue, got {r}"
    r = conn.read_response(method=method, interim=True)
    assert r.status == 200, f"request {index}: expected 200, got {r}"
    info = echo_of(r, method)
    assert info["after_eof"] == "", f"request {index}: wsgi.input gave bytes after the body"
    assert info["REQUEST_URI"] == info["RAW_URI"] and info["SCRIPT_NAME"] == ""
    expected = {k: v for k, v in want.items() if k != "continue"}
    expected.setdefault("REMOTE_ADDR", "127.0.0.1")
    expected.setdefault("REMOTE_PORT", str(conn.local_port))
    got = {k: info.get(k) for k in expected}
    assert got == expected, f"request {index} as the app saw it differs"
    return r


def run_case(case, servers, delivery, mode):
    srv = servers.get(case.server, mode)
    pace = 0.0005 if delivery == "split" else 0.0
    with RawConn(srv.port) as conn:
        deliver(conn, pieces_for(case, delivery), pace)
        if case.exp.get("eof"):
            try:
                conn.sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass
        if case.valid:
            last = None
            for i, want in enumerate(case.exp["requests"]):
                last = check_request(conn, want, i)
            if case.exp.get("close", False):
                assert last.has_token("Connection", "close"), \
                    f"the server closes but did not say Connection: close: {last}"
                extra = conn.assert_closed()
                assert extra == b"" and not conn.reset, "closed with a reset, not a FIN"
            else:
                assert not last.has_token("Connection", "close"), f"unexpected close: {last}"
                # The connection is still open and framed right: one more
                # request on it is answered (leftover bytes would break it).
                conn.send(PROBE)
                r = conn.read_response(interim=True)
                assert r.status == 200, f"probe after the case: {r}"
                info = echo_of(r, "GET")
                assert (info["PATH_INFO"], info["QUERY_STRING"]) == ("/__probe__", "after"), \
                    f"probe answered as {info['PATH_INFO']!r}?{info['QUERY_STRING']!r}"
        else:
            for i, want in enumerate(case.exp.get("before", [])):
                check_request(conn, want, i)
            status = case.exp["status"]
            if status is None:
                # Closed without a single byte of answer (a reset is allowed:
                # the server drops a connection whose input it never read).
                try:
                    extra = conn.read_until_close(IO_TIMEOUT)
                except TimeoutError:
                    raise AssertionError("server did not close the connection") from None
                assert extra == b"", f"expected no answer, got {extra[:300]!r}"
            else:
                r = conn.read_response(method="HEAD" if case.exp.get("head") else "GET",
                                       interim=True)
                assert r.status == status, f"expected {status}, got {r}"
                assert r.has_token("Connection", "close"), f"no Connection: close: {r}"
                try:
                    extra = conn.read_until_close(IO_TIMEOUT)
                except TimeoutError:
                    raise AssertionError("server did not close after the error") from None
                assert extra == b"", f"bytes after the error response: {extra[:300]!r}"
                assert not conn.reset, "closed with a reset (lingering close expected)"


PARAMS = [pytest.param(sub, name, d, m, id=f"{sub}/{name}-{d}-{m}")
          for sub, name in case_names() for d, m in RUNS]


@pytest.mark.parametrize("sub,name,delivery,mode", PARAMS)
def test_case(corpus_servers, sub, name, delivery, mode):
    run_case(load_case(sub, name), corpus_servers, delivery, mode)


# -- the corpus itself ----------------------------------------------------------

def test_corpus_files_pair_up_and_parse():
    names = case_names()
    assert len(names) >= 150, f"only {len(names)} cases"
    for sub in SUBDIRS:
        stems_http = {p.stem for p in (CORPUS / sub).glob("*.http")}
        stems_json = {p.stem for p in (CORPUS / sub).glob("*.json")}
        assert stems_http == stems_json, \
            f"{sub}: unpaired files {sorted(stems_http ^ stems_json)}"
        others = {p.name for p in (CORPUS / sub).iterdir()
                  if p.suffix not in (".http", ".json")}
        assert not others, f"{sub}: unexpected files {sorted(others)}"
        for stem in stems_http:
            assert re.fullmatch(r"[a-z0-9_]+", stem), f"{sub}/{stem}: name"
    for sub, name in names:
        load_case(sub, name)  # raises CorpusFormatError with the file named


def test_http_format_decoder():
    assert decode_http(b"GET / HTTP/1.1\\r\\n\nHost: h\\r\\n\n\\r\\n\n") == \
        b"GET / HTTP/1.1\r\nHost: h\r\n\r\n"
    assert decode_http(b"a\\nb\\rc\\td\\0e\\\\f\\x41\\xfF\\x20") == b"a\nb\rc\td\x00e\\fA\xff "
    assert decode_http(b"a\nb\n") == b"ab"
    for bad in (b"a\\", b"a\\q", b"\\x4", b"\\xzz", b"a \n", b"caf\xc3\xa9", b"a\r\n", b"\t"):
        with pytest.raises(CorpusFormatError):
            decode_http(bad)


def test_split_is_reproducible():
    class C:
        id = "valid/x"
        raw = bytes(range(200))
    a, b = pieces_for(C, "split"), pieces_for(C, "split")
    assert a == b and b"".join(a) == C.raw and len(a) >= 2
    assert b"".join(pieces_for(C, "bytes")) == C.raw
