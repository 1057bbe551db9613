"""Lineage: downstream walks over a ~1M-edge DAG on SQLite, against networkx and a recursive CTE.

The graph (``bench.graphgen``) is loaded into the embedded plane's SQLite
database: a slice through ``SqlLineageStore.add_edges`` (the port, timed),
the rest straight into its ``lineage_edges`` table with SQLAlchemy Core
executemany (also timed): ``add_edges`` takes a pydantic model and runs one
``INSERT ... ON CONFLICT DO NOTHING`` per edge, so the slice gives its rate
and the table insert saves time on the bulk. The
registry gets a record for every artifact and execution, so the full
plane's enrichment and policy checks see what they would in production.

Walks are timed from the same start artifacts through ``traverse`` (the
store's level-by-level walk), through ``ScopedPlane.lineage`` (traverse +
enrichment + one policy batch + audit), through networkx on an in-memory
DiGraph and through one recursive CTE on the same SQLite table. Every walk
must return the same node set.
"""

from __future__ import annotations

import json
import sqlite3
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np

from bench.common import ARTIFACT_TYPE, REALM, TENANT, Stats, embedded_settings, stopwatch, subject
from bench.graphgen import LayeredDag, generate
from bench.report import Section, millis, rate

DEPTHS = (3, 10)
PORT_BATCH = 5_000
PORT_SLICE = 100_000
TABLE_BATCH = 50_000
NO_LIMIT = 10_000_000
CREATED = datetime(2025, 1, 1, tzinfo=UTC)

CTE = """
WITH RECURSIVE walk(node, step) AS (
    SELECT ?, 0
    UNION
    SELECT e.target_id, walk.step + 1
    FROM walk JOIN lineage_edges AS e ON e.tenant_id = ? AND e.source_id = walk.node
    WHERE walk.step < ? AND e.closed_at IS NULL
)
SELECT DISTINCT node FROM walk
"""


# ---------------------------------------------------------------- loading


async def load_port(store: Any, edges: list[tuple[str, str, str]]) -> float:
    """Add edges through ``LineageStore.add_edges`` in batches; return seconds."""
    from artifact_plane.models import EdgeKind, LineageEdge

    with stopwatch() as took:
        for start in range(0, len(edges), PORT_BATCH):
            batch = [
                LineageEdge(
                    tenant_id=TENANT, kind=EdgeKind(kind), source_id=s, target_id=t, created_at=CREATED
                )
                for kind, s, t in edges[start : start + PORT_BATCH]
            ]
            await store.add_edges(batch)
    return took[0]


def load_table(database: Any, edges: list[tuple[str, str, str]]) -> float:
    """Insert edges into ``lineage_edges`` with SQLAlchemy Core executemany; return seconds."""
    from sqlalchemy import insert

    from artifact_plane.adapters.sql.tables import lineage_edges

    statement = insert(lineage_edges)
    with stopwatch() as took:
        for start in range(0, len(edges), TABLE_BATCH):
            rows = [
                {
                    "tenant_id": TENANT,
                    "edge_key": f"{kind}:{s}:{t}",
                    "kind": kind,
                    "source_id": s,
                    "target_id": t,
                    "created_at": CREATED,
                    "closed_at": None,
                }
                for kind, s, t in edges[start : start + TABLE_BATCH]
            ]
            database.transact(lambda conn, rows=rows: conn.execute(statement, rows), write=True)
    return took[0]


