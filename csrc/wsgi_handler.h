/* The WSGI application as a handler (handler.h), over the bridge (wsgi.c)
 * and, with --threads N > 1, the pool (pool.c): where each call runs (on
 * the loop thread or a pool thread, appsched.h), the heartbeat around app
 * calls that the master's --timeout reads, and the pool's completions. */
#ifndef WSGIHOST_WSGI_HANDLER_H
#define WSGIHOST_WSGI_HANDLER_H

#include "config.h"
#include "handler.h"
#include "loop.h"
#include "scoreboard.h"

/* The app must be loaded and wsgi_init() done. With cfg->threads > 1 this
 * starts the pool and watches its eventfd on loop. slot is the worker's
 * heartbeat and pool queue gauge (NULL: none). inline_heartbeat: calls run
 * on the loop thread keep it too, because another process reads it while
 * they run (the master's --timeout); in single-process mode nobody could,
 * the loop that would answer a scrape being the one in the call. Returns
 * NULL after logging. */
struct handler *wsgi_handler_new(struct loop *loop, const struct config *cfg,
                                 struct scoreboard_slot *slot, bool inline_heartbeat);
/* Called on the loop's tick: with threads, the heartbeat reports the oldest
 * call running on a pool thread. */
void wsgi_handler_tick(struct handler *h);
/* Join the pool and free. Every connection must have let go first (calls
 * still queued or running are waited for). */
void wsgi_handler_free(struct handler *h);

#endif
