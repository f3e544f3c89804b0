/* The program: argv -> config, then serve. Called by main() in exe.c, or,
 * in the host-interpreter mode, by the module's init function
 * (hostpy_entry.c). Exit codes: 0 after a clean stop, 1 when start-up
 * fails (bind, import, ...), 2 for a usage error. */
#ifndef WSGIHOST_MAIN_H
#define WSGIHOST_MAIN_H

int wsgihost_main(int argc, char **argv);

#endif
