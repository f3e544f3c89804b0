/* --reload: inotify watches on the directories of the app's source files;
 * any change to a *.py file there restarts the worker, and so does one to
 * a --reload-extra-file (gunicorn's reload_extra_files: templates, a
 * settings file), through a watch on its directory. No polling. */
#ifndef WSGIHOST_RELOAD_H
#define WSGIHOST_RELOAD_H

#include "util.h"

struct reload_watch;

/* Watch dirs (NULL-terminated list). Returns NULL after logging. */
struct reload_watch *reload_watch_new(char *const *dirs);
/* Watch more directories (already watched ones are skipped). */
void reload_watch_add(struct reload_watch *r, char *const *dirs);
/* Watch these files too (relative to the current directory), by their
 * directories: the file may be replaced (an editor's rename) or not exist
 * yet. A file whose directory cannot be watched is logged. */
void reload_watch_files(struct reload_watch *r, const char *const *files, size_t n);
int reload_fd(const struct reload_watch *r);
/* Read pending events; returns true and fills path when a *.py file in a
 * source directory, or an extra file, changed. */
bool reload_changed(struct reload_watch *r, char *path, size_t n);
void reload_watch_free(struct reload_watch *r);

#endif
