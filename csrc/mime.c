#include "mime.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

#define MIME_SLOTS   4096 /* power of two, well above /etc/mime.types' ~1,600 extensions */
#define MIME_EXT_MAX 16   /* longer extensions are not looked up */

struct mime_slot {
    char ext[MIME_EXT_MAX]; /* lower case, NUL-terminated; "" = free */
    const struct mime_type *type;
};

struct mime_table {
    struct mime_slot slots[MIME_SLOTS];
    struct mime_type **types; /* owned, with their value strings */
    size_t n_types, cap_types;
    size_t n_exts, n_from_file;
};

static const struct mime_type octet_stream = {"application/octet-stream", 24, false};

/* The front end's types, for a system without /etc/mime.types or whose
 * file lacks one of them (mjs, map, avif, wasm in older files). */
/* clang-format off */
static const char *const builtin[][2] = {
    {"html", "text/html"},
    {"htm", "text/html"},
    {"js", "text/javascript"},
    {"mjs", "text/javascript"},
    {"css", "text/css"},
    {"json", "application/json"},
    {"map", "application/json"},
    {"webmanifest", "application/manifest+json"},
    {"svg", "image/svg+xml"},
    {"png", "image/png"},
    {"jpg", "image/jpeg"},
    {"jpeg", "image/jpeg"},
    {"gif", "image/gif"},
    {"webp", "image/webp"},
    {"avif", "image/avif"},
    {"ico", "image/x-icon"},
    {"woff", "font/woff"},
    {"woff2", "font/woff2"},
    {"ttf", "font/ttf"},
    {"otf", "font/otf"},
    {"txt", "text/plain"},
    {"wasm", "application/wasm"},
    {"xml", "application/xml"},
    {"pdf", "application/pdf"},
};
/* clang-format on */

static bool
ends_with(const char *s, size_t n, const char *lit)
{
    size_t k = strlen(lit);
    return n >= k && memcmp(s + n - k, lit, k) == 0;
}

static bool
is_type(const char *s, size_t n, const char *lit)
{
    return strlen(lit) == n && memcmp(s, lit, n) == 0;
}

/* Types whose bodies are text a browser decodes: they get a charset. */
static bool
is_text(const char *s, size_t n)
{
    return (n > 5 && memcmp(s, "text/", 5) == 0) || is_type(s, n, "application/javascript") ||
           is_type(s, n, "application/json") || is_type(s, n, "application/xml") ||
           (n > 12 && memcmp(s, "application/", 12) == 0 &&
            (ends_with(s, n, "+json") || ends_with(s, n, "+xml")));
}

static bool
is_compressible(const char *s, size_t n)
{
    return is_text(s, n) || ends_with(s, n, "+xml") || ends_with(s, n, "+json") ||
           is_type(s, n, "application/wasm") || is_type(s, n, "image/x-icon") ||
           is_type(s, n, "image/vnd.microsoft.icon") || is_type(s, n, "image/bmp") ||
           is_type(s, n, "font/ttf") || is_type(s, n, "font/otf") ||
           is_type(s, n, "application/vnd.ms-fontobject");
}

static uint32_t
hash_ext(const char *ext)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (; *ext != '\0'; ext++) {
        h = (h ^ (unsigned char)*ext) * 16777619u;
    }
    return h;
}

static struct mime_slot *
find_slot(const struct mime_table *t, const char *ext)
{
    uint32_t i = hash_ext(ext) & (MIME_SLOTS - 1);
    for (uint32_t k = 0; k < MIME_SLOTS; k++, i = (i + 1) & (MIME_SLOTS - 1)) {
        const struct mime_slot *s = &t->slots[i];
        if (s->ext[0] == '\0' || strcmp(s->ext, ext) == 0) {
            return (struct mime_slot *)s;
        }
    }
    return NULL;
}

/* Lower-cases [p, p+n) into out; false when it does not fit or is empty. */
static bool
norm_ext(const char *p, size_t n, char out[MIME_EXT_MAX])
{
    if (n == 0 || n >= MIME_EXT_MAX) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char ch = p[i];
        out[i] = ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch;
    }
    out[n] = '\0';
    return true;
}

