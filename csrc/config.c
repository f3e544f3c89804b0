/* Command line → struct config, with gunicorn's option names so that switching
 * from gunicorn means changing one word. Every value is checked here, once,
 * and a bad one is reported on one line that names the option and the value,
 * so the rest of the host can trust the struct. */
#include "config.h"
#include "hostpy.h"
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
#include <sys/wait.h>
#include <unistd.h>

/* Everything the configuration points to lives until the process ends (and
 * a HUP builds a new one beside it). Such blocks hang off one static list, so
 * they stay reachable: LeakSanitizer then reports only real leaks. */
struct cfg_block {
    struct cfg_block *next;
    max_align_t data[];
};
static struct cfg_block *cfg_blocks;

static void *
cfg_alloc(size_t n)
{
    struct cfg_block *b = xmalloc(sizeof(*b) + n);
    b->next = cfg_blocks;
    cfg_blocks = b;
    return b->data;
}

static char *
cfg_strndup(const char *s, size_t n)
{
    char *p = cfg_alloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

#define DEFAULT_PORT       8000
#define DEFAULT_APP_SUFFIX "application"
#define MAX_REQUEST_LINE   ((size_t)1024 * 1024)
#define MAX_FIELD_SIZE     ((size_t)1024 * 1024)
#define MAX_REQUEST_FIELDS 32768
#define MAX_WORKERS        1024
#define MAX_THREADS        1024
/* Timers end up as int milliseconds (epoll_wait); 1e6 s keeps them < INT_MAX. */
#define MAX_SECONDS 1e6
/* gunicorn's default for --forwarded-allow-ips and --proxy-allow-from. */
#define DEFAULT_TRUSTED_PROXIES "127.0.0.1,::1"

enum {
    OPT_CHDIR = 256,
    OPT_PYTHONPATH,
    OPT_PYTHON_EXECUTABLE,
    OPT_VIRTUALENV,
    OPT_STRICT_WSGI,
    OPT_WORKER_CLASS,
    OPT_ENV,
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
    OPT_TIMEOUT,
    OPT_PRELOAD,
    OPT_MAX_REQUESTS,
    OPT_MAX_JITTER,
    OPT_WORKER_CONNECTIONS,
    OPT_PID,
    OPT_USER,
    OPT_GROUP,
    OPT_UMASK,
    OPT_RELOAD,
    OPT_RELOAD_EXTRA_FILE,
    OPT_STATSD_HOST,
    OPT_STATSD_PREFIX,
    OPT_DOGSTATSD_TAGS,
    OPT_PRINT_CONFIG,
    OPT_CHECK_CONFIG,
    OPT_CERTFILE,
    OPT_KEYFILE,
    OPT_CA_CERTS,
    OPT_CERT_REQS,
    OPT_CIPHERS,
    OPT_TLS_MIN_VERSION,
    OPT_FORWARDED_ALLOW_IPS,
    OPT_PROXY_PROTOCOL,
    OPT_PROXY_ALLOW_FROM,
    OPT_STATIC,
    OPT_STATIC_FALLBACK,
    OPT_STATIC_EXCLUDE,
    OPT_STATIC_CACHE_CONTROL,
    OPT_STATIC_IMMUTABLE,
    OPT_CAPTURE_OUTPUT,
    OPT_INITGROUPS,
    OPT_METRICS_BIND,
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
    {"virtualenv", required_argument, NULL, OPT_VIRTUALENV},
    {"strict-wsgi", no_argument, NULL, OPT_STRICT_WSGI},
    {"worker-class", required_argument, NULL, OPT_WORKER_CLASS},
    {"env", required_argument, NULL, OPT_ENV},
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
    {"timeout", required_argument, NULL, 't'},
    {"preload", no_argument, NULL, OPT_PRELOAD},
    {"max-requests", required_argument, NULL, OPT_MAX_REQUESTS},
    {"max-requests-jitter", required_argument, NULL, OPT_MAX_JITTER},
    {"worker-connections", required_argument, NULL, OPT_WORKER_CONNECTIONS},
    {"pid", required_argument, NULL, OPT_PID},
    {"user", required_argument, NULL, OPT_USER},
    {"group", required_argument, NULL, OPT_GROUP},
    {"umask", required_argument, NULL, OPT_UMASK},
    {"reload", no_argument, NULL, OPT_RELOAD},
    {"reload-extra-file", required_argument, NULL, OPT_RELOAD_EXTRA_FILE},
    {"statsd-host", required_argument, NULL, OPT_STATSD_HOST},
    {"statsd-prefix", required_argument, NULL, OPT_STATSD_PREFIX},
    {"dogstatsd-tags", required_argument, NULL, OPT_DOGSTATSD_TAGS},
    {"config", required_argument, NULL, 'c'},
    {"print-config", no_argument, NULL, OPT_PRINT_CONFIG},
    {"check-config", no_argument, NULL, OPT_CHECK_CONFIG},
    {"certfile", required_argument, NULL, OPT_CERTFILE},
    {"keyfile", required_argument, NULL, OPT_KEYFILE},
    {"ca-certs", required_argument, NULL, OPT_CA_CERTS},
    {"cert-reqs", required_argument, NULL, OPT_CERT_REQS},
    {"ciphers", required_argument, NULL, OPT_CIPHERS},
    {"tls-min-version", required_argument, NULL, OPT_TLS_MIN_VERSION},
    {"forwarded-allow-ips", required_argument, NULL, OPT_FORWARDED_ALLOW_IPS},
    {"proxy-protocol", no_argument, NULL, OPT_PROXY_PROTOCOL},
    {"proxy-allow-from", required_argument, NULL, OPT_PROXY_ALLOW_FROM},
    {"static", required_argument, NULL, OPT_STATIC},
    {"static-fallback", required_argument, NULL, OPT_STATIC_FALLBACK},
    {"static-exclude", required_argument, NULL, OPT_STATIC_EXCLUDE},
    {"static-cache-control", required_argument, NULL, OPT_STATIC_CACHE_CONTROL},
    {"static-immutable", required_argument, NULL, OPT_STATIC_IMMUTABLE},
    {"name", required_argument, NULL, 'n'},
    {"capture-output", no_argument, NULL, OPT_CAPTURE_OUTPUT},
    {"initgroups", no_argument, NULL, OPT_INITGROUPS},
    {"metrics-bind", required_argument, NULL, OPT_METRICS_BIND},
    {"version", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* "-" first: non-options come back in order as val 1, so MODULE:APP may sit
 * anywhere, whatever POSIXLY_CORRECT says. ":" next: getopt stays silent and
 * reports a missing value as ':' so that our own message is the only one. */
static int set_worker_class(struct config *c, const char *arg);

static const char short_options[] = "-:b:w:c:t:H:k:e:n:hv";

/* gunicorn options a user may bring along; named in the error so that it
 * says "not supported" instead of "unknown". */
static const char *const gunicorn_only[] = {
    "daemon",
    "ssl-version",
    "do-handshake-on-connect",
    "suppress-ragged-eofs",
    "worker-tmp-dir",
    "paste",
    "logger-class",
    "logconfig",
    "log-config",
    "log-config-dict",
    "log-config-json",
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
    c->cert_reqs = CONFIG_CERT_NONE;
    c->tls_min_version = 12;
    c->static_cache_control = "no-cache";
    c->static_immutable[0] = "auto";
    c->n_static_immutable = 1;
    /* Literals that cannot fail; $FORWARDED_ALLOW_IPS is read in config_parse. */
    ip_allow_add(&c->forwarded_allow, DEFAULT_TRUSTED_PROXIES, NULL, 0);
    ip_allow_add(&c->proxy_allow, DEFAULT_TRUSTED_PROXIES, NULL, 0);
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
check_port(const char *what, const char *bind, const char *port)
{
    if (!all_digits(port) || strlen(port) > 5 || strtoul(port, NULL, 10) > 65535) {
        return usage_error("%s: '%s': '%s' is not a port number (0-65535)", what, bind, port);
    }
    return 0;
}

static char *
join3(const char *a, const char *b, size_t b_len, const char *c)
{
    size_t la = strlen(a), lc = strlen(c);
    char *s = cfg_alloc(la + b_len + lc + 1);

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
bind_normalize(const char *what, const char *s)
{
    const char *p, *colon;

    if (strncmp(s, "unix:", 5) == 0) {
        p = s + 5;
        if (strncmp(p, "//", 2) == 0) {
            p += 2;
        }
        if (*p == '\0') {
            usage_error("%s: '%s': empty unix socket path", what, s);
            return NULL;
        }
        if (strlen(p) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
            usage_error("%s: '%s': unix socket path longer than %zu bytes", what, s,
                        sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
            return NULL;
        }
        return p == s + 5 ? s : join3("unix:", p, strlen(p), "");
    }
    if (strncmp(s, "fd://", 5) == 0) {
        usage_error("%s: '%s': inherited file descriptors are not supported yet", what, s);
        return NULL;
    }
    p = strncmp(s, "tcp://", 6) == 0 ? s + 6 : s;

    if (*p == '[') {
        const char *close = strchr(p, ']');
        char addr[INET6_ADDRSTRLEN + 1];
        unsigned char tmp[16];
        size_t alen;

        if (close == NULL) {
            usage_error("%s: '%s': missing ']' after the IPv6 address", what, s);
            return NULL;
        }
        /* inet_pton knows no zone ("%eth0"); check the address before it. */
        alen = (size_t)(close - p - 1);
        const char *zone = memchr(p + 1, '%', alen);
        if (zone != NULL) {
            alen = (size_t)(zone - p - 1);
        }
        if (alen == 0 || alen >= sizeof(addr)) {
            usage_error("%s: '%s': not an IPv6 address", what, s);
            return NULL;
        }
        memcpy(addr, p + 1, alen);
        addr[alen] = '\0';
        if (inet_pton(AF_INET6, addr, tmp) != 1) {
            usage_error("%s: '%s': '%s' is not an IPv6 address", what, s, addr);
            return NULL;
        }
        if (close[1] == '\0') {
            return join3("", p, (size_t)(close + 1 - p), ":8000");
        }
        if (close[1] != ':') {
            usage_error("%s: '%s': expected ':PORT' after ']'", what, s);
            return NULL;
        }
        if (check_port(what, s, close + 2) < 0) {
            return NULL;
        }
        return p == s ? s : join3("", p, strlen(p), "");
    }

    colon = strchr(p, ':');
    if (colon != NULL && strchr(colon + 1, ':') != NULL) {
        usage_error("%s: '%s': write IPv6 addresses in brackets, like [::1]:8000", what, s);
        return NULL;
    }
    size_t hlen = colon != NULL ? (size_t)(colon - p) : strlen(p);
    if (hlen == 0 && colon == NULL) {
        usage_error("%s: empty address", what);
        return NULL;
    }
    for (size_t i = 0; i < hlen; i++) {
        if (!host_char_ok(p[i])) {
            usage_error("%s: '%s': '%.*s' is not a host name or address", what, s, (int)hlen, p);
            return NULL;
        }
    }
    if (colon == NULL) {
        return join3("", p, hlen, ":8000");
    }
    if (check_port(what, s, colon + 1) < 0) {
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
    const char *p = arg, *b, *e;

    while (list_next(&p, &b, &e)) {
        if (e > b) {
            const char **grown = cfg_alloc((c->n_pythonpath + 1) * sizeof(char *));
            if (c->n_pythonpath > 0) {
                memcpy(grown, c->pythonpath, c->n_pythonpath * sizeof(char *));
            }
            c->pythonpath = grown;
            c->pythonpath[c->n_pythonpath++] = cfg_strndup(b, (size_t)(e - b));
        }
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
           "      --threads N               threads per worker running the app\n"
           "                                [4 without -w, 1 with -w]\n"
           "  -t, --timeout SECONDS         kill a worker busy in one request longer than\n"
           "                                this, 0 = never [30]\n"
           "      --preload                 import the app in the master before forking\n"
           "      --max-requests N          recycle a worker after N requests, 0 = never [0]\n"
           "      --max-requests-jitter J   add 0..J to --max-requests per worker [0]\n"
           "      --worker-connections N    open connections per worker [1000]\n"
           "      --reload                  restart workers when a source file changes\n"
           "      --reload-extra-file FILE  repeatable: with --reload, watch FILE too\n"
           "                                (a template, a settings file)\n"
           "  -c, --config FILE             gunicorn-style Python config file: settings,\n"
           "                                server hooks (post_fork(server, worker), ...),\n"
           "                                logconfig_dict [./gunicorn.conf.py if there]\n"
           "      --print-config            print the resolved settings and exit\n"
           "      --check-config            check the settings, load the app, exit 0 (or 1)\n"
           "      --pid FILE                write the master's pid to FILE [none]\n"
           "      --user USER               switch to USER after binding [stay]\n"
           "      --group GROUP             switch to GROUP after binding [stay]\n"
           "      --initgroups              keep --user's supplementary groups [none]\n"
           "      --umask MASK              process umask, like 0o22 [leave]\n"
           "      --backlog N               listen queue length [2048]\n"
           "      --chdir DIR               change to DIR before loading the app [stay]\n"
           "      --pythonpath DIRS         comma-separated directories prepended to sys.path,\n"
           "                                repeatable [none]\n"
           "      --strict-wsgi             refuse what PEP 3333 lets a server refuse: hop-by-hop\n"
           "                                headers from the app, a status without a reason,\n"
           "                                headers not a list of tuples\n"
           "                                [off: served like gunicorn, with a warning]\n"
           "  -k, --worker-class CLASS      gunicorn's: sync (one thread) or gthread (--threads);\n"
           "                                event and ASGI workers are refused\n"
           "  -e, --env NAME=VALUE          set an environment variable for the app,\n"
           "                                repeatable (gunicorn's raw_env)\n"
           "  -H, --virtualenv DIR          serve with the virtualenv DIR (its bin/python)\n"
           "                                [$VIRTUAL_ENV when one is activated]\n"
           "      --python-executable PATH  the Python that serves (a venv's bin/python\n"
           "                                gives its sys.prefix); wsgihost runs inside it\n"
           "                                when it is CPython " WSGIHOST_PYTHON_VERSION ", else it is the\n"
           "                                embedded one's sys.executable\n"
           "                                [" WSGIHOST_PYTHON_EXECUTABLE "]\n"
           "      --certfile FILE           serve HTTPS on every --bind with this PEM\n"
           "                                certificate chain [off: plain HTTP]\n"
           "      --keyfile FILE            its PEM private key, unencrypted [in --certfile]\n"
           "      --ca-certs FILE           PEM CAs that client certificates must chain to\n"
           "      --cert-reqs MODE          client certificates: none, optional, required\n"
           "                                [none]\n"
           "      --ciphers LIST            OpenSSL cipher list for TLS 1.2 [OpenSSL's]\n"
           "      --tls-min-version V       oldest TLS accepted: 1.2 or 1.3 [1.2]\n"
           "      --forwarded-allow-ips IPS  peers whose X-Forwarded-For/-Proto/-Ssl are\n"
           "                                believed: addresses or networks, comma-separated,\n"
           "                                '*' = any [$FORWARDED_ALLOW_IPS, else\n"
           "                                127.0.0.1,::1]\n"
           "      --proxy-protocol          every connection starts with a PROXY header\n"
           "                                (v1 or v2, as haproxy or nginx send it)\n"
           "      --proxy-allow-from IPS    peers allowed to connect with --proxy-protocol\n"
           "                                [127.0.0.1,::1]\n"
           "      --static PREFIX=DIR       serve the files under DIR at the URL PREFIX from C,\n"
           "                                before the app; repeatable, longest prefix wins\n"
           "      --static-fallback PREFIX=FILE  a GET under PREFIX that names no file, has\n"
           "                                no extension and accepts text/html gets FILE (in\n"
           "                                the --static DIR serving PREFIX): an SPA's routes\n"
           "      --static-exclude PREFIX   URL prefix that always goes to the app, even under\n"
           "                                a --static prefix (like /api), repeatable\n"
           "      --static-cache-control VALUE  Cache-Control of static files, 'off' = none\n"
           "                                [no-cache]\n"
           "      --static-immutable RULE   files that get 'public, max-age=31536000,\n"
           "                                immutable': 'auto' (hashed names like\n"
           "                                app-3f2a1b4c.js), a URL prefix, or 'off';\n"
           "                                repeatable [auto]\n"
           "      --statsd-host HOST:PORT   send gunicorn's statsd metrics there (UDP) [off]\n"
           "      --statsd-prefix P         prefix of the metric names [none]\n"
           "      --dogstatsd-tags T        DogStatsD tags for every metric (a,b:c) [none]\n"
           "      --metrics-bind ADDRESS    serve GET /metrics (Prometheus) and GET /healthz\n"
           "                                on their own socket: HOST:PORT, [IPv6]:PORT,\n"
           "                                unix:PATH; plain HTTP, never on a --bind [off]\n"
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
           "      --capture-output          the app's stdout and stderr (fd 1 and 2, C\n"
           "                                writes too) into the --error-logfile file [off]\n"
           "  -n, --name NAME               process titles as ps shows them: 'wsgihost:\n"
           "                                master [NAME]', 'wsgihost: worker [NAME]'\n"
           "                                [the command line]\n"
           "      --log-level LEVEL         debug, info, warning, error, critical [info]\n"
           "  -v, --version                 print the version and exit\n"
           "  -h, --help                    print this help and exit\n"
           "\n"
           "Server hooks (a config file's on_starting(server), post_fork(server, worker),\n"
           "pre_request(worker, req), child_exit(server, worker), ...) get gunicorn's\n"
           "arguments. The file's code runs once in the master's interpreter (wsgihost\n"
           "serves inside python3.X, so the master has one; with WSGIHOST_EMBEDDED=1 only\n"
           "when the file has a master hook or --preload, else in each worker) and the\n"
           "workers inherit its functions by fork. Worker hooks run in the worker; master\n"
           "hooks in the master's loop, never in a signal handler; pre_exec in the child\n"
           "that re-executes the master on USR2. README.md, \"Server hooks\", has the details.\n",
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
set_nonempty(const char *what, const char *arg, const char **out)
{
    if (*arg == '\0') {
        return usage_error("%s: empty value", what);
    }
    *out = arg;
    return 0;
}

/* The segments of [s, s+n) split on '/': none empty (unless allow_empty,
 * for the leading '/'), none "." or "..". */
static bool
segments_ok(const char *s, size_t n, bool allow_empty)
{
    size_t i = 0;
    while (i <= n) {
        size_t j = i;
        while (j < n && s[j] != '/') {
            j++;
        }
        size_t len = j - i;
        if ((len == 0 && !allow_empty) || (len == 1 && s[i] == '.') ||
            (len == 2 && s[i] == '.' && s[i + 1] == '.')) {
            return false;
        }
        allow_empty = false;
        i = j + 1;
    }
    return true;
}

/* A URL prefix, in the decoded form requests are matched in: "/" or
 * "/a/b" (a trailing '/' is dropped). Returns a copy, or NULL after the
 * message. */
static const char *
url_prefix(const char *what, const char *arg, const char *s, size_t n)
{
    if (n == 0 || s[0] != '/') {
        usage_error("%s '%s': the URL prefix must start with '/'", what, arg);
        return NULL;
    }
    while (n > 1 && s[n - 1] == '/') {
        n--;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch <= ' ' || ch == 0x7f || ch == '%' || ch == '\\' || ch == '?' || ch == '#') {
            usage_error("%s '%s': byte 0x%02x is not allowed in a URL prefix (write it "
                        "decoded, without %%-escapes, blanks, query or fragment)",
                        what, arg, ch);
            return NULL;
        }
    }
    if (n > 1 && !segments_ok(s + 1, n - 1, false)) {
        usage_error("%s '%s': the URL prefix has an empty, '.' or '..' segment", what, arg);
        return NULL;
    }
    return cfg_strndup(s, n);
}

/* --static PREFIX=DIR and --static-fallback PREFIX=FILE. */
static int
add_pair(const char *what, const char *arg, struct config_pair *list, size_t *n, bool is_file)
{
    const char *eq = strchr(arg, '=');
    if (eq == NULL || eq[1] == '\0') {
        return usage_error("%s '%s': expected %s", what, arg,
                           is_file ? "PREFIX=FILE, like /=index.html" : "URL_PREFIX=DIR, like "
                                                                        "/assets=dist/assets");
    }
    if (*n == CONFIG_MAX_STATIC) {
        return usage_error("%s: more than %d", what, CONFIG_MAX_STATIC);
    }
    const char *prefix = url_prefix(what, arg, arg, (size_t)(eq - arg));
    if (prefix == NULL) {
        return -1;
    }
    const char *path = eq + 1;
    if (is_file) {
        size_t len = strlen(path);
        bool hidden = path[0] == '.' || strstr(path, "/.") != NULL;
        if (path[0] == '/' || strchr(path, '\\') != NULL || hidden ||
            !segments_ok(path, len, false)) {
            return usage_error("%s '%s': FILE must be a path inside the --static directory "
                               "(relative, no '..', no hidden names), like index.html",
                               what, arg);
        }
    }
    for (size_t i = 0; i < *n; i++) {
        if (strcmp(list[i].prefix, prefix) == 0) {
            return usage_error("%s '%s': the prefix %s is given twice", what, arg, prefix);
        }
    }
    list[*n].prefix = prefix;
    list[*n].path = path;
    (*n)++;
    return 0;
}

static int
add_prefix(const char *what, const char *arg, const char **list, size_t *n)
{
    if (*n == CONFIG_MAX_STATIC) {
        return usage_error("%s: more than %d", what, CONFIG_MAX_STATIC);
    }
    const char *p = url_prefix(what, arg, arg, strlen(arg));
    if (p == NULL) {
        return -1;
    }
    list[(*n)++] = p;
    return 0;
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
        if ((b = bind_normalize("--bind", arg)) == NULL) {
            return -1;
        }
        c->binds[c->n_binds++] = b;
        return 0;
    }
    case 'w':
        return parse_int(what, arg, 1, MAX_WORKERS, &c->workers);
    case OPT_THREADS:
        return parse_int(what, arg, 1, MAX_THREADS, &c->threads);
    case 't':
        return parse_seconds(what, arg, true, &c->timeout);
    case OPT_PRELOAD:
        c->preload = true;
        return 0;
    case OPT_STRICT_WSGI:
        c->strict_wsgi = true;
        return 0;
    case OPT_WORKER_CLASS:
    case 'k':
        return set_worker_class(c, arg);
    case OPT_ENV:
    case 'e': {
        const char *eq = strchr(arg, '=');
        if (eq == NULL || eq == arg) {
            return usage_error("--env '%s': expected NAME=VALUE (gunicorn's raw_env)", arg);
        }
        if (eq - arg >= CONFIG_MAX_ENV_NAME) {
            return usage_error("--env: variable name over %d bytes", CONFIG_MAX_ENV_NAME - 1);
        }
        if (c->n_env == CONFIG_MAX_ENV) {
            return usage_error("--env: more than %d variables", CONFIG_MAX_ENV);
        }
        c->env[c->n_env++] = arg;
        return 0;
    }
    case OPT_RELOAD:
        c->reload = true;
        return 0;
    case OPT_STATSD_HOST:
        return set_nonempty(what, arg, &c->statsd_host);
    case OPT_STATSD_PREFIX:
        c->statsd_prefix = arg;
        return 0;
    case OPT_DOGSTATSD_TAGS:
        c->dogstatsd_tags = arg;
        return 0;
    case OPT_RELOAD_EXTRA_FILE:
        if (c->n_reload_extra == CONFIG_MAX_RELOAD_EXTRA) {
            return usage_error("%s: more than %d", what, CONFIG_MAX_RELOAD_EXTRA);
        }
        if (*arg == '\0') {
            return usage_error("%s: an empty file name", what);
        }
        c->reload_extra[c->n_reload_extra++] = arg;
        return 0;
    case 'n':
        return set_nonempty("--name", arg, &c->proc_name);
    case OPT_CAPTURE_OUTPUT:
        c->capture_output = true;
        return 0;
    case OPT_INITGROUPS:
        c->initgroups = true;
        return 0;
    case OPT_PRINT_CONFIG:
        c->print_config = true;
        return 0;
    case OPT_CHECK_CONFIG:
        c->check_config = true;
        return 0;
    case OPT_MAX_REQUESTS:
        return parse_uint(what, arg, 0, UINT32_MAX, &c->max_requests);
    case OPT_MAX_JITTER:
        return parse_uint(what, arg, 0, UINT32_MAX, &c->max_requests_jitter);
    case OPT_WORKER_CONNECTIONS:
        return parse_int(what, arg, 1, 1000000, &c->worker_connections);
    case OPT_PID:
        if (*arg == '\0') {
            return usage_error("--pid: empty file name");
        }
        c->pidfile = arg;
        return 0;
    case OPT_USER:
        if (*arg == '\0') {
            return usage_error("--user: empty user name");
        }
        c->user = arg;
        return 0;
    case OPT_GROUP:
        if (*arg == '\0') {
            return usage_error("--group: empty group name");
        }
        c->group = arg;
        return 0;
    case OPT_UMASK: {
        /* gunicorn takes "0o22", "022" (octal) or "18" (decimal). */
        const char *p = arg;
        int base = 10;
        if (p[0] == '0' && (p[1] == 'o' || p[1] == 'O')) {
            p += 2;
            base = 8;
        } else if (p[0] == '0' && p[1] != '\0') {
            base = 8;
        }
        char *end;
        errno = 0;
        long mask = strtol(p, &end, base);
        if (*p == '\0' || *end != '\0' || errno != 0 || mask < 0 || mask > 0777 || *p == '-' ||
            *p == '+' || *p == ' ') {
            return usage_error("--umask: '%s' is not a umask (like 0o22, 022 or 18)", arg);
        }
        c->umask = (int)mask;
        return 0;
    }
    case 'c':
        if (*arg == '\0') {
            return usage_error("--config: empty file name");
        }
        c->config_file = arg;
        return 0;
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
    case OPT_VIRTUALENV:
    case 'H':
        if (*arg == '\0') {
            return usage_error("--virtualenv: empty directory name");
        }
        c->virtualenv = arg;
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
    case OPT_CERTFILE:
        return set_nonempty(what, arg, &c->certfile);
    case OPT_KEYFILE:
        return set_nonempty(what, arg, &c->keyfile);
    case OPT_CA_CERTS:
        return set_nonempty(what, arg, &c->ca_certs);
    case OPT_CIPHERS:
        return set_nonempty(what, arg, &c->ciphers);
    case OPT_CERT_REQS:
        /* gunicorn's config files use ssl.CERT_NONE/OPTIONAL/REQUIRED = 0/1/2. */
        if (strcasecmp(arg, "none") == 0 || strcmp(arg, "0") == 0) {
            c->cert_reqs = CONFIG_CERT_NONE;
        } else if (strcasecmp(arg, "optional") == 0 || strcmp(arg, "1") == 0) {
            c->cert_reqs = CONFIG_CERT_OPTIONAL;
        } else if (strcasecmp(arg, "required") == 0 || strcmp(arg, "2") == 0) {
            c->cert_reqs = CONFIG_CERT_REQUIRED;
        } else {
            return usage_error("--cert-reqs: '%s' is not one of none, optional, required "
                               "(or 0, 1, 2)",
                               arg);
        }
        return 0;
    case OPT_TLS_MIN_VERSION: {
        const char *ver = strncasecmp(arg, "TLSv", 4) == 0 ? arg + 4 : arg;
        if (strcmp(ver, "1.2") == 0) {
            c->tls_min_version = 12;
        } else if (strcmp(ver, "1.3") == 0) {
            c->tls_min_version = 13;
        } else if (strcmp(ver, "1") == 0 || strcmp(ver, "1.0") == 0 || strcmp(ver, "1.1") == 0) {
            return usage_error("--tls-min-version: TLS %s is obsolete (RFC 8996) and refused; "
                               "use 1.2 or 1.3",
                               strcmp(ver, "1") == 0 ? "1.0" : ver);
        } else {
            return usage_error("--tls-min-version: '%s' is not 1.2 or 1.3", arg);
        }
        return 0;
    }
    case OPT_FORWARDED_ALLOW_IPS:
    case OPT_PROXY_ALLOW_FROM: {
        char err[256];
        struct ip_allow *a =
            opt == OPT_FORWARDED_ALLOW_IPS ? &c->forwarded_allow : &c->proxy_allow;
        if (ip_allow_add(a, arg, err, sizeof(err)) < 0) {
            return usage_error("%s: %s", what, err);
        }
        return 0;
    }
    case OPT_PROXY_PROTOCOL:
        c->proxy_protocol = true;
        return 0;
    case OPT_STATIC:
        return add_pair(what, arg, c->static_map, &c->n_static, false);
    case OPT_STATIC_FALLBACK:
        return add_pair(what, arg, c->static_fallback, &c->n_static_fallback, true);
    case OPT_STATIC_EXCLUDE:
        return add_prefix(what, arg, c->static_exclude, &c->n_static_exclude);
    case OPT_STATIC_CACHE_CONTROL:
        if (*arg == '\0' || strcmp(arg, "off") == 0) {
            c->static_cache_control = NULL;
            return 0;
        }
        for (const char *p = arg; *p != '\0'; p++) {
            if ((unsigned char)*p < ' ' || (unsigned char)*p >= 0x7f) {
                return usage_error("--static-cache-control: byte 0x%02x is not allowed in a "
                                   "header value",
                                   (unsigned char)*p);
            }
        }
        c->static_cache_control = arg;
        return 0;
    case OPT_STATIC_IMMUTABLE:
        if (strcmp(arg, "off") == 0) {
            c->n_static_immutable = 0;
            return 0;
        }
        if (strcmp(arg, "auto") == 0) {
            if (c->n_static_immutable == CONFIG_MAX_STATIC) {
                return usage_error("--static-immutable: more than %d", CONFIG_MAX_STATIC);
            }
            c->static_immutable[c->n_static_immutable++] = "auto";
            return 0;
        }
        if (arg[0] != '/') {
            return usage_error("--static-immutable '%s': expected auto, off or a URL prefix "
                               "like /assets",
                               arg);
        }
        return add_prefix(what, arg, c->static_immutable, &c->n_static_immutable);
    case OPT_METRICS_BIND: {
        const char *b;
        if ((b = bind_normalize(what, arg)) == NULL) {
            return -1;
        }
        /* No default port here: the app's (8000) would be taken. The
         * port's colon is the last one, after any ']' and not tcp://'s. */
        const char *colon = strrchr(arg, ':');
        const char *bracket = strrchr(arg, ']');
        bool port = colon != NULL && colon[1] != '/' && (bracket == NULL || colon > bracket);
        if (strncmp(arg, "unix:", 5) != 0 && !port) {
            return usage_error("%s: '%s': give the port too (%s:PORT)", what, arg,
                               bracket ? "[IPv6]" : "HOST");
        }
        c->metrics_bind = b;
        return 0;
    }
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

/* One source of options (config file, $WSGIHOST_CMD_ARGS or the command
 * line). A list option (--bind, --pythonpath) given by a later source
 * replaces the earlier source's list instead of adding to it. */
/* Which variable the environment's arguments came from, for messages. */
static const char *env_args_name = "$WSGIHOST_CMD_ARGS";

/* gunicorn's worker classes: the two that mean threads are taken, the event
 * and ASGI ones are refused with what to do instead. */
static int
set_worker_class(struct config *c, const char *arg)
{
    const char *k = arg;
    if (strncmp(k, "gunicorn.workers.", 17) == 0) {
        k += 17;
    }
    if (strcmp(k, "sync") == 0 || strcmp(k, "sync.SyncWorker") == 0) {
        c->worker_class_sync = true;
        return 0;
    }
    if (strcmp(k, "gthread") == 0 || strcmp(k, "gthread.ThreadWorker") == 0) {
        c->worker_class_sync = false;
        return 0;
    }
    if (strncmp(k, "gevent", 6) == 0 || strncmp(k, "ggevent", 7) == 0 ||
        strncmp(k, "eventlet", 8) == 0 || strncmp(k, "geventlet", 9) == 0 ||
        strncmp(k, "tornado", 7) == 0) {
        return usage_error("--worker-class %s: wsgihost has no %s workers. Its C event loop "
                           "already holds slow clients and keep-alive connections without a "
                           "worker each; for an app that waits on I/O, give it threads "
                           "(--threads N, 'threads = N') and drop worker_class",
                           arg, k);
    }
    if (strstr(k, "uvicorn") != NULL || strstr(k, "Uvicorn") != NULL ||
        strstr(k, "asgi") != NULL || strstr(k, "ASGI") != NULL) {
        return usage_error("--worker-class %s: that is an ASGI worker; wsgihost serves WSGI "
                           "apps only (run an ASGI app with uvicorn itself)",
                           arg);
    }
    return usage_error("--worker-class %s: wsgihost runs its own workers and cannot load a "
                       "worker class; 'sync' and 'gthread' are understood (threads = N)",
                       arg);
}

/* --version's last line: which interpreter serves (hostpy.h). */
static void
print_host_mode(int argc, char **argv)
{
    char python[PATH_MAX], module[PATH_MAX];
    const char *why;
    if (hostpy_plan(argc, argv, python, sizeof(python), module, sizeof(module), &why)) {
        printf("serves inside %s (host interpreter, %s)\n", python, module);
    } else {
        printf("serves with the embedded interpreter (%s)\n", why);
    }
}

static int
cfg_parse_args(struct config *c, int argc, char **argv, bool *workers_set, bool positional_ok)
{
    size_t binds_before = c->n_binds;
    size_t paths_before = c->n_pythonpath;
    bool binds_reset = false, paths_reset = false;
    bool fwd_reset = false, pallow_reset = false;
    /* The static lists: a later source's list replaces an earlier one's
     * (and --static-immutable's default, auto). */
    size_t static_before[3] = {c->n_static, c->n_static_fallback, c->n_static_exclude};
    bool static_reset[4] = {false, false, false, false};
    size_t extra_before = c->n_reload_extra;
    bool extra_reset = false;
    int opt;

    /* 0, not 1: makes glibc reinitialise, so config_parse can run twice (tests). */
    optind = 0;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, short_options, long_options, NULL)) != -1) {
        switch (opt) {
        case 1:
            if (!positional_ok) {
                return usage_error("unexpected argument '%s' in %s", optarg, env_args_name);
            }
            if (c->app_spec != NULL && c->app_spec_source == c->source) {
                return usage_error("unexpected argument '%s' (MODULE:APP is already '%s')", optarg,
                                   c->app_spec);
            }
            c->app_spec = optarg;
            c->app_spec_source = c->source;
            break;
        case 'h':
            print_help();
            return 1;
        case 'v':
            printf("wsgihost %s\nembeds CPython %s (%s libpython)\n", WSGIHOST_VERSION,
                   WSGIHOST_PYTHON_VERSION, WSGIHOST_PYTHON_LINK);
            print_host_mode(argc, argv);
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
                *workers_set = true;
            }
            if (opt == 'b' && !binds_reset && binds_before > 0) {
                c->n_binds = 0;
                binds_reset = true;
            }
            if (opt == OPT_PYTHONPATH && !paths_reset && paths_before > 0) {
                c->n_pythonpath = 0;
                paths_reset = true;
            }
            /* Address lists replace the default or an earlier source's list;
             * within one source they add up (a config file's list becomes
             * repeated options). */
            if (opt == OPT_FORWARDED_ALLOW_IPS && !fwd_reset) {
                ip_allow_clear(&c->forwarded_allow);
                fwd_reset = true;
            }
            if (opt == OPT_PROXY_ALLOW_FROM && !pallow_reset) {
                ip_allow_clear(&c->proxy_allow);
                pallow_reset = true;
            }
            if (opt == OPT_STATIC && !static_reset[0] && static_before[0] > 0) {
                c->n_static = 0;
                static_reset[0] = true;
            }
            if (opt == OPT_STATIC_FALLBACK && !static_reset[1] && static_before[1] > 0) {
                c->n_static_fallback = 0;
                static_reset[1] = true;
            }
            if (opt == OPT_STATIC_EXCLUDE && !static_reset[2] && static_before[2] > 0) {
                c->n_static_exclude = 0;
                static_reset[2] = true;
            }
            if (opt == OPT_RELOAD_EXTRA_FILE && !extra_reset && extra_before > 0) {
                c->n_reload_extra = 0;
                extra_reset = true;
            }
            if (opt == OPT_STATIC_IMMUTABLE && !static_reset[3]) {
                c->n_static_immutable = 0;
                static_reset[3] = true;
            }
            if (apply_option(c, opt, optarg) < 0) {
                return -1;
            }
            break;
        }
    }
    /* After "--", getopt stops; what is left is positional. */
    for (int i = optind; i < argc; i++) {
        if (!positional_ok) {
            return usage_error("unexpected argument '%s' in %s", argv[i], env_args_name);
        }
        if (c->app_spec != NULL && c->app_spec_source == c->source) {
            return usage_error("unexpected argument '%s' (MODULE:APP is already '%s')", argv[i],
                               c->app_spec);
        }
        c->app_spec = argv[i];
        c->app_spec_source = c->source;
    }
    return 0;
}

/* gunicorn's config file: Python that assigns settings. It runs in a short
 * child process of the same interpreter the host embeds (the master stays
 * free of Python), which turns each setting into "--option=value". Settings
 * of gunicorn 23 that wsgihost does not apply are accepted with one line
 * each saying so (gunicorn ignores what it does not know; a setting it
 * knows must never vanish silently). Items that start with \1 are not
 * options: "hooks=NAME,..." (the server hooks the file defines, their
 * signatures checked as gunicorn does) and "pylog" (logconfig_dict or
 * logconfig configure the app's loggers in the workers). */
static const char config_file_script[] =
    "import sys, os, types, difflib, inspect, ast\n"
    "path, log_defaults = sys.argv[1], ast.literal_eval(sys.argv[2])\n"
    "names = {\n"
    " 'bind': 'bind', 'workers': 'workers', 'threads': 'threads', 'timeout': 'timeout',\n"
    " 'graceful_timeout': 'graceful-timeout', 'keepalive': 'keep-alive', 'backlog': 'backlog',\n"
    " 'accesslog': 'access-logfile', 'access_log_format': 'access-logformat',\n"
    " 'errorlog': 'error-logfile', 'loglevel': 'log-level', 'chdir': 'chdir',\n"
    " 'pythonpath': 'pythonpath', 'preload_app': 'preload', 'max_requests': 'max-requests',\n"
    " 'max_requests_jitter': 'max-requests-jitter', 'worker_connections': 'worker-connections',\n"
    " 'pidfile': 'pid', 'user': 'user', 'group': 'group', 'umask': 'umask', 'reload': 'reload',\n"
    " 'reload_extra_files': 'reload-extra-file', 'statsd_host': 'statsd-host',\n"
    " 'initgroups': 'initgroups',\n"
    " 'statsd_prefix': 'statsd-prefix', 'dogstatsd_tags': 'dogstatsd-tags',\n"
    " 'limit_request_line': 'limit-request-line', 'limit_request_fields': 'limit-request-fields',\n"
    " 'limit_request_field_size': 'limit-request-field_size',\n"
    " 'limit_request_body': 'limit-request-body', 'body_buffer_size': 'body-buffer-size',\n"
    " 'header_timeout': 'header-timeout', 'body_timeout': 'body-timeout',\n"
    " 'send_timeout': 'send-timeout', 'python_executable': 'python-executable',\n"
    " 'virtualenv': 'virtualenv', 'strict_wsgi': 'strict-wsgi',\n"
    " 'certfile': 'certfile', 'keyfile': 'keyfile', 'ca_certs': 'ca-certs',\n"
    " 'cert_reqs': 'cert-reqs', 'ciphers': 'ciphers', 'tls_min_version': 'tls-min-version',\n"
    " 'forwarded_allow_ips': 'forwarded-allow-ips', 'proxy_protocol': 'proxy-protocol',\n"
    " 'proxy_allow_ips': 'proxy-allow-from', 'worker_class': 'worker-class', 'raw_env': 'env',\n"
    " 'print_config': 'print-config', 'check_config': 'check-config', 'proc_name': 'name',\n"
    " 'capture_output': 'capture-output',\n"
    " 'static_map': 'static', 'static_fallback': 'static-fallback',\n"
    " 'static_exclude': 'static-exclude', 'static_cache_control': 'static-cache-control',\n"
    " 'static_immutable': 'static-immutable', 'metrics_bind': 'metrics-bind',\n"
    " 'wsgi_app': None, 'logconfig_dict': None, 'logconfig': None,\n"
    "}\n"
    "flags = {'preload_app', 'reload', 'proxy_protocol', 'strict_wsgi', 'print_config',\n"
    " 'check_config', 'capture_output', 'initgroups'}\n"
    "why = {\n"
    " 'worker_tmp_dir': 'the heartbeat is in shared memory, no temporary file',\n"
    " 'sendfile': 'files are always sent with sendfile()',\n"
    " 'tmp_upload_dir': 'bodies over --body-buffer-size go to an unlinked file in $TMPDIR',\n"
    " 'reuse_port': 'workers share one listening socket (EPOLLEXCLUSIVE)',\n"
    " 'daemon': 'wsgihost stays in the foreground (run it under systemd)',\n"
    " 'secure_scheme_headers': 'X-Forwarded-Proto/-Ssl/-Protocol are read from '\n"
    "     '--forwarded-allow-ips peers (README)',\n"
    " 'logconfig_json': 'give the same as logconfig_dict',\n"
    " 'keepalive_timeout': None, 'spew': None, 'reload_engine': None,\n"
    " 'disable_redirect_access_to_syslog': None,\n"
    " 'logger_class': None, 'syslog_addr': None, 'syslog': None, 'syslog_prefix': None,\n"
    " 'syslog_facility': None, 'enable_stdio_inheritance': None, 'default_proc_name': None,\n"
    " 'paste': None, 'raw_paste_global_conf': None, 'ssl_version': None,\n"
    " 'suppress_ragged_eofs': None, 'do_handshake_on_connect': None,\n"
    " 'strip_header_spaces': None, 'tolerate_dangerous_framing': None,\n"
    " 'permit_obsolete_folding': None, 'permit_unconventional_http_method': None,\n"
    " 'permit_unconventional_http_version': None, 'casefold_http_method': None,\n"
    " 'forwarder_headers': None, 'header_map': None, 'config': None,\n"
    "}\n"
    "# gunicorn's server hooks and how it calls them (wsgi_hooks.c runs them).\n"
    "hooks = {'on_starting': 'server', 'on_reload': 'server', 'when_ready': 'server',\n"
    " 'pre_fork': 'server, worker', 'post_fork': 'server, worker', 'post_worker_init': 'worker',\n"
    " 'worker_int': 'worker', 'worker_abort': 'worker', 'pre_exec': 'server',\n"
    " 'pre_request': 'worker, req', 'post_request': 'worker, req, environ, resp',\n"
    " 'child_exit': 'server, worker', 'worker_exit': 'server, worker',\n"
    " 'nworkers_changed': 'server, new_value, old_value', 'on_exit': 'server'}\n"
    "aliases = {'preload': 'preload_app', 'keep_alive': 'keepalive', 'log_level': 'loglevel',\n"
    " 'access_log': 'accesslog', 'error_log': 'errorlog', 'worker': 'workers',\n"
    " 'thread': 'threads', 'pid': 'pidfile', 'log_file': 'errorlog', 'logfile': 'errorlog',\n"
    " 'app': 'wsgi_app',\n"
    " 'name': 'proc_name', 'log_config': 'logconfig', 'log_config_dict': 'logconfig_dict'}\n"
    /* static_map = {'/': 'dist'}, [('/', 'dist')] or ['/=dist']. */
    "def pairs(k, v):\n"
    "    items = list(v.items()) if isinstance(v, dict) else [v] if isinstance(v, str) else v\n"
    "    if not isinstance(items, (list, tuple)):\n"
    "        sys.exit('wsgihost: error: -c %s: %s = %r: expected a dict {PREFIX: PATH}, a list '\n"
    "                 'of pairs or of \"PREFIX=PATH\" strings' % (path, k, v))\n"
    "    out = []\n"
    "    for it in items:\n"
    "        if isinstance(it, str):\n"
    "            out.append(it)\n"
    "        elif isinstance(it, (list, tuple)) and len(it) == 2 and \\\n"
    "                all(isinstance(x, (str, os.PathLike)) for x in it):\n"
    "            out.append('%s=%s' % (os.fspath(it[0]), os.fspath(it[1])))\n"
    "        else:\n"
    "            sys.exit('wsgihost: error: -c %s: %s: %r is not a (PREFIX, PATH) pair '\n"
    "                     '(give a dict, a list of pairs or of \"PREFIX=PATH\" strings)'\n"
    "                     % (path, k, it))\n"
    "    return out\n"
    "def say(kind, msg):\n"
    "    sys.stderr.write('wsgihost: %s: %s: %s\\n' % (kind, path, msg))\n"
    "def fail(msg):\n"
    "    sys.exit('wsgihost: error: -c %s: %s' % (path, msg))\n"
    "ns = {'__file__': path, '__name__': '__config__'}\n"
    "try:\n"
    "    with open(path, 'rb') as f:\n"
    "        src = f.read()\n"
    "except OSError as e:\n"
    "    fail(e.strerror)\n"
    "exec(compile(src, path, 'exec'), ns)\n"
    "out = []\n"
    "meta = []\n"
    "known = set(names) | set(why) | set(hooks) | {'ssl_context'}\n"
    "def takes(fn, n):\n"
    "    try:\n"
    "        inspect.signature(fn).bind(*range(n))\n"
    "        return True\n"
    "    except TypeError:\n"
    "        return False\n"
    "    except ValueError:\n"
    "        return True  # no signature to read (a builtin): the call will tell\n"
    "defined = []\n"
    "for k in hooks:\n"
    "    v = ns.get(k)\n"
    "    if v is None:\n"
    "        continue\n"
    "    if isinstance(v, str):\n"
    "        if '.' not in v.strip('.'):\n"
    "            fail('%s = %r: a hook given as a string must be \"module.function\"' % (k, v))\n"
    "    elif not callable(v):\n"
    "        fail('%s = %r is not callable (gunicorn calls %s(%s))' % (k, v, k, hooks[k]))\n"
    "    elif not any(takes(v, n) for n in ((4, 3, 2) if k == 'post_request' else\n"
    "                                        (hooks[k].count(',') + 1,))):\n"
    "        fail('%s() must take (%s), as gunicorn calls it' % (k, hooks[k]))\n"
    "    defined.append(k)\n"
    "if ns.get('ssl_context') is not None:\n"
    "    say('warning', 'the server hook ssl_context() is not run by wsgihost: its TLS '\n"
    "        'context comes from certfile, keyfile, ca_certs, cert_reqs, ciphers and '\n"
    "        'tls_min_version')\n"
    "if defined:\n"
    "    meta.append('hooks=' + ','.join(defined))\n"
    "for k, v in ns.items():\n"
    "    if k.startswith('_') or k in hooks or k == 'ssl_context' or \\\n"
    "            isinstance(v, (types.ModuleType, type, types.BuiltinFunctionType)):\n"
    "        continue\n"
    "    if isinstance(v, types.FunctionType):\n"
    "        continue  # a helper of the file's own\n"
    "    if k not in known:\n"
    "        if k.islower():\n"
    "            close = [aliases[k]] if k in aliases else \\\n"
    "                difflib.get_close_matches(k, sorted(known), 1, 0.6)\n"
    "            say('warning', '%s is not a setting, ignored (as gunicorn does)%s'\n"
    "                % (k, '; did you mean %s?' % close[0] if close else ''))\n"
    "        continue\n"
    "    if k in why:\n"
    "        if v is not None and k != 'config':\n"
    "            if k == 'daemon' and v:\n"
    "                fail('daemon = %r: wsgihost does not detach; run it in the foreground '\n"
    "                     'under systemd, supervisord or a container' % (v,))\n"
    "            say('note', '%s = %r does not apply to wsgihost, ignored%s'\n"
    "                % (k, v, (' (' + why[k] + ')') if why[k] else ''))\n"
    "        continue\n"
    "    if k == 'wsgi_app':\n"
    "        if v is not None: out.append(str(v))\n"
    "        continue\n"
    "    if k in ('logconfig_dict', 'logconfig'):\n"
    "        continue  # below\n"
    "    opt = '--' + names[k]\n"
    "    if k in flags:\n"
    "        if v: out.append(opt)\n"
    "        continue\n"
    "    if v is None:\n"
    "        continue  # None means the default, as in gunicorn\n"
    "    if k in ('static_map', 'static_fallback'):\n"
    "        v = pairs(k, v)\n"
    "    vals = v if isinstance(v, (list, tuple)) else [v]\n"
    "    for x in vals:\n"
    "        if isinstance(x, bool) or x is None:\n"
    "            fail('%s = %r is not a valid value' % (k, v))\n"
    "        if isinstance(x, str) and k not in ('umask',) and names[k] in ('workers',\n"
    "                'threads', 'backlog', 'max-requests', 'max-requests-jitter',\n"
    "                'worker-connections', 'limit-request-line', 'limit-request-fields',\n"
    "                'limit-request-field_size'):\n"
    "            try:\n"
    "                x = int(x.strip(), 0)  # gunicorn's rule for strings from os.getenv()\n"
    "            except ValueError:\n"
    "                fail('%s = %r: --%s needs an integer' % (k, x, names[k]))\n"
    "        x = oct(x) if k == 'umask' and isinstance(x, int) else str(x)\n"
    "        out.append(opt + '=' + x)\n"
    "# logconfig_dict / logconfig: the app's loggers are configured in each worker\n"
    "# (wsgi_hooks.c); the gunicorn.error and gunicorn.access loggers are\n"
    "# wsgihost's error and access logs, so their simple handlers become\n"
    "# --error-logfile / --log-level / --access-logfile (after the file's own\n"
    "# errorlog & co., which they override, as in gunicorn).\n"
    "LEVELS = {'CRITICAL': 50, 'FATAL': 50, 'ERROR': 40, 'WARN': 30, 'WARNING': 30, 'INFO': 20,\n"
    "          'DEBUG': 10, 'NOTSET': 0}\n"
    "def level_of(what, v):\n"
    "    if v is None or v == '':\n"
    "        return None\n"
    "    if isinstance(v, int) and not isinstance(v, bool):\n"
    "        return v\n"
    "    if isinstance(v, str) and v.strip().upper() in LEVELS:\n"
    "        return LEVELS[v.strip().upper()]\n"
    "    fail('%s: level %r is not a logging level' % (what, v))\n"
    "def level_name(n):\n"
    "    return 'debug' if n <= 10 else 'info' if n <= 20 else 'warning' if n <= 30 else \\\n"
    "        'error' if n <= 40 else 'critical'\n"
    "GENERIC = log_defaults['formatters']['generic']['format']\n"
    "def map_logger(cfg, what, name):\n"
    "    \"\"\"(destination, level) of the logger `name` in a dictConfig-style dict:\n"
    "    destination 'stdout', 'stderr' or ('file', path); None when it is not\n"
    "    configured or nothing simple can stand for it.\"\"\"\n"
    "    spec = (cfg.get('loggers') or {}).get(name)\n"
    "    if spec is None:\n"
    "        return None, None\n"
    "    if not isinstance(spec, dict):\n"
    "        fail('%s: loggers[%r] is not a dict' % (what, name))\n"
    "    level = level_of('%s: %s' % (what, name), spec.get('level'))\n"
    "    dest = None\n"
    "    for i, hname in enumerate(spec.get('handlers') or []):\n"
    "        h = (cfg.get('handlers') or {}).get(hname)\n"
    "        if not isinstance(h, dict):\n"
    "            fail('%s: %s uses the handler %r, which is not defined' % (what, name, hname))\n"
    "        cls = str(h.get('class', ''))\n"
    "        if cls.startswith('logging.'):\n"
    "            cls = cls[8:]\n"
    "        d = None\n"
    "        if cls == 'StreamHandler':\n"
    "            stream = h.get('stream', 'ext://sys.stderr')\n"
    "            d = {'ext://sys.stdout': 'stdout', 'ext://sys.stderr': 'stderr'}.get(stream)\n"
    "        elif cls in ('FileHandler', 'handlers.WatchedFileHandler') and h.get('filename'):\n"
    "            d = ('file', str(h['filename']))\n"
    "            if str(h.get('mode', 'a')) not in ('a', 'a+'):\n"
    "                say('note', '%s: the %s file %s is appended to, not truncated (mode %r)'\n"
    "                    % (what, name, h['filename'], h.get('mode')))\n"
    "        if d is None or dest is not None:\n"
    "            say('warning', '%s: the %s handler %r (%s) is not applied: wsgihost writes '\n"
    "                'that log itself; only one StreamHandler to ext://sys.stdout or '\n"
    "                'ext://sys.stderr, or one FileHandler, stands for it'\n"
    "                % (what, name, hname, h.get('class')))\n"
    "            continue\n"
    "        dest = d\n"
    "        hl = level_of('%s: handler %s' % (what, hname), h.get('level'))\n"
    "        if hl is not None and (level is None or hl > level):\n"
    "            level = hl\n"
    "        fname = h.get('formatter')\n"
    "        fmt = ((cfg.get('formatters') or {}).get(fname) or {}).get('format') \\\n"
    "            if fname else None\n"
    "        plain = GENERIC if name == 'gunicorn.error' else '%(message)s'\n"
    "        if fmt is not None and fmt != plain:\n"
    "            err = name == 'gunicorn.error'\n"
    "            say('note', '%s: the %s format %r is not applied: wsgihost\\'s %s lines are %s'\n"
    "                % (what, name, fmt, 'error log' if err else 'access log',\n"
    "                   '[time] [pid] [LEVEL] message' if err else 'access_log_format\\'s'))\n"
    "    return dest, level\n"
    "def apply_log_mapping(cfg, what):\n"
    "    dest, level = map_logger(cfg, what, 'gunicorn.error')\n"
    "    if dest is not None:\n"
    "        out.append('--error-logfile=' + (dest[1] if isinstance(dest, tuple) else\n"
    "                                         '/dev/stdout' if dest == 'stdout' else '-'))\n"
    "    if level is not None:\n"
    "        out.append('--log-level=' + level_name(level))\n"
    "    dest, level = map_logger(cfg, what, 'gunicorn.access')\n"
    "    if dest is not None:\n"
    "        if level is not None and level > 20:\n"
    "            say('note', '%s: gunicorn.access is at level %s: no access log (its lines '\n"
    "                'are INFO)' % (what, level_name(level).upper()))\n"
    "        else:\n"
    "            out.append('--access-logfile=' + (dest[1] if isinstance(dest, tuple) else\n"
    "                                              '/dev/stderr' if dest == 'stderr' else '-'))\n"
    "def ini_as_dict(ini):\n"
    "    \"\"\"The parts of a logging.config.fileConfig file that map_logger reads.\"\"\"\n"
    "    import configparser\n"
    "    cp = configparser.ConfigParser(interpolation=None)\n"
    "    try:\n"
    "        if not cp.read(ini):\n"
    "            fail('logconfig = %r: no such file (gunicorn stops on it too)' % (ini,))\n"
    "    except configparser.Error as e:\n"
    "        fail('logconfig = %r: %s' % (ini, e))\n"
    "    def keys(sec):\n"
    "        return [x.strip() for x in cp.get(sec, 'keys', fallback='').split(',')\n"
    "                if x.strip()]\n"
    "    d = {'loggers': {}, 'handlers': {}, 'formatters': {}}\n"
    "    for k in keys('loggers'):\n"
    "        s = 'logger_' + k\n"
    "        if not cp.has_section(s):\n"
    "            continue\n"
    "        q = 'root' if k == 'root' else cp.get(s, 'qualname', fallback=k)\n"
    "        d['loggers'][q] = {'level': cp.get(s, 'level', fallback=None),\n"
    "            'handlers': [x.strip() for x in cp.get(s, 'handlers', fallback='').split(',')\n"
    "                         if x.strip()]}\n"
    "    for k in keys('handlers'):\n"
    "        s = 'handler_' + k\n"
    "        if not cp.has_section(s):\n"
    "            continue\n"
    "        cls = cp.get(s, 'class', fallback='')\n"
    "        args = cp.get(s, 'args', fallback='()').replace(' ', '')\n"
    "        h = {'class': cls if '.' in cls and not cls.startswith('handlers.') else\n"
    "             'logging.' + cls, 'level': cp.get(s, 'level', fallback=None) or None,\n"
    "             'formatter': cp.get(s, 'formatter', fallback=None) or None}\n"
    "        if cls.endswith('StreamHandler'):\n"
    "            h['stream'] = 'ext://sys.stdout' if 'sys.stdout' in args else \\\n"
    "                'ext://sys.stderr' if 'sys.stderr' in args or args in ('()', '') else args\n"
    "        elif cls.endswith('FileHandler'):\n"
    "            try:\n"
    "                a = ast.literal_eval(args)\n"
    "                a = a if isinstance(a, tuple) else (a,)\n"
    "                h['filename'] = a[0] if a and isinstance(a[0], str) else None\n"
    "                h['mode'] = a[1] if len(a) > 1 else 'a'\n"
    "            except (ValueError, SyntaxError):\n"
    "                h['filename'] = None\n"
    "        d['handlers'][k] = h\n"
    "    for k in keys('formatters'):\n"
    "        s = 'formatter_' + k\n"
    "        if cp.has_section(s):\n"
    "            d['formatters'][k] = {'format': cp.get(s, 'format', fallback=None)}\n"
    "    return d\n"
    "import logging.config\n"
    "def applied(cfg):\n"
    "    \"\"\"What the workers give dictConfig (wsgi_hooks.c does the same): the\n"
    "    gunicorn.* loggers and the handlers only they use left out.\"\"\"\n"
    "    cfg = dict(cfg)\n"
    "    loggers = {k: v for k, v in (cfg.get('loggers') or {}).items()\n"
    "               if k not in ('gunicorn.error', 'gunicorn.access')}\n"
    "    handlers = cfg.get('handlers') or {}\n"
    "    used = set((cfg.get('root') or {}).get('handlers') or [])\n"
    "    for spec in loggers.values():\n"
    "        used.update((spec or {}).get('handlers') or [])\n"
    "    todo = list(used)\n"
    "    while todo:\n"
    "        spec = handlers.get(todo.pop()) or {}\n"
    "        for h in [spec.get('target')] + list(spec.get('handlers') or []):\n"
    "            if isinstance(h, str) and h in handlers and h not in used:\n"
    "                used.add(h)\n"
    "                todo.append(h)\n"
    "    cfg['loggers'] = loggers\n"
    "    cfg['handlers'] = {k: v for k, v in handlers.items() if k in used}\n"
    "    return cfg\n"
    "def check_logging(apply, what):\n"
    "    \"\"\"Apply it here, in this short process: what the workers would refuse\n"
    "    stops start-up now, with logging's reason (gunicorn refuses it too). A\n"
    "    class the app's own path provides may not import here: left to them.\"\"\"\n"
    "    try:\n"
    "        apply()\n"
    "    except (ValueError, TypeError, AttributeError, KeyError, ImportError, OSError) as e:\n"
    "        chain, c = [], e\n"
    "        while c is not None:\n"
    "            if isinstance(c, ImportError):\n"
    "                return\n"
    "            chain.append('%s: %s' % (type(c).__name__, c))\n"
    "            c = c.__cause__ or c.__context__\n"
    "        fail('%s: %s' % (what, ' <- '.join(chain)))\n"
    "lcd = ns.get('logconfig_dict')\n"
    "lcf = ns.get('logconfig')\n"
    "if lcd:\n"
    "    if not isinstance(lcd, dict):\n"
    "        fail('logconfig_dict = %r is not a dict' % (lcd,))\n"
    "    merged = dict(log_defaults)\n"
    "    merged.update(lcd)  # gunicorn's rule: the file's top-level keys replace the defaults'\n"
    "    apply_log_mapping(merged, 'logconfig_dict')\n"
    "    check_logging(lambda: logging.config.dictConfig(applied(merged)), 'logconfig_dict')\n"
    "    meta.append('pylog')\n"
    "    if lcf:\n"
    "        say('note', 'logconfig = %r is not applied: logconfig_dict wins, as in gunicorn'\n"
    "            % (lcf,))\n"
    "elif lcf:\n"
    "    if not isinstance(lcf, str):\n"
    "        fail('logconfig = %r is not a file name' % (lcf,))\n"
    "    apply_log_mapping(ini_as_dict(lcf), 'logconfig %s' % lcf)\n"
    "    check_logging(lambda: logging.config.fileConfig(lcf, disable_existing_loggers=False,\n"
    "                  defaults={'__file__': lcf, 'here': os.path.dirname(lcf)}), 'logconfig')\n"
    "    meta.append('pylog')\n"
    "sys.stdout.write('\\0'.join(['\\1' + m for m in meta] + out))\n";


/* gunicorn's logging defaults, the base a logconfig_dict is laid over (a
 * Python literal; the config script and wsgi_hooks.c read it). */
const char config_log_defaults[] =
    "{'version': 1, 'disable_existing_loggers': False,"
    " 'root': {'level': 'INFO', 'handlers': ['console']},"
    " 'loggers': {"
    "  'gunicorn.error': {'level': 'INFO', 'handlers': ['error_console'], 'propagate': True},"
    "  'gunicorn.access': {'level': 'INFO', 'handlers': ['console'], 'propagate': True}},"
    " 'handlers': {"
    "  'console': {'class': 'logging.StreamHandler', 'formatter': 'generic',"
    "              'stream': 'ext://sys.stdout'},"
    "  'error_console': {'class': 'logging.StreamHandler', 'formatter': 'generic',"
    "                    'stream': 'ext://sys.stderr'}},"
    " 'formatters': {'generic': {'format': '%(asctime)s [%(process)d] [%(levelname)s] "
    "%(message)s', 'datefmt': '[%Y-%m-%d %H:%M:%S %z]', 'class': 'logging.Formatter'}}}";

static const char *const hook_names[HOOK_COUNT] = {
    [HOOK_ON_STARTING] = "on_starting",
    [HOOK_ON_RELOAD] = "on_reload",
    [HOOK_WHEN_READY] = "when_ready",
    [HOOK_PRE_FORK] = "pre_fork",
    [HOOK_POST_FORK] = "post_fork",
    [HOOK_POST_WORKER_INIT] = "post_worker_init",
    [HOOK_WORKER_INT] = "worker_int",
    [HOOK_WORKER_ABORT] = "worker_abort",
    [HOOK_PRE_EXEC] = "pre_exec",
    [HOOK_PRE_REQUEST] = "pre_request",
    [HOOK_POST_REQUEST] = "post_request",
    [HOOK_CHILD_EXIT] = "child_exit",
    [HOOK_WORKER_EXIT] = "worker_exit",
    [HOOK_NWORKERS_CHANGED] = "nworkers_changed",
    [HOOK_ON_EXIT] = "on_exit",
};

const char *
config_hook_name(enum config_hook h)
{
    return h < HOOK_COUNT ? hook_names[h] : "?";
}

static const char *
python_for_config(const struct config *c)
{
    return c->python_executable ? c->python_executable : WSGIHOST_PYTHON_EXECUTABLE;
}

/* Runs the script; returns a NUL-separated buffer of arguments (owned) or
 * NULL after the child printed why. */
static char *
run_config_file(const struct config *c, const char *path, size_t *len)
{
    int pfd[2];
    if (pipe(pfd) != 0) {
        usage_error("-c %s: pipe: %s", path, strerror(errno));
        return NULL;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        usage_error("-c %s: fork: %s", path, strerror(errno));
        return NULL;
    }
    if (pid == 0) {
        close(pfd[0]);
        dup2(pfd[1], 1);
        const char *py = python_for_config(c);
        execl(py, py, "-c", config_file_script, path, config_log_defaults, (char *)NULL);
        fprintf(stderr, "wsgihost: error: -c %s: cannot run %s: %s\n", path, py, strerror(errno));
        _exit(2);
    }
    close(pfd[1]);
    size_t cap = 4096, n = 0;
    char *out = xmalloc(cap);
    for (;;) {
        if (n == cap) {
            cap *= 2;
            out = xrealloc(out, cap);
        }
        ssize_t r = read(pfd[0], out + n, cap - n);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            break;
        }
        n += (size_t)r;
    }
    close(pfd[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        free(out);
        return NULL; /* the script printed the reason (or Python's traceback) */
    }
    /* The last argument ends at n: terminate it like the others. */
    char *kept = cfg_strndup(out, n); /* the options point into it for good */
    free(out);
    *len = n;
    return kept;
}

/* Splits a NUL-separated buffer into an argv (argv[0] = "wsgihost"). */
static char **
split_nul(char *buf, size_t len, int *argc)
{
    int n = 1;
    for (size_t i = 0; i < len; i++) {
        n += buf[i] == '\0';
    }
    char **v = cfg_alloc(((size_t)n + 2) * sizeof(char *));
    memset(v, 0, ((size_t)n + 2) * sizeof(char *));
    int k = 0;
    v[k++] = "wsgihost";
    if (len > 0) {
        v[k++] = buf;
        for (size_t i = 0; i + 1 < len; i++) {
            if (buf[i] == '\0') {
                v[k++] = buf + i + 1;
            }
        }
    }
    *argc = k;
    return v;
}

/* Take the script's \1 items (not options) out of argv: which hooks the
 * file defines, whether it configures Python's logging. */
static void
take_meta(struct config *c, char **v, int *argc)
{
    int k = 1;
    for (int i = 1; i < *argc; i++) {
        if (v[i][0] != '\1') {
            v[k++] = v[i];
            continue;
        }
        const char *m = v[i] + 1;
        if (strcmp(m, "pylog") == 0) {
            c->py_logging = true;
        } else if (strncmp(m, "hooks=", 6) == 0) {
            const char *p = m + 6, *b, *e;
            while (list_next(&p, &b, &e)) {
                for (int h = 0; h < HOOK_COUNT; h++) {
                    if ((size_t)(e - b) == strlen(hook_names[h]) &&
                        strncmp(b, hook_names[h], (size_t)(e - b)) == 0) {
                        c->hooks |= 1u << h;
                    }
                }
            }
        }
    }
    v[k] = NULL;
    *argc = k;
}

/* $WSGIHOST_CMD_ARGS: words split on blanks, with '...' and "..." quoting. */
static char **
split_words(const char *s, int *argc)
{
    size_t len = strlen(s);
    char *buf = cfg_alloc(len + 1);
    char **v = cfg_alloc((len / 2 + 3) * sizeof(char *));
    memset(v, 0, (len / 2 + 3) * sizeof(char *));
    int k = 0;
    v[k++] = "wsgihost";
    size_t o = 0;
    const char *p = s;
    while (*p != '\0') {
        while (*p == ' ' || *p == '\t' || *p == '\n') {
            p++;
        }
        if (*p == '\0') {
            break;
        }
        v[k++] = buf + o;
        char quote = 0;
        while (*p != '\0' && (quote || (*p != ' ' && *p != '\t' && *p != '\n'))) {
            if (!quote && (*p == '\'' || *p == '"')) {
                quote = *p++;
                continue;
            }
            if (quote && *p == quote) {
                quote = 0;
                p++;
                continue;
            }
            buf[o++] = *p++;
        }
        buf[o++] = '\0';
    }
    *argc = k;
    return v;
}

/* TLS options that would silently do nothing are errors: a user who gives
 * --ca-certs expects client certificates to be checked. */
static int
check_tls(const struct config *c)
{
    if (c->certfile == NULL) {
        const char *stray = c->keyfile ? "--keyfile"
                            : c->ca_certs ? "--ca-certs"
                            : c->ciphers ? "--ciphers"
                            : c->cert_reqs != CONFIG_CERT_NONE ? "--cert-reqs"
                                                               : NULL;
        if (stray != NULL) {
            return usage_error("%s needs --certfile (HTTPS is off without a certificate)",
                               stray);
        }
        return 0;
    }
    if (c->cert_reqs != CONFIG_CERT_NONE && c->ca_certs == NULL) {
        return usage_error("--cert-reqs %s needs --ca-certs (the CAs that client certificates "
                           "must chain to)",
                           c->cert_reqs == CONFIG_CERT_REQUIRED ? "required" : "optional");
    }
    if (c->ca_certs != NULL && c->cert_reqs == CONFIG_CERT_NONE) {
        return usage_error("--ca-certs has no effect with --cert-reqs none: add --cert-reqs "
                           "optional or required");
    }
    return 0;
}

/* The metrics must not be served where the app is. */
static int
check_metrics_bind(const struct config *c)
{
    if (c->metrics_bind == NULL) {
        return 0;
    }
    static const char *const default_bind[] = {"127.0.0.1:8000"};
    const char *const *binds = c->n_binds ? c->binds : default_bind;
    size_t n = c->n_binds ? c->n_binds : 1;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(binds[i], c->metrics_bind) == 0) {
            return usage_error("--metrics-bind %s is also %s: the metrics need a socket of "
                               "their own, so that the app's port never exposes them",
                               c->metrics_bind, c->n_binds ? "a --bind" : "the default --bind");
        }
    }
    return 0;
}

/* Precedence: command line > $WSGIHOST_CMD_ARGS > config file > defaults. */
int
config_parse(struct config *c, int argc, char **argv)
{
    bool workers_set = false;
    int rc;

    /* The command line first, only to learn about -c, --help, --version. */
    struct config probe;
    config_defaults(&probe);
    probe.source = 3;
    bool probe_workers = false;
    rc = cfg_parse_args(&probe, argc, argv, &probe_workers, true);
    ip_allow_clear(&probe.forwarded_allow);
    ip_allow_clear(&probe.proxy_allow);
    if (rc != 0) {
        return rc;
    }
    /* gunicorn reads its --forwarded-allow-ips default from here. */
    const char *env_fwd = getenv("FORWARDED_ALLOW_IPS");
    if (env_fwd != NULL) {
        char err[256];
        ip_allow_clear(&c->forwarded_allow);
        if (ip_allow_add(&c->forwarded_allow, env_fwd, err, sizeof(err)) < 0) {
            return usage_error("$FORWARDED_ALLOW_IPS: %s", err);
        }
    }
    const char *file = probe.config_file;
    /* gunicorn's variable too, when ours is not set. */
    const char *env_args = getenv("WSGIHOST_CMD_ARGS");
    env_args_name = "$WSGIHOST_CMD_ARGS";
    if (env_args == NULL && getenv("GUNICORN_CMD_ARGS") != NULL) {
        env_args = getenv("GUNICORN_CMD_ARGS");
        env_args_name = "$GUNICORN_CMD_ARGS";
    }
    if (file == NULL && env_args != NULL) {
        int eargc;
        char **eargv = split_words(env_args, &eargc);
        struct config eprobe;
        config_defaults(&eprobe);
        bool w = false;
        rc = cfg_parse_args(&eprobe, eargc, eargv, &w, false);
        ip_allow_clear(&eprobe.forwarded_allow);
        ip_allow_clear(&eprobe.proxy_allow);
        if (rc < 0) {
            return -1;
        }
        file = eprobe.config_file;
    }
    if (file == NULL && access("gunicorn.conf.py", R_OK) == 0) {
        /* gunicorn's rule: ./gunicorn.conf.py when no -c is given. */
        file = "./gunicorn.conf.py";
        if (!probe.print_config) {
            fprintf(stderr, "wsgihost: loading ./gunicorn.conf.py (gunicorn's default config "
                            "file; -c names another)\n");
        }
    }
    if (file != NULL) {
        size_t len = 0;
        char *buf = run_config_file(&probe, file, &len);
        if (buf == NULL) {
            return -1;
        }
        int fargc;
        char **fargv = split_nul(buf, len, &fargc);
        take_meta(c, fargv, &fargc);
        c->source = 1;
        if (cfg_parse_args(c, fargc, fargv, &workers_set, true) != 0) {
            fprintf(stderr, "wsgihost: (in the settings of config file %s)\n", file);
            return -1;
        }
    }
    if (env_args != NULL) {
        int eargc;
        char **eargv = split_words(env_args, &eargc);
        c->source = 2;
        if (cfg_parse_args(c, eargc, eargv, &workers_set, false) != 0) {
            fprintf(stderr, "wsgihost: (in %s)\n", env_args_name);
            return -1;
        }
    }
    c->source = 3;
    rc = cfg_parse_args(c, argc, argv, &workers_set, true);
    if (rc != 0) {
        return rc;
    }
    c->config_file = file;
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
    if (check_tls(c) < 0) {
        return -1;
    }
    if (c->n_static == 0 && (c->n_static_fallback > 0 || c->n_static_exclude > 0)) {
        return usage_error("%s needs --static (no static files are served without it)",
                           c->n_static_fallback > 0 ? "--static-fallback" : "--static-exclude");
    }
    if (check_metrics_bind(c) < 0) {
        return -1;
    }
    /* The interpreter: --python-executable, --virtualenv, an activated
     * virtualenv ($VIRTUAL_ENV), or the build's. */
    char py[PATH_MAX], pyerr[1024];
    const char *pysrc;
    if (hostpy_resolve_python(c->python_executable, c->virtualenv, py, sizeof(py), &pysrc, pyerr,
                              sizeof(pyerr)) < 0) {
        return usage_error("%s", pyerr);
    }
    if (py[0] != '\0') {
        c->python_executable = cfg_strndup(py, strlen(py));
        c->python_source = pysrc;
    }
    if (c->print_config) {
        config_print(c);
        return 1;
    }
    return 0;
}

void
config_free(struct config *c)
{
    ip_allow_clear(&c->forwarded_allow);
    ip_allow_clear(&c->proxy_allow);
}

void
config_print(const struct config *c)
{
    printf("wsgi_app = %s\n", c->app_spec);
    printf("config = %s\n", c->config_file ? c->config_file : "None");
    printf("bind = [");
    if (c->n_binds == 0) {
        printf("'127.0.0.1:8000'");
    }
    for (size_t i = 0; i < c->n_binds; i++) {
        printf("%s'%s'", i ? ", " : "", c->binds[i]);
    }
    printf("]\n");
    printf("workers = %d\n", c->workers);
    printf("threads = %d\n", c->threads);
    printf("timeout = %g\n", c->timeout);
    printf("graceful_timeout = %g\n", c->graceful_timeout);
    printf("keepalive = %g\n", c->keepalive);
    printf("header_timeout = %g\n", c->header_timeout);
    printf("body_timeout = %g\n", c->body_timeout);
    printf("send_timeout = %g\n", c->send_timeout);
    printf("backlog = %d\n", c->backlog);
    printf("preload_app = %s\n", c->preload ? "True" : "False");
    printf("reload = %s\n", c->reload ? "True" : "False");
    printf("initgroups = %s\n", c->initgroups ? "True" : "False");
    if (c->statsd_host != NULL) {
        printf("statsd_host = '%s'\n", c->statsd_host);
    } else {
        printf("statsd_host = None\n");
    }
    printf("statsd_prefix = '%s'\n", c->statsd_prefix ? c->statsd_prefix : "");
    printf("dogstatsd_tags = '%s'\n", c->dogstatsd_tags ? c->dogstatsd_tags : "");
    printf("reload_extra_files = [");
    for (size_t i = 0; i < c->n_reload_extra; i++) {
        printf("%s'%s'", i ? ", " : "", c->reload_extra[i]);
    }
    printf("]\n");
    printf("max_requests = %llu\n", (unsigned long long)c->max_requests);
    printf("max_requests_jitter = %llu\n", (unsigned long long)c->max_requests_jitter);
    printf("worker_connections = %d\n", c->worker_connections);
    printf("limit_request_line = %zu\n", c->limit_request_line);
    printf("limit_request_fields = %zu\n", c->limit_request_fields);
    printf("limit_request_field_size = %zu\n", c->limit_request_field_size);
    printf("limit_request_body = %llu\n", (unsigned long long)c->limit_request_body);
    printf("body_buffer_size = %zu\n", c->body_buffer_size);
    printf("chdir = %s\n", c->chdir ? c->chdir : "None");
    printf("strict_wsgi = %s\n", c->strict_wsgi ? "True" : "False");
    printf("python_executable = %s%s%s%s\n",
           c->python_executable ? c->python_executable : WSGIHOST_PYTHON_EXECUTABLE,
           c->python_source ? " (from " : "", c->python_source ? c->python_source : "",
           c->python_source ? ")" : "");
    printf("pythonpath = [");
    for (size_t i = 0; i < c->n_pythonpath; i++) {
        printf("%s'%s'", i ? ", " : "", c->pythonpath[i]);
    }
    printf("]\n");
    printf("accesslog = %s\n", c->access_logfile ? c->access_logfile : "None");
    printf("access_log_format = %s\n",
           c->access_logformat ? c->access_logformat : LOG_DEFAULT_ACCESS_FORMAT);
    printf("errorlog = %s\n", c->error_logfile ? c->error_logfile : "-");
    printf("loglevel = %d\n", c->log_level);
    printf("pidfile = %s\n", c->pidfile ? c->pidfile : "None");
    printf("user = %s\n", c->user ? c->user : "None");
    printf("group = %s\n", c->group ? c->group : "None");
    if (c->umask >= 0) {
        printf("umask = 0o%o\n", (unsigned)c->umask);
    } else {
        printf("umask = None\n");
    }
    static const char *const reqs[] = {"none", "optional", "required"};
    char list[1024];
    printf("certfile = %s\n", c->certfile ? c->certfile : "None");
    printf("keyfile = %s\n", c->keyfile ? c->keyfile : "None");
    printf("ca_certs = %s\n", c->ca_certs ? c->ca_certs : "None");
    printf("cert_reqs = %s\n", reqs[c->cert_reqs]);
    printf("ciphers = %s\n", c->ciphers ? c->ciphers : "None");
    printf("tls_min_version = 1.%d\n", c->tls_min_version - 10);
    ip_allow_format(&c->forwarded_allow, list, sizeof(list));
    printf("forwarded_allow_ips = %s\n", list);
    printf("proxy_protocol = %s\n", c->proxy_protocol ? "True" : "False");
    ip_allow_format(&c->proxy_allow, list, sizeof(list));
    printf("proxy_allow_ips = %s\n", list);
    printf("static_map = [");
    for (size_t i = 0; i < c->n_static; i++) {
        printf("%s('%s', '%s')", i ? ", " : "", c->static_map[i].prefix, c->static_map[i].path);
    }
    printf("]\nstatic_fallback = [");
    for (size_t i = 0; i < c->n_static_fallback; i++) {
        printf("%s('%s', '%s')", i ? ", " : "", c->static_fallback[i].prefix,
               c->static_fallback[i].path);
    }
    printf("]\nstatic_exclude = [");
    for (size_t i = 0; i < c->n_static_exclude; i++) {
        printf("%s'%s'", i ? ", " : "", c->static_exclude[i]);
    }
    printf("]\nstatic_cache_control = %s\n",
           c->static_cache_control ? c->static_cache_control : "None");
    printf("static_immutable = [");
    for (size_t i = 0; i < c->n_static_immutable; i++) {
        printf("%s'%s'", i ? ", " : "", c->static_immutable[i]);
    }
    printf("]\n");
    printf("proc_name = %s\n", c->proc_name ? c->proc_name : "None");
    printf("capture_output = %s\n", c->capture_output ? "True" : "False");
    printf("hooks = [");
    for (int h = 0, n = 0; h < HOOK_COUNT; h++) {
        if (c->hooks & (1u << h)) {
            printf("%s'%s'", n++ ? ", " : "", hook_names[h]);
        }
    }
    printf("]\n");
    printf("logconfig = %s\n", c->py_logging ? "applied in each worker" : "None");
    printf("metrics_bind = %s\n", c->metrics_bind ? c->metrics_bind : "None");
}
