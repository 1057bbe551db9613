"""Identity: content addressing, ID validation, ``artifact://`` URIs, versions.

Pure functions, no I/O. Everything that later becomes part of a file path, an
object key or a query passes through a validator here first.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import total_ordering
from typing import Any

from artifact_plane.errors import InvalidInputError

__all__ = [
    "ArtifactUri",
    "SemVer",
    "artifact_ref",
    "compute_artifact_id",
    "digest_bytes",
    "is_artifact_ref",
    "payload_key",
    "uri_glob_regex",
    "validate_digest",
    "validate_id",
]

ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,128}")
DIGEST_PATTERN = re.compile(r"[0-9a-f]{64}")
# One URI path segment: ASCII letters, digits, dot, dash, underscore; never "." or "..".
SEGMENT_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,128}")
URI_SCHEME = "artifact://"
SELF_REALM = "self"
REF_KEY = "$artifact"


def validate_id(value: object, field: str = "artifact_id") -> str:
    """Return ``value`` when it is a valid ID, else raise InvalidInputError.

    IDs match ``^[A-Za-z0-9_-]{1,128}$`` (ASCII only), so ``..``, ``/``, NUL and
    unicode look-alikes never reach a path, key or query.
    """
    if not isinstance(value, str) or not ID_PATTERN.fullmatch(value):
        raise InvalidInputError(field, f"{value!r} must be 1-128 ASCII letters, digits, '_' or '-'")
    return value


def validate_digest(value: object) -> str:
    """Return ``value`` when it is a lowercase hex SHA-256 digest."""
    if not isinstance(value, str) or not DIGEST_PATTERN.fullmatch(value):
        raise InvalidInputError("sha256", f"{value!r} is not a lowercase hex SHA-256 digest")
    return value


def digest_bytes(data: bytes) -> str:
    """SHA-256 hex digest of ``data``."""
    return hashlib.sha256(data).hexdigest()


def compute_artifact_id(
    data: bytes | None = None,
    *,
    digest: str | None = None,
    uri: str | None = None,
    version: str | None = None,
) -> str:
    """The content-addressed artifact ID: 32 hex characters.

    Without a URI it is the first 32 hex characters of the payload's SHA-256,
    so re-creating the same content yields the same ID. A named version
    (``uri`` + ``version``) hashes the digest together with its name, so the
    same bytes written under two names are two artifacts.
    """
    if digest is None:
        if data is None:
            raise InvalidInputError("data", "give the payload bytes or its digest")
        digest = digest_bytes(data)
    validate_digest(digest)
    if uri is None:
        return digest[:32]
    name = f"{digest}\n{uri}\n{version or ''}".encode()
    return hashlib.sha256(name).hexdigest()[:32]


def payload_key(tenant: str, digest: str) -> str:
    """``tenants/{tenant}/sha256/{aa}/{bb}/{digest}``: per tenant, never shared."""
    validate_id(tenant, "tenant")
    validate_digest(digest)
    return f"tenants/{tenant}/sha256/{digest[:2]}/{digest[2:4]}/{digest}"


@dataclass(frozen=True)
class ArtifactUri:
    """A mutable artifact name ``artifact://{realm}/{path}``."""

    realm: str
    path: str

    @classmethod
    def parse(cls, value: object, *, self_realm: str | None = None) -> ArtifactUri:
        """Parse and validate; ``self`` resolves to ``self_realm`` when given.

        Raises:
            InvalidInputError: wrong scheme, ``..``/``.``/empty segments, NUL,
                non-ASCII characters, or ``self`` with no realm to resolve to.
        """
        if not isinstance(value, str) or not value.startswith(URI_SCHEME):
            raise InvalidInputError("uri", f"{value!r} must look like artifact://realm/path")
        rest = value[len(URI_SCHEME) :]
        realm, sep, path = rest.partition("/")
        if not sep or not path:
            raise InvalidInputError("uri", f"{value!r} has no path after the realm")
        if realm == SELF_REALM:
            if self_realm is None:
                raise InvalidInputError("uri", f"{value!r} uses 'self' but the caller has no realm")
            realm = self_realm
        validate_id(realm, "uri realm")
        for segment in path.split("/"):
            if segment in {".", ".."} or not SEGMENT_PATTERN.fullmatch(segment):
                raise InvalidInputError(
                    "uri",
                    f"{value!r}: segment {segment!r} must be ASCII letters, digits, '.', '_' "
                    "or '-', and not '.' or '..'",
                )
        return cls(realm, path)

    def __str__(self) -> str:
        return f"{URI_SCHEME}{self.realm}/{self.path}"


