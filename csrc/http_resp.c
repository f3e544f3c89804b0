/* Response framing. The head is assembled once, when the first body byte or
 * the end of the body is known, so the framing (Content-Length, chunked, or
 * close-delimited) can be chosen from what the app produced. */
#include "http_resp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define SERVER_NAME "wsgihost"

static char date_value[64];
static size_t date_len;
static time_t date_sec = -1;

static char *
put_str(char *p, const char *s, size_t n)
{
    memcpy(p, s, n);
    return p + n;
}
#define put_lit(p, lit) put_str((p), (lit), sizeof(lit) - 1)


const char *
http_date(void)
{
    time_t t = time(NULL);
    if (t != date_sec) {
        struct tm tm;
        gmtime_r(&t, &tm);
        date_len = strftime(date_value, sizeof(date_value), "%a, %d %b %Y %H:%M:%S GMT", &tm);
        date_sec = t;
    }
    return date_value;
}

void
http_resp_init(struct http_resp *r, struct outq *out, const struct http_req *req, bool keep_alive)
{
    /* Keep the buffers of the previous response on this connection. */
    struct buf status_line = r->status_line, fields = r->fields;
    size_t *pos = r->field_pos;
    size_t cap = r->cap_fields;
    struct hfield *index = r->field_index;
    memset(r, 0, sizeof(*r));
    r->status_line = status_line;
    r->fields = fields;
    r->field_pos = pos;
    r->cap_fields = cap;
    r->field_index = index;
    buf_reset(&r->status_line);
    buf_reset(&r->fields);
    r->out = out;
    r->req = req;
    r->content_length = -1;
    r->cl_field = -1;
    r->keep_alive = keep_alive && req->keep_alive;
}

void
http_resp_free(struct http_resp *r)
{
    buf_free(&r->status_line);
    buf_free(&r->fields);
    free(r->field_pos);
    free(r->field_index);
    r->field_pos = NULL;
    r->field_index = NULL;
    r->cap_fields = r->n_fields = 0;
}

void
http_resp_set_status(struct http_resp *r, int status, const char *line, size_t len)
{
    r->status = status;
    buf_reset(&r->status_line);
    buf_append(&r->status_line, line, len);
    /* A new status before the head is out replaces the whole head
     * (start_response with exc_info). */
    buf_reset(&r->fields);
    r->n_fields = 0;
    r->content_length = -1;
    r->cl_field = -1;
    r->has_date = r->has_server = false;
}

static bool
name_is(const char *name, size_t nlen, const char *lit, size_t litlen)
{
    return nlen == litlen && strncasecmp(name, lit, litlen) == 0;
}

int
http_resp_add_header(struct http_resp *r, const char *name, size_t nlen, const char *value,
                     size_t vlen)
{
    if (name_is(name, nlen, "content-length", 14)) {
        int64_t v = 0;
        if (!http_parse_content_length(value, vlen, &v)) {
            return -1;
        }
        if (r->content_length >= 0 && r->content_length != v) {
            return -1;
        }
        if (r->content_length == v) {
            return 0; /* an identical repeat adds nothing */
        }
        r->content_length = v;
        r->cl_field = (ssize_t)r->n_fields;
    } else if (name_is(name, nlen, "date", 4)) {
        r->has_date = true;
    } else if (name_is(name, nlen, "server", 6)) {
        r->has_server = true;
    }
    if (r->n_fields == r->cap_fields) {
        r->cap_fields = r->cap_fields ? r->cap_fields * 2 : 16;
        r->field_pos = xrealloc(r->field_pos, r->cap_fields * sizeof(*r->field_pos));
    }
    r->field_pos[r->n_fields++] = r->fields.len;
    buf_reserve(&r->fields, nlen + vlen + 4);
    char *p = r->fields.data + r->fields.len;
    memcpy(p, name, nlen);
    p += nlen;
    *p++ = ':';
    *p++ = ' ';
    memcpy(p, value, vlen);
    p += vlen;
    *p++ = '\r';
    *p++ = '\n';
    r->fields.len += nlen + vlen + 4;
    return 0;
}

