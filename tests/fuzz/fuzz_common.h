/* What the harnesses share: the trap on a broken invariant, and reference
 * versions of the small HTTP helpers, written here on purpose rather than
 * taken from csrc/ so that the harness checks the server's own ones. */
#ifndef WSGIHOST_FUZZ_COMMON_H
#define WSGIHOST_FUZZ_COMMON_H

#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* libFuzzer saves the input that reached the trap as a reproducer. */
#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s: check failed at line %d: %s\n", __FILE__, __LINE__, #cond);      \
            __builtin_trap();                                                                      \
        }                                                                                          \
    } while (0)

/* RFC 9110 5.6.2 tchar. */
static inline bool
ref_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* The n bytes at s equal the literal, ASCII case-insensitively. */
static inline bool
ref_ieq(const char *s, size_t n, const char *lit)
{
    return n == strlen(lit) && strncasecmp(s, lit, n) == 0;
}

/* The lowest free descriptor: the same after an input as before it, or the
 * code under test left one open (a spilled body, a file range). */
static inline int
lowest_free_fd(void)
{
    int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    CHECK(fd >= 0);
    close(fd);
    return fd;
}

#endif
