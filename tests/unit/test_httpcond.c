/* Unit test for csrc/httpcond.c (dates, entity-tag lists, byte ranges,
 * Accept-Encoding, Accept) and csrc/mime.c (the type table). Prints
 * "N passed, M failed" and exits non-zero on any failure. */
#include "../../csrc/httpcond.c"
#include "../../csrc/mime.c"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"

#define S(lit) lit, sizeof(lit) - 1

/* Stubs for log.c: the mime table logs a missing file. */
void
log_msg(int level, const char *fmt, ...)
{
    (void)level;
    (void)fmt;
}

static void
test_dates(void)
{
    int64_t t = 0;
    /* RFC 9110 5.6.7's example, in its three forms. */
    CHECK(httpcond_parse_date(S("Sun, 06 Nov 1994 08:49:37 GMT"), &t) && t == 784111777);
    CHECK(httpcond_parse_date(S("Sunday, 06-Nov-94 08:49:37 GMT"), &t) && t == 784111777);
    CHECK(httpcond_parse_date(S("Sun Nov  6 08:49:37 1994"), &t) && t == 784111777);
    CHECK(httpcond_parse_date(S("  Sun, 06 Nov 1994 08:49:37 GMT "), &t) && t == 784111777);
    CHECK(httpcond_parse_date(S("Thu, 01 Jan 1970 00:00:00 GMT"), &t) && t == 0);
    CHECK(httpcond_parse_date(S("Tue, 29 Feb 2028 23:59:59 GMT"), &t) && t == 1835481599);
    CHECK(!httpcond_parse_date(S("Tue, 29 Feb 2027 23:59:59 GMT"), &t)); /* no such day */
    CHECK(!httpcond_parse_date(S("Sun, 06 Nov 1994 08:49:37 UTC"), &t));
    CHECK(!httpcond_parse_date(S("Sun, 6 Nov 1994 08:49:37 GMT"), &t));
    CHECK(!httpcond_parse_date(S("Sun, 06 Nov 1994 24:00:00 GMT"), &t));
    CHECK(!httpcond_parse_date(S("Sun, 06 Nov 1994 08:49:37 GMT, x"), &t));
    CHECK(!httpcond_parse_date(S("1994-11-06T08:49:37Z"), &t));
    CHECK(!httpcond_parse_date(S(""), &t));
    CHECK(!httpcond_parse_date(S("Sun, 06 Nov 1994 08:49"), &t));

    char buf[HTTPCOND_DATE_LEN + 1];
    CHECK(httpcond_format_date(784111777, buf) == 29 &&
          strcmp(buf, "Sun, 06 Nov 1994 08:49:37 GMT") == 0);
    CHECK(httpcond_format_date(0, buf) == 29 && strcmp(buf, "Thu, 01 Jan 1970 00:00:00 GMT") == 0);
    /* Round trips over four centuries of days. */
    int bad = 0;
    for (int64_t s = -2208988800LL; s < 4102444800LL; s += 86400 * 37 + 3607) {
        httpcond_format_date(s, buf);
        if (!httpcond_parse_date(buf, 29, &t) || t != s) {
            bad++;
        }
    }
    CHECK(bad == 0);
}

static void
test_etags(void)
{
    const char tag[] = "\"1a-2b\"";
    size_t n = sizeof(tag) - 1;
    CHECK(httpcond_etag_match(S("\"1a-2b\""), tag, n, false) == 1);
    CHECK(httpcond_etag_match(S("\"x\", \"1a-2b\""), tag, n, false) == 1);
    CHECK(httpcond_etag_match(S("\"x\",\"y\""), tag, n, false) == 0);
    CHECK(httpcond_etag_match(S("W/\"1a-2b\""), tag, n, true) == 1);  /* weak comparison */
    CHECK(httpcond_etag_match(S("W/\"1a-2b\""), tag, n, false) == 0); /* strong: never W/ */
    CHECK(httpcond_etag_match(S("*"), tag, n, false) == 1);
    CHECK(httpcond_etag_match(S(" * "), tag, n, true) == 1);
    CHECK(httpcond_etag_match(S("1a-2b"), tag, n, true) == -1); /* unquoted */
    CHECK(httpcond_etag_match(S("\"1a-2b"), tag, n, true) == -1);
    CHECK(httpcond_etag_match(S("\"a\" \"b\""), tag, n, true) == -1);
    CHECK(httpcond_etag_match(S(""), tag, n, true) == -1);
    CHECK(httpcond_etag_match(S(" , ,\"1a-2b\" ,"), tag, n, false) == 1);
    CHECK(httpcond_etag_match(S("\"1a-2b\"x"), tag, n, false) == -1);
    CHECK(httpcond_is_etag(S("\"abc\"")));
    CHECK(httpcond_is_etag(S("W/\"abc\"")));
    CHECK(!httpcond_is_etag(S("Sun, 06 Nov 1994 08:49:37 GMT")));
    CHECK(!httpcond_is_etag(S("\"a\", \"b\"")));
}

