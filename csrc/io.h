/* The transport a connection reads and writes through, as a table of
 * functions (redis's connection.h idea): conn.c calls these and never learns
 * whether the socket is encrypted. A plain socket has no table at all (conn
 * calls read/writev/sendfile directly, the fast path); TLS provides one in
 * tls.c.
 *
 * Every call is non-blocking. When the transport cannot progress it returns
 * IO_AGAIN and says which readiness it waits for in *want (EPOLLIN or
 * EPOLLOUT): a TLS read may need the socket writable (a handshake message to
 * send) and a TLS write may need it readable. */
#ifndef WSGIHOST_IO_H
#define WSGIHOST_IO_H

#include <sys/types.h>
#include <sys/uio.h>

#include "util.h"

#define IO_AGAIN (-2)

struct io_ops {
    /* > 0 bytes read, 0 end of stream, -1 error (errno set), IO_AGAIN. */
    ssize_t (*read)(void *t, void *buf, size_t n, uint32_t *want);
    /* Bytes written (possibly fewer than asked: the rest would block), -1
     * error (errno set), IO_AGAIN when nothing could be written. After
     * IO_AGAIN the caller retries with the same leading bytes (it may offer
     * more), as an output queue naturally does. */
    ssize_t (*writev)(void *t, const struct iovec *iov, int iovcnt, uint32_t *want);
    /* Up to n bytes of fd from *off (advanced by what was sent); same
     * returns as writev. */
    ssize_t (*sendfile)(void *t, int fd, off_t *off, size_t n, uint32_t *want);
    /* 1 done, IO_AGAIN, -1 failed (the connection must be closed). */
    int (*handshake)(void *t, uint32_t *want);
    /* Bytes already received and decrypted inside the transport, which
     * epoll cannot report: the caller reads them without waiting. */
    bool (*pending)(void *t);
    /* Say goodbye (TLS close_notify): best effort, never blocks. */
    void (*shutdown)(void *t);
    /* The subject (RFC 2253) of the client certificate verified during the
     * handshake, or NULL; valid until free. */
    const char *(*peer_subject)(void *t);
    /* Why the last failing call failed, for the log ("" if unknown). */
    const char *(*error)(void *t);
    void (*free)(void *t);
};

#endif