def load_registry(database: Any, database_file: Path, dag: LayeredDag) -> float:
    """A record for every artifact and execution (what enrichment reads); return seconds.

    One template row of each table goes in through the registry's own
    SQLAlchemy types; the rest are copies of its stored form with other IDs,
    inserted with ``sqlite3`` (a fixture, not a figure: only printed).
    """
    from sqlalchemy import insert

    from artifact_plane.adapters.sql.rows import artifact_row, execution_row
    from artifact_plane.adapters.sql.tables import artifacts, executions
    from artifact_plane.ids import payload_key
    from artifact_plane.models import ArtifactRecord, Execution

    art, exe = dag.artifact_ids, dag.execution_ids
    digest = "0" * 64
    record = ArtifactRecord(
        artifact_id="template",
        artifact_type=ARTIFACT_TYPE,
        tenant_id=TENANT,
        realm=REALM,
        sha256=digest,
        payload_key=payload_key(TENANT, digest),
        size_bytes=200,
        content_type="application/json",
        owner="bench",
        created_by="bench",
        created_at=CREATED,
        updated_at=CREATED,
    )
    execution = Execution(
        execution_id="template", tenant_id=TENANT, realm=REALM, intent="bench", started_at=CREATED
    )

    def templates(conn: Any) -> None:
        conn.execute(insert(artifacts), artifact_row(record))
        conn.execute(insert(executions), execution_row(execution))

    with stopwatch() as took:
        database.transact(templates, write=True)
        raw = sqlite3.connect(database_file, isolation_level=None)
        try:
            raw.execute("PRAGMA synchronous = FULL")
            raw.execute("PRAGMA cache_size = -1048576")  # 1 GiB: random-key inserts into big indexes
            tables = {}
            for table in ("artifacts", "executions"):
                cursor = raw.execute(f"SELECT * FROM {table} WHERE {table[:-1]}_id = 'template'")
                tables[table] = ([d[0] for d in cursor.description], cursor.fetchone())
                raw.execute(f"DELETE FROM {table} WHERE {table[:-1]}_id = 'template'")
            producer = dict(dag.produced[:, ::-1].tolist())
            inputs: dict[int, list[str]] = defaultdict(list)
            for a, x in dag.consumed.tolist():
                inputs[x].append(art[a])
            outputs: dict[int, list[str]] = defaultdict(list)
            for x, a in dag.produced.tolist():
                outputs[x].append(art[a])
            columns, template = tables["artifacts"]
            at = {
                name: columns.index(name) for name in ("artifact_id", "sha256", "payload_key", "execution_id")
            }
            rows = []
            for n, artifact_id in enumerate(art):
                row = list(template)
                sha = artifact_id * 2
                row[at["artifact_id"]], row[at["sha256"]] = artifact_id, sha
                row[at["payload_key"]] = f"tenants/{TENANT}/sha256/{sha[:2]}/{sha[2:4]}/{sha}"
                row[at["execution_id"]] = exe[producer[n]] if n in producer else None
                rows.append(row)
            _insert_raw(raw, "artifacts", columns, rows)
            columns, template = tables["executions"]
            at = {name: columns.index(name) for name in ("execution_id", "inputs", "outputs")}
            rows = []
            for x, execution_id in enumerate(exe):
                row = list(template)
                row[at["execution_id"]] = execution_id
                row[at["inputs"]], row[at["outputs"]] = json.dumps(inputs[x]), json.dumps(outputs[x])
                rows.append(row)
            _insert_raw(raw, "executions", columns, rows)
        finally:
            raw.close()
    return took[0]


def _insert_raw(conn: sqlite3.Connection, table: str, columns: list[str], rows: list[list[Any]]) -> None:
    marks = ", ".join("?" for _ in columns)
    conn.execute("BEGIN IMMEDIATE")
    conn.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)
    conn.execute("COMMIT")


def load_networkx(edges: list[tuple[str, str, str]]) -> tuple[nx.DiGraph, float]:
    with stopwatch() as took:
        graph = nx.DiGraph()
        graph.add_edges_from((s, t) for _, s, t in edges)
    return graph, took[0]


# ---------------------------------------------------------------- walking


