#include "httpcond.h"

#include <string.h>
#include <strings.h>

static const char *const day_names[7] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char *const day_long[7] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                        "Thursday", "Friday", "Saturday"};
static const char *const month_names[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

static bool
is_ows(char c)
{
    return c == ' ' || c == '\t';
}

static bool
is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
 * days_from_civil), so no time zone or locale is involved. */
static int64_t
days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void
civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

size_t
httpcond_format_date(int64_t t, char buf[HTTPCOND_DATE_LEN + 1])
{
    int64_t days = t >= 0 ? t / 86400 : (t - 86399) / 86400;
    int64_t secs = t - days * 86400;
    int64_t y;
    int m, d;
    civil_from_days(days, &y, &m, &d);
    int wday = (int)((days % 7 + 11) % 7); /* 1970-01-01 was a Thursday */
    if (y < 0 || y > 9999) {
        y = y < 0 ? 0 : 9999;
    }
    char *p = buf;
    memcpy(p, day_names[wday], 3);
    p += 3;
    *p++ = ',';
    *p++ = ' ';
    *p++ = (char)('0' + d / 10);
    *p++ = (char)('0' + d % 10);
    *p++ = ' ';
    memcpy(p, month_names[m - 1], 3);
    p += 3;
    *p++ = ' ';
    *p++ = (char)('0' + (y / 1000) % 10);
    *p++ = (char)('0' + (y / 100) % 10);
    *p++ = (char)('0' + (y / 10) % 10);
    *p++ = (char)('0' + y % 10);
    *p++ = ' ';
    int hh = (int)(secs / 3600), mm = (int)(secs / 60 % 60), ss = (int)(secs % 60);
    *p++ = (char)('0' + hh / 10);
    *p++ = (char)('0' + hh % 10);
    *p++ = ':';
    *p++ = (char)('0' + mm / 10);
    *p++ = (char)('0' + mm % 10);
    *p++ = ':';
    *p++ = (char)('0' + ss / 10);
    *p++ = (char)('0' + ss % 10);
    memcpy(p, " GMT", 4);
    p += 4;
    *p = '\0';
    return (size_t)(p - buf);
}

/* A cursor over the field value. */
struct cur {
    const char *p, *e;
};

static bool
take_lit(struct cur *c, const char *lit)
{
    size_t n = strlen(lit);
    if ((size_t)(c->e - c->p) < n || memcmp(c->p, lit, n) != 0) {
        return false;
    }
    c->p += n;
    return true;
}

/* Exactly `digits` decimal digits (or 1-2 when digits is 0, asctime's day). */
static bool
take_num(struct cur *c, int digits, int *out)
{
    int v = 0, k = 0;
    int max = digits ? digits : 2;
    while (k < max && c->p < c->e && is_digit(*c->p)) {
        v = v * 10 + (*c->p++ - '0');
        k++;
    }
    if (k == 0 || (digits && k != digits)) {
        return false;
    }
    *out = v;
    return true;
}

static bool
take_month(struct cur *c, int *m)
{
    for (int i = 0; i < 12; i++) {
        if (take_lit(c, month_names[i])) {
            *m = i + 1;
            return true;
        }
    }
    return false;
}

static bool
take_time(struct cur *c, int *hh, int *mm, int *ss)
{
    return take_num(c, 2, hh) && take_lit(c, ":") && take_num(c, 2, mm) && take_lit(c, ":") &&
           take_num(c, 2, ss) && *hh < 24 && *mm < 60 && *ss < 61;
}

static int
days_in_month(int64_t y, int m)
{
    static const int dm[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) {
        return 29;
    }
    return dm[m - 1];
}

