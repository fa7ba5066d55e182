"""Checks for notebook 10's exercises (change in production)."""

from __future__ import annotations

from labkit.teach import exercises

READER = "10.1 a reader upgraded first"

HINTS = exercises.register_hints({
    READER: "read schema_version before any other field, as the validator does; an event without one is "
            "version 1 (dict.get takes a default). Each version you know says where the speed is and in "
            "which unit (1 m/s is 3.6 km/h); for any other, None",
})

KMH = exercises.optional(exercises.of_type(float, what="a number of km/h"))

#: How far from the right speed an answer may be: float rounding, or a result rounded to the
#: hundredth the cars send; a version-3 speed read without the * 3.6 is off by far more.
TOLERANCE_KMH = 0.01


def _versions(event: dict) -> dict[str, tuple[dict, float | None]]:
    """10.1's cases, built from one version-1 event of the notebook: {case: (event, the speed in
    km/h a reader must return, None for a version it cannot know)}. Each case has its own speed
    (the event's, plus 10 km/h a case), so that no answer fits two cases by chance and the
    version-3 one is never 0, where m/s and km/h agree. Version 3 is the notebook's "version 3,
    speed renamed": `speed_mps`, in metres per second, rounded as the firmware sends it."""
    base = {k: v for k, v in event.items() if k != "schema_version"}
    speed = [round(float(base["speed"]) + 10 * i, 2) for i in range(5)]
    without_speed = {k: v for k, v in base.items() if k != "speed"}
    mps = round(speed[3] / 3.6, 2)
    return {
        "version 1, no schema_version": ({**base, "speed": speed[0]}, speed[0]),
        "version 1, schema_version 1": ({**base, "schema_version": 1, "speed": speed[1]}, speed[1]),
        "version 2": ({**base, "schema_version": 2, "speed": speed[2], "odometer_km": 1234.567, "battery_v": 14.1},
                      speed[2]),
        "version 3, speed_mps in m/s": ({**without_speed, "schema_version": 3, "speed_mps": mps}, mps * 3.6),
        "version 4, unknown, with a speed field": ({**base, "schema_version": 4, "speed": speed[4]}, None),
        "version 4, unknown, with a speed_mps field": ({**without_speed, "schema_version": 4, "speed_mps": mps}, None),
    }


def _close_enough(answer, expected) -> bool:
    both_numbers = exercises.NUMBER.problem(answer) is None and exercises.NUMBER.problem(expected) is None
    return both_numbers and abs(float(answer) - float(expected)) <= TOLERANCE_KMH


@exercises.graded(READER)
def speed_kmh(func, event: dict) -> bool:
    """10.1: the student's reader on `event` (version 1, as the notebook's upgrade sends it) as
    each version it must read (1 without and with `schema_version`, 2, 3 with `speed_mps`)
    and one it must refuse (4, once with a `speed` and once with a `speed_mps`: a reader that
    goes by which field is there, not by the version, reads one of them): each answer within
    TOLERANCE_KMH of the speed, or None for version 4. Each call gets its own copy; an exception or a wrong
    type is reported with the case it happened in."""
    answers, expected = {}, {}
    for case, (version, speed) in _versions(event).items():
        answer = exercises.attempt(func, dict(version))
        if not exercises.expect_type(READER, answer, KMH, case=f"for the {case} event"):
            return False
        answers[case] = speed if _close_enough(answer, speed) else answer
        expected[case] = speed
    if all(answer is None for answer in answers.values()):
        return exercises.wrong(READER, exercises.NONE_RETURNED)
    return exercises.check(READER, answers, expected)
