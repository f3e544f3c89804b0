/* Host-interpreter mode, the executable's side: decide, then execv(). See
 * hostpy.h. */
#include "hostpy.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "build_config.h"
#include "proctitle.h"
#include "util.h"

bool hostpy_active;
char hostpy_python[4096];
char hostpy_module[4096];
char hostpy_self[4096];
bool hostpy_switched;

/* Run by python3.X -u -c: argv is [-c, MODULE, SELF, X.Y, HOP, user
 * args...] (HOP: 1 when main() switched interpreters once already).
 * The interpreter must be the CPython version the module was built for; if
 * it is not, the embedded copy serves (the executable again, told so). The
 * module's init function (hostpy_entry.c) then runs main() and never
 * returns. __main__ keeps only the launcher function. */
static const char launcher[] =
    "def _wsgihost_launch():\n"
    "    import sys\n"
    "    mod, exe, want = sys.argv[1:4]\n"
    "    have = '%d.%d' % sys.version_info[:2]\n"
    "    if have != want or sys.implementation.name != 'cpython' or sys.abiflags:\n"
    "        import os\n"
    "        sys.stderr.write('wsgihost: %s is Python %s%s, not the %s this wsgihost was built '\n"
    "                         'for: using its embedded interpreter\\n'\n"
    "                         % (sys.executable, have, sys.abiflags, want))\n"
    "        os.environ['WSGIHOST_EMBEDDED'] = '1'\n"
    "        os.execv(exe, [exe] + sys.argv[5:])\n"
    "    if sys.path and sys.path[0] == '':\n"
    "        del sys.path[0]\n"
    "    import _imp\n"
    "    from importlib.machinery import ModuleSpec\n"
    "    _imp.create_dynamic(ModuleSpec('_wsgihost', None, origin=mod))\n"
    "_wsgihost_launch()\n";

static bool
is_file(const char *path)
{
    return access(path, R_OK) == 0;
}

/* dir/rel/_wsgihost.so into out, when it is a readable file. */
static bool
try_module(char *out, size_t outsz, const char *dir, size_t dirlen, const char *rel)
{
    int n = snprintf(out, outsz, "%.*s%s%s/_wsgihost.so", (int)dirlen, dir, *rel ? "/" : "", rel);
    return n > 0 && (size_t)n < outsz && is_file(out);
}

/* Where the module is, first found wins:
 * 1. beside the executable (a build tree: build/wsgihost, build/_wsgihost.so);
 * 2. relative to the executable's prefix, when it runs from <prefix>/<bindir>:
 *    <prefix>/<libdir>/wsgihost (where meson installs it), then
 *    <prefix>/lib/wsgihost and <prefix>/libexec/wsgihost (other layouts).
 *    So an installed tree works wherever it is (DESTDIR, dpkg -x, a copied
 *    /opt prefix): /usr/bin/wsgihost finds
 *    /usr/lib/x86_64-linux-gnu/wsgihost/_wsgihost.so;
 * 3. the absolute directory meson installs it to (WSGIHOST_HOSTMOD_DIR).
 * A build without the host-interpreter mode (sanitizers) looks nowhere: it
 * must not pick up another build's installed module. */
static bool
find_module(char *out, size_t outsz, char *self, size_t selfsz)
{
    if (!WSGIHOST_HOST_PYTHON) {
        return false;
    }
    ssize_t n = readlink("/proc/self/exe", self, selfsz - 1);
    if (n <= 0) {
        return false;
    }
    self[n] = '\0';
    const char *slash = strrchr(self, '/');
    if (slash == NULL) {
        return false;
    }
    size_t dirlen = (size_t)(slash - self);
    if (try_module(out, outsz, self, dirlen, "")) {
        return true;
    }
    /* dir ends with "/<bindir>" (bindir relative to the prefix): strip it. */
    const char *bindir = WSGIHOST_BINDIR;
    size_t blen = strlen(bindir);
    if (bindir[0] != '/' && blen > 0 && dirlen > blen && self[dirlen - blen - 1] == '/' &&
        strncmp(self + dirlen - blen, bindir, blen) == 0) {
        size_t plen = dirlen - blen - 1;
        static const char *const rels[] = {WSGIHOST_LIBDIR "/wsgihost", "lib/wsgihost",
                                           "libexec/wsgihost"};
        for (size_t i = 0; i < sizeof(rels) / sizeof(rels[0]); i++) {
            if (rels[i][0] != '/' && try_module(out, outsz, self, plen, rels[i])) {
                return true;
            }
        }
    }
    return try_module(out, outsz, WSGIHOST_HOSTMOD_DIR, strlen(WSGIHOST_HOSTMOD_DIR), "");
}

/* The value of the last `--NAME VALUE` / `--NAME=VALUE` (or `-S VALUE`) on
 * the command line (the config file and $WSGIHOST_CMD_ARGS are read later:
 * main() checks again after parsing and switches once more if they name
 * another interpreter). */
