"""wsgi.file_wrapper on a real file, on a file-like without fileno(), and with
a Content-Length shorter than the file. ?path= names the file (tests create it).
Closing is recorded in CLOSED and reported by /closed."""
import io
import json
from urllib.parse import parse_qs

CLOSED = []


class Recording(io.FileIO):
    def close(self):
        if not self.closed:
            CLOSED.append(self.name)
        super().close()


class NoFileno:
    """File-like with read() and close() but no fileno(): the wrapper must
    fall back to reading."""

    def __init__(self, data):
        self._buf = io.BytesIO(data)
        self.closed_flag = False

    def read(self, n=-1):
        return self._buf.read(n)

    def close(self):
        CLOSED.append("nofileno")


def application(environ, start_response):
    path = environ["PATH_INFO"]
    qs = parse_qs(environ.get("QUERY_STRING", ""))
    if path == "/closed":
        data = json.dumps(CLOSED).encode()
        start_response("200 OK", [("Content-Type", "application/json")])
        return [data]
    wrapper = environ["wsgi.file_wrapper"]
    if path == "/nofileno":
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return wrapper(NoFileno(b"0123456789" * 1000), 4096)
    f = Recording(qs["path"][0], "rb")
    size = f.seek(0, 2)
    f.seek(int(qs.get("offset", ["0"])[0]))
    headers = [("Content-Type", "application/octet-stream")]
    if path == "/file":
        headers.append(("Content-Length", str(size - f.tell())))
    elif path == "/file-short":
        headers.append(("Content-Length", qs["length"][0]))
    # /file-nolength: no Content-Length at all
    start_response("200 OK", headers)
    return wrapper(f, 8192)
