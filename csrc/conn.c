/* A connection's life. The event loop calls on_event(); everything else
 * follows from the state of the input buffer, the parser, the output queue
 * and the handler with a response in progress:
 *   read -> http_feed -> (100 Continue) -> handler->handle -> outq -> flush
 * A response the socket cannot take yet stays queued; a handler that
 * produced more than the high-water mark is PAUSED until the queue drains
 * (then proceed()), so a slow reader costs memory bounded by the mark, never
 * the process. A handler that answered LATER runs elsewhere: until it calls
 * finished() the connection leaves the request, the response and the queue
 * alone.
 *
 * Before the first request a connection may have two more phases: a PROXY
 * protocol header to read (--proxy-protocol) and a TLS handshake. Reads and
 * writes go through c->io, a table of transport functions, when the socket
 * is not plain (TLS): NULL means the socket is called directly, the fast
 * path. The transport may want the other direction to progress (a TLS read
 * that must write), so each side remembers the event it waits for, and
 * bytes already decrypted inside the transport are read without waiting for
 * epoll, which cannot see them. */
#include "conn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include "http_resp.h"
#include "log.h"
#include "proxy.h"
#include "statsd.h"
#include "tls.h"

#define READ_CHUNK      16384
#define READ_PAUSE_AT   (64 * 1024) /* unparsed input kept while busy */
#define LINGER_SECONDS  2.0
#define DRAIN_ROUNDS    16 /* reads of transport-buffered input per event */
/* A response held for the end of the loop turn (coalesce_writes) waits at
 * most about this long: before the next request is handed to its handler,
 * the held ones are written if waiting for that handler too (its moving
 * average) would make them older. So a slow app holds nothing back. */
#define COALESCE_MAX    0.001

/* Where a connection is in its life; in this order (comparisons use it).
 * The facts beside it (peer_eof, write_blocked, ...) stay booleans. */
enum conn_state {
    CONN_PROXY,     /* waiting for the PROXY protocol header */
    CONN_HANDSHAKE, /* TLS handshake */
    CONN_READING,   /* HTTP: reading and parsing requests, no response in progress */
    CONN_PAUSED,    /* c->handler's response waits for the queue to drain (proceed()) */
    CONN_LATER,     /* c->handler runs it elsewhere: hands off until hx.finished() */
    CONN_FLUSHING,  /* no more requests: linger once the queue is empty */
    CONN_LINGERING, /* write side shut, discarding input until EOF or linger_until */
    CONN_CLOSED,    /* socket closed; freed at the end of the loop turn */
    CONN_DETACHED,  /* closed while its handler still had it: freed by hx.finished() */
};

struct conn {
    struct loop_watch watch;
    struct loop_timer timer; /* the earliest deadline that may apply (see deadline()) */
    struct conn_server *srv;
    struct conn *prev, *next;
    struct conn *flush_next; /* in srv->to_flush */
    bool flush_queued;
    int fd;
    enum conn_state state;
    bool peer_eof;
    bool write_blocked;     /* last flush hit EAGAIN */
    bool input_held;        /* parse_input() left requests buffered: output over high water */
    bool fwd_trusted;       /* the peer's X-Forwarded-* are believed */
    bool proxy_partial;     /* a PROXY header began: wait for more (edge-triggered) */
    bool transport_up;      /* the TLS handshake is done: close_notify on the way out */
    const struct io_ops *io; /* NULL: plain socket */
    void *io_ctx;
    uint32_t read_want;     /* event a read that said IO_AGAIN waits for (0 = EPOLLIN) */
    uint32_t write_want;    /* the same for writes (0 = EPOLLOUT) */
    struct http_conn_meta meta;
    struct http_conn_meta req_meta; /* meta with the current request's X-Forwarded-* applied */
    struct http_parser *parser;
    struct buf in;
    struct outq out;
    struct http_resp resp;
    struct handler_ctx hx;
    struct handler *handler; /* the one with a response in progress (PAUSED or LATER) */
    double accepted_at;
    double last_read;
    double last_write;
    double linger_until;
    uint64_t requests;
};

static inline bool
is_closed(const struct conn *c)
{
    return c->state >= CONN_CLOSED;
}

static void process(struct conn *c);
static void conn_free(struct conn *c);
static void arm_timer(struct conn *c);

static ssize_t
sock_writev(void *ctx, const struct iovec *iov, int n)
{
    struct conn *c = ctx;
    ssize_t r;
    do {
        r = writev(c->fd, iov, n);
    } while (r < 0 && errno == EINTR);
    return r;
}

/* A head whose file follows: MSG_MORE holds it for the sendfile() that
 * comes next, one packet train instead of a small packet first (nginx's
 * tcp_nopush does it with TCP_CORK, two more system calls). */
static ssize_t
sock_writev_more(void *ctx, const struct iovec *iov, int n)
{
    struct conn *c = ctx;
    struct msghdr mh = {.msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)n};
    ssize_t r;
    do {
        r = sendmsg(c->fd, &mh, MSG_MORE);
    } while (r < 0 && errno == EINTR);
    return r;
}

