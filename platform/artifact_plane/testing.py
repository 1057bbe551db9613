"""A pytest plugin for operator authors: the ``artifact_context`` fixture.

Registered through the ``pytest11`` entry point, so any project that installs
artifact-plane can write::

    def test_my_operator(artifact_context):
        run = artifact_context.run(Path(__file__).parent, params={"name": "q3"})
        assert run.ok, run.error
        assert run.json("report")["rows"] == 8

``run`` loads the operator in that directory and runs it once on a fresh
embedded plane (SQLite + local payloads + in-process Rego, in the test's
temporary directory) with its sample inputs; ``run_async`` does the same
from an async test. Policies and realm manifests come from ``AP_POLICY_DIR``
and ``AP_REALMS_DIR`` (default ``policies/`` and ``realms/``).

This module stays importable without side effects: pytest loads it for
every session of every project that has the package installed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from artifact_plane.operators.sandbox import SandboxRun
    from artifact_plane.settings import Settings

__all__ = ["ArtifactContext", "artifact_context"]


@dataclass
class ArtifactContext:
    """Runs operators in isolation under one scratch directory."""

    scratch: Path
    _runs: int = 0

    def _settings(self) -> Settings:
        from artifact_plane.operators.sandbox import sandbox_settings

        self._runs += 1
        return sandbox_settings(self.scratch / f"plane-{self._runs}")

    async def run_async(
        self,
        operator_dir: Path | str,
        *,
        params: Mapping[str, Any] | None = None,
        inputs: Mapping[str, bytes] | None = None,
        realm: str | None = None,
    ) -> SandboxRun:
        """Run the operator in ``operator_dir``; return a ``SandboxRun`` (outputs, payloads, execution)."""
        from artifact_plane.operators.manifest import MANIFEST_NAME, load_manifest
        from artifact_plane.operators.sandbox import run_isolated

        manifest = load_manifest(Path(operator_dir) / MANIFEST_NAME)
        return await run_isolated(manifest, self._settings(), params=params, inputs=inputs, realm=realm)

    def run(
        self,
        operator_dir: Path | str,
        *,
        params: Mapping[str, Any] | None = None,
        inputs: Mapping[str, bytes] | None = None,
        realm: str | None = None,
    ) -> SandboxRun:
        """:meth:`run_async` from a synchronous test."""
        return asyncio.run(self.run_async(operator_dir, params=params, inputs=inputs, realm=realm))


@pytest.fixture
def artifact_context(tmp_path: Path) -> ArtifactContext:
    """Run a code artifact in isolation on an embedded plane (see the module docstring)."""
    return ArtifactContext(tmp_path / "artifact-context")
