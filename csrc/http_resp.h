/* Response framing: status line, headers (Date, Server, Connection added),
 * Content-Length or chunked or close-delimited bodies, HEAD/204/304 rules,
 * canned error responses. Writes into an output queue; knows no socket. */
#ifndef WSGIHOST_HTTP_RESP_H
#define WSGIHOST_HTTP_RESP_H

#include "buf.h"
#include "http.h"

/* Above this many queued bytes a producer should pause until the queue drains. */
#define HTTP_RESP_HIGH_WATER (512 * 1024)
#define HTTP_RESP_LOW_WATER  (64 * 1024)

struct http_resp {
    struct outq *out;
    const struct http_req *req;
    int status;           /* 0 until set */
    struct buf status_line; /* "200 OK" */
    struct buf fields;      /* the app's headers, formatted "Name: value\r\n" */
    size_t *field_pos;      /* per header: offset of its line in fields */
    size_t n_fields, cap_fields;
    struct hfield *field_index; /* built on demand for the access log */
    bool has_date, has_server;
    int64_t content_length; /* the app's Content-Length, -1 if none */
    ssize_t cl_field;       /* its index among the fields, -1 if none */
    bool head_sent;
    bool chunked;       /* body framed with chunked encoding */
    bool close_delimited; /* body ends when the connection closes */
    bool no_body;       /* HEAD, 1xx, 204, 304: body bytes are dropped */
    bool keep_alive;    /* in: allowed by the server; out: the connection may be reused */
    bool finished;
    bool yield_each_chunk; /* the producer pauses after every chunk (thread pool) */
    uint64_t body_sent; /* body bytes queued (after truncation) */
};

/* keep_alive: whether the server allows reuse of this connection. */
void http_resp_init(struct http_resp *r, struct outq *out, const struct http_req *req, bool keep_alive);
void http_resp_free(struct http_resp *r);

/* Start (or, before the head is sent, restart) the head. status_line is
 * "NNN Reason"; status is NNN. */
void http_resp_set_status(struct http_resp *r, int status, const char *line, size_t len);
/* Add one header; the caller has validated name and value (token, no CR/LF).
 * Returns -1 (nothing added) for a Content-Length that is not a decimal
 * number or contradicts an earlier one: the bridge raises ValueError. */
int http_resp_add_header(struct http_resp *r, const char *name, size_t nlen, const char *value,
                         size_t vlen);
/* Queue the head. length_hint is the body length when the caller knows the
 * whole body already (used as Content-Length if the app gave none), else -1. */
void http_resp_send_head(struct http_resp *r, int64_t length_hint);
/* Queue body bytes (sends the head first if needed); drops what exceeds the
 * app's Content-Length and everything for HEAD/204/304. */
void http_resp_write(struct http_resp *r, const void *p, size_t n);
/* Queue n bytes of fd from off (sendfile); takes ownership of fd. */
void http_resp_sendfile(struct http_resp *r, int fd, off_t off, uint64_t n);
/* End the body (terminal chunk). Returns true if the connection may be kept
 * alive, false when it must close (close-delimited, short Content-Length). */
bool http_resp_finish(struct http_resp *r);
/* A complete small response (used for 500 from the bridge): status, a
 * text/plain body. Only before the head is sent. */
void http_resp_simple(struct http_resp *r, int status, const char *body);
static inline bool
http_resp_should_pause(const struct http_resp *r)
{
    return r->yield_each_chunk ? outq_pending(r->out) > 0
                               : outq_pending(r->out) > HTTP_RESP_HIGH_WATER;
}
/* The app's headers, for the access log ({name}o atoms). */
const struct hfield *http_resp_fields(struct http_resp *r, size_t *n);

/* A canned error response with Connection: close. */
void http_resp_error(struct outq *out, int status, bool is_head);

/* The cached "Date: ..." value, refreshed once a second. */
const char *http_date(void);

#endif
