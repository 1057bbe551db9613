"""Code artifacts: manifests, discovery, versions, loading, validation.

An operator is a directory with an ``artifact.yaml`` manifest and the module
its ``entrypoint`` names. Handlers are ``async def run(ctx: OperatorContext)
-> dict`` returning artifact IDs; see :mod:`artifact_plane.executions` for how
they are run and recorded.
"""

from __future__ import annotations

from artifact_plane.operators.context import JSON, MARKDOWN, NPY, SVG, OperatorContext
from artifact_plane.operators.loading import Handler
from artifact_plane.operators.manifest import ANY_SCOPE, MANIFEST_NAME, InputSpec, OperatorManifest
from artifact_plane.operators.registry import BUILTIN_DIR, OperatorRegistry, Problem

__all__ = [
    "ANY_SCOPE",
    "BUILTIN_DIR",
    "JSON",
    "MANIFEST_NAME",
    "MARKDOWN",
    "NPY",
    "SVG",
    "Handler",
    "InputSpec",
    "OperatorContext",
    "OperatorManifest",
    "OperatorRegistry",
    "Problem",
]
