"""Policy decisions/s: ``RegoPolicyEngine`` beside direct ``regopy`` calls on the same policy, same run.

The baseline is the fastest documented regopy path, with nothing of ours
around it: the same ``policies/`` and realm data built once into a bundle,
then per request ``set_input(Input(document))`` and
``query_bundle_entrypoint`` (and reading the answer's JSON). The engine adds
building the input document from pydantic models, walking the answer's
nodes, validating it, the worker-thread hop and fail-closed handling; it
also caches decisions by the resource fields the policies declare.

So two workloads: *distinct* requests (every request by another subject,
each naming another artifact URI: no cache hit, the engine's full cost; a
URI alone would not do, as allows are shared by URIs that match the same
manifest globs) and *repeated* requests
(the same subject, action and declared fields again: what a page of one
realm's artifacts looks like to the cache). The baseline evaluates every
request either way. Engine and baseline take turns on slices of the work.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench.common import REPO, Stats, embedded_settings
from bench.report import Section, rate

ENTRYPOINT = "artifact_plane/authz/decision"
TENANT = "acme"


def _requests(count: int, *, distinct: bool, salt: str) -> list[Any]:
    from artifact_plane.models import PolicyInput, Subject

    reader = Subject(id="bench", tenant=TENANT, roles=("reader",), realm="journey")
    requests = []
    for n in range(count):
        # Journey may read insights' interpretations: an allow that walks the realm rules.
        uri = f"artifact://insights/reports/{salt}-{n if distinct else 0}.json"
        resource = {"tenant_id": TENANT, "realm": "insights", "artifact_type": "interpretation", "uri": uri}
        subject = reader.model_copy(update={"id": f"bench-{salt}-{n}"}) if distinct else reader
        requests.append(PolicyInput(subject=subject, action="read", resource=resource))
    return requests


class DirectRegopy:
    """The baseline: regopy's documented bundle API, nothing else."""

    def __init__(self, data: dict[str, Any]) -> None:
        from regopy import Interpreter

        builder = Interpreter()
        for path in sorted((REPO / "policies").glob("*.rego")):
            if not path.name.endswith("_test.rego"):
                builder.add_module(path.name, path.read_text())
        builder.add_data_json(json.dumps(data))
        self.bundle = builder.build(None, [ENTRYPOINT])
        self.runner = Interpreter()

    def decide(self, document: dict[str, Any]) -> bool:
        from regopy import Input

        self.runner.set_input(Input(document))
        output = self.runner.query_bundle_entrypoint(self.bundle, ENTRYPOINT)
        if not output.ok():
            raise RuntimeError(f"regopy failed on {document}")
        allow: bool = json.loads(str(output))["expressions"][0]["allow"]
        return allow


async def _timed(work: Callable[[], Any]) -> float:
    started = time.perf_counter()
    result = work()
    if hasattr(result, "__await__"):
        await result
    return time.perf_counter() - started


