"""The demo graph builder, on the memory plane and the embedded default, and the ``demo`` command."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from artifact_plane.cli.main import app
from artifact_plane.demo import DEMO_REALMS, build_demo
from artifact_plane.models import NodeKind, Subject
from artifact_plane.plane import ArtifactPlane, open_plane
from artifact_plane.settings import Settings

REPO = Path(__file__).resolve().parents[1]
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


@pytest.fixture(params=["memory", "embedded"])
async def plane(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[ArtifactPlane]:
    memory = {"registry_url": "memory", "payloads_url": "memory", "policy_url": "memory"}
    settings = Settings(
        data_dir=tmp_path / "data",
        policy_dir=REPO / "policies",
        realms_dir=REPO / "realms",
        _env_file=None,  # type: ignore[call-arg]
        **(memory if request.param == "memory" else {}),  # type: ignore[arg-type]
    )
    async with open_plane(settings) as opened:
        yield opened


async def test_builds_every_artifact_in_its_realm_with_real_payloads(plane: ArtifactPlane) -> None:
    graph = await build_demo(plane, tenant="acme")
    assert graph.realms == EXPECTED
    me = plane.for_subject(ADMIN)
    analysis = await me.get_artifact(graph.artifacts["analysis_result"], include_payload=True)
    assert json.loads(analysis.text())["responses"] == 8
    chart = await me.get_artifact(graph.artifacts["visualization"], include_payload=True)
    assert chart.content_type == "image/svg+xml"
    assert chart.text().startswith("<svg")
    sop = await me.get_artifact(graph.artifacts["sop"], include_payload=True)
    assert sop.uri == "artifact://journey/sops/demo/failed-export.md"
    assert sop.text().startswith("# SOP")


async def test_lineage_from_the_dataset_reaches_every_realm(plane: ArtifactPlane) -> None:
    graph = await build_demo(plane, tenant="acme")
    lineage = await plane.for_subject(ADMIN).lineage(graph.dataset, direction="downstream", depth=10)
    artifacts = {n.id for n in lineage.nodes if n.kind is NodeKind.ARTIFACT}
    assert artifacts == set(graph.artifacts.values())
    assert {n.realm for n in lineage.nodes} == set(DEMO_REALMS)
    assert not lineage.is_partial
    executions = {n.id: n.intent for n in lineage.nodes if n.kind is NodeKind.EXECUTION}
    assert executions[graph.executions["design"]] == "design_solution"
    solution_inputs = {e.source_id for e in lineage.edges if e.target_id == graph.executions["design"]}
    assert solution_inputs == {graph.artifacts["roadmap"], graph.artifacts["poc"]}


async def test_same_run_is_idempotent_and_runs_are_separate(plane: ArtifactPlane) -> None:
    first = await build_demo(plane, tenant="acme")
    again = await build_demo(plane, tenant="acme")
    other = await build_demo(plane, tenant="acme", run="second")
    assert again.artifacts == first.artifacts
    assert not set(other.artifacts.values()) & set(first.artifacts.values())
    page = await plane.for_subject(ADMIN).list_artifacts(limit=100)
    assert len(page.items) == 2 * len(EXPECTED)


async def test_steps_run_as_realm_services(plane: ArtifactPlane) -> None:
    graph = await build_demo(plane, tenant="acme")
    me = plane.for_subject(ADMIN)
    interpretation = await me.get_meta(graph.artifacts["interpretation"])
    assert (interpretation.created_by, interpretation.execution_id) == ("insights-service", "demo-interpret")
    execution = await me.get_execution(graph.executions["map"])
    assert (execution.realm, execution.intent) == ("journey", "map_journey")
    assert execution.outputs == (graph.artifacts["blueprint"],)


def test_demo_command_prints_a_tree_through_every_realm(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("AP_REGISTRY_URL", "AP_PAYLOADS_URL", "AP_POLICY_URL", "AP_LINEAGE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AP_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("AP_POLICY_DIR", str(REPO / "policies"))
    monkeypatch.setenv("AP_REALMS_DIR", str(REPO / "realms"))
    monkeypatch.setenv("COLUMNS", "250")
    result = CliRunner().invoke(app, ["demo", "--tenant", "acme"])
    assert result.exit_code == 0, result.output
    for realm in DEMO_REALMS:
        assert f"@{realm}" in result.stdout
    for artifact_type in EXPECTED:
        assert artifact_type in result.stdout
    assert "execution automate" in result.stdout
    again = CliRunner().invoke(app, ["demo", "--tenant", "acme"])
    assert again.exit_code == 0
    assert again.stdout == result.stdout
