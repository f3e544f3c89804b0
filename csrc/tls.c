/* HTTPS with OpenSSL 3, non-blocking inside the event loop.
 *
 * The context is built once (main, before fork). Each connection gets an SSL
 * on its socket and is driven through struct io_ops: OpenSSL's "want read /
 * want write" becomes IO_AGAIN plus the epoll event to wait for, as redis's
 * tls.c does. Two OpenSSL rules shape the write side:
 *   - after SSL_write says WANT_WRITE, the retry must offer the same bytes
 *     and at least as many: writes go out in records of at most TLS_CHUNK
 *     bytes taken from the front of the output queue, which only grows at
 *     its back, so a retry always starts with the same record;
 *   - decrypted bytes may wait inside OpenSSL where epoll cannot see them:
 *     io_ops.pending tells conn.c to read them without waiting. */
#include "tls.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "log.h"

/* One TLS record's worth of plaintext: SSL_write is called with at most
 * this much, so each call makes one record and one write(2). */
#define TLS_CHUNK 16384
/* Bytes one sendfile call may move through pread + SSL_write before it
 * returns, so one large file cannot hold the loop for long. */
#define TLS_SENDFILE_BURST (256 * 1024)

struct tls_ctx {
    SSL_CTX *ssl_ctx;
    bool verify; /* client certificates requested */
};

struct tls_conn {
    SSL *ssl;
    int fd;
    bool verify;
    bool handshake_done;
    bool failed; /* a fatal error: no close_notify may follow */
    bool ktls_send;
    char *subject;
    char err[160];
};

/* Writes gather small iovecs into one record here. Only the loop thread
 * does socket I/O, but thread-local costs nothing and keeps it safe. */
static _Thread_local unsigned char chunk_buf[TLS_CHUNK];

/* ---------------------------------------------------------------------- */
/* The context */


/* The most specific reason OpenSSL queued ("key values mismatch"), and
 * empties the queue. */
static const char *
ssl_reason(char *buf, size_t bufsz)
{
    unsigned long e = ERR_peek_last_error();
    const char *r = e ? ERR_reason_error_string(e) : NULL;
    if (r == NULL && e != 0) {
        ERR_error_string_n(e, buf, bufsz);
    } else {
        snprintf(buf, bufsz, "%s", r ? r : "unknown OpenSSL error");
    }
    ERR_clear_error();
    return buf;
}

/* A file OpenSSL will read: report a missing or unreadable one in plain
 * words, before OpenSSL says "system library". */
static int
check_readable(const char *opt, const char *path, char *err, size_t errsz)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        errfmt(err, errsz, "%s %s: %s", opt, path, strerror(errno));
        return -1;
    }
    close(fd);
    return 0;
}

/* Called by OpenSSL only for an encrypted key: refuse (a server started by
 * systemd or docker has nobody to type a passphrase) and remember why. */
static int
on_key_password(char *buf, int size, int rwflag, void *userdata)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    *(bool *)userdata = true;
    return -1;
}

static int
on_alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen, const unsigned char *in,
               unsigned int inlen, void *arg)
{
    static const unsigned char ours[] = "\x08http/1.1";
    unsigned char *sel;
    (void)ssl;
    (void)arg;
    if (SSL_select_next_proto(&sel, outlen, ours, sizeof(ours) - 1, in, inlen) !=
        OPENSSL_NPN_NEGOTIATED) {
        /* The client speaks only protocols we do not (h2 alone): telling it
         * now beats a 400 for a request in a protocol we cannot parse. */
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    }
    *out = sel;
    return SSL_TLSEXT_ERR_OK;
}

static void
mismatch(char *err, size_t errsz, const char *opt, const char *path, const char *certfile)
{
    errfmt(err, errsz, "%s %s: the private key does not match the certificate in --certfile %s", opt,
         path, certfile);
}

