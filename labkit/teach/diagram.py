"""The pipeline picture each notebook shows near its top, with the current stage highlighted.

    from labkit.teach.diagram import pipeline
    pipeline("process", "dlq", caption="You are here: 02 · consume and validate")

In Jupyter the returned object displays as an inline SVG (via `_repr_svg_`); in a plain
terminal `print()` gives a one-line text version. Standard library only, so it works
in any kernel, and the output is deterministic so notebooks diff cleanly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from xml.sax.saxutils import escape

STAGES = ("simulate", "kafka", "process", "mongodb", "api", "grafana")
SIDE = ("dlq", "anomalies")  # processor outputs, drawn below it
LABELS = {
    "simulate": ("Car simulator", "labkit.simulate.simulator"),
    "kafka": ("Kafka", "car.telemetry.v1"),
    "process": ("Stream processor", "validate · detect"),
    "mongodb": ("MongoDB", "telemetry"),
    "api": ("FastAPI", "/series, /fleet"),
    "grafana": ("Grafana", "dashboards"),
    "dlq": ("DLQ topic", "rejected + reason"),
    "anomalies": ("Anomaly & metrics", "topics"),
}
HIGHLIGHT_FILL, HIGHLIGHT_STROKE = "#ffb000", "#b37b00"
PLAIN_FILL, PLAIN_STROKE = "#eeeeee", "#999999"
WIDTH, HEIGHT = 900, 200
BOX_W, BOX_H, GAP, MARGIN = 126, 46, 24, 12  # 6 boxes + 5 gaps + 2 margins = 900
SIDE_W, TOP_Y, SIDE_Y = 140, 16, 104

# Top-left corner and width of every box; side boxes are centred under the processor.
_PROC_CX = MARGIN + 2 * (BOX_W + GAP) + BOX_W / 2
_BOXES = {name: (MARGIN + i * (BOX_W + GAP), TOP_Y, BOX_W) for i, name in enumerate(STAGES)}
_BOXES["dlq"] = (_PROC_CX - 10 - SIDE_W, SIDE_Y, SIDE_W)
_BOXES["anomalies"] = (_PROC_CX + 10, SIDE_Y, SIDE_W)


def _num(v: float) -> str:
    """Short, stable number formatting (no float noise in the SVG)."""
    return f"{v:.1f}".rstrip("0").rstrip(".")


def _arrow(x1: float, y1: float, x2: float, y2: float) -> str:
    # A drawn polygon head rather than an SVG <marker>: marker ids would clash when
    # several of these SVGs sit inline in the same notebook page.
    dx, dy = x2 - x1, y2 - y1
    ux, uy = dx / math.hypot(dx, dy), dy / math.hypot(dx, dy)
    bx, by = x2 - 8 * ux, y2 - 8 * uy  # base of the head, 8 px back along the line
    head = [(x2, y2), (bx - 4 * uy, by + 4 * ux), (bx + 4 * uy, by - 4 * ux)]
    points = " ".join(f"{_num(x)},{_num(y)}" for x, y in head)
    return (f'<line x1="{_num(x1)}" y1="{_num(y1)}" x2="{_num(bx)}" y2="{_num(by)}" '
            f'stroke="#555555" stroke-width="1.5"/><polygon points="{points}" fill="#555555"/>')


@dataclass(frozen=True)
class Pipeline:
    """The picture with some stages highlighted; displays itself in Jupyter."""

    highlight: tuple[str, ...] = ()
    caption: str | None = None

    def __post_init__(self) -> None:
        # Validated here, not only in pipeline(), so a typo can never draw a silent no-op.
        unknown = [h for h in self.highlight if h not in LABELS]
        if unknown:
            valid = ", ".join(STAGES + SIDE)
            raise ValueError(f"unknown stage(s) {', '.join(map(repr, unknown))}; valid: {valid}")

    def _box(self, name: str) -> str:
        x, y, w = _BOXES[name]
        on = name in self.highlight
        fill, stroke = (HIGHLIGHT_FILL, HIGHLIGHT_STROKE) if on else (PLAIN_FILL, PLAIN_STROKE)
        title, sub = (escape(s) for s in LABELS[name])
        cx = _num(x + w / 2)
        return (f'<g data-stage="{name}"><rect x="{_num(x)}" y="{y}" width="{w}" '
                f'height="{BOX_H}" rx="6" fill="{fill}" stroke="{stroke}" '
                f'stroke-width="{2 if on else 1}"/>'
                f'<text x="{cx}" y="{y + 20}" font-weight="{"bold" if on else "normal"}">'
                f'{title}</text><text x="{cx}" y="{y + 37}" font-size="11" fill="#444444">'
                f"{sub}</text></g>")

    def svg(self) -> str:
        """A complete standalone SVG document."""
        parts = [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
            f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="Helvetica, Arial, sans-serif" '
            'font-size="13" text-anchor="middle">',
            f"<title>{escape(str(self))}</title>",  # text alternative for screen readers
        ]
        mid = TOP_Y + BOX_H / 2
        for a, b in zip(STAGES, STAGES[1:]):
            parts.append(_arrow(_BOXES[a][0] + BOX_W, mid, _BOXES[b][0], mid))
        for name, dx in (("dlq", -20), ("anomalies", 20)):
            x, y, w = _BOXES[name]
            parts.append(_arrow(_PROC_CX + dx, TOP_Y + BOX_H, x + w / 2, y))
        parts += [self._box(name) for name in STAGES + SIDE]
        if self.caption:
            parts.append(f'<text x="{MARGIN}" y="{HEIGHT - 18}" text-anchor="start" '
                         f'fill="#333333">{escape(self.caption)}</text>')
        parts.append("</svg>")
        return "\n".join(parts)

    def _repr_svg_(self) -> str:
        return self.svg()

    def _repr_pretty_(self, printer, cycle) -> None:
        # Plain-text viewers of a notebook (and nbval) show the one-line version, not a dataclass repr.
        printer.text(str(self))

    def __str__(self) -> str:
        def mark(name: str) -> str:
            return f"[{name}]" if name in self.highlight else name

        text = " → ".join(mark(s) for s in STAGES)
        # Side outputs only when highlighted, so the usual line stays short.
        side = [mark(s) for s in SIDE if s in self.highlight]
        if side:
            text += f" (process ↓ {', '.join(side)})"
        if self.caption:
            text += f" — {' '.join(self.caption.split())}"  # keep it on one line
        return text


def pipeline(*highlight: str, caption: str | None = None) -> Pipeline:
    """The pipeline picture with `highlight` stages emphasised (none if no names given)."""
    return Pipeline(tuple(highlight), caption)
