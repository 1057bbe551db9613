"""The contract every :class:`~artifact_plane.ports.policy.PolicyEngine` must keep.

These hold for any policy that keeps tenant isolation and lets a reader read
in its own tenant: the minimum every engine's default policy allows.
"""

from __future__ import annotations

import random

import pytest

from artifact_plane.models import PolicyInput, Subject
from artifact_plane.ports.policy import PolicyEngine
from tests.contracts.builders import make_record

READER = Subject(id="alice", tenant="acme", roles=("reader",))


def read_request(subject_tenant: str, resource_tenant: str, *, action: str = "read") -> PolicyInput:
    """A person (no realm) with the reader role asking to ``action`` one artifact."""
    record = make_record(resource_tenant, realm="insights", artifact_type="report")
    subject = READER.model_copy(update={"tenant": subject_tenant})
    return PolicyInput(
        subject=subject, action=action, resource=record.resource(), context={"via": "contract"}
    )


class PolicyEngineContract:
    """Behaviour every policy engine must show; a backend's test class inherits it.

    Override the ``policy_engine`` fixture (an engine whose policy at least
    isolates tenants and lets readers read).
    """

    @pytest.fixture
    def policy_engine(self) -> PolicyEngine:
        pytest.fail(f"{type(self).__name__} must override the `policy_engine` fixture")

    async def test_same_tenant_read_by_reader_allowed(self, policy_engine: PolicyEngine) -> None:
        decision = await policy_engine.decide(read_request("acme", "acme"))
        assert decision.allow, decision.reasons

    async def test_cross_tenant_read_denied_with_reason(self, policy_engine: PolicyEngine) -> None:
        decision = await policy_engine.decide(read_request("acme", "globex"))
        assert not decision.allow
        assert decision.reasons
        assert all(reason.strip() for reason in decision.reasons)
        assert any("globex" in reason for reason in decision.reasons), decision.reasons

    async def test_cross_tenant_denied_for_every_action(self, policy_engine: PolicyEngine) -> None:
        actions = ["create", "read", "list", "update", "delete", "lineage.register", "lineage.read"]
        decisions = await policy_engine.decide_many(
            [read_request("acme", "globex", action=a) for a in actions]
        )
        assert [d.allow for d in decisions] == [False] * len(actions)

    async def test_decide_many_answers_in_order(self, policy_engine: PolicyEngine) -> None:
        # A shuffled mix, so an engine that reorders or groups answers is caught.
        pattern = [random.Random(7).random() < 0.5 for _ in range(150)]
        requests = [read_request("acme", "acme" if same else "globex") for same in pattern]
        decisions = await policy_engine.decide_many(requests)
        assert [d.allow for d in decisions] == pattern

    async def test_decide_many_of_nothing_is_nothing(self, policy_engine: PolicyEngine) -> None:
        assert await policy_engine.decide_many([]) == []

    async def test_decide_many_agrees_with_decide(self, policy_engine: PolicyEngine) -> None:
        requests = [read_request("acme", "acme"), read_request("acme", "globex")]
        one_by_one = [await policy_engine.decide(r) for r in requests]
        batch = await policy_engine.decide_many(requests)
        assert [(d.allow, d.reasons) for d in batch] == [(d.allow, d.reasons) for d in one_by_one]

    async def test_revision_is_set_and_stable(self, policy_engine: PolicyEngine) -> None:
        first = policy_engine.revision
        assert first
        decisions = await policy_engine.decide_many([read_request("acme", "acme"), read_request("acme", "x")])
        assert policy_engine.revision == first
        assert {d.revision for d in decisions} == {first}

    async def test_decision_names_engine_and_latency(self, policy_engine: PolicyEngine) -> None:
        decision = await policy_engine.decide(read_request("acme", "acme"))
        assert decision.engine == policy_engine.name
        assert decision.engine not in {"", "abstract"}
        assert decision.latency_ms >= 0

    async def test_ping_answers(self, policy_engine: PolicyEngine) -> None:
        await policy_engine.ping()
