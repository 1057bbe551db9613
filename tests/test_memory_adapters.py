"""The contract suites over the memory adapters (the reference behaviour)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from artifact_plane.adapters.memory import MemoryDecisionLog, MemoryLineageStore, MemoryRegistry
from artifact_plane.errors import InvalidInputError
from artifact_plane.ports.decisions import DecisionLog
from artifact_plane.ports.lineage import Direction, LineageStore
from artifact_plane.ports.registry import Registry
from tests.contracts.builders import make_decision, make_record, produced, ts
from tests.contracts.decisions_contract import DecisionChainContract, DecisionLogContract
from tests.contracts.lineage_contract import LineageContract
from tests.contracts.registry_contract import RegistryContract


class TestMemoryRegistry(RegistryContract):
    @pytest.fixture
    async def registry(self) -> AsyncIterator[MemoryRegistry]:
        registry = MemoryRegistry(decisions=MemoryDecisionLog())
        await registry.initialize()
        yield registry
        await registry.close()

    def lineage_of(self, registry: Registry) -> LineageStore | None:
        assert isinstance(registry, MemoryRegistry)
        return registry.lineage

    def decision_log_of(self, registry: Registry) -> DecisionLog | None:
        assert isinstance(registry, MemoryRegistry)
        return registry.decisions

    async def test_without_a_log_it_refuses_decisions_and_writes_nothing(self) -> None:
        registry = MemoryRegistry()
        with pytest.raises(InvalidInputError) as err:
            await registry.insert_artifact(make_record(artifact_id="a1"), decisions=[make_decision()])
        assert err.value.field == "decisions"
        assert await registry.get_many("t1", ["a1"]) == {}

    def batch_insert_is_atomic(self) -> bool:
        return True

    async def test_edges_go_to_the_lineage_store_it_was_given(self) -> None:
        lineage = MemoryLineageStore()
        registry = MemoryRegistry(lineage)
        edge = produced("exec-1", "out-1", at=ts(1))
        await registry.insert_artifact(make_record(artifact_id="out-1"), [edge])
        assert registry.lineage is lineage
        assert await lineage.neighbors("t1", ["exec-1"], Direction.DOWNSTREAM) == [edge]
        await registry.delete_artifacts("t1", ["out-1"], ts(5))
        assert await lineage.neighbors("t1", ["exec-1"], Direction.DOWNSTREAM) == []


class TestMemoryLineage(LineageContract):
    @pytest.fixture
    async def lineage(self) -> AsyncIterator[MemoryLineageStore]:
        store = MemoryLineageStore()
        await store.ping()
        yield store
        await store.close()


class TestMemoryDecisionLog(DecisionLogContract, DecisionChainContract):
    @pytest.fixture
    async def decision_log(self) -> AsyncIterator[MemoryDecisionLog]:
        log = MemoryDecisionLog()
        yield log
        await log.close()

    async def edit_entry(
        self, log: DecisionLog, tenant: str, decision_id: str, column: str, value: Any
    ) -> None:
        assert isinstance(log, MemoryDecisionLog)
        if column == "entry_hash":
            log.seals[tenant][decision_id].entry_hash = value
        else:
            record = log.records[tenant][decision_id]
            log.records[tenant][decision_id] = record.model_copy(update={column: value})

    async def delete_entry(self, log: DecisionLog, tenant: str, decision_id: str) -> None:
        assert isinstance(log, MemoryDecisionLog)
        del log.records[tenant][decision_id]
