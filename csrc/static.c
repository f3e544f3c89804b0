/* One request, in order:
 *   1. the path is percent-decoded once; the longest --static or
 *      --static-exclude prefix that covers it decides whose it is (the app's
 *      when an exclusion is longest, or nothing covers it: DECLINED);
 *   2. the rest, split on '/', must not hold a hidden segment (".", "..",
 *      ".env"; ".well-known" is allowed), an encoded '/' or NUL, or a
 *      backslash: 404, never a guess;
 *   3. it is opened beneath DIR (beneath.h): a regular file is served, a
 *      directory serves its index.html (301 to add the '/'), nothing there
 *      means the SPA fallback when it applies, else DECLINED (the app);
 *   4. GET and HEAD only (405 for the rest, on paths that name a file);
 *      a precompressed sibling by Accept-Encoding; the preconditions of RFC
 *      9110 13.2.2; one byte range; the body from the output queue (memory
 *      for small files, a sendfile range for the rest). */
#include "static.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "beneath.h"
#include "httpcond.h"
#include "log.h"
#include "mime.h"

#define PATH_BUF      4096        /* longer request paths are not ours */
#define SMALL_FILE    (16 * 1024) /* read into the queue beside the head: one writev */
#define RECHECK_EVERY 1.0         /* seconds between looks at what DIR names now */
#define IMMUTABLE_CC  "public, max-age=31536000, immutable"
#define MIME_TYPES    "/etc/mime.types"

struct mount {
    const char *prefix;
    size_t prefix_len;
    char *dir; /* absolute, symlinks kept: a deploy may swap what it names */
    struct beneath_root root;
    double checked_at;
};

struct fallback {
    const char *prefix;
    size_t prefix_len;
    const char *file;
    size_t mount;
};

enum rule_kind { RULE_EXCLUDE, RULE_MOUNT };

struct rule {
    const char *prefix;
    size_t len;
    enum rule_kind kind;
    size_t mount;
};

/* Whether a file has .br / .gz siblings, remembered for a second per
 * file: two failed lookups per request were a quarter of a small file's
 * cost. The entry holds only while the file itself is unchanged (device,
 * inode, size, mtime), so a new build is seen at once; a sibling added
 * beside an unchanged file shows within RECHECK_EVERY. */
#define SIB_SLOTS 1024 /* direct-mapped, per process */
#define HAS_BR    1u
#define HAS_GZ    2u

struct sib_entry {
    uint64_t key; /* hash of the mount and the path; 0 = empty */
    dev_t dev;
    ino_t ino;
    off_t size;
    int64_t mtime_ns;
    double at;
    unsigned has;
};

static uint64_t
path_key(size_t mount, const char *rel, size_t n)
{
    uint64_t h = 14695981039346656037ull ^ (uint64_t)mount; /* FNV-1a */
    for (size_t i = 0; i < n; i++) {
        h = (h ^ (unsigned char)rel[i]) * 1099511628211ull;
    }
    return h | 1;
}

struct static_site {
    struct handler base;
    struct mount mounts[CONFIG_MAX_STATIC];
    size_t n_mounts;
    /* mounts and exclusions, longest prefix first, an exclusion before a
     * mount of the same prefix */
    struct rule rules[2 * CONFIG_MAX_STATIC];
    size_t n_rules;
    struct fallback fallbacks[CONFIG_MAX_STATIC]; /* longest first */
    size_t n_fallbacks;
    const char *immutable[CONFIG_MAX_STATIC]; /* URL prefixes */
    size_t n_immutable;
    bool immutable_auto;
    const char *cache_control; /* NULL: none */
    size_t cache_control_len;
    struct mime_table *mime;
    struct sib_entry *sibs; /* SIB_SLOTS */
};

/* ---------------------------------------------------------------------- */
/* Paths */

static bool
covers(const char *prefix, size_t plen, const char *path, size_t n)
{
    if (plen == 1) {
        return true; /* "/" */
    }
    return n >= plen && memcmp(path, prefix, plen) == 0 && (n == plen || path[plen] == '/');
}

enum path_flaw {
    FLAW_ENCODED_SLASH = 1,
    FLAW_NUL = 2,
    FLAW_BACKSLASH = 4,
};

static int
hexval(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* Percent-decoding, once ("%252e" is the name "%2e"). False for a broken
 * escape: not a path we would serve; the app sees it as before. */
static bool
decode(const char *s, size_t n, char *out, size_t *outn, unsigned *flaws)
{
    size_t k = 0;
    *flaws = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '%') {
            int hi = i + 2 < n ? hexval(s[i + 1]) : -1;
            int lo = i + 2 < n ? hexval(s[i + 2]) : -1;
            if (hi < 0 || lo < 0) {
                return false;
            }
            c = (char)(hi * 16 + lo);
            i += 2;
            if (c == '/') {
                *flaws |= FLAW_ENCODED_SLASH;
            } else if (c == '\0') {
                *flaws |= FLAW_NUL;
            }
        }
        if (c == '\\') {
            *flaws |= FLAW_BACKSLASH;
        }
        out[k++] = c;
    }
    out[k] = '\0';
    *outn = k;
    return true;
}

