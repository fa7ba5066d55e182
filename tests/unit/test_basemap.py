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


def test_a_trip_between_landmarks_is_named_by_the_nearest_and_a_far_one_by_none():
    # 01's trip: north of Gesundbrunnen (about 0.02 degrees away), with no landmark in its box.
    assert [name for name, _, _ in basemap.landmarks_near([52.563, 52.574], [13.358, 13.387])] == ["Gesundbrunnen"]
    assert basemap.landmarks_near([53.5, 53.6], [10.0, 10.1]) == []  # Hamburg: nothing of Berlin's
