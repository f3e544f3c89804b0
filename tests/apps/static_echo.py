"""Says which requests reached the app (tests/test_static.py): every
response has X-App: 1 and the body "app METHOD PATH_INFO"."""


def application(environ, start_response):
    body = ("app %s %s" % (environ["REQUEST_METHOD"], environ["PATH_INFO"])).encode("latin-1")
    start_response("200 OK", [("Content-Type", "text/plain"), ("X-App", "1"),
                              ("Content-Length", str(len(body)))])
    return [body]
