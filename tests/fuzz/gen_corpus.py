#!/usr/bin/python3
"""Writes the seed corpora in tests/fuzz/corpus/<harness>/ (run it again after
changing a harness's input layout; files it does not know are left alone, so
saved crash reproducers stay).

    /usr/bin/python3 tests/fuzz/gen_corpus.py

Layouts (see each harness's header comment):
  fuzz_http       4 bytes (limits, split mode, split seed) + the byte stream
  fuzz_proxy      the bytes a connection starts with
  fuzz_forwarded  a --forwarded-allow-ips line, then one header field a line
  fuzz_resp       an op script
"""

import struct
from pathlib import Path

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "corpus"


def write(harness, name, data):
    d = CORPUS / harness
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data)


# ---- fuzz_http -----------------------------------------------------------

H = "Host: example.com\r\n"
REQUESTS = {
    "get": b"GET / HTTP/1.1\r\n" + H.encode() + b"\r\n",
    "get_query": b"GET /a/b%20c?x=1&y=%41 HTTP/1.1\r\nHost: h:8080\r\nUser-Agent: t\r\n\r\n",
    "pipelined": (b"GET /1 HTTP/1.1\r\nHost: a\r\n\r\n"
                  b"POST /2 HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello"
                  b"HEAD /3 HTTP/1.1\r\nHost: a\r\n\r\n"
                  b"GET /4 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
                  b"GET /never HTTP/1.1\r\nHost: a\r\n\r\n"),
    "post_cl": b"POST /form HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n"
               b"Content-Type: application/x-www-form-urlencoded\r\n\r\na=1&b=2&c=3",
    "post_cl_big": b"PUT /up HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n" + b"x" * 100,
    "chunked": b"POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
    "chunked_ext_trailers": b"POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                            b"5;name=value\r\nhello\r\n3;x\r\nabc\r\n0\r\nX-Trailer: 1\r\n"
                            b"Another: two\r\n\r\n",
    "chunked_ext_two": b"POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                       b"5;a=1;b=2\r\nhello\r\n0\r\n\r\n",
    "chunked_upper_hex": b"POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                         b"A\r\n0123456789\r\n0\r\n\r\n",
    "chunked_huge_hex": b"POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                        b"ffffffffffffffffff\r\nx\r\n0\r\n\r\n",
    "chunked_max_hex": b"POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                       b"7fffffffffffffff\r\nxx",
    "chunked_then_get": b"POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
                        b"0\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
    "te_not_final": b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
    "te_double": b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
                 b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "cl_te": b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
             b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "cl_cl": b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
    "cl_list": b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\nhello",
    "cl_bad": b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\nhello",
    "cl_huge": b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n",
    "obs_fold": b"GET / HTTP/1.1\r\nHost: a\r\nX-Folded: one\r\n two\r\n\r\n",
    "space_before_colon": b"GET / HTTP/1.1\r\nHost: a\r\nX-A : b\r\n\r\n",
    "bare_lf": b"GET / HTTP/1.1\nHost: a\n\n",
    "bare_cr": b"GET / HTTP/1.1\rHost: a\r\n\r\n",
    "nul_in_value": b"GET / HTTP/1.1\r\nHost: a\r\nX-N: a\x00b\r\n\r\n",
    "nul_in_target": b"GET /a\x00b HTTP/1.1\r\nHost: a\r\n\r\n",
    "absolute_form": b"GET http://example.com:80/p/q?r=s HTTP/1.1\r\nHost: other\r\n\r\n",
    "absolute_form_empty_path": b"GET https://example.com?x HTTP/1.1\r\nHost: x\r\n\r\n",
    "absolute_userinfo": b"GET http://u@example.com/ HTTP/1.1\r\nHost: x\r\n\r\n",
    "absolute_ftp": b"GET ftp://example.com/ HTTP/1.1\r\nHost: x\r\n\r\n",
    "connect": b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
    "options_star": b"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
    "get_star": b"GET * HTTP/1.1\r\nHost: a\r\n\r\n",
    "fragment": b"GET /a#frag HTTP/1.1\r\nHost: a\r\n\r\n",
    "http10": b"GET / HTTP/1.0\r\n\r\n",
    "http10_keepalive": b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
                        b"GET /2 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    "http10_te": b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "http09": b"GET /\r\n\r\n",
    "http2": b"GET / HTTP/2.0\r\nHost: a\r\n\r\n",
    "http12": b"GET / HTTP/1.2\r\nHost: a\r\n\r\n",
    "http1x": b"GET / HTTP/1.x\r\nHost: a\r\n\r\n",
    "lower_version": b"GET / http/1.1\r\nHost: a\r\n\r\n",
    "prism": b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    "unknown_method": b"BREW /pot HTTP/1.1\r\nHost: a\r\n\r\n",
    "garbage_method": b"G\x01T / HTTP/1.1\r\nHost: a\r\n\r\n",
    "expect_continue": b"POST /e HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n"
                       b"Content-Length: 4\r\n\r\nbody",
    "expect_chunked": b"POST /e HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n"
                      b"Transfer-Encoding: chunked\r\n\r\n4\r\nbody\r\n0\r\n\r\n",
    "expect_10": b"POST /e HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nab",
    "expect_no_body": b"GET / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n\r\n",
    "expect_other": b"POST / HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\nContent-Length: 1\r\n\r\nx",
    "no_host": b"GET / HTTP/1.1\r\n\r\n",
    "two_hosts": b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
    "bad_host": b"GET / HTTP/1.1\r\nHost: a b@c\r\n\r\n",
    "host_v6": b"GET / HTTP/1.1\r\nHost: [::1]:8000\r\n\r\n",
    "host_empty": b"GET / HTTP/1.1\r\nHost:\r\n\r\n",
    "upgrade": b"GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"
               b"\x81\x05hello",
    "many_headers": b"GET / HTTP/1.1\r\nHost: a\r\n" +
                    b"".join(b"X-H%d: %d\r\n" % (i, i) for i in range(12)) + b"\r\n",
    "long_target": b"GET /" + b"a" * 120 + b" HTTP/1.1\r\nHost: a\r\n\r\n",
    "long_header": b"GET / HTTP/1.1\r\nHost: a\r\nX-Long: " + b"v" * 100 + b"\r\n\r\n",
    "empty_header_name": b"GET / HTTP/1.1\r\nHost: a\r\n: v\r\n\r\n",
    "header_ows": b"GET / HTTP/1.1\r\nHost: a\r\nX-A: \t v \t\r\n\r\n",
    "leading_crlf": b"\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
    "cut_in_head": b"GET / HTTP/1.1\r\nHost: a\r\nX-Cut: ",
    "cut_in_body": b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc",
    "delete_body": b"DELETE /x HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n",
    # found by fuzzing: CONNECT with a declared body (now 400, llhttp never reads it)
    "regress_connect_cl": b"CONNECT e:443 HTTP/1.1\r\nHost: a\r\nContent-Length: 200\r\n\r\n"
                          b"xxxx",
    "regress_connect_chunked": b"CONNECT e:443 HTTP/1.1\r\nHost: a\r\n"
                               b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    "connect_cl0": b"CONNECT e:443 HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n",
}

