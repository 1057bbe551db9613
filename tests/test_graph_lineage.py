"""Graph lineage stores: the lineage contract over ArangoDB and Neo4j, and what runs without them.

ArangoDB and Neo4j cannot be installed on the build machines: their contract
classes run when ``AP_TEST_ARANGO_URL`` / ``AP_TEST_NEO4J_URL`` name a server
(``arangodb://root:pw@host:8529/ap_test``, ``neo4j://neo4j:pw@host:7687``; see
the README's "Production-like stack") and skip with that reason otherwise.
The tests below them need no server: query construction (AQL with bind
variables, parameterised Cypher), error translation of exceptions the drivers
build themselves, URL parsing, the unreachable-server contract (a real driver
against a closed port), and the native-traversal assembly against the walk.
"""

from __future__ import annotations

import json
import os
import random
import uuid
from collections import deque
from collections.abc import AsyncIterator

import pytest

from artifact_plane.adapters.arango import ArangoLineageStore
from artifact_plane.adapters.arango import queries as aql
from artifact_plane.adapters.arango.errors import QueryKilled
from artifact_plane.adapters.arango.errors import translate_errors as arango_errors
from artifact_plane.adapters.arango.lineage import assemble
from artifact_plane.adapters.memory import MemoryLineageStore
from artifact_plane.adapters.neo4j import Neo4jLineageStore
from artifact_plane.adapters.neo4j import queries as cypher
from artifact_plane.adapters.neo4j.errors import TransactionTimedOut
from artifact_plane.adapters.neo4j.errors import translate_errors as neo4j_errors
from artifact_plane.errors import (
    ArtifactPlaneError,
    BackendUnavailableError,
    ConfigurationError,
    ConflictError,
)
from artifact_plane.lineage_walk import max_steps
from artifact_plane.models import EdgeKind, NodeKind
from artifact_plane.ports.lineage import Direction, LineageStore
from artifact_plane.wiring import build_graph_lineage
from tests.contracts.builders import consumed, produced, ts
from tests.contracts.lineage_contract import LineageContract

ARANGO_URL = os.environ.get("AP_TEST_ARANGO_URL")
NEO4J_URL = os.environ.get("AP_TEST_NEO4J_URL")
CLOSED_PORT = "127.0.0.1:1"  # nothing listens on port 1: connections are refused at once
HOSTILE = 'x" OR true RETURN 1 //'  # a value that must never reach query text


# -- the contract, over real servers -------------------------------------------


class TestArangoLineage(LineageContract):
    @pytest.fixture
    async def lineage(self) -> AsyncIterator[LineageStore]:
        if not ARANGO_URL:
            pytest.skip(
                "ArangoDB cannot run on this machine: set AP_TEST_ARANGO_URL=arangodb://user:pw@host:8529/db"
            )
        store = ArangoLineageStore.from_url(ARANGO_URL)
        store.names = aql.Names(f"t{uuid.uuid4().hex[:12]}_")  # each test its own collections and graph
        await store.initialize()
        yield store
        db = store._database()
        db.delete_graph(store.names.graph, ignore_missing=True, drop_collections=True)
        db.delete_collection(store.names.history, ignore_missing=True)
        await store.close()

    async def unreachable_lineage(self) -> LineageStore | None:
        return ArangoLineageStore(f"http://{CLOSED_PORT}", request_timeout=5, retry_attempts=0)


class TestNeo4jLineage(LineageContract):
    @pytest.fixture
    async def lineage(self) -> AsyncIterator[LineageStore]:
        if not NEO4J_URL:
            pytest.skip("Neo4j cannot run on this machine: set AP_TEST_NEO4J_URL=neo4j://user:pw@host:7687")
        store = Neo4jLineageStore.from_url(NEO4J_URL)
        await store.initialize()
        await _neo4j_wipe(store)  # a throw-away test database: every test starts empty
        yield store
        await store.close()

    async def unreachable_lineage(self) -> LineageStore | None:
        return Neo4jLineageStore(f"bolt://{CLOSED_PORT}", connection_timeout=5, max_transaction_retry_time=0)


async def _neo4j_wipe(store: Neo4jLineageStore) -> None:
    driver = await store._session_driver()
    async with driver.session(database=store.database) as session:
        await (await session.run("MATCH (n) WHERE n:Artifact OR n:Execution DETACH DELETE n")).consume()


# -- AQL: fixed text, values in bind_vars --------------------------------------

NAMES = aql.Names("ap_")


def test_aql_neighbors_binds_every_value() -> None:
    text, bind = aql.neighbors(NAMES, HOSTILE, [HOSTILE, "a1"], Direction.DOWNSTREAM, None, 3)
    assert HOSTILE not in text
    assert bind == {"@edges": "ap_lineage_edges", "tenant": HOSTILE, "frontier": [HOSTILE, "a1"], "limit": 3}
    assert "x.source_id == near" in text
    assert "LIMIT @limit" in text
    assert "@@history" not in text  # open edges only: history is for as_of


