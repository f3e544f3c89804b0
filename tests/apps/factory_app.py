"""App factories and dotted attributes for the MODULE:APP forms."""


def _greeter(text):
    body = text.encode("utf-8")

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain"),
                                  ("Content-Length", str(len(body)))])
        return [body]
    return app


def make(greeting="from factory", repeat=1):
    return _greeter(greeting * repeat)


def make_not_callable():
    return "not an app"


def make_raises():
    raise RuntimeError("factory failed (expected by test_startup)")


class Holder:
    app = staticmethod(_greeter("from dotted attribute"))


holder = Holder()
