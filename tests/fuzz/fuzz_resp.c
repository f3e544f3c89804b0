/* libFuzzer harness for response framing (csrc/http_resp.c over the output
 * queue of csrc/buf.c).
 *
 * The input is an op script standing for a keep-alive connection whose
 * requests are answered by fake WSGI results, driven the way csrc/wsgi.c and
 * csrc/conn.c drive the response API:
 *   BEGIN flags     a new request (HEAD or GET, HTTP/1.0 or 1.1, keep-alive
 *                   asked or not, allowed by the server or not, a
 *                   "100 Continue" queued first as conn.c does)
 *   STATUS i        http_resp_set_status, codes incl. 1xx/204/304
 *   HEADER k ...    http_resp_add_header: Content-Length valid, invalid,
 *                   duplicate, contradicting; Date, Server, other fields;
 *                   hop-by-hop names (Transfer-Encoding, Connection) are
 *                   refused before the call, as start_response refuses them
 *   WRITE n         http_resp_write of n pattern bytes (the head first)
 *   SENDFILE o n    http_resp_sendfile of a range of a memfd
 *   HEAD h          http_resp_send_head with a length hint (-1, 0, n)
 *   FINISH          http_resp_finish
 *   SIMPLE          http_resp_simple(500), the bridge's error page
 *   ERROR s         http_resp_error, conn.c's canned error: the last response
 *   FLUSH b         outq_flush through a writer taking at most b bytes per
 *                   call (partial writes, EAGAIN)
 * A head that would go out before any STATUS becomes the bridge's 500 page
 * (a body before start_response() is a RuntimeError there). After a
 * response that cannot keep the connection, the script ends.
 *
 * Then the queue is drained into a buffer (writev copies, sendfile preads)
 * and the bytes are parsed again as a client would, checking the framing
 * (__builtin_trap on violation): status line and fields well-formed; at most
 * one Content-Length, never with Transfer-Encoding; chunked only to
 * HTTP/1.1, well-formed, ending in the terminal chunk; no body at all for
 * HEAD, 1xx, 204, 304; with Content-Length exactly that many body bytes,
 * fewer only when the connection then closes; close-delimited bodies only
 * on the last response, which says Connection: close; the body bytes equal
 * what was written, cut at Content-Length; "Connection: close" only on the
 * last response; nothing after the last response; the queue's byte count
 * matches what was drained, and no file descriptor outlives it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz_common.h"
#include "csrc/http_resp.h"

#define MAX_RESP  16
#define FILE_SIZE 4096

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int file_fd = -1;
static uint8_t file_bytes[FILE_SIZE];

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    for (size_t i = 0; i < FILE_SIZE; i++) {
        file_bytes[i] = (uint8_t)(i * 13 + 7);
    }
    file_fd = memfd_create("fuzz_resp", MFD_CLOEXEC);
    if (file_fd < 0 || write(file_fd, file_bytes, FILE_SIZE) != FILE_SIZE) {
        perror("memfd");
        abort();
    }
    return 0;
}

/* ---- the transport: everything written lands in `wire` ---- */

struct sink {
    struct buf wire;
    size_t budget; /* bytes this flush may still write */
};

static ssize_t
sink_writev(void *ctx, const struct iovec *iov, int n)
{
    struct sink *s = ctx;
    if (s->budget == 0) {
        errno = EAGAIN;
        return -1;
    }
    size_t done = 0;
    for (int i = 0; i < n && s->budget > 0; i++) {
        size_t k = iov[i].iov_len < s->budget ? iov[i].iov_len : s->budget;
        buf_append(&s->wire, iov[i].iov_base, k);
        s->budget -= k;
        done += k;
    }
    return (ssize_t)done;
}

static ssize_t
sink_sendfile(void *ctx, int fd, off_t *off, size_t n)
{
    struct sink *s = ctx;
    if (s->budget == 0) {
        errno = EAGAIN;
        return -1;
    }
    size_t k = n < s->budget ? n : s->budget;
    buf_reserve(&s->wire, k);
    ssize_t r = pread(fd, s->wire.data + s->wire.len, k, *off);
    if (r > 0) {
        s->wire.len += (size_t)r;
        s->budget -= (size_t)r;
        *off += r;
    }
    return r;
}

