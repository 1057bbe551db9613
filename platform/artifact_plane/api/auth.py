"""Bearer tokens: HS256 JWTs carrying ``sub``, ``tenant``, ``roles`` and an optional ``realm``.

The tenant always comes from the token, never from the request. Without
``AP_JWT_SECRET`` a development secret is generated once into
``$AP_DATA_DIR/dev-jwt-secret`` (mode 0600) and reused across restarts.
"""

from __future__ import annotations

import os
import secrets
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
from pydantic import ValidationError

from artifact_plane.errors import AuthenticationError, ConfigurationError
from artifact_plane.models import Subject
from artifact_plane.settings import Settings

__all__ = [
    "ALGORITHM",
    "DEV_SECRET_FILE",
    "AuthenticationError",
    "SigningSecret",
    "mint_token",
    "signing_secret",
    "subject_from_header",
    "subject_from_token",
]

ALGORITHM = "HS256"
DEV_SECRET_FILE = "dev-jwt-secret"  # noqa: S105 - a file name, not a secret
MIN_SECRET_BYTES = 32  # RFC 7518 §3.2: an HS256 key must be at least 256 bits


@dataclass(frozen=True)
class SigningSecret:
    """The HS256 key and where it came from (``path`` is set for the dev secret file)."""

    value: str
    path: Path | None = None

    @property
    def is_dev(self) -> bool:
        return self.path is not None


def signing_secret(settings: Settings) -> SigningSecret:
    """``AP_JWT_SECRET``, else the dev secret file (created on first use).

    Raises:
        ConfigurationError: only a JWKS URL is set (not supported yet), the
            secret is too short, or the dev secret file is readable by others.
    """
    if settings.jwt_secret is not None:
        value = settings.jwt_secret.get_secret_value()
        if len(value.encode()) < MIN_SECRET_BYTES:
            raise ConfigurationError("AP_JWT_SECRET", f"must be at least {MIN_SECRET_BYTES} bytes for HS256")
        return SigningSecret(value)
    if settings.jwt_jwks_url:
        raise ConfigurationError(
            "AP_JWT_JWKS_URL", "JWKS verification is not available in this build yet; set AP_JWT_SECRET"
        )
    path = settings.data_dir.resolve() / DEV_SECRET_FILE
    return SigningSecret(_read_or_create(path), path)


def _read_or_create(path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        # O_EXCL: of two processes starting at once, exactly one writes the secret.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read_existing(path)
    value = secrets.token_urlsafe(48)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(value + "\n")
    return value


def _read_existing(path: Path) -> str:
    mode = path.stat().st_mode
    if os.name == "posix" and mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigurationError(
            "AP_DATA_DIR", f"{path} is readable by other users: run `chmod 600 {path}` or delete it"
        )
    value = path.read_text(encoding="ascii").strip()
    if len(value.encode()) < MIN_SECRET_BYTES:
        raise ConfigurationError("AP_DATA_DIR", f"{path} holds no usable secret: delete it to regenerate")
    return value


def mint_token(
    secret: str, subject: Subject, *, ttl: timedelta | None = timedelta(hours=12), now: datetime | None = None
) -> str:
    """A signed token for ``subject`` (no ``exp`` claim when ``ttl`` is None)."""
    issued = now or datetime.now(UTC)
    claims: dict[str, Any] = {
        "sub": subject.id,
        "tenant": subject.tenant,
        "roles": list(subject.roles),
        "iat": int(issued.timestamp()),
    }
    if subject.realm is not None:
        claims["realm"] = subject.realm
    if ttl is not None:
        claims["exp"] = int((issued + ttl).timestamp())
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def subject_from_header(secret: str, authorization: str | None) -> Subject:
    """The subject of an ``Authorization: Bearer <JWT>`` header.

    Raises:
        AuthenticationError: no header, not a bearer token, or an invalid token.
    """
    if not authorization:
        raise AuthenticationError("send an Authorization: Bearer <token> header")
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationError("the Authorization header must be 'Bearer <token>'")
    return subject_from_token(secret, token.strip())


def subject_from_token(secret: str, token: str) -> Subject:
    """Verify a token (signature, and ``exp`` when present) and read its subject.

    Raises:
        AuthenticationError: bad signature, expired, malformed, or claims that
            do not make a subject.
    """
    try:
        claims = jwt.decode(token, secret, algorithms=[ALGORITHM], options={"require": ["sub"]})
    except jwt.ExpiredSignatureError:
        raise AuthenticationError("the token has expired; get a new one") from None
    except jwt.InvalidTokenError as exc:
        raise AuthenticationError(f"invalid token ({exc})") from None
    return _subject(claims)


def _subject(claims: Mapping[str, Any]) -> Subject:
    roles = claims.get("roles", ())
    if isinstance(roles, str):
        roles = [part.strip() for part in roles.split(",") if part.strip()]
    if not isinstance(roles, list | tuple) or not all(isinstance(r, str) for r in roles):
        raise AuthenticationError("the 'roles' claim must be a list of strings or a comma-separated string")
    if "tenant" not in claims:
        raise AuthenticationError("the token has no 'tenant' claim")
    try:
        return Subject(
            id=claims["sub"], tenant=claims["tenant"], roles=tuple(roles), realm=claims.get("realm")
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise AuthenticationError(f"the token's {where!r} claim is invalid: {first['msg']}") from None
