"""Policy audits: stored artifacts re-checked against a policy that changed since they were written.

The policies are a copy of ``policies/`` in a temporary directory; the change
adds a content rule (no ``report`` artifacts in realm insights any more), so
artifacts written before it become non-compliant. Runs on the embedded plane
(SQLite + Rego) and on PostgreSQL, through the engine and through the CLI.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from artifact_plane.adapters.rego import RegoPolicyEngine
from artifact_plane.audit import AuditCheck, audit_policies, rule_of
from artifact_plane.cli.main import app
from artifact_plane.errors import InvalidInputError
from artifact_plane.ids import payload_key
from artifact_plane.models import ArtifactRecord, DecisionFilter, PolicyDecision, PolicyInput, Subject
from artifact_plane.plane import ArtifactPlane
from artifact_plane.ports.policy import PolicyEngine
from artifact_plane.realms_manifest import load_realm_manifests, policy_data
from tests.plane_fixtures import open_test_plane

REPO = Path(__file__).resolve().parents[1]

# Appended to the copy of decision.rego, a function of the request like every
# concern: regopy 1.5.2 may fail to build (or abort) when a NEW module declares
# a function, so it goes into an existing one. The engine still decides in
# batches (nothing reads ``input`` directly).
CONTENT_RULE = """

# Added by the audit test: insights may no longer hold reports.
audit_tightened(req) := {"allow": false, "objections": {concat("", [
\t"content_type: realm insights may no longer hold artifact type ", req.resource.artifact_type,
])}} if {
\treq.resource.realm == "insights"
\treq.resource.artifact_type == "report"
} else := {"allow": true, "objections": set()}
"""

INSIGHTS = Subject(id="ina", tenant="acme", roles=("writer",), realm="insights")
CONTENT = Subject(id="cody", tenant="acme", roles=("writer",), realm="content")
GLOBEX = Subject(id="gus", tenant="globex", roles=("writer",), realm="insights")


def tighten(policy_dir: Path) -> None:
    """Add the content rule to the copied policy set (every decision now also asks it)."""
    decision = policy_dir / "decision.rego"
    text = decision.read_text()
    before = "decide(req, manifests) := verdict(["
    assert text.count(before) == 1, "decision.rego changed shape: update this test's tightening"
    text = text.replace(before, before + "audit_tightened(req), ")
    decision.write_text(text + CONTENT_RULE)


@pytest.fixture
def policy_dir(tmp_path: Path) -> Path:
    copied = tmp_path / "policies"
    shutil.copytree(REPO / "policies", copied, ignore=shutil.ignore_patterns("*_test.rego"))
    return copied


async def seed(plane: ArtifactPlane) -> dict[str, str]:
    """Artifacts every realm may hold today; two of them are insights reports."""
    insights, content = plane.for_subject(INSIGHTS), plane.for_subject(CONTENT)
    return {
        "report-1": await insights.create_artifact(b"r1", artifact_type="report"),
        "report-2": await insights.write("artifact://self/reports/q3.json", b"r2", artifact_type="report"),
        "interpretation": await insights.create_artifact(b"i", artifact_type="interpretation"),
        # A dataset is a sensitive type in realm content: it must carry a retention policy.
        "dataset": await content.create_artifact(b"d", artifact_type="dataset", retention_policy="keep-7y"),
        "globex-report": await plane.for_subject(GLOBEX).create_artifact(b"g", artifact_type="report"),
    }


@pytest.fixture(params=["embedded", "postgres"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def seeded(
    kind: str, tmp_path: Path, policy_dir: Path, request: pytest.FixtureRequest
) -> AsyncIterator[tuple[dict[str, str], dict[str, object]]]:
    """Artifacts written under today's policy; yields their ids and the settings to reopen the plane."""
    overrides: dict[str, object] = {"policy_dir": policy_dir}
    async for plane in open_test_plane(kind, tmp_path, request=request, **overrides):
        ids = await seed(plane)
        overrides.update(registry_url=plane.settings.resolved_registry_url())
        yield ids, overrides


