"""The operator registry: manifests, discovery, semver resolution, loading and validation."""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from artifact_plane.errors import ConfigurationError, InvalidInputError, NotFoundError
from artifact_plane.operators import BUILTIN_DIR, OperatorRegistry
from artifact_plane.operators.loading import load_handler
from artifact_plane.operators.manifest import load_manifest, parse_manifest
from artifact_plane.operators.schemas import sample
from artifact_plane.operators.validate import validate_directory
from artifact_plane.settings import Settings
from artifact_plane.testing import ArtifactContext
from tests.plane_fixtures import REPO, settings_for

BASE: dict[str, Any] = {
    "id": "test.echo",
    "version": "1.0.0",
    "scope": "content",
    "category": "testing",
    "description": "Writes its label.",
    "entrypoint": "handler:run",
    "input_schema": {"type": "object", "properties": {"label": {"type": "string", "default": "hi"}}},
    "output_schema": {"type": "object", "required": ["note"], "properties": {"note": {"type": "string"}}},
}
HANDLER = """\
async def run(ctx):
    art = await ctx.write("notes/" + ctx.params["label"] + ".txt", "{text}", artifact_type="note")
    return {{"note": art}}
"""


def make(root: Path, folder: str, *, text: str = "v1", handler: str | None = None, **changes: Any) -> Path:
    directory = root / folder
    directory.mkdir(parents=True)
    manifest = {**BASE, **changes}
    (directory / "artifact.yaml").write_text(yaml.safe_dump(manifest))
    (directory / "handler.py").write_text(handler if handler is not None else HANDLER.format(text=text))
    return directory


# ------------------------------------------------------------------ manifests


def test_every_shipped_manifest_is_valid_and_discovered() -> None:
    registry = OperatorRegistry.discover([BUILTIN_DIR, REPO / "realms"], strict=False)
    assert registry.problems == []
    refs = {m.ref for m in registry.all()}
    assert {
        "content.analyze@1.0.0",
        "content.visualize@1.0.0",
        "insights.interpret@1.0.0",
        "insights.quality_report@1.0.0",
        "outcomes.create_roadmap@1.0.0",
        "outcomes.create_poc@1.0.0",
        "outcomes.create_solution@1.0.0",
        "journey.create_blueprint@1.0.0",
        "journey.create_sop@1.0.0",
        "journey.create_workflow@1.0.0",
        "builtin.sparse_attention@1.0.0",
        "builtin.sliding_window@1.0.0",
        "builtin.tensor_parallel@1.0.0",
        "builtin.pipeline_parallel@1.0.0",
        "builtin.lru_memory@1.0.0",
    } <= refs
    for manifest in registry.all():
        if manifest.scope != "any":
            assert manifest.directory.parent.name == manifest.scope  # realms/<realm>/<operator>/


@pytest.mark.parametrize(
    ("changes", "field", "reason"),
    [
        ({"id": "Analyze"}, "id", "dotted lower-case names"),
        ({"version": "1.0"}, "version", "not a semantic version"),
        ({"entrypoint": "../evil.py:run"}, "entrypoint", "inside the operator's directory"),
        ({"entrypoint": "handler"}, "entrypoint", "'module:callable'"),
        ({"input_schema": {"type": 5}}, "input_schema", "not a valid JSON Schema"),
        ({"output_schema": {"type": "array"}}, "output_schema", "must describe an object"),
        ({"description": "  "}, "description", "say in a sentence"),
        ({"surprise": True}, "surprise", "Extra inputs are not permitted"),
        (
            {"inputs": {"data": {"artifact_type": "dataset", "sample": "../../etc/passwd"}}},
            "inputs.data.sample",
            "no '..'",
        ),
        ({"inputs": {"Data": {"artifact_type": "dataset"}}}, "inputs", "input name 'Data'"),
    ],
)
def test_invalid_manifests_name_the_file_and_field(changes: dict[str, Any], field: str, reason: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        parse_manifest({**BASE, **changes}, "ops/x/artifact.yaml", Path("ops/x"))
    assert caught.value.field == f"ops/x/artifact.yaml: {field}"
    assert reason in caught.value.reason


def test_missing_fields_and_non_mappings_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="id"):
        parse_manifest({k: v for k, v in BASE.items() if k != "id"}, "m", tmp_path)
    bad = tmp_path / "artifact.yaml"
    bad.write_text("- just\n- a list\n")
    with pytest.raises(InvalidInputError, match="must be a mapping"):
        load_manifest(bad)
    bad.write_text("id: [unclosed\n")
    with pytest.raises(InvalidInputError, match="cannot read the manifest"):
        load_manifest(bad)


def test_intent_defaults_to_the_last_segment_of_the_id(tmp_path: Path) -> None:
    manifest = parse_manifest({**BASE, "id": "content.make_chart"}, "m", tmp_path)
    assert (manifest.intent, manifest.ref) == ("make_chart", "content.make_chart@1.0.0")


