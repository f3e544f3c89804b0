/* Error log and access log. Each line leaves in one write(2) on an O_APPEND
 * descriptor, so lines from the master, the workers and their threads never
 * interleave, and nothing is buffered in user space (a crash loses nothing,
 * log_flush has nothing to do). The access log may be on in benchmarks, so its
 * path formats into a stack buffer, reuses the time string within a second and
 * never calls malloc for lines under 4 KiB. */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <sys/uio.h>
#include <unistd.h>

#define ERROR_LINE_MAX  8192
#define ACCESS_LINE_MAX ((size_t)64 * 1024) /* longer lines are cut, values first */
#define ACCESS_STACK    4096

enum atom {
    AT_LITERAL,
    AT_DASH, /* unknown atoms print "-", as gunicorn's SafeAtoms does */
    AT_h,
    AT_l,
    AT_u,
    AT_t,
    AT_r,
    AT_m,
    AT_U,
    AT_q,
    AT_H,
    AT_s,
    AT_B,
    AT_b,
    AT_f,
    AT_a,
    AT_T,
    AT_M,
    AT_D,
    AT_L,
    AT_p,
    AT_REQ_HEADER,
    AT_RESP_HEADER,
};

/* One piece of the compiled --access-logformat: literal text or an atom
 * (for header atoms, s/len is the header name). Points into state.format. */
struct seg {
    enum atom atom;
    const char *s;
    size_t len;
};

static struct {
    int level;
    int err_fd;
    int acc_fd;     /* -1 = access log off */
    char *err_path; /* NULL = stderr (nothing to reopen) */
    char *acc_path; /* NULL = off or stdout */
    char *format;
    struct seg *segs;
    size_t n_segs;
    bool capture; /* fd 1 and 2 are the error log file (capture_output) */
} state = {
    .level = LOG_INFO,
    .err_fd = STDERR_FILENO,
    .acc_fd = -1,
};

/* Cached getpid(): reset to 0 in every child by a pthread_atfork handler
 * (also run by Python's os.fork), so a worker never logs its master's pid. */
static _Atomic pid_t cached_pid;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void
on_fork_child(void)
{
    atomic_store_explicit(&cached_pid, 0, memory_order_relaxed);
}

static void
register_atfork(void)
{
    pthread_atfork(NULL, NULL, on_fork_child);
}

static pid_t
log_pid(void)
{
    pid_t pid = atomic_load_explicit(&cached_pid, memory_order_relaxed);

    if (UNLIKELY(pid == 0)) {
        pthread_once(&atfork_once, register_atfork);
        pid = getpid();
        atomic_store_explicit(&cached_pid, pid, memory_order_relaxed);
    }
    return pid;
}

/* Both time strings for one second, per thread (so --threads needs no lock).
 * Formatted by hand: strftime's %b follows LC_TIME, which the app may change. */
struct time_cache {
    time_t sec;
    char err[32]; /* "[2026-11-26 16:41:39 +0000]" */
    char acc[32]; /* "[26/Nov/2026:16:41:39 +0000]" */
    size_t err_len;
    size_t acc_len;
};
static _Thread_local struct time_cache tcache = {.sec = (time_t)-1};

static const struct time_cache *
time_strings(time_t sec)
{
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    struct time_cache *tc = &tcache;
    struct tm tm;
    long off;
    char sign;
    int n;

    if (LIKELY(tc->sec == sec)) {
        return tc;
    }
    if (localtime_r(&sec, &tm) == NULL) {
        memset(&tm, 0, sizeof(tm));
    }
    off = tm.tm_gmtoff;
    sign = off < 0 ? '-' : '+';
    off = (off < 0 ? -off : off) / 60;
    n = snprintf(tc->err, sizeof(tc->err), "[%04d-%02d-%02d %02d:%02d:%02d %c%02ld%02ld]",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                 sign, off / 60, off % 60);
    tc->err_len = n > 0 && (size_t)n < sizeof(tc->err) ? (size_t)n : 0;
    n = snprintf(tc->acc, sizeof(tc->acc), "[%02d/%s/%04d:%02d:%02d:%02d %c%02ld%02ld]", tm.tm_mday,
                 months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec, sign,
                 off / 60, off % 60);
    tc->acc_len = n > 0 && (size_t)n < sizeof(tc->acc) ? (size_t)n : 0;
    tc->sec = sec;
    return tc;
}

