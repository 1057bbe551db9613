"""The OPA server policy engine (opa-python-client's asyncio client)."""

from __future__ import annotations

from artifact_plane.adapters.opa.engine import OpaDecision, OpaPolicyEngine

__all__ = ["OpaDecision", "OpaPolicyEngine"]
