/* Listening sockets: "HOST:PORT", "[v6]:PORT", "HOST" (port 8000),
 * "unix:/path". */
#ifndef WSGIHOST_LISTENER_H
#define WSGIHOST_LISTENER_H

#include "util.h"

struct tls_ctx;

struct listener {
    int fd;
    bool is_unix;
    bool inherited;   /* passed by systemd (LISTEN_FDS): its unix path is not ours to unlink */
    struct tls_ctx *tls; /* not owned; NULL = plain HTTP */
    char *unix_path;  /* owned; unlinked on close */
    char host[64];    /* numeric address actually bound, or the unix path (truncated) */
    char port[8];     /* decimal, "" for unix */
    char display[160]; /* "http://127.0.0.1:8000" / "unix:/path" for logs */
};

/* Create, bind and listen (non-blocking, CLOEXEC). Returns 0, or -1 with
 * err filled with one line naming the address and the reason. */
int listener_open(struct listener *l, const char *spec, int backlog, char *err, size_t errsz);
/* HTTP clients speak first: a TCP connection is handed to accept() only
 * once its first bytes are in (TCP_DEFER_ACCEPT: nginx's "deferred",
 * uWSGI's default), so a flood of silent connections costs no descriptor
 * and cannot push a worker to EMFILE. After about `seconds` (the header
 * timeout) the kernel passes a silent one on anyway, and the header timeout
 * closes it. 0 = off. */
void listener_defer_accept(struct listener *l, double seconds);
void listener_close(struct listener *l, bool unlink_path);

/* systemd socket activation: when $LISTEN_PID is this process, the
 * $LISTEN_FDS listening sockets from fd 3 on (made non-blocking and
 * close-on-exec, described from getsockname) become *out, and the LISTEN_*
 * variables leave the environment so that the app's children do not take
 * them for theirs. Returns how many (0 when not socket-activated), or -1
 * with err filled (a passed fd that is not a listening stream socket). */
int listener_inherit(struct listener **out, char *err, size_t errsz);
/* One passed listening socket fd into *l (non-blocking, close-on-exec,
 * described from getsockname). systemd: the socket is systemd's (marked
 * inherited, its unix path never unlinked); else it is ours, as if bound
 * here (upgrade.h). from names where it came from in errors. 0, or -1
 * with err filled. */
int listener_adopt(struct listener *l, int fd, bool systemd, const char *from, char *err,
                   size_t errsz);

#endif