# limits byte: bits 0-1 line, 2-3 fields, 4-5 field size, 6-7 body limit;
# split byte: bits 0-1 mode (whole, bytes, <=8, <=200), bits 2-3 body buffer.
VARIANTS = [
    ("", 0x00, 0x00),        # defaults, whole
    ("-bytes", 0x00, 0x01),  # byte by byte
    ("-split8", 0x00, 0x02),
    ("-spill", 0x00, 0x0a),  # random pieces, body buffer 8 bytes: spills
    ("-small", 0x55, 0x07),  # line 64, 4 fields, 32-byte fields, body 16, buffer 0
]
for name, req in REQUESTS.items():
    for suffix, lim, split in VARIANTS:
        if suffix and name not in ("pipelined", "chunked_ext_trailers", "post_cl_big",
                                   "expect_continue", "chunked", "many_headers", "long_target",
                                   "long_header", "obs_fold", "absolute_form", "upgrade",
                                   "chunked_then_get", "http10_keepalive", "cut_in_body"):
            continue
        write("fuzz_http", f"{name}{suffix}", bytes([lim, split, 0x12, 0x34]) + req)

# ---- fuzz_proxy ----------------------------------------------------------

V2SIG = b"\r\n\r\n\x00\r\nQUIT\n"


def v2(cmd, fam, body):
    return V2SIG + bytes([0x20 | cmd, fam]) + struct.pack(">H", len(body)) + body


