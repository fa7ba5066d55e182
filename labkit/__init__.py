"""labkit: the code behind Telemetry Lab's notebooks and services.

Modules (open any of them from a notebook with `labkit.<module>??`):

- `config`      settings from environment variables and `.env`
- `preflight`   are the services up? the fix when they are not
- `infra`       start, check and stop Kafka and MongoDB (Docker or local processes)
- `kafka_io`    small helpers to produce and read back messages

Nothing connects at import time.
"""

__version__ = "0.1.0"
