"""The contract every :class:`~artifact_plane.ports.decisions.DecisionLog` must keep."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from artifact_plane.errors import BackendUnavailableError
from artifact_plane.models import DecisionFilter, DecisionRecord
from artifact_plane.ports.decisions import DecisionLog
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