/* A log line that could not be written has nowhere to be reported: give up
 * quietly on errors other than EINTR, but finish short writes. */
static void
write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            return;
        }
        p += w;
        n -= (size_t)w;
    }
}

int
log_level_parse(const char *s)
{
    static const struct {
        const char *name;
        int level;
    } levels[] = {
        {"debug", LOG_DEBUG}, {"info", LOG_INFO},         {"warning", LOG_WARNING},
        {"error", LOG_ERROR}, {"critical", LOG_CRITICAL},
    };

    for (size_t i = 0; i < countof(levels); i++) {
        if (strcasecmp(s, levels[i].name) == 0) {
            return levels[i].level;
        }
    }
    return -1;
}

static const char *
level_name(int level)
{
    if (level <= LOG_DEBUG) {
        return "DEBUG";
    }
    if (level <= LOG_INFO) {
        return "INFO";
    }
    if (level <= LOG_WARNING) {
        return "WARNING";
    }
    if (level <= LOG_ERROR) {
        return "ERROR";
    }
    return "CRITICAL";
}

bool
log_enabled(int level)
{
    return level >= state.level;
}

void
log_vmsg(int level, const char *fmt, va_list ap)
{
    char line[ERROR_LINE_MAX];
    const struct time_cache *tc;
    int saved_errno = errno;
    size_t n;
    int m;

    if (level < state.level) {
        return;
    }
    tc = time_strings(time(NULL));
    m = snprintf(line, sizeof(line), "%.*s [%d] [%s] ", (int)tc->err_len, tc->err, (int)log_pid(),
                 level_name(level));
    n = m > 0 ? (size_t)m : 0;
    /* Room is kept for the newline; a cut line ends in "..." to say so. */
    m = vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
    if (m < 0) {
        m = 0;
    }
    if ((size_t)m >= sizeof(line) - n - 1) {
        n = sizeof(line) - 2; /* what vsnprintf wrote, without its NUL */
        line[n - 3] = line[n - 2] = line[n - 1] = '.';
    } else {
        n += (size_t)m;
    }
    while (n > 0 && line[n - 1] == '\n') {
        n--;
    }
    line[n++] = '\n';
    write_all(state.err_fd, line, n);
    errno = saved_errno;
}

static void (*level_counter)(int level);

void
log_set_counter(void (*fn)(int level))
{
    level_counter = fn;
}

void
log_msg(int level, const char *fmt, ...)
{
    va_list ap;

    if (level >= LOG_WARNING && level_counter != NULL) {
        int saved_errno = errno; /* for the line's %m */
        level_counter(level);
        errno = saved_errno;
    }
    if (level < state.level) {
        return;
    }
    va_start(ap, fmt);
    log_vmsg(level, fmt, ap);
    va_end(ap);
}

void
log_write_raw(const char *p, size_t n)
{
    int saved_errno = errno;

    write_all(state.err_fd, p, n);
    errno = saved_errno;
}

void
log_flush(void)
{
    /* Nothing is buffered: every line went out with its own write(2). */
}

/* ---- access log format ------------------------------------------------- */

static void
add_seg(struct seg **segs, size_t *n, enum atom atom, const char *s, size_t len)
{
    if (atom == AT_LITERAL && len == 0) {
        return;
    }
    if (atom == AT_LITERAL && *n > 0 && (*segs)[*n - 1].atom == AT_LITERAL &&
        (*segs)[*n - 1].s + (*segs)[*n - 1].len == s) {
        (*segs)[*n - 1].len += len;
        return;
    }
    *segs = xrealloc(*segs, (*n + 1) * sizeof(**segs));
    (*segs)[*n] = (struct seg){atom, s, len};
    (*n)++;
}

