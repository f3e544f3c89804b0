/* Trusted-peer lists, the PROXY protocol and X-Forwarded-*. Everything
 * here reads bytes a client controls, so every length is checked before it
 * is used and anything unexpected is an error, never a guess: a PROXY header
 * decides the address an application may log, rate-limit or authorise by. */
#include "proxy.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---------------------------------------------------------------------- */
/* Trusted peers */

static void
errf(char *err, size_t errsz, const char *item, size_t n, const char *why)
{
    if (err != NULL && errsz > 0) {
        snprintf(err, errsz, "'%.*s' %s", (int)n, item, why);
    }
}

/* One item: "*", an address, or address/prefix. */
static int
parse_net(const char *s, size_t n, struct ip_net *out, char *err, size_t errsz)
{
    char addr[64];
    const char *slash = memchr(s, '/', n);
    size_t alen = slash != NULL ? (size_t)(slash - s) : n;
    if (alen == 0 || alen >= sizeof(addr)) {
        errf(err, errsz, s, n, "is not an IP address or network (like 10.0.0.0/8)");
        return -1;
    }
    memcpy(addr, s, alen);
    addr[alen] = '\0';
    memset(out, 0, sizeof(*out));
    int max;
    if (inet_pton(AF_INET, addr, out->addr) == 1) {
        out->family = AF_INET;
        max = 32;
    } else if (inet_pton(AF_INET6, addr, out->addr) == 1) {
        out->family = AF_INET6;
        max = 128;
    } else {
        errf(err, errsz, s, n, "is not an IP address or network (like 10.0.0.0/8)");
        return -1;
    }
    out->prefix = max;
    if (slash != NULL) {
        const char *p = slash + 1;
        size_t plen = n - alen - 1;
        int v = 0;
        if (plen == 0 || plen > 3 || (plen > 1 && p[0] == '0')) {
            errf(err, errsz, s, n, "has a bad prefix length");
            return -1;
        }
        for (size_t i = 0; i < plen; i++) {
            if (p[i] < '0' || p[i] > '9') {
                errf(err, errsz, s, n, "has a bad prefix length");
                return -1;
            }
            v = v * 10 + (p[i] - '0');
        }
        if (v > max) {
            errf(err, errsz, s, n, "has a prefix length larger than the address");
            return -1;
        }
        out->prefix = v;
        /* Clear the host bits, so that 10.1.2.3/8 means 10.0.0.0/8. */
        for (int bit = v; bit < max; bit++) {
            out->addr[bit / 8] &= (uint8_t) ~(0x80u >> (bit % 8));
        }
    }
    return 0;
}

int
ip_allow_add(struct ip_allow *a, const char *spec, char *err, size_t errsz)
{
    const char *p = spec, *b, *e;
    while (list_next(&p, &b, &e)) {
        if (e - b == 1 && *b == '*') {
            a->any = true;
        } else if (e > b) {
            struct ip_net net;
            if (parse_net(b, (size_t)(e - b), &net, err, errsz) < 0) {
                return -1;
            }
            a->nets = xrealloc(a->nets, (a->n + 1) * sizeof(*a->nets));
            a->nets[a->n++] = net;
        }
    }
    return 0;
}

void
ip_allow_clear(struct ip_allow *a)
{
    free(a->nets);
    a->nets = NULL;
    a->n = 0;
    a->any = false;
}

static bool
prefix_equal(const uint8_t *a, const uint8_t *b, int bits)
{
    int bytes = bits / 8;
    if (memcmp(a, b, (size_t)bytes) != 0) {
        return false;
    }
    if (bits % 8 == 0) {
        return true;
    }
    uint8_t mask = (uint8_t)(0xff00u >> (bits % 8));
    return (a[bytes] & mask) == (b[bytes] & mask);
}

