"""The contract every :class:`~artifact_plane.ports.lineage.LineageStore` must keep."""

from __future__ import annotations

from datetime import timedelta

import pytest

from artifact_plane.errors import BackendUnavailableError
from artifact_plane.models import LineageEdge, LineageGraph, NodeKind
from artifact_plane.ports.lineage import Direction, LineageStore
from tests.contracts.builders import consumed, produced, ts

UP, DOWN, BOTH = Direction.UPSTREAM, Direction.DOWNSTREAM, Direction.BOTH

# a1 -CONSUMED_BY-> e1 -PRODUCED-> a2 -CONSUMED_BY-> e2 -PRODUCED-> a3, and e1 also produced a2b.
CHAIN = [
    consumed("a1", "e1", at=ts(1)),
    produced("e1", "a2", at=ts(2)),
    produced("e1", "a2b", at=ts(3)),
    consumed("a2", "e2", at=ts(4)),
    produced("e2", "a3", at=ts(5)),
]


def _ids(graph: LineageGraph) -> set[str]:
    return {n.id for n in graph.nodes}


def _keys(graph: LineageGraph) -> set[str]:
    return {e.key for e in graph.edges}


def _key(edge: LineageEdge) -> str:
    return edge.key


class LineageContract:
    """Behaviour every lineage store must show; a backend's test class inherits it.

    Override the ``lineage`` fixture (an initialized, empty store). Capability
    hook: :meth:`unreachable_lineage` (a store whose backend does not answer),
    returning None to skip what needs it, with a reason.
    """

    @pytest.fixture
    def lineage(self) -> LineageStore:
        pytest.fail(f"{type(self).__name__} must override the `lineage` fixture")

    async def unreachable_lineage(self) -> LineageStore | None:
        """A store whose backend cannot be reached, or None when that cannot happen."""
        return None

    # -- edges ---------------------------------------------------------------

    async def test_unreachable_add_edges_raises_backend_unavailable(self) -> None:
        store = await self.unreachable_lineage()
        if store is None:
            pytest.skip("this backend cannot be unreachable (unreachable_lineage hook)")
        with pytest.raises(BackendUnavailableError):
            await store.add_edges([produced("e1", "a1")])
        with pytest.raises(BackendUnavailableError):
            await store.ping()
        await store.close()

    async def test_added_edges_come_back_from_both_ends(self, lineage: LineageStore) -> None:
        into, out = consumed("a1", "e1", at=ts(1)), produced("e1", "a2", at=ts(2))
        await lineage.add_edges([into, out])
        assert await lineage.neighbors("t1", ["a1"], DOWN) == [into]
        assert await lineage.neighbors("t1", ["e1"], UP) == [into]
        assert await lineage.neighbors("t1", ["e1"], DOWN) == [out]
        assert await lineage.neighbors("t1", ["a2"], UP) == [out]
        [got] = await lineage.neighbors("t1", ["a2"], UP)
        assert got.created_at.utcoffset() == timedelta(0)
        assert got.closed_at is None
        assert (got.source_kind, got.target_kind) == (NodeKind.EXECUTION, NodeKind.ARTIFACT)

    async def test_adding_an_open_edge_again_is_a_no_op(self, lineage: LineageStore) -> None:
        first = produced("e1", "a1", at=ts(1))
        await lineage.add_edges([first, first])
        await lineage.add_edges([produced("e1", "a1", at=ts(7))])
        assert await lineage.neighbors("t1", ["e1"], DOWN) == [first]
        assert await lineage.close_edges("t1", ["a1"], ts(9)) == 1

    async def test_a_closed_edge_added_again_opens_a_new_one(self, lineage: LineageStore) -> None:
        old, new = produced("e1", "a1", at=ts(1)), produced("e1", "a1", at=ts(20))
        await lineage.add_edges([old])
        assert await lineage.close_edges("t1", ["a1"], ts(10)) == 1
        await lineage.add_edges([new])
        assert await lineage.neighbors("t1", ["e1"], DOWN) == [new]
        assert await lineage.neighbors("t1", ["e1"], DOWN, as_of=ts(5)) == [
            old.model_copy(update={"closed_at": ts(10)})
        ]
        assert await lineage.neighbors("t1", ["e1"], DOWN, as_of=ts(15)) == []
        assert await lineage.neighbors("t1", ["e1"], DOWN, as_of=ts(25)) == [new]

    async def test_close_edges_closes_open_edges_touching_the_nodes(self, lineage: LineageStore) -> None:
        await lineage.add_edges(CHAIN)
        # e1 is the target of a1->e1 and the source of e1->a2, e1->a2b.
        assert await lineage.close_edges("t1", ["e1"], ts(10)) == 3
        assert await lineage.close_edges("t1", ["e1"], ts(11)) == 0
        assert await lineage.neighbors("t1", ["a1"], DOWN) == []
        assert await lineage.neighbors("t1", ["e1"], DOWN) == []
        assert await lineage.neighbors("t1", ["a2"], DOWN) == [CHAIN[3]]
        assert await lineage.neighbors("t1", ["a1"], DOWN, as_of=ts(9)) == [
            CHAIN[0].model_copy(update={"closed_at": ts(10)})
        ]
        assert await lineage.close_edges("t1", ["a2", "a3"], ts(12)) == 2
        assert await lineage.close_edges("t1", ["unknown"], ts(12)) == 0

    async def test_close_edges_does_not_cross_tenants(self, lineage: LineageStore) -> None:
        mine = produced("e1", "a1", tenant="t1", at=ts(1))
        theirs = produced("e1", "a1", tenant="t2", at=ts(1))
        await lineage.add_edges([mine, theirs])
        assert await lineage.close_edges("t2", ["a1"], ts(5)) == 1
        assert await lineage.neighbors("t1", ["e1"], DOWN) == [mine]
        assert await lineage.neighbors("t2", ["e1"], DOWN) == []

    # -- neighbors -----------------------------------------------------------

    async def test_neighbors_follow_the_direction(self, lineage: LineageStore) -> None:
        await lineage.add_edges(CHAIN)
        down = await lineage.neighbors("t1", ["a1", "a2"], DOWN)
        assert sorted(map(_key, down)) == sorted(map(_key, [CHAIN[0], CHAIN[3]]))
        up = await lineage.neighbors("t1", ["a2", "a3"], UP)
        assert sorted(map(_key, up)) == sorted(map(_key, [CHAIN[1], CHAIN[4]]))
        assert sorted(map(_key, await lineage.neighbors("t1", ["e1"], DOWN))) == sorted(
            map(_key, [CHAIN[1], CHAIN[2]])
        )
        assert await lineage.neighbors("t1", ["a1"], UP) == []
        assert await lineage.neighbors("t1", ["a3"], DOWN) == []
        assert await lineage.neighbors("t1", ["unknown"], DOWN) == []
        assert await lineage.neighbors("t1", [], DOWN) == []

    async def test_neighbors_as_of_sees_edges_open_at_that_time(self, lineage: LineageStore) -> None:
        await lineage.add_edges([produced("e1", "a1", at=ts(10))])
        await lineage.close_edges("t1", ["a1"], ts(20))
        closed = produced("e1", "a1", at=ts(10)).model_copy(update={"closed_at": ts(20)})
        assert await lineage.neighbors("t1", ["e1"], DOWN, as_of=ts(5)) == []  # not yet created
        assert await lineage.neighbors("t1", ["e1"], DOWN, as_of=ts(10)) == [closed]
        assert await lineage.neighbors("t1", ["e1"], DOWN, as_of=ts(15)) == [closed]
        assert await lineage.neighbors("t1", ["a1"], UP, as_of=ts(15)) == [closed]
        assert await lineage.neighbors("t1", ["e1"], DOWN, as_of=ts(20)) == []
        assert await lineage.neighbors("t1", ["e1"], DOWN, as_of=ts(25)) == []
        assert await lineage.neighbors("t1", ["e1"], DOWN) == []

    async def test_limit_per_node_keeps_the_oldest_edges_of_each_node(self, lineage: LineageStore) -> None:
        seconds = [5, 1, 4, 2, 3]
        await lineage.add_edges([produced("e1", f"o{n}", at=ts(s)) for n, s in enumerate(seconds)])
        await lineage.add_edges([produced("e2", f"p{n}", at=ts(10 - n)) for n in range(3)])
        found = await lineage.neighbors("t1", ["e1", "e2"], DOWN, limit_per_node=2)
        assert sorted(e.target_id for e in found) == ["o1", "o3", "p1", "p2"]
        assert len(await lineage.neighbors("t1", ["e1", "e2"], DOWN)) == 8
        assert len(await lineage.neighbors("t1", ["e1"], DOWN, limit_per_node=6)) == 5

    async def test_edges_do_not_cross_tenants(self, lineage: LineageStore) -> None:
        await lineage.add_edges(CHAIN)
        assert await lineage.neighbors("t2", ["a1", "e1", "a2"], DOWN) == []
        assert await lineage.neighbors("t2", ["a2", "a3"], UP) == []
        graph = await lineage.traverse("t2", "a1", DOWN, depth=5, max_nodes=100)
        assert _ids(graph) == {"a1"}
        assert graph.edges == ()

    # -- traverse ------------------------------------------------------------

    async def test_traverse_depth_counts_artifact_hops(self, lineage: LineageStore) -> None:
        await lineage.add_edges(CHAIN)
        one = await lineage.traverse("t1", "a1", DOWN, depth=1, max_nodes=100)
        assert one.root == "a1"
        assert _ids(one) == {"a1", "e1", "a2", "a2b"}
        assert "e2" not in _ids(one)
        assert _keys(one) == {CHAIN[0].key, CHAIN[1].key, CHAIN[2].key}
        assert not one.is_partial  # the requested depth never makes an answer partial
        kinds = {n.id: n.kind for n in one.nodes}
        assert kinds == {
            "a1": NodeKind.ARTIFACT,
            "e1": NodeKind.EXECUTION,
            "a2": NodeKind.ARTIFACT,
            "a2b": NodeKind.ARTIFACT,
        }
        two = await lineage.traverse("t1", "a1", DOWN, depth=2, max_nodes=100)
        assert _ids(two) == {"a1", "e1", "a2", "a2b", "e2", "a3"}
        depths = {n.id: n.depth for n in two.nodes}
        assert depths["a1"] == 0
        assert depths["a2"] == 1
        assert depths["a3"] == 2

    async def test_traverse_upstream(self, lineage: LineageStore) -> None:
        await lineage.add_edges(CHAIN)
        one = await lineage.traverse("t1", "a3", UP, depth=1, max_nodes=100)
        assert _ids(one) == {"a3", "e2", "a2"}
        full = await lineage.traverse("t1", "a3", UP, depth=10, max_nodes=100)
        assert _ids(full) == {"a3", "e2", "a2", "e1", "a1"}  # a2b is a sibling, not an ancestor
        assert _keys(full) == {CHAIN[0].key, CHAIN[1].key, CHAIN[3].key, CHAIN[4].key}
        assert not full.is_partial
        assert full.truncated_by == ()

    async def test_traverse_both_is_the_union_without_siblings(self, lineage: LineageStore) -> None:
        await lineage.add_edges(CHAIN)
        both = await lineage.traverse("t1", "a2", BOTH, depth=1, max_nodes=100)
        up = await lineage.traverse("t1", "a2", UP, depth=1, max_nodes=100)
        down = await lineage.traverse("t1", "a2", DOWN, depth=1, max_nodes=100)
        assert _ids(both) == _ids(up) | _ids(down) == {"a1", "e1", "a2", "e2", "a3"}
        assert "a2b" not in _ids(both)
        assert _keys(both) == _keys(up) | _keys(down)
        assert CHAIN[2].key not in _keys(both)

    async def test_traverse_from_an_execution(self, lineage: LineageStore) -> None:
        await lineage.add_edges(CHAIN)
        one = await lineage.traverse("t1", "e1", DOWN, depth=1, max_nodes=100, start_kind=NodeKind.EXECUTION)
        assert _ids(one) == {"e1", "a2", "a2b"}
        assert {n.id: n.kind for n in one.nodes}["e1"] is NodeKind.EXECUTION
        two = await lineage.traverse("t1", "e1", DOWN, depth=2, max_nodes=100, start_kind=NodeKind.EXECUTION)
        assert _ids(two) == {"e1", "a2", "a2b", "e2", "a3"}
        up = await lineage.traverse("t1", "e2", UP, depth=1, max_nodes=100, start_kind=NodeKind.EXECUTION)
        assert _ids(up) == {"e2", "a2"}

    async def test_max_nodes_cuts_the_answer_and_says_so(self, lineage: LineageStore) -> None:
        await lineage.add_edges(CHAIN)
        graph = await lineage.traverse("t1", "a1", DOWN, depth=10, max_nodes=3)
        assert len(graph.nodes) == 3
        assert len({n.id for n in graph.nodes}) == 3
        assert graph.is_partial
        assert "max_nodes" in graph.truncated_by
        assert {e.source_id for e in graph.edges} | {e.target_id for e in graph.edges} <= _ids(graph)

    async def test_fanout_limit_cuts_the_answer_and_says_so(self, lineage: LineageStore) -> None:
        await lineage.add_edges(CHAIN)
        await lineage.add_edges([produced("e1", "a2c", at=ts(6))])
        graph = await lineage.traverse("t1", "a1", DOWN, depth=1, max_nodes=100, fanout_limit=2)
        assert graph.is_partial
        assert "fanout_limit" in graph.truncated_by
        assert _ids(graph) == {"a1", "e1", "a2", "a2b"}  # the oldest two outputs of e1
        exact = await lineage.traverse("t1", "a1", DOWN, depth=1, max_nodes=100, fanout_limit=3)
        assert not exact.is_partial
        assert _ids(exact) == {"a1", "e1", "a2", "a2b", "a2c"}

    async def test_a_walk_within_its_limits_is_complete(self, lineage: LineageStore) -> None:
        await lineage.add_edges(CHAIN)
        graph = await lineage.traverse("t1", "a1", DOWN, depth=10, max_nodes=6, fanout_limit=2)
        assert _ids(graph) == {"a1", "e1", "a2", "a2b", "e2", "a3"}
        assert _keys(graph) == {e.key for e in CHAIN}
        assert not graph.is_partial
        assert graph.truncated_by == ()

    async def test_timeout_cuts_the_answer_and_says_so(self, lineage: LineageStore) -> None:
        await lineage.add_edges(CHAIN)
        graph = await lineage.traverse("t1", "a1", DOWN, depth=10, max_nodes=100, timeout=0.0)
        assert graph.is_partial
        assert "timeout" in graph.truncated_by

    async def test_traverse_as_of_follows_edges_open_then(self, lineage: LineageStore) -> None:
        await lineage.add_edges(CHAIN)
        await lineage.close_edges("t1", ["e2"], ts(10))
        now = await lineage.traverse("t1", "a1", DOWN, depth=10, max_nodes=100)
        assert _ids(now) == {"a1", "e1", "a2", "a2b"}
        then = await lineage.traverse("t1", "a1", DOWN, depth=10, max_nodes=100, as_of=ts(7))
        assert _ids(then) == {"a1", "e1", "a2", "a2b", "e2", "a3"}
        early = await lineage.traverse("t1", "a1", DOWN, depth=10, max_nodes=100, as_of=ts(2))
        assert _ids(early) == {"a1", "e1", "a2"}

    async def test_a_diamond_yields_each_node_and_edge_once(self, lineage: LineageStore) -> None:
        diamond = [
            consumed("a1", "e1", at=ts(1)),
            produced("e1", "a2", at=ts(2)),
            produced("e1", "a3", at=ts(2)),
            consumed("a2", "e2", at=ts(3)),
            consumed("a3", "e2", at=ts(3)),
            produced("e2", "a4", at=ts(4)),
        ]
        await lineage.add_edges(diamond)
        for start, direction in (("a1", DOWN), ("a4", UP), ("a2", BOTH)):
            graph = await lineage.traverse("t1", start, direction, depth=10, max_nodes=100)
            ids = [n.id for n in graph.nodes]
            keys = [e.key for e in graph.edges]
            assert len(ids) == len(set(ids))
            assert len(keys) == len(set(keys))
        down = await lineage.traverse("t1", "a1", DOWN, depth=10, max_nodes=100)
        assert _ids(down) == {"a1", "e1", "a2", "a3", "e2", "a4"}
        assert _keys(down) == {e.key for e in diamond}
        assert {n.id: n.depth for n in down.nodes}["a4"] == 2

    async def test_a_cycle_terminates(self, lineage: LineageStore) -> None:
        cycle = [
            consumed("a1", "e1", at=ts(1)),
            produced("e1", "a2", at=ts(2)),
            consumed("a2", "e2", at=ts(3)),
            produced("e2", "a1", at=ts(4)),
        ]
        await lineage.add_edges(cycle)
        for direction in (DOWN, UP, BOTH):
            graph = await lineage.traverse("t1", "a1", direction, depth=1000, max_nodes=100)
            assert [n.id for n in graph.nodes].count("a1") == 1
            assert _ids(graph) == {"a1", "e1", "a2", "e2"}
            assert _keys(graph) == {e.key for e in cycle}
            assert not graph.is_partial
