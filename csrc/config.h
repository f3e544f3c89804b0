/* One struct config from the command line (gunicorn's option names).
 * Validation happens here, with a message naming the bad option. */
#ifndef WSGIHOST_CONFIG_H
#define WSGIHOST_CONFIG_H

#include "proxy.h"
#include "util.h"

#define CONFIG_MAX_BINDS 16
#define CONFIG_MAX_STATIC 32
#define CONFIG_MAX_RELOAD_EXTRA 64

struct static_site; /* static.h: built by main() from the static_* settings */
struct statsd;      /* statsd.h: made by main() from --statsd-host */

/* "PREFIX=PATH" of --static and --static-fallback, split and checked. */
struct config_pair {
    const char *prefix; /* URL prefix, decoded form: "/", "/assets" (no trailing '/') */
    const char *path;
};

struct config {
    /* what to serve */
    const char *app_spec; /* "MODULE:APP" as given; "MODULE" means MODULE:application */
    const char *chdir;    /* NULL = stay */
    const char **pythonpath; /* extra sys.path entries, in order (comma-separated or repeated) */
    size_t n_pythonpath;
    const char *python_executable; /* sys.executable; NULL = the build's default */
    bool strict_wsgi;              /* --strict-wsgi */
    bool worker_class_sync;        /* -k sync: one thread unless --threads says otherwise */
#define CONFIG_MAX_ENV 64
#define CONFIG_MAX_ENV_NAME 256
    const char *env[CONFIG_MAX_ENV]; /* -e/--env NAME=VALUE (gunicorn's raw_env), in order */
    size_t n_env;
    const char *virtualenv;        /* -H/--virtualenv DIR; NULL = $VIRTUAL_ENV, if any */
    const char *python_source;     /* what named python_executable, for the log; NULL = default */

    /* sockets */
    const char *binds[CONFIG_MAX_BINDS]; /* "HOST:PORT", "[v6]:PORT", "unix:/path" */
    size_t n_binds;                      /* 0 = default 127.0.0.1:8000 */
    int backlog;                         /* 2048 */
    const char *metrics_bind;            /* --metrics-bind: /metrics and /healthz; NULL = off */

    /* HTTP limits */
    size_t limit_request_line;       /* 8190; 0 = unlimited */
    size_t limit_request_fields;     /* 100 */
    size_t limit_request_field_size; /* 8190 */
    uint64_t limit_request_body;     /* 1 GiB; 0 = unlimited */
    size_t body_buffer_size;         /* bodies larger than this spill to a temp file; 1 MiB */

    /* timeouts, seconds */
    double keepalive;        /* --keep-alive: idle between requests, 5 */
    double header_timeout;   /* --header-timeout: whole request head must arrive within, 10 */
    double body_timeout;     /* --body-timeout: max gap without body bytes, 30 */
    double send_timeout;     /* --send-timeout: max gap without the client taking bytes, 30 */
    double graceful_timeout; /* --graceful-timeout: 30 */

    /* logging */
    const char *access_logfile;   /* NULL = off, "-" = stdout */
    const char *access_logformat; /* NULL = gunicorn's default */
    const char *error_logfile;    /* NULL or "-" = stderr */
    int log_level;                /* enum log_level; info */

    /* process model */
    int workers;  /* 0 = single process (dev-server mode) */
    int threads;  /* app threads per worker; 0 = default (4 single process, 1 with -w) */
    double timeout; /* --timeout: a worker busy in one request longer is killed; 0 = never */
    bool preload;
    uint64_t max_requests;        /* 0 = never recycle */
    uint64_t max_requests_jitter;
    int worker_connections;       /* open connections per worker */
    const char *pidfile;
    const char *user;
    const char *group;
    int umask;                    /* -1 = leave */
    bool reload;                  /* --reload: restart on source changes */
    const char *reload_extra[CONFIG_MAX_RELOAD_EXTRA]; /* --reload-extra-file: watched too */
    size_t n_reload_extra;
    const char *config_file;      /* -c FILE */
    bool print_config;
    bool check_config;            /* --check-config: load the app, exit 0 or 1 */
    const char *proc_name;        /* -n/--name: process titles "wsgihost: master [NAME]" */
    bool capture_output;          /* --capture-output: fd 1 and 2 into the error log file */
    bool initgroups;              /* --initgroups: --user's supplementary groups, not none */
    unsigned hooks;               /* the config file's server hooks: 1u << enum config_hook */
    bool py_logging;              /* the config file has logconfig_dict or logconfig */