void
http_resp_send_head(struct http_resp *r, int64_t length_hint)
{
    if (r->head_sent) {
        return;
    }
    const struct http_req *req = r->req;
    int st = r->status;
    r->no_body = req->is_head || (st >= 100 && st < 200) || st == 204 || st == 304;
    if (req->is_head && length_hint == 0) {
        /* Apps answer HEAD with an empty result (Werkzeug `()`, Bottle
         * `[]`), or a generator that yields nothing: that is not the
         * length of the GET the HEAD stands for, so no Content-Length
         * (RFC 9110 9.3.2, 8.6) rather than a false 0. */
        length_hint = -1;
    }

    if (r->cl_field >= 0 && (st == 204 || (st >= 100 && st < 200))) {
        /* RFC 9110 8.6: never a Content-Length in a 1xx or 204, even the
         * app's own (its body is dropped anyway). */
        size_t i = (size_t)r->cl_field;
        size_t from = r->field_pos[i];
        size_t to = i + 1 < r->n_fields ? r->field_pos[i + 1] : r->fields.len;
        memmove(r->fields.data + from, r->fields.data + to, r->fields.len - to);
        r->fields.len -= to - from;
        for (size_t j = i + 1; j < r->n_fields; j++) {
            r->field_pos[j - 1] = r->field_pos[j] - (to - from);
        }
        r->n_fields--;
        r->cl_field = -1;
        r->content_length = -1;
    }

    /* The fields the server adds, without snprintf (a fifth of the plain
     * callable's per-request instructions went to formatting them). */
    char extra[256];
    char *e = extra;
    if (r->content_length < 0 && st != 204 && st != 304 && !(st >= 100 && st < 200)) {
        if (length_hint >= 0) {
            e = put_lit(e, "Content-Length: ");
            e = put_dec(e, (uint64_t)length_hint);
            e = put_lit(e, "\r\n");
            r->content_length = length_hint;
        } else if (r->no_body) {
            /* HEAD with an unknown length: no framing headers at all. */
        } else if (req->http_minor >= 1) {
            e = put_lit(e, "Transfer-Encoding: chunked\r\n");
            r->chunked = true;
        } else {
            r->close_delimited = true;
            r->keep_alive = false;
        }
    }
    if (!r->keep_alive) {
        e = put_lit(e, "Connection: close\r\n");
    } else if (req->http_minor == 0) {
        e = put_lit(e, "Connection: keep-alive\r\n");
    }
    if (!r->has_server) {
        e = put_lit(e, "Server: " SERVER_NAME "\r\n");
    }
    if (!r->has_date) {
        const char *date = http_date(); /* before date_len: it may refresh it */
        e = put_lit(e, "Date: ");
        e = put_str(e, date, date_len);
        e = put_lit(e, "\r\n");
    }
    int n = (int)(e - extra);

    size_t total = 9 + r->status_line.len + 2 + r->fields.len + (size_t)n + 2;
    char stackbuf[2048];
    char *head = total <= sizeof(stackbuf) ? stackbuf : xmalloc(total);
    char *p = head;
    memcpy(p, "HTTP/1.1 ", 9);
    p += 9;
    memcpy(p, r->status_line.data, r->status_line.len);
    p += r->status_line.len;
    *p++ = '\r';
    *p++ = '\n';
    if (r->fields.len) {
        memcpy(p, r->fields.data, r->fields.len);
        p += r->fields.len;
    }
    memcpy(p, extra, (size_t)n);
    p += n;
    *p++ = '\r';
    *p++ = '\n';
    outq_append(r->out, head, (size_t)(p - head));
    if (head != stackbuf) {
        free(head);
    }
    r->head_sent = true;
}

/* How many of n body bytes may still go out under the app's Content-Length. */
static size_t
allowed(struct http_resp *r, uint64_t n)
{
    if (r->no_body) {
        return 0;
    }
    if (r->content_length >= 0) {
        uint64_t left = (uint64_t)r->content_length - r->body_sent;
        return (size_t)(n < left ? n : left);
    }
    return (size_t)n;
}

