/* --reload: inotify watches on the directories of the app's source files;
 * any change to a *.py file there restarts the worker. No polling. */
#ifndef WSGIHOST_RELOAD_H
#define WSGIHOST_RELOAD_H

#include "util.h"

struct reload_watch;

/* Watch dirs (NULL-terminated list). Returns NULL after logging. */
struct reload_watch *reload_watch_new(char *const *dirs);
/* Watch more directories (already watched ones are skipped). */
void reload_watch_add(struct reload_watch *r, char *const *dirs);
int reload_fd(const struct reload_watch *r);
/* Read pending events; returns true and fills path when a *.py file
 * changed. */
bool reload_changed(struct reload_watch *r, char *path, size_t n);
void reload_watch_free(struct reload_watch *r);

#endif
