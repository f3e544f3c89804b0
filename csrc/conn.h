/* One client connection: reads into the parser, hands each complete request
 * to the handler chain (handler.h), flushes the output queue, keep-alive,
 * pipelining, timeouts, lingering and deferred close. Knows no Python and
 * no worker: what the connections of one worker share is a conn_server. */
#ifndef WSGIHOST_CONN_H
#define WSGIHOST_CONN_H

#include <sys/socket.h>

#include "config.h"
#include "handler.h"
#include "http.h"
#include "listener.h"
#include "loop.h"
#include "metrics.h"

struct conn;

/* Embedded in the owner (the worker), which fills the first part;
 * container_of() gets the owner back in the callbacks. */
struct conn_server {
    struct loop *loop;
    const struct config *cfg;
    const struct http_limits *limits;
    struct handler *chain;
    /* Set by the owner when it stops: responses end with Connection: close. */
    bool stopping;
    /* conn_server_drain(): idle keep-alive clients may still send one more
     * request (several workers share the socket; alone, close them now). */
    bool drain_waits_idle;
    /* A response is complete (counted for --max-requests; may call
     * conn_server_drain()). */
    void (*request_done)(struct conn_server *s);
    /* A connection closed: n_conns went down. */
    void (*conn_closed)(struct conn_server *s);
    /* A client closed its side while its connection stays open for a while
     * (n_peer_gone went up); NULL = not told. */
    void (*peer_gone)(struct conn_server *s);
    /* Where the responses, bytes and connections are counted
     * (--metrics-bind); NULL = not counted. */
    struct metrics_counters *metrics;
    /* Where each response is reported to statsd (--statsd-host); NULL =
     * not. Flushed at the end of every loop turn. */
    struct statsd *statsd;

    /* Write the responses produced during a loop turn at the end of the
     * turn (conn_server_turn_end() is the loop's turn-end callback) instead
     * of one by one: the client, woken once for several, costs less CPU,
     * and so does the wake-up in the kernel. Set by the owner. */
    bool coalesce_writes;
    /* Kept by conn.c. */
    struct conn *conns;   /* open */
    struct conn *to_flush;  /* responses waiting for the end of the turn */
    double to_flush_since;  /* now_mono() when the first of them was queued */
    double handler_avg;     /* seconds a handle() call takes, a moving average */
    bool flushing;
    struct conn *zombies; /* closed, freed by conn_server_free_closed() */
    size_t n_conns;
    size_t n_peer_gone;   /* of n_conns: the client closed its side (EOF read); its
                           * response may still be on the way */
    size_t n_detached;    /* closed, waiting for their handler to let go */
};

/* Take ownership of an accepted, non-blocking socket. */
void conn_new(struct conn_server *s, int fd, const struct listener *l,
              const struct sockaddr *peer, socklen_t peerlen);
/* The owner is stopping gracefully: close the connections that are between
 * requests; the others' current response will end with Connection: close. */
void conn_server_drain(struct conn_server *s);
/* Close every connection now (their handlers are stopped). */
void conn_server_abort(struct conn_server *s);
/* The loop's turn-end callback (loop_set_turn_end(loop, conn_server_turn_end, s)):
 * write what the turn's responses left queued. */
void conn_server_turn_end(void *s);
/* Free the connections closed since the last call: at the end of a loop
 * iteration, when no event of the batch can name them any more. */
void conn_server_free_closed(struct conn_server *s);

#endif
