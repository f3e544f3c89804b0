/* wsgihost: argv -> config, then serve. Exit codes: 0 after a clean stop,
 * 1 when start-up fails (bind, import, ...), 2 for a usage error. */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "build_config.h"
#include "config.h"
#include "listener.h"
#include "master.h"
#include "log.h"
#include "pyrt.h"
#include "sig.h"
#include "worker.h"

static int saved_argc;
static char **saved_argv;

/* HUP: read argv, $WSGIHOST_CMD_ARGS and the config file again. The
 * sockets stay as they are (they are bound already). */
static int
reload_config(struct config *cfg)
{
    struct config fresh;
    config_defaults(&fresh);
    if (config_parse(&fresh, saved_argc, saved_argv) != 0) {
        return -1;
    }
    if (fresh.n_binds != cfg->n_binds) {
        log_warning("reload: --bind changes need a restart; keeping the current sockets");
    }
    memcpy(fresh.binds, cfg->binds, sizeof(fresh.binds));
    fresh.n_binds = cfg->n_binds;
    if (fresh.workers < 1) {
        fresh.workers = cfg->workers;
    }
    *cfg = fresh;
    return 0;
}

static void
die_startup(const char *msg)
{
    fprintf(stderr, "wsgihost: error: %s\n", msg);
}

/* --user/--group: after binding (so ports < 1024 work), before Python. */
static int
drop_privileges(const struct config *cfg)
{
    char msg[512];
    gid_t gid = (gid_t)-1;
    if (cfg->group != NULL) {
        struct group *gr = getgrnam(cfg->group);
        char *end;
        unsigned long n = strtoul(cfg->group, &end, 10);
        if (gr != NULL) {
            gid = gr->gr_gid;
        } else if (*end == '\0') {
            gid = (gid_t)n;
        } else {
            snprintf(msg, sizeof(msg), "--group %s: no such group", cfg->group);
            die_startup(msg);
            return -1;
        }
    }
    if (cfg->user != NULL) {
        struct passwd *pw = getpwnam(cfg->user);
        char *end;
        unsigned long n = strtoul(cfg->user, &end, 10);
        uid_t uid;
        if (pw == NULL && *end != '\0') {
            snprintf(msg, sizeof(msg), "--user %s: no such user", cfg->user);
            die_startup(msg);
            return -1;
        }
        uid = pw != NULL ? pw->pw_uid : (uid_t)n;
        if (gid == (gid_t)-1 && pw != NULL) {
            gid = pw->pw_gid;
        }
        if (gid != (gid_t)-1 && (setgroups(0, NULL) != 0 && errno != EPERM)) {
            snprintf(msg, sizeof(msg), "--user %s: setgroups: %s", cfg->user, strerror(errno));
            die_startup(msg);
            return -1;
        }
        if (gid != (gid_t)-1 && setgid(gid) != 0) {
            snprintf(msg, sizeof(msg), "--group: setgid(%u): %s", (unsigned)gid, strerror(errno));
            die_startup(msg);
            return -1;
        }
        if (setuid(uid) != 0) {
            snprintf(msg, sizeof(msg), "--user %s: setuid: %s", cfg->user, strerror(errno));
            die_startup(msg);
            return -1;
        }
    } else if (gid != (gid_t)-1 && setgid(gid) != 0) {
        snprintf(msg, sizeof(msg), "--group: setgid(%u): %s", (unsigned)gid, strerror(errno));
        die_startup(msg);
        return -1;
    }
    return 0;
}

static int
write_pidfile(const struct config *cfg)
{
    if (cfg->pidfile == NULL) {
        return 0;
    }
    FILE *f = fopen(cfg->pidfile, "w");
    if (f == NULL || fprintf(f, "%d\n", (int)getpid()) < 0 || fclose(f) != 0) {
        char msg[512];
        snprintf(msg, sizeof(msg), "--pid %s: %s", cfg->pidfile, strerror(errno));
        die_startup(msg);
        return -1;
    }
    return 0;
}

int
main(int argc, char **argv)
{
    struct config cfg;
    config_defaults(&cfg);
    saved_argc = argc;
    saved_argv = argv;
    int rc = config_parse(&cfg, argc, argv);
    if (rc != 0) {
        return rc > 0 ? 0 : 2;
    }
    if (cfg.threads == 0) {
        /* flask run is threaded: one slow request must not freeze the
         * others in dev-server mode. With -w, gunicorn's default of 1. */
        cfg.threads = cfg.workers > 0 ? 1 : 4;
    }
    if (cfg.reload && cfg.workers == 0) {
        /* Reloading restarts the worker, which needs a master to do it. */
        cfg.workers = 1;
    }
    if (log_open(cfg.error_logfile, cfg.log_level, cfg.access_logfile, cfg.access_logformat) !=
        0) {
        return 1;
    }
    /* Our handlers go in before Python starts, so that `import signal`
     * in the app's dependencies leaves them alone. */
    if (sig_init() != 0) {
        return 1;
    }
    if (cfg.umask >= 0) {
        umask((mode_t)cfg.umask);
    }
    if (cfg.chdir != NULL && chdir(cfg.chdir) != 0) {
        char msg[512];
        snprintf(msg, sizeof(msg), "--chdir %s: %s", cfg.chdir, strerror(errno));
        die_startup(msg);
        return 1;
    }

    static const char *default_bind = "127.0.0.1:8000";
    const char *const *binds = cfg.n_binds ? cfg.binds : &default_bind;
    size_t n_binds = cfg.n_binds ? cfg.n_binds : 1;
    struct listener *ls = xcalloc(n_binds, sizeof(*ls));
    for (size_t i = 0; i < n_binds; i++) {
        char err[512];
        if (listener_open(&ls[i], binds[i], cfg.backlog, err, sizeof(err)) != 0) {
            die_startup(err);
            for (size_t j = 0; j < i; j++) {
                listener_close(&ls[j], true);
            }
            free(ls);
            return 1;
        }
    }

    if (drop_privileges(&cfg) != 0 || write_pidfile(&cfg) != 0) {
        for (size_t i = 0; i < n_binds; i++) {
            listener_close(&ls[i], true);
        }
        free(ls);
        return 1;
    }
    log_info("Starting wsgihost %s", WSGIHOST_VERSION);
    for (size_t i = 0; i < n_binds; i++) {
        log_info("Listening at: %s (%d)", ls[i].display, (int)getpid());
    }
    if (cfg.workers > 0) {
        if (cfg.preload && (pyrt_init(&cfg) != 0 || pyrt_load_app(cfg.app_spec) != 0)) {
            rc = 1;
        } else {
            rc = master_run(&cfg, ls, n_binds, reload_config);
            if (cfg.preload) {
                pyrt_finalize();
            }
        }
    } else {
        log_info("Serving %s in a single process (epoll)", cfg.app_spec);
        rc = worker_serve(&cfg, ls, n_binds, NULL, false);
        if (rc == WORKER_BOOT_FAILED) {
            rc = 1;
        }
    }

    log_info("Shutting down");
    if (cfg.pidfile != NULL) {
        unlink(cfg.pidfile);
    }
    for (size_t i = 0; i < n_binds; i++) {
        listener_close(&ls[i], true);
    }
    free(ls);
    log_close();
    return rc;
}
