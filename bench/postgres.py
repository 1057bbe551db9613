"""PostgreSQL: durable ingest and deep lineage walks on a real server, against raw psycopg.

The server is ``AP_BENCH_POSTGRES_URL``, else a throw-away cluster started
from the machine's binaries (as ``tests/pg.py`` does: ``initdb`` and
``pg_ctl`` run as the ``postgres`` user, since PostgreSQL refuses root).
Unlike the test server, this one keeps ``fsync`` on: the ingest figures are
durable commits. Every database used is fresh, and dropped afterwards.

* Ingest: the plane (``build_plane`` on PostgreSQL + a local payload
  directory + in-process Rego) against raw psycopg inserts of the rows the
  plane wrote, into a second database with the same schema. One at a time:
  one artifact row and its decision row per transaction; batched:
  ``executemany`` per batch, one transaction a batch. The plane and the
  baseline take turns on slices of the work.
* Lineage: the ``bench.graphgen`` DAG is loaded into ``lineage_edges`` with
  COPY; downstream walks from sampled start artifacts through
  ``SqlLineageStore.traverse`` (one frontier query per level, in one read
  transaction) against one recursive CTE over the same table, run through the
  same engine and worker thread. A second CTE variant also returns the edges
  (as ``traverse`` must), which is what a CTE-backed ``traverse`` would cost.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import TENANT, Stats, stopwatch
from bench.graphgen import generate
from bench.ingest import PAYLOAD_BYTES, WARMUP, PlaneIngest, payloads, write_payload
from bench.report import Section, millis, rate

URL_SETTING = "AP_BENCH_POSTGRES_URL"
DEPTHS = (3, 10)
NO_LIMIT = 10_000_000
TABLES = ("artifacts", "decisions")
KEYS = {"artifacts": ("tenant_id", "artifact_id"), "decisions": ("tenant_id", "decision_id")}
METHODS = ("traverse", "walk", "cte", "cte_edges")

# Node IDs only. The anchor is cast to the column's type and collation ("C"), so the
# join compares like with like and the (tenant_id, source_id) index applies.
CTE_NODES = """
WITH RECURSIVE walk(node, step) AS (
    SELECT CAST(:start AS VARCHAR(128)) COLLATE "C", 0
    UNION
    SELECT e.target_id, walk.step + 1
    FROM walk JOIN lineage_edges AS e ON e.tenant_id = :tenant AND e.source_id = walk.node
    WHERE walk.step < :steps AND e.closed_at IS NULL
)
SELECT DISTINCT node FROM walk
"""

# What traverse returns: every open edge out of a node reached in fewer than ``steps`` steps.
CTE_EDGES = """
WITH RECURSIVE walk(node, step) AS (
    SELECT CAST(:start AS VARCHAR(128)) COLLATE "C", 0
    UNION
    SELECT e.target_id, walk.step + 1
    FROM walk JOIN lineage_edges AS e ON e.tenant_id = :tenant AND e.source_id = walk.node
    WHERE walk.step < :steps - 1 AND e.closed_at IS NULL
), reached AS (SELECT DISTINCT node FROM walk)
SELECT e.* FROM reached JOIN lineage_edges AS e ON e.tenant_id = :tenant AND e.source_id = reached.node
WHERE e.closed_at IS NULL
ORDER BY e.created_at, e.edge_key
"""


class Unavailable(Exception):
    """No PostgreSQL server can be had here; the message says why."""


# ------------------------------------------------------------------ server


def find_binary(name: str) -> str | None:
    """On PATH, else in Debian's versioned directory (newest version first)."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), key=lambda p: int(p.parts[-3]))
    return str(candidates[-1]) if candidates else None


