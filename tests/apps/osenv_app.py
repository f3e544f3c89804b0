"""Answers with the process environment (os.environ) and pid as JSON: shows
what the server leaves in the environment of the application's process."""
import json
import os


def application(environ, start_response):
    data = json.dumps({"environ": dict(os.environ), "pid": os.getpid()}).encode()
    start_response("200 OK", [("Content-Type", "application/json"),
                              ("Content-Length", str(len(data)))])
    return [data]
