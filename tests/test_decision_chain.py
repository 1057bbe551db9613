"""The decision chain end to end: the hash format, the plane's writes, the sealer, the CLI and serve."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from click.testing import Result

from artifact_plane.audit import DecisionSealer, chained_log
from artifact_plane.cli.audit_seal import with_sealer
from artifact_plane.models import DecisionFilter
from artifact_plane.plane import ArtifactPlane, open_plane
from artifact_plane.ports.decisions import GENESIS, ChainHead, chain_hash, parse_head
from artifact_plane.settings import Settings
from tests.cli_env import REPO, cli, use_embedded_default
from tests.contracts.builders import make_decision
from tests.plane_fixtures import ALICE, READER, open_test_plane
from tests.waiting import eventually

# -- the hash format ----------------------------------------------------------------


FIXED = make_decision(
    "acme",
    "dec-1",
    created_at=datetime(2026, 11, 23, 13, 0, 0, 123456, tzinfo=UTC),
    reasons=("realm_read: no", "ünïcode"),
    latency_ms=0.1,
)


def test_the_hash_format_is_stable() -> None:
    # Chains written today must verify tomorrow: changing the encoding breaks every stored chain.
    assert chain_hash(GENESIS, 1, FIXED) == "b76f86cbab9e91886a9fc60fa3f32767288271a17f41b31f640a4225bf7fbf70"


@pytest.mark.parametrize(
    "change",
    [
        {"decision_id": "dec-2"},
        {"tenant_id": "globex"},
        {"created_at": datetime(2026, 11, 23, 13, 0, 0, 123457, tzinfo=UTC)},
        {"subject_id": "mallory"},
        {"action": "delete"},
        {"resource_ref": "artifact_id:other"},
        {"allow": False},
        {"reasons": ("realm_read: no",)},
        {"revision": "other"},
        {"engine": "opa"},
        {"latency_ms": 0.10000000000000002},
    ],
    ids=lambda change: next(iter(change)),
)
def test_every_field_is_covered_by_the_hash(change: dict[str, Any]) -> None:
    assert chain_hash(GENESIS, 1, FIXED.model_copy(update=change)) != chain_hash(GENESIS, 1, FIXED)


# The same entry logged with its (masked) input: hashed under ap-decision-v2.
FIXED_INPUT = FIXED.model_copy(
    update={
        "input": {
            "subject": {"id": "alice", "tenant": "acme", "roles": ["writer"], "realm": "insights"},
            "action": "read",
            "resource": {"artifact_id": "a1", "metadata": {"ssn": "***", "n": 2**70, "f": 0.5}},
            "context": {"authorization": "***"},
        }
    }
)


def test_the_hash_format_with_an_input_is_stable() -> None:
    # sha256(GENESIS + '["ap-decision-v2",1,"acme","dec-1",…,"0.1",{"action":"read","context":…}]'):
    # the v1 fields, then the input as compact JSON with sorted keys (computed by hand once).
    assert chain_hash(GENESIS, 1, FIXED_INPUT) == (
        "f2e2c0772e3caa483f3ed756cf2c1ecd5aa8522ccf7beff1c1314553e85cbcfc"
    )
    assert chain_hash(GENESIS, 1, FIXED_INPUT) != chain_hash(GENESIS, 1, FIXED)


@pytest.mark.parametrize(
    "edit",
    [
        lambda doc: doc["resource"]["metadata"].update(ssn="123-45-6789"),
        lambda doc: doc["context"].pop("authorization"),
        lambda doc: doc["resource"]["metadata"].update(n=2**70 + 1),
        lambda doc: doc["resource"]["metadata"].update(f=0.5000000000000001),
        lambda doc: doc["subject"]["roles"].append("admin"),
        lambda doc: doc.update(extra=None),
        lambda doc: doc.clear(),
    ],
    ids=["unmasked", "dropped-key", "big-int", "float", "list-item", "added-key", "emptied"],
)
def test_every_part_of_the_input_is_covered_by_the_hash(edit: Any) -> None:
    assert FIXED_INPUT.input is not None
    changed = json.loads(json.dumps(FIXED_INPUT.input))
    edit(changed)
    assert chain_hash(GENESIS, 1, FIXED_INPUT.model_copy(update={"input": changed})) != chain_hash(
        GENESIS, 1, FIXED_INPUT
    )


def test_the_input_hashes_the_same_whatever_its_key_order() -> None:
    # PostgreSQL's JSONB gives keys back in its own order.
    assert FIXED_INPUT.input is not None
    reordered = json.loads(json.dumps(FIXED_INPUT.input, sort_keys=True))
    reordered = dict(reversed(list(reordered.items())))
    assert list(reordered) != list(FIXED_INPUT.input)
    same = FIXED_INPUT.model_copy(update={"input": reordered})
    assert chain_hash(GENESIS, 1, same) == chain_hash(GENESIS, 1, FIXED_INPUT)


def test_position_and_predecessor_are_covered_by_the_hash() -> None:
    base = chain_hash(GENESIS, 1, FIXED)
    assert chain_hash(GENESIS, 2, FIXED) != base
    assert chain_hash("1" * 64, 1, FIXED) != base


def test_the_same_instant_in_another_zone_hashes_the_same() -> None:
    from datetime import timedelta, timezone

    shifted = FIXED.created_at.astimezone(timezone(timedelta(hours=5)))
    assert chain_hash(GENESIS, 1, FIXED.model_copy(update={"created_at": shifted})) == chain_hash(
        GENESIS, 1, FIXED
    )


def test_heads_parse_as_printed_and_bad_ones_say_why() -> None:
    head = ChainHead(42, "ab" * 32)
    assert parse_head(str(head)) == head
    assert parse_head(f"42:{'AB' * 32}") == head
    for bad in ["42", f"x:{'ab' * 32}", "42:abc", f"-1:{'ab' * 32}", f"42:{'zz' * 32}"]:
        with pytest.raises(ValueError, match="SEQ:HASH"):
            parse_head(bad)


# -- the plane's own writes ----------------------------------------------------------


@pytest.fixture(params=["memory", "embedded", "postgres"])
async def plane(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[ArtifactPlane]:
    async for built in open_test_plane(request.param, tmp_path, request=request):
        yield built


async def test_concurrent_creates_and_reads_then_a_seal_make_a_valid_chain(plane: ArtifactPlane) -> None:
    # Creates commit decisions in the record's transaction; reads append theirs; none waits on the chain.
    writer, reader = plane.for_subject(ALICE), plane.for_subject(READER)
    log = chained_log(plane)
    sealer = DecisionSealer(log, interval=0.01, batch=7)
    stop = asyncio.Event()
    sealing = asyncio.create_task(sealer.run(stop))

    async def work(n: int) -> None:
        art_id = await writer.create_artifact(f"payload {n}".encode(), artifact_type="report")
        await reader.get_meta(art_id)

    await asyncio.gather(*(work(n) for n in range(24)))
    logged = await plane.decisions.query("acme", DecisionFilter(), limit=1000)
    assert len(logged) == 48
    await eventually(lambda: _all_sealed(plane), "every decision sealed")
    stop.set()
    await sealing
    report = await log.verify("acme")
    assert report.ok, report.broken
    assert (report.checked, report.unsealed) == (48, 0)
    assert sealer.sealed == 48
    assert sealer.failures == 0


async def _all_sealed(plane: ArtifactPlane) -> bool:
    return await chained_log(plane).unsealed_count("acme") == 0


async def test_the_sealer_keeps_going_after_a_failed_pass(tmp_path: Path) -> None:
    # A database that cannot be opened (a directory): every pass fails, is counted and retried.
    from artifact_plane.adapters.sql import SqlDatabase, SqlDecisionLog

    log = SqlDecisionLog(SqlDatabase(f"sqlite:///{tmp_path}"))
    sealer = DecisionSealer(log, interval=0.01)
    stop = asyncio.Event()
    task = asyncio.create_task(sealer.run(stop))

    async def failed_twice() -> bool:
        return sealer.failures >= 2

    await eventually(failed_twice, "two failed sealing passes")
    stop.set()
    await task
    assert sealer.sealed == 0


# -- serve's lifespan and the CLI -----------------------------------------------------


def settings_in(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        policy_dir=REPO / "policies",
        realms_dir=REPO / "realms",
        _env_file=None,  # type: ignore[call-arg]
    )


async def test_serve_lifespan_seals_while_the_app_runs(tmp_path: Path) -> None:
    settings = settings_in(tmp_path)

    @asynccontextmanager
    async def lifespan(api: Any) -> AsyncIterator[None]:
        async with open_plane(settings) as opened:
            api.state.plane = opened
            yield

    api = SimpleNamespace(state=SimpleNamespace())
    async with with_sealer(lifespan)(api):
        plane: ArtifactPlane = api.state.plane
        await plane.for_subject(ALICE).create_artifact(b"served", artifact_type="report")
        await eventually(lambda: _all_sealed(plane), "every decision sealed")
        assert (await chained_log(plane).verify("acme")).checked == 1
    assert api.state.sealer.sealed == 1


def test_serve_installs_the_sealer(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    served: list[Any] = []
    monkeypatch.setattr(uvicorn, "run", lambda api, **options: served.append(api))
    assert cli("serve").exit_code == 0

    async def run_app() -> int:
        api = served[0]
        async with api.router.lifespan_context(api):
            plane: ArtifactPlane = api.state.plane
            await plane.for_subject(ALICE).create_artifact(b"via serve", artifact_type="report")
            await eventually(lambda: _all_sealed(plane), "every decision sealed")
            return int(api.state.sealer.sealed)

    assert asyncio.run(run_app()) == 1


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return use_embedded_default(tmp_path, monkeypatch)


def ok(*args: str) -> Result:
    result = cli(*args)
    assert result.exit_code == 0, result.output
    return result


def put_doc(text: str, tenant: str = "acme") -> None:
    args = ["put", "-", "--type", "report", "--tenant", tenant, "--realm", "insights", "--roles", "writer"]
    result = cli(*args, input=text)
    assert result.exit_code == 0, result.output


def _raw(data_dir: Path, sql: str, *params: object) -> int:
    # Tampering as someone with access to the database file would.
    with sqlite3.connect(data_dir / "registry.db") as conn:
        return conn.execute(sql, params).rowcount


def test_cli_seal_then_verify_prints_heads_and_catches_every_kind_of_tampering(data_dir: Path) -> None:
    for n in range(4):
        put_doc(f"doc {n}")
    put_doc("theirs", tenant="globex")
    # Every decision the puts made (a put may be decided more than once), counted in the file.
    mine, theirs = _count(data_dir, "acme"), _count(data_dir, "globex")
    assert mine >= 4
    assert theirs >= 1
    before = json.loads(ok("audit", "verify", "--json").stdout)
    assert before["ok"] is True
    assert [(t["tenant"], t["checked"], t["unsealed"]) for t in before["tenants"]] == [
        ("acme", 0, mine),
        ("globex", 0, theirs),
    ]
    sealed = json.loads(ok("audit", "seal", "--json").stdout)["tenants"]
    assert [(t["tenant"], t["sealed"]) for t in sealed] == [("acme", mine), ("globex", theirs)]
    head = next(t["head"] for t in sealed if t["tenant"] == "acme")
    assert head.startswith(f"{mine}:")
    assert "nothing to seal" in ok("audit", "seal").stdout
    text = ok("audit", "verify").stdout
    assert f"tenant acme: ok; {mine} entries checked, 0 not sealed yet; head {head}" in text
    assert ok("audit", "verify", "--tenant", "acme", "--expect-head", head).exit_code == 0

    # An edited entry: named by seq and decision id, exit 1, one clear line of what to do.
    third = _decision_at(data_dir, 3)
    assert _raw(data_dir, "UPDATE decisions SET allow = 0 WHERE decision_id = ?", third) == 1
    edited = cli("audit", "verify")
    assert edited.exit_code == 1
    assert "tenant acme: BROKEN at seq 3; 2 entries check out before it" in edited.stdout
    assert f"chain broken at seq 3 (edited): entry 3 (decision {third})" in edited.stderr
    assert "tenant globex: ok" in edited.stdout  # the other tenant's chain still checks out
    assert "compare it with a backup" in edited.stderr
    assert _raw(data_dir, "UPDATE decisions SET allow = 1 WHERE decision_id = ?", third) == 1
    assert ok("audit", "verify").exit_code == 0  # undone: the hash matches again

    # A deleted entry: a gap.
    assert _raw(data_dir, "DELETE FROM decisions WHERE decision_id = ?", _decision_at(data_dir, 2)) == 1
    gap = json.loads(cli("audit", "verify", "--json", "--tenant", "acme").stdout)
    assert gap["ok"] is False
    assert gap["tenants"][0]["broken"]["kind"] == "missing"
    assert gap["tenants"][0]["broken"]["seq"] == 2


def test_cli_verify_catches_a_truncated_tail_only_with_the_recorded_head(data_dir: Path) -> None:
    for n in range(3):
        put_doc(f"doc {n}")
    head = json.loads(ok("audit", "seal", "--json").stdout)["tenants"][0]["head"]
    newest = _count(data_dir, "acme")
    assert head.startswith(f"{newest}:")
    assert _raw(data_dir, "DELETE FROM decisions WHERE seq = ?", newest) == 1
    assert ok("audit", "verify", "--tenant", "acme").exit_code == 0
    truncated = cli("audit", "verify", "--tenant", "acme", "--expect-head", head)
    assert truncated.exit_code == 1
    assert f"chain broken at seq {newest} (truncated)" in truncated.stderr
    assert "1 newest entries were removed" in truncated.stderr


def test_cli_verify_refuses_bad_heads_with_usage_errors(data_dir: Path) -> None:
    no_tenant = cli("audit", "verify", "--expect-head", f"1:{'a' * 64}")
    assert no_tenant.exit_code == 2
    assert "give --tenant too" in no_tenant.stderr
    bad = cli("audit", "verify", "--tenant", "acme", "--expect-head", "1:xyz")
    assert bad.exit_code == 2
    assert "SEQ:HASH" in bad.stderr


def test_cli_verify_catches_an_edited_input(data_dir: Path) -> None:
    for n in range(3):
        put_doc(f"doc {n}")
    ok("audit", "seal")
    second = _decision_at(data_dir, 2)
    with sqlite3.connect(data_dir / "registry.db") as conn:
        [stored] = conn.execute("SELECT input FROM decisions WHERE decision_id = ?", (second,)).fetchone()
    logged = json.loads(stored)
    assert logged["action"] == "create"
    edited = {**logged, "action": "read"}
    assert _raw(data_dir, "UPDATE decisions SET input = ? WHERE decision_id = ?", json.dumps(edited), second)
    broken = cli("audit", "verify")
    assert broken.exit_code == 1
    assert f"chain broken at seq 2 (edited): entry 2 (decision {second})" in broken.stderr


def _count(data_dir: Path, tenant: str) -> int:
    with sqlite3.connect(data_dir / "registry.db") as conn:
        query = "SELECT count(*) FROM decisions WHERE tenant_id = ?"
        return int(conn.execute(query, (tenant,)).fetchone()[0])


def _decision_at(data_dir: Path, seq: int) -> str:
    with sqlite3.connect(data_dir / "registry.db") as conn:
        query = "SELECT decision_id FROM decisions WHERE tenant_id = 'acme' AND seq = ?"
        row = conn.execute(query, (seq,)).fetchone()
    return str(row[0])


# -- replicas: sealers on separate engines take turns ---------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def registry_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgresql":
        return str(request.getfixturevalue("postgres_url"))
    return f"sqlite:///{tmp_path / 'registry.db'}"


async def test_sealers_on_separate_replicas_never_fork_the_chain(registry_url: str) -> None:
    from artifact_plane.adapters.sql import SqlDatabase, SqlDecisionLog

    replicas = [SqlDecisionLog(SqlDatabase(registry_url)) for _ in range(3)]
    for log in replicas:
        await log.initialize()
    rounds, per_round = 8, 5

    async def write(replica: int) -> None:
        log = replicas[replica]
        for r in range(rounds):
            await log.append(
                [
                    make_decision("acme", f"r{replica}-{r}-{i}", created_at=FIXED.created_at)
                    for i in range(per_round)
                ]
            )

    async def seal(replica: int) -> None:
        for _ in range(rounds):
            await replicas[replica].seal("acme", limit=4)

    await asyncio.gather(*(write(n) for n in range(3)), *(seal(n) for n in range(3)))
    await replicas[0].seal_all()
    total = 3 * rounds * per_round
    for log in replicas:  # every replica sees the same, valid chain
        report = await log.verify("acme")
        assert report.ok, report.broken
        assert (report.checked, report.unsealed) == (total, 0)
        assert report.head == await replicas[0].head("acme")
    for log in replicas:
        await log.close()


# -- the input of each entry, tampered with through SQL on SQLite and PostgreSQL -----------


def _input_doc(n: int) -> dict[str, Any]:
    return {
        "subject": {"id": "alice", "tenant": "acme", "roles": ["writer"], "realm": "insights"},
        "action": "create",
        "resource": {
            "artifact_id": f"a{n}",
            "metadata": {"ssn": "123-45-6789", "team": "blue", "score": 0.1 * n, "big": 10**20 + n},
            "tags": ["pii"],
        },
        "context": {"authorization": "Bearer secret", "attempt": float(n)},
    }


async def _set_input(log: Any, decision_id: str, value: dict[str, Any] | None) -> None:
    """Overwrite one entry's stored input with raw SQL, as someone with database access would."""
    from sqlalchemy import text

    def work(conn: Any) -> int:
        if value is None:
            sql, params = "UPDATE decisions SET input = NULL WHERE decision_id = :id", {"id": decision_id}
        elif conn.dialect.name == "postgresql":
            sql = "UPDATE decisions SET input = CAST(:v AS jsonb) WHERE decision_id = :id"
            params = {"v": json.dumps(value), "id": decision_id}
        else:
            sql, params = (
                "UPDATE decisions SET input = :v WHERE decision_id = :id",
                {
                    "v": json.dumps(value),
                    "id": decision_id,
                },
            )
        return int(conn.execute(text(sql), params).rowcount)

    assert await log.database.run(work, write=True) == 1


