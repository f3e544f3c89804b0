/* gunicorn's statsd instrumentation (--statsd-host, --statsd-prefix,
 * --dogstatsd-tags), the same metric names and datagram format, so that
 * dashboards built on gunicorn's keep working:
 *   PREFIX.gunicorn.requests:1|c|@1.0                  per response
 *   PREFIX.gunicorn.request.status.CODE:1|c|@1.0       per response
 *   PREFIX.gunicorn.request.duration:MS|ms             per response
 *   PREFIX.gunicorn.workers:N|g                        the master, on a change
 *   PREFIX.gunicorn.log.{critical,error,warning}:1|c|@1.0  per such log line
 * each followed by |#TAGS when --dogstatsd-tags is set. One connected UDP
 * socket per process. A response's lines wait in a buffer that is sent as
 * one datagram (lines joined by '\n', which statsd and DogStatsD read)
 * at the end of the loop turn or when it is full, instead of gunicorn's
 * three datagrams per request. A failed send is logged once, then
 * counted silently: a statsd that is down never slows the server. */
#ifndef WSGIHOST_STATSD_H
#define WSGIHOST_STATSD_H

#include "util.h"

struct statsd;

/* host_port: "HOST:PORT" or "[v6]:PORT". NULL after filling err (an
 * address that does not resolve, or no socket). */
struct statsd *statsd_new(const char *host_port, const char *prefix, const char *tags,
                          char *err, size_t errsz);
void statsd_free(struct statsd *s);

/* One response (buffered; the loop thread only). */
void statsd_request(struct statsd *s, int status, double seconds);
/* A gauge, sent at once. */
void statsd_gauge(struct statsd *s, const char *name, long value);
/* Send what is buffered (the end of a loop turn). */
void statsd_flush(struct statsd *s);

/* Count warning, error and critical log lines in this process's statsd
 * (log.h's counter hook; any thread: sent at once). NULL stops it. */
void statsd_count_logs(struct statsd *s);

#endif
