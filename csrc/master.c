/* The master runs no app code (unless --preload) and holds no client
 * sockets: it binds, forks, watches. Python runs here only for the config
 * file's master hooks (wsgi_hooks.h), from this loop, never in a signal
 * handler. Workers report through a shared-memory slot each,
 * so a heartbeat costs a store, not a file write per request (gunicorn
 * touches a temp file), and the master can tell "busy in one request for too
 * long" from "idle with keep-alive clients" — only the first is killed.
 *
 * With --metrics-bind the master answers /metrics and /healthz itself
 * (metrics_server.h, on its loop): it sums the workers' slots, and when a
 * worker dies it folds that worker's counters into totals of its own before
 * the slot is reused, in the same thread, so no scrape sees a counter go
 * back. */
#include "master.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "proctitle.h"
#include "loop.h"
#include "metrics.h"
#include "metrics_server.h"
#include "prom.h"
#include "pyrt.h"
#include "scoreboard.h"
#include "sig.h"
#include "statsd.h"
#include "upgrade.h"
#include "worker.h"
#include "wsgi_hooks.h"

#define MAX_SLOTS SCOREBOARD_SLOTS
#define EXIT_BOOT_FAILED 3 /* gunicorn's WORKER_BOOT_ERROR */

enum wstate { W_FREE, W_RUNNING, W_STOPPING };

struct wproc {
    pid_t pid;
    enum wstate state;
    int generation;
    double started;     /* monotonic */
    double stop_sent;   /* when TERM/ABRT was sent, for the KILL deadline */
    bool abort_sent;
};

struct master {
    struct config *cfg;
    struct listener *ls;
    size_t n_ls;
    struct listener *metrics_l; /* --metrics-bind, or NULL */
    master_reload_fn reload;
    struct loop *loop;
    struct loop_watch sigwatch;
    uint64_t sigs; /* received, not handled yet */
    struct metrics_server *msrv;
    /* What the metrics report beyond the live slots. */
    struct metrics_counters folded;    /* the dead workers' counters */
    uint64_t slot_requests[MAX_SLOTS]; /* requests of the slot's dead workers */
    uint64_t slot_boots[MAX_SLOTS];
    uint64_t boots, deaths, timeouts;
    double start_wall;
    struct scoreboard_slot *slots; /* shared, MAX_SLOTS */
    struct wproc procs[MAX_SLOTS];
    int target;                /* workers wanted */
    int generation;
    bool stopping;
    bool quick;
    double stop_deadline;
    double respawn_at;         /* back-off for crashing workers */
    double backoff;
    int boot_failures;
    int age;                   /* workers forked so far (gunicorn's worker.age) */
    bool hook_failed;          /* a master hook raised: stopping, exit 1 */
    int workers_sent;          /* the gunicorn.workers gauge last sent to statsd, -1 = none */
};

static void begin_stop(struct master *m, bool quick, int sig);

/* A master hook raised (logged with its traceback): gunicorn stops its
 * main loop then, and so do we. */
static void
hook_failed(struct master *m)
{
    if (!m->hook_failed) {
        m->hook_failed = true;
        begin_stop(m, true, SIGQUIT);
    }
}

static int
count_running(struct master *m, int generation)
{
    int n = 0;
    for (int i = 0; i < MAX_SLOTS; i++) {
        if (m->procs[i].state == W_RUNNING &&
            (generation < 0 || m->procs[i].generation == generation)) {
            n++;
        }
    }
    return n;
}

static int
count_alive(struct master *m)
{
    int n = 0;
    for (int i = 0; i < MAX_SLOTS; i++) {
        if (m->procs[i].state != W_FREE) {
            n++;
        }
    }
    return n;
}

static int
spawn(struct master *m)
{
    int i = 0;
    while (i < MAX_SLOTS && m->procs[i].state != W_FREE) {
        i++;
    }
    if (i == MAX_SLOTS) {
        log_error("no free worker slot");
        return -1;
    }
    struct scoreboard_slot *slot = &m->slots[i];
    memset(slot, 0, sizeof(*slot));
    if (wsgi_hooks_pre_fork(i, ++m->age) != 0) {
        hook_failed(m);
        return -1;
    }
    /* With --preload, or in the host interpreter (hostpy.h), this process
     * runs Python: pyrt_fork() forks the way os.fork() does. */
    sigset_t sigmask;
    sig_hold(&sigmask);
    pid_t pid = pyrt_fork();
    if (pid < 0) {
        sig_release(&sigmask);
        log_error("fork: %m");
        return -1;
    }
    if (pid == 0) {
        /* The worker follows the master: if the master dies, so do we. */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() == 1) {
            _exit(0);
        }
        sig_after_fork();
        sig_release(&sigmask);
        if (m->cfg->proc_name != NULL) {
            char title[512];
            snprintf(title, sizeof(title), "wsgihost: worker [%s]", m->cfg->proc_name);
            proctitle_set(title);
        }
        /* The master's loop, metrics socket and scrapers are not ours. */
        metrics_server_forget(m->msrv);
        if (m->metrics_l != NULL) {
            listener_close(m->metrics_l, false);
        }
        loop_free(m->loop);
        int rc = worker_serve(m->cfg, m->ls, m->n_ls, slot, true, NULL);
        log_flush();
        _exit(rc);
    }
    sig_release(&sigmask);
    struct wproc *p = &m->procs[i];
    p->pid = pid;
    p->state = W_RUNNING;
    p->generation = m->generation;
    p->started = now_mono();
    p->stop_sent = 0;
    p->abort_sent = false;
    m->boots++;
    m->slot_boots[i]++;
    log_info("Booting worker with pid: %d", (int)pid);
    wsgi_hooks_forked(i, (int)pid);
    return 0;
}