bool
ip_allow_match(const struct ip_allow *a, int family, const void *addr)
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (a->any) {
        return true;
    }
    const uint8_t *v4 = NULL;
    if (family == AF_INET) {
        v4 = addr;
    } else if (family == AF_INET6 && memcmp(addr, mapped, sizeof(mapped)) == 0) {
        v4 = (const uint8_t *)addr + 12;
    }
    for (size_t i = 0; i < a->n; i++) {
        const struct ip_net *net = &a->nets[i];
        if (net->family == AF_INET && v4 != NULL) {
            if (prefix_equal(net->addr, v4, net->prefix)) {
                return true;
            }
        } else if (net->family == AF_INET6 && family == AF_INET6) {
            if (prefix_equal(net->addr, addr, net->prefix)) {
                return true;
            }
        }
    }
    return false;
}

bool
ip_allow_match_str(const struct ip_allow *a, const char *addr)
{
    uint8_t bin[16];
    if (inet_pton(AF_INET, addr, bin) == 1) {
        return ip_allow_match(a, AF_INET, bin);
    }
    if (inet_pton(AF_INET6, addr, bin) == 1) {
        return ip_allow_match(a, AF_INET6, bin);
    }
    return false;
}

void
ip_allow_format(const struct ip_allow *a, char *out, size_t outsz)
{
    size_t o = 0;
    out[0] = '\0';
    if (a->any) {
        o += (size_t)snprintf(out, outsz, "*");
    }
    for (size_t i = 0; i < a->n && o < outsz; i++) {
        const struct ip_net *net = &a->nets[i];
        char addr[INET6_ADDRSTRLEN];
        inet_ntop(net->family, net->addr, addr, sizeof(addr));
        bool host = net->prefix == (net->family == AF_INET ? 32 : 128);
        int k = host ? snprintf(out + o, outsz - o, "%s%s", o ? "," : "", addr)
                     : snprintf(out + o, outsz - o, "%s%s/%d", o ? "," : "", addr, net->prefix);
        o += k > 0 ? (size_t)k : 0;
    }
}

/* ---------------------------------------------------------------------- */
/* PROXY protocol v1: "PROXY TCP4 1.2.3.4 5.6.7.8 1234 80\r\n" */

static const char v1_sig[] = "PROXY ";
static const char v2_sig[12] = {0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d,
                                0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a};

/* The next space-terminated word of [*p, end), advancing past one space;
 * the last word ends at end instead. */
static bool
next_word(const char **p, const char *end, bool last, const char **w, size_t *n)
{
    const char *s = *p;
    const char *e = last ? end : memchr(s, ' ', (size_t)(end - s));
    if (e == NULL || e == s) {
        return false;
    }
    *w = s;
    *n = (size_t)(e - s);
    *p = last ? end : e + 1;
    return true;
}

static bool
parse_addr(int family, const char *w, size_t n, char *out, size_t outsz)
{
    char tmp[INET6_ADDRSTRLEN + 1];
    uint8_t bin[16];
    if (n == 0 || n >= sizeof(tmp)) {
        return false;
    }
    memcpy(tmp, w, n);
    tmp[n] = '\0';
    if (inet_pton(family, tmp, bin) != 1) {
        return false;
    }
    /* Re-format: the canonical form, whatever spelling the proxy used. */
    return inet_ntop(family, bin, out, (socklen_t)outsz) != NULL;
}

static bool
parse_port(const char *w, size_t n, int *out)
{
    if (n == 0 || n > 5 || (n > 1 && w[0] == '0')) {
        return false;
    }
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (w[i] < '0' || w[i] > '9') {
            return false;
        }
        v = v * 10 + (w[i] - '0');
    }
    if (v > 65535) {
        return false;
    }
    *out = v;
    return true;
}

