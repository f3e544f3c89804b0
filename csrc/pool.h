/* A fixed pool of threads that run jobs handed over by the event loop, and
 * hand them back through an eventfd the loop watches. The loop keeps all
 * socket I/O; a job only runs the application (--threads N). */
#ifndef WSGIHOST_POOL_H
#define WSGIHOST_POOL_H

#include <stdatomic.h>

#include "util.h"

struct pool_job;
typedef void (*pool_fn)(struct pool_job *job);

/* Embed in the owner; container_of() gets it back. */
struct pool_job {
    pool_fn run;  /* runs on a pool thread */
    struct pool_job *next;
    int pin;      /* thread index to run on, or -1 for any */
    int ran_on;   /* set by the pool: the thread that ran it */
};

struct pool;

/* Start n threads; each calls thread_begin() first and thread_end() last
 * (both may be NULL). Returns NULL after logging. */
struct pool *pool_new(int n, void (*thread_begin)(void), void (*thread_end)(void));
/* The eventfd that becomes readable when finished jobs are waiting. */
int pool_fd(const struct pool *p);
/* Run job on any thread (job->pin = -1) or on thread job->pin. A WSGI
 * result must be iterated on the thread that called the app: thread-locals
 * and context variables (Flask's stream_with_context) live there. */
void pool_submit(struct pool *p, struct pool_job *job);
/* Keep *gauge at the number of jobs waiting for a thread (submitted, not
 * started yet): the --metrics-bind queue length. NULL stops it. */
void pool_count_waiting(struct pool *p, _Atomic int64_t *gauge);
/* Take every finished job, oldest first (a singly linked list via next). */
struct pool_job *pool_take_done(struct pool *p);
/* Stop after the queued jobs, join the threads, free. */
void pool_free(struct pool *p);

#endif