static ssize_t
sock_sendfile(void *ctx, int fd, off_t *off, size_t n)
{
    struct conn *c = ctx;
    ssize_t r;
    do {
        r = sendfile(c->fd, fd, off, n);
    } while (r < 0 && errno == EINTR);
    return r;
}

/* The transport's writes, as the output queue wants them: -1 with EAGAIN
 * when they would block, and the event to wait for remembered. */
static ssize_t
io_writev(void *ctx, const struct iovec *iov, int n)
{
    struct conn *c = ctx;
    uint32_t want = EPOLLOUT;
    ssize_t r = c->io->writev(c->io_ctx, iov, n, &want);
    c->write_want = want;
    if (r == IO_AGAIN) {
        errno = EAGAIN;
        return -1;
    }
    return r;
}

static ssize_t
io_sendfile(void *ctx, int fd, off_t *off, size_t n)
{
    struct conn *c = ctx;
    uint32_t want = EPOLLOUT;
    ssize_t r = c->io->sendfile(c->io_ctx, fd, off, n, &want);
    c->write_want = want;
    if (r == IO_AGAIN) {
        errno = EAGAIN;
        return -1;
    }
    return r;
}

/* A paused response that may go on now: the queue has drained below the
 * low-water mark and the handler is not running it elsewhere. */
static bool
resumable(const struct conn *c)
{
    return c->state == CONN_PAUSED && outq_pending(&c->out) < HTTP_RESP_LOW_WATER;
}

static void
set_events(struct conn *c)
{
    if (is_closed(c)) {
        return;
    }
    uint32_t ev = 0;
    if (c->state == CONN_LINGERING) {
        ev = EPOLLIN;
    } else if (c->state == CONN_PROXY) {
        /* The start of the header stays in the socket (it is only peeked
         * at): level-triggered, epoll would report it again and again. */
        ev = c->proxy_partial ? EPOLLIN | EPOLLET : EPOLLIN;
    } else if (c->state == CONN_HANDSHAKE) {
        ev = c->read_want ? c->read_want : EPOLLIN;
    } else {
        if (!c->peer_eof && c->in.len < READ_PAUSE_AT) {
            ev |= c->read_want ? c->read_want : EPOLLIN;
        }
        if (c->state == CONN_LATER) {
            /* The handler owns the queue elsewhere: nothing to write from
             * here until it has finished. */
        } else if (c->write_blocked && outq_pending(&c->out) > 0) {
            ev |= c->write_want ? c->write_want : EPOLLOUT;
        } else if (outq_pending(&c->out) > 0 || resumable(c) ||
                   (c->input_held && c->state == CONN_READING)) {
            /* process_once() stopped after its bounded rounds with output
             * not flushed yet, the iteration able to go on or pipelined
             * requests still buffered: the socket is writable, so EPOLLOUT
             * brings the connection back on the next loop turn, after the
             * other connections had theirs. */
            ev |= EPOLLOUT;
        }
    }
    loop_modify(c->srv->loop, &c->watch, ev);
    arm_timer(c);
}

static void
close_now(struct conn *c)
{
    if (is_closed(c)) {
        return;
    }
    bool detached = false;
    struct conn_server *s = c->srv;
    if (c->state == CONN_PAUSED || c->state == CONN_LATER) {
        /* A handler that still runs with the request (elsewhere, or
         * closing it there) frees the connection when it lets go. */
        struct handler *h = c->handler;
        c->handler = NULL;
        detached = h->stop(h, &c->hx);
        if (s->metrics != NULL) {
            metrics_gauge_add(&s->metrics->conns_active, -1); /* no request_done() */
        }
    }
    loop_unwatch(s->loop, &c->watch);
    loop_timer_cancel(s->loop, &c->timer);
    if (c->io != NULL && c->transport_up) {
        c->io->shutdown(c->io_ctx); /* close_notify, when the socket takes it */
    }
    close(c->fd);
    c->fd = -1;
    c->state = detached ? CONN_DETACHED : CONN_CLOSED;
    if (c->prev != NULL) {
        c->prev->next = c->next;
    } else {
        s->conns = c->next;
    }
    if (c->next != NULL) {
        c->next->prev = c->prev;
    }
    s->n_conns--;
    if (c->peer_eof) {
        s->n_peer_gone--;
    }
    if (s->metrics != NULL) {
        atomic_store_explicit(&s->metrics->conns_open, (int64_t)s->n_conns, memory_order_relaxed);
    }
    /* Freed at the end of the loop iteration: events for it may still be
     * queued in this epoll batch. A connection its handler still has is
     * freed by on_finished() instead. */
    c->prev = NULL;
    c->next = NULL;
    if (!detached) {
        c->next = s->zombies;
        s->zombies = c;
    } else {
        s->n_detached++;
    }
    s->conn_closed(s);
}

/* Half-close and discard what the client still sends, so that a response
 * sent before its request was fully read (413, 400) reaches the client
 * instead of being destroyed by a RST for unread data. */
