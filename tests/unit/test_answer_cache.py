"""The API's answer cache: shared while fresh, refreshed behind the caller's back when a
little old, computed in the foreground when too old, one computation at a time per key.
And SharedAnswers: requests arriving while the same question is answered share that answer."""

import gc
import threading
import time
import weakref
from dataclasses import dataclass

import pytest

from labkit.api.cache import AnswerCache, SharedAnswers


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


@dataclass(frozen=True)
class Key:
    """A cache key the test can watch: weakly referenced, it shows whether the cache still
    holds anything for it (an answer or a lock)."""

    offline_after_s: int


def _keys_still_held(cache: AnswerCache, count: int, compute) -> int:
    """Ask `count` distinct keys once each; return how many the cache still holds."""
    alive = weakref.WeakSet()
    for n in range(count):
        key = Key(n)
        alive.add(key)
        try:
            cache.get(key, compute)
        except RuntimeError:
            pass
    gc.collect()
    return len(alive)


def test_distinct_keys_chosen_by_clients_keep_the_answers_bounded():
    cache = AnswerCache(ttl_s=60)
    held = _keys_still_held(cache, 10_000, lambda: "answer")
    assert held <= 1024, f"{held} answers kept for 10,000 distinct keys"


def test_distinct_keys_whose_computation_fails_keep_the_locks_bounded():
    cache = AnswerCache(ttl_s=60)

    def down():
        raise RuntimeError("MongoDB down")

    held = _keys_still_held(cache, 10_000, down)
    assert held <= 1024, f"{held} keys (their locks) kept after 10,000 failed computations"


def test_the_least_recently_used_answer_goes_first():
    cache = AnswerCache(ttl_s=60, max_keys=2)
    calls, compute = counter()
    cache.get("a", compute)
    cache.get("b", compute)
    cache.get("a", compute)  # a is used again: b is now the oldest
    cache.get("c", compute)  # one key too many: b goes
    assert len(calls) == 3
    assert cache.get("a", compute) == 1 and len(calls) == 3, "a was kept"
    assert cache.get("b", compute) == 4, "b was computed again"


def _ask_while_running(shared: SharedAnswers, compute, waiters: int = 7):
    """Start one computation, then `waiters` more requests for the same key while it runs."""
    results, errors = [], []

    def ask():
        try:
            results.append(shared.get("k", compute))
        except RuntimeError as exc:
            errors.append(str(exc))

    first = threading.Thread(target=ask)
    first.start()
    others = [threading.Thread(target=ask) for _ in range(waiters)]
    for t in others:
        t.start()
    for t in [first, *others]:
        t.join()
    return results, errors


def test_requests_during_a_computation_share_it_and_nothing_is_kept():
    shared, calls = SharedAnswers(), []

    def slow():
        calls.append(1)
        time.sleep(0.3)  # long enough for the other requests to arrive while it runs
        return len(calls)

    results, _ = _ask_while_running(shared, slow)
    assert results == [1] * 8 and len(calls) == 1
    assert shared.get("k", slow) == 2  # asked again afterwards: computed again, never stale
    assert shared.get("other", lambda: "x") == "x"


def test_an_error_reaches_every_waiting_request_and_is_not_kept():
    shared, calls = SharedAnswers(), []

    def failing():
        calls.append(1)
        time.sleep(0.3)
        raise RuntimeError("mongo down")

    results, errors = _ask_while_running(shared, failing)
    assert results == [] and errors == ["mongo down"] * 8 and len(calls) == 1
    with pytest.raises(RuntimeError):
        shared.get("k", failing)
    assert shared.get("k", lambda: "back") == "back"
