"""What a decision can depend on: the declaration in ``policies/decision_inputs.json``.

The policies declare the resource fields they read::

    {"resource": ["artifact_type", "realm", ...], "thresholds": {"size_bytes": "maxSizeBytes"}}

A field under ``resource`` is read as it is: its value is part of the cache
key. A field under ``thresholds`` is read ONLY as ``field > L``, where L is a
number stored under the named key somewhere in the data document (e.g. a
realm manifest's ``content.maxSizeBytes``). Its value matters only through
which limits it exceeds, so the key holds ``(value > L for each L)`` instead
of the value: two sizes on the same side of every limit share one decision.

A limit that is not a number is ignored, which is exact: in Rego a number is
above every null and boolean and below every string, array and object, so
``number > non-number`` is the same for every number. A value that is not a
number (a string, say) is keyed as itself; a missing value keys as null.
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from artifact_plane.errors import ConfigurationError

__all__ = ["DECISION_INPUTS", "DecisionInputs", "cache_key", "collect_limits", "decision_inputs"]

DECISION_INPUTS = "decision_inputs.json"


@dataclass(frozen=True)
class DecisionInputs:
    """The resource fields a decision depends on, as declared and resolved against the data."""

    fields: frozenset[str]
    # (field, sorted distinct limits) for each threshold field, sorted by field.
    thresholds: tuple[tuple[str, tuple[int | float, ...]], ...] = ()


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def collect_limits(data: Any, key: str) -> tuple[int | float, ...]:
    """Every number stored under ``key`` anywhere in ``data``, sorted and distinct."""
    found: set[int | float] = set()
    stack = [data]
    while stack:
        node = stack.pop()
        if isinstance(node, Mapping):
            for name, value in node.items():
                if name == key and _is_number(value):
                    found.add(value)
                else:
                    stack.append(value)
        elif isinstance(node, list | tuple):
            stack.extend(node)
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
    both = sorted(set(fields) & set(thresholds))
    if both:
        raise ConfigurationError(
            "AP_POLICY_DIR",
            f"{where}: {both} declared under both resource and thresholds; "
            "list a field read only as `field > limit` under thresholds alone",
        )
    resolved = tuple((name, collect_limits(data, thresholds[name])) for name in sorted(thresholds))
    return DecisionInputs(frozenset(fields), resolved)


def _threshold_key(value: object, limits: tuple[int | float, ...]) -> object:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        return ["value", value]  # not a number (NaN included): keyed as itself
    # The tuple (value > L for L in limits) is True exactly for the first
    # bisect_left(limits, value) limits: that count says the same in one int.
    return bisect.bisect_left(limits, value)


def cache_key(document: Mapping[str, Any], inputs: DecisionInputs) -> str:
    """Subject, action, context, the declared fields and each threshold field's side of its limits."""
    resource = document.get("resource") or {}
    projected = {name: resource[name] for name in sorted(inputs.fields) if name in resource}
    above = {name: _threshold_key(resource.get(name), limits) for name, limits in inputs.thresholds}
    return json.dumps(
        [document.get("subject"), document.get("action"), document.get("context"), projected, above],
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
