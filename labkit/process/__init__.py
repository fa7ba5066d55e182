"""Stage 2, process: read the telemetry topic, judge every event, store, publish, commit.

Pure logic (no client library):
- `validation`  bytes in, verdict out; never raises
- `detectors`   the original rules and per-car stateful detectors
- `windows`     event-time windows with a watermark and allowed lateness
- `metrics`     the pipeline's counters, per window
- `dlq`         dead-letter envelopes

The loop and what keeps it safe:
- `processor`   the stream processor: poll, decide, store, publish and commit
- `replay`      re-validate dead letters with today's rules and store those that pass
"""
