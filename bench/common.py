"""What the benchmarks share: the embedded plane in a temp dir, the subject, timing statistics."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from artifact_plane.models import Subject
    from artifact_plane.settings import Settings

REPO = Path(__file__).resolve().parents[1]
TENANT = "acme"
REALM = "insights"
ARTIFACT_TYPE = "interpretation"


def ensure_importable() -> None:
    """Put the ``platform/`` source root on the path when the project is not installed."""
    root = str(REPO / "platform")
    if root not in sys.path:
        sys.path.insert(0, root)


def subject() -> Subject:
    """A realm service with write access to its own realm: what ingests in practice."""
    from artifact_plane.models import Subject

    return Subject(id="bench", tenant=TENANT, roles=("writer",), realm=REALM)


def embedded_settings(data_dir: Path, **overrides: Any) -> Settings:
    """The embedded default (SQLite + directory + in-process Rego) under ``data_dir``."""
    from artifact_plane.settings import Settings

    values: dict[str, Any] = {
        "data_dir": data_dir,
        "policy_dir": REPO / "policies",
        "realms_dir": REPO / "realms",
        "_env_file": None,
        **overrides,
    }
    return Settings(**values)


@dataclass(frozen=True)
class Stats:
    """Median and p95 of repeated timings, in seconds."""

    median: float
    p95: float
    count: int

    @classmethod
    def of(cls, seconds: Sequence[float]) -> Stats:
        values = np.asarray(seconds, dtype=float)
        return cls(float(np.median(values)), float(np.percentile(values, 95)), len(values))

    def as_dict(self) -> dict[str, float | int]:
        return {"median_s": self.median, "p95_s": self.p95, "count": self.count}


@contextmanager
def stopwatch() -> Iterator[list[float]]:
    """``with stopwatch() as took: ...`` then ``took[0]`` is the elapsed seconds."""
    took: list[float] = []
    started = time.perf_counter()
    try:
        yield took
    finally:
        took.append(time.perf_counter() - started)
