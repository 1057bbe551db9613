"""What a decision can depend on: the declaration in ``policies/decision_inputs.json``.

The policies declare the resource fields they read::

    {"resource": ["artifact_type", "realm", ...], "thresholds": {"size_bytes": "maxSizeBytes"}}

A field under ``resource`` is read as it is: its value is part of the cache
key. A field under ``thresholds`` is read ONLY as ``field > L``, where L is a
number stored under the named key somewhere in the data document (e.g. a
realm manifest's ``content.maxSizeBytes``). Its value matters only through
which limits it exceeds, so the key holds ``(value > L for each L)`` instead
of the value: two sizes on the same side of every limit share one decision.

A field under ``globs`` (``{"uri": "paths"}``) is read ONLY by parsing it
as ``artifact://<realm>/<path>`` and matching the path with
``glob.match(g, ["/"], path)`` for globs g listed under the named key in the
data (a manifest's ``permissions.*.paths``; and ``**``), besides being
quoted in denial reasons. It stays in the exact key (reasons quote it), but
:func:`resource_allow_key` replaces it by its realm and which globs its path
matches: an *allow* (which has no reasons) found for one URI answers every
URI with the same projection, so a million named artifacts need not be a
million evaluations. A denial quotes the URI, so :func:`transfer_reasons` moves one
found for one URI to another of the same projection by replacing the quote.

A limit that is not a number is ignored, which is exact: in Rego a number is
above every null and boolean and below every string, array and object, so
``number > non-number`` is the same for every number. A value that is not a
number (a string, say) is keyed as itself; a missing value keys as null.
"""

from __future__ import annotations

import bisect
import json
import re
from collections.abc import Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from artifact_plane.errors import ConfigurationError

__all__ = [
    "DECISION_INPUTS",
    "DecisionInputs",
    "collect_globs",
    "collect_limits",
    "decision_inputs",
    "fixed_text",
    "glob_regex",
    "request_key",
    "resource_allow_key",
    "resource_key",
    "transfer_reasons",
]

DECISION_INPUTS = "decision_inputs.json"


@dataclass(frozen=True)
class DecisionInputs:
    """The resource fields a decision depends on, as declared and resolved against the data."""

    fields: frozenset[str]
    # (field, sorted distinct limits) for each threshold field, sorted by field.
    thresholds: tuple[tuple[str, tuple[int | float, ...]], ...] = ()
    # (field, sorted distinct globs as compiled patterns) for each glob field, sorted by field.
    globs: tuple[tuple[str, tuple[re.Pattern[str], ...]], ...] = ()

    sorted_fields: tuple[str, ...] = field(init=False)
    glob_map: Mapping[str, tuple[re.Pattern[str], ...]] = field(init=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "sorted_fields", tuple(sorted(self.fields)))
        object.__setattr__(self, "glob_map", dict(self.globs))


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _stored_under(data: Any, key: str) -> Iterator[Any]:
    """Every value stored under ``key`` anywhere in ``data`` (not looked into further)."""
    stack = [data]
    while stack:
        node = stack.pop()
        if isinstance(node, Mapping):
            for name, value in node.items():
                if name == key:
                    yield value
                else:
                    stack.append(value)
        elif isinstance(node, list | tuple):
            stack.extend(node)


def collect_limits(data: Any, key: str) -> tuple[int | float, ...]:
    """Every number stored under ``key`` anywhere in ``data``, sorted and distinct."""
    return tuple(sorted({value for value in _stored_under(data, key) if _is_number(value)}))


# The glob characters realm manifests allow (realms_manifest._GLOB): `*` and `**` only.
_SAFE_GLOB = re.compile(r"[A-Za-z0-9._*/-]+")
URI_SCHEME = "artifact://"


def glob_regex(glob: str) -> re.Pattern[str] | None:
    """``glob.match(glob, ["/"], path)`` as a regex: ``**`` any characters, ``*`` any but ``/``.

    None for a glob with other special characters (``?``, classes,
    alternatives): its field is then not projected at all.
    """
    if not _SAFE_GLOB.fullmatch(glob):
        return None
    within = ("[^/]*".join(re.escape(bit) for bit in piece.split("*")) for piece in glob.split("**"))
    return re.compile(".*".join(within))


