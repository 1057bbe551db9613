"""Opaque keyset cursors: ``(created_at, id)`` of the last item of a page."""

from __future__ import annotations

import base64
import json
from datetime import datetime

from artifact_plane.errors import InvalidInputError
from artifact_plane.ids import ID_PATTERN


def encode_cursor(created_at: datetime, item_id: str) -> str:
    raw = json.dumps([created_at.isoformat(), item_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> tuple[datetime, str] | None:
    """Parse a cursor made by :func:`encode_cursor`.

    Raises:
        InvalidInputError: anything else (tampered, truncated, from another API).
    """
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        stamp, item_id = json.loads(raw)
        created_at = datetime.fromisoformat(stamp)
    except (ValueError, TypeError) as exc:
        raise InvalidInputError(
            "cursor", "not a cursor this API returned; start from the first page"
        ) from exc
    if created_at.tzinfo is None or not isinstance(item_id, str) or not ID_PATTERN.fullmatch(item_id):
        raise InvalidInputError("cursor", "not a cursor this API returned; start from the first page")
    return created_at, item_id
