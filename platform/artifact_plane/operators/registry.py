"""The operator registry: discovered manifests, several versions per id, cached handlers.

Discovery scans directories for ``artifact.yaml``: the builtin operators
shipped with the package, the realms directory and any ``AP_OPERATOR_DIRS``.
``content.analyze`` resolves to the newest version (semver precedence),
``content.analyze@1.2.0`` to that one; an intent resolves through the scope
of the realm that runs it (the realm's own operators first, then ``any``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from artifact_plane.errors import ConfigurationError, InvalidInputError, NotFoundError
from artifact_plane.ids import SemVer
from artifact_plane.operators.loading import Handler, load_handler
from artifact_plane.operators.manifest import ANY_SCOPE, MANIFEST_NAME, OperatorManifest, load_manifest
from artifact_plane.settings import Settings

__all__ = ["BUILTIN_DIR", "OperatorRegistry", "Problem", "operator_directories", "split_ref"]

BUILTIN_DIR = Path(__file__).resolve().parent / "builtin"
_SKIP = {"__pycache__", ".git", ".venv", "node_modules"}


@dataclass(frozen=True)
class Problem:
    """A manifest discovery could not accept."""

    source: str
    reason: str

    def __str__(self) -> str:
        return f"{self.source}: {self.reason}"


def operator_directories(settings: Settings) -> list[Path]:
    """Where operators are discovered: builtin, the realms directory, then ``AP_OPERATOR_DIRS``."""
    return [BUILTIN_DIR, settings.realms_dir, *settings.operator_dirs]


def split_ref(ref: str) -> tuple[str, SemVer | None]:
    """``name@1.2.0`` → ``("name", SemVer(1, 2, 0))``; ``name`` → ``("name", None)``.

    Raises:
        InvalidInputError: the version is not a semantic version.
    """
    name, at, version = ref.partition("@")
    if not name:
        raise InvalidInputError("operator", f"{ref!r} names no operator or intent")
    return name, (SemVer.parse(version) if at else None)


def _scan(directory: Path) -> Iterable[Path]:
    for path in sorted(directory.rglob(MANIFEST_NAME)):
        parts = path.relative_to(directory).parts
        if not any(part in _SKIP or part.startswith(".") for part in parts):
            yield path


@dataclass
class OperatorRegistry:
    """Every known operator version, by id; load with :meth:`handler` (cached)."""

    manifests: dict[str, dict[SemVer, OperatorManifest]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    _handlers: dict[str, Handler] = field(default_factory=dict, repr=False)

    @classmethod
    def discover(cls, directories: Sequence[Path], *, strict: bool = True) -> OperatorRegistry:
        """Scan ``directories`` (missing ones are skipped) for ``artifact.yaml``.

        With ``strict`` the first problem raises; otherwise problems are
        collected in :attr:`problems` and the bad manifests left out (what
        ``operator validate`` reports).

        Raises:
            ConfigurationError: (strict) an invalid manifest, the same
                ``id@version`` twice, or two ids serving one intent of one scope.
        """
        registry = cls()
        for directory in directories:
            if not directory.is_dir():
                continue
            for path in _scan(directory):
                try:
                    registry.add(load_manifest(path))
                except InvalidInputError as exc:
                    problem = Problem(exc.field, exc.reason)
                    if strict:
                        raise ConfigurationError(
                            problem.source, f"{problem.reason} (fix the manifest)"
                        ) from exc
                    registry.problems.append(problem)
        return registry

    @classmethod
    def from_settings(cls, settings: Settings, *, strict: bool = True) -> OperatorRegistry:
        """Discover the builtin operators, the realms' and those of ``AP_OPERATOR_DIRS``."""
        return cls.discover(operator_directories(settings), strict=strict)

    def add(self, manifest: OperatorManifest) -> None:
        """Register one manifest.

        Raises:
            InvalidInputError: its ``id@version`` is known from another
                directory, or another id already serves its intent in its scope.
        """
        source = f"{manifest.directory / MANIFEST_NAME}"
        known = self.manifests.get(manifest.id, {}).get(manifest.semver)
        if known is not None and known.directory != manifest.directory:
            raise InvalidInputError(
                f"{source}: version",
                f"{manifest.ref} is already defined in {known.directory}; bump the version",
            )
        for other in self.all():
            if other.id != manifest.id and (other.scope, other.intent) == (manifest.scope, manifest.intent):
                raise InvalidInputError(
                    f"{source}: intent",
                    f"intent {manifest.intent!r} of scope {manifest.scope!r} is already served by "
                    f"{other.id} ({other.directory}); give one of them another intent",
                )
        versions = self.manifests.setdefault(manifest.id, {})
        versions[manifest.semver] = manifest

    # ------------------------------------------------------------ resolution

    def ids(self) -> list[str]:
        return sorted(self.manifests)

    def all(self) -> list[OperatorManifest]:
        """Every version of every operator, by id then version."""
        return [m for op_id in self.ids() for _, m in sorted(self.manifests[op_id].items())]

    def versions(self, operator_id: str) -> list[OperatorManifest]:
        """The versions of ``operator_id``, oldest first.

        Raises:
            NotFoundError: no such operator.
        """
        if operator_id not in self.manifests or not self.manifests[operator_id]:
            raise NotFoundError("operator", f"{operator_id} (known: {', '.join(self.ids()) or 'none'})")
        return [m for _, m in sorted(self.manifests[operator_id].items())]

    def get(self, ref: str) -> OperatorManifest:
        """``id`` → its newest version; ``id@version`` → that version.

        Raises:
            NotFoundError: no such operator or version.
            InvalidInputError: a malformed version.
        """
        operator_id, version = split_ref(ref)
        versions = self.versions(operator_id)
        if version is None:
            return versions[-1]
        for manifest in versions:
            if manifest.semver == version:
                return manifest
        known = ", ".join(m.version for m in versions)
        raise NotFoundError("operator version", f"{ref} (known versions: {known})")

    def find(self, realm: str, intent: str) -> OperatorManifest:
        """The operator serving ``intent`` (``name``, ``name@version`` or an operator id) in ``realm``.

        Raises:
            NotFoundError: no operator serves that intent in that realm.
            InvalidInputError: a malformed version.
        """
        name, version = split_ref(intent)
        if "." in name:
            manifest = self.get(intent)
            if not manifest.serves(realm):
                raise NotFoundError("operator", f"{manifest.ref} serves realm {manifest.scope}, not {realm}")
            return manifest
        for scope in (realm, ANY_SCOPE):
            for op_id in self.ids():
                newest = self.versions(op_id)[-1]
                if (newest.scope, newest.intent) == (scope, name):
                    return self.get(op_id if version is None else f"{op_id}@{version}")
        offered = sorted({m.intent for m in self.all() if m.serves(realm)})
        raise NotFoundError(
            "intent", f"{name} in realm {realm} (this realm offers: {', '.join(offered) or 'nothing'})"
        )

    def newest(self, operator_id: str) -> OperatorManifest | None:
        """The newest version of ``operator_id``, None when it is gone."""
        versions = self.manifests.get(operator_id)
        return versions[max(versions)] if versions else None

    # --------------------------------------------------------------- loading

    def handler(self, manifest: OperatorManifest) -> Handler:
        """The manifest's callable, imported once and cached by ``id@version``.

        Raises:
            InvalidInputError: the entrypoint cannot be loaded.
        """
        cached = self._handlers.get(manifest.ref)
        if cached is None:
            cached = self._handlers[manifest.ref] = load_handler(manifest)
        return cached
