"""Stage 1, simulate: cars that drive like cars, faults with ground truth, confirmed sends.

- `fleet`       the fleet model on a street grid (pure)
- `faults`      injected anomalies, invalid messages, duplicates, late events, with labels (pure)
- `simulator`   fleet + faults as a stream of messages with ground truth (pure)
- `producer`    send those messages to Kafka, confirming every delivery
"""
