"""Validating a code artifact: manifest, entrypoint, and a real run of a generated sample.

The checks, in order (a failed check stops the ones that depend on it):

1. ``manifest`` — ``artifact.yaml`` parses and validates;
2. ``entrypoint`` — the module inside the operator directory imports and the
   callable is an ``async def``;
3. ``sample`` — params generated from the input schema satisfy it;
4. ``run`` — the handler runs on a throw-away embedded plane with the sample
   inputs, succeeds, and returns a dict of artifact IDs matching the output
   schema.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from artifact_plane.errors import ArtifactPlaneError
from artifact_plane.operators.loading import load_handler
from artifact_plane.operators.manifest import MANIFEST_NAME, OperatorManifest, load_manifest
from artifact_plane.operators.sandbox import run_isolated, sandbox_settings
from artifact_plane.operators.schemas import check, sample
from artifact_plane.settings import Settings

__all__ = ["Check", "ValidationReport", "validate_directory", "validate_manifest"]


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


@dataclass
class ValidationReport:
    """The checks run on one operator directory."""

    source: str
    ref: str | None = None
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)

    def add(self, name: str, ok: bool, detail: str) -> bool:
        self.checks.append(Check(name, ok, detail))
        return ok


async def validate_manifest(manifest: OperatorManifest, settings: Settings) -> ValidationReport:
    """Run checks 2-4 on an already valid manifest."""
    report = ValidationReport(str(manifest.directory / MANIFEST_NAME), manifest.ref)
    report.add("manifest", True, f"{manifest.ref} ({manifest.scope}/{manifest.intent})")
    try:
        load_handler(manifest)
    except ArtifactPlaneError as exc:
        report.add("entrypoint", False, str(exc))
        return report
    report.add("entrypoint", True, f"{manifest.entrypoint} is an async callable")
    params = sample(manifest.input_schema)
    try:
        check(manifest.input_schema, params, "sample params")
    except ArtifactPlaneError as exc:
        report.add("sample", False, f"{exc} — add 'examples' or defaults to the input schema")
        return report
    report.add("sample", True, f"params {params}")
    with tempfile.TemporaryDirectory(prefix="ap-validate-") as scratch:
        try:
            run = await run_isolated(manifest, sandbox_settings(Path(scratch), settings), params=params)
        except ArtifactPlaneError as exc:
            report.add("run", False, str(exc))
            return report
    if not run.ok:
        report.add("run", False, f"execution {run.execution.execution_id} failed: {run.error}")
    else:
        shown = ", ".join(f"{k}={v}" for k, v in run.outputs.items())
        report.add("run", True, f"returned a dict of artifact IDs: {shown or '(empty)'}")
    return report


async def validate_directory(directory: Path, settings: Settings) -> ValidationReport:
    """All four checks on the operator in ``directory`` (which holds ``artifact.yaml``)."""
    path = directory / MANIFEST_NAME
    try:
        manifest = load_manifest(path)
    except ArtifactPlaneError as exc:
        report = ValidationReport(str(path))
        report.add("manifest", False, str(exc))
        return report
    return await validate_manifest(manifest, settings)