def user_exists(name: str) -> bool:
    import pwd

    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def unavailable() -> str | None:
    """Why no server can be had here, or None when one can (cheap: nothing is started)."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "no PostgreSQL driver: pip install -e '.[postgres]'"
    if os.environ.get(URL_SETTING):
        return None
    if None in (find_binary("initdb"), find_binary("pg_ctl")):
        return f"no initdb/pg_ctl on PATH or under /usr/lib/postgresql; or set {URL_SETTING}"
    if os.geteuid() == 0 and not shutil.which("runuser"):
        return "running as root without runuser (PostgreSQL refuses root)"
    return None


@contextmanager
def server() -> Iterator[str]:
    """``AP_BENCH_POSTGRES_URL``, else a throw-away cluster (the approach of ``tests/pg.py``)."""
    if reason := unavailable():
        raise Unavailable(reason)
    if url := os.environ.get(URL_SETTING):
        yield url
        return
    initdb, pg_ctl = find_binary("initdb") or "initdb", find_binary("pg_ctl") or "pg_ctl"
    owner = "postgres" if user_exists("postgres") else "nobody"
    as_user = ["runuser", "-u", owner, "--"] if os.geteuid() == 0 else []
    data = Path(tempfile.mkdtemp(prefix="ap-bench-pg-"))
    if as_user:
        shutil.chown(data, owner)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # fsync stays on (the default): the ingest figures are durable commits.
    options = f"-p {port} -k {data} -c listen_addresses=127.0.0.1 -c shared_buffers=256MB"
    run = partial(subprocess.run, check=True, capture_output=True, timeout=120)
    try:
        run([*as_user, initdb, "-D", str(data / "db"), "-U", "postgres", "-A", "trust"])
        run([*as_user, pg_ctl, "-D", str(data / "db"), "-o", options, "-l", str(data / "log"), "-w", "start"])
    except (OSError, subprocess.SubprocessError) as exc:
        shutil.rmtree(data, ignore_errors=True)
        detail = getattr(exc, "stderr", b"") or b""
        raise Unavailable(f"could not start a throw-away server: {exc} {detail.decode()[-200:]}") from exc
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        run([*as_user, pg_ctl, "-D", str(data / "db"), "-m", "immediate", "stop"])
        shutil.rmtree(data, ignore_errors=True)


def _psycopg_url(url: str) -> str:
    """A URL psycopg takes (no SQLAlchemy driver suffix)."""
    from artifact_plane.adapters.sql.engine import normalize_url

    return normalize_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@asynccontextmanager
async def fresh_database(server_url: str, label: str) -> AsyncIterator[str]:
    """A new, empty database with the registry schema built by ``SqlRegistry.initialize``; dropped after."""
    import psycopg

    from artifact_plane.adapters.sql import SqlDatabase, SqlRegistry
    from artifact_plane.adapters.sql.engine import normalize_url

    name = f"ap_bench_{label}_{uuid.uuid4().hex[:10]}"
    admin = _psycopg_url(server_url)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')  # a generated name, not input
    url = normalize_url(server_url).set(database=name).render_as_string(hide_password=False)
    try:
        database = SqlDatabase(url)
        try:
            await SqlRegistry(database).initialize()
        finally:
            await database.dispose()
        yield url
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# ------------------------------------------------------------------ ingest


NewRowsTaken = dict[str, tuple[list[str], list[tuple[Any, ...]]]]


class NewRows:
    """Reads back, from the plane's database, the rows written since the last call."""

    def __init__(self, url: str) -> None:
        import psycopg

        self.conn = psycopg.connect(_psycopg_url(url), autocommit=True)
        self.seen: dict[str, set[tuple[Any, ...]]] = {table: set() for table in TABLES}
        self.take()  # the warm-up rows are not timed, so not copied

    def take(self) -> dict[str, tuple[list[str], list[tuple[Any, ...]]]]:
        from psycopg.types.json import Jsonb

        rows: dict[str, tuple[list[str], list[tuple[Any, ...]]]] = {}
        for table in TABLES:
            cursor = self.conn.execute(f"SELECT * FROM {table} ORDER BY created_at")
            columns = [d.name for d in cursor.description or ()]
            at = [columns.index(k) for k in KEYS[table]]
            new = []
            for row in cursor.fetchall():
                key = tuple(row[i] for i in at)
                if key not in self.seen[table]:
                    self.seen[table].add(key)
                    new.append(tuple(Jsonb(v) if isinstance(v, dict | list) else v for v in row))
            rows[table] = (columns, new)
        return rows

    def close(self) -> None:
        self.conn.close()


class RawIngest:
    """The plane's rows inserted with psycopg: each artifact row with its decision row, ``per_txn`` a txn.

    Args:
        files: also write each payload durably (as the plane's local store must)
            before its rows commit, under ``files``.
    """

    def __init__(self, url: str, per_txn: int, files: Path | None = None) -> None:
        import psycopg

        self.conn = psycopg.connect(_psycopg_url(url), autocommit=True)
        self.per_txn = per_txn
        self.files = files
        if files is not None:
            (files / "tmp").mkdir(parents=True)

    def insert(self, rows: NewRowsTaken, data: Sequence[bytes]) -> float:
        art_columns, art_rows = rows["artifacts"]
        dec_columns, dec_rows = rows["decisions"]
        if len(art_rows) != len(dec_rows):
            raise AssertionError("the plane did not write one record and one decision per artifact")

        def sql(table: str, columns: list[str]) -> str:
            return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('%s' for _ in columns)})"

        insert_artifact, insert_decision = sql("artifacts", art_columns), sql("decisions", dec_columns)
        with stopwatch() as took:
            for start in range(0, len(art_rows), self.per_txn):
                stop = start + self.per_txn
                if self.files is not None:
                    for doc in data[start:stop]:
                        write_payload(self.files, doc)
                with self.conn.transaction(), self.conn.cursor() as cursor:
                    if self.per_txn == 1:
                        cursor.execute(insert_decision, dec_rows[start])
                        cursor.execute(insert_artifact, art_rows[start])
                    else:
                        cursor.executemany(insert_decision, dec_rows[start:stop])
                        cursor.executemany(insert_artifact, art_rows[start:stop])
        return took[0]

    def close(self) -> None:
        self.conn.close()


