/* Signals: handlers only record the signal and write a byte to a self-pipe
 * that the event loop watches. SIGPIPE is ignored. Never Python. */
#ifndef WSGIHOST_SIG_H
#define WSGIHOST_SIG_H

#include <signal.h>

#include "util.h"

/* Install handlers for TERM, INT, QUIT, HUP, USR1, USR2, TTIN, TTOU, CHLD.
 * Must run before Python starts so `import signal` leaves them alone. */
int sig_init(void);
/* The read end of the self-pipe (non-blocking). */
int sig_fd(void);
/* Drain the pipe; returns a bitmask of (1u << signo) received since last call. */
uint64_t sig_take(void);
/* Around fork(): hold the handled signals so none arrives in the child
 * before it has its own self-pipe (it would be lost, or wake the master);
 * release restores the saved mask, delivering what was held. */
void sig_hold(sigset_t *saved);
void sig_release(const sigset_t *saved);
/* SIGABRT (the master's --timeout) to a pipe of its own, for a thread to
 * read (the loop may be stuck in the app): returns its blocking read end,
 * or -1 after logging. Only then is SIGABRT caught at all. */
int sig_abort_fd(void);
/* In a forked child: a self-pipe of its own (handlers stay installed). */
void sig_after_fork(void);

#endif
