"""A Flask app streaming a large response with stream_with_context; every
block names the request it was produced for, read from flask.request inside
the generator. A block carrying another request's token means the request
context leaked between interleaved responses."""
from flask import Flask, Response, request, stream_with_context

app = Flask(__name__)


@app.get("/stream")
def stream():
    def generate():
        for i in range(40):
            yield "[%s]" % request.args["tok"] + "." * 65000
        yield "END"
    return Response(stream_with_context(generate()), mimetype="text/plain")
