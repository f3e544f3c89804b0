/* Unit test for csrc/config.c: good and bad command lines. The .c is included
 * so its statics are reachable; log.c, proxy.c and util.c are linked.
 * Prints "N passed, M failed" and exits non-zero on any failure. */
#include "../../csrc/config.c"

#include <stdio.h>
#include <unistd.h>

#include "check.h"

static char out_buf[16384];
static char err_buf[8192];

/* Captures fd 1 and fd 2 into files while config_parse runs. */
static int
parse_args(struct config *c, int n, const char *const *args)
{
    char **argv = xcalloc((size_t)n + 2, sizeof(char *));
    FILE *out = tmpfile(), *err = tmpfile();
    int saved_out = dup(1), saved_err = dup(2);
    int rc;
    size_t len;

    argv[0] = xstrdup("wsgihost");
    for (int i = 0; i < n; i++) {
        argv[i + 1] = xstrdup(args[i]); /* kept: config points into argv */
    }
    config_defaults(c);
    fflush(stdout);
    fflush(stderr);
    dup2(fileno(out), 1);
    dup2(fileno(err), 2);
    rc = config_parse(c, n + 1, argv);
    fflush(stdout);
    fflush(stderr);
    dup2(saved_out, 1);
    dup2(saved_err, 2);
    close(saved_out);
    close(saved_err);
    rewind(out);
    len = fread(out_buf, 1, sizeof(out_buf) - 1, out);
    out_buf[len] = '\0';
    rewind(err);
    len = fread(err_buf, 1, sizeof(err_buf) - 1, err);
    err_buf[len] = '\0';
    fclose(out);
    fclose(err);
    return rc;
}

#define PARSE(c, ...)                                                                              \
    parse_args((c), (int)countof(((const char *const[]){__VA_ARGS__})),                            \
               (const char *const[]){__VA_ARGS__})

/* A bad command line: -1, exactly two lines on stderr, the first one
 * "wsgihost: error: ..." containing `want`, the second the hint. */
static bool
bad(int rc, const char *want)
{
    char expect_tail[] = "\nTry 'wsgihost --help'.\n";
    size_t len = strlen(err_buf), tl = strlen(expect_tail);
    bool ok = rc == -1 && strncmp(err_buf, "wsgihost: error: ", 17) == 0 &&
              strstr(err_buf, want) != NULL && len > tl &&
              strcmp(err_buf + len - tl, expect_tail) == 0 &&
              memchr(err_buf, '\n', len - tl) == NULL && out_buf[0] == '\0';
    if (!ok) {
        fprintf(stderr, "  rc=%d stderr=<%s> want <%s>\n", rc, err_buf, want);
    }
    return ok;
}

#define BAD(want, ...) CHECK(bad(PARSE(&c, __VA_ARGS__), want))

static void
test_defaults(void)
{
    struct config c;

    CHECK(PARSE(&c, "pyapp:app") == 0);
    CHECK(err_buf[0] == '\0');
    CHECK(strcmp(c.app_spec, "pyapp:app") == 0);
    CHECK(c.n_binds == 0);
    CHECK(c.backlog == 2048);
    CHECK(c.limit_request_line == 8190);
    CHECK(c.limit_request_fields == 100);
    CHECK(c.limit_request_field_size == 8190);
    CHECK(c.limit_request_body == (uint64_t)1 << 30);
    CHECK(c.body_buffer_size == 1024 * 1024);
    CHECK(c.keepalive == 5 && c.header_timeout == 10 && c.body_timeout == 30);
    CHECK(c.send_timeout == 30 && c.graceful_timeout == 30);
    CHECK(c.access_logfile == NULL && c.access_logformat == NULL && c.error_logfile == NULL);
    CHECK(c.log_level == LOG_INFO);
    CHECK(c.workers == 0 && c.threads == 0 && c.timeout == 30 && !c.preload);
    CHECK(c.umask == -1 && c.worker_connections == 1000 && c.max_requests == 0);
    CHECK(c.chdir == NULL && c.python_executable == NULL && c.n_pythonpath == 0);
}

