# gunicorn configuration with the same settings as conf/wsgihost.conf.py:
#   gunicorn -c conf/gunicorn.conf.py pyapp:app
# (header_timeout, body_timeout and send_timeout have no gunicorn equivalent:
# gunicorn relies on nginx in front for slow clients.)

import multiprocessing

bind = ["0.0.0.0:5901"]
workers = multiprocessing.cpu_count()
threads = 1
timeout = 30
graceful_timeout = 30
keepalive = 5
max_requests = 0
max_requests_jitter = 0
accesslog = None
errorlog = "-"
loglevel = "info"
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 8190
