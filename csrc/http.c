/* llhttp glue. Callbacks only copy bytes into C storage and enforce limits;
 * the rules llhttp leaves to the server (Host, request-target forms,
 * Transfer-Encoding codings, versions) are checked when the head completes.
 * llhttp runs strict: no lenient flag is ever set, because each of them
 * opens a request-smuggling hole (llhttp's README marks them all so). */
#include "http.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <llhttp.h>

/* A header's name and value as offsets into p->store while it grows. */
struct field_off {
    size_t name_off, name_len, value_off, value_len;
};

enum part { PART_NONE, PART_URL, PART_FIELD, PART_VALUE };

struct http_parser {
    llhttp_t ll;
    const struct http_limits *lim;
    struct http_req req;
    struct buf store; /* method, target, header names and values */
    struct field_off *offs;
    size_t n_offs, cap_offs;
    struct hfield *fields;
    size_t cap_fields;
    size_t url_off, url_len;
    enum part part;
    size_t field_bytes; /* current field line: name + value */
    size_t n_trailers;
    bool in_head;  /* a request has begun and its head is not complete */
    bool in_body;
    bool started;  /* bytes of the current request seen */
    bool head_done;
    bool complete;
    bool upgrade;
    bool value_hit_end; /* the last value span ended at the end of the input */
    bool has_version;   /* the request line ended with an HTTP-version */
    const char *exec_begin, *exec_end; /* the bytes of the current http_feed() */
    int host_count;
    size_t method_bytes; /* of the method, delivered by earlier reads */
    int err_status;
    const char *err_reason;
};

static llhttp_settings_t settings;
static bool settings_ready;

static int
fail(struct http_parser *p, int status, const char *reason)
{
    p->err_status = status;
    p->err_reason = reason;
    llhttp_set_error_reason(&p->ll, reason);
    return HPE_USER;
}

static inline struct http_parser *
P(llhttp_t *ll)
{
    return (struct http_parser *)ll->data;
}

static int
on_version_complete(llhttp_t *ll)
{
    P(ll)->has_version = true;
    return 0;
}

static int
on_method(llhttp_t *ll, const char *at, size_t len)
{
    (void)at;
    P(ll)->method_bytes += len;
    return 0;
}

static int
on_message_begin(llhttp_t *ll)
{
    struct http_parser *p = P(ll);
    p->in_head = true;
    p->started = true;
    p->req.start_wall = now_wall();
    p->req.start_mono = now_mono();
    return 0;
}

static int
on_url(llhttp_t *ll, const char *at, size_t len)
{
    struct http_parser *p = P(ll);
    if (p->part != PART_URL) {
        p->part = PART_URL;
        p->url_off = p->store.len;
        p->url_len = 0;
    }
    p->url_len += len;
    /* method + SP + target + SP + "HTTP/1.1", CRLF not counted (gunicorn's
     * measure). llhttp has matched the method before the target begins. */
    size_t method_len = strlen(llhttp_method_name((llhttp_method_t)ll->method));
    if (p->lim->max_line && method_len + 1 + p->url_len + 1 + 8 > p->lim->max_line) {
        return fail(p, 414, "request line too long");
    }
    buf_append(&p->store, at, len);
    return 0;
}

static int
on_header_field(llhttp_t *ll, const char *at, size_t len)
{
    struct http_parser *p = P(ll);
    if (p->part != PART_FIELD) {
        p->part = PART_FIELD;
        p->field_bytes = 0;
        if (p->head_done) {
            /* A trailer field: counted against the limits, then dropped
             * (PEP 3333 has no place for trailers). */
            if (++p->n_trailers > p->lim->max_fields) {
                return fail(p, 431, "too many trailer fields");
            }
        } else {
            if (p->n_offs >= p->lim->max_fields) {
                return fail(p, 431, "too many header fields");
            }
            if (p->n_offs == p->cap_offs) {
                p->cap_offs = p->cap_offs ? p->cap_offs * 2 : 16;
                p->offs = xrealloc(p->offs, p->cap_offs * sizeof(*p->offs));
            }
            struct field_off *f = &p->offs[p->n_offs++];
            f->name_off = p->store.len;
            f->name_len = 0;
            f->value_off = 0;
            f->value_len = 0;
        }
    }
    p->field_bytes += len;
    if (p->lim->max_field_size && p->field_bytes > p->lim->max_field_size) {
        return fail(p, 431, "header field too large");
    }
    if (!p->head_done) {
        buf_append(&p->store, at, len);
        p->offs[p->n_offs - 1].name_len += len;
    }
    return 0;
}