static int
load_key(SSL_CTX *sc, const char *opt, const char *path, const char *certfile, char *err,
         size_t errsz)
{
    bool encrypted = false;
    char why[256];
    SSL_CTX_set_default_passwd_cb(sc, on_key_password);
    SSL_CTX_set_default_passwd_cb_userdata(sc, &encrypted);
    int ok = SSL_CTX_use_PrivateKey_file(sc, path, SSL_FILETYPE_PEM);
    SSL_CTX_set_default_passwd_cb(sc, NULL);
    SSL_CTX_set_default_passwd_cb_userdata(sc, NULL);
    if (ok == 1) {
        return 0;
    }
    if (encrypted) {
        ERR_clear_error();
        errfmt(err, errsz,
             "%s %s: the private key is encrypted (passphrase-protected); wsgihost cannot "
             "prompt for a passphrase: decrypt it once with 'openssl pkey -in %s -out "
             "plain.key' and keep the result readable only by the server's user",
             opt, path, path);
        return -1;
    }
    /* OpenSSL compares the key with the certificate while loading it. */
    unsigned long e = ERR_peek_last_error();
    if (ERR_GET_LIB(e) == ERR_LIB_X509 && (ERR_GET_REASON(e) == X509_R_KEY_VALUES_MISMATCH ||
                                           ERR_GET_REASON(e) == X509_R_KEY_TYPE_MISMATCH)) {
        ERR_clear_error();
        mismatch(err, errsz, opt, path, certfile);
        return -1;
    }
    errfmt(err, errsz, "%s %s: cannot load a PEM private key: %s", opt, path,
         ssl_reason(why, sizeof(why)));
    return -1;
}