def test_aql_neighbors_as_of_reads_open_and_closed_edges() -> None:
    text, bind = aql.neighbors(NAMES, "t1", ["a1"], Direction.UPSTREAM, ts(5), None)
    assert "x.target_id == near" in text
    assert "@@history" in text
    assert "x.closed_at > @as_of" in text
    assert bind["as_of"] == "2024-01-01T00:00:05.000000Z"
    assert bind["@history"] == "ap_lineage_history"
    assert bind["limit"] == aql.NO_LIMIT


def test_aql_traversal_uses_the_named_graph_breadth_first() -> None:
    text, bind = aql.reach(NAMES, HOSTILE, "a1", Direction.UPSTREAM, steps=4, cap=11)
    assert "FOR v, e, p IN 1..@steps INBOUND start GRAPH @graph" in text
    assert 'order: "bfs", uniqueVertices: "global"' in text
    assert HOSTILE not in text
    assert bind["steps"] == 4
    assert bind["cap"] == 11
    assert bind["graph"] == "ap_lineage"
    key = aql.node_key(HOSTILE, "a1")
    assert bind["starts"] == [f"ap_artifacts/{key}", f"ap_executions/{key}"]
    down, _ = aql.reach(NAMES, "t1", "a1", Direction.DOWNSTREAM, steps=1, cap=1)
    assert "OUTBOUND start GRAPH @graph" in down


def test_aql_writes_are_idempotent_by_deterministic_keys() -> None:
    edge = produced("e1", "a1", at=ts(1))
    doc = aql.edge_doc(edge, NAMES)
    again = aql.edge_doc(produced("e1", "a1", at=ts(9)), NAMES)
    other_tenant = aql.edge_doc(produced("e1", "a1", tenant="t2", at=ts(1)), NAMES)
    assert doc["_key"] == again["_key"]  # the same edge key: one open edge
    assert doc["_key"] != other_tenant["_key"]
    assert doc["_from"] == f"ap_executions/{aql.node_key('t1', 'e1')}"
    assert doc["_to"] == f"ap_artifacts/{aql.node_key('t1', 'a1')}"
    assert len(aql.node_key("t" * 128, "a" * 128)) <= 254  # ArangoDB's _key limit
    text, bind = aql.add_edges(NAMES, [doc])
    assert 'overwriteMode: "ignore", waitForSync: true' in text
    assert bind == {"docs": [doc], "@edges": "ap_lineage_edges"}
    assert aql.from_doc(doc) == edge
    history = aql.history_key("t1", edge.key, doc["created_at"])
    assert history == aql.history_key("t1", edge.key, doc["created_at"]) != doc["_key"]


def test_aql_close_moves_edges_and_never_removes_a_reopened_one() -> None:
    find, bind = aql.close_find(NAMES, HOSTILE, [HOSTILE])
    assert HOSTILE not in find
    assert bind["tenant"] == HOSTILE
    assert bind["ids"] == [HOSTILE]
    closed = {**aql.edge_doc(produced("e1", "a1", at=ts(1)), NAMES), "closed_at": "later", "open_key": "k1"}
    (copy, copy_bind), (remove, remove_bind) = aql.close_move(NAMES, [closed])
    assert "INTO @@history" in copy
    assert "open_key" not in copy_bind["docs"][0]
    assert "e.created_at == d.created_at" in remove
    assert "waitForSync: true" in copy
    assert "waitForSync: true" in remove  # delivered means durable in ArangoDB
    assert remove_bind["targets"] == [{"key": "k1", "created_at": "2024-01-01T00:00:01.000000Z"}]


def test_timestamps_compare_as_text_in_time_order() -> None:
    instants = [ts(0), ts(0.000001), ts(1), ts(59.5), ts(3600 * 24 * 400)]
    texts = [aql.timestamp(at) for at in instants]
    assert texts == sorted(texts)
    assert len({len(text) for text in texts}) == 1
    assert [cypher.timestamp(at) for at in instants] == texts
    with pytest.raises(ValueError, match="timezone-aware"):
        aql.timestamp(ts(0).replace(tzinfo=None))


# -- Cypher: fixed text per kind and direction, values as parameters -----------


