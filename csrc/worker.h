/* One serving process: the event loop over the listening sockets, its
 * connections, signals, timeouts and graceful drain. In single-process mode
 * main() runs it directly; with -w the master forks it. */
#ifndef WSGIHOST_WORKER_H
#define WSGIHOST_WORKER_H

#include "config.h"
#include "http.h"
#include "listener.h"
#include "loop.h"

struct conn;

struct worker_listener {
    struct loop_watch watch;
    struct listener *l;
    struct worker *w;
};

struct worker {
    const struct config *cfg;
    struct loop *loop;
    struct http_limits limits;
    struct worker_listener *ls;
    size_t n_ls;
    struct loop_watch sigwatch;
    struct conn *conns;   /* every open connection */
    struct conn *zombies; /* closed, freed at the end of the loop iteration */
    size_t n_conns;
    uint64_t requests;
    bool accepting;
    bool stopping;
    bool quit;            /* leave the loop now */
    double stop_deadline;
    int exit_code;
};

/* Serve on the given listeners until TERM/INT (graceful) or QUIT (quick).
 * Python and the app must be loaded. Returns the process exit code. */
int worker_run(const struct config *cfg, struct listener *ls, size_t n_ls);

/* Used by conn.c */
void worker_conn_closed(struct worker *w, struct conn *c);

#endif
