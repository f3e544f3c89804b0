/* Unit test for csrc/conn.c without libpython: a connection over a
 * socketpair, driven by the real loop (loop.c) and parser (http.c), answered
 * by fake handlers through handler.h: DONE, pipelining, PAUSED/proceed,
 * LATER/finished, stop while LATER (the connection waits for the handler
 * to let go), DECLINED along the chain, no handler (404), the keep-alive
 * deadline as a loop timer, and the --metrics-bind counters. Prints "N passed, M failed" and
 * exits non-zero on any failure. */
#include "../../csrc/conn.c"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

#include "check.h"

/* ---- fake handlers ---- */

enum mode { ANSWER, PAUSE_ONCE, LATER_ONCE, DECLINE };

struct fake {
    struct handler h;
    enum mode mode;
    int handled, proceeded, stopped;
    bool stop_keeps; /* stop() answers true: still busy with the request */
    struct handler_ctx *pending; /* a LATER request */
};

static void
answer(struct http_resp *r, const char *body, size_t total)
{
    http_resp_set_status(r, 200, "200 OK", 6);
    http_resp_send_head(r, (int64_t)total);
    http_resp_write(r, body, strlen(body));
}

static enum handler_rc
fake_handle(struct handler *hh, struct handler_ctx *x)
{
    struct fake *f = (struct fake *)hh;
    f->handled++;
    switch (f->mode) {
    case DECLINE:
        return HANDLER_DECLINED;
    case PAUSE_ONCE:
        answer(x->resp, "hello", 10);
        return HANDLER_PAUSED;
    case LATER_ONCE:
        f->pending = x;
        return HANDLER_LATER;
    case ANSWER:
    default:
        answer(x->resp, x->req->path_len == 2 && x->req->path[1] == 'b' ? "bee" : "aaa", 3);
        return http_resp_finish(x->resp) ? HANDLER_DONE : HANDLER_CLOSE;
    }
}

static enum handler_rc
fake_proceed(struct handler *hh, struct handler_ctx *x)
{
    struct fake *f = (struct fake *)hh;
    f->proceeded++;
    http_resp_write(x->resp, "world", 5);
    return http_resp_finish(x->resp) ? HANDLER_DONE : HANDLER_CLOSE;
}

static bool
fake_stop(struct handler *hh, struct handler_ctx *x)
{
    struct fake *f = (struct fake *)hh;
    (void)x;
    f->stopped++;
    return f->stop_keeps;
}

static void
fake_init(struct fake *f, enum mode mode)
{
    memset(f, 0, sizeof(*f));
    f->h.handle = fake_handle;
    f->h.proceed = fake_proceed;
    f->h.stop = fake_stop;
    f->mode = mode;
}

/* ---- the server side ---- */

static struct config cfg;
static struct http_limits limits = {.max_line = 8190, .max_fields = 100, .max_field_size = 8190,
                                    .max_body = 1 << 20, .body_mem_max = 1 << 20};
static int n_done, n_closed;

static void
on_done(struct conn_server *s)
{
    (void)s;
    n_done++;
}

static void
on_closed(struct conn_server *s)
{
    (void)s;
    n_closed++;
}

static struct conn_server
server(struct loop *loop, struct handler *chain)
{
    struct conn_server s = {
        .loop = loop,
        .cfg = &cfg,
        .limits = &limits,
        .chain = chain,
        .request_done = on_done,
        .conn_closed = on_closed,
    };
    return s;
}

/* A connection on one end of a socketpair; returns the client's end. */
static int
connect_pair(struct conn_server *s)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0) {
        perror("socketpair");
        exit(2);
    }
    static struct listener l = {.fd = -1, .is_unix = true};
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    conn_new(s, sv[0], &l, (const struct sockaddr *)&sa, sizeof(sa));
    return sv[1];
}

static void
send_all(int fd, const char *p)
{
    size_t n = strlen(p);
    CHECK(write(fd, p, n) == (ssize_t)n);
}

