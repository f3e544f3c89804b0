#include "beneath.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifdef SYS_openat2
#include <linux/openat2.h>
#endif

#define FILE_FLAGS      (O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)
#define OPENAT2_RETRIES 4 /* EAGAIN: a rename raced the lookup; try again */

static enum beneath_mode mode = BENEATH_WALK;

enum beneath_mode
beneath_init(bool force_walk)
{
    mode = BENEATH_WALK;
#ifdef SYS_openat2
    if (!force_walk) {
        struct open_how how = {
            .flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
            .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
        };
        /* ENOSYS before Linux 5.6; container seccomp profiles may answer
         * EPERM instead. Anything but a descriptor means the walk. */
        long fd = syscall(SYS_openat2, AT_FDCWD, ".", &how, sizeof(how));
        if (fd >= 0) {
            close((int)fd);
            mode = BENEATH_OPENAT2;
        }
    }
#else
    (void)force_walk;
#endif
    return mode;
}

enum beneath_mode
beneath_mode(void)
{
    return mode;
}

const char *
beneath_mode_name(void)
{
    return mode == BENEATH_OPENAT2 ? "openat2(RESOLVE_BENEATH)" : "checked openat() walk";
}

/* The real path of an open descriptor, from /proc/self/fd. */
static ssize_t
fd_path(int fd, char *out, size_t outsz)
{
    char link[64];
    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, out, outsz - 1);
    if (n < 0 || (size_t)n >= outsz - 1) {
        return -1;
    }
    out[n] = '\0';
    return n;
}

int
beneath_root_open(struct beneath_root *r, const char *path, char *err, size_t errsz)
{
    memset(r, 0, sizeof(*r));
    r->fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (r->fd < 0) {
        errfmt(err, errsz, "%s: %s", path, errno == ENOTDIR ? "not a directory" : strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(r->fd, &st) != 0) {
        errfmt(err, errsz, "%s: %s", path, strerror(errno));
        close(r->fd);
        r->fd = -1;
        return -1;
    }
    r->dev = st.st_dev;
    r->ino = st.st_ino;
    char real[PATH_MAX];
    ssize_t n = fd_path(r->fd, real, sizeof(real));
    if (n < 0) {
        /* No /proc: realpath(3) names the same directory unless it moved
         * in between. The walk needs /proc to follow symlinks anyway. */
        if (realpath(path, real) == NULL) {
            errfmt(err, errsz, "%s: %s", path, strerror(errno));
            close(r->fd);
            r->fd = -1;
            return -1;
        }
        n = (ssize_t)strlen(real);
    }
    r->real = xstrndup(real, (size_t)n);
    r->real_len = (size_t)n;
    return 0;
}

void
beneath_root_close(struct beneath_root *r)
{
    if (r->fd >= 0) {
        close(r->fd);
    }
    free(r->real);
    r->fd = -1;
    r->real = NULL;
}

/* Is the descriptor's file under the root? Fails closed: no /proc, a
 * deleted directory (" (deleted)") or a path elsewhere all say no. */
static bool
inside(const struct beneath_root *r, int fd)
{
    char p[PATH_MAX];
    ssize_t n = fd_path(fd, p, sizeof(p));
    if (n < 0) {
        return false;
    }
    if (r->real_len == 1 && r->real[0] == '/') {
        return p[0] == '/';
    }
    return (size_t)n >= r->real_len && memcmp(p, r->real, r->real_len) == 0 &&
           (p[r->real_len] == '\0' || p[r->real_len] == '/');
}

/* One component from dir: O_NOFOLLOW first; a symlink is then opened
 * through and kept only when it lands inside the root. */
static int
open_component(const struct beneath_root *r, int dir, const char *name, bool last)
{
    int flags = last ? FILE_FLAGS | O_NOFOLLOW : O_PATH | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW;
    int fd = openat(dir, name, flags);
    if (fd >= 0) {
        return fd;
    }
    int err = errno;
    /* A symlink shows as ELOOP (O_NOFOLLOW), or as ENOTDIR for O_PATH |
     * O_DIRECTORY on the link itself. */
    if (err != ELOOP && err != ENOTDIR) {
        return -1;
    }
    struct stat st;
    if (fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISLNK(st.st_mode)) {
        errno = err;
        return -1;
    }
    /* As RESOLVE_BENEATH: an absolute target is refused even when it
     * names a place inside, so both modes agree. */
    char target[8];
    if (readlinkat(dir, name, target, sizeof(target)) > 0 && target[0] == '/') {
        errno = EXDEV;
        return -1;
    }
    fd = openat(dir, name, flags & ~O_NOFOLLOW);
    if (fd < 0) {
        return -1;
    }
    if (!inside(r, fd)) {
        close(fd);
        errno = EXDEV;
        return -1;
    }
    return fd;
}

static int
walk(const struct beneath_root *r, const char *rel)
{
    int cur = r->fd;
    const char *p = rel;
    char name[NAME_MAX + 1];
    for (;;) {
        const char *slash = strchr(p, '/');
        size_t n = slash != NULL ? (size_t)(slash - p) : strlen(p);
        int fd;
        if (n == 0 || n > NAME_MAX) {
            errno = n == 0 ? ENOENT : ENAMETOOLONG;
            fd = -1;
        } else {
            memcpy(name, p, n);
            name[n] = '\0';
            fd = open_component(r, cur, name, slash == NULL);
        }
        int err = errno;
        if (cur != r->fd) {
            close(cur);
        }
        if (fd < 0) {
            errno = err;
            return -1;
        }
        if (slash == NULL) {
            return fd;
        }
        cur = fd;
        p = slash + 1;
    }
}

int
beneath_open(const struct beneath_root *r, const char *rel)
{
#ifdef SYS_openat2
    if (mode == BENEATH_OPENAT2) {
        struct open_how how = {
            .flags = FILE_FLAGS,
            .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
        };
        long fd = -1;
        for (int i = 0; i < OPENAT2_RETRIES; i++) {
            fd = syscall(SYS_openat2, r->fd, rel, &how, sizeof(how));
            if (fd >= 0 || (errno != EAGAIN && errno != EINTR)) {
                break;
            }
        }
        return (int)fd;
    }
#endif
    return walk(r, rel);
}
