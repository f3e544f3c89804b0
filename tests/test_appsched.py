"""With a thread pool (the default single-process mode, --threads N), a route
whose calls keep returning quickly runs inline on the loop thread, as with
--threads 1 (no hand-off between threads); an unknown route, and one that
blocks, runs on a pool thread so that the loop stays free (csrc/appsched.h)."""

import threading
import time

from support import SLOW, RawConn, build_request, wait_for

STREAK = 32  # APPSCHED_STREAK


def where(c, path):
    c.send(build_request("GET", path))
    r = c.read_response()
    assert r.status == 200, r
    return r.body.decode()


def test_quick_route_moves_to_the_loop_thread(server_factory):
    srv = server_factory("where_app:application", "--threads", "4")
    with srv.conn() as c:
        seen = [where(c, "/where") for _ in range(3 * STREAK)]
    assert seen[0] == "pool", seen  # unknown: the safe choice
    assert seen[-STREAK:] == ["main"] * STREAK, seen


def test_blocking_route_stays_on_the_pool(server_factory):
    srv = server_factory("where_app:application", "--threads", "4")
    with srv.conn() as c:
        seen = [where(c, "/sleep?ms=2") for _ in range(2 * STREAK)]
    assert set(seen) == {"pool"}, seen


def test_route_that_turns_slow_goes_back_to_the_pool(server_factory):
    srv = server_factory("where_app:application", "--threads", "4")
    with srv.conn() as c:
        seen = [where(c, "/maybe") for _ in range(3 * STREAK)]
        assert seen[-1] == "main", seen
        # An isolated call a little over 2 ms (a garbage collection, say)
        # keeps it inline; a second one soon after, or one over 50 ms, ran
        # inline (the loop waited for it) and sends it back ...
        assert where(c, "/maybe?ms=5") == "main"
        assert where(c, "/maybe") == "main"
        assert where(c, "/maybe?ms=5") == "main"
        # ... and the route's next calls are on the pool again, now needing
        # twice the streak to come back.
        seen = [where(c, "/maybe") for _ in range(STREAK + 8)]
        assert set(seen) == {"pool"}, seen
        seen = [where(c, "/maybe") for _ in range(2 * STREAK)]
        assert seen[-1] == "main", seen
        assert where(c, "/maybe?ms=60") == "main"
        assert where(c, "/maybe") == "pool"
    # Other routes were never affected.
    with srv.conn() as c:
        assert where(c, "/where") == "pool"


def test_inline_route_and_blocking_route_together(server_factory, tmp_path):
    """While sleeps run on pool threads, a quick route keeps being answered
    inline without waiting for them."""
    srv = server_factory("where_app:application", "--threads", "4")
    with srv.conn() as c:
        for _ in range(3 * STREAK):
            where(c, "/where")
        assert where(c, "/where") == "main"
    done = []

    def sleeper(i):
        with RawConn(srv.port, timeout=10 * SLOW) as s:
            done.append(where(s, f"/sleep?ms=400&mark={tmp_path}/in{i}"))

    threads = [threading.Thread(target=sleeper, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    wait_for(lambda: all((tmp_path / f"in{i}").exists() for i in range(3)), 5 * SLOW,
             what="three sleeps inside the app")
    t0 = time.monotonic()
    with srv.conn() as c:
        for _ in range(20):
            assert where(c, "/where") == "main"
    quick = time.monotonic() - t0
    for t in threads:
        t.join(timeout=10 * SLOW)
    assert done == ["pool"] * 3
    assert quick < 0.3 * SLOW, quick
