/* Where a request's app call runs when the worker has a thread pool: on a
 * pool thread (the loop stays free while the app waits on I/O) or inline on
 * the loop thread (no hand-off between threads: as fast as --threads 1).
 * Learned per route (method + path, without the query), from the time each
 * call held Python (wsgi_last_span(): from taking the GIL to giving it
 * back, so waiting for the GIL does not count, a sleep or I/O inside the
 * app does):
 *   - a route the table does not know runs on the pool (the safe choice);
 *   - a pool call shorter than APPSCHED_QUICK scores one point, a longer one
 *     takes APPSCHED_SLOW_COST away (a blocking route never gets anywhere,
 *     a CPU-bound one with now and then a garbage collection or a
 *     preemption still does); at APPSCHED_STREAK points its calls run inline;
 *   - inline, two calls (or resumes) out of the last eight that held Python
 *     longer than APPSCHED_INLINE_MAX, or one longer than
 *     APPSCHED_INLINE_LONG, send it back to the pool; each time that
 *     happens the score it needs to come back doubles (up to 128 times), so
 *     a route that is now and then slow costs the loop that wait rarely.
 * Only the loop thread calls these. */
#ifndef WSGIHOST_APPSCHED_H
#define WSGIHOST_APPSCHED_H

#include "util.h"

#define APPSCHED_QUICK       0.001
#define APPSCHED_SLOW_COST   8
#define APPSCHED_STREAK      32
#define APPSCHED_INLINE_MAX  0.002
#define APPSCHED_INLINE_LONG 0.050

uint64_t appsched_key(const char *method, size_t method_len, const char *path, size_t path_len);
/* true: run this route's next call on the loop thread. */
bool appsched_inline(uint64_t key);
/* How long an inline call, or one resume of it, held Python. */
void appsched_inline_took(uint64_t key, double seconds);
/* How long a pool thread held Python for one call or resume. */
void appsched_pool_took(uint64_t key, double seconds);
/* Routes currently run inline (for the debug log and tests). */
size_t appsched_inline_routes(void);

#endif