static int
on_header_value(llhttp_t *ll, const char *at, size_t len)
{
    struct http_parser *p = P(ll);
    if (p->part != PART_VALUE) {
        p->part = PART_VALUE;
        if (!p->head_done) {
            p->offs[p->n_offs - 1].value_off = p->store.len;
        }
    } else if (!(at == p->exec_begin && p->value_hit_end)) {
        /* A value continues only across two reads. Any other second span
         * is llhttp accepting an obs-fold line, which RFC 9112 5.2 lets a
         * server reject: a fold hides a header from a proxy that unfolds it
         * differently. */
        return fail(p, 400, "obsolete line folding in a header");
    }
    p->value_hit_end = at + len == p->exec_end;
    p->field_bytes += len;
    if (p->lim->max_field_size && p->field_bytes > p->lim->max_field_size) {
        return fail(p, 431, "header field too large");
    }
    if (!p->head_done) {
        buf_append(&p->store, at, len);
        p->offs[p->n_offs - 1].value_len += len;
    }
    return 0;
}

const bool http_tchar[256] = {
    ['a' ... 'z'] = true, ['A' ... 'Z'] = true, ['0' ... '9'] = true,
    ['!'] = true, ['#'] = true, ['$'] = true, ['%'] = true, ['&'] = true, ['\''] = true,
    ['*'] = true, ['+'] = true, ['-'] = true, ['.'] = true, ['^'] = true, ['_'] = true,
    ['`'] = true, ['|'] = true, ['~'] = true,
};

bool
http_parse_content_length(const char *v, size_t n, int64_t *out)
{
    if (n == 0 || n > 18) {
        return false;
    }
    int64_t x = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9') {
            return false;
        }
        x = x * 10 + (v[i] - '0');
    }
    *out = x;
    return true;
}

static bool
span_ieq(const char *s, size_t n, const char *lit)
{
    size_t m = strlen(lit);
    return n == m && strncasecmp(s, lit, m) == 0;
}

static void
trim_ows(const char **s, size_t *n)
{
    while (*n > 0 && (**s == ' ' || **s == '\t')) {
        (*s)++;
        (*n)--;
    }
    while (*n > 0 && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t')) {
        (*n)--;
    }
}

/* RFC 9112 3.2: Host = uri-host [ ":" port ]. Accepts reg-name, IPv4 and
 * bracketed IP literals; rejects anything that could confuse a router
 * (userinfo, paths, spaces). Empty is allowed (the RFC allows an empty Host
 * when the target has no authority). */
static bool
host_valid(const char *h, size_t n)
{
    size_t i = 0;
    if (n > 0 && h[0] == '[') {
        while (i < n && h[i] != ']') {
            char c = h[i];
            if (!(c == '[' || c == ':' || c == '.' || (c >= '0' && c <= '9') ||
                  (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == 'v' || c == 'V')) {
                return false;
            }
            i++;
        }
        if (i == n) {
            return false;
        }
        i++;
    } else {
        for (; i < n && h[i] != ':'; i++) {
            unsigned char c = (unsigned char)h[i];
            /* unreserved / pct-encoded / sub-delims */
            if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  strchr("-._~%!$&'()*+,;=", c) != NULL) ||
                c == 0) {
                return false;
            }
        }
    }
    if (i < n) {
        if (h[i] != ':') {
            return false;
        }
        i++;
        size_t digits = 0;
        for (; i < n; i++, digits++) {
            if (h[i] < '0' || h[i] > '9' || digits >= 5) {
                return false;
            }
        }
    }
    return true;
}

/* Split the request-target into path and query, checking its form
 * (RFC 9112 3.2): origin-form, absolute-form, authority-form for CONNECT,
 * asterisk-form for OPTIONS. */
