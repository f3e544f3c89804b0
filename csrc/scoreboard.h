/* The shared-memory worker slots: one per worker, written by that worker,
 * read by the master (heartbeat for --timeout, boot state, the counters of
 * --metrics-bind) and by the other workers (load, for accept balancing).
 * The master maps them before forking, so every worker inherits the whole
 * table. A torn read of req[] only garbles a log line. */
#ifndef WSGIHOST_SCOREBOARD_H
#define WSGIHOST_SCOREBOARD_H

#include "http.h"
#include "metrics.h"

struct scoreboard_slot {
    _Atomic int pid;
    _Atomic int booted;            /* the app is loaded, serving */
    _Atomic int64_t busy_since_ms; /* now_mono_ms() when the current app call began, 0 = idle */
    _Atomic uint64_t requests;
    _Atomic int n_conns;           /* open connections whose client is there, for accept balancing */
    _Atomic int accepting;         /* watching the listening sockets */
    char req[256];                 /* "GET /path from 1.2.3.4" of the current call */
    struct metrics_counters metrics; /* --metrics-bind: this worker's counters */
};

#define SCOREBOARD_SLOTS 1024

/* Every worker's slot (SCOREBOARD_SLOTS of them), NULL until
 * scoreboard_map() (and always in single-process mode). */
extern struct scoreboard_slot *scoreboard;

/* Map the table shared (the master, before forking). Returns -1 after logging. */
int scoreboard_map(void);
void scoreboard_unmap(void);

/* The worker owning s is in an app call for req since now (the heartbeat
 * the master's --timeout reads). */
void scoreboard_busy(struct scoreboard_slot *s, const struct http_req *req);
/* The same, for a call that began at since_ms (now_mono_ms()). */
void scoreboard_busy_since(struct scoreboard_slot *s, int64_t since_ms, const struct http_req *req);
static inline void
scoreboard_idle(struct scoreboard_slot *s)
{
    s->busy_since_ms = 0;
}
/* "METHOD target from addr" for the heartbeat and the timeout's log line. */
void scoreboard_describe(char *what, size_t n, const struct http_req *req);

#endif
