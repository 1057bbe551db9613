"""Google Cloud Storage adapters (the ``gcs`` extra: google-cloud-storage)."""

from __future__ import annotations

from artifact_plane.adapters.gcs.payloads import GcsPayloadStore

__all__ = ["GcsPayloadStore"]
