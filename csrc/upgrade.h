/* USR2, gunicorn's binary upgrade: the master forks a child that runs the
 * config file's pre_exec(server) and re-executes the wsgihost executable
 * (by its path, so a binary replaced on disk is the one that runs) with the
 * command line and working directory it started with. The listening
 * sockets (and --metrics-bind's) are passed open, so no connection is
 * refused while both run. The new master writes PIDFILE.2 until its parent
 * (the old master) is gone, then renames it to PIDFILE: "promoted", as in
 * gunicorn. A unix socket's path is unlinked only by a master that owns it
 * alone: not the old one while the new one lives, not the new one before it
 * is promoted.
 *
 * The old master is told the new one's fate by reap() (upgrade_reaped()):
 * if the new master fails to start, the old one serves on and can be sent
 * USR2 again. */
#ifndef WSGIHOST_UPGRADE_H
#define WSGIHOST_UPGRADE_H

#include <sys/types.h>

#include "listener.h"
#include "util.h"

/* At start, before the environment is changed: the executable's path, the
 * working directory, and whether this process is the new master of an
 * upgrade ($WSGIHOST_UPGRADE_FROM). argv stays referenced. */
void upgrade_init(int argc, char **argv);

/* The new master of an upgrade: the sockets the old master passed
 * ($WSGIHOST_FDS) become *out, --metrics-bind's ($WSGIHOST_METRICS_FD, or
 * -1) *metrics_fd, and the variables leave the environment (the app's
 * children never see them). Returns how many (0 when not upgrading), or -1
 * with err filled. */
int upgrade_inherit(struct listener **out, int *metrics_fd, char *err, size_t errsz);

/* The old master's pid while this new master is not promoted, else 0. */
pid_t upgrade_old_master(void);

/* The pidfile to write: PIDFILE.2 while upgrade_old_master() != 0. */
const char *upgrade_pidfile(const char *pidfile);

/* Called from the master's loop: once the old master is gone, rename
 * PIDFILE.2 to PIDFILE and say so. True when it happened now. */
bool upgrade_check_promoted(const char *pidfile);

/* USR2 in the master: start the new master, or say why not (logged).
 * Returns its pid, or 0. */
pid_t upgrade_start(const struct listener *ls, size_t n_ls, const struct listener *metrics);

/* reap(): true (after logging how it ended) when pid was the new master. */
bool upgrade_reaped(pid_t pid, int status);

/* May this process unlink its unix sockets' paths at exit? */
bool upgrade_owns_sockets(void);

#endif