static void
start_linger(struct conn *c)
{
    if (c->peer_eof) {
        close_now(c);
        return;
    }
    if (c->io != NULL && c->transport_up) {
        c->io->shutdown(c->io_ctx);
    }
    shutdown(c->fd, SHUT_WR);
    c->state = CONN_LINGERING;
    c->linger_until = now_mono() + LINGER_SECONDS;
    set_events(c); /* and the timer, for linger_until */
}

static void
log_request(struct conn *c, const struct http_req *req, double now)
{
    if (!log_access_enabled()) {
        return;
    }
    struct access_entry e = {
        .remote_addr = req->meta->remote_addr,
        .method = req->method,
        .method_len = req->method_len,
        .target = req->target,
        .target_len = req->target_len,
        .path = req->path,
        .path_len = req->path_len,
        .query = req->query,
        .query_len = req->query_len,
        .http_major = req->http_major,
        .http_minor = req->http_minor,
        .status = c->resp.status,
        .body_bytes = c->resp.body_sent,
        .req_headers = req->headers,
        .n_req_headers = req->n_headers,
        .start_wall = req->start_wall,
        .duration = now - req->start_mono,
    };
    e.resp_headers = http_resp_fields(&c->resp, &e.n_resp_headers);
    log_access(&e);
}

static void
request_done(struct conn *c, bool keep_alive)
{
    struct http_req *req = http_request(c->parser);
    struct metrics_counters *m = c->srv->metrics;
    if (m != NULL || c->srv->statsd != NULL || log_access_enabled()) {
        double now = now_mono();
        log_request(c, req, now);
        if (m != NULL) {
            metrics_request(m, req->method, req->method_len, c->resp.status, now - req->start_mono);
            metrics_gauge_add(&m->conns_active, -1);
        }
        if (c->srv->statsd != NULL) {
            statsd_request(c->srv->statsd, c->resp.status, now - req->start_mono);
        }
    }
    c->requests++;
    http_next(c->parser);
    c->srv->request_done(c->srv);
    if (!keep_alive || c->srv->stopping) {
        c->state = CONN_FLUSHING;
    }
}

static void
after_handler(struct conn *c, enum handler_rc rc)
{
    switch (rc) {
    case HANDLER_LATER:
        c->state = CONN_LATER;
        return;
    case HANDLER_PAUSED:
        c->state = CONN_PAUSED;
        return;
    case HANDLER_DONE:
        c->handler = NULL;
        c->state = CONN_READING;
        request_done(c, c->resp.keep_alive);
        return;
    case HANDLER_CLOSE:
    default:
        c->handler = NULL;
        c->state = CONN_READING;
        request_done(c, false);
        return;
    }
}

/* The handler's LATER work is over (on the loop thread). */
static void
on_finished(struct handler_ctx *x, enum handler_rc rc)
{
    struct conn *c = container_of(x, struct conn, hx);
    if (c->state == CONN_DETACHED) {
        c->srv->n_detached--;
        conn_free(c);
        return;
    }
    after_handler(c, rc);
    process(c);
}

static void bad_request(struct conn *c, int status, const char *why);

/* X-Forwarded-* from a trusted peer: this request gets its own copy of the
 * connection's facts, with the client's address and the scheme the proxy
 * saw (one proxy connection carries requests of many clients). Returns
 * false after answering 400 for contradictory scheme fields. */
static bool
apply_forwarded(struct conn *c, struct http_req *req)
{
    req->meta = &c->meta;
    if (!c->fwd_trusted) {
        return true;
    }
    struct forwarded_info fi;
    proxy_forwarded(req->headers, req->n_headers, &c->srv->cfg->forwarded_allow, &fi);
    if (fi.scheme == FWD_SCHEME_CONFLICT) {
        bad_request(c, 400, "contradictory X-Forwarded-Proto/-Ssl/-Protocol fields");
        return false;
    }
    if (fi.scheme == FWD_SCHEME_NONE && !fi.has_client) {
        return true;
    }
    c->req_meta = c->meta;
    if (fi.scheme != FWD_SCHEME_NONE) {
        c->req_meta.url_scheme = fi.scheme == FWD_SCHEME_HTTPS ? "https" : "http";
    }
    if (fi.has_client) {
        snprintf(c->req_meta.remote_addr, sizeof(c->req_meta.remote_addr), "%s",
                 fi.client_addr);
        c->req_meta.remote_port = 0; /* not forwarded */
    }
    req->meta = &c->req_meta;
    return true;
}

static int flush(struct conn *c);

/* Write the held responses now (they stay queued: the end of the turn
 * still runs process() on each, for what a write left behind). */
static void
write_held(struct conn_server *s, double now)
{
    for (struct conn *c = s->to_flush; c != NULL; c = c->flush_next) {
        if (!is_closed(c)) {
            flush(c);
        }
    }
    s->to_flush_since = now;
}