static int
parse_target(struct http_parser *p)
{
    struct http_req *r = &p->req;
    const char *t = r->target;
    size_t n = r->target_len;
    const char *path = t;
    size_t path_len = n;

    if (memchr(t, '#', n) != NULL) {
        return fail(p, 400, "fragment in request-target");
    }
    if (p->ll.method == HTTP_CONNECT) {
        /* authority-form; we are no proxy, the app decides (usually 405) */
        r->path = "";
        r->path_len = 0;
        r->query = "";
        r->query_len = 0;
        return 0;
    }
    if (n == 1 && t[0] == '*') {
        if (p->ll.method != HTTP_OPTIONS) {
            return fail(p, 400, "asterisk-form target only allowed with OPTIONS");
        }
        r->path = t;
        r->path_len = 1;
        r->query = "";
        r->query_len = 0;
        return 0;
    }
    if (t[0] != '/') {
        /* absolute-form: scheme "://" authority path-abempty [ "?" query ] */
        const char *colon = memchr(t, ':', n);
        if (colon == NULL || (size_t)(colon - t) + 3 > n || colon[1] != '/' || colon[2] != '/') {
            return fail(p, 400, "invalid request-target");
        }
        size_t slen = (size_t)(colon - t);
        if (!span_ieq(t, slen, "http") && !span_ieq(t, slen, "https")) {
            return fail(p, 400, "unsupported scheme in request-target");
        }
        const char *auth = colon + 3;
        const char *end = t + n;
        const char *a = auth;
        while (a < end && *a != '/' && *a != '?') {
            a++;
        }
        if (a == auth || memchr(auth, '@', (size_t)(a - auth)) != NULL ||
            !host_valid(auth, (size_t)(a - auth))) {
            return fail(p, 400, "invalid authority in request-target");
        }
        /* RFC 9112 3.2.2: the target's authority overrides Host, also
         * for the app, which sees it as HTTP_HOST. */
        r->host = auth;
        r->host_len = (size_t)(a - auth);
        for (size_t i = 0; i < r->n_headers; i++) {
            if (span_ieq(r->headers[i].name, r->headers[i].name_len, "host")) {
                r->headers[i].value = r->host;
                r->headers[i].value_len = r->host_len;
            }
        }
        path = a;
        path_len = (size_t)(end - a);
        if (path_len == 0 || path[0] == '?') {
            /* empty path means "/" */
            const char *q = path;
            size_t qn = path_len;
            r->path = "/";
            r->path_len = 1;
            r->query = qn ? q + 1 : "";
            r->query_len = qn ? qn - 1 : 0;
            return 0;
        }
    }
    const char *q = memchr(path, '?', path_len);
    if (q != NULL) {
        r->path = path;
        r->path_len = (size_t)(q - path);
        r->query = q + 1;
        r->query_len = path_len - r->path_len - 1;
    } else {
        r->path = path;
        r->path_len = path_len;
        r->query = "";
        r->query_len = 0;
    }
    return 0;
}

/* RFC 9112 6.1: a request's framing is known only when chunked is the
 * final coding (else 400); chunked is the only coding we decode, so any other
 * coding before it is 501. */
static int
check_transfer_encoding(struct http_parser *p, const char *v, size_t n)
{
    size_t i = 0;
    int n_chunked = 0;
    bool last_chunked = false, other = false;
    while (i <= n) {
        size_t j = i;
        while (j < n && v[j] != ',') {
            j++;
        }
        const char *tok = v + i;
        size_t tn = j - i;
        trim_ows(&tok, &tn);
        if (tn > 0) {
            last_chunked = span_ieq(tok, tn, "chunked");
            if (last_chunked) {
                n_chunked++;
            } else {
                other = true;
            }
        }
        i = j + 1;
    }
    if (!last_chunked || n_chunked > 1) {
        return fail(p, 400, "chunked is not the final transfer coding");
    }
    if (other) {
        return fail(p, 501, "unsupported transfer coding");
    }
    return 0;
}

