"""The plane with its payloads in GCS (the emulator): failed writes leave nothing, GC keeps what is needed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from artifact_plane.adapters.gcs import GcsPayloadStore
from artifact_plane.errors import InvalidInputError, NotFoundError
from artifact_plane.plane import ArtifactPlane
from artifact_plane.wiring import build_plane
from tests.contracts.payloads_contract import blob, sha
from tests.gcs import raw_client
from tests.plane_fixtures import ALICE, BOB_OTHER_TENANT, settings_for

CHUNK = 256 * 1024


@pytest.fixture
async def plane(gcs_server: str, gcs_bucket: str, tmp_path: Path) -> AsyncIterator[ArtifactPlane]:
    """The embedded plane (SQLite + Rego) with a GCS store that streams past 256 KiB."""
    base = build_plane(settings_for(tmp_path, max_payload_bytes=4 * 1024 * 1024))
    built = ArtifactPlane(
        registry=base.registry,
        payloads=GcsPayloadStore(gcs_bucket, "plane", endpoint=gcs_server, upload_chunk_size=CHUNK),
        lineage=base.lineage,
        policy=base.policy,
        decisions=base.decisions,
        settings=base.settings,
    )
    await built.registry.initialize()
    yield built
    await built.close()
    await base.payloads.close()


def objects(server: str, bucket: str) -> list[str]:
    return sorted(b.name for b in raw_client(server).list_blobs(bucket))


async def test_round_trip_and_tenants_apart(plane: ArtifactPlane, gcs_server: str, gcs_bucket: str) -> None:
    alice, bob = plane.for_subject(ALICE), plane.for_subject(BOB_OTHER_TENANT)
    data = blob(3 * CHUNK + 1, seed=1)
    mine = await alice.create_artifact(data, artifact_type="report")
    theirs = await bob.create_artifact(data, artifact_type="report")
    assert mine == theirs  # the same content-addressed ID, in two tenants
    assert (await alice.get_artifact(mine, include_payload=True)).payload == data
    digest = sha(data)
    key = f"sha256/{digest[:2]}/{digest[2:4]}/{digest}"
    assert objects(gcs_server, gcs_bucket) == [f"plane/tenants/{t}/{key}" for t in ("acme", "globex")]
    secret = await alice.create_artifact(b"alice only", artifact_type="report")
    with pytest.raises(NotFoundError):
        await bob.get_artifact(secret, include_payload=True)


@pytest.mark.parametrize("size", [1000, 3 * CHUNK])  # one request; resumable upload to tmp/
async def test_a_stream_that_breaks_leaves_no_record_and_no_object(
    plane: ArtifactPlane, gcs_server: str, gcs_bucket: str, size: int
) -> None:
    me = plane.for_subject(ALICE)

    async def breaks() -> AsyncIterator[bytes]:
        yield blob(size, seed=2)
        yield blob(size, seed=3)
        raise ConnectionResetError("the client went away mid-upload")

    with pytest.raises(ConnectionResetError):
        await me.create_artifact(breaks(), artifact_type="report")
    assert (await me.list_artifacts()).items == []
    assert objects(gcs_server, gcs_bucket) == []


async def test_too_large_a_stream_leaves_no_record_and_no_object(
    plane: ArtifactPlane, gcs_server: str, gcs_bucket: str
) -> None:
    me = plane.for_subject(ALICE)

    async def endless() -> AsyncIterator[bytes]:
        while True:
            yield b"x" * CHUNK

    with pytest.raises(InvalidInputError):
        await me.create_artifact(endless(), artifact_type="report")
    assert (await me.list_artifacts()).items == []
    assert objects(gcs_server, gcs_bucket) == []


async def test_gc_deletes_unreferenced_digests_only_after_the_grace_period(
    plane: ArtifactPlane, gcs_server: str, gcs_bucket: str
) -> None:
    me = plane.for_subject(ALICE)
    kept = await me.create_artifact(b"referenced", artifact_type="report")
    orphan = await plane.payloads.put_bytes(ALICE.tenant, b"written, never registered")
    later = datetime.now(UTC) + timedelta(hours=2)

    young = await plane.collect_garbage(grace=timedelta(hours=3), now=later)  # both younger than grace
    assert young.deleted == 0
    assert len(objects(gcs_server, gcs_bucket)) == 2

    report = await plane.collect_garbage(grace=timedelta(hours=1), now=later)
    assert report.deleted_digests == [orphan.sha256]
    assert await plane.payloads.stat(ALICE.tenant, orphan.sha256) is None
    assert (await me.get_artifact(kept, include_payload=True)).payload == b"referenced"
    assert len(objects(gcs_server, gcs_bucket)) == 1