static void
dispatch(struct conn *c)
{
    struct conn_server *s = c->srv;
    struct http_req *req = http_request(c->parser);
    if (!apply_forwarded(c, req)) {
        return;
    }
    bool keep = !s->stopping && s->cfg->keepalive > 0 && !http_upgraded(c->parser);
    if (s->metrics != NULL) {
        metrics_gauge_add(&s->metrics->conns_active, 1); /* until request_done() */
    }
    http_resp_init(&c->resp, &c->out, req, keep);
    c->hx.req = req;
    c->hx.resp = &c->resp;
    c->hx.data = NULL;
    double t0 = 0;
    if (s->coalesce_writes) {
        t0 = now_mono();
        if (s->to_flush != NULL && t0 - s->to_flush_since + s->handler_avg > COALESCE_MAX) {
            write_held(s, t0);
        }
    }
    for (struct handler *h = s->chain; h != NULL; h = h->next) {
        enum handler_rc rc = h->handle(h, &c->hx);
        if (rc != HANDLER_DECLINED) {
            if (t0 > 0) {
                s->handler_avg += (now_mono() - t0 - s->handler_avg) / 8;
            }
            c->handler = h;
            after_handler(c, rc);
            return;
        }
    }
    http_resp_simple(&c->resp, 404, "Not Found\n");
    request_done(c, c->resp.keep_alive);
}

/* A canned error answers a request that never reached a handler. */
static void
count_error(struct conn *c, int status)
{
    struct metrics_counters *m = c->srv->metrics;
    if (m != NULL || c->srv->statsd != NULL) {
        const struct http_req *req = http_request(c->parser);
        double start = req->start_mono;
        double took = start > 0 ? now_mono() - start : 0;
        if (m != NULL) {
            metrics_request(m, req->method, req->method_len, status, took);
        }
        if (c->srv->statsd != NULL) {
            statsd_request(c->srv->statsd, status, took);
        }
    }
}

static void
bad_request(struct conn *c, int status, const char *why)
{
    count_error(c, status);
    log_info("%s:%d: %d %s: %s", c->meta.remote_addr, c->meta.remote_port, status,
             http_status_reason(status), why);
    http_resp_error(&c->out, status, http_error_is_head(c->parser));
    c->state = CONN_FLUSHING;
}

/* Parse and run what is buffered, in order. Stops while a response is
 * paused, or while the client lets responses pile up unread. */
static void
parse_input(struct conn *c)
{
    c->input_held = false;
    while (c->state == CONN_READING) {
        if (outq_pending(&c->out) > HTTP_RESP_HIGH_WATER) {
            /* Picked up again once the queue drained (process_once(),
             * set_events()): the socket holds nothing that would wake us. */
            c->input_held = c->in.len > 0;
            break;
        }
        if (c->in.len == 0) {
            break;
        }
        size_t used = 0;
        enum http_event ev = http_feed(c->parser, c->in.data, c->in.len, &used);
        buf_consume(&c->in, used);
        switch (ev) {
        case HTTP_EV_MORE:
            return;
        case HTTP_EV_HEAD: {
            struct http_req *req = http_request(c->parser);
            if (req->expect_continue) {
                static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
                outq_append(&c->out, cont, sizeof(cont) - 1);
            }
            continue;
        }
        case HTTP_EV_REQUEST:
            dispatch(c);
            continue;
        case HTTP_EV_ERROR:
            bad_request(c, http_error_status(c->parser), http_error_reason(c->parser));
            return;
        }
    }
}

/* Returns -1 when the connection was closed. */
static int
flush(struct conn *c)
{
    if (outq_pending(&c->out) == 0) {
        c->write_blocked = false;
        return 0;
    }
    struct outq_writer wr = {.writev = sock_writev, .writev_more = sock_writev_more,
                             .sendfile = sock_sendfile, .ctx = c};
    if (c->io != NULL) {
        wr.writev = io_writev;
        wr.writev_more = NULL; /* TLS: the head is a record of its own anyway */
        wr.sendfile = io_sendfile;
    }
    uint64_t before = outq_pending(&c->out);
    int rc = outq_flush(&c->out, &wr, NULL);
    if (rc < 0) {
        if (errno != EPIPE && errno != ECONNRESET) {
            log_debug("write to %s:%d failed: %m%s%s", c->meta.remote_addr, c->meta.remote_port,
                      c->io ? ": " : "", c->io ? c->io->error(c->io_ctx) : "");
        }
        close_now(c);
        return -1;
    }
    if (outq_pending(&c->out) < before) {
        c->last_write = now_mono();
        if (c->srv->metrics != NULL) {
            metrics_add(&c->srv->metrics->bytes_out, before - outq_pending(&c->out));
        }
    }
    c->write_blocked = rc == 1;
    return 0;
}

/* Reads through the transport: IO_AGAIN becomes EAGAIN, and the event it
 * waits for is remembered. */
static ssize_t
io_read(struct conn *c, void *buf, size_t n)
{
    uint32_t want = EPOLLIN;
    ssize_t r = c->io->read(c->io_ctx, buf, n, &want);
    if (r == IO_AGAIN) {
        c->read_want = want;
        errno = EAGAIN;
        return -1;
    }
    c->read_want = 0;
    return r;
}

