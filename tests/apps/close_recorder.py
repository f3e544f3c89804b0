"""Records every close() call on the result iterable.

The record goes to the file named by $WSGIHOST_TEST_CLOSE_LOG, one line
"close <tag>" per call, where <tag> is the query string; the tests poll it.
"""
import os
import time

LOG = os.environ.get("WSGIHOST_TEST_CLOSE_LOG")


def record(line):
    with open(LOG, "a") as f:
        f.write(line + "\n")


class Result:
    def __init__(self, tag, chunks, fail_at=None, infinite=False, pause=0):
        self.tag = tag
        self.pause = pause
        self.chunks = chunks
        self.fail_at = fail_at
        self.infinite = infinite

    def __iter__(self):
        i = 0
        while self.infinite or i < len(self.chunks):
            if i == self.fail_at:
                raise RuntimeError("failing in iteration %d" % i)
            if i and self.pause:
                time.sleep(self.pause)
            yield self.chunks[i % len(self.chunks)]
            i += 1

    def close(self):
        record("close " + self.tag)


def application(environ, start_response):
    tag = environ.get("QUERY_STRING", "")
    path = environ["PATH_INFO"]
    record("call " + tag)
    if path == "/normal":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return Result(tag, [b"one ", b"two ", b"three"])
    if path == "/raise-first":
        # Fails before any body byte: the server answers 500, and still closes.
        start_response("200 OK", [("Content-Type", "text/plain")])
        return Result(tag, [b"never"], fail_at=0)
    if path == "/raise-later":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return Result(tag, [b"a" * 1000, b"b" * 1000, b"c"], fail_at=2)
    if path == "/slow":
        # Takes its time between chunks: a HEAD's client must not see the
        # response before close() ran.
        start_response("200 OK", [("Content-Type", "text/plain")])
        return Result(tag, [b"one ", b"two"], pause=0.3)
    if path == "/infinite":
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return Result(tag, [b"x" * 65536], infinite=True)
    start_response("404 Not Found", [("Content-Type", "text/plain")])
    return Result(tag, [b"not found"])