bool
httpcond_parse_date(const char *s, size_t n, int64_t *out)
{
    struct cur c = {s, s + n};
    while (c.p < c.e && is_ows(*c.p)) {
        c.p++;
    }
    while (c.e > c.p && is_ows(c.e[-1])) {
        c.e--;
    }
    int y = 0, m = 0, d = 0, hh = 0, mm = 0, ss = 0;
    int wday = -1;
    for (int i = 0; i < 7 && wday < 0; i++) {
        /* The long names first: "Sun" is a prefix of "Sunday". */
        if (take_lit(&c, day_long[i])) {
            wday = i + 7;
        } else if (take_lit(&c, day_names[i])) {
            wday = i;
        }
    }
    if (wday < 0) {
        return false;
    }
    if (wday >= 7) {
        /* RFC 850: "Sunday, 06-Nov-94 08:49:37 GMT" */
        if (!(take_lit(&c, ", ") && take_num(&c, 2, &d) && take_lit(&c, "-") &&
              take_month(&c, &m) && take_lit(&c, "-") && take_num(&c, 2, &y) && take_lit(&c, " ") &&
              take_time(&c, &hh, &mm, &ss) && take_lit(&c, " GMT"))) {
            return false;
        }
        /* Two-digit years: 70-99 are 19xx, the rest 20xx (RFC 9110 5.6.7
         * wants the last such year that is not over 50 years ahead; the
         * same answer until 2070). */
        y += y < 70 ? 2000 : 1900;
    } else if (take_lit(&c, ", ")) {
        /* IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT" */
        if (!(take_num(&c, 2, &d) && take_lit(&c, " ") && take_month(&c, &m) && take_lit(&c, " ") &&
              take_num(&c, 4, &y) && take_lit(&c, " ") && take_time(&c, &hh, &mm, &ss) &&
              take_lit(&c, " GMT"))) {
            return false;
        }
    } else {
        /* asctime: "Sun Nov  6 08:49:37 1994" */
        if (!(take_lit(&c, " ") && take_month(&c, &m) && take_lit(&c, " "))) {
            return false;
        }
        if (c.p < c.e && *c.p == ' ') {
            c.p++;
            if (!take_num(&c, 1, &d)) {
                return false;
            }
        } else if (!take_num(&c, 2, &d)) {
            return false;
        }
        if (!(take_lit(&c, " ") && take_time(&c, &hh, &mm, &ss) && take_lit(&c, " ") &&
              take_num(&c, 4, &y))) {
            return false;
        }
    }
    if (c.p != c.e || d < 1 || d > days_in_month(y, m)) {
        return false;
    }
    if (ss == 60) {
        ss = 59; /* a leap second: the same second for our comparisons */
    }
    *out = days_from_civil(y, m, d) * 86400 + hh * 3600 + mm * 60 + ss;
    return true;
}

/* etagc = %x21 / %x23-7E / obs-text */
static bool
is_etagc(unsigned char ch)
{
    return ch == 0x21 || (ch >= 0x23 && ch != 0x7f);
}

/* One entity-tag at c: sets [*b, *e) to the opaque tag with its quotes. */
static bool
take_etag(struct cur *c, bool *weak, const char **b, const char **e)
{
    *weak = false;
    if (c->e - c->p >= 2 && c->p[0] == 'W' && c->p[1] == '/') {
        *weak = true;
        c->p += 2;
    }
    if (c->p >= c->e || *c->p != '"') {
        return false;
    }
    *b = c->p++;
    while (c->p < c->e && is_etagc((unsigned char)*c->p)) {
        c->p++;
    }
    if (c->p >= c->e || *c->p != '"') {
        return false;
    }
    c->p++;
    *e = c->p;
    return true;
}

static void
skip_ows(struct cur *c)
{
    while (c->p < c->e && is_ows(*c->p)) {
        c->p++;
    }
}

