"""start_response(status, headers, exc_info) behaviours (PEP 3333).

/before-head  replaces the 200 with a 500 before any body: the 500 is sent
/after-head   calls it after a body chunk went out: start_response must
              re-raise; the app records what came out and lets it propagate
/twice        calls start_response twice without exc_info: must raise
/last         what /after-head and /twice recorded, as JSON
"""
import json
import sys

LAST = {}


class AppError(Exception):
    pass


def application(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/before-head":
        start_response("200 OK", [("Content-Type", "text/plain"), ("X-First", "1")])
        try:
            raise AppError("before head")
        except AppError:
            start_response("500 Internal Server Error",
                           [("Content-Type", "text/plain"), ("X-Second", "1")], sys.exc_info())
        return [b"replaced"]
    if path == "/after-head":
        def gen():
            start_response("200 OK", [("Content-Type", "text/plain")])
            yield b"first chunk;"
            try:
                raise AppError("after head")
            except AppError:
                try:
                    start_response("500 Internal Server Error",
                                   [("Content-Type", "text/plain")], sys.exc_info())
                except BaseException as e:
                    LAST["after-head"] = type(e).__name__
                    raise
                LAST["after-head"] = "no exception"
            yield b"should not be sent"
        return gen()
    if path == "/twice":
        start_response("200 OK", [("Content-Type", "text/plain")])
        try:
            start_response("201 Created", [("Content-Type", "text/plain")])
        except Exception as e:
            LAST["twice"] = type(e).__name__
        else:
            LAST["twice"] = "no exception"
        return [LAST["twice"].encode()]
    data = json.dumps(LAST).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [data]
