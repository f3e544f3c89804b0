/* Opening a relative path so that it cannot leave a directory: openat2()
 * with RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS where the kernel has it
 * (Linux 5.6), else a walk of openat() calls, one component at a time with
 * O_NOFOLLOW, where a symbolic link is followed only when the descriptor it
 * gives is still under the directory (its /proc/self/fd path checked
 * against the directory's real path). Either way a relative symlink that
 * stays inside is followed; one that leads out, or any absolute one, is
 * refused (EXDEV). */
#ifndef WSGIHOST_BENEATH_H
#define WSGIHOST_BENEATH_H

#include <sys/types.h>

#include "util.h"

enum beneath_mode {
    BENEATH_OPENAT2,
    BENEATH_WALK,
};

/* Probe the kernel once (ENOSYS: the walk). force_walk picks the walk
 * (the tests run both). Returns the mode now in use. */
enum beneath_mode beneath_init(bool force_walk);
enum beneath_mode beneath_mode(void);
const char *beneath_mode_name(void);

struct beneath_root {
    int fd;     /* O_PATH | O_DIRECTORY */
    char *real; /* its real path, for the walk's check */
    size_t real_len;
    dev_t dev;
    ino_t ino;
};

/* Open the directory path (symlinks in it followed: it is the operator's).
 * Returns 0, or -1 with a message naming the path ("not a directory"). */
int beneath_root_open(struct beneath_root *r, const char *path, char *err, size_t errsz);
void beneath_root_close(struct beneath_root *r);

/* Open rel beneath r: O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY. rel is
 * relative, '/'-separated, with no empty, "." or ".." component (the
 * caller's rules make sure). Returns the fd, or -1 with errno: ENOENT or
 * ENOTDIR (nothing there), EXDEV (a symlink leads out), ELOOP, EACCES, ... */
int beneath_open(const struct beneath_root *r, const char *rel);

#endif
