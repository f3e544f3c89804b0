# wsgihost configuration (gunicorn's settings file format):
#   wsgihost -c conf/wsgihost.conf.py pyapp:app
# It is Python, run once at start-up (and again on HUP) by the interpreter
# wsgihost embeds. Settings left out keep their defaults; an unknown name is an
# error. The command line and $WSGIHOST_CMD_ARGS override what is set here.
# conf/gunicorn.conf.py holds the same settings for gunicorn, to compare the
# two servers one to one.

import multiprocessing

# Where to listen: the experiment's web:5901 (all interfaces, in a container).
bind = ["0.0.0.0:5901"]

# Worker processes (the master forks them) and app threads per worker.
# gunicorn's rule of thumb, 2 x cores + 1, is for blocking sync workers; with
# wsgihost's event loop one worker per core is usually enough for CPU-bound
# Flask code. Raise threads for I/O-bound endpoints (database, HTTP calls).
workers = multiprocessing.cpu_count()
threads = 1

# A worker stuck in one request this long is killed and replaced (idle
# workers holding keep-alive connections never are).
timeout = 30
graceful_timeout = 30

# Idle seconds allowed between two requests on one connection.
keepalive = 5

# Recycle workers now and then (leaky apps); jitter spreads the restarts.
max_requests = 0
max_requests_jitter = 0

# Logs: gunicorn's formats. "-" is stdout for the access log, stderr for errors.
accesslog = None
errorlog = "-"
loglevel = "info"

# Limits (defaults shown); requests over them get 413/414/431 and are closed.
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 8190
limit_request_body = 1073741824

# wsgihost only: slow-client protection without nginx.
header_timeout = 10
body_timeout = 30
send_timeout = 30
