"""The Rego engine decides once per distinct combination of what the policies read."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from artifact_plane.adapters.rego import RegoPolicyEngine
from artifact_plane.models import PolicyInput, Subject
from artifact_plane.realms_manifest import load_realm_manifests, policy_data
from tests.plane_fixtures import REPO

POLICIES = REPO / "policies"
# resource.<field>, resource["<field>"] and object.get(<x>.resource, "<field>", ...)
FIELD_READS = re.compile(
    r"""resource\.(?P<dot>[a-z_]+)|resource\[\s*"(?P<index>[a-z_]+)"\s*\]"""
    r"""|object\.get\(\s*[\w.]*resource\s*,\s*"(?P<get>[a-z_]+)\"""",
)


def declared_fields() -> set[str]:
    return set(json.loads((POLICIES / "decision_inputs.json").read_text())["resource"])


def test_every_resource_field_a_policy_reads_is_declared() -> None:
    read: set[str] = set()
    for path in POLICIES.glob("*.rego"):
        if path.name.endswith("_test.rego"):
            continue
        for match in FIELD_READS.finditer(path.read_text()):
            read.add(next(group for group in match.groups() if group))
    assert read, "the scan found no resource field reads: the pattern no longer matches the policies"
    undeclared = read - declared_fields()
    assert not undeclared, f"policies read {sorted(undeclared)}; add them to policies/decision_inputs.json"


def _engine(policy_dir: Path = POLICIES) -> RegoPolicyEngine:
    return RegoPolicyEngine(policy_dir, policy_data(load_realm_manifests(REPO / "realms")), reload_interval=0)


def _request(
    artifact_id: str, *, realm: str = "insights", subject_realm: str | None = "insights"
) -> PolicyInput:
    subject = Subject(id="alice", tenant="acme", roles=("writer",), realm=subject_realm)
    resource = {
        "tenant_id": "acme",
        "realm": realm,
        "artifact_type": "report",
        "artifact_id": artifact_id,
        "sha256": artifact_id * 2,
        "size_bytes": len(artifact_id),
    }
    return PolicyInput(subject=subject, action="read", resource=resource)


async def test_a_batch_that_differs_only_in_unread_fields_is_one_evaluation() -> None:
    engine = _engine()
    decisions = await engine.decide_many([_request(f"a{n:031d}") for n in range(200)])
    assert engine.evaluations == 1
    assert all(d.allow for d in decisions)
    assert len({(d.allow, d.reasons, d.revision) for d in decisions}) == 1


async def test_a_read_field_that_differs_is_decided_separately() -> None:
    engine = _engine()
    allowed, denied = await engine.decide_many(
        [_request("a" * 32), _request("b" * 32, realm="outcomes", subject_realm="content")]
    )
    assert engine.evaluations == 2
    assert allowed.allow
    assert not denied.allow
    assert any("realm_read" in reason for reason in denied.reasons)
    # Cached across calls too, and still the right answer for each combination.
    again = await engine.decide_many([_request("c" * 32, realm="outcomes", subject_realm="content")])
    assert engine.evaluations == 2
    assert again[0].reasons == denied.reasons


async def test_a_policy_change_is_never_answered_from_the_cache(tmp_path: Path) -> None:
    policy_dir = tmp_path / "policies"
    shutil.copytree(POLICIES, policy_dir, ignore=shutil.ignore_patterns("*_test.rego"))
    engine = _engine(policy_dir)
    assert (await engine.decide(_request("a" * 32))).allow
    roles = policy_dir / "roles.rego"
    text = roles.read_text().replace('"reader": ', '"nobody": ').replace('"writer": ', '"nobody2": ')
    roles.write_text(text)
    after = await engine.decide(_request("a" * 32))
    assert not after.allow
    assert engine.evaluations == 2


def test_a_malformed_declaration_is_a_configuration_error(tmp_path: Path) -> None:
    from artifact_plane.errors import ConfigurationError

    policy_dir = tmp_path / "policies"
    shutil.copytree(POLICIES, policy_dir, ignore=shutil.ignore_patterns("*_test.rego"))
    (policy_dir / "decision_inputs.json").write_text('{"resource": "realm"}')
    with pytest.raises(ConfigurationError, match=r"decision_inputs\.json"):
        _engine(policy_dir)
