/* A small epoll loop: file watches with callbacks and a periodic tick.
 * Knows nothing about HTTP. */
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

struct loop *loop_new(void);
void loop_free(struct loop *l);
/* Register fd with events (EPOLLIN/EPOLLOUT/...), or change them. */
int loop_watch(struct loop *l, struct loop_watch *w, int fd, uint32_t events, loop_cb cb);
int loop_modify(struct loop *l, struct loop_watch *w, uint32_t events);
void loop_unwatch(struct loop *l, struct loop_watch *w);
/* Wait up to timeout_ms and dispatch events. Returns the number handled, or
 * -1 on an epoll error other than EINTR. */
int loop_run_once(struct loop *l, int timeout_ms);

#endif
