/* The Prometheus text exposition format (version 0.0.4) of what the
 * scoreboard and its owner know: the workers' counters summed (with those
 * of dead workers, folded by the master), per-worker state, the master's
 * supervision counters and the listen backlogs. Only reads; no Python. */
#ifndef WSGIHOST_PROM_H
#define WSGIHOST_PROM_H

#include "buf.h"
#include "listener.h"
#include "metrics.h"
#include "scoreboard.h"

#define PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* One worker process as its owner sees it. */
struct prom_worker {
    int index; /* the slot's, the worker="N" label */
    int pid;   /* 0 = forked, not ready yet */
    const struct scoreboard_slot *slot;
    uint64_t requests; /* served in this slot so far, by the workers before it too */
    uint64_t restarts; /* workers started in this slot after the first */
};

struct prom_view {
    const struct metrics_counters *folded; /* dead workers' counters, or NULL */
    const struct prom_worker *workers;     /* every live worker; their slots are summed */
    size_t n_workers;
    int workers_desired;
    uint64_t boots, deaths, timeouts;
    const struct listener *ls; /* the app's listeners, for their backlog */
    size_t n_ls;
    bool draining;
    double start_wall;
};

/* Append the whole exposition to out. */
void prom_render(struct buf *out, const struct prom_view *v);

#endif
