"""``PUT /api/artifact``: a multipart upload streamed into the payload store.

The body is parsed as it arrives (python-multipart's push parser), and the
file part's bytes flow straight into :meth:`ScopedPlane.create_artifact` (or
:meth:`ScopedPlane.write` when a ``uri`` is given), so a payload larger than
memory never sits in memory. Form fields therefore come *before* the file
part: ``artifactType`` (required), ``contentType`` (default: the file part's
Content-Type), ``realm``, ``tags`` (repeat or comma-separate), ``uri``,
``version``, ``mode`` (``upsert`` | ``failIfExists``). Anything after the
file part other than the closing boundary is refused before the record is
written, so a malformed upload stores nothing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from artifact_plane.api.rest.common import authenticated, metadata
from artifact_plane.errors import InvalidInputError
from artifact_plane.scoped import ScopedPlane

MAX_FIELD_BYTES = 64 * 1024
FIELDS = {"artifactType", "contentType", "realm", "tags", "uri", "version", "mode"}


@dataclass
class _Part:
    headers: dict[str, str] = field(default_factory=dict)
    name: str = ""
    filename: str | None = None
    value: bytearray = field(default_factory=bytearray)


@dataclass
class _Event:
    kind: str  # field | file | data | end
    part: _Part
    data: bytes = b""


class _Parts:
    """Push parser callbacks turned into a queue of events, drained after every body chunk."""

    def __init__(self, boundary: bytes) -> None:
        self.events: list[_Event] = []
        self._part = _Part()
        self._header_field = bytearray()
        self._header_value = bytearray()
        self.parser = MultipartParser(
            boundary,
            {
                "on_part_begin": self._begin,
                "on_header_field": lambda d, s, e: self._header_field.extend(d[s:e]),
                "on_header_value": lambda d, s, e: self._header_value.extend(d[s:e]),
                "on_header_end": self._header_end,
                "on_headers_finished": self._headers_done,
                "on_part_data": self._data,
                "on_part_end": self._end,
            },
        )

    def _begin(self) -> None:
        self._part = _Part()

    def _header_end(self) -> None:
        self._part.headers[self._header_field.decode("latin-1").lower()] = self._header_value.decode(
            "latin-1"
        )
        self._header_field.clear()
        self._header_value.clear()

    def _headers_done(self) -> None:
        _, options = parse_options_header(self._part.headers.get("content-disposition", ""))
        self._part.name = options.get(b"name", b"").decode("utf-8", "replace")
        raw = options.get(b"filename")
        self._part.filename = raw.decode("utf-8", "replace") if raw is not None else None
        if self._part.filename is not None:
            self.events.append(_Event("file", self._part))

    def _data(self, data: bytes, start: int, end: int) -> None:
        if self._part.filename is not None:
            self.events.append(_Event("data", self._part, bytes(data[start:end])))
            return
        if len(self._part.value) + end - start > MAX_FIELD_BYTES:
            raise InvalidInputError(
                self._part.name or "form", f"form fields are limited to {MAX_FIELD_BYTES} bytes"
            )
        self._part.value.extend(data[start:end])

    def _end(self) -> None:
        self.events.append(_Event("end" if self._part.filename is not None else "field", self._part))


async def _events(request: Request) -> AsyncIterator[_Event]:
    media, options = parse_options_header(request.headers.get("content-type"))
    boundary = options.get(b"boundary")
    if media != b"multipart/form-data" or not boundary:
        raise InvalidInputError("content-type", "send multipart/form-data (fields first, then the file part)")
    parts = _Parts(boundary)
    async for chunk in request.stream():
        if chunk:
            parts.parser.write(chunk)
        for event in parts.events:
            yield event
        parts.events.clear()
    parts.parser.finalize()
    for event in parts.events:
        yield event


async def _file_chunks(events: AsyncIterator[_Event]) -> AsyncIterator[bytes]:
    """The file part's bytes; then checks nothing but the closing boundary follows."""
    async for event in events:
        if event.kind == "data":
            yield event.data
        elif event.kind == "end":
            break
    async for event in events:
        raise InvalidInputError(
            event.part.name or "form", "nothing may follow the file part; send fields first"
        )


def _form(fields: dict[str, list[str]], name: str) -> str | None:
    values = fields.get(name)
    return values[-1] if values else None


@authenticated("put_artifact")
async def put_artifact(request: Request, me: ScopedPlane) -> Response:
    events = _events(request)
    fields: dict[str, list[str]] = {}
    file_part: _Part | None = None
    async for event in events:
        if event.kind == "field":
            if event.part.name not in FIELDS:
                raise InvalidInputError(
                    event.part.name, f"unknown form field (known: {', '.join(sorted(FIELDS))})"
                )
            try:
                fields.setdefault(event.part.name, []).append(event.part.value.decode("utf-8"))
            except UnicodeDecodeError:
                raise InvalidInputError(event.part.name, "must be UTF-8 text") from None
        elif event.kind == "file":
            file_part = event.part
            break
    if file_part is None:
        raise InvalidInputError("file", "the upload has no file part (a part with a filename)")
    artifact_type = _form(fields, "artifactType")
    uri = _form(fields, "uri")
    if artifact_type is None and uri is None:
        raise InvalidInputError("artifactType", "required (send it as a form field before the file)")
    tags = [t.strip() for value in fields.get("tags", []) for t in value.split(",") if t.strip()]
    content_type = _form(fields, "contentType") or file_part.headers.get("content-type")
    chunks = _file_chunks(events)
    if uri is None:
        for named in ("version", "mode"):
            if named in fields:
                raise InvalidInputError(named, "applies to named writes: give a uri")
        artifact_id = await me.create_artifact(
            chunks,
            artifact_type=artifact_type or "document",
            content_type=content_type,
            realm=_form(fields, "realm"),
            tags=tags,
        )
    else:
        if "realm" in fields:
            raise InvalidInputError("realm", "a named write takes its realm from the uri")
        artifact_id = await me.write(
            uri,
            chunks,
            mode=_form(fields, "mode") or "upsert",
            version=_form(fields, "version"),
            artifact_type=artifact_type or "document",
            content_type=content_type,
            tags=tags,
        )
    record = await me.get_meta(artifact_id)
    return JSONResponse(
        metadata(record),
        status_code=201,
        headers={"Location": f"/api/artifact/{artifact_id}", "ETag": f'"{record.sha256}"'},
    )