/* Run the loop for about ms, collecting what the client end receives. */
static size_t
pump(struct loop *loop, int fd, char *out, size_t cap, int ms, bool *eof)
{
    size_t len = 0;
    double end = now_mono() + ms / 1000.0;
    while (now_mono() < end) {
        loop_run_once(loop, 10);
        for (;;) {
            ssize_t n = read(fd, out + len, cap - 1 - len);
            if (n > 0) {
                len += (size_t)n;
                continue;
            }
            if (n == 0 && eof != NULL) {
                *eof = true;
            }
            break;
        }
    }
    out[len] = '\0';
    return len;
}

static size_t
count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = strstr(hay, needle); p != NULL; p = strstr(p + 1, needle)) {
        n++;
    }
    return n;
}

static const char *
body_of(const char *resp)
{
    const char *p = strstr(resp, "\r\n\r\n");
    return p != NULL ? p + 4 : "";
}

static const char GET_A[] = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n";
static const char GET_B[] = "GET /b HTTP/1.1\r\nHost: x\r\n\r\n";

static void
test_done_and_pipelining(struct loop *loop)
{
    struct fake f;
    fake_init(&f, ANSWER);
    struct conn_server s = server(loop, &f.h);
    n_done = n_closed = 0;
    int fd = connect_pair(&s);
    char buf[8192];
    send_all(fd, GET_A);
    pump(loop, fd, buf, sizeof(buf), 50, NULL);
    CHECK(strncmp(buf, "HTTP/1.1 200 OK\r\n", 17) == 0);
    CHECK(strcmp(body_of(buf), "aaa") == 0);
    CHECK(f.handled == 1 && n_done == 1);
    /* Two pipelined requests in one write: two answers, in order. */
    char two[256];
    snprintf(two, sizeof(two), "%s%s", GET_B, GET_A);
    send_all(fd, two);
    pump(loop, fd, buf, sizeof(buf), 50, NULL);
    CHECK(count(buf, "HTTP/1.1 200 OK") == 2);
    const char *bee = strstr(buf, "bee"), *aaa = strstr(buf, "aaa");
    CHECK(bee != NULL && aaa != NULL && bee < aaa);
    CHECK(f.handled == 3 && n_done == 3);
    CHECK(s.n_conns == 1 && s.conns->state == CONN_READING);
    close(fd); /* the client goes: the connection sees EOF and closes */
    for (int i = 0; i < 5; i++) {
        loop_run_once(loop, 10);
    }
    conn_server_free_closed(&s);
    CHECK(s.n_conns == 0 && n_closed == 1);
}

static void
test_paused(struct loop *loop)
{
    struct fake f;
    fake_init(&f, PAUSE_ONCE);
    struct conn_server s = server(loop, &f.h);
    n_done = 0;
    int fd = connect_pair(&s);
    char buf[8192];
    send_all(fd, GET_A);
    pump(loop, fd, buf, sizeof(buf), 50, NULL);
    CHECK(f.handled == 1 && f.proceeded == 1 && n_done == 1);
    CHECK(strcmp(body_of(buf), "helloworld") == 0);
    conn_server_abort(&s);
    conn_server_free_closed(&s);
    CHECK(f.stopped == 0); /* nothing was in progress */
    close(fd);
}

static void
test_later(struct loop *loop)
{
    struct fake f;
    fake_init(&f, LATER_ONCE);
    struct conn_server s = server(loop, &f.h);
    n_done = 0;
    int fd = connect_pair(&s);
    char buf[8192];
    send_all(fd, GET_A);
    pump(loop, fd, buf, sizeof(buf), 30, NULL);
    CHECK(f.handled == 1 && f.pending != NULL && buf[0] == '\0');
    CHECK(s.conns->state == CONN_LATER);
    /* A pipelined request waits while the first one runs elsewhere. */
    send_all(fd, GET_B);
    pump(loop, fd, buf, sizeof(buf), 30, NULL);
    CHECK(f.handled == 1 && buf[0] == '\0');
    /* "The pool thread" answers; the loop is told. */
    struct handler_ctx *x = f.pending;
    f.pending = NULL;
    f.mode = ANSWER;
    answer(x->resp, "aaa", 3);
    http_resp_finish(x->resp);
    x->finished(x, HANDLER_DONE);
    pump(loop, fd, buf, sizeof(buf), 50, NULL);
    CHECK(count(buf, "HTTP/1.1 200 OK") == 2);
    CHECK(f.handled == 2 && n_done == 2);
    conn_server_abort(&s);
    conn_server_free_closed(&s);
    close(fd);
}