static bool
is_hidden(const char *seg, size_t n)
{
    return seg[0] == '.' && !(n == 11 && memcmp(seg, ".well-known", 11) == 0);
}

/* The part of path after the mount's prefix, empty segments dropped, into
 * out ("a/b/c.js", no leading '/'). Returns false for a hidden segment. */
static bool
relative(const char *p, size_t n, char *out, size_t *outn, const char **last, size_t *last_len)
{
    size_t k = 0;
    *last = NULL;
    *last_len = 0;
    size_t i = 0;
    while (i < n) {
        while (i < n && p[i] == '/') {
            i++;
        }
        size_t j = i;
        while (j < n && p[j] != '/') {
            j++;
        }
        if (j == i) {
            break;
        }
        if (is_hidden(p + i, j - i)) {
            return false;
        }
        if (k > 0) {
            out[k++] = '/';
        }
        memcpy(out + k, p + i, j - i);
        *last = out + k;
        *last_len = j - i;
        k += j - i;
        i = j;
    }
    out[k] = '\0';
    *outn = k;
    return true;
}

/* A build tool's content hash in a file name: a '.'- or '-'-separated part
 * between the stem and the extension of 8+ characters that is lower-case
 * hex with a digit and a letter (webpack, Angular, Next.js), or
 * [A-Za-z0-9_] with a digit, an upper-case and a lower-case letter (Vite,
 * Rollup). Conservative on purpose: a miss costs a revalidation, a false
 * match a year of stale cache. */
static bool
hash_like(const char *t, size_t n)
{
    if (n < 8 || n > 64) {
        return false;
    }
    bool digit = false, lower = false, upper = false, hex = true;
    for (size_t i = 0; i < n; i++) {
        char c = t[i];
        if (c >= '0' && c <= '9') {
            digit = true;
        } else if (c >= 'a' && c <= 'z') {
            lower = true;
            hex = hex && c <= 'f';
        } else if ((c >= 'A' && c <= 'Z') || c == '_') {
            upper = upper || c != '_';
            hex = false;
        } else {
            return false;
        }
    }
    return digit && (hex ? lower : lower && upper);
}

static bool
hashed_name(const char *name, size_t n)
{
    size_t start = 0;
    bool first = true;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && name[i] != '.' && name[i] != '-') {
            continue;
        }
        /* [start, i) is a part; the stem (first) and the extension (the
         * part that ends the name) do not count. */
        if (!first && i < n && hash_like(name + start, i - start)) {
            return true;
        }
        first = false;
        start = i + 1;
    }
    return false;
}

/* ---------------------------------------------------------------------- */
/* The site */

static int
cmp_rule(const void *a, const void *b)
{
    const struct rule *x = a, *y = b;
    if (x->len != y->len) {
        return x->len > y->len ? -1 : 1;
    }
    return (int)x->kind - (int)y->kind;
}

static int
cmp_fallback(const void *a, const void *b)
{
    const struct fallback *x = a, *y = b;
    return x->prefix_len > y->prefix_len ? -1 : x->prefix_len < y->prefix_len;
}

/* The mount that serves path (ignoring exclusions), or -1. */
static ssize_t
mount_for(const struct static_site *s, const char *path, size_t n)
{
    for (size_t i = 0; i < s->n_rules; i++) {
        const struct rule *r = &s->rules[i];
        if (r->kind == RULE_MOUNT && covers(r->prefix, r->len, path, n)) {
            return (ssize_t)r->mount;
        }
    }
    return -1;
}

static char *
absolute(const char *path)
{
    if (path[0] == '/') {
        return xstrdup(path);
    }
    char cwd[PATH_MAX];
    if (getcwd(cwd, sizeof(cwd)) == NULL) {
        return xstrdup(path);
    }
    size_t a = strlen(cwd), b = strlen(path);
    char *out = xmalloc(a + b + 2);
    memcpy(out, cwd, a);
    out[a] = '/';
    memcpy(out + a + 1, path, b + 1);
    return out;
}

