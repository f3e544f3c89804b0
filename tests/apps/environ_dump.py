"""Answers every request with its environ as JSON.

Values that are str are sent as they are (latin-1 native strings survive
JSON's \\u escapes); other values are described by their type so the tests can
check wsgi.* members without serialising them.
"""
import json


def describe(key, value):
    if isinstance(value, str):
        return value
    if key == "wsgi.version":
        return {"type": type(value).__name__, "value": list(value)}
    if isinstance(value, bool):
        return value
    info = {"type": type(value).__name__}
    for attr in ("read", "readline", "readlines", "__iter__", "write", "writelines", "flush"):
        info[attr] = callable(getattr(value, attr, None))
    info["callable"] = callable(value)
    return info


def dump_environ(environ):
    # Read the body first: tests send one, and it proves wsgi.input works.
    body = environ["wsgi.input"].read()
    return {
        "environ": {key: describe(key, value) for key, value in environ.items()},
        "key_types": sorted({type(k).__name__ for k in environ}),
        "environ_type": type(environ).__name__,
        "body_length": len(body),
    }


def application(environ, start_response):
    if environ.get("PATH_INFO") == "/errors":
        # wsgi.errors must reach the server's error log.
        environ["wsgi.errors"].write("wsgi-errors-marker-7f3a\n")
        environ["wsgi.errors"].writelines(["wsgi-errors-lines-1\n", "wsgi-errors-lines-2\n"])
        environ["wsgi.errors"].flush()
    data = json.dumps(dump_environ(environ)).encode("ascii")
    start_response("200 OK", [("Content-Type", "application/json"),
                              ("Content-Length", str(len(data)))])
    return [data]
