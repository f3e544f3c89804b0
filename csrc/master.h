/* The pre-fork master (-w N): forks and supervises workers, heartbeat
 * timeouts, and gunicorn's signals (TERM/INT graceful, QUIT quick, HUP
 * reload, TTIN/TTOU, USR1, USR2's upgrade in upgrade.h). Never runs application code unless --preload;
 * the config file's master hooks run from its loop (wsgi_hooks.h). */
#ifndef WSGIHOST_MASTER_H
#define WSGIHOST_MASTER_H

#include "config.h"
#include "listener.h"

/* Re-reads the configuration on HUP (argv, env, file); cfg is replaced. */
typedef int (*master_reload_fn)(struct config *cfg);

/* metrics: the --metrics-bind socket the master serves, or NULL. */
int master_run(struct config *cfg, struct listener *ls, size_t n_ls, struct listener *metrics,
               master_reload_fn reload);

#endif
