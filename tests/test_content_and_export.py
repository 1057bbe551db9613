"""The shipped Rego content and classification rules, end to end on the embedded plane.

Content rules come from each realm's manifest (``content:``), export of pii
(own or inherited along lineage) is for stewards only, and an audit reports
stored artifacts a changed manifest makes non-compliant.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from artifact_plane.audit import audit_policies
from artifact_plane.errors import PolicyDeniedError
from artifact_plane.models import ArtifactFilter, DecisionFilter, Subject
from artifact_plane.plane import ArtifactPlane
from tests.plane_fixtures import ALICE, READER, REPO, STEWARD, open_test_plane

# A person (no realm) who writes: realm permissions do not apply, content rules do.
CARL = Subject(id="carl", tenant="acme", roles=("writer",), realm=None)


def realms_with(tmp_path: Path, realm: str, content: str) -> Path:
    """A copy of the shipped realm manifests with ``realm``'s content section replaced."""
    target = tmp_path / "realms"
    shutil.copytree(REPO / "realms", target)
    manifest = target / realm / "realm.yaml"
    text = manifest.read_text()
    head = text.split("\ncontent:", 1)[0]
    manifest.write_text(f"{head}\ncontent:\n{content}")
    return target


@pytest.fixture
async def plane(tmp_path: Path) -> AsyncIterator[ArtifactPlane]:
    realms = realms_with(
        tmp_path,
        "content",
        "  allowedTypes: [dataset, analysis_result]\n  maxSizeBytes: 100\n  sensitiveTypes: [dataset]\n",
    )
    async for built in open_test_plane("embedded", tmp_path, realms_dir=realms):
        yield built


async def nothing_stored(plane: ArtifactPlane) -> bool:
    rows = await plane.registry.list_artifacts("acme", ArtifactFilter(realm="content"), limit=10)
    return rows == []


async def test_a_type_the_realm_does_not_hold_is_refused_and_nothing_written(plane: ArtifactPlane) -> None:
    me = plane.for_subject(CARL)
    with pytest.raises(PolicyDeniedError) as denied:
        await me.create_artifact(b"plan", artifact_type="roadmap", realm="content")
    assert tuple(denied.value.reasons) == (
        "content_type: type roadmap is not allowed in realm content (allowed: analysis_result, dataset)",
    )
    assert await nothing_stored(plane)
    assert [p async for p in plane.payloads.scan()] == []
    logged = await plane.decisions.query("acme", DecisionFilter(subject_id="carl", allow=False), limit=10)
    assert [d.reasons for d in logged] == [tuple(denied.value.reasons)]


async def test_a_sensitive_type_needs_a_retention_policy(plane: ArtifactPlane) -> None:
    me = plane.for_subject(CARL)
    with pytest.raises(PolicyDeniedError, match="content_retention: type dataset is sensitive"):
        await me.create_artifact(b"rows", artifact_type="dataset", realm="content")
    assert await nothing_stored(plane)
    kept = await me.create_artifact(
        b"rows", artifact_type="dataset", realm="content", retention_policy="keep-7y"
    )
    assert (await me.get_meta(kept)).retention_policy == "keep-7y"


async def test_the_size_limit_holds_for_bytes_and_for_streams(plane: ArtifactPlane) -> None:
    me = plane.for_subject(CARL)
    await me.create_artifact(b"x" * 100, artifact_type="analysis_result", realm="content")  # at the limit
    with pytest.raises(PolicyDeniedError, match="over realm content's limit of 100 bytes"):
        await me.create_artifact(b"x" * 101, artifact_type="analysis_result", realm="content")

    async def stream() -> AsyncIterator[bytes]:
        for _ in range(3):
            yield b"y" * 50

    # A stream's size is known once stored: policy is asked again then, and nothing is registered.
    with pytest.raises(PolicyDeniedError, match="over realm content's limit of 100 bytes"):
        await me.create_artifact(stream(), artifact_type="analysis_result", realm="content")
    rows = await plane.registry.list_artifacts("acme", ArtifactFilter(realm="content"), limit=10)
    assert [r.size_bytes for r in rows] == [100]
    with pytest.raises(PolicyDeniedError, match="over realm content's limit"):
        await me.write("artifact://content/results/big.json", stream(), artifact_type="analysis_result")
    assert await me.versions("artifact://content/results/big.json") == []


async def test_a_files_size_is_known_before_anything_is_stored(plane: ArtifactPlane, tmp_path: Path) -> None:
    me = plane.for_subject(CARL)
    big = tmp_path / "big.bin"
    big.write_bytes(b"z" * 101)
    with big.open("rb") as handle, pytest.raises(PolicyDeniedError, match="over realm content's limit"):
        await me.create_artifact(handle, artifact_type="analysis_result", realm="content")
    assert [p async for p in plane.payloads.scan()] == []  # refused before the payload was written
    with big.open("rb") as handle:
        handle.seek(1)  # what is left to read counts: 100 bytes, at the limit
        kept = await me.create_artifact(handle, artifact_type="analysis_result", realm="content")
    assert (await me.get_meta(kept)).size_bytes == 100
    creates = await plane.decisions.query(
        "acme", DecisionFilter(subject_id="carl", action="create"), limit=10
    )
    assert [d.allow for d in creates] == [False, True]  # one decision each: the size was known


async def test_a_realm_without_content_rules_takes_any_type(plane: ArtifactPlane) -> None:
    art_id = await plane.for_subject(ALICE).create_artifact(b"notes", artifact_type="anything")
    assert (await plane.for_subject(ALICE).get_meta(art_id)).realm == "insights"


