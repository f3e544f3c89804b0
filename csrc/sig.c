#include "sig.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

static int pipefd[2] = {-1, -1};
static volatile sig_atomic_t pending[65];

static const int handled[] = {SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR1,
                              SIGUSR2, SIGTTIN, SIGTTOU, SIGCHLD};

static void
on_signal(int signo)
{
    int saved = errno;
    pending[signo] = 1;
    char c = (char)signo;
    /* A full pipe already guarantees a wake-up; the byte may be dropped. */
    ssize_t r = write(pipefd[1], &c, 1);
    (void)r;
    errno = saved;
}

int
sig_init(void)
{
    if (pipefd[0] < 0) {
        if (pipe2(pipefd, O_NONBLOCK | O_CLOEXEC) != 0) {
            log_error("pipe2: %m");
            return -1;
        }
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    for (size_t i = 0; i < countof(handled); i++) {
        if (sigaction(handled[i], &sa, NULL) != 0) {
            log_error("sigaction(%d): %m", handled[i]);
            return -1;
        }
    }
    return 0;
}

int
sig_fd(void)
{
    return pipefd[0];
}

uint64_t
sig_take(void)
{
    char tmp[64];
    while (read(pipefd[0], tmp, sizeof(tmp)) > 0) {
    }
    uint64_t mask = 0;
    for (int s = 1; s < 64; s++) {
        if (pending[s]) {
            pending[s] = 0;
            mask |= (uint64_t)1 << s;
        }
    }
    return mask;
}

void
sig_hold(sigset_t *saved)
{
    sigset_t set;
    sigemptyset(&set);
    for (size_t i = 0; i < countof(handled); i++) {
        sigaddset(&set, handled[i]);
    }
    sigprocmask(SIG_BLOCK, &set, saved);
}

void
sig_release(const sigset_t *saved)
{
    sigprocmask(SIG_SETMASK, saved, NULL);
}

static int abort_pipe[2] = {-1, -1};
static pid_t abort_pid; /* the process whose thread reads the pipe */

static void
on_abort(int signo)
{
    int saved = errno;
    if (getpid() != abort_pid) {
        /* A child the app forked without exec (multiprocessing): the pipe
         * is its parent's; SIGABRT means what it always does (delivered,
         * with the default action, once this handler returns). */
        signal(SIGABRT, SIG_DFL);
        raise(SIGABRT);
        errno = saved;
        return;
    }
    char c = (char)signo;
    ssize_t r = write(abort_pipe[1], &c, 1);
    (void)r;
    errno = saved;
}

int
sig_abort_fd(void)
{
    if (abort_pipe[0] < 0) {
        if (pipe2(abort_pipe, O_CLOEXEC) != 0) {
            log_error("pipe2: %m");
            return -1;
        }
        /* The handler must never block; the reader does. */
        fcntl(abort_pipe[1], F_SETFL, O_NONBLOCK);
    }
    abort_pid = getpid();
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_abort;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    if (sigaction(SIGABRT, &sa, NULL) != 0) {
        log_error("sigaction(SIGABRT): %m");
        return -1;
    }
    return abort_pipe[0];
}

void
sig_after_fork(void)
{
    /* A forked worker must not share the master's self-pipe: a signal sent
     * to the worker would wake the master, and the other way round. */
    close(pipefd[0]);
    close(pipefd[1]);
    pipefd[0] = pipefd[1] = -1;
    for (size_t i = 0; i < countof(pending); i++) {
        pending[i] = 0;
    }
    if (pipe2(pipefd, O_NONBLOCK | O_CLOEXEC) != 0) {
        log_error("pipe2: %m");
    }
}
