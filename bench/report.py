"""Printing and saving results: one rich table per section, and JSON for machines."""

from __future__ import annotations

import json
import os
import platform
import sys
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

RATIO_NOTE = "ratio = our time ÷ baseline time for the same work (2.00x = twice as slow)"


@dataclass
class Row:
    """One line of a table: our figure beside a baseline's, and their time ratio."""

    operation: str
    ours: str
    baseline: str
    ratio: float | None
    note: str = ""
    ratio_note: str = ""  # printed dim under the ratio (its spread, or the p95 ratio)


@dataclass
class Section:
    """One table, with notes printed under it and raw figures for the JSON file."""

    title: str
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)

    def add(
        self,
        operation: str,
        ours: str,
        baseline: str,
        ratio: float | None,
        note: str = "",
        ratio_note: str = "",
    ) -> None:
        self.rows.append(Row(operation, ours, baseline, ratio, note, ratio_note))


def machine() -> dict[str, Any]:
    """What ran the benchmark: the only context the ratios need."""
    return {
        "cores": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def machine_line(info: dict[str, Any]) -> str:
    load = info.get("load_average")
    busy = f", load average {load[0]:.1f}" if load else ""
    return (
        f"Machine: {info['cores']} cores{busy}, Python {info['python']}, {info['platform']}. "
        "Shared and noisy: the ratios to baselines measured in this same run are the point, "
        "not the absolute numbers."
    )


def rate(count: int, seconds: float, unit: str) -> str:
    return f"{count / seconds:,.0f} {unit}/s" if seconds > 0 else "∞"


def millis(seconds: float) -> str:
    return f"{seconds * 1000:,.1f} ms" if seconds < 10 else f"{seconds:,.1f} s"


def ratio_text(ratio: float | None) -> str:
    return "—" if ratio is None else f"{ratio:,.2f}x"


def render(console: Console, section: Section) -> None:
    """Print one section as a table: operation | ours | baseline | ratio."""
    table = Table(title=section.title, title_justify="left", caption=RATIO_NOTE, caption_justify="left")
    table.add_column("operation")
    table.add_column("ours", justify="right")
    table.add_column("baseline", justify="left")
    table.add_column("ratio", justify="right")
    for row in section.rows:
        baseline = f"{row.baseline}\n[dim]{row.note}[/dim]" if row.note else row.baseline
        ratio = ratio_text(row.ratio)
        if row.ratio_note:
            ratio += f"\n[dim]{row.ratio_note}[/dim]"
        table.add_row(row.operation, row.ours, baseline, ratio)
    console.print(table)
    for note in section.notes:
        console.print(f"  • {note}", highlight=False)
    console.print()


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    """A row without rich markup, its lines joined by '; '."""
    return {
        key: "; ".join(Text.from_markup(value).plain.splitlines()) if isinstance(value, str) else value
        for key, value in row.items()
    }


def write_json(path: Path, info: dict[str, Any], args: dict[str, Any], sections: list[Section]) -> None:
    """Save the run as JSON (tables and raw figures)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "machine": info,
        "args": args,
        "ratio": RATIO_NOTE,
        "sections": {
            section.title: {
                "rows": [_plain(asdict(row)) for row in section.rows],
                "notes": section.notes,
                "data": section.data,
            }
            for section in sections
        },
    }
    path.write_text(json.dumps(document, indent=2, default=str) + "\n")
