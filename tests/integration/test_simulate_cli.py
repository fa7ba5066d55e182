import os
import signal
import subprocess
import sys
import uuid

from labkit.ops import kafka_io
from labkit.ops.infra.topics import ensure_topics
from labkit.ops.waiting import wait_until


def test_simulate_stops_cleanly_on_sigterm_after_flushing(services, tmp_path):
    topic = f"labkit.test.simulate.{uuid.uuid4().hex[:8]}"
    ensure_topics(services, {topic: 4})
    truth = tmp_path / "truth.jsonl"
    process = subprocess.Popen(
        [sys.executable, "-m", "labkit", "simulate", "--cars", "3", "--rate", "5", "--truth", str(truth)],
        env={**os.environ, "TOPIC_TELEMETRY": topic}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    # Stop it mid-run, once messages are flowing (not after a guessed sleep).
    wait_until(lambda: sum(kafka_io.end_offsets(services, topic).values()) > 10, 60, what="the simulator to send")
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert "stopped early on request" in out
    sent = int(out.split("sent ")[1].split(" ")[0])
    assert sent > 10
    # Everything it reported as sent is in Kafka, and the truth file has one row per message.
    assert len(kafka_io.read_topic(services, topic, max_messages=10_000)) == sent
    assert len(truth.read_text().splitlines()) == sent


def test_simulate_fast_mode_with_count(services):
    topic = f"labkit.test.simulate.{uuid.uuid4().hex[:8]}"
    ensure_topics(services, {topic: 4})
    result = subprocess.run(
        [sys.executable, "-m", "labkit", "simulate", "--cars", "4", "--fast", "--count", "800"],
        env={**os.environ, "TOPIC_TELEMETRY": topic}, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "sent 800 (confirmed), failed 0" in result.stdout
    assert len(kafka_io.read_topic(services, topic, max_messages=10_000)) == 800