static enum proxy_rc
parse_v1(const char *buf, size_t len, struct proxy_info *out, size_t *consumed)
{
    size_t scan = len < PROXY_V1_MAX ? len : PROXY_V1_MAX;
    const char *cr = NULL;
    for (size_t i = 0; i + 1 < scan; i++) {
        if (buf[i] == '\r') {
            if (buf[i + 1] != '\n') {
                return PROXY_ERROR;
            }
            cr = buf + i;
            break;
        }
        if (buf[i] == '\n' || buf[i] == '\0') {
            return PROXY_ERROR;
        }
    }
    if (cr == NULL) {
        /* A lone trailing CR may still get its LF. */
        if (scan > 0 && buf[scan - 1] == '\n') {
            return PROXY_ERROR;
        }
        return len >= PROXY_V1_MAX ? PROXY_ERROR : PROXY_MORE;
    }
    const char *p = buf + sizeof(v1_sig) - 1;
    const char *end = cr;
    const char *w;
    size_t n;
    out->version = 1;
    if (end - p >= 7 && memcmp(p, "UNKNOWN", 7) == 0 && (end - p == 7 || p[7] == ' ')) {
        /* "the receiver must ignore anything presented before the CRLF" */
        out->has_addr = false;
        *consumed = (size_t)(cr + 2 - buf);
        return PROXY_OK;
    }
    if (!next_word(&p, end, false, &w, &n) || n != 4) {
        return PROXY_ERROR;
    }
    int family;
    if (memcmp(w, "TCP4", 4) == 0) {
        family = AF_INET;
    } else if (memcmp(w, "TCP6", 4) == 0) {
        family = AF_INET6;
    } else {
        return PROXY_ERROR;
    }
    out->family = family;
    if (!next_word(&p, end, false, &w, &n) ||
        !parse_addr(family, w, n, out->src_addr, sizeof(out->src_addr)) ||
        !next_word(&p, end, false, &w, &n) ||
        !parse_addr(family, w, n, out->dst_addr, sizeof(out->dst_addr)) ||
        !next_word(&p, end, false, &w, &n) || !parse_port(w, n, &out->src_port) ||
        !next_word(&p, end, true, &w, &n) || !parse_port(w, n, &out->dst_port)) {
        return PROXY_ERROR;
    }
    out->has_addr = true;
    *consumed = (size_t)(cr + 2 - buf);
    return PROXY_OK;
}

/* ---------------------------------------------------------------------- */
/* PROXY protocol v2: 12-byte signature, ver/cmd, family/transport, length,
 * then addresses and TLVs. */

static enum proxy_rc
parse_v2(const unsigned char *b, size_t len, struct proxy_info *out, size_t *consumed)
{
    if (len < 16) {
        return PROXY_MORE;
    }
    unsigned ver = b[12] >> 4, cmd = b[12] & 0x0f;
    unsigned fam = b[13] >> 4, proto = b[13] & 0x0f;
    size_t body = ((size_t)b[14] << 8) | b[15];
    if (ver != 2 || cmd > 1 || fam > 3 || proto > 2) {
        return PROXY_ERROR;
    }
    if (16 + body > PROXY_MAX) {
        return PROXY_ERROR;
    }
    size_t need;
    switch (fam) {
    case 1:
        need = 12;
        break;
    case 2:
        need = 36;
        break;
    case 3:
        need = 216;
        break;
    default:
        need = 0;
        break;
    }
    /* LOCAL may carry any (or no) address block; PROXY must carry its own. */
    if (cmd == 1 && (body < need || (fam != 0 && proto != 1))) {
        return PROXY_ERROR;
    }
    if (len < 16 + body) {
        return PROXY_MORE;
    }
    out->version = 2;
    out->has_addr = false;
    const unsigned char *a = b + 16;
    if (cmd == 1 && (fam == 1 || fam == 2)) {
        int family = fam == 1 ? AF_INET : AF_INET6;
        size_t alen = fam == 1 ? 4 : 16;
        if (inet_ntop(family, a, out->src_addr, sizeof(out->src_addr)) == NULL ||
            inet_ntop(family, a + alen, out->dst_addr, sizeof(out->dst_addr)) == NULL) {
            return PROXY_ERROR;
        }
        out->src_port = (a[2 * alen] << 8) | a[2 * alen + 1];
        out->dst_port = (a[2 * alen + 2] << 8) | a[2 * alen + 3];
        out->family = family;
        out->has_addr = true;
    }
    if (cmd == 1) {
        /* TLVs: type, 16-bit length, value; they must tile the rest. */
        size_t off = need;
        while (off < body) {
            if (body - off < 3) {
                return PROXY_ERROR;
            }
            size_t tlen = ((size_t)a[off + 1] << 8) | a[off + 2];
            if (body - off - 3 < tlen) {
                return PROXY_ERROR;
            }
            off += 3 + tlen;
        }
    }
    *consumed = 16 + body;
    return PROXY_OK;
}

