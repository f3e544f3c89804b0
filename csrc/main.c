/* wsgihost: argv -> config, then serve (main.h). */
#include <errno.h>
#include <limits.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "banner.h"
#include "build_config.h"
#include "config.h"
#include "hostpy.h"
#include "listener.h"
#include "master.h"
#include "metrics_server.h"
#include "log.h"
#include "main.h"
#include "proxy.h"
#include "proctitle.h"
#include "pyrt.h"
#include "sig.h"
#include "static.h"
#include "statsd.h"
#include "tls.h"
#include "upgrade.h"
#include "worker.h"
#include "wsgi_hooks.h"

static int saved_argc;
static char **saved_argv;
/* The listeners and their TLS context, for reload_config. */
static struct listener *saved_ls;
static size_t saved_n_ls;
static struct tls_ctx *tls_ctx;
/* --metrics-bind's socket (fd -1 when off). */
static struct listener metrics_l = {.fd = -1};

/* Close (and unlink) the first n listeners, free them and the TLS context:
 * every way out of main() once sockets are bound. */
static void
close_listeners(struct listener *ls, size_t n, struct tls_ctx *ctx)
{
    /* Not while the other master of an upgrade serves the same sockets. */
    bool owned = upgrade_owns_sockets();
    for (size_t i = 0; i < n; i++) {
        listener_close(&ls[i], owned);
    }
    free(ls);
    tls_ctx_free(ctx);
    if (metrics_l.fd >= 0) {
        listener_close(&metrics_l, owned);
    }
}

/* Point every listener at ctx (TLS applies to every --bind, as in
 * gunicorn) and say so in the address logged. */
static void
set_tls(struct listener *ls, size_t n, struct tls_ctx *ctx)
{
    for (size_t i = 0; i < n; i++) {
        ls[i].tls = ctx;
        bool https = strncmp(ls[i].display, "https://", 8) == 0;
        if (ctx != NULL && !https && strncmp(ls[i].display, "http://", 7) == 0) {
            char d[sizeof(ls[i].display)];
            snprintf(d, sizeof(d), "https://%s", ls[i].display + 7);
            memcpy(ls[i].display, d, sizeof(d));
        } else if (ctx == NULL && https) {
            char d[sizeof(ls[i].display)];
            snprintf(d, sizeof(d), "http://%s", ls[i].display + 8);
            memcpy(ls[i].display, d, sizeof(d));
        }
    }
}

static void set_title(const struct config *cfg, const char *role);

/* HUP: read argv, $WSGIHOST_CMD_ARGS and the config file again. The
 * sockets stay as they are (they are bound already). */
