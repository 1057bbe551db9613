"""The Artifact Plane's behaviour, over memory adapters and the embedded default."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import anyio
import pytest

from artifact_plane import artifact_ref, compute_artifact_id, is_artifact_ref
from artifact_plane.errors import (
    ConflictError,
    DeadlineExceededError,
    InvalidInputError,
    NotFoundError,
    PolicyDeniedError,
)
from artifact_plane.helpers import load_json, load_text, resolve_artifact, store_json, store_text
from artifact_plane.ids import digest_bytes
from artifact_plane.models import ArtifactStatus, DecisionFilter, NodeKind
from artifact_plane.plane import ArtifactPlane
from tests.plane_fixtures import ADMIN, ALICE, BOB_OTHER_TENANT, READER, STEWARD, Clock, open_test_plane


@pytest.fixture(params=["memory", "embedded", "postgres"])
async def plane(request: pytest.FixtureRequest, tmp_path: Path, clock: Clock) -> AsyncIterator[ArtifactPlane]:
    async for built in open_test_plane(
        request.param, tmp_path, clock, max_payload_bytes=1024 * 1024, request=request
    ):
        yield built


@pytest.fixture
def clock() -> Clock:
    return Clock()


async def _payload_count(plane: ArtifactPlane) -> int:
    return len([p async for p in plane.payloads.scan()])


async def _record_count(plane: ArtifactPlane, subject=ADMIN) -> int:
    page = await plane.for_subject(subject).list_artifacts(limit=1000)
    return len(page.items)


# ------------------------------------------------------------------ create / get


async def test_create_from_bytes_text_json_file_and_stream(plane: ArtifactPlane) -> None:
    me = plane.for_subject(ALICE)

    async def stream() -> AsyncIterator[bytes]:
        yield b"streamed "
        yield b"bytes"

    from_bytes = await me.create_artifact(b"\x00\x01raw", artifact_type="blob")
    from_text = await me.create_artifact("héllo", artifact_type="note")
    from_json = await me.create_artifact({"b": 1, "a": [1, 2]}, artifact_type="report")
    from_file = await me.create_artifact(io.BytesIO(b"file bytes" * 1000), artifact_type="blob")
    from_stream = await me.create_artifact(stream(), artifact_type="blob")

    assert (await me.get_artifact(from_bytes, include_payload=True)).payload == b"\x00\x01raw"
    text = await me.get_artifact(from_text, include_payload=True)
    assert text.text() == "héllo"
    assert text.content_type.startswith("text/plain")
    doc = await me.get_artifact(from_json, include_payload=True)
    assert doc.content_type == "application/json"
    assert doc.payload == b'{"a":[1,2],"b":1}'
    file_rec = await me.get_artifact(from_file, include_payload=True)
    assert file_rec.payload == b"file bytes" * 1000
    assert file_rec.size_bytes == 10_000
    assert (await me.get_artifact(from_stream, include_payload=True)).payload == b"streamed bytes"


async def test_record_fields_and_content_addressing(plane: ArtifactPlane, clock: Clock) -> None:
    me = plane.for_subject(ALICE)
    data = b"quarterly numbers"
    art_id = await me.create_artifact(
        data,
        artifact_type="report",
        content_type="text/csv",
        tags=["q3", "finance"],
        metadata={"rows": 3},
        session_id="s-1",
        solution_id="sol-1",
        ttl=60,
        regenerable=True,
        retention_policy="keep-1y",
        capabilities=["preview"],
        schema_version="1.0.0",
    )
    assert art_id == compute_artifact_id(data) == digest_bytes(data)[:32]
    record = await me.get_meta(art_id)
    assert record.tenant_id == "acme"
    assert record.realm == "insights"
    assert record.owner == "alice"
    assert record.sha256 == digest_bytes(data)
    assert record.size_bytes == len(data)
    assert (
        record.payload_key == f"tenants/acme/sha256/{record.sha256[:2]}/{record.sha256[2:4]}/{record.sha256}"
    )
    assert record.tags == ("q3", "finance")
    assert record.metadata == {"rows": 3}
    assert record.expires_at == clock.now + timedelta(seconds=60)
    assert record.status is ArtifactStatus.READY
    assert record.regenerable
    assert (record.retention_policy, record.capabilities) == ("keep-1y", ("preview",))
    # Same content again: same ID, still one record and one payload.
    assert await me.create_artifact(data, artifact_type="report", content_type="text/csv") == art_id
    assert await _record_count(plane) == 1
    assert await _payload_count(plane) == 1


async def test_explicit_id_with_other_content_conflicts(plane: ArtifactPlane) -> None:
    me = plane.for_subject(ALICE)
    await me.create_artifact(b"one", artifact_type="blob", artifact_id="fixed-id")
    with pytest.raises(ConflictError):
        await me.create_artifact(b"two", artifact_type="blob", artifact_id="fixed-id")
    assert (await me.get_artifact("fixed-id", include_payload=True)).payload == b"one"


async def test_other_tenant_sees_nothing(plane: ArtifactPlane) -> None:
    art_id = await plane.for_subject(ALICE).create_artifact(b"acme only", artifact_type="blob")
    other = plane.for_subject(BOB_OTHER_TENANT)
    with pytest.raises(NotFoundError) as theirs:
        await other.get_artifact(art_id)
    with pytest.raises(NotFoundError) as missing:
        await other.get_artifact("0" * 32)
    assert str(theirs.value).replace(art_id, "X") == str(missing.value).replace("0" * 32, "X")
    assert (await other.list_artifacts()).items == []
    with pytest.raises(NotFoundError):
        await other.lineage(art_id)
    with pytest.raises(NotFoundError):
        await other.register_lineage("exec-x", inputs=[art_id])


# ------------------------------------------------------------------------ list


async def test_list_filters_and_pagination(plane: ArtifactPlane, clock: Clock) -> None:
    me = plane.for_subject(ALICE)
    started = clock.now
    ids = []
    for n in range(25):
        clock.advance(1)
        ids.append(
            await me.create_artifact(
                f"doc {n}".encode(),
                artifact_type="report" if n % 2 else "note",
                tags=["even"] if n % 2 == 0 else ["odd"],
                status="pending" if n == 3 else "ready",
            )
        )
    seen, cursor = [], None
    while True:
        page = await me.list_artifacts(limit=10, cursor=cursor)
        seen += [r.artifact_id for r in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == ids
    assert len((await me.list_artifacts(artifact_type="report")).items) == 12
    assert len((await me.list_artifacts(tags=["even"])).items) == 13
    assert [r.artifact_id for r in (await me.list_artifacts(status=["pending"])).items] == [ids[3]]
    window = await me.list_artifacts(
        created_after=started + timedelta(seconds=5), created_before=started + timedelta(seconds=8)
    )
    assert [r.artifact_id for r in window.items] == ids[4:7]
    assert (await me.list_artifacts(realm="content")).items == []
    with pytest.raises(InvalidInputError):
        await me.list_artifacts(cursor="not-a-cursor")
    with pytest.raises(InvalidInputError):
        await me.list_artifacts(limit=0)


async def test_list_by_uri_glob_and_min_version(plane: ArtifactPlane) -> None:
    me = plane.for_subject(ALICE)
    await me.write("artifact://insights/pack/a.json", {"v": 1}, version="1.9.0")
    await me.write("artifact://insights/pack/deep/b.json", {"v": 2}, version="1.10.0")
    await me.write("artifact://insights/other/c.json", {"v": 3}, version="2.0.0-rc.1")
    deep = await me.list_artifacts(uri="artifact://insights/pack/**")
    assert {r.uri for r in deep.items} == {
        "artifact://insights/pack/a.json",
        "artifact://insights/pack/deep/b.json",
    }
    shallow = await me.list_artifacts(uri="artifact://self/pack/*")
    assert [r.uri for r in shallow.items] == ["artifact://insights/pack/a.json"]
    newer = await me.list_artifacts(min_version="1.10.0")
    assert {r.version for r in newer.items} == {"1.10.0", "2.0.0-rc.1"}
    with pytest.raises(InvalidInputError):
        await me.list_artifacts(min_version="1.x")
    with pytest.raises(InvalidInputError):
        await me.list_artifacts(uri="artifact://insights/../secrets/**")


# --------------------------------------------------------------- write / read


async def test_write_versions_and_read(plane: ArtifactPlane) -> None:
    me = plane.for_subject(ALICE)
    uri = "artifact://self/reports/q3.json"
    first = await me.write(uri, {"total": 1}, mode="failIfExists", version="1.0.0")
    second = await me.write(uri, {"total": 2})
    third = await me.write(uri, {"total": 3}, version="1.10.0")
    history = await me.versions(uri)
    assert [r.version for r in history] == ["1.0.0", "1.0.1", "1.10.0"]
    assert [r.artifact_id for r in history] == [first, second, third]
    assert (await me.read(uri)).payload == b'{"total":3}'
    assert (await me.read(uri, version="1.0.1")).payload == b'{"total":2}'
    assert (
        await me.read("artifact://insights/reports/q3.json", accept=["application/*"])
    ).version == "1.10.0"
    # Rewriting the same version with the same content is idempotent; other content conflicts.
    assert await me.write(uri, {"total": 1}, version="1.0.0") == first
    with pytest.raises(ConflictError):
        await me.write(uri, {"total": 99}, version="1.0.0")


async def test_fail_if_exists_writes_nothing(plane: ArtifactPlane) -> None:
    me = plane.for_subject(ALICE)
    await me.write("artifact://self/x.json", b"1", mode="failIfExists")
    payloads = await _payload_count(plane)
    with pytest.raises(ConflictError):
        await me.write("artifact://self/x.json", b"2", mode="failIfExists")
    assert [r.version for r in await me.versions("artifact://self/x.json")] == ["1.0.0"]
    assert await _payload_count(plane) == payloads


async def test_read_refuses_content_type_outside_accept_list(plane: ArtifactPlane) -> None:
    me = plane.for_subject(ALICE)
    await me.write("artifact://self/chart.svg", "<svg/>", content_type="image/svg+xml")
    with pytest.raises(InvalidInputError) as err:
        await me.read("artifact://self/chart.svg", accept=["application/json", "text/*"])
    assert err.value.field == "content_type"
    assert (await me.read("artifact://self/chart.svg", accept=["image/*"])).payload == b"<svg/>"


async def test_read_resolves_newest_ready_version(plane: ArtifactPlane) -> None:
    me = plane.for_subject(ALICE)
    await me.write("artifact://self/r.md", "v1")
    await me.write("artifact://self/r.md", "v2", status="pending")
    assert (await me.read("artifact://self/r.md")).text() == "v1"
    with pytest.raises(NotFoundError):
        await me.read("artifact://self/missing.md")


# -------------------------------------------------------------------- status


async def test_status_transitions(plane: ArtifactPlane) -> None:
    me = plane.for_subject(ALICE)
    art_id = await me.create_artifact(b"x", artifact_type="blob", status="pending")
    assert (await me.set_status(art_id, "ready")).status is ArtifactStatus.READY
    with pytest.raises(InvalidInputError):
        await me.set_status(art_id, "pending")
    with pytest.raises(InvalidInputError):
        await me.set_status(art_id, "bogus")
    assert (await me.set_status(art_id, "expired")).status is ArtifactStatus.EXPIRED
    failed = await me.create_artifact(b"y", artifact_type="blob", status="pending")
    await me.set_status(failed, "failed")
    with pytest.raises(InvalidInputError):
        await me.set_status(failed, "ready")
    with pytest.raises(InvalidInputError):
        await me.create_artifact(b"z", artifact_type="blob", status="expired")


async def test_wait_for_artifact(plane: ArtifactPlane) -> None:
    me = plane.for_subject(ALICE)
    art_id = await me.create_artifact(b"later", artifact_type="blob", status="pending")
    with pytest.raises(DeadlineExceededError):
        await me.wait_for_artifact(art_id, timeout=0.05)
    async with anyio.create_task_group() as tg:
        results = []

        async def waiter() -> None:
            results.append(await me.wait_for_artifact(artifact_ref(art_id), timeout=10))

        tg.start_soon(waiter)
        await anyio.wait_all_tasks_blocked()
        await me.set_status(art_id, "ready")
    assert results[0].status is ArtifactStatus.READY
    assert (await me.wait_for_artifact(art_id, timeout=0)).status is ArtifactStatus.READY


# -------------------------------------------------------------- TTL and GC


async def test_ttl_sweep_and_gc(plane: ArtifactPlane, clock: Clock) -> None:
    me = plane.for_subject(ALICE)
    short = await me.create_artifact(b"short-lived", artifact_type="blob", ttl=10)
    keep = await me.create_artifact(b"kept", artifact_type="blob")
    orphan = await plane.payloads.put_bytes("acme", b"never registered")
    clock.advance(11)
    assert await plane.sweep_ttl() == 1
    assert (await me.get_meta(short)).status is ArtifactStatus.EXPIRED
    assert (await me.get_meta(keep)).status is ArtifactStatus.READY
    # Payload mtimes are real time: a zero grace collects as of "now" on the wall clock.
    report = await plane.collect_garbage(grace=timedelta(0), now=_wall_now() + timedelta(seconds=1))
    assert set(report.deleted_digests) == {digest_bytes(b"short-lived"), orphan.sha256}
    assert report.deleted == 2
    assert (await me.get_artifact(keep, include_payload=True)).payload == b"kept"
    with pytest.raises(NotFoundError):
        await me.get_artifact(short, include_payload=True)


async def test_gc_grace_keeps_young_payloads(plane: ArtifactPlane) -> None:
    await plane.payloads.put_bytes("acme", b"in flight")
    report = await plane.collect_garbage(grace=timedelta(hours=1), now=_wall_now())
    assert report.deleted == 0
    assert report.kept == 1


async def test_gc_counts_references_by_digest(plane: ArtifactPlane) -> None:
    me = plane.for_subject(ALICE)
    one = await me.create_artifact(b"shared", artifact_type="blob", artifact_id="one")
    await me.create_artifact(b"shared", artifact_type="blob", artifact_id="two")
    await plane.for_subject(STEWARD).delete_artifact(one)
    report = await plane.collect_garbage(grace=timedelta(0), now=_wall_now() + timedelta(seconds=1))
    assert report.deleted == 0
    assert (await me.get_artifact("two", include_payload=True)).payload == b"shared"


def _wall_now():  # type: ignore[no-untyped-def]
    from artifact_plane.models import utcnow

    return utcnow()


# -------------------------------------------------------------------- delete


async def test_delete_and_delete_by_execution(plane: ArtifactPlane) -> None:
    writer = plane.for_subject(ALICE)
    source = await writer.create_artifact(b"src", artifact_type="blob")
    outs = [
        await writer.create_artifact(
            f"out {n}".encode(), artifact_type="blob", execution_id="run-1", inputs=[source]
        )
        for n in range(3)
    ]
    me = plane.for_subject(STEWARD)
    assert sorted(await me.delete_by_execution("run-1")) == sorted(outs)
    for art_id in outs:
        with pytest.raises(NotFoundError):
            await me.get_meta(art_id)
    graph = await me.lineage(source, direction="downstream")
    # The run still consumed the source; its deleted outputs are gone from current lineage.
    assert {n.id for n in graph.nodes} == {source, "run-1"}
    await me.delete_artifact(source)
    with pytest.raises(NotFoundError):
        await me.delete_artifact(source)


# -------------------------------------------------------------------- lineage


async def test_register_lineage_and_walk(plane: ArtifactPlane) -> None:
    me = plane.for_subject(ALICE)
    raw = await me.create_artifact(b"raw", artifact_type="dataset")
    stats = await me.create_artifact(b"stats", artifact_type="analysis_result")
    chart = await me.create_artifact(b"chart", artifact_type="visualization")
    report = await me.create_artifact(b"report", artifact_type="quality_report")
    execution = await me.register_lineage("analyze-1", inputs=[raw], outputs=[stats, chart], intent="analyze")
    assert execution.inputs == (raw,)
    assert execution.outputs == (stats, chart)
    await me.register_lineage("report-1", inputs=[stats], outputs=[report], intent="quality_report")

    one_hop = await me.lineage(raw, direction="downstream", depth=1)
    assert {n.id for n in one_hop.nodes} == {raw, "analyze-1", stats, chart}
    assert not one_hop.is_partial
    full = await me.lineage(raw, direction="downstream", depth=3)
    assert {n.id for n in full.nodes} == {raw, "analyze-1", stats, chart, "report-1", report}
    kinds = {n.id: n.kind for n in full.nodes}
    assert kinds["report-1"] is NodeKind.EXECUTION
    assert kinds[report] is NodeKind.ARTIFACT
    depths = {n.id: n.depth for n in full.nodes}
    assert depths[stats] == 1
    assert depths[report] == 2
    up = await me.lineage(report, direction="upstream", depth=5)
    assert {n.id for n in up.nodes} == {report, "report-1", stats, "analyze-1", raw}
    assert chart not in {n.id for n in up.nodes}
    cut = await me.lineage(raw, direction="downstream", depth=3, max_nodes=3)
    assert cut.is_partial
    assert len(cut.nodes) == 3
    assert "max_nodes" in cut.truncated_by
    fan = await me.lineage(raw, direction="downstream", depth=3, fanout_limit=1)
    assert fan.is_partial
    assert chart not in {n.id for n in fan.nodes}
    from_execution = await me.lineage("analyze-1", direction="both", depth=1)
    assert {n.id for n in from_execution.nodes} == {"analyze-1", raw, stats, chart}
    assert (await me.get_execution("analyze-1")).intent == "analyze"


async def test_create_with_execution_records_edges(plane: ArtifactPlane) -> None:
    me = plane.for_subject(ALICE)
    src = await me.create_artifact(b"in", artifact_type="dataset")
    out = await me.create_artifact(b"out", artifact_type="analysis_result", execution_id="e-9", inputs=[src])
    graph = await me.lineage(out, direction="upstream", depth=1)
    assert {(e.kind.value, e.source_id, e.target_id) for e in graph.edges} == {
        ("PRODUCED", "e-9", out),
        ("CONSUMED_BY", src, "e-9"),
    }
    with pytest.raises(NotFoundError):
        await me.create_artifact(b"x", artifact_type="blob", execution_id="e-9", inputs=["0" * 32])
    with pytest.raises(InvalidInputError):
        await me.create_artifact(b"x", artifact_type="blob", inputs=[src])


async def test_lineage_redacts_what_the_reader_may_not_read(plane: ArtifactPlane) -> None:
    if plane.policy.name != "memory":
        pytest.skip("the 'secret' tag rule belongs to the Python test policy")
    me = plane.for_subject(ADMIN.model_copy(update={"realm": "insights"}))
    src = await me.create_artifact(b"public", artifact_type="dataset")
    hidden = await me.create_artifact(b"classified", artifact_type="dataset", tags=["secret"])
    await me.register_lineage("mix", inputs=[src], outputs=[hidden])
    graph = await plane.for_subject(READER).lineage(src, direction="downstream")
    by_kind = {(n.kind, n.redacted) for n in graph.nodes}
    assert (NodeKind.ARTIFACT, True) in by_kind
    assert hidden not in {n.id for n in graph.nodes}
    assert len(graph.nodes) == 3
    assert len(graph.edges) == 2
    redacted = next(n for n in graph.nodes if n.redacted)
    assert redacted.artifact_type is None
    assert redacted.depth == 1
    assert any(e.target_id == redacted.id for e in graph.edges)


# ----------------------------------------------------------------- bad input


@pytest.mark.parametrize("bad_id", ["..", "a/b", "nul\x00", "tеnant", "", "x" * 129, "../../etc/passwd"])
async def test_bad_ids_are_refused_and_nothing_written(plane: ArtifactPlane, bad_id: str) -> None:
    me = plane.for_subject(ALICE)
    with pytest.raises(InvalidInputError):
        await me.create_artifact(b"data", artifact_type="blob", artifact_id=bad_id)
    with pytest.raises(InvalidInputError):
        await me.get_artifact(bad_id)
    with pytest.raises(InvalidInputError):
        await me.register_lineage(bad_id, inputs=[])
    assert await _payload_count(plane) == 0
    assert await _record_count(plane) == 0


@pytest.mark.parametrize(
    "bad_uri",
    [
        "artifact://insights/../x",
        "artifact://insights/a//b",
        "artifact://insights/nul\x00",
        "artifact://insights/ünïcode",
        "http://insights/x",
        "artifact://insights",
        "artifact://../x/y",
        "artifact://insights/./x",
    ],
)
async def test_bad_uris_are_refused_and_nothing_written(plane: ArtifactPlane, bad_uri: str) -> None:
    me = plane.for_subject(ALICE)
    with pytest.raises(InvalidInputError):
        await me.write(bad_uri, b"data")
    with pytest.raises(InvalidInputError):
        await me.read(bad_uri)
    assert await _payload_count(plane) == 0


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("version", {"version": "1.0"}),
        ("version", {"version": "v1.0.0"}),
        ("ttl", {"ttl": -1}),
        ("ttl", {"ttl": 10**12}),  # past the 32-bit column: refused, not an overflow
        ("mode", {"mode": "overwrite"}),
        ("artifact_type", {"artifact_type": "bad type"}),
        ("tags", {"tags": ["ok", "no spaces"]}),
        ("status", {"status": "done"}),
    ],
)
async def test_bad_fields_are_refused_and_nothing_written(
    plane: ArtifactPlane, field: str, kwargs: dict
) -> None:
    me = plane.for_subject(ALICE)
    with pytest.raises(InvalidInputError) as err:
        await me.write("artifact://self/a.json", b"data", **kwargs)
    assert err.value.field == field
    assert await _payload_count(plane) == 0
    assert await _record_count(plane) == 0


async def test_payload_over_maximum_is_refused_and_nothing_written(plane: ArtifactPlane) -> None:
    me = plane.for_subject(ALICE)

    async def big() -> AsyncIterator[bytes]:
        for _ in range(3):
            yield b"x" * 512 * 1024

    with pytest.raises(InvalidInputError) as err:
        await me.create_artifact(big(), artifact_type="blob")
    assert err.value.field == "payload"
    with pytest.raises(InvalidInputError):
        await me.write("artifact://self/big.bin", b"y" * (1024 * 1024 + 1), mode="failIfExists")
    assert await _payload_count(plane) == 0
    assert await _record_count(plane) == 0
    # The failed first write did not keep the name: failIfExists still works.
    await me.write("artifact://self/big.bin", b"small", mode="failIfExists")


async def test_policy_denial_carries_reasons_and_is_logged(plane: ArtifactPlane) -> None:
    reader = plane.for_subject(READER)
    with pytest.raises(PolicyDeniedError) as err:
        await reader.create_artifact(b"nope", artifact_type="blob")
    assert err.value.reasons
    assert err.value.decision_id
    assert await _payload_count(plane) == 0
    denied = await plane.decisions.query("acme", DecisionFilter(allow=False), limit=10)
    assert [d.decision_id for d in denied] == [err.value.decision_id]
    assert denied[0].action == "create"
    assert denied[0].subject_id == "rita"
    assert list(denied[0].reasons) == err.value.reasons


async def test_every_operation_is_logged(plane: ArtifactPlane) -> None:
    me = plane.for_subject(ALICE)
    art_id = await me.create_artifact(b"logged", artifact_type="blob")
    await me.get_meta(art_id)
    await me.list_artifacts()
    await me.lineage(art_id)
    actions = [d.action for d in await plane.decisions.query("acme", DecisionFilter(), limit=100)]
    assert {"create", "read", "list", "lineage.read"} <= set(actions)
    assert all(d.allow for d in await plane.decisions.query("acme", DecisionFilter(), limit=100))


# ------------------------------------------------------------------- helpers


async def test_module_helpers(plane: ArtifactPlane) -> None:
    me = plane.for_subject(ALICE)
    text_id = await store_text(me, "plain words")
    json_id = await store_json(me, {"k": [1, 2]})
    assert await load_text(me, text_id) == "plain words"
    assert await load_json(me, artifact_ref(json_id)) == {"k": [1, 2]}
    assert is_artifact_ref(artifact_ref(json_id))
    assert not is_artifact_ref({"$artifact": "../x"})
    named = await me.write("artifact://self/doc.json", {"n": 1})
    assert (await resolve_artifact(me, "artifact://insights/doc.json")).artifact_id == named
    assert (await resolve_artifact(me, named)).uri == "artifact://insights/doc.json"
    with pytest.raises(InvalidInputError):
        await load_json(me, text_id)