enum proxy_rc
proxy_parse(const char *buf, size_t len, struct proxy_info *out, size_t *consumed)
{
    memset(out, 0, sizeof(*out));
    *consumed = 0;
    if (len == 0) {
        return PROXY_MORE;
    }
    size_t n1 = sizeof(v1_sig) - 1;
    if (buf[0] == 'P') {
        if (memcmp(buf, v1_sig, len < n1 ? len : n1) != 0) {
            return PROXY_ERROR;
        }
        return len < n1 ? PROXY_MORE : parse_v1(buf, len, out, consumed);
    }
    if (buf[0] == v2_sig[0]) {
        if (memcmp(buf, v2_sig, len < sizeof(v2_sig) ? len : sizeof(v2_sig)) != 0) {
            return PROXY_ERROR;
        }
        return len < sizeof(v2_sig) ? PROXY_MORE
                                    : parse_v2((const unsigned char *)buf, len, out, consumed);
    }
    return PROXY_ERROR;
}

/* ---------------------------------------------------------------------- */
/* X-Forwarded-* */

static bool
name_is(const struct hfield *f, const char *name)
{
    size_t n = strlen(name);
    return f->name_len == n && strncasecmp(f->name, name, n) == 0;
}

static void
trim(const char **p, const char **e)
{
    while (*p < *e && (**p == ' ' || **p == '\t')) {
        (*p)++;
    }
    while (*e > *p && ((*e)[-1] == ' ' || (*e)[-1] == '\t')) {
        (*e)--;
    }
}

static bool
token_is(const char *p, const char *e, const char *word)
{
    size_t n = strlen(word);
    return (size_t)(e - p) == n && strncasecmp(p, word, n) == 0;
}

/* The last non-empty comma-separated element of a value. A proxy that
 * appends to the field puts its own view last; what stands left of it may
 * have been written by the client. */
static void
last_element(const struct hfield *f, const char **p, const char **e)
{
    const char *start = f->value;
    const char *end = f->value + f->value_len;
    for (;;) {
        const char *q = end;
        while (q > start && q[-1] != ',') {
            q--;
        }
        *p = q;
        *e = end;
        trim(p, e);
        if (*p < *e || q == start) {
            return;
        }
        end = q - 1;
    }
}

/* One X-Forwarded-For element to a canonical numeric address: "1.2.3.4",
 * "1.2.3.4:80", "2001:db8::1", "[2001:db8::1]", "[2001:db8::1]:80". */
static bool
xff_addr(const char *p, const char *e, char *out, size_t outsz, uint8_t *bin, int *family)
{
    char tmp[INET6_ADDRSTRLEN + 1];
    size_t n = (size_t)(e - p);
    if (n > 0 && p[0] == '[') {
        const char *rb = memchr(p, ']', n);
        if (rb == NULL) {
            return false;
        }
        const char *after = rb + 1;
        if (after != e) {
            int port;
            if (*after != ':' || !parse_port(after + 1, (size_t)(e - after - 1), &port)) {
                return false;
            }
        }
        p++;
        n = (size_t)(rb - p);
        if (n == 0 || n >= sizeof(tmp)) {
            return false;
        }
        memcpy(tmp, p, n);
        tmp[n] = '\0';
        *family = AF_INET6;
    } else {
        const char *colon = memchr(p, ':', n);
        if (colon != NULL && memchr(colon + 1, ':', (size_t)(e - colon - 1)) == NULL) {
            int port;
            if (!parse_port(colon + 1, (size_t)(e - colon - 1), &port)) {
                return false;
            }
            n = (size_t)(colon - p);
            *family = AF_INET;
        } else {
            *family = colon != NULL ? AF_INET6 : AF_INET;
        }
        if (n == 0 || n >= sizeof(tmp)) {
            return false;
        }
        memcpy(tmp, p, n);
        tmp[n] = '\0';
    }
    if (inet_pton(*family, tmp, bin) != 1) {
        return false;
    }
    return inet_ntop(*family, bin, out, (socklen_t)outsz) != NULL;
}

