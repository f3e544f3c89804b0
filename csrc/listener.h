/* Listening sockets: "HOST:PORT", "[v6]:PORT", "HOST" (port 8000),
 * "unix:/path". */
#ifndef WSGIHOST_LISTENER_H
#define WSGIHOST_LISTENER_H

#include "util.h"

struct listener {
    int fd;
    bool is_unix;
    char *unix_path;  /* owned; unlinked on close */
    char host[64];    /* numeric address actually bound, or the unix path (truncated) */
    char port[8];     /* decimal, "" for unix */
    char display[160]; /* "http://127.0.0.1:8000" / "unix:/path" for logs */
};

/* Create, bind and listen (non-blocking, CLOEXEC). Returns 0, or -1 with
 * err filled with one line naming the address and the reason. */
int listener_open(struct listener *l, const char *spec, int backlog, char *err, size_t errsz);
void listener_close(struct listener *l, bool unlink_path);

#endif
