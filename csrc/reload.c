#include "reload.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "log.h"

#define MAX_DIRS 4096

struct reload_watch {
    int fd;
    int wds[MAX_DIRS];
    char *dirs[MAX_DIRS];
    size_t n;
};

void
reload_watch_add(struct reload_watch *r, char *const *dirs)
{
    size_t before = r->n;
    for (size_t i = 0; dirs[i] != NULL && r->n < MAX_DIRS; i++) {
        int wd = inotify_add_watch(r->fd, dirs[i],
                                   IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE |
                                       IN_DELETE | IN_ONLYDIR);
        if (wd < 0) {
            log_debug("--reload: cannot watch %s: %m", dirs[i]);
            continue;
        }
        bool known = false;
        for (size_t k = 0; k < r->n; k++) {
            known = known || r->wds[k] == wd;
        }
        if (!known) {
            r->wds[r->n] = wd;
            r->dirs[r->n] = xstrdup(dirs[i]);
            r->n++;
        }
    }
    if (r->n != before) {
        log_info("--reload: watching %zu director%s for *.py changes", r->n,
                 r->n == 1 ? "y" : "ies");
    }
}

struct reload_watch *
reload_watch_new(char *const *dirs)
{
    int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (fd < 0) {
        log_error("--reload: inotify_init1: %m");
        return NULL;
    }
    struct reload_watch *r = xcalloc(1, sizeof(*r));
    r->fd = fd;
    reload_watch_add(r, dirs);
    return r;
}

int
reload_fd(const struct reload_watch *r)
{
    return r->fd;
}

static bool
is_py(const char *name)
{
    size_t n = strlen(name);
    return n > 3 && strcmp(name + n - 3, ".py") == 0;
}

bool
reload_changed(struct reload_watch *r, char *path, size_t n)
{
    char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
    bool changed = false;
    for (;;) {
        ssize_t len = read(r->fd, buf, sizeof(buf));
        if (len <= 0) {
            break;
        }
        for (char *p = buf; p < buf + len;) {
            struct inotify_event *ev = (struct inotify_event *)p;
            if (!changed && ev->len > 0 && is_py(ev->name)) {
                const char *dir = "?";
                for (size_t i = 0; i < r->n; i++) {
                    if (r->wds[i] == ev->wd) {
                        dir = r->dirs[i];
                    }
                }
                snprintf(path, n, "%s/%s", dir, ev->name);
                changed = true;
            }
            p += sizeof(struct inotify_event) + ev->len;
        }
    }
    return changed;
}

void
reload_watch_free(struct reload_watch *r)
{
    if (r == NULL) {
        return;
    }
    close(r->fd);
    for (size_t i = 0; i < r->n; i++) {
        free(r->dirs[i]);
    }
    free(r);
}
