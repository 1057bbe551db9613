"""Request body size limit, as ASGI middleware (before any route reads a byte).

A declared ``Content-Length`` over the limit is refused at once; a chunked
body is counted as it arrives and cut off at the limit. Either way the
client gets 413 with an ``INVALID_INPUT`` error naming the setting. The
streamed upload (``PUT /api/artifact``) has its own, larger limit
(``AP_MAX_PAYLOAD_BYTES``, enforced while the payload is stored).
"""

from __future__ import annotations

import json
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

UPLOAD_OVERHEAD = 1024 * 1024  # multipart headers and form fields around the payload


class BodyTooLarge(Exception):
    """Raised into the app when a chunked body passes the limit."""


class BodySizeLimit:
    """Refuse request bodies larger than the limit for their path."""

    def __init__(self, app: ASGIApp, limit_for: Callable[[Scope], int]) -> None:
        self.app = app
        self.limit_for = limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope)
        declared = dict(scope.get("headers", ())).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _refuse(send, limit)
            return
        seen = 0
        started = False

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except BodyTooLarge:
            if not started:
                await _refuse(send, limit)


async def _refuse(send: Send, limit: int) -> None:
    body = json.dumps(
        {
            "error": {
                "code": "INVALID_INPUT",
                "field": "body",
                "message": f"invalid body: the request body is larger than {limit} bytes "
                "(AP_MAX_REQUEST_BYTES; upload payloads with PUT /api/artifact)",
            }
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