static enum atom
atom_of(const char *name, size_t len, const char **hdr, size_t *hdr_len)
{
    static const char letters[] = "hlutrmUqHsBbfaTMDLp";
    const char *close;

    if (len == 1 && name[0] != '\0' && strchr(letters, name[0]) != NULL) {
        return (enum atom)(AT_h + (strchr(letters, name[0]) - letters));
    }
    /* "{name}i" request header, "{name}o" response header; "{name}e"
     * (environ) has no C-side source and prints "-" like any unknown atom. */
    if (len >= 4 && name[0] == '{' && name[len - 2] == '}' &&
        (close = memchr(name, '}', len)) == name + len - 2) {
        *hdr = name + 1;
        *hdr_len = len - 3;
        if (name[len - 1] == 'i') {
            return AT_REQ_HEADER;
        }
        if (name[len - 1] == 'o') {
            return AT_RESP_HEADER;
        }
    }
    return AT_DASH;
}

/* Python %-formatting as gunicorn applies it: "%(name)s" (or d/r), "%%".
 * Anything else is kept as literal text rather than refused. */
static void
compile_format(const char *fmt, struct seg **segs, size_t *n)
{
    const char *p = fmt, *lit = fmt;

    *segs = NULL;
    *n = 0;
    while (*p != '\0') {
        if (p[0] != '%') {
            p++;
            continue;
        }
        if (p[1] == '%') {
            add_seg(segs, n, AT_LITERAL, lit, (size_t)(p + 1 - lit));
            p += 2;
            lit = p;
            continue;
        }
        if (p[1] == '(') {
            const char *close = strchr(p + 2, ')');
            if (close != NULL && close[1] != '\0' && strchr("sdr", close[1]) != NULL) {
                const char *hdr = NULL;
                size_t hdr_len = 0;
                enum atom a = atom_of(p + 2, (size_t)(close - p - 2), &hdr, &hdr_len);

                add_seg(segs, n, AT_LITERAL, lit, (size_t)(p - lit));
                add_seg(segs, n, a, hdr, hdr_len);
                p = close + 2;
                lit = p;
                continue;
            }
        }
        p++;
    }
    add_seg(segs, n, AT_LITERAL, lit, (size_t)(p - lit));
}

/* ---- output buffer: on the stack, on the heap only for long lines ------- */

struct obuf {
    char *p;
    size_t len;
    size_t cap;
    bool heap;
};

/* Makes room for up to n bytes and returns how many fit under
 * ACCESS_LINE_MAX (one byte is always kept for the final newline). */
static size_t
ob_room(struct obuf *b, size_t n)
{
    const size_t limit = ACCESS_LINE_MAX - 1;

    if (b->len >= limit) {
        return 0;
    }
    if (n > limit - b->len) {
        n = limit - b->len;
    }
    if (UNLIKELY(b->len + n + 1 > b->cap)) {
        size_t cap = b->cap * 2;
        if (cap < b->len + n + 1) {
            cap = b->len + n + 1;
        }
        if (cap > ACCESS_LINE_MAX) {
            cap = ACCESS_LINE_MAX;
        }
        if (b->heap) {
            b->p = xrealloc(b->p, cap);
        } else {
            char *np = xmalloc(cap);
            memcpy(np, b->p, b->len);
            b->p = np;
            b->heap = true;
        }
        b->cap = cap;
    }
    return n;
}

