/* gunicorn's statsd metrics over UDP (statsd.h). */
#include "statsd.h"

#include <errno.h>
#include <netdb.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"

/* One datagram: under the 1,472 bytes of an Ethernet MTU, the rule of
 * thumb for statsd clients. */
#define DATAGRAM_MAX 1400
#define PREFIX_MAX 128
#define TAGS_MAX 160
#define LINE_MAX_LEN 512 /* > prefix + the longest name + 20 digits + tags */

struct statsd {
    int fd;
    char prefix[PREFIX_MAX]; /* "app." or "" */
    char tags[TAGS_MAX];     /* "|#env:prod,team:x" or "" */
    size_t prefix_len, tags_len;
    char dest[300];    /* for the one log line a failure gets */
    char buf[DATAGRAM_MAX];
    size_t len;
    atomic_bool failed_said;
};

static struct statsd *log_target;

/* A line snprintf() wrote into line[size]: its length, cut to what fits. */
static size_t
fitted(int n, size_t size)
{
    return n < 0 ? 0 : (size_t)n >= size ? size - 1 : (size_t)n;
}

static void
send_now(struct statsd *s, const char *p, size_t n)
{
    if (n == 0) {
        return;
    }
    if (send(s->fd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL) < 0 && errno != EAGAIN &&
        !atomic_exchange(&s->failed_said, true)) {
        /* Not log_warning(): it would count itself. */
        log_msg(LOG_INFO, "statsd: cannot send to %s: %m (said once; metrics are dropped "
                          "while it lasts)", s->dest);
    }
}

static bool
split_host_port(const char *spec, char *host, size_t hsz, char *port, size_t psz)
{
    const char *colon;
    if (spec[0] == '[') {
        const char *close = strchr(spec, ']');
        if (close == NULL || close[1] != ':') {
            return false;
        }
        snprintf(host, hsz, "%.*s", (int)(close - spec - 1), spec + 1);
        colon = close + 1;
    } else {
        colon = strrchr(spec, ':');
        if (colon == NULL || strchr(spec, ':') != colon) {
            return false;
        }
        snprintf(host, hsz, "%.*s", (int)(colon - spec), spec);
    }
    snprintf(port, psz, "%s", colon + 1);
    return host[0] != '\0' && port[0] != '\0';
}

struct statsd *
statsd_new(const char *host_port, const char *prefix, const char *tags, char *err, size_t errsz)
{
    char host[256], port[32];
    if (!split_host_port(host_port, host, sizeof(host), port, sizeof(port))) {
        errfmt(err, errsz, "--statsd-host '%s': expected HOST:PORT", host_port);
        return NULL;
    }
    /* gunicorn's rule: one trailing '.' after a non-empty prefix. */
    size_t pl = prefix ? strlen(prefix) : 0;
    while (pl > 0 && prefix[pl - 1] == '.') {
        pl--;
    }
    size_t tl = tags ? strlen(tags) : 0;
    /* Said, not cut: room for the dot, "|#" and the NUL. */
    if (pl + 2 > PREFIX_MAX) {
        errfmt(err, errsz, "--statsd-prefix is longer than %d characters", PREFIX_MAX - 2);
        return NULL;
    }
    if (tl + 3 > TAGS_MAX) {
        errfmt(err, errsz, "--dogstatsd-tags is longer than %d characters", TAGS_MAX - 3);
        return NULL;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM};
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0) {
        errfmt(err, errsz, "--statsd-host %s: %s", host_port, gai_strerror(rc));
        return NULL;
    }
    int fd = -1;
    for (struct addrinfo *a = res; a != NULL && fd < 0; a = a->ai_next) {
        fd = socket(a->ai_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd >= 0 && connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
            close(fd);
            fd = -1;
        }
    }
    int saved = errno;
    freeaddrinfo(res);
    if (fd < 0) {
        errfmt(err, errsz, "--statsd-host %s: %s", host_port, strerror(saved));
        return NULL;
    }
    struct statsd *s = xcalloc(1, sizeof(*s));
    s->fd = fd;
    if (pl > 0) {
        snprintf(s->prefix, sizeof(s->prefix), "%.*s.", (int)pl, prefix);
    }
    if (tl > 0) {
        snprintf(s->tags, sizeof(s->tags), "|#%s", tags);
    }
    snprintf(s->dest, sizeof(s->dest), "%s", host_port);
    s->prefix_len = strlen(s->prefix);
    s->tags_len = strlen(s->tags);
    return s;
}

