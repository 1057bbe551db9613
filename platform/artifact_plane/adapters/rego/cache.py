"""The Rego engine's decision cache: how a request is keyed, and answers kept per key.

A request is keyed by what the policies declare they read (:mod:`.inputs`):

* the *exact* key: subject, action, context and every declared resource field
  (a threshold field by the limits it exceeds); any answer found under it is
  the answer;
* the *allow* key: the same with each glob field projected (a URI by its
  realm and the manifest globs its path matches). An allow found under it
  answers every request with that projection; a denial found under it
  answers them too, its reasons quoting each request's own URI
  (:func:`~.inputs.transfer_reasons`), when that can be told safely.

Keys carry the policy revision, so a new revision never reads an old answer.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any

from artifact_plane.adapters.rego.evaluation import Decision
from artifact_plane.adapters.rego.inputs import (
    DecisionInputs,
    fixed_text,
    resource_allow_key,
    resource_key,
    transfer_reasons,
)
from artifact_plane.models import PolicyInput

__all__ = ["Asked", "CacheKey", "DecisionCache", "Denial", "KeyMemo", "allow_key", "denial_of", "exact_key"]

CacheKey = tuple[Hashable, ...]  # (revision, "exact" | "allow", request key, resource key)
# One call's resource keys: (id(resource), projected) → (the declaration it was made under, key).
KeyMemo = dict[tuple[int, bool], tuple[DecisionInputs, Hashable]]
# A denial, the glob fields of the resource it was made for, and fixed_text of that request.
Denial = tuple[Decision, dict[str, Any], str]


class Asked:
    """One request as the engine keys it; its input document is built only if it must be evaluated."""

    __slots__ = ("_document", "prefix", "request", "resource_keys")

    def __init__(self, request: PolicyInput, prefix: str, resource_keys: KeyMemo) -> None:
        self.request = request
        self.prefix = prefix  # request_key(subject, action, context)
        # The call's resource keys by (id(resource), projected): an audit asks every check of
        # one resource object. Ids are stable because the call's requests hold every resource.
        self.resource_keys = resource_keys
        self._document: dict[str, Any] | None = None

    def resource_key(self, inputs: DecisionInputs, *, project: bool) -> Hashable:
        """:func:`resource_allow_key` (``project``) or :func:`resource_key`, once per resource object.

        Kept with the declaration it was made under: a reload during the call
        (between the cached pass and the evaluated one) makes new keys.
        """
        memo = (id(self.request.resource), project)
        found = self.resource_keys.get(memo)
        if found is None or found[0] is not inputs:
            make = resource_allow_key if project else resource_key
            found = self.resource_keys[memo] = (inputs, make(self.request.resource, inputs))
        return found[1]

    def document(self) -> dict[str, Any]:
        if self._document is None:
            self._document = self.request.document()
        return self._document


def allow_key(revision: str, inputs: DecisionInputs, asked: Asked) -> CacheKey | None:
    """The request's key with glob fields projected; None when no field is declared under globs."""
    if not inputs.globs:
        return None
    return (revision, "allow", asked.prefix, asked.resource_key(inputs, project=True))


def exact_key(revision: str, inputs: DecisionInputs, asked: Asked) -> CacheKey:
    """The request's key with every declared field as it is."""
    return (revision, "exact", asked.prefix, asked.resource_key(inputs, project=False))


def denial_of(decision: Decision, inputs: DecisionInputs, asked: Asked) -> Denial:
    """What :meth:`DecisionCache.transfer` needs to move ``decision`` to other URIs."""
    resource = asked.request.resource
    globs = {name: resource.get(name) for name, _ in inputs.globs}
    return decision, globs, fixed_text(resource, inputs, asked.prefix)


class DecisionCache:
    """Answers by key, least recently used dropped past ``size``; safe across threads."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._answers: OrderedDict[CacheKey, Decision] = OrderedDict()
        # Denials by projection (the allow key), with the declared fields of the resource that
        # got them: another URI with the same projection gets the reasons with its URI quoted.
        self._denials: OrderedDict[CacheKey, Denial] = OrderedDict()
        self._lock = threading.Lock()

    def lookup(self, key: CacheKey | None, allow: CacheKey | None) -> Decision | None:
        """The answer for a request: by its exact key, else an allow by its projection."""
        with self._lock:
            for candidate in (key, allow):
                if candidate is not None and (found := self._answers.get(candidate)) is not None:
                    self._answers.move_to_end(candidate)
                    return found
        return None

    def remember(self, key: CacheKey | None, decision: Decision) -> None:
        if key is None:
            return
        with self._lock:
            self._answers[key] = decision
            if len(self._answers) > self._size:
                self._answers.popitem(last=False)

    def remember_denial(self, allow: CacheKey, denial: Denial) -> None:
        """Keep a denial under its projection, for :meth:`transfer` to move to other URIs."""
        with self._lock:
            self._denials[allow] = denial
            if len(self._denials) > self._size:
                self._denials.popitem(last=False)

    def transfer(
        self, inputs: DecisionInputs, allow: CacheKey, asked: Asked, source: Denial | None = None
    ) -> Decision | None:
        """A denial of the same projection, its reasons quoting this request's URI (None: evaluate).

        ``source`` is the denial and the resource it was made for; None: the
        one remembered under ``allow``, if any.
        """
        if source is None:
            with self._lock:
                source = self._denials.get(allow)
            if source is None:
                return None
        (verdict, reasons), globs, fixed = source
        moved = transfer_reasons(reasons, inputs, globs, asked.request.resource, fixed=fixed)
        return None if moved is None else (verdict, moved)
