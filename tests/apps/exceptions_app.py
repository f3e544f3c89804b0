"""Exceptions at each stage of a response."""


def application(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/before-start":
        raise RuntimeError("raised before start_response")
    if path == "/after-start":
        start_response("200 OK", [("Content-Type", "text/plain")])
        raise RuntimeError("raised after start_response, before the result")
    if path == "/in-first-chunk":
        def gen():
            start_response("200 OK", [("Content-Type", "text/plain")])
            raise RuntimeError("raised in the first next()")
            yield b"never"
        return gen()
    if path == "/after-first-chunk":
        def gen():
            start_response("200 OK", [("Content-Type", "text/plain")])
            yield b"partial body;"
            raise RuntimeError("raised after the head went out")
        return gen()
    if path == "/after-first-chunk-cl":
        def gen():
            start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "100")])
            yield b"partial body;"
            raise RuntimeError("raised after the head went out")
        return gen()
    if path == "/no-start-response":
        return [b"body without a status"]
    if path == "/returns-none":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return None
    if path == "/yields-str":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return ["a str, not bytes"]
    if path == "/returns-str":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return "a str, not an iterable of bytes"
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
    return [b"ok"]
