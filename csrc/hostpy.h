/* Host-interpreter mode: serve from inside the system's own python3.X
 * process instead of the copy of libpython linked into this executable.
 *
 * Debian's /usr/bin/python3.X is built with optimisations its libpython3.X.a
 * does not carry: the same Flask request costs ~5% fewer instructions there
 * (bench/instr: 289,600 vs 306,900 per request on pyapp /). So the build
 * also makes the server into a CPython extension module (_wsgihost.so, the
 * same sources compiled as PIC, no libpython linked), and wsgihost, started
 * normally, re-executes itself as `python3.X -u -c LAUNCHER ...`, which
 * loads the module, whose init function runs main() on the interpreter
 * python3.X has already set up. Nothing here touches the Python C API; the
 * module's entry point is csrc/hostpy_entry.c. */
#ifndef WSGIHOST_HOSTPY_H
#define WSGIHOST_HOSTPY_H

#include <stdbool.h>
#include <stddef.h>

/* Set by the module's init function before it calls main(): this process
 * is python3.X with its interpreter already initialised. */
extern bool hostpy_active;
/* Then: sys.executable of the host interpreter (as it was started, symlinks
 * kept: a virtualenv's bin/python is the venv). */
extern char hostpy_python[4096];
extern char hostpy_module[4096]; /* the module's path, and the executable's */
extern char hostpy_self[4096];
extern bool hostpy_switched;     /* main() switched interpreters once already */

/* The Python to serve with: `explicit` (--python-executable) if given, else
 * VENV/bin/python for `venv` (-H/--virtualenv), else $VIRTUAL_ENV/bin/python
 * when a virtualenv is activated, else NULL (the build's default). *source
 * says which ("--python-executable", "--virtualenv", "$VIRTUAL_ENV"). A
 * virtualenv whose pyvenv.cfg names another minor version than the one
 * built in is refused: -1 with err naming both and how to build for it.
 * Returns 0 (and out = "" for the default). */
int hostpy_resolve_python(const char *explicit_exe, const char *venv, char *out, size_t outsz,
                          const char **source, char *err, size_t errsz);

/* Would hostpy_exec() switch interpreters for these arguments? Fills
 * python (the interpreter) and module (the _wsgihost.so path); false with
 * why (a short reason: "WSGIHOST_EMBEDDED=1", "no _wsgihost.so", ...). */
bool hostpy_plan(int argc, char **argv, char *python, size_t pysz, char *module, size_t modsz,
                 const char **why);

/* Called first in main(): when the plan says so, execv() the host
 * interpreter with the same arguments (returns only when it is not used or
 * the exec failed; then this process goes on with the embedded copy). */
void hostpy_exec(int argc, char **argv);

/* After the configuration is read (config file, $WSGIHOST_CMD_ARGS): when
 * it names another --python-executable than the host's, execv() that one
 * (once). */
void hostpy_switch_if_needed(const char *python, int argc, char **argv);

/* In the host interpreter: /proc/self/cmdline (what ps shows) becomes argv,
 * the command as typed ("wsgihost -w 4 pyapp:app"), and the thread name
 * "wsgihost", instead of python3.X and the launcher. */
void hostpy_set_cmdline(int argc, char **argv);

#endif