static void
test_ranges(void)
{
    uint64_t a = 99, b = 99;
    CHECK(httpcond_parse_range(S("bytes=0-9"), 100, &a, &b) == HTTPCOND_RANGE_OK && a == 0 &&
          b == 9);
    CHECK(httpcond_parse_range(S("bytes=90-"), 100, &a, &b) == HTTPCOND_RANGE_OK && a == 90 &&
          b == 99);
    CHECK(httpcond_parse_range(S("bytes=90-1000"), 100, &a, &b) == HTTPCOND_RANGE_OK && a == 90 &&
          b == 99);
    CHECK(httpcond_parse_range(S("bytes=-10"), 100, &a, &b) == HTTPCOND_RANGE_OK && a == 90 &&
          b == 99);
    CHECK(httpcond_parse_range(S("bytes=-1000"), 100, &a, &b) == HTTPCOND_RANGE_OK && a == 0 &&
          b == 99);
    CHECK(httpcond_parse_range(S("Bytes=1-1"), 100, &a, &b) == HTTPCOND_RANGE_OK && a == 1 &&
          b == 1);
    CHECK(httpcond_parse_range(S("bytes= 1-2 "), 100, &a, &b) == HTTPCOND_RANGE_OK);
    CHECK(httpcond_parse_range(S("bytes=100-"), 100, &a, &b) == HTTPCOND_RANGE_UNSATISFIABLE);
    CHECK(httpcond_parse_range(S("bytes=-0"), 100, &a, &b) == HTTPCOND_RANGE_UNSATISFIABLE);
    CHECK(httpcond_parse_range(S("bytes=99999999999999999999999-"), 100, &a, &b) ==
          HTTPCOND_RANGE_UNSATISFIABLE);
    CHECK(httpcond_parse_range(S("bytes=0-99999999999999999999999"), 100, &a, &b) ==
              HTTPCOND_RANGE_OK &&
          b == 99);
    CHECK(httpcond_parse_range(S("bytes=5-2"), 100, &a, &b) == HTTPCOND_RANGE_IGNORE);
    CHECK(httpcond_parse_range(S("bytes=0-1,5-6"), 100, &a, &b) == HTTPCOND_RANGE_IGNORE);
    CHECK(httpcond_parse_range(S("bytes=0-1,"), 100, &a, &b) == HTTPCOND_RANGE_OK);
    CHECK(httpcond_parse_range(S("items=0-1"), 100, &a, &b) == HTTPCOND_RANGE_IGNORE);
    CHECK(httpcond_parse_range(S("bytes="), 100, &a, &b) == HTTPCOND_RANGE_IGNORE);
    CHECK(httpcond_parse_range(S("bytes=-"), 100, &a, &b) == HTTPCOND_RANGE_IGNORE);
    CHECK(httpcond_parse_range(S("bytes=a-b"), 100, &a, &b) == HTTPCOND_RANGE_IGNORE);
    CHECK(httpcond_parse_range(S("bytes=1-2x"), 100, &a, &b) == HTTPCOND_RANGE_IGNORE);
    CHECK(httpcond_parse_range(S("bytes=0-0"), 0, &a, &b) == HTTPCOND_RANGE_IGNORE);
}

