"""Whole-pipeline runs: what drives simulator, processor and services together.

- `live`        simulator, processor and API together until Ctrl+C
- `workers`     several processors in one consumer group, started and killed one by one
- `chaos`       a faulty stream with processor, broker and database killed, then counted
- `failover`    a partition leader killed while producing with acks=all
- `dataset`     load simulated readings straight into MongoDB
- `evaluation`  score detection against the simulator's ground truth (pure)
- `tuning`      detection with noisy sensors: precision and recall per threshold (pure)
"""
