/* Unit test for csrc/proxy.c: trusted-peer lists, PROXY v1/v2 parsing and
 * X-Forwarded-* interpretation, on byte buffers. Prints "N passed, M failed"
 * and exits non-zero on any failure. */
#include "../../csrc/proxy.c"

#include <stdio.h>

#include "check.h"

static struct ip_allow
allow(const char *spec)
{
    struct ip_allow a = {0};
    char err[256];
    if (ip_allow_add(&a, spec, err, sizeof(err)) != 0) {
        fprintf(stderr, "allow(%s): %s\n", spec, err);
        abort();
    }
    return a;
}

static void
test_ip_allow(void)
{
    struct ip_allow a = allow("127.0.0.1, ::1,,10.0.0.0/8 , 2001:db8::/32,192.168.1.77/24");
    char err[256];
    CHECK(!a.any && a.n == 5);
    CHECK(ip_allow_match_str(&a, "127.0.0.1"));
    CHECK(!ip_allow_match_str(&a, "127.0.0.2"));
    CHECK(ip_allow_match_str(&a, "::1"));
    CHECK(!ip_allow_match_str(&a, "::2"));
    CHECK(ip_allow_match_str(&a, "10.255.1.2"));
    CHECK(!ip_allow_match_str(&a, "11.0.0.1"));
    CHECK(ip_allow_match_str(&a, "2001:db8:ffff::1"));
    CHECK(!ip_allow_match_str(&a, "2001:db9::1"));
    CHECK(ip_allow_match_str(&a, "192.168.1.3")); /* host bits of the entry cleared */
    CHECK(!ip_allow_match_str(&a, "192.168.2.3"));
    CHECK(ip_allow_match_str(&a, "::ffff:10.1.2.3")); /* v4-mapped matches v4 entries */
    CHECK(!ip_allow_match_str(&a, "::ffff:11.1.2.3"));
    CHECK(!ip_allow_match_str(&a, "not-an-ip"));
    CHECK(!ip_allow_match_str(&a, ""));
    char out[256];
    ip_allow_format(&a, out, sizeof(out));
    CHECK(strcmp(out, "127.0.0.1,::1,10.0.0.0/8,2001:db8::/32,192.168.1.0/24") == 0);
    ip_allow_clear(&a);
    CHECK(a.n == 0 && !a.any && !ip_allow_match_str(&a, "127.0.0.1"));

    a = allow("*");
    CHECK(a.any && ip_allow_match_str(&a, "8.8.8.8"));
    ip_allow_format(&a, out, sizeof(out));
    CHECK(strcmp(out, "*") == 0);
    ip_allow_clear(&a);
    a = allow("0.0.0.0/0");
    CHECK(ip_allow_match_str(&a, "8.8.8.8") && !ip_allow_match_str(&a, "::1"));
    ip_allow_clear(&a);

    struct ip_allow b = {0};
    CHECK(ip_allow_add(&b, "localhost", err, sizeof(err)) == -1);
    CHECK(strstr(err, "'localhost' is not an IP address") != NULL);
    CHECK(ip_allow_add(&b, "10.0.0.0/33", err, sizeof(err)) == -1);
    CHECK(strstr(err, "prefix length larger") != NULL);
    CHECK(ip_allow_add(&b, "10.0.0.0/", err, sizeof(err)) == -1);
    CHECK(ip_allow_add(&b, "10.0.0.0/08", err, sizeof(err)) == -1);
    CHECK(ip_allow_add(&b, "10.0.0.0/x", err, sizeof(err)) == -1);
    CHECK(ip_allow_add(&b, "/8", err, sizeof(err)) == -1);
    CHECK(ip_allow_add(&b, "1.2.3.4.5", err, sizeof(err)) == -1);
    CHECK(ip_allow_add(&b, "::1/129", err, sizeof(err)) == -1);
    CHECK(ip_allow_add(&b, "**", err, sizeof(err)) == -1);
    CHECK(ip_allow_add(&b, "", err, sizeof(err)) == 0 && b.n == 0);
    ip_allow_clear(&b);
}

