"""Which errors a client may see, and how they look over HTTP.

Errors of the plane carry a stable ``code``; those in :data:`EXPOSED_CODES`
reach the client with their message. Anything else is unexpected: the client
gets ``internal error`` and a request id, the log gets the traceback.
"""

from __future__ import annotations

import uuid

from artifact_plane.errors import ArtifactPlaneError, InvalidInputError, PolicyDeniedError

__all__ = ["EXPOSED_CODES", "HTTP_STATUS", "MASKED_MESSAGE", "error_extensions", "exposed", "new_request_id"]

MASKED_MESSAGE = "internal error"

HTTP_STATUS: dict[str, int] = {
    "INVALID_INPUT": 400,
    "UNAUTHENTICATED": 401,
    "FORBIDDEN": 403,
    "NOT_FOUND": 404,
    "CONFLICT": 409,
    "UNAVAILABLE": 503,
    "DEADLINE_EXCEEDED": 504,
}
# ConfigurationError (a server-side fault whose message names settings and paths) is not here.
EXPOSED_CODES = frozenset(HTTP_STATUS)


def exposed(error: BaseException | None) -> ArtifactPlaneError | None:
    """``error`` when the client may see it as it is, else None."""
    if isinstance(error, ArtifactPlaneError) and error.code in EXPOSED_CODES:
        return error
    return None


def error_extensions(error: ArtifactPlaneError) -> dict[str, object]:
    """The machine-readable details of an exposed error (``code`` first)."""
    details: dict[str, object] = {"code": error.code}
    if isinstance(error, InvalidInputError):
        details["field"] = error.field
    if isinstance(error, PolicyDeniedError):
        details["reasons"] = list(error.reasons)
        if error.decision_id:
            details["decisionId"] = error.decision_id
    return details


def new_request_id() -> str:
    """A fresh id tying a client's error to the server's log line."""
    return uuid.uuid4().hex
