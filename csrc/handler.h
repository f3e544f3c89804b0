/* The interface between a connection and whatever answers its requests, in
 * the spirit of h2o's handlers and generators and NGINX Unit's request and
 * close callbacks. The connection owns the socket, the parser and the output
 * queue; a handler only produces a response into ctx->resp:
 *   handle()  a complete request (head and body buffered);
 *   proceed() a PAUSED response may go on: the queue has drained;
 *   stop()    the client is gone (or the worker quits) while a response is
 *             PAUSED or LATER.
 * The worker builds the chain (today just WSGI) and gives it to its
 * connections; the first handler that does not decline answers. conn.c
 * knows this file and nothing behind it. */
#ifndef WSGIHOST_HANDLER_H
#define WSGIHOST_HANDLER_H

#include "http.h"
#include "http_resp.h"

enum handler_rc {
    HANDLER_DONE,     /* the response is complete; keep-alive as resp->keep_alive says */
    HANDLER_PAUSED,   /* more to come: proceed() once the output queue has drained */
    HANDLER_CLOSE,    /* cut short: flush what is queued, then close */
    HANDLER_LATER,    /* running elsewhere (a pool thread): until ctx->finished() the
                       * connection touches neither the request, the response nor its
                       * queue */
    HANDLER_DECLINED, /* handle() only: not this handler's request, ask the next one */
};

struct handler_ctx;

struct handler {
    enum handler_rc (*handle)(struct handler *h, struct handler_ctx *x);
    /* Never DECLINED. */
    enum handler_rc (*proceed)(struct handler *h, struct handler_ctx *x);
    /* Let go of the response in progress. Returns false when done with x
     * now; true when something still runs with it: the handler then calls
     * x->finished() once it has let go (the connection is freed then). */
    bool (*stop)(struct handler *h, struct handler_ctx *x);
    struct handler *next; /* the chain */
};

/* One per connection, embedded in it. */
struct handler_ctx {
    /* Set by the connection before handle(); valid until the response ends. */
    struct http_req *req;
    struct http_resp *resp;
    /* Called by the handler on the loop thread, never from inside handle()
     * or proceed(): the LATER work is over, with its result (DONE, PAUSED
     * or CLOSE), or, after stop() returned true, the handler let go. */
    void (*finished)(struct handler_ctx *x, enum handler_rc rc);
    /* The handler's own, for the response in progress (NULL before handle()). */
    void *data;
};

#endif