int
httpcond_etag_match(const char *v, size_t n, const char *etag, size_t etag_len, bool weak)
{
    struct cur c = {v, v + n};
    skip_ows(&c);
    if (c.p < c.e && *c.p == '*') {
        c.p++;
        skip_ows(&c);
        return c.p == c.e ? 1 : -1;
    }
    int found = 0;
    bool any = false;
    while (c.p < c.e) {
        if (*c.p == ',') {
            c.p++;
            skip_ows(&c);
            continue;
        }
        bool w;
        const char *b, *e;
        if (!take_etag(&c, &w, &b, &e)) {
            return -1;
        }
        any = true;
        if ((weak || !w) && (size_t)(e - b) == etag_len && memcmp(b, etag, etag_len) == 0) {
            found = 1;
        }
        skip_ows(&c);
        if (c.p < c.e && *c.p != ',') {
            return -1;
        }
    }
    return any ? found : -1;
}

bool
httpcond_is_etag(const char *v, size_t n)
{
    struct cur c = {v, v + n};
    skip_ows(&c);
    bool w;
    const char *b, *e;
    if (!take_etag(&c, &w, &b, &e)) {
        return false;
    }
    skip_ows(&c);
    return c.p == c.e;
}

/* 1*DIGIT into *out; values past 2^62 saturate (they are past any file). */
static bool
take_u64(struct cur *c, uint64_t *out)
{
    uint64_t v = 0;
    const char *start = c->p;
    while (c->p < c->e && is_digit(*c->p)) {
        if (v < ((uint64_t)1 << 62)) {
            v = v * 10 + (uint64_t)(*c->p - '0');
        }
        c->p++;
    }
    *out = v;
    return c->p > start;
}

enum httpcond_range
httpcond_parse_range(const char *v, size_t n, uint64_t len, uint64_t *first, uint64_t *last)
{
    if (n < 6 || strncasecmp(v, "bytes=", 6) != 0 || len == 0) {
        return HTTPCOND_RANGE_IGNORE;
    }
    struct cur c = {v + 6, v + n};
    int specs = 0;
    uint64_t a = 0, b = 0;
    bool suffix = false, open_end = false;
    while (c.p < c.e) {
        skip_ows(&c);
        if (c.p < c.e && *c.p == ',') {
            c.p++;
            continue;
        }
        if (c.p >= c.e) {
            break;
        }
        if (++specs > 1) {
            return HTTPCOND_RANGE_IGNORE; /* several ranges: answered whole */
        }
        if (*c.p == '-') {
            c.p++;
            suffix = true;
            if (!take_u64(&c, &b)) {
                return HTTPCOND_RANGE_IGNORE;
            }
        } else {
            if (!take_u64(&c, &a) || !take_lit(&c, "-")) {
                return HTTPCOND_RANGE_IGNORE;
            }
            open_end = !take_u64(&c, &b);
            if (!open_end && b < a) {
                return HTTPCOND_RANGE_IGNORE; /* invalid range-spec */
            }
        }
        skip_ows(&c);
        if (c.p < c.e && *c.p != ',') {
            return HTTPCOND_RANGE_IGNORE;
        }
    }
    if (specs == 0) {
        return HTTPCOND_RANGE_IGNORE;
    }
    if (suffix) {
        if (b == 0) {
            return HTTPCOND_RANGE_UNSATISFIABLE;
        }
        *first = b >= len ? 0 : len - b;
        *last = len - 1;
        return HTTPCOND_RANGE_OK;
    }
    if (a >= len) {
        return HTTPCOND_RANGE_UNSATISFIABLE;
    }
    *first = a;
    *last = open_end || b >= len ? len - 1 : b;
    return HTTPCOND_RANGE_OK;
}

/* qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ), in
 * thousandths; -1 when malformed. */
static int
parse_qvalue(const char *p, const char *e)
{
    if (p >= e || (*p != '0' && *p != '1')) {
        return -1;
    }
    int whole = *p++ - '0';
    int frac = 0, digits = 0;
    if (p < e && *p == '.') {
        p++;
        while (p < e && is_digit(*p) && digits < 3) {
            frac = frac * 10 + (*p++ - '0');
            digits++;
        }
    }
    if (p != e) {
        return -1;
    }
    while (digits++ < 3) {
        frac *= 10;
    }
    if (whole == 1 && frac != 0) {
        return -1;
    }
    return whole * 1000 + frac;
}