struct static_site *
static_site_new(const struct config *cfg, char *err, size_t errsz)
{
    struct static_site *s = xcalloc(1, sizeof(*s));
    const char *force = getenv("WSGIHOST_STATIC_NO_OPENAT2");
    beneath_init(force != NULL && *force != '\0' && strcmp(force, "0") != 0);
    for (size_t i = 0; i < cfg->n_static; i++) {
        struct mount *m = &s->mounts[i];
        char why[PATH_MAX + 128];
        m->prefix = cfg->static_map[i].prefix;
        m->prefix_len = strlen(m->prefix);
        m->dir = absolute(cfg->static_map[i].path);
        m->root.fd = -1;
        s->n_mounts++;
        if (beneath_root_open(&m->root, m->dir, why, sizeof(why)) != 0) {
            errfmt(err, errsz, "--static %s=%s: %s", m->prefix, cfg->static_map[i].path, why);
            goto fail;
        }
        s->rules[s->n_rules++] = (struct rule){m->prefix, m->prefix_len, RULE_MOUNT, i};
    }
    for (size_t i = 0; i < cfg->n_static_exclude; i++) {
        const char *p = cfg->static_exclude[i];
        s->rules[s->n_rules++] = (struct rule){p, strlen(p), RULE_EXCLUDE, 0};
    }
    qsort(s->rules, s->n_rules, sizeof(s->rules[0]), cmp_rule);
    for (size_t i = 0; i < cfg->n_static_fallback; i++) {
        struct fallback *f = &s->fallbacks[s->n_fallbacks];
        f->prefix = cfg->static_fallback[i].prefix;
        f->prefix_len = strlen(f->prefix);
        f->file = cfg->static_fallback[i].path;
        ssize_t mi = mount_for(s, f->prefix, f->prefix_len);
        if (mi < 0) {
            errfmt(err, errsz, "--static-fallback %s=%s: no --static prefix covers %s", f->prefix,
                   f->file, f->prefix);
            goto fail;
        }
        f->mount = (size_t)mi;
        const struct mount *m = &s->mounts[mi];
        int fd = beneath_open(&m->root, f->file);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
            errfmt(err, errsz, "--static-fallback %s=%s: %s/%s: %s", f->prefix, f->file, m->dir,
                   f->file,
                   fd < 0 && errno == EXDEV ? "a symlink that leads out of the directory"
                   : fd < 0                 ? strerror(errno)
                                            : "not a regular file");
            if (fd >= 0) {
                close(fd);
            }
            goto fail;
        }
        close(fd);
        s->n_fallbacks++;
    }
    qsort(s->fallbacks, s->n_fallbacks, sizeof(s->fallbacks[0]), cmp_fallback);
    for (size_t i = 0; i < cfg->n_static_immutable; i++) {
        if (strcmp(cfg->static_immutable[i], "auto") == 0) {
            s->immutable_auto = true;
        } else {
            s->immutable[s->n_immutable++] = cfg->static_immutable[i];
        }
    }
    s->cache_control = cfg->static_cache_control;
    s->cache_control_len = s->cache_control ? strlen(s->cache_control) : 0;
    s->mime = mime_table_new(MIME_TYPES);
    s->sibs = xcalloc(SIB_SLOTS, sizeof(*s->sibs));
    size_t from_file;
    size_t n_types = mime_table_size(s->mime, &from_file);
    for (size_t i = 0; i < s->n_mounts; i++) {
        log_info("Static files: %s from %s (%s)", s->mounts[i].prefix, s->mounts[i].dir,
                 beneath_mode_name());
    }
    for (size_t i = 0; i < s->n_fallbacks; i++) {
        log_info("Static fallback: %s -> %s (GET, no extension, Accept: text/html)",
                 s->fallbacks[i].prefix, s->fallbacks[i].file);
    }
    log_debug("Static files: %zu types (%zu from " MIME_TYPES ")", n_types, from_file);
    s->base.handle = NULL; /* set by static_site_handler() */
    return s;
fail:
    static_site_free(s);
    return NULL;
}

void
static_site_free(struct static_site *s)
{
    if (s == NULL) {
        return;
    }
    for (size_t i = 0; i < s->n_mounts; i++) {
        beneath_root_close(&s->mounts[i].root);
        free(s->mounts[i].dir);
    }
    mime_table_free(s->mime);
    free(s->sibs);
    free(s);
}

/* A deploy that renames a new build into place, or swaps a symlink, makes
 * DIR name another directory: follow it, at most once a second. */
static void
recheck(struct mount *m, double now)
{
    m->checked_at = now;
    struct stat st;
    if (stat(m->dir, &st) != 0 || !S_ISDIR(st.st_mode) ||
        (st.st_dev == m->root.dev && st.st_ino == m->root.ino)) {
        return; /* the same, or gone for the moment: keep what we have */
    }
    struct beneath_root fresh;
    char why[PATH_MAX + 64];
    if (beneath_root_open(&fresh, m->dir, why, sizeof(why)) != 0) {
        log_warning("static files: %s now names another directory but it cannot be opened "
                    "(%s); still serving the previous one",
                    m->dir, why);
        m->root.dev = st.st_dev; /* said once */
        m->root.ino = st.st_ino;
        return;
    }
    log_info("Static files: %s names another directory now; serving it", m->dir);
    beneath_root_close(&m->root);
    m->root = fresh;
}

