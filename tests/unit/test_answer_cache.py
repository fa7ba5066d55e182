"""The API's one-second answer cache: shared within the second, fresh after it, one
computation at a time per key."""

import threading
import time

from labkit.api.cache import AnswerCache


def test_an_answer_is_shared_within_its_second_and_recomputed_after():
    now = [100.0]
    cache = AnswerCache(ttl_s=1.0, clock=lambda: now[0])
    calls = []
    compute = lambda: calls.append(1) or len(calls)  # noqa: E731
    assert cache.get("k", compute) == 1
    now[0] += 0.9
    assert cache.get("k", compute) == 1 and len(calls) == 1
    assert cache.get("other", compute) == 2, "another key is computed on its own"
    now[0] += 0.2
    assert cache.get("k", compute) == 3


def test_a_failed_computation_is_not_cached():
    cache = AnswerCache(ttl_s=60)

    def fail():
        raise RuntimeError("MongoDB down")

    for _ in range(2):
        try:
            cache.get("k", fail)
        except RuntimeError:
            pass
    assert cache.get("k", lambda: "back") == "back"


def test_concurrent_requests_wait_for_one_computation():
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
