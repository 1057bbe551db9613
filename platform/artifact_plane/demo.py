"""The demo: real realm intents, run as one pipeline from a raw dataset to a workflow.

Used by ``artifact-plane demo``, the tests and the benchmarks::

    content   dataset ─analyze─▶ analysis_result ─visualize─▶ visualization
    insights  analysis_result ─interpret─▶ interpretation;  dataset ─quality_report─▶ quality_report
    outcomes  interpretation, visualization ─create_roadmap─▶ roadmap
              interpretation ─create_poc─▶ poc;  roadmap, poc ─create_solution─▶ solution
    journey   solution ─create_blueprint─▶ blueprint ─create_sop─▶ sop ─create_workflow─▶ workflow

The raw dataset is written by the content realm (a new version only when
its content changed); every other artifact is produced by a realm operator
through :meth:`SubjectExecutions.run_pipeline`, one execution per step, each
recorded with its inputs, outputs and operator version. Outputs are named
``artifact://<realm>/<kind>/<run>.<ext>``, so running the demo again writes
their next versions.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from artifact_plane.errors import InvalidInputError
from artifact_plane.executions import Executions, SubjectExecutions
from artifact_plane.models import Subject
from artifact_plane.operators.registry import BUILTIN_DIR
from artifact_plane.pipelines import PipelineResult, Step
from artifact_plane.plane import ArtifactPlane

__all__ = ["DEMO_REALMS", "DEMO_STEPS", "DemoGraph", "build_demo"]

DEMO_REALMS = ("content", "insights", "outcomes", "journey")
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
RUN_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")

# (step, realm, intent, output name, artifact type of the output)
DEMO_STEPS = (
    ("analyze", "content", "analyze", "analysis", "analysis_result"),
    ("visualize", "content", "visualize", "chart", "visualization"),
    ("interpret", "insights", "interpret", "interpretation", "interpretation"),
    ("quality", "insights", "quality_report", "quality_report", "quality_report"),
    ("plan", "outcomes", "create_roadmap", "roadmap", "roadmap"),
    ("prototype", "outcomes", "create_poc", "poc", "poc"),
    ("design", "outcomes", "create_solution", "solution", "solution"),
    ("map", "journey", "create_blueprint", "blueprint", "blueprint"),
    ("document", "journey", "create_sop", "sop", "sop"),
    ("automate", "journey", "create_workflow", "workflow", "workflow"),
)


@dataclass
class DemoGraph:
    """What :func:`build_demo` made: artifact IDs by type, execution IDs by step."""

    tenant: str
    run: str
    artifacts: dict[str, str] = field(default_factory=dict)
    executions: dict[str, str] = field(default_factory=dict)
    realms: dict[str, str] = field(default_factory=dict)  # artifact type -> realm
    pipeline: PipelineResult | None = None

    @property
    def dataset(self) -> str:
        return self.artifacts["dataset"]

    @property
    def solution(self) -> str:
        return self.artifacts["solution"]


def demo_runner(plane: ArtifactPlane, subject: Subject) -> SubjectExecutions:
    """Builtin operators and those of the plane's realms directory, for ``subject``."""
    from artifact_plane.operators.registry import OperatorRegistry

    registry = OperatorRegistry.discover([BUILTIN_DIR, plane.settings.realms_dir])
    return Executions(plane, registry).for_subject(subject)


async def _dataset(plane: ArtifactPlane, subject: Subject, run: str) -> str:
    """Write the survey as the content realm; reuse the newest version when the bytes are the same."""
    content = plane.for_subject(subject.model_copy(update={"realm": "content"}))
    uri = f"artifact://content/datasets/{run}.json"
    rows = [{"region": r, "score": s, "comment": c} for r, s, c in _RESPONSES]
    survey = {"name": "customer-survey", "columns": ["region", "score", "comment"], "rows": rows}
    data = (json.dumps(survey, indent=2) + "\n").encode()
    versions = await content.versions(uri)
    if versions:
        newest = await content.get_artifact(versions[-1].artifact_id, include_payload=True)
        if newest.payload == data:
            return newest.artifact_id
    return await content.write(uri, data, artifact_type="dataset", content_type="application/json")


async def build_demo(plane: ArtifactPlane, *, tenant: str = "default", run: str = "demo") -> DemoGraph:
    """Run the demo pipeline in ``tenant``; ``run`` names its outputs (``.../<run>.json``).

    A step whose handler fails stops the pipeline: ``graph.pipeline.failed_step``
    names it and its execution records the error.

    Raises:
        InvalidInputError: ``run`` is not lower-case letters, digits and '-'.
        PolicyDeniedError: the policies or realm manifests refuse a step
            (the four demo realms must have manifests).
    """
    if not RUN_NAME.fullmatch(run):
        raise InvalidInputError(
            "run", f"{run!r} must be lower-case letters, digits or '-' (e.g. demo, q3-2026)"
        )
    subject = Subject(id="demo", tenant=tenant, roles=("writer",))
    graph = DemoGraph(tenant=tenant, run=run)
    dataset = await _dataset(plane, subject, run)
    graph.artifacts["dataset"], graph.realms["dataset"] = dataset, "content"
    steps = []
    for step, realm, intent, _, _ in DEMO_STEPS:
        inputs = {"dataset": dataset} if intent in {"analyze", "quality_report"} else {}
        params = {"name": run, "group_by": "region"} if intent == "analyze" else {"name": run}
        steps.append(Step(realm, intent, inputs, params, name=step))
    result = await demo_runner(plane, subject).run_pipeline(steps)
    graph.pipeline = result
    for step, realm, _, output, artifact_type in DEMO_STEPS:
        if step not in result.runs or not result.runs[step].ok:
            break  # graph.pipeline.failed_step says which step failed and why
        graph.artifacts[artifact_type] = result.output(step, output)
        graph.realms[artifact_type] = realm
        graph.executions[step] = result.runs[step].execution_id
    return graph