def uri_glob_regex(pattern: str, *, self_realm: str | None = None) -> tuple[str, str]:
    """Translate a URI glob into ``(literal_prefix, regex)``.

    ``**`` matches across segments, ``*`` within one segment. The prefix is
    the literal text before the first wildcard (for an index range scan); the
    regex (anchored, POSIX- and Python-compatible) decides the match.
    """
    if not isinstance(pattern, str) or not pattern.startswith(URI_SCHEME):
        raise InvalidInputError("uri", f"{pattern!r} must look like artifact://realm/path-glob")
    rest = pattern[len(URI_SCHEME) :]
    realm, _, path = rest.partition("/")
    if realm == SELF_REALM:
        if self_realm is None:
            raise InvalidInputError("uri", f"{pattern!r} uses 'self' but the caller has no realm")
        realm = self_realm
    if realm != "*":
        validate_id(realm, "uri realm")
    full = f"{URI_SCHEME}{realm}/{path}"
    regex: list[str] = ["^"]
    prefix: list[str] = []
    literal = True
    i = 0
    while i < len(full):
        if full.startswith("**", i):
            regex.append(".*")
            literal = False
            i += 2
            continue
        char = full[i]
        if char == "*":
            regex.append("[^/]*")
            literal = False
        elif re.fullmatch(r"[A-Za-z0-9_:/-]", char):
            regex.append(char)
            if literal:
                prefix.append(char)
        elif char == ".":
            regex.append(r"\.")
            if literal:
                prefix.append(char)
        else:
            raise InvalidInputError("uri", f"{pattern!r}: character {char!r} is not allowed in a URI glob")
        i += 1
    if ".." in full.split("/"):
        raise InvalidInputError("uri", f"{pattern!r}: '..' segments are not allowed")
    regex.append("$")
    return "".join(prefix), "".join(regex)


# The semver.org reference regex (numbered groups).
_SEMVER = re.compile(
    r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?"
)


@total_ordering
@dataclass(frozen=True)
class SemVer:
    """A semantic version, compared by semver 2.0 precedence (build metadata ignored)."""

    major: int
    minor: int
    patch: int
    prerelease: tuple[str, ...] = ()
    build: str = ""

    @classmethod
    def parse(cls, value: object) -> SemVer:
        """Parse ``MAJOR.MINOR.PATCH[-pre][+build]``; anything else is InvalidInputError."""
        match = _SEMVER.fullmatch(value) if isinstance(value, str) else None
        if match is None:
            raise InvalidInputError("version", f"{value!r} is not a semantic version like 1.2.3")
        major, minor, patch, pre, build = match.groups()
        return cls(int(major), int(minor), int(patch), tuple(pre.split(".")) if pre else (), build or "")

    def _precedence(self) -> tuple[Any, ...]:
        # Release sorts after any pre-release; numeric identifiers before alphanumeric.
        pre = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in self.prerelease)
        return (self.major, self.minor, self.patch, not self.prerelease, pre)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, SemVer):
            return NotImplemented
        return self._precedence() < other._precedence()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SemVer):
            return NotImplemented
        return self._precedence() == other._precedence()

    def __hash__(self) -> int:
        return hash(self._precedence())

    def __str__(self) -> str:
        text = f"{self.major}.{self.minor}.{self.patch}"
        if self.prerelease:
            text += "-" + ".".join(self.prerelease)
        return text + (f"+{self.build}" if self.build else "")

    def next_patch(self) -> SemVer:
        """The next patch release (``1.2.3`` → ``1.2.4``; ``1.2.3-rc.1`` → ``1.2.3``)."""
        if self.prerelease:
            return SemVer(self.major, self.minor, self.patch)
        return SemVer(self.major, self.minor, self.patch + 1)

    def sort_key(self) -> str:
        """A string whose byte order is semver precedence, for SQL ``ORDER BY``.

        Hex-encoded so that no database collation can reorder it.
        """
        core = f"{self.major:010d}{self.minor:010d}{self.patch:010d}"
        if not self.prerelease:
            text = core + "~"
        else:
            parts = ["0" + f"{int(p):020d}" if p.isdigit() else "1" + p for p in self.prerelease]
            text = core + "-" + "!".join(parts)
        return text.encode("ascii").hex()


def artifact_ref(artifact_id: str) -> dict[str, str]:
    """A JSON-embeddable reference to an artifact: ``{"$artifact": id}``.

    Execution state and intent inputs hold these, never payloads.
    """
    return {REF_KEY: validate_id(artifact_id)}


def is_artifact_ref(value: object) -> bool:
    """True when ``value`` is a reference made by :func:`artifact_ref`."""
    return (
        isinstance(value, dict)
        and set(value) == {REF_KEY}
        and isinstance(value[REF_KEY], str)
        and ID_PATTERN.fullmatch(value[REF_KEY]) is not None
    )
