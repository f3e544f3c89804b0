#include "listener.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <stdarg.h>

static void describe_inet(struct listener *l, const struct sockaddr_storage *ss, socklen_t sl);

static int
open_unix(struct listener *l, const char *path, int backlog, char *err, size_t errsz)
{
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(sa.sun_path)) {
        errfmt(err, errsz, "cannot bind unix:%s: path too long (max %zu bytes)", path,
                  sizeof(sa.sun_path) - 1);
        return -1;
    }
    strcpy(sa.sun_path, path);
    /* A stale socket from a previous run is replaced, as gunicorn does; any
     * other kind of file is left alone and reported. */
    struct stat st;
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            errfmt(err, errsz, "cannot bind unix:%s: file exists and is not a socket", path);
            return -1;
        }
        unlink(path);
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        errfmt(err, errsz, "socket(AF_UNIX): %s", strerror(errno));
        return -1;
    }
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        errfmt(err, errsz, "cannot bind unix:%s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    if (listen(fd, backlog) != 0) {
        errfmt(err, errsz, "cannot listen on unix:%s: %s", path, strerror(errno));
        close(fd);
        unlink(path);
        return -1;
    }
    l->fd = fd;
    l->is_unix = true;
    l->unix_path = xstrdup(path);
    snprintf(l->host, sizeof(l->host), "%s", path);
    l->port[0] = '\0';
    snprintf(l->display, sizeof(l->display), "unix:%s", path);
    return 0;
}

static int
split_hostport(const char *spec, char *host, size_t hostsz, char *port, size_t portsz)
{
    const char *p;
    if (spec[0] == '[') {
        const char *end = strchr(spec, ']');
        if (end == NULL) {
            return -1;
        }
        size_t n = (size_t)(end - spec - 1);
        if (n >= hostsz) {
            return -1;
        }
        memcpy(host, spec + 1, n);
        host[n] = '\0';
        p = end + 1;
        if (*p == '\0') {
            snprintf(port, portsz, "8000");
            return 0;
        }
        if (*p != ':') {
            return -1;
        }
        p++;
    } else {
        const char *colon = strrchr(spec, ':');
        if (colon == NULL) {
            if (strlen(spec) >= hostsz) {
                return -1;
            }
            snprintf(host, hostsz, "%s", spec);
            snprintf(port, portsz, "8000");
            return 0;
        }
        size_t n = (size_t)(colon - spec);
        if (n >= hostsz || memchr(spec, ':', n) != NULL) {
            return -1;
        }
        memcpy(host, spec, n);
        host[n] = '\0';
        p = colon + 1;
    }
    if (*p == '\0' || strlen(p) >= portsz || strspn(p, "0123456789") != strlen(p) ||
        atoi(p) > 65535) {
        return -1;
    }
    snprintf(port, portsz, "%s", p);
    return 0;
}

int
listener_open(struct listener *l, const char *spec, int backlog, char *err, size_t errsz)
{
    memset(l, 0, sizeof(*l));
    l->fd = -1;
    if (strncmp(spec, "unix:", 5) == 0) {
        return open_unix(l, spec + 5, backlog, err, errsz);
    }
    char host[256], port[16];
    if (split_hostport(spec, host, sizeof(host), port, sizeof(port)) != 0) {
        errfmt(err, errsz, "invalid bind address '%s' (expected HOST:PORT, [IPv6]:PORT or unix:PATH)",
                  spec);
        return -1;
    }
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    int rc = getaddrinfo(host[0] ? host : NULL, port, &hints, &res);
    if (rc != 0) {
        errfmt(err, errsz, "cannot bind %s: %s", spec, gai_strerror(rc));
        return -1;
    }
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        errfmt(err, errsz, "cannot bind %s: socket: %s", spec, strerror(errno));
        freeaddrinfo(res);
        return -1;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (res->ai_family == AF_INET6) {
        /* "[::]:P" should serve IPv6 only; IPv4 gets its own --bind. */
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    }
    if (bind(fd, res->ai_addr, res->ai_addrlen) != 0) {
        errfmt(err, errsz, "cannot bind %s: %s", spec, strerror(errno));
        close(fd);
        freeaddrinfo(res);
        return -1;
    }
    freeaddrinfo(res);
    if (listen(fd, backlog) != 0) {
        errfmt(err, errsz, "cannot listen on %s: %s", spec, strerror(errno));
        close(fd);
        return -1;
    }
    l->fd = fd;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    describe_inet(l, &ss, sl);
    return 0;
}

/* host, port and display of a bound TCP socket. */
static void
describe_inet(struct listener *l, const struct sockaddr_storage *ss, socklen_t sl)
{
    char nhost[INET6_ADDRSTRLEN + 1] = "", nport[8] = "";
    getnameinfo((const struct sockaddr *)ss, sl, nhost, sizeof(nhost), nport, sizeof(nport),
                NI_NUMERICHOST | NI_NUMERICSERV);
    snprintf(l->host, sizeof(l->host), "%s", nhost);
    snprintf(l->port, sizeof(l->port), "%s", nport);
    if (ss->ss_family == AF_INET6) {
        snprintf(l->display, sizeof(l->display), "http://[%s]:%s", nhost, nport);
    } else {
        snprintf(l->display, sizeof(l->display), "http://%s:%s", nhost, nport);
    }
}