/* The client closed its side: counted, so that the owner's idea of its
 * load (accept balancing) leaves out clients that are gone while their
 * last response is still in the making. */
static void
peer_gone(struct conn *c)
{
    if (!c->peer_eof) {
        c->peer_eof = true;
        c->srv->n_peer_gone++;
        if (c->srv->peer_gone != NULL) {
            c->srv->peer_gone(c->srv);
        }
    }
}

static void
read_input(struct conn *c)
{
    while (c->in.len < READ_PAUSE_AT) {
        buf_reserve(&c->in, READ_CHUNK);
        ssize_t n = c->io == NULL
                        ? read(c->fd, c->in.data + c->in.len, c->in.cap - c->in.len)
                        : io_read(c, c->in.data + c->in.len, c->in.cap - c->in.len);
        if (n > 0) {
            c->in.len += (size_t)n;
            c->last_read = now_mono();
            if (c->srv->metrics != NULL) {
                metrics_add(&c->srv->metrics->bytes_in, (uint64_t)n);
            }
            if ((size_t)n < READ_CHUNK && (c->io == NULL || !c->io->pending(c->io_ctx))) {
                return; /* most likely drained; epoll says if not */
            }
            continue;
        }
        if (n == 0) {
            peer_gone(c);
            return;
        }
        if (errno == EINTR) {
            continue;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            if (c->io != NULL) {
                log_debug("read from %s:%d failed: %s", c->meta.remote_addr,
                          c->meta.remote_port, c->io->error(c->io_ctx));
            }
            peer_gone(c);
            close_now(c);
        }
        return;
    }
}

static void
linger_read(struct conn *c)
{
    char tmp[16384];
    for (int i = 0; i < 16; i++) {
        ssize_t n = read(c->fd, tmp, sizeof(tmp));
        if (n > 0) {
            continue;
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return;
        }
        close_now(c); /* EOF or error: the client has what it needs */
        return;
    }
}

/* A complete response waits for the end of the loop turn, to be written
 * with the others of the turn (conn_server_turn_end()). Only the plain case:
 * between requests, nothing blocked, the loop turn still to end. */
static bool
defer_flush(struct conn *c)
{
    struct conn_server *s = c->srv;
    if (!s->coalesce_writes || s->flushing || c->state != CONN_READING || c->write_blocked ||
        outq_pending(&c->out) == 0 || !loop_in_turn(s->loop)) {
        return false;
    }
    if (!c->flush_queued) {
        if (s->to_flush == NULL) {
            s->to_flush_since = now_mono();
        }
        c->flush_queued = true;
        c->flush_next = s->to_flush;
        s->to_flush = c;
    }
    return true;
}

/* Drive the connection as far as it can go without blocking. */
static void
process_once(struct conn *c)
{
    for (int round = 0; round < 64 && !is_closed(c); round++) {
        parse_input(c);
        if (c->state == CONN_LATER) {
            break;
        }
        if (round == 0 && defer_flush(c)) {
            return; /* events and timer as they were, until the flush */
        }
        if (is_closed(c) || flush(c) < 0) {
            return;
        }
        /* A paused response continues once the queue has drained. */
        if (resumable(c)) {
            after_handler(c, c->handler->proceed(c->handler, &c->hx));
            if (c->state == CONN_LATER) {
                break;
            }
            continue;
        }
        /* Pipelined requests waited for the queue (a few large or sendfile
         * responses over the high-water mark) and the flush drained it. */
        if (c->input_held && outq_pending(&c->out) <= HTTP_RESP_HIGH_WATER) {
            continue;
        }
        break;
    }
    if (is_closed(c)) {
        return;
    }
    if (c->state == CONN_LATER) {
        set_events(c);
        return;
    }
    if (outq_pending(&c->out) == 0) {
        if (c->state == CONN_FLUSHING) {
            start_linger(c);
            return;
        }
        if (c->state == CONN_READING && c->peer_eof) {
            /* Nothing more can arrive; a partial request stays unanswered. */
            close_now(c);
            return;
        }
    }
    set_events(c);
}

/* Input the transport holds already decrypted (or read ahead), with room
 * for it: epoll will not report it, so it is read now. */
static bool
transport_has_input(struct conn *c)
{
    return c->io != NULL && (c->state == CONN_READING || c->state == CONN_PAUSED) &&
           !c->peer_eof &&
           c->in.len < READ_PAUSE_AT && c->io->pending(c->io_ctx);
}

static void
process(struct conn *c)
{
    process_once(c);
    /* Bounded, so one pipelining client cannot hold the loop; the timer
     * (deadline(), check_timeout()) picks up what is left. */
    for (int i = 0; i < DRAIN_ROUNDS && transport_has_input(c); i++) {
        size_t before = c->in.len;
        read_input(c);
        if (is_closed(c) || c->in.len == before) {
            return;
        }
        process_once(c);
    }
}

