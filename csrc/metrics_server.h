/* The --metrics-bind listener: a tiny HTTP/1.x responder on the loop of
 * whoever owns it (the master with -w, the process itself without).
 *   GET /metrics  the Prometheus text exposition (ops->render)
 *   GET /healthz  200 "ok", or 503 and the reason while ops->unhealthy says so
 *   HEAD of both; another method on them is 405, another path 404.
 * One request per connection (Connection: close), a request head of at most
 * METRICS_SERVER_MAX_REQUEST bytes, at most METRICS_SERVER_MAX_CLIENTS at a
 * time (the rest wait in the backlog), and METRICS_SERVER_TIMEOUT seconds
 * for the whole exchange: a slow or silent client is closed, never waited
 * for. Never blocks; no Python. */
#ifndef WSGIHOST_METRICS_SERVER_H
#define WSGIHOST_METRICS_SERVER_H

#include "buf.h"
#include "listener.h"
#include "loop.h"

#define METRICS_SERVER_MAX_REQUEST 8192
#define METRICS_SERVER_MAX_CLIENTS 16
#define METRICS_SERVER_TIMEOUT     5.0

struct metrics_server_ops {
    /* Append the /metrics body to out. */
    void (*render)(void *ctx, struct buf *out);
    /* NULL when healthy; else why not (the 503's body). */
    const char *(*unhealthy)(void *ctx);
    void *ctx;
};

struct metrics_server;

/* Serve l (listening, non-blocking) on loop. Returns NULL after logging. */
struct metrics_server *metrics_server_new(struct loop *loop, struct listener *l,
                                          const struct metrics_server_ops *ops);
/* Close the clients and stop watching; the listener stays the caller's. */
void metrics_server_free(struct metrics_server *s);
/* In a forked child: close the clients' sockets and free, without touching
 * the loop (the parent's epoll instance, still in use). */
void metrics_server_forget(struct metrics_server *s);

#endif
