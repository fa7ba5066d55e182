"""The one polling loop: ask a question until the answer is yes, or give up after a while.

    owners = wait_until(lambda: workers.owners(db) if ... else None, timeout_s=30,
                        what="both workers to hold partitions")

Servers, topics and consumer groups change state asynchronously (a deleted topic lingers, a
new one has no leader yet, a group rebalances), so the lab waits for a condition instead of
sleeping a fixed time: as short as possible, and never forever.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(check: Callable[[], T], timeout_s: float, poll_s: float = 0.2, what: str = "a condition",
               clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> T:
    """Call `check()` every `poll_s` seconds until it returns something truthy, and return it.
    Raises TimeoutError("waited N s for <what>") after `timeout_s`. An exception from `check`
    goes to the caller (a check that can tell "never" from "not yet" raises).

    `timeout_s=math.inf` waits as long as it takes: only for what is sure to come (a killed
    process to go) or what a person ends (Ctrl+C)."""
    deadline = clock() + timeout_s
    while True:
        answer = check()
        if answer:
            return answer
        if clock() >= deadline:
            raise TimeoutError(f"waited {timeout_s:g} s for {what}")
        sleep(poll_s)
