#include "worker.h"

#include <errno.h>
#include <pthread.h>
#include <poll.h>
#include <stdio.h>
#include <time.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn.h"
#include "handler.h"
#include "http.h"
#include "loop.h"
#include "metrics_server.h"
#include "prom.h"
#include "pyrt.h"
#include "reload.h"
#include "scoreboard.h"
#include "static.h"
#include "wsgi.h"
#include "wsgi_handler.h"
#include "wsgi_hooks.h"
#include "log.h"
#include "sig.h"

#define TICK_MS        250
#define ACCEPT_BATCH   64
/* A worker defers accepting while it holds more than this many connections
 * beyond the least loaded worker that is free to accept. */
#define ACCEPT_SLACK   2
/* At most one "too many open files" warning per worker this often. */
#define EMFILE_WARN_SEC 10.0

struct worker;

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
    struct listener *listeners; /* the n_ls that ls[] watch */
    size_t n_ls;
    struct loop_watch sigwatch;
    struct conn_server srv; /* the connections */
    struct handler *wsgi;   /* the chain's WSGI handler */
    uint64_t requests;
    bool accepting;
    double accept_resume_at;  /* accepting deferred to a less loaded worker until then */
    struct loop_timer accept_timer; /* for accept_resume_at */
    struct loop_timer tick_timer;
    unsigned long accept_emfile;  /* accepts refused for lack of fds since the last warning */
    double accept_emfile_warn_at; /* no new EMFILE warning before then */
    bool stopping;
    bool quit;            /* leave the loop now */
    double stop_deadline;
    int exit_code;
    /* Shared with the master; in single-process mode a private one with
     * --metrics-bind (heartbeat and counters for the scrape), else NULL. */
    struct scoreboard_slot *slot;
    bool multiprocess;           /* one of -w N workers */
    bool own_slot;               /* slot is the private one */
    bool single;                 /* single-process mode: no master */
    struct metrics_server *msrv; /* single-process mode with --metrics-bind */
    double start_wall;
    uint64_t max_requests;    /* recycle after this many (with jitter), 0 = never */
    struct reload_watch *reload; /* --reload */
    struct loop_watch reloadwatch;
    bool interrupted;         /* worker_int ran */
};

static void publish_load(struct worker *w);

static void
stop_accepting(struct worker *w, bool close_sockets)
{
    for (size_t i = 0; i < w->n_ls; i++) {
        struct worker_listener *wl = &w->ls[i];
        loop_unwatch(w->loop, &wl->watch);
        if (close_sockets && wl->l->fd >= 0) {
            /* Closing makes new connections fail at once instead of waiting
             * in a backlog nobody will accept from. */
            listener_close(wl->l, !w->multiprocess);
        }
    }
    w->accepting = false;
    publish_load(w);
}

static void start_accepting(struct worker *w);

/* The load accept balancing compares: open connections whose client is
 * still there. A burst of clients that closed (wrk ending its run) with
 * requests still queued here would otherwise count for as long as this
 * worker takes to answer them, and the next burst, balanced against that,
 * would leave this worker with a few of its keep-alive clients for good. */
static int
live_conns(const struct worker *w)
{
    return (int)(w->srv.n_conns - w->srv.n_peer_gone);
}

static void
publish_load(struct worker *w)
{
    if (w->slot != NULL) {
        w->slot->n_conns = live_conns(w);
        /* A short pause after handing a burst to a peer still counts as
         * accepting: otherwise the peer, seeing nobody else, takes it all. */
        w->slot->accepting = w->accepting || w->accept_resume_at > 0;
    }
}

/* EPOLLEXCLUSIVE wakes one waiter per connection, but a burst (wrk or a
 * proxy opening 64 connections at once) lands on whichever worker is in
 * epoll_wait, and it would take them all. So a worker that is already
 * ACCEPT_SLACK connections above a less loaded peer leaves the connection in
 * the backlog and kicks that peer (SIGUSR2: "accept now"), since exclusive
 * wake-ups would not tell it about connections already queued. Peers stuck
 * in an app call (>1 s) or not accepting do not count, so someone always
 * accepts. Returns the peer's pid, or 0 to accept here. */