static void
signal_worker(struct wproc *p, int sig)
{
    if (p->state != W_FREE && p->pid > 0) {
        kill(p->pid, sig);
    }
}

static void
stop_worker(struct wproc *p, int sig)
{
    if (p->state == W_RUNNING) {
        p->state = W_STOPPING;
        p->stop_sent = now_mono();
    }
    signal_worker(p, sig);
}

static void
reap(struct master *m)
{
    for (;;) {
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid <= 0) {
            return;
        }
        if (upgrade_reaped(pid, status)) {
            continue;
        }
        int i = 0;
        while (i < MAX_SLOTS && !(m->procs[i].state != W_FREE && m->procs[i].pid == pid)) {
            i++;
        }
        if (i == MAX_SLOTS) {
            continue;
        }
        struct wproc *p = &m->procs[i];
        bool booted = m->slots[i].booted != 0;
        bool expected = p->state == W_STOPPING;
        if (WIFSIGNALED(status)) {
            int sig = WTERMSIG(status);
            if (sig == SIGKILL) {
                log_error("Worker (pid:%d) was sent SIGKILL! Perhaps out of memory?", (int)pid);
            } else if (!expected || p->abort_sent) {
                log_error("Worker (pid:%d) was killed by signal %d (%s)", (int)pid, sig,
                          strsignal(sig));
            }
        } else if (WIFEXITED(status) && WEXITSTATUS(status) != 0) {
            log_error("Worker (pid:%d) exited with code %d", (int)pid, WEXITSTATUS(status));
        } else {
            log_info("Worker exiting (pid: %d)", (int)pid);
        }
        if (!booted && !expected && WIFEXITED(status) &&
            WEXITSTATUS(status) == EXIT_BOOT_FAILED) {
            m->boot_failures++;
        }
        double lived = now_mono() - p->started;
        if (!expected && !m->stopping) {
            /* A worker that dies young makes the next respawn wait longer,
             * so a crash at import cannot spin the machine. */
            if (lived < 1.0) {
                m->backoff = m->backoff ? m->backoff * 2 : 0.1;
                if (m->backoff > 1.0) {
                    m->backoff = 1.0;
                }
            } else {
                m->backoff = 0;
            }
            m->respawn_at = now_mono() + m->backoff;
        }
        if (!expected) {
            m->deaths++;
        }
        /* Its counters go on in the totals; the slot starts from zero. */
        metrics_fold(&m->folded, &m->slots[i].metrics);
        m->slot_requests[i] += m->slots[i].requests;
        m->slots[i].requests = 0;
        m->slots[i].busy_since_ms = 0;
        p->state = W_FREE;
        p->pid = 0;
        m->slots[i].pid = 0;
        if (wsgi_hooks_child_exit(i, (int)pid) != 0) {
            hook_failed(m);
        }
    }
}

static void
check_timeouts(struct master *m)
{
    double now = now_mono();
    int64_t now_ms = now_mono_ms();
    double timeout = m->cfg->timeout;
    for (int i = 0; i < MAX_SLOTS; i++) {
        struct wproc *p = &m->procs[i];
        if (p->state == W_FREE) {
            continue;
        }
        /* A worker that ignores TERM past the graceful timeout, or that was
         * aborted and still lives, is killed. */
        if (p->stop_sent > 0 &&
            now - p->stop_sent > (p->abort_sent ? 2.0 : m->cfg->graceful_timeout + 1.0)) {
            signal_worker(p, SIGKILL);
            p->stop_sent = now; /* don't repeat every tick */
            continue;
        }
        if (timeout <= 0 || p->abort_sent) {
            continue;
        }
        int64_t busy = m->slots[i].busy_since_ms;
        if (busy > 0 && (double)(now_ms - busy) / 1000.0 > timeout) {
            char req[sizeof(m->slots[i].req)];
            memcpy(req, m->slots[i].req, sizeof(req));
            req[sizeof(req) - 1] = '\0';
            log_error("WORKER TIMEOUT (pid:%d): busy for more than %gs in one request: %s",
                         (int)p->pid, timeout, req);
            /* SIGABRT first: Python's faulthandler (enabled in workers)
             * prints the stuck request's stack; SIGKILL follows. */
            p->abort_sent = true;
            m->timeouts++;
            stop_worker(p, SIGABRT);
            p->stop_sent = now;
        }
    }
}

