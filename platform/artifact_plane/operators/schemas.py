"""JSON Schema checks of params and results, and a sample params document for validation.

Validation is the ``jsonschema`` library's. The sample generator is written
here because what it must produce is narrow and deterministic: the one
document the author meant as an example (``examples`` / ``default``), else
the smallest value of each required property. Property-based generators
(hypothesis-jsonschema) produce random adversarial values instead, which is
not what "run the sample" should mean.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jsonschema import Draft202012Validator

from artifact_plane.errors import InvalidInputError

__all__ = ["apply_defaults", "check", "sample"]


def check(schema: Mapping[str, Any], document: object, what: str) -> None:
    """Validate ``document`` against ``schema``.

    Raises:
        InvalidInputError: ``field`` is ``what`` plus the JSON path of the first
            error, ``reason`` the validator's message.
    """
    validator = Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(document), key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        first = errors[0]
        path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in first.absolute_path)
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise InvalidInputError(f"{what}{path}", f"{first.message}{more}")


def apply_defaults(schema: Mapping[str, Any], params: Mapping[str, Any]) -> dict[str, Any]:
    """``params`` with the top-level ``default`` of each absent property filled in."""
    filled = dict(params)
    for name, prop in schema.get("properties", {}).items():
        if name not in filled and isinstance(prop, Mapping) and "default" in prop:
            filled[name] = prop["default"]
    return filled


_MINIMAL: dict[str, Any] = {
    "string": "sample",
    "integer": 1,
    "number": 1.0,
    "boolean": True,
    "array": [],
    "null": None,
}


def sample(schema: Mapping[str, Any]) -> Any:
    """A document meant to satisfy ``schema``: its example, default, or smallest valid shape."""
    if schema.get("examples"):
        return schema["examples"][0]
    if "default" in schema:
        return schema["default"]
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    kind = schema.get("type", "object")
    if isinstance(kind, list):
        kind = kind[0]
    if kind == "object":
        properties = schema.get("properties", {})
        return {name: sample(properties.get(name, {})) for name in schema.get("required", [])}
    if kind == "array":
        minimum = int(schema.get("minItems", 0))
        return [sample(schema.get("items", {})) for _ in range(minimum)]
    if kind in ("integer", "number"):
        low = schema.get("minimum", schema.get("exclusiveMinimum", _MINIMAL[kind]))
        return low + (1 if "exclusiveMinimum" in schema and "minimum" not in schema else 0)
    if kind == "string":
        length = int(schema.get("minLength", 0))
        return "sample".ljust(length, "x")
    return _MINIMAL.get(kind)