static int
defer_accept(struct worker *w)
{
    if (!w->multiprocess || scoreboard == NULL) {
        return 0;
    }
    int64_t now_ms = now_mono_ms();
    int mine = live_conns(w);
    int best_pid = 0, best = mine - ACCEPT_SLACK;
    for (int i = 0; i < SCOREBOARD_SLOTS; i++) {
        struct scoreboard_slot *s = &scoreboard[i];
        if (s == w->slot || s->pid == 0 || !s->booted || !s->accepting) {
            continue;
        }
        int64_t busy = s->busy_since_ms;
        if (busy > 0 && now_ms - busy > 1000) {
            continue;
        }
        if (s->n_conns < best) {
            best = s->n_conns;
            best_pid = s->pid;
        }
    }
    return best_pid;
}

static void
on_accept_timer(struct loop_timer *t)
{
    struct worker *w = container_of(t, struct worker, accept_timer);
    if (w->accept_resume_at > 0) {
        w->accept_resume_at = 0;
        start_accepting(w);
    }
}

static void
on_accept(struct loop_watch *lw, uint32_t events)
{
    struct worker_listener *wl = container_of(lw, struct worker_listener, watch);
    struct worker *w = wl->w;
    (void)events;
    for (int i = 0; i < ACCEPT_BATCH && !w->stopping; i++) {
        int peer = defer_accept(w);
        if (peer > 0) {
            w->accept_resume_at = now_mono() + 0.01;
            loop_timer_set(w->loop, &w->accept_timer, w->accept_resume_at, on_accept_timer);
            stop_accepting(w, false);
            kill(peer, SIGUSR2);
            return;
        }
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        int fd = accept4(wl->l->fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) {
                continue;
            }
            if (errno == EMFILE || errno == ENFILE) {
                /* Retried on every tick and every close: one warning per
                 * EMFILE_WARN_SEC at most, counting the refusals between. */
                int err = errno;
                double now = now_mono();
                w->accept_emfile++;
                if (now >= w->accept_emfile_warn_at) {
                    log_warning("accept on %s: %s; pausing accepts until a connection closes "
                                "(%lu refused since the last warning)",
                                wl->l->display, strerror(err), w->accept_emfile);
                    w->accept_emfile = 0;
                    w->accept_emfile_warn_at = now + EMFILE_WARN_SEC;
                }
                stop_accepting(w, false);
            } else if (errno != EAGAIN && errno != EWOULDBLOCK) {
                log_error("accept on %s: %m", wl->l->display);
            }
            return;
        }
        if (sl == 0 || ss.ss_family == AF_UNIX) {
            ss.ss_family = AF_UNIX;
        }
        conn_new(&w->srv, fd, wl->l, (struct sockaddr *)&ss, sl);
        publish_load(w);
        if (w->srv.n_conns >= (size_t)w->cfg->worker_connections) {
            /* Full: leave new connections in the backlog (another worker,
             * or this one later, takes them) instead of failing them. */
            stop_accepting(w, false);
            return;
        }
    }
}

static void
start_accepting(struct worker *w)
{
    if (w->accepting || w->stopping) {
        return;
    }
    for (size_t i = 0; i < w->n_ls; i++) {
        struct worker_listener *wl = &w->ls[i];
        if (wl->l->fd >= 0) {
            /* Several workers share one listening socket: EPOLLEXCLUSIVE wakes
             * one of them per connection instead of all (no thundering herd). */
            loop_watch(w->loop, &wl->watch, wl->l->fd,
                       w->multiprocess ? EPOLLIN | EPOLLEXCLUSIVE : EPOLLIN, on_accept);
        }
    }
    w->accepting = true;
    publish_load(w);
}

