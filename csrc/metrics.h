/* The counters one worker keeps about the requests and connections it
 * serves, for --metrics-bind. They live in the worker's scoreboard slot
 * (shared memory): the worker's loop thread is their only writer, so an
 * update is a relaxed load and store (a plain add, no lock, no locked
 * instruction), and the reader (the master) sums the slots with relaxed
 * loads. A 64-bit aligned load never tears on the platforms we build for,
 * so a scrape sees each counter before or after an update, never between.
 *
 * Counters never go backwards: when a worker dies, the master adds its
 * counters to a total of its own (metrics_fold()) and zeroes the slot before
 * a new worker takes it, in the same thread that answers scrapes.
 *
 * Knows no HTTP module, no worker, no Python: conn.c records through it. */
#ifndef WSGIHOST_METRICS_H
#define WSGIHOST_METRICS_H

#include <stdatomic.h>
#include <string.h>

#include "util.h"

enum metrics_method {
    METRICS_GET,
    METRICS_HEAD,
    METRICS_POST,
    METRICS_PUT,
    METRICS_DELETE,
    METRICS_PATCH,
    METRICS_OPTIONS,
    METRICS_OTHER,
    METRICS_N_METHODS,
};

#define METRICS_N_CLASSES 5 /* 1xx .. 5xx */

/* Request duration histogram upper bounds, microseconds (1 ms .. 10 s);
 * one more bucket counts the rest (+Inf). */
#define METRICS_BUCKETS_US                                                                         \
    1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, 2500000, 5000000,      \
        10000000
#define METRICS_N_BOUNDS  13
#define METRICS_N_BUCKETS (METRICS_N_BOUNDS + 1)

typedef _Atomic uint64_t metrics_counter;

struct metrics_counters {
    /* Counters: only ever increase while the worker lives. */
    metrics_counter requests[METRICS_N_METHODS][METRICS_N_CLASSES];
    metrics_counter duration[METRICS_N_BUCKETS]; /* per bucket, not cumulative */
    metrics_counter duration_us;                 /* sum of the durations */
    metrics_counter bytes_in;                    /* read from clients (after TLS) */
    metrics_counter bytes_out;                   /* written to clients (before TLS) */
    metrics_counter conns_accepted;
    metrics_counter tls_ok;
    metrics_counter tls_failed;
    /* Gauges: what is true now; a dead worker's are dropped, not folded. */
    _Atomic int64_t conns_open;
    _Atomic int64_t conns_active; /* a request of theirs is being answered */
    _Atomic int64_t pool_queued;  /* app calls waiting for a pool thread (--threads) */
};

/* The single writer's increment. */
static inline void
metrics_add(metrics_counter *c, uint64_t n)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
                          memory_order_relaxed);
}

static inline void
metrics_gauge_add(_Atomic int64_t *g, int64_t n)
{
    atomic_store_explicit(g, atomic_load_explicit(g, memory_order_relaxed) + n,
                          memory_order_relaxed);
}

static inline uint64_t
metrics_get(const metrics_counter *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

/* The method's label; methods come from llhttp's table (upper case). */
static inline enum metrics_method
metrics_method_of(const char *m, size_t n)
{
    switch (n) {
    case 3:
        return memcmp(m, "GET", 3) == 0   ? METRICS_GET
               : memcmp(m, "PUT", 3) == 0 ? METRICS_PUT
                                          : METRICS_OTHER;
    case 4:
        return memcmp(m, "HEAD", 4) == 0   ? METRICS_HEAD
               : memcmp(m, "POST", 4) == 0 ? METRICS_POST
                                           : METRICS_OTHER;
    case 5:
        return memcmp(m, "PATCH", 5) == 0 ? METRICS_PATCH : METRICS_OTHER;
    case 6:
        return memcmp(m, "DELETE", 6) == 0 ? METRICS_DELETE : METRICS_OTHER;
    case 7:
        return memcmp(m, "OPTIONS", 7) == 0 ? METRICS_OPTIONS : METRICS_OTHER;
    default:
        return METRICS_OTHER;
    }
}

/* One response: its request's method, the status sent, and the seconds
 * from the request's first byte to the end of the response (queued). */
static inline void
metrics_request(struct metrics_counters *m, const char *method, size_t method_len, int status,
                double seconds)
{
    static const int64_t bounds[METRICS_N_BOUNDS] = {METRICS_BUCKETS_US};
    int cls = status / 100 - 1;
    if (UNLIKELY(cls < 0 || cls >= METRICS_N_CLASSES)) {
        cls = cls < 0 ? 0 : METRICS_N_CLASSES - 1;
    }
    metrics_add(&m->requests[metrics_method_of(method, method_len)][cls], 1);
    int64_t us = seconds > 0 ? (int64_t)(seconds * 1e6) : 0;
    int b = 0;
    while (b < METRICS_N_BOUNDS && us > bounds[b]) {
        b++;
    }
    metrics_add(&m->duration[b], 1);
    metrics_add(&m->duration_us, (uint64_t)us);
}

/* The histogram's bounds in microseconds, for the exposition. */
extern const int64_t metrics_bounds_us[METRICS_N_BOUNDS];
extern const char *const metrics_method_names[METRICS_N_METHODS];

/* A worker is gone: add its counters to total and zero its slot's
 * counters and gauges (the reader sums total and the slots). */
void metrics_fold(struct metrics_counters *total, struct metrics_counters *dead);
/* Add src's counters into sum (gauges too), for a scrape. */
void metrics_sum(struct metrics_counters *sum, const struct metrics_counters *src);

#endif