async def test_verify_catches_an_edited_input_through_sql(registry_url: str) -> None:
    from artifact_plane.adapters.sql import SqlDatabase, SqlDecisionLog
    from artifact_plane.masking import MASK, InputMask

    log = SqlDecisionLog(SqlDatabase(registry_url))
    await log.initialize()
    mask = InputMask(["/resource/metadata/ssn", "/context/authorization"])
    # An entry from before inputs were kept (v1), then entries with their masked input (v2).
    records = [make_decision("acme", "d0", created_at=FIXED.created_at)] + [
        make_decision("acme", f"d{n}", created_at=FIXED.created_at, input=mask.apply(_input_doc(n)))
        for n in range(1, 5)
    ]
    await log.append(records)
    assert await log.seal_all() == 5
    assert (await log.verify("acme")).ok
    stored = {r.decision_id: r.input for r in await log.query("acme", DecisionFilter(), limit=10)}
    assert stored["d0"] is None
    assert stored["d2"] is not None
    assert stored["d2"]["resource"]["metadata"]["ssn"] == MASK
    assert stored["d2"]["context"]["authorization"] == MASK

    async def broken_at() -> tuple[str, int, str | None] | None:
        report = await log.verify("acme")
        return (
            None
            if report.broken is None
            else (report.broken.kind, report.broken.seq, report.broken.decision_id)
        )

    # The mask "undone" (a secret written into the log), a value changed, the input removed.
    for forged in (
        {**stored["d2"], "context": {"authorization": "Bearer secret"}},
        {**stored["d2"], "action": "read"},
        None,
    ):
        await _set_input(log, "d2", forged)
        assert await broken_at() == ("edited", 3, "d2")
        await _set_input(log, "d2", stored["d2"])
        assert await broken_at() is None  # put back as it was (in any key order): the hash matches again
    # An input added to an entry that had none.
    await _set_input(log, "d0", stored["d2"])
    assert await broken_at() == ("edited", 1, "d0")
    await log.close()
