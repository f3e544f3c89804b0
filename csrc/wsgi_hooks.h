/* gunicorn's server hooks (a config file's on_starting(server),
 * post_fork(server, worker), pre_request(worker, req), ...), its
 * logconfig_dict / logconfig, and the objects the hooks get: server (.log,
 * .cfg, .address, .pid, .WORKERS), worker (.pid, .ppid, .age, .log, .cfg),
 * req (.method, .path, .query, .uri, .version, .headers), resp (.status,
 * .headers, .sent).
 *
 * The config file's code runs once, in the master's interpreter when the
 * master has one (the host-interpreter mode, --preload, or a file with a
 * master hook: then the embedded interpreter starts in the master), and
 * the workers inherit its functions by fork; else in each worker. Master
 * hooks run from the master's loop (after the self-pipe, never in a signal
 * handler), worker hooks in the worker. Every function takes the GIL itself
 * unless it says otherwise, and does nothing when the file defines no hook
 * and no logging configuration. */
#ifndef WSGIHOST_WSGI_HOOKS_H
#define WSGIHOST_WSGI_HOOKS_H

#include <stdbool.h>

#include "config.h"
#include "http.h"
#include "http_resp.h"

/* In the process that starts (before binding): run the config file here
 * when this is where it runs (single: no master follows, this process
 * serves). Returns 0, or -1 after logging why (start-up fails). */
int wsgi_hooks_start(const struct config *c, bool single);

struct listener;
/* The sockets are bound: server.LISTENERS (and worker.sockets) describe
 * them, here and in the workers forked later (ls must outlive them). 0, or
 * -1 after logging. */
int wsgi_hooks_listeners(const struct listener *ls, size_t n);

/* Master hooks that get only the server: on_starting, when_ready,
 * on_reload, on_exit. 0, or -1 when the hook raised (logged with its
 * traceback; gunicorn stops then, and so does the caller). */
int wsgi_hooks_server(enum config_hook h);
/* nworkers_changed(server, new_value, old_value); old_value < 0 is None
 * (the first call, at start, as in gunicorn). 0 or -1 as above. */
int wsgi_hooks_nworkers_changed(int new_value, int old_value);
/* Around the master's fork() of the worker for scoreboard slot `slot`
 * (age: gunicorn's worker.age, counted from 1): pre_fork(server, worker),
 * then the worker's pid. 0 or -1 as above. */
int wsgi_hooks_pre_fork(int slot, int age);
void wsgi_hooks_forked(int slot, int pid);
/* A worker was reaped: child_exit(server, worker). 0 or -1 as above. */
int wsgi_hooks_child_exit(int slot, int pid);
/* HUP: the configuration was read again; run the file again. 0 or -1. */
int wsgi_hooks_reload(const struct config *c);

/* In a worker (or the single process) once Python is up, before the app
 * is imported: the file's code (unless inherited), logging, the worker
 * object, worker_abort's watcher; then post_fork(server, worker). -1 when
 * something failed (the worker does not boot, as in gunicorn). */
int wsgi_hooks_worker_start(const struct config *c, bool single);
/* After the app was imported: post_worker_init(worker). 0 or -1. */
int wsgi_hooks_post_worker_init(void);
/* SIGINT or SIGQUIT reached the worker: worker_int(worker) (errors logged). */
void wsgi_hooks_worker_int(void);
/* The worker leaves: worker_exit(server, worker) (errors logged). */
void wsgi_hooks_worker_exit(void);
/* The config file ran in this process (so its interpreter is to be
 * finalized here too). */
bool wsgi_hooks_here(void);
/* Before the interpreter is finalized: let go of every object. */
void wsgi_hooks_finish(void);

/* pre_request or post_request is defined (in this worker). */
extern bool wsgi_hooks_per_request;
struct _object;
/* GIL held. Makes req's object (*req_obj, a new reference) and calls
 * pre_request(worker, req); what the hook changed in req (headers, method,
 * uri, path, query) is then carried into environ, which gunicorn builds
 * from req after the hook. -1 with the hook's exception pending. */
int wsgi_hooks_pre_request(const struct http_req *req, struct _object *environ,
                           struct _object **req_obj);
/* GIL held, no exception pending: post_request(worker, req, environ, resp)
 * (environ NULL = {}); an exception is logged. */
void wsgi_hooks_post_request(struct _object *req_obj, struct _object *environ,
                             struct http_resp *resp);

#endif