static enum proxy_rc
parse(const char *s, size_t n, struct proxy_info *pi, size_t *used)
{
    return proxy_parse(s, n, pi, used);
}

#define PARSE_STR(s, pi, used) parse((s), strlen(s), (pi), (used))

static void
test_v1(void)
{
    struct proxy_info pi;
    size_t used;
    const char *good = "PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\nGET / HTTP/1.1\r\n";
    CHECK(PARSE_STR(good, &pi, &used) == PROXY_OK);
    CHECK(used == strlen("PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n"));
    CHECK(pi.version == 1 && pi.has_addr && pi.family == AF_INET);
    CHECK(strcmp(pi.src_addr, "192.0.2.1") == 0 && pi.src_port == 56324);
    CHECK(strcmp(pi.dst_addr, "198.51.100.2") == 0 && pi.dst_port == 443);

    CHECK(PARSE_STR("PROXY TCP6 2001:DB8::1 ::1 0 65535\r\n", &pi, &used) == PROXY_OK);
    CHECK(pi.family == AF_INET6 && strcmp(pi.src_addr, "2001:db8::1") == 0);
    CHECK(pi.src_port == 0 && pi.dst_port == 65535);

    CHECK(PARSE_STR("PROXY UNKNOWN\r\n", &pi, &used) == PROXY_OK && !pi.has_addr && used == 15);
    CHECK(PARSE_STR("PROXY UNKNOWN whatever 1 2\r\n", &pi, &used) == PROXY_OK && !pi.has_addr);

    /* every prefix of a good header asks for more */
    const char *line = "PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n";
    for (size_t i = 1; i < strlen(line); i++) {
        CHECK(parse(line, i, &pi, &used) == PROXY_MORE);
    }
    CHECK(parse("", 0, &pi, &used) == PROXY_MORE);

    /* the bound: the longest legal line fits, one byte more does not */
    const char *longest = "PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
                          "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n";
    CHECK(strlen(longest) == PROXY_V1_MAX);
    CHECK(PARSE_STR(longest, &pi, &used) == PROXY_OK && used == PROXY_V1_MAX);
    const char *longest_tcp6 = "PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
                               "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n";
    CHECK(PARSE_STR(longest_tcp6, &pi, &used) == PROXY_OK && pi.has_addr);
    char junk[200];
    memset(junk, 'x', sizeof(junk));
    memcpy(junk, "PROXY ", 6);
    CHECK(parse(junk, PROXY_V1_MAX - 1, &pi, &used) == PROXY_MORE);
    CHECK(parse(junk, PROXY_V1_MAX, &pi, &used) == PROXY_ERROR);

    static const char *const bad[] = {
        "GET / HTTP/1.1\r\n\r\n",
        "proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n",
        "PROXY  TCP4 1.2.3.4 5.6.7.8 1 2\r\n",
        "PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n",
        "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n",
        "PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n",
        "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n",
        "PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n",
        "PROXY TCP4 ::1 ::1 1 2\r\n",
        "PROXY TCP6 1.2.3.4 5.6.7.8 1 2\r\n",
        "PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n",
        "PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n",
        "PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n",
        "PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n",
        "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n",
        "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX",
        "PROXY TCP4 localhost 5.6.7.8 1 2\r\n",
        "PROXY \r\n",
        "PROXY UNKNOWNX\r\n",
    };
    for (size_t i = 0; i < countof(bad); i++) {
        enum proxy_rc rc = PARSE_STR(bad[i], &pi, &used);
        if (rc != PROXY_ERROR) {
            fprintf(stderr, "  bad[%zu] = %s -> %d\n", i, bad[i], rc);
        }
        CHECK(rc == PROXY_ERROR);
    }
    CHECK(parse("PROXY TCP4 1.2.3.4\0 5.6.7.8 1 2\r\n", 32, &pi, &used) == PROXY_ERROR);
}

