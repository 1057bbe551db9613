"""Realm manifests: what a realm produces and which realms it may read and write.

Each realm has ``realms/<id>/realm.yaml``. The manifests are validated here and
handed to the policy engine as data (``data.realms[<id>]``); the Rego rules
in ``policies/realms.rego`` decide with them. Only :func:`load_realm_manifests`
touches the file system.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from artifact_plane.errors import ConfigurationError, InvalidInputError
from artifact_plane.ids import ID_PATTERN, SELF_REALM

__all__ = [
    "MANIFEST_NAME",
    "Permissions",
    "ReadPermission",
    "RealmManifest",
    "WritePermission",
    "load_realm_manifests",
    "parse_realm_manifest",
    "policy_data",
]

MANIFEST_NAME = "realm.yaml"
# Globs over URI paths: the URI segment alphabet plus '*' and '/'.
_GLOB = re.compile(r"[A-Za-z0-9._*-]+(/[A-Za-z0-9._*-]+)*")


def _realm_ref(value: str) -> str:
    if value != SELF_REALM and not ID_PATTERN.fullmatch(value):
        raise ValueError(f"{value!r} must be 'self' or a realm id (ASCII letters, digits, '_' or '-')")
    return value


def _globs(values: tuple[str, ...]) -> tuple[str, ...]:
    if not values:
        raise ValueError("give at least one path glob ('**' for everything)")
    for glob in values:
        if not _GLOB.fullmatch(glob) or ".." in glob.split("/"):
            raise ValueError(
                f"{glob!r} must be a relative path glob such as 'reports/**' "
                "(letters, digits, '.', '_', '-', '*', '/'; no '..')"
            )
    return values


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class WritePermission(_Model):
    """``{to: self|<realm>, paths: [globs]}``: where the realm may write."""

    to: str
    paths: tuple[str, ...] = ("**",)

    _check_to = field_validator("to")(_realm_ref)
    _check_paths = field_validator("paths")(_globs)


class ReadPermission(_Model):
    """``{from: <realm>, paths: [globs], allowedTypes: [..]}``: what it may read elsewhere."""

    from_: str = Field(alias="from")
    paths: tuple[str, ...] = ("**",)
    allowed_types: tuple[str, ...] | None = Field(default=None, alias="allowedTypes")

    _check_from = field_validator("from_")(_realm_ref)
    _check_paths = field_validator("paths")(_globs)


class Permissions(_Model):
    read: tuple[ReadPermission, ...] = ()
    write: tuple[WritePermission, ...] = ()


class ContentRules(_Model):
    """``content:``: what may be written into the realm, whoever writes it (policies/content.rego)."""

    allowed_types: tuple[str, ...] | None = Field(default=None, alias="allowedTypes")
    max_size_bytes: int | None = Field(default=None, alias="maxSizeBytes", gt=0)
    sensitive_types: tuple[str, ...] = Field(default=(), alias="sensitiveTypes")

    @field_validator("allowed_types", "sensitive_types")
    @classmethod
    def _types(cls, values: tuple[str, ...] | None) -> tuple[str, ...] | None:
        for value in values or ():
            if not ID_PATTERN.fullmatch(value):
                raise ValueError(f"{value!r} must be an artifact type (ASCII letters, digits, '_' or '-')")
        return values


class RealmManifest(_Model):
    """One realm's manifest (``realms/<id>/realm.yaml``)."""

    id: str
    description: str = ""
    produces: tuple[str, ...] = ()
    permissions: Permissions = Field(default_factory=Permissions)
    content: ContentRules = Field(default_factory=ContentRules)

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not ID_PATTERN.fullmatch(value):
            raise ValueError("must be 1-128 ASCII letters, digits, '_' or '-'")
        return value

    def referenced_realms(self) -> set[str]:
        """Realms named by the permissions (``self`` excluded)."""
        names = {rule.to for rule in self.permissions.write} | {rule.from_ for rule in self.permissions.read}
        return names - {SELF_REALM}

    def policy_document(self) -> dict[str, Any]:
        """The manifest as the policies read it (YAML keys, e.g. ``from``, ``allowedTypes``)."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


def _field_path(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "(document)"


def parse_realm_manifest(raw: object, source: str) -> RealmManifest:
    """Validate one manifest document (already parsed from YAML or JSON).

    Raises:
        InvalidInputError: the document is not a valid manifest; ``field``
            names ``source`` and the offending field.
    """
    if not isinstance(raw, Mapping):
        raise InvalidInputError(source, f"a realm manifest must be a mapping, got {type(raw).__name__}")
    try:
        return RealmManifest.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = _field_path(tuple(first["loc"]))
        extra = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise InvalidInputError(f"{source}: {where}", f"{first['msg']}{extra}") from exc


def load_realm_manifests(directory: Path) -> dict[str, RealmManifest]:
    """Read and validate every ``<directory>/<realm>/realm.yaml``, keyed by realm id.

    Raises:
        ConfigurationError: the directory is missing, a file is not YAML, a
            manifest is invalid, its ``id`` is not its directory's name, or it
            names a realm that has no manifest. The message names the file and
            the field.
    """
    if not directory.is_dir():
        raise ConfigurationError("AP_REALMS_DIR", f"{directory} is not a directory")
    manifests: dict[str, RealmManifest] = {}
    sources: dict[str, Path] = {}
    for path in sorted(directory.glob(f"*/{MANIFEST_NAME}")):
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            raise ConfigurationError(str(path), f"cannot read the manifest: {exc}") from exc
        try:
            manifest = parse_realm_manifest(raw, str(path))
        except InvalidInputError as exc:
            raise ConfigurationError(exc.field, exc.reason) from exc
        if manifest.id != path.parent.name:
            raise ConfigurationError(
                f"{path}: id", f"{manifest.id!r} must equal its directory name {path.parent.name!r}"
            )
        manifests[manifest.id] = manifest
        sources[manifest.id] = path
    for realm_id, manifest in manifests.items():
        # A misspelt realm would otherwise silently never match.
        unknown = sorted(manifest.referenced_realms() - manifests.keys())
        if unknown:
            raise ConfigurationError(
                f"{sources[realm_id]}: permissions",
                f"names realms with no manifest: {', '.join(unknown)} "
                f"(known: {', '.join(sorted(manifests))})",
            )
    return manifests


def policy_data(manifests: Mapping[str, RealmManifest]) -> dict[str, Any]:
    """The policy engines' data document: ``{"realms": {id: manifest}}`` (JSON-ready)."""
    return {"realms": {realm_id: m.policy_document() for realm_id, m in sorted(manifests.items())}}
