"""Says which thread ran the request: the loop thread is the main thread.

/where            answers at once
/sleep?ms=N       sleeps N ms first (&mark=PATH: creates PATH before sleeping)
/maybe?ms=N       the same path whatever N is (routes are method + path)
"""
import threading
import time
from urllib.parse import parse_qs


def application(environ, start_response):
    qs = parse_qs(environ.get("QUERY_STRING", ""))
    ms = int(qs.get("ms", ["0"])[0])
    if "mark" in qs:
        open(qs["mark"][0], "w").close()
    if ms:
        time.sleep(ms / 1000)
    body = b"main" if threading.current_thread() is threading.main_thread() else b"pool"
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