static size_t
v2(unsigned char *b, unsigned ver_cmd, unsigned fam, const unsigned char *body, size_t n)
{
    static const unsigned char sig[12] = {0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d,
                                          0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a};
    memcpy(b, sig, 12);
    b[12] = (unsigned char)ver_cmd;
    b[13] = (unsigned char)fam;
    b[14] = (unsigned char)(n >> 8);
    b[15] = (unsigned char)n;
    if (n > 0) {
        memcpy(b + 16, body, n);
    }
    return 16 + n;
}

static void
test_v2(void)
{
    struct proxy_info pi;
    size_t used;
    unsigned char b[8192];
    const unsigned char in4[12] = {192, 0, 2, 1, 198, 51, 100, 2, 0xdc, 0x04, 0x01, 0xbb};
    size_t n = v2(b, 0x21, 0x11, in4, sizeof(in4));
    memcpy(b + n, "GET /", 5);
    CHECK(parse((char *)b, n + 5, &pi, &used) == PROXY_OK && used == n);
    CHECK(pi.version == 2 && pi.has_addr && pi.family == AF_INET);
    CHECK(strcmp(pi.src_addr, "192.0.2.1") == 0 && pi.src_port == 56324);
    CHECK(strcmp(pi.dst_addr, "198.51.100.2") == 0 && pi.dst_port == 443);
    for (size_t i = 1; i < n; i++) {
        CHECK(parse((char *)b, i, &pi, &used) == PROXY_MORE);
    }

    unsigned char in6[36 + 10] = {0};
    in6[0] = 0x20;
    in6[1] = 0x01;
    in6[2] = 0x0d;
    in6[3] = 0xb8;
    in6[15] = 1;
    in6[31] = 1;
    in6[32] = 0x30;
    in6[33] = 0x39;
    in6[34] = 0;
    in6[35] = 80;
    /* TLVs: a NOOP of 2 bytes and an ALPN of 2 bytes */
    const unsigned char tlvs[10] = {0x04, 0, 2, 0, 0, 0x01, 0, 2, 'h', '1'};
    memcpy(in6 + 36, tlvs, sizeof(tlvs));
    n = v2(b, 0x21, 0x21, in6, sizeof(in6));
    CHECK(parse((char *)b, n, &pi, &used) == PROXY_OK && used == n);
    CHECK(pi.family == AF_INET6 && strcmp(pi.src_addr, "2001:db8::1") == 0);
    CHECK(strcmp(pi.dst_addr, "::1") == 0 && pi.src_port == 12345 && pi.dst_port == 80);
    /* a TLV running past the end */
    n = v2(b, 0x21, 0x21, in6, sizeof(in6) - 1);
    CHECK(parse((char *)b, n, &pi, &used) == PROXY_ERROR);
    /* a stray byte after the TLVs */
    unsigned char in6x[36 + 11];
    memcpy(in6x, in6, sizeof(in6));
    in6x[46] = 0;
    n = v2(b, 0x21, 0x21, in6x, sizeof(in6x));
    CHECK(parse((char *)b, n, &pi, &used) == PROXY_ERROR);

    /* LOCAL (health check): no address, whatever the family says */
    n = v2(b, 0x20, 0x00, NULL, 0);
    CHECK(parse((char *)b, n, &pi, &used) == PROXY_OK && !pi.has_addr && used == 16);
    n = v2(b, 0x20, 0x11, in4, sizeof(in4));
    CHECK(parse((char *)b, n, &pi, &used) == PROXY_OK && !pi.has_addr && used == 28);
    /* PROXY with AF_UNSPEC or AF_UNIX: keep the real peer */
    n = v2(b, 0x21, 0x00, NULL, 0);
    CHECK(parse((char *)b, n, &pi, &used) == PROXY_OK && !pi.has_addr);
    unsigned char un[216] = {0};
    n = v2(b, 0x21, 0x31, un, sizeof(un));
    CHECK(parse((char *)b, n, &pi, &used) == PROXY_OK && !pi.has_addr);

    /* bad: version, command, family, transport, short address block, size */
    n = v2(b, 0x11, 0x11, in4, sizeof(in4));
    CHECK(parse((char *)b, n, &pi, &used) == PROXY_ERROR);
    n = v2(b, 0x22, 0x11, in4, sizeof(in4));
    CHECK(parse((char *)b, n, &pi, &used) == PROXY_ERROR);
    n = v2(b, 0x21, 0x41, in4, sizeof(in4));
    CHECK(parse((char *)b, n, &pi, &used) == PROXY_ERROR);
    n = v2(b, 0x21, 0x12, in4, sizeof(in4)); /* DGRAM */
    CHECK(parse((char *)b, n, &pi, &used) == PROXY_ERROR);
    n = v2(b, 0x21, 0x11, in4, 11);
    CHECK(parse((char *)b, 16, &pi, &used) == PROXY_ERROR); /* known from the length alone */
    n = v2(b, 0x21, 0x21, in4, sizeof(in4));
    CHECK(parse((char *)b, n, &pi, &used) == PROXY_ERROR);
    unsigned char big[PROXY_MAX] = {0};
    memcpy(big, in4, sizeof(in4));
    big[12] = 0x04; /* one NOOP TLV filling the rest */
    size_t tl = PROXY_MAX - 16 - 12 - 3;
    big[13] = (unsigned char)(tl >> 8);
    big[14] = (unsigned char)tl;
    n = v2(b, 0x21, 0x11, big, PROXY_MAX - 16);
    CHECK(parse((char *)b, n, &pi, &used) == PROXY_OK && used == PROXY_MAX);
    tl++;
    big[13] = (unsigned char)(tl >> 8);
    big[14] = (unsigned char)tl;
    n = v2(b, 0x21, 0x11, big, PROXY_MAX - 16 + 1);
    CHECK(parse((char *)b, 16, &pi, &used) == PROXY_ERROR);
    /* a broken signature */
    n = v2(b, 0x21, 0x11, in4, sizeof(in4));
    b[5] ^= 1;
    CHECK(parse((char *)b, 6, &pi, &used) == PROXY_ERROR);
    /* TLS ClientHello and HTTP are not PROXY headers */
    CHECK(parse("\x16\x03\x01\x02\x00\x01", 6, &pi, &used) == PROXY_ERROR);
    CHECK(parse("GET", 3, &pi, &used) == PROXY_ERROR);
}