static void
test_stop_while_later(struct loop *loop)
{
    struct fake f;
    fake_init(&f, LATER_ONCE);
    f.stop_keeps = true;
    struct conn_server s = server(loop, &f.h);
    int fd = connect_pair(&s);
    char buf[256];
    send_all(fd, GET_A);
    pump(loop, fd, buf, sizeof(buf), 30, NULL);
    CHECK(f.pending != NULL);
    conn_server_abort(&s); /* the worker quits */
    CHECK(f.stopped == 1);
    CHECK(s.n_conns == 0 && s.n_detached == 1);
    conn_server_free_closed(&s); /* not a zombie: the handler still has it */
    bool eof = false;
    pump(loop, fd, buf, sizeof(buf), 20, &eof);
    CHECK(eof); /* the socket is closed already */
    f.pending->finished(f.pending, HANDLER_CLOSE); /* let go: freed now */
    CHECK(s.n_detached == 0);
    close(fd);
}

static void
test_chain(struct loop *loop)
{
    struct fake first, second;
    fake_init(&first, DECLINE);
    fake_init(&second, ANSWER);
    first.h.next = &second.h;
    struct conn_server s = server(loop, &first.h);
    int fd = connect_pair(&s);
    char buf[4096];
    send_all(fd, GET_B);
    pump(loop, fd, buf, sizeof(buf), 50, NULL);
    CHECK(first.handled == 1 && second.handled == 1);
    CHECK(strcmp(body_of(buf), "bee") == 0);
    conn_server_abort(&s);
    conn_server_free_closed(&s);
    close(fd);

    /* Nobody takes it: 404. */
    first.h.next = NULL;
    s = server(loop, &first.h);
    fd = connect_pair(&s);
    send_all(fd, GET_A);
    pump(loop, fd, buf, sizeof(buf), 50, NULL);
    CHECK(strncmp(buf, "HTTP/1.1 404 ", 13) == 0);
    conn_server_abort(&s);
    conn_server_free_closed(&s);
    close(fd);
}

static void
test_keepalive_timer(struct loop *loop)
{
    struct fake f;
    fake_init(&f, ANSWER);
    struct conn_server s = server(loop, &f.h);
    double saved = cfg.keepalive;
    cfg.keepalive = 0.1;
    n_closed = 0;
    int fd = connect_pair(&s);
    char buf[4096];
    send_all(fd, GET_A);
    bool eof = false;
    pump(loop, fd, buf, sizeof(buf), 40, &eof);
    CHECK(strcmp(body_of(buf), "aaa") == 0 && !eof && n_closed == 0);
    CHECK(s.conns != NULL && s.conns->timer.at > 0); /* a deadline is armed */
    pump(loop, fd, buf, sizeof(buf), 250, &eof);
    CHECK(eof && n_closed == 1 && s.n_conns == 0); /* closed by its timer, no tick */
    conn_server_free_closed(&s);
    cfg.keepalive = saved;
    close(fd);
}

/* --metrics-bind's counters, as conn.c keeps them: a response per method
 * and status class, the histogram, every byte, the open and active
 * connections (one LATER request is active until it finishes), and a
 * canned 400 counted like a response. */
