/* What the harnesses share: the trap on a broken invariant, and reference
 * versions of the small HTTP helpers, written here on purpose rather than
 * taken from csrc/ so that the harness checks the server's own ones. */
#ifndef WSGIHOST_FUZZ_COMMON_H
#define WSGIHOST_FUZZ_COMMON_H

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

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

#endif