static inline void
ob_put(struct obuf *b, const char *s, size_t n)
{
    n = ob_room(b, n);
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

static void
ob_put_u64(struct obuf *b, uint64_t v)
{
    char tmp[20];
    ob_put(b, tmp, (size_t)(put_dec(tmp, v) - tmp));
}

static inline bool
plain_byte(unsigned char ch)
{
    return ch >= 0x20 && ch < 0x7f && ch != '"' && ch != '\\';
}

/* Client-controlled text: '"' and '\' get a backslash (so quoted fields stay
 * parseable) and every control or non-ASCII byte becomes \xHH, so that no
 * request can forge a log line or send escape sequences to a terminal. */
static void
ob_put_escaped(struct obuf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t i = 0;

    while (i < n) {
        size_t run = i;
        while (run < n && plain_byte((unsigned char)s[run])) {
            run++;
        }
        if (run > i) {
            ob_put(b, s + i, run - i);
            i = run;
            continue;
        }
        unsigned char ch = (unsigned char)s[i++];
        if (ch == '"' || ch == '\\') {
            if (ob_room(b, 2) < 2) {
                return;
            }
            b->p[b->len++] = '\\';
            b->p[b->len++] = (char)ch;
        } else {
            if (ob_room(b, 4) < 4) {
                return;
            }
            b->p[b->len++] = '\\';
            b->p[b->len++] = 'x';
            b->p[b->len++] = hex[ch >> 4];
            b->p[b->len++] = hex[ch & 15];
        }
    }
}

static void
ob_put_value_or_dash(struct obuf *b, const char *s, size_t n, bool found)
{
    if (!found) {
        ob_put(b, "-", 1);
    } else {
        ob_put_escaped(b, s, n);
    }
}

static const struct hfield *
find_header(const struct hfield *h, size_t n, const char *name, size_t name_len)
{
    for (size_t i = 0; i < n; i++) {
        if (h[i].name_len == name_len && strncasecmp(h[i].name, name, name_len) == 0) {
            return &h[i];
        }
    }
    return NULL;
}

static int
b64_value(unsigned char ch)
{
    if (ch >= 'A' && ch <= 'Z') {
        return ch - 'A';
    }
    if (ch >= 'a' && ch <= 'z') {
        return ch - 'a' + 26;
    }
    if (ch >= '0' && ch <= '9') {
        return ch - '0' + 52;
    }
    if (ch == '+') {
        return 62;
    }
    if (ch == '/') {
        return 63;
    }
    return -1;
}

/* The user of "Authorization: Basic base64(user:password)", decoded into
 * out (the password is never kept). Returns its length, or -1 when absent or
 * malformed (then gunicorn logs "-" too). */
static int
basic_auth_user(const struct access_entry *e, char *out, size_t out_size)
{
    const struct hfield *h =
        find_header(e->req_headers, e->n_req_headers, "authorization", strlen("authorization"));
    const char *p, *end;
    uint32_t acc = 0;
    int bits = 0;
    size_t n = 0;

    if (h == NULL || h->value_len < 6 || strncasecmp(h->value, "basic ", 6) != 0) {
        return -1;
    }
    p = h->value + 6;
    end = h->value + h->value_len;
    while (p < end && *p == ' ') {
        p++;
    }
    for (; p < end && *p != '='; p++) {
        int v = b64_value((unsigned char)*p);
        if (v < 0) {
            return -1;
        }
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            char ch = (char)((acc >> bits) & 0xff);
            if (ch == ':') {
                return (int)n;
            }
            if (n == out_size) {
                return (int)n; /* a very long user name is cut */
            }
            out[n++] = ch;
        }
    }
    return -1; /* no ':' → not user:password */
}

