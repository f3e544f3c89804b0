/* Command line → struct config, with gunicorn's option names so that switching
 * from gunicorn means changing one word. Every value is checked here, once,
 * and a bad one is reported on one line that names the option and the value,
 * so the rest of the host can trust the struct. */
#include "config.h"
#include "log.h"
#include "build_config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/un.h>

#define DEFAULT_PORT       8000
#define DEFAULT_APP_SUFFIX "application"
#define MAX_REQUEST_LINE   ((size_t)1024 * 1024)
#define MAX_FIELD_SIZE     ((size_t)1024 * 1024)
#define MAX_REQUEST_FIELDS 32768
#define MAX_WORKERS        1024
#define MAX_THREADS        1024
/* Timers end up as int milliseconds (epoll_wait); 1e6 s keeps them < INT_MAX. */
#define MAX_SECONDS 1e6

enum {
    OPT_CHDIR = 256,
    OPT_PYTHONPATH,
    OPT_PYTHON_EXECUTABLE,
    OPT_BACKLOG,
    OPT_KEEPALIVE,
    OPT_LIMIT_LINE,
    OPT_LIMIT_FIELDS,
    OPT_LIMIT_FIELD_SIZE,
    OPT_LIMIT_BODY,
    OPT_BODY_BUFFER,
    OPT_HEADER_TIMEOUT,
    OPT_BODY_TIMEOUT,
    OPT_SEND_TIMEOUT,
    OPT_GRACEFUL_TIMEOUT,
    OPT_ACCESS_LOGFILE,
    OPT_ACCESS_LOGFORMAT,
    OPT_ERROR_LOGFILE,
    OPT_LOG_LEVEL,
    OPT_THREADS,
};

/* The canonical names come first: opt_name() reports the first entry with a
 * given val, so aliases (--log-file, --limit-request-field-size) follow. */