static int
on_headers_complete(llhttp_t *ll)
{
    struct http_parser *p = P(ll);
    struct http_req *r = &p->req;
    p->part = PART_NONE;
    p->head_done = true;
    p->in_head = false;

    /* llhttp takes "GET /path" with no version for HTTP/0.9. RFC 9112 3:
     * an invalid request-line is a 400; 505 is for a well-formed
     * HTTP-version we do not serve (HTTP/2.0, HTTP/0.9 written out). */
    if (!p->has_version) {
        return fail(p, 400, "request line without an HTTP version");
    }
    if (ll->http_major != 1 || ll->http_minor > 1) {
        return fail(p, 505, "unsupported HTTP version");
    }
    r->http_major = ll->http_major;
    r->http_minor = ll->http_minor;

    const char *m = llhttp_method_name((llhttp_method_t)ll->method);
    r->method = m;
    r->method_len = strlen(m);
    r->is_head = ll->method == HTTP_HEAD;

    /* The store no longer grows: turn offsets into pointers. */
    if (p->n_offs > p->cap_fields) {
        p->cap_fields = p->n_offs;
        p->fields = xrealloc(p->fields, p->cap_fields * sizeof(*p->fields));
    }
    r->target = p->store.data + p->url_off;
    r->target_len = p->url_len;
    r->headers = p->fields;
    r->n_headers = p->n_offs;
    r->host = NULL;
    r->host_len = 0;
    bool has_te = false;
    for (size_t i = 0; i < p->n_offs; i++) {
        struct hfield *f = &p->fields[i];
        struct field_off *o = &p->offs[i];
        f->name = p->store.data + o->name_off;
        f->name_len = o->name_len;
        f->value = p->store.data + o->value_off;
        f->value_len = o->value_len;
        /* llhttp hands values with leading OWS removed; drop trailing OWS */
        trim_ows(&f->value, &f->value_len);
        if (f->name_len == 0) {
            return fail(p, 400, "empty header name");
        }
        /* RFC 9112 5.1: no whitespace between a field name and the colon;
         * a server MUST reject such a request (llhttp lets "X-A :" through). */
        for (size_t k = 0; k < f->name_len; k++) {
            if (!http_is_tchar((unsigned char)f->name[k])) {
                return fail(p, 400, "invalid character in a header name");
            }
        }

        if (span_ieq(f->name, f->name_len, "host")) {
            p->host_count++;
            r->host = f->value;
            r->host_len = f->value_len;
        } else if (span_ieq(f->name, f->name_len, "expect")) {
            /* RFC 9110 10.1.1: ignored in a request from HTTP/1.0, and
             * no 1xx ever goes to an HTTP/1.0 client. */
            if (r->http_minor >= 1 && span_ieq(f->value, f->value_len, "100-continue")) {
                r->expect_continue = true;
            }
        } else if (span_ieq(f->name, f->name_len, "transfer-encoding")) {
            has_te = true;
            if (check_transfer_encoding(p, f->value, f->value_len) != 0) {
                return HPE_USER;
            }
        }
    }
    if (p->url_len == 0) {
        return fail(p, 400, "empty request-target");
    }
    /* RFC 9112 3.2: 400 for a 1.1 request without Host, for several Host
     * lines, or an invalid Host value. */
    if (p->host_count > 1) {
        return fail(p, 400, "more than one Host header");
    }
    if (p->host_count == 0 && r->http_minor == 1) {
        return fail(p, 400, "missing Host header");
    }
    if (r->host != NULL && !host_valid(r->host, r->host_len)) {
        return fail(p, 400, "invalid Host header");
    }
    if (parse_target(p) != 0) {
        return HPE_USER;
    }
    if (has_te && r->http_minor == 0) {
        /* RFC 9112 6.1: Transfer-Encoding in 1.0 means faulty framing. */
        return fail(p, 400, "Transfer-Encoding in an HTTP/1.0 request");
    }
    r->chunked = (ll->flags & F_CHUNKED) != 0;
    r->content_length = (ll->flags & F_CONTENT_LENGTH) ? (int64_t)ll->content_length : -1;
    if (ll->method == HTTP_CONNECT && (r->chunked || r->content_length > 0)) {
        /* RFC 9110 9.3.6: a CONNECT request has no content. llhttp stops
         * at its head (what follows is the tunnel), so a declared body
         * would reach the app as a CONTENT_LENGTH wsgi.input never has. */
        return fail(p, 400, "CONNECT request with content");
    }
    if (r->content_length >= 0 && p->lim->max_body &&
        (uint64_t)r->content_length > p->lim->max_body) {
        return fail(p, 413, "request body over --limit-request-body");
    }
    r->keep_alive = llhttp_should_keep_alive(ll) != 0;
    p->upgrade = ll->upgrade != 0;
    if (!r->chunked && r->content_length <= 0) {
        r->expect_continue = false;
    }
    p->in_body = r->chunked || r->content_length > 0;
    /* Pause so the caller can answer 100-continue before reading the body. */
    return r->expect_continue ? HPE_PAUSED : 0;
}

static int
spill(struct http_parser *p)
{
    struct http_body *b = &p->req.body;
    const char *dir = getenv("TMPDIR");
    if (dir == NULL || dir[0] == '\0') {
        dir = "/tmp";
    }
    int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0) {
        char tmpl[4096];
        snprintf(tmpl, sizeof(tmpl), "%s/wsgihost-body-XXXXXX", dir);
        fd = mkostemp(tmpl, O_CLOEXEC);
        if (fd < 0) {
            return -1;
        }
        unlink(tmpl);
    }
    size_t off = 0;
    while (off < b->mem.len) {
        ssize_t w = write(fd, b->mem.data + off, b->mem.len - off);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            close(fd);
            return -1;
        }
        off += (size_t)w;
    }
    buf_free(&b->mem);
    b->fd = fd;
    return 0;
}

