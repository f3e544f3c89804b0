#include "pool.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"

struct pool {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct pool_job *head, *tail;         /* waiting to run on any thread */
    struct pinned {
        struct pool_job *head, *tail;
    } *pinned;                            /* per thread */
    struct pool_job *done_head, *done_tail; /* finished, for the loop */
    int64_t n_waiting;                      /* jobs submitted, not taken by a thread yet */
    _Atomic int64_t *waiting_gauge;         /* n_waiting published (pool_count_waiting) */
    bool stop;
    int efd;
    int n;
    pthread_t *threads;
    void (*begin)(void);
    void (*end)(void);
};

static void
push(struct pool_job **head, struct pool_job **tail, struct pool_job *j)
{
    j->next = NULL;
    if (*tail != NULL) {
        (*tail)->next = j;
    } else {
        *head = j;
    }
    *tail = j;
}

/* With the lock held: the stores are serialised by it, so the gauge has
 * one writer at a time. */
static void
set_waiting(struct pool *p, int64_t n)
{
    p->n_waiting = n;
    if (p->waiting_gauge != NULL) {
        atomic_store_explicit(p->waiting_gauge, n, memory_order_relaxed);
    }
}

struct thread_arg {
    struct pool *p;
    int index;
};

static struct pool_job *
pop(struct pool_job **head, struct pool_job **tail)
{
    struct pool_job *j = *head;
    *head = j->next;
    if (*head == NULL) {
        *tail = NULL;
    }
    return j;
}

static void *
thread_main(void *arg)
{
    struct thread_arg *ta = arg;
    struct pool *p = ta->p;
    int me = ta->index;
    free(ta);
    struct pinned *mine = &p->pinned[me];
    if (p->begin != NULL) {
        p->begin();
    }
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (mine->head == NULL && p->head == NULL && !p->stop) {
            pthread_cond_wait(&p->cond, &p->lock);
        }
        if (mine->head == NULL && p->head == NULL && p->stop) {
            break;
        }
        /* Work pinned to this thread first: it continues a response. */
        struct pool_job *j = mine->head != NULL ? pop(&mine->head, &mine->tail)
                                                : pop(&p->head, &p->tail);
        j->ran_on = me;
        set_waiting(p, p->n_waiting - 1);
        pthread_mutex_unlock(&p->lock);
        j->run(j);
        pthread_mutex_lock(&p->lock);
        bool was_empty = p->done_head == NULL;
        push(&p->done_head, &p->done_tail, j);
        if (was_empty) {
            /* One wake-up per batch: the loop takes the whole list. */
            uint64_t one = 1;
            ssize_t r = write(p->efd, &one, sizeof(one));
            (void)r;
        }
    }
    pthread_mutex_unlock(&p->lock);
    if (p->end != NULL) {
        p->end();
    }
    outq_thread_exit();
    return NULL;
}

struct pool *
pool_new(int n, void (*thread_begin)(void), void (*thread_end)(void))
{
    struct pool *p = xcalloc(1, sizeof(*p));
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->cond, NULL);
    p->begin = thread_begin;
    p->end = thread_end;
    p->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (p->efd < 0) {
        log_error("eventfd: %m");
        free(p);
        return NULL;
    }
    p->threads = xcalloc((size_t)n, sizeof(pthread_t));
    p->pinned = xcalloc((size_t)n, sizeof(*p->pinned));
    /* Signals belong to the loop thread (its self-pipe); pool threads
     * block them so a handler never interrupts application code. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    for (int i = 0; i < n; i++) {
        struct thread_arg *ta = xmalloc(sizeof(*ta));
        ta->p = p;
        ta->index = i;
        int rc = pthread_create(&p->threads[i], NULL, thread_main, ta);
        if (rc != 0) {
            errno = rc;
            free(ta);
            log_error("pthread_create: %m");
            break;
        }
        p->n++;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (p->n == 0) {
        pool_free(p);
        return NULL;
    }
    return p;
}

int
pool_fd(const struct pool *p)
{
    return p->efd;
}

void
pool_submit(struct pool *p, struct pool_job *job)
{
    pthread_mutex_lock(&p->lock);
    if (job->pin >= 0 && job->pin < p->n) {
        push(&p->pinned[job->pin].head, &p->pinned[job->pin].tail, job);
        /* Only that thread may take it: wake them all, it is among them. */
        pthread_cond_broadcast(&p->cond);
    } else {
        push(&p->head, &p->tail, job);
        pthread_cond_signal(&p->cond);
    }
    set_waiting(p, p->n_waiting + 1);
    pthread_mutex_unlock(&p->lock);
}

void
pool_count_waiting(struct pool *p, _Atomic int64_t *gauge)
{
    pthread_mutex_lock(&p->lock);
    p->waiting_gauge = gauge;
    set_waiting(p, p->n_waiting);
    pthread_mutex_unlock(&p->lock);
}

struct pool_job *
pool_take_done(struct pool *p)
{
    uint64_t v;
    ssize_t r = read(p->efd, &v, sizeof(v));
    (void)r;
    pthread_mutex_lock(&p->lock);
    struct pool_job *list = p->done_head;
    p->done_head = p->done_tail = NULL;
    pthread_mutex_unlock(&p->lock);
    return list;
}

void
pool_free(struct pool *p)
{
    if (p == NULL) {
        return;
    }
    pthread_mutex_lock(&p->lock);
    p->stop = true;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
    for (int i = 0; i < p->n; i++) {
        pthread_join(p->threads[i], NULL);
    }
    close(p->efd);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->cond);
    free(p->threads);
    free(p->pinned);
    free(p);
}
