#include "scoreboard.h"

#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "log.h"

struct scoreboard_slot *scoreboard;

int
scoreboard_map(void)
{
    void *p = mmap(NULL, SCOREBOARD_SLOTS * sizeof(struct scoreboard_slot), PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        log_error("mmap: %m");
        return -1;
    }
    scoreboard = p;
    return 0;
}

void
scoreboard_unmap(void)
{
    if (scoreboard != NULL) {
        munmap(scoreboard, SCOREBOARD_SLOTS * sizeof(struct scoreboard_slot));
        scoreboard = NULL;
    }
}

void
scoreboard_describe(char *what, size_t n, const struct http_req *req)
{
    snprintf(what, n, "%.*s %.*s from %s", (int)req->method_len, req->method,
             (int)(req->target_len > 200 ? 200 : req->target_len), req->target,
             req->meta->remote_addr[0] ? req->meta->remote_addr : "unix socket");
}

void
scoreboard_busy_since(struct scoreboard_slot *s, int64_t since_ms, const struct http_req *req)
{
    scoreboard_describe(s->req, sizeof(s->req), req);
    s->busy_since_ms = since_ms > 0 ? since_ms : 1;
}

void
scoreboard_busy(struct scoreboard_slot *s, const struct http_req *req)
{
    scoreboard_busy_since(s, now_mono_ms(), req);
}
