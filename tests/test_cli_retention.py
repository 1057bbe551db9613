"""``artifact-plane retention set``, through typer's CliRunner, on a fresh embedded plane per test."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from tests.cli_env import cli, use_embedded_default


@pytest.fixture
def artifact_id(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """An artifact in the embedded default in ``tmp_path``, configured through AP_* variables."""
    use_embedded_default(tmp_path, monkeypatch)
    source = tmp_path / "note.txt"
    source.write_text("kept a while")
    made = cli("put", str(source), "--type", "note", "--realm", "insights", "--roles", "writer")
    assert made.exit_code == 0, made.output
    return made.stdout.strip()


def set_json(*args: str) -> dict[str, object]:
    result = cli("retention", "set", *args, "--json")
    assert result.exit_code == 0, result.output
    document: dict[str, object] = json.loads(result.stdout)
    return document


def test_a_steward_sets_and_clears_retention(artifact_id: str) -> None:
    record = set_json(artifact_id, "--policy", "keep-7y", "--ttl", "3600")
    assert (record["retention_policy"], record["ttl"]) == ("keep-7y", 3600)
    created = datetime.fromisoformat(str(record["created_at"]))
    assert datetime.fromisoformat(str(record["expires_at"])) == created + timedelta(seconds=3600)
    # What is not given is kept; --no-ttl and --clear-policy clear.
    record = set_json(artifact_id, "--no-ttl")
    assert (record["retention_policy"], record["ttl"], record["expires_at"]) == ("keep-7y", None, None)
    record = set_json(artifact_id, "--clear-policy")
    assert (record["retention_policy"], record["ttl"]) == (None, None)
    table = cli("retention", "set", artifact_id, "--ttl", "60")
    assert table.exit_code == 0, table.output
    assert re.search(r"\bttl\b\W+60\b", table.stdout), table.stdout


def test_refusals_say_what_to_do(artifact_id: str) -> None:
    denied = cli("retention", "set", artifact_id, "--ttl", "5", "--roles", "writer")
    assert denied.exit_code == 1
    assert "roles: subject cli with roles writer may not retention" in denied.stderr
    assert "act with a role or realm allowed to retention" in denied.stderr
    nothing = cli("retention", "set", artifact_id)
    assert nothing.exit_code == 2
    assert "give retention_policy and/or ttl" in nothing.stderr
    both = cli("retention", "set", artifact_id, "--ttl", "5", "--no-ttl")
    assert both.exit_code == 2
    assert "exclude each other" in both.stderr
    bad = cli("retention", "set", artifact_id, "--policy", "keep 7 years")
    assert bad.exit_code == 2
    assert "retention_policy" in bad.stderr
    missing = cli("retention", "set", "no-such-artifact", "--ttl", "5")
    assert missing.exit_code == 1
    assert "not found" in missing.stderr.lower()
    # None of it changed anything.
    assert set_json(artifact_id, "--ttl", "7")["retention_policy"] is None
