"""GCS outages and transient failures: retried with backoff, then ours; nothing acknowledged is lost.

Each test runs its own emulator (data kept on disk, so a restart keeps the
bucket), which it stops, restarts or makes fail, never disturbing the
session's shared one.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import anyio
import anyio.to_thread
import pytest

from artifact_plane.adapters.gcs import GcsPayloadStore
from artifact_plane.errors import BackendUnavailableError
from artifact_plane.plane import ArtifactPlane
from artifact_plane.settings import Settings
from artifact_plane.wiring import build_plane
from tests.contracts.payloads_contract import TENANT, blob, scan_all, sha
from tests.gcs import Emulator, new_bucket
from tests.plane_fixtures import ALICE, settings_for

TIMEOUT = 0.5  # seconds one request may take
RETRY_DEADLINE = 0.5  # seconds transient failures are retried for
CALL_LIMIT = RETRY_DEADLINE + 2 * TIMEOUT + 3.0  # a failing call must give up within this
RETRY_INITIAL, RETRY_MAXIMUM = 0.05, 0.2


def quick_store(emulator: Emulator, bucket: str, **options: object) -> GcsPayloadStore:
    values: dict[str, object] = {
        "timeout": TIMEOUT,
        "retry_deadline": RETRY_DEADLINE,
        "retry_initial": RETRY_INITIAL,
        "retry_maximum": RETRY_MAXIMUM,
        **options,
    }
    return GcsPayloadStore(bucket, "p", endpoint=emulator.url, **values)  # type: ignore[arg-type]


@pytest.fixture
def bucket(own_emulator: Emulator) -> str:
    return new_bucket(own_emulator.url)


@pytest.fixture
async def store(own_emulator: Emulator, bucket: str) -> AsyncIterator[GcsPayloadStore]:
    built = quick_store(own_emulator, bucket)
    yield built
    await built.close()


async def unavailable(call: Callable[[], Awaitable[object]]) -> BackendUnavailableError:
    """``call()`` raises our error (from the driver's) within the retry deadline, not a hang."""
    started = time.monotonic()
    with pytest.raises(BackendUnavailableError) as caught:
        with anyio.fail_after(CALL_LIMIT):
            await call()
    elapsed = time.monotonic() - started
    assert elapsed < CALL_LIMIT, f"took {elapsed:.1f}s"
    assert caught.value.backend == "payloads"
    assert caught.value.__cause__ is not None
    assert "retry" in str(caught.value)  # says what to do next
    return caught.value


async def test_stopped_emulator_gives_backend_unavailable_and_recovery_follows_restart(
    own_emulator: Emulator, store: GcsPayloadStore
) -> None:
    small, large = blob(10_000, seed=1), blob(9 * 1024 * 1024, seed=2)  # one request; resumable
    acknowledged = [await store.put_bytes(TENANT, small), await store.put_bytes(TENANT, large)]

    await anyio.to_thread.run_sync(own_emulator.stop)
    started = time.monotonic()
    error = await unavailable(lambda: store.stat(TENANT, sha(small)))
    assert time.monotonic() - started >= RETRY_INITIAL, (
        "a connection error must be retried, not raised at once"
    )
    assert "gave up retrying" in str(error)
    digest = acknowledged[0].sha256
    for call in [
        lambda: store.put_bytes(TENANT, b"during the outage"),
        lambda: store.put_bytes(TENANT, blob(9 * 1024 * 1024, seed=3)),
        lambda: store.get_bytes(TENANT, digest),
        lambda: store.delete(TENANT, digest),
        lambda: store.delete_if_stale(TENANT, digest, datetime.now(UTC)),
        lambda: scan_all(store),
        lambda: store.clean_temp(datetime.now(UTC)),
        store.ping,
    ]:
        await unavailable(call)

    await anyio.to_thread.run_sync(own_emulator.start)
    with anyio.fail_after(CALL_LIMIT):
        await store.ping()
        for stored, data in zip(acknowledged, (small, large), strict=True):
            assert await store.get_bytes(TENANT, stored.sha256) == data
        after = await store.put_bytes(TENANT, b"after the outage")
        assert await store.get_bytes(TENANT, after.sha256) == b"after the outage"
        # Nothing tried during the outage was half stored.
        assert {s.sha256 for s in await scan_all(store)} == {s.sha256 for s in [*acknowledged, after]}


async def test_transient_5xx_answers_are_retried(own_emulator: Emulator, bucket: str) -> None:
    # A deadline long enough that a busy machine cannot turn the retries into a failure.
    store = quick_store(own_emulator, bucket, retry_deadline=10.0)
    stored = await store.put_bytes(TENANT, b"retry me")
    for status in (503, 500, 429):
        own_emulator.inject(count=2, status=status)
        assert await store.get_bytes(TENANT, stored.sha256) == b"retry me"
        assert own_emulator.faults_left() == 0, "both failed answers were seen, then retried past"
    own_emulator.inject(count=2, status=503)
    again = await store.put_bytes(TENANT, b"written through 503s")
    assert own_emulator.faults_left() == 0
    assert await store.get_bytes(TENANT, again.sha256) == b"written through 503s"
    # A resumable upload's requests are retried too (the session resumes where it was).
    streaming = quick_store(own_emulator, bucket, upload_chunk_size=256 * 1024, retry_deadline=10.0)
    data = blob(1024 * 1024, seed=4)
    own_emulator.inject(count=3, status=502)
    streamed = await streaming.put_bytes(TENANT, data)
    assert own_emulator.faults_left() == 0
    assert await store.get_bytes(TENANT, streamed.sha256) == data
    await streaming.close()
    await store.close()


async def test_a_backend_failing_for_longer_than_the_deadline_is_unavailable(
    own_emulator: Emulator, store: GcsPayloadStore
) -> None:
    stored = await store.put_bytes(TENANT, b"kept")
    own_emulator.inject(count=10_000, status=503)
    error = await unavailable(lambda: store.stat(TENANT, stored.sha256))
    assert "503" in str(error)
    await unavailable(lambda: store.put_bytes(TENANT, b"refused"))
    own_emulator.inject(count=0)
    assert await store.get_bytes(TENANT, stored.sha256) == b"kept"
    assert [s.sha256 for s in await scan_all(store)] == [stored.sha256]


async def test_a_stalled_request_times_out_and_is_retried(own_emulator: Emulator, bucket: str) -> None:
    patient = quick_store(own_emulator, bucket, retry_deadline=10.0)  # time for a second attempt
    stored = await patient.put_bytes(TENANT, b"slow")
    own_emulator.inject(count=1, delay=TIMEOUT * 2)  # longer than one request may take
    started = time.monotonic()
    with anyio.fail_after(CALL_LIMIT + 10):
        assert await patient.get_bytes(TENANT, stored.sha256) == b"slow"
    assert time.monotonic() - started >= TIMEOUT, "the first attempt should have timed out"
    assert own_emulator.faults_left() == 0
    await patient.close()


@pytest.fixture
async def plane(own_emulator: Emulator, bucket: str, tmp_path: Path) -> AsyncIterator[ArtifactPlane]:
    """The embedded plane (SQLite + Rego) with its payloads in the test's emulator."""
    base = build_plane(settings_for(tmp_path))
    built = ArtifactPlane(
        registry=base.registry,
        payloads=quick_store(own_emulator, bucket),
        lineage=base.lineage,
        policy=base.policy,
        decisions=base.decisions,
        settings=base.settings,
    )
    await built.registry.initialize()
    yield built
    await built.close()
    await base.payloads.close()


async def test_plane_create_during_an_outage_leaves_no_record(
    own_emulator: Emulator, plane: ArtifactPlane
) -> None:
    me = plane.for_subject(ALICE)
    before = await me.create_artifact(b"before", artifact_type="report")

    await anyio.to_thread.run_sync(own_emulator.stop)
    for n in range(2):
        await unavailable(lambda n=n: me.create_artifact(f"during {n}".encode(), artifact_type="report"))  # type: ignore[misc]
    health = await plane.health()
    assert health["payloads"].startswith("BackendUnavailableError"), health
    assert health["registry"] == "ok"
    assert [r.artifact_id for r in (await me.list_artifacts()).items] == [before]

    await anyio.to_thread.run_sync(own_emulator.start)
    with anyio.fail_after(CALL_LIMIT):
        after = await me.create_artifact(b"after", artifact_type="report")
        page = await me.list_artifacts()
        assert sorted(r.artifact_id for r in page.items) == sorted([before, after])
        for record in page.items:  # every record's payload is there
            assert (await me.get_artifact(record.artifact_id, include_payload=True)).payload in (
                b"before",
                b"after",
            )
        assert (await plane.health())["payloads"] == "ok"


async def test_wiring_honours_storage_emulator_host(
    own_emulator: Emulator, bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Production wiring (``gs://bucket/prefix``, no endpoint) finds the emulator from the environment."""
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", own_emulator.url)
    settings: Settings = settings_for(tmp_path, payloads_url=f"gs://{bucket}/wired")
    plane = build_plane(settings)
    await plane.registry.initialize()
    try:
        me = plane.for_subject(ALICE)
        art_id = await me.create_artifact(b"through the environment", artifact_type="report")
        assert (await me.get_artifact(art_id, include_payload=True)).payload == b"through the environment"
    finally:
        await plane.close()
    names = [
        b.name for b in GcsPayloadStore(bucket, endpoint=own_emulator.url)._connect().bucket.list_blobs()
    ]
    assert names == [
        f"wired/tenants/{ALICE.tenant}/sha256/{d[:2]}/{d[2:4]}/{d}" for d in [sha(b"through the environment")]
    ]
