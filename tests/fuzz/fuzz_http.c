/* libFuzzer harness for the request parser (csrc/http.c over llhttp).
 *
 * Drives: http_parser_new / http_feed / http_feed_eof / http_request /
 * http_next / http_error_status exactly as csrc/conn.c does: a connection's
 * input buffer receives the stream in pieces; after each piece the buffer
 * is fed, its consumed bytes dropped, HTTP_EV_HEAD (Expect: 100-continue) is
 * followed by more feeding, HTTP_EV_REQUEST is "answered" and followed by
 * http_next() and the pipelined rest, HTTP_EV_ERROR ends the connection;
 * a request that does not keep the connection alive (Connection: close,
 * HTTP/1.0, Upgrade/CONNECT) ends it too. At the end of the stream comes the
 * EOF (http_feed_eof).
 *
 * Input layout: byte 0 picks the limits (small ones too, so that 414, 431
 * and 413 are reached, and a body buffer of a few bytes so that bodies spill
 * to a temporary file), byte 1 the way the stream is split (whole, byte by
 * byte, or pieces of pseudo-random sizes seeded by bytes 2-3); the rest is
 * the byte stream.
 *
 * Checks (__builtin_trap on violation; ASan/UBSan check every span read):
 *   - consumed <= len, and HTTP_EV_MORE consumed everything (or nothing, to
 *     see the bytes again with more);
 *   - HTTP_EV_HEAD only for a request that expects 100-continue and has a body;
 *   - every field of a request is read in full (method, target, path, query,
 *     host, header names and values, the body in memory or in its temp file);
 *     path, query and host lie inside the target or a header value;
 *   - the request obeys the limits it was parsed under, the server-side
 *     rules (HTTP/1.0 or 1.1, tchar names, no CR/LF/NUL in values, one Host
 *     on 1.1, never Content-Length with chunked) and its body length equals
 *     Content-Length;
 *   - error statuses are the ones the parser documents (400..505);
 *   - http_feed_eof() is HTTP_EV_MORE exactly when the parser is idle;
 *   - no file descriptor (spilled body) outlives the parser.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_common.h"
#include "csrc/http.h"

static char tmpdir[64];

static void
remove_tmpdir(void)
{
    rmdir(tmpdir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    /* Spilled bodies go to an unlinked file in TMPDIR: a private directory,
     * removed at exit, so a leak of one would show as a non-empty dir. */
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/fuzz_http.XXXXXX");
    if (mkdtemp(tmpdir) == NULL) {
        perror("mkdtemp");
        abort();
    }
    setenv("TMPDIR", tmpdir, 1);
    atexit(remove_tmpdir);
    return 0;
}

static volatile unsigned char sink;

static void
touch(const char *p, size_t n)
{
    unsigned char acc = 0;
    for (size_t i = 0; i < n; i++) {
        acc ^= (unsigned char)p[i];
    }
    sink ^= acc;
}

static bool
inside(const char *p, size_t n, const char *base, size_t base_len)
{
    return p >= base && p + n <= base + base_len;
}

/* A span lies inside the target or one of the header values. */
static bool
in_request(const struct http_req *r, const char *p, size_t n)
{
    if (inside(p, n, r->target, r->target_len)) {
        return true;
    }
    for (size_t i = 0; i < r->n_headers; i++) {
        if (inside(p, n, r->headers[i].value, r->headers[i].value_len)) {
            return true;
        }
    }
    return false;
}

