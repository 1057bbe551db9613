"""The outbox through the plane, the CLI and serve: AP_LINEAGE_URL names a store outside the registry.

A memory graph store stands in for ArangoDB/Neo4j (``AP_LINEAGE_URL=memory``
with the SQLite registry): the plane queues edges in the registry's outbox,
the relay (``lineage relay``, or the task ``serve`` runs) delivers them.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from starlette.testclient import TestClient
from typer.testing import CliRunner

from artifact_plane.adapters.memory import MemoryLineageStore
from artifact_plane.adapters.sql.outbox import OutboxLineageStore
from artifact_plane.api.app import create_app
from artifact_plane.cli.lineage_relay import with_relay
from artifact_plane.cli.main import app as cli_app
from artifact_plane.models import Subject
from artifact_plane.plane import ArtifactPlane, open_plane
from artifact_plane.ports.lineage import Direction
from artifact_plane.wiring import build_relay
from tests.plane_fixtures import settings_for
from tests.waiting import wait_for

DEADLINE = 30.0
ADMIN = Subject(id="alice", tenant="acme", roles=("admin",), realm="insights")
STEWARD = Subject(id="stu", tenant="acme", roles=("steward",), realm="insights")


async def _write_lineage(plane: ArtifactPlane) -> tuple[str, str]:
    me = plane.for_subject(ADMIN)
    source = await me.create_artifact(b"source rows", artifact_type="dataset", content_type="text/csv")
    report = await me.create_artifact(
        b"a report",
        artifact_type="report",
        content_type="application/json",
        execution_id="run-1",
        inputs=[source],
    )
    return source, report


async def test_the_plane_queues_edges_and_the_relay_makes_them_visible(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, lineage_url="memory")
    async with open_plane(settings) as plane:
        assert isinstance(plane.lineage, OutboxLineageStore)
        source, report = await _write_lineage(plane)
        me = plane.for_subject(ADMIN)
        before = await me.lineage(source, direction="downstream", depth=2)
        assert [node.id for node in before.nodes] == [source]  # queued, not yet delivered
        relay = build_relay(plane)
        assert relay is not None
        assert await relay.drain() == 2  # consumed + produced
        after = await me.lineage(source, direction="downstream", depth=2)
        assert {node.id for node in after.nodes} == {source, "run-1", report}
        await plane.for_subject(STEWARD).delete_artifact(report)
        assert await relay.drain() == 1  # the close
        assert not await plane.lineage.neighbors("acme", ["run-1"], Direction.DOWNSTREAM)


async def test_registry_lineage_needs_no_relay(tmp_path: Path) -> None:
    async with open_plane(settings_for(tmp_path)) as plane:
        assert build_relay(plane) is None


def test_lineage_relay_command_delivers_and_the_tree_command_still_works(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, lineage_url="memory")

    async def write() -> str:
        async with open_plane(settings) as plane:
            source, _ = await _write_lineage(plane)
            return source

    source = asyncio.run(write())
    runner = CliRunner()
    delivered = runner.invoke(cli_app, ["lineage", "relay", "--once"], obj=settings)
    assert delivered.exit_code == 0, delivered.output
    assert "delivered 2 outbox entries" in delivered.stdout
    again = runner.invoke(cli_app, ["lineage", "relay", "--once"], obj=settings)
    assert "delivered 0 outbox entries" in again.stdout  # nothing is delivered twice
    tree = runner.invoke(cli_app, ["lineage", source, "--tenant", "acme", "--depth", "1"], obj=settings)
    assert tree.exit_code == 0, tree.output
    assert source in tree.stdout
    refused = runner.invoke(cli_app, ["lineage", "relay", "--once"], obj=settings_for(tmp_path / "sql"))
    assert refused.exit_code == 1
    assert "there is no outbox" in refused.stderr
    assert "set AP_LINEAGE_URL" in refused.stderr


def test_serve_runs_the_relay_beside_the_api(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, lineage_url="memory")
    app = create_app(settings, jwt_secret="s" * 32)
    app.router.lifespan_context = with_relay(app.router.lifespan_context)
    with TestClient(app) as client:
        plane: ArtifactPlane = app.state.plane
        assert isinstance(plane.lineage, OutboxLineageStore)
        graph = plane.lineage.graph
        assert isinstance(graph, MemoryLineageStore)
        client.portal.call(_write_lineage, plane)  # type: ignore[union-attr]
        portal = client.portal
        assert portal is not None
        wait_for(
            lambda: bool(portal.call(graph.neighbors, "acme", ["run-1"], Direction.DOWNSTREAM)),
            "serve's relay to deliver the edges",
            DEADLINE,
        )
        assert client.get("/healthz").status_code == 200


@pytest.mark.parametrize("url", ["gremlin://graph:8182", "arangodb:///nohost"])
async def test_a_graph_url_it_cannot_use_is_a_configuration_error(tmp_path: Path, url: str) -> None:
    from artifact_plane.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="AP_LINEAGE_URL"):
        async with open_plane(settings_for(tmp_path, lineage_url=url)):
            pass


def test_the_relay_process_delivers_until_sigterm_and_releases_its_lease(tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys

    from artifact_plane.adapters.sql import SqlDatabase
    from artifact_plane.adapters.sql.outbox import SqlOutbox

    settings = settings_for(tmp_path, lineage_url="memory")

    async def write() -> None:
        async with open_plane(settings) as plane:
            await _write_lineage(plane)

    asyncio.run(write())
    repo = Path(__file__).resolve().parent.parent
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(repo / "platform"), str(repo)]),
        "AP_DATA_DIR": str(settings.data_dir),
        "AP_REGISTRY_URL": settings.resolved_registry_url(),
        "AP_LINEAGE_URL": "memory",
        "AP_POLICY_DIR": str(settings.policy_dir),
        "AP_REALMS_DIR": str(settings.realms_dir),
    }
    main = "from artifact_plane.cli.main import app; app(prog_name='artifact-plane')"
    command = [sys.executable, "-c", main, "lineage", "relay", "--idle-seconds", "0.05"]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True, cwd=tmp_path
    )
    outbox = SqlOutbox(SqlDatabase(settings.resolved_registry_url()))
    try:

        def drained() -> bool:
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            return asyncio.run(outbox.backlog()) == 0

        wait_for(drained, "the relay process to deliver the outbox", DEADLINE)
    finally:
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=DEADLINE)
    assert process.returncode == 0, stderr
    assert "delivered 2 outbox entries" in stdout
    assert asyncio.run(outbox.acquire_lease("next", 30))  # released on the way out, not left to expire