static const struct mime_type *
add_type(struct mime_table *t, const char *s, size_t n)
{
    /* Consecutive extensions of one line share the type just added. */
    if (t->n_types > 0) {
        const struct mime_type *last = t->types[t->n_types - 1];
        size_t base = strcspn(last->value, ";");
        if (base == n && memcmp(last->value, s, n) == 0) {
            return last;
        }
    }
    bool text = is_text(s, n);
    static const char charset[] = "; charset=utf-8";
    size_t len = n + (text ? sizeof(charset) - 1 : 0);
    struct mime_type *mt = xmalloc(sizeof(*mt) + len + 1);
    char *v = (char *)(mt + 1);
    memcpy(v, s, n);
    if (text) {
        memcpy(v + n, charset, sizeof(charset) - 1);
    }
    v[len] = '\0';
    mt->value = v;
    mt->len = len;
    mt->compressible = is_compressible(s, n);
    if (t->n_types == t->cap_types) {
        t->cap_types = t->cap_types ? t->cap_types * 2 : 256;
        t->types = xrealloc(t->types, t->cap_types * sizeof(*t->types));
    }
    t->types[t->n_types++] = mt;
    return mt;
}

/* The first mapping of an extension wins. Returns true when it was new. */
static bool
add_ext(struct mime_table *t, const char *ext, size_t n, const char *type, size_t tlen)
{
    char key[MIME_EXT_MAX];
    if (!norm_ext(ext, n, key) || t->n_exts >= MIME_SLOTS / 2) {
        return false;
    }
    struct mime_slot *s = find_slot(t, key);
    if (s == NULL || s->ext[0] != '\0') {
        return false;
    }
    memcpy(s->ext, key, n + 1);
    s->type = add_type(t, type, tlen);
    t->n_exts++;
    return true;
}

static bool
type_ok(const char *s, size_t n)
{
    const char *slash = memchr(s, '/', n);
    if (slash == NULL || slash == s || slash == s + n - 1) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch <= ' ' || ch >= 0x7f || ch == ';' || ch == ',' || ch == '"') {
            return false;
        }
    }
    return true;
}

static void
load_file(struct mime_table *t, const char *path)
{
    FILE *f = fopen(path, "re");
    if (f == NULL) {
        log_info("static files: %s: %s; Content-Type from the built-in table only", path,
                 strerror(errno));
        return;
    }
    char line[4096];
    while (fgets(line, sizeof(line), f) != NULL) {
        char *p = line;
        char *hash = strchr(p, '#');
        if (hash != NULL) {
            *hash = '\0';
        }
        size_t tlen = strcspn(p, " \t\r\n");
        if (tlen == 0 || !type_ok(p, tlen)) {
            continue;
        }
        const char *type = p;
        p += tlen;
        for (;;) {
            p += strspn(p, " \t\r\n");
            size_t elen = strcspn(p, " \t\r\n");
            if (elen == 0) {
                break;
            }
            if (add_ext(t, p, elen, type, tlen)) {
                t->n_from_file++;
            }
            p += elen;
        }
    }
    fclose(f);
}

struct mime_table *
mime_table_new(const char *path)
{
    struct mime_table *t = xcalloc(1, sizeof(*t));
    if (path != NULL) {
        load_file(t, path);
    }
    for (size_t i = 0; i < countof(builtin); i++) {
        add_ext(t, builtin[i][0], strlen(builtin[i][0]), builtin[i][1], strlen(builtin[i][1]));
    }
    return t;
}

void
mime_table_free(struct mime_table *t)
{
    if (t == NULL) {
        return;
    }
    for (size_t i = 0; i < t->n_types; i++) {
        free(t->types[i]);
    }
    free(t->types);
    free(t);
}

size_t
mime_table_size(const struct mime_table *t, size_t *from_file)
{
    if (from_file != NULL) {
        *from_file = t->n_from_file;
    }
    return t->n_exts;
}

const struct mime_type *
mime_lookup(const struct mime_table *t, const char *name, size_t len)
{
    size_t i = len;
    while (i > 0 && name[i - 1] != '.' && name[i - 1] != '/') {
        i--;
    }
    if (i == 0 || name[i - 1] != '.') {
        return &octet_stream;
    }
    char key[MIME_EXT_MAX];
    if (!norm_ext(name + i, len - i, key)) {
        return &octet_stream;
    }
    const struct mime_slot *s = find_slot(t, key);
    return s != NULL && s->ext[0] != '\0' ? s->type : &octet_stream;
}
