"""The platform every stage stands on: services, clients, readiness, sandboxes.

- `clients`     the one place Kafka and MongoDB clients are built
- `infra`       start, check and stop Kafka and MongoDB (Docker or local processes); topics
- `preflight`   are the services a notebook needs up? the fix when they are not
- `kafka_io`    small Kafka helpers: produce and read back, offsets, consumer lag
- `kafka_cli`   Kafka's own command-line tools (kafka-topics, ...) from the pinned jars
- `mongo_shell` the MongoDB shell on the lab's database: mongosh, or a small Python fallback
- `sandbox`     a notebook's own topics, consumer groups and database
- `waiting`     the one polling loop (`wait_until`)
- `transient`   which errors are worth waiting out
- `progress`    a plain-text progress line for long cells
"""
