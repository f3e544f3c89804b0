/* llhttp glue: strict parsing of requests into a plain C struct http_req.
 * No Python here; the bridge reads struct http_req only. */
#ifndef WSGIHOST_HTTP_H
#define WSGIHOST_HTTP_H

#include "buf.h"

struct http_limits {
    size_t max_line;        /* request line bytes; 0 = unlimited */
    size_t max_fields;      /* header fields */
    size_t max_field_size;  /* one field line (name + value) */
    uint64_t max_body;      /* 0 = unlimited */
    size_t body_mem_max;    /* beyond this the body spills to an unlinked temp file */
};

/* Facts about the connection a request came on; constant for its life. */
struct http_conn_meta {
    char remote_addr[64]; /* numeric, "" for a unix socket peer */
    int remote_port;      /* 0 for unix sockets */
    char server_name[64]; /* the local address the socket is bound to, or the unix path */
    char server_port[8];  /* decimal, "" for unix sockets */
    const char *url_scheme; /* "http" or "https" */
    const char *ssl_client_s_dn; /* verified TLS client certificate's subject (RFC 2253), or NULL */
};

struct http_body {
    struct buf mem; /* the body when it fits in body_mem_max */
    int fd;         /* -1, or an unlinked temp file holding the whole body */
    uint64_t len;   /* body bytes received (decoded, for chunked) */
};

/* One parsed request. Spans point into storage owned by the parser and stay
 * valid until http_next(). */
struct http_req {
    const char *method;
    size_t method_len;
    const char *target; /* raw request-target as received */
    size_t target_len;
    const char *path;   /* raw (percent-encoded) path; for absolute-form, the part after the authority */
    size_t path_len;
    const char *query;  /* after '?', without it; "" when none */
    size_t query_len;
    const char *host;   /* the Host field value, or the authority of an absolute-form target */
    size_t host_len;
    int http_major;
    int http_minor;
    struct hfield *headers; /* in arrival order, names as received */
    size_t n_headers;
    bool keep_alive;       /* what the request asks for (version and Connection) */
    bool is_head;
    bool expect_continue;
    bool chunked;
    int64_t content_length; /* -1 when absent */
    struct http_body body;
    const struct http_conn_meta *meta;
    double start_wall; /* when the first byte of this request arrived */
    double start_mono;
};

enum http_event {
    HTTP_EV_MORE = 0, /* all input consumed, need more */
    HTTP_EV_HEAD,     /* the head is complete (req fields valid, body not yet) */
    HTTP_EV_REQUEST,  /* the whole request is complete */
    HTTP_EV_ERROR,    /* bad request: answer http_error_status() and close */
};

struct http_parser;

struct http_parser *http_parser_new(const struct http_limits *lim, const struct http_conn_meta *meta);
void http_parser_free(struct http_parser *p);

/* Feed bytes. *consumed tells how many were used; the rest must be fed again
 * later (after HTTP_EV_REQUEST the parser stops at the message end so that
 * pipelined requests wait in the caller's buffer). */
enum http_event http_feed(struct http_parser *p, const char *data, size_t len, size_t *consumed);
/* The connection ended: returns HTTP_EV_REQUEST if that completes a
 * close-delimited message (never for requests), HTTP_EV_ERROR when a request
 * was cut short, HTTP_EV_MORE when nothing was pending. */
enum http_event http_feed_eof(struct http_parser *p);
struct http_req *http_request(struct http_parser *p);
int http_error_status(const struct http_parser *p);
const char *http_error_reason(const struct http_parser *p); /* for the log */
/* The bad request was a HEAD: its error response has no body. */
bool http_error_is_head(const struct http_parser *p);
/* Forget the finished request and get ready for the next one. */
void http_next(struct http_parser *p);
/* True when no byte of a request is pending. */
bool http_idle(const struct http_parser *p);
/* True while the body of the current request is being received. */
bool http_in_body(const struct http_parser *p);
/* True when the request asked for an upgrade (or was CONNECT): close after it. */
bool http_upgraded(const struct http_parser *p);

const char *http_status_reason(int status);

/* RFC 9110 5.6.2 tchar: the bytes a token (a method, a field name) is made
 * of. One table for the parser, the response and the bridge. */
extern const bool http_tchar[256];
static inline bool
http_is_tchar(unsigned char c)
{
    return http_tchar[c];
}

/* A Content-Length value: 1 to 18 decimal digits (below 2^63), nothing
 * else. Returns false for anything but that. */
bool http_parse_content_length(const char *v, size_t n, int64_t *out);

#endif
