"""A generator app: start_response runs on the first next(), not at call time,
so the server must advance the iterator before it decides on the head."""


def application(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/empty-first":
        # Empty chunks must not trigger the head (PEP 3333): the status set
        # after them still wins.
        start_response("200 OK", [("Content-Type", "text/plain")])
        yield b""
        yield b""
        start_response("202 Accepted", [("Content-Type", "text/plain"), ("X-Late", "yes")],
                       _exc_info())
        yield b"late"
        return
    if path == "/no-body":
        start_response("200 OK", [("Content-Type", "text/plain"), ("X-Lazy", "1")])
        return
    start_response("200 OK", [("Content-Type", "text/plain"), ("X-Lazy", "1")])
    yield b"lazy "
    yield b"body"


def _exc_info():
    try:
        raise RuntimeError("replaced before the head was sent")
    except RuntimeError:
        import sys
        return sys.exc_info()
