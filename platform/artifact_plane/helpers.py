"""Module helpers on top of a scoped plane: references, text and JSON."""

from __future__ import annotations

import json
from typing import Any

from artifact_plane.errors import InvalidInputError
from artifact_plane.models import ArtifactRecord
from artifact_plane.scoped import ScopedPlane


async def resolve_artifact(plane: ScopedPlane, ref: object) -> ArtifactRecord:
    """The record behind an ID, an ``artifact_ref`` dict or an ``artifact://`` name (policy-checked).

    Raises:
        NotFoundError: nothing by that reference.
        InvalidInputError: not a reference at all.
        PolicyDeniedError: you may not read it.
    """
    record = await plane._resolve_ref(ref)
    await plane._plane.authz.require(plane.subject, "read", [record.resource()])
    return record


async def store_text(plane: ScopedPlane, text: str, *, artifact_type: str = "text", **fields: Any) -> str:
    """Create a UTF-8 text artifact; return its ID."""
    fields.setdefault("content_type", "text/plain; charset=utf-8")
    return await plane.create_artifact(text, artifact_type=artifact_type, **fields)


async def store_json(plane: ScopedPlane, document: Any, *, artifact_type: str = "json", **fields: Any) -> str:
    """Create a JSON artifact (canonical serialisation, so equal documents share an ID)."""
    try:
        raw = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError("document", f"not JSON-serialisable: {exc}") from exc
    fields.setdefault("content_type", "application/json")
    return await plane.create_artifact(raw.encode(), artifact_type=artifact_type, encoding="utf-8", **fields)


async def load_text(plane: ScopedPlane, ref: object) -> str:
    """The payload of a text artifact, decoded."""
    record = await resolve_artifact(plane, ref)
    artifact = await plane.get_artifact(record.artifact_id, include_payload=True)
    return artifact.text()


async def load_json(plane: ScopedPlane, ref: object) -> Any:
    """The payload of a JSON artifact, parsed.

    Raises:
        InvalidInputError: the payload is not JSON.
    """
    text = await load_text(plane, ref)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInputError("payload", f"artifact is not JSON: {exc}") from exc