async def measure_ingest(
    root: Path, server_url: str, data: Sequence[bytes], batch: int | None, rounds: int
) -> dict[str, list[float]]:
    """Seconds per round for the plane and the raw baseline, taking turns on slices of ``data``."""
    seconds: dict[str, list[float]] = {"plane": [], "raw": [], "raw_files": []}
    size = -(-len(data) // rounds)
    if batch is not None:
        size = -(-size // batch) * batch
    async with (
        fresh_database(server_url, "plane") as plane_url,
        fresh_database(server_url, "raw") as raw_url,
        fresh_database(server_url, "rawfiles") as raw_files_url,
    ):
        plane = PlaneIngest(root, batch, registry_url=plane_url)
        raws = {
            "raw": RawIngest(raw_url, batch or 1),
            "raw_files": RawIngest(raw_files_url, batch or 1, files=root / "raw-payloads"),
        }
        try:
            await plane.open()
            reader = NewRows(plane_url)
            try:
                for number, start in enumerate(range(0, len(data), size)):
                    chunk = data[start : start + size]
                    seconds["plane"].append(await plane.create(chunk))
                    rows = reader.take()  # the rows just written
                    names = list(raws)
                    for name in names[number % len(names) :] + names[: number % len(names)]:
                        seconds[name].append(raws[name].insert(rows, chunk))
            finally:
                reader.close()
        finally:
            await plane.close()
            for raw in raws.values():
                raw.close()
    return seconds


async def ingest_section(
    section: Section,
    root: Path,
    server_url: str,
    *,
    one: int,
    batched: int,
    batch: int,
    rounds: int,
    seed: int,
) -> None:
    modes = [
        (
            "create_artifact, one at a time",
            "one_at_a_time",
            payloads(one, seed),
            None,
            "1 artifact+decision/txn",
        ),
        (
            f"create_many, batches of {batch}",
            "batched",
            payloads(batched, seed, offset=one),
            batch,
            f"executemany, 1 txn/{batch}",
        ),
    ]
    for label, key, data, plane_batch, how in modes:
        seconds = await measure_ingest(root / key, server_url, data, plane_batch, rounds)
        ours = sum(seconds["plane"])
        section.data[f"ingest_{key}"] = {"artifacts": len(data), **{f"{k}_s": v for k, v in seconds.items()}}
        baselines = [
            ("raw", f"raw psycopg record+decision rows, {how}"),
            ("raw_files", "+ payload files, fsynced as the store does (file, new dirs, rename)"),
        ]
        for index, (name, text) in enumerate(baselines):
            theirs = sum(seconds[name])
            per_round = [p / r for p, r in zip(seconds["plane"], seconds[name], strict=True)]
            section.add(
                "" if index else f"ingest: {label} x{len(data):,}",
                "" if index else rate(len(data), ours, "art"),
                f"{text}: {rate(len(data), theirs, 'art')}",
                ours / theirs,
                ratio_note=f"{min(per_round):,.2f}-{max(per_round):,.2f}" if len(per_round) > 1 else "",
            )


# ----------------------------------------------------------------- lineage


def load_edges(url: str, edges: list[tuple[str, str, str]]) -> float:
    """COPY ``edges`` into ``lineage_edges``, then ANALYZE; return seconds."""
    import psycopg

    from bench.lineage import CREATED

    columns = "tenant_id, edge_key, kind, source_id, target_id, created_at"
    with stopwatch() as took, psycopg.connect(_psycopg_url(url)) as conn:
        with conn.cursor() as cursor, cursor.copy(f"COPY lineage_edges ({columns}) FROM STDIN") as copy:
            for kind, s, t in edges:
                copy.write_row((TENANT, f"{kind}:{s}:{t}", kind, s, t, CREATED))
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE lineage_edges")
    return took[0]


class Walkers:
    """``traverse``, the per-level walk and two raw CTEs, all through one ``SqlDatabase`` (pool, thread)."""

    def __init__(self, url: str) -> None:
        from artifact_plane.adapters.sql import SqlDatabase, SqlLineageStore
        from artifact_plane.ports.lineage import Direction

        self.database = SqlDatabase(url)
        self.store = SqlLineageStore(self.database)
        self.walker = SqlLineageStore(self.database, traversal="walk")
        self.downstream = Direction.DOWNSTREAM

    async def traverse(self, start: str, depth: int) -> tuple[set[str], set[str]]:
        return await self._through(self.store, start, depth)

    async def walk(self, start: str, depth: int) -> tuple[set[str], set[str]]:
        return await self._through(self.walker, start, depth)

    async def _through(self, store: Any, start: str, depth: int) -> tuple[set[str], set[str]]:
        result = await store.traverse(TENANT, start, self.downstream, depth=depth, max_nodes=NO_LIMIT)
        if result.is_partial:
            raise AssertionError(f"traverse was cut short: {result.truncated_by}")
        return {node.id for node in result.nodes}, {edge.key for edge in result.edges}

    async def cte(self, start: str, depth: int) -> tuple[set[str], None]:
        from sqlalchemy import text

        params = {"start": start, "tenant": TENANT, "steps": 2 * depth}
        nodes = await self.database.run(
            lambda conn: {node for (node,) in conn.execute(text(CTE_NODES), params)}, write=False
        )
        return nodes, None

    async def cte_edges(self, start: str, depth: int) -> tuple[set[str], set[str]]:
        from sqlalchemy import text

        from artifact_plane.adapters.sql.rows import to_edge

        params = {"start": start, "tenant": TENANT, "steps": 2 * depth}
        edges = await self.database.run(
            lambda conn: [to_edge(row) for row in conn.execute(text(CTE_EDGES), params).mappings()],
            write=False,
        )
        return {start} | {edge.target_id for edge in edges}, {edge.key for edge in edges}

    async def close(self) -> None:
        await self.store.close()


async def lineage_section(section: Section, server_url: str, *, edges: int, samples: int, seed: int) -> None:
    with stopwatch() as took:
        dag = generate(edges, seed=seed)
        named = dag.named_edges()
    section.notes.append(
        f"Graph: {len(named):,} edges, {len(dag.artifact_ids):,} artifacts and {len(dag.execution_ids):,} "
        f"executions in {dag.layers} artifact layers of {dag.width:,} "
        f"(seed {seed}; generated in {took[0]:.1f} s)."
    )
    async with fresh_database(server_url, "lineage") as url:
        load_s = load_edges(url, named)
        section.data["lineage_load"] = {"edges": len(named), "seconds": load_s}
        section.notes.append(
            f"Loaded with COPY + VACUUM ANALYZE in {load_s:.1f} s ({rate(len(named), load_s, 'edges')})."
        )
        rng = np.random.default_rng(seed)
        candidates = dag.start_candidates(max(DEPTHS))
        picked = rng.choice(candidates, size=min(samples + 1, len(candidates)), replace=False)
        starts = [dag.artifact_ids[n] for n in picked.tolist()]
        walkers = Walkers(url)
        try:
            for method in METHODS:  # warm code paths and the pool, untimed
                await getattr(walkers, method)(starts[0], 1)
            verdicts = []
            for depth in DEPTHS:
                times: dict[str, list[float]] = {m: [] for m in METHODS}
                sizes: list[int] = []
                mismatches = 0
                for index, start in enumerate(starts[1:]):
                    await walkers.cte(start, depth)  # untimed: every method then finds the pages cached
                    found: dict[str, tuple[set[str], set[str] | None]] = {}
                    for method in METHODS[index % len(METHODS) :] + METHODS[: index % len(METHODS)]:
                        with stopwatch() as walk_took:
                            found[method] = await getattr(walkers, method)(start, depth)
                        times[method].append(walk_took[0])
                    nodes, keys = found["traverse"]
                    sizes.append(len(nodes))
                    mismatches += any(n != nodes or (k is not None and k != keys) for n, k in found.values())
                verdicts.append(_depth_rows(section, depth, times, sizes, mismatches))
        finally:
            await walkers.close()
    section.data["answer"] = verdicts
    section.notes += [
        "Depth counts artifact hops (artifact → execution → artifact is one): the CTEs' step limit is "
        "2 x depth edges. Each start is first walked untimed by the CTE (warm buffers); the order of the "
        "three methods rotates from start to start. Node sets (and, for the edge-returning CTE, edge "
        "sets) must equal traverse's.",
        "traverse returns nodes and edges as models (max_nodes effectively unlimited, no fanout_limit) "
        "with a recursive CTE on PostgreSQL; 'the walk' is the same store forced to per-level frontier "
        "queries (what traverse falls back to for a fanout_limit or a max_nodes cut); 'raw recursive CTE' "
        "returns node IDs only; 'raw CTE + edges' returns the same edges as models.",
        "ANSWER — recursive CTE or per-level frontier queries, which is faster per depth on PostgreSQL? "
        "Measured in this run, the walk against the CTE traverse:",
        *(f"ANSWER depth {v['depth']}: {v['text']}" for v in verdicts),
    ]


def _depth_rows(
    section: Section, depth: int, times: dict[str, list[float]], sizes: list[int], mismatches: int
) -> dict[str, Any]:
    walks = len(sizes)
    if mismatches:
        raise AssertionError(f"depth {depth}: {mismatches} of {walks} walks returned different node sets")
    stats = {method: Stats.of(values) for method, values in times.items()}
    section.data[f"depth_{depth}"] = {
        "walks": walks,
        "nodes": {"min": min(sizes), "median": float(np.median(sizes)), "max": max(sizes)},
        "node_sets_match": walks - mismatches,
        **{method: s.as_dict() for method, s in stats.items()},
        "per_walk": {"nodes": sizes, **{f"{method}_s": values for method, values in times.items()}},
    }
    mine = stats["traverse"]
    for index, (base, label) in enumerate(
        [
            ("walk", "per-level frontier queries (the walk)"),
            ("cte", "raw recursive CTE (node IDs)"),
            ("cte_edges", "raw CTE + edges"),
        ]
    ):
        theirs = stats[base]
        section.add(
            "" if index else f"depth {depth}: traverse (CTE on PostgreSQL)",
            "" if index else f"median {millis(mine.median)}\n[dim]p95 {millis(mine.p95)}[/dim]",
            f"{label}: median {millis(theirs.median)}\n[dim]p95 {millis(theirs.p95)}[/dim]",
            mine.median / theirs.median,
            ratio_note=f"p95 {mine.p95 / theirs.p95:,.2f}x",
        )
    section.notes.append(
        f"depth {depth}: {walks} walks, nodes/walk {min(sizes):,}-{max(sizes):,} "
        f"(median {np.median(sizes):,.0f}); node sets equal in {walks - mismatches}/{walks}."
    )
    ratio = mine.median / stats["cte_edges"].median
    node_ratio = mine.median / stats["cte"].median
    walk_ratio = stats["walk"].median / mine.median
    winner = "the CTE (traverse's choice)" if walk_ratio >= 1 else "the walk: revisit traverse's choice"
    text = (
        f"faster: {winner} — CTE traverse {millis(mine.median)} vs walk {millis(stats['walk'].median)} "
        f"(walk {walk_ratio:,.2f}x slower); vs raw CTE + edges {millis(stats['cte_edges'].median)} "
        f"({ratio:,.2f}x) and raw CTE node IDs only {millis(stats['cte'].median)} "
        f"({node_ratio:,.2f}x), medians."
    )
    return {
        "depth": depth,
        "winner": winner,
        "walk_over_traverse": walk_ratio,
        "traverse_over_cte_edges": ratio,
        "traverse_over_cte": node_ratio,
        "text": text,
    }


# ----------------------------------------------------------------- section


async def run(
    root: Path,
    server_url: str,
    *,
    one: int,
    batched: int,
    batch: int,
    rounds: int,
    edges: int,
    samples: int,
    seed: int,
) -> Section:
    """Ingest then lineage on ``server_url``; one table."""
    section = Section(f"PostgreSQL: ingest and lineage over {edges:,} edges")
    section.data = {"batch_size": batch, "payload_bytes": PAYLOAD_BYTES, "rounds": rounds}
    await ingest_section(
        section, root, server_url, one=one, batched=batched, batch=batch, rounds=rounds, seed=seed
    )
    section.notes.append(
        f"Ingest: ~{PAYLOAD_BYTES}-byte payloads, {WARMUP} untimed warm-up creates; the plane writes a "
        "durable payload file, then the record with the decision that allowed it (one txn); the baselines "
        "insert the very rows the plane wrote into fresh databases of the same schema, the second one "
        "after writing the payload files as durably as the plane's local store. The ratio on that line is "
        "the plane's own overhead (the goal: its throughput >= 70% of it, a ratio <= 1.43). "
        "The dim range is the lowest and highest per-slice ratio."
    )
    await lineage_section(section, server_url, edges=edges, samples=samples, seed=seed)
    return section
