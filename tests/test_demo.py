"""The demo runs real realm intents (embedded plane: SQLite + directory + Rego), and the ``demo`` command."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from artifact_plane.cli.main import app
from artifact_plane.demo import DEMO_REALMS, DEMO_STEPS, build_demo
from artifact_plane.errors import InvalidInputError
from artifact_plane.models import ExecutionStatus, NodeKind, Subject
from artifact_plane.plane import ArtifactPlane, open_plane
from tests.plane_fixtures import settings_for

ADMIN = Subject(id="ada", tenant="acme", roles=("admin",))
EXPECTED = {
    "dataset": "content",
    "analysis_result": "content",
    "visualization": "content",
    "interpretation": "insights",
    "quality_report": "insights",
    "roadmap": "outcomes",
    "poc": "outcomes",
    "solution": "outcomes",
    "blueprint": "journey",
    "sop": "journey",
    "workflow": "journey",
}


@pytest.fixture
async def plane(tmp_path: Path) -> AsyncIterator[ArtifactPlane]:
    async with open_plane(settings_for(tmp_path)) as opened:
        yield opened


async def test_every_step_is_a_recorded_execution_of_a_realm_operator(plane: ArtifactPlane) -> None:
    graph = await build_demo(plane, tenant="acme")
    assert graph.realms == EXPECTED
    me = plane.for_subject(ADMIN)
    for step, realm, intent, _, artifact_type in DEMO_STEPS:
        execution = await me.get_execution(graph.executions[step])
        assert execution.status is ExecutionStatus.SUCCEEDED
        assert (execution.realm, execution.intent) == (realm, intent)
        assert execution.operator == f"{realm}.{intent}@1.0.0"
        assert execution.outputs == (graph.artifacts[artifact_type],)
        record = await me.get_meta(graph.artifacts[artifact_type])
        assert (record.execution_id, record.realm, record.artifact_type) == (
            execution.execution_id,
            realm,
            artifact_type,
        )


async def test_payloads_are_real_documents(plane: ArtifactPlane) -> None:
    graph = await build_demo(plane, tenant="acme")
    me = plane.for_subject(ADMIN)

    async def text(kind: str) -> str:
        return (await me.get_artifact(graph.artifacts[kind], include_payload=True)).text()

    assert json.loads(await text("analysis_result"))["overall"]["mean"] == 6.375
    assert (await text("visualization")).startswith('<svg xmlns="http://www.w3.org/2000/svg"')
    assert "south: mean 5 is below target 7" in await text("interpretation")
    assert json.loads(await text("quality_report"))["verdict"] == "usable"
    solution = await text("solution")
    assert solution.startswith("# Solution: ")
    assert f"roadmap {graph.artifacts['roadmap']}" in solution
    assert len(json.loads(await text("workflow"))["steps"]) == 6


async def test_lineage_runs_from_the_dataset_through_every_realm(plane: ArtifactPlane) -> None:
    graph = await build_demo(plane, tenant="acme")
    me = plane.for_subject(ADMIN)
    down = await me.lineage(graph.dataset, direction="downstream", depth=10)
    assert {n.id for n in down.nodes if n.kind is NodeKind.ARTIFACT} == set(graph.artifacts.values())
    assert {n.realm for n in down.nodes} == set(DEMO_REALMS)
    assert not down.is_partial
    up = await me.lineage(graph.solution, direction="upstream", depth=10)
    assert graph.dataset in {n.id for n in up.nodes}
    solution_inputs = {e.source_id for e in up.edges if e.target_id == graph.executions["design"]}
    assert {graph.artifacts["roadmap"], graph.artifacts["poc"]} <= solution_inputs


async def test_running_again_reuses_the_dataset_and_versions_the_outputs(plane: ArtifactPlane) -> None:
    first = await build_demo(plane, tenant="acme")
    again = await build_demo(plane, tenant="acme")
    other = await build_demo(plane, tenant="acme", run="second")
    assert again.dataset == first.dataset
    assert not set(again.executions.values()) & set(first.executions.values())
    me = plane.for_subject(ADMIN)
    solution = await me.get_meta(again.solution)
    assert (solution.uri, solution.version) == ("artifact://outcomes/solutions/demo.md", "1.0.1")
    assert (await me.get_meta(other.solution)).uri == "artifact://outcomes/solutions/second.md"
    with pytest.raises(InvalidInputError):
        await build_demo(plane, tenant="acme", run="Not Valid")


def test_demo_command_prints_the_lineage_from_the_dataset_to_the_solution(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "250")
    result = CliRunner().invoke(app, ["demo", "--tenant", "acme"], obj=settings_for(tmp_path))
    assert result.exit_code == 0, result.output
    out = result.stdout
    for realm in DEMO_REALMS:
        assert f"@{realm}" in out
    for step, _, intent, _, artifact_type in DEMO_STEPS:
        assert f"execution {intent}" in out
        assert artifact_type in out
    upstream = out.split("upstream of the solution")[1].split("downstream")[0]
    assert upstream.lstrip("):\n").startswith("solution ")
    assert "dataset " in upstream  # the raw input is reached from the solution
    assert "invocation" not in out
