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
#define MAX_EXTRA 64

struct reload_watch {
    int fd;
    int wds[MAX_DIRS];
    char *dirs[MAX_DIRS];
    bool py[MAX_DIRS]; /* a source directory: any *.py in it counts */
    size_t n;
    struct {
        int wd;
        char *name; /* the file's name in that directory */
    } extra[MAX_EXTRA];
    size_t n_extra;
};

/* The watch of dir (added if new), or -1 after logging at `level`. */
static int
watch_dir(struct reload_watch *r, const char *dir, bool py, enum log_level level)
{
    int wd = inotify_add_watch(r->fd, dir,
                               IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE |
                                   IN_DELETE | IN_ONLYDIR);
    if (wd < 0) {
        log_msg(level, "--reload: cannot watch %s: %m", dir);
        return -1;
    }
    for (size_t k = 0; k < r->n; k++) {
        if (r->wds[k] == wd) {
            r->py[k] = r->py[k] || py;
            return wd;
        }
    }
    if (r->n == MAX_DIRS) {
        log_msg(level, "--reload: more than %d directories: %s is not watched", MAX_DIRS, dir);
        return -1;
    }
    r->wds[r->n] = wd;
    r->dirs[r->n] = xstrdup(dir);
    r->py[r->n] = py;
    r->n++;
    return wd;
}

void
reload_watch_add(struct reload_watch *r, char *const *dirs)
{
    size_t before = r->n;
    for (size_t i = 0; dirs[i] != NULL; i++) {
        watch_dir(r, dirs[i], true, LOG_DEBUG);
    }
    if (r->n != before) {
        log_info("--reload: watching %zu director%s for *.py changes", r->n,
                 r->n == 1 ? "y" : "ies");
    }
}

void
reload_watch_files(struct reload_watch *r, const char *const *files, size_t n)
{
    for (size_t i = 0; i < n && r->n_extra < MAX_EXTRA; i++) {
        const char *slash = strrchr(files[i], '/');
        const char *name = slash ? slash + 1 : files[i];
        char dir[PATH_MAX];
        snprintf(dir, sizeof(dir), "%.*s",
                 slash ? (slash == files[i] ? 1 : (int)(slash - files[i])) : 1,
                 slash ? files[i] : ".");
        if (*name == '\0') {
            log_warning("--reload-extra-file %s: names a directory, not a file: not watched",
                        files[i]);
            continue;
        }
        int wd = watch_dir(r, dir, false, LOG_WARNING);
        if (wd < 0) {
            continue;
        }
        bool known = false;
        for (size_t k = 0; k < r->n_extra; k++) {
            known = known || (r->extra[k].wd == wd && strcmp(r->extra[k].name, name) == 0);
        }
        if (!known) {
            r->extra[r->n_extra].wd = wd;
            r->extra[r->n_extra].name = xstrdup(name);
            r->n_extra++;
            log_info("--reload: watching %s", files[i]);
        }
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
            if (!changed && ev->len > 0) {
                const char *dir = NULL;
                bool py = false;
                for (size_t i = 0; i < r->n; i++) {
                    if (r->wds[i] == ev->wd) {
                        dir = r->dirs[i];
                        py = r->py[i];
                    }
                }
                bool hit = dir != NULL && py && is_py(ev->name);
                for (size_t k = 0; !hit && k < r->n_extra; k++) {
                    hit = r->extra[k].wd == ev->wd && strcmp(r->extra[k].name, ev->name) == 0;
                }
                if (hit) {
                    snprintf(path, n, "%s/%s", dir ? dir : "?", ev->name);
                    changed = true;
                }
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
    for (size_t k = 0; k < r->n_extra; k++) {
        free(r->extra[k].name);
    }
    free(r);
}