/* Peek at the PROXY protocol header; consume exactly its bytes once it is
 * whole, so what follows (HTTP or a TLS ClientHello) stays in the socket
 * for the next phase. Returns false when the connection was closed or the
 * header is not complete yet. */
static bool
read_proxy_header(struct conn *c)
{
    char buf[PROXY_MAX];
    ssize_t n;
    do {
        n = recv(c->fd, buf, sizeof(buf), MSG_PEEK);
    } while (n < 0 && errno == EINTR);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        set_events(c);
        return false;
    }
    if (n <= 0) {
        close_now(c); /* gone before saying who it proxies */
        return false;
    }
    struct proxy_info pi;
    size_t used = 0;
    enum proxy_rc rc = proxy_parse(buf, (size_t)n, &pi, &used);
    if (rc == PROXY_MORE) {
        c->proxy_partial = true;
        set_events(c);
        return false;
    }
    if (rc == PROXY_ERROR) {
        log_info("%s:%d: no valid PROXY protocol header, closing", c->meta.remote_addr,
                 c->meta.remote_port);
        close_now(c);
        return false;
    }
    do {
        n = recv(c->fd, buf, used, 0);
    } while (n < 0 && errno == EINTR);
    if (n != (ssize_t)used) {
        close_now(c);
        return false;
    }
    if (pi.has_addr) {
        snprintf(c->meta.remote_addr, sizeof(c->meta.remote_addr), "%s", pi.src_addr);
        c->meta.remote_port = pi.src_port;
        /* X-Forwarded-* now come from the client the proxy relays. */
        c->fwd_trusted = ip_allow_match_str(&c->srv->cfg->forwarded_allow, pi.src_addr);
    }
    c->proxy_partial = false;
    c->state = c->io != NULL ? CONN_HANDSHAKE : CONN_READING;
    return true;
}

/* Returns false unless the handshake is done. */
static bool
handshake(struct conn *c)
{
    uint32_t want = EPOLLIN;
    int r = c->io->handshake(c->io_ctx, &want);
    if (r == 1) {
        if (c->srv->metrics != NULL) {
            metrics_add(&c->srv->metrics->tls_ok, 1);
        }
        c->state = CONN_READING;
        c->transport_up = true;
        c->read_want = 0;
        c->meta.ssl_client_s_dn = c->io->peer_subject(c->io_ctx);
        c->last_read = now_mono();
        return true;
    }
    if (r == IO_AGAIN) {
        c->read_want = want;
        set_events(c);
        return false;
    }
    if (c->srv->metrics != NULL) {
        metrics_add(&c->srv->metrics->tls_failed, 1);
    }
    log_debug("%s:%d: TLS handshake failed: %s", c->meta.remote_addr, c->meta.remote_port,
              c->io->error(c->io_ctx));
    /* The alert (or a plain-HTTP answer) is on its way: let it arrive
     * instead of resetting the connection over unread input. */
    start_linger(c);
    return false;
}

/* Drive a connection that is not (yet) in its HTTP phase. Returns true when
 * it reached the HTTP phase in this call. */
static bool
advance_phase(struct conn *c)
{
    if (c->state == CONN_PROXY && !read_proxy_header(c)) {
        return false;
    }
    if (c->state == CONN_HANDSHAKE && !handshake(c)) {
        return false;
    }
    return true;
}

static void
on_event(struct loop_watch *lw, uint32_t events)
{
    struct conn *c = container_of(lw, struct conn, watch);
    if (c->state == CONN_LINGERING) {
        if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
            linger_read(c);
        }
        return;
    }
    if (events & EPOLLERR) {
        close_now(c);
        return;
    }
    bool readable = events & (EPOLLIN | EPOLLHUP | EPOLLRDHUP);
    if (UNLIKELY(c->state < CONN_READING)) {
        if (!advance_phase(c)) {
            return;
        }
        readable = true; /* the client's first bytes may be there already */
    } else if (c->read_want == EPOLLOUT && (events & EPOLLOUT)) {
        readable = true; /* a TLS read that needed to write */
    }
    if (readable) {
        read_input(c);
        if (is_closed(c)) {
            return;
        }
    }
    process(c);
}

