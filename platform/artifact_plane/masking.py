"""What of a policy input the decision log keeps: sensitive fields masked, size capped.

Every decision is logged with its input document (``subject``, ``action``,
``resource``, ``context``). Before anything is written:

1. **Masking.** Each configured path (``AP_POLICY_MASK``) names a field;
   its value, whatever it holds, is replaced by :data:`MASK`. The key stays,
   so an auditor sees the field was there. Paths are JSON pointers as in
   OPA's decision-log masking (``/context/authorization``, optionally
   ``/input/...`` like OPA's), RFC 6901 escapes (``~1`` is ``/``, ``~0`` is
   ``~``), ``*`` for any one key or list item (``/resource/metadata/*/token``),
   a number for one list item. A path the document does not have masks
   nothing and adds nothing. Unlike OPA the field is not erased: a masked
   field that vanished would look like one that was never sent.
2. **JSON that every store gives back unchanged**, so the hash chain
   (``ports/decisions.py``) verifies on SQLite and PostgreSQL alike: integral
   floats become integers (JSONB would turn ``1e20`` into an integer),
   NaN/Infinity become strings, NUL characters and lone surrogates (which
   PostgreSQL refuses) become U+FFFD, other values their ``str()``.
3. **A size cap** (``AP_POLICY_LOG_INPUT_MAX_BYTES``, default 8 KiB of
   compact JSON): one caller's large ``metadata`` or ``context`` must not
   bloat the log. Over the cap, the largest second-level values
   (``/resource/metadata``, ``/context/<key>``, …) and then, if still
   needed, whole parts are replaced, largest first, by a marker naming their
   size and the SHA-256 of their canonical JSON (sorted keys, compact), so
   an auditor can still match them against the artifact's stored metadata.
   Masking comes first: no digest is ever taken of a secret (a digest of a
   short secret such as an SSN is as good as the secret).

Hand-written because no maintained library does this: ``jsonpointer``
resolves one concrete path but has no wildcards and no "replace, keep the
key" over a whole document; OPA's own masking runs inside OPA only.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from artifact_plane.errors import ConfigurationError

if TYPE_CHECKING:
    from artifact_plane.models import Subject
    from artifact_plane.settings import Settings

__all__ = [
    "DEFAULT_MASK_PATHS",
    "DEFAULT_MAX_INPUT_BYTES",
    "MASK",
    "InputMask",
    "canonical_json",
    "parse_mask_paths",
]

MASK = "***"
DEFAULT_MAX_INPUT_BYTES = 8192
# Subjects whose masked part is kept between decisions (a token's subject decides again and again).
SUBJECT_CACHE = 4096
TOP_LEVEL = ("subject", "action", "resource", "context")
WILDCARD = "*"

# Credentials a caller or a realm handler may hand to policy as context (an
# HTTP header, a token it was called with), and the usual secret names in
# artifact metadata. Subject, action and the artifact's own fields are the
# point of the log and stay. AP_POLICY_MASK replaces this list (repeat these
# paths in it to keep them).
DEFAULT_MASK_PATHS: tuple[str, ...] = (
    "/context/authorization",
    "/context/cookie",
    "/context/token",
    "/context/access_token",
    "/context/id_token",
    "/context/refresh_token",
    "/context/password",
    "/context/secret",
    "/context/api_key",
    "/context/credentials",
    "/context/headers/authorization",
    "/context/headers/Authorization",
    "/context/headers/cookie",
    "/context/headers/Cookie",
    "/resource/metadata/password",
    "/resource/metadata/secret",
    "/resource/metadata/token",
    "/resource/metadata/api_key",
    "/resource/metadata/credentials",
)

SETTING = "AP_POLICY_MASK"
# A masked value grows by at most this (``1`` becomes ``"***"``): the size bound stays an upper bound.
_MASK_GROWTH = len(MASK) + 2
# {"subject":…,"action":…,"resource":…,"context":…} without the four values.
_ENVELOPE = len('{"subject":,"action":,"resource":,"context":}')
_SURROGATE = re.compile("[\ud800-\udfff]")


def canonical_json(value: Any) -> str:
    """Sorted keys, no spaces, UTF-8 text: the encoding hashed and measured here and in the chain."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


