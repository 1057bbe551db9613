"""One regopy query: the input in, the decision (or decisions) out, every problem an error.

The single entrypoint answers ``{allow, reasons}`` for ``input``; the batch
entrypoint answers a list of them for ``input.requests``, in order, one
query for the lot: regopy's fixed cost per query (setting up the VM) is
larger than evaluating a simple request, so a page decided in one query is
several times cheaper (see ``bench/policy.py``).
"""

from __future__ import annotations

import ctypes
import logging
import re
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic_core import to_jsonable_python
from regopy import Input, NodeKind
from regopy import rego_shared as capi

from artifact_plane.adapters.rego.inputs import DecisionInputs

__all__ = [
    "BATCH_SIZE",
    "Decision",
    "EvaluationError",
    "Outcome",
    "decide_documents",
    "evaluate",
    "evaluate_batch",
    "project",
    "take",
]

logger = logging.getLogger(__name__)

Decision = tuple[bool, tuple[str, ...]]
# A decision, or why there is none (the caller fails closed on it).
Outcome = tuple[Decision, str | None]
ERROR_MSG = re.compile(r"\(errormsg (\d+):")
BATCH_SIZE = 50  # requests per batch query: past ~100, regopy gets slower per request (measured)


class EvaluationError(Exception):
    """One evaluation went wrong; becomes a fail-closed deny."""


def take(text: str, start: int) -> tuple[str, int]:
    """Read a length-prefixed string ``<n>:<chars>`` of regopy's error format at ``start``."""
    colon = text.index(":", start)
    length = int(text[start:colon])
    return text[colon + 1 : colon + 1 + length], colon + 1 + length


def project(document: Mapping[str, Any], inputs: DecisionInputs | None) -> Mapping[str, Any]:
    """The document with only the resource fields the policies declare they read.

    Exact under the declaration the decision cache already relies on (and
    ``tests/test_policy_cache.py`` checks against the .rego files); building
    regopy's input costs per value, so the unread fields are not sent.
    """
    if inputs is None:
        return document
    resource = document.get("resource")
    if not isinstance(resource, Mapping):
        return document
    keep = inputs.fields | {name for name, _ in inputs.thresholds}
    return {**document, "resource": {name: value for name, value in resource.items() if name in keep}}


class _JsonInput(Input):  # type: ignore[misc]  # regopy is untyped
    """A regopy ``Input`` built from JSON-shaped values (dict, list, str, int, float, bool, None).

    Hand-written because regopy's own converter (``Input(value)``) is half
    the cost of building a request: it copies every string into a fresh
    ctypes buffer and tests each value against the collections ABCs. This
    makes the same C API calls in the same order, with the strings passed as
    bytes and the types dispatched exactly (what ``to_jsonable_python``
    gives), about twice as fast (measured on the audit's documents).
    """

    def __init__(self, value: Any) -> None:  # deliberately not Input.__init__
        lib = capi.rego
        handle = capi.rego_new_input()
        ok = capi.Code.OK

        def add(item: Any) -> None:
            kind = type(item)
            if kind is str:
                code = lib.regoInputString(handle, item.encode("utf-8"))
            elif kind is dict:
                for key, member in item.items():
                    add(key)
                    add(member)
                    if lib.regoInputObjectItem(handle) != ok:
                        raise ValueError("regopy refused an object item")
                code = lib.regoInputObject(handle, len(item))
            elif kind is list or kind is tuple:
                for member in item:
                    add(member)
                code = lib.regoInputArray(handle, len(item))
            elif kind is bool:
                code = lib.regoInputBoolean(handle, item)
            elif kind is int:
                code = lib.regoInputInt(handle, item)
            elif kind is float:
                code = lib.regoInputFloat(handle, item)
            elif item is None:
                code = lib.regoInputNull(handle)
            else:
                raise TypeError(f"cannot send a {kind.__name__} to the policy engine")
            if code != ok:
                raise ValueError(f"regopy refused a {kind.__name__} value")

        try:
            add(value)
        except BaseException:
            capi.rego_free_input(handle)
            raise
        self._impl = handle


def _node_value(node: Any) -> Any:
    """Convert an output node to Python.

    Walks nodes rather than parsing the output's JSON text: regopy does not
    escape quotes or backslashes of strings that came from the input there.
    A string a built-in made (``concat``) keeps its surrounding quotes in the
    node, with its input-derived characters unescaped; regopy's own output
    drops those quotes, and so do we. (Escapes written in policy literals
    stay escaped: keep reason texts free of them.)
    """
    kind = capi.rego_node_type(node)
    if kind in (NodeKind.Term, NodeKind.Scalar):
        return _node_value(capi.rego_node_get(node, 0))
    if kind == NodeKind.String:
        text: str = capi.rego_node_value(node)
        return text[1:-1] if len(text) >= 2 and text[0] == text[-1] == '"' else text
    if kind in (NodeKind.Boolean, NodeKind.True_, NodeKind.False_):
        return capi.rego_node_value(node) == "true"
    if kind == NodeKind.Int:
        return int(capi.rego_node_value(node))
    if kind == NodeKind.Float:
        return float(capi.rego_node_value(node))
    if kind == NodeKind.Null:
        return None
    size = capi.rego_node_size(node)
    if kind in (NodeKind.Array, NodeKind.Set, NodeKind.Terms):
        return [_node_value(capi.rego_node_get(node, i)) for i in range(size)]
    if kind == NodeKind.Object:
        result: dict[Any, Any] = {}
        for i in range(size):
            item = capi.rego_node_get(node, i)
            result[_node_value(capi.rego_node_get(item, 0))] = _node_value(capi.rego_node_get(item, 1))
        return result
    raise EvaluationError(f"evaluation error (result node kind {kind})")


