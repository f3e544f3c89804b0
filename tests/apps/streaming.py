"""A generator that yields one block, then waits (bounded) until the test
has seen that block arrive before it yields the next: a server that holds
blocks back until the generator ends makes the test time out.

/wait?mark=PATH  first block, wait for PATH to exist (<= 5 s), second block
"""
import os
import time
from urllib.parse import parse_qs


def application(environ, start_response):
    qs = parse_qs(environ.get("QUERY_STRING", ""))
    mark = qs["mark"][0]

    def gen():
        start_response("200 OK", [("Content-Type", "text/plain")])
        yield b"first block;"
        deadline = time.monotonic() + 5
        while not os.path.exists(mark) and time.monotonic() < deadline:
            time.sleep(0.01)
        yield b"seen" if os.path.exists(mark) else b"timed out"
    return gen()
