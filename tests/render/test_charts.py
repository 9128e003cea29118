"""The SVG charts: well-formed, escaped, titled, labelled, and scaled by their viewBox."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from digest.render.charts import Series, bar_chart, line_chart

SVG = "{http://www.w3.org/2000/svg}"


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def texts(root: ET.Element) -> list[str]:
    return [el.text or "" for el in root.iter(f"{SVG}text")]


def test_line_chart_has_a_title_axis_labels_legend_and_one_line_per_series() -> None:
    svg = line_chart(
        "Subscribers <by> state",
        ["11-01", "11-02", "11-03"],
        [Series("active", [1, 5, 9]), Series("pending", [2, 2, 0])],
        "subscribers",
    )
    root = parse(svg)
    assert root.get("viewBox") == "0 0 640 240"
    assert root.get("width") == "100%"
    assert root.find(f"{SVG}title") is not None
    assert root.find(f"{SVG}title").text == "Subscribers <by> state"  # type: ignore[union-attr]
    assert "&lt;by&gt;" in svg and "<by>" not in svg
    lines = root.findall(f"{SVG}polyline")
    assert len(lines) == 2
    assert len(lines[0].get("points", "").split()) == 3
    shown = texts(root)
    for label in ("11-01", "11-03", "active", "pending", "subscribers", "10"):
        assert label in shown
    assert "style" not in svg  # a strict CSP refuses style attributes


def test_bar_chart_heights_follow_the_values() -> None:
    root = parse(bar_chart("Sent per minute", ["08:00", "08:01"], [10, 5], "messages"))
    bars = root.findall(f"{SVG}rect")
    assert len(bars) == 2
    first, second = (float(bar.get("height", "0")) for bar in bars)
    assert first == 2 * second > 0
    assert [bar.find(f"{SVG}title").text for bar in bars] == ["08:00: 10", "08:01: 5"]  # type: ignore[union-attr]


def test_empty_charts_say_so() -> None:
    assert "No data yet" in texts(parse(bar_chart("Sent", [], [])))
    assert "No data yet" in texts(parse(line_chart("Subscribers", [], [])))


def test_hostile_labels_stay_text() -> None:
    svg = bar_chart('x"><script>alert(1)</script>', ['"><img src=x>'], [1])
    root = parse(svg)
    assert root.find(f".//{SVG}script") is None
    assert "<script>" not in svg and "<img" not in svg
