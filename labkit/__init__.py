"""labkit: the code behind Telemetry Lab's notebooks and services.

Open any module from a notebook with `labkit.<module>??`. Pure logic (no I/O):

- `contract`    event fields, ranges, thresholds, reason classes: the numbers everyone shares
- `fleet`       cars that drive like cars (`geo`: metres per degree)
- `faults`      injected anomalies, invalid messages, duplicates, late events, with labels
- `simulator`   fleet + faults as a stream of messages with ground truth
- `validation`  bytes in, verdict out; never raises
- `detectors`   the original rules and per-car stateful detectors
- `metrics`     per-window pipeline metrics
- `dlq`         dead-letter envelopes
- `evaluation`  precision and recall against the ground truth

I/O at the edges:

- `config`      settings from environment variables and `.env`
- `preflight`   are the services up? the fix when they are not
- `infra`       start, check and stop Kafka and MongoDB (Docker or local processes)
- `kafka_io`    small helpers to produce and read back messages
- `producer`    confirmed sends, real time or as fast as possible
- `store`       idempotent MongoDB writes and indexes
- `processor`   the stream processor loop
- `replay`      DLQ replay
- `queries`     the query layer (series, latest, anomalies, health, DLQ summary)
- `dataset`     load a practice dataset straight into MongoDB

Nothing connects at import time. `exercises` checks notebook answers; `solutions` holds
the reference solutions.
"""

__version__ = "0.1.0"