/* ---------------------------------------------------------------------- */
/* Responses */

static bool
field_is(const struct hfield *f, const char *lit, size_t n)
{
    return f->name_len == n && strncasecmp(f->name, lit, n) == 0;
}

#define FIELD_IS(f, lit) field_is((f), lit, sizeof(lit) - 1)

static void
add(struct http_resp *r, const char *name, const char *v, size_t n)
{
    http_resp_add_header(r, name, strlen(name), v, n);
}

static void
status(struct http_resp *r, int code)
{
    char line[64];
    int n = snprintf(line, sizeof(line), "%d %s", code, http_status_reason(code));
    http_resp_set_status(r, code, line, (size_t)n);
}

/* A short text response with one extra field (name NULL: none). */
static enum handler_rc
answer(struct http_resp *r, int code, const char *name, const char *value, size_t vlen)
{
    status(r, code);
    static const char ct[] = "text/plain; charset=utf-8";
    add(r, "Content-Type", ct, sizeof(ct) - 1);
    if (name != NULL) {
        add(r, name, value, vlen);
    }
    char body[64];
    int n = snprintf(body, sizeof(body), "%s\n", http_status_reason(code));
    char cl[24];
    int k = snprintf(cl, sizeof(cl), "%d", n);
    add(r, "Content-Length", cl, (size_t)k);
    http_resp_send_head(r, -1);
    http_resp_write(r, body, (size_t)n);
    http_resp_finish(r);
    return HANDLER_DONE;
}

static char *
put_hex(char *p, uint64_t v)
{
    char tmp[16];
    int i = 0;
    do {
        tmp[i++] = "0123456789abcdef"[v & 15];
        v >>= 4;
    } while (v != 0);
    while (i > 0) {
        *p++ = tmp[--i];
    }
    return p;
}


/* Strong: a new write gives a new mtime (nanoseconds), a new size, or both. */
static size_t
make_etag(char *out, const struct stat *st, const char *enc)
{
    char *p = out;
    *p++ = '"';
    p = put_hex(p, (uint64_t)st->st_size);
    *p++ = '-';
    p = put_hex(p, (uint64_t)st->st_mtim.tv_sec * 1000000000u + (uint64_t)st->st_mtim.tv_nsec);
    if (enc != NULL) {
        *p++ = '-';
        memcpy(p, enc, 2);
        p += 2;
    }
    *p++ = '"';
    return (size_t)(p - out);
}

/* What the request says, gathered in one pass over its fields. */
struct req_fields {
    const struct hfield *range, *if_range, *if_ms, *if_ums;
    int n_if_ms, n_if_ums, n_range, n_if_range;
    bool has_inm, has_im;
    struct httpcond_accept_enc ae;
};

static void
gather(const struct http_req *req, struct req_fields *f)
{
    memset(f, 0, sizeof(*f));
    httpcond_accept_enc_init(&f->ae);
    for (size_t i = 0; i < req->n_headers; i++) {
        const struct hfield *h = &req->headers[i];
        if (h->name_len < 5) {
            continue;
        }
        if (FIELD_IS(h, "accept-encoding")) {
            httpcond_accept_enc_feed(&f->ae, h->value, h->value_len);
        } else if (FIELD_IS(h, "range")) {
            f->range = h;
            f->n_range++;
        } else if (FIELD_IS(h, "if-range")) {
            f->if_range = h;
            f->n_if_range++;
        } else if (FIELD_IS(h, "if-modified-since")) {
            f->if_ms = h;
            f->n_if_ms++;
        } else if (FIELD_IS(h, "if-unmodified-since")) {
            f->if_ums = h;
            f->n_if_ums++;
        } else if (FIELD_IS(h, "if-none-match")) {
            f->has_inm = true;
        } else if (FIELD_IS(h, "if-match")) {
            f->has_im = true;
        }
    }
}

/* If-None-Match or If-Match, over every field of that name (one list):
 * 1 match, 0 none, -1 absent or not a valid list (then ignored). */
static int
etag_fields(const struct http_req *req, const char *name, const char *etag, size_t elen, bool weak)
{
    int result = -1;
    size_t nlen = strlen(name);
    for (size_t i = 0; i < req->n_headers; i++) {
        const struct hfield *h = &req->headers[i];
        if (!field_is(h, name, nlen)) {
            continue;
        }
        int m = httpcond_etag_match(h->value, h->value_len, etag, elen, weak);
        if (m < 0) {
            return -1;
        }
        result = result == 1 ? 1 : m;
    }
    return result;
}

