/* A client's life: READING its request head (bounded), WRITING the whole
 * response, then LINGERING: the write side shut and what the client still
 * sends discarded until it closes, so that unread input (a body nobody
 * asked for) cannot turn the close into a reset that destroys the answer.
 * One timer per client bounds all of it. A closed client is freed from its
 * timer, at the end of the loop turn, when no event of the batch can name
 * it any more. */
#include "metrics_server.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "prom.h"

#define LINGER_SECONDS 1.0
#define ACCEPT_BATCH   16

enum mc_state { MC_READING, MC_WRITING, MC_LINGERING, MC_CLOSED };

struct mclient {
    struct loop_watch watch;
    struct loop_timer timer;
    struct metrics_server *srv;
    struct mclient *prev, *next;
    int fd;
    enum mc_state state;
    size_t in_len;
    char in[METRICS_SERVER_MAX_REQUEST];
    struct buf out;
    size_t out_off;
};

struct metrics_server {
    struct loop *loop;
    struct listener *l;
    struct loop_watch watch; /* the listener, while below MAX_CLIENTS */
    struct metrics_server_ops ops;
    struct mclient *clients;
    size_t n_clients;
    struct mclient *zombies; /* closed, freed by their timer */
};

static void on_client(struct loop_watch *w, uint32_t events);
static void on_client_timer(struct loop_timer *t);
static void start_watching(struct metrics_server *s);

static void
unlink_client(struct mclient **list, struct mclient *c)
{
    if (c->prev != NULL) {
        c->prev->next = c->next;
    } else {
        *list = c->next;
    }
    if (c->next != NULL) {
        c->next->prev = c->prev;
    }
    c->prev = c->next = NULL;
}

static void
push_client(struct mclient **list, struct mclient *c)
{
    c->prev = NULL;
    c->next = *list;
    if (*list != NULL) {
        (*list)->prev = c;
    }
    *list = c;
}

static void
free_client(struct loop_timer *t)
{
    struct mclient *c = container_of(t, struct mclient, timer);
    unlink_client(&c->srv->zombies, c);
    buf_free(&c->out);
    free(c);
}

static void
close_client(struct mclient *c)
{
    if (c->state == MC_CLOSED) {
        return;
    }
    struct metrics_server *s = c->srv;
    loop_unwatch(s->loop, &c->watch);
    close(c->fd);
    c->fd = -1;
    c->state = MC_CLOSED;
    unlink_client(&s->clients, c);
    push_client(&s->zombies, c);
    bool was_full = s->n_clients == METRICS_SERVER_MAX_CLIENTS;
    s->n_clients--;
    /* Freed by its timer, after this loop turn's events. */
    loop_timer_set(s->loop, &c->timer, 0, free_client);
    if (was_full) {
        start_watching(s);
    }
}

static const char *
reason(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 431:
        return "Request Header Fields Too Large";
    case 503:
        return "Service Unavailable";
    default:
        return "Error";
    }
}

/* The whole response into c->out: head (with Content-Length of body) and,
 * unless HEAD, body. */
static void
respond(struct mclient *c, int status, const char *type, const char *body, size_t body_len,
        bool head_only, const char *extra)
{
    char date[64];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
    char head[512];
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 %d %s\r\nDate: %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                     "Cache-Control: no-store\r\n%sConnection: close\r\n\r\n",
                     status, reason(status), date, type, body_len, extra ? extra : "");
    buf_reset(&c->out);
    buf_append(&c->out, head, (size_t)n);
    if (!head_only) {
        buf_append(&c->out, body, body_len);
    }
    c->out_off = 0;
    c->state = MC_WRITING;
}

static void
respond_text(struct mclient *c, int status, const char *text, bool head_only, const char *extra)
{
    respond(c, status, "text/plain; charset=utf-8", text, strlen(text), head_only, extra);
}

static bool
is_tchar(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           (ch != '\0' && strchr("!#$%&'*+-.^_`|~", ch) != NULL);
}

/* The request head is in c->in (through its blank line): answer it. Only
 * the request line matters; the fields are skipped. */
