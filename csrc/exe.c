/* The wsgihost executable's entry: switch to the host interpreter when it
 * can (hostpy.h), else serve with the libpython linked in. */
#include "hostpy.h"
#include "main.h"

int
main(int argc, char **argv)
{
    hostpy_exec(argc, argv); /* returns only when the embedded copy serves */
    return wsgihost_main(argc, argv);
}
