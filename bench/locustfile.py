"""Locust users for the experiment: a front end calling the Flask API.

The original experiment ran `locust -f locustfile.py --headless -u 1000 -r 100
--run-time 10s --csv=output` but did not publish its locustfile, so the think
time between a user's requests is unknown. It changes the result completely
(with none, 1000 users are 1000 clients in a tight loop; with `between(1, 5)`
they send about 330 requests/s in all), so both are measured:

    THINK_TIME=between  (default) wait_time = between(1, 5)
    THINK_TIME=none     wait_time = constant(0)

bench/run sets THINK_TIME for each run; the compose `user` containers pass it
through from the environment of `docker compose up`.
"""

import os

from locust import HttpUser, between, constant, task

THINK_TIME = os.environ.get("THINK_TIME", "between")
if THINK_TIME not in ("between", "none"):
    raise SystemExit(f"THINK_TIME must be 'between' or 'none', not {THINK_TIME!r}")


class ApiUser(HttpUser):
    """What a Vue/React page does on load: fetch the page, then the data."""

    wait_time = between(1, 5) if THINK_TIME == "between" else constant(0)

    @task
    def index(self):
        self.client.get("/")

    @task
    def items(self):
        self.client.get("/api/items")
