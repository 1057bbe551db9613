"""A small multi-realm lineage graph, built through the public scoped API.

Used by ``artifact-plane demo``, the tests and the benchmarks::

    content   dataset ─analyze─▶ analysis_result, visualization
    insights  analysis_result ─interpret─▶ interpretation, quality_report
    outcomes  interpretation, visualization ─plan─▶ roadmap, poc
              roadmap, poc ─design─▶ solution
    journey   solution, interpretation ─map─▶ blueprint ─document─▶ sop ─automate─▶ workflow

Each step runs as its realm's service subject: outputs are named writes
(``artifact://<realm>/...``, version 1.0.0) carrying ``execution_id`` and
``inputs``, then ``register_lineage`` records the execution and its intent.
Payloads are derived from the dataset deterministically, so building the
same ``run`` twice yields the same IDs.
"""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from artifact_plane.ids import validate_id
from artifact_plane.models import Subject
from artifact_plane.plane import ArtifactPlane

__all__ = ["DEMO_REALMS", "DemoGraph", "build_demo"]

DEMO_REALMS = ("content", "insights", "outcomes", "journey")
VERSION = "1.0.0"
JSON_TYPE = "application/json"
MARKDOWN = "text/markdown; charset=utf-8"

_RESPONSES = [
    ("north", 9, "fast onboarding"),
    ("north", 7, "docs could be clearer"),
    ("south", 4, "export keeps failing"),
    ("south", 5, "export is slow"),
    ("south", 6, None),
    ("east", 8, "love the dashboards"),
    ("east", 3, "export lost my data"),
    ("west", 9, "support was great"),
]


@dataclass
class DemoGraph:
    """What :func:`build_demo` made: artifact IDs and execution IDs by name."""

    tenant: str
    run: str
    artifacts: dict[str, str] = field(default_factory=dict)
    executions: dict[str, str] = field(default_factory=dict)
    realms: dict[str, str] = field(default_factory=dict)  # artifact name -> realm

    @property
    def dataset(self) -> str:
        return self.artifacts["dataset"]


@dataclass(frozen=True)
class _Output:
    artifact_type: str  # also the output's name in DemoGraph.artifacts
    path: str
    content_type: str
    data: str


_MARKDOWN = {
    "roadmap": "# Roadmap\n\n1. Q1: reliable export\n2. Q2: resumable exports\n3. Q3: export audit trail\n",
    "poc": "# Proof of concept: resumable export\n\nChunked, checkpointed export survives a dropped link.\n",
    "solution": "# Solution: reliable export\n\nResumable, audited exports (roadmap 1-3, PoC proven).\n",
    "blueprint": "# Service blueprint: export\n\nRequest → export job → checkpoint → notify → download.\n",
    "sop": "# SOP: failed export\n\n1. Find the job's last checkpoint\n2. Resume it\n3. Tell the customer\n",
}


def _dumps(document: Any) -> str:
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def _dataset(run: str) -> dict[str, Any]:
    rows = [{"region": r, "score": s, "comment": c} for r, s, c in _RESPONSES]
    return {"name": f"customer-survey ({run})", "columns": ["region", "score", "comment"], "rows": rows}


def _analysis(dataset: dict[str, Any]) -> dict[str, Any]:
    by_region: dict[str, list[int]] = defaultdict(list)
    for row in dataset["rows"]:
        by_region[row["region"]].append(row["score"])
    means = {region: round(statistics.fmean(scores), 2) for region, scores in sorted(by_region.items())}
    mentions = sum("export" in (row["comment"] or "") for row in dataset["rows"])
    return {"responses": len(dataset["rows"]), "mean_score_by_region": means, "export_mentions": mentions}


def _chart(analysis: dict[str, Any]) -> str:
    bars = []
    for i, (region, mean) in enumerate(analysis["mean_score_by_region"].items()):
        height = int(mean * 10)
        x = 20 + i * 60
        bars.append(
            f'  <rect x="{x}" y="{110 - height}" width="40" height="{height}" fill="#4c78a8"/>\n'
            f'  <text x="{x + 20}" y="125" text-anchor="middle" font-size="10">{region}</text>'
        )
    body = "\n".join(bars)
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="280" height="140" viewBox="0 0 280 140">\n'
        "  <title>Mean satisfaction score by region</title>\n"
        f"{body}\n</svg>\n"
    )


