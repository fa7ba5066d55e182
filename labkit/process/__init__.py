"""Stage 2, process: read the telemetry topic, judge every event, store, publish, commit.

The loop:
- `processor`   the stream processor: `Processor.run` polls, decides, stores, publishes and commits

What a batch means (pure: no client library):
- `decide`      one batch's verdicts: readings to store, dead letters, anomalies, windows to publish
- `validation`  bytes in, verdict out; never raises
- `detectors`   the original rules and per-car stateful detectors
- `windows`     event-time windows with a watermark and allowed lateness
- `metrics`     the pipeline's counters, per window
- `dlq`         dead-letter envelopes, and the DLQ guard

What keeps the loop safe (passed to it):
- `retry`       which failures to wait out, and repeating a step until it succeeds
- `delivery`    Kafka transactions: the batch's records and offsets together; fencing
- `source`      the group consumer: rebalances, rewind, lag, caught up

And beside it:
- `replay`      re-validate dead letters with today's rules and store those that pass
"""
