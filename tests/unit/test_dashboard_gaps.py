"""Per-window pipeline panels break their line where windows are missing (a stopped processor),
in Grafana ("Disconnect values") and in the notebooks' plotly copy of a panel."""

import pandas as pd

from labkit.contract import WINDOW_MS
from labkit.observe import dashboards


def _frame(ms):
    return pd.DataFrame({"t": pd.to_datetime(ms, unit="ms", utc=True), "processed": range(1, len(ms) + 1)})


def test_a_blank_row_follows_the_last_point_before_a_pause():
    out = dashboards.with_gaps(_frame([0, 10_000, 20_000, 60_000, 70_000]), "t", WINDOW_MS)
    assert len(out) == 6 and out["processed"].isna().tolist() == [False, False, False, True, False, False]
    assert out["t"].iloc[3] == pd.Timestamp(30_000, unit="ms", tz="UTC")  # one window after the last point


def test_consecutive_windows_and_empty_frames_are_left_alone():
    assert dashboards.with_gaps(_frame([0, 10_000, 20_000]), "t", WINDOW_MS)["processed"].notna().all()
    assert dashboards.with_gaps(_frame([]), "t", WINDOW_MS).empty
    unsorted = dashboards.with_gaps(_frame([60_000, 0]), "t", WINDOW_MS)
    assert unsorted["t"].is_monotonic_increasing and unsorted["processed"].isna().sum() == 1


def test_the_pipeline_boards_per_window_panels_disconnect_and_only_they():
    panels = dashboards.dashboards()["pipeline-health"]["panels"]
    windowed = {p["title"] for p in panels if p["fieldConfig"]["defaults"].get("custom", {}).get("insertNulls") == WINDOW_MS}
    assert windowed == {"Throughput per 10 s window", "Batch latency per 10 s window"}
