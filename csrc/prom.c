/* Every family comes with its # HELP and # TYPE lines, and every series of
 * a family is always written (zeros too), so that rate() sees a counter
 * from its first increment. Names follow Prometheus' conventions: a unit
 * suffix (_seconds, _bytes), _total on counters. */
#include "prom.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "build_config.h"

__attribute__((format(printf, 2, 3))) static void
put(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    buf_reserve(b, 256);
    va_start(ap, fmt);
    int n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    if (n < 0) {
        return;
    }
    if ((size_t)n >= b->cap - b->len) {
        buf_reserve(b, (size_t)n + 1);
        va_start(ap, fmt);
        vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
    }
    b->len += (size_t)n;
}

static void
family(struct buf *b, const char *name, const char *type, const char *help)
{
    put(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A family with one unlabelled sample. */
static void
counter(struct buf *b, const char *name, const char *help, uint64_t v)
{
    family(b, name, "counter", help);
    put(b, "%s %llu\n", name, (unsigned long long)v);
}

static void
gauge(struct buf *b, const char *name, const char *help, long long v)
{
    family(b, name, "gauge", help);
    put(b, "%s %lld\n", name, v);
}

/* A label value: backslash, double quote and newline escaped. */
static void
put_label(struct buf *b, const char *v)
{
    for (; *v != '\0'; v++) {
        if (*v == '\\' || *v == '"') {
            put(b, "\\%c", *v);
        } else if (*v == '\n') {
            put(b, "\\n");
        } else {
            buf_append(b, v, 1);
        }
    }
}

/* Resident set size from /proc/PID/statm (its second field, in pages);
 * -1 when the process is gone. */
static long long
rss_bytes(int pid)
{
    char path[64], text[128];
    snprintf(path, sizeof(path), "/proc/%d/statm", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return -1;
    }
    ssize_t n = read(fd, text, sizeof(text) - 1);
    close(fd);
    if (n <= 0) {
        return -1;
    }
    text[n] = '\0';
    long long size, resident;
    if (sscanf(text, "%lld %lld", &size, &resident) != 2) {
        return -1;
    }
    return resident * sysconf(_SC_PAGESIZE);
}

static void
render_requests(struct buf *b, const struct metrics_counters *sum)
{
    family(b, "wsgihost_requests_total", "counter",
           "Responses sent, by request method and status class (the app's, and the "
           "server's own 4xx for bad requests and timeouts).");
    for (int m = 0; m < METRICS_N_METHODS; m++) {
        for (int c = 0; c < METRICS_N_CLASSES; c++) {
            put(b, "wsgihost_requests_total{method=\"%s\",status=\"%dxx\"} %llu\n",
                metrics_method_names[m], c + 1,
                (unsigned long long)metrics_get(&sum->requests[m][c]));
        }
    }
    family(b, "wsgihost_request_duration_seconds", "histogram",
           "Time from a request's first byte to the end of its response (queued for the "
           "socket).");
    uint64_t cum = 0;
    for (int i = 0; i < METRICS_N_BUCKETS; i++) {
        cum += metrics_get(&sum->duration[i]);
        if (i < METRICS_N_BOUNDS) {
            put(b, "wsgihost_request_duration_seconds_bucket{le=\"%g\"} %llu\n",
                (double)metrics_bounds_us[i] / 1e6, (unsigned long long)cum);
        } else {
            put(b, "wsgihost_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n",
                (unsigned long long)cum);
        }
    }
    uint64_t us = metrics_get(&sum->duration_us);
    put(b, "wsgihost_request_duration_seconds_sum %llu.%06llu\n",
        (unsigned long long)(us / 1000000), (unsigned long long)(us % 1000000));
    put(b, "wsgihost_request_duration_seconds_count %llu\n", (unsigned long long)cum);
}

static void
render_traffic(struct buf *b, const struct metrics_counters *sum)
{
    counter(b, "wsgihost_received_bytes_total", "Bytes read from clients (after TLS decryption).",
            metrics_get(&sum->bytes_in));
    counter(b, "wsgihost_sent_bytes_total",
            "Bytes written to clients, heads and bodies (before TLS encryption).",
            metrics_get(&sum->bytes_out));
    counter(b, "wsgihost_connections_total", "Client connections accepted.",
            metrics_get(&sum->conns_accepted));
    gauge(b, "wsgihost_connections_open", "Client connections open now.",
          (long long)atomic_load_explicit(&sum->conns_open, memory_order_relaxed));
    gauge(b, "wsgihost_connections_active",
          "Connections with a request being answered now (the others are idle in keep-alive "
          "or still sending a request).",
          (long long)atomic_load_explicit(&sum->conns_active, memory_order_relaxed));
    gauge(b, "wsgihost_pool_queued",
          "App calls waiting for a free pool thread (--threads), all workers.",
          (long long)atomic_load_explicit(&sum->pool_queued, memory_order_relaxed));
    family(b, "wsgihost_tls_handshakes_total", "counter",
           "TLS handshakes on the app's listeners, by result (failed includes clients that "
           "left before finishing one).");
    put(b, "wsgihost_tls_handshakes_total{result=\"ok\"} %llu\n",
        (unsigned long long)metrics_get(&sum->tls_ok));
    put(b, "wsgihost_tls_handshakes_total{result=\"failed\"} %llu\n",
        (unsigned long long)metrics_get(&sum->tls_failed));
}

/* One per-worker family: each worker's value from get(). */
static void
per_worker(struct buf *b, const struct prom_view *v, const char *name, const char *type,
           const char *help, long long (*get)(const struct prom_worker *w, int64_t now_ms))
{
    family(b, name, type, help);
    int64_t now_ms = now_mono_ms();
    for (size_t i = 0; i < v->n_workers; i++) {
        const struct prom_worker *w = &v->workers[i];
        put(b, "%s{worker=\"%d\"} %lld\n", name, w->index, get(w, now_ms));
    }
}

static long long
w_pid(const struct prom_worker *w, int64_t now_ms)
{
    (void)now_ms;
    return w->pid;
}

static long long
w_ready(const struct prom_worker *w, int64_t now_ms)
{
    (void)now_ms;
    return w->pid > 0 && w->slot->booted;
}

static long long
w_busy(const struct prom_worker *w, int64_t now_ms)
{
    (void)now_ms;
    return w->slot->busy_since_ms > 0;
}

static long long
w_requests(const struct prom_worker *w, int64_t now_ms)
{
    (void)now_ms;
    return (long long)w->requests;
}

static long long
w_restarts(const struct prom_worker *w, int64_t now_ms)
{
    (void)now_ms;
    return (long long)w->restarts;
}

static long long
w_conns(const struct prom_worker *w, int64_t now_ms)
{
    (void)now_ms;
    return w->slot->n_conns;
}

static long long
w_rss(const struct prom_worker *w, int64_t now_ms)
{
    (void)now_ms;
    long long rss = w->pid > 0 ? rss_bytes(w->pid) : -1;
    return rss < 0 ? 0 : rss;
}

static void
render_workers(struct buf *b, const struct prom_view *v)
{
    int busy = 0;
    for (size_t i = 0; i < v->n_workers; i++) {
        busy += v->workers[i].slot->busy_since_ms > 0;
    }
    gauge(b, "wsgihost_workers", "Worker processes alive (booting, serving or stopping).",
          (long long)v->n_workers);
    gauge(b, "wsgihost_workers_desired", "Worker processes wanted (-w, TTIN/TTOU).",
          v->workers_desired);
    gauge(b, "wsgihost_workers_busy", "Workers inside an app call now.", busy);
    counter(b, "wsgihost_worker_boots_total", "Worker processes started.", v->boots);
    counter(b, "wsgihost_worker_deaths_total",
            "Workers that exited without being asked to (a crash, a signal, the OOM killer, a "
            "failed boot).",
            v->deaths);
    counter(b, "wsgihost_worker_timeouts_total",
            "Workers killed by --timeout (busy in one request for too long).", v->timeouts);

    per_worker(b, v, "wsgihost_worker_pid", "gauge", "The worker's process id.", w_pid);
    per_worker(b, v, "wsgihost_worker_ready", "gauge",
               "1 once the worker has loaded the app and accepts.", w_ready);
    per_worker(b, v, "wsgihost_worker_busy", "gauge",
               "1 while the worker is inside an app call (with --threads: at least one).", w_busy);
    family(b, "wsgihost_worker_request_age_seconds", "gauge",
           "How long the worker's current (oldest) app call has run; 0 when idle.");
    int64_t now_ms = now_mono_ms();
    for (size_t i = 0; i < v->n_workers; i++) {
        const struct prom_worker *w = &v->workers[i];
        int64_t since = w->slot->busy_since_ms;
        int64_t age = since > 0 && now_ms > since ? now_ms - since : 0;
        put(b, "wsgihost_worker_request_age_seconds{worker=\"%d\"} %lld.%03lld\n", w->index,
            (long long)(age / 1000), (long long)(age % 1000));
    }
    per_worker(b, v, "wsgihost_worker_requests_total", "counter",
               "Requests the app answered in this slot, its restarted workers included (the "
               "server's own 4xx for bad requests are only in wsgihost_requests_total).",
               w_requests);
    per_worker(b, v, "wsgihost_worker_restarts_total", "counter",
               "Workers started in this slot after its first.", w_restarts);
    per_worker(b, v, "wsgihost_worker_connections", "gauge",
               "The worker's open connections whose client has not closed its side.", w_conns);
    per_worker(b, v, "wsgihost_worker_resident_memory_bytes", "gauge",
               "The worker's resident set size (/proc/PID/statm).", w_rss);
}

/* For a listening socket, tcpi_unacked is the accept queue's length and
 * tcpi_sacked its limit (what ss shows as Recv-Q / Send-Q). */
static bool
listen_queue(const struct listener *l, struct tcp_info *ti)
{
    socklen_t len = sizeof(*ti);
    memset(ti, 0, sizeof(*ti));
    return !l->is_unix && l->fd >= 0 && getsockopt(l->fd, IPPROTO_TCP, TCP_INFO, ti, &len) == 0;
}

static void
render_backlog(struct buf *b, const struct prom_view *v)
{
    struct tcp_info ti;
    family(b, "wsgihost_listen_backlog", "gauge",
           "Connections waiting in a listening socket's accept queue (TCP listeners only: "
           "Linux does not report it for unix sockets).");
    for (size_t i = 0; i < v->n_ls; i++) {
        if (listen_queue(&v->ls[i], &ti)) {
            put(b, "wsgihost_listen_backlog{listener=\"");
            put_label(b, v->ls[i].display);
            put(b, "\"} %u\n", ti.tcpi_unacked);
        }
    }
    family(b, "wsgihost_listen_backlog_max", "gauge",
           "The accept queue's limit (--backlog, capped by net.core.somaxconn).");
    for (size_t i = 0; i < v->n_ls; i++) {
        if (listen_queue(&v->ls[i], &ti)) {
            put(b, "wsgihost_listen_backlog_max{listener=\"");
            put_label(b, v->ls[i].display);
            put(b, "\"} %u\n", ti.tcpi_sacked);
        }
    }
}

void
prom_render(struct buf *out, const struct prom_view *v)
{
    struct metrics_counters sum;
    memset(&sum, 0, sizeof(sum));
    if (v->folded != NULL) {
        metrics_sum(&sum, v->folded);
    }
    for (size_t i = 0; i < v->n_workers; i++) {
        metrics_sum(&sum, &v->workers[i].slot->metrics);
    }
    render_requests(out, &sum);
    render_traffic(out, &sum);
    render_workers(out, v);
    render_backlog(out, v);
    family(out, "wsgihost_draining", "gauge",
           "1 while the server stops or drains (GET /healthz answers 503 then).");
    put(out, "wsgihost_draining %d\n", v->draining ? 1 : 0);
    family(out, "wsgihost_start_time_seconds", "gauge", "When the server started (Unix time).");
    put(out, "wsgihost_start_time_seconds %.3f\n", v->start_wall);
    family(out, "wsgihost_build_info", "gauge", "The wsgihost version (always 1).");
    put(out, "wsgihost_build_info{version=\"%s\",python=\"%s\"} 1\n", WSGIHOST_VERSION,
        WSGIHOST_PYTHON_VERSION);
}
