/* The WSGI bridge (PEP 3333): environ, start_response, write(), result
 * iteration, close(), wsgi.file_wrapper. Sees only struct http_req and the
 * http_resp API; takes and releases the GIL itself. */
#ifndef WSGIHOST_WSGI_H
#define WSGIHOST_WSGI_H

#include "http.h"
#include "http_resp.h"

struct wsgi_server_info {
    bool multithread;
    bool multiprocess;
    bool run_once;
    bool strict; /* --strict-wsgi: refuse hop-by-hop headers and reason-less statuses */
};

/* Build interned strings, types and the base environ. The app must be loaded.
 * Returns 0 or -1 (message logged). */
int wsgi_init(const struct wsgi_server_info *info);
void wsgi_fini(void);

enum wsgi_rc {
    WSGI_DONE = 0,   /* response complete and finished; keep-alive per http_resp_finish() */
    WSGI_PAUSED = 1, /* resp's queue is over the high-water mark: call wsgi_resume() once it drained */
    WSGI_CLOSE = 2,  /* the response is cut short: flush what is queued, then close */
};

struct wsgi_call;

/* Call the app for req. On WSGI_PAUSED *call holds the pending iteration. */
enum wsgi_rc wsgi_handle(const struct http_req *req, struct http_resp *resp, struct wsgi_call **call);
enum wsgi_rc wsgi_resume(struct wsgi_call *call);
/* How long the calling thread's last wsgi_handle() or wsgi_resume() held
 * the GIL, in seconds: the app's own time, blocking inside it included,
 * waiting to enter Python not. */
double wsgi_last_span(void);
/* The client went away: close() the result and release the call. */
void wsgi_abort(struct wsgi_call *call);

#endif
