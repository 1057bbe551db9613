"""A create's allow decisions are logged whatever the outcome, with the record when it succeeds."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from artifact_plane.adapters.memory import MemoryDecisionLog, MemoryLineageStore, MemoryRegistry
from artifact_plane.adapters.memory.payloads import MemoryPayloadStore
from artifact_plane.errors import ConflictError, InvalidInputError
from artifact_plane.models import DecisionFilter, PolicyDecision, PolicyInput
from artifact_plane.plane import ArtifactPlane
from artifact_plane.ports.policy import PolicyEngine
from tests.plane_fixtures import ALICE, Clock, open_test_plane

LIMIT = 1024


@pytest.fixture(params=["memory", "embedded", "postgres"])
async def plane(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[ArtifactPlane]:
    async for built in open_test_plane(
        request.param, tmp_path, Clock(), max_payload_bytes=LIMIT, request=request
    ):
        yield built


async def _create_decisions(plane: ArtifactPlane) -> int:
    logged = await plane.decisions.query("acme", DecisionFilter(action="create"), limit=1000)
    assert all(d.allow for d in logged)
    return len(logged)


async def test_the_registry_commits_the_decisions_of_a_create(plane: ArtifactPlane) -> None:
    assert plane.decisions_commit_with_records


async def test_every_allowed_create_is_logged_whatever_its_outcome(plane: ArtifactPlane) -> None:
    me = plane.for_subject(ALICE)
    first = await me.create_artifact(b"one", artifact_type="blob")
    assert await _create_decisions(plane) == 1
    # An idempotent re-create is settled without a new record: its decision is logged anyway.
    assert await me.create_artifact(b"one", artifact_type="blob") == first
    assert await _create_decisions(plane) == 2
    with pytest.raises(ConflictError):
        await me.create_artifact(b"other bytes", artifact_type="blob", artifact_id=first)
    assert await _create_decisions(plane) == 3
    with pytest.raises(InvalidInputError):
        await me.create_artifact(b"x" * (LIMIT + 1), artifact_type="blob")
    assert await _create_decisions(plane) == 4
    ids = await me.create_many(
        [{"data": b"two", "artifact_type": "blob"}, {"data": b"three", "artifact_type": "blob"}]
    )
    assert await _create_decisions(plane) == 6
    # A batch of existing artifacts: no record is inserted, the decisions still land.
    assert await me.create_many([{"data": b"two", "artifact_type": "blob"}]) == ids[:1]
    assert await _create_decisions(plane) == 7
    with pytest.raises(InvalidInputError):
        await me.create_many(
            [
                {"data": b"four", "artifact_type": "blob"},
                {"data": b"y" * (LIMIT + 1), "artifact_type": "blob"},
            ]
        )
    assert await _create_decisions(plane) == 9
    assert len((await me.list_artifacts(limit=100)).items) == 3


@pytest.fixture
def commits(plane: ArtifactPlane) -> Iterator[list[str]]:
    database = getattr(plane.registry, "database", None)
    if database is None:
        pytest.skip("only a SQL registry has transactions to count")
    seen: list[str] = []

    def record(conn: Any) -> None:
        seen.append("commit")

    event.listen(database.engine, "commit", record)
    yield seen
    event.remove(database.engine, "commit", record)


async def test_a_create_is_one_transaction_with_its_decision(
    plane: ArtifactPlane, commits: list[str]
) -> None:
    me = plane.for_subject(ALICE)
    await me.create_artifact(b"warm", artifact_type="blob")
    commits.clear()
    art_id = await me.create_artifact(b"counted", artifact_type="blob")
    assert len(commits) == 1
    commits.clear()
    await me.create_many([{"data": b"a", "artifact_type": "blob"}, {"data": b"b", "artifact_type": "blob"}])
    assert len(commits) == 2  # the existence check (a read) and the batch with its decisions
    assert (await me.get_meta(art_id)).artifact_id == art_id


class NumberingEngine(PolicyEngine):
    """Allows everything and numbers its decisions as OPA's decision log does (repeating one on purpose)."""

    name = "numbering"

    def __init__(self) -> None:
        self.given: list[str] = []

    async def decide(self, request: PolicyInput) -> PolicyDecision:
        return (await self.decide_many([request]))[0]

    async def decide_many(self, requests: Sequence[PolicyInput]) -> list[PolicyDecision]:
        answers = []
        for _ in requests:
            self.given.append(f"opa-{len(self.given) // 2}")  # every id twice
            answers.append(PolicyDecision(allow=True, engine=self.name, decision_id=self.given[-1]))
        return answers

    @property
    def revision(self) -> str:
        return "numbering-1"


async def test_the_log_keeps_the_engines_decision_ids_and_never_repeats_one() -> None:
    lineage, log = MemoryLineageStore(), MemoryDecisionLog()
    engine = NumberingEngine()
    plane = ArtifactPlane(
        registry=MemoryRegistry(lineage=lineage, decisions=log),
        payloads=MemoryPayloadStore(),
        lineage=lineage,
        policy=engine,
        decisions=log,
    )
    me = plane.for_subject(ALICE)
    await me.create_many([{"data": b"a", "artifact_type": "blob"}, {"data": b"b", "artifact_type": "blob"}])
    await me.create_artifact(b"c", artifact_type="blob")
    logged = [d.decision_id for d in await log.query("acme", DecisionFilter(), limit=10)]
    assert engine.given == ["opa-0", "opa-0", "opa-1"]
    assert len(logged) == len(set(logged)) == 3
    assert {"opa-0", "opa-1"} <= set(logged)  # the repeat got a fresh id