/* The client in the X-Forwarded-For fields among fields[0..n): elements
 * are walked right to left, last field first, and the walk stops at the
 * first address that is not a trusted proxy. Elements further left were
 * written by whoever the client is, so they are never even parsed. */
static void
xff_client(const struct hfield *fields, size_t nfields, const struct ip_allow *trusted,
           struct forwarded_info *out)
{
    bool have = false;
    for (size_t i = nfields; i-- > 0;) {
        const struct hfield *f = &fields[i];
        if (!name_is(f, "X-Forwarded-For")) {
            continue;
        }
        const char *start = f->value;
        const char *e = f->value + f->value_len; /* end of the current element */
        for (;;) {
            const char *p = e;
            while (p > start && p[-1] != ',') {
                p--;
            }
            const char *pp = p, *ep = e;
            trim(&pp, &ep);
            if (pp < ep) {
                uint8_t bin[16];
                int family;
                if (!xff_addr(pp, ep, out->client_addr, sizeof(out->client_addr), bin, &family)) {
                    /* Garbled by a proxy we trust: believe none of it. */
                    out->has_client = false;
                    out->client_addr[0] = '\0';
                    return;
                }
                have = true;
                if (!ip_allow_match(trusted, family, bin)) {
                    out->has_client = true;
                    return;
                }
            }
            if (p == start) {
                break;
            }
            e = p - 1;
        }
    }
    out->has_client = have;
}

void
proxy_forwarded(const struct hfield *fields, size_t n, const struct ip_allow *trusted,
                struct forwarded_info *out)
{
    memset(out, 0, sizeof(*out));
    bool any_xff = false;
    /* One scheme per field name: repeated fields are one comma-separated
     * list (RFC 9110 5.3), and only its last element, the one our trusted
     * peer wrote, counts. An unknown last element means no scheme from that
     * name, never a fall-back to elements further left. */
    enum forwarded_scheme by_name[3] = {FWD_SCHEME_NONE, FWD_SCHEME_NONE, FWD_SCHEME_NONE};
    for (size_t i = 0; i < n; i++) {
        const struct hfield *f = &fields[i];
        const char *p, *e;
        if (name_is(f, "X-Forwarded-Proto")) {
            last_element(f, &p, &e);
            by_name[0] = token_is(p, e, "https")  ? FWD_SCHEME_HTTPS
                         : token_is(p, e, "http") ? FWD_SCHEME_HTTP
                                                  : FWD_SCHEME_NONE;
        } else if (name_is(f, "X-Forwarded-Ssl")) {
            last_element(f, &p, &e);
            by_name[1] = token_is(p, e, "on")    ? FWD_SCHEME_HTTPS
                         : token_is(p, e, "off") ? FWD_SCHEME_HTTP
                                                 : FWD_SCHEME_NONE;
        } else if (name_is(f, "X-Forwarded-Protocol")) {
            last_element(f, &p, &e);
            by_name[2] = token_is(p, e, "ssl") || token_is(p, e, "https") ? FWD_SCHEME_HTTPS
                         : token_is(p, e, "http")                         ? FWD_SCHEME_HTTP
                                                                          : FWD_SCHEME_NONE;
        } else if (name_is(f, "X-Forwarded-For")) {
            any_xff = true;
        }
    }
    /* Different names that disagree: 400, as gunicorn answers. */
    for (size_t k = 0; k < 3; k++) {
        if (by_name[k] == FWD_SCHEME_NONE) {
            continue;
        }
        if (out->scheme == FWD_SCHEME_NONE) {
            out->scheme = by_name[k];
        } else if (out->scheme != by_name[k]) {
            out->scheme = FWD_SCHEME_CONFLICT;
        }
    }
    if (any_xff) {
        xff_client(fields, n, trusted, out);
    }
}
