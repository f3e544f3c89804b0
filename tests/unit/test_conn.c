/* Unit test for csrc/conn.c without libpython: a connection over a
 * socketpair, driven by the real loop (loop.c) and parser (http.c), answered
 * by fake handlers through handler.h: DONE, pipelining, PAUSED/proceed,
 * LATER/finished, stop while LATER (the connection waits for the handler
 * to let go), DECLINED along the chain, no handler (404), the
 * keep-alive deadline as a loop timer, pipelined requests held back by
 * a queue over its high-water mark, responses held to the end of the loop
 * turn, and the --metrics-bind counters. Prints "N passed, M failed" and
 * exits non-zero on any failure. */
#include "../../csrc/conn.c"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

#include "check.h"

/* ---- fake handlers ---- */

enum mode { ANSWER, PAUSE_ONCE, LATER_ONCE, DECLINE, PROBE, BIG, HALF };

#define BIG_BODY (300 * 1024) /* two of them are over HTTP_RESP_HIGH_WATER */

/* PROBE: before answering, count how many of the two probe clients can
 * read a response already; then busy_ms of work. */
static int probe_fds[2] = {-1, -1};
static int probe_readable[8]; /* per handle() call of a round */
static int busy_ms;

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
    case PROBE: {
        int n = 0;
        for (int i = 0; i < 2; i++) {
            char c;
            n += recv(probe_fds[i], &c, 1, MSG_PEEK | MSG_DONTWAIT) == 1;
        }
        probe_readable[(f->handled - 1) % 8] = n;
        for (double end = now_mono() + busy_ms / 1000.0; now_mono() < end;) {
        }
        answer(x->resp, "aaa", 3);
        return http_resp_finish(x->resp) ? HANDLER_DONE : HANDLER_CLOSE;
    }
    case BIG: {
        /* A complete response larger than the high-water mark (a file). */
        static char big[HTTP_RESP_HIGH_WATER + 4096];
        memset(big, 'x', sizeof(big));
        http_resp_set_status(x->resp, 200, "200 OK", 6);
        http_resp_send_head(x->resp, (int64_t)sizeof(big));
        http_resp_write(x->resp, big, sizeof(big));
        return http_resp_finish(x->resp) ? HANDLER_DONE : HANDLER_CLOSE;
    }
    case HALF: {
        static char big[BIG_BODY];
        memset(big, 'x', sizeof big);
        http_resp_set_status(x->resp, 200, "200 OK", 6);
        http_resp_send_head(x->resp, (int64_t)sizeof big);
        http_resp_write(x->resp, big, sizeof big);
        return http_resp_finish(x->resp) ? HANDLER_DONE : HANDLER_CLOSE;
    }
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
static bool coalesce; /* the run's conn_server.coalesce_writes */
static struct conn_server *current; /* the test's, for the turn-end hook */

static void
turn_end_current(void *arg)
{
    (void)arg;
    if (current != NULL) {
        conn_server_turn_end(current);
    }
}

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
        .coalesce_writes = coalesce,
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
    current = &s;
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

/* Pipelined requests behind a DONE response that left more than the
 * high-water mark queued: answered once it drains (they once waited for
 * the keep-alive timeout, no event bringing them back). */
