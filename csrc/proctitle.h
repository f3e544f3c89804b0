/* Process titles: what ps shows for a process (/proc/PID/cmdline). The
 * kernel reads it from the memory the process's argv strings were given
 * in, followed by the environment strings; overwriting that area changes
 * the title (as nginx and Python's setproctitle do). No Python here. */
#ifndef WSGIHOST_PROCTITLE_H
#define WSGIHOST_PROCTITLE_H

#include <stdbool.h>

/* Before anything keeps pointers into argv: returns a copy of argv (the
 * strings on the heap, for the life of the process) so that the original
 * area may be overwritten later. */
char **proctitle_save_argv(int argc, char **argv);

/* Write a command line into the area: the strings of argv, each
 * NUL-terminated, as ps then shows them ("wsgihost -w 4 pyapp:app").
 * Returns false when the area cannot be found (then nothing changed). */
bool proctitle_set_argv(int argc, char *const *argv);

/* One title ("wsgihost: worker [myapp]"). When it does not fit in the argv
 * strings, the environment strings are moved to the heap first (environ
 * then points there; /proc/PID/environ shows the title instead), so a
 * title is cut only past argv and environ together. Returns false when
 * the area cannot be found. */
bool proctitle_set(const char *title);

#endif
