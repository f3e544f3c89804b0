#include "metrics.h"

const int64_t metrics_bounds_us[METRICS_N_BOUNDS] = {METRICS_BUCKETS_US};

const char *const metrics_method_names[METRICS_N_METHODS] = {
    "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "other",
};

/* The counters as one flat array, so that fold and sum cannot forget one
 * added to the struct later. */
#define N_COUNTERS (offsetof(struct metrics_counters, conns_open) / sizeof(metrics_counter))
_Static_assert(offsetof(struct metrics_counters, conns_open) % sizeof(metrics_counter) == 0,
               "the counters come first, gauges after");

void
metrics_sum(struct metrics_counters *sum, const struct metrics_counters *src)
{
    metrics_counter *to = (metrics_counter *)sum;
    const metrics_counter *from = (const metrics_counter *)src;
    for (size_t i = 0; i < N_COUNTERS; i++) {
        metrics_add(&to[i], metrics_get(&from[i]));
    }
    metrics_gauge_add(&sum->conns_open,
                      atomic_load_explicit(&src->conns_open, memory_order_relaxed));
    metrics_gauge_add(&sum->conns_active,
                      atomic_load_explicit(&src->conns_active, memory_order_relaxed));
    metrics_gauge_add(&sum->pool_queued,
                      atomic_load_explicit(&src->pool_queued, memory_order_relaxed));
}

void
metrics_fold(struct metrics_counters *total, struct metrics_counters *dead)
{
    metrics_counter *to = (metrics_counter *)total;
    metrics_counter *from = (metrics_counter *)dead;
    for (size_t i = 0; i < N_COUNTERS; i++) {
        metrics_add(&to[i], metrics_get(&from[i]));
        atomic_store_explicit(&from[i], 0, memory_order_relaxed);
    }
    atomic_store_explicit(&dead->conns_open, 0, memory_order_relaxed);
    atomic_store_explicit(&dead->conns_active, 0, memory_order_relaxed);
    atomic_store_explicit(&dead->pool_queued, 0, memory_order_relaxed);
}
