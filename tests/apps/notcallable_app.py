"""`app` is not callable."""
app = 42