class Walkers:
    """The four ways to walk downstream from an artifact; each returns the node IDs."""

    def __init__(self, plane: Any, graph: nx.DiGraph, database_file: Path) -> None:
        from artifact_plane.ports.lineage import Direction

        self.plane = plane
        self.me = plane.for_subject(subject())
        self.graph = graph
        self.sqlite = sqlite3.connect(f"file:{database_file}?mode=ro", uri=True)
        self.downstream = Direction.DOWNSTREAM

    async def traverse(self, start: str, depth: int) -> set[str]:
        result = await self.plane.lineage.traverse(
            TENANT, start, self.downstream, depth=depth, max_nodes=NO_LIMIT
        )
        if result.is_partial:
            raise AssertionError(f"traverse was cut short: {result.truncated_by}")
        return {node.id for node in result.nodes}

    async def plane_lineage(self, start: str, depth: int) -> set[str]:
        result = await self.me.lineage(start, direction="downstream", depth=depth, max_nodes=NO_LIMIT)
        if result.is_partial or any(node.redacted for node in result.nodes):
            raise AssertionError("ScopedPlane.lineage was cut short or redacted nodes")
        return {node.id for node in result.nodes}

    async def networkx(self, start: str, depth: int) -> set[str]:
        return set(nx.single_source_shortest_path_length(self.graph, start, cutoff=2 * depth))

    async def cte(self, start: str, depth: int) -> set[str]:
        return {node for (node,) in self.sqlite.execute(CTE, (start, TENANT, 2 * depth))}

    def close(self) -> None:
        self.sqlite.close()


METHODS = ("traverse", "plane_lineage", "networkx", "cte")


async def time_walks(
    walkers: Walkers, starts: list[str], depth: int, plane_starts: int, plane_budget: float
) -> tuple[dict[str, list[float]], list[int], int]:
    """Time every method from every start (rotating the order); check the node sets agree.

    ``ScopedPlane.lineage`` (policy on every node) walks from the first
    ``plane_starts`` starts only, and stops early once it has used
    ``plane_budget`` seconds; the baselines are compared on the same starts.
    """
    times: dict[str, list[float]] = {m: [] for m in METHODS}
    sizes: list[int] = []
    mismatches = 0
    for index, start in enumerate(starts):
        if sum(times["plane_lineage"]) >= plane_budget:
            plane_starts = min(plane_starts, index)
        order = METHODS[index % len(METHODS) :] + METHODS[: index % len(METHODS)]
        found: dict[str, set[str]] = {}
        await walkers.cte(start, depth)  # untimed: every method then finds the pages in the OS cache
        for method in order:
            if method == "plane_lineage" and index >= plane_starts:
                continue
            with stopwatch() as took:
                found[method] = await getattr(walkers, method)(start, depth)
            times[method].append(took[0])
        sizes.append(len(found["traverse"]))
        mismatches += any(nodes != found["traverse"] for nodes in found.values())
    return times, sizes, mismatches


# ----------------------------------------------------------------- section


