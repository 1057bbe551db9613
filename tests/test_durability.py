"""Nothing acknowledged is lost; concurrent writers never both win (embedded default)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import anyio
import pytest

from artifact_plane.errors import ConflictError
from artifact_plane.models import Subject
from tests.plane_fixtures import ALICE, REPO, open_test_plane

WRITER = """
import asyncio, sys
from pathlib import Path
sys.path[:0] = [{platform!r}, {repo!r}]
from artifact_plane.models import Subject
from artifact_plane.plane import ArtifactPlane
from artifact_plane.wiring import build_plane
from tests.plane_fixtures import settings_for

async def main() -> None:
    plane = build_plane(settings_for(Path({tmp!r})))
    await plane.registry.initialize()
    me = plane.for_subject(Subject(id="alice", tenant="acme", roles=("writer",), realm="insights"))
    n = 0
    while True:
        art_id = await me.create_artifact(f"payload {{n}}".encode() * 50, artifact_type="blob")
        print(art_id, flush=True)  # acknowledged: create_artifact returned
        n += 1

asyncio.run(main())
"""


def test_acknowledged_writes_survive_a_kill(tmp_path: Path) -> None:
    script = WRITER.format(platform=str(REPO / "platform"), repo=str(REPO), tmp=str(tmp_path))
    child = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    acknowledged: list[str] = []
    deadline = time.monotonic() + 60
    try:
        assert child.stdout is not None
        while len(acknowledged) < 40 and time.monotonic() < deadline:
            line = child.stdout.readline()
            if not line:
                break
            acknowledged.append(line.strip())
    finally:
        child.send_signal(signal.SIGKILL)  # no clean shutdown: mid-write, mid-transaction
        _, err = child.communicate(timeout=30)
    assert len(acknowledged) == 40, f"writer stopped early: {err[-2000:]}"

    async def check() -> None:
        async for plane in open_test_plane("embedded", tmp_path):
            me = plane.for_subject(ALICE)
            for art_id in acknowledged:
                artifact = await me.get_artifact(art_id, include_payload=True)
                assert artifact.payload is not None
                assert len(artifact.payload) == artifact.size_bytes

    anyio.run(check)


@pytest.mark.parametrize("kind", ["memory", "embedded", "postgres"])
async def test_concurrent_fail_if_exists_writers_one_wins(
    tmp_path: Path, kind: str, request: pytest.FixtureRequest
) -> None:
    async for plane in open_test_plane(kind, tmp_path, request=request):
        me = plane.for_subject(ALICE)
        wins: list[str] = []
        conflicts: list[ConflictError] = []

        async def writer(n: int) -> None:
            try:
                wins.append(await me.write("artifact://self/once.json", {"n": n}, mode="failIfExists"))
            except ConflictError as exc:
                conflicts.append(exc)

        async with anyio.create_task_group() as tg:
            for n in range(25):
                tg.start_soon(writer, n)
        assert len(wins) == 1
        assert len(conflicts) == 24
        history = await me.versions("artifact://self/once.json")
        assert [r.artifact_id for r in history] == wins


@pytest.mark.parametrize("kind", ["memory", "embedded", "postgres"])
async def test_concurrent_upserts_get_distinct_versions(
    tmp_path: Path, kind: str, request: pytest.FixtureRequest
) -> None:
    async for plane in open_test_plane(kind, tmp_path, request=request):
        me = plane.for_subject(ALICE)
        ids: list[str] = []

        async def writer(n: int) -> None:
            ids.append(await me.write("artifact://self/many.json", {"n": n}))

        async with anyio.create_task_group() as tg:
            for n in range(20):
                tg.start_soon(writer, n)
        versions = [r.version for r in await me.versions("artifact://self/many.json")]
        assert versions == [f"1.0.{i}" for i in range(20)]  # none duplicated, none skipped
        assert len(set(ids)) == 20


@pytest.mark.parametrize("kind", ["embedded", "postgres"])
async def test_concurrent_identical_creates_are_one_artifact(
    tmp_path: Path, kind: str, request: pytest.FixtureRequest
) -> None:
    async for plane in open_test_plane(kind, tmp_path, request=request):
        me = plane.for_subject(Subject(id="alice", tenant="acme", roles=("writer",), realm="insights"))
        ids: list[str] = []

        async def creator() -> None:
            ids.append(await me.create_artifact(b"same bytes", artifact_type="blob"))

        async with anyio.create_task_group() as tg:
            for _ in range(20):
                tg.start_soon(creator)
        assert len(set(ids)) == 1
        page = await me.list_artifacts()
        assert [r.artifact_id for r in page.items] == ids[:1]
        assert len([p async for p in plane.payloads.scan()]) == 1
