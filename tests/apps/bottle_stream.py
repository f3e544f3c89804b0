"""A Bottle app whose route returns a generator of 100 lines."""
import bottle

app = bottle.Bottle()


@app.get("/lines")
def lines():
    bottle.response.content_type = "text/plain"
    return (f"line {i}\n" for i in range(100))
