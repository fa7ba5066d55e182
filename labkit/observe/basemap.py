"""The lab's maps: streets when the tile server answers, a tile-free map otherwise.

Plotly's street maps (`scatter_map`, `line_map`) fetch their tiles from
tile.openstreetmap.org in the browser and draw with WebGL 2. On a machine without internet
(many classrooms) they show "Map error" and no car at all. The tile-free map (`scatter_geo`,
`line_geo` with the base layers hidden, zoomed to the points) is drawn as SVG and fetches
nothing: the cars are on white, in the right places, with their hover text, over a grid of
latitude and longitude and the names of a few Berlin landmarks near them, for a sense of place.

`style()` tries the tile server once per kernel (the browser usually runs on the same
machine, behind the same network); `points()` and `track()` draw with whichever fits.
"""

from __future__ import annotations

import functools
import socket

TILE_SERVER = ("tile.openstreetmap.org", 443)
STREETS = "open-street-map"
NO_TILES = "tile-free"
#: Places the tile-free map names when they are near what it draws (name, latitude, longitude).
LANDMARKS = (("Brandenburger Tor", 52.5163, 13.3777), ("Alexanderplatz", 52.5219, 13.4132),
             ("Hauptbahnhof", 52.5251, 13.3694), ("Tempelhofer Feld", 52.4731, 13.4039),
             ("Schloss Charlottenburg", 52.5209, 13.2957), ("Ostkreuz", 52.5030, 13.4690),
             ("Tiergarten", 52.5145, 13.3501), ("Gesundbrunnen", 52.5486, 13.3884))
GRID_DEGREES = 0.01  # about 1.1 km north-south, 0.7 km east-west in Berlin


def choose(tiles_reachable: bool) -> str:
    """The map kind for a network that does (or does not) reach the tile server. Pure."""
    return STREETS if tiles_reachable else NO_TILES


def landmarks_near(latitudes, longitudes, margin: float = 0.005, reach: float = 0.03) -> list[tuple[str, float, float]]:
    """The LANDMARKS inside the points' bounding box grown by `margin` degrees; when none is,
    the nearest one within `reach` degrees of the box's centre (a short trip between two
    landmarks still gets a name to place it by), else none. Pure."""
    lats, lons = list(latitudes), list(longitudes)
    if not lats:
        return []
    inside = [(name, lat, lon) for name, lat, lon in LANDMARKS
              if min(lats) - margin <= lat <= max(lats) + margin and min(lons) - margin <= lon <= max(lons) + margin]
    if inside:
        return inside
    centre = ((min(lats) + max(lats)) / 2, (min(lons) + max(lons)) / 2)
    nearest = min(LANDMARKS, key=lambda place: (place[1] - centre[0]) ** 2 + (place[2] - centre[1]) ** 2)
    far = max(abs(nearest[1] - centre[0]), abs(nearest[2] - centre[1]))
    return [nearest] if far <= reach else []


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
    return _tile_free(px.scatter_geo(frame, lat="latitude", lon="longitude", **px_args), frame)


def track(frame, zoom: int = 12, kind: str | None = None, **px_args):
    """A trip as a line through its positions, in time order."""
    import plotly.express as px

    if (kind or style()) == STREETS:
        return px.line_map(frame, lat="latitude", lon="longitude", zoom=zoom, **px_args).update_layout(map_style=STREETS)
    return _tile_free(px.line_geo(frame, lat="latitude", lon="longitude", **px_args), frame)


def _tile_free(fig, frame):
    # No coastlines, countries or land (they would come from a CDN): the points, framed, on a
    # grid, with the landmarks near them as grey names (text only: no marker to mistake for a car).
    import plotly.graph_objects as go

    near = landmarks_near(frame["latitude"], frame["longitude"])
    if near:
        names, lats, lons = zip(*near)
        fig.add_trace(go.Scattergeo(lat=lats, lon=lons, text=names, mode="text", name="landmarks",
                                    textfont=dict(color="grey", size=11), hoverinfo="skip", showlegend=False))
    grid = dict(showgrid=True, dtick=GRID_DEGREES, gridcolor="#eeeeee")
    return fig.update_geos(visible=False, fitbounds="locations", lataxis=grid, lonaxis=grid)
