"""Adapters for the embedded default: a local directory on this machine."""

from __future__ import annotations

from artifact_plane.adapters.local.payloads import LocalPayloadStore

__all__ = ["LocalPayloadStore"]