static void
test_pipelining_behind_big_response(struct loop *loop)
{
    struct fake f;
    fake_init(&f, BIG);
    struct conn_server s = server(loop, &f.h);
    current = &s;
    n_done = 0;
    int fd = connect_pair(&s);
    /* Room for the whole response in the socket, so one flush empties the
     * queue from above the mark (as loopback TCP does with a file). */
    int big = 8 << 20;
    if (setsockopt(s.conns->fd, SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof(big)) != 0) {
        setsockopt(s.conns->fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
    }
    static char buf[4 * (HTTP_RESP_HIGH_WATER + 8192)];
    char three[256];
    snprintf(three, sizeof(three), "%s%s%s", GET_A, GET_B, GET_A);
    send_all(fd, three);
    size_t len = pump(loop, fd, buf, sizeof(buf), 300, NULL);
    CHECK(f.handled == 3 && n_done == 3);
    CHECK(count(buf, "HTTP/1.1 200 OK") == 3);
    CHECK(len > 3 * (size_t)HTTP_RESP_HIGH_WATER);
    conn_server_abort(&s);
    conn_server_free_closed(&s);
    close(fd);
}

static void
test_paused(struct loop *loop)
{
    struct fake f;
    fake_init(&f, PAUSE_ONCE);
    struct conn_server s = server(loop, &f.h);
    current = &s;
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

/* The handler's LATER request is answered "elsewhere" ("aaa"), and the
 * loop is told. */
static void
answer_pending(struct fake *f)
{
    struct handler_ctx *x = f->pending;
    f->pending = NULL;
    f->mode = ANSWER;
    answer(x->resp, "aaa", 3);
    http_resp_finish(x->resp);
    x->finished(x, HANDLER_DONE);
}

static void
test_later(struct loop *loop)
{
    struct fake f;
    fake_init(&f, LATER_ONCE);
    struct conn_server s = server(loop, &f.h);
    current = &s;
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
    answer_pending(&f); /* "the pool thread" answers; the loop is told */
    pump(loop, fd, buf, sizeof(buf), 50, NULL);
    CHECK(count(buf, "HTTP/1.1 200 OK") == 2);
    CHECK(f.handled == 2 && n_done == 2);
    conn_server_abort(&s);
    conn_server_free_closed(&s);
    close(fd);
}

/* The client sends a request and closes its side while the handler has
 * it: the connection stays (its response may still be read) but counts in
 * n_peer_gone, which accept balancing leaves out, until it closes. */
static void
test_peer_gone_while_later(struct loop *loop)
{
    struct fake f;
    fake_init(&f, LATER_ONCE);
    struct conn_server s = server(loop, &f.h);
    current = &s;
    int fd = connect_pair(&s);
    char buf[256];
    send_all(fd, GET_A);
    shutdown(fd, SHUT_WR);
    pump(loop, fd, buf, sizeof(buf), 30, NULL);
    CHECK(f.pending != NULL);
    CHECK(s.n_conns == 1 && s.n_peer_gone == 1);
    answer_pending(&f);
    bool eof = false;
    pump(loop, fd, buf, sizeof(buf), 50, &eof);
    CHECK(count(buf, "HTTP/1.1 200 OK") == 1 && eof); /* answered, then closed */
    CHECK(s.n_conns == 0 && s.n_peer_gone == 0);
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
    current = &s;
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
    current = &s;
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
    current = &s;
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
    current = &s;
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

/* A client that sent its PROXY header and went away before the connection
 * was taken (its FIN already there when conn_new() reads): closed at once,
 * not watched for nothing until the header timeout. The same path served a
 * TLS handshake that finished inside conn_new() (tests/test_tls.py's
 * test_ciphers hung at teardown for 10 s on a loaded machine). */
static void
test_gone_after_phase(struct loop *loop)
{
    struct fake f;
    fake_init(&f, ANSWER);
    struct conn_server s = server(loop, &f.h);
    current = &s;
    bool saved = cfg.proxy_protocol;
    cfg.proxy_protocol = true;
    n_closed = 0;
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0);
    send_all(sv[1], "PROXY TCP4 192.0.2.1 192.0.2.2 1234 80\r\n");
    CHECK(shutdown(sv[1], SHUT_WR) == 0);
    static struct listener l = {.fd = -1, .is_unix = true};
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    conn_new(&s, sv[0], &l, (const struct sockaddr *)&sa, sizeof(sa));
    CHECK(n_closed == 1 && s.n_conns == 0); /* closed in conn_new() */
    char buf[64];
    bool eof = false;
    pump(loop, sv[1], buf, sizeof(buf), 20, &eof);
    CHECK(eof);
    conn_server_abort(&s); /* nothing left, unless the check above failed */
    conn_server_free_closed(&s);
    cfg.proxy_protocol = saved;
    close(sv[1]);
}

/* A transport that takes every write whole (as loopback TCP often does
 * with a reader at the other end), so one flush drains the queue: counts
 * the response heads it is given, reads from the socketpair. */
struct sink {
    int fd;
    size_t heads;
    size_t bytes;
};

static ssize_t
sink_read(void *t, void *buf, size_t n, uint32_t *want)
{
    struct sink *k = t;
    ssize_t r = read(k->fd, buf, n);
    if (r < 0 && errno == EAGAIN) {
        *want = EPOLLIN;
        return IO_AGAIN;
    }
    return r;
}

static ssize_t
sink_writev(void *t, const struct iovec *iov, int n, uint32_t *want)
{
    struct sink *k = t;
    (void)want;
    size_t total = 0;
    for (int i = 0; i < n; i++) {
        const char *p = iov[i].iov_base;
        for (size_t j = 0; j + 9 <= iov[i].iov_len; j++) {
            k->heads += memcmp(p + j, "HTTP/1.1 ", 9) == 0;
        }
        total += iov[i].iov_len;
    }
    k->bytes += total;
    return (ssize_t)total;
}

static ssize_t
sink_sendfile(void *t, int fd, off_t *off, size_t n, uint32_t *want)
{
    (void)t, (void)fd, (void)off, (void)n, (void)want;
    return -1;
}

static bool
sink_pending(void *t)
{
    (void)t;
    return false;
}

static void
sink_nothing(void *t)
{
    (void)t;
}

static const char *
sink_error(void *t)
{
    (void)t;
    return "";
}

static const struct io_ops sink_ops = {.read = sink_read, .writev = sink_writev,
                                       .sendfile = sink_sendfile, .pending = sink_pending,
                                       .shutdown = sink_nothing, .error = sink_error,
                                       .free = sink_nothing};

/* Three pipelined requests whose first two responses put the queue over
 * the high-water mark: the third waits in the input buffer, and must be
 * answered once a flush drained the queue (it stayed there, unanswered,
 * when the flush emptied the queue in one go: nothing armed would wake the
 * connection). */
static void
test_pipelined_past_high_water(struct loop *loop)
{
    struct fake f;
    fake_init(&f, HALF);
    struct conn_server s = server(loop, &f.h);
    current = &s;
    n_done = 0;
    int fd = connect_pair(&s);
    struct sink k = {.fd = s.conns->fd};
    s.conns->io = &sink_ops;
    s.conns->io_ctx = &k;
    char three[256];
    snprintf(three, sizeof(three), "%s%s%s", GET_A, GET_A, GET_B);
    send_all(fd, three);
    char buf[256];
    pump(loop, fd, buf, sizeof(buf), 100, NULL);
    CHECK(f.handled == 3 && n_done == 3);
    CHECK(k.heads == 3);
    CHECK(s.conns->in.len == 0);
    s.conns->io = NULL; /* the sink is on this stack */
    conn_server_abort(&s);
    conn_server_free_closed(&s);
    close(fd);
}

/* One round: both clients send a request, one loop turn answers both;
 * returns how many responses the second handler call found written. */
static int
coalesce_round(struct loop *loop, struct fake *f, int ca, int cb)
{
    char buf[4096];
    f->handled = 0;
    send_all(ca, GET_A);
    send_all(cb, GET_A);
    loop_run_once(loop, 100);
    CHECK(f->handled == 2); /* both in one turn */
    for (int i = 0; i < 2; i++) {
        ssize_t n = read(probe_fds[i], buf, sizeof(buf) - 1);
        CHECK(n > 0); /* written by the end of the turn */
        buf[n > 0 ? n : 0] = '\0';
        CHECK(strcmp(body_of(buf), "aaa") == 0);
    }
    return probe_readable[1];
}

/* Two clients whose requests arrive in one loop turn: with coalesce_writes
 * the first response is written at the end of the turn, after the second
 * handler ran (the client is woken once for both); without, at once. Once
 * handlers take longer than COALESCE_MAX on average, a held response is
 * written before the next handler runs. */
static void
test_coalesce(struct loop *loop, bool on)
{
    struct fake f;
    fake_init(&f, PROBE);
    struct conn_server s = server(loop, &f.h);
    current = &s;
    s.coalesce_writes = on;
    loop_set_turn_end(loop, conn_server_turn_end, &s);
    probe_fds[0] = connect_pair(&s);
    probe_fds[1] = connect_pair(&s);
    busy_ms = 0;
    CHECK(coalesce_round(loop, &f, probe_fds[0], probe_fds[1]) == (on ? 0 : 1));
    CHECK(s.to_flush == NULL);
    if (on) {
        busy_ms = 3;
        for (int i = 0; i < 4; i++) {
            coalesce_round(loop, &f, probe_fds[0], probe_fds[1]);
        }
        CHECK(s.handler_avg > COALESCE_MAX);
        CHECK(coalesce_round(loop, &f, probe_fds[0], probe_fds[1]) == 1);
        busy_ms = 0;
    }
    conn_server_abort(&s);
    conn_server_free_closed(&s);
    loop_set_turn_end(loop, NULL, NULL);
    close(probe_fds[0]);
    close(probe_fds[1]);
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
    test_coalesce(loop, false);
    test_coalesce(loop, true);
    test_metrics(loop);
    /* Everything again with responses held to the end of the turn, as the
     * worker runs them. */
    for (int pass = 0; pass < 2; pass++) {
        coalesce = pass == 1;
        loop_set_turn_end(loop, turn_end_current, NULL);
        test_done_and_pipelining(loop);
        test_pipelining_behind_big_response(loop);
        test_paused(loop);
        test_later(loop);
        test_peer_gone_while_later(loop);
        test_stop_while_later(loop);
        test_chain(loop);
        test_keepalive_timer(loop);
        test_gone_after_phase(loop);
        test_pipelined_past_high_water(loop);
        current = NULL;
    }
    loop_free(loop);
    printf("%d passed, %d failed\n", passed, failed);
    return failed != 0;
}
