"""The smallest useful WSGI application: what is left of a request's cost when
the framework does nothing. bench/quick serves it to measure the server alone
(`wsgihost --pythonpath bench/apps hello:app`)."""

BODY = b"Hello, World!"
HEADERS = [("Content-Type", "text/plain"), ("Content-Length", str(len(BODY)))]


def app(environ, start_response):
    start_response("200 OK", list(HEADERS))
    return [BODY]


application = app
