"""A contextvar set during the app call must still be visible while the
server iterates the result, whichever thread resumes it (Flask's
stream_with_context and request-scoped libraries rely on this).

/?TOKEN streams 40 x 64 KiB blocks (enough to make the server pause on a slow
client and resume later); any block produced without the variable carries a
MISMATCH marker.
"""
import contextvars
import threading

var = contextvars.ContextVar("wsgihost_test_request", default=None)


def application(environ, start_response):
    token = environ.get("QUERY_STRING", "")
    var.set(token)
    call_thread = threading.get_ident()

    def gen():
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        threads = set()
        for i in range(40):
            threads.add(threading.get_ident())
            got = var.get()
            if got != token:
                yield b"MISMATCH(block %d: %r != %r);" % (i, got, token)
            yield b"." * 65536
        yield b"END threads=%d call_thread_used=%d" % (len(threads), call_thread in threads)
    return gen()
