"""``GET /api/artifact/{id}`` (metadata) and ``GET /api/artifact/{id}/payload`` (streamed bytes)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from artifact_plane.api.rest.common import authenticated
from artifact_plane.scoped import ScopedPlane


@authenticated
async def get_artifact(request: Request, me: ScopedPlane) -> Response:
    record = await me.get_meta(request.path_params["artifact_id"])
    return JSONResponse(record.model_dump(mode="json", exclude={"payload_key", "version_key"}))


@authenticated
async def get_payload(request: Request, me: ScopedPlane) -> Response:
    record, chunks = await me.open_payload(request.path_params["artifact_id"])
    # Pull the first chunk now: a missing payload must become a 404, not a broken stream.
    first = await anext(chunks, b"")

    async def body() -> AsyncIterator[bytes]:
        yield first
        async for chunk in chunks:
            yield chunk

    headers = {"Content-Length": str(record.size_bytes), "ETag": f'"{record.sha256}"'}
    return StreamingResponse(body(), media_type=record.content_type, headers=headers)


def routes() -> list[Route]:
    return [
        Route("/api/artifact/{artifact_id}", get_artifact, methods=["GET"]),
        Route("/api/artifact/{artifact_id}/payload", get_payload, methods=["GET"]),
    ]
