"""Roles at work: only stewards delete artifacts or change their retention (issue 6, roles).

Over memory adapters (a Python stand-in policy), the embedded default (SQLite +
directory + the repository's Rego) and PostgreSQL with the same Rego.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from artifact_plane.adapters.memory import MemoryDecisionLog, MemoryLineageStore, MemoryRegistry
from artifact_plane.adapters.memory.payloads import MemoryPayloadStore
from artifact_plane.adapters.memory.policy import MemoryPolicyEngine
from artifact_plane.errors import InvalidInputError, NotFoundError, PolicyDeniedError
from artifact_plane.models import ArtifactStatus, DecisionFilter, PolicyInput
from artifact_plane.plane import ArtifactPlane
from tests.plane_fixtures import (
    ADMIN,
    ALICE,
    BOB_OTHER_TENANT,
    READER,
    STEWARD,
    Clock,
    open_test_plane,
    roles_rule,
    settings_for,
)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(params=["memory", "embedded", "postgres"])
async def plane(request: pytest.FixtureRequest, tmp_path: Path, clock: Clock) -> AsyncIterator[ArtifactPlane]:
    async for built in open_test_plane(request.param, tmp_path, clock, request=request):
        yield built


async def _denials(plane: ArtifactPlane, action: str) -> list[Any]:
    return await plane.decisions.query("acme", DecisionFilter(allow=False, action=action), limit=50)


def _assert_roles_reason(err: PolicyDeniedError, action: str) -> None:
    """The denial names the roles rule and the action (Rego and the stand-in word it apart)."""
    assert err.reasons, err
    assert all(reason.startswith("roles: ") for reason in err.reasons), err.reasons
    assert any(action in reason for reason in err.reasons), err.reasons


# -------------------------------------------------------------------- delete


@pytest.mark.parametrize("who", [ALICE, ADMIN, READER], ids=["writer", "admin", "reader"])
async def test_only_stewards_delete(plane: ArtifactPlane, who: Any) -> None:
    art_id = await plane.for_subject(ALICE).create_artifact(b"keep me", artifact_type="blob")
    with pytest.raises(PolicyDeniedError) as err:
        await plane.for_subject(who).delete_artifact(art_id)
    _assert_roles_reason(err.value, "delete")
    denied = await _denials(plane, "delete")
    assert [(d.decision_id, d.subject_id) for d in denied] == [(err.value.decision_id, who.id)]
    assert list(denied[0].reasons) == err.value.reasons
    # Nothing was deleted; a steward may.
    assert (await plane.for_subject(ALICE).get_meta(art_id)).status is ArtifactStatus.READY
    deleted = await plane.for_subject(STEWARD).delete_artifact(art_id)
    assert deleted.artifact_id == art_id
    with pytest.raises(NotFoundError):
        await plane.for_subject(ALICE).get_meta(art_id)


async def test_a_writers_delete_by_execution_deletes_none(plane: ArtifactPlane) -> None:
    writer = plane.for_subject(ALICE)
    outs = [
        await writer.create_artifact(f"out {n}".encode(), artifact_type="blob", execution_id="run-9")
        for n in range(3)
    ]
    with pytest.raises(PolicyDeniedError) as err:
        await writer.delete_by_execution("run-9")
    _assert_roles_reason(err.value, "delete")
    for art_id in outs:
        assert (await writer.get_meta(art_id)).artifact_id == art_id
    assert sorted(await plane.for_subject(STEWARD).delete_by_execution("run-9")) == sorted(outs)


# ----------------------------------------------------------------- retention


async def test_steward_changes_retention_and_expiry_follows_creation(
    plane: ArtifactPlane, clock: Clock
) -> None:
    created = clock.now
    art_id = await plane.for_subject(ALICE).create_artifact(
        b"kept a while", artifact_type="blob", ttl=60, retention_policy="short"
    )
    clock.advance(30)
    steward = plane.for_subject(STEWARD)

    longer = await steward.set_retention(art_id, ttl=3600)
    assert (longer.retention_policy, longer.ttl) == ("short", 3600)
    assert longer.expires_at == created + timedelta(seconds=3600)  # from creation, not from now
    assert longer.updated_at == clock.now

    renamed = await steward.set_retention(art_id, retention_policy="keep-7y")
    assert (renamed.retention_policy, renamed.ttl, renamed.expires_at) == ("keep-7y", 3600, longer.expires_at)

    both = await steward.set_retention(art_id, retention_policy="legal_hold", ttl=None)
    assert (both.retention_policy, both.ttl, both.expires_at) == ("legal_hold", None, None)
    assert await plane.for_subject(ALICE).get_meta(art_id) == both
    # Kept forever now: the sweep passes it by.
    assert await plane.sweep_ttl(now=created + timedelta(days=365)) == 0

    cleared = await steward.set_retention(art_id, retention_policy=None, ttl=10)
    assert (cleared.retention_policy, cleared.ttl) == (None, 10)
    assert await plane.sweep_ttl(now=clock.now) == 1
    assert (await steward.get_meta(art_id)).status is ArtifactStatus.EXPIRED
    allowed = await plane.decisions.query("acme", DecisionFilter(action="retention", allow=True), limit=10)
    assert len(allowed) == 4
    assert {d.subject_id for d in allowed} == {STEWARD.id}


@pytest.mark.parametrize("who", [ALICE, ADMIN, READER], ids=["writer", "admin", "reader"])
async def test_others_may_not_change_retention(plane: ArtifactPlane, who: Any) -> None:
    art_id = await plane.for_subject(ALICE).create_artifact(b"mine", artifact_type="blob", ttl=60)
    before = await plane.for_subject(ALICE).get_meta(art_id)
    with pytest.raises(PolicyDeniedError) as err:
        await plane.for_subject(who).set_retention(art_id, ttl=None)
    _assert_roles_reason(err.value, "retention")
    denied = await _denials(plane, "retention")
    assert [(d.decision_id, d.subject_id) for d in denied] == [(err.value.decision_id, who.id)]
    assert await plane.for_subject(ALICE).get_meta(art_id) == before


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({}, "retention"),
        ({"ttl": -1}, "ttl"),
        ({"ttl": 2**31}, "ttl"),
        ({"ttl": 1.5}, "ttl"),
        ({"ttl": True}, "ttl"),
        ({"ttl": "60"}, "ttl"),
        ({"retention_policy": "keep 7 years"}, "retention_policy"),
        ({"retention_policy": ""}, "retention_policy"),
        ({"retention_policy": "../etc"}, "retention_policy"),
        ({"retention_policy": 7}, "retention_policy"),
    ],
    ids=[
        "nothing",
        "negative",
        "too-large",
        "float",
        "bool",
        "text-ttl",
        "spaces",
        "empty",
        "path",
        "number",
    ],
)
async def test_bad_retention_input_writes_nothing(
    plane: ArtifactPlane, change: dict[str, Any], field: str
) -> None:
    art_id = await plane.for_subject(ALICE).create_artifact(b"x", artifact_type="blob", ttl=60)
    before = await plane.for_subject(ALICE).get_meta(art_id)
    with pytest.raises(InvalidInputError) as err:
        await plane.for_subject(STEWARD).set_retention(art_id, **change)
    assert err.value.field == field
    assert await plane.for_subject(ALICE).get_meta(art_id) == before
    # Refused before policy was asked: nothing logged either.
    assert await plane.decisions.query("acme", DecisionFilter(action="retention"), limit=10) == []


@pytest.mark.parametrize("final", [ArtifactStatus.EXPIRED, ArtifactStatus.FAILED])
async def test_final_artifacts_keep_their_retention(plane: ArtifactPlane, final: ArtifactStatus) -> None:
    writer = plane.for_subject(ALICE)
    art_id = await writer.create_artifact(b"done", artifact_type="blob", status="pending", ttl=60)
    if final is ArtifactStatus.EXPIRED:
        await writer.set_status(art_id, "ready")
    await writer.set_status(art_id, final)
    before = await writer.get_meta(art_id)
    with pytest.raises(InvalidInputError) as err:
        await plane.for_subject(STEWARD).set_retention(art_id, ttl=None)
    assert err.value.field == "status"
    assert final.value in str(err.value)
    assert await writer.get_meta(art_id) == before


async def test_a_pending_artifacts_retention_changes(plane: ArtifactPlane) -> None:
    art_id = await plane.for_subject(ALICE).create_artifact(b"soon", artifact_type="blob", status="pending")
    changed = await plane.for_subject(STEWARD).set_retention(art_id, retention_policy="short")
    assert (changed.status, changed.retention_policy) == (ArtifactStatus.PENDING, "short")


async def test_retention_of_missing_or_other_tenants_artifact_is_not_found(plane: ArtifactPlane) -> None:
    theirs = await plane.for_subject(BOB_OTHER_TENANT).create_artifact(b"globex", artifact_type="blob")
    steward = plane.for_subject(STEWARD)
    for art_id in (theirs, "no-such-artifact"):
        with pytest.raises(NotFoundError):
            await steward.set_retention(art_id, ttl=1)
    with pytest.raises(InvalidInputError):
        await steward.set_retention("../x", ttl=1)
    assert (await plane.for_subject(BOB_OTHER_TENANT).get_meta(theirs)).ttl is None


# ------------------------------------------------------- what policy is shown


async def test_policy_decides_on_the_record_and_the_requested_change(tmp_path: Path, clock: Clock) -> None:
    seen: list[PolicyInput] = []

    def rule(request: PolicyInput) -> tuple[bool, list[str]]:
        seen.append(request)
        if request.action == "retention" and request.resource.get("new_ttl") is None:
            return False, ["retention: keep-forever needs a legal hold"]
        return roles_rule(request)

    lineage, decisions = MemoryLineageStore(), MemoryDecisionLog()
    plane = ArtifactPlane(
        registry=MemoryRegistry(lineage=lineage, decisions=decisions),
        payloads=MemoryPayloadStore(),
        lineage=lineage,
        policy=MemoryPolicyEngine(rule),
        decisions=decisions,
        settings=settings_for(tmp_path),
        clock=clock,
    )
    art_id = await plane.for_subject(ALICE).create_artifact(
        b"watched", artifact_type="blob", ttl=60, retention_policy="short"
    )
    steward = plane.for_subject(STEWARD)
    await steward.set_retention(art_id, ttl=120)
    asked = [r for r in seen if r.action == "retention"]
    assert len(asked) == 1
    resource = asked[0].resource
    assert (resource["artifact_id"], resource["tenant_id"]) == (art_id, "acme")
    assert (resource["retention_policy"], resource["ttl"]) == ("short", 60)  # as it is
    assert (resource["new_retention_policy"], resource["new_ttl"]) == ("short", 120)  # as asked
    with pytest.raises(PolicyDeniedError) as err:
        await steward.set_retention(art_id, ttl=None)
    assert err.value.reasons == ["retention: keep-forever needs a legal hold"]
    assert (await steward.get_meta(art_id)).ttl == 120
    await plane.close()


async def test_a_change_racing_a_status_move_is_decided_afresh(plane: ArtifactPlane, clock: Clock) -> None:
    """The registry refuses a change made on a stale read; set_retention reads, decides and writes again."""
    art_id = await plane.for_subject(ALICE).create_artifact(b"racy", artifact_type="blob", status="pending")
    registry = plane.registry
    original = registry.update_retention
    moves = 0

    async def move_first(*args: Any, **kwargs: Any) -> Any:
        nonlocal moves
        if moves == 0:  # another writer finishes the artifact between the read and the write
            moves += 1
            clock.advance(1)
            await registry.update_status(
                "acme", art_id, [ArtifactStatus.PENDING], ArtifactStatus.READY, clock()
            )
        return await original(*args, **kwargs)

    registry.update_retention = move_first  # type: ignore[method-assign]
    changed = await plane.for_subject(STEWARD).set_retention(art_id, retention_policy="short")
    assert (changed.status, changed.retention_policy) == (ArtifactStatus.READY, "short")
    retention = await plane.decisions.query("acme", DecisionFilter(action="retention"), limit=10)
    assert len(retention) == 2  # decided on the pending record, then on the ready one

    async def expire_first(*args: Any, **kwargs: Any) -> Any:
        clock.advance(1)
        await registry.update_status("acme", art_id, [ArtifactStatus.READY], ArtifactStatus.EXPIRED, clock())
        registry.update_retention = original  # type: ignore[method-assign]
        return await original(*args, **kwargs)

    registry.update_retention = expire_first  # type: ignore[method-assign]
    with pytest.raises(InvalidInputError) as err:
        await plane.for_subject(STEWARD).set_retention(art_id, ttl=5)
    assert "expired" in str(err.value)
    assert (await plane.for_subject(ALICE).get_meta(art_id)).ttl is None
