/* Static files from the event loop, as a handler in front of the app
 * (handler.h): --static URL_PREFIX=DIR, with the SPA fallback, the app's
 * excluded prefixes, Content-Type (mime.h), ETag / Last-Modified and the
 * conditional requests, single byte ranges, Cache-Control, precompressed
 * .br / .gz siblings, and paths that cannot leave DIR (beneath.h). A
 * request that is not its own is DECLINED and goes on to the app.
 *
 * The site (directories opened, types read) is built once by main(), before
 * the workers are forked and before privileges are dropped; each worker
 * puts its handler in its chain. */
#ifndef WSGIHOST_STATIC_H
#define WSGIHOST_STATIC_H

#include "config.h"
#include "handler.h"

/* NULL with err set when a directory or fallback file cannot be used. Call
 * only when cfg->n_static > 0. */
struct static_site *static_site_new(const struct config *cfg, char *err, size_t errsz);
void static_site_free(struct static_site *s);

/* The site's handler, in front of next (one per process). */
struct handler *static_site_handler(struct static_site *s, struct handler *next);

#endif
