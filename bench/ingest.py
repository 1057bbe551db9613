"""Embedded ingest: artifacts/s through the plane against raw ``sqlite3`` inserts of the same rows.

The plane's write path is: ask policy, append the decision to the audit log
(its own transaction), store the payload durably, insert the record (one
transaction). The baselines add those costs back one at a time, so the
table shows where the time goes:

* rows — the same ``artifacts`` rows, same schema and indexes, same PRAGMAs
  (WAL, synchronous FULL), one transaction per row or per batch;
* + payload files — the same bytes written the way a durable store must
  (write, fsync, rename, fsync the directory) under the same key layout;
* + audit rows — the same ``decisions`` rows, committed before the payload,
  as the plane does. What is left of the ratio is the plane's CPU work:
  validation, pydantic, Rego, SQLAlchemy and worker-thread hops.
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


async def plane_ingest(root: Path, data: Sequence[bytes], batch: int | None) -> tuple[float, Path]:
    """Create ``data`` through a fresh embedded plane; return seconds and its database file."""
    from artifact_plane.wiring import build_plane

    settings = embedded_settings(root)
    plane = build_plane(settings)
    await plane.registry.initialize()
    me = plane.for_subject(subject())
    try:
        # Rego compilation, first connections and directories are not ingest.
        for warm in payloads(WARMUP, seed=1, offset=10**9):
            await me.create_artifact(warm, artifact_type=ARTIFACT_TYPE, content_type=CONTENT_TYPE)
        ids: list[str] = []
        with stopwatch() as took:
            if batch is None:
                for doc in data:
                    ids.append(
                        await me.create_artifact(doc, artifact_type=ARTIFACT_TYPE, content_type=CONTENT_TYPE)
                    )
            else:
                for start in range(0, len(data), batch):
                    items = [
                        {"data": doc, "artifact_type": ARTIFACT_TYPE, "content_type": CONTENT_TYPE}
                        for doc in data[start : start + batch]
                    ]
                    ids.extend(await me.create_many(items))
    finally:
        await plane.close()
    if len(set(ids)) != len(data):
        raise AssertionError(f"expected {len(data)} distinct artifacts, got {len(set(ids))}")
    return took[0], root / "registry.db"


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
    return rows


def connect_like_plane(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


def write_payload(root: Path, data: bytes) -> None:
    """Store ``data`` as a durable store must: temp file, fsync, rename, fsync the directory."""
    digest = hashlib.sha256(data).hexdigest()
    final = root / "tenants" / TENANT / "sha256" / digest[:2] / digest[2:4] / digest
    final.parent.mkdir(parents=True, exist_ok=True)
    temp = root / "tmp" / f"{digest}.tmp"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temp, final)
    directory = os.open(final.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def _insert_sql(table: str, columns: Sequence[str]) -> str:
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})"


def raw_ingest(
    root: Path,
    rows: dict[str, Any],
    data: Sequence[bytes],
    batch: int,
    *,
    files: bool,
    audit: bool,
) -> float:
    """Insert the plane's rows with ``sqlite3``, ``batch`` rows per transaction; return seconds."""
    root.mkdir(parents=True)
    (root / "payloads" / "tmp").mkdir(parents=True)
    conn = connect_like_plane(root / "raw.db")
    try:
        for statement in rows["schema"]:
            conn.execute(statement)
        art_columns, art_rows = rows["artifacts"]
        dec_columns, dec_rows = rows["decisions"]
        insert_artifact = _insert_sql("artifacts", art_columns)
        insert_decision = _insert_sql("decisions", dec_columns)
        with stopwatch() as took:
            for start in range(0, len(art_rows), batch):
                stop = start + batch
                if audit:
                    conn.execute("BEGIN IMMEDIATE")
                    conn.executemany(insert_decision, dec_rows[start:stop])
                    conn.execute("COMMIT")
                if files:
                    for doc in data[start:stop]:
                        write_payload(root / "payloads", doc)
                conn.execute("BEGIN IMMEDIATE")
                conn.executemany(insert_artifact, art_rows[start:stop])
                conn.execute("COMMIT")
    finally:
        conn.close()
    return took[0]


# ----------------------------------------------------------------- section


async def run(root: Path, *, one: int, batched: int, batch: int, seed: int) -> Section:
    """Both ingest modes, each against its three baselines."""
    section = Section("Embedded ingest (SQLite + local directory + in-process Rego)")
    section.data = {
        "one_at_a_time": one,
        "batched": batched,
        "batch_size": batch,
        "payload_bytes": PAYLOAD_BYTES,
    }
    modes = [
        ("create_artifact, one at a time", "one_at_a_time", payloads(one, seed), None, 1, "1 row/txn"),
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
        ours, database = await plane_ingest(root / f"{key}-plane", data, plane_batch)
        rows = plane_rows(database, len(data))
        if len(rows["artifacts"][1]) != len(data) or len(rows["decisions"][1]) != len(data):
            raise AssertionError("the plane did not write one record and one decision per artifact")
        figures: dict[str, float] = {"plane_s": ours}
        variants = [
            ("rows", f"sqlite3 rows, {how}", False, False),
            ("rows_files", "+ payload files (write+fsync+rename+dir fsync)", True, False),
            ("rows_files_audit", "+ audit rows (own txn, as the plane)", True, True),
        ]
        for name, text, files, audit in variants:
            seconds = raw_ingest(root / f"{key}-{name}", rows, data, per_txn, files=files, audit=audit)
            figures[f"{name}_s"] = seconds
            section.add(
                f"{label} x{len(data):,}" if name == "rows" else "",
                rate(len(data), ours, "art") if name == "rows" else "",
                f"{text}: {rate(len(data), seconds, 'art')}",
                ours / seconds,
            )
        section.data[key] = figures
    section.notes += [
        f"~{PAYLOAD_BYTES}-byte distinct JSON payloads; each mode in a fresh temp dir, after "
        f"{WARMUP} untimed warm-up creates (Rego compile, first connections).",
        "Baselines insert the very rows the plane wrote (read back from its database), into the same "
        "schema and indexes, with the same PRAGMAs (WAL, synchronous FULL).",
        "Each baseline line adds one cost of the plane's durable write path; the ratio left on the "
        "last line is the plane's CPU work (validation, pydantic, Rego, SQLAlchemy, thread hops).",
    ]
    return section