async def run(*, decisions: int, rounds: int, batches: Sequence[int] = (100, 1000)) -> Section:
    """Decisions/s one per call and ``batches`` per call, distinct and repeated inputs."""
    from artifact_plane.adapters.rego import RegoPolicyEngine
    from artifact_plane.realms_manifest import load_realm_manifests, policy_data

    data = policy_data(load_realm_manifests(REPO / "realms"))
    engine = RegoPolicyEngine(REPO / "policies", data, reload_interval=3600)
    direct = DirectRegopy(data)
    section = Section("Policy decisions: RegoPolicyEngine vs direct regopy (same policy, same run)")
    section.notes.append(
        "distinct: every request by another subject, naming another URI (no cache hit); repeated: the same "
        "subject and declared fields "
        "again (the engine's decision cache answers); the baseline evaluates every request"
    )
    figures: dict[str, Any] = {}
    for distinct in (True, False):
        for label, per_call in [("single", 1), *((f"batch {size}", size) for size in batches)]:
            total = max(per_call, decisions - decisions % per_call)
            ours: list[float] = []
            theirs: list[float] = []
            agree = 0
            for r in range(rounds):
                requests = _requests(total, distinct=distinct, salt=f"{label}-{distinct}-{r}")
                documents = [request.document() for request in requests]
                chunks: Sequence[Sequence[Any]] = [
                    requests[i : i + per_call] for i in range(0, total, per_call)
                ]
                answers: list[bool] = []

                async def through_engine(
                    chunks: Sequence[Sequence[Any]] = chunks, out: list[bool] = answers
                ) -> None:
                    for chunk in chunks:
                        if len(chunk) == 1:
                            out.append((await engine.decide(chunk[0])).allow)
                        else:
                            out.extend(d.allow for d in await engine.decide_many(chunk))

                ours.append(await _timed(through_engine))
                baseline: list[bool] = []
                theirs.append(
                    await _timed(lambda docs=documents, out=baseline: out.extend(map(direct.decide, docs)))
                )
                agree += sum(a == b for a, b in zip(answers, baseline, strict=True))
            kind = "distinct" if distinct else "repeated"
            mine, base = Stats.of(ours), Stats.of(theirs)
            section.add(
                f"{label}, {kind} ({total} per round)",
                rate(total, mine.median, "decisions"),
                rate(total, base.median, "decisions") + " (direct regopy)",
                mine.median / base.median if base.median > 0 else None,
                ratio_note=f"{agree}/{total * rounds} answers agree",
            )
            figures[f"{kind}_{label.replace(' ', '_')}"] = {
                "decisions_per_round": total,
                "engine_s": ours,
                "regopy_s": theirs,
                "agree": agree,
                "checked": total * rounds,
            }
    section.data = {"rounds": rounds, **figures, "engine_evaluations": engine.evaluations}
    await engine.close()
    return section


# ------------------------------------------------------------------- policy audit

BASELINE_SAMPLE = 3_000  # artifacts the baseline evaluates; its cost is per artifact
AUDIT_CREATORS = 20
MIX = (
    "the mix: every realm of realms/, each artifact of a type its manifest produces; half named (a distinct "
    "URI each, nested paths), half content-addressed (no URI); 20 creators; sizes "
    "from 100 B to 13 MB; 1 in 10 carries a retention policy, 1 in 20 a pii tag"
)


