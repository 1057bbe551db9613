"""What every REST endpoint shares: bearer auth, JSON errors, a request id, metrics."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Awaitable, Callable

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

from artifact_plane.api.errors import HTTP_STATUS, MASKED_MESSAGE, error_extensions, exposed, new_request_id
from artifact_plane.api.limits import BodyTooLarge
from artifact_plane.models import ArtifactRecord
from artifact_plane.scoped import ScopedPlane

logger = logging.getLogger("artifact_plane.api")

REQUEST_ID_HEADER = "X-Request-ID"
PlaneEndpoint = Callable[[Request, ScopedPlane], Awaitable[Response]]


def metadata(record: ArtifactRecord) -> dict[str, object]:
    """What clients see of a record (storage keys stay inside)."""
    return record.model_dump(mode="json", exclude={"payload_key", "version_key"})


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


def authenticated(operation: str) -> Callable[[PlaneEndpoint], Callable[[Request], Awaitable[Response]]]:
    """Run the endpoint as the token's subject; every failure becomes a JSON error.

    ``operation`` labels the endpoint's metrics (``rest:<operation>``).
    """

    def wrap(endpoint: PlaneEndpoint) -> Callable[[Request], Awaitable[Response]]:
        @functools.wraps(endpoint)
        async def run(request: Request) -> Response:
            started = time.perf_counter()
            request_id = new_request_id()
            state = request.app.state
            try:
                subject = await state.verifier.subject_from_header(request.headers.get("authorization"))
                response = await endpoint(request, state.plane.for_subject(subject))
            except BodyTooLarge:
                raise  # the body-size middleware answers 413
            except ClientDisconnect:
                # The client went away mid-request (an upload cut short): nothing was stored, no one to tell.
                logger.info("client disconnected during %s (request %s)", operation, request_id)
                response = Response(status_code=400)
            except Exception as exc:
                response = error_response(exc, request_id)
            response.headers[REQUEST_ID_HEADER] = request_id
            outcome = "ok" if response.status_code < 400 else str(response.status_code)
            state.metrics.observe(f"rest:{operation}", outcome, started)
            return response

        return run

    return wrap
