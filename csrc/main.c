/* wsgihost: argv -> config, then serve. Exit codes: 0 after a clean stop,
 * 1 when start-up fails (bind, import, ...), 2 for a usage error. */
#include <errno.h>
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

static void
die_startup(const char *msg)
{
    fprintf(stderr, "wsgihost: error: %s\n", msg);
}

int
main(int argc, char **argv)
{
    struct config cfg;
    config_defaults(&cfg);
    int rc = config_parse(&cfg, argc, argv);
    if (rc != 0) {
        return rc > 0 ? 0 : 2;
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

    log_info("Starting wsgihost %s", WSGIHOST_VERSION);
    for (size_t i = 0; i < n_binds; i++) {
        log_info("Listening at: %s (%d)", ls[i].display, (int)getpid());
    }
    if (cfg.workers > 0) {
        if (cfg.preload && (pyrt_init(&cfg) != 0 || pyrt_load_app(cfg.app_spec) != 0)) {
            rc = 1;
        } else {
            rc = master_run(&cfg, ls, n_binds, NULL);
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
    for (size_t i = 0; i < n_binds; i++) {
        listener_close(&ls[i], true);
    }
    free(ls);
    log_close();
    return rc;
}