def test_cypher_add_merges_nodes_and_guards_the_open_relationship() -> None:
    edge = consumed(HOSTILE, "e1", at=ts(1))
    text, params = cypher.add_edges(EdgeKind.CONSUMED_BY, [edge])
    assert HOSTILE not in text
    assert "MERGE (s:Artifact {tenant_id: e.tenant_id, id: e.source_id})" in text
    assert "MERGE (t:Execution" in text
    assert "WHERE already = 0" in text
    assert "CREATE (s)-[:CONSUMED_BY" in text
    assert params["edges"] == [
        {
            "tenant_id": "t1",
            "edge_key": edge.key,
            "source_id": HOSTILE,
            "target_id": "e1",
            "created_at": "2024-01-01T00:00:01.000000Z",
            "closed_at": None,
        }
    ]
    produced_text, _ = cypher.add_edges(EdgeKind.PRODUCED, [produced("e1", "a1")])
    assert "MERGE (s:Execution" in produced_text
    assert "CREATE (s)-[:PRODUCED" in produced_text


def test_cypher_neighbors_and_close_are_parameterised() -> None:
    text, params = cypher.neighbors(HOSTILE, [HOSTILE], Direction.UPSTREAM, ts(3), 2)
    assert HOSTILE not in text
    assert "(m)-[r:PRODUCED|CONSUMED_BY]->(n:Artifact|Execution {tenant_id: $tenant, id: near})" in text
    assert "r.closed_at > $as_of" in text
    assert "LIMIT $limit" in text
    assert params == {"tenant": HOSTILE, "frontier": [HOSTILE], "limit": 2, "as_of": cypher.timestamp(ts(3))}
    now, now_params = cypher.neighbors("t1", ["a1"], Direction.DOWNSTREAM, None, None)
    assert "r.closed_at IS NULL" in now
    assert "$as_of" not in now
    assert now_params["limit"] == cypher.NO_LIMIT
    close, close_params = cypher.close_edges(HOSTILE, [HOSTILE], ts(4))
    assert HOSTILE not in close
    assert close_params == {"tenant": HOSTILE, "ids": [HOSTILE], "at": cypher.timestamp(ts(4))}
    row = {**params, "tenant_id": "t1", "kind": "PRODUCED", "source_id": "e1", "target_id": "a1"}
    row.update(created_at=cypher.timestamp(ts(1)), closed_at=cypher.timestamp(ts(2)))
    assert cypher.from_row(row) == produced("e1", "a1", at=ts(1)).model_copy(update={"closed_at": ts(2)})


# -- error translation: driver exceptions built as the drivers build them ------


def _arango_error(status: int, body: dict[str, object] | None) -> Exception:
    from arango.exceptions import AQLQueryExecuteError
    from arango.request import Request
    from arango.response import Response

    response = Response(
        "post", "http://arango:8529/_db/ap/_api/cursor", {}, status, "status", json.dumps(body)
    )
    # What python-arango's connection does with every answer (Connection.prep_response).
    response.body = body
    if body is not None:
        response.error_code = body.get("errorNum")  # type: ignore[assignment]
        response.error_message = body.get("errorMessage")  # type: ignore[assignment]
    response.is_success = False
    return AQLQueryExecuteError(response, Request("post", "/_api/cursor"))


@pytest.mark.parametrize(
    ("raised", "expected"),
    [
        (_arango_error(401, {"errorNum": 11, "errorMessage": "not authorized"}), ConfigurationError),
        (_arango_error(404, {"errorNum": 1228, "errorMessage": "database not found"}), ConfigurationError),
        (
            _arango_error(409, {"errorNum": 1200, "errorMessage": "write-write conflict"}),
            BackendUnavailableError,
        ),
        (
            _arango_error(503, {"errorNum": 503, "errorMessage": "service unavailable"}),
            BackendUnavailableError,
        ),
        (_arango_error(500, {"errorNum": 4, "errorMessage": "internal error"}), ArtifactPlaneError),
        (ConnectionAbortedError("Can't connect to host(s) within limit (1)"), BackendUnavailableError),
    ],
    ids=["401", "no-database", "conflict", "503", "internal", "connection"],
)
def test_arango_errors_become_ours(raised: Exception, expected: type[Exception]) -> None:
    with pytest.raises(expected) as caught, arango_errors():
        raise raised
    assert caught.value.__cause__ is raised
    assert type(caught.value) is expected


def test_arango_timeouts_and_client_errors() -> None:
    from arango.exceptions import ArangoClientError
    from requests.exceptions import ReadTimeout

    with pytest.raises(QueryKilled), arango_errors():
        raise _arango_error(410, {"errorNum": 1500, "errorMessage": "query killed"})
    with pytest.raises(BackendUnavailableError, match="retry"), arango_errors():
        raise ReadTimeout("read timed out")
    with pytest.raises(ArtifactPlaneError) as caught, arango_errors():
        raise ArangoClientError("bad argument")
    assert type(caught.value) is ArtifactPlaneError


