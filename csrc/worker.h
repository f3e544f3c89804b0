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
struct scoreboard_slot;
struct http_req;

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
    double accept_resume_at;  /* accepting deferred to a less loaded worker until then */
    unsigned long accept_emfile;  /* accepts refused for lack of fds since the last warning */
    double accept_emfile_warn_at; /* no new EMFILE warning before then */
    bool stopping;
    bool quit;            /* leave the loop now */
    double stop_deadline;
    int exit_code;
    struct scoreboard_slot *slot; /* shared with the master, NULL in single-process mode */
    uint64_t max_requests;    /* recycle after this many (with jitter), 0 = never */
    struct pool *pool;        /* --threads > 1: app calls run here */
    struct reload_watch *reload; /* --reload */
    struct loop_watch reloadwatch;
    struct loop_watch poolwatch;
    size_t n_running;         /* connections whose job is in the pool */
    size_t n_detached;        /* closed connections waiting for their job */
};

/* A worker's whole life: start Python and load the app (unless the master
 * preloaded it), serve until TERM/INT (graceful) or QUIT (quick), finalize.
 * Returns the exit code: 0, or WORKER_BOOT_FAILED when the app did not load. */
#define WORKER_BOOT_FAILED 3
int worker_serve(const struct config *cfg, struct listener *ls, size_t n_ls,
                 struct scoreboard_slot *slot, bool multiprocess);

/* The app is running for req (heartbeat for the master's --timeout). */
void worker_busy(struct worker *w, const struct http_req *req);
void worker_idle(struct worker *w);
/* Count a finished request; starts a graceful recycle at --max-requests. */
void worker_request_done(struct worker *w);

/* Used by conn.c */
void worker_conn_closed(struct worker *w, struct conn *c);

#endif
