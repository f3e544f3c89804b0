/* The request fields a file server reads, as pure functions over byte spans
 * (RFC 9110): HTTP-dates, entity-tag lists (If-None-Match, If-Match,
 * If-Range), a byte Range, Accept-Encoding q-values and whether Accept
 * names text/html. No I/O and no allocation: unit-tested on strings. */
#ifndef WSGIHOST_HTTPCOND_H
#define WSGIHOST_HTTPCOND_H

#include "util.h"

/* An HTTP-date in any of the three forms recipients must accept (RFC 9110
 * 5.6.7: IMF-fixdate, RFC 850, asctime) into seconds since the epoch.
 * Surrounding blanks are allowed; false for anything else. */
bool httpcond_parse_date(const char *s, size_t n, int64_t *out);

/* IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT", 29 bytes) of t into buf,
 * NUL-terminated, without the locale's names. Returns 29. */
#define HTTPCOND_DATE_LEN 29
size_t httpcond_format_date(int64_t t, char buf[HTTPCOND_DATE_LEN + 1]);

/* Does one If-None-Match / If-Match / If-Range field value name etag (a
 * quoted opaque tag, as sent, without W/)? weak: weak comparison (W/ on
 * either side ignored), else strong (a W/ tag never matches). "*" matches.
 * Returns 1 (match), 0 (no match) or -1 (not a valid list: ignore it). */
int httpcond_etag_match(const char *v, size_t n, const char *etag, size_t etag_len, bool weak);

/* True when the value is one entity-tag (not a date): If-Range's two forms. */
bool httpcond_is_etag(const char *v, size_t n);

enum httpcond_range {
    HTTPCOND_RANGE_IGNORE,        /* no usable Range: send the whole representation */
    HTTPCOND_RANGE_OK,            /* one satisfiable range: [*first, *last] */
    HTTPCOND_RANGE_UNSATISFIABLE, /* 416 with Content-Range: bytes * / len */
};

/* A Range field value for a representation of len bytes. Only one
 * bytes range is honoured: a list of several, another unit, bad syntax or
 * len == 0 give IGNORE (a server may always ignore Range, RFC 9110 14.2). */
enum httpcond_range httpcond_parse_range(const char *v, size_t n, uint64_t len, uint64_t *first,
                                         uint64_t *last);

/* Accept-Encoding, as q-values in thousandths; -1 = the coding is not named.
 * Fields may be fed one after the other (a repeated field is one list). */
struct httpcond_accept_enc {
    int br, gzip, identity, star;
};
void httpcond_accept_enc_init(struct httpcond_accept_enc *ae);
void httpcond_accept_enc_feed(struct httpcond_accept_enc *ae, const char *v, size_t n);
/* The q-value a coding gets: its own, else "*"'s, else 0 (RFC 9110 12.5.3). */
int httpcond_accept_enc_q(const struct httpcond_accept_enc *ae, int named);

/* Does this Accept field value name text/html with a non-zero q? */
bool httpcond_accepts_html(const char *v, size_t n);

#endif
