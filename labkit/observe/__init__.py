"""Seeing the pipeline: Prometheus metrics, Grafana dashboards, maps.

- `prometheus`  the processor's and the API's metrics in Prometheus' text format
- `dashboards`  the Grafana dashboards, built from small factories
- `lag_sampler` consumer lag measured at the broker, sampled over time (the API serves it)
- `basemap`     street maps when the tile server answers, a tile-free map otherwise
"""
