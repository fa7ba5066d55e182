"""The tile-free map's landmarks: only those near what is drawn."""

from labkit.observe import basemap


def test_landmarks_near_the_points_only():
    near = basemap.landmarks_near([52.515, 52.525], [13.37, 13.42])
    names = {name for name, _, _ in near}
    assert {"Brandenburger Tor", "Alexanderplatz"} <= names
    assert "Tempelhofer Feld" not in names and "Schloss Charlottenburg" not in names


def test_no_points_no_landmarks():
    assert basemap.landmarks_near([], []) == []


def test_the_tile_free_track_adds_names_without_markers():
    import pandas as pd

    frame = pd.DataFrame({"latitude": [52.51, 52.53], "longitude": [13.38, 13.41]})
    fig = basemap.track(frame, kind=basemap.NO_TILES)
    modes = [trace.mode for trace in fig.data]
    assert modes == ["lines", "text"]  # the names are text only: no point to mistake for a car
