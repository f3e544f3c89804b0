/* One client connection: reads into the parser, runs requests through the
 * WSGI bridge, flushes the output queue, keep-alive, pipelining, timeouts,
 * lingering and deferred close. */
#ifndef WSGIHOST_CONN_H
#define WSGIHOST_CONN_H

#include <sys/socket.h>

#include "worker.h"

/* Take ownership of an accepted, non-blocking socket. */
void conn_new(struct worker *w, int fd, const struct listener *l,
              const struct sockaddr *peer, socklen_t peerlen);
/* Apply deadlines (header, body, keep-alive, send, linger). */
void conn_check_timeout(struct conn *c, double now);
/* The worker is stopping: close the connection if it is between requests;
 * otherwise its current response will end with Connection: close. */
void conn_drain(struct conn *c);
/* Close now (the app's result is close()d if a response is in progress). */
void conn_abort(struct conn *c);
/* Release a closed connection's memory. */
void conn_free(struct conn *c);
struct conn *conn_next(struct conn *c);
/* --threads: a job handed to the pool is back (called on the loop thread). */
struct pool_job;
void conn_job_done(struct pool_job *job);
/* When the app has been running for this connection's request (0 = not
 * running); what gets "METHOD target from addr". */
double conn_running_since(struct conn *c, char *what, size_t n);

#endif
