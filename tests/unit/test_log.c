/* Unit test for csrc/log.c: the access-log formatter (atoms, escaping, long
 * lines) and the error log (line shape, levels, raw writes, reopen, fork).
 * Prints "N passed, M failed" and exits non-zero on any failure. */
#include "../../csrc/log.c"

#include <regex.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "check.h"

/* Stubs for util.c, so this test does not depend on the rest of the host. */
void *
xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (p == NULL) {
        abort();
    }
    return p;
}

void *
xrealloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (p == NULL) {
        abort();
    }
    return p;
}

char *
xstrdup(const char *s)
{
    char *p = strdup(s);
    if (p == NULL) {
        abort();
    }
    return p;
}

#define H(n, v)                                                                                    \
    {                                                                                              \
        n, sizeof(n) - 1, v, sizeof(v) - 1                                                         \
    }

static struct hfield req_headers[] = {
    H("Host", "example.com"),
    H("User-Agent", "curl/8.0 \"quoted\" \x1b[31mred\r\nINJECTED \\ end\x80"),
    H("referer", "http://ref.example/"),
    H("X-Request-Id", "abc-123"),
    H("Authorization", "Basic dXNlcjpwYXNzd29yZA=="), /* user:password */
};
static struct hfield resp_headers[] = {
    H("Content-Type", "text/html; charset=utf-8"),
    H("X-Empty", ""),
};

static struct access_entry
sample(void)
{
    struct access_entry e = {
        .remote_addr = "127.0.0.1",
        .method = "GET",
        .method_len = 3,
        .target = "/p/a?x=1&y=\"2\"",
        .target_len = 14,
        .path = "/p/a",
        .path_len = 4,
        .query = "x=1&y=\"2\"",
        .query_len = 9,
        .http_major = 1,
        .http_minor = 1,
        .status = 200,
        .body_bytes = 1234,
        .req_headers = req_headers,
        .n_req_headers = countof(req_headers),
        .resp_headers = resp_headers,
        .n_resp_headers = countof(resp_headers),
        .start_wall = 1795711298.75, /* 2026-11-26 16:41:38.75 UTC */
        .duration = 1.2345678,
    };
    return e;
}

/* Formats e with fmt; returns a malloc'ed NUL-terminated line (no newline). */
static char *
fmt_line(const char *fmt, const struct access_entry *e)
{
    char stack[ACCESS_STACK];
    struct obuf b = {stack, 0, sizeof(stack), false};
    struct seg *segs;
    size_t n_segs;
    char *out;

    compile_format(fmt, &segs, &n_segs);
    format_access(&b, segs, n_segs, e);
    out = xmalloc(b.len + 1);
    memcpy(out, b.p, b.len);
    out[b.len] = '\0';
    if (b.heap) {
        free(b.p);
    }
    free(segs);
    return out;
}

static bool
line_is(const char *fmt, const struct access_entry *e, const char *want)
{
    char *got = fmt_line(fmt, e);
    bool ok = strcmp(got, want) == 0;

    if (!ok) {
        fprintf(stderr, "  format <%s>\n  got  <%s>\n  want <%s>\n", fmt, got, want);
    }
    free(got);
    return ok;
}

