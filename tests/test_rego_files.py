"""The Rego unit tests (*_test.rego beside each policy), run one file per process."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from artifact_plane.realms_manifest import load_realm_manifests, policy_data

ROOT = Path(__file__).resolve().parents[1]
POLICY_DIR = ROOT / "policies"
REALMS_DIR = ROOT / "realms"


def realm_data() -> dict[str, Any]:
    return policy_data(load_realm_manifests(REALMS_DIR))


def copy_policies(tmp_path: Path) -> Path:
    target = tmp_path / "policies"
    shutil.copytree(POLICY_DIR, target)
    return target


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{path.name} no longer contains {old!r}: update the test"
    path.write_text(text.replace(old, new))


# --------------------------------------------------------------------------- the Rego unit tests

# Run in a child process: argv = policy dir, test file; stdin = data JSON;
# stdout = {"test_name": "pass" | "<what the query answered>"}.
_RUNNER = r"""
import json, re, sys
from pathlib import Path
from regopy import Interpreter, LogLevel

policy_dir, test_file = Path(sys.argv[1]), Path(sys.argv[2])
rego = Interpreter()
rego.log_level = LogLevel.NONE
for path in sorted(policy_dir.rglob("*.rego")):
    if not path.name.endswith("_test.rego"):
        rego.add_module(path.relative_to(policy_dir).as_posix(), path.read_text())
text = test_file.read_text()
rego.add_module(test_file.name, text)
rego.add_data_json(sys.stdin.read())
package = re.search(r"^package\s+([\w.]+)", text, re.M).group(1)
results = {}
for name in dict.fromkeys(re.findall(r"^(test_\w+)", text, re.M)):
    try:
        output = rego.query(f"data.{package}.{name}")
        passed = output.ok() and len(output) == 1 and output[0].expressions == [True]
        results[name] = "pass" if passed else str(output)[:500]
    except Exception as exc:
        results[name] = f"{type(exc).__name__}: {exc}"[:500]
