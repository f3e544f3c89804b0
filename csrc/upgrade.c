/* USR2: re-execute the master with its sockets open (upgrade.h). */
#include "upgrade.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "hostpy.h"
#include "log.h"
#include "pyrt.h"
#include "sig.h"
#include "wsgi_hooks.h"

#define ENV_FROM    "WSGIHOST_UPGRADE_FROM"
#define ENV_FDS     "WSGIHOST_FDS"
#define ENV_METRICS "WSGIHOST_METRICS_FD"
#define ENV_SYSTEMD "WSGIHOST_FDS_SYSTEMD" /* "1": the sockets are systemd's */
#define MAX_FDS     64

static char exe[PATH_MAX];  /* "" when unknown: no upgrade */
static char cwd[PATH_MAX];  /* "" when unknown: no upgrade */
static int start_argc;
static char **start_argv;
static bool upgrading;      /* started by an old master's USR2 */
static pid_t from_pid;      /* that old master */
static pid_t old_master;    /* set in the new master until promoted */
static pid_t new_master;    /* set in the old master while the new one lives */

void
upgrade_init(int argc, char **argv)
{
    start_argc = argc;
    start_argv = argv;
    /* By path, not /proc/self/exe: after `apt upgrade` that is the old,
     * deleted file. In the host interpreter this process is python3.X, and
     * hostpy_self the wsgihost executable it came from. */
    if (hostpy_active) {
        snprintf(exe, sizeof(exe), "%s", hostpy_self);
    } else {
        ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
        exe[n > 0 ? n : 0] = '\0';
    }
    const char *deleted = " (deleted)";
    size_t el = strlen(exe), dl = strlen(deleted);
    if (el > dl && strcmp(exe + el - dl, deleted) == 0) {
        exe[el - dl] = '\0';
    }
    if (getcwd(cwd, sizeof(cwd)) == NULL) {
        cwd[0] = '\0';
    }
    const char *from = getenv(ENV_FROM);
    if (from != NULL) {
        char *end;
        long pid = strtol(from, &end, 10);
        if (*from != '\0' && *end == '\0' && pid > 1) {
            upgrading = true;
            /* Not our parent any more: the old master is gone already, and
             * this one is promoted from the start. */
            from_pid = (pid_t)pid;
            old_master = from_pid == getppid() ? from_pid : 0;
        }
    }
}

/* "3,4,5" into fds; returns how many, or -1. */
static int
parse_fds(const char *s, int *fds, int max)
{
    int n = 0;
    while (*s != '\0') {
        char *end;
        errno = 0;
        long fd = strtol(s, &end, 10);
        if (end == s || errno != 0 || fd < 0 || fd > INT_MAX || n == max ||
            (*end != ',' && *end != '\0')) {
            return -1;
        }
        fds[n++] = (int)fd;
        s = *end == ',' ? end + 1 : end;
    }
    return n;
}

int
upgrade_inherit(struct listener **out, int *metrics_fd, char *err, size_t errsz)
{
    *out = NULL;
    *metrics_fd = -1;
    const char *fds_s = getenv(ENV_FDS);
    const char *mfd_s = getenv(ENV_METRICS);
    /* Unset here, not in upgrade_init(): main() may re-execute into the
     * interpreter the config file names, between the two. */
    unsetenv(ENV_FROM);
    if (!upgrading) {
        /* Not the new master of an upgrade: not ours to use. */
        unsetenv(ENV_FDS);
        unsetenv(ENV_METRICS);
        unsetenv(ENV_SYSTEMD);
        return 0;
    }
    /* systemd's sockets stay systemd's: their paths are never unlinked. */
    const char *sd = getenv(ENV_SYSTEMD);
    bool systemd = sd != NULL && strcmp(sd, "1") == 0;
    if (old_master == 0) {
        log_info("Upgrade: the old master (pid %d) is gone already; this master takes its place",
                 (int)from_pid);
    }
    int fds[MAX_FDS];
    int n = fds_s != NULL ? parse_fds(fds_s, fds, MAX_FDS) : 0;
    if (n <= 0) {
        errfmt(err, errsz, "%s='%s' (from the old master of an upgrade) is not a list of "
               "sockets", ENV_FDS, fds_s ? fds_s : "");
        return -1;
    }
    if (mfd_s != NULL) {
        int m[1];
        if (parse_fds(mfd_s, m, 1) != 1) {
            errfmt(err, errsz, "%s='%s' is not a socket", ENV_METRICS, mfd_s);
            return -1;
        }
        *metrics_fd = m[0];
    }
    unsetenv(ENV_FDS);
    unsetenv(ENV_METRICS);
    unsetenv(ENV_SYSTEMD);
    struct listener *ls = xcalloc((size_t)n, sizeof(*ls));
    for (int i = 0; i < n; i++) {
        if (listener_adopt(&ls[i], fds[i], systemd, ENV_FDS, err, errsz) != 0) {
            for (int j = 0; j < i; j++) {
                free(ls[j].unix_path);
            }
            free(ls);
            return -1;
        }
    }
    *out = ls;
    return n;
}

pid_t
upgrade_old_master(void)
{
    return old_master;
}

