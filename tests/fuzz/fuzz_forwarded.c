/* libFuzzer harness for trusted-address lists and X-Forwarded-* (csrc/proxy.c:
 * ip_allow_add, ip_allow_match, ip_allow_match_str, ip_allow_format,
 * proxy_forwarded).
 *
 * Input: the first line is a --forwarded-allow-ips spec; each further line
 * is one request header field, "Name: value", or a byte 0x00-0x07 followed
 * by the value to use one of the names proxy_forwarded() reads (so that the
 * fuzzer need not spell them).
 *
 * Drives: ip_allow_add on the spec; ip_allow_match_str on every value and
 * on every comma-separated element; proxy_forwarded over the fields with
 * the parsed list, with "*" and with an empty list (trust nobody).
 *
 * Checks (__builtin_trap on violation):
 *   - ip_allow_add: 0 or -1 with a NUL-terminated message; the entries are
 *     IPv4/IPv6 with a prefix in range and host bits cleared; the list
 *     formatted by ip_allow_format parses back to the same entries;
 *   - matching: "*" matches every address; an IPv4 address and its
 *     IPv4-mapped IPv6 form (::ffff:a.b.c.d) match the same IPv4 entries;
 *     ip_allow_match_str agrees with inet_pton + ip_allow_match;
 *   - proxy_forwarded agrees with a reference model written here from the
 *     README's rules: per scheme name only the last list element counts,
 *     different names that disagree are a conflict; X-Forwarded-For is
 *     walked from the right, stopping at the first untrusted address, the
 *     leftmost when all are trusted, no client when an element on the way
 *     is not an address; the client address is NUL-terminated, numeric and
 *     canonical.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fuzz_common.h"
#include "csrc/proxy.h"

#define MAX_FIELDS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const known_names[8] = {
    "X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Ssl",   "X-Forwarded-Protocol",
    "x-forwarded-for", "X_Forwarded_For",   "X-FORWARDED-PROTO", "Host",
};

static bool
same_list(const struct ip_allow *a, const struct ip_allow *b)
{
    if (a->any != b->any || a->n != b->n) {
        return false;
    }
    for (size_t i = 0; i < a->n; i++) {
        if (a->nets[i].family != b->nets[i].family || a->nets[i].prefix != b->nets[i].prefix ||
            memcmp(a->nets[i].addr, b->nets[i].addr, 16) != 0) {
            return false;
        }
    }
    return true;
}

static void
check_list(const struct ip_allow *a)
{
    for (size_t i = 0; i < a->n; i++) {
        const struct ip_net *net = &a->nets[i];
        CHECK(net->family == AF_INET || net->family == AF_INET6);
        int max = net->family == AF_INET ? 32 : 128;
        CHECK(net->prefix >= 0 && net->prefix <= max);
        for (int bit = net->prefix; bit < 128; bit++) {
            CHECK((net->addr[bit / 8] & (0x80u >> (bit % 8))) == 0);
        }
    }
    /* format, parse again: the same list */
    size_t cap = 16 + a->n * 64;
    char *text = malloc(cap);
    ip_allow_format(a, text, cap);
    CHECK(memchr(text, '\0', cap) != NULL);
    struct ip_allow b = {0};
    char err[128];
    CHECK(ip_allow_add(&b, text, err, sizeof(err)) == 0);
    CHECK(same_list(a, &b));
    ip_allow_clear(&b);
    free(text);
}

