"""Content-Length that disagrees with the body the app produces."""


def application(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/smaller":
        # The server must stop after 5 bytes: anything more would be read by
        # the client as the start of the next response.
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "5")])
        return [b"Hello, ", b"World!"]
    if path == "/smaller-gen":
        def gen():
            start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "5")])
            yield b"Hel"
            yield b"lo, World!"
            yield b" and more"
        return gen()
    if path == "/larger":
        # The body ends early: the response cannot be framed, so the server
        # must close the connection after it.
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "100")])
        return [b"Hello"]
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
    return [b"ok"]
