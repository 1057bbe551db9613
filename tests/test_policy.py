"""Policy engines (contract), the Rego policies through the engine, and the Rego unit tests.

The ``*_test.rego`` files beside the policies run here: each file in a child
process (a regopy crash then fails its tests instead of killing pytest), each
``test_*`` rule queried and required to be exactly ``true``.
"""

from __future__ import annotations

import asyncio
import logging
import re
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from artifact_plane.adapters.memory.policy import MemoryPolicyEngine, tenant_isolation
from artifact_plane.adapters.rego import RegoPolicyEngine
from artifact_plane.errors import BackendUnavailableError, ConfigurationError
from artifact_plane.models import PolicyDecision, PolicyInput, Subject
from artifact_plane.ports.policy import PolicyEngine
from artifact_plane.realms_manifest import load_realm_manifests, policy_data
from tests.contracts.builders import make_record
from tests.contracts.policy_contract import PolicyEngineContract, read_request

ROOT = Path(__file__).resolve().parents[1]
POLICY_DIR = ROOT / "policies"
REALMS_DIR = ROOT / "realms"
ENGINE_LOGGER = "artifact_plane.adapters.rego.engine"


def realm_data() -> dict[str, Any]:
    return policy_data(load_realm_manifests(REALMS_DIR))


def request(
    action: str,
    *,
    roles: tuple[str, ...] = ("writer",),
    as_realm: str | None = None,
    tenant: str = "acme",
    **resource: Any,
) -> PolicyInput:
    """A request by ``svc`` (acting for ``as_realm``, or a person when None) on one artifact of acme."""
    fields: dict[str, Any] = {"realm": "insights", "artifact_type": "report", **resource}
    record = make_record("acme", **fields)
    subject = Subject(id="svc", tenant=tenant, roles=roles, realm=as_realm)
    return PolicyInput(subject=subject, action=action, resource=record.resource())


POLL_INTERVAL = 0.02  # between checks of a condition that has a deadline


