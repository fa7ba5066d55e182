"""Solutions for notebook 08 (read dashboards)."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlencode


def request_for(target: dict, variables: dict[str, str], start: datetime, end: datetime) -> str:
    """Exercise 08.1: the request Grafana sends for a panel's target: each parameter's value with
    its variable replaced (`${car}` from `variables`, `${__from}`/`${__to}` by the range's ends
    in epoch milliseconds, the same in every time zone), or as written when it has none."""
    values = {"${__from}": str(int(start.timestamp() * 1000)), "${__to}": str(int(end.timestamp() * 1000))}
    values.update({"${" + name + "}": value for name, value in variables.items()})
    params = [(p["key"], values.get(p["value"], p["value"])) for p in target["url_options"]["params"]]
    return target["url"] + ("?" + urlencode(params) if params else "")


def anomalies_per_type(db, collection: str, start: datetime, end: datetime) -> dict[str, int]:
    """Exercise 08.4: anomalies per type in [start, end), with one aggregation."""
    rows = db[collection].aggregate([
        {"$match": {"timestamp": {"$gte": start, "$lt": end}}},
        {"$group": {"_id": "$type", "count": {"$sum": 1}}},
    ])
    return {r["_id"]: r["count"] for r in rows}


def total_lag(consumer, topic: str) -> int:
    """Exercise 08.3: end offset minus committed offset, summed over the topic's partitions.
    Retention deletes old messages: the group reads next from its committed offset, or from
    the first offset still in the log when it never committed or that offset is gone."""
    from kafka import TopicPartition

    tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic))]
    ends, firsts = consumer.end_offsets(tps), consumer.beginning_offsets(tps)
    return sum(ends[tp] - max(consumer.committed(tp) or 0, firsts[tp]) for tp in tps)


def diagnose(board: dict) -> str:
    """Exercise 08.2: what the Pipeline Health board says happened, from its series over the
    last minute (oldest first). The lag's growth decides first: growing with nothing processed
    is a stopped processor, growing while processing is one that cannot keep up. Then a jump of
    the invalid share is a bad producer; nothing processed now is a stopped processor while
    messages wait, and cars gone quiet when none do."""
    lag, processed = board["lag"], board["events_per_s"]
    growing = lag[-1] - lag[0] > max(10, 0.1 * lag[0])
    if growing:
        return "processor stopped" if processed[-1] == 0 else "processor falling behind"
    if max(board["invalid_ratio"]) > 0.5:
        return "bad producer"
    if processed[-1] == 0:  # nothing processed now: nobody doing the work, or no work
        return "processor stopped" if lag[-1] > 0 else "cars stopped sending"
    return "healthy"
