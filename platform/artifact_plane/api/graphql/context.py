"""The per-request GraphQL context: the plane, the caller, a request id and the loaders."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket

from artifact_plane.api.auth import TokenVerifier
from artifact_plane.api.graphql.loaders import Loaders
from artifact_plane.api.intents import IntentRunner
from artifact_plane.errors import ArtifactPlaneError, AuthenticationError, BackendUnavailableError
from artifact_plane.models import Subject
from artifact_plane.plane import ArtifactPlane
from artifact_plane.scoped import ScopedPlane
from artifact_plane.settings import Settings

MISSING_TOKEN = "send an Authorization: Bearer <token> header"  # noqa: S105 - a message


@dataclass
class ApiContext:
    """What every resolver gets as ``info.context``.

    ``subject`` is None when the request carries no valid token;
    ``auth_error`` then says why, and :meth:`require_subject` raises it. Over
    a websocket the token may also come in the ``connection_init`` payload
    (``{"Authorization": "Bearer …"}``), which :meth:`authenticate` reads.
    """

    request: Request | WebSocket
    response: Response | WebSocket
    plane: ArtifactPlane
    verifier: TokenVerifier
    settings: Settings
    request_id: str
    intents: IntentRunner | None = None
    subject: Subject | None = None
    auth_error: ArtifactPlaneError | None = None
    connection_params: dict[str, Any] | None = None
    _loaders: Loaders | None = field(default=None, repr=False)

    async def authenticate(self) -> Subject:
        """The caller, reading a websocket's ``connection_init`` token when needed.

        Raises:
            AuthenticationError: no valid token.
        """
        if self.subject is None and self.connection_params:
            header = self.connection_params.get("Authorization") or self.connection_params.get(
                "authorization"
            )
            if isinstance(header, str):
                try:
                    self.subject = await self.verifier.subject_from_header(header)
                except (AuthenticationError, BackendUnavailableError) as exc:
                    self.auth_error = exc
        return self.require_subject()

    def require_subject(self) -> Subject:
        """The caller. Raises AuthenticationError when the token was missing or bad."""
        if self.subject is None:
            raise self.auth_error or AuthenticationError(MISSING_TOKEN)
        return self.subject

    def scoped(self) -> ScopedPlane:
        """The plane as the caller (Raises: AuthenticationError)."""
        return self.plane.for_subject(self.require_subject())

    @property
    def loaders(self) -> Loaders:
        """This request's batching loaders (one set per request: no cache outlives it)."""
        if self._loaders is None:
            self._loaders = Loaders(self.plane, self.require_subject())
        return self._loaders