async def reopened(kind: str, tmp_path: Path, overrides: dict[str, object]) -> AsyncIterator[ArtifactPlane]:
    # The same database, a fresh engine on the policy files as they are now.
    async for plane in open_test_plane("embedded", tmp_path, **overrides):
        yield plane


async def test_nothing_is_reported_while_the_policy_is_unchanged(
    seeded: tuple[dict[str, str], dict[str, object]], kind: str, tmp_path: Path
) -> None:
    _, overrides = seeded
    async for plane in reopened(kind, tmp_path, overrides):
        report = await audit_policies(plane)
        assert (report.scanned, report.decisions, report.violations) == (5, 10, [])
        assert report.tenants == ["acme", "globex"]
        assert report.revision == plane.policy.revision


async def test_a_tighter_policy_names_the_artifacts_it_would_now_deny(
    seeded: tuple[dict[str, str], dict[str, object]], kind: str, tmp_path: Path, policy_dir: Path
) -> None:
    ids, overrides = seeded
    tighten(policy_dir)
    async for plane in reopened(kind, tmp_path, overrides):
        seen: list[int] = []
        report = await audit_policies(plane, batch=2, progress=seen.append)
        assert report.scanned == 5
        assert seen == [2, 4, 5]  # acme's 4 in pages of 2, then globex's 1
        denied = {(v.tenant, v.artifact_id, v.action) for v in report.violations}
        reports = [("acme", ids["report-1"]), ("acme", ids["report-2"]), ("globex", ids["globex-report"])]
        assert denied == {(t, a, action) for t, a in reports for action in ("read", "create")}
        assert report.denied_artifacts == 3
        assert report.groups() == [
            ("content_type", "insights", "create", 3),
            ("content_type", "insights", "read", 3),
        ]
        # Decided in batch queries (several requests per regopy query), answers still per artifact.
        engine = plane.policy
        assert isinstance(engine, RegoPolicyEngine)
        assert 0 < engine.queries < engine.evaluations
        named = next(v for v in report.violations if v.artifact_id == ids["report-2"])
        assert named.uri == "artifact://insights/reports/q3.json"
        assert named.subject == "ina"  # asked as its creator, for its own realm
        assert named.reasons == ("content_type: realm insights may no longer hold artifact type report",)
        # Only a tenant asked for is audited.
        acme_only = await audit_policies(plane, tenants=["acme"])
        assert {v.tenant for v in acme_only.violations} == {"acme"}
        assert acme_only.scanned == 4
        # The audit asks "what if": it writes nothing to the decision log.
        assert await plane.decisions.query("acme", DecisionFilter(allow=False), limit=10) == []


async def test_a_policy_change_mid_audit_decides_the_later_pages(
    seeded: tuple[dict[str, str], dict[str, object]], kind: str, tmp_path: Path, policy_dir: Path
) -> None:
    ids, overrides = seeded
    async for plane in reopened(kind, tmp_path, overrides):
        await plane.policy.close()
        # An engine that looks at the files on every call, so the change is seen at the next page.
        plane.policy = RegoPolicyEngine(
            policy_dir, policy_data(load_realm_manifests(REPO / "realms")), reload_interval=0
        )
        before = plane.policy.revision

        def progress(scanned: int) -> None:
            if scanned == 2:  # acme's first page (both reports) is decided: tighten now
                tighten(policy_dir)

        report = await audit_policies(plane, batch=2, progress=progress)
        assert report.scanned == 5
        # acme's reports were judged before the change; globex's report after it.
        denied = {(v.tenant, v.artifact_id, v.action) for v in report.violations}
        assert denied == {("globex", ids["globex-report"], action) for action in ("read", "create")}
        assert report.revisions[0] == before
        assert report.revisions[-1] == report.revision == plane.policy.revision != before
        assert report.to_json()["revisions"] == report.revisions