print(json.dumps(results))
"""

_CODE_ONLY = re.compile(r'"(?:\\.|[^"\\\n])*"|`[^`]*`|#[^\n]*')


def rego_test_names(text: str) -> list[str]:
    return re.findall(r"^(test_\w+)", text, re.MULTILINE)


def lint_rego_tests(text: str) -> list[str]:
    """What a test file must not do under regopy 1.5, each with the reason."""
    problems = []
    code = _CODE_ONLY.sub('""', text)
    if re.search(r"\bwith\s+(input|data)\b", code):
        problems.append(
            "uses `with input/data ...`: regopy crashes on `with input as`, ignores `as <rule>`, and "
            "compiles each `with` for seconds; pass requests to the policy functions instead"
        )
    names = rego_test_names(text)
    doubled = sorted({name for name in names if names.count(name) > 1})
    if doubled:
        problems.append(
            f"defines {', '.join(doubled)} more than once (the bodies are ORed: one can hide another)"
        )
    return problems


def run_rego_tests(policy_dir: Path, test_file: Path, data: dict[str, Any]) -> dict[str, str]:
    """``{test name: "pass" | why it failed}`` for every ``test_*`` rule of ``test_file``."""
    text = test_file.read_text()
    names = rego_test_names(text)
    problems = lint_rego_tests(text)
    if problems:
        return dict.fromkeys(names, "; ".join(problems))
    proc = subprocess.run(
        [sys.executable, "-c", _RUNNER, str(policy_dir), str(test_file)],
        input=json.dumps(data),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if proc.returncode != 0:
        why = f"runner exited with {proc.returncode}: {proc.stderr.strip()[-500:]}"
        return dict.fromkeys(names, why)
    results: dict[str, str] = json.loads(proc.stdout)
    return {name: results.get(name, "not run") for name in names}


REGO_TEST_FILES = sorted(POLICY_DIR.glob("*_test.rego"))
REGO_TESTS = [
    (path.name, name) for path in REGO_TEST_FILES for name in dict.fromkeys(rego_test_names(path.read_text()))
]


@pytest.fixture(scope="module")
def rego_results() -> dict[str, dict[str, str]]:
    data = realm_data()
    return {path.name: run_rego_tests(POLICY_DIR, path, data) for path in REGO_TEST_FILES}


@pytest.mark.parametrize(("test_file", "test_name"), REGO_TESTS, ids=[f"{f}::{n}" for f, n in REGO_TESTS])
def test_rego(rego_results: dict[str, dict[str, str]], test_file: str, test_name: str) -> None:
    assert rego_results[test_file][test_name] == "pass"


def test_every_policy_has_rego_tests_beside_it() -> None:
    policies = {p.stem for p in POLICY_DIR.glob("*.rego") if not p.name.endswith("_test.rego")}
    tested = {p.name.removesuffix("_test.rego") for p in REGO_TEST_FILES if rego_test_names(p.read_text())}
    assert policies
    assert policies <= tested, f"no *_test.rego with test_ rules for: {sorted(policies - tested)}"


# A deliberately broken rule must make the Rego tests fail, or they test nothing.
MUTATIONS = [
    (
        "tenant.rego",
        "req.subject.tenant == req.resource.tenant_id",
        'req.subject.tenant != ""',
        "tenant_test.rego",
        "test_cross_tenant_denied_with_reason",
    ),
    (
        "roles.rego",
        '"reader": {"read", "list", "lineage.read", "export"}',
        '"reader": {"read", "list", "lineage.read", "export", "delete"}',
        "roles_test.rego",
        "test_reader_reads_lists_and_reads_lineage_only",
    ),
    (
        "roles.rego",
        '"writer": {"read", "list", "lineage.read", "export", "create", "update", "lineage.register"}',
        '"writer": {"read", "list", "lineage.read", "export", "create", "update", "lineage.register", '
        '"delete"}',
        "roles_test.rego",
        "test_only_stewards_delete_or_change_retention",
    ),
    (
        "realms.rego",
        'glob.match(pattern, ["/"], place.path)',
        "pattern",
        "realms_test.rego",
        "test_write_own_realm_outside_globs_denied",
    ),
    (
        "realms.rego",
        "type_allowed(rule, req.resource)\n",
        "\n",
        "realms_test.rego",
        "test_read_other_realm_by_type",
    ),
    # Two concerns ignored: the request with three allowing concerns must no longer pass.
    (
        "decision.rego",
        "== count(answers)",
        "== count(answers) - 2",
        "decision_test.rego",
        "test_every_objection_is_reported_sorted",
    ),
    (
        "content.rego",
        "req.resource.size_bytes > rules.maxSizeBytes",
        "req.resource.size_bytes > rules.maxSizeBytes + 1",
        "content_test.rego",
        "test_one_byte_over_the_limit_is_refused",
    ),
    (
        "content.rego",
        'not has_text(object.get(req.resource, "retention_policy", null))',
        'has_text(object.get(req.resource, "retention_policy", null))',
        "content_test.rego",
        "test_a_sensitive_type_needs_a_retention_policy",
    ),
    (
        "classification.rego",
        'export_blocked(object.get(req.resource, "inherited_tags", []))',
        "[]",
        "classification_test.rego",
        "test_pii_inherited_along_lineage_is_not_exported",
    ),
]


@pytest.mark.parametrize(
    ("policy", "old", "new", "test_file", "test_name"), MUTATIONS, ids=[m[0] + ":" + m[4] for m in MUTATIONS]
)
def test_broken_rule_fails_its_rego_tests(
    tmp_path: Path, policy: str, old: str, new: str, test_file: str, test_name: str
) -> None:
    policies = copy_policies(tmp_path)
    edit(policies / policy, old, new)
    results = run_rego_tests(policies, policies / test_file, realm_data())
    assert results[test_name] != "pass"


def test_runner_lint_rejects_with_modifiers(tmp_path: Path) -> None:
    policies = copy_policies(tmp_path)
    (policies / "extra_test.rego").write_text(
        "package artifact_plane.authz.tenant\n\n# with input as x is fine in a comment\n"
        'test_a if { "with input as" == "with input as" }\n'
        "test_b if { assess(x) with input.subject as {} }\n"
    )
    results = run_rego_tests(policies, policies / "extra_test.rego", {})
    assert set(results) == {"test_a", "test_b"}
    assert all("with input/data" in why for why in results.values())
