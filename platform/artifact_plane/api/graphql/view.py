"""The ASGI GraphQL endpoint (GraphiQL in a browser), building an :class:`ApiContext` per request."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL

from artifact_plane.api.auth import subject_from_header
from artifact_plane.api.errors import new_request_id
from artifact_plane.api.graphql.context import ApiContext
from artifact_plane.errors import AuthenticationError

REQUEST_ID_HEADER = "X-Request-ID"


class PlaneGraphQL(GraphQL[ApiContext, None]):
    """Strawberry's ASGI view; the plane and the JWT secret come from ``app.state``."""

    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket) -> ApiContext:
        if not isinstance(request, Request) or not isinstance(response, Response):
            raise TypeError("subscriptions over websockets are not served")
        state = request.app.state
        context = ApiContext(
            request=request, response=response, plane=state.plane, request_id=new_request_id()
        )
        response.headers[REQUEST_ID_HEADER] = context.request_id
        try:
            context.subject = subject_from_header(state.jwt_secret, request.headers.get("authorization"))
        except AuthenticationError as exc:
            # Not fatal here: introspection and GraphiQL work without a token; fields say UNAUTHENTICATED.
            context.auth_error = exc
        return context
