"""Realm manifests: loading, validation, and the data document handed to policies."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from artifact_plane.errors import ConfigurationError
from artifact_plane.realms_manifest import load_realm_manifests, policy_data

ROOT = Path(__file__).resolve().parents[1]
POLICY_DIR = ROOT / "policies"
REALMS_DIR = ROOT / "realms"


def realm_data() -> dict[str, Any]:
    return policy_data(load_realm_manifests(REALMS_DIR))


# --------------------------------------------------------------------------- realm manifests


def test_real_manifests_load() -> None:
    manifests = load_realm_manifests(REALMS_DIR)
    assert {realm: m.produces for realm, m in manifests.items()} == {
        "content": ("analysis_result", "visualization", "dataset"),
        "insights": ("interpretation", "quality_report"),
        "journey": ("blueprint", "sop", "workflow"),
        "outcomes": ("roadmap", "poc", "solution"),
    }
    for manifest in manifests.values():
        assert [(w.to, w.paths) for w in manifest.permissions.write] == [("self", ("**",))]


def test_policy_data_uses_manifest_keys() -> None:
    outcomes = realm_data()["realms"]["outcomes"]
    assert outcomes["permissions"]["read"][0] == {
        "from": "insights",
        "paths": ["**"],
        "allowedTypes": ["interpretation"],
    }
    content = policy_data(load_realm_manifests(REALMS_DIR))["realms"]["content"]
    assert "allowedTypes" not in json.dumps(content["permissions"])  # absent, not null, when not given
    assert "allowedTypes" not in content["content"]  # the landing realm takes any type
    assert content["content"]["sensitiveTypes"] == ["personal_data"]
    journey = realm_data()["realms"]["journey"]["content"]
    assert journey["allowedTypes"] == ["blueprint", "sop", "workflow"]
    insights = realm_data()["realms"]["insights"]["content"]
    assert insights == {"maxSizeBytes": 64 * 1024 * 1024, "sensitiveTypes": []}


def write_manifest(root: Path, directory: str, text: str) -> Path:
    path = root / directory / "realm.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "field", "reason"),
    [
        ("id: x\nbogus: 1\n", "bogus", "Extra inputs are not permitted"),
        (
            "id: x\npermissions:\n  read:\n    - from: 'a b'\n",
            "permissions.read[0].from",
            "'self' or a realm id",
        ),
        (
            "id: x\npermissions:\n  write:\n    - to: self\n      paths: ['../up']\n",
            "permissions.write[0].paths",
            "no '..'",
        ),
        (
            "id: x\npermissions:\n  write:\n    - to: self\n      paths: []\n",
            "permissions.write[0].paths",
            "at least one",
        ),
        ("id: x\nproduces: report\n", "produces", "tuple"),
        ("- just a list\n", "realm.yaml", "must be a mapping"),
    ],
)
def test_invalid_manifest_names_file_and_field(tmp_path: Path, text: str, field: str, reason: str) -> None:
    path = write_manifest(tmp_path, "x", text)
    with pytest.raises(ConfigurationError) as info:
        load_realm_manifests(tmp_path)
    assert str(path) in str(info.value)
    assert field in str(info.value)
    assert reason in str(info.value)


def test_manifest_id_must_match_directory(tmp_path: Path) -> None:
    write_manifest(tmp_path, "insights", "id: outcomes\n")
    with pytest.raises(ConfigurationError, match=r"insights/realm\.yaml: id.*'outcomes' must equal"):
        load_realm_manifests(tmp_path)


def test_manifest_naming_an_unknown_realm_is_rejected(tmp_path: Path) -> None:
    write_manifest(tmp_path, "outcomes", "id: outcomes\npermissions:\n  read:\n    - from: insight\n")
    with pytest.raises(ConfigurationError, match="names realms with no manifest: insight"):
        load_realm_manifests(tmp_path)


def test_unreadable_manifest_dir_and_yaml(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="AP_REALMS_DIR"):
        load_realm_manifests(tmp_path / "nope")
    write_manifest(tmp_path, "x", "id: [unclosed\n")
    with pytest.raises(ConfigurationError, match=r"x/realm\.yaml.*cannot read the manifest"):
        load_realm_manifests(tmp_path)
