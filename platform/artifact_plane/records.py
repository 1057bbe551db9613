"""Validating caller-given artifact fields and building registry records from them."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError

from artifact_plane.errors import InvalidInputError
from artifact_plane.ids import SemVer, payload_key, validate_id
from artifact_plane.models import ArtifactRecord, ArtifactStatus, StoredPayload, Subject
from artifact_plane.ports.registry import check_ttl

TAG_PATTERN = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
CREATABLE = {ArtifactStatus.PENDING, ArtifactStatus.READY}


def check_tags(values: Sequence[str], field: str) -> tuple[str, ...]:
    if isinstance(values, str):
        raise InvalidInputError(field, "give a list of strings, not one string")
    for value in values:
        if not isinstance(value, str) or not TAG_PATTERN.fullmatch(value):
            raise InvalidInputError(field, f"{value!r} must be 1-64 ASCII letters, digits or '_.:-'")
    return tuple(dict.fromkeys(values))


def parse_status(value: str | ArtifactStatus) -> ArtifactStatus:
    try:
        return ArtifactStatus(value)
    except ValueError:
        names = ", ".join(s.value for s in ArtifactStatus)
        raise InvalidInputError("status", f"{value!r} is not one of {names}") from None


def check_fields(subject: Subject, **given: Any) -> dict[str, Any]:
    """Validate the caller-given artifact fields; the realm defaults to the subject's."""
    realm = given.pop("realm", None) or subject.realm
    if realm is None:
        raise InvalidInputError("realm", "give a realm (the subject has none)")
    validate_id(realm, "realm")
    validate_id(given["artifact_type"], "artifact_type")
    for key in ("execution_id", "session_id", "solution_id"):
        if given.get(key) is not None:
            validate_id(given[key], key)
    if given.get("schema_version") is not None:
        SemVer.parse(given["schema_version"])
    check_ttl(given.get("ttl"))  # bounded too: the SQL column is 32-bit
    if "status" in given:
        given["status"] = parse_status(given["status"])
        if given["status"] not in CREATABLE:
            raise InvalidInputError("status", "new artifacts start pending or ready")
    given["tags"] = check_tags(given.get("tags", ()), "tags")
    given["capabilities"] = check_tags(given.get("capabilities", ()), "capabilities")
    metadata = given.get("metadata")
    given["metadata"] = dict(metadata) if metadata is not None else {}
    unknown = set(given) - set(ArtifactRecord.model_fields)
    if unknown:
        raise InvalidInputError(sorted(unknown)[0], "is not an artifact field")
    return {"realm": realm, "owner": given.pop("owner", None) or subject.id, **given}


def build_record(
    subject: Subject,
    now: datetime,
    fields: Mapping[str, Any],
    stored: StoredPayload,
    artifact_id: str,
    content_type: str,
    encoding: str | None,
) -> ArtifactRecord:
    """The registry record for a stored payload, timestamped ``now``."""
    ttl = fields.get("ttl")
    try:
        return ArtifactRecord(
            **fields,
            artifact_id=artifact_id,
            tenant_id=subject.tenant,
            sha256=stored.sha256,
            payload_key=payload_key(subject.tenant, stored.sha256),
            size_bytes=stored.size_bytes,
            content_type=content_type,
            encoding=encoding,
            expires_at=now + timedelta(seconds=ttl) if ttl is not None else None,
            created_by=subject.id,
            created_at=now,
            updated_at=now,
        )
    except ValidationError as exc:
        error = exc.errors()[0]
        raise InvalidInputError(".".join(map(str, error["loc"])) or "artifact", error["msg"]) from exc
