"""Builders of valid domain values for tests: fill sound defaults, override what matters.

Timestamps are explicit (``ts(seconds)`` counts from a fixed UTC instant), so
no test ever needs the wall clock or a sleep.
"""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from artifact_plane.ids import SemVer, compute_artifact_id, digest_bytes, payload_key
from artifact_plane.models import (
    ArtifactRecord,
    ArtifactStatus,
    DecisionRecord,
    EdgeKind,
    Execution,
    LineageEdge,
)

__all__ = [
    "T0",
    "consumed",
    "make_decision",
    "make_execution",
    "make_full_record",
    "make_record",
    "produced",
    "ts",
]

T0 = datetime(2024, 1, 1, tzinfo=UTC)
_serial = itertools.count()


def ts(seconds: float = 0.0) -> datetime:
    """``T0`` plus ``seconds`` (tz-aware UTC)."""
    return T0 + timedelta(seconds=seconds)


def make_record(
    tenant: str = "t1",
    artifact_id: str | None = None,
    *,
    data: bytes | None = None,
    **overrides: Any,
) -> ArtifactRecord:
    """A valid, ready :class:`ArtifactRecord` of ``tenant``.

    Args:
        tenant: the record's ``tenant_id``.
        artifact_id: explicit ID; by default content-addressed from the payload
            (and ``uri``/``version`` when given), as the plane computes it.
        data: the payload bytes the digest, key and size come from; unique
            bytes per call by default, so two records never share a digest
            unless a test says so.
        **overrides: any other :class:`ArtifactRecord` field. ``version``
            also sets ``version_key``, ``ttl`` also sets ``expires_at`` and
            ``created_at`` also sets ``updated_at``, unless those are given too.
    """
    if data is None:
        data = f"payload #{next(_serial)}".encode()
    digest = overrides.pop("sha256", None) or digest_bytes(data)
    created_at = overrides.pop("created_at", T0)
    uri = overrides.get("uri")
    version = overrides.get("version")
    fields: dict[str, Any] = {
        "artifact_id": artifact_id or compute_artifact_id(digest=digest, uri=uri, version=version),
        "artifact_type": "report",
        "tenant_id": tenant,
        "realm": "insights",
        "sha256": digest,
        "payload_key": payload_key(tenant, digest),
        "size_bytes": len(data),
        "content_type": "application/json",
        "created_at": created_at,
        "updated_at": created_at,
    }
    if version is not None:
        fields["version_key"] = SemVer.parse(version).sort_key()
    if overrides.get("ttl") is not None:
        fields["expires_at"] = created_at + timedelta(seconds=overrides["ttl"])
    fields.update(overrides)
    return ArtifactRecord(**fields)


def make_full_record(tenant: str = "t1", artifact_id: str = "art-full_1") -> ArtifactRecord:
    """A record with every field set away from its default, for round-trip checks.

    Microsecond timestamps, a size beyond 32 bits, build metadata in the
    version, unsorted tags, nested and non-ASCII metadata.
    """
    created = datetime(2024, 3, 5, 7, 8, 9, 123456, tzinfo=UTC)
    return make_record(
        tenant,
        artifact_id,
        artifact_type="dataset",
        realm="outcomes",
        size_bytes=5_000_000_000,
        content_type="text/csv",
        encoding="utf-8",
        session_id="sess-1",
        solution_id="sol-1",
        intent_type="quality_report",
        execution_id="exec-9",
        owner="alice",
        uri="artifact://outcomes/data/q3.csv",
        version="1.2.3-rc.1+build.5",
        schema_version="2",
        status=ArtifactStatus.PENDING,
        ttl=3600,
        regenerable=True,
        retention_policy="short",
        capabilities=("stream", "read"),
        tags=("b-tag", "a-tag"),
        metadata={"rows": 12, "score": 0.75, "text": "héllo ✓", "nested": {"cols": ["a"], "none": None}},
        created_by="svc-outcomes",
        created_at=created,
        updated_at=created + timedelta(seconds=1, microseconds=1),
    )


def make_execution(tenant: str = "t1", execution_id: str = "exec-1", **overrides: Any) -> Execution:
    """A valid :class:`Execution` of ``tenant`` started at ``T0``."""
    fields: dict[str, Any] = {"execution_id": execution_id, "tenant_id": tenant, "started_at": T0}
    fields.update(overrides)
    return Execution(**fields)


def produced(execution_id: str, artifact_id: str, *, tenant: str = "t1", at: datetime = T0) -> LineageEdge:
    """``execution -PRODUCED-> artifact``, open since ``at``."""
    return LineageEdge(
        tenant_id=tenant,
        kind=EdgeKind.PRODUCED,
        source_id=execution_id,
        target_id=artifact_id,
        created_at=at,
    )


def consumed(artifact_id: str, execution_id: str, *, tenant: str = "t1", at: datetime = T0) -> LineageEdge:
    """``artifact -CONSUMED_BY-> execution``, open since ``at``."""
    return LineageEdge(
        tenant_id=tenant,
        kind=EdgeKind.CONSUMED_BY,
        source_id=artifact_id,
        target_id=execution_id,
        created_at=at,
    )


def make_decision(tenant: str = "t1", decision_id: str | None = None, **overrides: Any) -> DecisionRecord:
    """A valid allowing :class:`DecisionRecord` of ``tenant`` made at ``T0``."""
    fields: dict[str, Any] = {
        "decision_id": decision_id or uuid.uuid4().hex,
        "created_at": T0,
        "tenant_id": tenant,
        "subject_id": "alice",
        "action": "read",
        "resource_ref": "artifact:a1",
        "allow": True,
        "reasons": (),
        "revision": "rev-1",
        "engine": "memory",
        "latency_ms": 0.5,
    }
    fields.update(overrides)
    return DecisionRecord(**fields)
