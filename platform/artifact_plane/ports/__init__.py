"""Ports: one abstract base class per storage or policy part of the plane."""

from __future__ import annotations

from artifact_plane.ports.decisions import DecisionLog
from artifact_plane.ports.lineage import LineageStore
from artifact_plane.ports.payloads import PayloadStore
from artifact_plane.ports.policy import PolicyEngine
from artifact_plane.ports.registry import Registry

__all__ = ["DecisionLog", "LineageStore", "PayloadStore", "PolicyEngine", "Registry"]
