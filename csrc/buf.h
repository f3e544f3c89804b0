/* Growable byte buffers and the output queue a connection flushes. */
#ifndef WSGIHOST_BUF_H
#define WSGIHOST_BUF_H

#include "util.h"
#include <sys/uio.h>

struct buf {
    char *data;
    size_t len;
    size_t cap;
};

void buf_init(struct buf *b);
void buf_free(struct buf *b);
void buf_reserve(struct buf *b, size_t extra); /* room for `extra` more bytes */
void buf_append(struct buf *b, const void *p, size_t n);
void buf_append_str(struct buf *b, const char *s);
void buf_consume(struct buf *b, size_t n); /* drop n bytes from the front */
static inline void
buf_reset(struct buf *b)
{
    b->len = 0;
}

/* The output queue: an ordered list of memory chunks and file ranges.
 * Memory is copied in (and coalesced with the tail chunk); file ranges are
 * sent with sendfile() by the transport. */
struct outq_seg;
struct outq {
    struct outq_seg *head;
    struct outq_seg *tail;
    size_t bytes; /* bytes pending, memory and file */
};

/* The transport's write side, as the queue sees it: writev and sendfile that
 * return bytes written, or -1 with errno (EAGAIN when the socket is full). */
struct outq_writer {
    ssize_t (*writev)(void *ctx, const struct iovec *iov, int iovcnt);
    /* Optional: the same when a file range follows at once (a response
     * head before its file), so that the transport may hold the bytes for
     * it (MSG_MORE) instead of sending the head as a packet of its own. */
    ssize_t (*writev_more)(void *ctx, const struct iovec *iov, int iovcnt);
    ssize_t (*sendfile)(void *ctx, int fd, off_t *off, size_t n);
    void *ctx;
};

void outq_init(struct outq *q);
/* A thread that used queues ends: free the chunks it kept for reuse. */
void outq_thread_exit(void);
void outq_free(struct outq *q); /* releases memory and closes owned fds */
void outq_append(struct outq *q, const void *p, size_t n);
/* Queue n bytes of fd from off; when own_fd the queue closes fd once sent
 * or freed. */
void outq_append_file(struct outq *q, int fd, off_t off, uint64_t n, bool own_fd);
static inline size_t
outq_pending(const struct outq *q)
{
    return q->bytes;
}
/* Write as much as the transport takes. Returns 0 when the queue is empty,
 * 1 when the transport would block (errno EAGAIN), -1 on error (errno set).
 * *written (if not NULL) is increased by the bytes sent. */
int outq_flush(struct outq *q, const struct outq_writer *w, uint64_t *written);

#endif