static void
test_binds(void)
{
    struct config c;

    CHECK(PARSE(&c, "-b", "0.0.0.0:5901", "pyapp:app") == 0);
    CHECK(c.n_binds == 1 && strcmp(c.binds[0], "0.0.0.0:5901") == 0);

    /* options after the positional, every spelling */
    CHECK(PARSE(&c, "pyapp:app", "--bind=127.0.0.1:9000", "-b", "[::1]:8080", "-bunix:/tmp/s.sock",
                "--bind", "localhost", "-b", ":9001", "-b", "[::1]", "-b", "tcp://10.0.0.1:80",
                "-b", "unix:///tmp/x.sock", "-b", "[fe80::1%eth0]:80", "-b", "web") == 0);
    CHECK(c.n_binds == 10);
    CHECK(strcmp(c.binds[0], "127.0.0.1:9000") == 0);
    CHECK(strcmp(c.binds[1], "[::1]:8080") == 0);
    CHECK(strcmp(c.binds[2], "unix:/tmp/s.sock") == 0);
    CHECK(strcmp(c.binds[3], "localhost:8000") == 0);
    CHECK(strcmp(c.binds[4], "0.0.0.0:9001") == 0);
    CHECK(strcmp(c.binds[5], "[::1]:8000") == 0);
    CHECK(strcmp(c.binds[6], "10.0.0.1:80") == 0);
    CHECK(strcmp(c.binds[7], "unix:/tmp/x.sock") == 0);
    CHECK(strcmp(c.binds[8], "[fe80::1%eth0]:80") == 0);
    CHECK(strcmp(c.binds[9], "web:8000") == 0);
    CHECK(strcmp(c.app_spec, "pyapp:app") == 0);

    CHECK(PARSE(&c, "-b", "0.0.0.0:0", "-b", "h:65535", "a") == 0);

    BAD("write IPv6 addresses in brackets", "-b", "::1:8000", "a:b");
    BAD("'' is not a port number", "-b", "host:", "a:b");
    BAD("'70000' is not a port number", "-b", "host:70000", "a:b");
    BAD("'abc' is not a port number", "-b", "host:abc", "a:b");
    BAD("'-1' is not a port number", "-b", "host:-1", "a:b");
    BAD("empty unix socket path", "-b", "unix:", "a:b");
    BAD("missing ']'", "-b", "[::1", "a:b");
    BAD("'zzz' is not an IPv6 address", "-b", "[zzz]:80", "a:b");
    BAD("expected ':PORT' after ']'", "-b", "[::1]x", "a:b");
    BAD("not supported yet", "-b", "fd://3", "a:b");
    BAD("--bind: empty address", "-b", "", "a:b");
    BAD("'a b' is not a host name", "-b", "a b:80", "a:b");
    BAD("longer than", "-b",
        "unix:/tmp/"
        "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
        "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        "a:b");
    BAD("--bind: too many addresses (at most 16)", "a:b", "-b1", "-b2", "-b3", "-b4", "-b5", "-b6",
        "-b7", "-b8", "-b9", "-b10", "-b11", "-b12", "-b13", "-b14", "-b15", "-b16", "-b17");
    BAD("option '--bind' requires a value", "a:b", "--bind");
    BAD("option '--bind' requires a value", "a:b", "-b");
}

static void
test_numbers(void)
{
    struct config c;

    CHECK(PARSE(&c, "--backlog", "64", "--keep-alive", "0.5", "--limit-request-line", "0",
                "--limit-request-fields", "0", "--limit-request-field_size", "100",
                "--limit-request-body", "0", "--body-buffer-size", "0", "--header-timeout", "2.5",
                "--body-timeout=.25", "--send-timeout", "7.", "--graceful-timeout", "0",
                "a:b") == 0);
    CHECK(c.backlog == 64);
    CHECK(c.keepalive == 0.5);
    CHECK(c.limit_request_line == 0);
    CHECK(c.limit_request_fields == 32768);
    CHECK(c.limit_request_field_size == 100);
    CHECK(c.limit_request_body == 0);
    CHECK(c.body_buffer_size == 0);
    CHECK(c.header_timeout == 2.5 && c.body_timeout == 0.25 && c.send_timeout == 7);
    CHECK(c.graceful_timeout == 0);

    CHECK(PARSE(&c, "--limit-request-field-size=0", "--keep-alive=0", "--limit-request-body",
                "18446744073709551615", "--limit-request-line", "1048576", "a:b") == 0);
    CHECK(c.limit_request_field_size == 1024 * 1024);
    CHECK(c.keepalive == 0);
    CHECK(c.limit_request_body == UINT64_MAX);
    CHECK(c.limit_request_line == 1048576);

    /* unambiguous prefixes, like gunicorn's argparse */
    CHECK(PARSE(&c, "--back", "10", "--limit-request-field-s", "50", "a:b") == 0);
    CHECK(c.backlog == 10 && c.limit_request_field_size == 50);

    BAD("--backlog: 'abc' is not a positive integer", "--backlog", "abc", "a:b");
    BAD("--backlog: '0' is too small (minimum 1)", "--backlog", "0", "a:b");
    BAD("--backlog: '-5' is not a positive integer", "--backlog", "-5", "a:b");
    BAD("--backlog: ' 5' is not a positive integer", "--backlog", " 5", "a:b");
    BAD("--backlog: '+5' is not a positive integer", "--backlog", "+5", "a:b");
    BAD("--backlog: '' is not a positive integer", "--backlog=", "a:b");
    BAD("--backlog: '99999999999' is too large", "--backlog", "99999999999", "a:b");
    BAD("--limit-request-line: '1048577' is too large", "--limit-request-line", "1048577", "a:b");
    BAD("--limit-request-fields: '32769' is too large", "--limit-request-fields", "32769", "a:b");
    BAD("--limit-request-body: '18446744073709551616' is too large", "--limit-request-body",
        "18446744073709551616", "a:b");
    BAD("--limit-request-body: '1k' is not a non-negative integer", "--limit-request-body", "1k",
        "a:b");
    BAD("--limit-request-field_size: '0x10' is not", "--limit-request-field_size", "0x10", "a:b");
    BAD("--keep-alive: '-1' is not a number of seconds", "--keep-alive", "-1", "a:b");
    BAD("--keep-alive: 'nan' is not a number of seconds", "--keep-alive", "nan", "a:b");
    BAD("--keep-alive: 'inf' is not a number of seconds", "--keep-alive", "inf", "a:b");
    BAD("--keep-alive: '1e3' is not a number of seconds", "--keep-alive", "1e3", "a:b");
    BAD("--keep-alive: '0x10' is not a number of seconds", "--keep-alive", "0x10", "a:b");
    BAD("--keep-alive: '1..2' is not a number of seconds", "--keep-alive", "1..2", "a:b");
    BAD("--keep-alive: '.' is not a number of seconds", "--keep-alive", ".", "a:b");
    BAD("--keep-alive: '' is not a number of seconds", "--keep-alive", "", "a:b");
    BAD("--keep-alive: '10000000' is too large", "--keep-alive", "10000000", "a:b");
    BAD("--header-timeout: '0' must be greater than 0", "--header-timeout", "0", "a:b");
    BAD("--send-timeout: '0.0' must be greater than 0", "--send-timeout", "0.0", "a:b");
}

static void
test_workers(void)
{
    struct config c;

    unsetenv("WEB_CONCURRENCY");
    CHECK(PARSE(&c, "-w", "4", "--threads", "8", "a:b") == 0);
    CHECK(c.workers == 4 && c.threads == 8);
    CHECK(PARSE(&c, "-w4", "a:b") == 0 && c.workers == 4);
    CHECK(PARSE(&c, "--workers=3", "a:b") == 0 && c.workers == 3);

    setenv("WEB_CONCURRENCY", "3", 1);
    CHECK(PARSE(&c, "a:b") == 0 && c.workers == 3);
    CHECK(PARSE(&c, "-w", "2", "a:b") == 0 && c.workers == 2);
    setenv("WEB_CONCURRENCY", "", 1);
    CHECK(PARSE(&c, "a:b") == 0 && c.workers == 0);
    setenv("WEB_CONCURRENCY", "abc", 1);
    BAD("$WEB_CONCURRENCY: 'abc' is not a positive integer", "a:b");
    CHECK(PARSE(&c, "-w", "2", "a:b") == 0 && c.workers == 2); /* -w wins, env not read */
    unsetenv("WEB_CONCURRENCY");

    BAD("--workers: '0' is too small (minimum 1)", "-w", "0", "a:b");
    BAD("--workers: '100000' is too large", "-w", "100000", "a:b");
    BAD("--threads: 'x' is not a positive integer", "--threads", "x", "a:b");
    BAD("--threads: '0' is too small", "--threads=0", "a:b");
}

static void
test_paths_and_logs(void)
{
    struct config c;

    CHECK(PARSE(&c, "--pythonpath", "src, lib,,/opt/x ", "--pythonpath=more", "--chdir", "/srv",
                "--python-executable", "/usr/bin/python3", "a:b") == 0);
    CHECK(c.n_pythonpath == 4);
    CHECK(c.n_pythonpath == 4 && strcmp(c.pythonpath[0], "src") == 0 &&
          strcmp(c.pythonpath[1], "lib") == 0 && strcmp(c.pythonpath[2], "/opt/x") == 0 &&
          strcmp(c.pythonpath[3], "more") == 0);
    CHECK(strcmp(c.chdir, "/srv") == 0);
    CHECK(strcmp(c.python_executable, "/usr/bin/python3") == 0);

    CHECK(PARSE(&c, "--access-logfile", "-", "--access-logformat", "%(h)s %(r)s", "--error-logfile",
                "/tmp/e1", "--log-file", "/tmp/e2", "--log-level", "DEBUG", "a:b") == 0);
    CHECK(strcmp(c.access_logfile, "-") == 0);
    CHECK(strcmp(c.access_logformat, "%(h)s %(r)s") == 0);
    CHECK(strcmp(c.error_logfile, "/tmp/e2") == 0);
    CHECK(c.log_level == LOG_DEBUG);
    CHECK(PARSE(&c, "--log-level=warning", "a:b") == 0 && c.log_level == LOG_WARNING);
    CHECK(PARSE(&c, "--log-level", "critical", "a:b") == 0 && c.log_level == LOG_CRITICAL);

    BAD("--log-level: 'loud' is not one of debug, info, warning, error, critical", "--log-level",
        "loud", "a:b");
    BAD("--chdir: empty directory name", "--chdir", "", "a:b");
    BAD("--error-logfile: empty file name", "--log-file", "", "a:b");
    BAD("--access-logfile: empty file name", "--access-logfile=", "a:b");
}

static void
test_app_spec(void)
{
    struct config c;

    CHECK(PARSE(&c, "pyapp") == 0 && strcmp(c.app_spec, "pyapp") == 0);
    CHECK(PARSE(&c, "pkg.sub_mod:create_app()") == 0);
    CHECK(PARSE(&c, "_m2:app") == 0);
    CHECK(PARSE(&c, "--", "pyapp:app") == 0 && strcmp(c.app_spec, "pyapp:app") == 0);
    CHECK(PARSE(&c, "-b", ":1", "--", "-weird") == -1); /* module must be an identifier */

    BAD("missing MODULE:APP argument");
    BAD("missing MODULE:APP argument", "-b", ":8000");
    BAD("the module name is missing", ":app");
    BAD("the application name after ':' is empty", "pyapp:");
    BAD("'1abc' is not a Python module name", "1abc:app");
    BAD("'a..b' is not a Python module name", "a..b:app");
    BAD("'a.' is not a Python module name", "a.:app");
    BAD("'.a' is not a Python module name", ".a:app");
    BAD("'my-app' is not a Python module name", "my-app:app");
    BAD("unexpected argument 'b:app' (MODULE:APP is already 'a:app')", "a:app", "b:app");
    BAD("unexpected argument 'b:app'", "a:app", "--", "b:app");
}

static void
test_options(void)
{
    struct config c;

    BAD("unknown option '--frobnicate'", "--frobnicate", "a:b");
    BAD("unknown option '--frobnicate'", "a:b", "--frobnicate=1");
    BAD("unknown option '-x'", "-x", "a:b");
    BAD("--worker-class gevent: wsgihost has no gevent workers", "--worker-class", "gevent", "a:b");
    BAD("--worker-class uvicorn.workers.UvicornWorker: that is an ASGI worker", "-k",
        "uvicorn.workers.UvicornWorker", "a:b");
    BAD("--env 'X': expected NAME=VALUE", "-e", "X", "a:b");
    CHECK(PARSE(&c, "a:b", "-k", "sync", "-e", "A=1", "--env=B=2") == 0);
    CHECK(c.worker_class_sync && c.n_env == 2 && strcmp(c.env[1], "B=2") == 0);
    BAD("option '--daemon' (gunicorn) is not supported", "a:b", "--daemon");
    BAD("--timeout: 'abc' is not a number of seconds", "--timeout", "abc", "a:b");
    BAD("--umask: '0o9' is not a umask", "--umask", "0o9", "a:b");
    CHECK(PARSE(&c, "a:b", "-t", "7", "--preload", "--umask", "0o22", "--max-requests", "9") == 0);
    CHECK(c.timeout == 7 && c.preload && c.umask == 022 && c.max_requests == 9);
    BAD("ambiguous option '--limit-request-fi'", "--limit-request-fi", "5", "a:b");
    BAD("option '--help' takes no value", "--help=1", "a:b");
    BAD("option '--version' takes no value", "--version=yes");

    CHECK(PARSE(&c, "--version") == 1);
    static const char vline[] = "wsgihost " WSGIHOST_VERSION "\nembeds CPython " WSGIHOST_PYTHON_VERSION
                                " (" WSGIHOST_PYTHON_LINK " libpython)\nserves ";
    CHECK(strncmp(out_buf, vline, sizeof(vline) - 1) == 0 && err_buf[0] == '\0');
    CHECK(PARSE(&c, "-v") == 1 && strncmp(out_buf, "wsgihost 0.1.0\nembeds CPython 3.", 32) == 0);
    CHECK(PARSE(&c, "a:b", "--help") == 1 && err_buf[0] == '\0');
    CHECK(strncmp(out_buf, "usage: wsgihost [OPTIONS] MODULE[:APP]\n", 39) == 0);
    /* every long option is in the help */
    for (const struct option *o = long_options; o->name != NULL; o++) {
        char needle[64];
        snprintf(needle, sizeof(needle), "--%s", o->name);
        CHECK(strstr(out_buf, needle) != NULL);
    }
    CHECK(strstr(out_buf, LOG_DEFAULT_ACCESS_FORMAT) != NULL);
    CHECK(PARSE(&c, "-h") == 1 && strstr(out_buf, "--graceful-timeout") != NULL);
    /* --help wins even after a bad value was not yet reached */
    CHECK(PARSE(&c, "--help", "--backlog", "x") == 1);
}

/* -n/--name, --capture-output, and the config script's \1 items. */
static void
test_hooks_and_titles(void)
{
    struct config c;

    CHECK(PARSE(&c, "a:b", "-n", "shop", "--capture-output") == 0);
    CHECK(strcmp(c.proc_name, "shop") == 0 && c.capture_output);
    CHECK(PARSE(&c, "a:b", "--name=x y") == 0 && strcmp(c.proc_name, "x y") == 0);
    BAD("--name: empty value", "--name", "", "a:b");
    BAD("option '--log-config' (gunicorn) is not supported", "--log-config", "f.ini", "a:b");

    char buf[] = "\1hooks=post_fork,child_exit,bogus\0--workers=2\0\1pylog\0a:b";
    int argc;
    char **argv = split_nul(buf, sizeof(buf) - 1, &argc);
    config_defaults(&c);
    take_meta(&c, argv, &argc);
    CHECK(argc == 3 && strcmp(argv[1], "--workers=2") == 0 && strcmp(argv[2], "a:b") == 0);
    CHECK(argv[3] == NULL && c.py_logging);
    CHECK(c.hooks == ((1u << HOOK_POST_FORK) | (1u << HOOK_CHILD_EXIT)));
    CHECK(strcmp(config_hook_name(HOOK_NWORKERS_CHANGED), "nworkers_changed") == 0);
    CHECK((CONFIG_MASTER_HOOKS & (1u << HOOK_POST_FORK)) == 0);
    CHECK((CONFIG_MASTER_HOOKS & (1u << HOOK_CHILD_EXIT)) != 0);
    config_free(&c);
}

static void
test_tls_and_proxy(void)
{
    struct config c;
    char list[256];

    unsetenv("FORWARDED_ALLOW_IPS");
    CHECK(PARSE(&c, "a:b") == 0);
    CHECK(c.certfile == NULL && c.keyfile == NULL && c.ca_certs == NULL && c.ciphers == NULL);
    CHECK(c.cert_reqs == CONFIG_CERT_NONE && c.tls_min_version == 12 && !c.proxy_protocol);
    ip_allow_format(&c.forwarded_allow, list, sizeof(list));
    CHECK(strcmp(list, "127.0.0.1,::1") == 0);
    ip_allow_format(&c.proxy_allow, list, sizeof(list));
    CHECK(strcmp(list, "127.0.0.1,::1") == 0);

    CHECK(PARSE(&c, "--certfile", "/c.pem", "--keyfile=/k.pem", "--ca-certs", "/ca.pem",
                "--cert-reqs", "required", "--ciphers", "ECDHE+AESGCM", "--tls-min-version",
                "1.3", "a:b") == 0);
    CHECK(strcmp(c.certfile, "/c.pem") == 0 && strcmp(c.keyfile, "/k.pem") == 0);
    CHECK(strcmp(c.ca_certs, "/ca.pem") == 0 && strcmp(c.ciphers, "ECDHE+AESGCM") == 0);
    CHECK(c.cert_reqs == CONFIG_CERT_REQUIRED && c.tls_min_version == 13);
    CHECK(PARSE(&c, "--certfile", "/c", "--ca-certs", "/ca", "--cert-reqs", "1", "a:b") == 0 &&
          c.cert_reqs == CONFIG_CERT_OPTIONAL);
    CHECK(PARSE(&c, "--certfile", "/c", "--ca-certs", "/ca", "--cert-reqs", "OPTIONAL",
                "--tls-min-version", "TLSv1.2", "a:b") == 0 &&
          c.cert_reqs == CONFIG_CERT_OPTIONAL && c.tls_min_version == 12);
    CHECK(PARSE(&c, "--certfile", "/c", "--cert-reqs", "0", "a:b") == 0 &&
          c.cert_reqs == CONFIG_CERT_NONE);

    BAD("--cert-reqs: 'maybe' is not one of none, optional, required", "--cert-reqs", "maybe",
        "a:b");
    BAD("--tls-min-version: TLS 1.1 is obsolete (RFC 8996) and refused", "--tls-min-version",
        "1.1", "a:b");
    BAD("--tls-min-version: TLS 1.0 is obsolete", "--tls-min-version", "TLSv1", "a:b");
    BAD("--tls-min-version: TLS 1.0 is obsolete", "--tls-min-version", "1.0", "a:b");
    BAD("--tls-min-version: '2' is not 1.2 or 1.3", "--tls-min-version", "2", "a:b");
    BAD("--certfile: empty value", "--certfile=", "a:b");
    BAD("--keyfile needs --certfile", "--keyfile", "/k", "a:b");
    BAD("--ca-certs needs --certfile", "--ca-certs", "/k", "a:b");
    BAD("--ciphers needs --certfile", "--ciphers", "HIGH", "a:b");
    BAD("--cert-reqs needs --certfile", "--cert-reqs", "required", "a:b");
    BAD("--cert-reqs required needs --ca-certs", "--certfile", "/c", "--cert-reqs", "required",
        "a:b");
    BAD("--ca-certs has no effect with --cert-reqs none", "--certfile", "/c", "--ca-certs", "/ca",
        "a:b");

    CHECK(PARSE(&c, "--forwarded-allow-ips", "10.0.0.0/8, 192.168.1.1", "--forwarded-allow-ips",
                "::1", "--proxy-protocol", "--proxy-allow-from", "*", "a:b") == 0);
    ip_allow_format(&c.forwarded_allow, list, sizeof(list));
    CHECK(strcmp(list, "10.0.0.0/8,192.168.1.1,::1") == 0);
    CHECK(c.proxy_protocol && c.proxy_allow.any);
    CHECK(ip_allow_match_str(&c.forwarded_allow, "10.9.9.9"));
    CHECK(!ip_allow_match_str(&c.forwarded_allow, "127.0.0.1"));
    CHECK(PARSE(&c, "--forwarded-allow-ips", "*", "a:b") == 0 && c.forwarded_allow.any);
    CHECK(PARSE(&c, "--forwarded-allow-ips=", "a:b") == 0);
    CHECK(c.forwarded_allow.n == 0 && !c.forwarded_allow.any); /* trust nobody */

    setenv("FORWARDED_ALLOW_IPS", "10.1.1.1", 1);
    CHECK(PARSE(&c, "a:b") == 0);
    ip_allow_format(&c.forwarded_allow, list, sizeof(list));
    CHECK(strcmp(list, "10.1.1.1") == 0);
    CHECK(PARSE(&c, "--forwarded-allow-ips", "10.2.2.2", "a:b") == 0);
    ip_allow_format(&c.forwarded_allow, list, sizeof(list));
    CHECK(strcmp(list, "10.2.2.2") == 0);
    setenv("FORWARDED_ALLOW_IPS", "nope", 1);
    BAD("$FORWARDED_ALLOW_IPS: 'nope' is not an IP address", "a:b");
    unsetenv("FORWARDED_ALLOW_IPS");

    BAD("--forwarded-allow-ips: 'web' is not an IP address or network", "--forwarded-allow-ips",
        "web", "a:b");
    BAD("--proxy-allow-from: '10.0.0.0/40' has a prefix length larger", "--proxy-allow-from",
        "10.0.0.0/40", "a:b");
    BAD("option '--proxy-protocol' takes no value", "--proxy-protocol=1", "a:b");
    BAD("option '--ssl-version' (gunicorn) is not supported", "--ssl-version", "2", "a:b");

    /* WSGIHOST_CMD_ARGS replaces the list given by a lower source, per source */
    setenv("WSGIHOST_CMD_ARGS", "--forwarded-allow-ips 10.3.3.3 --forwarded-allow-ips 10.4.4.4",
           1);
    CHECK(PARSE(&c, "a:b") == 0);
    ip_allow_format(&c.forwarded_allow, list, sizeof(list));
    CHECK(strcmp(list, "10.3.3.3,10.4.4.4") == 0);
    CHECK(PARSE(&c, "--forwarded-allow-ips", "10.5.5.5", "a:b") == 0);
    ip_allow_format(&c.forwarded_allow, list, sizeof(list));
    CHECK(strcmp(list, "10.5.5.5") == 0);
    unsetenv("WSGIHOST_CMD_ARGS");

    CHECK(PARSE(&c, "--certfile", "/c", "--forwarded-allow-ips", "*", "--print-config", "a:b") ==
          1);
    CHECK(strstr(out_buf, "certfile = /c\n") != NULL);
    CHECK(strstr(out_buf, "cert_reqs = none\n") != NULL);
    CHECK(strstr(out_buf, "tls_min_version = 1.2\n") != NULL);
    CHECK(strstr(out_buf, "forwarded_allow_ips = *\n") != NULL);
    CHECK(strstr(out_buf, "proxy_allow_ips = 127.0.0.1,::1\n") != NULL);
}

int
main(void)
{
    test_defaults();
    test_binds();
    test_numbers();
    test_workers();
    test_paths_and_logs();
    test_app_spec();
    test_options();
    test_hooks_and_titles();
    test_tls_and_proxy();
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
