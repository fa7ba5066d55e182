"""Solutions for notebook 07 (read dashboards)."""

from __future__ import annotations

from datetime import datetime


def anomalies_per_type(db, collection: str, start: datetime, end: datetime) -> dict[str, int]:
    """Exercise 07.1: anomalies per type in [start, end), with one aggregation."""
    rows = db[collection].aggregate([
        {"$match": {"timestamp": {"$gte": start, "$lt": end}}},
        {"$group": {"_id": "$type", "count": {"$sum": 1}}},
    ])
    return {r["_id"]: r["count"] for r in rows}


def total_lag(consumer, topic: str) -> int:
    """Exercise 07.2: end offset minus committed offset, summed over the topic's partitions."""
    from kafka import TopicPartition

    tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic))]
    return sum(end - (consumer.committed(tp) or 0) for tp, end in consumer.end_offsets(tps).items())
