/* The start-up summary (banner.h). */
#include "banner.h"

#include <ifaddrs.h>
#include <limits.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "listener.h"
#include "log.h"

#define MAX_ADDRS 4 /* this machine's addresses listed for one wildcard bind (fits the line) */

static const char *
scheme_of(const struct listener *l)
{
    return strncmp(l->display, "https://", 8) == 0 ? "https" : "http";
}

static void
url_for(const struct listener *l, const char *host, bool v6, char *out, size_t outsz)
{
    snprintf(out, outsz, "%s://%s%s%s:%s/", scheme_of(l), v6 ? "[" : "", host, v6 ? "]" : "",
             l->port);
}

/* Up to max of this machine's non-loopback addresses of family af (IPv6:
 * global ones only; a link-local address needs a zone a browser cannot
 * take), appended to line as " (from other machines: URL, URL)". Returns
 * how many. */
static int
append_machine_urls(const struct listener *l, int af, char *line, size_t linesz, int max)
{
    struct ifaddrs *ifs;
    if (getifaddrs(&ifs) != 0) {
        return 0;
    }
    int found = 0;
    for (struct ifaddrs *i = ifs; i != NULL && found < max; i = i->ifa_next) {
        if (i->ifa_addr == NULL || i->ifa_addr->sa_family != af || !(i->ifa_flags & IFF_UP) ||
            (i->ifa_flags & IFF_LOOPBACK)) {
            continue;
        }
        if (af == AF_INET6) {
            const struct in6_addr *a = &((const struct sockaddr_in6 *)i->ifa_addr)->sin6_addr;
            if (IN6_IS_ADDR_LINKLOCAL(a) || IN6_IS_ADDR_LOOPBACK(a)) {
                continue;
            }
        }
        char host[64];
        socklen_t sl = af == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
        if (getnameinfo(i->ifa_addr, sl, host, sizeof(host), NULL, 0, NI_NUMERICHOST) != 0) {
            continue;
        }
        char url[128];
        url_for(l, host, af == AF_INET6, url, sizeof(url));
        if (strstr(line, url) != NULL) {
            continue; /* one address on two interfaces */
        }
        size_t used = strlen(line);
        snprintf(line + used, linesz - used, "%s%s", found == 0 ? " (from other machines: " : ", ",
                 url);
        found++;
    }
    freeifaddrs(ifs);
    if (found > 0) {
        size_t used = strlen(line);
        snprintf(line + used, linesz - used, ")");
    }
    return found;
}

/* "Open URL in a browser" for one listener; for a wildcard bind the
 * loopback URL first, then this machine's addresses. */
static void
log_urls(const struct listener *l)
{
    if (l->is_unix) {
        const char *path = strncmp(l->display, "unix:", 5) == 0 ? l->display + 5 : l->host;
        log_info("Try: curl --unix-socket %s http://localhost/", path);
        return;
    }
    bool any4 = strcmp(l->host, "0.0.0.0") == 0;
    bool any6 = strcmp(l->host, "::") == 0;
    bool v6 = strchr(l->host, ':') != NULL;
    char url[128], others[1024] = "";
    url_for(l, any4 ? "127.0.0.1" : any6 ? "::1" : l->host, v6, url, sizeof(url));
    if (any4 || any6) {
        append_machine_urls(l, any4 ? AF_INET : AF_INET6, others, sizeof(others), MAX_ADDRS);
    }
    log_info("Open %s in a browser%s", url, others);
}

void
banner_log(const struct config *cfg, const struct listener *ls, size_t n)
{
    const char *cmd_args = getenv("WSGIHOST_CMD_ARGS")   ? "$WSGIHOST_CMD_ARGS"
                           : getenv("GUNICORN_CMD_ARGS") ? "$GUNICORN_CMD_ARGS"
                                                         : NULL;
    char more[64] = "";
    if (cmd_args != NULL) {
        snprintf(more, sizeof(more), "; options also from %s", cmd_args);
    }
    if (cfg->config_file != NULL) {
        char abs[PATH_MAX];
        log_info("Config file: %s%s", realpath(cfg->config_file, abs) ? abs : cfg->config_file,
                 more);
    } else {
        log_info("Config file: none (-c FILE names one)%s", more);
    }

    char threads[64];
    snprintf(threads, sizeof(threads), "%d app thread%s", cfg->threads,
             cfg->threads == 1 ? "" : "s");
    const char *extra = cfg->reload    ? ", restarted when a source file changes (--reload)"
                        : cfg->preload ? ", app imported in the master (--preload)"
                                       : "";
    if (cfg->workers > 0) {
        log_info("Serving %s with a master (pid %d) and %d worker process%s, %s each%s",
                 cfg->app_spec, (int)getpid(), cfg->workers, cfg->workers == 1 ? "" : "es", threads,
                 extra);
    } else {
        log_info("Serving %s in a single process, %s%s", cfg->app_spec, threads, extra);
    }
    for (size_t i = 0; i < n; i++) {
        log_urls(&ls[i]);
    }
}
