/* File name extension -> Content-Type: /etc/mime.types read once at
 * start-up, a built-in table for the front end's types where the file has
 * nothing (or is missing). Text types carry "; charset=utf-8". */
#ifndef WSGIHOST_MIME_H
#define WSGIHOST_MIME_H

#include "util.h"

struct mime_type {
    const char *value; /* the Content-Type value, charset included */
    size_t len;
    bool compressible; /* worth a precompressed .br/.gz sibling (text, JSON, SVG, ...) */
};

struct mime_table;

/* Reads path (NULL: only the built-in table). A missing file is logged at
 * info level and is not an error; never returns NULL. */
struct mime_table *mime_table_new(const char *path);
void mime_table_free(struct mime_table *t);
/* How many extensions the table knows, and how many came from the file. */
size_t mime_table_size(const struct mime_table *t, size_t *from_file);

/* The type of a file name by its last extension (case-insensitive);
 * application/octet-stream when unknown. Never NULL. */
const struct mime_type *mime_lookup(const struct mime_table *t, const char *name, size_t len);

#endif
