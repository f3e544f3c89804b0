/* One serving process: the event loop over the listening sockets, its
 * connections, signals, timeouts and graceful drain. In single-process mode
 * main() runs it directly; with -w the master forks it. */
#ifndef WSGIHOST_WORKER_H
#define WSGIHOST_WORKER_H

#include "config.h"
#include "listener.h"
#include "scoreboard.h"

/* A worker's whole life: start Python and load the app (unless the master
 * preloaded it), serve until TERM/INT (graceful) or QUIT (quick), finalize.
 * Returns the exit code: 0, or WORKER_BOOT_FAILED when the app did not load.
 * in_master: one of a master's workers (else the single process);
 * wsgi.multiprocess is in_master with more than one worker configured.
 * metrics: the --metrics-bind socket to serve in single-process mode (the
 * master serves it with -w), else NULL. */
#define WORKER_BOOT_FAILED 3
int worker_serve(const struct config *cfg, struct listener *ls, size_t n_ls,
                 struct scoreboard_slot *slot, bool in_master, struct listener *metrics);

#endif
