"""Ask policy and write every decision to the log before acting on it."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from artifact_plane.errors import PolicyDeniedError
from artifact_plane.masking import InputMask
from artifact_plane.models import DecisionRecord, PolicyDecision, PolicyInput, Subject, utcnow
from artifact_plane.ports.decisions import DecisionLog
from artifact_plane.ports.policy import PolicyEngine

logger = logging.getLogger(__name__)


@dataclass
class Grant:
    """Allow decisions not logged yet: the write they allowed commits them (:meth:`Authorizer.granted`)."""

    decisions: Sequence[DecisionRecord]
    committed: bool = False


def _decision_ids(decisions: Sequence[PolicyDecision]) -> list[str]:
    """The engine's own id for each decision (OPA's), else a fresh one; never the same twice."""
    ids: list[str] = []
    seen: set[str] = set()
    for decision in decisions:
        given = decision.decision_id
        decision_id = given if given and given not in seen and len(given) <= 128 else uuid.uuid4().hex
        seen.add(decision_id)
        ids.append(decision_id)
    return ids


def resource_ref(resource: Mapping[str, Any]) -> str:
    """A short, stable name for the resource of a decision (for the log)."""
    for key in ("artifact_id", "uri", "execution_id"):
        value = resource.get(key)
        if value:
            return f"{key}:{value}"
    realm = resource.get("realm") or "*"
    return f"query:{realm}"


class Authorizer:
    """Decides requests in batches and logs every decision (fail closed if the log is down).

    Each logged decision keeps its input document as ``mask`` leaves it
    (sensitive fields masked, size capped): the unmasked input goes to the
    engine only, never to the log.
    """

    def __init__(self, engine: PolicyEngine, log: DecisionLog, mask: InputMask | None = None) -> None:
        self.engine = engine
        self.log = log
        self.mask = mask if mask is not None else InputMask()

    async def decide(
        self,
        subject: Subject,
        action: str,
        resources: Sequence[Mapping[str, Any]],
        context: Mapping[str, Any] | None = None,
    ) -> list[PolicyDecision]:
        """One decision per resource, in order, all appended to the decision log."""
        return [decision for decision, _ in await self._decide(subject, action, resources, context)]

    async def _decide(
        self,
        subject: Subject,
        action: str,
        resources: Sequence[Mapping[str, Any]],
        context: Mapping[str, Any] | None,
    ) -> list[tuple[PolicyDecision, str]]:
        decisions, records = await self._evaluate(subject, action, resources, context)
        # No audit, no action: an append failure propagates (BackendUnavailableError).
        await self.log.append(records)
        return [(d, r.decision_id) for d, r in zip(decisions, records, strict=True)]

    async def _evaluate(
        self,
        subject: Subject,
        action: str,
        resources: Sequence[Mapping[str, Any]],
        context: Mapping[str, Any] | None,
    ) -> tuple[list[PolicyDecision], list[DecisionRecord]]:
        if not resources:
            return [], []
        requests = [
            PolicyInput(subject=subject, action=action, resource=dict(r), context=dict(context or {}))
            for r in resources
        ]
        started = time.perf_counter()
        if len(requests) == 1:
            decisions = [await self.engine.decide(requests[0])]
        else:
            decisions = await self.engine.decide_many(requests)
        elapsed_ms = (time.perf_counter() - started) * 1000 / len(requests)
        now = utcnow()
        ids = _decision_ids(decisions)
        first = requests[0]  # subject, action and context are the same for every request
        inputs = self.mask.documents(first.subject, action, [r.resource for r in requests], first.context)
        records = [
            DecisionRecord(
                decision_id=decision_id,
                created_at=now,
                tenant_id=subject.tenant,
                subject_id=subject.id,
                action=action,
                resource_ref=resource_ref(request.resource),
                allow=decision.allow,
                reasons=decision.reasons,
                revision=decision.revision,
                engine=decision.engine,
                latency_ms=decision.latency_ms or elapsed_ms,
                input=logged,
            )
            for request, decision, decision_id, logged in zip(requests, decisions, ids, inputs, strict=True)
        ]
        return decisions, records

    async def require(
        self,
        subject: Subject,
        action: str,
        resources: Sequence[Mapping[str, Any]],
        context: Mapping[str, Any] | None = None,
    ) -> None:
        """Raise PolicyDeniedError (with reasons) unless every resource is allowed."""
        for decision, decision_id in await self._decide(subject, action, resources, context):
            if not decision.allow:
                raise PolicyDeniedError(action, decision.reasons, decision_id)

    @asynccontextmanager
    async def granted(
        self,
        subject: Subject,
        action: str,
        resources: Sequence[Mapping[str, Any]],
        context: Mapping[str, Any] | None = None,
        *,
        defer: bool,
    ) -> AsyncIterator[Grant]:
        """:meth:`require`, with the allow decisions logged by the write they allowed.

        With ``defer`` the block gets the decisions in :attr:`Grant.decisions`
        to commit in its own transaction (a registry that holds the decision
        log) and sets :attr:`Grant.committed` once it has; otherwise — or when
        the block ends without committing them (a conflict settled another
        way) — they are appended here, and an append failure fails the block.
        If the block fails, they are appended on a best-effort basis. Denials
        are always logged before PolicyDeniedError is raised.
        """
        decisions, records = await self._evaluate(subject, action, resources, context)
        denied = [(d, r) for d, r in zip(decisions, records, strict=True) if not d.allow]
        if denied or not defer:
            await self.log.append(records)
        if denied:
            decision, record = denied[0]
            raise PolicyDeniedError(action, decision.reasons, record.decision_id)
        grant = Grant(records if defer else ())
        try:
            yield grant
        except BaseException:
            if not grant.committed and grant.decisions:
                await self._append_quietly(grant.decisions)
            raise
        if not grant.committed and grant.decisions:
            await self.log.append(grant.decisions)

    async def _append_quietly(self, records: Sequence[DecisionRecord]) -> None:
        # The write failed and its error is what the caller must see; a log that
        # is down too loses only allows of writes that did not happen.
        try:
            await self.log.append(records)
        except Exception:
            logger.warning("could not log %d decisions of a failed write", len(records), exc_info=True)
