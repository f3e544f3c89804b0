/* Each request's app call runs inline on the loop thread (no pool, or
 * appsched.h chose it for the route), or as a job on a pool thread: then the
 * handler answers LATER and tells the connection through ctx->finished()
 * when the job is back on the loop thread. A WSGI result is iterated and
 * closed on the thread that called the app (thread-locals, Flask's
 * stream_with_context), so resumes and close() of a pool call are pinned
 * to the thread that ran it.
 *
 * An inline call that completes at once needs nothing here but the call;
 * a task (the pending iteration, where it runs, the pool job) is taken from
 * a free list only for a response that pauses or goes to the pool. */
#include "wsgi_handler.h"

#include <stdlib.h>

#include "appsched.h"
#include "log.h"
#include "pool.h"
#include "pyrt.h"
#include "wsgi.h"

enum job_kind { JOB_HANDLE, JOB_RESUME, JOB_ABORT };

struct task {
    struct pool_job job;
    struct handler_ctx *x;
    struct wsgi_call *call; /* a paused response iteration */
    uint64_t route;         /* appsched_key() of the request */
    enum job_kind kind;
    enum wsgi_rc rc;        /* the job's result */
    bool on_loop;           /* the call runs on the loop thread: so do its resumes */
    bool running;           /* a pool thread has it */
    bool detached;          /* the client is gone: let go once the job is back */
    double took;            /* seconds the job held Python */
    int64_t started_ms;     /* when the job was submitted */
    struct task *prev, *next; /* the running list, or the free list (next only) */
};

struct wsgi_handler {
    struct handler base;
    struct loop *loop;
    struct pool *pool; /* NULL: every call inline */
    struct loop_watch poolwatch;
    struct scoreboard_slot *slot;
    bool inline_heartbeat; /* inline calls too (someone reads it meanwhile) */
    struct task *running; /* jobs on the pool, for the heartbeat */
    struct task *free_tasks;
};

static void run_job(struct pool_job *job);

static struct task *
task_get(struct wsgi_handler *h, struct handler_ctx *x)
{
    struct task *t = h->free_tasks;
    if (t != NULL) {
        h->free_tasks = t->next;
    } else {
        t = xcalloc(1, sizeof(*t));
        t->job.run = run_job;
    }
    t->x = x;
    t->call = NULL;
    t->running = false;
    t->detached = false;
    x->data = t;
    return t;
}

static void
task_put(struct wsgi_handler *h, struct task *t)
{
    t->x->data = NULL;
    t->x = NULL;
    t->next = h->free_tasks;
    h->free_tasks = t;
}

static enum handler_rc
to_handler_rc(enum wsgi_rc rc)
{
    switch (rc) {
    case WSGI_DONE:
        return HANDLER_DONE;
    case WSGI_PAUSED:
        return HANDLER_PAUSED;
    case WSGI_CLOSE:
    default:
        return HANDLER_CLOSE;
    }
}

static void
run_job(struct pool_job *job)
{
    struct task *t = container_of(job, struct task, job);
    switch (t->kind) {
    case JOB_HANDLE:
        t->rc = wsgi_handle(t->x->req, t->x->resp, &t->call);
        t->took = wsgi_last_span();
        break;
    case JOB_RESUME:
        t->rc = wsgi_resume(t->call);
        t->took = wsgi_last_span();
        break;
    case JOB_ABORT:
        wsgi_abort(t->call);
        t->call = NULL;
        break;
    }
}

static void
submit(struct wsgi_handler *h, struct task *t, enum job_kind kind)
{
    /* The app is called on any thread; its result is iterated and closed
     * on that same thread. */
    t->job.pin = kind == JOB_HANDLE ? -1 : t->job.ran_on;
    t->kind = kind;
    t->running = true;
    t->started_ms = now_mono_ms();
    t->prev = NULL;
    t->next = h->running;
    if (h->running != NULL) {
        h->running->prev = t;
    }
    h->running = t;
    pool_submit(h->pool, &t->job);
}

static void
unlink_running(struct wsgi_handler *h, struct task *t)
{
    if (t->prev != NULL) {
        t->prev->next = t->next;
    } else {
        h->running = t->next;
    }
    if (t->next != NULL) {
        t->next->prev = t->prev;
    }
    t->prev = t->next = NULL;
}

/* A job is back on the loop thread. */
static void
job_done(struct wsgi_handler *h, struct task *t)
{
    struct handler_ctx *x = t->x;
    t->running = false;
    unlink_running(h, t);
    if (t->detached) {
        if (t->kind != JOB_ABORT && t->rc == WSGI_PAUSED && t->call != NULL) {
            submit(h, t, JOB_ABORT); /* close() the result on its thread */
            return;
        }
        task_put(h, t);
        x->finished(x, HANDLER_CLOSE);
        return;
    }
    appsched_pool_took(t->route, t->took);
    enum wsgi_rc rc = t->rc;
    if (rc != WSGI_PAUSED) {
        task_put(h, t);
    }
    x->finished(x, to_handler_rc(rc));
}

static void
on_pool(struct loop_watch *lw, uint32_t events)
{
    struct wsgi_handler *h = container_of(lw, struct wsgi_handler, poolwatch);
    (void)events;
    struct pool_job *j = pool_take_done(h->pool);
    while (j != NULL) {
        struct pool_job *next = j->next;
        job_done(h, container_of(j, struct task, job));
        j = next;
    }
}