static void
test_access_format(void)
{
    struct access_entry e = sample();
    char pidbuf[32];

    CHECK(line_is(LOG_DEFAULT_ACCESS_FORMAT, &e,
                  "127.0.0.1 - user [26/Nov/2026:16:41:39 +0000] "
                  "\"GET /p/a?x=1&y=\\\"2\\\" HTTP/1.1\" 200 1234 \"http://ref.example/\" "
                  "\"curl/8.0 \\\"quoted\\\" \\x1b[31mred\\x0d\\x0aINJECTED \\\\ end\\x80\""));
    CHECK(line_is("%(m)s|%(U)s|%(q)s|%(H)s|%(s)s|%(B)s|%(b)s", &e,
                  "GET|/p/a|x=1&y=\\\"2\\\"|HTTP/1.1|200|1234|1234"));
    CHECK(line_is("%(T)s %(M)s %(D)s %(L)s", &e, "1 1234 1234567 1.234567"));
    CHECK(
        line_is("%({x-request-id}i)s %({X-REQUEST-ID}i)s %({missing}i)s", &e, "abc-123 abc-123 -"));
    CHECK(line_is("%({content-type}o)s|%({x-empty}o)s|%({host}o)s", &e,
                  "text/html; charset=utf-8||-"));
    CHECK(line_is("%(z)s %(hh)s %({path}e)s %()s", &e, "- - - -"));
    CHECK(line_is("100%% %(h)d %(s)r", &e, "100% 127.0.0.1 200"));
    CHECK(line_is("%(h %(h)x %q % end%", &e, "%(h %(h)x %q % end%"));
    CHECK(line_is("", &e, ""));
    CHECK(line_is("plain", &e, "plain"));
    snprintf(pidbuf, sizeof(pidbuf), "<%d>", (int)getpid());
    CHECK(line_is("%(p)s", &e, pidbuf));

    /* b is "-" for an empty body, B stays 0; empty remote address and query */
    e.body_bytes = 0;
    e.remote_addr = "";
    e.query = "";
    e.query_len = 0;
    e.http_minor = 0;
    e.status = 304;
    e.duration = 0;
    CHECK(line_is("%(h)s %(b)s %(B)s [%(q)s] %(H)s %(s)s %(L)s %(T)s", &e,
                  "- - 0 [] HTTP/1.0 304 0.000000 0"));

    /* u: only a well-formed Basic credential gives a user */
    struct hfield auth[] = {H("authorization", "Bearer abc")};
    e.req_headers = auth;
    e.n_req_headers = 1;
    CHECK(line_is("%(u)s %(f)s %(a)s", &e, "- - -"));
    auth[0] = (struct hfield)H("Authorization", "basic  YWxpY2U6"); /* "alice:" */
    CHECK(line_is("%(u)s", &e, "alice"));
    auth[0] = (struct hfield)H("Authorization", "Basic bm9jb2xvbg=="); /* "nocolon" */
    CHECK(line_is("%(u)s", &e, "-"));
    auth[0] = (struct hfield)H("Authorization", "Basic !!!");
    CHECK(line_is("%(u)s", &e, "-"));
    auth[0] = (struct hfield)H("Authorization", "Basic G3g6eQ=="); /* "\x1bx:y" */
    CHECK(line_is("%(u)s", &e, "\\x1bx"));
}

static void
test_long_lines(void)
{
    struct access_entry e = sample();
    size_t big = 10000;
    char *v = xmalloc(big);
    struct hfield h[1];
    char *line;

    /* past the 4 KiB stack buffer: heap, nothing lost */
    memset(v, 'a', big);
    h[0] = (struct hfield){"X-Big", 5, v, big};
    e.req_headers = h;
    e.n_req_headers = 1;
    line = fmt_line("<%({x-big}i)s>", &e);
    CHECK(strlen(line) == big + 2 && line[0] == '<' && line[big + 1] == '>');
    free(line);

    /* past ACCESS_LINE_MAX: cut, never overflowing */
    free(v);
    big = 200000;
    v = xmalloc(big);
    memset(v, '\x01', big); /* each byte escapes to 4 */
    h[0].value = v;
    h[0].value_len = big;
    line = fmt_line("%({x-big}i)s%({x-big}i)s end", &e);
    CHECK(strlen(line) <= ACCESS_LINE_MAX - 1);
    CHECK(strlen(line) >= ACCESS_LINE_MAX - 4);
    CHECK(strncmp(line, "\\x01\\x01", 8) == 0);
    free(line);
    free(v);
}

static char *
slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    char *s;
    long n;

    if (f == NULL) {
        return xstrdup("");
    }
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    rewind(f);
    s = xmalloc((size_t)n + 1);
    n = (long)fread(s, 1, (size_t)n, f);
    s[n] = '\0';
    fclose(f);
    return s;
}

static bool
matches(const char *re, const char *s)
{
    regex_t r;
    bool ok;

    if (regcomp(&r, re, REG_EXTENDED | REG_NEWLINE) != 0) {
        return false;
    }
    ok = regexec(&r, s, 0, NULL, 0) == 0;
    regfree(&r);
    if (!ok) {
        fprintf(stderr, "  <%s> does not match /%s/\n", s, re);
    }
    return ok;
}

