"""The pipeline diagram: valid SVG, right labels, highlighting, escaping, determinism."""

import xml.etree.ElementTree as ET

import pytest

from labkit.teach.diagram import HIGHLIGHT_FILL, LABELS, SIDE, STAGES, Pipeline, pipeline

NS = "{http://www.w3.org/2000/svg}"


def fills(p: Pipeline) -> dict[str, str]:
    """Stage name -> fill of its box, read from the parsed SVG."""
    root = ET.fromstring(p.svg())
    return {g.get("data-stage"): g.find(f"{NS}rect").get("fill") for g in root.iter(f"{NS}g")}


def texts(p: Pipeline) -> list[str]:
    return [t.text for t in ET.fromstring(p.svg()).iter(f"{NS}text")]


def test_svg_is_a_standalone_document_with_size():
    root = ET.fromstring(pipeline().svg())
    assert root.tag == f"{NS}svg"
    assert root.get("width") and root.get("height") and root.get("viewBox")


def test_every_stage_label_appears():
    shown = texts(pipeline())
    for title, sub in LABELS.values():
        assert title in shown and sub in shown
    assert set(STAGES + SIDE) == set(LABELS)


def test_highlighted_box_has_the_highlight_fill_and_no_other_does():
    got = fills(pipeline("process"))
    assert set(got) == set(STAGES + SIDE)
    assert got["process"] == HIGHLIGHT_FILL
    assert all(fill != HIGHLIGHT_FILL for name, fill in got.items() if name != "process")


def test_no_names_highlights_nothing():
    assert HIGHLIGHT_FILL not in fills(pipeline()).values()


def test_two_stages_can_be_highlighted():
    got = fills(pipeline("kafka", "dlq"))
    assert {n for n, f in got.items() if f == HIGHLIGHT_FILL} == {"kafka", "dlq"}


def test_unknown_name_raises_and_lists_valid_names():
    with pytest.raises(ValueError) as err:
        pipeline("kafka", "postgres")
    message = str(err.value)
    assert "postgres" in message
    assert all(name in message for name in STAGES + SIDE)


def test_caption_is_escaped():
    p = pipeline("api", caption="You are here: <&>")
    assert "You are here: &lt;&amp;&gt;" in p.svg()
    assert "You are here: <&>" in texts(p)  # and round-trips through a parser


def test_output_is_deterministic_and_repr_svg_matches():
    a, b = pipeline("mongodb", caption="x"), pipeline("mongodb", caption="x")
    assert a.svg() == b.svg() == a._repr_svg_()


def test_str_brackets_the_highlighted_stages():
    expected = "simulate → kafka → [process] → mongodb → api → grafana"
    assert str(pipeline("process")) == expected
    two = str(pipeline("simulate", "grafana"))
    assert two.startswith("[simulate] → kafka") and two.endswith("→ [grafana]")
    assert "\n" not in str(pipeline("dlq", caption="a\nb"))
