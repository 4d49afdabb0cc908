"""Inline SVG charts: well-formed, accessible, escaped, honest about missing values."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from auditkit.report.charts import Bar, IntervalRow, bar_chart, histogram, interval_chart

_SVG = "{http://www.w3.org/2000/svg}"


def _parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)  # raises on malformed XML, e.g. unescaped "<" in a label
    assert root.tag == f"{_SVG}svg"
    assert root.get("role") == "img"
    assert root.find(f"{_SVG}title") is not None
    return root


def test_interval_chart_escapes_labels_and_draws_error_bars() -> None:
    hostile = "<script>alert(1)</script> & \"quotes\""
    svg = interval_chart(rows=[IntervalRow(label=hostile, value=0.2, low=0.1, high=0.3, n=40),
                               IntervalRow(label="man", value=0.5, low=0.4, high=0.6, n=40)],
                         title=f"gap {hostile}", unit="fraction")
    root = _parse(svg)
    assert "<script>" not in svg
    texts = ["".join(t.itertext()) for t in root.iter(f"{_SVG}text")]
    assert any(hostile[:29] in t for t in texts)  # label shown (clipped) as text
    assert len(list(root.iter(f"{_SVG}circle"))) == 2
    assert len(list(root.iter(f"{_SVG}line"))) >= 6  # two whiskers with caps, plus grid


def test_interval_chart_writes_na_for_missing_values_instead_of_zero() -> None:
    svg = interval_chart(rows=[IntervalRow(label="a", value=None, n=0), IntervalRow(label="b", value=1.0, n=3)],
                         title="t")
    root = _parse(svg)
    assert len(list(root.iter(f"{_SVG}circle"))) == 1
    assert any("".join(t.itertext()) == "n/a" for t in root.iter(f"{_SVG}text"))
    assert "a: n/a" in root.find(f"{_SVG}desc").text  # type: ignore[union-attr]


def test_histogram_bins_and_threshold() -> None:
    svg = histogram(edges=[0, 0.25, 0.5, 0.75, 1.0], counts=[5, 0, 2, 1], title="<b>", x_label="score",
                    threshold=0.5)
    root = _parse(svg)
    assert len(list(root.iter(f"{_SVG}rect"))) == 4
    assert "threshold 0.5" in svg
    with pytest.raises(ValueError):
        histogram(edges=[0, 1], counts=[1, 2], title="x", x_label="x")


def test_bar_chart_handles_negative_and_missing() -> None:
    svg = bar_chart(bars=[Bar(label="x<y", value=-2.0), Bar(label="z", value=None), Bar(label="w", value=3.0)],
                    title="bars", unit="J")
    root = _parse(svg)
    assert len(list(root.iter(f"{_SVG}rect"))) == 2
    assert "x&lt;y" in svg