static bool
one_date(const struct hfield *h, int count, int64_t *t)
{
    return h != NULL && count == 1 && httpcond_parse_date(h->value, h->value_len, t);
}

/* One representation: the file or a precompressed sibling of it. */
struct rep {
    int fd;
    struct stat st;
    const char *enc; /* "br", "gzip" or NULL */
};

static void
rep_close(struct rep *r)
{
    if (r->fd >= 0) {
        close(r->fd);
        r->fd = -1;
    }
}

/* A regular-file sibling ("x.js.br") opened beneath the mount, or fd -1. */
static void
sibling(const struct mount *m, const char *rel, size_t n, const char *suffix, struct rep *out)
{
    out->fd = -1;
    char p[PATH_BUF + 8];
    if (n + 4 > PATH_BUF || n == 0) {
        return;
    }
    memcpy(p, rel, n);
    strcpy(p + n, suffix);
    int fd = beneath_open(&m->root, p);
    if (fd < 0) {
        return;
    }
    if (fstat(fd, &out->st) != 0 || !S_ISREG(out->st.st_mode)) {
        close(fd);
        return;
    }
    out->fd = fd;
}

struct serve {
    const struct mount *m;
    const char *rel; /* the file's path beneath the mount */
    size_t rel_len;
    const char *name; /* its name, for the type and the hash test */
    size_t name_len;
    const char *path; /* the decoded URL path, for --static-immutable prefixes */
    size_t path_len;
    bool immutable_ok; /* not the fallback */
    double now;
};

static unsigned
siblings_known(struct static_site *s, const struct serve *v, const struct stat *st)
{
    uint64_t key = path_key((size_t)(v->m - s->mounts), v->rel, v->rel_len);
    struct sib_entry *e = &s->sibs[key & (SIB_SLOTS - 1)];
    int64_t mt = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
    if (e->key == key && e->dev == st->st_dev && e->ino == st->st_ino && e->size == st->st_size &&
        e->mtime_ns == mt && v->now - e->at < RECHECK_EVERY) {
        return e->has;
    }
    unsigned has = 0;
    struct rep probe;
    sibling(v->m, v->rel, v->rel_len, ".br", &probe);
    if (probe.fd >= 0) {
        has |= HAS_BR;
        rep_close(&probe);
    }
    sibling(v->m, v->rel, v->rel_len, ".gz", &probe);
    if (probe.fd >= 0) {
        has |= HAS_GZ;
        rep_close(&probe);
    }
    *e = (struct sib_entry){key, st->st_dev, st->st_ino, st->st_size, mt, v->now, has};
    return has;
}

static const char *
cache_control_for(const struct static_site *s, const struct serve *v, size_t *len)
{
    if (v->immutable_ok) {
        bool imm = s->immutable_auto && hashed_name(v->name, v->name_len);
        for (size_t i = 0; i < s->n_immutable && !imm; i++) {
            imm = covers(s->immutable[i], strlen(s->immutable[i]), v->path, v->path_len);
        }
        if (imm) {
            *len = sizeof(IMMUTABLE_CC) - 1;
            return IMMUTABLE_CC;
        }
    }
    *len = s->cache_control_len;
    return s->cache_control;
}

/* The fields a 200, 206 and 304 share (RFC 9110 15.4.5: a 304 has those a
 * 200 would have had that describe caching). */
static void
validators(struct http_resp *r, const struct rep *rep, const char *etag, size_t elen,
           const char *cc, size_t cc_len, bool vary)
{
    char date[HTTPCOND_DATE_LEN + 1];
    size_t dn = httpcond_format_date((int64_t)rep->st.st_mtim.tv_sec, date);
    add(r, "Last-Modified", date, dn);
    add(r, "ETag", etag, elen);
    if (cc != NULL) {
        add(r, "Cache-Control", cc, cc_len);
    }
    if (vary) {
        add(r, "Vary", "Accept-Encoding", 15);
    }
}

