#include "util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void
oom(size_t n)
{
    /* No recovery is possible and every caller would only log and fail:
     * abort once here (h2o and redis do the same). */
    fprintf(stderr, "wsgihost: out of memory allocating %zu bytes\n", n);
    abort();
}

void *
xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (UNLIKELY(p == NULL)) {
        oom(n);
    }
    return p;
}

void *
xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (UNLIKELY(p == NULL)) {
        oom(n * size);
    }
    return p;
}

void *
xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (UNLIKELY(q == NULL)) {
        oom(n);
    }
    return q;
}

char *
xstrndup(const char *s, size_t n)
{
    char *p = xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *
xstrdup(const char *s)
{
    return xstrndup(s, strlen(s));
}

double
now_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int64_t
now_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
now_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

double
now_wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void
errfmt(char *err, size_t errsz, const char *fmt, ...)
{
    if (err == NULL || errsz == 0) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errsz, fmt, ap);
    va_end(ap);
}

bool
list_next(const char **p, const char **b, const char **e)
{
    if (**p == '\0') {
        return false;
    }
    const char *comma = strchr(*p, ',');
    const char *end = comma != NULL ? comma : *p + strlen(*p);
    *b = *p;
    *e = end;
    while (*b < *e && (**b == ' ' || **b == '\t')) {
        (*b)++;
    }
    while (*e > *b && ((*e)[-1] == ' ' || (*e)[-1] == '\t')) {
        (*e)--;
    }
    *p = comma != NULL ? comma + 1 : end;
    return true;
}
