"""Running one operator in isolation on a throw-away embedded plane.

Used by ``artifact-plane operator validate`` and the ``artifact_context``
pytest fixture: a fresh SQLite registry and payload directory under a
temporary directory, the real Rego policies and realm manifests, a registry
holding only the operator under test, its sample inputs created in their
realms, then a real :meth:`run_intent`. Payloads of the outputs are read back
so callers can check the documents.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from artifact_plane.errors import InvalidInputError
from artifact_plane.models import Execution, Subject
from artifact_plane.operators.manifest import ANY_SCOPE, OperatorManifest
from artifact_plane.operators.registry import OperatorRegistry
from artifact_plane.operators.schemas import sample
from artifact_plane.settings import Settings

__all__ = ["SandboxRun", "run_isolated", "sandbox_settings"]

TENANT = "sandbox"
TESTER = Subject(id="operator-test", tenant=TENANT, roles=("writer",))
SAMPLE_CREATOR = Subject(id="operator-samples", tenant=TENANT, roles=("admin",))


@dataclass
class SandboxRun:
    """What the isolated run did, with output payloads loaded."""

    manifest: OperatorManifest
    execution: Execution
    params: dict[str, Any]
    inputs: dict[str, str]
    outputs: dict[str, str | list[str]] = field(default_factory=dict)
    payloads: dict[str, bytes] = field(default_factory=dict)  # output name -> bytes of its first ID
    content_types: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.execution.status.value == "succeeded"

    @property
    def error(self) -> str | None:
        return self.execution.error

    def payload(self, name: str) -> bytes:
        if name not in self.payloads:
            raise KeyError(
                f"no output {name!r} (outputs: {', '.join(self.payloads) or 'none'}; error: {self.error})"
            )
        return self.payloads[name]

    def text(self, name: str) -> str:
        return self.payload(name).decode("utf-8")

    def json(self, name: str) -> Any:
        return json.loads(self.text(name))


def sandbox_settings(data_dir: Path, base: Settings | None = None) -> Settings:
    """Embedded settings under ``data_dir``, keeping the policy and realm directories of ``base``."""
    base = base or Settings()
    return Settings(
        data_dir=data_dir,
        registry_url=None,
        payloads_url=None,
        lineage_url="sql",
        policy_url="rego",
        policy_dir=base.policy_dir,
        realms_dir=base.realms_dir,
        operator_dirs=[],
        _env_file=None,
    )


def _sample_input(manifest: OperatorManifest, name: str) -> bytes:
    spec = manifest.inputs[name]
    if spec.sample is None:
        raise InvalidInputError(
            f"{manifest.ref}: inputs.{name}.sample", "give a sample file so the operator can run in isolation"
        )
    path = (manifest.directory / spec.sample).resolve()
    if not path.is_relative_to(manifest.directory.resolve()) or not path.is_file():
        raise InvalidInputError(
            f"{manifest.ref}: inputs.{name}.sample", f"{path} is not a file in the operator"
        )
    return path.read_bytes()


async def run_isolated(
    manifest: OperatorManifest,
    settings: Settings,
    *,
    params: Mapping[str, Any] | None = None,
    inputs: Mapping[str, bytes] | None = None,
    realm: str | None = None,
) -> SandboxRun:
    """Run ``manifest`` once on a fresh embedded plane built from ``settings``.

    ``params`` default to a sample generated from the input schema; ``inputs``
    (raw payload bytes by input name) default to the manifest's sample files.

    Raises:
        InvalidInputError: a required input has no sample, the params do not
            satisfy the schema, or the handler cannot be loaded.
        PolicyDeniedError: the realm manifests do not let the realm read a sample.
    """
    from artifact_plane.executions import Executions
    from artifact_plane.plane import open_plane
    from artifact_plane.realms_manifest import load_realm_manifests

    registry = OperatorRegistry()
    registry.add(manifest)
    if realm is None:
        realm = manifest.scope
        if realm == ANY_SCOPE:
            realm = sorted(load_realm_manifests(settings.realms_dir))[0]
    given = dict(inputs or {})
    async with open_plane(settings) as plane:
        creator = plane.for_subject(SAMPLE_CREATOR)
        input_ids: dict[str, str] = {}
        for name, spec in manifest.inputs.items():
            if name not in given and not spec.required and spec.sample is None:
                continue
            data = given[name] if name in given else _sample_input(manifest, name)
            input_ids[name] = await creator.create_artifact(
                data,
                artifact_type=spec.artifact_type,
                content_type=spec.content_type,
                realm=spec.realm or realm,
            )
        chosen = dict(params) if params is not None else sample(manifest.input_schema)
        runner = Executions(plane, registry).for_subject(TESTER)
        result = await runner.run_intent(realm, manifest.ref, input_ids, chosen)
        run = SandboxRun(manifest, result.execution, chosen, input_ids, dict(result.outputs))
        for name, value in result.outputs.items():
            first = value if isinstance(value, str) else value[0]
            artifact = await plane.for_subject(SAMPLE_CREATOR).get_artifact(first, include_payload=True)
            run.payloads[name] = artifact.payload or b""
            run.content_types[name] = artifact.content_type
        return run
