"""What apps served by gunicorn do that PEP 3333 lets a server refuse:
hop-by-hop headers of their own, a status without a reason phrase, headers
as a tuple or as [name, value] lists (tests/test_gunicorn_compat.py)."""


def application(environ, start_response):
    path = environ["PATH_INFO"]
    body = b"body of " + path.encode()
    length = [("Content-Length", str(len(body)))]
    if path == "/connection-close":
        start_response("200 OK", [("Content-Type", "text/plain"), ("Connection", "close")] + length)
    elif path == "/connection-keep-alive":
        start_response("200 OK", [("Connection", "keep-alive"), ("Keep-Alive", "timeout=5")] +
                       length)
    elif path == "/transfer-encoding":
        # No Content-Length: the server frames it (chunked), not the app.
        start_response("200 OK", [("Transfer-Encoding", "chunked")])
        return [b"body of ", path.encode()]
    elif path == "/upgrade":
        start_response("200 OK", [("Upgrade", "h2c"), ("X-Kept", "yes")] + length)
    elif path == "/no-reason":
        start_response("200", [("Content-Type", "text/plain")] + length)
    elif path == "/no-reason-404":
        start_response("404", length)
    elif path == "/headers-tuple":
        start_response("200 OK", (("Content-Type", "text/plain"), ("X-Kept", "yes")) +
                       tuple(length))
    elif path == "/header-items-lists":
        start_response("200 OK", [["Content-Type", "text/plain"], ["X-Kept", "yes"]] +
                       [list(h) for h in length])
    else:
        start_response("200 OK", length)
    return [body]