const char *
upgrade_pidfile(const char *pidfile)
{
    static char two[PATH_MAX + 3];
    if (pidfile == NULL || old_master == 0) {
        return pidfile;
    }
    snprintf(two, sizeof(two), "%s.2", pidfile);
    return two;
}

bool
upgrade_check_promoted(const char *pidfile)
{
    if (old_master == 0 || getppid() == old_master) {
        return false;
    }
    const char *two = upgrade_pidfile(pidfile);
    log_info("Master has been promoted (the old master, pid %d, is gone)", (int)old_master);
    if (two != NULL && rename(two, pidfile) != 0) {
        log_error("--pid: cannot rename %s to %s: %m", two, pidfile);
    }
    old_master = 0;
    return true;
}

/* In the forked child: the passed fds stay open across exec, the others
 * (CLOEXEC) close. Returns 0, or -1 logged. */
static int
pass_fds(const struct listener *ls, size_t n_ls, const struct listener *metrics)
{
    char list[MAX_FDS * 12];
    size_t len = 0;
    list[0] = '\0';
    for (size_t i = 0; i < n_ls; i++) {
        if (fcntl(ls[i].fd, F_SETFD, 0) != 0) {
            log_error("upgrade: fd %d: %m", ls[i].fd);
            return -1;
        }
        len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%d", i ? "," : "", ls[i].fd);
    }
    setenv(ENV_FDS, list, 1);
    if (n_ls > 0 && ls[0].inherited) {
        setenv(ENV_SYSTEMD, "1", 1);
    } else {
        unsetenv(ENV_SYSTEMD);
    }
    unsetenv(ENV_METRICS);
    if (metrics != NULL) {
        char m[16];
        if (fcntl(metrics->fd, F_SETFD, 0) != 0) {
            log_error("upgrade: fd %d: %m", metrics->fd);
            return -1;
        }
        snprintf(m, sizeof(m), "%d", metrics->fd);
        setenv(ENV_METRICS, m, 1);
    }
    char pid[16];
    snprintf(pid, sizeof(pid), "%d", (int)getppid());
    setenv(ENV_FROM, pid, 1);
    return 0;
}

pid_t
upgrade_start(const struct listener *ls, size_t n_ls, const struct listener *metrics)
{
    if (new_master != 0) {
        log_warning("Handling signal: usr2; ignored: the new master (pid %d) is running "
                    "already (stop this one with TERM or QUIT to finish the upgrade)",
                    (int)new_master);
        return 0;
    }
    if (old_master != 0) {
        log_warning("Handling signal: usr2; ignored: this is the new master of an upgrade and "
                    "its old master (pid %d) still runs",
                    (int)old_master);
        return 0;
    }
    if (exe[0] == '\0' || cwd[0] == '\0' || n_ls > MAX_FDS) {
        log_error("Handling signal: usr2; ignored: %s",
                  exe[0] == '\0' ? "the path of the wsgihost executable is not known"
                  : cwd[0] == '\0' ? "the starting directory is not known"
                                   : "too many sockets to pass");
        return 0;
    }
    log_info("Handling signal: usr2; starting a new master from %s", exe);
    sigset_t held;
    sig_hold(&held);
    fflush(NULL);
    pid_t pid = pyrt_fork();
    if (pid < 0) {
        sig_release(&held);
        log_error("usr2: fork: %m");
        return 0;
    }
    if (pid == 0) {
        sig_after_fork();
        /* gunicorn runs pre_exec(server) here, in the child: what it
         * changes (os.environ) is the new master's. */
        if (wsgi_hooks_server(HOOK_PRE_EXEC) != 0 || pass_fds(ls, n_ls, metrics) != 0) {
            log_flush();
            _exit(1);
        }
        if (chdir(cwd) != 0) {
            log_error("upgrade: chdir %s: %m", cwd);
            log_flush();
            _exit(1);
        }
        /* The handlers go back to the defaults at exec; the mask would
         * stay, so it goes back to what it was before sig_hold(). */
        sig_release(&held);
        char **argv = xcalloc((size_t)start_argc + 1, sizeof(*argv));
        argv[0] = exe;
        for (int i = 1; i < start_argc; i++) {
            argv[i] = start_argv[i];
        }
        log_flush();
        execv(exe, argv);
        log_error("upgrade: cannot run %s: %m", exe);
        log_flush();
        _exit(127);
    }
    sig_release(&held);
    new_master = pid;
    log_info("New master started (pid %d); this one serves on until it gets TERM or QUIT",
             (int)pid);
    return pid;
}

bool
upgrade_reaped(pid_t pid, int status)
{
    if (new_master == 0 || pid != new_master) {
        return false;
    }
    new_master = 0;
    if (WIFSIGNALED(status)) {
        log_error("The new master (pid %d) was killed by signal %d (%s); this master serves on",
                  (int)pid, WTERMSIG(status), strsignal(WTERMSIG(status)));
    } else if (WIFEXITED(status) && WEXITSTATUS(status) != 0) {
        log_error("The new master (pid %d) exited with code %d; this master serves on "
                  "(its log says why)",
                  (int)pid, WEXITSTATUS(status));
    } else {
        log_info("The new master (pid %d) has exited; this master serves on", (int)pid);
    }
    return true;
}

bool
upgrade_owns_sockets(void)
{
    return new_master == 0 && old_master == 0;
}
