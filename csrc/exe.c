/* The wsgihost executable's entry: switch to the host interpreter when it
 * can (hostpy.h), else serve with the libpython linked in. */
#include "hostpy.h"
#include "main.h"
#include "proctitle.h"

int
main(int argc, char **argv)
{
    /* The configuration keeps pointers into argv: copies, so that the
     * original strings' memory can take a process title (-n/proc_name). */
    argv = proctitle_save_argv(argc, argv);
    hostpy_exec(argc, argv); /* returns only when the embedded copy serves */
    return wsgihost_main(argc, argv);
}
