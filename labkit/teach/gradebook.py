"""Who passed what: the verdicts of the exercise checks, recorded on a class's shared stack.

On a student's own machine (no `settings.student`) nothing is recorded. In a student's corner
of a class's stack (LAB_STUDENT or JUPYTERHUB_USER set, see labkit.ops.sandbox) whose
instructor has created the progress topic (`python -m labkit class up`), each verdict
a check prints (✔ ✘ ⏳ for an exercise such as "02.3") is also sent to the Kafka topic
`lab.progress.v1`, keyed by the student: which exercise, which verdict, when. Never the
student's code or answer. On a class's secured broker it goes to the student's own topic,
`lab.progress.v1.ann`, which only they may write (`class roster add` makes it).
`python -m labkit class progress` reads the topics back into a table (labkit.teach.classroom).

The record itself (its fields, `summarize`) is labkit.contract.progress.

Recording never stands in a student's way: a stack without the topic (a student's own) is
asked once per kernel and left alone; one that stops answering costs one wait of at most
`SEND_TIMEOUT_S`, prints one line, and turns recording off for the rest of the kernel.
"""

from __future__ import annotations

from labkit.config import Settings
from labkit.contract.progress import (  # noqa: F401  (the record's names, for the checks and tests)
    FAILED,
    NOT_ATTEMPTED,
    PASSED,
    PROGRESS_TOPIC,
    Verdict,
    exercise_number,
    student_topic,
)

SEND_TIMEOUT_S = 5.0


class Recorder:
    """Sends verdicts for the student of `settings` (nothing without a student). One short-lived
    producer per verdict: a kernel is left with no client thread between checks."""

    def __init__(self, settings: Settings):
        self.settings = settings
        # None: not yet known whether a class records on this stack (asked at the first verdict).
        self.enabled: bool | None = None if settings.student else False
        self.topic = PROGRESS_TOPIC  # or the student's own, when the class's broker has one

    def record(self, name: str, status: str) -> bool:
        """Send the verdict on `name`; True once the broker has it. Never raises."""
        if self.enabled is False or exercise_number(name) is None:
            return False
        verdict = Verdict.now(self.settings.student, name, status)
        try:
            from labkit.ops import clients

            if self.enabled is None:  # once: is a class recording on this stack?
                # Bounded like the send: kafka-python's own bootstrap wait is 30 s.
                consumer = clients.kafka_consumer(self.settings, bootstrap_timeout_ms=int(SEND_TIMEOUT_S * 1000))
                try:
                    topics = consumer.topics()
                finally:
                    consumer.close()
                own = student_topic(self.settings.student)
                self.topic = own if own in topics else PROGRESS_TOPIC
                self.enabled = self.topic in topics
                if not self.enabled:
                    return False
            producer = clients.kafka_producer(self.settings, max_block_ms=int(SEND_TIMEOUT_S * 1000),
                                              bootstrap_timeout_ms=int(SEND_TIMEOUT_S * 1000))
            try:
                producer.send(self.topic, key=verdict.student.encode(), value=verdict.to_bytes()).get(
                    timeout=SEND_TIMEOUT_S)
            finally:
                producer.close(timeout=SEND_TIMEOUT_S)
            return True
        except Exception as exc:  # the class's record is the instructor's concern, not the student's
            self.enabled = False
            print(f"(your progress is not being recorded for the instructor: {type(exc).__name__}; "
                  f"is {self.topic} on {self.settings.kafka_bootstrap_servers}?)")
            return False


_recorder: Recorder | None = None


def use(settings: Settings | None) -> None:
    """Record for `settings` from now on (None: settings from the environment, read again at
    the next verdict). Notebooks need not call it; tests do."""
    global _recorder
    _recorder = Recorder(settings) if settings is not None else None


def record(name: str, status: str) -> bool:
    """Record the verdict on exercise `name` for this kernel's student, if any. Never raises."""
    global _recorder
    try:
        if _recorder is None:
            _recorder = Recorder(Settings.from_env())
        return _recorder.record(name, status)
    except Exception:
        return False
