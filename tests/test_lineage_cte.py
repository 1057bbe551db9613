"""On PostgreSQL, SqlLineageStore.traverse answers with a recursive CTE: it must equal the walk."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import event

from artifact_plane.adapters.sql import SqlDatabase, SqlLineageStore
from artifact_plane.errors import InvalidInputError
from artifact_plane.lineage_walk import walk
from artifact_plane.models import LineageGraph, NodeKind
from artifact_plane.ports.lineage import Direction
from tests.contracts.builders import consumed, produced


@pytest.fixture
async def store(postgres_url: str) -> AsyncIterator[SqlLineageStore]:
    lineage = SqlLineageStore(SqlDatabase(postgres_url))
    await lineage.initialize()
    yield lineage
    await lineage.close()


def shape(graph: LineageGraph) -> tuple[object, ...]:
    nodes = sorted((n.id, n.kind.value, n.depth) for n in graph.nodes)
    edges = sorted(e.key for e in graph.edges)
    return nodes, edges, graph.is_partial


async def test_cte_equals_the_walk_on_random_dags(store: SqlLineageStore) -> None:
    rng = random.Random(20261123)
    layers = [[f"a{layer}x{i}" for i in range(6)] for layer in range(7)]
    edges = []
    for layer in range(6):
        for j in range(5):
            execution = f"e{layer}x{j}"
            # Inputs from this layer and sometimes an older one: paths of different lengths.
            sources = rng.sample(layers[layer], 2) + ([rng.choice(layers[layer - 1])] if layer else [])
            edges += [consumed(source, execution, tenant="t1") for source in sources]
            edges += [produced(execution, target, tenant="t1") for target in rng.sample(layers[layer + 1], 2)]
    await store.add_edges(edges)
    checked = 0
    for start in [layers[0][0], layers[2][3], layers[6][1], "e1x2"]:
        kind = NodeKind.EXECUTION if start.startswith("e") else NodeKind.ARTIFACT
        for direction in (Direction.DOWNSTREAM, Direction.UPSTREAM):
            for depth in range(0, 6):
                args = {"depth": depth, "max_nodes": 10_000, "start_kind": kind}
                fast = await store.traverse("t1", start, direction, **args)  # the CTE
                slow = await walk(store, "t1", start, direction, **args)  # level by level
                assert shape(fast) == shape(slow), (start, direction, depth)
                checked += len(fast.nodes)
    assert checked > 200  # the walks reached real graphs, not just their roots


async def test_a_cut_answer_still_comes_from_the_walk(store: SqlLineageStore) -> None:
    await store.add_edges([consumed("root", "run", tenant="t1")])
    await store.add_edges([produced("run", f"out{i}", tenant="t1") for i in range(10)])
    cut = await store.traverse("t1", "root", Direction.DOWNSTREAM, depth=1, max_nodes=4)
    exact = await walk(store, "t1", "root", Direction.DOWNSTREAM, depth=1, max_nodes=4)
    assert cut.is_partial
    assert cut.truncated_by == ("max_nodes",)
    assert shape(cut) == shape(exact)


async def test_a_store_told_to_walk_answers_as_the_cte(store: SqlLineageStore) -> None:
    await store.add_edges([consumed("root", "run", tenant="t1"), produced("run", "out", tenant="t1")])
    walker = SqlLineageStore(store.database, traversal="walk")
    ctes: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("WITH"):
            ctes.append(statement)

    event.listen(store.database.engine, "before_cursor_execute", record)
    try:
        for depth in (1, 2):
            args = {"depth": depth, "max_nodes": 100}
            walked = await walker.traverse("t1", "root", Direction.DOWNSTREAM, **args)
            assert ctes == []  # level by level: no recursive CTE
            assert shape(walked) == shape(await store.traverse("t1", "root", Direction.DOWNSTREAM, **args))
            assert len(ctes) == 1  # the default store answered with one
            ctes.clear()
    finally:
        event.remove(store.database.engine, "before_cursor_execute", record)
    with pytest.raises(InvalidInputError) as err:
        SqlLineageStore(store.database, traversal="fastest")
    assert err.value.field == "traversal"