static int
on_body(llhttp_t *ll, const char *at, size_t len)
{
    struct http_parser *p = P(ll);
    struct http_body *b = &p->req.body;
    if (p->lim->max_body && b->len + len > p->lim->max_body) {
        return fail(p, 413, "request body over --limit-request-body");
    }
    if (b->fd < 0 && b->mem.len + len > p->lim->body_mem_max) {
        if (spill(p) != 0) {
            return fail(p, 500, "cannot create a temporary file for the request body");
        }
    }
    if (b->fd >= 0) {
        size_t off = 0;
        while (off < len) {
            ssize_t w = write(b->fd, at + off, len - off);
            if (w < 0) {
                if (errno == EINTR) {
                    continue;
                }
                return fail(p, 500, "cannot write the request body to a temporary file");
            }
            off += (size_t)w;
        }
    } else {
        buf_append(&b->mem, at, len);
    }
    b->len += len;
    return 0;
}

static int
on_message_complete(llhttp_t *ll)
{
    struct http_parser *p = P(ll);
    p->complete = true;
    p->in_body = false;
    /* The head decided keep-alive, and the response says so. A Connection
     * field in the trailer section must not change that (RFC 9110 6.5.1:
     * trailers are not merged into the header section), but llhttp sets
     * its close flag from it and would refuse the next request. */
    if (p->req.keep_alive) {
        ll->flags &= (uint16_t)~F_CONNECTION_CLOSE;
    }
    return HPE_PAUSED;
}

static void
settings_init(void)
{
    llhttp_settings_init(&settings);
    settings.on_message_begin = on_message_begin;
    settings.on_url = on_url;
    settings.on_version_complete = on_version_complete;
    settings.on_method = on_method;
    settings.on_header_field = on_header_field;
    settings.on_header_value = on_header_value;
    settings.on_headers_complete = on_headers_complete;
    settings.on_body = on_body;
    settings.on_message_complete = on_message_complete;
    settings_ready = true;
}

static void
req_reset(struct http_parser *p)
{
    struct http_req *r = &p->req;
    struct http_body body = r->body;
    const struct http_conn_meta *meta = r->meta;
    if (body.fd >= 0) {
        close(body.fd);
        body.fd = -1;
    }
    buf_reset(&body.mem);
    if (body.mem.cap > (256u << 10)) {
        buf_free(&body.mem); /* don't keep a huge buffer for an idle connection */
    }
    body.len = 0;
    memset(r, 0, sizeof(*r));
    r->body = body;
    r->meta = meta;
    r->content_length = -1;
    buf_reset(&p->store);
    p->n_offs = 0;
    p->url_len = 0;
    p->part = PART_NONE;
    p->n_trailers = 0;
    p->in_head = p->in_body = p->started = p->head_done = p->complete = p->upgrade = false;
    p->has_version = false;
    p->method_bytes = 0;
    p->host_count = 0;
}

struct http_parser *
http_parser_new(const struct http_limits *lim, const struct http_conn_meta *meta)
{
    if (!settings_ready) {
        settings_init();
    }
    struct http_parser *p = xcalloc(1, sizeof(*p));
    llhttp_init(&p->ll, HTTP_REQUEST, &settings);
    p->ll.data = p;
    p->lim = lim;
    buf_init(&p->store);
    buf_init(&p->req.body.mem);
    p->req.body.fd = -1;
    p->req.meta = meta;
    req_reset(p);
    return p;
}

void
http_parser_free(struct http_parser *p)
{
    if (p == NULL) {
        return;
    }
    req_reset(p);
    buf_free(&p->req.body.mem);
    buf_free(&p->store);
    free(p->offs);
    free(p->fields);
    free(p);
}

/* A well-formed but unknown method is 501 (RFC 9110 9.1); garbage is 400.
 * llhttp stops at the first byte no method it knows has there, often before
 * the SP that tells a token from garbage, and the bytes it matched may have
 * come in earlier reads (method_bytes): data is what follows them. Returns 0
 * while undecided, so the status never depends on how the bytes arrived. */
