"""What every area shares: paging types and the checks of paging arguments."""

from __future__ import annotations

import base64
import binascii

import strawberry

from artifact_plane.errors import InvalidInputError
from artifact_plane.settings import Settings


@strawberry.type(
    description="Where a page starts and ends (Relay); pass `endCursor` as `after` for the next page. "
    "Paging is forward only: `hasPreviousPage` says whether `after` skipped anything."
)
class PageInfo:
    has_next_page: bool
    end_cursor: str | None
    has_previous_page: bool = False
    start_cursor: str | None = None


def check_first(first: int | None, settings: Settings) -> int:
    """The page size asked for, or the default (Raises: InvalidInputError naming the limit)."""
    if first is None:
        return min(settings.default_page_size, settings.max_page_size)
    if not 1 <= first <= settings.max_page_size:
        raise InvalidInputError(
            "first", f"{first} must be between 1 and {settings.max_page_size} (AP_MAX_PAGE_SIZE)"
        )
    return first


def inline_payload(text: str | None, base64_data: str | None) -> bytes | str:
    """A small inline payload: exactly one of text and base64 (Raises: InvalidInputError)."""
    if (text is None) == (base64_data is None):
        raise InvalidInputError("input", "give exactly one of text and base64")
    if text is not None:
        return text
    assert base64_data is not None
    try:
        return base64.b64decode(base64_data, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInputError("base64", "is not valid base64 (standard alphabet, padded)") from None