def _records(count: int, *, start: int) -> list[Any]:
    """``count`` ready records in the mix described by :data:`MIX` (deterministic in ``n``)."""
    import hashlib
    from datetime import UTC, datetime, timedelta

    from artifact_plane.ids import payload_key
    from artifact_plane.models import ArtifactRecord
    from artifact_plane.realms_manifest import load_realm_manifests

    manifests = sorted(load_realm_manifests(REPO / "realms").values(), key=lambda m: m.id)
    base = datetime(2026, 1, 1, tzinfo=UTC)
    records = []
    for n in range(start, start + count):
        manifest = manifests[n % len(manifests)]
        types = manifest.produces or ("document",)
        artifact_type = types[(n // len(manifests)) % len(types)]
        digest = hashlib.sha256(f"audit {n}".encode()).hexdigest()
        at = base + timedelta(microseconds=n)
        named = n % 2 == 1
        records.append(
            ArtifactRecord(
                artifact_id=digest[:32],
                artifact_type=artifact_type,
                tenant_id=TENANT,
                realm=manifest.id,
                sha256=digest,
                payload_key=payload_key(TENANT, digest),
                size_bytes=int(100 * 1.5 ** (n % 30)),  # 100 B to ~13 MB
                uri=f"artifact://{manifest.id}/{artifact_type}s/{n % 97}/{n}.json" if named else None,
                retention_policy="keep-7y" if n % 10 == 0 else None,
                tags=("pii",) if n % 20 == 0 else (),
                created_by=f"writer-{n % AUDIT_CREATORS}",
                created_at=at,
                updated_at=at,
            )
        )
    return records


async def _audit_once(
    root: Path, workers: int, *, checks: Any = None, realm: str | None
) -> tuple[Any, float, dict[str, Any]]:
    from artifact_plane.audit import DEFAULT_CHECKS, audit_policies
    from artifact_plane.wiring import build_plane

    plane = build_plane(embedded_settings(root, policy_workers=workers))
    await plane.registry.initialize()
    marks: list[tuple[int, float]] = []  # (scanned, seconds) after each page
    started = time.perf_counter()
    report = await audit_policies(
        plane,
        tenants=[TENANT],
        checks=checks or DEFAULT_CHECKS,
        realm=realm,
        batch=500,
        progress=lambda n: marks.append((n, time.perf_counter())),
    )
    elapsed = time.perf_counter() - started
    engine = plane.policy
    counts: dict[str, Any] = {
        name: int(getattr(engine, name, 0)) for name in ("evaluations", "queries", "in_workers")
    }
    counts["late_vs_early"] = _late_vs_early(started, marks)
    await plane.close()
    return report, elapsed, counts


def _baseline(root: Path, artifacts: int, checks: Any, realm: str | None) -> tuple[float, int, int]:
    """Seconds for ``artifacts`` (scaled from a sample), denials in the sample, rows read.

    The same rows read with sqlite3 and every check of every artifact decided
    by a direct regopy query (no cache, no batching), as ``realm`` (``OWNING_REALM``:
    each artifact's own).
    """
    import sqlite3

    from artifact_plane.audit import OWNING_REALM
    from artifact_plane.models import PolicyInput, Subject
    from artifact_plane.realms_manifest import load_realm_manifests, policy_data

    sample = min(artifacts, BASELINE_SAMPLE)
    direct = DirectRegopy(policy_data(load_realm_manifests(REPO / "realms")))
    started = time.perf_counter()
    with sqlite3.connect(root / "registry.db") as conn:
        rows = conn.execute(
            "SELECT * FROM artifacts WHERE tenant_id = ? ORDER BY created_at, artifact_id LIMIT ?",
            (TENANT, sample),
        ).fetchall()
    denied = 0
    for record in _records(sample, start=0):
        for check in checks:
            acting = record.realm if realm == OWNING_REALM else realm
            subject = Subject(id=record.created_by, tenant=TENANT, roles=check.roles, realm=acting)
            asked = PolicyInput(subject=subject, action=check.action, resource=record.resource())
            denied += not direct.decide(asked.document())
    return (time.perf_counter() - started) * artifacts / sample, denied, len(rows)


def _late_vs_early(started: float, marks: Sequence[tuple[int, float]]) -> float | None:
    """Time per artifact over the last fifth of the pages, over the first fifth (1.0: linear).

    The extrapolation to 1M holds only if a page deep in the audit costs what
    an early one does (keyset pages that re-read earlier rows would not).
    """
    if len(marks) < 10:
        return None
    times = [started] + [at for _, at in marks]
    counts = [0] + [n for n, _ in marks]
    fifth = len(marks) // 5
    early = (times[fifth] - times[0]) / (counts[fifth] - counts[0])
    late = (times[-1] - times[-1 - fifth]) / (counts[-1] - counts[-1 - fifth])
    return late / early


async def run_audit(root: Path, *, artifacts: int, workers: Sequence[int] = (1, 2)) -> Section:
    """``audit run`` over ``artifacts`` stored records, beside reading them raw and evaluating with regopy.

    The baseline: the same rows read with sqlite3 and every check of every
    artifact decided by a direct regopy query (no cache, no batching), timed
    on a sample and scaled. The audit runs once per entry of ``workers``
    (worker processes deciding in parallel; 1: this process only).
    """
    from artifact_plane.audit import DEFAULT_CHECKS, OWNING_REALM, AuditCheck
    from artifact_plane.wiring import build_plane

    section = Section("Policy audit: audit run over stored artifacts vs raw rows + direct regopy")
    plane = build_plane(embedded_settings(root))
    await plane.registry.initialize()
    for start in range(0, artifacts, 1000):
        chunk = _records(min(1000, artifacts - start), start=start)
        await plane.registry.insert_artifacts([(record, ()) for record in chunk])
    await plane.close()

    sample = min(artifacts, BASELINE_SAMPLE)
    theirs, baseline_denied, rows_read = _baseline(root, artifacts, DEFAULT_CHECKS, OWNING_REALM)

    runs: dict[str, Any] = {}
    for count in workers:
        report, ours, counts = await _audit_once(root, count, realm=OWNING_REALM)
        per_million = ours / artifacts * 1_000_000
        label = "this process" if count == 1 else f"{count} worker processes"
        late = counts["late_vs_early"]
        linear = "" if late is None else f"; time per artifact, last fifth of pages / first: {late:.2f}"
        section.add(
            f"audit run, {artifacts:,} artifacts, {len(DEFAULT_CHECKS)} checks, {label}",
            rate(artifacts, ours, "artifacts"),
            rate(artifacts, theirs, "artifacts") + " (sqlite3 rows + direct regopy)",
            ours / theirs if theirs > 0 else None,
            note=f"→ {per_million:,.0f} s per 1M artifacts (goal ≤ 60 s){linear}",
        )
        runs[f"workers_{count}"] = {
            "workers": count,
            "audit_s": ours,
            "per_million_s": per_million,
            "scanned": report.scanned,
            "decisions": report.decisions,
            "violations": len(report.violations),
            **counts,
        }
    # Many violations: what may journey (which reads insights' interpretations only) not read?
    reading = [AuditCheck("read", ("reader",))]
    theirs_as, _, _ = _baseline(root, artifacts, reading, "journey")
    report, ours_as, counts_as = await _audit_once(root, 1, checks=reading, realm="journey")
    share = len(report.violations) / max(report.decisions, 1)
    section.add(
        f"audit run --as-realm journey --action read, {artifacts:,} artifacts ({share:.0%} denied)",
        rate(artifacts, ours_as, "artifacts"),
        rate(artifacts, theirs_as, "artifacts") + " (sqlite3 rows + direct regopy)",
        ours_as / theirs_as if theirs_as > 0 else None,
        note=f"→ {ours_as / artifacts * 1_000_000:,.0f} s per 1M artifacts; {counts_as['evaluations']:,} "
        "Rego evaluations (each denial quotes its URI)",
    )
    runs["as_journey"] = {
        "audit_s": ours_as,
        "per_million_s": ours_as / artifacts * 1_000_000,
        "violations": len(report.violations),
        "baseline_s_scaled": theirs_as,
        **counts_as,
    }
    by_workers = [run for name, run in runs.items() if name.startswith("workers_")]
    best = min(by_workers, key=lambda run: float(run["audit_s"]))
    section.notes.append(
        f"extrapolated to 1M artifacts: {best['per_million_s']:,.0f} s at best ({best['workers']} "
        f"process(es) deciding; goal ≤ 60 s)"
    )
    section.notes.append(
        f"baseline timed on {sample:,} artifacts and scaled; it decides every check of every artifact with "
        "one regopy query; the audit decides each distinct request once, in batch queries of 50: what the "
        "policies declare they read (policies/decision_inputs.json), a URI by its realm and the manifest "
        "globs its path matches (a denial's reasons move to the next URI by replacing the URI they quote)"
    )
    section.notes.append(MIX)
    section.data = {
        "artifacts": artifacts,
        "baseline_s_scaled": theirs,
        "baseline_sample": sample,
        "baseline_rows_read": rows_read,
        "baseline_denied_in_sample": baseline_denied,
        # The fastest run's figures, then every run's.
        **{name: best[name] for name in ("audit_s", "per_million_s", "scanned", "decisions", "violations")},
        "runs": runs,
    }
    return section


# ------------------------------------------------------------------- decision chain


def _decisions(count: int) -> list[Any]:
    from datetime import UTC, datetime, timedelta

    from artifact_plane.models import DecisionRecord

    base = datetime(2026, 1, 1, tzinfo=UTC)
    return [
        DecisionRecord(
            decision_id=f"d{n:09d}",
            created_at=base + timedelta(microseconds=n),
            tenant_id=TENANT,
            subject_id="bench",
            action="read",
            resource_ref=f"artifact_id:{n:032x}",
            allow=n % 7 != 0,
            reasons=() if n % 7 else ("realm_read: realm journey may not read realm content",),
            revision="r" * 64,
            engine="rego",
            latency_ms=0.25,
        )
        for n in range(count)
    ]


def _raw_record(row: Any) -> Any:
    """A decision from a raw sqlite3 row (SQLite keeps the instant as naive UTC text)."""
    from datetime import UTC, datetime

    from artifact_plane.models import DecisionRecord

    values = {name: row[name] for name in DecisionRecord.model_fields}
    values["created_at"] = datetime.fromisoformat(values["created_at"]).replace(tzinfo=UTC)
    values["reasons"] = tuple(json.loads(values["reasons"]))
    return DecisionRecord(**values)


def _raw_seal_and_verify(path: Path, count: int, batch: int) -> tuple[float, float]:
    """The same chain by hand: sqlite3 reads, the same hash function, executemany UPDATEs."""
    import sqlite3

    from artifact_plane.ports.decisions import GENESIS, chain_hash

    conn = sqlite3.connect(path, isolation_level=None)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA synchronous = FULL")
    started = time.perf_counter()
    seq, prev = 0, GENESIS
    while True:
        conn.execute("BEGIN IMMEDIATE")
        rows = conn.execute(
            "SELECT * FROM decisions WHERE tenant_id = ? AND seq IS NULL "
            "ORDER BY created_at, decision_id LIMIT ?",
            (TENANT, batch),
        ).fetchall()
        links = []
        for row in rows:
            seq += 1
            entry_hash = chain_hash(prev, seq, _raw_record(row))
            links.append((seq, prev, entry_hash, TENANT, row["decision_id"]))
            prev = entry_hash
        conn.executemany(
            "UPDATE decisions SET seq = ?, prev_hash = ?, entry_hash = ? "
            "WHERE tenant_id = ? AND decision_id = ?",
            links,
        )
        conn.execute("COMMIT")
        if len(rows) < batch:
            break
    sealed = time.perf_counter() - started
    started = time.perf_counter()
    prev = GENESIS
    for row in conn.execute("SELECT * FROM decisions WHERE tenant_id = ? ORDER BY seq", (TENANT,)):
        if chain_hash(prev, row["seq"], _raw_record(row)) != row["entry_hash"]:
            raise RuntimeError("the hand-made chain does not verify")
        prev = row["entry_hash"]
    verified = time.perf_counter() - started
    conn.close()
    if seq != count:
        raise RuntimeError(f"sealed {seq} of {count}")
    return sealed, verified


async def run_chain(root: Path, *, decisions: int, batch: int = 1000) -> Section:
    """Sealing and verifying the decision chain on SQLite, beside the same work done by hand."""
    import anyio.to_thread

    from artifact_plane.adapters.sql import SqlDatabase, SqlDecisionLog

    section = Section("Decision chain (SQLite): seal and verify vs the same hashing and UPDATEs by hand")
    records = _decisions(decisions)
    logs = []
    for name in ("plane", "raw"):
        log = SqlDecisionLog(SqlDatabase(f"sqlite:///{root / name / 'registry.db'}"))
        await log.initialize()
        for start in range(0, decisions, 1000):
            await log.append(records[start : start + 1000])
        logs.append(log)
    plane_log, raw_log = logs
    started = time.perf_counter()
    sealed = await plane_log.seal_all(limit=batch)
    ours_seal = time.perf_counter() - started
    started = time.perf_counter()
    report = await plane_log.verify(TENANT)
    ours_verify = time.perf_counter() - started
    if sealed != decisions or not report.ok or report.checked != decisions:
        raise RuntimeError(f"chain bench: sealed {sealed}, verified {report}")
    await raw_log.close()
    raw_seal, raw_verify = await anyio.to_thread.run_sync(
        _raw_seal_and_verify, root / "raw" / "registry.db", decisions, batch
    )
    if await raw_log.head(TENANT) != await plane_log.head(TENANT):
        raise RuntimeError("the hand-made chain ended at another head")
    section.add(
        f"seal {decisions:,} decisions, {batch} per transaction",
        rate(decisions, ours_seal, "decisions"),
        rate(decisions, raw_seal, "decisions") + " (sqlite3 by hand)",
        ours_seal / raw_seal if raw_seal > 0 else None,
    )
    section.add(
        f"verify {decisions:,} decisions",
        rate(decisions, ours_verify, "decisions"),
        rate(decisions, raw_verify, "decisions") + " (sqlite3 by hand)",
        ours_verify / raw_verify if raw_verify > 0 else None,
    )
    section.notes.append("both chains end at the same head (same hash function, same order)")
    section.data = {
        "decisions": decisions,
        "seal_s": ours_seal,
        "verify_s": ours_verify,
        "raw_seal_s": raw_seal,
        "raw_verify_s": raw_verify,
        "head": str(report.head),
    }
    await plane_log.close()
    return section
