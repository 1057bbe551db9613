"""The per-request GraphQL context: the plane, the caller, and a request id."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from artifact_plane.errors import AuthenticationError
from artifact_plane.models import Subject
from artifact_plane.plane import ArtifactPlane
from artifact_plane.scoped import ScopedPlane


@dataclass
class ApiContext:
    """What every resolver gets as ``info.context``.

    ``subject`` is None when the request carries no valid token;
    ``auth_error`` then says why, and :meth:`scoped` raises it.
    """

    request: Request
    response: Response
    plane: ArtifactPlane
    request_id: str
    subject: Subject | None = None
    auth_error: AuthenticationError | None = None

    def require_subject(self) -> Subject:
        """The caller. Raises AuthenticationError when the token was missing or bad."""
        if self.subject is None:
            raise self.auth_error or AuthenticationError("send an Authorization: Bearer <token> header")
        return self.subject

    def scoped(self) -> ScopedPlane:
        """The plane as the caller (Raises: AuthenticationError)."""
        return self.plane.for_subject(self.require_subject())