/* One list item: [*b, *e) the value before any ';', *q its q parameter
 * (1000 when absent, -1 when malformed). Advances past the item. */
static bool
next_item(struct cur *c, const char **b, const char **e, int *q)
{
    for (;;) {
        skip_ows(c);
        if (c->p >= c->e) {
            return false;
        }
        if (*c->p != ',') {
            break;
        }
        c->p++;
    }
    *b = c->p;
    while (c->p < c->e && *c->p != ',' && *c->p != ';' && !is_ows(*c->p)) {
        c->p++;
    }
    *e = c->p;
    *q = 1000;
    for (;;) {
        skip_ows(c);
        if (c->p >= c->e || *c->p == ',') {
            break;
        }
        if (*c->p != ';') {
            *q = -1; /* junk after the value */
            while (c->p < c->e && *c->p != ',') {
                c->p++;
            }
            break;
        }
        c->p++;
        skip_ows(c);
        const char *pn = c->p;
        while (c->p < c->e && *c->p != '=' && *c->p != ',' && *c->p != ';' && !is_ows(*c->p)) {
            c->p++;
        }
        const char *pe = c->p;
        if (c->p >= c->e || *c->p != '=') {
            continue; /* a parameter without a value: not ours */
        }
        c->p++;
        const char *vb = c->p;
        if (c->p < c->e && *c->p == '"') {
            c->p++;
            while (c->p < c->e && *c->p != '"') {
                c->p += *c->p == '\\' && c->p + 1 < c->e ? 2 : 1;
            }
            if (c->p < c->e) {
                c->p++;
            }
        } else {
            while (c->p < c->e && *c->p != ',' && *c->p != ';' && !is_ows(*c->p)) {
                c->p++;
            }
        }
        if (pe - pn == 1 && (*pn == 'q' || *pn == 'Q')) {
            *q = parse_qvalue(vb, c->p);
        }
    }
    return true;
}

static bool
span_is(const char *b, const char *e, const char *lit)
{
    size_t n = strlen(lit);
    return (size_t)(e - b) == n && strncasecmp(b, lit, n) == 0;
}

void
httpcond_accept_enc_init(struct httpcond_accept_enc *ae)
{
    ae->br = ae->gzip = ae->identity = ae->star = -1;
}

static void
keep_max(int *slot, int q)
{
    if (q > *slot) {
        *slot = q;
    }
}

void
httpcond_accept_enc_feed(struct httpcond_accept_enc *ae, const char *v, size_t n)
{
    struct cur c = {v, v + n};
    const char *b, *e;
    int q;
    while (next_item(&c, &b, &e, &q)) {
        if (q < 0) {
            continue; /* a malformed weight: the item is ignored */
        }
        if (span_is(b, e, "br")) {
            keep_max(&ae->br, q);
        } else if (span_is(b, e, "gzip") || span_is(b, e, "x-gzip")) {
            keep_max(&ae->gzip, q);
        } else if (span_is(b, e, "identity")) {
            keep_max(&ae->identity, q);
        } else if (span_is(b, e, "*")) {
            keep_max(&ae->star, q);
        }
    }
}

int
httpcond_accept_enc_q(const struct httpcond_accept_enc *ae, int named)
{
    if (named >= 0) {
        return named;
    }
    return ae->star >= 0 ? ae->star : 0;
}

bool
httpcond_accepts_html(const char *v, size_t n)
{
    struct cur c = {v, v + n};
    const char *b, *e;
    int q;
    while (next_item(&c, &b, &e, &q)) {
        if (q > 0 && span_is(b, e, "text/html")) {
            return true;
        }
    }
    return false;
}
