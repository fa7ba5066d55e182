from datetime import datetime, timezone

import pytest
from pymongo import MongoClient
from pymongo.errors import BulkWriteError


@pytest.fixture
def scratch(services):
    client = MongoClient(services.mongodb_uri, tz_aware=True, serverSelectionTimeoutMS=3000)
    collection = client["labkit_tests"]["roundtrip"]
    collection.drop()
    yield collection
    collection.drop()
    client.close()


def test_types_survive_the_round_trip(scratch):
    doc = {
        "_id": "e1",
        "car_id": "CAR_001",
        "timestamp": datetime(2026, 2, 25, 21, 28, 17, 376000, tzinfo=timezone.utc),
        "speed": 59.83,
        "rpm": 2947,
        "nested": {"ok": True, "tags": ["a", "b"]},
    }
    scratch.insert_one(doc)
    back = scratch.find_one({"_id": "e1"})
    assert back == doc
    assert isinstance(back["timestamp"], datetime) and back["timestamp"].tzinfo is not None
    assert type(back["rpm"]) is int and type(back["speed"]) is float


def test_date_range_query_uses_dates_not_strings(scratch):
    scratch.insert_many([
        {"_id": i, "timestamp": datetime(2026, 1, 1, 0, 0, i, tzinfo=timezone.utc)} for i in range(10)
    ])
    found = scratch.count_documents({"timestamp": {"$gte": datetime(2026, 1, 1, 0, 0, 3, tzinfo=timezone.utc),
                                                  "$lt": datetime(2026, 1, 1, 0, 0, 7, tzinfo=timezone.utc)}})
    assert found == 4


def test_duplicate_ids_are_rejected_and_the_rest_stored(scratch):
    scratch.insert_many([{"_id": 1}, {"_id": 2}])
    with pytest.raises(BulkWriteError) as info:
        scratch.insert_many([{"_id": 2}, {"_id": 3}], ordered=False)
    assert [e["code"] for e in info.value.details["writeErrors"]] == [11000]
    assert sorted(d["_id"] for d in scratch.find()) == [1, 2, 3]
