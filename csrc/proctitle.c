/* Process titles (proctitle.h). */
#include "proctitle.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

extern char **environ;

/* The environment strings moved out of the area (one block, reachable). */
static char *moved_env;
static bool env_moved;

char **
proctitle_save_argv(int argc, char **argv)
{
    char **copy = xcalloc((size_t)argc + 1, sizeof(*copy));
    for (int i = 0; i < argc; i++) {
        copy[i] = xstrdup(argv[i]);
    }
    return copy;
}

/* Fields 48-51 of /proc/self/stat: where the kernel reads /proc/self/cmdline
 * (and environ) from (Linux 3.5+). Under valgrind they describe valgrind's
 * own process, not the program's memory: no title then (callgrind_control
 * also finds its processes by their command line, bench/instr). */
static bool
find_area(char **arg_start, char **arg_end, char **env_start, char **env_end)
{
    const char *pre = getenv("LD_PRELOAD");
    if (pre != NULL && strstr(pre, "vgpreload") != NULL) {
        return false;
    }
    char buf[4096];
    FILE *f = fopen("/proc/self/stat", "re");
    if (f == NULL) {
        return false;
    }
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')'); /* the command name may hold spaces */
    if (p == NULL) {
        return false;
    }
    unsigned long long v[64];
    int k = 0;
    char *save = NULL;
    for (char *tok = strtok_r(p + 2, " ", &save); tok != NULL && k < 64;
         tok = strtok_r(NULL, " ", &save)) {
        v[k++] = strtoull(tok, NULL, 10);
    }
    /* p + 2 is field 3 (state): field N is v[N - 3]. */
    if (k < 49 || v[45] == 0 || v[46] <= v[45]) {
        return false;
    }
    *arg_start = (char *)(uintptr_t)v[45];
    *arg_end = (char *)(uintptr_t)v[46];
    *env_start = (char *)(uintptr_t)v[47];
    *env_end = (char *)(uintptr_t)v[48];
    return true;
}

/* Copy every environment string that lives in [start, end) to the heap,
 * so that the area can hold a title. Only when the environment follows the
 * argv strings directly (the kernel lays them out so). */
static bool
move_environ(char *start, char *end)
{
    if (env_moved) {
        return true;
    }
    size_t total = 0;
    for (char **e = environ; e != NULL && *e != NULL; e++) {
        if (*e >= start && *e < end) {
            total += strlen(*e) + 1;
        }
    }
    moved_env = xmalloc(total + 1);
    size_t off = 0;
    for (char **e = environ; e != NULL && *e != NULL; e++) {
        if (*e >= start && *e < end) {
            size_t len = strlen(*e) + 1;
            memcpy(moved_env + off, *e, len);
            *e = moved_env + off;
            off += len;
        }
    }
    env_moved = true;
    return true;
}

bool
proctitle_set_argv(int argc, char *const *argv)
{
    char *start, *end, *env_start, *env_end;
    if (!find_area(&start, &end, &env_start, &env_end)) {
        return false;
    }
    size_t cap = (size_t)(end - start), used = 0;
    for (int i = 0; i < argc; i++) {
        size_t len = strlen(argv[i]) + 1;
        if (used + len > cap) {
            break;
        }
        memmove(start + used, argv[i], len);
        used += len;
    }
    memset(start + used, '\0', cap - used);
    return true;
}

bool
proctitle_set(const char *title)
{
    char *start, *end, *env_start, *env_end;
    if (!find_area(&start, &end, &env_start, &env_end)) {
        return false;
    }
    size_t len = strlen(title);
    char *limit = end;
    if (len + 1 > (size_t)(end - start) && env_start == end && env_end > env_start &&
        move_environ(env_start, env_end)) {
        /* The kernel goes on reading into the environment area when the
         * last byte of the argv area is not a NUL. */
        limit = env_end;
    }
    size_t cap = (size_t)(limit - start);
    if (len + 1 > cap) {
        len = cap - 1;
    }
    memcpy(start, title, len);
    memset(start + len, '\0', cap - len);
    return true;
}