    /* TLS (every --bind serves HTTPS when certfile is set, as gunicorn) */
    const char *certfile;  /* PEM certificate chain, server certificate first */
    const char *keyfile;   /* PEM private key; NULL = in certfile */
    const char *ca_certs;  /* PEM CA bundle that client certificates must chain to */
    int cert_reqs;         /* CONFIG_CERT_NONE / _OPTIONAL / _REQUIRED */
    const char *ciphers;   /* OpenSSL cipher list for TLS 1.2; NULL = OpenSSL's default */
    int tls_min_version;   /* 12 or 13 (TLS 1.2 / 1.3) */

    /* behind a proxy */
    struct ip_allow forwarded_allow; /* --forwarded-allow-ips: peers whose X-Forwarded-* count */
    bool proxy_protocol;             /* a PROXY header (v1/v2) opens every connection */
    struct ip_allow proxy_allow;     /* --proxy-allow-from: peers that may send it */

    /* static files (README "Static files") */
    struct config_pair static_map[CONFIG_MAX_STATIC]; /* --static PREFIX=DIR */
    size_t n_static;
    struct config_pair static_fallback[CONFIG_MAX_STATIC]; /* --static-fallback PREFIX=FILE */
    size_t n_static_fallback;
    const char *static_exclude[CONFIG_MAX_STATIC]; /* --static-exclude: prefixes of the app's */
    size_t n_static_exclude;
    const char *static_cache_control;              /* NULL = no header; default "no-cache" */
    const char *static_immutable[CONFIG_MAX_STATIC]; /* "auto" (hashed names) or URL prefixes */
    size_t n_static_immutable;                       /* 0 = never immutable */
    struct static_site *static_site; /* NULL without --static; set by main() */
    const char *statsd_host;      /* --statsd-host HOST:PORT, or NULL */
    const char *statsd_prefix;    /* --statsd-prefix */
    const char *dogstatsd_tags;   /* --dogstatsd-tags */
    struct statsd *statsd;        /* NULL without --statsd-host; set by main(), shared by fork */

    /* which source set app_spec, for precedence (1 file, 2 env, 3 argv) */
    int source;
    int app_spec_source;
};

/* gunicorn's server hooks, as a config file defines them (wsgi_hooks.h
 * runs them). */
enum config_hook {
    HOOK_ON_STARTING,
    HOOK_ON_RELOAD,
    HOOK_WHEN_READY,
    HOOK_PRE_FORK,
    HOOK_POST_FORK,
    HOOK_POST_WORKER_INIT,
    HOOK_WORKER_INT,
    HOOK_WORKER_ABORT,
    HOOK_PRE_EXEC,
    HOOK_PRE_REQUEST,
    HOOK_POST_REQUEST,
    HOOK_CHILD_EXIT,
    HOOK_WORKER_EXIT,
    HOOK_NWORKERS_CHANGED,
    HOOK_ON_EXIT,
    HOOK_COUNT,
};
/* Those the master runs (the rest run in the workers). */
#define CONFIG_MASTER_HOOKS                                                                        \
    ((1u << HOOK_ON_STARTING) | (1u << HOOK_ON_RELOAD) | (1u << HOOK_WHEN_READY) |                \
     (1u << HOOK_PRE_FORK) | (1u << HOOK_CHILD_EXIT) | (1u << HOOK_NWORKERS_CHANGED) |            \
     (1u << HOOK_ON_EXIT) | (1u << HOOK_PRE_EXEC))

/* gunicorn's logging defaults (a Python dict literal) that a logconfig_dict
 * is laid over. */
extern const char config_log_defaults[];

/* "post_fork" for HOOK_POST_FORK. */
const char *config_hook_name(enum config_hook h);

enum config_cert_reqs {
    CONFIG_CERT_NONE = 0, /* gunicorn's ssl.CERT_NONE ... numbers */
    CONFIG_CERT_OPTIONAL = 1,
    CONFIG_CERT_REQUIRED = 2,
};

/* Release the address lists (the rest lives as long as the process).
 * c is unusable afterwards. */
void config_free(struct config *c);

/* Print the resolved settings, gunicorn's --print-config style. */
void config_print(const struct config *c);

/* Fill c with the defaults. */
void config_defaults(struct config *c);

/* Parse argv into c (which must hold the defaults). Returns 0 on success,
 * 1 when --help or --version was printed (exit 0), -1 after printing one
 * clear error to stderr (exit 2, like a usage error). */
int config_parse(struct config *c, int argc, char **argv);

#endif