static void
test_metrics(struct loop *loop)
{
    struct fake f;
    fake_init(&f, ANSWER);
    struct metrics_counters m;
    memset(&m, 0, sizeof(m));
    struct conn_server s = server(loop, &f.h);
    s.metrics = &m;
    int fd = connect_pair(&s);
    CHECK(metrics_get(&m.conns_accepted) == 1 && m.conns_open == 1 && m.conns_active == 0);
    char buf[8192];
    static const char post[] = "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi";
    char two[512];
    snprintf(two, sizeof(two), "%s%s", GET_A, post);
    send_all(fd, two);
    size_t got = pump(loop, fd, buf, sizeof(buf), 50, NULL);
    CHECK(count(buf, "HTTP/1.1 200 OK") == 2);
    CHECK(metrics_get(&m.requests[METRICS_GET][1]) == 1);
    CHECK(metrics_get(&m.requests[METRICS_POST][1]) == 1);
    CHECK(metrics_get(&m.duration[0]) == 2); /* both under a millisecond */
    CHECK(metrics_get(&m.bytes_in) == strlen(two));
    CHECK(metrics_get(&m.bytes_out) == got);
    CHECK(m.conns_active == 0);

    /* LATER: active until finished() */
    f.mode = LATER_ONCE;
    send_all(fd, GET_B);
    pump(loop, fd, buf, sizeof(buf), 30, NULL);
    CHECK(f.pending != NULL && m.conns_active == 1);
    answer(f.pending->resp, "late", 4);
    http_resp_finish(f.pending->resp);
    f.pending->finished(f.pending, HANDLER_DONE);
    CHECK(m.conns_active == 0 && metrics_get(&m.requests[METRICS_GET][1]) == 2);

    /* A bad request: 4xx, method other (its head never completed). */
    send_all(fd, "GET / HTTP/1.1\r\nBad Header\r\n\r\n");
    pump(loop, fd, buf, sizeof(buf), 30, NULL);
    CHECK(strstr(buf, "HTTP/1.1 400 ") != NULL); /* after the LATER one's "late" */
    CHECK(metrics_get(&m.requests[METRICS_OTHER][3]) == 1);
    uint64_t n = 0;
    for (int b = 0; b < METRICS_N_BUCKETS; b++) {
        n += metrics_get(&m.duration[b]);
    }
    CHECK(n == 4);
    conn_server_abort(&s);
    conn_server_free_closed(&s);
    CHECK(m.conns_open == 0 && m.conns_active == 0);
    close(fd);

    /* The method labels and the status classes at their edges. */
    CHECK(metrics_method_of("PATCH", 5) == METRICS_PATCH);
    CHECK(metrics_method_of("PURGE", 5) == METRICS_OTHER);
    CHECK(metrics_method_of("OPTIONS", 7) == METRICS_OPTIONS);
    CHECK(metrics_method_of("", 0) == METRICS_OTHER);
    memset(&m, 0, sizeof(m));
    metrics_request(&m, "GET", 3, 99, 0.0105);
    metrics_request(&m, "GET", 3, 999, 20.0);
    CHECK(metrics_get(&m.requests[METRICS_GET][0]) == 1);
    CHECK(metrics_get(&m.requests[METRICS_GET][4]) == 1);
    CHECK(metrics_get(&m.duration[4]) == 1);                /* 10 ms < 10.5 ms <= 25 ms */
    CHECK(metrics_get(&m.duration[METRICS_N_BOUNDS]) == 1); /* +Inf */
    CHECK(metrics_get(&m.duration_us) == 10500 + 20000000);
}

int
main(void)
{
    signal(SIGPIPE, SIG_IGN);
    cfg.keepalive = 5;
    cfg.header_timeout = 10;
    cfg.body_timeout = 30;
    cfg.send_timeout = 30;
    struct loop *loop = loop_new();
    test_done_and_pipelining(loop);
    test_paused(loop);
    test_later(loop);
    test_stop_while_later(loop);
    test_chain(loop);
    test_keepalive_timer(loop);
    test_metrics(loop);
    loop_free(loop);
    printf("%d passed, %d failed\n", passed, failed);
    return failed != 0;
}