static const struct option long_options[] = {
    {"bind", required_argument, NULL, 'b'},
    {"workers", required_argument, NULL, 'w'},
    {"threads", required_argument, NULL, OPT_THREADS},
    {"chdir", required_argument, NULL, OPT_CHDIR},
    {"pythonpath", required_argument, NULL, OPT_PYTHONPATH},
    {"python-executable", required_argument, NULL, OPT_PYTHON_EXECUTABLE},
    {"backlog", required_argument, NULL, OPT_BACKLOG},
    {"keep-alive", required_argument, NULL, OPT_KEEPALIVE},
    {"limit-request-line", required_argument, NULL, OPT_LIMIT_LINE},
    {"limit-request-fields", required_argument, NULL, OPT_LIMIT_FIELDS},
    {"limit-request-field_size", required_argument, NULL, OPT_LIMIT_FIELD_SIZE},
    {"limit-request-field-size", required_argument, NULL, OPT_LIMIT_FIELD_SIZE},
    {"limit-request-body", required_argument, NULL, OPT_LIMIT_BODY},
    {"body-buffer-size", required_argument, NULL, OPT_BODY_BUFFER},
    {"header-timeout", required_argument, NULL, OPT_HEADER_TIMEOUT},
    {"body-timeout", required_argument, NULL, OPT_BODY_TIMEOUT},
    {"send-timeout", required_argument, NULL, OPT_SEND_TIMEOUT},
    {"graceful-timeout", required_argument, NULL, OPT_GRACEFUL_TIMEOUT},
    {"access-logfile", required_argument, NULL, OPT_ACCESS_LOGFILE},
    {"access-logformat", required_argument, NULL, OPT_ACCESS_LOGFORMAT},
    {"error-logfile", required_argument, NULL, OPT_ERROR_LOGFILE},
    {"log-file", required_argument, NULL, OPT_ERROR_LOGFILE},
    {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
    {"version", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* "-" first: non-options come back in order as val 1, so MODULE:APP may sit
 * anywhere, whatever POSIXLY_CORRECT says. ":" next: getopt stays silent and
 * reports a missing value as ':' so that our own message is the only one. */
static const char short_options[] = "-:b:w:hv";

/* gunicorn options a user may bring along; named in the error so that it
 * says "not supported" instead of "unknown". */
static const char *const gunicorn_only[] = {
    "config",
    "worker-class",
    "timeout",
    "preload",
    "reload",
    "daemon",
    "pid",
    "user",
    "group",
    "umask",
    "max-requests",
    "max-requests-jitter",
    "worker-connections",
    "name",
    "env",
    "certfile",
    "keyfile",
    "ca-certs",
    "capture-output",
    "forwarded-allow-ips",
    "proxy-protocol",
    "statsd-host",
    "worker-tmp-dir",
    "check-config",
    "print-config",
    "paste",
    "logger-class",
    "logconfig",
    "syslog",
    "reuse-port",
    "sendfile",
    NULL,
};

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int
usage_error(const char *fmt, ...)
{
    char msg[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fprintf(stderr, "wsgihost: error: %s\nTry 'wsgihost --help'.\n", msg);
    return -1;
}

static const char *
opt_name(int val)
{
    for (const struct option *o = long_options; o->name != NULL; o++) {
        if (o->val == val) {
            return o->name;
        }
    }
    return "?";
}

void
config_defaults(struct config *c)
{
    memset(c, 0, sizeof(*c));
    c->backlog = 2048;
    c->limit_request_line = 8190;
    c->limit_request_fields = 100;
    c->limit_request_field_size = 8190;
    c->limit_request_body = (uint64_t)1 << 30;
    c->body_buffer_size = (size_t)1024 * 1024;
    c->keepalive = 5;
    c->header_timeout = 10;
    c->body_timeout = 30;
    c->send_timeout = 30;
    c->graceful_timeout = 30;
    c->log_level = LOG_INFO;
    c->workers = 0;
    c->threads = 0;
    c->timeout = 30;
    c->worker_connections = 1000;
    c->umask = -1;
}

static bool
all_digits(const char *s)
{
    if (*s == '\0') {
        return false;
    }
    for (; *s != '\0'; s++) {
        if (*s < '0' || *s > '9') {
            return false;
        }
    }
    return true;
}

/* Strict unsigned integer: digits only (no sign, blanks, hex), at most max.
 * `what` is the option name for the message ("--backlog"). */
static int
parse_uint(const char *what, const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    unsigned long long v;
    char *end;

    if (!all_digits(s)) {
        return usage_error("%s: '%s' is not a %s integer", what, s,
                           min > 0 ? "positive" : "non-negative");
    }
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno == ERANGE || *end != '\0' || v > max) {
        return usage_error("%s: '%s' is too large (maximum %llu)", what, s,
                           (unsigned long long)max);
    }
    if (v < min) {
        return usage_error("%s: '%s' is too small (minimum %llu)", what, s,
                           (unsigned long long)min);
    }
    *out = v;
    return 0;
}

static int
parse_int(const char *what, const char *s, int min, int max, int *out)
{
    uint64_t v;

    if (parse_uint(what, s, (uint64_t)min, (uint64_t)max, &v) < 0) {
        return -1;
    }
    *out = (int)v;
    return 0;
}

static int
parse_size(const char *what, const char *s, size_t min, size_t max, size_t *out)
{
    uint64_t v;

    if (parse_uint(what, s, min, max, &v) < 0) {
        return -1;
    }
    *out = (size_t)v;
    return 0;
}

/* Seconds: "5", "0.5", ".5", "2." — plain decimal only, so no sign, exponent,
 * hex, inf or nan can slip through strtod. */
static int
parse_seconds(const char *what, const char *s, bool allow_zero, double *out)
{
    size_t digits = 0, dots = 0;
    char *end;
    double v;

    for (const char *p = s; *p != '\0'; p++) {
        if (*p >= '0' && *p <= '9') {
            digits++;
        } else if (*p == '.') {
            dots++;
        } else {
            digits = 0;
            break;
        }
    }
    if (digits == 0 || dots > 1) {
        return usage_error("%s: '%s' is not a number of seconds", what, s);
    }
    errno = 0;
    v = strtod(s, &end);
    if (*end != '\0' || errno == ERANGE || !isfinite(v) || v > MAX_SECONDS) {
        return usage_error("%s: '%s' is too large (maximum %.0f seconds)", what, s, MAX_SECONDS);
    }
    if (v == 0 && !allow_zero) {
        return usage_error("%s: '%s' must be greater than 0", what, s);
    }
    *out = v;
    return 0;
}

static bool
host_char_ok(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '-' || ch == '.' || ch == '_';
}

static int
check_port(const char *bind, const char *port)
{
    if (!all_digits(port) || strlen(port) > 5 || strtoul(port, NULL, 10) > 65535) {
        return usage_error("--bind: '%s': '%s' is not a port number (0-65535)", bind, port);
    }
    return 0;
}

static char *
join3(const char *a, const char *b, size_t b_len, const char *c)
{
    size_t la = strlen(a), lc = strlen(c);
    char *s = xmalloc(la + b_len + lc + 1);

    memcpy(s, a, la);
    memcpy(s + la, b, b_len);
    memcpy(s + la + b_len, c, lc);
    s[la + b_len + lc] = '\0';
    return s;
}

/* Accept gunicorn's address forms and reduce them to the three the listener
 * reads: "HOST:PORT", "[v6]:PORT", "unix:PATH". A bare HOST or [v6] gets port
 * 8000, ":PORT" means all IPv4 interfaces (as gunicorn binds ''), "tcp://" and
 * "unix://" prefixes are dropped. Returns the string (the argument itself when
 * already canonical) or NULL after the error message. */
static const char *
bind_normalize(const char *s)
{
    const char *p, *colon;

    if (strncmp(s, "unix:", 5) == 0) {
        p = s + 5;
        if (strncmp(p, "//", 2) == 0) {
            p += 2;
        }
        if (*p == '\0') {
            usage_error("--bind: '%s': empty unix socket path", s);
            return NULL;
        }
        if (strlen(p) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
            usage_error("--bind: '%s': unix socket path longer than %zu bytes", s,
                        sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
            return NULL;
        }
        return p == s + 5 ? s : join3("unix:", p, strlen(p), "");
    }
    if (strncmp(s, "fd://", 5) == 0) {
        usage_error("--bind: '%s': inherited file descriptors are not supported yet", s);
        return NULL;
    }
    p = strncmp(s, "tcp://", 6) == 0 ? s + 6 : s;

    if (*p == '[') {
        const char *close = strchr(p, ']');
        char addr[INET6_ADDRSTRLEN + 1];
        unsigned char tmp[16];
        size_t alen;

        if (close == NULL) {
            usage_error("--bind: '%s': missing ']' after the IPv6 address", s);
            return NULL;
        }
        /* inet_pton knows no zone ("%eth0"); check the address before it. */
        alen = (size_t)(close - p - 1);
        const char *zone = memchr(p + 1, '%', alen);
        if (zone != NULL) {
            alen = (size_t)(zone - p - 1);
        }
        if (alen == 0 || alen >= sizeof(addr)) {
            usage_error("--bind: '%s': not an IPv6 address", s);
            return NULL;
        }
        memcpy(addr, p + 1, alen);
        addr[alen] = '\0';
        if (inet_pton(AF_INET6, addr, tmp) != 1) {
            usage_error("--bind: '%s': '%s' is not an IPv6 address", s, addr);
            return NULL;
        }
        if (close[1] == '\0') {
            return join3("", p, (size_t)(close + 1 - p), ":8000");
        }
        if (close[1] != ':') {
            usage_error("--bind: '%s': expected ':PORT' after ']'", s);
            return NULL;
        }
        if (check_port(s, close + 2) < 0) {
            return NULL;
        }
        return p == s ? s : join3("", p, strlen(p), "");
    }

    colon = strchr(p, ':');
    if (colon != NULL && strchr(colon + 1, ':') != NULL) {
        usage_error("--bind: '%s': write IPv6 addresses in brackets, like [::1]:8000", s);
        return NULL;
    }
    size_t hlen = colon != NULL ? (size_t)(colon - p) : strlen(p);
    if (hlen == 0 && colon == NULL) {
        usage_error("--bind: empty address");
        return NULL;
    }
    for (size_t i = 0; i < hlen; i++) {
        if (!host_char_ok(p[i])) {
            usage_error("--bind: '%s': '%.*s' is not a host name or address", s, (int)hlen, p);
            return NULL;
        }
    }
    if (colon == NULL) {
        return join3("", p, hlen, ":8000");
    }
    if (check_port(s, colon + 1) < 0) {
        return NULL;
    }
    if (hlen == 0) {
        return join3("0.0.0.0", colon, strlen(colon), "");
    }
    return p == s ? s : join3("", p, strlen(p), "");
}

/* Comma-separated, blanks around items dropped, empty items skipped. */
static void
add_pythonpath(struct config *c, const char *arg)
{
    const char *p = arg;

    while (*p != '\0') {
        const char *comma = strchr(p, ',');
        const char *end = comma != NULL ? comma : p + strlen(p);
        const char *b = p, *e = end;

        while (b < e && (*b == ' ' || *b == '\t')) {
            b++;
        }
        while (e > b && (e[-1] == ' ' || e[-1] == '\t')) {
            e--;
        }
        if (e > b) {
            c->pythonpath = xrealloc(c->pythonpath, (c->n_pythonpath + 1) * sizeof(char *));
            c->pythonpath[c->n_pythonpath++] = xstrndup(b, (size_t)(e - b));
        }
        p = comma != NULL ? comma + 1 : end;
    }
}

static bool
ident_start(unsigned char ch)
{
    /* Bytes >= 0x80: non-ASCII identifiers are legal Python; let import judge. */
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_' || ch >= 0x80;
}

static bool
ident_char(unsigned char ch)
{
    return ident_start(ch) || (ch >= '0' && ch <= '9');
}

/* MODULE[:APP]: MODULE is dotted identifiers; APP is left to Python
 * (gunicorn also takes "factory()" expressions), only required non-empty. */
static int
check_app_spec(const char *spec)
{
    const char *colon = strchr(spec, ':');
    size_t mlen = colon != NULL ? (size_t)(colon - spec) : strlen(spec);
    bool at_start = true;

    if (mlen == 0) {
        return usage_error("'%s' is not MODULE:APP (the module name is missing)", spec);
    }
    for (size_t i = 0; i < mlen; i++) {
        unsigned char ch = (unsigned char)spec[i];
        if (ch == '.' && !at_start && i + 1 < mlen) {
            at_start = true;
        } else if (at_start ? ident_start(ch) : ident_char(ch)) {
            at_start = false;
        } else {
            return usage_error("'%s' is not MODULE:APP ('%.*s' is not a Python module name)", spec,
                               (int)mlen, spec);
        }
    }
    if (colon != NULL && colon[1] == '\0') {
        return usage_error("'%s' is not MODULE:APP (the application name after ':' is empty)",
                           spec);
    }
    return 0;
}

static void
print_help(void)
{
    printf("usage: wsgihost [OPTIONS] MODULE[:APP]\n"
           "\n"
           "Serve the WSGI callable APP (default: " DEFAULT_APP_SUFFIX ") of the Python module\n"
           "MODULE. Options have gunicorn's names; defaults in brackets.\n"
           "\n"
           "  -b, --bind ADDRESS            socket to bind, repeatable: HOST:PORT, [IPv6]:PORT,\n"
           "                                HOST (port 8000), :PORT, unix:PATH [127.0.0.1:8000]\n"
           "  -w, --workers N               worker processes; none = one process serving\n"
           "                                directly [$WEB_CONCURRENCY, else none]\n"
           "      --threads N               threads per worker running the app [1]\n"
           "      --backlog N               listen queue length [2048]\n"
           "      --chdir DIR               change to DIR before loading the app [stay]\n"
           "      --pythonpath DIRS         comma-separated directories prepended to sys.path,\n"
           "                                repeatable [none]\n"
           "      --python-executable PATH  sys.executable of the embedded Python\n"
           "                                [" WSGIHOST_PYTHON_EXECUTABLE "]\n"
           "      --keep-alive SECONDS      idle time allowed between requests [5]\n"
           "      --header-timeout SECONDS  time for a whole request head to arrive [10]\n"
           "      --body-timeout SECONDS    longest pause while a body arrives [30]\n"
           "      --send-timeout SECONDS    longest pause while the client takes a\n"
           "                                response [30]\n"
           "      --graceful-timeout SECONDS  time to finish requests on shutdown [30]\n"
           "      --limit-request-line N    request line bytes, 0 = unlimited, max %zu [8190]\n"
           "      --limit-request-fields N  header fields, 0 = max %d [100]\n"
           "      --limit-request-field_size N  bytes of one header field, 0 = max %zu\n"
           "                                [8190] (also --limit-request-field-size)\n"
           "      --limit-request-body BYTES  request body bytes, 0 = unlimited [1073741824]\n"
           "      --body-buffer-size BYTES  larger bodies go to a temporary file [1048576]\n"
           "      --access-logfile FILE     access log, '-' = stdout [off]\n"
           "      --access-logformat FMT    gunicorn's atoms, like %%(h)s %%(r)s %%(s)s\n"
           "                                [%s]\n"
           "      --error-logfile FILE      error log, '-' = stderr [-] (also --log-file)\n"
           "      --log-level LEVEL         debug, info, warning, error, critical [info]\n"
           "  -v, --version                 print the version and exit\n"
           "  -h, --help                    print this help and exit\n",
           MAX_REQUEST_LINE, MAX_REQUEST_FIELDS, MAX_FIELD_SIZE, LOG_DEFAULT_ACCESS_FORMAT);
}

/* getopt said '?' with optopt 0: an unknown or ambiguous "--name[=value]". */
static int
unknown_long_option(const char *arg)
{
    const char *name = arg + 2;
    size_t len = strcspn(name, "=");
    int first = 0;
    bool ambiguous = false;

    /* Aliases share a val, so only different vals make a prefix ambiguous. */
    for (const struct option *o = long_options; o->name != NULL; o++) {
        if (strncmp(o->name, name, len) == 0) {
            if (first == 0) {
                first = o->val;
            } else if (o->val != first) {
                ambiguous = true;
            }
        }
    }
    if (ambiguous && len > 0) {
        return usage_error("ambiguous option '--%.*s'", (int)len, name);
    }
    for (size_t i = 0; gunicorn_only[i] != NULL; i++) {
        if (strlen(gunicorn_only[i]) == len && strncmp(gunicorn_only[i], name, len) == 0) {
            return usage_error("option '--%.*s' (gunicorn) is not supported by wsgihost", (int)len,
                               name);
        }
    }
    return usage_error("unknown option '--%.*s'", (int)len, name);
}

static int
apply_option(struct config *c, int opt, const char *arg)
{
    const char *name = opt_name(opt);
    char what[64];
    uint64_t v;

    snprintf(what, sizeof(what), "--%s", name);
    switch (opt) {
    case 'b': {
        const char *b;
        if (c->n_binds == CONFIG_MAX_BINDS) {
            return usage_error("--bind: too many addresses (at most %d)", CONFIG_MAX_BINDS);
        }
        if ((b = bind_normalize(arg)) == NULL) {
            return -1;
        }
        c->binds[c->n_binds++] = b;
        return 0;
    }
    case 'w':
        return parse_int(what, arg, 1, MAX_WORKERS, &c->workers);
    case OPT_THREADS:
        return parse_int(what, arg, 1, MAX_THREADS, &c->threads);
    case OPT_CHDIR:
        if (*arg == '\0') {
            return usage_error("--chdir: empty directory name");
        }
        c->chdir = arg;
        return 0;
    case OPT_PYTHONPATH:
        add_pythonpath(c, arg);
        return 0;
    case OPT_PYTHON_EXECUTABLE:
        if (*arg == '\0') {
            return usage_error("--python-executable: empty path");
        }
        c->python_executable = arg;
        return 0;
    case OPT_BACKLOG:
        return parse_int(what, arg, 1, INT_MAX, &c->backlog);
    case OPT_KEEPALIVE:
        return parse_seconds(what, arg, true, &c->keepalive);
    case OPT_HEADER_TIMEOUT:
        return parse_seconds(what, arg, false, &c->header_timeout);
    case OPT_BODY_TIMEOUT:
        return parse_seconds(what, arg, false, &c->body_timeout);
    case OPT_SEND_TIMEOUT:
        return parse_seconds(what, arg, false, &c->send_timeout);
    case OPT_GRACEFUL_TIMEOUT:
        return parse_seconds(what, arg, true, &c->graceful_timeout);
    case OPT_LIMIT_LINE:
        return parse_size(what, arg, 0, MAX_REQUEST_LINE, &c->limit_request_line);
    case OPT_LIMIT_FIELDS:
        /* gunicorn reads 0 as its maximum; keep 0 out of the struct. */
        if (parse_size(what, arg, 0, MAX_REQUEST_FIELDS, &c->limit_request_fields) < 0) {
            return -1;
        }
        if (c->limit_request_fields == 0) {
            c->limit_request_fields = MAX_REQUEST_FIELDS;
        }
        return 0;
    case OPT_LIMIT_FIELD_SIZE:
        if (parse_size(what, arg, 0, MAX_FIELD_SIZE, &c->limit_request_field_size) < 0) {
            return -1;
        }
        if (c->limit_request_field_size == 0) {
            c->limit_request_field_size = MAX_FIELD_SIZE;
        }
        return 0;
    case OPT_LIMIT_BODY:
        if (parse_uint(what, arg, 0, UINT64_MAX, &v) < 0) {
            return -1;
        }
        c->limit_request_body = v;
        return 0;
    case OPT_BODY_BUFFER:
        return parse_size(what, arg, 0, SIZE_MAX, &c->body_buffer_size);
    case OPT_ACCESS_LOGFILE:
        if (*arg == '\0') {
            return usage_error("--access-logfile: empty file name");
        }
        c->access_logfile = arg;
        return 0;
    case OPT_ACCESS_LOGFORMAT:
        c->access_logformat = arg;
        return 0;
    case OPT_ERROR_LOGFILE:
        if (*arg == '\0') {
            return usage_error("--error-logfile: empty file name");
        }
        c->error_logfile = arg;
        return 0;
    case OPT_LOG_LEVEL: {
        int level = log_level_parse(arg);
        if (level < 0) {
            return usage_error("--log-level: '%s' is not one of debug, info, warning, error, "
                               "critical",
                               arg);
        }
        c->log_level = level;
        return 0;
    }
    default:
        return usage_error("internal error: option %d not handled", opt);
    }
}

int
config_parse(struct config *c, int argc, char **argv)
{
    bool workers_set = false;
    int opt;

    /* 0, not 1: makes glibc reinitialise, so config_parse can run twice (tests). */
    optind = 0;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, short_options, long_options, NULL)) != -1) {
        switch (opt) {
        case 1:
            if (c->app_spec != NULL) {
                return usage_error("unexpected argument '%s' (MODULE:APP is already '%s')", optarg,
                                   c->app_spec);
            }
            c->app_spec = optarg;
            break;
        case 'h':
            print_help();
            return 1;
        case 'v':
            printf("wsgihost %s\n", WSGIHOST_VERSION);
            return 1;
        case ':':
            return usage_error("option '--%s' requires a value", opt_name(optopt));
        case '?':
            if (optopt == 0) {
                return unknown_long_option(argv[optind - 1]);
            }
            if (optopt == 'h' || optopt == 'v' || optopt >= 256) {
                /* a known flag given "=value" */
                return usage_error("option '--%s' takes no value", opt_name(optopt));
            }
            if (optopt > ' ' && optopt < 127) {
                return usage_error("unknown option '-%c'", optopt);
            }
            return usage_error("unknown option in '%s'", argv[optind - 1]);
        default:
            if (opt == 'w') {
                workers_set = true;
            }
            if (apply_option(c, opt, optarg) < 0) {
                return -1;
            }
            break;
        }
    }
    /* After "--", getopt stops; what is left is positional. */
    for (int i = optind; i < argc; i++) {
        if (c->app_spec != NULL) {
            return usage_error("unexpected argument '%s' (MODULE:APP is already '%s')", argv[i],
                               c->app_spec);
        }
        c->app_spec = argv[i];
    }
    if (c->app_spec == NULL) {
        return usage_error("missing MODULE:APP argument");
    }
    if (check_app_spec(c->app_spec) < 0) {
        return -1;
    }
    if (!workers_set) {
        /* gunicorn's default for -w, set by Heroku and similar platforms. */
        const char *env = getenv("WEB_CONCURRENCY");
        if (env != NULL && *env != '\0' &&
            parse_int("$WEB_CONCURRENCY", env, 1, MAX_WORKERS, &c->workers) < 0) {
            return -1;
        }
    }
    return 0;
}