/* Two values of one optional setting are the same (unset = empty). */
static bool
same_setting(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

static int
reload_config(struct config *cfg)
{
    struct config fresh;
    config_defaults(&fresh);
    if (config_parse(&fresh, saved_argc, saved_argv) != 0) {
        config_free(&fresh);
        return -1;
    }
    if (fresh.n_binds != cfg->n_binds) {
        log_warning("reload: --bind changes need a restart; keeping the current sockets");
    }
    memcpy(fresh.binds, cfg->binds, sizeof(fresh.binds));
    fresh.n_binds = cfg->n_binds;
    if (!same_setting(fresh.metrics_bind, cfg->metrics_bind)) {
        log_warning("reload: --metrics-bind changes need a restart; keeping %s",
                    cfg->metrics_bind ? cfg->metrics_bind : "none");
    }
    fresh.metrics_bind = cfg->metrics_bind;
    if (!same_setting(fresh.statsd_host, cfg->statsd_host) ||
        !same_setting(fresh.statsd_prefix, cfg->statsd_prefix) ||
        !same_setting(fresh.dogstatsd_tags, cfg->dogstatsd_tags)) {
        log_warning("reload: statsd changes need a restart; keeping %s",
                    cfg->statsd_host ? cfg->statsd_host : "none");
    }
    fresh.statsd_host = cfg->statsd_host;
    fresh.statsd_prefix = cfg->statsd_prefix;
    fresh.dogstatsd_tags = cfg->dogstatsd_tags;
    fresh.statsd = cfg->statsd;
    if (fresh.workers < 1) {
        fresh.workers = cfg->workers;
    }
    /* The static directories are opened again (a new --static, or the
     * same path naming a new build). */
    if (fresh.n_static > 0) {
        char err[1024];
        fresh.static_site = static_site_new(&fresh, err, sizeof(err));
        if (fresh.static_site == NULL) {
            log_error("reload: %s", err);
            config_free(&fresh);
            return -1;
        }
    }
    /* Certificates are read again, so that a renewed one is served by the
     * new workers without a restart. */
    struct tls_ctx *ctx = NULL;
    if (fresh.certfile != NULL) {
        char err[512];
        ctx = tls_ctx_new(&fresh, err, sizeof(err));
        if (ctx == NULL) {
            log_error("reload: %s", err);
            static_site_free(fresh.static_site);
            config_free(&fresh);
            return -1;
        }
    }
    set_tls(saved_ls, saved_n_ls, ctx);
    tls_ctx_free(tls_ctx); /* the running workers have their own copy */
    tls_ctx = ctx;
    static_site_free(cfg->static_site); /* so have they of the site */
    config_free(cfg);
    *cfg = fresh;
    set_title(cfg, "master");
    /* The hooks as the file defines them now (a failure keeps the old ones,
     * logged). */
    wsgi_hooks_reload(cfg);
    return 0;
}

static void
die_startup(const char *msg)
{
    fprintf(stderr, "wsgihost: error: %s\n", msg);
}

/* Unix sockets we created belong to the user and group we become, as in
 * gunicorn: with --umask 0o007 and --group www-data, nginx may connect and
 * nobody else. (uid_t)-1 / (gid_t)-1 leave that part alone. */
static int
chown_sockets(uid_t uid, gid_t gid)
{
    for (size_t i = 0; i <= saved_n_ls; i++) {
        const char *path = i < saved_n_ls ? saved_ls[i].unix_path : metrics_l.unix_path;
        if (path != NULL && chown(path, uid, gid) != 0) {
            char msg[512];
            snprintf(msg, sizeof(msg), "cannot give unix:%s to --user/--group: %s", path,
                     strerror(errno));
            die_startup(msg);
            return -1;
        }
    }
    return 0;
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
        if (chown_sockets(uid, gid) != 0) {
            return -1;
        }
        if (cfg->initgroups) {
            /* gunicorn's initgroups: the user's groups, and gid. */
            if (pw == NULL) {
                snprintf(msg, sizeof(msg), "--initgroups: user %s has no entry in the user "
                         "database to read its groups from", cfg->user);
                die_startup(msg);
                return -1;
            }
            if (initgroups(pw->pw_name, gid) != 0 && !(errno == EPERM && getuid() == uid)) {
                snprintf(msg, sizeof(msg), "--initgroups: initgroups(%s): %s", pw->pw_name,
                         strerror(errno));
                die_startup(msg);
                return -1;
            }
        } else if (gid != (gid_t)-1 && (setgroups(0, NULL) != 0 && errno != EPERM)) {
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
    } else if (gid != (gid_t)-1) {
        if (chown_sockets((uid_t)-1, gid) != 0) {
            return -1;
        }
        if (setgid(gid) != 0) {
            snprintf(msg, sizeof(msg), "--group: setgid(%u): %s", (unsigned)gid,
                     strerror(errno));
            die_startup(msg);
            return -1;
        }
    }
    return 0;
}

/* PIDFILE, or PIDFILE.2 for the new master of an upgrade (upgrade.h).
 * Written beside it and renamed into place: `kill $(cat PIDFILE)` never
 * reads a file that is there but still empty. */
static int
write_pidfile(const struct config *cfg)
{
    const char *path = upgrade_pidfile(cfg->pidfile);
    if (path == NULL) {
        return 0;
    }
    char tmp[PATH_MAX + 16];
    snprintf(tmp, sizeof(tmp), "%s.%d.tmp", path, (int)getpid());
    FILE *f = fopen(tmp, "w");
    bool ok = f != NULL && fprintf(f, "%d\n", (int)getpid()) >= 0;
    if (f != NULL && fclose(f) != 0) {
        ok = false;
    }
    if (!ok || rename(tmp, path) != 0) {
        char msg[512];
        snprintf(msg, sizeof(msg), "--pid %s: %s", path, strerror(errno));
        die_startup(msg);
        unlink(tmp);
        return -1;
    }
    return 0;
}

/* At exit: the pidfile goes if it still names us (after an upgrade the new
 * master's may have taken its place), as gunicorn's Pidfile.unlink(). */
static void
remove_pidfile(const struct config *cfg)
{
    const char *path = upgrade_pidfile(cfg->pidfile);
    if (path == NULL) {
        return;
    }
    FILE *f = fopen(path, "r");
    int pid = 0;
    if (f == NULL) {
        return;
    }
    if (fscanf(f, "%d", &pid) == 1 && pid == (int)getpid()) {
        unlink(path);
    }
    fclose(f);
}

/* --check-config (gunicorn's): the settings were checked by config_parse()
 * and the start-up so far; the certificates are read and the app is
 * imported, as a worker would, and nothing is bound. 0, or 1 after saying
 * what failed (the app's traceback). */
static int
check_config(struct config *cfg)
{
    if (cfg->certfile != NULL) {
        char err[1024];
        struct tls_ctx *ctx = tls_ctx_new(cfg, err, sizeof(err));
        if (ctx == NULL) {
            die_startup(err);
            return 1;
        }
        tls_ctx_free(ctx);
    }
    int rc = pyrt_init(cfg) != 0 || pyrt_load_app(cfg->app_spec) != 0 ? 1 : 0;
    if (rc == 0) {
        fprintf(stderr, "wsgihost: --check-config: the configuration is valid and %s loads\n",
                cfg->app_spec);
    } else {
        fprintf(stderr, "wsgihost: --check-config: %s does not load (see above)\n",
                cfg->app_spec);
    }
    if (pyrt_initialized()) {
        pyrt_finalize();
    }
    static_site_free(cfg->static_site);
    cfg->static_site = NULL;
    statsd_free(cfg->statsd);
    cfg->statsd = NULL;
    config_free(cfg);
    log_close();
    return rc;
}

/* -n/proc_name: "wsgihost: master [NAME]" (gunicorn's "gunicorn: master
 * [NAME]"); without it ps shows the command line. */
static void
set_title(const struct config *cfg, const char *role)
{
    if (cfg->proc_name != NULL) {
        char title[512];
        snprintf(title, sizeof(title), "wsgihost: %s [%s]", role, cfg->proc_name);
        proctitle_set(title);
    }
}

/* Hooks that have no moment to run here: said once, at start. */
static void
note_hooks_not_run(const struct config *cfg, bool single)
{
    static const enum config_hook master_only[] = {HOOK_PRE_FORK, HOOK_CHILD_EXIT,
                                                   HOOK_NWORKERS_CHANGED, HOOK_WORKER_ABORT,
                                                   HOOK_PRE_EXEC};
    if (!single) {
        return;
    }
    for (size_t i = 0; i < countof(master_only); i++) {
        if (cfg->hooks & (1u << master_only[i])) {
            enum config_hook h = master_only[i];
            log_info("the server hook %s() does not run in a single process (%s); -w N runs it",
                     config_hook_name(h),
                     h == HOOK_PRE_EXEC      ? "no master to re-execute on USR2"
                     : h == HOOK_WORKER_ABORT ? "no worker is forked, no --timeout"
                                              : "no worker is forked");
        }
    }
}

int
wsgihost_main(int argc, char **argv)
{
    /* static: the configuration lives as long as the process, and stays
     * reachable for LeakSanitizer. */
    static struct config cfg;
    config_defaults(&cfg);
    saved_argc = argc;
    saved_argv = argv;
    upgrade_init(argc, argv);
    int rc = config_parse(&cfg, argc, argv);
    if (rc != 0) {
        return rc > 0 ? 0 : 2;
    }
    /* The config file or $WSGIHOST_CMD_ARGS may name another interpreter
     * than the one this host process is. */
    hostpy_switch_if_needed(cfg.python_executable, argc, argv);
    /* -e/--env (gunicorn's raw_env): in the environment before Python
     * starts (or, in the host interpreter, before os.environ is re-read). */
    for (size_t i = 0; i < cfg.n_env; i++) {
        const char *eq = strchr(cfg.env[i], '=');
        char name[CONFIG_MAX_ENV_NAME]; /* config.c checked the length */
        snprintf(name, sizeof(name), "%.*s", (int)(eq - cfg.env[i]), cfg.env[i]);
        setenv(name, eq + 1, 1);
    }
    if (cfg.threads == 0) {
        /* flask run is threaded: one slow request must not freeze the
         * others in dev-server mode. With -w, gunicorn's default of 1; so
         * is gunicorn's sync worker class. */
        cfg.threads = cfg.workers > 0 || cfg.worker_class_sync ? 1 : 4;
    }
    if (cfg.reload && cfg.workers == 0) {
        /* Reloading restarts the worker, which needs a master to do it. */
        cfg.workers = 1;
    }
    if (log_open(cfg.error_logfile, cfg.log_level, cfg.access_logfile, cfg.access_logformat) !=
        0) {
        return 1;
    }
    if (cfg.initgroups && cfg.user == NULL) {
        log_warning("--initgroups: no --user to take the groups of; nothing changes");
    }
    if (cfg.n_reload_extra > 0 && !cfg.reload) {
        log_warning("--reload-extra-file: nothing is watched without --reload");
    }
    if (cfg.capture_output) {
        int c = log_capture_output();
        if (c < 0) {
            return 1;
        }
        if (c > 0) {
            log_info("capture_output: the error log is stderr, where the app's output goes "
                     "already");
        }
    }
    bool single = cfg.workers == 0;
    set_title(&cfg, "master");
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

    /* The static directories, opened before privileges are dropped (like
     * the certificates) and before any socket is bound; a missing one is a
     * usage error, exit 2. */
    if (cfg.n_static > 0) {
        char err[1024];
        cfg.static_site = static_site_new(&cfg, err, sizeof(err));
        if (cfg.static_site == NULL) {
            die_startup(err);
            return 2;
        }
    }

    /* statsd: one socket, made here so a bad address stops start-up, and
     * shared by the workers through fork (a datagram is sent whole). */
    if (cfg.statsd_host != NULL) {
        char err[512];
        cfg.statsd = statsd_new(cfg.statsd_host, cfg.statsd_prefix, cfg.dogstatsd_tags, err,
                                sizeof(err));
        if (cfg.statsd == NULL) {
            die_startup(err);
            return 1;
        }
        statsd_count_logs(cfg.statsd);
    }
    if (cfg.check_config) {
        return check_config(&cfg);
    }

    /* Socket activation wins over --bind (as in gunicorn): the sockets are
     * systemd's, already bound to what the .socket unit says. Taken first,
     * so that LISTEN_* are gone from the environment Python sees. */
    struct listener *ls = NULL;
    size_t n_binds = 0;
    char ierr[512];
    int metrics_fd = -1;
    int upgraded = upgrade_inherit(&ls, &metrics_fd, ierr, sizeof(ierr));
    int inherited = upgraded != 0 ? upgraded : listener_inherit(&ls, ierr, sizeof(ierr));
    if (inherited < 0) {
        die_startup(ierr);
        return 1;
    }
    if (upgraded > 0) {
        n_binds = (size_t)upgraded;
        log_info("Upgrade: serving the %d socket(s) the old master passed; --bind changes "
                 "need a restart", upgraded);
        if (single) {
            die_startup("upgrade: this configuration has no workers (-w), and a binary upgrade "
                        "needs a master; the old master serves on");
            close_listeners(ls, n_binds, NULL);
            if (metrics_fd >= 0) {
                close(metrics_fd);
            }
            return 1;
        }
    } else if (inherited > 0) {
        n_binds = (size_t)inherited;
        if (cfg.n_binds > 0) {
            log_warning("--bind ignored: serving the %d socket(s) passed by systemd (LISTEN_FDS)",
                        inherited);
        }
    }

    /* The config file's hooks (gunicorn's order: nworkers_changed and
     * on_starting before the sockets are bound). */
    note_hooks_not_run(&cfg, single);
    if (wsgi_hooks_start(&cfg, single) != 0 ||
        (!single && wsgi_hooks_nworkers_changed(cfg.workers, -1) != 0) ||
        wsgi_hooks_server(HOOK_ON_STARTING) != 0) {
        close_listeners(ls, n_binds, NULL);
        return 1;
    }

    /* Certificates first: a bad one stops us before any socket is bound. */
    if (cfg.certfile != NULL) {
        char err[1024];
        tls_ctx = tls_ctx_new(&cfg, err, sizeof(err));
        if (tls_ctx == NULL) {
            die_startup(err);
            close_listeners(ls, n_binds, NULL);
            return 1;
        }
    }
    if (n_binds == 0) {
        static const char *default_bind = "127.0.0.1:8000";
        const char *const *binds = cfg.n_binds ? cfg.binds : &default_bind;
        n_binds = cfg.n_binds ? cfg.n_binds : 1;
        ls = xcalloc(n_binds, sizeof(*ls));
        for (size_t i = 0; i < n_binds; i++) {
            char err[512];
            if (listener_open(&ls[i], binds[i], cfg.backlog, err, sizeof(err)) != 0) {
                die_startup(err);
                close_listeners(ls, i, tls_ctx);
                return 1;
            }
        }
    }
    for (size_t i = 0; i < n_binds; i++) {
        if (!ls[i].inherited) { /* systemd's: its DeferAcceptSec= decides */
            listener_defer_accept(&ls[i], cfg.header_timeout);
        }
    }
    set_tls(ls, n_binds, tls_ctx);
    saved_ls = ls;
    saved_n_ls = n_binds;
    if (metrics_fd >= 0 && cfg.metrics_bind == NULL) {
        log_warning("upgrade: the old master's --metrics-bind socket is closed: this "
                    "configuration has no --metrics-bind");
        close(metrics_fd);
        metrics_fd = -1;
    }
    if (metrics_fd >= 0) {
        char err[512];
        if (listener_adopt(&metrics_l, metrics_fd, false, "upgrade", err, sizeof(err)) != 0) {
            char msg[600];
            snprintf(msg, sizeof(msg), "--metrics-bind: %s", err);
            die_startup(msg);
            metrics_l.fd = -1;
            close(metrics_fd);
            close_listeners(ls, n_binds, tls_ctx);
            return 1;
        }
    } else if (cfg.metrics_bind != NULL) {
        char err[512];
        if (listener_open(&metrics_l, cfg.metrics_bind, 64, err, sizeof(err)) != 0) {
            char msg[600];
            snprintf(msg, sizeof(msg), "--metrics-bind: %s", err);
            die_startup(msg);
            metrics_l.fd = -1;
            close_listeners(ls, n_binds, tls_ctx);
            return 1;
        }
        /* A silent connection is not accepted before it says something. */
        listener_defer_accept(&metrics_l, METRICS_SERVER_TIMEOUT);
    }

    if (drop_privileges(&cfg) != 0 || write_pidfile(&cfg) != 0) {
        close_listeners(ls, n_binds, tls_ctx);
        return 1;
    }
    log_info("Starting wsgihost %s", WSGIHOST_VERSION);
    for (size_t i = 0; i < n_binds; i++) {
        log_info("Listening at: %s (%d)%s", ls[i].display, (int)getpid(),
                 ls[i].inherited ? " (from systemd)" : "");
    }
    banner_log(&cfg, ls, n_binds);
    if (wsgi_hooks_listeners(ls, n_binds) != 0) {
        close_listeners(ls, n_binds, tls_ctx);
        return 1;
    }
    struct listener *metrics = metrics_l.fd >= 0 ? &metrics_l : NULL;
    if (metrics != NULL) {
        log_info("Metrics at: %s (/metrics, /healthz)", metrics_l.display);
    }
    if (!single) {
        if (cfg.preload && (pyrt_init(&cfg) != 0 || pyrt_load_app(cfg.app_spec) != 0)) {
            rc = 1;
        } else {
            rc = master_run(&cfg, ls, n_binds, metrics, reload_config);
        }
        if (wsgi_hooks_server(HOOK_ON_EXIT) != 0 && rc == 0) {
            rc = 1;
        }
        bool python_here = cfg.preload || wsgi_hooks_here();
        wsgi_hooks_finish();
        if (python_here) {
            pyrt_finalize();
        }
    } else if (wsgi_hooks_server(HOOK_WHEN_READY) != 0) {
        rc = 1;
    } else {
        rc = worker_serve(&cfg, ls, n_binds, NULL, false, metrics);
        if (rc == WORKER_BOOT_FAILED) {
            rc = 1;
        }
    }

    log_info("Shutting down");
    remove_pidfile(&cfg);
    close_listeners(ls, n_binds, tls_ctx);
    static_site_free(cfg.static_site);
    cfg.static_site = NULL;
    statsd_free(cfg.statsd);
    cfg.statsd = NULL;
    config_free(&cfg);
    log_close();
    return rc;
}