/* Serve fd (the file, already fstat'ed) to a GET or HEAD. Takes fd. */
static enum handler_rc
serve_file(struct static_site *s, struct handler_ctx *x, const struct serve *v, int fd,
           const struct stat *st)
{
    const struct http_req *req = x->req;
    struct http_resp *r = x->resp;
    struct req_fields f;
    gather(req, &f);
    const struct mime_type *type = mime_lookup(s->mime, v->name, v->name_len);

    /* Precompressed siblings, for the types that compress; looked for even
     * when the client takes neither, so that Vary is always right. */
    /* Precompressed siblings, for the types that compress; known even when
     * the client takes neither, so that Vary is always right. */
    struct rep reps[3] = {{fd, *st, NULL}, {-1, {0}, "br"}, {-1, {0}, "gzip"}};
    unsigned has = type->compressible ? siblings_known(s, v, st) : 0;
    bool vary = has != 0;
    int q[3] = {0, (has & HAS_BR) ? httpcond_accept_enc_q(&f.ae, f.ae.br) : 0,
                (has & HAS_GZ) ? httpcond_accept_enc_q(&f.ae, f.ae.gzip) : 0};
    /* The best q first (br on a tie: smaller); one that is gone since it
     * was seen gives way to the next. Identity only when the client names
     * it with a higher q than the coding. */
    int order[2] = {q[2] > q[1] ? 2 : 1, q[2] > q[1] ? 1 : 2};
    int pick = 0;
    for (int k = 0; k < 2 && pick == 0; k++) {
        int i = order[k];
        if (q[i] > 0 && f.ae.identity <= q[i]) {
            sibling(v->m, v->rel, v->rel_len, i == 1 ? ".br" : ".gz", &reps[i]);
            pick = reps[i].fd >= 0 ? i : 0;
        }
    }
    if (pick != 0) {
        rep_close(&reps[0]);
    }
    struct rep *rep = &reps[pick];
    uint64_t len = (uint64_t)rep->st.st_size;
    char etag[64];
    size_t elen = make_etag(etag, &rep->st, pick == 1 ? "br" : pick == 2 ? "gz" : NULL);
    size_t cc_len;
    const char *cc = cache_control_for(s, v, &cc_len);
    int64_t mtime = (int64_t)rep->st.st_mtim.tv_sec;
    int64_t t;

    /* RFC 9110 13.2.2: If-Match, else If-Unmodified-Since; If-None-Match,
     * else If-Modified-Since; then Range with If-Range. */
    int im = f.has_im ? etag_fields(req, "if-match", etag, elen, false) : -1;
    if (im == 0 || (im < 0 && !f.has_im && one_date(f.if_ums, f.n_if_ums, &t) && mtime > t)) {
        rep_close(rep);
        return answer(r, 412, NULL, NULL, 0);
    }
    int inm = f.has_inm ? etag_fields(req, "if-none-match", etag, elen, true) : -1;
    bool not_modified = inm == 1;
    if (inm < 0 && one_date(f.if_ms, f.n_if_ms, &t) && mtime <= t) {
        not_modified = true;
    }
    if (not_modified) {
        rep_close(rep);
        status(r, 304);
        validators(r, rep, etag, elen, cc, cc_len, vary);
        http_resp_send_head(r, -1);
        http_resp_finish(r);
        return HANDLER_DONE;
    }
    uint64_t first = 0, last = len ? len - 1 : 0;
    bool partial = false;
    if (!req->is_head && f.range != NULL && f.n_range == 1) {
        bool range_ok = true;
        if (f.if_range != NULL) {
            /* A strong match of the tag, or the exact Last-Modified date. */
            range_ok = f.n_if_range == 1 &&
                       (httpcond_is_etag(f.if_range->value, f.if_range->value_len)
                            ? httpcond_etag_match(f.if_range->value, f.if_range->value_len, etag,
                                                  elen, false) == 1
                            : one_date(f.if_range, 1, &t) && t == mtime);
        }
        if (range_ok) {
            enum httpcond_range rr =
                httpcond_parse_range(f.range->value, f.range->value_len, len, &first, &last);
            if (rr == HTTPCOND_RANGE_UNSATISFIABLE) {
                rep_close(rep);
                char cr[40];
                int k = snprintf(cr, sizeof(cr), "bytes */%llu", (unsigned long long)len);
                return answer(r, 416, "Content-Range", cr, (size_t)k);
            }
            partial = rr == HTTPCOND_RANGE_OK;
        }
    }
    uint64_t n = len ? last - first + 1 : 0;

    status(r, partial ? 206 : 200);
    add(r, "Content-Type", type->value, type->len);
    char num[24];
    add(r, "Content-Length", num, (size_t)(put_dec(num, n) - num));
    validators(r, rep, etag, elen, cc, cc_len, vary);
    add(r, "Accept-Ranges", "bytes", 5);
    if (pick != 0) {
        add(r, "Content-Encoding", rep->enc, strlen(rep->enc));
    }
    if (partial) {
        char cr[72];
        int k = snprintf(cr, sizeof(cr), "bytes %llu-%llu/%llu", (unsigned long long)first,
                         (unsigned long long)last, (unsigned long long)len);
        add(r, "Content-Range", cr, (size_t)k);
    }
    http_resp_send_head(r, -1);
    enum handler_rc rc = HANDLER_DONE;
    if (req->is_head || n == 0) {
        rep_close(rep);
    } else if (n <= SMALL_FILE) {
        char buf[SMALL_FILE];
        ssize_t got;
        do {
            got = pread(rep->fd, buf, (size_t)n, (off_t)first);
        } while (got < 0 && errno == EINTR);
        rep_close(rep);
        if (got > 0) {
            http_resp_write(r, buf, (size_t)got);
        }
        if (got != (ssize_t)n) {
            /* Shrunk since fstat (rewritten in place): the promised length
             * cannot be kept; the client sees the connection end. */
            log_info("static file %s/%s changed while read; closing the connection", v->m->dir,
                     v->rel);
            rc = HANDLER_CLOSE;
        }
    } else {
        /* The queue owns the descriptor now; a file that shrinks under
         * sendfile ends the connection (outq_flush: EIO), never hangs it. */
        http_resp_sendfile(r, rep->fd, (off_t)first, n);
        rep->fd = -1;
    }
    if (!http_resp_finish(r) && rc == HANDLER_DONE) {
        rc = HANDLER_CLOSE;
    }
    return rc;
}