static const char *
arg_value(int argc, char **argv, const char *name, const char *shortopt)
{
    size_t nlen = strlen(name);
    const char *found = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) {
            break;
        }
        if ((strcmp(argv[i], name) == 0 || (shortopt && strcmp(argv[i], shortopt) == 0)) &&
            i + 1 < argc) {
            found = argv[++i];
        } else if (strncmp(argv[i], name, nlen) == 0 && argv[i][nlen] == '=') {
            found = argv[i] + nlen + 1;
        }
    }
    return found != NULL && *found != '\0' ? found : NULL;
}

/* "version = 3.12.1" (or version_info) of the pyvenv.cfg beside the
 * interpreter or one directory up (PEP 405); false when there is none. */
static bool
venv_version(const char *python, char *ver, size_t versz, char *cfgpath, size_t cfgsz)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(python, '/');
    snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - python) : 1, slash ? python : ".");
    for (int up = 0; up < 2; up++) {
        if (up == 1) {
            char *s2 = strrchr(dir, '/');
            if (s2 == NULL) {
                snprintf(dir, sizeof(dir), "..");
            } else {
                *s2 = '\0';
            }
        }
        if ((size_t)snprintf(cfgpath, cfgsz, "%s/pyvenv.cfg", dir[0] ? dir : "/") >= cfgsz) {
            return false;
        }
        FILE *f = fopen(cfgpath, "re");
        if (f == NULL) {
            continue;
        }
        char line[512];
        bool got = false;
        while (!got && fgets(line, sizeof(line), f) != NULL) {
            char *k = line;
            while (*k == ' ' || *k == '\t') {
                k++;
            }
            size_t kl = strcspn(k, " \t=");
            if (!((kl == 7 && strncmp(k, "version", 7) == 0) ||
                  (kl == 12 && strncmp(k, "version_info", 12) == 0))) {
                continue;
            }
            char *v = strchr(k, '=');
            if (v == NULL) {
                continue;
            }
            v++;
            while (*v == ' ' || *v == '\t') {
                v++;
            }
            v[strcspn(v, " \t\r\n")] = '\0';
            snprintf(ver, versz, "%s", v);
            got = true;
        }
        fclose(f);
        if (got) {
            return true;
        }
    }
    return false;
}

/* "3.12.1" -> "3.12" */
static void
major_minor(const char *v, char *out, size_t outsz)
{
    const char *dot = strchr(v, '.');
    const char *dot2 = dot ? strchr(dot + 1, '.') : NULL;
    size_t n = dot2 ? (size_t)(dot2 - v) : strlen(v);
    snprintf(out, outsz, "%.*s", (int)n, v);
}

int
hostpy_resolve_python(const char *explicit_exe, const char *venv, char *out, size_t outsz,
                      const char **source, char *err, size_t errsz)
{
    out[0] = '\0';
    *source = NULL;
    const char *env = getenv("VIRTUAL_ENV");
    if (explicit_exe != NULL && *explicit_exe != '\0') {
        if (venv != NULL && *venv != '\0') {
            snprintf(err, errsz,
                     "--python-executable and --virtualenv both name the interpreter: give one");
            return -1;
        }
        snprintf(out, outsz, "%s", explicit_exe);
        *source = "--python-executable";
    } else if ((venv != NULL && *venv != '\0') || (env != NULL && *env != '\0')) {
        bool from_env = venv == NULL || *venv == '\0';
        const char *dir = from_env ? env : venv;
        *source = from_env ? "$VIRTUAL_ENV" : "--virtualenv";
        if ((size_t)snprintf(out, outsz, "%s/bin/python", dir) >= outsz) {
            snprintf(err, errsz, "%s: path too long", *source);
            return -1;
        }
        if (access(out, X_OK) != 0) {
            snprintf(err, errsz,
                     "%s is %s, but %s is not an executable Python (%s)%s", *source, dir, out,
                     strerror(errno),
                     from_env ? "; deactivate the virtualenv or name one with --virtualenv" : "");
            out[0] = '\0';
            return -1;
        }
    } else {
        return 0;
    }
    char ver[64], cfg[PATH_MAX], mm[32];
    if (venv_version(out, ver, sizeof(ver), cfg, sizeof(cfg))) {
        major_minor(ver, mm, sizeof(mm));
        if (strcmp(mm, WSGIHOST_PYTHON_VERSION) != 0) {
            snprintf(err, errsz,
                     "%s: the virtualenv is Python %s (%s), but this wsgihost embeds Python %s; "
                     "make the virtualenv with python%s, or build wsgihost for %s: "
                     "meson setup build-%s -Dpython=python%s (needs python%s-dev)",
                     *source, ver, cfg, WSGIHOST_PYTHON_VERSION, WSGIHOST_PYTHON_VERSION, mm, mm,
                     mm, mm);
            out[0] = '\0';
            return -1;
        }
    }
    return 0;
}