static void
flush(struct outq *q, struct sink *s, size_t budget)
{
    struct outq_writer w = {.writev = sink_writev, .sendfile = sink_sendfile, .ctx = s};
    size_t before = outq_pending(q);
    size_t wire_before = s->wire.len;
    uint64_t written = 0;
    s->budget = budget;
    int rc = outq_flush(q, &w, &written);
    CHECK(rc == 0 || rc == 1);
    CHECK(written == s->wire.len - wire_before);
    CHECK(outq_pending(q) == before - written);
    if (rc == 0) {
        CHECK(outq_pending(q) == 0 && q->head == NULL);
    } else {
        CHECK(outq_pending(q) > 0);
    }
}

/* ---- what the client should see, recorded while the script runs ---- */

struct expect {
    bool is_head;
    int minor;
    bool interim; /* a "100 Continue" precedes the response */
    bool canned;  /* http_resp_error */
    int status;
    struct buf body; /* every body byte handed to the response, untruncated */
    bool keep;       /* http_resp_finish()'s answer: the connection goes on */
};

static const int statuses[16] = {200, 201, 204, 304, 100, 101, 103, 199,
                                 404, 500, 302, 205, 299, 206, 503, 418};

static void
status_line(int st, char *line, size_t n, size_t *len)
{
    int k = snprintf(line, n, "%d %s", st, st == 200 ? "OK" : "Whatever");
    *len = (size_t)k;
}

/* The input, read byte by byte; zeros past the end. */
struct reader {
    const uint8_t *p, *end;
};

static uint8_t
rd(struct reader *r)
{
    return r->p < r->end ? *r->p++ : 0;
}

static bool
is_hop_by_hop(const char *name)
{
    static const char *const hop[] = {"connection",          "keep-alive", "proxy-authenticate",
                                      "proxy-authorization", "te",         "trailers",
                                      "transfer-encoding",   "upgrade"};
    for (size_t i = 0; i < countof(hop); i++) {
        if (strcasecmp(name, hop[i]) == 0) {
            return true;
        }
    }
    return false;
}

/* One HEADER op. */
static void
op_header(struct http_resp *r, struct reader *in)
{
    uint8_t k = rd(in);
    uint8_t v = rd(in);
    char value[64];
    const char *name;
    switch (k % 12) {
    case 0:
        name = "Content-Length";
        snprintf(value, sizeof(value), "%u", v);
        break;
    case 1:
        name = "content-length";
        snprintf(value, sizeof(value), "%u", v * 37u);
        break;
    case 2: {
        static const char *const bad[] = {"",
                                          "-1",
                                          "1 2",
                                          "0x10",
                                          "+5",
                                          "1234567890123456789",
                                          " 5",
                                          "5 ",
                                          "99999999999999999",
                                          "000000000000000010"};
        name = "Content-Length";
        snprintf(value, sizeof(value), "%s", bad[v % countof(bad)]);
        break;
    }
    case 3:
        name = "Date";
        snprintf(value, sizeof(value), "Mon, 01 Jan 2024 00:00:00 GMT");
        break;
    case 4:
        name = "Server";
        snprintf(value, sizeof(value), "app/%u", v);
        break;
    case 5:
        name = "Transfer-Encoding";
        snprintf(value, sizeof(value), "chunked");
        break;
    case 6:
        name = "Connection";
        snprintf(value, sizeof(value), v & 1 ? "close" : "keep-alive");
        break;
    case 7:
        name = "Content-Type";
        snprintf(value, sizeof(value), "text/plain");
        break;
    case 8:
        name = "X-Long";
        memset(value, 'a' + v % 26, sizeof(value) - 1);
        value[v % sizeof(value)] = '\0';
        break;
    case 9:
        name = "Set-Cookie";
        snprintf(value, sizeof(value), "a=%u; Path=/", v);
        break;
    case 10:
        name = "CONTENT-LENGTH";
        snprintf(value, sizeof(value), "%u", v % 4);
        break;
    default:
        name = "X-Empty";
        value[0] = '\0';
        break;
    }
    if (is_hop_by_hop(name)) {
        return; /* start_response raises ValueError; nothing reaches http_resp */
    }
    int rc = http_resp_add_header(r, name, strlen(name), value, strlen(value));
    CHECK(rc == 0 || rc == -1);
}

/* ---- parsing the wire again ---- */

struct cursor {
    const char *p, *end;
};

/* One CRLF-terminated line without bare CR or LF inside. */
static bool
line(struct cursor *c, const char **s, size_t *n)
{
    for (const char *q = c->p; q + 1 < c->end; q++) {
        if (*q == '\r') {
            CHECK(q[1] == '\n');
            *s = c->p;
            *n = (size_t)(q - c->p);
            c->p = q + 2;
            return true;
        }
        CHECK(*q != '\n');
    }
    return false;
}

