"""The in-process Rego policy engine (regopy)."""

from __future__ import annotations

from artifact_plane.adapters.rego.engine import DEFAULT_ENTRYPOINT, RegoPolicyEngine, policy_revision

__all__ = ["DEFAULT_ENTRYPOINT", "RegoPolicyEngine", "policy_revision"]