def tlv(t, v):
    return bytes([t]) + struct.pack(">H", len(v)) + v


v4 = bytes([192, 0, 2, 1, 198, 51, 100, 2]) + struct.pack(">HH", 56324, 443)
v6 = (bytes(15) + b"\x01") + bytes([0x20, 0x01, 0x0d, 0xb8] + [0] * 11 + [2]) + \
    struct.pack(">HH", 1, 65535)
unix = b"/tmp/a".ljust(108, b"\0") + b"/tmp/b".ljust(108, b"\0")
PROXY = {
    "v1_tcp4": b"PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\nGET / HTTP/1.1\r\n\r\n",
    "v1_tcp6": b"PROXY TCP6 2001:db8::1 ::1 0 65535\r\n",
    "v1_unknown": b"PROXY UNKNOWN\r\n",
    "v1_unknown_junk": b"PROXY UNKNOWN ffff:: ffff:: 1 2\r\n",
    "v1_longest": b"PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
                  b"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n",
    "v1_bad_port": b"PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n",
    "v1_bad_family": b"PROXY TCP6 1.2.3.4 5.6.7.8 1 2\r\n",
    "v1_lf": b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n",
    "v1_partial": b"PROXY TCP4 1.2.3.4 5.6.",
    "v2_local": v2(0, 0x00, b""),
    "v2_local_addr": v2(0, 0x11, v4),
    "v2_tcp4": v2(1, 0x11, v4) + b"GET / HTTP/1.1\r\n",
    "v2_tcp4_tlvs": v2(1, 0x11, v4 + tlv(0x01, b"h2") + tlv(0x02, b"example.com") +
                       tlv(0x20, b"\x07\x00\x00\x00\x00" + tlv(0x21, b"TLSv1.3"))),
    "v2_tcp6": v2(1, 0x21, v6),
    "v2_tcp6_noop": v2(1, 0x21, v6 + tlv(0x04, b"\0\0\0")),
    "v2_unix": v2(1, 0x31, unix),
    "v2_udp": v2(1, 0x12, v4),
    "v2_unspec": v2(1, 0x00, b""),
    "v2_short_body": v2(1, 0x11, v4[:8]),
    "v2_bad_tlv": v2(1, 0x11, v4 + b"\x01\x00\x09ab"),
    "v2_bad_version": V2SIG + b"\x11\x11\x00\x0c" + v4,
    "v2_partial": v2(1, 0x11, v4)[:20],
}
for name, data in PROXY.items():
    write("fuzz_proxy", name, data)

# ---- fuzz_forwarded ------------------------------------------------------

