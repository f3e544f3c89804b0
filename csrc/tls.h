/* HTTPS: one OpenSSL context built from the configuration, and the
 * per-connection transport (struct io_ops) that conn.c drives without
 * knowing it is TLS. No Python here, and OpenSSL callbacks never call it. */
#ifndef WSGIHOST_TLS_H
#define WSGIHOST_TLS_H

#include "config.h"
#include "io.h"

struct tls_ctx;
struct tls_conn;

/* Build the context from --certfile, --keyfile, --ca-certs, --cert-reqs,
 * --ciphers, --tls-min-version. Done once, before the workers fork, so that
 * every worker shares the session-ticket keys (a ticket issued by one worker
 * resumes on any other). Returns NULL with err filled with one line naming
 * the file or option and the reason. */
struct tls_ctx *tls_ctx_new(const struct config *cfg, char *err, size_t errsz);
void tls_ctx_free(struct tls_ctx *ctx);

/* The transport for an accepted, non-blocking socket (server side). The
 * handshake is left to io_ops.handshake. Returns NULL (logged) when OpenSSL
 * cannot allocate. tls_io_ops.free releases it; the fd stays the caller's. */
struct tls_conn *tls_conn_new(struct tls_ctx *ctx, int fd);
extern const struct io_ops tls_io_ops;

/* The verified client certificate's subject, RFC 2253 ("CN=alice,O=Example"),
 * or NULL when the client sent none. Valid once the handshake is done, for
 * the connection's life. */
const char *tls_peer_subject(void *t);

#endif
