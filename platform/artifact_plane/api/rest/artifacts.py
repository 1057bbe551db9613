"""``GET /api/artifact/{id}`` (metadata) and ``GET /api/artifact/{id}/payload`` (streamed bytes).

The payload answers with ``ETag`` (the SHA-256, which never changes for an
artifact), ``Accept-Ranges``, ``304`` for a matching ``If-None-Match``, and
``206`` for a ``Range`` (honouring ``If-Range``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from artifact_plane.api.rest.common import authenticated, metadata
from artifact_plane.api.rest.ranges import Unsatisfiable, parse_range
from artifact_plane.api.rest.upload import put_artifact
from artifact_plane.scoped import ScopedPlane


@authenticated("get_artifact")
async def get_artifact(request: Request, me: ScopedPlane) -> Response:
    record = await me.get_meta(request.path_params["artifact_id"])
    return JSONResponse(metadata(record), headers={"ETag": f'"{record.sha256}"'})


def _matches(header: str | None, etag: str) -> bool:
    if header is None:
        return False
    tags = {t.strip().removeprefix("W/") for t in header.split(",")}
    return "*" in tags or etag in tags


@authenticated("get_payload")
async def get_payload(request: Request, me: ScopedPlane) -> Response:
    export = await me.export_payload(request.path_params["artifact_id"])
    record = export.record
    etag = f'"{record.sha256}"'
    headers = {"ETag": etag, "Accept-Ranges": "bytes"}
    if _matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    wanted = request.headers.get("range")
    if_range = request.headers.get("if-range")
    if if_range is not None and if_range.strip() != etag:
        wanted = None  # the client's copy is another version: send everything
    try:
        byte_range = parse_range(wanted, record.size_bytes)
    except Unsatisfiable:
        headers["Content-Range"] = f"bytes */{record.size_bytes}"
        return Response(status_code=416, headers=headers)
    offset, length = (byte_range.start, byte_range.length) if byte_range else (0, None)
    chunks = export.open(offset, length)
    # Pull the first chunk now: a missing payload must become a 404, not a broken stream.
    first = await anext(chunks, b"")

    async def body() -> AsyncIterator[bytes]:
        yield first
        async for chunk in chunks:
            yield chunk

    if byte_range is None:
        headers["Content-Length"] = str(record.size_bytes)
        return StreamingResponse(body(), media_type=record.content_type, headers=headers)
    headers["Content-Length"] = str(byte_range.length)
    headers["Content-Range"] = byte_range.content_range(record.size_bytes)
    return StreamingResponse(body(), status_code=206, media_type=record.content_type, headers=headers)


def routes() -> list[Route]:
    return [
        Route("/api/artifact", put_artifact, methods=["PUT"]),
        Route("/api/artifact/{artifact_id}", get_artifact, methods=["GET"]),
        Route("/api/artifact/{artifact_id}/payload", get_payload, methods=["GET"]),
    ]
