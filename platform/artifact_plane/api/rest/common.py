"""What every REST endpoint shares: bearer auth, JSON errors, a request id."""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from artifact_plane.api.auth import subject_from_header
from artifact_plane.api.errors import HTTP_STATUS, MASKED_MESSAGE, error_extensions, exposed, new_request_id
from artifact_plane.scoped import ScopedPlane

logger = logging.getLogger("artifact_plane.api")

REQUEST_ID_HEADER = "X-Request-ID"
PlaneEndpoint = Callable[[Request, ScopedPlane], Awaitable[Response]]


def error_response(error: Exception, request_id: str) -> JSONResponse:
    """``{"error": {code, message, ...}}`` for an exposed error; a masked 500 otherwise."""
    known = exposed(error)
    if known is None:
        logger.error("unexpected error in %s (request %s)", type(error).__name__, request_id, exc_info=error)
        masked = {"code": "INTERNAL", "message": MASKED_MESSAGE, "requestId": request_id}
        return JSONResponse({"error": masked}, status_code=500)
    status = HTTP_STATUS[known.code]
    headers = {"WWW-Authenticate": 'Bearer error="invalid_token"'} if status == 401 else None
    body: dict[str, object] = {**error_extensions(known), "message": str(known)}
    return JSONResponse({"error": body}, status_code=status, headers=headers)


def authenticated(endpoint: PlaneEndpoint) -> Callable[[Request], Awaitable[Response]]:
    """Run ``endpoint`` as the token's subject; every failure becomes a JSON error."""

    @functools.wraps(endpoint)
    async def run(request: Request) -> Response:
        request_id = new_request_id()
        try:
            subject = subject_from_header(request.app.state.jwt_secret, request.headers.get("authorization"))
            response = await endpoint(request, request.app.state.plane.for_subject(subject))
        except Exception as exc:
            response = error_response(exc, request_id)
        response.headers[REQUEST_ID_HEADER] = request_id
        return response

    return run