void
conn_new(struct conn_server *s, int fd, const struct listener *l, const struct sockaddr *peer,
         socklen_t peerlen)
{
    struct conn *c = xcalloc(1, sizeof(*c));
    c->srv = s;
    c->fd = fd;
    c->meta.url_scheme = "http";
    (void)peerlen;
    if (peer->sa_family == AF_INET) {
        const struct sockaddr_in *sa = (const struct sockaddr_in *)peer;
        inet_ntop(AF_INET, &sa->sin_addr, c->meta.remote_addr, sizeof(c->meta.remote_addr));
        c->meta.remote_port = ntohs(sa->sin_port);
    } else if (peer->sa_family == AF_INET6) {
        const struct sockaddr_in6 *sa = (const struct sockaddr_in6 *)peer;
        inet_ntop(AF_INET6, &sa->sin6_addr, c->meta.remote_addr, sizeof(c->meta.remote_addr));
        c->meta.remote_port = ntohs(sa->sin6_port);
    }
    if (!l->is_unix) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    snprintf(c->meta.server_name, sizeof(c->meta.server_name), "%s", l->host);
    snprintf(c->meta.server_port, sizeof(c->meta.server_port), "%s", l->port);
    c->parser = http_parser_new(s->limits, &c->meta);
    buf_init(&c->in);
    outq_init(&c->out);
    c->accepted_at = c->last_read = c->last_write = now_mono();
    c->hx.finished = on_finished;
    c->state = CONN_READING;
    /* Unix-socket peers are local processes the socket's permissions let
     * in: trusted like gunicorn trusts them, unless nobody is. */
    const struct ip_allow *fwd = &s->cfg->forwarded_allow;
    bool allowing = fwd->any || fwd->n > 0;
    bool proxy_ok = true;
    if (peer->sa_family == AF_INET) {
        const void *a = &((const struct sockaddr_in *)peer)->sin_addr;
        c->fwd_trusted = ip_allow_match(fwd, AF_INET, a);
        proxy_ok = ip_allow_match(&s->cfg->proxy_allow, AF_INET, a);
    } else if (peer->sa_family == AF_INET6) {
        const void *a = &((const struct sockaddr_in6 *)peer)->sin6_addr;
        c->fwd_trusted = ip_allow_match(fwd, AF_INET6, a);
        proxy_ok = ip_allow_match(&s->cfg->proxy_allow, AF_INET6, a);
    } else {
        c->fwd_trusted = allowing;
    }
    if (l->tls != NULL) {
        c->io_ctx = tls_conn_new(l->tls, fd);
        c->io = &tls_io_ops;
        c->meta.url_scheme = "https";
        c->state = CONN_HANDSHAKE;
    }
    if (s->cfg->proxy_protocol) {
        c->state = CONN_PROXY;
    }
    c->next = s->conns;
    if (s->conns != NULL) {
        s->conns->prev = c;
    }
    s->conns = c;
    s->n_conns++;
    if (s->metrics != NULL) {
        metrics_add(&s->metrics->conns_accepted, 1);
        atomic_store_explicit(&s->metrics->conns_open, (int64_t)s->n_conns, memory_order_relaxed);
    }
    if (loop_watch(s->loop, &c->watch, fd, EPOLLIN | EPOLLRDHUP, on_event) != 0) {
        close_now(c);
        return;
    }
    arm_timer(c);
    if (c->io != NULL && c->io_ctx == NULL) {
        c->io = NULL; /* tls_conn_new failed (logged): nothing to free */
        close_now(c);
        return;
    }
    if (c->state == CONN_PROXY && !proxy_ok) {
        log_info("%s:%d: not in --proxy-allow-from, closing", c->meta.remote_addr,
                 c->meta.remote_port);
        close_now(c);
        return;
    }
    /* Data usually arrives with the connection (TCP_DEFER_ACCEPT aside):
     * read it now and save an epoll round trip. */
    if (c->state < CONN_READING && !advance_phase(c)) {
        return;
    }
    read_input(c);
    if (is_closed(c)) {
        return;
    }
    if (c->in.len > 0 || c->peer_eof) {
        /* A request, or the end: a client that finished its PROXY header
         * or TLS handshake and went away before the first epoll turn
         * (process() closes it; set_events() alone would watch nothing). */
        process(c);
    } else if (c->io != NULL || s->cfg->proxy_protocol) {
        set_events(c); /* a phase may have changed the events it waits for */
    }
}

static void
timeout_request(struct conn *c, const char *what)
{
    log_info("%s:%d: %s timeout, closing", c->meta.remote_addr, c->meta.remote_port, what);
    count_error(c, 408);
    http_resp_error(&c->out, 408, false);
    c->state = CONN_FLUSHING;
    process(c);
}

#define TRANSPORT_RETRY 0.01 /* input left in the transport by process()'s bound */

/* When check_timeout() may have something to do, from the connection's
 * state; 0 = nothing to wait for. The same cases, in the same order. */
static double
deadline(struct conn *c)
{
    const struct config *cfg = c->srv->cfg;
    if (c->state == CONN_LINGERING) {
        return c->linger_until;
    }
    if (outq_pending(&c->out) > 0 && c->write_blocked) {
        return cfg->send_timeout > 0 ? c->last_write + cfg->send_timeout : 0;
    }
    if (c->state > CONN_READING) { /* PAUSED, LATER, FLUSHING */
        return 0;
    }
    if (UNLIKELY(transport_has_input(c))) {
        return now_mono() + TRANSPORT_RETRY;
    }
    if (http_in_body(c->parser)) {
        return cfg->body_timeout > 0 ? c->last_read + cfg->body_timeout : 0;
    }
    if (!http_idle(c->parser)) {
        return cfg->header_timeout > 0
                   ? http_request(c->parser)->start_mono + cfg->header_timeout
                   : 0;
    }
    if (c->requests == 0) {
        return cfg->header_timeout > 0 ? c->accepted_at + cfg->header_timeout : 0;
    }
    return (c->last_write > c->last_read ? c->last_write : c->last_read) + cfg->keepalive;
}