/* A NUL-terminated copy of [p, e). */
static char *
dup_span(const char *p, const char *e)
{
    size_t n = (size_t)(e - p);
    char *s = malloc(n + 1);
    memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

static void
check_match(const struct ip_allow *a, const struct ip_allow *any, const char *p, const char *e)
{
    char *s = dup_span(p, e);
    bool m = ip_allow_match_str(a, s);
    uint8_t bin[16];
    if (inet_pton(AF_INET, s, bin) == 1) {
        CHECK(m == ip_allow_match(a, AF_INET, bin));
        uint8_t mapped[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        memcpy(mapped + 12, bin, 4);
        /* The mapped form matches the IPv4 entries too, and IPv6 entries
         * that cover ::ffff:0:0/96 (::/1 does) besides. */
        bool v6_entries = false;
        for (size_t i = 0; i < a->n; i++) {
            v6_entries |= a->nets[i].family == AF_INET6;
        }
        bool mm = ip_allow_match(a, AF_INET6, mapped);
        CHECK(v6_entries ? (!m || mm) : m == mm);
        CHECK(ip_allow_match_str(any, s));
    } else if (inet_pton(AF_INET6, s, bin) == 1) {
        CHECK(m == ip_allow_match(a, AF_INET6, bin));
        CHECK(ip_allow_match_str(any, s));
    } else {
        CHECK(!m && !ip_allow_match_str(any, s));
    }
    free(s);
}

/* ---- the reference model ---- */

static void
ref_trim(const char **p, const char **e)
{
    while (*p < *e && (**p == ' ' || **p == '\t')) {
        (*p)++;
    }
    while (*e > *p && ((*e)[-1] == ' ' || (*e)[-1] == '\t')) {
        (*e)--;
    }
}

static bool
ref_port(const char *p, const char *e)
{
    size_t n = (size_t)(e - p);
    if (n == 0 || n > 5 || (n > 1 && p[0] == '0')) {
        return false;
    }
    long v = 0;
    for (const char *q = p; q < e; q++) {
        if (*q < '0' || *q > '9') {
            return false;
        }
        v = v * 10 + (*q - '0');
    }
    return v <= 65535;
}

/* One X-Forwarded-For element: "v4", "v4:port", "v6", "[v6]", "[v6]:port". */
static bool
ref_addr(const char *p, const char *e, int *family, uint8_t *bin, char *out, size_t outsz)
{
    const char *a = p, *ae = e;
    *family = AF_INET;
    if (p < e && *p == '[') {
        const char *rb = memchr(p, ']', (size_t)(e - p));
        if (rb == NULL || (rb + 1 != e && (rb[1] != ':' || !ref_port(rb + 2, e)))) {
            return false;
        }
        a = p + 1;
        ae = rb;
        *family = AF_INET6;
    } else {
        size_t colons = 0;
        const char *last = NULL;
        for (const char *q = p; q < e; q++) {
            if (*q == ':') {
                colons++;
                last = q;
            }
        }
        if (colons == 1) {
            if (!ref_port(last + 1, e)) {
                return false;
            }
            ae = last;
        } else if (colons > 1) {
            *family = AF_INET6;
        }
    }
    if (ae - a <= 0 || ae - a >= INET6_ADDRSTRLEN + 1) {
        return false;
    }
    char *s = dup_span(a, ae);
    bool ok = strlen(s) == (size_t)(ae - a) && inet_pton(*family, s, bin) == 1;
    free(s);
    return ok && inet_ntop(*family, bin, out, (socklen_t)outsz) != NULL;
}

struct span {
    const char *p, *e;
};

static void
ref_forwarded(const struct hfield *f, size_t n, const struct ip_allow *trusted,
              struct forwarded_info *out)
{
    memset(out, 0, sizeof(*out));
    static const char *const names[3] = {"X-Forwarded-Proto", "X-Forwarded-Ssl",
                                         "X-Forwarded-Protocol"};
    int by_name[3] = {0, 0, 0};
    for (size_t i = 0; i < n; i++) {
        for (int k = 0; k < 3; k++) {
            if (!ref_ieq(f[i].name, f[i].name_len, names[k])) {
                continue;
            }
            /* the last non-empty element of this field, else empty */
            const char *v = f[i].value, *ve = v + f[i].value_len;
            struct span last = {ve, ve};
            const char *s = v;
            for (const char *q = v; q <= ve; q++) {
                if (q == ve || *q == ',') {
                    struct span el = {s, q};
                    ref_trim(&el.p, &el.e);
                    if (el.p < el.e) {
                        last = el;
                    }
                    s = q + 1;
                }
            }
            size_t ln = (size_t)(last.e - last.p);
            int sch = 0;
            if (k == 0) {
                sch = ref_ieq(last.p, ln, "https") ? 2 : ref_ieq(last.p, ln, "http") ? 1 : 0;
            } else if (k == 1) {
                sch = ref_ieq(last.p, ln, "on") ? 2 : ref_ieq(last.p, ln, "off") ? 1 : 0;
            } else {
                sch = ref_ieq(last.p, ln, "ssl") || ref_ieq(last.p, ln, "https") ? 2
                      : ref_ieq(last.p, ln, "http")                              ? 1
                                                                                 : 0;
            }
            by_name[k] = sch;
        }
    }
    for (int k = 0; k < 3; k++) {
        if (by_name[k] == 0) {
            continue;
        }
        if (out->scheme == FWD_SCHEME_NONE) {
            out->scheme = (enum forwarded_scheme)by_name[k];
        } else if ((int)out->scheme != by_name[k]) {
            out->scheme = FWD_SCHEME_CONFLICT;
        }
    }
    /* All X-Forwarded-For elements in order, empty ones left out. */
    struct span els[512];
    size_t nel = 0;
    for (size_t i = 0; i < n; i++) {
        if (!ref_ieq(f[i].name, f[i].name_len, "X-Forwarded-For")) {
            continue;
        }
        const char *v = f[i].value, *ve = v + f[i].value_len, *s = v;
        for (const char *q = v; q <= ve; q++) {
            if (q == ve || *q == ',') {
                struct span el = {s, q};
                ref_trim(&el.p, &el.e);
                if (el.p < el.e && nel < countof(els)) {
                    els[nel++] = el;
                }
                s = q + 1;
            }
        }
    }
    for (size_t i = nel; i-- > 0;) {
        int family;
        uint8_t bin[16];
        if (!ref_addr(els[i].p, els[i].e, &family, bin, out->client_addr,
                      sizeof(out->client_addr))) {
            out->has_client = false;
            out->client_addr[0] = '\0';
            return;
        }
        out->has_client = true;
        if (!ip_allow_match(trusted, family, bin)) {
            return;
        }
    }
}

static void
check_forwarded(const struct hfield *f, size_t n, const struct ip_allow *trusted)
{
    struct forwarded_info got, want;
    proxy_forwarded(f, n, trusted, &got);
    ref_forwarded(f, n, trusted, &want);
    CHECK(got.scheme >= FWD_SCHEME_NONE && got.scheme <= FWD_SCHEME_CONFLICT);
    CHECK(memchr(got.client_addr, '\0', sizeof(got.client_addr)) != NULL);
    CHECK(got.scheme == want.scheme);
    CHECK(got.has_client == want.has_client);
    if (got.has_client) {
        CHECK(strcmp(got.client_addr, want.client_addr) == 0);
        uint8_t bin[16];
        CHECK(inet_pton(AF_INET, got.client_addr, bin) == 1 ||
              inet_pton(AF_INET6, got.client_addr, bin) == 1);
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 8192) {
        return 0;
    }
    const char *in = (const char *)data;
    const char *end = in + size;
    const char *nl = memchr(in, '\n', size);
    const char *spec_end = nl != NULL ? nl : end;

    char *spec = dup_span(in, spec_end);
    struct ip_allow list = {0};
    char err[128];
    err[0] = 'x';
    int rc = ip_allow_add(&list, spec, err, sizeof(err));
    CHECK(rc == 0 || rc == -1);
    if (rc < 0) {
        CHECK(memchr(err, '\0', sizeof(err)) != NULL && err[0] == '\'');
        ip_allow_clear(&list);
    } else {
        check_list(&list);
    }
    free(spec);
    struct ip_allow any = {.any = true};
    struct ip_allow none = {0};

    struct hfield fields[MAX_FIELDS];
    size_t nf = 0;
    const char *p = nl != NULL ? nl + 1 : end;
    while (p < end && nf < MAX_FIELDS) {
        const char *le = memchr(p, '\n', (size_t)(end - p));
        if (le == NULL) {
            le = end;
        }
        struct hfield *f = &fields[nf];
        if ((uint8_t)*p < 8) {
            f->name = known_names[(uint8_t)*p];
            f->name_len = strlen(f->name);
            f->value = p + 1;
        } else {
            const char *colon = memchr(p, ':', (size_t)(le - p));
            if (colon == NULL) {
                p = le + 1;
                continue;
            }
            f->name = p;
            f->name_len = (size_t)(colon - p);
            f->value = colon + 1;
        }
        f->value_len = (size_t)(le - f->value);
        if (memchr(f->value, '\0', f->value_len) != NULL) {
            p = le + 1; /* http.c never lets a NUL into a value */
            continue;
        }
        /* http.c hands values without surrounding OWS */
        const char *vb = f->value, *ve = f->value + f->value_len;
        ref_trim(&vb, &ve);
        f->value = vb;
        f->value_len = (size_t)(ve - vb);
        nf++;
        /* every element of the value against the lists */
        const char *s = f->value;
        for (const char *q = f->value; q <= ve; q++) {
            if (q == ve || *q == ',') {
                const char *a = s, *b = q;
                ref_trim(&a, &b);
                check_match(&list, &any, a, b);
                s = q + 1;
            }
        }
        p = le + 1;
    }

    check_forwarded(fields, nf, &list);
    check_forwarded(fields, nf, &any);
    check_forwarded(fields, nf, &none);
    ip_allow_clear(&list);
    return 0;
}
