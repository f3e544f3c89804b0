"""The legacy write() callable returned by start_response."""


def application(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/cl":
        write = start_response("200 OK", [("Content-Type", "text/plain"),
                                          ("Content-Length", "11")])
        write(b"hello ")
        write(b"world")
        return []
    if path == "/bad":
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        try:
            write("not bytes")
        except Exception as e:
            result = type(e).__name__
        else:
            result = "no exception"
        return [b"write(str) raised: " + result.encode()]
    write = start_response("200 OK", [("Content-Type", "text/plain")])
    if path == "/mixed":
        # write() output goes first, then the iterable's chunks.
        write(b"written ")
        write(b"")
        return [b"and ", b"returned"]
    write(b"hello ")
    write(b"world")
    return []
