/* The pre-fork master (-w N): forks and supervises workers, heartbeat
 * timeouts, and gunicorn's signals (TERM/INT graceful, QUIT quick, HUP
 * reload, TTIN/TTOU, USR1). Never runs application code unless --preload. */
#ifndef WSGIHOST_MASTER_H
#define WSGIHOST_MASTER_H

#include "config.h"
#include "listener.h"

/* Shared memory between the master and one worker. The worker writes, the
 * master reads; a torn read of req[] only garbles a log line. */
struct worker_slot {
    _Atomic int pid;
    _Atomic int booted;        /* the app is loaded, serving */
    _Atomic int64_t busy_since_ms; /* monotonic ms when the current app call began, 0 = idle */
    _Atomic uint64_t requests;
    _Atomic int n_conns;       /* open connections, for accept balancing */
    _Atomic int accepting;     /* watching the listening sockets */
    char req[256];             /* "GET /path from 1.2.3.4" of the current call */
};

/* Every worker's slot (MAX_SLOTS of them), inherited by the workers so
 * each can see how loaded the others are. */
#define MASTER_MAX_SLOTS 1024
extern struct worker_slot *master_slots;

/* Re-reads the configuration on HUP (argv, env, file); cfg is replaced. */
typedef int (*master_reload_fn)(struct config *cfg);

int master_run(struct config *cfg, struct listener *ls, size_t n_ls, master_reload_fn reload);

#endif
