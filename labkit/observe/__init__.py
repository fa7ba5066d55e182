"""Seeing the pipeline: Prometheus metrics, Grafana dashboards, maps.

- `prometheus`  the processor's and the API's metrics in Prometheus' text format
- `dashboards`  the Grafana dashboards, built from small factories
- `basemap`     street maps when the tile server answers, a tile-free map otherwise
"""
