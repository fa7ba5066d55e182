"""Response models: what every route returns (also the OpenAPI schema and its examples)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field
from typing_extensions import TypedDict  # pydantic needs this one before Python 3.12


class Health(BaseModel):
    status: str = Field(examples=["ok"])
    mongodb: bool
    newest_telemetry_age_s: float | None = Field(None, description="age of the newest stored event")
    newest_metrics_age_s: float | None = Field(None, description="age of the newest metrics window")


class Bucket(BaseModel):
    t: datetime
    avg: float | None
    min: float | None
    max: float | None
    count: int


class BucketRow(TypedDict):
    """A `Bucket` as `labkit.store.queries.series` returns it (floats already): the series route
    writes its JSON straight from these rows, without building a model per bucket."""

    t: datetime
    avg: float | None
    min: float | None
    max: float | None
    count: int


class Point(BaseModel):
    t: datetime
    value: float | None


class CarState(BaseModel):
    car_id: str = Field(examples=["CAR_001"])
    timestamp: datetime
    speed: float | None = None
    rpm: float | None = None
    engine_temp: float | None = None
    fuel_level: float | None = None
    latitude: float | None = None
    longitude: float | None = None
    event_id: str | None = None
    seq: int | None = None
    schema_version: int = Field(1, description="the event's contract version (labkit.contract)")
    odometer_km: float | None = Field(None, description="version 2 events only")
    battery_v: float | None = Field(None, description="version 2 events only")
    status: str = Field(examples=["ok"], description="ok, alert or offline")
    alerts: list[str] = []
    age_s: float


class FleetSummary(BaseModel):
    cars: int = Field(description="cars that ever reported")
    reporting: int = Field(description="cars not offline")
    in_anomaly: int = Field(description="cars whose newest reading breaks a rule threshold")
    offline: int


class Car(BaseModel):
    car_id: str = Field(examples=["CAR_001"])


class AnomalyCount(BaseModel):
    t: datetime
    type: str = Field(examples=["overspeed"])
    count: int


class AnomalyRecord(BaseModel):
    event_id: str
    car_id: str
    timestamp: datetime
    type: str
    value: float | None = None
    threshold: float | None = None
    detector: str | None = None


# PipelineHealth and PipelineWindow carry every total of labkit.contract.counters (TOTALS),
# spelled out so the schema reads plainly; tests/unit/test_counters.py keeps them in step.
class PipelineHealth(BaseModel):
    processed: int
    valid: int
    stored: int
    invalid: int
    duplicates: int
    anomalies: int
    late: int = Field(0, description="events that came after the watermark passed their window's end, "
                                     "within the allowed lateness (counted into it)")
    too_late: int = Field(0, description="readings whose event-time window was already final (stored, and recorded against that window)")
    windows: int
    events_per_s: float
    invalid_ratio: float
    invalid_by_reason: dict[str, int]
    anomalies_by_type: dict[str, int]
    consumer_lag: int | None
    batch_latency_ms_avg: float
    freshness_s: float | None


class PipelineWindow(BaseModel):
    t: datetime
    processed: int
    valid: int
    stored: int = 0
    invalid: int
    duplicates: int
    anomalies: int
    late: int = 0
    too_late: int = 0
    consumer_lag: int | None = None
    batch_latency_ms_avg: float = 0.0


class LagPoint(BaseModel):
    """One metrics window's consumer lag: `total`, and `p0`, `p1`, ... per partition."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"examples": [{"t": "2026-11-27T10:00:00Z", "total": 7,
                                                                               "p0": 0, "p1": 7}]})
    t: datetime
    total: int | None = None


class PartitionLag(BaseModel):
    partition: int
    end: int = Field(description="the next offset Kafka will write")
    committed: int | None = Field(description="the next offset the group will read (None: never committed)")
    lag: int


class LagNow(BaseModel):
    group: str
    topic: str
    total: int
    partitions: list[PartitionLag]


class Publication(BaseModel):
    state: str = Field(description="emitted (the watermark passed the window's end), revised (a late event), final")
    revision: int
    count: int
    watermark_ms: int
    at: datetime


class EventWindow(BaseModel):
    key: str = Field(description="a car id, or `fleet` for every car")
    t: datetime
    size_ms: int
    count: int
    revision: int
    state: str
    history: list[Publication]


class DlqRecent(BaseModel):
    failed_at: str
    reason: str
    detail: str
    topic: str
    partition: int
    offset: int
    key: str | None = None
    original: str


class DlqSummary(BaseModel):
    total: int
    by_reason: dict[str, int]
    by_class: dict[str, int]
    recent: list[DlqRecent]


class ReasonCount(BaseModel):
    reason: str
    count: int


class Standing(BaseModel):
    """One student on one exercise, from the checks' verdicts (labkit.contract.progress)."""

    student: str
    exercise: str
    status: str = Field(description="the latest verdict: passed, failed or not attempted")
    passed_once: bool
    attempts: int = Field(description="verdicts other than not attempted")
    first_at: str
    last_at: str


class StudentProgress(BaseModel):
    """One student's row of the class board."""

    student: str
    passing: int = Field(description="exercises whose latest verdict is passed")
    tried: int = Field(description="exercises with at least one attempt")
    reached: int = Field(description="exercises with any verdict, not attempted included")
    notebook: str = Field(description="the furthest notebook with a verdict, e.g. 07")
    last_at: str