def stored_records(count: int, *, creators: int = 1) -> list[ArtifactRecord]:
    """``count`` named records in insights, a distinct URI each, every third a report.

    A URI alone does not make a request distinct (allows are shared by URIs that
    match the same globs): ``creators`` distinct creators do, as audit subjects.
    """
    base = datetime(2026, 1, 1, tzinfo=UTC)
    records = []
    for n in range(count):
        digest = hashlib.sha256(f"stored {n}".encode()).hexdigest()
        records.append(
            ArtifactRecord(
                artifact_id=digest[:32],
                artifact_type="report" if n % 3 == 0 else "interpretation",
                tenant_id="acme",
                realm="insights",
                sha256=digest,
                payload_key=payload_key("acme", digest),
                size_bytes=n,
                uri=f"artifact://insights/docs/{n}.json",
                created_by="ina" if creators == 1 else f"ina-{n % creators}",
                created_at=base + timedelta(seconds=n),
                updated_at=base + timedelta(seconds=n),
            )
        )
    return records


async def test_worker_processes_report_what_this_process_reports(tmp_path: Path, policy_dir: Path) -> None:
    tighten(policy_dir)
    async for plane in open_test_plane("embedded", tmp_path, policy_dir=policy_dir):
        stored = stored_records(150, creators=150)
        await plane.registry.insert_artifacts([(record, ()) for record in stored])
        here = await audit_policies(plane, tenants=["acme"])
        await plane.policy.close()
        pooled = RegoPolicyEngine(policy_dir, policy_data(load_realm_manifests(REPO / "realms")), workers=2)
        plane.policy = pooled
        there = await audit_policies(plane, tenants=["acme"])
        assert pooled.in_workers >= 300  # 150 artifacts x 2 checks, each page past the pool's threshold
        assert there.to_json() == here.to_json()
        assert (there.scanned, there.denied_artifacts, len(there.violations)) == (150, 50, 100)


async def test_auditing_as_another_realm_reports_what_it_may_not_read(
    seeded: tuple[dict[str, str], dict[str, object]], kind: str, tmp_path: Path
) -> None:
    ids, overrides = seeded
    async for plane in reopened(kind, tmp_path, overrides):
        # Journey reads insights' interpretations only (realms/journey/realm.yaml).
        report = await audit_policies(
            plane, tenants=["acme"], checks=[AuditCheck("read", ("reader",))], realm="journey"
        )
        denied = {v.artifact_id for v in report.violations}
        assert denied == {ids["report-1"], ids["report-2"], ids["dataset"]}
        assert report.groups() == [
            ("realm_read", "insights", "read", 2),
            ("realm_read", "content", "read", 1),
        ]


async def test_bad_audit_requests_are_invalid_input(
    seeded: tuple[dict[str, str], dict[str, object]], kind: str, tmp_path: Path
) -> None:
    _, overrides = seeded
    async for plane in reopened(kind, tmp_path, overrides):
        for options, field in [
            ({"batch": 0}, "batch"),
            ({"tenants": ["ok", "../etc"]}, "tenant"),
            ({"checks": []}, "checks"),
            ({"realm": "../etc"}, "realm"),
        ]:
            with pytest.raises(InvalidInputError) as err:
                await audit_policies(plane, **options)  # type: ignore[arg-type]
            assert err.value.field == field


def test_rules_are_the_prefix_of_a_reason() -> None:
    assert rule_of("realm_read: realm a may not read b") == "realm_read"
    assert rule_of("tenant_isolation: subject tenant x") == "tenant_isolation"
    assert rule_of("policy engine error: decision undefined") == "unlabelled"
    assert rule_of("no colon here") == "unlabelled"


# -- the CLI --------------------------------------------------------------------------