def collect_globs(data: Any, key: str) -> tuple[str, ...] | None:
    """Every string in a list stored under ``key`` anywhere in ``data`` (and ``**``), sorted and distinct.

    None when one of them is not a list of strings (nothing can be projected then).
    """
    found: set[str] = {"**"}
    for value in _stored_under(data, key):
        if value is None:
            continue
        if not isinstance(value, list | tuple) or not all(isinstance(g, str) for g in value):
            return None
        found.update(value)
    return tuple(sorted(found))


def decision_inputs(
    policy_dir: Path, files: Sequence[tuple[str, str]], data: Mapping[str, Any]
) -> DecisionInputs | None:
    """The declaration with each threshold's limits collected from ``data``; None when there is none.

    Raises:
        ConfigurationError: the declaration is not ``{"resource": [names],
            "thresholds": {name: data key}}`` (thresholds optional), or a
            field is declared both ways; the message names the file.
    """
    text = dict(files).get(DECISION_INPUTS)
    if text is None:
        return None
    where = policy_dir / DECISION_INPUTS
    try:
        declared = json.loads(text)
        fields = declared["resource"]
        thresholds = declared.get("thresholds", {})
        globs = declared.get("globs", {})
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ConfigurationError(
            "AP_POLICY_DIR",
            f'{where} must be {{"resource": [field names], "thresholds": {{field: data key}}}}: {exc}',
        ) from exc
    if not isinstance(fields, list) or not all(isinstance(name, str) for name in fields):
        raise ConfigurationError("AP_POLICY_DIR", f"{where}: resource must list names")
    if not isinstance(thresholds, dict) or not all(
        isinstance(name, str) and isinstance(limit, str) and name and limit
        for name, limit in thresholds.items()
    ):
        raise ConfigurationError(
            "AP_POLICY_DIR",
            f"{where}: thresholds must map resource fields to data keys, "
            '{"size_bytes": "maxSizeBytes"} for example',
        )
    if not isinstance(globs, dict) or not all(
        isinstance(name, str) and isinstance(key, str) and name in fields and key
        for name, key in globs.items()
    ):
        raise ConfigurationError(
            "AP_POLICY_DIR",
            f"{where}: globs must map resource fields (also listed under resource) to data keys, "
            '{"uri": "paths"} for example',
        )
    both = sorted(set(fields) & set(thresholds))
    if both:
        raise ConfigurationError(
            "AP_POLICY_DIR",
            f"{where}: {both} declared under both resource and thresholds; "
            "list a field read only as `field > limit` under thresholds alone",
        )
    resolved = tuple((name, collect_limits(data, thresholds[name])) for name in sorted(thresholds))
    patterns: list[tuple[str, tuple[re.Pattern[str], ...]]] = []
    for name in sorted(globs):
        found = collect_globs(data, globs[name])
        compiled = [glob_regex(g) for g in found] if found is not None else [None]
        if all(c is not None for c in compiled):
            patterns.append((name, tuple(c for c in compiled if c is not None)))
    return DecisionInputs(frozenset(fields), resolved, tuple(patterns))


def _threshold_key(value: object, limits: tuple[int | float, ...]) -> object:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        return ["value", value]  # not a number (NaN included): keyed as itself
    # The tuple (value > L for L in limits) is True exactly for the first
    # bisect_left(limits, value) limits: that count says the same in one int.
    return bisect.bisect_left(limits, value)


def _uri_projection(value: object, patterns: tuple[re.Pattern[str], ...]) -> Hashable:
    """``[realm, matches…]`` for ``artifact://realm/path`` as realms.rego parses it; else the value."""
    if not isinstance(value, str) or not value.startswith(URI_SCHEME):
        return ("!value", freeze(value))
    rest = value[len(URI_SCHEME) :]
    cut = rest.find("/")
    path = rest[cut + 1 :]
    if cut <= 0 or not path:
        return ("!value", value)
    return ("!uri", rest[:cut], "".join("1" if p.fullmatch(path) else "0" for p in patterns))


def request_key(subject: Any, action: object, context: object) -> str:
    """The part of every key that is not the resource: subject, action and context, as JSON."""
    return json.dumps([subject, action, context], sort_keys=True, separators=(",", ":"), default=str)


