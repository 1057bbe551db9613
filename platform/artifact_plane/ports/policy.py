"""The policy engine port: Rego in-process, an OPA server, or memory."""

from __future__ import annotations

import abc
from collections.abc import Sequence

from artifact_plane.models import PolicyDecision, PolicyInput


class PolicyEngine(abc.ABC):
    """Decides ``{subject, action, resource, context}`` → ``{allow, reasons}``.

    Engines fail closed: if evaluation errors, the decision is a deny whose
    reasons say so; they never raise for a policy error.
    """

    name: str = "abstract"

    @abc.abstractmethod
    async def decide(self, request: PolicyInput) -> PolicyDecision:
        """Decide one request (never raises for evaluation errors: denies)."""

    @abc.abstractmethod
    async def decide_many(self, requests: Sequence[PolicyInput]) -> list[PolicyDecision]:
        """Decide many requests in one call; answers in the order asked."""

    @property
    @abc.abstractmethod
    def revision(self) -> str:
        """Digest of the policy files and data in force."""

    @property
    def resource_fields(self) -> frozenset[str] | None:
        """The resource fields the revision in force can read; None: any of them.

        An engine that knows (Rego, from ``policies/decision_inputs.json``)
        lets a policy audit read just these columns of a million records.
        Deciding on a resource restricted to them must give the same answer
        as on the whole resource.
        """
        return None

    async def ping(self) -> None:
        """Check the engine answers (Raises: BackendUnavailableError)."""

    async def close(self) -> None:
        """Release resources."""