static void
on_conn_closed(struct conn_server *s)
{
    struct worker *w = container_of(s, struct worker, srv);
    if (!w->accepting && !w->stopping && w->accept_resume_at == 0 &&
        w->srv.n_conns < (size_t)w->cfg->worker_connections) {
        start_accepting(w);
    }
    publish_load(w);
}

static void
on_peer_gone(struct conn_server *s)
{
    publish_load(container_of(s, struct worker, srv));
}

static void begin_stop(struct worker *w, bool graceful);

/* Count a finished request; starts a graceful recycle at --max-requests. */
static void
on_request_done(struct conn_server *s)
{
    struct worker *w = container_of(s, struct worker, srv);
    w->requests++;
    if (w->slot != NULL) {
        w->slot->requests = w->requests;
    }
    if (w->max_requests && w->requests >= w->max_requests && !w->stopping) {
        log_info("Autorestarting worker after %llu requests", (unsigned long long)w->requests);
        begin_stop(w, true);
    }
}

static void *
watchdog(void *arg)
{
    double seconds = *(double *)arg;
    free(arg);
    struct timespec ts = {.tv_sec = (time_t)seconds,
                          .tv_nsec = (long)((seconds - (double)(time_t)seconds) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
    /* The loop could not finish in time: an app call is still running (and
     * cannot be interrupted). Leave without waiting for it, as gunicorn's
     * arbiter does with SIGKILL. */
    log_error("graceful timeout: exiting with requests still running in the application");
    log_flush();
    _exit(1);
    return NULL;
}

/* A thread that ends the process if the graceful stop overruns by a second. */
static void
start_watchdog(double seconds)
{
    pthread_t t;
    pthread_attr_t attr;
    double *arg = xmalloc(sizeof(*arg));
    *arg = seconds + 1.0;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    if (pthread_create(&t, &attr, watchdog, arg) != 0) {
        free(arg);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
}

static void
begin_stop(struct worker *w, bool graceful)
{
    if (!w->stopping) {
        w->stopping = true;
        w->srv.stopping = true;
        w->stop_deadline = now_mono() + w->cfg->graceful_timeout;
        w->accept_resume_at = 0;
        stop_accepting(w, true);
        start_watchdog(w->cfg->graceful_timeout);
    }
    if (graceful) {
        conn_server_drain(&w->srv);
    } else {
        conn_server_abort(&w->srv);
    }
}

static void
on_signal(struct loop_watch *lw, uint32_t events)
{
    struct worker *w = container_of(lw, struct worker, sigwatch);
    (void)events;
    uint64_t s = sig_take();
    if ((s & ((1u << SIGINT) | (1u << SIGQUIT))) && !w->interrupted) {
        /* gunicorn runs worker_int on INT and QUIT (its master sends QUIT on
         * INT; ours passes INT on). */
        w->interrupted = true;
        wsgi_hooks_worker_int();
    }
    if (s & ((1u << SIGTERM) | (1u << SIGINT))) {
        if (!w->stopping) {
            log_info("Handling signal: %s; finishing in-flight requests (up to %gs)",
                     (s & (1u << SIGTERM)) ? "term" : "int", w->cfg->graceful_timeout);
        }
        begin_stop(w, true);
    }
    if (s & (1u << SIGQUIT)) {
        log_info("Handling signal: quit; closing every connection");
        begin_stop(w, false);
        w->quit = true;
    }
    if (s & (1u << SIGUSR1)) {
        log_info("Handling signal: usr1; reopening log files");
        log_reopen();
    }
    if ((s & (1u << SIGUSR2)) && w->single) {
        /* Single-process mode: no peer sends it, so an operator did. */
        log_warning("Handling signal: usr2; ignored: a binary upgrade re-executes the master, "
                    "and a single process has none (-w N has one); restart to run a new binary");
    } else if ((s & (1u << SIGUSR2)) && !w->stopping &&
               (w->accepting || w->accept_resume_at > 0)) {
        /* A busier peer left connections in the backlog for us. */
        w->accept_resume_at = 0;
        start_accepting(w);
        for (size_t i = 0; i < w->n_ls; i++) {
            on_accept(&w->ls[i].watch, EPOLLIN);
        }
    }
    if (s & (1u << SIGHUP)) {
        log_warning("Handling signal: hup; reload needs the master process (-w N): ignored");
    }
}

static void
on_reload(struct loop_watch *lw, uint32_t events)
{
    struct worker *w = container_of(lw, struct worker, reloadwatch);
    (void)events;
    char path[4096];
    if (reload_changed(w->reload, path, sizeof(path)) && !w->stopping) {
        log_info("Worker reloading: %s modified", path);
        if (!w->interrupted) {
            w->interrupted = true;
            wsgi_hooks_worker_int(); /* as gunicorn's reloader does */
        }
        begin_stop(w, true);
    }
}

/* The connections' deadlines are their own timers; this is the worker's
 * housekeeping, four times a second. */
static void
on_tick(struct loop_timer *t)
{
    struct worker *w = container_of(t, struct worker, tick_timer);
    double now = now_mono();
    loop_timer_set(w->loop, &w->tick_timer, now + TICK_MS / 1000.0, on_tick);
    wsgi_handler_tick(w->wsgi);
    if (!w->accepting && !w->stopping && w->srv.n_conns < (size_t)w->cfg->worker_connections) {
        start_accepting(w); /* retry after EMFILE */
    }
    if (w->stopping && w->srv.conns != NULL && now >= w->stop_deadline) {
        log_warning("graceful timeout reached: closing %zu connection(s)", w->srv.n_conns);
        begin_stop(w, false);
    }
}

/* Single-process mode's /metrics: this process is the one worker. */
static void
render_metrics(void *ctx, struct buf *out)
{
    struct worker *w = ctx;
    struct prom_worker pw = {
        .index = 0,
        .pid = (int)getpid(),
        .slot = w->slot,
        .requests = w->requests,
        .restarts = 0,
    };
    struct prom_view v = {
        .workers = &pw,
        .n_workers = 1,
        .workers_desired = w->stopping ? 0 : 1,
        .boots = 1,
        .ls = w->listeners,
        .n_ls = w->n_ls,
        .draining = w->stopping,
        .start_wall = w->start_wall,
    };
    prom_render(out, &v);
}

static const char *
unhealthy(void *ctx)
{
    struct worker *w = ctx;
    return w->stopping ? "shutting down" : NULL;
}

static int
worker_run(const struct config *cfg, struct listener *ls, size_t n_ls, struct scoreboard_slot *slot,
           bool multiprocess, struct listener *metrics_l, struct reload_watch *rw)
{
    struct worker w;
    memset(&w, 0, sizeof(w));
    w.cfg = cfg;
    w.multiprocess = multiprocess;
    w.start_wall = now_wall();
    w.single = slot == NULL;
    if (slot == NULL && cfg->metrics_bind != NULL) {
        slot = xcalloc(1, sizeof(*slot));
        slot->pid = (int)getpid();
        w.own_slot = true;
    }
    w.slot = slot;
    w.reload = rw;
    w.max_requests = cfg->max_requests;
    if (w.max_requests && cfg->max_requests_jitter) {
        /* Spread recycling so the workers do not all restart at once. */
        srand((unsigned)getpid() ^ (unsigned)time(NULL));
        w.max_requests += (uint64_t)rand() % (cfg->max_requests_jitter + 1);
    }
    w.limits.max_line = cfg->limit_request_line;
    w.limits.max_fields = cfg->limit_request_fields;
    w.limits.max_field_size = cfg->limit_request_field_size;
    w.limits.max_body = cfg->limit_request_body;
    w.limits.body_mem_max = cfg->body_buffer_size;
    w.loop = loop_new();
    if (w.loop == NULL) {
        return 1;
    }
    w.ls = xcalloc(n_ls, sizeof(*w.ls));
    w.listeners = ls;
    w.n_ls = n_ls;
    for (size_t i = 0; i < n_ls; i++) {
        w.ls[i].l = &ls[i];
        w.ls[i].w = &w;
    }
    if (loop_watch(w.loop, &w.sigwatch, sig_fd(), EPOLLIN, on_signal) != 0) {
        return 1;
    }
    if (rw != NULL && loop_watch(w.loop, &w.reloadwatch, reload_fd(rw), EPOLLIN, on_reload) != 0) {
        return 1;
    }
    w.wsgi = wsgi_handler_new(w.loop, cfg, slot, multiprocess);
    if (w.wsgi == NULL) {
        return 1;
    }
    w.srv.loop = w.loop;
    w.srv.cfg = cfg;
    w.srv.limits = &w.limits;
    /* The chain: static files (when configured) in front of the app. */
    w.srv.chain = w.wsgi;
    if (cfg->static_site != NULL) {
        w.srv.chain = static_site_handler(cfg->static_site, w.wsgi);
    }
    w.srv.drain_waits_idle = multiprocess;
    w.srv.request_done = on_request_done;
    w.srv.conn_closed = on_conn_closed;
    w.srv.peer_gone = on_peer_gone;
    w.srv.coalesce_writes = !getenv("WSGIHOST_NO_COALESCE");
    loop_set_turn_end(w.loop, conn_server_turn_end, &w.srv);
    if (cfg->metrics_bind != NULL) {
        w.srv.metrics = &slot->metrics;
    }
    w.srv.statsd = cfg->statsd;
    if (metrics_l != NULL) {
        struct metrics_server_ops ops = {
            .render = render_metrics, .unhealthy = unhealthy, .ctx = &w};
        w.msrv = metrics_server_new(w.loop, metrics_l, &ops);
        if (w.msrv == NULL) {
            return 1;
        }
    }
    start_accepting(&w);
    if (multiprocess) {
        /* Ready only once accepting: a peer balancing a burst counts only
         * workers that accept, and a test waiting for this line must not
         * race a worker that has not started yet. */
        slot->pid = (int)getpid();
        slot->booted = 1;
        log_info("Worker ready (pid: %d)", (int)getpid());
    } else if (slot != NULL) {
        slot->booted = 1;
    }
    loop_timer_set(w.loop, &w.tick_timer, now_mono() + TICK_MS / 1000.0, on_tick);
    while (!w.quit) {
        if (w.stopping && w.srv.conns == NULL && w.srv.n_detached == 0) {
            break;
        }
        /* The timers (the tick at least) bound the wait. */
        if (loop_run_once(w.loop, -1) < 0) {
            w.exit_code = 1;
            break;
        }
        conn_server_free_closed(&w.srv);
    }
    loop_timer_cancel(w.loop, &w.tick_timer);
    loop_timer_cancel(w.loop, &w.accept_timer);
    begin_stop(&w, false);
    conn_server_free_closed(&w.srv);
    /* Let the calls in flight on pool threads (and the close() jobs just
     * queued) end. */
    for (int i = 0; i < 200 && w.srv.n_detached > 0; i++) {
        if (loop_run_once(w.loop, 50) < 0) {
            break;
        }
    }
    metrics_server_free(w.msrv);
    wsgi_handler_free(w.wsgi); /* its pool threads are gone: nobody writes the slot now */
    if (w.own_slot) {
        free(slot);
    }
    loop_unwatch(w.loop, &w.sigwatch);
    if (rw != NULL) {
        loop_unwatch(w.loop, &w.reloadwatch);
    }
    loop_free(w.loop);
    free(w.ls);
    return w.exit_code;
}

static void
free_strv(char **v)
{
    for (size_t i = 0; v[i] != NULL; i++) {
        free(v[i]);
    }
    free(v);
}

/* The app failed to import: like flask run --reload, report, keep watching,
 * and come back with a fresh import once a source file changes. */
static void
wait_for_change(struct reload_watch *rw)
{
    log_error("The application failed to load (traceback above); waiting for a change");
    for (;;) {
        struct pollfd p[2] = {{.fd = reload_fd(rw), .events = POLLIN},
                              {.fd = sig_fd(), .events = POLLIN}};
        if (poll(p, 2, -1) < 0 && errno != EINTR) {
            break;
        }
        if (p[1].revents && (sig_take() & ((1u << SIGTERM) | (1u << SIGINT) | (1u << SIGQUIT)))) {
            break;
        }
        char path[4096];
        if (p[0].revents && reload_changed(rw, path, sizeof(path))) {
            log_info("Worker reloading: %s modified", path);
            break;
        }
    }
}

static struct reload_watch *
watch_sources(const struct config *cfg, struct reload_watch *rw)
{
    char **dirs = pyrt_source_dirs(cfg);
    char *none[] = {NULL};
    if (rw == NULL) {
        rw = reload_watch_new(dirs != NULL ? dirs : none);
    } else if (dirs != NULL) {
        reload_watch_add(rw, dirs);
    }
    if (dirs != NULL) {
        free_strv(dirs);
    }
    if (rw != NULL) {
        reload_watch_files(rw, cfg->reload_extra, cfg->n_reload_extra);
    }
    return rw;
}

/* Leaving: worker_exit (and, in a single process, on_exit), then Python
 * (not after a failed boot: the process ends at once, as before). */
static void
leave_python(bool single, bool finalize)
{
    wsgi_hooks_worker_exit();
    if (single) {
        wsgi_hooks_server(HOOK_ON_EXIT);
    }
    if (finalize) {
        wsgi_hooks_finish();
        pyrt_finalize();
    }
}

int
worker_serve(const struct config *cfg, struct listener *ls, size_t n_ls,
             struct scoreboard_slot *slot, bool in_master, struct listener *metrics)
{
    bool single = !in_master;
    struct reload_watch *rw = NULL;
    if (!cfg->preload && pyrt_init(cfg) != 0) {
        return WORKER_BOOT_FAILED;
    }
    /* The config file's hooks: post_fork(server, worker) once Python is
     * up, before the app is imported (as in gunicorn). */
    if (wsgi_hooks_worker_start(cfg, single) != 0) {
        leave_python(single, false);
        return WORKER_BOOT_FAILED;
    }
    if (!cfg->preload) {
        if (cfg->reload) {
            /* Watch before importing: an edit made while the import runs
             * (or fails) must not be missed. */
            rw = watch_sources(cfg, NULL);
        }
        if (pyrt_load_app(cfg->app_spec) != 0) {
            if (rw == NULL) {
                leave_python(single, false);
                return WORKER_BOOT_FAILED;
            }
            if (pyrt_use_fail_app() == 0) {
                log_error("The application failed to load (traceback above); every request gets "
                          "a 500 with it until a source file changes");
            } else {
                wait_for_change(rw);
                reload_watch_free(rw);
                leave_python(single, true);
                return 0;
            }
        }
    }
    if (wsgi_hooks_post_worker_init() != 0) {
        reload_watch_free(rw);
        leave_python(single, false);
        return WORKER_BOOT_FAILED;
    }
    if (cfg->reload) {
        rw = watch_sources(cfg, rw); /* and the directories of what the app imported */
    }
    struct wsgi_server_info info = {
        .multithread = cfg->threads > 1,
        /* As gunicorn sets it: several workers configured (-w 1 is one
         * process at a time; Werkzeug's debugger refuses to run when this
         * is true). */
        .multiprocess = in_master && cfg->workers > 1,
        .run_once = false,
        .strict = cfg->strict_wsgi,
    };
    if (wsgi_init(&info) != 0) {
        reload_watch_free(rw);
        leave_python(single, true);
        return WORKER_BOOT_FAILED;
    }
    int rc = worker_run(cfg, ls, n_ls, slot, in_master, metrics, rw);
    reload_watch_free(rw);
    wsgi_fini();
    leave_python(single, true);
    return rc;
}