/* The request head, valid at HTTP_EV_HEAD and HTTP_EV_REQUEST. */
static void
check_head(const struct http_req *r, const struct http_limits *lim)
{
    CHECK(r->method != NULL && r->method_len == strlen(r->method) && r->method_len > 0);
    CHECK(r->http_major == 1 && (r->http_minor == 0 || r->http_minor == 1));
    CHECK(r->target != NULL && r->target_len > 0);
    touch(r->target, r->target_len);
    if (lim->max_line) {
        /* method SP target SP HTTP/1.1 */
        CHECK(r->method_len + 1 + r->target_len + 1 + 8 <= lim->max_line);
    }
    /* path: inside the target, "/" for an absolute-form target with an
     * empty path, "" for CONNECT. */
    CHECK(r->path != NULL && r->query != NULL);
    touch(r->path, r->path_len);
    touch(r->query, r->query_len);
    CHECK(inside(r->path, r->path_len, r->target, r->target_len) ||
          (r->path_len == 1 && r->path[0] == '/') || r->path_len == 0);
    CHECK(inside(r->query, r->query_len, r->target, r->target_len) || r->query_len == 0);
    CHECK(memchr(r->target, '#', r->target_len) == NULL);
    if (r->host != NULL) {
        touch(r->host, r->host_len);
        CHECK(in_request(r, r->host, r->host_len) || r->host_len == 0);
    } else {
        CHECK(r->http_minor == 0); /* 1.1 without Host is a 400 */
    }
    CHECK(r->n_headers <= lim->max_fields);
    CHECK(r->n_headers == 0 || r->headers != NULL);
    int hosts = 0;
    for (size_t i = 0; i < r->n_headers; i++) {
        const struct hfield *f = &r->headers[i];
        CHECK(f->name_len > 0);
        touch(f->name, f->name_len);
        touch(f->value, f->value_len);
        /* (Host of an absolute-form request: the target's authority, under
         * max_line instead.) */
        if (lim->max_field_size && !inside(f->value, f->value_len, r->target, r->target_len)) {
            CHECK(f->name_len + f->value_len <= lim->max_field_size);
        }
        for (size_t k = 0; k < f->name_len; k++) {
            CHECK(ref_tchar((unsigned char)f->name[k]));
        }
        for (size_t k = 0; k < f->value_len; k++) {
            CHECK(f->value[k] != '\r' && f->value[k] != '\n' && f->value[k] != '\0');
        }
        /* trailing OWS removed (leading OWS llhttp removes itself) */
        CHECK(f->value_len == 0 ||
              (f->value[f->value_len - 1] != ' ' && f->value[f->value_len - 1] != '\t'));
        if (ref_ieq(f->name, f->name_len, "host")) {
            hosts++;
        }
        if (ref_ieq(f->name, f->name_len, "transfer-encoding")) {
            CHECK(r->http_minor == 1);
        }
    }
    CHECK(hosts <= 1);
    CHECK(!(r->chunked && r->content_length >= 0));
    if (lim->max_body && r->content_length >= 0) {
        CHECK((uint64_t)r->content_length <= lim->max_body);
    }
    CHECK(r->is_head == (r->method_len == 4 && memcmp(r->method, "HEAD", 4) == 0));
    if (r->expect_continue) {
        CHECK(r->http_minor == 1 && (r->chunked || r->content_length > 0));
    }
    CHECK(r->meta != NULL);
}

static void
check_body(const struct http_req *r, const struct http_limits *lim)
{
    const struct http_body *b = &r->body;
    if (r->content_length >= 0) {
        CHECK(b->len == (uint64_t)r->content_length);
    } else if (!r->chunked) {
        CHECK(b->len == 0); /* a request without framing has no body */
    }
    if (lim->max_body) {
        CHECK(b->len <= lim->max_body);
    }
    if (b->fd >= 0) {
        /* Spilled: the file holds exactly the body. */
        char tmp[4096];
        uint64_t off = 0;
        for (;;) {
            ssize_t n = pread(b->fd, tmp, sizeof(tmp), (off_t)off);
            CHECK(n >= 0);
            if (n == 0) {
                break;
            }
            touch(tmp, (size_t)n);
            off += (uint64_t)n;
        }
        CHECK(off == b->len);
        CHECK(b->mem.len == 0);
    } else {
        CHECK(b->len <= lim->body_mem_max);
        CHECK(b->mem.len == b->len);
        if (b->len) {
            touch(b->mem.data, b->mem.len);
        }
    }
}

static void
check_error(struct http_parser *p)
{
    int st = http_error_status(p);
    CHECK(st == 400 || st == 413 || st == 414 || st == 431 || st == 500 || st == 501 || st == 505);
    const char *why = http_error_reason(p);
    CHECK(why != NULL);
    touch(why, strlen(why));
    (void)http_error_is_head(p);
}

/* xorshift32: the split pattern, reproducible from the input. */
static uint32_t
next_rand(uint32_t *s)
{
    uint32_t x = *s;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *s = x;
    return x;
}

