#include "loop.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "log.h"

#define MAX_EVENTS 256

struct loop {
    int epfd;
    struct epoll_event events[MAX_EVENTS];
    struct loop_timer **heap; /* min-heap on at */
    size_t n_timers, cap_timers;
    /* The clock as run_timers() last read it, at the end of the previous
     * turn (0 = unknown): the next wait is computed from it, which saves a
     * clock reading per turn. */
    double now;
    void (*turn_end)(void *arg);
    void *turn_end_arg;
    bool in_turn; /* between epoll_wait() and the last turn_end() call */
};

static void
heap_place(struct loop *l, struct loop_timer *t, size_t i)
{
    l->heap[i] = t;
    t->slot = i;
}

static void
sift_up(struct loop *l, size_t i)
{
    struct loop_timer *t = l->heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (l->heap[parent]->at <= t->at) {
            break;
        }
        heap_place(l, l->heap[parent], i);
        i = parent;
    }
    heap_place(l, t, i);
}

static void
sift_down(struct loop *l, size_t i)
{
    struct loop_timer *t = l->heap[i];
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= l->n_timers) {
            break;
        }
        if (child + 1 < l->n_timers && l->heap[child + 1]->at < l->heap[child]->at) {
            child++;
        }
        if (t->at <= l->heap[child]->at) {
            break;
        }
        heap_place(l, l->heap[child], i);
        i = child;
    }
    heap_place(l, t, i);
}

void
loop_timer_cancel(struct loop *l, struct loop_timer *t)
{
    if (t->at == 0) {
        return;
    }
    size_t i = t->slot;
    t->at = 0;
    struct loop_timer *last = l->heap[--l->n_timers];
    if (i == l->n_timers) {
        return;
    }
    heap_place(l, last, i);
    sift_down(l, i);
    sift_up(l, last->slot);
}

void
loop_timer_set(struct loop *l, struct loop_timer *t, double at, loop_timer_cb cb)
{
    t->cb = cb;
    if (at <= 0) {
        at = 1e-9; /* 0 means disarmed */
    }
    if (t->at != 0) {
        double old = t->at;
        t->at = at;
        if (at < old) {
            sift_up(l, t->slot);
        } else {
            sift_down(l, t->slot);
        }
        return;
    }
    if (l->n_timers == l->cap_timers) {
        l->cap_timers = l->cap_timers ? l->cap_timers * 2 : 64;
        l->heap = xrealloc(l->heap, l->cap_timers * sizeof(*l->heap));
    }
    t->at = at;
    heap_place(l, t, l->n_timers++);
    sift_up(l, t->slot);
}

static void
run_timers(struct loop *l)
{
    if (l->n_timers == 0) {
        l->now = 0;
        return;
    }
    /* One reading of the clock: a callback that re-arms its timer for now
     * runs again on the next turn, not in a loop here. */
    double now = now_mono();
    bool fired = false;
    while (l->n_timers > 0 && l->heap[0]->at <= now) {
        struct loop_timer *t = l->heap[0];
        loop_timer_cancel(l, t);
        t->cb(t);
        fired = true;
    }
    /* A callback may have taken a while (it can run a request). */
    l->now = fired ? now_mono() : now;
}

struct loop *
loop_new(void)
{
    int fd = epoll_create1(EPOLL_CLOEXEC);
    if (fd < 0) {
        log_error("epoll_create1: %m");
        return NULL;
    }
    struct loop *l = xcalloc(1, sizeof(*l));
    l->epfd = fd;
    return l;
}

void
loop_free(struct loop *l)
{
    if (l != NULL) {
        close(l->epfd);
        free(l->heap);
        free(l);
    }
}

int
loop_watch(struct loop *l, struct loop_watch *w, int fd, uint32_t events, loop_cb cb)
{
    struct epoll_event ev = {.events = events, .data.ptr = w};
    w->cb = cb;
    w->fd = fd;
    if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
        log_error("epoll_ctl(ADD, fd %d): %m", fd);
        return -1;
    }
    w->events = events;
    w->added = true;
    return 0;
}

int
loop_modify(struct loop *l, struct loop_watch *w, uint32_t events)
{
    if (w->events == events) {
        return 0;
    }
    struct epoll_event ev = {.events = events, .data.ptr = w};
    if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, w->fd, &ev) != 0) {
        log_error("epoll_ctl(MOD, fd %d): %m", w->fd);
        return -1;
    }
    w->events = events;
    return 0;
}

void
loop_unwatch(struct loop *l, struct loop_watch *w)
{
    if (w->added) {
        epoll_ctl(l->epfd, EPOLL_CTL_DEL, w->fd, NULL);
        w->added = false;
    }
}

void
loop_set_turn_end(struct loop *l, void (*cb)(void *arg), void *arg)
{
    l->turn_end = cb;
    l->turn_end_arg = arg;
}

bool
loop_in_turn(const struct loop *l)
{
    return l->in_turn && l->turn_end != NULL;
}

static void
end_turn(struct loop *l)
{
    if (l->turn_end != NULL) {
        l->turn_end(l->turn_end_arg);
    }
}

int
loop_run_once(struct loop *l, int timeout_ms)
{
    if (l->n_timers > 0) {
        double wait = (l->heap[0]->at - (l->now > 0 ? l->now : now_mono())) * 1000.0;
        int ms = wait <= 0 ? 0 : (int)wait + 1;
        if (timeout_ms < 0 || ms < timeout_ms) {
            timeout_ms = ms;
        }
    }
    int n = epoll_wait(l->epfd, l->events, MAX_EVENTS, timeout_ms);
    if (n < 0) {
        if (errno == EINTR) {
            l->in_turn = true;
            run_timers(l);
            end_turn(l);
            l->in_turn = false;
            return 0;
        }
        log_error("epoll_wait: %m");
        return -1;
    }
    l->in_turn = true;
    for (int i = 0; i < n; i++) {
        struct loop_watch *w = l->events[i].data.ptr;
        /* A callback earlier in this batch may have unwatched w (the owner
         * then defers freeing it to the end of the iteration). */
        if (w->added) {
            w->cb(w, l->events[i].events);
        }
    }
    end_turn(l);
    run_timers(l);
    end_turn(l);
    l->in_turn = false;
    return n;
}
