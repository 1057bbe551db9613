"""Embedded ingest: artifacts/s through the plane against raw ``sqlite3`` inserts of the same rows.

The plane's write path is: ask policy, store the payload durably, insert the
record with the decision that allowed it (one transaction). The baselines add
those costs back one at a time, so the table shows where the time goes:

* rows — the same ``artifacts`` and ``decisions`` rows, same schema and
  indexes, same PRAGMAs (WAL, synchronous FULL), one transaction per artifact
  or per batch;
* + payload files — the same bytes written the way a durable store must
  (new shard directories fsynced into their parents; write, fsync, rename,
  fsync the directory) under the same key layout,
  before the rows commit. What is left of the ratio is the plane's CPU work:
  validation, pydantic, Rego, SQLAlchemy and worker-thread hops.

The plane and the baselines take turns on slices of the work (rounds), so a
slow spell of the shared disk or CPU lands on all of them.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import ARTIFACT_TYPE, TENANT, embedded_settings, stopwatch, subject
from bench.report import Section, rate

CONTENT_TYPE = "application/json"
PAYLOAD_BYTES = 200
WARMUP = 5
TABLES = ("artifacts", "decisions")


def payloads(count: int, seed: int, offset: int = 0) -> list[bytes]:
    """``count`` distinct JSON documents of about 200 bytes."""
    rng = np.random.default_rng(seed + offset)
    noise = rng.integers(0, 256, size=(count, PAYLOAD_BYTES // 2), dtype=np.uint8)
    docs = []
    for n, row in enumerate(noise):
        head = f'{{"n":{offset + n},"noise":"'.encode()
        docs.append(head + row.tobytes().hex().encode()[: PAYLOAD_BYTES - len(head) - 2] + b'"}')
    return docs


# ------------------------------------------------------------------ the plane


class PlaneIngest:
    """A fresh plane that creates artifacts one at a time or with ``create_many``.

    Embedded (SQLite under ``root``) unless ``registry_url`` names another
    registry; payloads go to a local directory under ``root`` either way.
    """

    def __init__(self, root: Path, batch: int | None, registry_url: str | None = None) -> None:
        from artifact_plane.wiring import build_plane

        overrides = {} if registry_url is None else {"registry_url": registry_url}
        self.plane = build_plane(embedded_settings(root, **overrides))
        self.database = root / "registry.db"
        self.batch = batch
        self.me = self.plane.for_subject(subject())

    async def open(self) -> None:
        await self.plane.registry.initialize()
        # Rego compilation, first connections and directories are not ingest.
        for warm in payloads(WARMUP, seed=1, offset=10**9):
            await self.me.create_artifact(warm, artifact_type=ARTIFACT_TYPE, content_type=CONTENT_TYPE)

    async def create(self, data: Sequence[bytes]) -> float:
        """Create ``data``; return seconds."""
        ids: list[str] = []
        with stopwatch() as took:
            if self.batch is None:
                for doc in data:
                    created = await self.me.create_artifact(
                        doc, artifact_type=ARTIFACT_TYPE, content_type=CONTENT_TYPE
                    )
                    ids.append(created)
            else:
                for start in range(0, len(data), self.batch):
                    items = [
                        {"data": doc, "artifact_type": ARTIFACT_TYPE, "content_type": CONTENT_TYPE}
                        for doc in data[start : start + self.batch]
                    ]
                    ids.extend(await self.me.create_many(items))
        if len(set(ids)) != len(data):
            raise AssertionError(f"expected {len(data)} distinct artifacts, got {len(set(ids))}")
        return took[0]

    async def close(self) -> None:
        await self.plane.close()


# --------------------------------------------------------------- baselines


def plane_rows(database: Path, count: int) -> dict[str, Any]:
    """The schema and the last ``count`` rows of each table the plane wrote (the timed ones)."""
    conn = sqlite3.connect(database)
    try:
        schema = [
            sql
            for (sql,) in conn.execute(
                "SELECT sql FROM sqlite_master WHERE tbl_name IN (?, ?) AND sql IS NOT NULL "
                "ORDER BY type DESC",  # tables before indexes
                TABLES,
            )
        ]
        rows: dict[str, Any] = {"schema": schema}
        for table in TABLES:
            cursor = conn.execute(f"SELECT * FROM {table} ORDER BY rowid DESC LIMIT ?", (count,))
            columns = [d[0] for d in cursor.description]
            rows[table] = (columns, list(reversed(cursor.fetchall())))
    finally:
        conn.close()
    if any(len(rows[table][1]) != count for table in TABLES):
        raise AssertionError("the plane did not write one record and one decision per artifact")
    return rows


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def make_dirs_durably(directory: Path) -> None:
    """Create missing directories, fsyncing each new one's parent (or a crash can lose them)."""
    missing = []
    while not directory.is_dir():
        missing.append(directory)
        directory = directory.parent
    for path in reversed(missing):
        path.mkdir()
        _fsync(path.parent)


def write_payload(root: Path, data: bytes) -> None:
    """Store ``data`` as a durable store must: new shard directories made durable, temp file,
    fsync, rename, fsync the directory."""
    digest = hashlib.sha256(data).hexdigest()
    final = root / "tenants" / TENANT / "sha256" / digest[:2] / digest[2:4] / digest
    make_dirs_durably(final.parent)
    temp = root / "tmp" / f"{digest}.tmp"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temp, final)
    _fsync(final.parent)


