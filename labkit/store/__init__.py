"""Stage 3, store: what the pipeline keeps in MongoDB, and the queries over it.

- `sinks`       the Store interface the processor writes through, and MongoStore behind it
- `mongo`       idempotent writes, latest state per car, counts, indexes by code
- `rollups`     the computed pattern: per-car summaries per 10 s and per minute
- `queries`     the query layer shared by notebook 06, the API and the dashboards
- `newest`      the newest documents by time, read in slices (the local server sorts everything)
"""