struct tls_ctx *
tls_ctx_new(const struct config *cfg, char *err, size_t errsz)
{
    char why[256];
    const char *keyopt = cfg->keyfile ? "--keyfile" : "--certfile";
    const char *keyfile = cfg->keyfile ? cfg->keyfile : cfg->certfile;

    if (check_readable("--certfile", cfg->certfile, err, errsz) < 0 ||
        check_readable(keyopt, keyfile, err, errsz) < 0 ||
        (cfg->ca_certs && check_readable("--ca-certs", cfg->ca_certs, err, errsz) < 0)) {
        return NULL;
    }
    ERR_clear_error();
    SSL_CTX *sc = SSL_CTX_new(TLS_server_method());
    if (sc == NULL) {
        errfmt(err, errsz, "cannot create the TLS context: %s", ssl_reason(why, sizeof(why)));
        return NULL;
    }
    if (!SSL_CTX_set_min_proto_version(sc, cfg->tls_min_version == 13 ? TLS1_3_VERSION
                                                                      : TLS1_2_VERSION)) {
        errfmt(err, errsz, "--tls-min-version: %s", ssl_reason(why, sizeof(why)));
        goto fail;
    }
    SSL_CTX_set_options(sc, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                                SSL_OP_CIPHER_SERVER_PREFERENCE |
                                /* HTTP frames its own messages: a peer that
                                 * closes without close_notify cannot truncate
                                 * a request unnoticed, so that is plain EOF. */
                                SSL_OP_IGNORE_UNEXPECTED_EOF
#ifdef SSL_OP_ENABLE_KTLS
                                /* kernel TLS when the kernel has it: then
                                 * file responses go out with SSL_sendfile */
                                | SSL_OP_ENABLE_KTLS
#endif
    );
    SSL_CTX_set_mode(sc, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                             /* idle keep-alive connections give back ~34 KiB each */
                             SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_clear_mode(sc, SSL_MODE_AUTO_RETRY);
    SSL_CTX_set_read_ahead(sc, 1);
    /* Stateless tickets (TLS 1.2 and 1.3) resume on any worker: the ticket
     * keys are made here, before fork. The per-process session cache is
     * kept for clients that only offer a session id. */
    SSL_CTX_set_session_cache_mode(sc, SSL_SESS_CACHE_SERVER);
    static const unsigned char sid_ctx[] = "wsgihost";
    SSL_CTX_set_session_id_context(sc, sid_ctx, sizeof(sid_ctx) - 1);
    SSL_CTX_set_alpn_select_cb(sc, on_alpn_select, NULL);
    SSL_CTX_set_dh_auto(sc, 1);

    if (cfg->ciphers != NULL && SSL_CTX_set_cipher_list(sc, cfg->ciphers) != 1) {
        errfmt(err, errsz, "--ciphers '%s': %s", cfg->ciphers, ssl_reason(why, sizeof(why)));
        goto fail;
    }
    if (SSL_CTX_use_certificate_chain_file(sc, cfg->certfile) != 1) {
        errfmt(err, errsz, "--certfile %s: cannot load a PEM certificate chain: %s", cfg->certfile,
             ssl_reason(why, sizeof(why)));
        goto fail;
    }
    if (load_key(sc, keyopt, keyfile, cfg->certfile, err, errsz) < 0) {
        goto fail;
    }
    if (SSL_CTX_check_private_key(sc) != 1) {
        ERR_clear_error();
        mismatch(err, errsz, keyopt, keyfile, cfg->certfile);
        goto fail;
    }
    bool verify = cfg->cert_reqs != CONFIG_CERT_NONE;
    if (verify) {
        if (SSL_CTX_load_verify_locations(sc, cfg->ca_certs, NULL) != 1) {
            errfmt(err, errsz, "--ca-certs %s: cannot load PEM CA certificates: %s", cfg->ca_certs,
                 ssl_reason(why, sizeof(why)));
            goto fail;
        }
        /* Tell clients which CAs we accept, so they pick the right cert. */
        STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(cfg->ca_certs);
        if (names != NULL) {
            SSL_CTX_set_client_CA_list(sc, names);
        }
        ERR_clear_error();
        int mode = SSL_VERIFY_PEER;
        if (cfg->cert_reqs == CONFIG_CERT_REQUIRED) {
            mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
        }
        SSL_CTX_set_verify(sc, mode, NULL);
    }
    struct tls_ctx *ctx = xcalloc(1, sizeof(*ctx));
    ctx->ssl_ctx = sc;
    ctx->verify = verify;
    return ctx;
fail:
    SSL_CTX_free(sc);
    return NULL;
}

void
tls_ctx_free(struct tls_ctx *ctx)
{
    if (ctx != NULL) {
        SSL_CTX_free(ctx->ssl_ctx);
        free(ctx);
    }
}

/* ---------------------------------------------------------------------- */
/* One connection */

struct tls_conn *
tls_conn_new(struct tls_ctx *ctx, int fd)
{
    ERR_clear_error();
    SSL *ssl = SSL_new(ctx->ssl_ctx);
    if (ssl == NULL || SSL_set_fd(ssl, fd) != 1) {
        char why[256];
        log_error("TLS: cannot set up a connection: %s", ssl_reason(why, sizeof(why)));
        SSL_free(ssl);
        return NULL;
    }
    SSL_set_accept_state(ssl);
    struct tls_conn *t = xcalloc(1, sizeof(*t));
    t->ssl = ssl;
    t->fd = fd;
    t->verify = ctx->verify;
    return t;
}

/* A plain-HTTP request reached the TLS port: answer it in plain HTTP, so
 * that a developer who typed http:// sees why instead of a reset. */
static void
answer_plain_http(int fd)
{
#define PLAIN_HTTP_BODY "This port speaks HTTPS: use an https:// address.\n"
    static const char msg[] = "HTTP/1.1 400 Bad Request\r\n"
                              "Content-Type: text/plain; charset=utf-8\r\n"
                              "Content-Length: 49\r\n"
                              "Connection: close\r\n"
                              "\r\n" PLAIN_HTTP_BODY;
    _Static_assert(sizeof(PLAIN_HTTP_BODY) - 1 == 49, "Content-Length");
    ssize_t r = write(fd, msg, sizeof(msg) - 1);
    (void)r; /* best effort: the connection closes either way */
}

/* SSL_get_error() → our return convention. r is what the SSL call returned. */
static ssize_t
map_error(struct tls_conn *t, int r, uint32_t *want, bool reading)
{
    int e = SSL_get_error(t->ssl, r);
    switch (e) {
    case SSL_ERROR_WANT_READ:
        *want = EPOLLIN;
        return IO_AGAIN;
    case SSL_ERROR_WANT_WRITE:
        *want = EPOLLOUT;
        return IO_AGAIN;
    case SSL_ERROR_ZERO_RETURN:
        /* close_notify received: the end of the client's data. */
        if (reading) {
            return 0;
        }
        t->failed = true;
        snprintf(t->err, sizeof(t->err), "connection closed by the peer");
        errno = EPIPE;
        return -1;
    case SSL_ERROR_SYSCALL: {
        int saved = errno;
        t->failed = true;
        if (ERR_peek_error() == 0 && (r == 0 || saved == 0)) {
            /* EOF without close_notify (SSL_OP_IGNORE_UNEXPECTED_EOF makes
             * this rare): an end of stream for a reader. */
            snprintf(t->err, sizeof(t->err), "connection closed by the peer");
            if (reading) {
                return 0;
            }
            errno = EPIPE;
            return -1;
        }
        ERR_clear_error();
        snprintf(t->err, sizeof(t->err), "%s", strerror(saved));
        errno = saved ? saved : EIO;
        return -1;
    }
    default: {
        char why[256];
        t->failed = true;
        snprintf(t->err, sizeof(t->err), "%s", ssl_reason(why, sizeof(why)));
        errno = EPROTO;
        return -1;
    }
    }
}

static ssize_t
tls_read(void *p, void *buf, size_t n, uint32_t *want)
{
    struct tls_conn *t = p;
    ERR_clear_error();
    int r = SSL_read(t->ssl, buf, n > INT_MAX ? INT_MAX : (int)n);
    if (r > 0) {
        return r;
    }
    return map_error(t, r, want, true);
}

/* One SSL_write of len bytes at p. */
static ssize_t
write_record(struct tls_conn *t, const void *p, size_t len, uint32_t *want)
{
    ERR_clear_error();
    int r = SSL_write(t->ssl, p, (int)len);
    if (r > 0) {
        return r;
    }
    return map_error(t, r, want, false);
}

static ssize_t
tls_writev(void *p, const struct iovec *iov, int iovcnt, uint32_t *want)
{
    struct tls_conn *t = p;
    size_t total = 0;
    for (int i = 0; i < iovcnt; i++) {
        total += iov[i].iov_len;
    }
    size_t done = 0;
    int idx = 0;     /* iovec holding byte `done` */
    size_t ioff = 0; /* offset of byte `done` inside it */
    while (done < total) {
        while (idx < iovcnt && ioff == iov[idx].iov_len) {
            idx++;
            ioff = 0;
        }
        size_t len = total - done < TLS_CHUNK ? total - done : TLS_CHUNK;
        const unsigned char *src;
        if (iov[idx].iov_len - ioff >= len) {
            src = (const unsigned char *)iov[idx].iov_base + ioff; /* no copy needed */
        } else {
            /* Gather: a response head and a small body become one record. */
            size_t got = 0;
            int j = idx;
            size_t joff = ioff;
            while (got < len) {
                size_t take = iov[j].iov_len - joff;
                if (take > len - got) {
                    take = len - got;
                }
                memcpy(chunk_buf + got, (const char *)iov[j].iov_base + joff, take);
                got += take;
                j++;
                joff = 0;
            }
            src = chunk_buf;
        }
        ssize_t r = write_record(t, src, len, want);
        if (r < 0) {
            if (r == IO_AGAIN && done > 0) {
                return (ssize_t)done; /* short: the caller waits for *want */
            }
            return r;
        }
        done += (size_t)r;
        /* Advance the cursor by r bytes. */
        size_t adv = (size_t)r;
        while (adv > 0) {
            size_t room = iov[idx].iov_len - ioff;
            if (adv < room) {
                ioff += adv;
                adv = 0;
            } else {
                adv -= room;
                idx++;
                ioff = 0;
            }
        }
    }
    return (ssize_t)done;
}

static ssize_t
tls_sendfile(void *p, int fd, off_t *off, size_t n, uint32_t *want)
{
    struct tls_conn *t = p;
#ifndef OPENSSL_NO_KTLS
    if (t->ktls_send) {
        ERR_clear_error();
        ossl_ssize_t r = SSL_sendfile(t->ssl, fd, *off, n, 0);
        if (r > 0) {
            *off += r;
            return r;
        }
        return map_error(t, (int)r, want, false);
    }
#endif
    /* No kernel TLS: read the file and encrypt it ourselves, one record at
     * a time. A retry after IO_AGAIN re-reads the same offset, so OpenSSL
     * sees the same record again. */
    size_t done = 0;
    size_t limit = n < TLS_SENDFILE_BURST ? n : TLS_SENDFILE_BURST;
    while (done < limit) {
        size_t len = limit - done < TLS_CHUNK ? limit - done : TLS_CHUNK;
        ssize_t got;
        do {
            got = pread(fd, chunk_buf, len, *off);
        } while (got < 0 && errno == EINTR);
        if (got < 0) {
            snprintf(t->err, sizeof(t->err), "reading the response file: %s", strerror(errno));
            return done > 0 ? (ssize_t)done : -1;
        }
        if (got == 0) {
            return (ssize_t)done; /* the file shrank; the queue reports it */
        }
        ssize_t r = write_record(t, chunk_buf, (size_t)got, want);
        if (r < 0) {
            return r == IO_AGAIN && done > 0 ? (ssize_t)done : r;
        }
        *off += r;
        done += (size_t)r;
    }
    return (ssize_t)done;
}

/* The verified client certificate's subject, RFC 2253. */
static void
remember_subject(struct tls_conn *t)
{
    if (!t->verify) {
        return;
    }
    X509 *cert = SSL_get0_peer_certificate(t->ssl);
    if (cert == NULL || SSL_get_verify_result(t->ssl) != X509_V_OK) {
        return;
    }
    BIO *bio = BIO_new(BIO_s_mem());
    if (bio == NULL) {
        return;
    }
    if (X509_NAME_print_ex(bio, X509_get_subject_name(cert), 0, XN_FLAG_RFC2253) >= 0) {
        char *data;
        long len = BIO_get_mem_data(bio, &data);
        if (len >= 0) {
            t->subject = xstrndup(data, (size_t)len);
        }
    }
    BIO_free(bio);
    ERR_clear_error();
}

static int
tls_handshake(void *p, uint32_t *want)
{
    struct tls_conn *t = p;
    ERR_clear_error();
    int r = SSL_do_handshake(t->ssl);
    if (r == 1) {
        t->handshake_done = true;
#ifndef OPENSSL_NO_KTLS
        t->ktls_send = BIO_get_ktls_send(SSL_get_wbio(t->ssl)) != 0;
#endif
        remember_subject(t);
        return 1;
    }
    unsigned long e = ERR_peek_error();
    ssize_t rc = map_error(t, r, want, false);
    if (rc == IO_AGAIN) {
        return IO_AGAIN;
    }
    if (e != 0 && ERR_GET_LIB(e) == ERR_LIB_SSL && ERR_GET_REASON(e) == SSL_R_HTTP_REQUEST) {
        answer_plain_http(t->fd);
        snprintf(t->err, sizeof(t->err), "a plain HTTP request on the HTTPS port");
    } else if (t->err[0] == '\0' || strcmp(t->err, "connection closed by the peer") == 0) {
        snprintf(t->err, sizeof(t->err), "the client closed the connection during the handshake");
    }
    return -1;
}

static bool
tls_pending(void *p)
{
    struct tls_conn *t = p;
    /* has_pending, not SSL_pending: with read-ahead, whole records may wait
     * undecrypted in OpenSSL's buffer, which SSL_pending does not count. It
     * may also be a partial record; a read then just says IO_AGAIN. */
    return SSL_has_pending(t->ssl) == 1;
}

static void
tls_shutdown(void *p)
{
    struct tls_conn *t = p;
    if (t->failed || !t->handshake_done) {
        return;
    }
    /* One non-blocking attempt at close_notify; we do not wait for the
     * peer's, the socket closes next. Data still queued inside OpenSSL
     * after WANT_WRITE is lost, which is what closing means. */
    ERR_clear_error();
    if (SSL_shutdown(t->ssl) < 0) {
        ERR_clear_error();
    }
}

static const char *
tls_error(void *p)
{
    struct tls_conn *t = p;
    return t->err;
}

static void
tls_free(void *p)
{
    struct tls_conn *t = p;
    if (t == NULL) {
        return;
    }
    SSL_free(t->ssl);
    free(t->subject);
    free(t);
}

const struct io_ops tls_io_ops = {
    .read = tls_read,
    .writev = tls_writev,
    .sendfile = tls_sendfile,
    .handshake = tls_handshake,
    .pending = tls_pending,
    .shutdown = tls_shutdown,
    .peer_subject = tls_peer_subject,
    .error = tls_error,
    .free = tls_free,
};

const char *
tls_peer_subject(void *p)
{
    struct tls_conn *t = p;
    return t->subject;
}
