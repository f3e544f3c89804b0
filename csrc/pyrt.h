/* The embedded CPython runtime: configuration, sys.path, sys.executable,
 * loading MODULE:APP, the GIL, fork hooks, finalization. */
#ifndef WSGIHOST_PYRT_H
#define WSGIHOST_PYRT_H

#include <sys/types.h>

#include <stdbool.h>

#include "config.h"

/* Start the interpreter (after chdir): sys.executable = the interpreter that
 * matches the linked libpython, sys.path[0] = the current directory, then
 * c->pythonpath. Leaves the GIL released. Returns 0, or -1 with a message on
 * stderr. Does nothing when it ran already, here or in the master this
 * worker was forked from. */
int pyrt_init(const struct config *c);
/* Import c->app_spec and keep the callable. On failure print the traceback
 * and one line naming the problem to stderr; return -1. */
int pyrt_load_app(const char *spec);
/* After a failed pyrt_load_app (--reload): serve a 500 page with what the
 * load printed instead. 0 on success. */
int pyrt_use_fail_app(void);
/* A pool thread's life: its own PyThreadState for all its calls
 * (Doc/c-api/threads.rst, "reusing a thread state"). */
void pyrt_thread_begin(void);
void pyrt_thread_end(void);
/* Take / release the GIL for the calling thread (the main thread or a pool
 * thread after pyrt_thread_begin). */
void pyrt_enter(void);
void pyrt_leave(void);
/* Print the pending Python exception (traceback) to the error log. GIL held. */
void pyrt_log_exception(void);
/* fork(), the way os.fork() does it when this process runs Python
 * (--preload, the host interpreter, master hooks): the GIL is taken and
 * CPython's fork hooks run (PyOS_BeforeFork/AfterFork_*), so locks and
 * os.register_at_fork callbacks (random reseeding) are right in the child.
 * Without an interpreter, a plain fork(). Returns fork()'s result. */
pid_t pyrt_fork(void);
/* --reload: NULL-terminated, malloc'd list of directories holding the
 * app's own source (not stdlib or site-packages). */
char **pyrt_source_dirs(const struct config *c);
/* Host-interpreter mode (hostpy.h): python3.X's interpreter is running
 * and the GIL held; take it as ours and release the GIL. */
void pyrt_host_attach(void);
/* Is an interpreter running in this process (--preload, or the host's)? */
bool pyrt_initialized(void);
/* Release the app and finalize the interpreter (the host's: only its
 * threads, atexit functions and stdio, as Py_FinalizeEx would). */
void pyrt_finalize(void);

struct _object;
/* The loaded application callable (borrowed). GIL held. */
struct _object *pyrt_app(void);

#endif
