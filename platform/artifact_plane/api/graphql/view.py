"""The ASGI GraphQL endpoint (GraphiQL in a browser), building an :class:`ApiContext` per request."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL

from artifact_plane.api.errors import new_request_id
from artifact_plane.api.graphql.context import ApiContext
from artifact_plane.errors import AuthenticationError, BackendUnavailableError

REQUEST_ID_HEADER = "X-Request-ID"


class PlaneGraphQL(GraphQL[ApiContext, None]):
    """Strawberry's ASGI view; the plane, verifier and settings come from ``app.state``."""

    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket) -> ApiContext:
        state = request.app.state
        context = ApiContext(
            request=request,
            response=response,
            plane=state.plane,
            verifier=state.verifier,
            settings=state.settings,
            request_id=new_request_id(),
            intents=state.intents,
        )
        if isinstance(response, Response):
            response.headers[REQUEST_ID_HEADER] = context.request_id
        header = request.headers.get("authorization")
        if header is None and isinstance(request, WebSocket):
            return context  # the token may come in the connection_init payload
        try:
            context.subject = await state.verifier.subject_from_header(header)
        except (AuthenticationError, BackendUnavailableError) as exc:
            # Not fatal here: introspection and GraphiQL work without a token; fields say UNAUTHENTICATED.
            context.auth_error = exc
        return context
