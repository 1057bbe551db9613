"""Operator manifests (``artifact.yaml``): what a code artifact is and how to call it.

A code artifact is a directory holding ``artifact.yaml`` and its Python
modules. The manifest names it (``id`` + semantic ``version``), says which
realm's intent it serves (``scope`` + ``intent``), where its callable is
(``entrypoint: module:callable``, a module *inside that directory*), which
input artifacts it consumes, and the JSON Schemas of its params and of the
dict of artifact IDs it returns::

    id: content.analyze
    version: 1.0.0
    scope: content            # a realm id, or "any" (builtin operators)
    intent: analyze           # default: the last segment of id
    category: analysis
    description: Statistics of a dataset.
    entrypoint: handler:run
    regenerable: true
    timeout_seconds: 60       # optional: fail a run that takes longer
    inputs:
      dataset: {artifact_type: dataset, sample: samples/dataset.json}
    input_schema: {type: object, properties: {...}}
    output_schema: {type: object, required: [analysis], properties: {analysis: {type: string}}}
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from artifact_plane.errors import InvalidInputError
from artifact_plane.ids import ID_PATTERN, SemVer

__all__ = [
    "ANY_SCOPE",
    "MANIFEST_NAME",
    "InputSpec",
    "OperatorManifest",
    "load_manifest",
    "parse_manifest",
]

MANIFEST_NAME = "artifact.yaml"
ANY_SCOPE = "any"
OPERATOR_ID = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+")
INTENT = re.compile(r"[a-z][a-z0-9_]{0,63}")
CATEGORY = re.compile(r"[a-z][a-z0-9_-]{0,63}")
_IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
ENTRYPOINT = re.compile(rf"({_IDENT}(?:\.{_IDENT})*):({_IDENT})")
# A sample file lives inside the operator directory: a plain relative path.
_SAMPLE = re.compile(r"[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*")


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class InputSpec(_Model):
    """One named input artifact the operator consumes."""

    artifact_type: str
    required: bool = True
    description: str = ""
    # Where the sample input for `operator validate` and `artifact_context` lives.
    sample: str | None = None
    content_type: str | None = None
    realm: str | None = Field(default=None, description="the realm the sample is created in")

    @field_validator("artifact_type")
    @classmethod
    def _type(cls, value: str) -> str:
        if not ID_PATTERN.fullmatch(value):
            raise ValueError("must be 1-128 ASCII letters, digits, '_' or '-'")
        return value

    @field_validator("realm")
    @classmethod
    def _realm(cls, value: str | None) -> str | None:
        if value is not None and not ID_PATTERN.fullmatch(value):
            raise ValueError("must be a realm id (ASCII letters, digits, '_' or '-')")
        return value

    @field_validator("sample")
    @classmethod
    def _sample(cls, value: str | None) -> str | None:
        if value is not None and (not _SAMPLE.fullmatch(value) or ".." in value.split("/")):
            raise ValueError(f"{value!r} must be a relative path inside the operator directory (no '..')")
        return value


def _check_schema(value: dict[str, Any]) -> dict[str, Any]:
    try:
        Draft202012Validator.check_schema(value)
    except SchemaError as exc:
        where = "/".join(map(str, exc.path)) or "(root)"
        raise ValueError(f"not a valid JSON Schema at {where}: {exc.message}") from None
    if value.get("type", "object") != "object":
        raise ValueError("must describe an object (type: object)")
    return value


class OperatorManifest(_Model):
    """A validated ``artifact.yaml``; ``directory`` is where it was found."""

    id: str
    version: str
    scope: str
    intent: str = ""
    category: str
    description: str
    entrypoint: str
    regenerable: bool = True
    timeout_seconds: float | None = Field(default=None, gt=0, description="fail a run that takes longer")
    inputs: dict[str, InputSpec] = Field(default_factory=dict)
    input_schema: dict[str, Any] = Field(default_factory=lambda: {"type": "object"})
    output_schema: dict[str, Any] = Field(default_factory=lambda: {"type": "object"})
    directory: Path = Field(default=Path("."), exclude=True)

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not OPERATOR_ID.fullmatch(value):
            raise ValueError(
                f"{value!r} must be dotted lower-case names such as 'content.analyze' "
                "(letters, digits, '_'; at least two segments)"
            )
        return value

    @field_validator("version")
    @classmethod
    def _version(cls, value: str) -> str:
        try:
            SemVer.parse(value)
        except InvalidInputError as exc:
            raise ValueError(exc.reason) from None
        return value

    @field_validator("scope")
    @classmethod
    def _scope(cls, value: str) -> str:
        if not ID_PATTERN.fullmatch(value):
            raise ValueError("must be a realm id or 'any'")
        return value

    @field_validator("category")
    @classmethod
    def _category(cls, value: str) -> str:
        if not CATEGORY.fullmatch(value):
            raise ValueError("must be lower-case letters, digits, '_' or '-' (e.g. analysis)")
        return value

    @field_validator("description")
    @classmethod
    def _description(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("say in a sentence what the operator produces")
        return value

    @field_validator("entrypoint")
    @classmethod
    def _entrypoint(cls, value: str) -> str:
        if not ENTRYPOINT.fullmatch(value):
            raise ValueError(
                f"{value!r} must be 'module:callable' with a module inside the operator's "
                "directory (e.g. handler:run; dots for sub-modules, no paths)"
            )
        return value

    @field_validator("input_schema", "output_schema")
    @classmethod
    def _schemas(cls, value: dict[str, Any]) -> dict[str, Any]:
        return _check_schema(value)

    @field_validator("inputs")
    @classmethod
    def _input_names(cls, value: dict[str, InputSpec]) -> dict[str, InputSpec]:
        for name in value:
            if not INTENT.fullmatch(name):
                raise ValueError(f"input name {name!r} must be lower-case letters, digits or '_'")
        return value

    @model_validator(mode="after")
    def _default_intent(self) -> OperatorManifest:
        if not self.intent:
            object.__setattr__(self, "intent", self.id.rsplit(".", 1)[1])
        if not INTENT.fullmatch(self.intent):
            raise ValueError(f"intent {self.intent!r} must be lower-case letters, digits or '_'")
        return self

    @property
    def semver(self) -> SemVer:
        return SemVer.parse(self.version)

    @property
    def ref(self) -> str:
        """``id@version``: what an execution records as its operator."""
        return f"{self.id}@{self.version}"

    @property
    def module(self) -> str:
        return self.entrypoint.split(":", 1)[0]

    @property
    def callable_name(self) -> str:
        return self.entrypoint.split(":", 1)[1]

    @property
    def output_names(self) -> tuple[str, ...]:
        """The keys the operator returns (from the output schema's properties)."""
        return tuple(self.output_schema.get("properties", {}))

    def serves(self, realm: str) -> bool:
        return self.scope in (realm, ANY_SCOPE)


def _field_path(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(document)"


def parse_manifest(raw: object, source: str, directory: Path) -> OperatorManifest:
    """Validate one parsed manifest document.

    Raises:
        InvalidInputError: not a valid manifest; ``field`` names ``source`` and
            the offending field.
    """
    if not isinstance(raw, Mapping):
        raise InvalidInputError(source, f"an operator manifest must be a mapping, got {type(raw).__name__}")
    try:
        return OperatorManifest.model_validate({**raw, "directory": directory})
    except ValidationError as exc:
        first = exc.errors()[0]
        extra = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        reason = str(first["msg"]).removeprefix("Value error, ")
        raise InvalidInputError(f"{source}: {_field_path(tuple(first['loc']))}", f"{reason}{extra}") from exc


def load_manifest(path: Path) -> OperatorManifest:
    """Read and validate ``path`` (an ``artifact.yaml``).

    Raises:
        InvalidInputError: unreadable, not YAML, or not a valid manifest; the
            message names the file and the field.
    """
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise InvalidInputError(str(path), f"cannot read the manifest: {exc}") from exc
    return parse_manifest(raw, str(path), path.parent.resolve())