def _as_decision(value: Any) -> Decision:
    if not isinstance(value, dict) or not isinstance(value.get("allow"), bool):
        raise EvaluationError(f"decision is not {{allow: bool, reasons: [string]}}: {str(value)[:200]}")
    reasons = value.get("reasons", [])
    if not isinstance(reasons, list) or not all(isinstance(reason, str) for reason in reasons):
        raise EvaluationError(f"decision reasons are not a list of strings: {str(reasons)[:200]}")
    return value["allow"], tuple(reasons)


def _query(interpreter: Any, bundle: Any, lock: threading.Lock, entrypoint: str, value: Any) -> Any:
    """The entrypoint's value for ``value`` as input (one expression, unwrapped)."""
    try:
        policy_input = _JsonInput(to_jsonable_python(value))
    except (TypeError, ValueError, OverflowError, ctypes.ArgumentError) as exc:
        raise EvaluationError(f"input is not JSON: {exc}") from exc
    with lock:
        interpreter.set_input(policy_input)
        # The C API directly: Interpreter.query_bundle_entrypoint parses the
        # output's JSON text, which regopy leaves unescaped (see _node_value).
        output = capi.rego_bundle_query_entrypoint(interpreter._impl, bundle._impl, entrypoint)
        try:
            if not capi.rego_output_ok(output):
                raise EvaluationError(
                    "evaluation error (e.g. conflicting rule values or a bad built-in call)"
                )
            text = capi.rego_output_string(output)
            if text == "undefined":
                raise EvaluationError(f"decision {entrypoint} is undefined for this input")
            if "(errormsg " in text:  # an error inside an otherwise ok result
                messages = [take(text, m.start(1))[0] for m in ERROR_MSG.finditer(text)]
                raise EvaluationError("evaluation error: " + "; ".join(dict.fromkeys(messages)))
            expressions = _node_value(capi.rego_output_expressions_at_index(output, 0))
        finally:
            capi.rego_free_output(output)
    return expressions[0] if isinstance(expressions, list) and len(expressions) == 1 else expressions


def evaluate(
    interpreter: Any, bundle: Any, lock: threading.Lock, entrypoint: str, document: Mapping[str, Any]
) -> Decision:
    """Decide one request.

    Raises:
        EvaluationError: anything but a well-formed decision came back.
    """
    return _as_decision(_query(interpreter, bundle, lock, entrypoint, document))


def evaluate_batch(
    interpreter: Any,
    bundle: Any,
    lock: threading.Lock,
    batch_entrypoint: str,
    documents: Sequence[Mapping[str, Any]],
) -> list[Decision]:
    """Decide ``documents`` in one query of the batch entrypoint, answers in order.

    Raises:
        EvaluationError: the query failed or did not answer one well-formed
            decision per document (the caller then decides them one by one,
            so one bad request fails closed alone).
    """
    answers = _query(interpreter, bundle, lock, batch_entrypoint, {"requests": list(documents)})
    if not isinstance(answers, list) or len(answers) != len(documents):
        got = len(answers) if isinstance(answers, list) else type(answers).__name__
        raise EvaluationError(f"batch decision answered {got} for {len(documents)} requests")
    return [_as_decision(answer) for answer in answers]


def decide_documents(
    interpreter: Any,
    bundle: Any,
    lock: threading.Lock,
    entrypoint: str,
    batch_entrypoint: str | None,
    documents: Sequence[Mapping[str, Any]],
) -> tuple[list[Outcome], int]:
    """An outcome per document, and how many queries it took.

    Documents go ``BATCH_SIZE`` to a query of ``batch_entrypoint`` (when
    given); a failed batch query is retried one request at a time, so one bad
    request fails closed alone. Never raises: every problem is an outcome
    whose second item says what went wrong.
    """
    outcomes: list[Outcome] = []
    queries = 0
    for start in range(0, len(documents), BATCH_SIZE):
        chunk = documents[start : start + BATCH_SIZE]
        if batch_entrypoint is not None and len(chunk) > 1:
            queries += 1
            try:
                batch = evaluate_batch(interpreter, bundle, lock, batch_entrypoint, chunk)
            except Exception as exc:  # any failure: decide one by one, each failing closed alone
                logger.warning(
                    "batch policy query failed, deciding %d request(s) one by one: %s", len(chunk), exc
                )
            else:
                outcomes.extend((decision, None) for decision in batch)
                continue
        for document in chunk:
            queries += 1
            try:
                outcomes.append((evaluate(interpreter, bundle, lock, entrypoint, document), None))
            except Exception as exc:  # fail closed on anything, including regopy surprises
                message = str(exc) if isinstance(exc, EvaluationError) else f"{type(exc).__name__}: {exc}"
                outcomes.append(((False, ()), message))
    return outcomes, queries
