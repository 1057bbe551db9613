"""Bearer tokens: JWTs carrying ``sub``, ``tenant``, ``roles`` and an optional ``realm``.

Two ways to sign, chosen by the token's ``alg`` header:

* HS256 with ``AP_JWT_SECRET`` (service tokens, ``artifact-plane token``);
* RS256 (or another asymmetric algorithm) with a key from ``AP_JWT_JWKS_URL``,
  an identity provider's key set, fetched and cached by PyJWT's
  :class:`jwt.PyJWKClient`.

The tenant always comes from the token, never from the request. Without
``AP_JWT_SECRET`` and ``AP_JWT_JWKS_URL`` a development secret is generated
once into ``$AP_DATA_DIR/dev-jwt-secret`` (mode 0600) and reused across
restarts.
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

import anyio.to_thread
import jwt
from pydantic import ValidationError

from artifact_plane.errors import AuthenticationError, BackendUnavailableError, ConfigurationError
from artifact_plane.models import Subject
from artifact_plane.settings import Settings

__all__ = [
    "ALGORITHM",
    "DEV_SECRET_FILE",
    "JWKS_ALGORITHMS",
    "AuthenticationError",
    "SigningSecret",
    "TokenVerifier",
    "build_verifier",
    "mint_token",
    "signing_secret",
]

ALGORITHM = "HS256"
DEV_SECRET_FILE = "dev-jwt-secret"  # noqa: S105 - a file name, not a secret
MIN_SECRET_BYTES = 32  # RFC 7518 §3.2: an HS256 key must be at least 256 bits
# Asymmetric only: a JWKS key must never verify an HMAC token (algorithm confusion).
JWKS_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA")


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
        ConfigurationError: only a JWKS URL is set (tokens then come from the
            identity provider), the secret is too short, or the dev secret
            file is readable by others.
    """
    if settings.jwt_secret is not None:
        value = settings.jwt_secret.get_secret_value()
        if len(value.encode()) < MIN_SECRET_BYTES:
            raise ConfigurationError("AP_JWT_SECRET", f"must be at least {MIN_SECRET_BYTES} bytes for HS256")
        return SigningSecret(value)
    if settings.jwt_jwks_url:
        raise ConfigurationError(
            "AP_JWT_SECRET",
            "not set: tokens are signed by the identity provider behind AP_JWT_JWKS_URL; "
            "get one there, or also set AP_JWT_SECRET to mint HS256 service tokens",
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


class TokenVerifier:
    """Checks bearer tokens: HS256 against a secret, asymmetric ones against a JWKS.

    Args:
        secret: the HS256 key, or None to refuse HS256 tokens.
        jwks_url: the identity provider's key set, or None to refuse others.
        audience: when set, the ``aud`` claim must name it.
        issuer: when set, the ``iss`` claim must equal it.
        jwks_cache_seconds: how long a fetched key set is reused.
    """

    def __init__(
        self,
        *,
        secret: str | None = None,
        jwks_url: str | None = None,
        audience: str | None = None,
        issuer: str | None = None,
        jwks_cache_seconds: float = 300.0,
    ) -> None:
        if secret is None and jwks_url is None:
            raise ConfigurationError("AP_JWT_SECRET", "set AP_JWT_SECRET or AP_JWT_JWKS_URL")
        self.secret = secret
        self.audience = audience
        self.issuer = issuer
        self._jwks = (
            jwt.PyJWKClient(jwks_url, cache_jwk_set=True, lifespan=jwks_cache_seconds, timeout=10)
            if jwks_url
            else None
        )

    async def subject_from_header(self, authorization: str | None) -> Subject:
        """The subject of an ``Authorization: Bearer <JWT>`` header.

        Raises:
            AuthenticationError: no header, not a bearer token, or an invalid token.
            BackendUnavailableError: the JWKS endpoint could not be reached.
        """
        if not authorization:
            raise AuthenticationError("send an Authorization: Bearer <token> header")
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthenticationError("the Authorization header must be 'Bearer <token>'")
        return await self.subject_from_token(token.strip())

    async def subject_from_token(self, token: str) -> Subject:
        """Verify a token (signature, ``exp`` when present, ``aud``/``iss`` when configured).

        Raises:
            AuthenticationError: bad signature, expired, malformed, an
                algorithm this server does not accept, or claims that do not
                make a subject.
            BackendUnavailableError: the JWKS endpoint could not be reached.
        """
        try:
            algorithm = jwt.get_unverified_header(token).get("alg")
        except jwt.InvalidTokenError as exc:
            raise AuthenticationError(f"invalid token ({exc})") from None
        key: Any
        if algorithm == ALGORITHM and self.secret is not None:
            key, algorithms = self.secret, [ALGORITHM]
        elif algorithm in JWKS_ALGORITHMS and self._jwks is not None:
            key, algorithms = await self._signing_key(token), [str(algorithm)]
        else:
            accepted = ([ALGORITHM] if self.secret else []) + (list(JWKS_ALGORITHMS) if self._jwks else [])
            raise AuthenticationError(
                f"tokens signed with {algorithm!r} are not accepted here (accepted: {', '.join(accepted)})"
            )
        required = ["sub"] + (["aud"] if self.audience else []) + (["iss"] if self.issuer else [])
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=algorithms,
                audience=self.audience,
                issuer=self.issuer,
                options={"require": required, "verify_aud": self.audience is not None},
            )
        except jwt.ExpiredSignatureError:
            raise AuthenticationError("the token has expired; get a new one") from None
        except jwt.InvalidTokenError as exc:
            raise AuthenticationError(f"invalid token ({exc})") from None
        return _subject(claims)

    async def _signing_key(self, token: str) -> Any:
        assert self._jwks is not None
        jwks = self._jwks
        try:
            # PyJWKClient fetches with urllib (blocking): never on the event loop.
            found = await anyio.to_thread.run_sync(jwks.get_signing_key_from_jwt, token)
        except jwt.PyJWKClientConnectionError as exc:
            raise BackendUnavailableError("identity provider (JWKS)", str(exc)) from exc
        except (jwt.PyJWKClientError, jwt.InvalidTokenError) as exc:
            raise AuthenticationError(
                f"no key of the identity provider verifies this token ({exc})"
            ) from None
        return found.key


def build_verifier(settings: Settings, secret: str | None = None) -> TokenVerifier:
    """The verifier the settings ask for (the dev secret when nothing is configured).

    Raises:
        ConfigurationError: the secret is too short or the dev secret file unsafe.
    """
    if secret is None and (settings.jwt_secret is not None or not settings.jwt_jwks_url):
        secret = signing_secret(settings).value
    return TokenVerifier(
        secret=secret,
        jwks_url=settings.jwt_jwks_url,
        audience=settings.jwt_audience,
        issuer=settings.jwt_issuer,
        jwks_cache_seconds=settings.jwks_cache_seconds,
    )


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