/* Formats one access line into b (without the newline). */
static void
format_access(struct obuf *b, const struct seg *segs, size_t n_segs, const struct access_entry *e)
{
    double dur = e->duration > 0 ? e->duration : 0;
    uint64_t us = (uint64_t)(dur * 1e6);
    const struct hfield *h;

    for (size_t i = 0; i < n_segs; i++) {
        const struct seg *s = &segs[i];
        switch (s->atom) {
        case AT_LITERAL:
            ob_put(b, s->s, s->len);
            break;
        case AT_DASH:
        case AT_l:
            ob_put(b, "-", 1);
            break;
        case AT_h:
            if (e->remote_addr == NULL || e->remote_addr[0] == '\0') {
                ob_put(b, "-", 1);
            } else {
                ob_put_escaped(b, e->remote_addr, strlen(e->remote_addr));
            }
            break;
        case AT_u: {
            char user[256];
            int ulen = basic_auth_user(e, user, sizeof(user));
            ob_put_value_or_dash(b, user, ulen > 0 ? (size_t)ulen : 0, ulen > 0);
            break;
        }
        case AT_t: {
            const struct time_cache *tc = time_strings((time_t)(e->start_wall + dur));
            ob_put(b, tc->acc, tc->acc_len);
            break;
        }
        case AT_r:
            ob_put_escaped(b, e->method, e->method_len);
            ob_put(b, " ", 1);
            ob_put_escaped(b, e->target, e->target_len);
            ob_put(b, " ", 1);
            /* fall through */
        case AT_H: {
            char proto[16] = "HTTP/x.y";
            proto[5] = (char)('0' + (e->http_major % 10));
            proto[7] = (char)('0' + (e->http_minor % 10));
            ob_put(b, proto, 8);
            break;
        }
        case AT_m:
            ob_put_escaped(b, e->method, e->method_len);
            break;
        case AT_U:
            ob_put_escaped(b, e->path, e->path_len);
            break;
        case AT_q:
            ob_put_escaped(b, e->query, e->query_len);
            break;
        case AT_s:
            ob_put_u64(b, (uint64_t)(e->status > 0 ? e->status : 0));
            break;
        case AT_B:
            ob_put_u64(b, e->body_bytes);
            break;
        case AT_b:
            if (e->body_bytes == 0) {
                ob_put(b, "-", 1);
            } else {
                ob_put_u64(b, e->body_bytes);
            }
            break;
        case AT_f:
            h = find_header(e->req_headers, e->n_req_headers, "referer", 7);
            ob_put_value_or_dash(b, h ? h->value : NULL, h ? h->value_len : 0, h != NULL);
            break;
        case AT_a:
            h = find_header(e->req_headers, e->n_req_headers, "user-agent", 10);
            ob_put_value_or_dash(b, h ? h->value : NULL, h ? h->value_len : 0, h != NULL);
            break;
        case AT_T:
            ob_put_u64(b, us / 1000000);
            break;
        case AT_M:
            ob_put_u64(b, us / 1000);
            break;
        case AT_D:
            ob_put_u64(b, us);
            break;
        case AT_L: {
            char frac[8];
            uint64_t f = us % 1000000;
            ob_put_u64(b, us / 1000000);
            frac[0] = '.';
            for (int k = 6; k >= 1; k--) {
                frac[k] = (char)('0' + f % 10);
                f /= 10;
            }
            ob_put(b, frac, 7);
            break;
        }
        case AT_p:
            ob_put(b, "<", 1);
            ob_put_u64(b, (uint64_t)log_pid());
            ob_put(b, ">", 1);
            break;
        case AT_REQ_HEADER:
            h = find_header(e->req_headers, e->n_req_headers, s->s, s->len);
            ob_put_value_or_dash(b, h ? h->value : NULL, h ? h->value_len : 0, h != NULL);
            break;
        case AT_RESP_HEADER:
            h = find_header(e->resp_headers, e->n_resp_headers, s->s, s->len);
            ob_put_value_or_dash(b, h ? h->value : NULL, h ? h->value_len : 0, h != NULL);
            break;
        }
    }
}

bool
log_access_enabled(void)
{
    return state.acc_fd >= 0;
}

void
log_access(const struct access_entry *e)
{
    char stack[ACCESS_STACK];
    struct obuf b = {stack, 0, sizeof(stack), false};
    int saved_errno = errno;

    if (state.acc_fd < 0) {
        return;
    }
    format_access(&b, state.segs, state.n_segs, e);
    b.p[b.len++] = '\n'; /* ob_room always leaves this byte */
    write_all(state.acc_fd, b.p, b.len);
    if (b.heap) {
        free(b.p);
    }
    errno = saved_errno;
}

void
log_access_raw(const char *p, size_t n)
{
    int saved_errno = errno;

    if (state.acc_fd < 0) {
        return;
    }
    struct iovec iov[2] = {{(void *)p, n}, {"\n", 1}};
    /* One writev(2), so that the line cannot interleave with another. */
    ssize_t w = writev(state.acc_fd, iov, 2);
    if (w >= 0 && (size_t)w < n + 1) {
        if ((size_t)w < n) {
            write_all(state.acc_fd, p + w, n - (size_t)w);
        }
        write_all(state.acc_fd, "\n", 1);
    }
    errno = saved_errno;
}