void
http_resp_write(struct http_resp *r, const void *p, size_t n)
{
    if (!r->head_sent) {
        http_resp_send_head(r, -1);
    }
    n = allowed(r, n);
    if (n == 0) {
        return;
    }
    if (r->chunked) {
        char sz[24];
        int k = snprintf(sz, sizeof(sz), "%zx\r\n", n);
        outq_append(r->out, sz, (size_t)k);
        outq_append(r->out, p, n);
        outq_append(r->out, "\r\n", 2);
    } else {
        outq_append(r->out, p, n);
    }
    r->body_sent += n;
}

void
http_resp_sendfile(struct http_resp *r, int fd, off_t off, uint64_t n)
{
    if (!r->head_sent) {
        http_resp_send_head(r, -1);
    }
    uint64_t k = allowed(r, n);
    if (k == 0) {
        close(fd);
        return;
    }
    if (r->chunked) {
        char sz[24];
        int m = snprintf(sz, sizeof(sz), "%llx\r\n", (unsigned long long)k);
        outq_append(r->out, sz, (size_t)m);
        outq_append_file(r->out, fd, off, k, true);
        outq_append(r->out, "\r\n", 2);
    } else {
        outq_append_file(r->out, fd, off, k, true);
    }
    r->body_sent += k;
}

bool
http_resp_finish(struct http_resp *r)
{
    if (r->finished) {
        return r->keep_alive;
    }
    if (!r->head_sent) {
        http_resp_send_head(r, 0);
    }
    if (r->chunked) {
        outq_append(r->out, "0\r\n\r\n", 5);
    }
    if (r->close_delimited) {
        r->keep_alive = false;
    }
    if (!r->no_body && r->content_length >= 0 && r->body_sent < (uint64_t)r->content_length) {
        /* The app promised more than it produced: the client cannot find
         * the end of this response, so the connection must end. */
        r->keep_alive = false;
    }
    r->finished = true;
    return r->keep_alive;
}

void
http_resp_simple(struct http_resp *r, int status, const char *body)
{
    char line[64];
    int n = snprintf(line, sizeof(line), "%d %s", status, http_status_reason(status));
    http_resp_set_status(r, status, line, (size_t)n);
    static const char ct[] = "text/plain; charset=utf-8";
    http_resp_add_header(r, "Content-Type", 12, ct, sizeof(ct) - 1);
    size_t len = strlen(body);
    http_resp_send_head(r, (int64_t)len);
    http_resp_write(r, body, len);
    http_resp_finish(r);
}

const struct hfield *
http_resp_fields(struct http_resp *r, size_t *n)
{
    *n = r->n_fields;
    if (r->n_fields == 0) {
        return NULL;
    }
    r->field_index = xrealloc(r->field_index, r->n_fields * sizeof(*r->field_index));
    for (size_t i = 0; i < r->n_fields; i++) {
        const char *line = r->fields.data + r->field_pos[i];
        size_t end = i + 1 < r->n_fields ? r->field_pos[i + 1] : r->fields.len;
        const char *colon = memchr(line, ':', end - r->field_pos[i]);
        struct hfield *f = &r->field_index[i];
        f->name = line;
        f->name_len = (size_t)(colon - line);
        f->value = colon + 2;
        f->value_len = (size_t)((r->fields.data + end - 2) - f->value);
    }
    return r->field_index;
}

void
http_resp_error(struct outq *out, int status, bool is_head)
{
    char body[128];
    const char *reason = http_status_reason(status);
    int blen = snprintf(body, sizeof(body), "%d %s\n", status, reason);
    char head[512];
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 %d %s\r\n"
                     "Content-Type: text/plain; charset=utf-8\r\n"
                     "Content-Length: %d\r\n"
                     "Connection: close\r\n"
                     "Server: " SERVER_NAME "\r\n"
                     "Date: %s\r\n\r\n",
                     status, reason, blen, http_date());
    outq_append(out, head, (size_t)n);
    if (!is_head) {
        outq_append(out, body, (size_t)blen);
    }
}
