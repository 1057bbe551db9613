"""The plane's sweeps: an execution abandoned by a process that died inside its handler is failed with
its pending outputs, and serve runs the TTL and abandoned-execution sweeps beside the API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr

from artifact_plane.cli.serve import serve_app
from artifact_plane.maintenance import Maintenance
from artifact_plane.models import ArtifactStatus, Execution, ExecutionStatus
from artifact_plane.plane import ArtifactPlane
from tests.plane_fixtures import ALICE, Clock, open_test_plane, settings_for
from tests.waiting import eventually

HOUR = timedelta(hours=1)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(params=["memory", "embedded", "postgres"])
async def plane(request: pytest.FixtureRequest, tmp_path: Path, clock: Clock) -> AsyncIterator[ArtifactPlane]:
    async for built in open_test_plane(request.param, tmp_path, clock, request=request):
        yield built


async def _start(plane: ArtifactPlane, clock: Clock, execution_id: str) -> tuple[str, str]:
    """What run_intent leaves behind when its process dies: a running execution, one output
    pending and one ready."""
    started = Execution(
        execution_id=execution_id, tenant_id="acme", status=ExecutionStatus.RUNNING, started_at=clock()
    )
    await plane.registry.put_execution(started)
    me = plane.for_subject(ALICE)
    pending = await me.create_artifact(
        f"{execution_id} draft", artifact_type="note", execution_id=execution_id, status="pending"
    )
    ready = await me.create_artifact(f"{execution_id} done", artifact_type="note", execution_id=execution_id)
    return pending, ready


async def test_an_abandoned_execution_and_its_pending_outputs_are_failed(
    plane: ArtifactPlane, clock: Clock
) -> None:
    me = plane.for_subject(ALICE)
    pending, ready = await _start(plane, clock, "died")
    clock.advance(2 * 3600)
    young_pending, _ = await _start(plane, clock, "still-working")
    clock.advance(60)

    failed = await plane.sweep_abandoned_executions(older_than=HOUR)

    assert [e.execution_id for e in failed] == ["died"]
    died = await me.get_execution("died")
    assert died.status is ExecutionStatus.FAILED
    assert died.finished_at == clock()
    assert died.error is not None
    assert "abandoned" in died.error
    assert (await me.get_meta(pending)).status is ArtifactStatus.FAILED
    assert (await me.get_meta(ready)).status is ArtifactStatus.READY  # finished work is kept
    assert (await me.get_execution("still-working")).status is ExecutionStatus.RUNNING
    assert (await me.get_meta(young_pending)).status is ArtifactStatus.PENDING
    assert await plane.sweep_abandoned_executions(older_than=HOUR) == []


async def test_the_default_age_comes_from_the_settings(plane: ArtifactPlane, clock: Clock) -> None:
    await _start(plane, clock, "slow")
    clock.advance(plane.settings.execution_abandon_seconds - 1)
    assert await plane.sweep_abandoned_executions() == []
    clock.advance(2)
    assert [e.execution_id for e in await plane.sweep_abandoned_executions()] == ["slow"]


async def test_sweeps_in_batches_until_none_is_left(plane: ArtifactPlane, clock: Clock) -> None:
    for n in range(5):
        await _start(plane, clock, f"lost-{n}")
    clock.advance(2 * 3600)
    failed = await plane.sweep_abandoned_executions(older_than=HOUR, batch=2)
    assert sorted(e.execution_id for e in failed) == [f"lost-{n}" for n in range(5)]


async def test_a_maintenance_pass_expires_ttls_and_fails_abandoned_executions(
    plane: ArtifactPlane, clock: Clock
) -> None:
    me = plane.for_subject(ALICE)
    short = await me.create_artifact(b"short-lived", artifact_type="note", ttl=60)
    pending, _ = await _start(plane, clock, "died")
    clock.advance(plane.settings.execution_abandon_seconds + 1)
    maintenance = Maintenance(plane, interval=60)
    assert await maintenance.sweep() == (1, 1)
    assert (await me.get_meta(short)).status is ArtifactStatus.EXPIRED
    assert (await me.get_meta(pending)).status is ArtifactStatus.FAILED
    assert await maintenance.sweep() == (0, 0)
    assert (maintenance.passes, maintenance.expired, maintenance.abandoned) == (2, 1, 1)


async def test_serve_runs_maintenance_beside_the_api(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, maintenance_interval_seconds=0.05, jwt_secret=SecretStr("s" * 40))
    app = serve_app(settings, "s" * 40)
    async with app.router.lifespan_context(app):
        plane: ArtifactPlane = app.state.plane
        me = plane.for_subject(ALICE)
        short = await me.create_artifact(b"gone soon", artifact_type="note", ttl=1)

        async def expired() -> bool:
            return (await me.get_meta(short)).status is ArtifactStatus.EXPIRED

        await eventually(expired, "serve's maintenance to expire the artifact")
        assert app.state.maintenance.expired == 1
    assert app.state.maintenance.failures == 0