def _neo4j_error(code: str) -> Exception:
    from neo4j.exceptions import Neo4jError

    # How the driver turns a server FAILURE message into an exception of the right class.
    return Neo4jError._hydrate_neo4j(code=code, message="from the server")


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("Neo.ClientError.Security.Unauthorized", ConfigurationError),
        ("Neo.ClientError.Database.DatabaseNotFound", ConfigurationError),
        ("Neo.ClientError.Schema.ConstraintValidationFailed", ConflictError),
        ("Neo.TransientError.Transaction.DeadlockDetected", BackendUnavailableError),
        ("Neo.ClientError.Statement.SyntaxError", ArtifactPlaneError),
        ("Neo.DatabaseError.General.UnknownError", ArtifactPlaneError),
    ],
)
def test_neo4j_server_errors_become_ours(code: str, expected: type[Exception]) -> None:
    raised = _neo4j_error(code)
    with pytest.raises(expected) as caught, neo4j_errors():
        raise raised
    assert caught.value.__cause__ is raised
    assert type(caught.value) is expected


def test_neo4j_driver_errors_become_ours() -> None:
    from neo4j.exceptions import ServiceUnavailable, SessionExpired

    for raised in (ServiceUnavailable("Couldn't connect to 127.0.0.1:1"), SessionExpired("gone")):
        with pytest.raises(BackendUnavailableError), neo4j_errors():
            raise raised
    with pytest.raises(TransactionTimedOut), neo4j_errors():
        raise _neo4j_error("Neo.ClientError.Transaction.TransactionTimedOutClientConfiguration")


# -- settings ------------------------------------------------------------------


def test_graph_urls_name_host_database_and_credentials() -> None:
    store = build_graph_lineage("arangodb://ap:p%40ss@arango.internal:8530/lineage")
    assert isinstance(store, ArangoLineageStore)
    assert (store.hosts, store.database_name, store._username, store._password) == (
        "http://arango.internal:8530",
        "lineage",
        "ap",
        "p@ss",
    )
    assert build_graph_lineage("arangodbs://db.example").hosts == "https://db.example:8529"  # type: ignore[attr-defined]
    neo = build_graph_lineage("neo4j://neo4j:secret@graph:7688/lineage")
    assert isinstance(neo, Neo4jLineageStore)
    assert (neo.uri, neo.database, neo._auth) == ("neo4j://graph:7688", "lineage", ("neo4j", "secret"))
    bare = build_graph_lineage("bolt://graph")
    assert (bare.uri, bare.database, bare._auth) == ("bolt://graph:7687", None, None)  # type: ignore[attr-defined]
    assert isinstance(build_graph_lineage("memory"), MemoryLineageStore)
    for bad in ("gremlin://graph:8182", "arangodb:///nohost", "neo4j:///nohost"):
        with pytest.raises(ConfigurationError, match="AP_LINEAGE_URL"):
            build_graph_lineage(bad)


# -- the native traversal's assembly answers as the walk -----------------------


def _fewest_steps(edges: list, start: str, direction: Direction, steps: int) -> dict[str, int]:
    """Breadth-first reach over open edges: what the AQL traversal returns (independently computed)."""
    out: dict[str, list[str]] = {}
    for edge in edges:
        near, far = (edge.source_id, edge.target_id)
        if direction is Direction.UPSTREAM:
            near, far = far, near
        out.setdefault(near, []).append(far)
    reached = {start: 0}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        if reached[node] == steps:
            continue
        for far in out.get(node, []):
            if far not in reached:
                reached[far] = reached[node] + 1
                queue.append(far)
    return reached


@pytest.mark.parametrize("seed", range(12))
async def test_native_traversal_assembly_matches_the_walk(seed: int) -> None:
    rng = random.Random(seed)
    artifacts = [f"a{i}" for i in range(30)]
    edges = []
    for n in range(25):
        execution = f"e{n}"
        for source in rng.sample(artifacts, rng.randint(0, 3)):
            edges.append(consumed(source, execution, at=ts(rng.randint(0, 50))))
        for target in rng.sample(artifacts, rng.randint(1, 3)):
            edges.append(produced(execution, target, at=ts(rng.randint(0, 50))))
    store = MemoryLineageStore()
    await store.add_edges(edges)
    opened = [edge for edge in edges if edge.closed_at is None]
    for direction in (Direction.DOWNSTREAM, Direction.UPSTREAM):
        for depth in (1, 2, 4):
            start = rng.choice(artifacts)
            steps = max_steps(depth, NodeKind.ARTIFACT)
            reached = _fewest_steps(opened, start, direction, steps)
            expand = [node for node, step in reached.items() if step <= steps - 1]
            found = await store.neighbors("t1", expand, direction)
            native = assemble(start, NodeKind.ARTIFACT, direction, reached, found)
            walked = await store.traverse("t1", start, direction, depth=depth, max_nodes=10_000)
            assert {(n.id, n.kind, n.depth) for n in native.nodes} == {
                (n.id, n.kind, n.depth) for n in walked.nodes
            }
            assert {e.key for e in native.edges} == {e.key for e in walked.edges}
            assert native.is_partial is walked.is_partial is False