static void
answer(struct mclient *c, size_t line_len)
{
    const char *p = c->in, *end = c->in + line_len;
    const char *sp1 = memchr(p, ' ', line_len);
    const char *sp2 = sp1 != NULL ? memchr(sp1 + 1, ' ', (size_t)(end - sp1 - 1)) : NULL;
    if (sp1 == NULL || sp2 == NULL || sp1 == p || sp2 == sp1 + 1 ||
        memchr(sp2 + 1, ' ', (size_t)(end - sp2 - 1)) != NULL) {
        respond_text(c, 400, "Bad Request\n", false, NULL);
        return;
    }
    for (const char *q = p; q < sp1; q++) {
        if (!is_tchar((unsigned char)*q)) {
            respond_text(c, 400, "Bad Request\n", false, NULL);
            return;
        }
    }
    size_t vlen = (size_t)(end - sp2 - 1);
    if (vlen != 8 || memcmp(sp2 + 1, "HTTP/1.", 7) != 0 || sp2[8] < '0' || sp2[8] > '9' ||
        sp1[1] != '/') {
        respond_text(c, 400, "Bad Request\n", false, NULL);
        return;
    }
    size_t mlen = (size_t)(sp1 - p);
    bool get = mlen == 3 && memcmp(p, "GET", 3) == 0;
    bool head = mlen == 4 && memcmp(p, "HEAD", 4) == 0;
    const char *target = sp1 + 1;
    size_t tlen = (size_t)(sp2 - target);
    const char *q = memchr(target, '?', tlen);
    size_t plen = q != NULL ? (size_t)(q - target) : tlen;
    bool metrics = plen == 8 && memcmp(target, "/metrics", 8) == 0;
    bool healthz = plen == 8 && memcmp(target, "/healthz", 8) == 0;
    if (!metrics && !healthz) {
        respond_text(c, 404, "Not Found: this listener serves /metrics and /healthz\n", head, NULL);
        return;
    }
    if (!get && !head) {
        respond_text(c, 405, "Method Not Allowed\n", false, "Allow: GET, HEAD\r\n");
        return;
    }
    struct metrics_server *s = c->srv;
    if (healthz) {
        const char *why = s->ops.unhealthy(s->ops.ctx);
        if (why == NULL) {
            respond_text(c, 200, "ok\n", head, NULL);
        } else {
            char body[256];
            snprintf(body, sizeof(body), "%s\n", why);
            respond_text(c, 503, body, head, NULL);
        }
        return;
    }
    struct buf body;
    buf_init(&body);
    s->ops.render(s->ops.ctx, &body);
    respond(c, 200, PROM_CONTENT_TYPE, body.data, body.len, head, NULL);
    buf_free(&body);
}

/* Returns false once the client is closed. */
static bool
write_out(struct mclient *c)
{
    while (c->out_off < c->out.len) {
        ssize_t n = send(c->fd, c->out.data + c->out_off, c->out.len - c->out_off, MSG_NOSIGNAL);
        if (n > 0) {
            c->out_off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            loop_modify(c->srv->loop, &c->watch, EPOLLOUT);
            return true;
        }
        close_client(c);
        return false;
    }
    buf_free(&c->out);
    shutdown(c->fd, SHUT_WR);
    c->state = MC_LINGERING;
    loop_modify(c->srv->loop, &c->watch, EPOLLIN | EPOLLRDHUP);
    loop_timer_set(c->srv->loop, &c->timer, now_mono() + LINGER_SECONDS, on_client_timer);
    return true;
}

/* Whatever arrives now is dropped; EOF (or an error) ends the client. */
static void
linger(struct mclient *c)
{
    char tmp[4096];
    for (int i = 0; i < 16; i++) {
        ssize_t n = recv(c->fd, tmp, sizeof(tmp), 0);
        if (n > 0) {
            continue;
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return;
        }
        break;
    }
    close_client(c);
}