# ------------------------------------------------------------------ the paths


def _segments(path: str, setting: str) -> list[str]:
    if not isinstance(path, str) or not path.startswith("/"):
        raise ConfigurationError(setting, f"{path!r} is not a path: write it as /context/token")
    raw = path[1:].split("/")
    if raw[0] == "input":  # OPA's spelling: /input/context/token
        raw = raw[1:]
    segments: list[str] = []
    for part in raw:
        if not part:
            raise ConfigurationError(setting, f"{path!r} has an empty segment: drop the extra '/'")
        if "~" in part.replace("~0", "").replace("~1", ""):
            raise ConfigurationError(setting, f"{path!r}: '~' must be written ~0 ('/' is ~1)")
        segments.append(part.replace("~1", "/").replace("~0", "~"))
    if not segments:
        raise ConfigurationError(
            setting, f"{path!r} masks the whole input: name a field, e.g. /context/token"
        )
    if segments[0] not in (*TOP_LEVEL, WILDCARD):
        raise ConfigurationError(
            setting, f"{path!r} starts with {segments[0]!r}: the input has only {', '.join(TOP_LEVEL)}"
        )
    return segments


def parse_mask_paths(text: str | None, setting: str = SETTING) -> tuple[str, ...]:
    """The paths of a setting: a JSON list or comma-separated; None (unset) gives the defaults.

    Raises:
        ConfigurationError: empty, not a list of strings, or a path that is
            not a valid mask path (see the module docstring); names ``setting``.
    """
    if text is None:
        return DEFAULT_MASK_PATHS
    stripped = text.strip()
    if not stripped:
        raise ConfigurationError(
            setting, "is empty: unset it for the default list, or write [] to mask nothing"
        )
    if stripped.startswith("["):
        try:
            parsed = json.loads(stripped)
        except ValueError as exc:
            raise ConfigurationError(setting, f"is not a JSON list: {exc}") from exc
        if not isinstance(parsed, list) or not all(isinstance(p, str) for p in parsed):
            raise ConfigurationError(setting, 'must be a JSON list of strings, e.g. ["/context/token"]')
        paths = [p.strip() for p in parsed]
    else:
        paths = [p.strip() for p in stripped.split(",")]
    for path in paths:
        _segments(path, setting)
    return tuple(dict.fromkeys(paths))


class _Node:
    """One segment of the mask paths: masked here, or the segments below it."""

    __slots__ = ("children", "masked", "merged")

    def __init__(self) -> None:
        self.masked = False
        self.children: dict[str, _Node] = {}
        self.merged: dict[str, _Node | None] = {}

    def child(self, key: str) -> _Node | None:
        """The node of ``key``: its own paths together with the wildcard's."""
        try:
            return self.merged[key]
        except KeyError:
            pass
        exact, wild = self.children.get(key), self.children.get(WILDCARD)
        found = exact if wild is None else wild if exact is None else _union(exact, wild)
        if len(self.merged) < 1024:  # keys come from callers: bound the cache
            self.merged[key] = found
        return found


def _union(a: _Node, b: _Node) -> _Node:
    node = _Node()
    node.masked = a.masked or b.masked
    node.children = {**a.children, **b.children}
    for key in a.children.keys() & b.children.keys():
        node.children[key] = _union(a.children[key], b.children[key])
    return node


# --------------------------------------------------------------- the document


def _text(value: str) -> str:
    if type(value) is not str:  # a StrEnum and the like: the plain text
        value = str.__str__(value)
    if "\x00" in value:
        value = value.replace("\x00", "\ufffd")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate, e.g. from a "\ud800" escape in a request
            value = _SURROGATE.sub("\ufffd", value)
    return value


