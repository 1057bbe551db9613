"""The ``run``, ``regenerate`` and ``operator`` commands, and the scaffolder's output passing its own test."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner, Result

from artifact_plane.cli.main import app
from artifact_plane.settings import Settings
from tests.plane_fixtures import REPO, settings_for

SURVEY = REPO / "realms/content/analyze/samples/dataset.json"


@pytest.fixture
def realms(tmp_path: Path) -> Path:
    """A private copy of the realms, so commands may add operators and bump versions."""
    target = tmp_path / "realms"
    shutil.copytree(REPO / "realms", target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


@pytest.fixture
def settings(tmp_path: Path, realms: Path) -> Settings:
    return settings_for(tmp_path, realms_dir=realms)


def cli(settings: Settings, *args: str) -> Result:
    return CliRunner().invoke(app, list(args), obj=settings)


def ok(settings: Settings, *args: str) -> Result:
    result = cli(settings, *args)
    assert result.exit_code == 0, result.output
    return result


def put_survey(settings: Settings, path: Path = SURVEY) -> str:
    uri = "artifact://content/datasets/cli.json"
    return ok(
        settings, "put", str(path), "--type", "dataset", "--uri", uri, "--realm", "content"
    ).stdout.strip()


def test_run_prints_the_execution_and_fails_clearly(settings: Settings) -> None:
    put_survey(settings)
    result = ok(
        settings, "run", "content", "analyze", "-i", "dataset=artifact://content/datasets/cli.json",
        "-p", "group_by=region", "-p", "name=cli", "--json",
    )  # fmt: skip
    document = json.loads(result.stdout)
    assert document["execution"]["status"] == "succeeded"
    assert document["execution"]["operator"] == "content.analyze@1.0.0"
    analysis = document["outputs"]["analysis"]
    shown = ok(settings, "get", analysis, "--output", "-").stdout
    assert json.loads(shown)["groups"]["south"]["mean"] == 5.0
    bad = cli(
        settings,
        "run",
        "content",
        "analyze",
        "-i",
        "dataset=artifact://content/datasets/cli.json",
        "-p",
        "name=Bad!",
    )
    assert bad.exit_code == 2
    assert "invalid params.name" in bad.stderr
    assert "fix it and try again" in bad.stderr
    unknown = cli(settings, "run", "content", "summon")
    assert unknown.exit_code == 1
    assert "this realm offers: analyze, lru_memory" in unknown.stderr
    malformed = cli(settings, "run", "content", "analyze", "--input", "dataset")
    assert malformed.exit_code == 2
    assert "is not name=value" in malformed.stderr


def test_a_failing_handler_exits_1_and_names_the_execution(settings: Settings, tmp_path: Path) -> None:
    empty = tmp_path / "empty.json"
    empty.write_text('{"name": "empty", "rows": []}')
    put_survey(settings, empty)
    failed = cli(settings, "run", "content", "analyze", "-i", "dataset=artifact://content/datasets/cli.json")
    assert failed.exit_code == 1
    assert "failed: ValueError: the dataset has no rows" in failed.stderr
    assert "failed" in failed.stdout


def test_operator_version_change_is_reported_stale_and_regenerate_refreshes(
    settings: Settings, realms: Path
) -> None:
    put_survey(settings)
    run = ok(
        settings, "run", "content", "analyze", "-i", "dataset=artifact://content/datasets/cli.json", "--json"
    )
    analysis = json.loads(run.stdout)["outputs"]["analysis"]
    assert ok(settings, "regenerate", analysis, "--check").stdout.strip() == f"{analysis} is fresh"
    manifest_path = realms / "content/analyze/artifact.yaml"
    manifest = yaml.safe_load(manifest_path.read_text())
    manifest["version"] = "1.0.1"
    manifest_path.write_text(yaml.safe_dump(manifest))
    stale = cli(settings, "regenerate", analysis, "--check", "--json")
    assert stale.exit_code == 3
    causes = json.loads(stale.stdout)["causes"]
    assert [(c["kind"], c["current_operator"]) for c in causes] == [
        ("operator_changed", "content.analyze@1.0.1")
    ]
    fresh = json.loads(ok(settings, "regenerate", analysis, "--json").stdout)
    assert fresh["execution"]["operator"] == "content.analyze@1.0.1"
    new_id = fresh["outputs"]["analysis"]
    assert ok(settings, "regenerate", new_id, "--check").stdout.strip() == f"{new_id} is fresh"


def test_operator_list_and_validate(settings: Settings, realms: Path) -> None:
    listed = json.loads(ok(settings, "operator", "list", "--json").stdout)
    refs = {f"{o['id']}@{o['version']}" for o in listed["operators"]}
    assert {"content.analyze@1.0.0", "builtin.lru_memory@1.0.0", "journey.create_workflow@1.0.0"} <= refs
    assert listed["problems"] == []
    checked = json.loads(ok(settings, "operator", "validate", "--json").stdout)
    assert len(checked) == len(refs)
    assert all(report["ok"] for report in checked)
    (realms / "content/analyze/artifact.yaml").write_text("id: content.analyze\nversion: one\n")
    broken = cli(settings, "operator", "validate", str(realms / "content/analyze"))
    assert broken.exit_code == 1
    assert "version" in broken.stdout
    assert "1 of 1 operators failed validation" in broken.stderr


def test_scaffolded_operator_validates_and_passes_its_own_test(settings: Settings, realms: Path) -> None:
    created = ok(settings, "operator", "new", "content", "summarise").stdout
    directory = realms / "content" / "summarise"
    for name in ("artifact.yaml", "handler.py", "test_summarise.py", "README.md", "samples/input.json"):
        assert (directory / name).is_file()
        assert str(directory / name) in created
    again = cli(settings, "operator", "new", "content", "summarise")
    assert again.exit_code == 1
    assert "exists already" in again.stderr
    assert cli(settings, "operator", "new", "content", "Bad-Name").exit_code == 2
    report = json.loads(ok(settings, "operator", "validate", str(directory), "--json").stdout)
    assert [c["name"] for c in report[0]["checks"] if c["ok"]] == ["manifest", "entrypoint", "sample", "run"]
    env = {**os.environ, "AP_REALMS_DIR": str(realms), "AP_POLICY_DIR": str(settings.policy_dir)}
    env.pop("AP_REGISTRY_URL", None)
    pytest_run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(directory)],
        cwd=realms.parent, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert pytest_run.returncode == 0, pytest_run.stdout + pytest_run.stderr
    assert "1 passed" in pytest_run.stdout
    ruff = str(Path(sys.executable).parent / "ruff")
    lint = subprocess.run(
        [ruff, "check", "--config", str(REPO / "pyproject.toml"), str(directory)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert lint.returncode == 0, lint.stdout


def test_scaffolding_a_new_realm_writes_its_manifest(settings: Settings, realms: Path) -> None:
    ok(settings, "operator", "new", "finance", "tally")
    manifest = yaml.safe_load((realms / "finance" / "realm.yaml").read_text())
    assert manifest["id"] == "finance"
    assert manifest["permissions"]["write"] == [{"to": "self", "paths": ["**"]}]
    report = json.loads(
        ok(settings, "operator", "validate", str(realms / "finance" / "tally"), "--json").stdout
    )
    assert report[0]["ok"], report