static void
read_request(struct mclient *c)
{
    for (;;) {
        if (c->in_len == sizeof(c->in)) {
            respond_text(c, 431, "Request Header Fields Too Large\n", false, NULL);
            break;
        }
        ssize_t n = recv(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len, 0);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return;
        }
        if (n <= 0) {
            close_client(c); /* gone before a whole request */
            return;
        }
        /* The blank line may straddle reads: search from 3 bytes back. */
        size_t from = c->in_len > 3 ? c->in_len - 3 : 0;
        c->in_len += (size_t)n;
        const char *eoh = memmem(c->in + from, c->in_len - from, "\r\n\r\n", 4);
        if (eoh != NULL) {
            const char *eol = memmem(c->in, c->in_len, "\r\n", 2);
            answer(c, (size_t)(eol - c->in));
            break;
        }
    }
    write_out(c);
}

static void
on_client(struct loop_watch *w, uint32_t events)
{
    struct mclient *c = container_of(w, struct mclient, watch);
    switch (c->state) {
    case MC_READING:
        if (events & EPOLLERR) {
            close_client(c);
        } else {
            read_request(c);
        }
        return;
    case MC_WRITING:
        write_out(c);
        return;
    case MC_LINGERING:
        linger(c);
        return;
    case MC_CLOSED:
        return;
    }
}

static void
on_client_timer(struct loop_timer *t)
{
    struct mclient *c = container_of(t, struct mclient, timer);
    close_client(c); /* too slow to send its request or to take the answer */
}

static void
on_accept(struct loop_watch *w, uint32_t events)
{
    struct metrics_server *s = container_of(w, struct metrics_server, watch);
    (void)events;
    for (int i = 0; i < ACCEPT_BATCH; i++) {
        if (s->n_clients == METRICS_SERVER_MAX_CLIENTS) {
            /* Full: the next ones wait in the backlog until one closes. */
            loop_unwatch(s->loop, &s->watch);
            return;
        }
        int fd = accept4(s->l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) {
                continue;
            }
            if (errno != EAGAIN && errno != EWOULDBLOCK) {
                log_warning("accept on the metrics listener %s: %m", s->l->display);
            }
            return;
        }
        struct mclient *c = xcalloc(1, sizeof(*c));
        c->srv = s;
        c->fd = fd;
        c->state = MC_READING;
        buf_init(&c->out);
        if (loop_watch(s->loop, &c->watch, fd, EPOLLIN | EPOLLRDHUP, on_client) != 0) {
            close(fd);
            free(c);
            return;
        }
        push_client(&s->clients, c);
        s->n_clients++;
        loop_timer_set(s->loop, &c->timer, now_mono() + METRICS_SERVER_TIMEOUT, on_client_timer);
        read_request(c); /* the request usually came with the connection */
    }
}

static void
start_watching(struct metrics_server *s)
{
    if (!s->watch.added && s->l->fd >= 0) {
        loop_watch(s->loop, &s->watch, s->l->fd, EPOLLIN, on_accept);
    }
}

struct metrics_server *
metrics_server_new(struct loop *loop, struct listener *l, const struct metrics_server_ops *ops)
{
    struct metrics_server *s = xcalloc(1, sizeof(*s));
    s->loop = loop;
    s->l = l;
    s->ops = *ops;
    if (loop_watch(loop, &s->watch, l->fd, EPOLLIN, on_accept) != 0) {
        free(s);
        return NULL;
    }
    return s;
}

void
metrics_server_free(struct metrics_server *s)
{
    if (s == NULL) {
        return;
    }
    while (s->clients != NULL) {
        close_client(s->clients);
    }
    loop_unwatch(s->loop, &s->watch);
    while (s->zombies != NULL) {
        struct mclient *c = s->zombies;
        loop_timer_cancel(s->loop, &c->timer);
        free_client(&c->timer);
    }
    free(s);
}

void
metrics_server_forget(struct metrics_server *s)
{
    if (s == NULL) {
        return;
    }
    struct mclient *lists[2] = {s->clients, s->zombies};
    for (int i = 0; i < 2; i++) {
        while (lists[i] != NULL) {
            struct mclient *c = lists[i];
            lists[i] = c->next;
            if (c->fd >= 0) {
                close(c->fd);
            }
            buf_free(&c->out);
            free(c);
        }
    }
    free(s);
}