async def run(
    root: Path, *, edges: int, samples: int, plane_samples: int, plane_budget: float, seed: int
) -> Section:
    """Generate, load, then walk at each depth; one table of load times and walk latencies."""
    from artifact_plane.wiring import build_plane

    section = Section(f"Lineage: downstream walks over {edges:,} edges (SQLite)")
    with stopwatch() as took:
        dag = generate(edges, seed=seed)
        named = dag.named_edges()
    section.notes.append(
        f"Graph: {len(named):,} edges, {len(dag.artifact_ids):,} artifacts and {len(dag.execution_ids):,} "
        f"executions in {dag.layers} artifact layers of {dag.width:,} "
        f"(seed {seed}; generated in {took[0]:.1f} s)."
    )

    settings = embedded_settings(
        root, max_lineage_nodes=NO_LIMIT, lineage_timeout_seconds=3600.0, max_page_size=1000
    )
    plane = build_plane(settings)
    await plane.registry.initialize()
    try:
        database = plane.lineage.database
        through_port = min(PORT_SLICE, len(named) // 2)
        port_s = await load_port(plane.lineage, named[:through_port])
        table_s = load_table(database, named[through_port:])
        registry_s = load_registry(database, root / "registry.db", dag)
        graph, nx_s = load_networkx(named)
        rest = len(named) - through_port
        section.add(
            f"load: add_edges x{through_port:,}",
            rate(through_port, port_s, "edges"),
            f"lineage_edges insert (SQLAlchemy Core executemany) x{rest:,}: {rate(rest, table_s, 'edges')}",
            (port_s / through_port) / (table_s / rest),
            note="the rest of the graph was loaded this way",
        )
        records = len(dag.artifact_ids) + len(dag.execution_ids)
        section.data["load"] = {
            "add_edges": {"edges": through_port, "seconds": port_s},
            "table_insert": {"edges": rest, "seconds": table_s},
            "registry_records": {"records": records, "seconds": registry_s},
            "networkx": {"edges": len(named), "seconds": nx_s},
        }
        section.notes.append(
            f"Also loaded: {records:,} registry records in {registry_s:.1f} s "
            f"({rate(records, registry_s, 'records')}, for enrichment); the networkx DiGraph in {nx_s:.1f} s."
        )

        rng = np.random.default_rng(seed)
        candidates = dag.start_candidates(max(DEPTHS))
        picked = rng.choice(candidates, size=min(samples + 1, len(candidates)), replace=False)
        starts = [dag.artifact_ids[n] for n in picked.tolist()]
        walkers = Walkers(plane, graph, root / "registry.db")
        try:
            for method in METHODS:  # warm caches and code paths, untimed
                await getattr(walkers, method)(starts[0], 1)
            for depth in DEPTHS:
                times, sizes, mismatches = await time_walks(
                    walkers, starts[1:], depth, plane_samples, plane_budget
                )
                _depth_rows(section, depth, times, sizes, mismatches)
        finally:
            walkers.close()
    finally:
        await plane.close()
    section.notes += [
        "Depth counts artifact hops (artifact → execution → artifact is one): networkx cutoff and the "
        "CTE's step limit are 2 x depth edges. Start artifacts are random consumed artifacts with at "
        "least 10 layers below them; one more start warms code paths untimed, and each start is first "
        "walked untimed by the CTE so every method finds the pages in the OS cache. The methods' order "
        "rotates from start to start.",
        "traverse and ScopedPlane.lineage also return the edges (as pydantic models); networkx and the "
        "CTE return node IDs only. The CTE runs on its own sqlite3 connection to the same file.",
    ]
    return section


def _depth_rows(
    section: Section, depth: int, times: dict[str, list[float]], sizes: list[int], mismatches: int
) -> None:
    stats = {method: Stats.of(values) for method, values in times.items() if values}
    walks = len(sizes)
    if mismatches:
        raise AssertionError(f"depth {depth}: {mismatches} of {walks} walks returned different node sets")
    section.data[f"depth_{depth}"] = {
        "walks": walks,
        "nodes": {"min": min(sizes), "median": float(np.median(sizes)), "max": max(sizes)},
        "node_sets_match": walks - mismatches,
        **{method: s.as_dict() for method, s in stats.items()},
        "per_walk": {"nodes": sizes, **{f"{method}_s": values for method, values in times.items()}},
    }
    nodes = f"nodes/walk {min(sizes):,}-{max(sizes):,} (median {np.median(sizes):,.0f})"
    ours_variants = [("traverse", "LineageStore.traverse"), ("plane_lineage", "ScopedPlane.lineage")]
    for key, label in ours_variants:
        if key not in stats:
            continue
        mine = stats[key]
        count = f" ({mine.count} walks)" if mine.count != walks else ""
        for index, (base, base_label) in enumerate([("networkx", "networkx"), ("cte", "recursive CTE")]):
            # The same starts as ours: the full plane may have walked only the first few.
            theirs = Stats.of(times[base][: mine.count])
            section.add(
                "" if index else f"depth {depth}: {label}{count}",
                "" if index else f"median {millis(mine.median)}\n[dim]p95 {millis(mine.p95)}[/dim]",
                f"{base_label}: median {millis(theirs.median)}\n[dim]p95 {millis(theirs.p95)}[/dim]",
                mine.median / theirs.median,
                ratio_note=f"p95 {mine.p95 / theirs.p95:,.2f}x",
            )
    section.notes.append(
        f"depth {depth}: {walks} walks, {nodes}; node sets equal in {walks - mismatches}/{walks}."
    )
