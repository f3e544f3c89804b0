/* libFuzzer harness for the PROXY protocol parser (proxy_parse in
 * csrc/proxy.c, v1 text and v2 binary).
 *
 * Drives: proxy_parse() over the whole input, as conn.c does with the bytes
 * it peeked at, and over its prefixes, as a header arriving in pieces is
 * seen (conn.c peeks again after every PROXY_MORE).
 *
 * Checks (__builtin_trap on violation):
 *   - PROXY_OK has 0 < consumed <= len (at most PROXY_V1_MAX for v1, ending
 *     in CRLF; at most PROXY_MAX for v2), anything else consumed == 0;
 *   - the address strings are NUL-terminated inside their arrays, numeric
 *     in canonical form for their family, ports 0..65535;
 *   - over growing prefixes the answers go PROXY_MORE*, then either
 *     PROXY_OK (with the same consumed count and the same addresses as the
 *     whole input) or PROXY_ERROR for good: a prefix of a valid header is
 *     never an error and never OK with more bytes than it has, and once
 *     bytes are wrong no later byte makes them right.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "csrc/proxy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_addr(int family, const char *s, size_t cap)
{
    CHECK(memchr(s, '\0', cap) != NULL);
    uint8_t bin[16];
    char again[INET6_ADDRSTRLEN];
    CHECK(inet_pton(family, s, bin) == 1);
    CHECK(inet_ntop(family, bin, again, sizeof(again)) != NULL);
    CHECK(strcmp(again, s) == 0);
}

static void
check_result(const char *buf, size_t len, enum proxy_rc rc, const struct proxy_info *pi,
             size_t used)
{
    CHECK(rc == PROXY_OK || rc == PROXY_MORE || rc == PROXY_ERROR);
    CHECK(memchr(pi->src_addr, '\0', sizeof(pi->src_addr)) != NULL);
    CHECK(memchr(pi->dst_addr, '\0', sizeof(pi->dst_addr)) != NULL);
    if (rc != PROXY_OK) {
        CHECK(used == 0);
        return;
    }
    CHECK(used > 0 && used <= len);
    CHECK(pi->version == 1 || pi->version == 2);
    if (pi->version == 1) {
        CHECK(used <= PROXY_V1_MAX && used >= 8);
        CHECK(memcmp(buf, "PROXY ", 6) == 0);
        CHECK(buf[used - 2] == '\r' && buf[used - 1] == '\n');
        CHECK(memchr(buf, '\n', used - 1) == NULL);
    } else {
        CHECK(used >= 16 && used <= PROXY_MAX);
        CHECK(used == 16 + (((size_t)(uint8_t)buf[14] << 8) | (uint8_t)buf[15]));
    }
    if (pi->has_addr) {
        CHECK(pi->family == AF_INET || pi->family == AF_INET6);
        check_addr(pi->family, pi->src_addr, sizeof(pi->src_addr));
        check_addr(pi->family, pi->dst_addr, sizeof(pi->dst_addr));
        CHECK(pi->src_port >= 0 && pi->src_port <= 65535);
        CHECK(pi->dst_port >= 0 && pi->dst_port <= 65535);
    } else {
        CHECK(pi->src_addr[0] == '\0' && pi->dst_addr[0] == '\0');
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    struct proxy_info whole;
    size_t whole_used = 7;
    enum proxy_rc whole_rc = proxy_parse(buf, size, &whole, &whole_used);
    check_result(buf, size, whole_rc, &whole, whole_used);

    /* Prefixes: all of them for short inputs; for long ones the first 160
     * bytes (every v1 line and v2 fixed header) and about 200 more spread
     * over the rest, plus the ones around the header's end. */
    size_t step = size <= 400 ? 1 : size / 200;
    enum proxy_rc prev = PROXY_MORE;
    for (size_t k = 0; k <= size; k += (k < 160 ? 1 : step)) {
        struct proxy_info pi;
        size_t used = 7;
        enum proxy_rc rc = proxy_parse(buf, k, &pi, &used);
        check_result(buf, k, rc, &pi, used);
        /* MORE* then OK* or ERROR* */
        CHECK(prev == PROXY_MORE || rc == prev);
        prev = rc;
        if (rc == PROXY_OK) {
            /* Same bytes, same header: the whole input agrees. */
            CHECK(whole_rc == PROXY_OK && used == whole_used);
            CHECK(memcmp(&pi, &whole, sizeof(pi)) == 0);
        } else if (whole_rc == PROXY_OK && k < whole_used) {
            CHECK(rc == PROXY_MORE);
        }
        if (rc == PROXY_ERROR && k > 160) {
            break; /* stays an error, checked above for the short ones */
        }
    }
    if (whole_rc == PROXY_OK) {
        for (size_t k = whole_used - 1; k <= whole_used + 1 && k <= size; k++) {
            struct proxy_info pi;
            size_t used = 0;
            enum proxy_rc rc = proxy_parse(buf, k, &pi, &used);
            check_result(buf, k, rc, &pi, used);
            CHECK(k < whole_used ? rc == PROXY_MORE : (rc == PROXY_OK && used == whole_used));
        }
    }
    return 0;
}
