"""The pipeline's counters, named once.

The processor counts what became of every message it reads, batch by batch;
labkit.process.metrics adds the counts up per metrics window and per run. The same names
are the fields of the metrics records (MongoDB and the metrics topic), of the API's
/pipeline/health and /pipeline/series, of Prometheus' `telemetry_events_total{outcome}` and
of the dashboards' columns, so they are declared here and everything else is derived:

    processed    messages read
    valid        messages that passed validation
    stored       valid events written as new readings
    duplicates   valid events already seen (a redelivery, a producer's retry): stored once
    late         valid events that came after the watermark passed their event-time window's
                 end, but within the allowed lateness: counted into it (and the window
                 published again if it was published already)
    too_late     valid events whose event-time window was already final (stored all the same)

Two more counts are kept by label, and their totals go by names of their own:

    invalid      messages rejected (to the DLQ); by reason in `invalid_by_reason`
    anomalies    anomalies detected; by type in `anomalies_by_type`

Renaming one is a change of the records' format: dashboards and API clients read them.
"""

from __future__ import annotations

from dataclasses import dataclass, fields


@dataclass
class Counts:
    """The plain counters (the table above), each a number of messages. A batch's counts, a
    window's and a run's totals extend this class (labkit.process.metrics)."""

    processed: int = 0
    valid: int = 0
    stored: int = 0
    duplicates: int = 0
    late: int = 0
    too_late: int = 0


#: The plain counters' names, in the order above.
COUNTERS = tuple(f.name for f in fields(Counts))
#: The counts kept by label: the name of their total -> the name of the counts by label.
BY_LABEL = {"invalid": "invalid_by_reason", "anomalies": "anomalies_by_type"}
#: Every total a metrics window holds: the plain counters, then the labelled counts' totals.
TOTALS = (*COUNTERS, *BY_LABEL)
