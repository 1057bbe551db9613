"""Types shared by every area: paging."""

from __future__ import annotations

import strawberry


@strawberry.type(description="Where a page ends; pass `endCursor` as `after` for the next page.")
class PageInfo:
    has_next_page: bool
    end_cursor: str | None