# ------------------------------------------------------------------ discovery


def test_discovery_is_strict_by_default_and_collects_problems_when_asked(tmp_path: Path) -> None:
    make(tmp_path, "good")
    make(tmp_path, "bad", id="test.bad", version="one")
    with pytest.raises(ConfigurationError) as caught:
        OperatorRegistry.discover([tmp_path])
    assert str(tmp_path / "bad" / "artifact.yaml") in str(caught.value)
    lenient = OperatorRegistry.discover([tmp_path], strict=False)
    assert [m.ref for m in lenient.all()] == ["test.echo@1.0.0"]
    assert [p.source for p in lenient.problems] == [f"{tmp_path / 'bad' / 'artifact.yaml'}: version"]


def test_versions_resolve_by_semver_and_pin(tmp_path: Path) -> None:
    for version in ("1.0.0", "1.10.0", "1.9.0", "2.0.0-rc.1"):
        make(tmp_path, f"echo-{version}", version=version)
    registry = OperatorRegistry.discover([tmp_path])
    assert [m.version for m in registry.versions("test.echo")] == ["1.0.0", "1.9.0", "1.10.0", "2.0.0-rc.1"]
    assert registry.get("test.echo").version == "2.0.0-rc.1"  # a pre-release of 2 is still newer than 1.10
    assert registry.get("test.echo@1.9.0").version == "1.9.0"
    assert registry.find("content", "echo@1.10.0").version == "1.10.0"
    with pytest.raises(NotFoundError, match=r"known versions: 1\.0\.0, 1\.9\.0, 1\.10\.0"):
        registry.get("test.echo@3.0.0")
    with pytest.raises(InvalidInputError):
        registry.get("test.echo@latest")
    with pytest.raises(NotFoundError, match=r"known: test\.echo"):
        registry.get("test.nothing")


def test_conflicting_manifests_are_refused(tmp_path: Path) -> None:
    make(tmp_path / "a", "echo")
    make(tmp_path / "b", "echo")
    with pytest.raises(ConfigurationError, match=r"test.echo@1\.0\.0 is already defined"):
        OperatorRegistry.discover([tmp_path / "a", tmp_path / "b"])
    make(tmp_path / "c", "other", id="test.other", intent="echo")
    with pytest.raises(ConfigurationError, match=r"already served by test\.echo"):
        OperatorRegistry.discover([tmp_path / "a", tmp_path / "c"])


def test_intents_resolve_in_the_realm_before_builtin(tmp_path: Path) -> None:
    make(tmp_path, "realm-echo")
    make(tmp_path, "any-echo", id="builtin.echo", scope="any")
    registry = OperatorRegistry.discover([tmp_path])
    assert registry.find("content", "echo").id == "test.echo"
    assert registry.find("insights", "echo").id == "builtin.echo"
    with pytest.raises(NotFoundError, match="serves realm content, not insights"):
        registry.find("insights", "test.echo")
    with pytest.raises(NotFoundError, match="this realm offers: echo"):
        registry.find("journey", "summon")


# -------------------------------------------------------------------- loading


def test_handlers_load_once_from_their_own_directory_per_version(tmp_path: Path) -> None:
    one = make(tmp_path, "v1", text="one")
    two = make(tmp_path, "v2", text="two", version="2.0.0")
    (two / "helpers.py").write_text("WORD = 'sibling'\n")
    (two / "handler.py").write_text(
        "from .helpers import WORD\n\nasync def run(ctx):\n    return {'word': WORD}\n"
    )
    registry = OperatorRegistry.discover([tmp_path])
    first = registry.handler(registry.get("test.echo@1.0.0"))
    assert registry.handler(registry.get("test.echo@1.0.0")) is first  # cached
    second = registry.handler(registry.get("test.echo@2.0.0"))
    assert second is not first
    assert first.__module__ != second.__module__
    assert second.__globals__["WORD"] == "sibling"  # relative import of its own sibling
    assert '"one"' in (one / "handler.py").read_text()


@pytest.mark.parametrize(
    ("entrypoint", "files", "reason"),
    [
        ("json:dumps", {}, "module 'json' not found"),  # the stdlib's json is never imported
        (
            "handler:missing",
            {"handler.py": "async def run(ctx):\n    return {}\n"},
            "has no attribute 'missing'",
        ),
        ("handler:run", {"handler.py": "def run(ctx):\n    return {}\n"}, "must be an 'async def'"),
        (
            "handler:run",
            {"handler.py": "raise SystemError('boom at import')\n"},
            "SystemError: boom at import",
        ),
    ],
)
def test_bad_entrypoints_are_refused(
    tmp_path: Path, entrypoint: str, files: dict[str, str], reason: str
) -> None:
    directory = make(tmp_path, "op", handler="", entrypoint=entrypoint)
    (directory / "handler.py").unlink()
    for name, text in files.items():
        (directory / name).write_text(text)
    with pytest.raises(InvalidInputError, match=reason):
        load_handler(load_manifest(directory / "artifact.yaml"))


