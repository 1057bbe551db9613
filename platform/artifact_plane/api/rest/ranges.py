"""HTTP ``Range: bytes=…`` for payload downloads (RFC 9110 §14).

Written here because Starlette's range support belongs to ``FileResponse``
(a local file), while payloads stream from any store (a directory, GCS); the
stores already serve ``offset``/``length`` reads, so only the header needs
reading. One range per request: a multi-range request is served whole,
which RFC 9110 allows.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ByteRange:
    start: int
    end: int  # inclusive

    @property
    def length(self) -> int:
        return self.end - self.start + 1

    def content_range(self, size: int) -> str:
        return f"bytes {self.start}-{self.end}/{size}"


class Unsatisfiable(Exception):
    """The range lies wholly beyond the payload (answer 416)."""


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """The single range asked for, or None to send the whole payload.

    Raises:
        Unsatisfiable: a well-formed range that starts past the end.
    """
    if header is None:
        return None
    unit, _, spec = header.strip().partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first, dash, last = spec.strip().partition("-")
    if not dash:
        return None
    first, last = first.strip(), last.strip()
    if not (first.isdigit() or first == "") or not (last.isdigit() or last == "") or first == last == "":
        return None  # malformed: ignore it and send everything
    if first == "":  # a suffix: the last N bytes
        suffix = int(last)
        if suffix == 0:
            raise Unsatisfiable
        return ByteRange(max(size - suffix, 0), size - 1) if size else None
    start = int(first)
    end = size - 1 if last == "" else min(int(last), size - 1)
    if last != "" and int(last) < start:
        return None
    if start >= size:
        raise Unsatisfiable
    return ByteRange(start, end)
