#include "loop.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "log.h"

#define MAX_EVENTS 256

struct loop {
    int epfd;
    struct epoll_event events[MAX_EVENTS];
};

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

int
loop_run_once(struct loop *l, int timeout_ms)
{
    int n = epoll_wait(l->epfd, l->events, MAX_EVENTS, timeout_ms);
    if (n < 0) {
        if (errno == EINTR) {
            return 0;
        }
        log_error("epoll_wait: %m");
        return -1;
    }
    for (int i = 0; i < n; i++) {
        struct loop_watch *w = l->events[i].data.ptr;
        /* A callback earlier in this batch may have unwatched w (the owner
         * then defers freeing it to the end of the iteration). */
        if (w->added) {
            w->cb(w, l->events[i].events);
        }
    }
    return n;
}