/* ---- opening, reopening, closing --------------------------------------- */

static int
open_log_file(const char *path)
{
    return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
}

void
log_close(void)
{
    if (state.err_fd > STDERR_FILENO) {
        close(state.err_fd);
    }
    if (state.acc_fd > STDERR_FILENO) {
        close(state.acc_fd);
    }
    free(state.err_path);
    free(state.acc_path);
    free(state.format);
    free(state.segs);
    state.level = LOG_INFO;
    state.err_fd = STDERR_FILENO;
    state.acc_fd = -1;
    state.err_path = NULL;
    state.acc_path = NULL;
    state.format = NULL;
    state.segs = NULL;
    state.n_segs = 0;
    state.capture = false;
}

int
log_open(const char *error_path, int level, const char *access_path, const char *access_format)
{
    int err_fd = STDERR_FILENO, acc_fd = -1;
    bool err_file = error_path != NULL && strcmp(error_path, "-") != 0;
    bool acc_file = access_path != NULL && strcmp(access_path, "-") != 0;

    if (err_file && (err_fd = open_log_file(error_path)) < 0) {
        fprintf(stderr, "wsgihost: error: cannot open error log '%s': %s\n", error_path,
                strerror(errno));
        goto fail;
    }
    if (access_path != NULL) {
        acc_fd = STDOUT_FILENO;
        if (acc_file && (acc_fd = open_log_file(access_path)) < 0) {
            fprintf(stderr, "wsgihost: error: cannot open access log '%s': %s\n", access_path,
                    strerror(errno));
            goto fail;
        }
    }
    log_close();
    state.level = level;
    state.err_fd = err_fd;
    state.acc_fd = acc_fd;
    state.err_path = err_file ? xstrdup(error_path) : NULL;
    state.acc_path = acc_file ? xstrdup(access_path) : NULL;
    state.format = xstrdup(access_format != NULL ? access_format : LOG_DEFAULT_ACCESS_FORMAT);
    compile_format(state.format, &state.segs, &state.n_segs);
    return 0;

fail:
    if (err_fd > STDERR_FILENO) {
        close(err_fd);
    }
    return -1;
}

/* Open path again and put the new file under the old descriptor number:
 * whoever holds that number (other threads, a dup'ed stderr) follows. */
static int
reopen_one(const char *what, const char *path, int fd)
{
    int nfd = open_log_file(path);

    if (nfd < 0) {
        log_error("cannot reopen %s '%s': %s", what, path, strerror(errno));
        return -1;
    }
    if (nfd != fd && dup3(nfd, fd, O_CLOEXEC) < 0) {
        log_error("cannot reopen %s '%s': dup3: %s", what, path, strerror(errno));
        close(nfd);
        return -1;
    }
    if (nfd != fd) {
        close(nfd);
    }
    return 0;
}

/* fd 1 and 2 onto the error log file: the app's print()s, C writes and its
 * subprocesses' output land in it (gunicorn's capture_output). Not
 * close-on-exec, as stdio never is. */
static int
capture_stdio(void)
{
    if (dup2(state.err_fd, STDOUT_FILENO) < 0 || dup2(state.err_fd, STDERR_FILENO) < 0) {
        log_error("capture_output: dup2: %s", strerror(errno));
        return -1;
    }
    return 0;
}

int
log_capture_output(void)
{
    if (state.err_path == NULL) {
        return 1;
    }
    fflush(NULL);
    if (capture_stdio() < 0) {
        return -1;
    }
    state.capture = true;
    return 0;
}

int
log_reopen(void)
{
    int rc = 0;

    if (state.err_path != NULL && reopen_one("error log", state.err_path, state.err_fd) < 0) {
        rc = -1;
    }
    if (state.acc_path != NULL && reopen_one("access log", state.acc_path, state.acc_fd) < 0) {
        rc = -1;
    }
    if (state.capture && capture_stdio() < 0) {
        rc = -1;
    }
    return rc;
}