@pytest.fixture
def cli_env(tmp_path: Path, policy_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("AP_REGISTRY_URL", "AP_PAYLOADS_URL", "AP_LINEAGE_URL", "AP_POLICY_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AP_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("AP_POLICY_DIR", str(policy_dir))
    monkeypatch.setenv("AP_REALMS_DIR", str(REPO / "realms"))
    monkeypatch.setenv("COLUMNS", "250")
    return policy_dir


def put(tenant: str, realm: str, artifact_type: str, text: str) -> str:
    args = ["put", "-", "--type", artifact_type, "--tenant", tenant, "--realm", realm, "--roles", "writer"]
    result = CliRunner().invoke(app, args, input=text)
    assert result.exit_code == 0, result.output
    return result.stdout.strip()


def test_cli_audit_run_reports_violations_as_a_table_and_as_json(cli_env: Path) -> None:
    report_id = put("acme", "insights", "report", "quarterly")
    put("acme", "insights", "interpretation", "reading")
    runner = CliRunner()
    clean = runner.invoke(app, ["audit", "run", "--fail-on-violations"])
    assert clean.exit_code == 0, clean.output
    assert "2 artifacts in 1 tenant(s), 4 decisions" in clean.stdout
    assert "0 artifacts would now be denied" in clean.stdout

    tighten(cli_env)
    table = runner.invoke(app, ["audit", "run"])
    assert table.exit_code == 0, table.output
    assert "1 artifacts would now be denied" in table.stdout
    assert "Would now be denied, by rule and realm" in table.stdout
    assert "content_type" in table.stdout
    assert report_id in table.stdout

    # Two worker processes decide (a page over 200 requests would go to them; this one is small).
    as_json = runner.invoke(
        app, ["audit", "run", "--json", "--action", "read", "--fail-on-violations", "--workers", "2"]
    )
    assert as_json.exit_code == 3
    document = json.loads(as_json.stdout)
    assert document["groups"] == [{"rule": "content_type", "realm": "insights", "action": "read", "count": 1}]
    assert [(v["artifact_id"], v["action"]) for v in document["violations"]] == [(report_id, "read")]
    assert document["checks"] == [{"action": "read", "roles": ["reader"]}]
    assert document["scanned"] == 2


def test_cli_audit_run_refuses_bad_options_with_usage_errors(cli_env: Path) -> None:
    put("acme", "insights", "report", "quarterly")
    for args, named in [
        (["--as-realm", "../x"], "realm"),
        (["--tenant", "a/b"], "tenant"),
        (["--roles", " , "], "--roles"),
        (["--batch-size", "0"], "batch-size"),
        (["--realm", "a/b"], "--realm"),
    ]:
        result = CliRunner().invoke(app, ["audit", "run", *args])
        assert result.exit_code == 2, (args, result.output)
        assert named in result.stderr, (args, result.stderr)


def test_cli_audit_run_with_other_roles_and_actions(cli_env: Path) -> None:
    report_id = put("acme", "insights", "report", "quarterly")
    # A reader may not delete: every artifact is reported under the roles rule.
    result = CliRunner().invoke(app, ["audit", "run", "--json", "--action", "delete", "--roles", "reader"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["checks"] == [{"action": "delete", "roles": ["reader"]}]
    assert [(v["artifact_id"], v["action"]) for v in document["violations"]] == [(report_id, "delete")]
    assert [g["rule"] for g in document["groups"]] == ["roles"]
    # Only the artifacts one realm holds.
    held = CliRunner().invoke(app, ["audit", "run", "--json", "--realm", "content"])
    assert held.exit_code == 0, held.output
    assert (json.loads(held.stdout)["scanned"], json.loads(held.stdout)["violations"]) == (0, [])
    mine = CliRunner().invoke(app, ["audit", "run", "--json", "--realm", "insights"])
    assert json.loads(mine.stdout)["scanned"] == 1


class FieldsEngine(PolicyEngine):
    """Reads only declared resource fields; after its first call the policy changes to read one more.

    The new rule denies every resource whose size is a multiple of 3; a
    resource without a field the policy in force declares is refused with
    ``missing field`` (an audit must never let that decision stand).
    """

    name = "fields"

    def __init__(self) -> None:
        self.fields = frozenset({"tags"})
        self.asked: list[tuple[str, frozenset[str], str]] = []  # (revision, fields present, artifact)

    @property
    def revision(self) -> str:
        return "two" if "size_bytes" in self.fields else "one"

    @property
    def resource_fields(self) -> frozenset[str] | None:
        return self.fields

    async def decide(self, request: PolicyInput) -> PolicyDecision:
        return (await self.decide_many([request]))[0]

    async def decide_many(self, requests: Sequence[PolicyInput]) -> list[PolicyDecision]:
        if self.asked:
            self.fields = frozenset({"tags", "size_bytes"})  # changed between the first and second call
        answers = []
        for request in requests:
            resource = request.resource
            self.asked.append((self.revision, frozenset(resource), resource["artifact_id"]))
            if not self.fields <= set(resource):
                reasons: tuple[str, ...] = ("missing field",)
            elif "size_bytes" in self.fields and resource["size_bytes"] % 3 == 0:
                reasons = ("size_rule: a multiple of 3",)
            else:
                reasons = ()
            answers.append(PolicyDecision(allow=not reasons, reasons=reasons, revision=self.revision))
        return answers


@pytest.mark.parametrize("kind", ["embedded", "postgres"])
async def test_the_audit_reads_only_declared_fields_and_rereads_a_page_the_policy_outgrew(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    async for plane in open_test_plane(kind, tmp_path, request=request):
        stored = stored_records(12)  # size_bytes 0..11, four per page of 4
        await plane.registry.insert_artifacts([(record, ()) for record in stored])
        await plane.policy.close()
        engine = plane.policy = FieldsEngine()
        report = await audit_policies(
            plane, tenants=["acme"], checks=[AuditCheck("read", ("reader",))], batch=4
        )
        # Page one was decided under "one" (sizes unread); pages two and three under "two".
        assert sorted(v.artifact_id for v in report.violations) == sorted(
            r.artifact_id for r in stored[4:] if r.size_bytes % 3 == 0
        )
        assert {v.reasons for v in report.violations} == {("size_rule: a multiple of 3",)}
        assert (report.scanned, report.decisions, report.revisions) == (12, 12, ["one", "two"])
        # Only the declared fields (and what an audit reports) were read from the registry.
        identity = {"artifact_id", "tenant_id", "realm", "artifact_type", "uri", "created_by"}
        assert {fields for revision, fields, _ in engine.asked if revision == "one"} >= {
            frozenset(identity | {"tags"})
        }
        # Page two was first asked without sizes (read before the change), then read again with them.
        page_two = [r.artifact_id for r in stored[4:8]]
        again = [(fields, artifact) for _, fields, artifact in engine.asked if artifact in page_two]
        assert [artifact for _, artifact in again] == page_two + page_two
        assert all("size_bytes" not in fields for fields, _ in again[:4])
        assert all(fields == frozenset(identity | {"tags", "size_bytes"}) for fields, _ in again[4:])


class WholeEngine(PolicyEngine):
    """Declares nothing: it must be handed every field of each record's resource."""

    name = "whole"

    def __init__(self) -> None:
        self.resources: list[dict[str, object]] = []

    @property
    def revision(self) -> str:
        return "whole"

    async def decide(self, request: PolicyInput) -> PolicyDecision:
        return (await self.decide_many([request]))[0]

    async def decide_many(self, requests: Sequence[PolicyInput]) -> list[PolicyDecision]:
        self.resources.extend(request.resource for request in requests)
        return [PolicyDecision(allow=True, revision=self.revision) for _ in requests]


async def test_an_engine_that_declares_nothing_gets_whole_resources(tmp_path: Path) -> None:
    async for plane in open_test_plane("embedded", tmp_path):
        stored = stored_records(5)
        await plane.registry.insert_artifacts([(record, ()) for record in stored])
        await plane.policy.close()
        engine = plane.policy = WholeEngine()
        report = await audit_policies(plane, tenants=["acme"], checks=[AuditCheck("read", ("reader",))])
        assert (report.violations, report.scanned) == ([], 5)
        assert engine.resources == [record.resource() for record in stored]