def _insert_sql(table: str, columns: Sequence[str]) -> str:
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})"


class RawIngest:
    """The plane's rows inserted with ``sqlite3``, ``per_txn`` rows a transaction.

    Args:
        files: also write each payload file durably, before its rows commit.
    """

    def __init__(self, root: Path, per_txn: int, *, files: bool) -> None:
        self.root = root
        self.per_txn = per_txn
        self.files = files
        self.conn: sqlite3.Connection | None = None

    def _connect(self, schema: Sequence[str]) -> sqlite3.Connection:
        (self.root / "payloads" / "tmp").mkdir(parents=True)
        conn = sqlite3.connect(self.root / "raw.db", isolation_level=None)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
        for statement in schema:
            conn.execute(statement)
        return conn

    def insert(self, rows: dict[str, Any], data: Sequence[bytes]) -> float:
        """Insert ``rows`` (and write ``data``); return seconds."""
        if self.conn is None:
            self.conn = self._connect(rows["schema"])
        conn = self.conn
        art_columns, art_rows = rows["artifacts"]
        dec_columns, dec_rows = rows["decisions"]
        insert_artifact = _insert_sql("artifacts", art_columns)
        insert_decision = _insert_sql("decisions", dec_columns)
        with stopwatch() as took:
            for start in range(0, len(art_rows), self.per_txn):
                stop = start + self.per_txn
                if self.files:
                    for doc in data[start:stop]:
                        write_payload(self.root / "payloads", doc)
                conn.execute("BEGIN IMMEDIATE")
                conn.executemany(insert_decision, dec_rows[start:stop])
                conn.executemany(insert_artifact, art_rows[start:stop])
                conn.execute("COMMIT")
        return took[0]

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()


# ----------------------------------------------------------------- section

VARIANTS = {
    "rows": ("sqlite3 record+decision rows, {how}", False),
    "rows_files": ("+ payload files, fsynced as the store does (file, new dirs, rename)", True),
}


async def measure(
    root: Path, data: Sequence[bytes], plane_batch: int | None, per_txn: int, rounds: int
) -> dict[str, list[float]]:
    """Seconds per round for the plane and each baseline, interleaved round by round.

    On a shared machine the disk and CPU slow down and speed up; taking
    turns on slices of the same work spreads those spells over every line.
    """
    plane = PlaneIngest(root / "plane", plane_batch)
    raws = {name: RawIngest(root / name, per_txn, files=files) for name, (_, files) in VARIANTS.items()}
    seconds: dict[str, list[float]] = {"plane": [], **{name: [] for name in raws}}
    size = -(-len(data) // rounds)
    if plane_batch is not None:
        size = -(-size // plane_batch) * plane_batch  # whole batches per round
    await plane.open()
    try:
        for number, start in enumerate(range(0, len(data), size)):
            chunk = data[start : start + size]
            seconds["plane"].append(await plane.create(chunk))
            rows = plane_rows(plane.database, len(chunk))
            names = list(raws)
            for name in names[number % len(names) :] + names[: number % len(names)]:
                seconds[name].append(raws[name].insert(rows, chunk))
    finally:
        await plane.close()
        for raw in raws.values():
            raw.close()
    return seconds


async def run(root: Path, *, one: int, batched: int, batch: int, rounds: int, seed: int) -> Section:
    """Both ingest modes, each against its baselines."""
    section = Section("Embedded ingest (SQLite + local directory + in-process Rego)")
    section.data = {"batch_size": batch, "payload_bytes": PAYLOAD_BYTES, "rounds": rounds}
    modes = [
        ("create_artifact, one at a time", "one_at_a_time", payloads(one, seed), None, 1, "1 artifact/txn"),
        (
            f"create_many, batches of {batch}",
            "batched",
            payloads(batched, seed, offset=one),
            batch,
            batch,
            f"executemany, 1 txn/{batch}",
        ),
    ]
    for label, key, data, plane_batch, per_txn, how in modes:
        seconds = await measure(root / key, data, plane_batch, per_txn, rounds)
        ours = sum(seconds["plane"])
        section.data[key] = {"artifacts": len(data), **{f"{name}_s": s for name, s in seconds.items()}}
        for index, (name, (text, _)) in enumerate(VARIANTS.items()):
            theirs = sum(seconds[name])
            per_round = [p / b for p, b in zip(seconds["plane"], seconds[name], strict=True)]
            section.add(
                "" if index else f"{label} x{len(data):,}",
                "" if index else rate(len(data), ours, "art"),
                f"{text.format(how=how)}: {rate(len(data), theirs, 'art')}",
                ours / theirs,
                ratio_note=f"{min(per_round):,.2f}-{max(per_round):,.2f}" if len(per_round) > 1 else "",
            )
    section.notes += [
        f"~{PAYLOAD_BYTES}-byte distinct JSON payloads, {WARMUP} untimed warm-up creates first "
        f"(Rego compile, first connections). The plane and the baselines take turns on {rounds} slices "
        "of the work; the dim range under a ratio is the lowest and highest per-slice ratio (the noise).",
        "Baselines insert the very rows the plane wrote (read back from its database), into the same "
        "schema and indexes, with the same PRAGMAs (WAL, synchronous FULL).",
        "Each baseline line adds one cost of the plane's durable write path; the ratio left on the "
        "last line is the plane's CPU work (validation, pydantic, Rego, SQLAlchemy, thread hops).",
    ]
    return section
