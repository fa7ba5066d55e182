"""The pipeline's counters are declared once (labkit.contract.counters); everything that
lists them must list them all, under the same names."""

from collections import Counter
from dataclasses import fields
from datetime import datetime, timedelta, timezone

from labkit.api.models import PipelineHealth, PipelineWindow
from labkit.contract.counters import BY_LABEL, COUNTERS, TOTALS
from labkit.observe.prometheus import ProcessorMetrics
from labkit.process.metrics import BatchCounts, Totals, WindowedMetrics, accumulate
from labkit.store import queries

T0 = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)


def batch() -> BatchCounts:
    """A batch with a different number in every counter, so a counter added up wrong shows."""
    counts = BatchCounts(**{name: 10 + i for i, name in enumerate(COUNTERS)}, latency_ms=5.0)
    counts.invalid_by_reason.update({"range:speed": 2, "not_json": 1})
    counts.anomalies_by_type.update({"overspeed": 4})
    return counts


def test_the_names_are_the_ones_records_and_clients_read():
    assert COUNTERS == ("processed", "valid", "stored", "duplicates", "late", "too_late")
    assert TOTALS == (*COUNTERS, "invalid", "anomalies")


def test_batches_and_totals_carry_every_counter_and_add_each_up():
    for cls in (BatchCounts, Totals):
        assert {f.name for f in fields(cls)} >= {*COUNTERS, *BY_LABEL.values()}
    totals = Totals()
    accumulate(totals, batch())
    accumulate(totals, batch())
    assert [getattr(totals, name) for name in COUNTERS] == [2 * (10 + i) for i in range(len(COUNTERS))]
    assert totals.invalid == 6 and totals.anomalies_by_type == Counter({"overspeed": 8})


def test_a_metrics_record_holds_every_total():
    metrics = WindowedMetrics("p1", window_s=10)
    metrics.add(batch(), now_ms=1_000)
    record = metrics.flush()[0]
    assert {name: record[name] for name in TOTALS} == {**{name: 10 + i for i, name in enumerate(COUNTERS)},
                                                       "invalid": 3, "anomalies": 4}
    assert all(record[name] for name in BY_LABEL.values())


def test_the_api_models_list_every_total():
    for model in (PipelineHealth, PipelineWindow):
        assert set(TOTALS) <= set(model.model_fields), model.__name__
    # A window's counters are its totals, nothing more and nothing less.
    assert [f for f in PipelineWindow.model_fields if f not in ("t", "consumer_lag", "batch_latency_ms_avg")] == \
        [f for f in PipelineWindow.model_fields if f in TOTALS]


def test_pipeline_health_adds_up_every_total_of_the_windows():
    record = {**{name: 1 for name in TOTALS}, "window_start_ms": 0, "batches": 1, "batch_latency_ms_avg": 1.0,
              "invalid_by_reason": {"not_json": 1}, "anomalies_by_type": {"overspeed": 1}}
    health = queries.health_of([record, record], T0, T0 + timedelta(seconds=20), now=T0)
    assert {name: health[name] for name in TOTALS} == {name: 2 for name in TOTALS}
    assert health["invalid_by_reason"] == {"not_json": 2} and health["anomalies_by_type"] == {"overspeed": 2}
    PipelineHealth(**health)  # the model takes the answer as it is


def test_prometheus_counts_every_counter_as_an_outcome():
    metrics = ProcessorMetrics()
    metrics.observe(batch())
    outcomes = {s.labels["outcome"]: s.value for m in metrics.registry.collect() if m.name == "telemetry_events"
                for s in m.samples if s.name == "telemetry_events_total"}
    expected = {("duplicate" if name == "duplicates" else name): 10 + i for i, name in enumerate(COUNTERS)}
    assert outcomes == {**expected, "invalid": 3}
