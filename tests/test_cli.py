"""The ``artifact-plane`` command, through typer's CliRunner, on a fresh embedded plane per test."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import stat
from pathlib import Path
from typing import Any

import jwt
import pytest
from click.testing import Result

from artifact_plane.api.auth import DEV_SECRET_FILE
from artifact_plane.demo import build_demo
from artifact_plane.plane import open_plane
from artifact_plane.settings import Settings
from tests.cli_env import REPO, cli, use_embedded_default


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The embedded default in ``tmp_path``, configured the way a user would: through AP_* variables."""
    return use_embedded_default(tmp_path, monkeypatch)


def ok(*args: str, input: bytes | str | None = None) -> Result:
    result = cli(*args, input=input)
    assert result.exit_code == 0, result.output
    return result


def put(path: Path, *args: str) -> str:
    return ok("put", str(path), *args).stdout.strip()


def ls_json(*args: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(ok("ls", "--json", *args).stdout)
    return document


@pytest.fixture
def big_file(tmp_path: Path) -> Path:
    # Three and a bit chunks of the 1 MiB streaming size, not valid UTF-8.
    path = tmp_path / "big.bin"
    path.write_bytes(os.urandom(3 * 1024 * 1024 + 17))
    return path


def test_get_output_is_an_export_pii_needs_a_steward(data_dir: Path, tmp_path: Path) -> None:
    source = tmp_path / "people.csv"
    source.write_text("name,email\nada,ada@example.invalid\n")
    artifact_id = put(source, "--type", "contacts", "--realm", "content", "--tag", "pii")
    refused = cli("get", artifact_id, "--output", str(tmp_path / "copy.csv"))  # as the default admin
    assert refused.exit_code != 0
    assert "only stewards may export it" in refused.output
    assert not (tmp_path / "copy.csv").exists()
    ok("get", artifact_id)  # the metadata is a read, not an export
    ok("get", artifact_id, "--output", str(tmp_path / "copy.csv"), "--roles", "steward")
    assert (tmp_path / "copy.csv").read_bytes() == source.read_bytes()


def test_put_get_round_trip_is_byte_for_byte(data_dir: Path, big_file: Path, tmp_path: Path) -> None:
    artifact_id = put(big_file, "--type", "blob", "--realm", "content")
    copy = tmp_path / "copy.bin"
    ok("get", artifact_id, "--output", str(copy))
    assert copy.read_bytes() == big_file.read_bytes()
    assert not list(tmp_path.glob(".copy.bin.part"))
    assert ok("get", artifact_id, "-o", "-").stdout_bytes == big_file.read_bytes()


def test_put_from_stdin_and_metadata_as_json(data_dir: Path) -> None:
    data = b'{"rows": [1, 2, 3]}'
    artifact_id = ok(
        "put", "-", "--type", "dataset", "--realm", "content", "--content-type", "application/json",
        "--tag", "raw", "--tag", "q3", input=data,
    ).stdout.strip()  # fmt: skip
    meta = json.loads(ok("get", artifact_id, "--json").stdout)
    assert meta["sha256"] == hashlib.sha256(data).hexdigest()
    assert meta["artifact_id"] == artifact_id == meta["sha256"][:32]
    assert (meta["content_type"], meta["tags"], meta["realm"]) == (
        "application/json",
        ["raw", "q3"],
        "content",
    )
    table = ok("get", artifact_id).stdout
    assert artifact_id in table
    assert "application/json" in table


def test_get_meta_with_payload_on_stdout_keeps_stdout_pure(data_dir: Path, tmp_path: Path) -> None:
    source = tmp_path / "notes.md"
    source.write_text("# notes\n")
    artifact_id = put(source, "--type", "note", "--realm", "insights")
    result = ok("get", artifact_id, "-o", "-", "--meta", "--json")
    assert result.stdout_bytes == b"# notes\n"
    assert json.loads(result.stderr)["content_type"] == "text/markdown"


def test_named_writes_and_ls_filters(data_dir: Path, tmp_path: Path) -> None:
    files = {}
    for name in ("a", "b", "c"):
        files[name] = tmp_path / f"{name}.txt"
        files[name].write_text(f"content {name}\n")
    v1 = put(
        files["a"], "--type", "report", "--uri", "artifact://insights/reports/q3.md", "--version", "1.0.0"
    )
    v2 = put(
        files["b"], "--type", "report", "--uri", "artifact://insights/reports/q3.md", "--version", "1.2.0"
    )
    other = put(files["c"], "--type", "chart", "--realm", "content", "--tag", "draft")

    def ids(*args: str) -> list[str]:
        return [item["artifact_id"] for item in ls_json(*args)["items"]]

    assert ids() == [v1, v2, other]
    assert ids("--type", "report") == [v1, v2]
    assert ids("--tag", "draft") == [other]
    assert ids("--uri", "artifact://insights/reports/**") == [v1, v2]
    assert ids("--uri", "artifact://insights/reports/**", "--min-version", "1.1.0") == [v2]
    assert ids("--status", "ready", "--realm", "content") == [other]
    assert ids("--status", "expired") == []
    first = ls_json("--limit", "2")
    assert [i["artifact_id"] for i in first["items"]] == [v1, v2]
    assert ids("--limit", "2", "--cursor", first["next_cursor"]) == [other]
    table = ok("ls", "--limit", "2").stdout
    assert v1 in table
    assert "artifact://insights/reports/q3.md" in table
    assert f"--cursor {first['next_cursor']}" in table


def test_lineage_tree_contains_the_nodes(data_dir: Path) -> None:
    async def seed() -> Any:
        async with open_plane(Settings()) as plane:
            return await build_demo(plane, tenant="default")

    graph = asyncio.run(seed())
    tree = ok("lineage", graph.dataset, "--depth", "10").stdout
    for artifact_id in graph.artifacts.values():
        assert artifact_id in tree
    for execution_id in graph.executions.values():
        assert execution_id in tree
    upstream = json.loads(ok("lineage", graph.artifacts["sop"], "--direction", "upstream", "--json").stdout)
    assert {n["id"] for n in upstream["nodes"]} >= {graph.artifacts["blueprint"], graph.artifacts["solution"]}
    assert graph.dataset not in {n["id"] for n in upstream["nodes"]}  # beyond depth 3
    shallow = ok("lineage", graph.dataset, "--depth", "1").stdout
    assert graph.artifacts["analysis_result"] in shallow
    assert graph.artifacts["roadmap"] not in shallow
    # As the outcomes service, journey's SOP (not in its read permissions) comes back redacted.
    seen_by_outcomes = ok(
        "lineage", graph.artifacts["roadmap"], "--depth", "10", "--realm", "outcomes"
    ).stdout
    assert graph.artifacts["blueprint"] in seen_by_outcomes
    assert graph.artifacts["sop"] not in seen_by_outcomes
    assert "(redacted)" in seen_by_outcomes


def test_gc_deletes_an_orphan_payload_and_keeps_referenced_ones(data_dir: Path, tmp_path: Path) -> None:
    kept = tmp_path / "kept.txt"
    kept.write_text("still referenced\n")
    artifact_id = put(kept, "--type", "note", "--realm", "content")
    orphan = b"written, never registered: the writer died"

    async def leave_orphan() -> None:
        async with open_plane(Settings()) as plane:
            await plane.payloads.put_bytes("default", orphan)

    asyncio.run(leave_orphan())
    young = json.loads(ok("gc", "--json").stdout)  # default grace (an hour) protects fresh payloads
    assert young["deleted"] == 0
    assert young["abandoned_executions"] == 0
    report = json.loads(ok("gc", "--grace", "0", "--json").stdout)
    assert report["deleted_digests"] == [hashlib.sha256(orphan).hexdigest()]
    assert report["kept"] == 1
    copy = tmp_path / "copy.txt"
    ok("get", artifact_id, "-o", str(copy))
    assert copy.read_text() == "still referenced\n"
    summary = ok("gc", "--grace", "0").stdout
    assert "failed 0 abandoned executions" in summary
    assert "deleted 0" in summary
    assert "scanned 1 payloads" in summary


def test_token_carries_the_claims_and_the_dev_secret_is_private(data_dir: Path) -> None:
    args = ["--tenant", "acme", "--subject", "bob", "--roles", "writer,reader", "--realm", "insights"]
    token = ok("token", *args, "--ttl", "60").stdout.strip()
    secret_file = data_dir / DEV_SECRET_FILE
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    claims = jwt.decode(token, secret_file.read_text().strip(), algorithms=["HS256"])
    assert (claims["sub"], claims["tenant"], claims["roles"], claims["realm"]) == (
        "bob", "acme", ["writer", "reader"], "insights",
    )  # fmt: skip
    assert claims["exp"] - claims["iat"] == 60
    again = ok("token").stdout.strip()
    assert jwt.decode(again, secret_file.read_text().strip(), algorithms=["HS256"])["roles"] == ["admin"]


def test_token_uses_ap_jwt_secret_when_set(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AP_JWT_SECRET", "s" * 40)
    token = ok("token", "--subject", "svc").stdout.strip()
    assert jwt.decode(token, "s" * 40, algorithms=["HS256"])["sub"] == "svc"
    assert not (data_dir / DEV_SECRET_FILE).exists()


def one_red_line(result: Result, *fragments: str) -> None:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert " — " in lines[0]  # the message, then what to do next
    for fragment in fragments:
        assert fragment in lines[0]
    assert "Traceback" not in result.output


def test_errors_exit_1_with_one_clear_line(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = cli("get", "0" * 32)
    assert missing.exit_code == 1
    one_red_line(missing, "not found", "artifact-plane ls")
    note = tmp_path / "n.txt"
    note.write_text("n")
    denied = cli("put", str(note), "--type", "note", "--realm", "content", "--roles", "reader")
    assert denied.exit_code == 1
    one_red_line(denied, "denied", "--roles")
    taken = [
        "put",
        str(note),
        "--type",
        "note",
        "--uri",
        "artifact://content/n.txt",
        "--mode",
        "failIfExists",
    ]
    ok(*taken)
    conflict = cli(*taken)
    assert conflict.exit_code == 1
    one_red_line(conflict, "conflict")
    monkeypatch.setenv("AP_POLICY_URL", "bogus")
    misconfigured = cli("ls")
    assert misconfigured.exit_code == 1
    one_red_line(misconfigured, "AP_POLICY_URL")


def test_bad_input_and_usage_exit_2(data_dir: Path, tmp_path: Path) -> None:
    bad_id = cli("get", "../../etc/passwd")
    assert bad_id.exit_code == 2
    one_red_line(bad_id, "artifact_id")
    no_file = cli("put", str(tmp_path / "absent.bin"), "--type", "blob", "--realm", "content")
    assert no_file.exit_code == 2
    one_red_line(no_file, "absent.bin")
    note = tmp_path / "n.txt"
    note.write_text("n")
    no_realm = cli("put", str(note), "--type", "note")
    assert no_realm.exit_code == 2
    one_red_line(no_realm, "realm")
    bad_tenant = cli("ls", "--tenant", "no/slashes")
    assert bad_tenant.exit_code == 2
    one_red_line(bad_tenant, "--tenant")
    assert cli("ls", "--no-such-option").exit_code == 2
    assert cli("ls", "--status", "bogus").exit_code == 2


def test_schema_export_matches_the_committed_file(data_dir: Path, tmp_path: Path) -> None:
    printed = ok("schema", "export").stdout
    committed = (REPO / "schema.graphql").read_text(encoding="utf-8")
    assert printed == committed, (
        "schema.graphql is stale: run `artifact-plane schema export -o schema.graphql`"
    )
    ok("schema", "export", "--output", str(tmp_path / "s.graphql"))
    assert (tmp_path / "s.graphql").read_text(encoding="utf-8") == committed


def test_db_upgrade_reports_the_revision(data_dir: Path) -> None:
    first = ok("db", "upgrade").stdout
    assert "registry.db: at revision" in first
    assert ok("db", "upgrade").stdout == first  # idempotent


def test_serve_creates_a_private_dev_secret_reused_across_restarts(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn
    from starlette.applications import Starlette

    served: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: served.append({"app": app, **options}))
    first = ok("serve", "--port", "8123")
    second = ok("serve", "--port", "8123")
    assert isinstance(served[0]["app"], Starlette)
    assert (served[0]["host"], served[0]["port"]) == ("127.0.0.1", 8123)
    assert "http://127.0.0.1:8123/graphql" in first.stderr
    secret_file = data_dir / DEV_SECRET_FILE
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    secret = secret_file.read_text().strip()
    for run in (first, second):
        header = json.loads(run.stderr.strip().splitlines()[-1])
        token = header["Authorization"].removeprefix("Bearer ")
        assert jwt.decode(token, secret, algorithms=["HS256"])["tenant"] == "default"


def test_serve_refuses_settings_it_cannot_honour(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    monkeypatch.setattr(uvicorn, "run", lambda app, **options: None)
    monkeypatch.setenv("AP_JWT_JWKS_URL", "https://idp.example/jwks.json")
    jwks_only = ok("serve")  # RS256 tokens from the identity provider: no dev secret, no dev token
    assert "identity provider" in jwks_only.stderr
    assert not (data_dir / DEV_SECRET_FILE).exists()
    no_secret = cli("token")
    assert no_secret.exit_code == 1
    one_red_line(no_secret, "AP_JWT_SECRET", "AP_JWT_JWKS_URL")
    monkeypatch.setenv("AP_JWT_SECRET", "short")
    too_short = cli("serve")
    assert too_short.exit_code == 1
    one_red_line(too_short, "AP_JWT_SECRET", "32 bytes")