/* ---------------------------------------------------------------------- */
/* The handler */

static enum handler_rc
open_error(struct http_resp *r, const struct mount *m, const char *rel, int err)
{
    switch (err) {
    case EXDEV:
    case ELOOP:
        log_debug("static: %s/%s: a symlink that leads out of the directory: 404", m->dir, rel);
        return answer(r, 404, NULL, NULL, 0);
    case EACCES:
    case EPERM:
        return answer(r, 403, NULL, NULL, 0);
    case EMFILE:
    case ENFILE:
        log_warning("static: %s/%s: %s: 503", m->dir, rel, strerror(err));
        return answer(r, 503, NULL, NULL, 0);
    default:
        log_error("static: %s/%s: %s: 500", m->dir, rel, strerror(err));
        return answer(r, 500, NULL, NULL, 0);
    }
}

static bool
not_found_errno(int err)
{
    return err == ENOENT || err == ENOTDIR || err == ENAMETOOLONG;
}

/* The SPA fallback that applies to a GET or HEAD of path, served by m,
 * that named no file: NULL when none does. */
static const struct fallback *
fallback_for(const struct static_site *s, size_t mount, const char *path, size_t n,
             const char *last, size_t last_len, const struct http_req *req)
{
    if (s->n_fallbacks == 0 || (last != NULL && memchr(last, '.', last_len) != NULL)) {
        return NULL; /* a missing asset (app.js, logo.png) is not a route */
    }
    const struct fallback *f = NULL;
    for (size_t i = 0; i < s->n_fallbacks && f == NULL; i++) {
        if (s->fallbacks[i].mount == mount &&
            covers(s->fallbacks[i].prefix, s->fallbacks[i].prefix_len, path, n)) {
            f = &s->fallbacks[i];
        }
    }
    if (f == NULL) {
        return NULL;
    }
    /* Browsers navigating ask for text/html; fetch(), XHR and curl do not,
     * so an API path the app serves never gets the index by accident. */
    for (size_t i = 0; i < req->n_headers; i++) {
        const struct hfield *h = &req->headers[i];
        if (FIELD_IS(h, "accept") && httpcond_accepts_html(h->value, h->value_len)) {
            return f;
        }
    }
    return NULL;
}

static bool
method_is(const struct http_req *req, const char *m, size_t n)
{
    return req->method_len == n && memcmp(req->method, m, n) == 0;
}

static enum handler_rc
redirect_slash(struct http_resp *r, const struct http_req *req)
{
    char loc[PATH_BUF + 8];
    size_t n = req->path_len;
    memcpy(loc, req->path, n);
    loc[n++] = '/';
    if (req->query_len > 0 && n + 1 + req->query_len < sizeof(loc)) {
        loc[n++] = '?';
        memcpy(loc + n, req->query, req->query_len);
        n += req->query_len;
    }
    return answer(r, 301, "Location", loc, n);
}

