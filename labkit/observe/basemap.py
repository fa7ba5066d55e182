"""The lab's maps: streets when the tile server answers, a tile-free map otherwise.

Plotly's street maps (`scatter_map`, `line_map`) fetch their tiles from
tile.openstreetmap.org in the browser and draw with WebGL 2. On a machine without internet
(many classrooms) they show "Map error" and no car at all. The tile-free map (`scatter_geo`,
`line_geo` with the base layers hidden, zoomed to the points) is drawn as SVG and fetches
nothing: the cars are on white, in the right places, with their hover text.

`style()` tries the tile server once per kernel (the browser usually runs on the same
machine, behind the same network); `points()` and `track()` draw with whichever fits.
"""

from __future__ import annotations

import functools
import socket

TILE_SERVER = ("tile.openstreetmap.org", 443)
STREETS = "open-street-map"
NO_TILES = "tile-free"


def choose(tiles_reachable: bool) -> str:
    """The map kind for a network that does (or does not) reach the tile server. Pure."""
    return STREETS if tiles_reachable else NO_TILES


@functools.cache
def style(timeout_s: float = 1.5) -> str:
    """STREETS when the tile server accepts a connection, else NO_TILES (asked once per process)."""
    try:
        with socket.create_connection(TILE_SERVER, timeout=timeout_s):
            return choose(True)
    except OSError:  # no route, no DNS, refused, timed out: the browser would fail alike
        return choose(False)


def points(frame, zoom: int = 11, kind: str | None = None, **px_args):
    """Cars as points (`lat`/`lon` columns "latitude"/"longitude"); px_args go to plotly express."""
    import plotly.express as px

    if (kind or style()) == STREETS:
        return px.scatter_map(frame, lat="latitude", lon="longitude", zoom=zoom, **px_args).update_layout(map_style=STREETS)
    return _tile_free(px.scatter_geo(frame, lat="latitude", lon="longitude", **px_args))


def track(frame, zoom: int = 12, kind: str | None = None, **px_args):
    """A trip as a line through its positions, in time order."""
    import plotly.express as px

    if (kind or style()) == STREETS:
        return px.line_map(frame, lat="latitude", lon="longitude", zoom=zoom, **px_args).update_layout(map_style=STREETS)
    return _tile_free(px.line_geo(frame, lat="latitude", lon="longitude", **px_args))


def _tile_free(fig):
    # No coastlines, countries or land (they would come from a CDN): just the points, framed.
    return fig.update_geos(visible=False, fitbounds="locations")
