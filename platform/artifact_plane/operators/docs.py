"""Small document helpers for handlers: markdown sections and SVG bar charts.

Handlers exchange real documents; these keep the formats consistent between
the handler that writes a section and the one that reads it back. Text that
comes from data is escaped (``xml.sax.saxutils``) before it enters SVG.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from xml.sax.saxutils import escape

__all__ = ["bar_chart_svg", "markdown_items", "markdown_section", "markdown_title"]

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*$")


def markdown_title(text: str) -> str:
    """The first level-1 heading ('' when there is none)."""
    for line in text.splitlines():
        match = _HEADING.match(line)
        if match and len(match.group(1)) == 1:
            return match.group(2)
    return ""


def markdown_section(text: str, heading: str) -> str:
    """The body under ``## heading`` (up to the next heading of the same or a higher level)."""
    lines = text.splitlines()
    body: list[str] = []
    level = 0
    for line in lines:
        match = _HEADING.match(line)
        if level:
            if match and len(match.group(1)) <= level:
                break
            body.append(line)
        elif match and match.group(2).strip().lower() == heading.lower():
            level = len(match.group(1))
    return "\n".join(body).strip()


def markdown_items(text: str, heading: str) -> list[str]:
    """The list items (``-``, ``*`` or ``1.``) under ``heading``, without their markers."""
    items = []
    for line in markdown_section(text, heading).splitlines():
        match = re.match(r"^\s*(?:[-*]|\d+\.)\s+(.*\S)\s*$", line)
        if match:
            items.append(match.group(1))
    return items


def bar_chart_svg(title: str, labels: Sequence[str], values: Sequence[float], *, unit: str = "") -> str:
    """A standalone SVG bar chart: one ``<rect>`` per value, heights proportional to the values.

    Each bar carries ``data-label`` and ``data-value`` so readers (and
    tests) can check the numbers without measuring pixels.
    """
    if len(labels) != len(values):
        raise ValueError("one label per value")
    width, height, top, bottom, bar, gap = 60 + 70 * max(len(values), 1), 200, 30, 40, 40, 30
    plot = height - top - bottom
    peak = max([abs(v) for v in values] + [1e-12])
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img">',
        f"  <title>{escape(title)}</title>",
        f'  <text x="{width / 2:.0f}" y="18" text-anchor="middle" font-size="13">{escape(title)}</text>',
        f'  <line x1="30" y1="{height - bottom}" x2="{width - 10}" y2="{height - bottom}" stroke="#333"/>',
    ]
    for index, (label, value) in enumerate(zip(labels, values, strict=True)):
        bar_height = plot * abs(value) / peak
        x = 40 + index * (bar + gap)
        y = height - bottom - bar_height
        parts += [
            f'  <rect x="{x}" y="{y:.2f}" width="{bar}" height="{bar_height:.2f}" fill="#4c78a8" '
            f'data-label="{escape(label, {chr(34): "&quot;"})}" data-value="{value:g}"/>',
            f'  <text x="{x + bar / 2}" y="{y - 4:.2f}" text-anchor="middle" font-size="10">'
            f"{value:g}{escape(unit)}</text>",
            f'  <text x="{x + bar / 2}" y="{height - bottom + 14}" text-anchor="middle" font-size="10">'
            f"{escape(label)}</text>",
        ]
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
