import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone


def test_validate_cli_prints_one_verdict_per_line(tmp_path):
    stamp = (datetime.now(timezone.utc) - timedelta(minutes=1)).isoformat()
    good = {"car_id": "CAR_001", "timestamp": stamp, "speed": 1.0, "rpm": 900,
            "engine_temp": 90.0, "fuel_level": 50.0, "latitude": 52.5, "longitude": 13.4, "event_id": "e1", "seq": 1}
    raw = tmp_path / "raw.txt"
    raw.write_text(json.dumps(good) + "\n" + "not json\n" + json.dumps(dict(good, speed="1.0")) + "\n")
    out = subprocess.run([sys.executable, "-m", "labkit", "validate", str(raw)], capture_output=True, text=True)
    verdicts = [json.loads(line) for line in out.stdout.splitlines()]
    assert [v["ok"] for v in verdicts] == [True, False, False]
    assert [v["reason"] for v in verdicts] == [None, "not_json", "wrong_type:speed"]
    assert verdicts[0]["event"]["timestamp"] == stamp

    lines = tmp_path / "raw.jsonl"
    lines.write_text(json.dumps({"raw": json.dumps(good)}) + "\n" + json.dumps({"raw": good}) + "\n" + "{}\n")
    out = subprocess.run([sys.executable, "-m", "labkit", "validate", "--jsonl", str(lines)], capture_output=True, text=True)
    verdicts = [json.loads(line) for line in out.stdout.splitlines()]
    assert [v["ok"] for v in verdicts] == [True, True, False]
    assert verdicts[2]["reason"] == "input"
