"""The API's answer cache: shared while fresh, refreshed behind the caller's back when a
little old, computed in the foreground when too old, one computation at a time per key."""

import threading
import time

from labkit.api.cache import AnswerCache


def counter():
    calls = []
    return calls, (lambda: calls.append(1) or len(calls))


def test_a_fresh_answer_is_shared_and_keys_are_separate():
    now = [100.0]
    cache = AnswerCache(ttl_s=1.0, clock=lambda: now[0])
    calls, compute = counter()
    assert cache.get("k", compute) == 1
    now[0] += 0.9
    assert cache.get("k", compute) == 1 and len(calls) == 1
    assert cache.get("other", compute) == 2


def test_a_stale_answer_is_returned_at_once_and_refreshed_in_the_background():
    now = [100.0]
    cache = AnswerCache(ttl_s=1.0, max_stale_s=10.0, clock=lambda: now[0])
    release, calls = threading.Event(), []

    def slow():
        calls.append(1)
        if len(calls) > 1:
            release.wait(5)
        return len(calls)

    assert cache.get("k", slow) == 1
    now[0] += 2
    began = time.perf_counter()
    assert cache.get("k", slow) == 1, "the stale answer, without waiting"
    assert cache.get("k", slow) == 1 and time.perf_counter() - began < 1
    release.set()
    for _ in range(100):
        if cache.get("k", slow) == 2:
            break
        time.sleep(0.01)
    assert cache.get("k", slow) == 2 and len(calls) == 2, "one background refresh, not one per request"


def test_a_too_old_answer_is_computed_in_the_foreground_and_errors_reach_the_caller():
    now = [100.0]
    cache = AnswerCache(ttl_s=1.0, max_stale_s=10.0, clock=lambda: now[0])
    cache.get("k", lambda: "old")
    now[0] += 11

    def down():
        raise RuntimeError("MongoDB down")

    try:
        cache.get("k", down)
        raise AssertionError("the error must reach the route (and become a 503)")
    except RuntimeError:
        pass
    assert cache.get("k", lambda: "back") == "back"


def test_concurrent_first_requests_wait_for_one_computation():
    cache = AnswerCache(ttl_s=60)
    started = []

    def slow():
        started.append(1)
        time.sleep(0.2)
        return "answer"

    results = []
    threads = [threading.Thread(target=lambda: results.append(cache.get("k", slow))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == ["answer"] * 8 and len(started) == 1
