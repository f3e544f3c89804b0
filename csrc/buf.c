#include "buf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void
buf_init(struct buf *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void
buf_free(struct buf *b)
{
    free(b->data);
    buf_init(b);
}

void
buf_reserve(struct buf *b, size_t extra)
{
    if (b->cap - b->len >= extra) {
        return;
    }
    size_t cap = b->cap ? b->cap : 256;
    while (cap - b->len < extra) {
        cap *= 2;
    }
    b->data = xrealloc(b->data, cap);
    b->cap = cap;
}

void
buf_append(struct buf *b, const void *p, size_t n)
{
    if (n == 0) {
        return;
    }
    buf_reserve(b, n);
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

void
buf_append_str(struct buf *b, const char *s)
{
    buf_append(b, s, strlen(s));
}

void
buf_consume(struct buf *b, size_t n)
{
    if (n >= b->len) {
        b->len = 0;
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
}

/* ---- output queue ---- */

enum { SEG_MEM, SEG_FILE };

/* Memory segments are allocated at least this big so small writes coalesce
 * into one writev entry. */
#define SEG_MIN_CAP 16384
#define IOV_MAX_BATCH 64

struct outq_seg {
    struct outq_seg *next;
    int kind;
    /* SEG_MEM */
    char *data;
    size_t off, len, cap;
    /* SEG_FILE */
    int fd;
    bool own_fd;
    off_t file_off;
    uint64_t file_left;
};

/* A few sent memory chunks of the smallest size, kept per thread for the
 * next responses: no malloc/free per request on a keep-alive connection
 * (bench/instr, plain callable), and nothing held by idle connections.
 * Per thread because a pool thread fills a queue the loop thread empties;
 * each thread only touches its own. */
#define SEG_CACHE_MAX 8
static _Thread_local struct outq_seg *seg_cache[SEG_CACHE_MAX];
static _Thread_local int seg_cached;

static struct outq_seg *
cache_take(void)
{
    if (seg_cached == 0) {
        return NULL;
    }
    struct outq_seg *s = seg_cache[--seg_cached];
    s->off = 0;
    return s;
}

static bool
cache_put(struct outq_seg *s)
{
    if (seg_cached == SEG_CACHE_MAX) {
        return false;
    }
    seg_cache[seg_cached++] = s;
    return true;
}

static void seg_free(struct outq_seg *s);

void
outq_thread_exit(void)
{
    while (seg_cached > 0) {
        seg_free(seg_cache[--seg_cached]);
    }
}

void
outq_init(struct outq *q)
{
    q->head = q->tail = NULL;
    q->bytes = 0;
}

static void
seg_free(struct outq_seg *s)
{
    if (s->kind == SEG_MEM) {
        free(s->data);
    } else if (s->own_fd && s->fd >= 0) {
        close(s->fd);
    }
    free(s);
}

void
outq_free(struct outq *q)
{
    struct outq_seg *s = q->head;
    while (s != NULL) {
        struct outq_seg *next = s->next;
        seg_free(s);
        s = next;
    }
    outq_init(q);
}

static void
push(struct outq *q, struct outq_seg *s)
{
    s->next = NULL;
    if (q->tail != NULL) {
        q->tail->next = s;
    } else {
        q->head = s;
    }
    q->tail = s;
}

void
outq_append(struct outq *q, const void *p, size_t n)
{
    if (n == 0) {
        return;
    }
    struct outq_seg *t = q->tail;
    if (t != NULL && t->kind == SEG_MEM && t->cap - (t->off + t->len) >= n) {
        memcpy(t->data + t->off + t->len, p, n);
        t->len += n;
        q->bytes += n;
        return;
    }
    struct outq_seg *s = n <= SEG_MIN_CAP ? cache_take() : NULL;
    if (s == NULL) {
        s = xcalloc(1, sizeof(*s));
        s->kind = SEG_MEM;
        s->cap = n > SEG_MIN_CAP ? n : SEG_MIN_CAP;
        s->data = xmalloc(s->cap);
        s->fd = -1;
    }
    memcpy(s->data, p, n);
    s->len = n;
    push(q, s);
    q->bytes += n;
}

void
outq_append_file(struct outq *q, int fd, off_t off, uint64_t n, bool own_fd)
{
    if (n == 0) {
        if (own_fd) {
            close(fd);
        }
        return;
    }
    struct outq_seg *s = xcalloc(1, sizeof(*s));
    s->kind = SEG_FILE;
    s->fd = fd;
    s->own_fd = own_fd;
    s->file_off = off;
    s->file_left = n;
    push(q, s);
    q->bytes += n;
}

static void
pop_head(struct outq *q)
{
    struct outq_seg *s = q->head;
    q->head = s->next;
    if (q->head == NULL) {
        q->tail = NULL;
    }
    if (s->kind == SEG_MEM && s->cap == SEG_MIN_CAP && cache_put(s)) {
        return;
    }
    seg_free(s);
}

int
outq_flush(struct outq *q, const struct outq_writer *w, uint64_t *written)
{
    while (q->head != NULL) {
        struct outq_seg *s = q->head;
        if (s->kind == SEG_FILE) {
            size_t chunk = s->file_left > (1u << 30) ? (1u << 30) : (size_t)s->file_left;
            ssize_t n = w->sendfile(w->ctx, s->fd, &s->file_off, chunk);
            if (n < 0) {
                return errno == EAGAIN || errno == EWOULDBLOCK ? 1 : -1;
            }
            if (n == 0) {
                /* The file shrank under us: the promised length cannot be
                 * delivered, so the response framing is broken. */
                errno = EIO;
                return -1;
            }
            s->file_left -= (uint64_t)n;
            q->bytes -= (size_t)n;
            if (written != NULL) {
                *written += (uint64_t)n;
            }
            if (s->file_left == 0) {
                pop_head(q);
            }
            continue;
        }
        struct iovec iov[IOV_MAX_BATCH];
        int cnt = 0;
        struct outq_seg *t = s;
        for (; t != NULL && t->kind == SEG_MEM && cnt < IOV_MAX_BATCH; t = t->next) {
            iov[cnt].iov_base = t->data + t->off;
            iov[cnt].iov_len = t->len;
            cnt++;
        }
        bool file_next = t != NULL && t->kind == SEG_FILE && w->writev_more != NULL;
        ssize_t n = file_next ? w->writev_more(w->ctx, iov, cnt) : w->writev(w->ctx, iov, cnt);
        if (n < 0) {
            return errno == EAGAIN || errno == EWOULDBLOCK ? 1 : -1;
        }
        q->bytes -= (size_t)n;
        if (written != NULL) {
            *written += (uint64_t)n;
        }
        size_t left = (size_t)n;
        while (left > 0) {
            struct outq_seg *h = q->head;
            if (left >= h->len) {
                left -= h->len;
                pop_head(q);
            } else {
                h->off += left;
                h->len -= left;
                left = 0;
            }
        }
        /* A short write means the socket buffer is full. */
        size_t want = 0;
        for (int i = 0; i < cnt; i++) {
            want += iov[i].iov_len;
        }
        if ((size_t)n < want) {
            errno = EAGAIN;
            return 1;
        }
    }
    return 0;
}