static void
manage(struct master *m)
{
    if (m->stopping) {
        return;
    }
    int running = count_running(m, m->generation);
    if (running < m->target && now_mono() >= m->respawn_at) {
        for (int k = running; k < m->target; k++) {
            if (spawn(m) != 0) {
                break;
            }
        }
    } else if (running > m->target) {
        /* TTOU: stop the newest surplus workers. */
        for (int i = MAX_SLOTS - 1; i >= 0 && running > m->target; i--) {
            if (m->procs[i].state == W_RUNNING && m->procs[i].generation == m->generation) {
                stop_worker(&m->procs[i], SIGTERM);
                running--;
            }
        }
    }
    /* HUP: once the new generation has booted, the old one drains. */
    int booted_new = 0;
    for (int i = 0; i < MAX_SLOTS; i++) {
        if (m->procs[i].state == W_RUNNING && m->procs[i].generation == m->generation &&
            m->slots[i].booted) {
            booted_new++;
        }
    }
    if (booted_new >= m->target) {
        for (int i = 0; i < MAX_SLOTS; i++) {
            if (m->procs[i].state == W_RUNNING && m->procs[i].generation != m->generation) {
                stop_worker(&m->procs[i], SIGTERM);
            }
        }
    }
}

/* sig: what the workers get: QUIT (quick), TERM or INT (graceful; INT
 * passed on as INT, so that their worker_int hook runs as in gunicorn,
 * whose master sends QUIT on INT). */
static void
begin_stop(struct master *m, bool quick, int sig)
{
    if (!m->stopping || (quick && !m->quick)) {
        m->stopping = true;
        m->quick = quick;
        m->stop_deadline = now_mono() + (quick ? 2.0 : m->cfg->graceful_timeout + 2.0);
        for (int i = 0; i < MAX_SLOTS; i++) {
            stop_worker(&m->procs[i], sig);
        }
    }
}

static void
handle_signals(struct master *m, uint64_t s)
{
    if (s & (1u << SIGCHLD)) {
        reap(m);
    }
    if (s & (1u << SIGQUIT)) {
        log_info("Handling signal: quit");
        begin_stop(m, true, SIGQUIT);
    } else if (s & ((1u << SIGTERM) | (1u << SIGINT))) {
        bool term = (s & (1u << SIGTERM)) != 0;
        log_info("Handling signal: %s", term ? "term" : "int");
        begin_stop(m, false, term ? SIGTERM : SIGINT);
    }
    if (m->stopping) {
        return;
    }
    if (s & (1u << SIGHUP)) {
        log_info("Handling signal: hup; reloading");
        if (m->reload != NULL && m->reload(m->cfg) != 0) {
            log_error("reload: the new configuration is invalid; keeping the old one");
        } else {
            int old = m->target;
            m->target = m->cfg->workers;
            m->generation++;
            /* gunicorn's order: the worker count is set again (its hook
             * runs even when it did not change), then on_reload. */
            if (wsgi_hooks_nworkers_changed(m->target, old) != 0 ||
                wsgi_hooks_server(HOOK_ON_RELOAD) != 0) {
                hook_failed(m);
                return;
            }
        }
    }
    if (s & (1u << SIGTTIN)) {
        m->target++;
        log_info("Handling signal: ttin; workers: %d", m->target);
        if (wsgi_hooks_nworkers_changed(m->target, m->target - 1) != 0) {
            hook_failed(m);
            return;
        }
    }
    if (s & (1u << SIGTTOU)) {
        if (m->target > 1) {
            m->target--;
            if (wsgi_hooks_nworkers_changed(m->target, m->target + 1) != 0) {
                hook_failed(m);
                return;
            }
        }
        log_info("Handling signal: ttou; workers: %d", m->target);
    }
    if (s & (1u << SIGUSR2)) {
        upgrade_start(m->ls, m->n_ls, m->metrics_l);
    }
    if (s & (1u << SIGUSR1)) {
        log_info("Handling signal: usr1; reopening log files");
        log_reopen();
        for (int i = 0; i < MAX_SLOTS; i++) {
            signal_worker(&m->procs[i], SIGUSR1);
        }
    }
}