def freeze(value: Any) -> Hashable:
    """A hashable value equal exactly when the JSON values are equal (true is not 1, [1] is not (1,))."""
    kind = type(value)
    if kind is str or kind is int or value is None:  # the common case first: this runs per field
        plain: Hashable = value
        return plain
    if kind is bool:
        return ("!bool", value)
    if isinstance(value, float):
        return ("!nan",) if value != value else value  # 1.0 == 1, as in Rego
    if isinstance(value, list | tuple):
        if all(type(item) is str for item in value):  # tags and the like: no call per item
            return ("!list", *value)
        return ("!list", *(freeze(item) for item in value))
    if isinstance(value, Mapping):
        return ("!object", *sorted((str(k), freeze(v)) for k, v in value.items()))
    return ("!str", str(value))  # what the JSON document would carry (a datetime's text, say)


_ABSENT: Hashable = ("!absent",)  # a declared field the resource lacks (no frozen value is this tuple)
_NO_GLOBS: Mapping[str, tuple[re.Pattern[str], ...]] = {}


def _resource_key(resource: Mapping[str, Any], inputs: DecisionInputs, *, project: bool) -> Hashable:
    # A tuple by position in sorted_fields, then thresholds: this runs for every
    # distinct resource of every call (an audit's millions), so no per-part names.
    globs = inputs.glob_map if project else _NO_GLOBS
    parts: list[Hashable] = []
    for name in inputs.sorted_fields:
        value = resource.get(name, _ABSENT)
        if value is _ABSENT:
            parts.append(_ABSENT)
        elif name in globs:
            parts.append(_uri_projection(value, globs[name]))
        else:
            kind = type(value)
            parts.append(value if kind is str or value is None else freeze(value))
    for name, limits in inputs.thresholds:
        above = _threshold_key(resource.get(name), limits)
        parts.append(above if type(above) is int or above is None else freeze(above))
    return tuple(parts)


def fixed_text(resource: Mapping[str, Any], inputs: DecisionInputs, request: str) -> str:
    """Everything but the glob fields that a request's policies see, as JSON text.

    ``request`` is :func:`request_key` (subject, action, context); the
    declared fields that are not glob fields follow. For requests with the
    same :func:`resource_allow_key` it is the same text, so it is made once
    per denial and searched by :func:`transfer_reasons`.
    """
    others = [resource.get(name) for name in inputs.sorted_fields if name not in inputs.glob_map]
    return request + json.dumps(others, sort_keys=True, default=str)


def transfer_reasons(
    reasons: Sequence[str],
    inputs: DecisionInputs,
    source: Mapping[str, Any],
    target: Mapping[str, Any],
    *,
    fixed: str,
) -> tuple[str, ...] | None:
    """``source``'s denial reasons as they read for ``target``; None when that cannot be told safely.

    For two resources with the same :func:`resource_allow_key` (same realm and
    glob matches, every other declared field equal), a glob field changes a
    decision only through its verbatim quotes in the reasons (what the
    declaration promises), so ``target``'s reasons are ``source``'s with each
    differing glob value replaced. ``fixed`` is :func:`fixed_text` of the
    source. Refused (None), so the request is evaluated instead, when a value
    is not a string, when the old value also occurs in ``fixed`` (it would be
    replaced there too), or when the replacement would reorder the reasons
    (the policies sort them; an order that is not sorted might depend on the
    value).
    """
    moved = list(reasons)
    for name, _ in inputs.globs:
        old, new = source.get(name), target.get(name)
        if old == new:
            continue
        if not isinstance(old, str) or not isinstance(new, str) or not old:
            return None
        if json.dumps(old)[1:-1] in fixed:  # both escaped alike (json.dumps, ASCII)
            return None
        moved = [reason.replace(old, new) for reason in moved]
    if len(moved) > 1 and not (list(reasons) == sorted(reasons) and moved == sorted(moved)):
        return None
    return tuple(moved)


def resource_key(resource: Mapping[str, Any], inputs: DecisionInputs) -> Hashable:
    """The declared fields of ``resource`` and each threshold field's side of its limits."""
    return _resource_key(resource, inputs, project=False)


def resource_allow_key(resource: Mapping[str, Any], inputs: DecisionInputs) -> Hashable | None:
    """:func:`resource_key` with each glob field projected; None when no field is declared under globs."""
    return _resource_key(resource, inputs, project=True) if inputs.globs else None
