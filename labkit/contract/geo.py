"""Small geodesy helpers: metres per degree and distances, accurate at city scale."""

from __future__ import annotations

import math


def metres_per_degree(latitude: float) -> tuple[float, float]:
    """(metres per degree of latitude, metres per degree of longitude) at `latitude`.

    The WGS-84 series: a degree of latitude is ~111.1-111.7 km everywhere; a degree of
    longitude shrinks with cos(latitude) (~67.8 km in Berlin, 0 at the poles). Using
    111 km for both, as naive simulators do, stretches east-west motion by ~64% in Berlin.
    """
    phi = math.radians(latitude)
    per_lat = 111_132.92 - 559.82 * math.cos(2 * phi) + 1.175 * math.cos(4 * phi) - 0.0023 * math.cos(6 * phi)
    per_lon = 111_412.84 * math.cos(phi) - 93.5 * math.cos(3 * phi) + 0.118 * math.cos(5 * phi)
    return per_lat, per_lon


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres between two points (mean Earth radius)."""
    r = 6_371_008.8
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(min(1.0, math.sqrt(a)))