static void
check_body_bytes(const struct expect *e, const char *got, size_t n)
{
    CHECK(n <= e->body.len);
    CHECK(n == 0 || memcmp(got, e->body.data, n) == 0);
}

/* Parse one response: e says what was asked and written, last whether the
 * connection ends after it. */
static void
parse_response(struct cursor *c, const struct expect *e, bool last)
{
    const char *s;
    size_t n;
    if (e->interim) {
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        CHECK((size_t)(c->end - c->p) >= sizeof(cont) - 1);
        CHECK(memcmp(c->p, cont, sizeof(cont) - 1) == 0);
        c->p += sizeof(cont) - 1;
    }
    CHECK(line(c, &s, &n));
    CHECK(n >= 12 && memcmp(s, "HTTP/1.1 ", 9) == 0 && s[12] == ' ');
    int st = (s[9] - '0') * 100 + (s[10] - '0') * 10 + (s[11] - '0');
    CHECK(st == e->status);
    int n_cl = 0, n_te = 0, n_date = 0, n_server = 0;
    bool conn_close = false, conn_keep = false;
    uint64_t cl = 0;
    for (int guard = 0;; guard++) {
        CHECK(guard < 1000);
        CHECK(line(c, &s, &n));
        if (n == 0) {
            break;
        }
        const char *colon = memchr(s, ':', n);
        CHECK(colon != NULL && colon > s && colon + 1 < s + n + 1);
        size_t nl = (size_t)(colon - s);
        for (size_t i = 0; i < nl; i++) {
            CHECK(ref_tchar((unsigned char)s[i]));
        }
        const char *v = colon + 1;
        size_t vl = n - nl - 1;
        CHECK(vl == 0 || v[0] == ' ');
        if (vl > 0) {
            v++;
            vl--;
        }
        CHECK(memchr(v, '\0', vl) == NULL);
        if (ref_ieq(s, nl, "content-length")) {
            n_cl++;
            CHECK(vl > 0 && vl <= 18);
            cl = 0;
            for (size_t i = 0; i < vl; i++) {
                CHECK(v[i] >= '0' && v[i] <= '9');
                cl = cl * 10 + (uint64_t)(v[i] - '0');
            }
        } else if (ref_ieq(s, nl, "transfer-encoding")) {
            n_te++;
            CHECK(ref_ieq(v, vl, "chunked"));
        } else if (ref_ieq(s, nl, "connection")) {
            if (ref_ieq(v, vl, "close")) {
                conn_close = true;
            } else {
                CHECK(ref_ieq(v, vl, "keep-alive"));
                conn_keep = true;
            }
        } else if (ref_ieq(s, nl, "date")) {
            n_date++;
        } else if (ref_ieq(s, nl, "server")) {
            n_server++;
        }
    }
    CHECK(n_cl <= 1 && n_te <= 1);
    CHECK(!(n_cl && n_te));
    CHECK(!(conn_close && conn_keep));
    CHECK(n_date >= 1 && n_server >= 1); /* added unless the app set them */
    if (e->canned) {
        CHECK(conn_close && n_cl == 1 && last);
    }
    if (conn_close) {
        CHECK(last);
    }
    if (conn_keep) {
        CHECK(e->minor == 0);
    }
    if (n_te) {
        CHECK(e->minor == 1);
    }
    bool no_body = e->is_head || (st >= 100 && st < 200) || st == 204 || st == 304;
    if (no_body) {
        CHECK(n_te == 0);
        return; /* the next response (or the end) follows the head */
    }
    if (e->canned) {
        CHECK((uint64_t)(c->end - c->p) == cl);
        c->p += cl;
        return;
    }
    if (n_te) {
        size_t total = 0;
        for (int guard = 0;; guard++) {
            CHECK(guard < 100000);
            if (!line(c, &s, &n)) {
                /* cut short: only when the connection ends here */
                CHECK(last && !e->keep);
                return;
            }
            CHECK(n > 0 && n <= 16);
            uint64_t sz = 0;
            for (size_t i = 0; i < n; i++) {
                char h = s[i];
                CHECK((h >= '0' && h <= '9') || (h >= 'a' && h <= 'f'));
                sz = sz * 16 + (uint64_t)(h <= '9' ? h - '0' : h - 'a' + 10);
            }
            CHECK(n == 1 || s[0] != '0');
            if (sz == 0) {
                CHECK(line(c, &s, &n) && n == 0); /* no trailers */
                CHECK(total == e->body.len);
                return;
            }
            if ((uint64_t)(c->end - c->p) < sz + 2) {
                CHECK(last && !e->keep);
                return;
            }
            CHECK(total + sz <= e->body.len);
            CHECK(memcmp(c->p, e->body.data + total, sz) == 0);
            c->p += sz;
            total += sz;
            CHECK(c->p[0] == '\r' && c->p[1] == '\n');
            c->p += 2;
        }
    }
    if (n_cl) {
        uint64_t left = (uint64_t)(c->end - c->p);
        if (left < cl) {
            /* Fewer bytes than promised: the connection closes after it. */
            CHECK(last && !e->keep);
            check_body_bytes(e, c->p, (size_t)left);
            c->p = c->end;
            return;
        }
        uint64_t want = e->body.len < cl ? e->body.len : cl;
        if (want < cl) {
            CHECK(!e->keep);
        }
        check_body_bytes(e, c->p, (size_t)cl);
        c->p += cl;
        return;
    }
    /* close-delimited: HTTP/1.0, the last response, says so */
    CHECK(e->minor == 0 && last && conn_close && !e->keep);
    size_t left = (size_t)(c->end - c->p);
    CHECK(left == e->body.len);
    check_body_bytes(e, c->p, left);
    c->p = c->end;
}