static size_t
next_piece(uint8_t mode, uint32_t *rng, size_t left)
{
    size_t n;
    switch (mode & 3) {
    case 0:
        n = left; /* all at once, as a fast client's request arrives */
        break;
    case 1:
        n = 1; /* byte by byte: every span split at every offset */
        break;
    case 2:
        n = 1 + next_rand(rng) % 8;
        break;
    default:
        n = 1 + next_rand(rng) % 200;
        break;
    }
    return n < left ? n : left;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 4) {
        return 0;
    }
    static const size_t lines[4] = {8190, 64, 40, 0};
    static const size_t fields[4] = {100, 4, 1, 32768};
    static const size_t field_sizes[4] = {8190, 32, 8, 1024 * 1024};
    static const uint64_t bodies[4] = {(uint64_t)1 << 30, 16, 0, 3};
    static const size_t mems[4] = {1024 * 1024, 0, 8, 64};
    int fd_before = lowest_free_fd();
    uint8_t sel = data[0];
    struct http_limits lim = {
        .max_line = lines[sel & 3],
        .max_fields = fields[(sel >> 2) & 3],
        .max_field_size = field_sizes[(sel >> 4) & 3],
        .max_body = bodies[(sel >> 6) & 3],
        .body_mem_max = mems[(data[1] >> 2) & 3],
    };
    uint8_t mode = data[1];
    uint32_t rng = ((uint32_t)data[2] << 8 | data[3]) + 1;
    const char *stream = (const char *)data + 4;
    size_t stream_len = size - 4;

    struct http_conn_meta meta = {.remote_addr = "127.0.0.1",
                                  .remote_port = 1234,
                                  .server_name = "127.0.0.1",
                                  .server_port = "8000",
                                  .url_scheme = "http"};
    struct http_parser *p = http_parser_new(&lim, &meta);
    struct buf in;
    buf_init(&in);
    size_t pos = 0;
    bool closed = false; /* error answered, or a response without keep-alive */
    size_t requests = 0;

    while (pos < stream_len && !closed) {
        /* read(): one piece joins what is still buffered */
        size_t n = next_piece(mode, &rng, stream_len - pos);
        buf_append(&in, stream + pos, n);
        pos += n;
        /* parse_input(): as many events as the buffer gives. Each round
         * consumes bytes or ends a request, so 2 * len + 8 rounds bound it. */
        size_t rounds = 0;
        while (!closed && in.len > 0) {
            CHECK(++rounds <= 2 * stream_len + 8);
            size_t used = 0;
            size_t len = in.len;
            enum http_event ev = http_feed(p, in.data, len, &used);
            CHECK(used <= len);
            buf_consume(&in, used);
            if (ev == HTTP_EV_MORE) {
                /* Everything, or nothing: bytes the parser cannot judge
                 * yet (a method that may still prove a token or garbage)
                 * are fed again once more have arrived. */
                CHECK(used == len || used == 0);
                break;
            }
            if (ev == HTTP_EV_HEAD) {
                struct http_req *r = http_request(p);
                check_head(r, &lim);
                CHECK(r->expect_continue);
                CHECK(http_in_body(p));
                CHECK(!http_idle(p));
                continue; /* conn.c queues "100 Continue" and feeds on */
            }
            if (ev == HTTP_EV_REQUEST) {
                struct http_req *r = http_request(p);
                check_head(r, &lim);
                check_body(r, &lim);
                CHECK(!http_in_body(p));
                bool keep = r->keep_alive && !http_upgraded(p);
                if (r->http_minor == 0 && r->n_headers == 0) {
                    CHECK(!r->keep_alive); /* 1.0 without Connection: keep-alive */
                }
                requests++;
                http_next(p);
                CHECK(http_idle(p));
                if (!keep) {
                    closed = true; /* the response says Connection: close */
                }
                continue;
            }
            CHECK(ev == HTTP_EV_ERROR);
            check_error(p);
            /* Sticky: the connection is answered and closed. */
            size_t again = 1;
            CHECK(http_feed(p, "x", 1, &again) == HTTP_EV_ERROR && again == 0);
            closed = true;
        }
        if (!closed && !http_idle(p)) {
            /* conn_check_timeout() looks at these between reads */
            (void)http_in_body(p);
            CHECK(http_request(p)->start_mono > 0);
        }
    }
    if (!closed) {
        /* The client closed its side. */
        bool idle = http_idle(p);
        enum http_event ev = http_feed_eof(p);
        if (idle) {
            CHECK(ev == HTTP_EV_MORE);
        } else {
            CHECK(ev == HTTP_EV_ERROR && http_error_status(p) == 400);
            check_error(p);
        }
    }
    (void)requests;
    buf_free(&in);
    http_parser_free(p);
    CHECK(lowest_free_fd() == fd_before);
    return 0;
}