static inline void
busy(struct wsgi_handler *h, const struct http_req *req)
{
    if (h->inline_heartbeat) {
        scoreboard_busy(h->slot, req);
    }
}

static inline void
idle(struct wsgi_handler *h)
{
    if (h->inline_heartbeat) {
        scoreboard_idle(h->slot);
    }
}

static enum handler_rc
wsgi_h_handle(struct handler *hh, struct handler_ctx *x)
{
    struct wsgi_handler *h = (struct wsgi_handler *)hh;
    struct http_req *req = x->req;
    /* Hand each chunk of a streamed body back to the loop, so it is sent
     * while the app produces the next one (PEP 3333: no block may be held
     * back waiting for the next). */
    x->resp->yield_each_chunk = true;
    uint64_t route = 0;
    if (h->pool != NULL) {
        route = appsched_key(req->method, req->method_len, req->path, req->path_len);
        if (!appsched_inline(route)) {
            struct task *t = task_get(h, x);
            t->route = route;
            t->on_loop = false;
            submit(h, t, JOB_HANDLE);
            return HANDLER_LATER;
        }
    }
    struct wsgi_call *call = NULL;
    busy(h, req);
    enum wsgi_rc rc = wsgi_handle(req, x->resp, &call);
    idle(h);
    if (h->pool != NULL) {
        /* How long it held Python teaches appsched.h where the route's
         * next calls run. */
        appsched_inline_took(route, wsgi_last_span());
    }
    if (rc == WSGI_PAUSED) {
        struct task *t = task_get(h, x);
        t->call = call;
        t->route = route;
        t->on_loop = true;
    }
    return to_handler_rc(rc);
}

static enum handler_rc
wsgi_h_proceed(struct handler *hh, struct handler_ctx *x)
{
    struct wsgi_handler *h = (struct wsgi_handler *)hh;
    struct task *t = x->data;
    if (!t->on_loop) {
        submit(h, t, JOB_RESUME);
        return HANDLER_LATER;
    }
    busy(h, x->req);
    enum wsgi_rc rc = wsgi_resume(t->call);
    idle(h);
    if (h->pool != NULL) {
        appsched_inline_took(t->route, wsgi_last_span());
    }
    if (rc != WSGI_PAUSED) {
        task_put(h, t);
    }
    return to_handler_rc(rc);
}

static bool
wsgi_h_stop(struct handler *hh, struct handler_ctx *x)
{
    struct wsgi_handler *h = (struct wsgi_handler *)hh;
    struct task *t = x->data;
    if (t->running) {
        t->detached = true; /* job_done() lets go */
        return true;
    }
    if (t->on_loop) {
        wsgi_abort(t->call);
        task_put(h, t);
        return false;
    }
    /* close() of the result is Python on the thread that iterated it. */
    t->detached = true;
    submit(h, t, JOB_ABORT);
    return true;
}

struct handler *
wsgi_handler_new(struct loop *loop, const struct config *cfg, struct scoreboard_slot *slot,
                 bool inline_heartbeat)
{
    struct wsgi_handler *h = xcalloc(1, sizeof(*h));
    h->base.handle = wsgi_h_handle;
    h->base.proceed = wsgi_h_proceed;
    h->base.stop = wsgi_h_stop;
    h->loop = loop;
    h->slot = slot;
    h->inline_heartbeat = slot != NULL && inline_heartbeat;
    if (cfg->threads > 1) {
        h->pool = pool_new(cfg->threads, pyrt_thread_begin, pyrt_thread_end);
        if (h->pool == NULL) {
            free(h);
            return NULL;
        }
        if (loop_watch(loop, &h->poolwatch, pool_fd(h->pool), EPOLLIN, on_pool) != 0) {
            pool_free(h->pool);
            free(h);
            return NULL;
        }
        if (slot != NULL) {
            pool_count_waiting(h->pool, &slot->metrics.pool_queued);
        }
    }
    return &h->base;
}

void
wsgi_handler_tick(struct handler *hh)
{
    struct wsgi_handler *h = (struct wsgi_handler *)hh;
    if (h->pool == NULL || h->slot == NULL) {
        return; /* inline calls keep the heartbeat themselves */
    }
    struct task *oldest = NULL;
    for (struct task *t = h->running; t != NULL; t = t->next) {
        if (!t->detached && (oldest == NULL || t->started_ms < oldest->started_ms)) {
            oldest = t;
        }
    }
    if (oldest != NULL) {
        scoreboard_busy_since(h->slot, oldest->started_ms, oldest->x->req);
    } else {
        scoreboard_idle(h->slot);
    }
}

void
wsgi_handler_free(struct handler *hh)
{
    struct wsgi_handler *h = (struct wsgi_handler *)hh;
    if (h == NULL) {
        return;
    }
    if (h->pool != NULL) {
        loop_unwatch(h->loop, &h->poolwatch);
        pool_free(h->pool);
    }
    while (h->free_tasks != NULL) {
        struct task *t = h->free_tasks;
        h->free_tasks = t->next;
        free(t);
    }
    free(h);
}