static void
on_signal(struct loop_watch *w, uint32_t events)
{
    struct master *m = container_of(w, struct master, sigwatch);
    (void)events;
    m->sigs |= sig_take();
}

/* The /metrics body: every live worker's slot, and the dead ones' totals. */
static void
render_metrics(void *ctx, struct buf *out)
{
    struct master *m = ctx;
    struct prom_worker *ws = xcalloc(MAX_SLOTS, sizeof(*ws));
    size_t n = 0;
    for (int i = 0; i < MAX_SLOTS; i++) {
        struct wproc *p = &m->procs[i];
        if (p->state == W_FREE) {
            continue;
        }
        ws[n].index = i;
        ws[n].pid = p->pid;
        ws[n].slot = &m->slots[i];
        ws[n].requests = m->slot_requests[i] + m->slots[i].requests;
        ws[n].restarts = m->slot_boots[i] > 0 ? m->slot_boots[i] - 1 : 0;
        n++;
    }
    struct prom_view v = {
        .folded = &m->folded,
        .workers = ws,
        .n_workers = n,
        .workers_desired = m->stopping ? 0 : m->target,
        .boots = m->boots,
        .deaths = m->deaths,
        .timeouts = m->timeouts,
        .ls = m->ls,
        .n_ls = m->n_ls,
        .draining = m->stopping,
        .start_wall = m->start_wall,
    };
    prom_render(out, &v);
    free(ws);
}

static const char *
unhealthy(void *ctx)
{
    struct master *m = ctx;
    if (m->stopping) {
        return "shutting down";
    }
    for (int i = 0; i < MAX_SLOTS; i++) {
        if (m->procs[i].state == W_RUNNING && m->slots[i].booted) {
            return NULL;
        }
    }
    return "no worker is ready";
}

int
master_run(struct config *cfg, struct listener *ls, size_t n_ls, struct listener *metrics,
           master_reload_fn reload)
{
    struct master *m = xcalloc(1, sizeof(*m));
    m->cfg = cfg;
    m->ls = ls;
    m->n_ls = n_ls;
    m->metrics_l = metrics;
    m->reload = reload;
    m->target = cfg->workers;
    m->workers_sent = -1;
    m->start_wall = now_wall();
    m->loop = loop_new();
    if (m->loop == NULL || loop_watch(m->loop, &m->sigwatch, sig_fd(), EPOLLIN, on_signal) != 0) {
        loop_free(m->loop);
        free(m);
        return 1;
    }
    if (metrics != NULL) {
        struct metrics_server_ops ops = {
            .render = render_metrics, .unhealthy = unhealthy, .ctx = m};
        m->msrv = metrics_server_new(m->loop, metrics, &ops);
        if (m->msrv == NULL) {
            loop_free(m->loop);
            free(m);
            return 1;
        }
    }
    if (scoreboard_map() != 0) {
        metrics_server_free(m->msrv);
        loop_free(m->loop);
        free(m);
        return 1;
    }
    m->slots = scoreboard;
    int rc = 0;
    if (wsgi_hooks_server(HOOK_WHEN_READY) != 0) {
        scoreboard_unmap();
        free(m);
        return 1;
    }
    while (true) {
        manage(m);
        /* Signals, scrapes, or 200 ms for the housekeeping below. */
        loop_run_once(m->loop, 200);
        if (m->sigs != 0) {
            uint64_t s = m->sigs;
            m->sigs = 0;
            handle_signals(m, s);
        }
        reap(m);
        upgrade_check_promoted(m->cfg->pidfile);
        /* gunicorn's arbiter sends the gauge when the count changes. */
        int alive = m->cfg->statsd != NULL ? count_alive(m) : m->workers_sent;
        if (alive != m->workers_sent) {
            m->workers_sent = alive;
            statsd_gauge(m->cfg->statsd, "gunicorn.workers", alive);
        }
        if (m->boot_failures > 0 && !m->stopping) {
            log_error("Worker failed to boot: the application could not be loaded, or a "
                      "post_fork/post_worker_init hook raised (see the traceback above); "
                      "shutting down");
            begin_stop(m, false, SIGTERM);
            rc = EXIT_BOOT_FAILED;
        }
        check_timeouts(m);
        if (m->stopping) {
            if (count_alive(m) == 0) {
                break;
            }
            if (now_mono() > m->stop_deadline) {
                for (int i = 0; i < MAX_SLOTS; i++) {
                    signal_worker(&m->procs[i], SIGKILL);
                }
                m->stop_deadline = now_mono() + 5.0;
            }
        }
    }
    if (m->hook_failed) {
        rc = 1;
    }
    metrics_server_free(m->msrv);
    loop_unwatch(m->loop, &m->sigwatch);
    loop_free(m->loop);
    scoreboard_unmap();
    free(m);
    return rc;
}
