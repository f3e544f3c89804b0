"""start_response argument validation.

Each path calls start_response with one bad argument; the app catches what is
raised and reports it as JSON {"exc": name, "mro": [...]} with a 200, or
{"exc": null} when start_response accepted it (a server bug).
"""
import json

CASES = {
    "/status-bytes": (b"200 OK", [("Content-Type", "text/plain")]),
    "/status-int": (200, [("Content-Type", "text/plain")]),
    "/status-not-digits": ("abc OK", [("Content-Type", "text/plain")]),
    "/status-crlf": ("200 OK\r\nX-Injected: 1", [("Content-Type", "text/plain")]),
    "/status-no-reason": ("200", [("Content-Type", "text/plain")]),
    # 1xx are interim responses the server sends itself; a WSGI status is final.
    "/status-100": ("100 Continue", [("Content-Type", "text/plain")]),
    "/status-101": ("101 Switching Protocols", [("Upgrade", "websocket")]),
    "/status-199": ("199 Odd", []),
    # RFC 9110 15: status codes are 100..599.
    "/status-600": ("600 Beyond", [("Content-Type", "text/plain")]),
    "/status-999": ("999 Beyond", [("Content-Type", "text/plain")]),
    "/headers-not-list": ("200 OK", "Content-Type: text/plain"),
    "/headers-none": ("200 OK", None),
    "/header-not-tuple": ("200 OK", ["Content-Type: text/plain"]),
    "/header-triple": ("200 OK", [("Content-Type", "text/plain", "x")]),
    "/header-name-bytes": ("200 OK", [(b"Content-Type", "text/plain")]),
    "/header-value-bytes": ("200 OK", [("Content-Type", b"text/plain")]),
    "/header-value-int": ("200 OK", [("Content-Length", 5)]),
    "/header-value-crlf": ("200 OK", [("X-Bad", "a\r\nX-Injected: 1")]),
    "/header-value-lf": ("200 OK", [("X-Bad", "a\nX-Injected: 1")]),
    "/header-value-nul": ("200 OK", [("X-Bad", "a\x00b")]),
    "/header-name-colon": ("200 OK", [("X-Bad: x", "v")]),
    "/header-name-space": ("200 OK", [("X Bad", "v")]),
    "/header-name-empty": ("200 OK", [("", "v")]),
    "/header-value-not-latin1": ("200 OK", [("X-Bad", "\u20ac")]),
    "/hop-by-hop-connection": ("200 OK", [("Connection", "keep-alive")]),
    "/hop-by-hop-transfer-encoding": ("200 OK", [("Transfer-Encoding", "chunked")]),
    "/hop-by-hop-keep-alive": ("200 OK", [("Keep-Alive", "timeout=5")]),
    "/hop-by-hop-upgrade": ("200 OK", [("Upgrade", "websocket")]),
}


def application(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/good":
        start_response("200 OK", [("Content-Type", "text/plain"), ("X-Ok", "caf\xe9")])
        return [b"good"]
    status, headers = CASES[path]
    try:
        start_response(status, headers)
    except Exception as e:
        report = {"exc": type(e).__name__, "mro": [c.__name__ for c in type(e).__mro__]}
    else:
        report = {"exc": None, "mro": []}
    data = json.dumps(report).encode()
    # exc_info replaces whatever the bad call may have recorded.
    try:
        raise RuntimeError("report")
    except RuntimeError:
        import sys
        start_response("200 OK", [("Content-Type", "application/json"),
                                  ("Content-Length", str(len(data)))], sys.exc_info())
    return [data]
