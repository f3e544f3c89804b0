"""Flask responses that stream through wsgi.file_wrapper or a generator:
send_file of an in-memory file, a static file (Range requests), a streamed
Response. The static folder comes from $WSGIHOST_TEST_STATIC."""
import io
import os

from flask import Flask, Response, send_file

app = Flask(__name__, static_folder=os.environ.get("WSGIHOST_TEST_STATIC") or None,
            static_url_path="/static")

BLOB = bytes(range(256)) * 3200  # 819,200 bytes


@app.get("/blob")
def blob():
    return send_file(io.BytesIO(BLOB), mimetype="application/octet-stream")


@app.get("/lines")
def lines():
    return Response((f"line {i}\n" for i in range(200)), mimetype="text/plain")
