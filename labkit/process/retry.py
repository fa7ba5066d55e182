"""Retry until safe: a step that fails temporarily (a transient error) is tried again, never skipped.

The processor must not lose a message, so a store write or a Kafka step that fails because a
server is briefly away (labkit.ops.transient says which errors are) is repeated with a growing
pause, for as long as it takes. Only two things end the wait: a fatal error (raised at once:
retrying would repeat it) or a stop request (StopRequested: nothing of the batch is committed,
so it is read again next time).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from labkit.ops.transient import is_transient

log = logging.getLogger("labkit.process")
T = TypeVar("T")


class StopRequested(Exception):
    """A stop arrived while data of the current batch was not yet safe; nothing committed."""


class KafkaSendFailed(RuntimeError):
    """Some records were not acknowledged; they will be sent again."""


def retryable(exc: BaseException) -> bool:
    """Worth another try: a transient client error, or records Kafka did not acknowledge."""
    return is_transient(exc) or isinstance(exc, KafkaSendFailed)


class Retry:
    """`until_safe(what, action)` runs `action` until it succeeds. `retries` counts the
    failed tries (the run's statistics show it); `stop` (an Event) ends a wait early."""

    def __init__(self, stop: threading.Event, max_backoff_s: float = 8.0, first_backoff_s: float = 0.25):
        self.stop, self.max_backoff_s, self.first_backoff_s = stop, max_backoff_s, first_backoff_s
        self.retries = 0

    def until_safe(self, what: str, action: Callable[..., T], *args) -> T:
        """`action(*args)`, until it succeeds. Logs one line when `what` starts failing and one
        when it recovers, not one per try."""
        delay, failing_since = self.first_backoff_s, None
        while True:
            try:
                result = action(*args)
                if failing_since is not None:
                    log.warning("%s recovered after %.1f s", what, time.monotonic() - failing_since)
                return result
            except Exception as exc:
                if not retryable(exc):
                    raise
                self.retries += 1
                if failing_since is None:
                    failing_since = time.monotonic()
                    log.warning("%s failing (%s: %s); retrying with backoff up to %.0f s",
                                what, type(exc).__name__, exc, self.max_backoff_s)
                if self.stop.wait(delay):
                    raise StopRequested(what) from exc
                delay = min(delay * 2, self.max_backoff_s)
