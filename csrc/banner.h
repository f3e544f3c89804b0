/* The start-up summary: what a newcomer needs to know once the sockets are
 * bound. The configuration file read (or none), the mode (one process, or
 * a master and N workers) with the app threads, and the URL(s) to open —
 * for a wildcard bind, the loopback URL and this machine's addresses; https
 * when TLS is on; curl's --unix-socket line for a unix socket. The Python
 * and virtualenv in use come later, from the process that starts Python
 * (pyrt.c). No Python here. */
#ifndef WSGIHOST_BANNER_H
#define WSGIHOST_BANNER_H

#include <stddef.h>

struct config;
struct listener;

/* Log the summary (INFO lines) for cfg serving on ls[0..n). */
void banner_log(const struct config *cfg, const struct listener *ls, size_t n);

#endif
