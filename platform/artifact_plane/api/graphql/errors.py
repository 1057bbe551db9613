"""GraphQL errors: stable codes for expected errors, a mask over everything else.

Resolvers just raise the plane's errors. Errors about the query document
itself (syntax, validation, the depth and token limits) get
``INVALID_INPUT`` with ``field: query`` (and ``limit`` naming the setting).
:class:`PlaneSchema` logs what is
unexpected (with the traceback and the request id) before the extensions
run; :class:`PlaneErrors` then gives expected errors their
``extensions.code`` and masks the rest as ``internal error`` with the same
request id, so a client report can be matched to the log line.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import strawberry
from graphql import GraphQLError
from starlette.responses import Response
from strawberry.extensions import MaskErrors
from strawberry.types import ExecutionContext

from artifact_plane.api.errors import MASKED_MESSAGE, error_extensions, exposed
from artifact_plane.api.graphql.context import ApiContext

logger = logging.getLogger("artifact_plane.api")


def _request_id(execution_context: ExecutionContext | None) -> str | None:
    context = execution_context.context if execution_context is not None else None
    return context.request_id if isinstance(context, ApiContext) else None


def _unexpected(error: GraphQLError) -> bool:
    # No original error: a parse or validation error about the query itself, safe to show.
    return error.original_error is not None and exposed(error.original_error) is None


class PlaneSchema(strawberry.Schema):
    """A schema that logs unexpected errors once, with their request id."""

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        request_id = _request_id(execution_context)
        for error in errors:
            if _unexpected(error):
                logger.error(
                    "unexpected error in GraphQL %s (request %s)",
                    ".".join(map(str, error.path or ())) or "operation",
                    request_id,
                    exc_info=error.original_error,
                )
            else:
                logger.debug("GraphQL error (request %s): %s", request_id, error.message)


class PlaneErrors(MaskErrors):
    """Codes on expected errors (``extensions.code``), a mask over unexpected ones."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=_unexpected, error_message=MASKED_MESSAGE)

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        masked = super().anonymise_error(error)
        extensions: dict[str, Any] = {"code": "INTERNAL"}
        request_id = _request_id(self.execution_context)
        if request_id is not None:
            extensions["requestId"] = request_id
        masked.extensions = extensions
        return masked

    def on_operation(self) -> Iterator[None]:
        yield from super().on_operation()
        result = self.execution_context.result
        _add_codes(result)
        context = self.execution_context.context
        unauthenticated = any(
            (e.extensions or {}).get("code") == "UNAUTHENTICATED"
            for e in getattr(result, "errors", None) or ()
        )
        if unauthenticated and isinstance(context, ApiContext) and isinstance(context.response, Response):
            # No (valid) token: HTTP 401 as for REST; introspection alone still answers 200.
            context.response.status_code = 401
            context.response.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'

    def on_stream_result(self, result: Any) -> Iterator[None]:
        """Each result of a subscription: masked and coded before it reaches the client."""
        self._stream_result_processed = True
        self._process_stream_result(result)
        _add_codes(result)
        yield None


def _add_codes(result: object) -> None:
    for error in getattr(result, "errors", None) or ():
        known = exposed(error.original_error)
        if known is not None:
            error.extensions = {**(error.extensions or {}), **error_extensions(known)}
        elif (
            error.original_error is None
            and getattr(result, "data", None) is None
            and "code" not in (error.extensions or {})  # a masked error already says INTERNAL
        ):
            # Not executed: the document itself was refused.
            error.extensions = {**(error.extensions or {}), **_document_error(error.message)}


# The query-document limits (strawberry's MaxTokensLimiter, QueryDepthLimiter) and the settings behind them.
LIMIT_SETTINGS = {
    "tokens. Parsing aborted": "AP_MAX_QUERY_TOKENS",
    "exceeds maximum operation depth": "AP_MAX_QUERY_DEPTH",
}


def _document_error(message: str) -> dict[str, Any]:
    """A parse, validation or limit error about the query document itself: INVALID_INPUT."""
    details: dict[str, Any] = {"code": "INVALID_INPUT", "field": "query"}
    for fragment, setting in LIMIT_SETTINGS.items():
        if fragment in message:
            details["limit"] = setting
    return details