static struct forwarded_info
fwd(const struct hfield *f, size_t n, const char *trusted)
{
    struct ip_allow a = allow(trusted);
    struct forwarded_info fi;
    proxy_forwarded(f, n, &a, &fi);
    ip_allow_clear(&a);
    return fi;
}

#define H(n, v)                                                                                    \
    {                                                                                              \
        n, sizeof(n) - 1, v, sizeof(v) - 1                                                         \
    }

static void
test_forwarded(void)
{
    struct forwarded_info fi;
    struct hfield none[] = {H("Host", "x"), H("X-Forwarded-Host", "y")};
    fi = fwd(none, countof(none), "127.0.0.1");
    CHECK(fi.scheme == FWD_SCHEME_NONE && !fi.has_client);

    struct hfield proto[] = {H("x-forwarded-proto", "HTTPS")};
    CHECK(fwd(proto, 1, "127.0.0.1").scheme == FWD_SCHEME_HTTPS);
    /* A list: the last element is the one the trusted peer appended; what
     * stands left of it the client may have written. */
    struct hfield proto2[] = {H("X-Forwarded-Proto", " http , https")};
    CHECK(fwd(proto2, 1, "127.0.0.1").scheme == FWD_SCHEME_HTTPS);
    struct hfield spoof[] = {H("X-Forwarded-Proto", "https, http")};
    CHECK(fwd(spoof, 1, "127.0.0.1").scheme == FWD_SCHEME_HTTP);
    struct hfield empty_last[] = {H("X-Forwarded-Proto", "https, http, ")};
    CHECK(fwd(empty_last, 1, "127.0.0.1").scheme == FWD_SCHEME_HTTP);
    struct hfield unknown_last[] = {H("X-Forwarded-Proto", "https, wss")};
    CHECK(fwd(unknown_last, 1, "127.0.0.1").scheme == FWD_SCHEME_NONE);
    struct hfield ssl_list[] = {H("X-Forwarded-Ssl", "on, off")};
    CHECK(fwd(ssl_list, 1, "127.0.0.1").scheme == FWD_SCHEME_HTTP);
    struct hfield ssl_rep[] = {H("X-Forwarded-Ssl", "on"), H("X-Forwarded-Ssl", "off")};
    CHECK(fwd(ssl_rep, 2, "127.0.0.1").scheme == FWD_SCHEME_HTTP);
    struct hfield protocol_list[] = {H("X-Forwarded-Protocol", "ssl, http")};
    CHECK(fwd(protocol_list, 1, "127.0.0.1").scheme == FWD_SCHEME_HTTP);
    struct hfield protocol_rep[] = {H("X-Forwarded-Protocol", "http"),
                                    H("X-Forwarded-Protocol", "ssl")};
    CHECK(fwd(protocol_rep, 2, "127.0.0.1").scheme == FWD_SCHEME_HTTPS);
    /* each name's last element; the names agree: no conflict */
    struct hfield agree[] = {H("X-Forwarded-Proto", "https, http"), H("X-Forwarded-Ssl", "off")};
    CHECK(fwd(agree, 2, "127.0.0.1").scheme == FWD_SCHEME_HTTP);
    struct hfield disagree[] = {H("X-Forwarded-Proto", "http, https"), H("X-Forwarded-Ssl", "off")};
    CHECK(fwd(disagree, 2, "127.0.0.1").scheme == FWD_SCHEME_CONFLICT);
    struct hfield proto3[] = {H("X-Forwarded-Proto", "ftp")};
    CHECK(fwd(proto3, 1, "127.0.0.1").scheme == FWD_SCHEME_NONE);
    struct hfield ssl[] = {H("X-Forwarded-Ssl", "on")};
    CHECK(fwd(ssl, 1, "127.0.0.1").scheme == FWD_SCHEME_HTTPS);
    struct hfield sslp[] = {H("X-Forwarded-Protocol", "ssl"), H("X-Forwarded-Proto", "https")};
    CHECK(fwd(sslp, 2, "127.0.0.1").scheme == FWD_SCHEME_HTTPS);
    struct hfield conflict[] = {H("X-Forwarded-Proto", "https"), H("X-Forwarded-Ssl", "off")};
    CHECK(fwd(conflict, 2, "127.0.0.1").scheme == FWD_SCHEME_CONFLICT);
    /* repeated fields are one list: the last field's last element counts */
    struct hfield repeated[] = {H("X-Forwarded-Proto", "https"), H("X-Forwarded-Proto", "http"),
                                H("X-Forwarded-Proto", "https")};
    CHECK(fwd(repeated, 3, "127.0.0.1").scheme == FWD_SCHEME_HTTPS);
    struct hfield repeated2[] = {H("X-Forwarded-Proto", "https"), H("X-Forwarded-Proto", "http")};
    CHECK(fwd(repeated2, 2, "127.0.0.1").scheme == FWD_SCHEME_HTTP);
    struct hfield under[] = {H("X_Forwarded_Proto", "https"), H("X_Forwarded_For", "1.2.3.4")};
    fi = fwd(under, 2, "*");
    CHECK(fi.scheme == FWD_SCHEME_NONE && !fi.has_client);

    struct hfield one[] = {H("X-Forwarded-For", "203.0.113.7")};
    fi = fwd(one, 1, "127.0.0.1");
    CHECK(fi.has_client && strcmp(fi.client_addr, "203.0.113.7") == 0);

    /* the rightmost untrusted address is the client; spoofed ones left of it are ignored */
    struct hfield chain[] = {H("X-Forwarded-For", "garbage, 6.6.6.6, 203.0.113.7, 10.0.0.2")};
    fi = fwd(chain, 1, "127.0.0.1,10.0.0.0/8");
    CHECK(fi.has_client && strcmp(fi.client_addr, "203.0.113.7") == 0);
    /* with '*' every hop is trusted: the leftmost */
    struct hfield chain2[] = {H("X-Forwarded-For", "6.6.6.6, 203.0.113.7,10.0.0.2")};
    fi = fwd(chain2, 1, "*");
    CHECK(fi.has_client && strcmp(fi.client_addr, "6.6.6.6") == 0);
    /* all trusted: the leftmost */
    struct hfield chain3[] = {H("X-Forwarded-For", "10.0.0.9, 10.0.0.2")};
    fi = fwd(chain3, 1, "10.0.0.0/8");
    CHECK(fi.has_client && strcmp(fi.client_addr, "10.0.0.9") == 0);
    /* garbage on the trusted path: nothing is believed */
    struct hfield chain4[] = {H("X-Forwarded-For", "203.0.113.7, unknown, 10.0.0.2")};
    fi = fwd(chain4, 1, "10.0.0.0/8");
    CHECK(!fi.has_client && fi.client_addr[0] == '\0');
    /* several fields: the last one was added last */
    struct hfield multi[] = {H("X-Forwarded-For", "6.6.6.6"), H("Accept", "*/*"),
                             H("X-Forwarded-For", "203.0.113.7, 10.0.0.2")};
    fi = fwd(multi, 3, "10.0.0.0/8");
    CHECK(fi.has_client && strcmp(fi.client_addr, "203.0.113.7") == 0);
    struct hfield multi2[] = {H("X-Forwarded-For", "6.6.6.6"), H("X-Forwarded-For", "10.0.0.2")};
    fi = fwd(multi2, 2, "10.0.0.0/8");
    CHECK(fi.has_client && strcmp(fi.client_addr, "6.6.6.6") == 0);
    /* ports, brackets, canonical form */
    struct hfield ports[] = {H("X-Forwarded-For", "[2001:DB8::7]:443")};
    fi = fwd(ports, 1, "127.0.0.1");
    CHECK(fi.has_client && strcmp(fi.client_addr, "2001:db8::7") == 0);
    struct hfield ports2[] = {H("X-Forwarded-For", "203.0.113.7:5555")};
    fi = fwd(ports2, 1, "127.0.0.1");
    CHECK(fi.has_client && strcmp(fi.client_addr, "203.0.113.7") == 0);
    struct hfield v6[] = {H("X-Forwarded-For", "2001:db8::8")};
    fi = fwd(v6, 1, "127.0.0.1");
    CHECK(fi.has_client && strcmp(fi.client_addr, "2001:db8::8") == 0);
    struct hfield empty[] = {H("X-Forwarded-For", " , ")};
    fi = fwd(empty, 1, "127.0.0.1");
    CHECK(!fi.has_client);
    struct hfield trailing[] = {H("X-Forwarded-For", "203.0.113.7,")};
    fi = fwd(trailing, 1, "127.0.0.1");
    CHECK(fi.has_client && strcmp(fi.client_addr, "203.0.113.7") == 0);
    static const char *const bad[] = {"good",     "1.2.3.4:99999", "[::1",  "[::1]x",
                                      "1.2.3.4:", "::1:80:",       "1.2.3", "[1.2.3.4]"};
    for (size_t i = 0; i < countof(bad); i++) {
        struct hfield f = {"X-Forwarded-For", 15, bad[i], strlen(bad[i])};
        fi = fwd(&f, 1, "127.0.0.1");
        if (fi.has_client) {
            fprintf(stderr, "  bad XFF %s -> %s\n", bad[i], fi.client_addr);
        }
        CHECK(!fi.has_client);
    }
}

int
main(void)
{
    test_ip_allow();
    test_v1();
    test_v2();
    test_forwarded();
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
