"""MemoryPolicyEngine: a Python rule instead of Rego, for tests and embedding.

The default rule is tenant isolation alone; pass another rule to model a
policy. Like every engine it fails closed: a rule that raises or answers
something malformed denies, with a reason that says so.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Sequence

from artifact_plane.models import PolicyDecision, PolicyInput
from artifact_plane.ports.policy import PolicyEngine

__all__ = ["MemoryPolicyEngine", "PolicyRule", "tenant_isolation"]

logger = logging.getLogger(__name__)

PolicyRule = Callable[[PolicyInput], tuple[bool, list[str]]]


def tenant_isolation(request: PolicyInput) -> tuple[bool, list[str]]:
    """Allow exactly when the subject's tenant owns the resource."""
    owner = request.resource.get("tenant_id")
    if owner == request.subject.tenant:
        return True, []
    return False, [
        f"tenant_isolation: subject tenant {request.subject.tenant} may not {request.action} tenant {owner}"
    ]


class MemoryPolicyEngine(PolicyEngine):
    """Decides with a Python callable ``rule(request) -> (allow, reasons)``."""

    name = "memory"

    def __init__(self, rule: PolicyRule | None = None) -> None:
        self._rule = rule or tenant_isolation
        qualified = (
            f"{getattr(self._rule, '__module__', '')}.{getattr(self._rule, '__qualname__', repr(self._rule))}"
        )
        self._revision = "memory-" + hashlib.sha256(qualified.encode()).hexdigest()[:16]

    @property
    def revision(self) -> str:
        return self._revision

    async def decide(self, request: PolicyInput) -> PolicyDecision:
        started = time.perf_counter()
        allow, reasons = self._apply(request)
        return PolicyDecision(
            allow=allow,
            reasons=tuple(reasons),
            revision=self._revision,
            engine=self.name,
            latency_ms=(time.perf_counter() - started) * 1000,
        )

    async def decide_many(self, requests: Sequence[PolicyInput]) -> list[PolicyDecision]:
        return [await self.decide(request) for request in requests]

    def _apply(self, request: PolicyInput) -> tuple[bool, list[str]]:
        try:
            answer = self._rule(request)
        except Exception as exc:  # fail closed on any rule bug
            logger.error("policy rule %s raised for %s: %r", self._revision, request.action, exc)
            return False, [f"policy engine error: rule raised {type(exc).__name__}: {exc}"]
        match answer:
            case (bool() as allow, list() as reasons) if all(isinstance(reason, str) for reason in reasons):
                return allow, reasons
        logger.error("policy rule %s answered %r, not (bool, [str])", self._revision, answer)
        return False, [f"policy engine error: rule answered {answer!r:.200}, not (bool, [str])"]
