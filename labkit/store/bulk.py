"""Reading a BulkWriteError: which writes MongoDB refused only because their `_id` was there.

Every idempotent write of the store sends a batch unordered and takes "duplicate key" as
"already stored"; anything else must still fail.
"""

from __future__ import annotations

from pymongo.errors import BulkWriteError

DUPLICATE_KEY = 11000


def duplicate_indexes(exc: BulkWriteError) -> list[int]:
    """The positions, in the batch sent, of the writes refused as duplicate keys. Raises `exc`
    again when anything else failed: another error, or a write-concern error (written, but not
    as durably as asked: not safe)."""
    errors = exc.details.get("writeErrors", [])
    if exc.details.get("writeConcernErrors") or any(e.get("code") != DUPLICATE_KEY for e in errors):
        raise exc
    return [e["index"] for e in errors]