async def test_a_sensitive_types_retention_policy_cannot_be_cleared(plane: ArtifactPlane) -> None:
    steward = Subject(id="sue", tenant="acme", roles=("steward",), realm=None)
    kept = await plane.for_subject(CARL).create_artifact(
        b"rows", artifact_type="dataset", realm="content", retention_policy="keep-7y"
    )
    me = plane.for_subject(steward)
    with pytest.raises(PolicyDeniedError, match="its retention_policy cannot be cleared"):
        await me.set_retention(kept, retention_policy=None)
    assert (await me.get_meta(kept)).retention_policy == "keep-7y"
    changed = await me.set_retention(kept, retention_policy="keep-1y")
    assert changed.retention_policy == "keep-1y"


async def pii_lineage(plane: ArtifactPlane) -> tuple[str, str, str]:
    """(a pii source, an artifact derived from it, an unrelated plain artifact), all in insights."""
    me = plane.for_subject(ALICE)
    source = await me.create_artifact(b"emails", artifact_type="contacts", tags=["pii"])
    derived = await me.create_artifact(b"counts", artifact_type="report", execution_id="agg", inputs=[source])
    plain = await me.create_artifact(b"weather", artifact_type="report")
    return source, derived, plain


async def test_pii_and_pii_derived_data_is_exported_by_stewards_only(plane: ArtifactPlane) -> None:
    source, derived, plain = await pii_lineage(plane)
    for subject in (ALICE, READER):
        me = plane.for_subject(subject)
        with pytest.raises(PolicyDeniedError) as own:
            await me.export_payload(source)
        assert tuple(own.value.reasons) == (
            "classification: the artifact is pii: only stewards may export it",
        )
        with pytest.raises(PolicyDeniedError) as inherited:
            await me.export_payload(derived)
        assert tuple(inherited.value.reasons) == (
            "classification: the artifact is derived from pii data (inherited along lineage): "
            "only stewards may export it",
        )
        # Reading inside the plane is not an export.
        assert (await me.get_artifact(derived, include_payload=True)).payload == b"counts"
        export = await me.export_payload(plain)
        assert b"".join([chunk async for chunk in export.open()]) == b"weather"
    export = await plane.for_subject(STEWARD).export_payload(derived)
    assert b"".join([chunk async for chunk in export.open(offset=1, length=3)]) == b"oun"
    denied = await plane.decisions.query("acme", DecisionFilter(action="export", allow=False), limit=10)
    assert {(d.subject_id, d.resource_ref) for d in denied} == {
        (s.id, f"artifact_id:{a}") for s in (ALICE, READER) for a in (source, derived)
    }


async def test_export_follows_realm_read_rules_too(plane: ArtifactPlane) -> None:
    # Journey may read insights' interpretations only: exporting a report is refused like reading it.
    report = await plane.for_subject(ALICE).create_artifact(b"r", artifact_type="report")
    journey = Subject(id="svc", tenant="acme", roles=("reader",), realm="journey")
    with pytest.raises(PolicyDeniedError, match="realm_read: realm journey may not read realm insights"):
        await plane.for_subject(journey).export_payload(report)


async def test_resolving_a_name_is_a_read_decided_by_policy(plane: ArtifactPlane) -> None:
    uri = "artifact://insights/reports/q3.json"
    written = await plane.for_subject(ALICE).write(uri, b"{}", artifact_type="report")
    assert (await plane.for_subject(READER).resolve_uri(uri)).artifact_id == written
    journey = Subject(id="svc", tenant="acme", roles=("reader",), realm="journey")
    with pytest.raises(PolicyDeniedError, match=f"realm_read: realm journey may not read {uri}"):
        await plane.for_subject(journey).resolve_uri(uri)
    logged = await plane.decisions.query("acme", DecisionFilter(subject_id="svc", action="read"), limit=10)
    assert [(d.allow, d.resource_ref) for d in logged] == [(False, f"artifact_id:{written}")]


async def test_an_audit_reports_what_a_stricter_manifest_now_refuses(tmp_path: Path) -> None:
    open_realms = realms_with(tmp_path / "before", "insights", "  maxSizeBytes: 1000\n")
    async for plane in open_test_plane("embedded", tmp_path, realms_dir=open_realms):
        me = plane.for_subject(ALICE)
        await me.create_artifact(b"a", artifact_type="interpretation")
        await me.create_artifact(b"b", artifact_type="scratch")
        await me.create_artifact(b"c" * 500, artifact_type="quality_report")
        report = await audit_policies(plane)
        assert report.violations == []
    strict = realms_with(
        tmp_path / "after",
        "insights",
        "  allowedTypes: [interpretation, quality_report]\n  maxSizeBytes: 100\n",
    )
    async for plane in open_test_plane("embedded", tmp_path, realms_dir=strict):
        report = await audit_policies(plane)
        assert report.scanned == 3
        found = {(v.artifact_type, v.action, v.reasons) for v in report.violations}
        assert found == {
            (
                "scratch",
                "create",
                (
                    "content_type: type scratch is not allowed in realm insights "
                    "(allowed: interpretation, quality_report)",
                ),
            ),
            (
                "quality_report",
                "create",
                (
                    "content_size: the payload is over realm insights's limit of 100 bytes "
                    "(content.maxSizeBytes)",
                ),
            ),
        }
        assert {(rule, realm, n) for rule, realm, _, n in report.groups()} == {
            ("content_type", "insights", 1),
            ("content_size", "insights", 1),
        }
