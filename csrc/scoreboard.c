#include "scoreboard.h"

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

/* Appends [p, p + len) to [*at, end), as much as fits. */
static void
put(char **at, char *end, const char *p, size_t len)
{
    size_t room = (size_t)(end - *at);
    if (len > room) {
        len = room;
    }
    memcpy(*at, p, len);
    *at += len;
}

/* Once per app call when there is a slot: copies, no snprintf (whose
 * format parsing cost about a thousand instructions a request). */
void
scoreboard_describe(char *what, size_t n, const struct http_req *req)
{
    if (n == 0) {
        return;
    }
    char *at = what, *end = what + n - 1;
    const char *addr = req->meta->remote_addr[0] ? req->meta->remote_addr : "unix socket";
    put(&at, end, req->method, req->method_len);
    put(&at, end, " ", 1);
    put(&at, end, req->target, req->target_len > 200 ? 200 : req->target_len);
    put(&at, end, " from ", 6);
    put(&at, end, addr, strlen(addr));
    *at = '\0';
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
