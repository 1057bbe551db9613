"""Planes for behaviour tests: memory adapters, and the embedded default (SQLite + directory + Rego)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from artifact_plane.adapters.memory import MemoryDecisionLog, MemoryLineageStore, MemoryRegistry
from artifact_plane.adapters.memory.payloads import MemoryPayloadStore
from artifact_plane.adapters.memory.policy import MemoryPolicyEngine
from artifact_plane.models import PolicyInput, Subject
from artifact_plane.plane import ArtifactPlane
from artifact_plane.settings import Settings
from artifact_plane.wiring import build_plane

REPO = Path(__file__).resolve().parents[1]
WRITE_ACTIONS = {"create", "update", "lineage.register"}
STEWARD_ACTIONS = {"delete", "retention"}


def roles_rule(request: PolicyInput) -> tuple[bool, list[str]]:
    """A Python stand-in for the Rego set: tenant isolation, roles (only stewards delete or
    change retention), and a 'secret' tag."""
    subject, resource = request.subject, request.resource
    if resource.get("tenant_id") not in (None, subject.tenant):
        return False, [f"tenant_isolation: {subject.tenant} may not touch {resource.get('tenant_id')}"]
    roles = set(subject.roles)
    if request.action in WRITE_ACTIONS and not roles & {"writer", "steward", "admin"}:
        return False, [f"roles: {request.action} needs writer"]
    if request.action in STEWARD_ACTIONS and "steward" not in roles:
        return False, [f"roles: {request.action} needs steward"]
    if "secret" in (resource.get("tags") or ()) and "admin" not in roles and request.action == "read":
        return False, ["classification: secret artifacts are for admins"]
    return True, []


@dataclass
class Clock:
    """A settable clock so TTL and GC tests need no sleeps."""

    now: datetime = field(default_factory=lambda: datetime(2026, 1, 1, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def settings_for(tmp_path: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "data_dir": tmp_path / "data",
        "policy_dir": REPO / "policies",
        "realms_dir": REPO / "realms",
        "_env_file": None,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


async def open_test_plane(
    kind: str,
    tmp_path: Path,
    clock: Callable[[], datetime] | None = None,
    *,
    request: pytest.FixtureRequest | None = None,
    **overrides: object,
) -> AsyncIterator[ArtifactPlane]:
    """Yield an initialised plane of ``kind`` and close it after.

    ``memory``: memory adapters and a Python policy; ``embedded``: SQLite +
    local directory + Rego; ``postgres``: the same on a fresh PostgreSQL
    database (needs ``request``, to reach the ``postgres_url`` fixture).
    """
    if kind == "postgres":
        if request is None:
            raise ValueError("the postgres plane needs the test's request")
        overrides["registry_url"] = request.getfixturevalue("postgres_url")
    settings = settings_for(tmp_path, **overrides)
    if kind == "memory":
        lineage, decisions = MemoryLineageStore(), MemoryDecisionLog()
        plane = ArtifactPlane(
            registry=MemoryRegistry(lineage=lineage, decisions=decisions),
            payloads=MemoryPayloadStore(),
            lineage=lineage,
            policy=MemoryPolicyEngine(roles_rule),
            decisions=decisions,
            settings=settings,
        )
    else:
        plane = build_plane(settings)
    if clock is not None:
        plane.clock = clock
    await plane.registry.initialize()
    try:
        yield plane
    finally:
        await plane.close()


ALICE = Subject(id="alice", tenant="acme", roles=("writer",), realm="insights")
BOB_OTHER_TENANT = Subject(id="bob", tenant="globex", roles=("writer",), realm="insights")
READER = Subject(id="rita", tenant="acme", roles=("reader",), realm="insights")
ADMIN = Subject(id="ada", tenant="acme", roles=("admin",), realm=None)
# Only stewards delete artifacts or change their retention.
STEWARD = Subject(id="stu", tenant="acme", roles=("steward",), realm="insights")
