"""Field permissions as classes (strawberry ``BasePermission``)."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.extensions import FieldExtension
from strawberry.permission import BasePermission, PermissionExtension

from artifact_plane.api.graphql.context import MISSING_TOKEN, ApiContext
from artifact_plane.errors import AuthenticationError


class IsAuthenticated(BasePermission):
    """The request carries a valid bearer token (over a websocket: or its connection_init payload).

    A failure raises the context's own AuthenticationError, so the client
    learns why (missing, expired, bad signature) under code UNAUTHENTICATED.
    """

    message = MISSING_TOKEN

    async def has_permission(
        self, source: Any, info: strawberry.Info[ApiContext, None], **kwargs: Any
    ) -> bool:
        await info.context.authenticate()
        return True

    def on_unauthorized(self) -> None:
        raise AuthenticationError(self.message or "not authenticated")


def authenticated() -> FieldExtension:
    """The field extension every non-public field carries (a new one per field)."""
    return PermissionExtension([IsAuthenticated()], use_directives=False)
