"""Artifact Plane: graph-backed lineage and governance for artifacts."""

from __future__ import annotations

from artifact_plane.ids import artifact_ref, compute_artifact_id, is_artifact_ref
from artifact_plane.models import Artifact, ArtifactRecord, ArtifactStatus, Subject
from artifact_plane.settings import Settings

__all__ = [
    "Artifact",
    "ArtifactRecord",
    "ArtifactStatus",
    "Settings",
    "Subject",
    "artifact_ref",
    "compute_artifact_id",
    "is_artifact_ref",
]