void
statsd_free(struct statsd *s)
{
    if (s == NULL) {
        return;
    }
    statsd_flush(s);
    if (log_target == s) {
        statsd_count_logs(NULL);
    }
    close(s->fd);
    free(s);
}

void
statsd_flush(struct statsd *s)
{
    if (s != NULL && s->len > 0) {
        send_now(s, s->buf, s->len);
        s->len = 0;
    }
}

static void
buffer_line(struct statsd *s, const char *line, size_t n)
{
    if (s->len > 0 && s->len + 1 + n > sizeof(s->buf)) {
        statsd_flush(s);
    }
    if (s->len > 0) {
        s->buf[s->len++] = '\n';
    }
    memcpy(s->buf + s->len, line, n);
    s->len += n;
}

/* Decimal digits of v into p (util.h's put_dec); returns how many. */
static size_t
put_uint(char *p, uint64_t v)
{
    return (size_t)(put_dec(p, v) - p);
}

static size_t
put(char *p, const char *s, size_t n)
{
    memcpy(p, s, n);
    return n;
}

/* The three lines by hand (snprintf took 4,300 instructions per request,
 * 40% of a plain callable's; bench/instr): the constant parts are copied,
 * the status and the milliseconds (3 decimals) written digit by digit. */
void
statsd_request(struct statsd *s, int status, double seconds)
{
    char line[LINE_MAX_LEN];
    uint64_t us = seconds > 0 ? (uint64_t)(seconds * 1e6 + 0.5) : 0;
    size_t pl = s->prefix_len, tl = s->tags_len;
    size_t n = put(line, s->prefix, pl);
    n += put(line + n, "gunicorn.request.duration:", 26);
    n += put_uint(line + n, us / 1000);
    line[n++] = '.';
    line[n++] = (char)('0' + us / 100 % 10);
    line[n++] = (char)('0' + us / 10 % 10);
    line[n++] = (char)('0' + us % 10);
    n += put(line + n, "|ms", 3);
    n += put(line + n, s->tags, tl);
    buffer_line(s, line, n);
    n = put(line, s->prefix, pl);
    n += put(line + n, "gunicorn.requests:1|c|@1.0", 26);
    n += put(line + n, s->tags, tl);
    buffer_line(s, line, n);
    n = put(line, s->prefix, pl);
    n += put(line + n, "gunicorn.request.status.", 24);
    n += put_uint(line + n, status > 0 ? (uint64_t)status : 0);
    n += put(line + n, ":1|c|@1.0", 9);
    n += put(line + n, s->tags, tl);
    buffer_line(s, line, n);
}

void
statsd_gauge(struct statsd *s, const char *name, long value)
{
    char line[LINE_MAX_LEN];
    int n = snprintf(line, sizeof(line), "%s%s:%ld|g%s", s->prefix, name, value, s->tags);
    send_now(s, line, fitted(n, sizeof(line)));
}

static void
count_log(int level)
{
    struct statsd *s = log_target;
    if (s == NULL) {
        return;
    }
    const char *name = level >= LOG_CRITICAL ? "critical" : level >= LOG_ERROR ? "error"
                                                                               : "warning";
    char line[LINE_MAX_LEN];
    int n = snprintf(line, sizeof(line), "%sgunicorn.log.%s:1|c|@1.0%s", s->prefix, name,
                     s->tags);
    send_now(s, line, fitted(n, sizeof(line)));
}

void
statsd_count_logs(struct statsd *s)
{
    log_target = s;
    log_set_counter(s != NULL ? count_log : NULL);
}