bool
hostpy_plan(int argc, char **argv, char *python, size_t pysz, char *module, size_t modsz,
            const char **why)
{
    const char *env = getenv("WSGIHOST_EMBEDDED");
    if (env != NULL && *env != '\0' && strcmp(env, "0") != 0) {
        *why = "WSGIHOST_EMBEDDED is set";
        return false;
    }
    char self[PATH_MAX];
    if (!find_module(module, modsz, self, sizeof(self))) {
        *why = WSGIHOST_HOST_PYTHON
                   ? "no _wsgihost.so beside the executable, under its prefix (" WSGIHOST_LIBDIR
                     "/wsgihost) or in " WSGIHOST_HOSTMOD_DIR
                   : "built without the host-interpreter mode";
        return false;
    }
    char resolved[PATH_MAX], rerr[1024];
    const char *source;
    if (hostpy_resolve_python(arg_value(argc, argv, "--python-executable", NULL),
                              arg_value(argc, argv, "--virtualenv", "-H"), resolved,
                              sizeof(resolved), &source, rerr, sizeof(rerr)) < 0) {
        *why = "the interpreter named is refused (main() says why)";
        return false;
    }
    const char *py = resolved[0] ? resolved : WSGIHOST_PYTHON_EXECUTABLE;
    if (access(py, X_OK) != 0) {
        *why = "the interpreter is not an executable file";
        return false;
    }
    if ((size_t)snprintf(python, pysz, "%s", py) >= pysz) {
        *why = "the interpreter's path is too long";
        return false;
    }
    *why = NULL;
    return true;
}

static void
exec_with(const char *python, const char *module, const char *self, bool hop, int argc,
          char **argv)
{
    char **nargv = xcalloc((size_t)argc + 8, sizeof(*nargv));
    int k = 0;
    nargv[k++] = (char *)python;
    nargv[k++] = "-u"; /* the app's print()s show up now, as in the embedded mode */
    nargv[k++] = "-c";
    nargv[k++] = (char *)launcher;
    nargv[k++] = (char *)module;
    nargv[k++] = (char *)self;
    nargv[k++] = WSGIHOST_PYTHON_VERSION;
    nargv[k++] = hop ? "1" : "0";
    for (int i = 1; i < argc; i++) {
        nargv[k++] = argv[i];
    }
    nargv[k] = NULL;
    fflush(NULL);
    execv(python, nargv);
    fprintf(stderr, "wsgihost: warning: cannot run %s (%s): using the embedded interpreter\n",
            python, strerror(errno));
    free(nargv);
}

void
hostpy_exec(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) {
            break;
        }
        /* Answered by the executable itself (and --version says which
         * interpreter would serve). */
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0 || strcmp(a, "-v") == 0 ||
            strcmp(a, "--version") == 0) {
            return;
        }
    }
    char python[PATH_MAX], module[PATH_MAX], self[PATH_MAX];
    const char *why;
    if (!hostpy_plan(argc, argv, python, sizeof(python), module, sizeof(module), &why)) {
        return;
    }
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n <= 0) {
        return;
    }
    self[n] = '\0';
    exec_with(python, module, self, false, argc, argv);
}

/* dirname resolved, basename kept: a venv's bin/python is a symlink to the
 * system interpreter but a different sys.prefix. */
static void
canonical(const char *path, char *out, size_t outsz)
{
    char dir[PATH_MAX], real[PATH_MAX];
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - path) : 1, slash ? path : ".");
    if (dir[0] == '\0') {
        snprintf(dir, sizeof(dir), "/");
    }
    if (realpath(dir, real) == NULL) {
        snprintf(out, outsz, "%s", path);
        return;
    }
    const char *d = strcmp(real, "/") == 0 ? "" : real;
    if (strlen(d) + 1 + strlen(base) >= outsz) {
        snprintf(out, outsz, "%s", path);
        return;
    }
    strcpy(out, d);
    strcat(out, "/");
    strcat(out, base);
}

void
hostpy_set_cmdline(int argc, char **argv)
{
    /* Under valgrind, leave it: callgrind_control finds its processes by
     * their command line (bench/instr). */
    const char *pre = getenv("LD_PRELOAD");
    if (pre != NULL && strstr(pre, "vgpreload") != NULL) {
        return;
    }
    prctl(PR_SET_NAME, "wsgihost", 0, 0, 0);
    /* The area holds python3.X's own argv (the launcher included), which
     * every Python-side copy was made from already: ps shows the command
     * the user typed instead. */
    proctitle_set_argv(argc, argv);
}

void
hostpy_switch_if_needed(const char *python, int argc, char **argv)
{
    if (!hostpy_active || python == NULL || *python == '\0') {
        return;
    }
    char want[PATH_MAX], have[PATH_MAX];
    canonical(python, want, sizeof(want));
    canonical(hostpy_python, have, sizeof(have));
    if (strcmp(want, have) == 0) {
        return;
    }
    if (hostpy_switched) {
        fprintf(stderr, "wsgihost: warning: serving with %s, not %s (switched once already)\n",
                have, want);
        return;
    }
    if (access(python, X_OK) != 0) {
        return; /* the embedded mode's check names the problem; here it is the host's */
    }
    exec_with(python, hostpy_module, hostpy_self, true, argc, argv);
}
