"""The CLI as a user runs it: the embedded default configured through AP_* variables, typer's runner."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from artifact_plane.cli.main import app

REPO = Path(__file__).resolve().parents[1]
AP_VARIABLES = ("AP_REGISTRY_URL", "AP_PAYLOADS_URL", "AP_LINEAGE_URL", "AP_POLICY_URL", "AP_JWT_SECRET")


def use_embedded_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point every AP_* setting at a fresh embedded plane under ``tmp_path``; return its data dir."""
    for name in AP_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env
    monkeypatch.setenv("AP_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("AP_POLICY_DIR", str(REPO / "policies"))
    monkeypatch.setenv("AP_REALMS_DIR", str(REPO / "realms"))
    monkeypatch.setenv("COLUMNS", "250")  # rich tables and trees unwrapped
    return tmp_path / "data"


def cli(*args: str, input: bytes | str | None = None) -> Result:
    return CliRunner().invoke(app, list(args), input=input)
