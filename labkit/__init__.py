"""labkit: the code behind Telemetry Lab's notebooks and services.

Folders follow the data, with the platform underneath and the teaching aids on top.
Open any module from a notebook with `labkit.<folder>.<module>??`.

- `contract/`   the event: fields, ranges, thresholds, versions and JSON Schemas, time and
                bucket helpers; the pipeline's counters
- `simulate/`   the fleet, injected faults with ground truth, the producer
- `process/`    the stream processor and its pure parts: validation, detectors, windows,
                metrics, dead letters; DLQ replay
- `store/`      the Store interface, MongoDB writes, rollups, the query layer
- `api/`        the Telemetry API (FastAPI) and a runner for notebooks and tests
- `observe/`    Prometheus metrics, Grafana dashboards, maps
- `ops/`        the platform: services (infra), clients, preflight, Kafka helpers, sandboxes
- `scenarios/`  whole-pipeline runs: live mode, workers, chaos, failover, datasets, scoring
- `teach/`      exercises, checks, solutions, recorded numbers, the pipeline picture
- `config`      the settings, from environment variables and `.env`
- `cli`         `python -m labkit ...`

Imports point one way, in this order (a folder imports only from those before it):
contract → ops → observe → simulate → store → process → api → scenarios → teach → cli.
The pure modules (`contract`, `simulate.fleet`, `simulate.faults`, `process.validation`,
`process.detectors`, `process.windows`, `process.metrics`, `process.dlq`) import no client
library. Nothing connects at import time.
"""

__version__ = "0.1.0"
