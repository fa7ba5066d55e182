"""Wrong answers a student would write, shared by the tests that check the checks reject them
(the pure tier's `test_exercises` and the service-backed `test_solutions`)."""

from labkit.process.windows import TOO_LATE, EventTimeWindows


def fall_through_lateness(stream, delay_ms, target, candidates):
    """09.1 with `>` for `>=`: a target of 1.0 is never reached, and the loop falls through to
    an implicit None."""
    for seconds in sorted(candidates):
        windows = EventTimeWindows(delay_ms=delay_ms, allowed_lateness_ms=seconds * 1000)
        too_late = sum(windows.add(0, e["car_id"], e["event_ms"], e["arrival_ms"]) == TOO_LATE for e in stream)
        if (len(stream) - too_late) / len(stream) > target:
            return seconds
