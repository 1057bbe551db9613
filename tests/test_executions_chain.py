"""Chaining (pipelines), staleness and regenerate, on the embedded plane with the real realm operators."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import yaml

from artifact_plane.errors import InvalidInputError, NotFoundError
from artifact_plane.executions import Executions, SubjectExecutions
from artifact_plane.models import ArtifactStatus, ExecutionStatus, Subject
from artifact_plane.operators import BUILTIN_DIR, OperatorRegistry
from artifact_plane.pipelines import Step
from artifact_plane.plane import ArtifactPlane
from tests.plane_fixtures import REPO, open_test_plane
from tests.test_executions import ADA, DATASET, artifact_count, put_dataset, write_operator

CHAIN = [
    Step("content", "analyze", params={"group_by": "region", "name": "s"}),
    Step("insights", "interpret", params={"name": "s"}),
    Step("outcomes", "create_poc", params={"name": "s"}),
]


@pytest.fixture
async def plane(tmp_path: Path) -> AsyncIterator[ArtifactPlane]:
    async for built in open_test_plane("embedded", tmp_path):
        yield built


def runner_on(plane: ArtifactPlane, realms: Path = REPO / "realms", *more: Path) -> SubjectExecutions:
    return Executions(plane, OperatorRegistry.discover([BUILTIN_DIR, realms, *more])).for_subject(ADA)


def copy_realms(tmp_path: Path) -> Path:
    """A private copy of the realm operators, so a test may bump a version."""
    target = tmp_path / "realms-copy"
    shutil.copytree(REPO / "realms", target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


def bump(operator_dir: Path, version: str) -> None:
    path = operator_dir / "artifact.yaml"
    manifest = yaml.safe_load(path.read_text())
    manifest["version"] = version
    path.write_text(yaml.safe_dump(manifest))


# --------------------------------------------------------------- pipelines


async def test_pipeline_feeds_outputs_forward_one_execution_per_step(plane: ArtifactPlane) -> None:
    dataset = await put_dataset(plane)
    runner = runner_on(plane)
    steps = [Step("content", "analyze", {"dataset": dataset}, {"name": "s"}), *CHAIN[1:]]
    result = await runner.run_pipeline(steps)
    assert result.ok
    assert list(result.runs) == ["analyze", "interpret", "create_poc"]
    executions = [await runner.me.get_execution(r.execution_id) for r in result.runs.values()]
    assert len({e.execution_id for e in executions}) == 3
    assert result.output("analyze", "analysis") in executions[1].inputs
    assert result.output("interpret", "interpretation") in executions[2].inputs
    poc = await runner.me.get_artifact(result.output("create_poc", "poc"), include_payload=True)
    assert poc.text().startswith("# Proof of concept: ")
    lineage = await runner.me.lineage(dataset, direction="downstream", depth=5)
    assert result.output("create_poc", "poc") in {n.id for n in lineage.nodes}


async def test_pipeline_is_checked_before_anything_runs(plane: ArtifactPlane) -> None:
    dataset = await put_dataset(plane)
    runner = runner_on(plane)
    before = await artifact_count(plane)
    bad = [
        [
            Step("content", "analyze", {"dataset": dataset}),
            Step("insights", "interpret", {"analysis": "$nope.x"}),
        ],
        [
            Step("content", "analyze", {"dataset": dataset}),
            Step("insights", "interpret", {"analysis": "$analyze.x"}),
        ],
        [
            Step("content", "analyze", {"dataset": dataset}),
            Step("insights", "interpret", params={"target": "hi"}),
        ],
        [Step("content", "analyze", {"dataset": dataset}), Step("content", "analyze", {"dataset": dataset})],
        [],
    ]
    for steps in bad:
        with pytest.raises(InvalidInputError):
            await runner.run_pipeline(steps)
    with pytest.raises(NotFoundError):
        await runner.run_pipeline(
            [Step("content", "analyze", {"dataset": dataset}), Step("insights", "nothing")]
        )
    assert await artifact_count(plane) == before


async def test_pipeline_stops_at_a_failed_step(plane: ArtifactPlane, tmp_path: Path) -> None:
    ops = tmp_path / "ops"
    write_operator(ops, "boom", scope="insights", body="async def run(ctx):\n    raise ValueError('no')\n")
    dataset = await put_dataset(plane)
    runner = runner_on(plane, REPO / "realms", ops)
    result = await runner.run_pipeline(
        [
            Step("content", "analyze", {"dataset": dataset}),
            Step("insights", "boom"),
            Step("insights", "interpret"),
        ]
    )
    assert not result.ok
    assert result.failed_step == "boom"
    assert list(result.runs) == ["analyze", "boom"]
    assert result.runs["analyze"].ok
    assert result.runs["boom"].execution.status is ExecutionStatus.FAILED


# -------------------------------------------------------------- staleness


async def test_a_newer_input_version_makes_outputs_and_their_descendants_stale(plane: ArtifactPlane) -> None:
    dataset = await put_dataset(plane)
    runner = runner_on(plane)
    result = await runner.run_pipeline(
        [Step("content", "analyze", {"dataset": dataset}, {"name": "s"}), *CHAIN[1:]]
    )
    analysis, poc = result.output("analyze", "analysis"), result.output("create_poc", "poc")
    assert not await runner.stale(analysis)
    assert not await runner.stale(poc)
    assert await runner.stale_causes(dataset) == []  # a raw input is never stale
    newer = await put_dataset(plane, DATASET.replace('"score": 3', '"score": 10'))
    causes = await runner.stale_causes(analysis)
    assert [(c.kind, c.input_id, c.newer_id) for c in causes] == [("input_updated", dataset, newer)]
    assert "1.0.0 has a newer ready version 1.0.1" in causes[0].detail
    poc_causes = await runner.stale_causes(poc)
    assert [c.kind for c in poc_causes] == ["upstream_stale"]


async def test_changing_an_operator_version_marks_outputs_stale_and_regenerate_refreshes(
    plane: ArtifactPlane, tmp_path: Path
) -> None:
    realms = copy_realms(tmp_path)
    dataset = await put_dataset(plane)
    old = runner_on(plane, realms)
    first = await old.run_intent(
        "content", "analyze", {"dataset": dataset}, {"group_by": "region", "name": "s"}
    )
    analysis = first.outputs["analysis"]
    assert isinstance(analysis, str)
    assert await old.stale_causes(analysis) == []
    bump(realms / "content" / "analyze", "1.1.0")
    new = runner_on(plane, realms)
    causes = await new.stale_causes(analysis)
    assert [(c.kind, c.operator, c.current_operator) for c in causes] == [
        ("operator_changed", "content.analyze@1.0.0", "content.analyze@1.1.0")
    ]
    again = await new.regenerate(analysis)
    assert again.ok
    fresh = again.outputs["analysis"]
    assert isinstance(fresh, str)
    assert fresh != analysis
    record = await new.me.get_meta(fresh)
    assert (record.uri, record.version) == ("artifact://content/analysis/s.json", "1.0.1")
    execution = await new.me.get_execution(again.execution_id)
    assert execution.operator == "content.analyze@1.1.0"
    assert dataset in execution.inputs
    assert await new.stale_causes(fresh) == []
    # Same params replayed: the regenerated analysis still groups by region.
    payload = await new.me.get_artifact(fresh, include_payload=True)
    assert '"group_by": "region"' in payload.text()


async def test_regenerate_uses_the_current_inputs(plane: ArtifactPlane) -> None:
    dataset = await put_dataset(plane)
    runner = runner_on(plane)
    first = await runner.run_intent("content", "analyze", {"dataset": dataset}, {"name": "s"})
    newer = await put_dataset(plane, DATASET.replace('"score": 3', '"score": 10'))
    again = await runner.regenerate(first.outputs["analysis"])  # type: ignore[arg-type]
    execution = await runner.me.get_execution(again.execution_id)
    assert newer in execution.inputs
    assert dataset not in execution.inputs
    refreshed = await runner.me.get_artifact(again.outputs["analysis"], include_payload=True)  # type: ignore[arg-type]
    assert '"max": 10.0' in refreshed.text()


async def test_regenerate_refuses_what_it_cannot_replay(plane: ArtifactPlane) -> None:
    dataset = await put_dataset(plane)
    runner = runner_on(plane)
    with pytest.raises(InvalidInputError, match="not regenerable"):
        await runner.regenerate(dataset)
    memory = await runner.run_intent("content", "builtin.lru_memory", {}, {"op": "clear", "key": "k"})
    assert memory.ok
    with pytest.raises(InvalidInputError, match="not regenerable"):
        await runner.regenerate(memory.outputs["memory"])  # type: ignore[arg-type]
    with pytest.raises(NotFoundError):
        await runner.regenerate("missing")


async def test_stale_causes_need_read_access(plane: ArtifactPlane) -> None:
    dataset = await put_dataset(plane)
    result = await runner_on(plane).run_intent("content", "analyze", {"dataset": dataset})
    other = Executions(plane, OperatorRegistry.discover([REPO / "realms"])).for_subject(
        Subject(id="eve", tenant="globex", roles=("admin",))
    )
    with pytest.raises(NotFoundError):
        await other.stale_causes(result.outputs["analysis"])  # type: ignore[arg-type]
    assert (await plane.for_subject(ADA).get_meta(dataset)).status is ArtifactStatus.READY


async def test_regenerate_upstream_refreshes_the_whole_chain(plane: ArtifactPlane, tmp_path: Path) -> None:
    realms = copy_realms(tmp_path)
    dataset = await put_dataset(plane)
    old = runner_on(plane, realms)
    chain = await old.run_pipeline(
        [Step("content", "analyze", {"dataset": dataset}, {"name": "s"}), *CHAIN[1:]]
    )
    poc = chain.output("create_poc", "poc")
    bump(realms / "content" / "analyze", "1.1.0")
    new = runner_on(plane, realms)
    assert [c.kind for c in await new.stale_causes(poc)] == ["upstream_stale"]
    alone = await new.regenerate(poc)
    assert alone.ok
    # Only the last step re-ran: its input is still the stale interpretation.
    assert [c.kind for c in await new.stale_causes(alone.outputs["poc"])] == ["upstream_stale"]  # type: ignore[arg-type]
    whole = await new.regenerate(poc, upstream=True)
    assert whole.ok
    fresh_poc = whole.outputs["poc"]
    assert isinstance(fresh_poc, str)
    assert await new.stale_causes(fresh_poc) == []
    execution = await new.me.get_execution(whole.execution_id)
    interpretation = next(
        r for r in [await new.me.get_meta(i) for i in execution.inputs] if r.artifact_type == "interpretation"
    )
    assert interpretation.version == "1.0.1"
    analysis_versions = await new.me.versions("artifact://content/analysis/s.json")
    assert [r.version for r in analysis_versions] == ["1.0.0", "1.0.1"]
    producer = await new.me.get_execution(analysis_versions[-1].execution_id or "")
    assert producer.operator == "content.analyze@1.1.0"