def _key(key: Any) -> str:
    # As json.dumps names a key that is not a string, so both paths of _plain agree.
    if isinstance(key, str):
        return _text(key)
    if key is None or isinstance(key, bool | int | float):
        return json.dumps(key)
    return _text(str(key))


def _copy(value: Any) -> Any:
    """``value`` as plain JSON that round-trips through every store (the slow, general path)."""
    if isinstance(value, str):
        return _text(value)
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
        return int(value) if value.is_integer() else value
    if isinstance(value, Mapping):
        return {_key(key): _copy(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_copy(item) for item in value]
    return _text(str(value))


# What json.dumps writes only for values _copy changes: an integral float ("3.0", "1e+20"),
# NUL, a surrogate escape (a lone one, or half of a non-BMP pair: a false alarm costs only
# time). A string holding the same text is a false alarm too.
_ENCODER = json.JSONEncoder(separators=(",", ":"), allow_nan=False)
_DECODE = json.JSONDecoder().decode
_SUSPECT = re.compile(r"\.0(?:[,\]}]|$)|e\+|\\u0000|\\ud[89a-f]")


def _plain(value: Any) -> tuple[Any, int]:
    """``_copy(value)`` and an upper bound of its compact JSON size in bytes.

    The common case costs two C calls: dump (which refuses NaN and non-JSON
    types) and load, when the text shows nothing ``_copy`` would change.
    """
    if type(value) is str:
        text = _text(value)
        return text, len(_ENCODER.encode(text))
    if type(value) is dict and not value:
        return {}, 2
    try:
        encoded = _ENCODER.encode(value)
    except (TypeError, ValueError):
        encoded = None
    if encoded is not None and _SUSPECT.search(encoded) is None:
        # ASCII-escaped text is at least as long as its UTF-8 encoding: an upper bound.
        return _DECODE(encoded), len(encoded)
    plain = _copy(value)
    return plain, len(_ENCODER.encode(plain))


def _mask(value: Any, node: _Node) -> int:
    """Replace, in place, what ``node``'s paths name below ``value``; return how many were masked."""
    masked = 0
    if isinstance(value, dict):
        keys: Any = value.keys() if WILDCARD in node.children else node.children.keys() & value.keys()
        for key in list(keys):
            child = node.child(key)
            if child is None:
                continue
            if child.masked:
                value[key] = MASK
                masked += 1
            else:
                masked += _mask(value[key], child)
    elif isinstance(value, list):
        indexes: Any = range(len(value))
        if WILDCARD not in node.children:
            indexes = [int(k) for k in node.children if k.isascii() and k.isdigit() and int(k) < len(value)]
        for index in indexes:
            child = node.child(str(index))
            if child is None:
                continue
            if child.masked:
                value[index] = MASK
                masked += 1
            else:
                masked += _mask(value[index], child)
    return masked


def _size(value: Any) -> int:
    return len(canonical_json(value).encode("utf-8"))


def _cut(value: Any, size: int) -> str:
    digest = hashlib.sha256(canonical_json(value).encode("utf-8")).hexdigest()
    return f"*** cut: {size} bytes over the log's input cap, sha256:{digest} ***"


class InputMask:
    """Masks, normalises and caps policy input documents for the decision log.

    Args:
        paths: mask paths (see the module docstring); the defaults when None.
        max_bytes: the cap on one logged input's compact JSON.
        setting: the setting named by errors.

    Raises:
        ConfigurationError: a path is invalid, or ``max_bytes`` is below 512.
    """

    def __init__(
        self,
        paths: Sequence[str] | None = None,
        *,
        max_bytes: int = DEFAULT_MAX_INPUT_BYTES,
        setting: str = SETTING,
    ) -> None:
        if max_bytes < 512:
            raise ConfigurationError("AP_POLICY_LOG_INPUT_MAX_BYTES", f"{max_bytes} is below 512")
        self.paths = tuple(DEFAULT_MASK_PATHS if paths is None else paths)
        self.max_bytes = max_bytes
        self._subjects: dict[Subject, tuple[Any, int]] = {}
        self._root = _Node()
        for path in self.paths:
            node = self._root
            for segment in _segments(path, setting):
                node = node.children.setdefault(segment, _Node())
            node.masked = True

    @classmethod
    def from_settings(cls, settings: Settings) -> InputMask:
        """From ``AP_POLICY_MASK`` and ``AP_POLICY_LOG_INPUT_MAX_BYTES``.

        Raises:
            ConfigurationError: either setting is invalid (named in the error).
        """
        return cls(parse_mask_paths(settings.policy_mask), max_bytes=settings.policy_log_input_max_bytes)

    def __repr__(self) -> str:
        return f"InputMask({list(self.paths)!r}, max_bytes={self.max_bytes})"

    def apply(self, document: Mapping[str, Any]) -> dict[str, Any]:
        """The document as the log keeps it (a new one; ``document`` is not changed)."""
        plain, size = _plain(document)
        if not isinstance(plain, dict):
            raise TypeError(f"a policy input is a JSON object, not {type(document).__name__}")
        size += _MASK_GROWTH * _mask(plain, self._root)
        return plain if size <= self.max_bytes else self._fit(plain)

    def documents(
        self,
        subject: Subject,
        action: str,
        resources: Sequence[Mapping[str, Any]],
        context: Mapping[str, Any],
    ) -> list[dict[str, Any]]:
        """:meth:`apply` of each resource's :class:`~artifact_plane.models.PolicyInput` document.

        The parts every resource shares are masked once; a subject's part is
        kept for its next decisions (shared, never changed in place).
        """
        (subject_doc, a), (action_doc, b), (context_doc, c) = (
            self._subject(subject),
            self._part("action", action),
            self._part("context", context),
        )
        shared_size = a + b + c + _ENVELOPE
        logged: list[dict[str, Any]] = []
        for resource in resources:
            resource_doc, size = self._part("resource", resource)
            document = {
                "subject": subject_doc,
                "action": action_doc,
                "resource": resource_doc,
                "context": context_doc,
            }
            logged.append(document if shared_size + size <= self.max_bytes else self._fit(document))
        return logged

    def _subject(self, subject: Subject) -> tuple[Any, int]:
        found = self._subjects.get(subject)
        if found is None:
            if len(self._subjects) >= SUBJECT_CACHE:
                self._subjects.clear()
            found = self._subjects[subject] = self._part("subject", subject.model_dump(mode="json"))
        return found

    def _part(self, key: str, value: Any) -> tuple[Any, int]:
        """One part of the input, masked, and an upper bound of its size."""
        node = self._root.child(key)
        if node is not None and node.masked:
            return MASK, len(MASK) + 2
        plain, size = _plain(value)
        if node is not None:
            size += _MASK_GROWTH * _mask(plain, node)
        return plain, size

    def _fit(self, document: dict[str, Any]) -> dict[str, Any]:
        total = len(json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))
        if total <= self.max_bytes:
            return document
        # Largest second-level values first, then whole parts: the least context lost per byte saved.
        fitted = {key: dict(part) if isinstance(part, dict) else part for key, part in document.items()}
        deeper = [
            (_size(value), top, key)
            for top, part in fitted.items()
            if isinstance(part, dict)
            for key, value in part.items()
        ]
        parts = [(_size(part), top, None) for top, part in fitted.items()]
        cut: set[tuple[str, str | None]] = set()
        for candidates in (deeper, parts):
            for _, top, key in sorted(candidates, key=lambda c: (-c[0], c[1], c[2] or "")):
                if total <= self.max_bytes:
                    return fitted
                if (top, key) in cut:
                    continue
                holder: dict[str, Any] = fitted[top] if key is not None else fitted
                name = key if key is not None else top
                current = _size(holder[name])
                marker = _cut(holder[name], current)
                saved = current - _size(marker)
                if saved > 0:
                    holder[name] = marker
                    cut.add((top, key))
                    total -= saved
        return fitted
