"""The API seam (PlaneIntentRunner) and a cancelled run, on the embedded plane."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest

from artifact_plane.errors import InvalidInputError
from artifact_plane.executions import Executions
from artifact_plane.intent_runner import PlaneIntentRunner
from artifact_plane.models import ArtifactStatus, ExecutionStatus
from artifact_plane.operators import OperatorRegistry
from artifact_plane.plane import ArtifactPlane
from tests.plane_fixtures import REPO, open_test_plane
from tests.test_executions import ADA, DATASET, put_dataset, write_operator
from tests.waiting import eventually

DEADLINE = 10.0


@pytest.fixture
async def plane(tmp_path: Path) -> AsyncIterator[ArtifactPlane]:
    async for built in open_test_plane("embedded", tmp_path):
        yield built


@pytest.fixture
def runner(plane: ArtifactPlane) -> PlaneIntentRunner:
    return PlaneIntentRunner.from_settings(plane.settings)


async def test_structured_and_flat_inputs(plane: ArtifactPlane, runner: PlaneIntentRunner) -> None:
    dataset = await put_dataset(plane)
    me = plane.for_subject(ADA)
    structured = await runner.run_intent(
        me,
        "content",
        "analyze",
        {"inputs": {"dataset": dataset}, "params": {"name": "a", "group_by": "region"}},
    )
    flat = await runner.run_intent(me, "content", "analyze", {"dataset": dataset, "name": "b"})
    for execution in (structured, flat):
        assert execution.status is ExecutionStatus.SUCCEEDED
        assert dataset in execution.inputs
    uris = {(await me.get_meta(e.outputs[0])).uri for e in (structured, flat)}
    assert uris == {"artifact://content/analysis/a.json", "artifact://content/analysis/b.json"}
    with pytest.raises(InvalidInputError, match="must be JSON objects"):
        await runner.run_intent(me, "content", "analyze", {"inputs": ["x"]})


async def test_staleness_and_regenerate_through_the_seam(
    plane: ArtifactPlane, runner: PlaneIntentRunner
) -> None:
    dataset = await put_dataset(plane)
    me = plane.for_subject(ADA)
    execution = await runner.run_intent(
        me, "content", "analyze", {"dataset": "artifact://content/datasets/survey.json"}
    )
    output = execution.outputs[0]
    assert await runner.stale_causes(me, output) == []
    newer = await put_dataset(plane, DATASET.replace('"score": 9', '"score": 1'))
    causes = await runner.stale_causes(me, output)
    assert [(c.kind, c.input_id, c.newer_id) for c in causes] == [("input_updated", dataset, newer)]
    again = await runner.regenerate(me, output)
    assert again.status is ExecutionStatus.SUCCEEDED
    assert newer in again.inputs


async def test_a_failed_handler_comes_back_as_a_failed_execution(
    plane: ArtifactPlane, tmp_path: Path
) -> None:
    ops = tmp_path / "ops"
    write_operator(ops, "sulk", body="async def run(ctx):\n    raise PermissionError('not today')\n")
    runner = PlaneIntentRunner(OperatorRegistry.discover([REPO / "realms", ops]))
    execution = await runner.run_intent(plane.for_subject(ADA), "content", "sulk", {"label": "y"})
    assert execution.status is ExecutionStatus.FAILED
    assert execution.error == "PermissionError: not today"


async def test_a_cancelled_run_is_recorded_failed_with_its_pending_outputs(
    plane: ArtifactPlane, tmp_path: Path
) -> None:
    ops = tmp_path / "ops"
    write_operator(
        ops,
        "hang",
        body="""
        import anyio

        async def run(ctx):
            await ctx.write("slow/out.txt", "reserved", artifact_type="note", status="pending")
            await anyio.sleep_forever()
        """,
    )
    runner = Executions(plane, OperatorRegistry.discover([REPO / "realms", ops])).for_subject(ADA)
    admin = plane.for_subject(ADA)

    async def pending_output() -> str | None:
        page = await admin.list_artifacts(uri="artifact://content/slow/**", status="pending")
        return page.items[0].artifact_id if page.items else None

    async with anyio.create_task_group() as group:
        group.start_soon(runner.run_intent, "content", "hang")

        async def written() -> bool:
            return await pending_output() is not None

        await eventually(written, "the handler to write its pending output", DEADLINE)
        found = await pending_output()
        assert found is not None
        group.cancel_scope.cancel()
    record = await admin.get_meta(found)
    assert record.status is ArtifactStatus.FAILED
    assert record.execution_id is not None
    execution = await admin.get_execution(record.execution_id)
    assert execution.status is ExecutionStatus.FAILED
    assert execution.error == "cancelled before the handler finished"


async def test_a_run_past_its_timeout_fails(plane: ArtifactPlane, tmp_path: Path) -> None:
    ops = tmp_path / "ops"
    directory = write_operator(
        ops,
        "stall",
        body="""
        import anyio

        async def run(ctx):
            await ctx.write("stalled/out.txt", "reserved", artifact_type="note", status="pending")
            await anyio.sleep_forever()
        """,
    )
    with (directory / "artifact.yaml").open("a") as manifest:
        manifest.write("timeout_seconds: 0.2\n")
    runner = Executions(plane, OperatorRegistry.discover([REPO / "realms", ops])).for_subject(ADA)
    result = await runner.run_intent("content", "stall")
    assert result.execution.status is ExecutionStatus.FAILED
    assert result.execution.error == "timed out after 0.2s (timeout_seconds of test.stall@1.0.0)"
    (output,) = result.execution.outputs
    assert (await plane.for_subject(ADA).get_meta(output)).status is ArtifactStatus.FAILED