static void
test_files(void)
{
    char dir[] = "/tmp/wsgihost-test-log-XXXXXX";
    char err_path[256], acc_path[256], moved[256], re[256];
    struct access_entry e = sample();
    char *s;
    pid_t child;
    int status;

    CHECK(mkdtemp(dir) != NULL);
    snprintf(err_path, sizeof(err_path), "%s/error.log", dir);
    snprintf(acc_path, sizeof(acc_path), "%s/access.log", dir);
    snprintf(moved, sizeof(moved), "%s/error.log.1", dir);

    CHECK(log_level_parse("debug") == LOG_DEBUG && log_level_parse("INFO") == LOG_INFO);
    CHECK(log_level_parse("Warning") == LOG_WARNING && log_level_parse("error") == LOG_ERROR);
    CHECK(log_level_parse("critical") == LOG_CRITICAL && log_level_parse("warn") == -1);
    CHECK(log_level_parse("") == -1);

    CHECK(log_open(err_path, LOG_WARNING, acc_path, "%(s)s %(r)s") == 0);
    CHECK(log_access_enabled());
    CHECK(!log_enabled(LOG_INFO) && log_enabled(LOG_WARNING) && log_enabled(LOG_CRITICAL));
    log_info("dropped %d", 1);
    log_warning("kept %s", "w");
    log_error("trailing newline removed\n");
    log_write_raw("Traceback (raw)\n", 16);
    log_flush();
    log_access(&e);
    s = slurp(err_path);
    snprintf(re, sizeof(re),
             "^\\[[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2} [+-][0-9]{4}\\] "
             "\\[%d\\] \\[WARNING\\] kept w\n",
             (int)getpid());
    CHECK(matches(re, s));
    CHECK(strstr(s, "dropped") == NULL);
    CHECK(strstr(s, "[ERROR] trailing newline removed\nTraceback (raw)\n") != NULL);
    free(s);
    s = slurp(acc_path);
    CHECK(strcmp(s, "200 GET /p/a?x=1&y=\\\"2\\\" HTTP/1.1\n") == 0);
    free(s);

    /* a very long message is cut to one line */
    char *big = xmalloc(20000);
    memset(big, 'x', 19999);
    big[19999] = '\0';
    log_error("%s", big);
    free(big);
    s = slurp(err_path);
    char *last = strstr(s, "[ERROR] xxx");
    CHECK(last != NULL && strchr(last, '\n') != NULL && strchr(last, '\n')[1] == '\0');
    CHECK(last != NULL && strstr(last, "...\n") != NULL && strlen(last) < ERROR_LINE_MAX);
    free(s);

    /* logrotate: move the file, reopen, the same fd number now writes the new file */
    int fd_before = state.err_fd;
    CHECK(rename(err_path, moved) == 0);
    CHECK(log_reopen() == 0);
    CHECK(state.err_fd == fd_before);
    CHECK((fcntl(state.err_fd, F_GETFD) & FD_CLOEXEC) != 0);
    log_warning("after reopen");
    s = slurp(err_path);
    CHECK(strstr(s, "[WARNING] after reopen\n") != NULL);
    free(s);
    s = slurp(moved);
    CHECK(strstr(s, "after reopen") == NULL);
    free(s);

    /* a child logs its own pid, not the cached parent's */
    child = fork();
    if (child == 0) {
        log_warning("from child");
        _exit(0);
    }
    CHECK(child > 0 && waitpid(child, &status, 0) == child && WIFEXITED(status));
    s = slurp(err_path);
    snprintf(re, sizeof(re), "\\[%d\\] \\[WARNING\\] from child\n", (int)child);
    CHECK(matches(re, s));
    free(s);

    /* a directory that does not exist: -1, one message, old logs untouched */
    fflush(stderr);
    int saved = dup(2);
    FILE *capture = tmpfile();
    dup2(fileno(capture), 2);
    int rc = log_open("/nonexistent-dir/x.log", LOG_INFO, NULL, NULL);
    int rc2 = log_open(NULL, LOG_INFO, "/nonexistent-dir/a.log", NULL);
    dup2(saved, 2);
    close(saved);
    char msg[512] = "";
    rewind(capture);
    msg[fread(msg, 1, sizeof(msg) - 1, capture)] = '\0';
    fclose(capture);
    CHECK(rc == -1 && rc2 == -1);
    CHECK(strcmp(msg, "wsgihost: error: cannot open error log '/nonexistent-dir/x.log': "
                      "No such file or directory\n"
                      "wsgihost: error: cannot open access log '/nonexistent-dir/a.log': "
                      "No such file or directory\n") == 0);
    CHECK(state.err_fd == fd_before && log_access_enabled());

    log_close();
    CHECK(state.err_fd == STDERR_FILENO && !log_access_enabled() && log_enabled(LOG_INFO));
    unlink(err_path);
    unlink(acc_path);
    unlink(moved);
    rmdir(dir);
}

int
main(void)
{
    /* The expected lines use UTC. */
    setenv("TZ", "UTC", 1);
    tzset();
    test_access_format();
    test_long_lines();
    test_files();
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
