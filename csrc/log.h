/* Error log (levels, time, pid) and access log (gunicorn's format atoms).
 * Both are plain files or stdio; USR1 reopens them. No Python here. */
#ifndef WSGIHOST_LOG_H
#define WSGIHOST_LOG_H

#include "util.h"
#include <stdarg.h>

enum log_level {
    LOG_DEBUG = 10,
    LOG_INFO = 20,
    LOG_WARNING = 30,
    LOG_ERROR = 40,
    LOG_CRITICAL = 50,
};

/* gunicorn's default --access-logformat. */
#define LOG_DEFAULT_ACCESS_FORMAT "%(h)s %(l)s %(u)s %(t)s \"%(r)s\" %(s)s %(b)s \"%(f)s\" \"%(a)s\""

/* Parse "debug", "info", "warning", "error", "critical" (case-insensitive).
 * Returns the level or -1. */
int log_level_parse(const char *s);

/* Open the logs. error_path: NULL or "-" = stderr; access_path: NULL = access
 * log off, "-" = stdout. access_format NULL = the default. Returns 0 or -1
 * with a message on stderr naming the file. */
int log_open(const char *error_path, int level, const char *access_path, const char *access_format);
/* capture_output: fd 1 and 2 become the error log file (and stay it across
 * log_reopen). Returns 0, 1 when the error log is stderr (nothing to do),
 * -1 after logging. */
int log_capture_output(void);
/* Reopen both files (after logrotate moved them). Returns 0 or -1. */
int log_reopen(void);
void log_close(void);

/* One error-log line: "[2026-11-26 16:41:39 +0000] [pid] [LEVEL] message". */
void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_vmsg(int level, const char *fmt, va_list ap);
bool log_enabled(int level);
/* fn(level) for each log_msg() at WARNING or above, logged or not (as
 * gunicorn's statsd logger counts them; statsd.h). NULL = none. */
void log_set_counter(void (*fn)(int level));
#define log_debug(...)    log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...)     log_msg(LOG_INFO, __VA_ARGS__)
#define log_warning(...)  log_msg(LOG_WARNING, __VA_ARGS__)
#define log_error(...)    log_msg(LOG_ERROR, __VA_ARGS__)
#define log_critical(...) log_msg(LOG_CRITICAL, __VA_ARGS__)

/* Raw bytes to the error log as they are (wsgi.errors, Python tracebacks). */
void log_write_raw(const char *p, size_t n);
void log_flush(void);

/* What the access log needs to know about one finished request. */
struct access_entry {
    const char *remote_addr; /* NUL-terminated */
    const char *method;
    size_t method_len;
    const char *target; /* raw request-target as received */
    size_t target_len;
    const char *path; /* raw path part of the target (before '?') */
    size_t path_len;
    const char *query; /* without '?'; may be empty */
    size_t query_len;
    int http_major;
    int http_minor;
    int status;
    uint64_t body_bytes; /* response body bytes sent */
    const struct hfield *req_headers;
    size_t n_req_headers;
    const struct hfield *resp_headers; /* as the application set them */
    size_t n_resp_headers;
    double start_wall; /* seconds since the epoch, when the request began */
    double duration;   /* seconds */
};

bool log_access_enabled(void);
/* One line of text as it is (Python's gunicorn.access logger), newline added. */
void log_access_raw(const char *p, size_t n);
void log_access(const struct access_entry *e);

#endif