def _md(artifact_type: str, path: str) -> _Output:
    return _Output(artifact_type, path, MARKDOWN, _MARKDOWN[artifact_type])


def _steps(run: str) -> list[tuple[str, str, str, list[str], list[_Output]]]:
    """``(realm, step, intent, input names, outputs)`` in the order they must run."""
    dataset = _dataset(run)
    analysis = _analysis(dataset)
    means = analysis["mean_score_by_region"]
    low = min(means, key=means.__getitem__)
    quality = {"rows": analysis["responses"], "missing_comments": 1, "duplicate_rows": 0, "verdict": "usable"}
    interpretation = (
        f"# What the survey says\n\nSatisfaction is lowest in **{low}**; "
        f"{analysis['export_mentions']} of {analysis['responses']} comments blame data export.\n"
    )
    workflow = {"name": "resume-failed-export", "steps": ["find_checkpoint", "resume_job", "notify_customer"]}
    return [
        ("content", "ingest", "ingest", [], [
            _Output("dataset", "datasets/survey.json", JSON_TYPE, _dumps(dataset)),
        ]),
        ("content", "analyze", "analyze", ["dataset"], [
            _Output("analysis_result", "analysis/summary.json", JSON_TYPE, _dumps(analysis)),
            _Output("visualization", "charts/scores.svg", "image/svg+xml", _chart(analysis)),
        ]),
        ("insights", "interpret", "interpret", ["analysis_result"], [
            _Output("interpretation", "interpretations/survey.md", MARKDOWN, interpretation),
            _Output("quality_report", "quality/survey.json", JSON_TYPE, _dumps(quality)),
        ]),
        ("outcomes", "plan", "plan", ["interpretation", "visualization"], [
            _md("roadmap", "roadmaps/export.md"),
            _md("poc", "pocs/resumable-export.md"),
        ]),
        ("outcomes", "design", "design_solution", ["roadmap", "poc"], [
            _md("solution", "solutions/reliable-export.md"),
        ]),
        ("journey", "map", "map_journey", ["solution", "interpretation"], [
            _md("blueprint", "blueprints/export.md"),
        ]),
        ("journey", "document", "write_sop", ["blueprint"], [
            _md("sop", "sops/failed-export.md"),
        ]),
        ("journey", "automate", "automate", ["sop"], [
            _Output("workflow", "workflows/resume-export.json", JSON_TYPE, _dumps(workflow)),
        ]),
    ]  # fmt: skip


async def build_demo(plane: ArtifactPlane, *, tenant: str = "default", run: str = "demo") -> DemoGraph:
    """Create the demo graph in ``tenant``; ``run`` keeps separate graphs apart (names, execution IDs).

    Raises:
        InvalidInputError: ``tenant`` or ``run`` is not a valid ID.
        PolicyDeniedError: the policy or realm manifests do not allow a step
            (the four demo realms must have manifests).
    """
    validate_id(run, "run")
    graph = DemoGraph(tenant=tenant, run=run)
    for realm, step, intent, inputs, outputs in _steps(run):
        me = plane.for_subject(Subject(id=f"{realm}-service", tenant=tenant, roles=("writer",), realm=realm))
        execution_id = f"{run}-{step}"
        input_ids = [graph.artifacts[name] for name in inputs]
        produced = []
        for output in outputs:
            folder, _, leaf = output.path.partition("/")
            produced.append(
                await me.write(
                    f"artifact://{realm}/{folder}/{run}/{leaf}",
                    output.data,
                    mode="upsert",
                    version=VERSION,
                    artifact_type=output.artifact_type,
                    content_type=output.content_type,
                    execution_id=execution_id if inputs else None,
                    inputs=input_ids,
                    tags=("demo", f"run:{run}"),
                )
            )
            graph.artifacts[output.artifact_type] = produced[-1]
            graph.realms[output.artifact_type] = realm
        if inputs:
            # Inputs are linked by the writes above; registering them here would also need
            # lineage.register on the producer's artifacts, which realm policy reserves to the producer.
            await me.register_lineage(execution_id, outputs=produced, intent=intent)
            graph.executions[step] = execution_id
    return graph