static void on_timer(struct loop_timer *t);

/* Lazily: a deadline that moved later (a keep-alive client's every request
 * does) leaves the timer where it is; it fires early, check_timeout() finds
 * nothing to do and the timer is set again for the real deadline. Only an
 * earlier one moves it. */
static void
arm_timer(struct conn *c)
{
    double at = deadline(c);
    if (at > 0 && (c->timer.at == 0 || at < c->timer.at)) {
        loop_timer_set(c->srv->loop, &c->timer, at, on_timer);
    }
}

static void check_timeout(struct conn *c, double now);

static void
on_timer(struct loop_timer *t)
{
    struct conn *c = container_of(t, struct conn, timer);
    check_timeout(c, now_mono());
    if (!is_closed(c)) {
        arm_timer(c);
    }
}

static void
check_timeout(struct conn *c, double now)
{
    const struct config *cfg = c->srv->cfg;
    if (is_closed(c)) {
        return;
    }
    if (c->state == CONN_LINGERING) {
        if (now >= c->linger_until) {
            close_now(c);
        }
        return;
    }
    if (outq_pending(&c->out) > 0 && c->write_blocked) {
        if (cfg->send_timeout > 0 && now - c->last_write >= cfg->send_timeout) {
            log_info("%s:%d: send timeout, closing", c->meta.remote_addr, c->meta.remote_port);
            close_now(c);
        }
        return;
    }
    if (c->state > CONN_READING) { /* PAUSED, LATER, FLUSHING */
        return;
    }
    if (transport_has_input(c)) {
        process(c); /* left behind by the bound in process() */
        if (is_closed(c)) {
            return;
        }
    }
    if (http_in_body(c->parser)) {
        if (cfg->body_timeout > 0 && now - c->last_read >= cfg->body_timeout) {
            timeout_request(c, "request body");
        }
        return;
    }
    if (!http_idle(c->parser)) {
        struct http_req *req = http_request(c->parser);
        if (cfg->header_timeout > 0 && now - req->start_mono >= cfg->header_timeout) {
            timeout_request(c, "request header");
        }
        return;
    }
    /* Between requests. The PROXY header and the TLS handshake count as
     * part of the first request's head. */
    if (c->requests == 0) {
        if (cfg->header_timeout > 0 && now - c->accepted_at >= cfg->header_timeout) {
            close_now(c);
        }
    } else if (now - c->last_write >= cfg->keepalive && now - c->last_read >= cfg->keepalive) {
        close_now(c);
    }
}

static void
drain(struct conn *c)
{
    if (c->state >= CONN_LINGERING) {
        return;
    }
    bool idle = c->state != CONN_PAUSED && c->state != CONN_LATER && outq_pending(&c->out) == 0 &&
                http_idle(c->parser) && c->in.len == 0;
    /* Busy connections get their response with Connection: close
     * (request_done sees srv->stopping). A connection that has not sent its
     * first request yet is answered too: the request is most likely on its
     * way, and closing would reset it. */
    if (!idle || c->requests == 0) {
        return;
    }
    /* An idle keep-alive client may be sending its next request right now.
     * In a worker of several, others take the new connections, so this one
     * waits for that request (answered with Connection: close) or for the
     * keep-alive timeout: no request is lost to the race. Alone, it closes
     * now, as gunicorn does. */
    if (!c->srv->drain_waits_idle) {
        close_now(c);
    }
}

static void
conn_free(struct conn *c)
{
    if (c->flush_queued) { /* rare: freed before the turn ended */
        struct conn **p = &c->srv->to_flush;
        while (*p != c) {
            p = &(*p)->flush_next;
        }
        *p = c->flush_next;
    }
    /* Here, not in close_now: an app thread may still read the client
     * certificate's subject through req->meta until its job is back. */
    if (c->io != NULL) {
        c->io->free(c->io_ctx);
    }
    http_parser_free(c->parser);
    buf_free(&c->in);
    outq_free(&c->out);
    http_resp_free(&c->resp);
    free(c);
}


void
conn_server_drain(struct conn_server *s)
{
    struct conn *c = s->conns;
    while (c != NULL) {
        struct conn *next = c->next;
        drain(c);
        c = next;
    }
}

void
conn_server_abort(struct conn_server *s)
{
    while (s->conns != NULL) {
        close_now(s->conns);
    }
}

void
conn_server_turn_end(void *arg)
{
    struct conn_server *s = arg;
    s->flushing = true;
    while (s->to_flush != NULL) {
        struct conn *c = s->to_flush;
        s->to_flush = c->flush_next;
        c->flush_queued = false;
        if (!is_closed(c)) {
            process(c);
        }
    }
    s->flushing = false;
    statsd_flush(s->statsd);
}

void
conn_server_free_closed(struct conn_server *s)
{
    while (s->zombies != NULL) {
        struct conn *c = s->zombies;
        s->zombies = c->next;
        conn_free(c);
    }
}