async def wait_for(
    engine: PolicyEngine, req: PolicyInput, done: Callable[[PolicyDecision], bool], timeout: float = 10.0
) -> PolicyDecision:
    """Decide ``req`` until ``done(decision)`` holds, or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        decision = await engine.decide(req)
        if done(decision):
            return decision
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout}s; last decision: {decision}")
        await asyncio.sleep(POLL_INTERVAL)


def copy_policies(tmp_path: Path) -> Path:
    target = tmp_path / "policies"
    shutil.copytree(POLICY_DIR, target)
    return target


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{path.name} no longer contains {old!r}: update the test"
    path.write_text(text.replace(old, new))


# --------------------------------------------------------------------------- contract


class TestMemoryPolicyEngine(PolicyEngineContract):
    @pytest.fixture
    def policy_engine(self) -> PolicyEngine:
        return MemoryPolicyEngine()

    async def test_custom_rule_decides(self) -> None:
        engine = MemoryPolicyEngine(
            lambda req: (req.action == "read", [] if req.action == "read" else ["no"])
        )
        assert (await engine.decide(read_request("acme", "globex"))).allow
        assert (await engine.decide(read_request("acme", "acme", action="delete"))).reasons == ("no",)

    async def test_rule_that_raises_denies(self, caplog: pytest.LogCaptureFixture) -> None:
        def broken(req: PolicyInput) -> tuple[bool, list[str]]:
            raise KeyError("tenant_id")

        decision = await MemoryPolicyEngine(broken).decide(read_request("acme", "acme"))
        assert not decision.allow
        assert decision.reasons[0].startswith("policy engine error: rule raised KeyError")
        assert any(r.levelno == logging.ERROR for r in caplog.records)

    async def test_malformed_answer_denies(self) -> None:
        engine = MemoryPolicyEngine(lambda req: ("yes", []))  # type: ignore[arg-type, return-value]
        decision = await engine.decide(read_request("acme", "acme"))
        assert not decision.allow
        assert decision.reasons[0].startswith("policy engine error: rule answered")

    def test_revision_names_the_rule(self) -> None:
        assert MemoryPolicyEngine().revision == MemoryPolicyEngine(tenant_isolation).revision
        assert MemoryPolicyEngine().revision != MemoryPolicyEngine(lambda req: (True, [])).revision


@pytest.fixture(scope="module")
def shared_rego_engine() -> RegoPolicyEngine:
    return RegoPolicyEngine(POLICY_DIR, realm_data())


class TestRegoPolicyEngine(PolicyEngineContract):
    @pytest.fixture
    def policy_engine(self, shared_rego_engine: RegoPolicyEngine) -> PolicyEngine:
        return shared_rego_engine


# --------------------------------------------------------------------------- the policies, through the engine


@pytest.fixture
def engine(shared_rego_engine: RegoPolicyEngine) -> RegoPolicyEngine:
    return shared_rego_engine


ROLE_CASES = [
    (("reader",), "read", True),
    (("reader",), "list", True),
    (("reader",), "lineage.read", True),
    (("reader",), "create", False),
    (("reader",), "delete", False),
    (("reader",), "lineage.register", False),
    (("writer",), "create", True),
    (("writer",), "update", True),
    (("writer",), "delete", False),
    (("writer",), "retention", False),
    (("writer",), "lineage.register", True),
    (("steward",), "delete", True),
    (("steward",), "retention", True),
    (("admin",), "update", True),
    (("admin",), "delete", False),
    (("admin", "steward"), "retention", True),
    (("guest", "writer"), "create", True),
    (("guest",), "read", False),
    ((), "read", False),
]


@pytest.mark.parametrize(("roles", "action", "allowed"), ROLE_CASES)
async def test_roles(engine: RegoPolicyEngine, roles: tuple[str, ...], action: str, allowed: bool) -> None:
    decision = await engine.decide(request(action, roles=roles))
    assert decision.allow is allowed, decision.reasons
    if not allowed:
        assert decision.reasons
        assert decision.reasons[0].startswith("roles: subject svc")


async def test_reasons_name_the_rule(engine: RegoPolicyEngine) -> None:
    decisions = await engine.decide_many(
        [
            request("delete", roles=("reader",)),
            request("read", roles=("guest",)),
            request("read", tenant="globex"),
            request("frobnicate", roles=("admin",)),
        ]
    )
    assert [d.reasons for d in decisions] == [
        ("roles: subject svc with roles reader may not delete",),
        ("roles: subject svc has no recognised role (one of: admin, reader, steward, writer)",),
        ("tenant_isolation: subject tenant globex may not read tenant acme",),
        (
            "roles: unknown action frobnicate (known: audit.read, create, delete, export, lineage.read, "
            "lineage.register, list, read, retention, update)",
        ),
    ]


@pytest.fixture
def glob_engine(tmp_path: Path) -> RegoPolicyEngine:
    """Real policies over realms whose write globs are narrow."""
    realms = {
        "insights": {
            "id": "insights",
            "permissions": {
                "read": [],
                "write": [
                    {"to": "self", "paths": ["reports/**", "*.json"]},
                    {"to": "outcomes", "paths": ["inbox/*"]},
                ],
            },
        },
        "outcomes": {
            "id": "outcomes",
            "permissions": {"read": [], "write": [{"to": "self", "paths": ["**"]}]},
        },
    }
    return RegoPolicyEngine(POLICY_DIR, {"realms": realms})


WRITE_CASES = [
    ("artifact://insights/reports/q3/summary.json", "insights", True),
    ("artifact://self/reports/q3.json", "insights", True),
    ("artifact://insights/top.json", "insights", True),
    ("artifact://insights/drafts/x.json", "insights", False),
    ("artifact://insights/nested/top.json", "insights", False),
    ("artifact://outcomes/inbox/note.json", "outcomes", True),
    ("artifact://outcomes/inbox/deep/note.json", "outcomes", False),
    ("artifact://outcomes/roadmaps/x", "outcomes", False),
]


@pytest.mark.parametrize(("uri", "resource_realm", "allowed"), WRITE_CASES)
async def test_realm_write_globs(
    glob_engine: RegoPolicyEngine, uri: str, resource_realm: str, allowed: bool
) -> None:
    decision = await glob_engine.decide(request("create", as_realm="insights", uri=uri, realm=resource_realm))
    assert decision.allow is allowed, decision.reasons
    if not allowed:
        assert decision.reasons == (f"realm_write: realm insights may not write {uri}",)


async def test_realm_write_without_uri_checks_target_realm(glob_engine: RegoPolicyEngine) -> None:
    allowed, denied = await glob_engine.decide_many(
        [
            PolicyInput(
                subject=Subject(id="svc", tenant="acme", roles=("writer",), realm="insights"),
                action="lineage.register",
                resource={"tenant_id": "acme", "realm": "outcomes"},
            ),
            PolicyInput(
                subject=Subject(id="svc", tenant="acme", roles=("writer",), realm="outcomes"),
                action="create",
                resource={"tenant_id": "acme", "realm": "insights"},
            ),
        ]
    )
    assert allowed.allow, allowed.reasons
    assert denied.reasons == ("realm_write: realm outcomes may not write into realm insights",)


async def test_unknown_realm_denied(engine: RegoPolicyEngine) -> None:
    decision = await engine.decide(request("read", as_realm="ghost"))
    assert not decision.allow
    assert decision.reasons == (
        "realm_unknown: subject realm ghost has no realm manifest "
        "(known: content, insights, journey, outcomes)",
    )


async def test_person_without_realm_is_governed_by_roles_only(engine: RegoPolicyEngine) -> None:
    decision = await engine.decide(request("create", roles=("writer",), uri="artifact://outcomes/anything"))
    assert decision.allow, decision.reasons


# The real manifests in realms/: who reads what across realms.
CROSS_REALM_READS = [
    ("outcomes", "insights", "interpretation", True),
    ("outcomes", "insights", "quality_report", False),
    ("outcomes", "content", "visualization", True),
    ("outcomes", "content", "dataset", False),
    ("insights", "content", "analysis_result", True),
    ("insights", "outcomes", "roadmap", False),
    ("journey", "content", "dataset", False),
    ("content", "content", "dataset", True),
    ("content", "insights", "interpretation", False),
]


@pytest.mark.parametrize(("reader", "owner", "artifact_type", "allowed"), CROSS_REALM_READS)
async def test_cross_realm_reads_follow_the_manifests(
    engine: RegoPolicyEngine, reader: str, owner: str, artifact_type: str, allowed: bool
) -> None:
    decision = await engine.decide(request("read", as_realm=reader, realm=owner, artifact_type=artifact_type))
    assert decision.allow is allowed, decision.reasons
    if not allowed:
        assert decision.reasons == (
            f"realm_read: realm {reader} may not read realm {owner} (type {artifact_type})",
        )


async def test_cross_realm_read_checks_paths(engine: RegoPolicyEngine) -> None:
    inside, outside = await engine.decide_many(
        [
            request(
                "read",
                as_realm="journey",
                realm="outcomes",
                artifact_type="roadmap",
                uri="artifact://outcomes/roadmaps/2025.json",
            ),
            request(
                "read",
                as_realm="journey",
                realm="outcomes",
                artifact_type="roadmap",
                uri="artifact://outcomes/drafts/2025.json",
            ),
        ]
    )
    assert inside.allow, inside.reasons
    assert outside.reasons == (
        "realm_read: realm journey may not read artifact://outcomes/drafts/2025.json (type roadmap)",
    )


async def test_reasons_keep_quotes_and_backslashes_from_the_input(engine: RegoPolicyEngine) -> None:
    odd = 'we"ird\\type'
    decision = await engine.decide(request("read", as_realm="journey", realm="content", artifact_type=odd))
    assert decision.reasons == (f"realm_read: realm journey may not read realm content (type {odd})",)


async def test_concurrent_decisions_stay_correct(engine: RegoPolicyEngine) -> None:
    pattern = [i % 3 != 0 for i in range(60)]
    decisions = await asyncio.gather(
        *(engine.decide(read_request("acme", "acme" if same else "globex")) for same in pattern)
    )
    assert [d.allow for d in decisions] == pattern


# --------------------------------------------------------------------------- fail closed


DECISION_ERRORS = {
    "conflict": 'decision := {"allow": true, "reasons": []} if input.action == "read"\n'
    'decision := {"allow": false, "reasons": []} if input.subject.id == "alice"\n',
    "type-error": 'decision := {"allow": x, "reasons": []} if { x := input.subject.id + 1 }\n',
    "undefined": 'decision := {"allow": true, "reasons": []} if input.action == "never"\n',
    "malformed": 'decision := {"allow": "yes", "reasons": []}\n',
    "reasons-not-strings": 'decision := {"allow": true, "reasons": [1]}\n',
}


@pytest.mark.parametrize("case", sorted(DECISION_ERRORS))
async def test_evaluation_errors_fail_closed(
    tmp_path: Path, case: str, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "decision.rego").write_text("package artifact_plane.authz\n\n" + DECISION_ERRORS[case])
    engine = RegoPolicyEngine(tmp_path, {})
    with caplog.at_level(logging.ERROR, logger=ENGINE_LOGGER):
        decisions = await engine.decide_many([read_request("acme", "acme"), read_request("acme", "acme")])
    for decision in decisions:
        assert not decision.allow
        assert len(decision.reasons) == 1
        assert decision.reasons[0].startswith("policy engine error: ")
        assert decision.revision == engine.revision
        assert decision.engine == "rego"
    assert [r for r in caplog.records if r.name == ENGINE_LOGGER and r.levelno == logging.ERROR]


async def test_closed_engine_denies(tmp_path: Path) -> None:
    engine = RegoPolicyEngine(POLICY_DIR, realm_data())
    await engine.close()
    decision = await engine.decide(read_request("acme", "acme"))
    assert not decision.allow
    assert decision.reasons == ("policy engine error: policy engine closed",)


# --------------------------------------------------------------------------- revisions and reloading


async def test_reload_on_file_change(tmp_path: Path) -> None:
    policies = copy_policies(tmp_path)
    engine = RegoPolicyEngine(policies, realm_data(), reload_interval=0.05)
    req = read_request("acme", "acme")
    before = await engine.decide(req)
    assert before.allow
    edit(
        policies / "roles.rego",
        '"reader": {"read", "list", "lineage.read", "export"}',
        '"reader": {"list", "lineage.read", "export"}',
    )
    after = await wait_for(engine, req, lambda d: not d.allow)
    assert after.reasons == ("roles: subject alice with roles reader may not read",)
    assert after.revision == engine.revision != before.revision


async def test_broken_edit_denies_until_fixed(tmp_path: Path) -> None:
    policies = copy_policies(tmp_path)
    engine = RegoPolicyEngine(policies, realm_data(), reload_interval=0.05)
    req = read_request("acme", "acme")
    original = (policies / "tenant.rego").read_text()
    (policies / "tenant.rego").write_text(original + "\nbroken := {\n")
    broken = await wait_for(engine, req, lambda d: not d.allow)
    assert broken.reasons[0].startswith("policy engine error: policies cannot be loaded")
    assert "tenant.rego" in broken.reasons[0]
    with pytest.raises(BackendUnavailableError):
        await engine.ping()
    (policies / "tenant.rego").write_text(original)
    await wait_for(engine, req, lambda d: d.allow)
    await engine.ping()


async def test_unchanged_files_keep_the_compiled_revision(tmp_path: Path) -> None:
    policies = copy_policies(tmp_path)
    engine = RegoPolicyEngine(policies, realm_data(), reload_interval=0)
    revision = engine.revision
    (policies / "extra_test.rego").write_text("package artifact_plane.authz\n\ntest_nothing if true\n")
    (policies / "roles.rego").write_text((policies / "roles.rego").read_text())  # touched, same content
    assert (await engine.decide(read_request("acme", "acme"))).revision == revision


def test_revision_covers_data_and_ignores_key_order() -> None:
    data = realm_data()
    first = RegoPolicyEngine(POLICY_DIR, data).revision
    reordered = {"realms": dict(reversed(list(data["realms"].items())))}
    assert RegoPolicyEngine(POLICY_DIR, reordered).revision == first
    fewer = {"realms": {k: v for k, v in data["realms"].items() if k != "journey"}}
    assert RegoPolicyEngine(POLICY_DIR, fewer).revision != first
    assert len(first) == 64


def test_syntax_error_names_the_file(tmp_path: Path) -> None:
    policies = copy_policies(tmp_path)
    (policies / "broken.rego").write_text("package artifact_plane.authz.broken\n\nx := {\n")
    with pytest.raises(ConfigurationError) as info:
        RegoPolicyEngine(policies, realm_data())
    assert "broken.rego" in str(info.value)
    assert "broken.rego:3:" in str(info.value)


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({}, "holds no .rego policy files"),
        ({"only_test.rego": "package p\n\ntest_x if true\n"}, "holds no .rego policy files"),
        ({"other.rego": "package other\n\nx := 1\n"}, "declares package artifact_plane.authz"),
        (
            {"w.rego": 'package artifact_plane.authz\n\nd := 1 if { true with input as {"a": 1} }\n'},
            "`with input as ...` crashes regopy",
        ),
    ],
)
def test_unusable_policy_dir_is_a_configuration_error(
    tmp_path: Path, files: dict[str, str], expected: str
) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    with pytest.raises(ConfigurationError, match=re.escape(expected)):
        RegoPolicyEngine(tmp_path, {})


def test_missing_dir_and_bad_data_are_configuration_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="is not a directory"):
        RegoPolicyEngine(tmp_path / "nope", {})
    with pytest.raises(ConfigurationError, match="must be JSON"):
        RegoPolicyEngine(POLICY_DIR, {"realms": {"x": object()}})