FWD = {
    "loopback": b"127.0.0.1,::1\nX-Forwarded-For: 203.0.113.7\nX-Forwarded-Proto: https\n",
    "chain": b"10.0.0.0/8, 192.168.0.0/16\nX-Forwarded-For: 1.2.3.4, 10.1.1.1, 192.168.5.5\n"
             b"Host: a\n",
    "spoofed": b"10.0.0.0/8\nX-Forwarded-For: 6.6.6.6, 203.0.113.9\n"
               b"X-Forwarded-For: 10.0.0.2\n",
    "all_trusted": b"0.0.0.0/0\nX-Forwarded-For: 1.1.1.1, 2.2.2.2\n",
    "v6": b"2001:db8::/32\nX-Forwarded-For: [2001:db8::5]:443, 2001:db8::1, [::1]\n",
    "ports": b"*\nX-Forwarded-For: 1.2.3.4:80\nX-Forwarded-For: [::ffff:1.2.3.4]:65535\n",
    "garbled": b"10.0.0.1\nX-Forwarded-For: unknown, 10.0.0.1\n",
    "garbled_left": b"10.0.0.1\nX-Forwarded-For: garbage, 5.5.5.5, 10.0.0.1\n",
    "empty_elems": b"127.0.0.1\nX-Forwarded-For: ,, 1.2.3.4 , ,\n",
    "proto_list": b"127.0.0.1\nX-Forwarded-Proto: https, http\n",
    "proto_unknown_last": b"127.0.0.1\nX-Forwarded-Proto: https, wss\n",
    "ssl_on": b"127.0.0.1\nX-Forwarded-Ssl: on\nX-Forwarded-Protocol: ssl\n",
    "conflict": b"127.0.0.1\nX-Forwarded-Proto: http\nX-Forwarded-Ssl: on\n",
    "repeated_proto": b"127.0.0.1\nX-Forwarded-Proto: https\nx-forwarded-proto: http\n",
    "underscore": b"127.0.0.1\nX_Forwarded_For: 9.9.9.9\nX_Forwarded_Proto: https\n",
    "known_names": b"::1\n\x00 1.2.3.4, ::1\n\x01 https\n\x02 off\n\x03 ssl\n\x05 7.7.7.7\n",
    "bad_spec": b"10.0.0.0/33\nX-Forwarded-For: 1.2.3.4\n",
    "spec_mixed": b"* , 10.1.2.3/8,::ffff:0:0/96, 2001:db8::1/128\nX-Forwarded-For: ::ffff:10.9.9.9\n",
    "mapped": b"10.0.0.0/8\nX-Forwarded-For: ::ffff:10.0.0.1, ::ffff:11.0.0.1\n",
    # an IPv6 network covering ::ffff:0:0/96 matches mapped IPv4 addresses (a harness fix)
    "regress_v6net_mapped": b"::/1\n\x00 1.2.3.4\n\x00 ::ffff:1.2.3.4\n",
}
for name, data in FWD.items():
    write("fuzz_forwarded", name, data)

# ---- fuzz_resp -----------------------------------------------------------
# ops: 0 BEGIN f, 1 STATUS i, 2 HEADER k v, 3 WRITE n (|16: x61), 4 SENDFILE o n
# (|16: n x16, |32: head with the length first), 5 HEAD (|16: hint 0, |32: hint n) n,
# 6 FINISH, 7 SIMPLE, 8 ERROR i, 9 FLUSH b (|16: x97)
# BEGIN flags: 1 HEAD, 2 HTTP/1.0, 4 no keep-alive asked, 8 server says close,
# 16 100 Continue first.  statuses[i]: 0 200, 2 204, 3 304, 4 100, 5 101, 8 404
BEGIN, STATUS, HEADER, WRITE, SENDFILE, HEAD, FINISH, SIMPLE, ERROR, FLUSH = range(10)


def ops(*seq):
    return bytes(seq)


