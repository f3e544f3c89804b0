/* A small epoll loop: file watches with callbacks, and timers (a binary
 * min-heap of deadlines). Knows nothing about HTTP. */
#ifndef WSGIHOST_LOOP_H
#define WSGIHOST_LOOP_H

#include "util.h"
#include <sys/epoll.h>

struct loop;
struct loop_watch;
typedef void (*loop_cb)(struct loop_watch *w, uint32_t events);

/* Embed in the owner; container_of() gets the owner back in the callback. */
struct loop_watch {
    loop_cb cb;
    int fd;
    uint32_t events; /* currently registered */
    bool added;
};

/* A deadline; embed in the owner. */
struct loop_timer;
typedef void (*loop_timer_cb)(struct loop_timer *t);
struct loop_timer {
    loop_timer_cb cb;
    double at;   /* now_mono() seconds; 0 = not armed */
    size_t slot; /* its place in the heap while armed */
};

struct loop *loop_new(void);
void loop_free(struct loop *l);
/* Register fd with events (EPOLLIN/EPOLLOUT/...), or change them. */
int loop_watch(struct loop *l, struct loop_watch *w, int fd, uint32_t events, loop_cb cb);
int loop_modify(struct loop *l, struct loop_watch *w, uint32_t events);
void loop_unwatch(struct loop *l, struct loop_watch *w);
/* Arm t for at (or move it there); cb runs on the loop once now_mono()
 * reaches at. A timer fires once: the callback re-arms it if it wants. */
void loop_timer_set(struct loop *l, struct loop_timer *t, double at, loop_timer_cb cb);
void loop_timer_cancel(struct loop *l, struct loop_timer *t);
/* cb(arg) runs at the end of each turn's dispatch, and again after its
 * timers: work the callbacks postponed to the end of the turn (one per
 * loop; NULL removes it). loop_in_turn() says whether a call made now will
 * be followed by it. */
void loop_set_turn_end(struct loop *l, void (*cb)(void *arg), void *arg);
bool loop_in_turn(const struct loop *l);
/* Wait up to timeout_ms (less when a timer is due sooner), dispatch events,
 * then run the timers that are due. Returns the number of events handled,
 * or -1 on an epoll error other than EINTR. */
int loop_run_once(struct loop *l, int timeout_ms);

#endif
