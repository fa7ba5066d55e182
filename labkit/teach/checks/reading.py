"""What the reading checks share: a student's function handed a consumer of its own."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from labkit.config import Settings
from labkit.ops import clients
from labkit.teach import exercises


def with_consumer(settings: Settings, seconds: float, func: Callable[..., Any], *args) -> Any:
    """`func(consumer, *args)` with a new group-less consumer, given `seconds` to return
    (`exercises.attempt_within`: test the answer with `exercises.timed_out`). The consumer is
    closed afterwards either way, so a loop still polling fails and its thread ends."""
    consumer = clients.kafka_consumer(settings)
    try:
        return exercises.attempt_within(seconds, func, consumer, *args)
    finally:
        consumer.close()