static void
test_accept(void)
{
    struct httpcond_accept_enc ae;
    httpcond_accept_enc_init(&ae);
    httpcond_accept_enc_feed(&ae, S("gzip, deflate, br;q=0.9"));
    CHECK(ae.gzip == 1000 && ae.br == 900 && ae.identity == -1 && ae.star == -1);
    CHECK(httpcond_accept_enc_q(&ae, ae.identity) == 0);
    httpcond_accept_enc_init(&ae);
    httpcond_accept_enc_feed(&ae, S("br;q=0, *;q=0.5"));
    CHECK(ae.br == 0 && httpcond_accept_enc_q(&ae, ae.gzip) == 500);
    httpcond_accept_enc_init(&ae);
    httpcond_accept_enc_feed(&ae, S("GZIP ; Q=0.25"));
    httpcond_accept_enc_feed(&ae, S("br;q=1.5, identity;q=1.000"));
    CHECK(ae.gzip == 250 && ae.br == -1 && ae.identity == 1000);
    httpcond_accept_enc_init(&ae);
    httpcond_accept_enc_feed(&ae, S("x-gzip;q=0.001;foo=bar, br;level=3"));
    CHECK(ae.gzip == 1 && ae.br == 1000);
    httpcond_accept_enc_init(&ae);
    httpcond_accept_enc_feed(&ae, S(""));
    CHECK(httpcond_accept_enc_q(&ae, ae.br) == 0);

    CHECK(httpcond_accepts_html(S("text/html,application/xhtml+xml,*/*;q=0.8")));
    CHECK(httpcond_accepts_html(S("application/json, TEXT/HTML;level=1;q=0.1")));
    CHECK(!httpcond_accepts_html(S("*/*")));
    CHECK(!httpcond_accepts_html(S("application/json, text/plain, */*")));
    CHECK(!httpcond_accepts_html(S("text/html;q=0")));
    CHECK(!httpcond_accepts_html(S("text/htmlx")));
}

static void
test_mime(void)
{
    struct mime_table *t = mime_table_new(NULL);
    const struct mime_type *m = mime_lookup(t, S("app.JS"));
    CHECK(strcmp(m->value, "text/javascript; charset=utf-8") == 0 && m->compressible);
    CHECK(strcmp(mime_lookup(t, S("a/b.c/logo.png"))->value, "image/png") == 0);
    CHECK(!mime_lookup(t, S("logo.png"))->compressible);
    CHECK(strcmp(mime_lookup(t, S("x.json"))->value, "application/json; charset=utf-8") == 0);
    CHECK(strcmp(mime_lookup(t, S("x.svg"))->value, "image/svg+xml") == 0);
    CHECK(mime_lookup(t, S("x.svg"))->compressible);
    CHECK(strcmp(mime_lookup(t, S("x.wasm"))->value, "application/wasm") == 0);
    CHECK(strcmp(mime_lookup(t, S("README"))->value, "application/octet-stream") == 0);
    CHECK(strcmp(mime_lookup(t, S("a.d/README"))->value, "application/octet-stream") == 0);
    CHECK(strcmp(mime_lookup(t, S("x."))->value, "application/octet-stream") == 0);
    CHECK(strcmp(mime_lookup(t, S("x.nosuchext"))->value, "application/octet-stream") == 0);
    size_t from_file = 1;
    CHECK(mime_table_size(t, &from_file) == countof(builtin) && from_file == 0);
    mime_table_free(t);

    /* A file: its first mapping wins, the built-in table fills the gaps. */
    char path[] = "/tmp/wsgihost-mime-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    const char text[] = "# comment\n"
                        "application/javascript js\n"
                        "text/x-first dup\n"
                        "text/x-second dup other # trailing comment\n"
                        "bad-type-no-slash zzz\n"
                        "\n"
                        "image/x-thing  thing\tthing2\n";
    CHECK(write(fd, text, sizeof(text) - 1) == (ssize_t)(sizeof(text) - 1));
    close(fd);
    t = mime_table_new(path);
    unlink(path);
    CHECK(strcmp(mime_lookup(t, S("a.js"))->value, "application/javascript; charset=utf-8") == 0);
    CHECK(strcmp(mime_lookup(t, S("a.dup"))->value, "text/x-first; charset=utf-8") == 0);
    CHECK(strcmp(mime_lookup(t, S("a.other"))->value, "text/x-second; charset=utf-8") == 0);
    CHECK(strcmp(mime_lookup(t, S("a.zzz"))->value, "application/octet-stream") == 0);
    CHECK(strcmp(mime_lookup(t, S("a.thing2"))->value, "image/x-thing") == 0);
    CHECK(strcmp(mime_lookup(t, S("a.mjs"))->value, "text/javascript; charset=utf-8") == 0);
    mime_table_size(t, &from_file);
    CHECK(from_file == 5);
    mime_table_free(t);
}

int
main(void)
{
    test_dates();
    test_etags();
    test_ranges();
    test_accept();
    test_mime();
    printf("%d passed, %d failed\n", passed, failed);
    return failed != 0;
}
