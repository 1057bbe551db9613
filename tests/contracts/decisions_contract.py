"""The contract every :class:`~artifact_plane.ports.decisions.DecisionLog` must keep."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from artifact_plane.errors import BackendUnavailableError, InvalidInputError
from artifact_plane.models import DecisionFilter, DecisionRecord
from artifact_plane.ports.decisions import GENESIS, ChainedDecisionLog, ChainHead, DecisionLog, chain_hash
from tests.contracts.builders import make_decision, ts

# (decision id, second, overrides) for the filter tests.
LOG: list[tuple[str, int, dict[str, Any]]] = [
    ("d1", 10, {"subject_id": "alice", "action": "read", "allow": True, "resource_ref": "artifact:a1"}),
    (
        "d2",
        20,
        {
            "subject_id": "bob",
            "action": "create",
            "allow": False,
            "resource_ref": "artifact:a1",
            "reasons": ("realm not writable",),
        },
    ),
    ("d3", 30, {"subject_id": "alice", "action": "delete", "allow": False, "resource_ref": "artifact:a2"}),
    ("d4", 40, {"subject_id": "bob", "action": "read", "allow": True, "resource_ref": "artifact:a2"}),
    ("d5", 50, {"subject_id": "alice", "action": "read", "allow": True, "resource_ref": "artifact:a2"}),
]

FILTER_CASES: list[tuple[str, dict[str, Any], list[str]]] = [
    ("none", {}, ["d1", "d2", "d3", "d4", "d5"]),
    ("subject", {"subject_id": "bob"}, ["d2", "d4"]),
    ("action", {"action": "read"}, ["d1", "d4", "d5"]),
    ("allowed", {"allow": True}, ["d1", "d4", "d5"]),
    ("denied", {"allow": False}, ["d2", "d3"]),
    ("resource", {"resource_ref": "artifact:a1"}, ["d1", "d2"]),
    ("since-inclusive", {"since": ts(30)}, ["d3", "d4", "d5"]),
    ("until-exclusive", {"until": ts(30)}, ["d1", "d2"]),
    ("window", {"since": ts(20), "until": ts(50)}, ["d2", "d3", "d4"]),
    (
        "combined",
        {
            "subject_id": "alice",
            "action": "read",
            "allow": True,
            "resource_ref": "artifact:a2",
            "since": ts(10),
            "until": ts(60),
        },
        ["d5"],
    ),
    ("combined-narrows", {"subject_id": "bob", "action": "delete"}, []),
]


# An input document as the log keeps it (masking.InputMask): plain JSON, a masked field, no
# integral floats; what every backend must give back unchanged (PostgreSQL stores it as JSONB).
LOGGED_INPUT: dict[str, Any] = {
    "subject": {"id": "alice", "tenant": "t1", "roles": ["writer", "reader"], "realm": None},
    "action": "create",
    "resource": {
        "tenant_id": "t1",
        "artifact_type": "report",
        "size_bytes": 1234,
        "big": 2**70,
        "ratio": 0.1,
        "tiny": 1e-07,
        "tags": ["pii", "q3"],
        "metadata": {"ssn": "***", "team": "blüe ✓", "nested": {"ok": True, "none": None, "z": [], "a": {}}},
    },
    "context": {"authorization": "***"},
}


def _ids(records: list[DecisionRecord]) -> list[str]:
    return [r.decision_id for r in records]


class DecisionLogContract:
    """Behaviour every decision log must show; a backend's test class inherits it.

    Override the ``decision_log`` fixture (an initialized, empty log).
    Capability hook: :meth:`unreachable_decision_log` (a log whose backend does
    not answer), returning None to skip what needs it, with a reason.
    """

    @pytest.fixture
    def decision_log(self) -> DecisionLog:
        pytest.fail(f"{type(self).__name__} must override the `decision_log` fixture")

    async def unreachable_decision_log(self) -> DecisionLog | None:
        """A log whose backend cannot be reached, or None when that cannot happen."""
        return None

    async def test_unreachable_append_raises_backend_unavailable(self) -> None:
        log = await self.unreachable_decision_log()
        if log is None:
            pytest.skip("this backend cannot be unreachable (unreachable_decision_log hook)")
        with pytest.raises(BackendUnavailableError):
            await log.append([make_decision()])
        await log.close()

    async def test_round_trip_keeps_every_field(self, decision_log: DecisionLog) -> None:
        record = make_decision(
            "t1",
            "dec-1",
            created_at=datetime(2024, 5, 6, 7, 8, 9, 654321, tzinfo=UTC),
            subject_id="alice",
            action="lineage.read",
            resource_ref="artifact:abc",
            allow=False,
            reasons=("not your realm", "tenant mismatch"),
            revision="sha256:" + "0" * 64,
            engine="rego",
            latency_ms=1.25,
        )
        await decision_log.append([record])
        [got] = await decision_log.query("t1", DecisionFilter(), limit=10)
        assert got == record
        assert got.created_at.utcoffset() == timedelta(0)

    async def test_round_trip_keeps_the_input_document(self, decision_log: DecisionLog) -> None:
        with_input = make_decision("t1", "with", created_at=ts(1), input=LOGGED_INPUT)
        without = make_decision("t1", "without", created_at=ts(2))
        await decision_log.append([with_input, without])
        got = await decision_log.query("t1", DecisionFilter(), limit=10)
        assert got == [with_input, without]
        assert got[0].input == LOGGED_INPUT
        assert got[1].input is None
        # Same values and types: an integer stays an integer, a float a float.
        resource = got[0].input["resource"] if got[0].input else {}
        assert type(resource["big"]) is int
        assert type(resource["ratio"]) is float

    async def test_a_repeated_id_keeps_the_first_entry_and_its_input(self, decision_log: DecisionLog) -> None:
        first = make_decision("t1", "same", created_at=ts(1))
        again = make_decision("t1", "same", created_at=ts(1), input={"action": "read"})
        await decision_log.append([first, again])
        await decision_log.append([again])
        assert await decision_log.query("t1", DecisionFilter(), limit=10) == [first]

    async def test_append_accumulates_and_empty_append_is_a_no_op(self, decision_log: DecisionLog) -> None:
        await decision_log.append([])
        assert await decision_log.query("t1", DecisionFilter(), limit=10) == []
        first = make_decision(decision_id="a", created_at=ts(1))
        second = make_decision(decision_id="b", created_at=ts(2))
        await decision_log.append([first])
        await decision_log.append([second])
        assert await decision_log.query("t1", DecisionFilter(), limit=10) == [first, second]

    async def test_oldest_first_by_time_then_id(self, decision_log: DecisionLog) -> None:
        records = [
            make_decision(decision_id=i, created_at=ts(s))
            for i, s in [("c", 5), ("b", 1), ("z", 1), ("a", 5), ("m", 3)]
        ]
        await decision_log.append(records)
        assert _ids(await decision_log.query("t1", DecisionFilter(), limit=10)) == ["b", "z", "m", "a", "c"]
        assert _ids(await decision_log.query("t1", DecisionFilter(), limit=2)) == ["b", "z"]

    @pytest.mark.parametrize(
        ("query", "expected"), [c[1:] for c in FILTER_CASES], ids=[c[0] for c in FILTER_CASES]
    )
    async def test_filters(
        self, decision_log: DecisionLog, query: dict[str, Any], expected: list[str]
    ) -> None:
        await decision_log.append(
            [make_decision("t1", i, created_at=ts(s), **fields) for i, s, fields in reversed(LOG)]
        )
        await decision_log.append([make_decision("t2", "d9", created_at=ts(10), **LOG[0][2])])
        found = await decision_log.query("t1", DecisionFilter(**query), limit=100)
        assert _ids(found) == expected

    async def test_pages_walk_every_decision_once_in_order(self, decision_log: DecisionLog) -> None:
        records = [
            make_decision(decision_id=f"d{(i * 7) % 25:02d}", created_at=ts(i // 3)) for i in range(25)
        ]
        await decision_log.append(records[::-1])
        expected = _ids(sorted(records, key=lambda r: (r.created_at, r.decision_id)))
        seen: list[str] = []
        sizes: list[int] = []
        after: tuple[datetime, str] | None = None
        while True:
            page = await decision_log.query("t1", DecisionFilter(), limit=10, after=after)
            sizes.append(len(page))
            seen.extend(_ids(page))
            if len(page) < 10:
                break
            after = (page[-1].created_at, page[-1].decision_id)
        assert sizes == [10, 10, 5]
        assert seen == expected

    async def test_after_is_exclusive_and_filters_still_apply(self, decision_log: DecisionLog) -> None:
        await decision_log.append(
            [make_decision(decision_id=i, created_at=ts(1), allow=i != "b") for i in ["a", "b", "c", "d"]]
        )
        page = await decision_log.query("t1", DecisionFilter(allow=True), limit=10, after=(ts(1), "a"))
        assert _ids(page) == ["c", "d"]

    async def test_decisions_do_not_cross_tenants(self, decision_log: DecisionLog) -> None:
        mine = make_decision("t1", "mine")
        theirs = make_decision("t2", "theirs")
        await decision_log.append([mine, theirs])
        assert await decision_log.query("t1", DecisionFilter(), limit=10) == [mine]
        assert await decision_log.query("t2", DecisionFilter(), limit=10) == [theirs]
        assert await decision_log.query("t3", DecisionFilter(), limit=10) == []


# -- the hash chain ----------------------------------------------------------------


def _chained(log: DecisionLog) -> ChainedDecisionLog:
    assert isinstance(log, ChainedDecisionLog), "every stored decision log keeps the hash chain"
    return log


async def _logged(log: DecisionLog, tenant: str = "t1", n: int = 5, start: int = 0) -> list[DecisionRecord]:
    records = [
        make_decision(tenant, f"{tenant}-d{i:03d}", created_at=ts(i), reasons=(f"reason {i}",))
        for i in range(start, start + n)
    ]
    await log.append(records)
    return records


def _expected_head(records: list[DecisionRecord]) -> ChainHead:
    prev = GENESIS
    for seq, record in enumerate(records, 1):
        prev = chain_hash(prev, seq, record)
    return ChainHead(len(records), prev)


class DecisionChainContract:
    """The hash chain: a backend's test class inherits it beside :class:`DecisionLogContract`.

    The chain tests tamper with stored entries behind the port, as someone
    with access to the storage would: override :meth:`edit_entry` and
    :meth:`delete_entry` (raw SQL for a database).
    """

    async def edit_entry(
        self, log: DecisionLog, tenant: str, decision_id: str, column: str, value: Any
    ) -> None:
        """Overwrite one stored field (``allow``, ``subject_id`` or ``entry_hash``) of an entry."""
        pytest.fail(f"{type(self).__name__} must override `edit_entry` to run the chain tests")

    async def delete_entry(self, log: DecisionLog, tenant: str, decision_id: str) -> None:
        """Remove one stored entry."""
        pytest.fail(f"{type(self).__name__} must override `delete_entry` to run the chain tests")

    async def unreachable_decision_log(self) -> DecisionLog | None:
        """Supplied by :class:`DecisionLogContract`."""
        return None

    async def test_seal_links_every_entry_in_order_and_verify_recomputes_them(
        self, decision_log: DecisionLog
    ) -> None:
        log = _chained(decision_log)
        records = await _logged(log)
        assert await log.unsealed_count("t1") == 5
        assert await log.head("t1") is None
        assert await log.seal("t1") == 5
        assert await log.seal("t1") == 0
        # The head is the hash of the entries in (created_at, decision_id) order from GENESIS.
        assert await log.head("t1") == _expected_head(records)
        report = await log.verify("t1")
        assert report.ok, report.broken
        assert (report.checked, report.unsealed, report.head) == (5, 0, _expected_head(records))

    async def test_entries_with_inputs_chain_after_entries_without(self, decision_log: DecisionLog) -> None:
        # Entries logged before inputs were kept (v1) and after (v2) make one chain that verifies.
        log = _chained(decision_log)
        older = await _logged(log, n=2)
        await log.seal("t1")
        newer = [
            make_decision(
                "t1", f"t1-v2-{i}", created_at=ts(10 + i), input={**LOGGED_INPUT, "action": f"a{i}"}
            )
            for i in range(3)
        ]
        await log.append(newer)
        assert await log.seal("t1") == 3
        assert await log.head("t1") == _expected_head(older + newer)
        report = await log.verify("t1")
        assert report.ok, report.broken
        assert report.checked == 5

    async def test_appends_after_a_seal_continue_the_chain(self, decision_log: DecisionLog) -> None:
        log = _chained(decision_log)
        first = await _logged(log, n=3)
        await log.seal("t1")
        later = await _logged(log, n=2, start=3)
        report = await log.verify("t1")
        assert report.ok
        assert (report.checked, report.unsealed) == (3, 2)
        await log.seal("t1")
        assert await log.head("t1") == _expected_head(first + later)

    async def test_seal_takes_at_most_limit_entries_oldest_first(self, decision_log: DecisionLog) -> None:
        log = _chained(decision_log)
        records = await _logged(log, n=5)
        assert await log.seal("t1", limit=2) == 2
        assert await log.head("t1") == _expected_head(records[:2])
        assert await log.unsealed_count("t1") == 3
        assert await log.seal_all(limit=2) == 3
        assert await log.head("t1") == _expected_head(records)

    async def test_a_limit_below_one_is_invalid_and_seals_nothing(self, decision_log: DecisionLog) -> None:
        log = _chained(decision_log)
        await _logged(log, n=2)
        with pytest.raises(InvalidInputError) as err:
            await log.seal("t1", limit=0)
        assert err.value.field == "limit"
        assert await log.unsealed_count("t1") == 2

    async def test_tenants_have_chains_of_their_own(self, decision_log: DecisionLog) -> None:
        log = _chained(decision_log)
        mine = await _logged(log, "t1", n=3)
        theirs = await _logged(log, "t2", n=2)
        assert await log.tenants() == ["t1", "t2"]
        assert await log.tenants(unsealed_only=True) == ["t1", "t2"]
        await log.seal("t2")
        assert await log.tenants(unsealed_only=True) == ["t1"]
        assert await log.seal_all() == 3
        assert await log.tenants(unsealed_only=True) == []
        assert await log.head("t1") == _expected_head(mine)
        assert await log.head("t2") == _expected_head(theirs)
        assert (await log.verify("t3")).checked == 0

    async def test_verify_seals_nothing_and_reports_progress(self, decision_log: DecisionLog) -> None:
        log = _chained(decision_log)
        await _logged(log, n=4)
        await log.seal("t1", limit=3)
        seen: list[int] = []
        report = await log.verify("t1", progress=seen.append)
        assert report.ok
        assert report.unsealed == 1
        assert seen[-1:] == [3]
        assert await log.unsealed_count("t1") == 1

    async def test_an_edited_entry_is_named(self, decision_log: DecisionLog) -> None:
        log = _chained(decision_log)
        records = await _logged(log)
        await log.seal("t1")
        await self.edit_entry(log, "t1", records[2].decision_id, "allow", False)
        report = await log.verify("t1")
        assert not report.ok
        assert report.broken is not None
        assert (report.broken.kind, report.broken.seq, report.broken.decision_id) == (
            "edited",
            3,
            records[2].decision_id,
        )
        assert report.checked == 2

    async def test_an_edited_and_rehashed_entry_breaks_the_next_link(self, decision_log: DecisionLog) -> None:
        log = _chained(decision_log)
        records = await _logged(log)
        await log.seal("t1")
        forged = records[1].model_copy(update={"subject_id": "mallory"})
        prev = _expected_head(records[:1]).hash
        await self.edit_entry(log, "t1", records[1].decision_id, "subject_id", "mallory")
        await self.edit_entry(log, "t1", records[1].decision_id, "entry_hash", chain_hash(prev, 2, forged))
        report = await log.verify("t1")
        assert report.broken is not None
        assert (report.broken.kind, report.broken.seq, report.broken.decision_id) == (
            "relinked",
            3,
            records[2].decision_id,
        )
        assert "entry 2 was replaced" in report.broken.detail

    async def test_a_deleted_entry_is_a_gap(self, decision_log: DecisionLog) -> None:
        log = _chained(decision_log)
        records = await _logged(log)
        await log.seal("t1")
        await self.delete_entry(log, "t1", records[1].decision_id)
        report = await log.verify("t1")
        assert report.broken is not None
        assert (report.broken.kind, report.broken.seq) == ("missing", 2)
        assert "seq 2 missing" in report.broken.detail

    async def test_a_truncated_tail_is_caught_against_the_recorded_head(
        self, decision_log: DecisionLog
    ) -> None:
        log = _chained(decision_log)
        records = await _logged(log)
        await log.seal("t1")
        recorded = await log.head("t1")
        assert recorded is not None
        assert (await log.verify("t1", expect_head=recorded)).ok
        for record in records[3:]:
            await self.delete_entry(log, "t1", record.decision_id)
        # Without the recorded head the shorter chain is consistent: that is what the head is for.
        assert (await log.verify("t1")).ok
        report = await log.verify("t1", expect_head=recorded)
        assert report.broken is not None
        assert (report.broken.kind, report.broken.seq) == ("truncated", 4)
        assert "2 newest entries were removed" in report.broken.detail

    async def test_a_rewritten_tail_is_caught_against_the_recorded_head(
        self, decision_log: DecisionLog
    ) -> None:
        log = _chained(decision_log)
        records = await _logged(log, n=3)
        await log.seal("t1")
        recorded = await log.head("t1")
        await self.delete_entry(log, "t1", records[2].decision_id)
        await log.append([make_decision("t1", "replacement", created_at=ts(99))])
        await log.seal("t1")
        assert (await log.verify("t1")).ok
        report = await log.verify("t1", expect_head=recorded)
        assert report.broken is not None
        assert (report.broken.kind, report.broken.seq, report.broken.decision_id) == (
            "rewritten",
            3,
            "replacement",
        )

    async def test_concurrent_appends_and_seals_make_one_valid_chain(self, decision_log: DecisionLog) -> None:
        log = _chained(decision_log)
        writers, per_writer = 8, 6

        async def writer(w: int) -> None:
            for i in range(per_writer):
                await log.append([make_decision("t1", f"w{w}-{i}", created_at=ts(i))])

        async def sealer() -> None:
            for _ in range(per_writer):
                await log.seal("t1", limit=7)

        await asyncio.gather(*(writer(w) for w in range(writers)), *(sealer() for _ in range(3)))
        await log.seal_all()
        report = await log.verify("t1")
        assert report.ok, report.broken
        assert (report.checked, report.unsealed) == (writers * per_writer, 0)
        assert report.head is not None
        assert report.head.seq == writers * per_writer

    async def test_unreachable_chain_operations_raise_backend_unavailable(self) -> None:
        log = await self.unreachable_decision_log()
        if log is None:
            pytest.skip("this backend cannot be unreachable (unreachable_decision_log hook)")
        chained = _chained(log)
        for call in (
            lambda: chained.seal("t1"),
            lambda: chained.verify("t1"),
            lambda: chained.head("t1"),
            lambda: chained.tenants(),
            lambda: chained.unsealed_count("t1"),
        ):
            with pytest.raises(BackendUnavailableError):
                await call()
        await log.close()