static int
method_status(const struct http_parser *p, const char *data, size_t len)
{
    size_t n = p->method_bytes, i = 0;
    while (n == 0 && i < len && (data[i] == '\r' || data[i] == '\n')) {
        i++; /* the empty lines llhttp skips before a request-line */
    }
    for (; i < len; i++, n++) {
        if (data[i] == ' ') {
            return n > 0 ? 501 : 400;
        }
        if (!http_is_tchar((unsigned char)data[i]) || n >= 32) {
            return 400;
        }
    }
    return 0;
}

static int
status_for(struct http_parser *p, llhttp_errno_t e, const char *data, size_t len)
{
    switch (e) {
    case HPE_USER:
        return p->err_status;
    case HPE_INVALID_METHOD:
        return method_status(p, data, len);
    case HPE_INVALID_VERSION:
        /* llhttp says "Invalid HTTP version" only for a well-formed
         * DIGIT.DIGIT it does not know (HTTP/3.0, HTTP/1.2): 505. Anything
         * else (HTTP/1.x, HTTP/1.10, HTTP/01.1, "HTTP/ 1.1", a trailing
         * space) is a malformed request-line: 400 (RFC 9112 3). */
        return strcmp(llhttp_get_error_reason(&p->ll), "Invalid HTTP version") == 0 ? 505 : 400;
    default:
        return 400;
    }
}

enum http_event
http_feed(struct http_parser *p, const char *data, size_t len, size_t *consumed)
{
    *consumed = 0;
    if (p->err_status) {
        return HTTP_EV_ERROR;
    }
    if (p->complete) {
        return HTTP_EV_REQUEST;
    }
    if (len == 0) {
        return HTTP_EV_MORE;
    }
    p->exec_begin = data;
    p->exec_end = data + len;
    llhttp_errno_t e = llhttp_execute(&p->ll, data, len);
    const char *pos = e == HPE_OK ? data + len : llhttp_get_error_pos(&p->ll);
    if (pos == NULL || pos < data || pos > data + len) {
        pos = data + len;
    }
    *consumed = (size_t)(pos - data);
    switch (e) {
    case HPE_OK:
        return HTTP_EV_MORE;
    case HPE_PAUSED:
        llhttp_resume(&p->ll);
        return p->complete ? HTTP_EV_REQUEST : HTTP_EV_HEAD;
    case HPE_PAUSED_UPGRADE:
        /* Upgrade/CONNECT: served as a plain request; bytes after it are not
         * HTTP/1.1 for us, so the connection closes after the response. */
        p->complete = true;
        p->upgrade = true;
        p->req.keep_alive = false;
        return HTTP_EV_REQUEST;
    default:
        if (!p->err_status) {
            int status = status_for(p, e, data, len);
            if (status == 0) {
                /* llhttp keeps its error: the next call sees it again,
                 * with more bytes to decide on. */
                *consumed = 0;
                return HTTP_EV_MORE;
            }
            p->err_status = status;
            p->err_reason = llhttp_get_error_reason(&p->ll);
        }
        return HTTP_EV_ERROR;
    }
}

enum http_event
http_feed_eof(struct http_parser *p)
{
    if (!p->started || p->complete) {
        return HTTP_EV_MORE;
    }
    p->err_status = 400;
    p->err_reason = "connection closed mid-request";
    return HTTP_EV_ERROR;
}

struct http_req *
http_request(struct http_parser *p)
{
    return &p->req;
}

int
http_error_status(const struct http_parser *p)
{
    return p->err_status ? p->err_status : 400;
}

const char *
http_error_reason(const struct http_parser *p)
{
    return p->err_reason ? p->err_reason : "bad request";
}

void
http_next(struct http_parser *p)
{
    req_reset(p);
    if (llhttp_get_errno(&p->ll) != HPE_OK) {
        llhttp_init(&p->ll, HTTP_REQUEST, &settings);
        p->ll.data = p;
    }
}

bool
http_error_is_head(const struct http_parser *p)
{
    /* llhttp has parsed the method once the request line got past it. */
    return p->started && p->ll.method == HTTP_HEAD && (p->url_len > 0 || p->head_done);
}

bool
http_idle(const struct http_parser *p)
{
    return !p->started;
}

bool
http_in_body(const struct http_parser *p)
{
    return p->in_body;
}

bool
http_upgraded(const struct http_parser *p)
{
    return p->upgrade;
}

const char *
http_status_reason(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 416: return "Range Not Satisfiable";
    case 417: return "Expectation Failed";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Error";
    }
}
