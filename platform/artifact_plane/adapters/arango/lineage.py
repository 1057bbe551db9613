"""``ArangoLineageStore``: lineage edges in ArangoDB (python-arango).

Schema (created on first use, safe to repeat): vertex collections for
artifacts and executions, an edge collection of open edges in a named graph,
a history edge collection of closed edges outside it, persistent indexes on
``(tenant_id, source_id|target_id, created_at)``. Queries are in
``queries.py`` (AQL, values in ``bind_vars``).

python-arango blocks (``requests``), so every call runs in a worker thread.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import unquote, urlparse

import anyio.to_thread
import arango.errno as errno
from arango.client import ArangoClient
from arango.cursor import Cursor
from arango.database import StandardDatabase
from arango.exceptions import ArangoServerError
from arango.http import DefaultHTTPClient

from artifact_plane.adapters.arango import queries
from artifact_plane.adapters.arango.errors import QueryKilled, translate_errors
from artifact_plane.errors import ConfigurationError, InvalidInputError
from artifact_plane.lineage_walk import drive, max_steps, walk_steps
from artifact_plane.models import LineageEdge, LineageGraph, LineageNode, NodeKind
from artifact_plane.ports.lineage import Direction, LineageStore

__all__ = ["ArangoLineageStore"]

T = TypeVar("T")
_EXISTS = {errno.DUPLICATE_NAME, errno.GRAPH_DUPLICATE}


class ArangoLineageStore(LineageStore):
    """Lineage in ArangoDB.

    Args:
        hosts: ``http://host:8529`` (comma-separated for a cluster's coordinators).
        database: the database name (created when missing and the user may).
        username, password: credentials.
        prefix: collection and graph name prefix.
        request_timeout: seconds before an HTTP request is given up.
        retry_attempts: HTTP retries (with backoff) of a failed request before it fails.
    """

    def __init__(
        self,
        hosts: str,
        database: str = "artifact_plane",
        *,
        username: str = "root",
        password: str = "",
        prefix: str = "ap_",
        request_timeout: float = 30.0,
        retry_attempts: int = 2,
    ) -> None:
        self.hosts = hosts
        self.database_name = database
        self.names = queries.Names(prefix)
        self._username = username
        self._password = password
        # One try per host (python-arango: three); the relay retries with its own backoff.
        http = DefaultHTTPClient(request_timeout=request_timeout, retry_attempts=retry_attempts)
        self._client = ArangoClient(hosts=hosts, http_client=http, resolver_max_tries=1)
        self._db: StandardDatabase | None = None
        self._ready = False
        self._lock = threading.Lock()

    @classmethod
    def from_url(cls, url: str) -> ArangoLineageStore:
        """``arangodb://user:pw@host:8529/db`` (``arangodbs://`` for TLS).

        Raises:
            ConfigurationError: the URL has no host.
        """
        parsed = urlparse(url)
        if not parsed.hostname:
            raise ConfigurationError("AP_LINEAGE_URL", f"{url!r}: use arangodb://user:pw@host:8529/db")
        scheme = "https" if parsed.scheme == "arangodbs" else "http"
        host = f"[{parsed.hostname}]" if ":" in parsed.hostname else parsed.hostname
        return cls(
            f"{scheme}://{host}:{parsed.port or 8529}",
            unquote(parsed.path.strip("/")) or "artifact_plane",
            username=unquote(parsed.username or "root"),
            password=unquote(parsed.password or ""),
        )

    def __repr__(self) -> str:
        return f"ArangoLineageStore({self.hosts!r}, {self.database_name!r})"

    # -- plumbing ------------------------------------------------------------------

    async def _run(self, work: Callable[[StandardDatabase], T]) -> T:
        def call() -> T:
            with translate_errors():
                return work(self._database())

        return await anyio.to_thread.run_sync(call)

    def _database(self) -> StandardDatabase:
        with self._lock:
            if not self._ready:
                self._db = self._ensure_schema()
                self._ready = True
        assert self._db is not None
        return self._db

    def _ensure_schema(self) -> StandardDatabase:
        names = self.names
        db = self._client.db(self.database_name, self._username, self._password)
        try:
            db.properties()
        except ArangoServerError as exc:
            if exc.error_code != errno.DATABASE_NOT_FOUND:
                raise
            # Only then ask _system (a user with rights on this database alone never needs to).
            system = self._client.db("_system", self._username, self._password)
            _ignore_exists(lambda: system.create_database(self.database_name))
        for name, edge in (
            (names.artifacts, False),
            (names.executions, False),
            (names.edges, True),
            (names.history, True),
        ):
            _ignore_exists(lambda: db.has_collection(name) or db.create_collection(name, edge=edge))  # noqa: B023
        if not db.has_graph(names.graph):
            definitions = [
                {
                    "edge_collection": names.edges,
                    "from_vertex_collections": [names.artifacts, names.executions],
                    "to_vertex_collections": [names.artifacts, names.executions],
                }
            ]
            _ignore_exists(lambda: db.create_graph(names.graph, edge_definitions=definitions))
        for vertices in (names.artifacts, names.executions):
            db.collection(vertices).add_index(
                {"type": "persistent", "fields": ["tenant_id", "node_id"], "name": "ix_tenant_node"}
            )
        for edges in (names.edges, names.history):
            collection = db.collection(edges)
            for near in ("source_id", "target_id"):
                collection.add_index(
                    {
                        "type": "persistent",
                        "fields": ["tenant_id", near, "created_at"],
                        "name": f"ix_tenant_{near}",
                    }
                )
        return db

    def _aql(
        self, db: StandardDatabase, query: queries.Query, *, max_runtime: float | None = None
    ) -> list[Any]:
        text, bind_vars = query
        options: dict[str, Any] = {"bind_vars": bind_vars, "batch_size": 1000}
        if max_runtime is not None:
            options["max_runtime"] = max_runtime
        cursor = db.aql.execute(text, **options)
        assert isinstance(cursor, Cursor)  # a standard (not async or batch) database answers at once
        return list(cursor)

    async def initialize(self) -> None:
        """Create the database, collections, graph and indexes when missing."""
        await self._run(lambda db: None)

    # -- writes ----------------------------------------------------------------

    async def add_edges(self, edges: Sequence[LineageEdge]) -> None:
        if not edges:
            return
        opening: dict[tuple[str, str], dict[str, Any]] = {}
        closed: list[dict[str, Any]] = []
        vertices: dict[str, dict[str, dict[str, Any]]] = {self.names.artifacts: {}, self.names.executions: {}}
        for edge in edges:
            for node, kind in ((edge.source_id, edge.source_kind), (edge.target_id, edge.target_kind)):
                key = queries.node_key(edge.tenant_id, node)
                doc = {"_key": key, "tenant_id": edge.tenant_id, "node_id": node, "kind": kind.value}
                vertices[self.names.vertices(kind)].setdefault(key, doc)
            doc = queries.edge_doc(edge, self.names)
            if edge.closed_at is None:
                opening.setdefault((edge.tenant_id, edge.key), doc)  # the first of a key wins
            else:
                history = {**doc, "open_key": doc["_key"]}
                history["_key"] = queries.history_key(edge.tenant_id, edge.key, doc["created_at"])
                closed.append(history)

        def work(db: StandardDatabase) -> None:
            for collection, docs in vertices.items():
                if docs:
                    self._aql(db, queries.add_vertices(collection, list(docs.values())))
            if opening:
                self._aql(db, queries.add_edges(self.names, list(opening.values())))
            if closed:
                self._aql(db, queries.add_history(self.names, closed))

        await self._run(work)

    async def close_edges(self, tenant: str, node_ids: Sequence[str], at: datetime) -> int:
        wanted = list(dict.fromkeys(node_ids))
        if not wanted:
            return 0
        closed_at = queries.timestamp(at)

        def work(db: StandardDatabase) -> int:
            found = self._aql(db, queries.close_find(self.names, tenant, wanted))
            if not found:
                return 0
            moved = []
            for doc in found:
                history = {**doc, "closed_at": closed_at, "open_key": doc["_key"]}
                history["_key"] = queries.history_key(tenant, doc["edge_key"], doc["created_at"])
                moved.append(history)
            copy, remove = queries.close_move(self.names, moved)
            self._aql(db, copy)
            return len(self._aql(db, remove))

        return await self._run(work)

    # -- reads -----------------------------------------------------------------

    def _neighbors(
        self,
        db: StandardDatabase,
        tenant: str,
        frontier: Sequence[str],
        direction: Direction,
        as_of: datetime | None,
        limit_per_node: int | None,
    ) -> list[LineageEdge]:
        if not frontier or (limit_per_node is not None and limit_per_node <= 0):
            return []
        query = queries.neighbors(self.names, tenant, frontier, direction, as_of, limit_per_node)
        found = [queries.from_doc(doc) for doc in self._aql(db, query)]
        found.sort(key=lambda edge: (edge.created_at, edge.key))
        return found

    async def neighbors(
        self,
        tenant: str,
        node_ids: Sequence[str],
        direction: Direction,
        *,
        as_of: datetime | None = None,
        limit_per_node: int | None = None,
    ) -> list[LineageEdge]:
        if direction is Direction.BOTH:
            raise InvalidInputError("direction", "neighbors takes upstream or downstream, not both")
        frontier = list(dict.fromkeys(node_ids))
        return await self._run(
            lambda db: self._neighbors(db, tenant, frontier, direction, as_of, limit_per_node)
        )

    async def traverse(
        self,
        tenant: str,
        start: str,
        direction: Direction,
        *,
        depth: int,
        max_nodes: int,
        fanout_limit: int | None = None,
        as_of: datetime | None = None,
        start_kind: NodeKind = NodeKind.ARTIFACT,
        timeout: float | None = None,
    ) -> LineageGraph:
        """One AQL graph traversal when no limit can cut the answer; else the level-wise walk.

        The native traversal (breadth-first, global vertex uniqueness, over
        the graph of open edges) finds every reachable node at its fewest
        steps; one more query fetches their edges. It answers exactly as the
        walk unless ``max_nodes`` would cut, a fan-out limit is asked,
        ``as_of`` needs closed edges, or the walk goes both ways: then the
        walk runs frontier by frontier (one AQL query per level), in the same
        worker thread.
        """
        native = as_of is None and fanout_limit is None and direction is not Direction.BOTH
        native = native and (timeout is None or timeout > 0) and depth > 0

        def work(db: StandardDatabase) -> LineageGraph:
            started = time.monotonic()
            if native:
                try:
                    graph = self._native(db, tenant, start, direction, depth, max_nodes, start_kind, timeout)
                except QueryKilled:
                    node = LineageNode(id=start, kind=start_kind)
                    return LineageGraph(
                        root=start, nodes=(node,), edges=(), is_partial=True, truncated_by=("timeout",)
                    )
                if graph is not None:
                    return graph
            remaining = None if timeout is None else max(0.0, timeout - (time.monotonic() - started))
            steps = walk_steps(
                start,
                direction,
                depth=depth,
                max_nodes=max_nodes,
                fanout_limit=fanout_limit,
                start_kind=start_kind,
                timeout=remaining,
            )
            return drive(
                steps, lambda way, frontier, per: self._neighbors(db, tenant, frontier, way, as_of, per)
            )

        return await self._run(work)

    def _native(
        self,
        db: StandardDatabase,
        tenant: str,
        start: str,
        direction: Direction,
        depth: int,
        max_nodes: int,
        start_kind: NodeKind,
        timeout: float | None,
    ) -> LineageGraph | None:
        steps = max_steps(depth, start_kind)
        query = queries.reach(self.names, tenant, start, direction, steps=steps, cap=max_nodes + 1)
        reached: dict[str, int] = {start: 0}
        for row in self._aql(db, query, max_runtime=timeout):
            if row["node"] != start:
                reached[row["node"]] = min(row["step"], reached.get(row["node"], row["step"]))
        if len(reached) > max_nodes:
            return None  # the walk decides which nodes the budget keeps
        expand = [node for node, step in reached.items() if step <= steps - 1]
        found = self._neighbors(db, tenant, expand, direction, None, None)
        return assemble(start, start_kind, direction, reached, found)

    async def ping(self) -> None:
        await self._run(lambda db: db.version())

    async def close(self) -> None:
        await anyio.to_thread.run_sync(self._client.close)


def assemble(
    start: str, start_kind: NodeKind, direction: Direction, reached: dict[str, int], found: list[LineageEdge]
) -> LineageGraph:
    """The walk's answer from each reached node's fewest steps and the edges out of them."""
    downstream = direction is Direction.DOWNSTREAM
    nodes: dict[str, LineageNode] = {start: LineageNode(id=start, kind=start_kind, depth=0)}
    edges: dict[str, LineageEdge] = {}

    def order(edge: LineageEdge) -> tuple[int, datetime, str]:
        near = edge.source_id if downstream else edge.target_id
        return (reached[near], edge.created_at, edge.key)

    for edge in sorted(found, key=order):
        far, far_kind = (
            (edge.target_id, edge.target_kind) if downstream else (edge.source_id, edge.source_kind)
        )
        if far not in reached:
            continue  # reached only through a vertex of another tenant: never
        if far not in nodes:
            nodes[far] = LineageNode(id=far, kind=far_kind, depth=(reached[far] + 1) // 2)
        edges[edge.key] = edge
    return LineageGraph(root=start, nodes=tuple(nodes.values()), edges=tuple(edges.values()))


def _ignore_exists(create: Callable[[], Any]) -> None:
    """Create something unless it exists (a concurrent replica may create it first)."""
    try:
        create()
    except ArangoServerError as exc:
        if exc.error_code not in _EXISTS:
            raise
