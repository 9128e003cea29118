"""Small server-rendered SVG charts: a line chart of several series and a bar chart.

The SVG scales through its viewBox (width 100%), so one drawing fits a phone and a desktop;
every text in it is escaped, and it carries no style attribute a strict CSP would refuse.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

WIDTH = 640
HEIGHT = 240
MARGIN_LEFT = 48
MARGIN_RIGHT = 12
MARGIN_TOP = 28
MARGIN_BOTTOM = 40
PALETTE = ("#2563eb", "#16a34a", "#9ca3af", "#dc2626", "#d97706", "#7c3aed")
GRID_LINES = 4


@dataclass(frozen=True)
class Series:
    """One line: a name for the legend and one value per x label."""

    name: str
    values: list[float]


def _plot_box() -> tuple[float, float, float, float]:
    return MARGIN_LEFT, MARGIN_TOP, WIDTH - MARGIN_RIGHT, HEIGHT - MARGIN_BOTTOM


def _nice_top(value: float) -> float:
    """The y-axis top: at least GRID_LINES (whole-number ticks for counts), else rounded up
    to 1, 2 or 5 times a power of ten."""
    if value <= GRID_LINES:
        return float(GRID_LINES)
    magnitude = 10 ** (len(str(int(value))) - 1)
    for step in (1, 2, 5, 10):
        if value <= step * magnitude:
            return float(step * magnitude)
    return float(10 * magnitude)


def _number(value: float) -> str:
    return f"{value:g}"


def _frame(title: str, y_label: str, top: float) -> list[str]:
    left, upper, right, lower = _plot_box()
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" '
        f'role="img" aria-label="{escape(title)}" preserveAspectRatio="xMidYMid meet">',
        f"<title>{escape(title)}</title>",
        f'<text x="{left}" y="16" font-size="13" font-weight="bold" fill="#111">'
        f"{escape(title)}</text>",
    ]
    for i in range(GRID_LINES + 1):
        y = lower - (lower - upper) * i / GRID_LINES
        parts.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{right}" y2="{y:.1f}" stroke="#e5e7eb"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" font-size="10" text-anchor="end" '
            f'fill="#555">{escape(_number(top * i / GRID_LINES))}</text>'
        )
    parts.append(
        f'<text x="12" y="{(upper + lower) / 2:.1f}" font-size="10" fill="#555" '
        f'text-anchor="middle" transform="rotate(-90 12 {(upper + lower) / 2:.1f})">'
        f"{escape(y_label)}</text>"
    )
    return parts


def _x_labels(labels: list[str], xs: list[float]) -> list[str]:
    _, _, _, lower = _plot_box()
    every = max(1, len(labels) // 6)  # about six labels, so they never overlap
    return [
        f'<text x="{x:.1f}" y="{lower + 16}" font-size="10" text-anchor="{_anchor(x)}" '
        f'fill="#555">{escape(label)}</text>'
        for i, (label, x) in enumerate(zip(labels, xs, strict=True))
        if i % every == 0 or i == len(labels) - 1
    ]


def _anchor(x: float) -> str:
    # A label centred on the right edge would be cut off by the viewBox.
    return "end" if x > WIDTH - MARGIN_RIGHT - 20 else "middle"


def line_chart(title: str, labels: list[str], series: list[Series], y_label: str = "") -> str:
    """Lines over shared x labels (e.g. days), with a legend; an empty chart says so."""
    left, upper, right, lower = _plot_box()
    top = _nice_top(max((v for s in series for v in s.values), default=0.0))
    parts = _frame(title, y_label, top)
    if not labels:
        parts.append(_no_data())
        return "".join([*parts, "</svg>"])
    span = right - left
    xs = [left + span * i / max(1, len(labels) - 1) for i in range(len(labels))]
    for index, line in enumerate(series):
        colour = PALETTE[index % len(PALETTE)]
        points = " ".join(
            f"{x:.1f},{lower - (lower - upper) * v / top:.1f}"
            for x, v in zip(xs, line.values, strict=False)
        )
        parts.append(
            f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{points}">'
            f"<title>{escape(line.name)}</title></polyline>"
        )
        legend_x = left + 8 + index * 110
        parts.append(
            f'<rect x="{legend_x}" y="{HEIGHT - 14}" width="10" height="10" fill="{colour}"/>'
            f'<text x="{legend_x + 14}" y="{HEIGHT - 5}" font-size="10" fill="#333">'
            f"{escape(line.name)}</text>"
        )
    parts.extend(_x_labels(labels, xs))
    return "".join([*parts, "</svg>"])


def bar_chart(title: str, labels: list[str], values: list[float], y_label: str = "") -> str:
    """One bar per label (e.g. messages sent per minute); an empty chart says so."""
    left, upper, right, lower = _plot_box()
    top = _nice_top(max(values, default=0.0))
    parts = _frame(title, y_label, top)
    if not labels:
        parts.append(_no_data())
        return "".join([*parts, "</svg>"])
    slot = (right - left) / len(labels)
    width = max(1.0, slot * 0.8)
    xs = []
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        x = left + slot * i + (slot - width) / 2
        height = (lower - upper) * value / top
        xs.append(x + width / 2)
        parts.append(
            f'<rect x="{x:.1f}" y="{lower - height:.1f}" width="{width:.1f}" '
            f'height="{height:.1f}" fill="{PALETTE[0]}">'
            f"<title>{escape(label)}: {escape(_number(value))}</title></rect>"
        )
    parts.extend(_x_labels(labels, xs))
    return "".join([*parts, "</svg>"])


def _no_data() -> str:
    _, upper, _, lower = _plot_box()
    return (
        f'<text x="{WIDTH / 2}" y="{(upper + lower) / 2:.1f}" font-size="13" '
        f'text-anchor="middle" fill="#777">No data yet</text>'
    )