RESP = {
    "get_list": ops(BEGIN, 0, STATUS, 0, HEADER, 7, 0, HEAD | 32, 5, WRITE, 5, FINISH, 0),
    "chunked": ops(BEGIN, 0, STATUS, 0, WRITE, 10, FLUSH, 3, WRITE, 200, WRITE, 0, FINISH, 0),
    "chunked_big": ops(BEGIN, 0, STATUS, 0, WRITE | 16, 200, FLUSH | 16, 9, WRITE, 1, FINISH, 0),
    "http10_close": ops(BEGIN, 2, STATUS, 0, WRITE, 10, WRITE, 20, FINISH, 0),
    "http10_keep_cl": ops(BEGIN, 2, STATUS, 0, HEADER, 0, 4, WRITE, 4, FINISH, 0,
                          BEGIN, 2, STATUS, 8, HEAD | 32, 3, WRITE, 3, FINISH, 0),
    "head_unknown": ops(BEGIN, 1, STATUS, 0, HEAD | 16, 0, FINISH, 0),
    "head_cl": ops(BEGIN, 1, STATUS, 0, HEADER, 0, 50, WRITE, 50, FINISH, 0,
                   BEGIN, 0, STATUS, 0, WRITE, 3, FINISH, 0),
    "s204": ops(BEGIN, 0, STATUS, 2, WRITE, 9, FINISH, 0, BEGIN, 0, STATUS, 3, WRITE, 2,
                FINISH, 0),
    "s304_cl": ops(BEGIN, 0, STATUS, 3, HEADER, 0, 100, FINISH, 0, BEGIN, 0, STATUS, 0,
                   FINISH, 0),
    "s1xx": ops(BEGIN, 0, STATUS, 4, FINISH, 0, BEGIN, 0, STATUS, 5, WRITE, 3, FINISH, 0),
    "cl_short": ops(BEGIN, 0, STATUS, 0, HEADER, 0, 100, WRITE, 10, FINISH, 0),
    "cl_long": ops(BEGIN, 0, STATUS, 0, HEADER, 0, 5, WRITE, 10, WRITE, 10, FINISH, 0,
                   BEGIN, 0, STATUS, 0, FINISH, 0),
    "cl_dup": ops(BEGIN, 0, STATUS, 0, HEADER, 0, 5, HEADER, 0, 5, HEADER, 1, 1, HEADER, 2, 3,
                  WRITE, 5, FINISH, 0),
    "cl_bad": ops(BEGIN, 0, STATUS, 0, HEADER, 2, 0, HEADER, 2, 1, HEADER, 2, 5, WRITE, 5,
                  FINISH, 0),
    "hop_by_hop": ops(BEGIN, 0, STATUS, 0, HEADER, 5, 0, HEADER, 6, 1, WRITE, 5, FINISH, 0),
    "date_server": ops(BEGIN, 0, STATUS, 0, HEADER, 3, 0, HEADER, 4, 1, HEADER, 8, 40,
                       HEADER, 11, 0, WRITE, 1, FINISH, 0),
    "restatus": ops(BEGIN, 0, STATUS, 0, HEADER, 0, 9, STATUS, 9, HEADER, 0, 3, WRITE, 3,
                    FINISH, 0),
    "sendfile": ops(BEGIN, 0, STATUS, 0, SENDFILE | 32, 2, 100, FINISH, 0,
                    BEGIN, 0, STATUS, 0, SENDFILE, 0, 50, SENDFILE | 16, 10, 20, FLUSH, 7,
                    FINISH, 0),
    "sendfile_head": ops(BEGIN, 1, STATUS, 0, SENDFILE | 32, 0, 80, FINISH, 0),
    "sendfile_http10": ops(BEGIN, 2, STATUS, 0, SENDFILE, 1, 30, FINISH, 0),
    "no_status": ops(BEGIN, 0, WRITE, 5, BEGIN, 0, STATUS, 0, SIMPLE, 0),
    "simple": ops(BEGIN, 0, STATUS, 0, HEADER, 0, 4, SIMPLE, 0, BEGIN, 1, SIMPLE, 0),
    "error_after": ops(BEGIN, 0, STATUS, 0, WRITE, 4, FINISH, 0, ERROR, 2),
    "error_head": ops(ERROR, 8 | 1),
    "error_midway": ops(BEGIN, 0, STATUS, 0, WRITE, 4, ERROR, 5),
    "continue": ops(BEGIN, 16, STATUS, 0, WRITE, 4, FINISH, 0, BEGIN, 16 | 2, STATUS, 0,
                    WRITE, 1, FINISH, 0),
    "server_close": ops(BEGIN, 8, STATUS, 0, WRITE, 4, FINISH, 0, BEGIN, 0, STATUS, 0, FINISH, 0),
    "client_close": ops(BEGIN, 4, STATUS, 0, HEAD | 32, 3, WRITE, 3, FINISH, 0),
    "flush_partial": ops(BEGIN, 0, STATUS, 0, FLUSH, 0, WRITE, 100, FLUSH, 1, FLUSH, 0,
                         FLUSH, 50, WRITE, 30, FINISH, 0, FLUSH | 16, 255),
    # the next request begins while a response is unfinished (a harness fix)
    "regress_begin_while_busy": ops(BEGIN, 0, STATUS, 0, HEADER, 3, 2, 11, BEGIN, 3, STATUS, 6,
                                    FINISH, 0),
    "pipeline": b"".join(ops(BEGIN, f, STATUS, i, WRITE, 7, FINISH, 0)
                         for f, i in ((0, 0), (1, 0), (0, 2), (2 | 0, 8), (0, 3), (0, 9))),
}
for name, data in RESP.items():
    write("fuzz_resp", name, data)

if __name__ == "__main__":
    for h in sorted(p.name for p in CORPUS.iterdir()):
        print(h, len(list((CORPUS / h).iterdir())))