/* The app's iteration is over: finish the response as wsgi.c does (its 500
 * page when start_response() was never called). Returns whether the
 * connection goes on. */
static bool
end_response(struct http_resp *r, struct expect *e)
{
    if (!r->head_sent && r->status == 0) {
        buf_reset(&e->body);
        http_resp_simple(r, 500, "Internal Server Error\n");
        buf_append_str(&e->body, "Internal Server Error\n");
    } else {
        http_resp_finish(r);
    }
    e->keep = r->keep_alive;
    e->status = r->status;
    /* the access log's view of the app's headers ({name}o atoms) */
    size_t n = 0;
    const struct hfield *f = http_resp_fields(r, &n);
    CHECK(n == r->n_fields && (n == 0 || f != NULL));
    for (size_t i = 0; i < n; i++) {
        CHECK(f[i].name_len > 0 && memchr(f[i].name, ':', f[i].name_len) == NULL);
        CHECK(memchr(f[i].value, '\r', f[i].value_len) == NULL);
        CHECK(memchr(f[i].value, '\n', f[i].value_len) == NULL);
    }
    return r->keep_alive;
}

/* Before a new response: end the one in progress, if any (false when the
 * connection closes with it), and make sure there is room for another. */
static bool
next_slot(bool *busy, struct http_resp *r, struct expect *exp, size_t n_resp)
{
    if (*busy) {
        *busy = false;
        if (!end_response(r, &exp[n_resp - 1])) {
            return false;
        }
    }
    return n_resp < MAX_RESP;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int fd_before = lowest_free_fd();
    struct reader in = {data, data + size};
    struct outq q;
    outq_init(&q);
    struct sink sink;
    buf_init(&sink.wire);
    struct http_req reqs[MAX_RESP];
    struct expect exp[MAX_RESP];
    memset(exp, 0, sizeof(exp));
    struct http_resp resp;
    memset(&resp, 0, sizeof(resp));
    size_t n_resp = 0;
    bool busy = false;  /* a response is in progress */
    bool ended = false; /* the connection will close */
    uint32_t pattern = 0;

    while (in.p < in.end && !ended) {
        uint8_t op = rd(&in);
        if (!busy && (op & 15) != 0 && (op & 15) != 8 && (op & 15) != 9) {
            op = 0; /* a request must come first */
            in.p--;
        }
        switch (op & 15) {
        case 0: { /* BEGIN */
            /* a response in progress (the previous pipelined request) ends first */
            if (!next_slot(&busy, &resp, exp, n_resp)) {
                ended = true;
                break;
            }
            uint8_t f = rd(&in);
            struct http_req *req = &reqs[n_resp];
            memset(req, 0, sizeof(*req));
            req->http_major = 1;
            req->http_minor = (f & 2) ? 0 : 1;
            req->is_head = f & 1;
            req->method = req->is_head ? "HEAD" : "GET";
            req->method_len = strlen(req->method);
            req->keep_alive = (f & 4) == 0;
            req->content_length = -1;
            req->body.fd = -1;
            struct expect *e = &exp[n_resp++];
            e->is_head = req->is_head;
            e->minor = req->http_minor;
            buf_init(&e->body);
            if ((f & 16) && req->http_minor == 1) {
                static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
                outq_append(&q, cont, sizeof(cont) - 1);
                e->interim = true;
            }
            http_resp_init(&resp, &q, req, (f & 8) == 0);
            busy = true;
            break;
        }
        case 1: { /* STATUS */
            uint8_t i = rd(&in);
            if (resp.head_sent) {
                break; /* start_response after the head re-raises exc_info */
            }
            char l[64];
            size_t ln;
            status_line(statuses[i & 15], l, sizeof(l), &ln);
            http_resp_set_status(&resp, statuses[i & 15], l, ln);
            break;
        }
        case 2: /* HEADER */
            if (resp.head_sent || resp.status == 0) {
                rd(&in);
                rd(&in);
                break;
            }
            op_header(&resp, &in);
            break;
        case 3:   /* WRITE */
        case 4:   /* SENDFILE */
        case 5:   /* HEAD */
        case 6:   /* FINISH */
        case 7: { /* SIMPLE */
            struct expect *e = &exp[n_resp - 1];
            uint8_t a = rd(&in);
            uint8_t b = (op & 15) == 4 ? rd(&in) : 0;
            if (!resp.head_sent && (resp.status == 0 || (op & 15) == 7)) {
                /* no start_response yet (or the app failed): the 500 page */
                buf_reset(&e->body);
                http_resp_simple(&resp, 500, "Internal Server Error\n");
                buf_append_str(&e->body, "Internal Server Error\n");
            } else if ((op & 15) == 3) {
                size_t n = (size_t)a * ((op & 16) ? 61 : 1);
                char chunk[256 * 61];
                for (size_t i = 0; i < n; i++) {
                    chunk[i] = (char)(pattern++ * 7 + 3);
                }
                http_resp_write(&resp, chunk, n);
                buf_append(&e->body, chunk, n);
            } else if ((op & 15) == 4) {
                size_t off = (size_t)a * 16;
                size_t n = (size_t)b * ((op & 16) ? 16 : 1);
                if (off + n > FILE_SIZE) {
                    n = FILE_SIZE - off;
                }
                int fd = fcntl(file_fd, F_DUPFD_CLOEXEC, 0);
                CHECK(fd >= 0);
                /* wsgi.c sends the head with the file's length first */
                if (!resp.head_sent && (op & 32)) {
                    http_resp_send_head(&resp, (int64_t)n);
                }
                http_resp_sendfile(&resp, fd, (off_t)off, n);
                buf_append(&e->body, file_bytes + off, n);
            } else if ((op & 15) == 5) {
                int64_t hint = (op & 48) == 0 ? -1 : (op & 48) == 16 ? 0 : (int64_t)a;
                http_resp_send_head(&resp, hint);
            } else {
                http_resp_finish(&resp);
            }
            if (resp.finished) {
                goto finished;
            }
            break;
        }
        case 8: { /* ERROR: conn.c's canned answer to a bad request */
            uint8_t i = rd(&in);
            static const int errs[8] = {400, 408, 413, 414, 431, 501, 505, 500};
            /* a response in progress (the previous pipelined request) ends first */
            if (!next_slot(&busy, &resp, exp, n_resp)) {
                ended = true;
                break;
            }
            struct expect *e = &exp[n_resp++];
            e->canned = true;
            e->is_head = i & 8;
            e->minor = 1;
            e->status = errs[i & 7];
            buf_init(&e->body);
            http_resp_error(&q, e->status, e->is_head);
            ended = true;
            break;
        }
        case 9: { /* FLUSH */
            uint8_t b = rd(&in);
            flush(&q, &sink, (size_t)b * ((op & 16) ? 97 : 1));
            break;
        }
        default:
            break;
        }
        continue;
    finished:
        exp[n_resp - 1].keep = resp.keep_alive;
        exp[n_resp - 1].status = resp.status;
        busy = false;
        if (!resp.keep_alive) {
            ended = true;
        }
    }
    if (busy) {
        end_response(&resp, &exp[n_resp - 1]); /* end of script */
    }
    flush(&q, &sink, SIZE_MAX);
    CHECK(outq_pending(&q) == 0);

    const char *wire = sink.wire.len ? sink.wire.data : "";
    struct cursor c = {wire, wire + sink.wire.len};
    for (size_t i = 0; i < n_resp; i++) {
        parse_response(&c, &exp[i], i + 1 == n_resp);
    }
    CHECK(c.p == c.end);

    for (size_t i = 0; i < n_resp; i++) {
        buf_free(&exp[i].body);
    }
    http_resp_free(&resp);
    outq_free(&q);
    buf_free(&sink.wire);
    CHECK(lowest_free_fd() == fd_before);
    return 0;
}
