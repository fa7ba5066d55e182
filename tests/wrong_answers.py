"""Wrong answers a student would write, shared by the tests that check the checks reject them
(the pure tier's `test_exercises` and the service-backed `test_solutions`), and the assertion
those tests make of a rejection."""

from labkit.process.windows import TOO_LATE, EventTimeWindows


def fall_through_lateness(stream, delay_ms, target, candidates):
    """10.2 with `>` for `>=`: a target of 1.0 is never reached, and the loop falls through to
    an implicit None."""
    for seconds in sorted(candidates):
        windows = EventTimeWindows(delay_ms=delay_ms, allowed_lateness_ms=seconds * 1000)
        too_late = sum(windows.add(0, e["car_id"], e["event_ms"], e["arrival_ms"]) == TOO_LATE for e in stream)
        if (len(stream) - too_late) / len(stream) > target:
            return seconds


def assert_rejected(capsys, verdict, *words, exercise: str = "", no_traceback: bool = False) -> None:
    """The check returned False and its last verdict line is a ✘ (not ⏳) for `exercise`,
    holding every one of `words`; with `no_traceback`, nothing printed a traceback."""
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line[:1] in ("✔", "✘", "⏳")]
    assert verdict is False and lines, out
    assert lines[-1].startswith(f"✘ {exercise}"), lines[-1]
    assert all(word in lines[-1] for word in words), lines[-1]
    if no_traceback:
        assert "Traceback" not in out, out
