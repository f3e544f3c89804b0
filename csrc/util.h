/* Small helpers shared by every module: branch hints, allocators that abort on
 * out-of-memory (so callers need no untestable NULL branches), string spans. */
#ifndef WSGIHOST_UTIL_H
#define WSGIHOST_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <sys/types.h>

#define LIKELY(x)   __builtin_expect(!!(x), 1)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)
#define countof(a)  (sizeof(a) / sizeof((a)[0]))
#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

/* One header field as a pair of (pointer, length) spans; not NUL-terminated. */
struct hfield {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
};

/* Format an error message into err (no-op when err is NULL). */
void errfmt(char *err, size_t errsz, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Iterate a comma-separated list: returns false at the end, else sets
 * [*b, *e) to the next item with blanks around it removed (may be empty). */
bool list_next(const char **p, const char **b, const char **e);

/* v in decimal at p (at most 20 bytes, no NUL); returns the end. */
static inline char *
put_dec(char *p, uint64_t v)
{
    char tmp[20];
    int i = 0;
    do {
        tmp[i++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    while (i > 0) {
        *p++ = tmp[--i];
    }
    return p;
}

/* Monotonic time in seconds, and wall-clock time, both as doubles. */
double now_mono(void);
/* The same clock in whole milliseconds (the scoreboard's heartbeat) and
 * nanoseconds (pyrt's entry gate). */
int64_t now_mono_ms(void);
int64_t now_mono_ns(void);
double now_wall(void);

#endif
