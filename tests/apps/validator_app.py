"""An app wrapped in wsgiref.validate.validator: every PEP 3333 rule it checks
(environ types and keys, input/errors methods, status, headers, close()) turns
into an AssertionError, i.e. a 500, if the server breaks it."""
import warnings
from wsgiref.validate import validator

# The validator reports some problems as warnings; make them errors.
warnings.simplefilter("error")


def simple(environ, start_response):
    body = b""
    if environ["REQUEST_METHOD"] == "POST":
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length)
        environ["wsgi.input"].read(1)
        environ["wsgi.input"].readline()
        environ["wsgi.errors"].write("validator app got %d bytes\n" % len(body))
        environ["wsgi.errors"].flush()
    data = b"validated:" + body
    start_response("200 OK", [("Content-Type", "text/plain"),
                              ("Content-Length", str(len(data)))])
    return [data]


def gen_app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    yield b"validated "
    yield b"generator"


_plain = validator(simple)
_gen = validator(gen_app)


def application(environ, start_response):
    if environ.get("PATH_INFO") == "/gen":
        return _gen(environ, start_response)
    return _plain(environ, start_response)