int
listener_adopt(struct listener *l, int fd, bool systemd, const char *from, char *err,
               size_t errsz)
{
    struct stat st;
    int type = 0, listening = 0;
    socklen_t optlen = sizeof(type);
    memset(l, 0, sizeof(*l));
    l->fd = -1;
    if (fstat(fd, &st) != 0) {
        errfmt(err, errsz, "%s: fd %d: %s", from, fd, strerror(errno));
        return -1;
    }
    if (!S_ISSOCK(st.st_mode)) {
        errfmt(err, errsz, "%s: fd %d is not a socket", from, fd);
        return -1;
    }
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &optlen) != 0 || type != SOCK_STREAM) {
        errfmt(err, errsz, "%s: fd %d is not a stream socket%s", from, fd,
               systemd ? " (ListenStream= in the .socket unit)" : "");
        return -1;
    }
    optlen = sizeof(listening);
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &optlen) != 0 || !listening) {
        errfmt(err, errsz, "%s: fd %d is not a listening socket%s", from, fd,
               systemd ? " (Accept=no in the .socket unit)" : "");
        return -1;
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0 ||
        fcntl(fd, F_SETFD, FD_CLOEXEC) != 0) {
        errfmt(err, errsz, "%s: fd %d: fcntl: %s", from, fd, strerror(errno));
        return -1;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    memset(&ss, 0, sizeof(ss));
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0) {
        errfmt(err, errsz, "%s: fd %d: getsockname: %s", from, fd, strerror(errno));
        return -1;
    }
    l->fd = fd;
    l->inherited = systemd;
    if (ss.ss_family == AF_UNIX) {
        const struct sockaddr_un *su = (const struct sockaddr_un *)&ss;
        size_t plen = sl > offsetof(struct sockaddr_un, sun_path)
                          ? sl - offsetof(struct sockaddr_un, sun_path)
                          : 0;
        char path[sizeof(su->sun_path) + 1];
        if (plen > 0 && su->sun_path[0] == '\0') {
            /* abstract namespace: shown as "@name" */
            path[0] = '@';
            memcpy(path + 1, su->sun_path + 1, plen - 1);
            path[plen] = '\0';
        } else {
            memcpy(path, su->sun_path, plen);
            path[plen] = '\0';
        }
        l->is_unix = true;
        snprintf(l->host, sizeof(l->host), "%.*s", (int)sizeof(l->host) - 1, path);
        l->port[0] = '\0';
        snprintf(l->display, sizeof(l->display), "unix:%s", path);
        if (!systemd && path[0] == '/') {
            l->unix_path = xstrdup(path); /* ours to unlink, as if we had bound it */
        }
    } else if (ss.ss_family == AF_INET || ss.ss_family == AF_INET6) {
        describe_inet(l, &ss, sl);
    } else {
        l->fd = -1;
        errfmt(err, errsz, "%s: fd %d: address family %d is not TCP or unix", from, fd,
             ss.ss_family);
        return -1;
    }
    return 0;
}

/* LISTEN_FDS starts at fd 3 (SD_LISTEN_FDS_START). */
#define LISTEN_FDS_START 3

int
listener_inherit(struct listener **out, char *err, size_t errsz)
{
    *out = NULL;
    const char *pid_s = getenv("LISTEN_PID");
    const char *fds_s = getenv("LISTEN_FDS");
    if (pid_s == NULL || fds_s == NULL) {
        return 0;
    }
    char *end;
    errno = 0;
    unsigned long pid = strtoul(pid_s, &end, 10);
    if (*pid_s == '\0' || *end != '\0' || errno != 0 || pid != (unsigned long)getpid()) {
        return 0; /* meant for another process (systemd's rule) */
    }
    errno = 0;
    unsigned long n = strtoul(fds_s, &end, 10);
    if (*fds_s == '\0' || *end != '\0' || errno != 0 || n > 1024) {
        errfmt(err, errsz, "LISTEN_FDS='%s' is not a number of sockets", fds_s);
        return -1;
    }
    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_FDNAMES");
    if (n == 0) {
        return 0;
    }
    struct listener *ls = xcalloc(n, sizeof(*ls));
    for (unsigned long i = 0; i < n; i++) {
        if (listener_adopt(&ls[i], LISTEN_FDS_START + (int)i, true, "LISTEN_FDS", err,
                           errsz) != 0) {
            free(ls);
            return -1;
        }
    }
    *out = ls;
    return (int)n;
}

void
listener_defer_accept(struct listener *l, double seconds)
{
    if (l->is_unix) {
        return;
    }
    int defer = seconds <= 0 ? 0 : seconds < 1 ? 1 : seconds > 3600 ? 3600 : (int)(seconds + 0.999);
    setsockopt(l->fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &defer, sizeof(defer));
}

void
listener_close(struct listener *l, bool unlink_path)
{
    if (l->fd >= 0) {
        close(l->fd);
        l->fd = -1;
    }
    if (l->unix_path != NULL) {
        if (unlink_path) {
            unlink(l->unix_path);
        }
        free(l->unix_path);
        l->unix_path = NULL;
    }
}