def test_a_module_symlinked_out_of_the_directory_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside.py"
    outside.write_text("async def run(ctx):\n    return {}\n")
    directory = make(tmp_path, "op", handler="")
    (directory / "handler.py").unlink()
    os.symlink(outside, directory / "handler.py")
    with pytest.raises(InvalidInputError, match="leaves the operator directory"):
        load_handler(load_manifest(directory / "artifact.yaml"))


# ------------------------------------------------------------------ samples


def test_samples_come_from_examples_defaults_and_required_fields() -> None:
    schema = {
        "type": "object",
        "required": ["n", "name", "tags", "mode"],
        "properties": {
            "n": {"type": "integer", "minimum": 3},
            "name": {"type": "string", "minLength": 8},
            "tags": {"type": "array", "minItems": 2, "items": {"type": "string", "examples": ["t"]}},
            "mode": {"enum": ["fast", "slow"]},
            "optional": {"type": "string"},
        },
    }
    assert sample(schema) == {"n": 3, "name": "samplexx", "tags": ["t", "t"], "mode": "fast"}
    assert sample({"type": "object", "examples": [{"x": 1}]}) == {"x": 1}


# ------------------------------------------------------------------ validation


async def test_validation_runs_the_operator_on_a_sample(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    good = make(tmp_path / "ops", "good")
    report = await validate_directory(good, settings)
    assert report.ok, report.checks
    assert [c.name for c in report.checks] == ["manifest", "entrypoint", "sample", "run"]
    assert "note=" in report.checks[-1].detail


async def test_validation_reports_each_failure(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    ops = tmp_path / "ops"
    crash = make(ops, "crash", handler="async def run(ctx):\n    raise KeyError('label')\n")
    report = await validate_directory(crash, settings)
    assert not report.ok
    assert report.checks[-1].name == "run"
    assert "KeyError" in report.checks[-1].detail
    needs_sample = make(ops, "needs", inputs={"data": {"artifact_type": "dataset"}})
    report = await validate_directory(needs_sample, settings)
    assert "give a sample file" in report.checks[-1].detail
    unsatisfiable = make(
        ops,
        "unsat",
        input_schema={
            "type": "object",
            "required": ["x"],
            "properties": {"x": {"type": "string", "pattern": "^[0-9]+$"}},
        },
    )
    report = await validate_directory(unsatisfiable, settings)
    assert (report.checks[-1].name, report.checks[-1].ok) == ("sample", False)
    broken = ops / "broken"
    broken.mkdir()
    (broken / "artifact.yaml").write_text(textwrap.dedent("id: x\n"))
    report = await validate_directory(broken, settings)
    assert [(c.name, c.ok) for c in report.checks] == [("manifest", False)]


def test_configured_operator_directories_are_scanned(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    extra = tmp_path / "extra-ops"
    make(extra, "echo")
    monkeypatch.setenv("AP_OPERATOR_DIRS", f'["{extra}"]')
    settings = Settings(realms_dir=REPO / "realms", _env_file=None)  # type: ignore[call-arg]
    assert settings.operator_dirs == [extra]
    registry = OperatorRegistry.from_settings(settings)
    assert registry.find("content", "echo").directory == (extra / "echo").resolve()
    assert registry.find("content", "analyze").id == "content.analyze"
    assert registry.get("builtin.sliding_window").scope == "any"


def test_artifact_context_fixture_runs_an_operator_in_isolation(artifact_context: ArtifactContext) -> None:
    """The pytest11 plugin's fixture: a realm operator with the caller's own input bytes and params."""
    analysis = {"column": "load", "overall": {"min": 1, "p25": 2, "median": 3, "p75": 4, "max": 8}}
    run = artifact_context.run(
        REPO / "realms/content/visualize",
        params={"name": "mine", "title": "Load"},
        inputs={"analysis": json.dumps(analysis).encode()},
    )
    assert run.ok, run.error
    assert run.execution.operator == "content.visualize@1.0.0"
    assert run.content_types["chart"] == "image/svg+xml"
    svg = run.text("chart")
    assert "<title>Load</title>" in svg
    assert [line.split('data-label="')[1].split('"')[0] for line in svg.splitlines() if "<rect" in line] == [
        "min",
        "p25",
        "median",
        "p75",
        "max",
    ]
    failed = artifact_context.run(REPO / "realms/content/visualize", inputs={"analysis": b"not json"})
    assert not failed.ok
    assert "is not JSON" in (failed.error or "")
