/* Host-interpreter mode, the module's side (a bridge file: the only code of
 * the _wsgihost.so build that is not also in the executable). python3.X
 * has initialised itself and runs the launcher (hostpy.c), whose
 * _imp.create_dynamic() calls PyInit__wsgihost on the main thread with the
 * GIL held. That hands the interpreter to pyrt and runs main(); the process
 * ends here, never returning to the launcher. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "hostpy.h"
#include "log.h"
#include "pyrt.h"
#include "util.h"

int wsgihost_main(int argc, char **argv);

PyMODINIT_FUNC PyInit__wsgihost(void);

PyMODINIT_FUNC
PyInit__wsgihost(void)
{
    /* sys.argv is [-c, MODULE, SELF, X.Y, HOP, user args...] (hostpy.c). */
    PyObject *args = PySys_GetObject("argv"); /* borrowed */
    PyObject *exe = PySys_GetObject("executable");
    if (args == NULL || !PyList_Check(args) || PyList_GET_SIZE(args) < 5 || exe == NULL ||
        !PyUnicode_Check(exe)) {
        PyErr_SetString(PyExc_RuntimeError, "_wsgihost: start it with the wsgihost command");
        return NULL;
    }
    Py_ssize_t n = PyList_GET_SIZE(args);
    char **argv = xcalloc((size_t)n + 1, sizeof(*argv));
    for (Py_ssize_t i = 1; i < n; i++) {
        PyObject *b = PyUnicode_EncodeFSDefault(PyList_GET_ITEM(args, i));
        if (b == NULL) {
            return NULL;
        }
        argv[i] = xstrdup(PyBytes_AS_STRING(b)); /* lives as long as the process */
        Py_DECREF(b);
    }
    snprintf(hostpy_module, sizeof(hostpy_module), "%s", argv[1]);
    snprintf(hostpy_self, sizeof(hostpy_self), "%s", argv[2]);
    hostpy_switched = strcmp(argv[4], "1") == 0;
    /* main()'s argv: "wsgihost" and the user's arguments. */
    char **uargv = argv + 4;
    int uargc = (int)(n - 4);
    uargv[0] = "wsgihost";
    PyObject *eb = PyUnicode_EncodeFSDefault(exe);
    if (eb == NULL) {
        return NULL;
    }
    snprintf(hostpy_python, sizeof(hostpy_python), "%s", PyBytes_AS_STRING(eb));
    Py_DECREF(eb);
    /* What the embedded interpreter's sys.argv is. */
    PyObject *mine = Py_BuildValue("[s]", "wsgihost");
    if (mine == NULL || PySys_SetObject("argv", mine) < 0) {
        Py_XDECREF(mine);
        return NULL;
    }
    Py_DECREF(mine);
    hostpy_active = true;
    hostpy_set_cmdline(uargc, uargv);
    pyrt_host_attach();
    int rc = wsgihost_main(uargc, uargv);
    log_flush();
    fflush(NULL);
    _exit(rc);
}