static enum handler_rc
static_handle(struct handler *h, struct handler_ctx *x)
{
    struct static_site *s = container_of(h, struct static_site, base);
    const struct http_req *req = x->req;
    struct http_resp *r = x->resp;
    if (req->path_len == 0 || req->path[0] != '/' || req->path_len >= PATH_BUF) {
        return HANDLER_DECLINED;
    }
    char path[PATH_BUF];
    size_t n;
    unsigned flaws;
    if (!decode(req->path, req->path_len, path, &n, &flaws)) {
        return HANDLER_DECLINED;
    }
    const struct rule *rule = NULL;
    for (size_t i = 0; i < s->n_rules && rule == NULL; i++) {
        if (covers(s->rules[i].prefix, s->rules[i].len, path, n)) {
            rule = &s->rules[i];
        }
    }
    if (rule == NULL || rule->kind == RULE_EXCLUDE) {
        return HANDLER_DECLINED;
    }
    struct mount *m = &s->mounts[rule->mount];
    char rel[PATH_BUF + 16];
    size_t rel_len;
    const char *last;
    size_t last_len;
    size_t skip = m->prefix_len == 1 ? 0 : m->prefix_len;
    if (flaws != 0 || !relative(path + skip, n - skip, rel, &rel_len, &last, &last_len)) {
        return answer(r, 404, NULL, NULL, 0);
    }
    double now = now_mono();
    if (now - m->checked_at >= RECHECK_EVERY) {
        recheck(m, now);
    }
    bool readonly = method_is(req, "GET", 3) || req->is_head;
    bool slash = path[n - 1] == '/';
    struct serve v = {
        .m = m,
        .rel = rel,
        .rel_len = rel_len,
        .name = last,
        .name_len = last_len,
        .path = path,
        .path_len = n,
        .immutable_ok = true,
        .now = now,
    };
    struct stat st;
    int fd = -1;
    bool dir = rel_len == 0;
    if (!dir) {
        fd = beneath_open(&m->root, rel);
        if (fd < 0 && !not_found_errno(errno)) {
            return open_error(r, m, rel, errno);
        }
        if (fd >= 0) {
            if (fstat(fd, &st) != 0) {
                int err = errno;
                close(fd);
                return open_error(r, m, rel, err);
            }
            if (S_ISDIR(st.st_mode)) {
                close(fd);
                fd = -1;
                dir = true;
            } else if (!S_ISREG(st.st_mode) || slash) {
                /* A device or fifo is never served; "file.js/" names no file. */
                close(fd);
                if (!S_ISREG(st.st_mode)) {
                    return answer(r, 404, NULL, NULL, 0);
                }
                fd = -1;
            }
        }
    }
    if (dir) {
        /* No listings: a directory is its index.html, or nothing. */
        static const char index[] = "index.html";
        if (rel_len > 0) {
            rel[rel_len++] = '/';
        }
        memcpy(rel + rel_len, index, sizeof(index));
        size_t dir_len = rel_len;
        rel_len += sizeof(index) - 1;
        fd = beneath_open(&m->root, rel);
        if (fd < 0 && !not_found_errno(errno)) {
            return open_error(r, m, rel, errno);
        }
        if (fd >= 0 && (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))) {
            close(fd);
            fd = -1;
        }
        if (fd >= 0) {
            if (!readonly) {
                close(fd);
                return answer(r, 405, "Allow", "GET, HEAD", 9);
            }
            if (!slash) {
                close(fd);
                return redirect_slash(r, req);
            }
            v.rel_len = rel_len;
            v.name = rel + dir_len;
            v.name_len = sizeof(index) - 1;
            return serve_file(s, x, &v, fd, &st);
        }
        rel[dir_len > 0 ? dir_len - 1 : 0] = '\0';
        rel_len = dir_len > 0 ? dir_len - 1 : 0;
    }
    if (fd >= 0) {
        if (!readonly) {
            close(fd);
            return answer(r, 405, "Allow", "GET, HEAD", 9);
        }
        return serve_file(s, x, &v, fd, &st);
    }
    /* Nothing there: the SPA's index for a browser's route, else the app. */
    if (!readonly) {
        return HANDLER_DECLINED;
    }
    const struct fallback *f = fallback_for(s, rule->mount, path, n, last, last_len, req);
    if (f == NULL) {
        return HANDLER_DECLINED;
    }
    fd = beneath_open(&m->root, f->file);
    if (fd < 0) {
        return not_found_errno(errno) ? HANDLER_DECLINED : open_error(r, m, f->file, errno);
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return HANDLER_DECLINED;
    }
    const char *slash_at = strrchr(f->file, '/');
    struct serve fv = {
        .m = m,
        .rel = f->file,
        .rel_len = strlen(f->file),
        .name = slash_at ? slash_at + 1 : f->file,
        .path = path,
        .path_len = n,
        .immutable_ok = false,
        .now = now,
    };
    fv.name_len = strlen(fv.name);
    return serve_file(s, x, &fv, fd, &st);
}

static enum handler_rc
static_proceed(struct handler *h, struct handler_ctx *x)
{
    (void)h;
    (void)x;
    return HANDLER_DONE; /* never PAUSED: the queue holds the file range */
}

static bool
static_stop(struct handler *h, struct handler_ctx *x)
{
    (void)h;
    (void)x;
    return false;
}

struct handler *
static_site_handler(struct static_site *s, struct handler *next)
{
    s->base.handle = static_handle;
    s->base.proceed = static_proceed;
    s->base.stop = static_stop;
    s->base.next = next;
    return &s->base;
}
