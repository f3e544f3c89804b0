/* Life behind a proxy: lists of trusted peer addresses, the PROXY protocol
 * (v1 text and v2 binary, as haproxy and nginx send it) and the
 * X-Forwarded-* request fields. Pure functions over bytes: no sockets, no
 * Python, so they are unit-tested on their own (tests/unit/test_proxy.c). */
#ifndef WSGIHOST_PROXY_H
#define WSGIHOST_PROXY_H

#include <netinet/in.h>
#include <sys/socket.h>

#include "util.h"

/* ---- trusted peers (--forwarded-allow-ips, --proxy-allow-from) -------- */

struct ip_net {
    int family;       /* AF_INET or AF_INET6 */
    uint8_t addr[16]; /* network byte order, host bits cleared */
    int prefix;       /* 0..32 or 0..128 */
};

struct ip_allow {
    bool any; /* "*" */
    size_t n;
    struct ip_net *nets;
};

/* Add the comma-separated items of spec ("127.0.0.1, ::1, 10.0.0.0/8, *";
 * blanks around items and empty items are ignored) to a. Returns 0, or -1
 * with err naming the first bad item. */
int ip_allow_add(struct ip_allow *a, const char *spec, char *err, size_t errsz);
void ip_allow_clear(struct ip_allow *a);
/* Is the address (4 or 16 bytes, network order) in the list? An
 * IPv4-mapped IPv6 address (::ffff:a.b.c.d) also matches IPv4 entries. */
bool ip_allow_match(const struct ip_allow *a, int family, const void *addr);
/* The same for a numeric address string; false when it is not one. */
bool ip_allow_match_str(const struct ip_allow *a, const char *addr);
/* The list as text ("127.0.0.1,::1"), for --print-config. */
void ip_allow_format(const struct ip_allow *a, char *out, size_t outsz);

/* ---- PROXY protocol ---------------------------------------------------- */

#define PROXY_V1_MAX 107  /* the whole v1 line, CRLF included (the spec's bound) */
#define PROXY_MAX    4096 /* v2 header + addresses + TLVs that we accept */

enum proxy_rc {
    PROXY_ERROR = -1, /* not a valid PROXY header: close the connection */
    PROXY_MORE = 0,   /* a valid beginning: wait for more bytes */
    PROXY_OK = 1,     /* *consumed bytes form a complete header */
};

struct proxy_info {
    int version; /* 1 or 2 */
    /* false for v1 "UNKNOWN", v2 LOCAL (health checks) and v2 AF_UNSPEC or
     * AF_UNIX: the connection keeps its own addresses. */
    bool has_addr;
    int family;        /* AF_INET / AF_INET6 when has_addr */
    char src_addr[46]; /* numeric, as inet_ntop writes it */
    int src_port;
    char dst_addr[46];
    int dst_port;
};

/* Parse the header at the start of buf. Strict: exact signature, v1 line at
 * most PROXY_V1_MAX bytes with single spaces, TCP4/TCP6 addresses of the
 * right family, ports 0-65535 without leading zeros; v2 version 2, command
 * LOCAL or PROXY, stream transport, a length covering the addresses, TLVs
 * that exactly fill the rest, and at most PROXY_MAX bytes in all. */
enum proxy_rc proxy_parse(const char *buf, size_t len, struct proxy_info *out, size_t *consumed);

/* ---- X-Forwarded-* ---------------------------------------------------- */

enum forwarded_scheme {
    FWD_SCHEME_NONE = 0, /* no (usable) scheme field */
    FWD_SCHEME_HTTP = 1,
    FWD_SCHEME_HTTPS = 2,
    FWD_SCHEME_CONFLICT = 3, /* the fields disagree: answer 400 */
};

struct forwarded_info {
    enum forwarded_scheme scheme;
    bool has_client;
    char client_addr[46]; /* numeric, from X-Forwarded-For */
};

/* Read X-Forwarded-Proto (http/https), X-Forwarded-Ssl (on/off) and
 * X-Forwarded-Protocol (ssl) for the scheme: for each name, the last
 * element of its (possibly repeated, comma-separated) list, the one our
 * peer wrote; names that disagree are FWD_SCHEME_CONFLICT. X-Forwarded-For
 * gives the
 * client: walking the addresses from the right (the one our peer added),
 * the first one that is not itself a trusted proxy is the client; when all
 * are trusted, the leftmost. Entries left of the client are never looked
 * at; an entry on the way that is not an IP address (optionally "[v6]",
 * "[v6]:port" or "v4:port") makes the whole field ignored. Field names match
 * case-insensitively; names with '_' never match. Call only for a trusted
 * peer. */
void proxy_forwarded(const struct hfield *fields, size_t n, const struct ip_allow *trusted,
                     struct forwarded_info *out);

#endif
