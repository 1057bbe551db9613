"""The policy set as pushed to the server: the ``*.rego`` files of ``AP_POLICY_DIR`` and the data.

The revision is computed exactly as :class:`~artifact_plane.adapters.rego.RegoPolicyEngine`
computes it (SHA-256 over the sorted ``(name, text)`` files and the
canonical data JSON, ``decision_inputs.json`` included), so the same files and
data are the same revision in the log whichever engine decided.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from artifact_plane.errors import ConfigurationError

TEST_SUFFIX = "_test.rego"
DECISION_INPUTS = "decision_inputs.json"


@dataclass(frozen=True)
class PolicySet:
    """What is pushed: policy modules by relative name, the data document, their revision."""

    files: tuple[tuple[str, str], ...]
    data: Mapping[str, Any]
    revision: str
    signature: tuple[tuple[str, int, int], ...]

    @property
    def modules(self) -> list[tuple[str, str]]:
        return [(name, text) for name, text in self.files if name.endswith(".rego")]


def canonical_json(data: Mapping[str, Any]) -> str:
    try:
        return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ConfigurationError("policy data", f"must be JSON: {exc}") from exc


def revision_of(files: Sequence[tuple[str, str]], data_json: str) -> str:
    digest = hashlib.sha256()
    for name, text in sorted(files):
        digest.update(name.encode() + b"\0" + text.encode() + b"\0")
    digest.update(b"data\0" + data_json.encode())
    return digest.hexdigest()


def _paths(policy_dir: Path) -> list[Path]:
    paths = sorted(p for p in policy_dir.rglob("*.rego") if p.is_file() and not p.name.endswith(TEST_SUFFIX))
    declared = policy_dir / DECISION_INPUTS
    return [*paths, declared] if declared.is_file() else paths


def signature_of(policy_dir: Path) -> tuple[tuple[str, int, int], ...]:
    """A cheap change check: each file's name, mtime and size."""
    return tuple(
        (p.relative_to(policy_dir).as_posix(), p.stat().st_mtime_ns, p.stat().st_size)
        for p in _paths(policy_dir)
    )


def read_policy_set(policy_dir: Path, data: Mapping[str, Any]) -> PolicySet:
    """Read the policy files.

    Raises:
        ConfigurationError: not a directory, unreadable, no ``.rego`` file, or data that is not JSON.
    """
    if not policy_dir.is_dir():
        raise ConfigurationError("AP_POLICY_DIR", f"{policy_dir} is not a directory")
    data_json = canonical_json(data)
    try:
        signature = signature_of(policy_dir)
        files = tuple(
            (p.relative_to(policy_dir).as_posix(), p.read_text(encoding="utf-8")) for p in _paths(policy_dir)
        )
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError("AP_POLICY_DIR", f"cannot read policies in {policy_dir}: {exc}") from exc
    if not any(name.endswith(".rego") for name, _ in files):
        raise ConfigurationError("AP_POLICY_DIR", f"{policy_dir} holds no .rego policy files")
    return PolicySet(files, json.loads(data_json), revision_of(files, data_json), signature)
