"""Small CLI-side helpers around settings and the plane."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from artifact_plane.wiring import upgrade_database

__all__ = ["redact_url", "upgrade_database"]


def redact_url(url: str) -> str:
    """``url`` with any password replaced by ``***`` (for printing)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))
